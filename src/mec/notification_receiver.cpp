#include <migrate/mec/notification_receiver.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace migrate::mec {

using sys_clock = std::chrono::system_clock;

namespace {
constexpr const char* where = "notification_receiver";

result<void> bad(const char* field, const std::string& why) {
    return make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why));
}

/// MEC012's ExpiryNotification carries `expiryDeadline` and no event; MEC021's (where a
/// platform sends one) says so in `notificationType`.
bool is_expiry_notification(const json& body) {
    if (!body.is_object()) return false;
    if (auto t = body.find("notificationType"); t != body.end() && t->is_string())
        return t->get<std::string>() == "ExpiryNotification";
    if (body.contains("expiryNotification")) return true;
    return body.contains("expiryDeadline") && !body.contains("hoStatus") && !body.contains("mobilityStatus");
}
}  // namespace

sys_clock::time_point to_time_point(const time_stamp& t) {
    return sys_clock::time_point(std::chrono::duration_cast<sys_clock::duration>(
        std::chrono::seconds(t.seconds) + std::chrono::nanoseconds(t.nanoseconds)));
}

time_stamp to_time_stamp(sys_clock::time_point t) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
    auto s = std::chrono::duration_cast<std::chrono::seconds>(ns);
    return {s.count(), (ns - s).count()};
}

result<void> notification_receiver_options::validate() const {
    MIGRATE_TRY(server.validate());
    if (!advertised_url.empty()) {
        if (advertised_url.rfind("http://", 0) != 0 && advertised_url.rfind("https://", 0) != 0)
            return bad("advertised_url", fmt::format("'{}' is not http(s)://host[:port]", advertised_url));
        auto rest = std::string_view(advertised_url).substr(advertised_url.find("//") + 2);
        if (rest.empty() || rest.find('/') != std::string_view::npos)
            return bad("advertised_url", fmt::format("'{}': give scheme://host[:port] without a path (path_prefix is the path)", advertised_url));
    }
    if (path_prefix.empty() || path_prefix.front() != '/' || path_prefix.back() == '/')
        return bad("path_prefix", fmt::format("'{}' must start with '/' and not end with one", path_prefix));
    if (renew_before.count() < 0) return bad("renew_before", "must not be negative");
    if (retry_after.count() <= 0) return bad("retry_after", "must be positive");
    if (check_every.count() < 0) return bad("check_every", "must not be negative");
    return {};
}

void to_json(json& j, const notification_receiver_options& o) {
    j = json{{"address", o.server.address},
             {"port", o.server.port},
             {"advertised_url", o.advertised_url},
             {"path_prefix", o.path_prefix},
             {"renew_before_s", o.renew_before.count()},
             {"retry_after_ms", o.retry_after.count()},
             {"check_every_s", o.check_every.count()}};
}

void from_json(const json& j, notification_receiver_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "notification_receiver: expected an object"));
    migrate::detail::read_field(j, where, "address", o.server.address);
    migrate::detail::read_field(j, where, "port", o.server.port);
    migrate::detail::read_field(j, where, "advertised_url", o.advertised_url);
    migrate::detail::read_field(j, where, "path_prefix", o.path_prefix);
    std::int64_t s = o.renew_before.count();
    migrate::detail::read_field(j, where, "renew_before_s", s);
    o.renew_before = std::chrono::seconds{s};
    std::int64_t ms = o.retry_after.count();
    migrate::detail::read_field(j, where, "retry_after_ms", ms);
    o.retry_after = std::chrono::milliseconds{ms};
    std::int64_t c = o.check_every.count();
    migrate::detail::read_field(j, where, "check_every_s", c);
    o.check_every = std::chrono::seconds{c};
}

struct notification_receiver::impl {
    struct entry {
        std::string id;
        subscription_spec spec;
        std::string callback_url;
        subscription_lease lease;
        sys_clock::time_point leased_at;
        std::optional<sys_clock::time_point> due;   ///< next renewal
        std::optional<sys_clock::time_point> next_check;   ///< next "does it still exist?"
        subscription_status counters;
        int active = 0;          ///< handlers running
        bool removed = false;    ///< no more deliveries
        std::mutex op;           ///< one create/remove at a time
    };

    notification_receiver_options options;
    std::unique_ptr<net::http_server> server;
    std::string base;   ///< advertised URL + prefix

    mutable std::mutex m;
    std::condition_variable cv;   // handler finished, renewal due changed, stopping
    std::map<std::string, std::shared_ptr<entry>> subs;
    std::uint64_t next_id = 1;
    bool stopping = false;
    bool stopped = false;
    std::thread renewer;

    void schedule_locked(entry& e) {
        e.next_check.reset();
        if (options.check_every.count() > 0 && e.spec.check) e.next_check = sys_clock::now() + options.check_every;
        e.due.reset();
        if (!e.lease.expires) return;
        auto life = *e.lease.expires - e.leased_at;
        auto margin = std::min<sys_clock::duration>(options.renew_before, life / 2);
        e.due = *e.lease.expires - margin;
    }

    net::http_response deliver(const net::http_request& r) {
        const auto& id = r.param("id");
        std::shared_ptr<entry> e;
        {
            std::lock_guard lk(m);
            auto it = subs.find(id);
            if (stopping || it == subs.end() || it->second->removed)
                return net::http_response::problem(404, fmt::format("no subscription '{}' at this receiver", id), r.path);
            e = it->second;
            ++e->active;
        }
        auto finish = [&](std::optional<std::string> err) {
            std::lock_guard lk(m);
            --e->active;
            if (err) {
                ++e->counters.rejected;
                e->counters.last_error = *err;
            }
            cv.notify_all();
        };
        auto body = r.json_body();
        if (!body) {
            auto msg = fmt::format("notification for '{}' at {}: {}", e->spec.name, e->callback_url, body.error().what());
            finish(msg);
            return net::http_response::problem(400, msg, r.path);
        }
        if (is_expiry_notification(*body)) {
            {
                std::lock_guard lk(m);
                e->due = sys_clock::now();   // renew now
            }
            finish(std::nullopt);
            return net::http_response::no_content();
        }
        auto handled = e->spec.on_notification(*body);
        if (!handled) {
            auto msg = fmt::format("notification for '{}' at {}: {}", e->spec.name, e->callback_url, handled.error().what());
            finish(msg);
            return net::http_response::problem(400, msg, r.path);
        }
        {
            std::lock_guard lk(m);
            ++e->counters.notifications;
        }
        finish(std::nullopt);
        return net::http_response::no_content();
    }

    void renew(const std::shared_ptr<entry>& e) {
        std::lock_guard op(e->op);
        {
            std::lock_guard lk(m);
            if (e->removed) return;
        }
        auto fresh = e->spec.create(e->callback_url);
        std::string old;
        {
            std::lock_guard lk(m);
            if (!fresh) {
                e->counters.last_error = fmt::format("renewing '{}' (callback {}): {}", e->spec.name, e->callback_url, fresh.error().what());
                e->due = sys_clock::now() + options.retry_after;
                return;
            }
            old = std::exchange(e->lease, std::move(*fresh)).resource_url;
            e->leased_at = sys_clock::now();
            ++e->counters.renewals;
            schedule_locked(*e);
        }
        // The old one may have expired already: a platform's 404 for it is no error.
        if (auto r = e->spec.remove(old); !r && r.error_code() != make_error_code(error::not_found)) {
            std::lock_guard lk(m);
            e->counters.last_error = fmt::format("deleting '{}' ({}) after renewal: {}", e->spec.name, old, r.error().what());
        }
    }

    /// Asks the platform whether `e` still exists; re-creates it when it answers 404.
    void check(const std::shared_ptr<entry>& e) {
        result<void> r;
        {
            std::lock_guard op(e->op);
            {
                std::lock_guard lk(m);
                if (e->removed) return;
            }
            r = e->spec.check(e->lease.resource_url);
        }
        if (!r && r.error_code() == make_error_code(error::not_found)) {
            renew(e);
            return;
        }
        std::lock_guard lk(m);
        if (!r) e->counters.last_error = fmt::format("checking '{}' ({}): {}", e->spec.name, e->lease.resource_url, r.error().what());
        e->next_check = sys_clock::now() + options.check_every;
    }

    void run_renewals() {
        std::unique_lock lk(m);
        while (!stopping) {
            // The earliest renewal or check.
            std::shared_ptr<entry> next;
            std::optional<sys_clock::time_point> when;
            bool is_check = false;
            for (auto& [id, e] : subs) {
                if (e->removed) continue;
                if (e->due && (!when || *e->due < *when)) next = e, when = e->due, is_check = false;
                if (e->next_check && (!when || *e->next_check < *when)) next = e, when = e->next_check, is_check = true;
            }
            if (!next) {
                cv.wait(lk);
                continue;
            }
            if (sys_clock::now() < *when) {
                cv.wait_until(lk, *when);
                continue;   // something may have changed: look again
            }
            // Not picked again while at it.
            if (is_check) next->next_check.reset();
            else next->due.reset();
            lk.unlock();
            if (is_check) check(next);
            else renew(next);
            lk.lock();
        }
    }

    /// Marks `e` removed, waits for its handlers, deletes it at the platform.
    result<void> drop(const std::shared_ptr<entry>& e) {
        {
            std::unique_lock lk(m);
            e->removed = true;
            cv.wait(lk, [&] { return e->active == 0; });
        }
        std::lock_guard op(e->op);
        if (e->lease.resource_url.empty()) return {};
        auto r = e->spec.remove(e->lease.resource_url);
        if (!r && r.error_code() != make_error_code(error::not_found))
            return failure{r.error().code,
                                fmt::format("deleting subscription '{}' ({}, callback {}): {}", e->spec.name,
                                            e->lease.resource_url, e->callback_url, r.error().message)};
        return {};
    }
};

notification_receiver::notification_receiver(std::shared_ptr<impl> p) : p_(std::move(p)) {}

notification_receiver::~notification_receiver() { stop(); }

result<std::unique_ptr<notification_receiver>> notification_receiver::start(notification_receiver_options o) {
    MIGRATE_TRY(o.validate());
    auto p = std::make_shared<impl>();
    p->options = std::move(o);
    net::http_router router;
    impl* raw = p.get();
    MIGRATE_TRY(router.add("POST", p->options.path_prefix + "/{id}", [raw](const net::http_request& r) { return raw->deliver(r); }));
    auto server = net::http_server::start(p->options.server, std::move(router));
    if (!server) return server.error();
    p->server = std::move(*server);
    std::string advertised = p->options.advertised_url.empty() ? p->server->url() : p->options.advertised_url;
    p->base = advertised + p->options.path_prefix;
    p->renewer = std::thread([raw] { raw->run_renewals(); });
    return std::unique_ptr<notification_receiver>(new notification_receiver(std::move(p)));
}

result<std::string> notification_receiver::subscribe(subscription_spec spec) {
    if (!spec.create || !spec.remove || !spec.on_notification)
        return make_failure(error::invalid_argument, fmt::format("subscription '{}': create, remove and on_notification are all needed", spec.name));
    auto e = std::make_shared<impl::entry>();
    {
        std::lock_guard lk(p_->m);
        if (p_->stopping) return make_failure(error::conflict, fmt::format("subscription '{}': the receiver is stopped", spec.name));
        e->id = fmt::format("s{}", p_->next_id++);
        e->callback_url = p_->base + "/" + e->id;
        e->spec = std::move(spec);
        e->counters.id = e->id;
        e->counters.name = e->spec.name;
        e->counters.callback_url = e->callback_url;
        // Listed before the create: a platform may notify before it answers the create.
        p_->subs[e->id] = e;
    }
    std::lock_guard op(e->op);
    auto lease = e->spec.create(e->callback_url);
    std::lock_guard lk(p_->m);
    if (!lease) {
        e->removed = true;
        p_->subs.erase(e->id);
        return failure{lease.error().code,
                       fmt::format("subscribing '{}' (callback {}): {}", e->spec.name, e->callback_url, lease.error().message)};
    }
    e->lease = std::move(*lease);
    e->leased_at = sys_clock::now();
    p_->schedule_locked(*e);
    p_->cv.notify_all();
    return e->id;
}

result<void> notification_receiver::unsubscribe(const std::string& id) {
    std::shared_ptr<impl::entry> e;
    {
        std::lock_guard lk(p_->m);
        auto it = p_->subs.find(id);
        if (it == p_->subs.end()) return make_failure(error::not_found, fmt::format("notification_receiver: no subscription '{}'", id));
        e = it->second;
        p_->subs.erase(it);
        p_->cv.notify_all();
    }
    return p_->drop(e);
}

void notification_receiver::stop() noexcept {
    std::vector<std::shared_ptr<impl::entry>> all;
    {
        std::lock_guard lk(p_->m);
        if (p_->stopping) return;
        p_->stopping = true;
        for (auto& [id, e] : p_->subs) all.push_back(e);
        p_->subs.clear();
        p_->cv.notify_all();
    }
    if (p_->renewer.joinable()) p_->renewer.join();
    for (auto& e : all) (void)p_->drop(e);
    if (p_->server) p_->server->stop();
}

std::string notification_receiver::callback_base() const { return p_->base; }

std::string notification_receiver::local_url() const { return p_->server->url(); }

std::vector<subscription_status> notification_receiver::subscriptions() const {
    std::lock_guard lk(p_->m);
    std::vector<subscription_status> out;
    for (auto& [id, e] : p_->subs) {
        auto s = e->counters;
        s.resource_url = e->lease.resource_url;
        s.expires = e->lease.expires;
        out.push_back(std::move(s));
    }
    return out;
}

// -- typed specs --

namespace {
template <class T>
std::shared_ptr<T> shared_client(T c) {
    return std::make_shared<T>(std::move(c));
}

/// GET <path_prefix>/<the resource URL's last segment> on `api`: whether it still exists.
result<void> exists(api_client& api, const std::string& path_prefix, const std::string& resource_url) {
    auto id = resource_url;
    while (!id.empty() && id.back() == '/') id.pop_back();
    if (auto slash = id.rfind('/'); slash != std::string::npos) id = id.substr(slash + 1);
    auto r = api.call("GET", path_prefix + path_segment(id));
    if (!r) return r.error();
    return {};
}

/// on_notification for a typed handler: parse the body with `parse`, then hand both to `on`.
template <class Notification>
std::function<result<void>(const json&)> parsed(result<Notification> (*parse)(const json&),
                                                 std::function<result<void>(const Notification&, const json&)> on) {
    return [parse, on = std::move(on)](const json& body) -> result<void> {
        auto n = parse(body);
        if (!n) return n.error();
        return on(*n, body);
    };
}

/// create for the subscriptions whose lifetime is an expiryDeadline (MEC012, MEC021): asks for
/// `lifetime` when given, and the lease ends at the deadline the platform granted (or asked).
template <class Client, class Subscription>
std::function<result<subscription_lease>(const std::string&)> create_with_deadline(
    std::shared_ptr<Client> client, Subscription s, std::optional<std::chrono::seconds> lifetime,
    result<Subscription> (Client::*subscribe)(const Subscription&)) {
    return [client, s, lifetime, subscribe](const std::string& cb) -> result<subscription_lease> {
        auto want = s;
        want.callback_url = cb;
        if (lifetime) want.expiry_deadline = to_time_stamp(sys_clock::now() + *lifetime);
        auto got = ((*client).*subscribe)(want);
        if (!got) return got.error();
        auto deadline = got->expiry_deadline ? got->expiry_deadline : want.expiry_deadline;
        return subscription_lease{got->self_url, deadline ? std::optional(to_time_point(*deadline)) : std::nullopt};
    };
}

std::optional<sys_clock::time_point> after_seconds(std::optional<std::int64_t> s) {
    if (!s || *s <= 0) return std::nullopt;   // MEC013: 0 = the platform's default, not known here
    return sys_clock::now() + std::chrono::seconds(*s);
}
}  // namespace

subscription_spec zonal_traffic_subscription_spec(client_options platform, location_flavour flavour, zonal_traffic_subscription s,
                                                  std::function<result<void>(const zonal_presence_notification&, const json&)> on) {
    auto client = shared_client(location_client(std::move(platform), flavour));
    subscription_spec spec;
    spec.name = fmt::format("location {} zonalTraffic {}", to_string(flavour), s.zone_id);
    spec.create = [client, s](const std::string& cb) -> result<subscription_lease> {
        auto want = s;
        want.callback_url = cb;
        auto got = client->subscribe_zonal_traffic(want);
        if (!got) return got.error();
        return subscription_lease{got->resource_url, after_seconds(got->duration_s ? got->duration_s : want.duration_s)};
    };
    spec.remove = [client](const std::string& url) { return client->unsubscribe_zonal_traffic(url); };
    spec.check = [client](const std::string& url) { return exists(client->api(), "/subscriptions/zonalTraffic/", url); };
    spec.on_notification = parsed(&parse_zonal_presence_notification, std::move(on));
    return spec;
}

subscription_spec user_tracking_subscription_spec(client_options platform, location_flavour flavour, user_tracking_subscription s,
                                                  std::function<result<void>(const zonal_presence_notification&, const json&)> on) {
    auto client = shared_client(location_client(std::move(platform), flavour));
    subscription_spec spec;
    spec.name = fmt::format("location {} userTracking {}", to_string(flavour), s.address);
    spec.create = [client, s](const std::string& cb) -> result<subscription_lease> {
        auto want = s;
        want.callback_url = cb;
        auto got = client->subscribe_user_tracking(want);
        if (!got) return got.error();
        return subscription_lease{got->resource_url, std::nullopt};   // MEC013 v2 user tracking has no duration
    };
    spec.remove = [client](const std::string& url) { return client->unsubscribe_user_tracking(url); };
    spec.check = [client](const std::string& url) { return exists(client->api(), "/subscriptions/userTracking/", url); };
    spec.on_notification = parsed(&parse_zonal_presence_notification, std::move(on));
    return spec;
}

subscription_spec cell_change_subscription_spec(client_options platform, cell_change_subscription s, std::optional<std::chrono::seconds> lifetime,
                                                std::function<result<void>(const cell_change_notification&, const json&)> on) {
    auto client = shared_client(rnis_client(std::move(platform)));
    subscription_spec spec;
    spec.name = fmt::format("rnis CellChangeSubscription {}", s.app_instance_id);
    spec.create = create_with_deadline(client, s, lifetime, &rnis_client::subscribe_cell_change);
    spec.remove = [client](const std::string& url) { return client->unsubscribe(url); };
    spec.check = [client](const std::string& url) { return exists(client->api(), "/subscriptions/", url); };
    spec.on_notification = parsed(&parse_cell_change_notification, std::move(on));
    return spec;
}

subscription_spec mobility_procedure_subscription_spec(client_options platform, mobility_procedure_subscription s,
                                                       std::optional<std::chrono::seconds> lifetime,
                                                       std::function<result<void>(const mobility_procedure_notification&, const json&)> on) {
    auto client = shared_client(ams_client(std::move(platform)));
    subscription_spec spec;
    spec.name = fmt::format("ams MobilityProcedureSubscription {}", s.app_instance_id);
    spec.create = create_with_deadline(client, s, lifetime, &ams_client::subscribe_mobility_procedure);
    spec.remove = [client](const std::string& url) { return client->unsubscribe(url); };
    spec.check = [client](const std::string& url) { return exists(client->api(), "/subscriptions/", url); };
    spec.on_notification = parsed(&parse_mobility_procedure_notification, std::move(on));
    return spec;
}

}  // namespace migrate::mec
