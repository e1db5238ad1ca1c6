#include <migrate/mec/emulator.hpp>

#include <migrate/net/http_server.hpp>

#include "../net/http_call.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace migrate::mec {

result<void> emulator_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("emulator_options.{}: {}", field, why));
    };
    if (!base_path.empty() && (base_path.front() != '/' || base_path.back() == '/'))
        return bad("base_path", fmt::format("'{}' must start with '/' and not end with one", base_path));
    if (base_path.find_first_of("{}?# ") != std::string::npos) return bad("base_path", fmt::format("'{}' has a reserved character", base_path));
    if (!(time_scale >= 0)) return bad("time_scale", "must be >= 0");
    if (!(step_s > 0)) return bad("step_s", "must be positive");
    if (tick.count() <= 0) return bad("tick", "must be positive");
    if (notify_timeout.count() <= 0) return bad("notify_timeout", "must be positive");
    net::http_server_options probe;
    probe.address = address;
    if (auto v = probe.validate(); !v) return bad("address", v.error().message);
    return ok();
}

namespace {

enum class subscription_kind { zonal_traffic, user_tracking };

struct subscription {
    std::string id;
    subscription_kind kind;
    json body;                       ///< as stored and answered (resourceURL filled in)
    std::string notify_url;
    std::string callback_data;
    std::string zone;                ///< zonal traffic
    std::string address;             ///< user tracking
    std::vector<std::string> events; ///< empty = every event
};

struct outgoing {
    std::string url;
    json body;
};

json timestamp_now() {
    auto since = std::chrono::system_clock::now().time_since_epoch();
    auto s = std::chrono::duration_cast<std::chrono::seconds>(since);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since - s);
    return {{"seconds", s.count()}, {"nanoSeconds", ns.count()}};
}

std::string strip_acr(std::string a) { return a.rfind("acr:", 0) == 0 ? a.substr(4) : a; }

const char* connection_type(poa_type t) {
    switch (t) {
        case poa_type::cell_4g: return "Macro";
        case poa_type::cell_5g: return "Smallcell";
        case poa_type::wifi: return "Wifi";
    }
    return "Unknown";
}

json location_info(geo_point p) {
    return {{"latitude", json::array({p.latitude})}, {"longitude", json::array({p.longitude})}, {"shape", 2}};
}

}  // namespace

struct emulator::impl {
    emulator_options options;
    scenario model;
    mutable std::mutex m;
    tracker track{model};
    double scale = 1.0;
    double base_t = 0;
    std::chrono::steady_clock::time_point base_real = std::chrono::steady_clock::now();
    std::vector<subscription> subs;
    std::uint64_t next_sub = 1;

    std::unique_ptr<net::http_server> server;
    std::string root;   // base_path + "/location/v2"

    std::thread clock;
    std::thread notifier;
    std::condition_variable wake_clock;
    std::condition_variable wake_notifier;
    std::deque<outgoing> queue;
    bool stopping = false;
    std::atomic<std::size_t> sent{0}, failed{0};

    explicit impl(scenario s) : model(std::move(s)) {}

    double now_locked() const {
        std::chrono::duration<double> real = std::chrono::steady_clock::now() - base_real;
        return base_t + real.count() * scale;
    }

    std::string url_of(const std::string& rest) const { return fmt::format("{}{}", server ? server->url() : "", rest); }

    // -- notifications (called with `m` held) --
    void notify_locked(const tracker::change& c) {
        auto emit = [&](const subscription& s, const std::string& zone, const char* event) {
            if (!s.events.empty() && std::find(s.events.begin(), s.events.end(), event) == s.events.end()) return;
            json n{{"zoneId", zone},
                   {"address", c.after.ue},
                   {"userEventType", event},
                   {"currentAccessPointId", c.after.access_point},
                   {"timestamp", timestamp_now()}};
            if (!c.before.access_point.empty()) n["previousAccessPointId"] = c.before.access_point;
            if (!s.callback_data.empty()) n["callbackData"] = s.callback_data;
            n["link"] = json::array({{{"rel", s.kind == subscription_kind::zonal_traffic ? "ZonalTrafficSubscription" : "UserTrackingSubscription"},
                                      {"href", s.body.value("resourceURL", "")}}});
            queue.push_back({s.notify_url, json{{"zonalPresenceNotification", std::move(n)}}});
        };
        bool zone_changed = c.before.zone != c.after.zone;
        bool ap_changed = c.before.access_point != c.after.access_point;
        for (auto& s : subs) {
            if (s.kind == subscription_kind::zonal_traffic) {
                if (zone_changed && c.after.zone == s.zone) emit(s, s.zone, "Entering");
                else if (zone_changed && c.before.zone == s.zone) emit(s, s.zone, "Leaving");
                else if (!zone_changed && ap_changed && c.after.zone == s.zone) emit(s, s.zone, "Transferring");
            } else if (s.address == c.after.ue) {
                if (zone_changed) {
                    if (!c.before.zone.empty()) emit(s, c.before.zone, "Leaving");
                    if (!c.after.zone.empty()) emit(s, c.after.zone, "Entering");
                } else if (ap_changed) {
                    emit(s, c.after.zone, "Transferring");
                }
            }
        }
        wake_notifier.notify_one();
    }

    // Queries answer the state at the time they are asked, not at the clock's last tick.
    void catch_up_locked() {
        for (auto& c : track.advance(now_locked(), options.step_s)) notify_locked(c);
    }

    void run_clock() {
        std::unique_lock lock(m);
        while (!stopping) {
            wake_clock.wait_for(lock, options.tick, [&] { return stopping; });
            if (stopping) break;
            catch_up_locked();
        }
    }

    void run_notifier() {
        std::unique_lock lock(m);
        while (true) {
            wake_notifier.wait(lock, [&] { return stopping || !queue.empty(); });
            if (stopping) return;
            auto next = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            auto r = net::http_call("POST", next.url, next.body.dump(), options.notify_timeout);
            if (r && r->status >= 200 && r->status < 300) ++sent;
            else ++failed;
            lock.lock();
        }
    }

    // -- Location API bodies (with `m` held) --
    json user_info(const ue_state& st) const {
        return {{"address", st.ue},
                {"accessPointId", st.access_point},
                {"zoneId", st.zone},
                {"resourceURL", url_of(fmt::format("{}/queries/users?address={}", root, st.ue))},
                {"timestamp", timestamp_now()},
                {"locationInfo", location_info(st.position)}};
    }

    std::size_t users_on(const std::string& zone, const std::string& ap) const {
        std::size_t n = 0;
        for (auto& st : track.states())
            if ((zone.empty() || st.zone == zone) && (ap.empty() || st.access_point == ap)) ++n;
        return n;
    }

    json zone_info(const zone& z) const {
        return {{"zoneId", z.name},
                {"numberOfAccessPoints", z.access_points.size()},
                {"numberOfUnserviceableAccessPoints", 0},
                {"numberOfUsers", users_on(z.name, "")},
                {"resourceURL", url_of(fmt::format("{}/queries/zones/{}", root, z.name))}};
    }

    json access_point_info(const access_point& a) const {
        return {{"accessPointId", a.name},
                {"connectionType", connection_type(a.type)},
                {"operationStatus", "Serviceable"},
                {"numberOfUsers", users_on("", a.name)},
                {"locationInfo", location_info(a.position)},
                {"resourceURL", url_of(fmt::format("{}/queries/zones/{}/accessPoints/{}", root, a.zone, a.name))}};
    }

    json sim_state() const {
        json ues = json::array();
        for (auto& st : track.states())
            ues.push_back({{"ue", st.ue}, {"accessPointId", st.access_point}, {"zoneId", st.zone},
                           {"longitude", st.position.longitude}, {"latitude", st.position.latitude}});
        return {{"scenario", model.name()}, {"time", track.now()}, {"timeScale", scale}, {"ues", std::move(ues)}};
    }

    // -- routes --
    net::http_router routes();
    net::http_response subscribe(const net::http_request& r, subscription_kind kind);
};

net::http_response emulator::impl::subscribe(const net::http_request& r, subscription_kind kind) {
    using net::http_response;
    const char* wrapper = kind == subscription_kind::zonal_traffic ? "zonalTrafficSubscription" : "userTrackingSubscription";
    const char* leaf = kind == subscription_kind::zonal_traffic ? "zonalTraffic" : "userTracking";
    auto doc = r.json_body();
    if (!doc) return http_response::problem(400, doc.error().message, r.path);
    auto it = doc->find(wrapper);
    if (it == doc->end() || !it->is_object())
        return http_response::problem(400, fmt::format("body: expected {{\"{}\": {{...}}}} (MEC013 v2)", wrapper), r.path);
    subscription s;
    s.kind = kind;
    s.body = *it;
    auto cb = s.body.find("callbackReference");
    if (cb == s.body.end() || !cb->is_object() || !cb->contains("notifyURL") || !(*cb)["notifyURL"].is_string())
        return http_response::problem(400, fmt::format("{}.callbackReference.notifyURL: missing or not a string", wrapper), r.path);
    s.notify_url = (*cb)["notifyURL"].get<std::string>();
    if (auto d = cb->find("callbackData"); d != cb->end() && d->is_string()) s.callback_data = d->get<std::string>();
    if (auto d = s.body.find("callbackData"); d != s.body.end() && d->is_string() && s.callback_data.empty()) s.callback_data = d->get<std::string>();
    if (auto e = s.body.find("userEventCriteria"); e != s.body.end()) {
        if (!e->is_array()) return http_response::problem(400, fmt::format("{}.userEventCriteria: expected a list", wrapper), r.path);
        for (auto& v : *e) {
            auto name = v.is_string() ? v.get<std::string>() : std::string{};
            if (name != "Entering" && name != "Leaving" && name != "Transferring")
                return http_response::problem(400, fmt::format("{}.userEventCriteria: '{}' is not Entering, Leaving or Transferring", wrapper, v.dump()), r.path);
            s.events.push_back(name);
        }
    }
    std::lock_guard lock(m);
    if (kind == subscription_kind::zonal_traffic) {
        auto z = s.body.find("zoneId");
        if (z == s.body.end() || !z->is_string()) return http_response::problem(400, fmt::format("{}.zoneId: missing or not a string", wrapper), r.path);
        s.zone = z->get<std::string>();
        if (!model.find_zone(s.zone)) return http_response::problem(400, fmt::format("{}.zoneId: no zone '{}'", wrapper, s.zone), r.path);
    } else {
        auto a = s.body.find("address");
        if (a == s.body.end() || !a->is_string()) return http_response::problem(400, fmt::format("{}.address: missing or not a string", wrapper), r.path);
        s.address = strip_acr(a->get<std::string>());
        if (!model.find_ue(s.address)) return http_response::problem(400, fmt::format("{}.address: no UE '{}'", wrapper, s.address), r.path);
    }
    s.id = fmt::format("sub{}", next_sub++);
    auto location = url_of(fmt::format("{}/subscriptions/{}/{}", root, leaf, s.id));
    s.body["resourceURL"] = location;
    json answer{{wrapper, s.body}};
    subs.push_back(std::move(s));
    return http_response::created(std::move(answer), location);
}

net::http_router emulator::impl::routes() {
    using net::http_request;
    using net::http_response;
    net::http_router r;
    const std::string& b = root;
    r.route("GET", b + "/queries/users", [this](const http_request& q) {
        auto addresses = q.query_values("address");
        for (auto& a : addresses) a = strip_acr(a);
        auto zones = q.query_values("zoneId");
        auto aps = q.query_values("accessPointId");
        auto has = [](const std::vector<std::string>& list, const std::string& v) {
            return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
        };
        std::lock_guard lock(m);
        catch_up_locked();
        json users = json::array();
        for (auto& st : track.states())
            if (has(addresses, st.ue) && has(zones, st.zone) && has(aps, st.access_point)) users.push_back(user_info(st));
        if (!addresses.empty() && users.empty())
            return http_response::problem(404, fmt::format("no UE with address {}", fmt::join(addresses, ",")), q.path);
        return http_response::ok({{"userList", {{"user", std::move(users)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones", [this](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        json zones = json::array();
        for (auto& z : model.zones()) zones.push_back(zone_info(z));
        return http_response::ok({{"zoneList", {{"zone", std::move(zones)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}", [this](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* z = model.find_zone(q.param("zoneId"));
        if (!z) return http_response::problem(404, fmt::format("no zone '{}'", q.param("zoneId")), q.path);
        return http_response::ok({{"zoneInfo", zone_info(*z)}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}/accessPoints", [this](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* z = model.find_zone(q.param("zoneId"));
        if (!z) return http_response::problem(404, fmt::format("no zone '{}'", q.param("zoneId")), q.path);
        json aps = json::array();
        for (auto& name : z->access_points) aps.push_back(access_point_info(*model.find_access_point(name)));
        return http_response::ok({{"accessPointList", {{"zoneId", z->name}, {"accessPoint", std::move(aps)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}/accessPoints/{accessPointId}", [this](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* a = model.find_access_point(q.param("accessPointId"));
        if (!a || a->zone != q.param("zoneId"))
            return http_response::problem(404, fmt::format("no access point '{}' in zone '{}'", q.param("accessPointId"), q.param("zoneId")), q.path);
        return http_response::ok({{"accessPointInfo", access_point_info(*a)}});
    });
    for (auto kind : {subscription_kind::zonal_traffic, subscription_kind::user_tracking}) {
        std::string leaf = kind == subscription_kind::zonal_traffic ? "zonalTraffic" : "userTracking";
        std::string wrapper = kind == subscription_kind::zonal_traffic ? "zonalTrafficSubscription" : "userTrackingSubscription";
        r.route("POST", b + "/subscriptions/" + leaf, [this, kind](const http_request& q) { return subscribe(q, kind); });
        r.route("GET", b + "/subscriptions/" + leaf, [this, kind, wrapper](const http_request& q) {
            std::lock_guard lock(m);
            json list = json::array();
            for (auto& s : subs)
                if (s.kind == kind) list.push_back(s.body);
            return http_response::ok({{"notificationSubscriptionList", {{wrapper, std::move(list)}, {"resourceURL", url_of(q.target)}}}});
        });
        r.route("GET", b + "/subscriptions/" + leaf + "/{subscriptionId}", [this, kind, wrapper](const http_request& q) {
            std::lock_guard lock(m);
            for (auto& s : subs)
                if (s.kind == kind && s.id == q.param("subscriptionId")) return http_response::ok({{wrapper, s.body}});
            return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
        });
        r.route("DELETE", b + "/subscriptions/" + leaf + "/{subscriptionId}", [this, kind](const http_request& q) {
            std::lock_guard lock(m);
            auto it = std::find_if(subs.begin(), subs.end(), [&](auto& s) { return s.kind == kind && s.id == q.param("subscriptionId"); });
            if (it == subs.end()) return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
            subs.erase(it);
            return http_response::no_content();
        });
    }
    const std::string sim = options.base_path + "/sim/v1";
    r.route("GET", sim + "/state", [this](const http_request&) {
        std::lock_guard lock(m);
        catch_up_locked();
        return http_response::ok(sim_state());
    });
    r.route("POST", sim + "/ues/{ue}/accessPoint", [this](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        auto ap = doc->find("accessPointId");
        if (ap == doc->end() || !(ap->is_string() || ap->is_null()))
            return http_response::problem(400, "accessPointId: expected a string (null releases the UE)", q.path);
        std::lock_guard lock(m);
        catch_up_locked();
        auto c = track.force(q.param("ue"), ap->is_null() ? std::string{} : ap->get<std::string>());
        if (!c) return http_response::problem(404, c.error().message, q.path);
        notify_locked(*c);
        return http_response::ok({{"ue", c->after.ue}, {"accessPointId", c->after.access_point}, {"zoneId", c->after.zone},
                                  {"previousAccessPointId", c->before.access_point}, {"previousZoneId", c->before.zone}});
    });
    r.route("PUT", sim + "/timeScale", [this](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        auto s = doc->find("timeScale");
        if (s == doc->end() || !s->is_number() || s->get<double>() < 0)
            return http_response::problem(400, "timeScale: expected a number >= 0", q.path);
        std::lock_guard lock(m);
        base_t = now_locked();
        base_real = std::chrono::steady_clock::now();
        scale = s->get<double>();
        return http_response::ok(sim_state());
    });
    return r;
}

emulator::emulator(std::unique_ptr<impl> p) : p_(std::move(p)) {}

emulator::~emulator() { stop(); }

result<std::unique_ptr<emulator>> emulator::start(scenario s, const emulator_options& o) {
    MIGRATE_TRY(o.validate());
    auto p = std::make_unique<impl>(std::move(s));
    p->options = o;
    p->scale = o.time_scale;
    p->root = o.base_path + "/location/v2";
    net::http_server_options so;
    so.address = o.address;
    so.port = o.port;
    so.server_name = "migrate-mec-sim";
    auto server = net::http_server::start(so, p->routes());
    if (!server) return server.error();
    {
        std::lock_guard lock(p->m);
        p->server = std::move(*server);
        p->base_real = std::chrono::steady_clock::now();
    }
    p->clock = std::thread([raw = p.get()] { raw->run_clock(); });
    p->notifier = std::thread([raw = p.get()] { raw->run_notifier(); });
    return std::unique_ptr<emulator>(new emulator(std::move(p)));
}

void emulator::stop() {
    if (!p_) return;
    {
        std::lock_guard lock(p_->m);
        if (p_->stopping) return;
        p_->stopping = true;
    }
    p_->wake_clock.notify_all();
    p_->wake_notifier.notify_all();
    if (p_->clock.joinable()) p_->clock.join();
    if (p_->notifier.joinable()) p_->notifier.join();
    if (p_->server) p_->server->stop();
}

std::uint16_t emulator::port() const noexcept { return p_->server->port(); }
std::string emulator::url() const { return p_->server->url() + p_->options.base_path; }
const scenario& emulator::model() const noexcept { return p_->model; }

double emulator::now() const {
    std::lock_guard lock(p_->m);
    return p_->now_locked();
}

result<void> emulator::set_time_scale(double scale) {
    if (!(scale >= 0)) return make_failure(error::invalid_argument, fmt::format("time scale {}: must be >= 0", scale));
    std::lock_guard lock(p_->m);
    p_->base_t = p_->now_locked();
    p_->base_real = std::chrono::steady_clock::now();
    p_->scale = scale;
    return ok();
}

result<ue_state> emulator::force(const std::string& ue, const std::string& access_point) {
    std::lock_guard lock(p_->m);
    p_->catch_up_locked();
    auto c = p_->track.force(ue, access_point);
    if (!c) return c.error();
    p_->notify_locked(*c);
    return c->after;
}

std::vector<ue_state> emulator::states() const {
    std::lock_guard lock(p_->m);
    p_->catch_up_locked();
    return p_->track.states();
}

std::size_t emulator::notifications_sent() const noexcept { return p_->sent; }
std::size_t emulator::notifications_failed() const noexcept { return p_->failed; }

}  // namespace migrate::mec
