// The replica pool (include/migrate/strategy/replica_pool.hpp).
//
// Threads: the caller's (assign, migrate, release, shutdown) and one refill thread that
// starts instances while a host has fewer than `size` ready or starting. Everything shared
// is under `mu`; Docker calls and the replica protocol run outside it.
#include <migrate/docker/engine.hpp>
#include <migrate/strategy/replica_pool.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

namespace migrate {

namespace {
constexpr const char* where = "replica_pool";
}

void to_json(json& j, const replica_pool_options& o) {
    j = json{{"image", o.image},       {"cmd", o.cmd},
             {"env", o.env},           {"network", o.network},
             {"service_port", o.service_port}, {"size", o.size},
             {"name_prefix", o.name_prefix},   {"recycle", o.recycle},
             {"ready_timeout_ms", o.ready_timeout.count()}};
}

void from_json(const json& j, replica_pool_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "replica_pool: expected an object"));
    detail::read_field(j, where, "image", o.image);
    detail::read_field(j, where, "cmd", o.cmd);
    detail::read_field(j, where, "env", o.env);
    detail::read_field(j, where, "network", o.network);
    detail::read_field(j, where, "service_port", o.service_port);
    detail::read_field(j, where, "size", o.size);
    detail::read_field(j, where, "name_prefix", o.name_prefix);
    detail::read_field(j, where, "recycle", o.recycle);
    std::int64_t ms = o.ready_timeout.count();
    detail::read_field(j, where, "ready_timeout_ms", ms);
    o.ready_timeout = std::chrono::milliseconds{ms};
}

result<void> replica_pool_options::validate() const {
    if (image.empty()) return make_failure(error::invalid_argument, "replica_pool.image: empty");
    if (network.empty() || network == "host" || network == "none")
        return make_failure(error::invalid_argument,
                            fmt::format("replica_pool.network: '{}' gives instances no address of their own", network));
    if (size < 0 || size > 64)
        return make_failure(error::invalid_argument, fmt::format("replica_pool.size: {} is outside 0 .. 64", size));
    static const std::regex name_re{"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}"};
    if (!std::regex_match(name_prefix, name_re))
        return make_failure(error::invalid_argument,
                            fmt::format("replica_pool.name_prefix: '{}' must match [a-zA-Z0-9][a-zA-Z0-9_.-]{{0,40}}",
                                        name_prefix));
    if (ready_timeout.count() <= 0) return make_failure(error::invalid_argument, "replica_pool.ready_timeout_ms: must be positive");
    return {};
}

struct replica_pool::impl {
    struct pool_host {
        edge_host host;
        // A runtime is one-thread-at-a-time (runtime.hpp); the refill thread and the
        // caller's (cold starts, shutdown) take turns.
        std::shared_ptr<std::mutex> runtime_mu = std::make_shared<std::mutex>();
        std::deque<service_instance> ready;
        int starting = 0;
        int next_index = 0;
        std::optional<failure> last_failure;  // why the refill stopped on this host
    };
    struct subject_state {
        service_instance instance;
        std::optional<route_change> route;
    };

    replica_pool_options options;
    std::shared_ptr<replica_protocol> protocol;
    hooks h;
    address_lookup lookup;
    std::map<std::string, pool_host, std::less<>> hosts;
    std::map<std::string, subject_state, std::less<>> subjects;
    std::vector<std::pair<std::string, std::string>> started;   // (host, container) ever started
    std::deque<service_instance> to_remove;                      // released, removed by the refill thread
    bool removing = false;

    mutable std::mutex mu;
    std::condition_variable_any wake;        // refill: a host may need an instance
    std::condition_variable refilled;        // waiters: an instance became ready
    std::jthread refiller;

    // Creates, starts and waits for one instance on `ph`. Outside `mu`.
    result<service_instance> start_instance(pool_host& ph, int index) {
        container_spec spec;
        spec.name = fmt::format("{}-{}-{}", options.name_prefix, ph.host.name, index);
        spec.image = options.image;
        spec.cmd = options.cmd;
        spec.env = options.env;
        spec.network_mode = options.network;
        spec.labels["migrate.replica_pool"] = options.name_prefix;
        std::unique_lock rt(*ph.runtime_mu);
        auto id = ph.host.runtime->create(spec);
        if (!id)
            return make_failure(static_cast<error>(id.error_code().value()),
                                fmt::format("replica_pool: create instance '{}' on host {}: {}", spec.name,
                                            ph.host.name, id.error().message));
        {
            std::lock_guard lk(mu);
            started.emplace_back(ph.host.name, spec.name);
        }
        auto fail = [&](const failure& f) -> result<service_instance> {
            if (!rt.owns_lock()) rt.lock();
            (void)ph.host.runtime->remove(*id, true);
            return make_failure(static_cast<error>(f.code.value()),
                                fmt::format("replica_pool: instance '{}' on host {}: {}", spec.name, ph.host.name, f.message));
        };
        if (auto s = ph.host.runtime->start(*id); !s) return fail(s.error());
        auto address = lookup(*ph.host.runtime, *id, options.network);
        if (!address) return fail(address.error());
        rt.unlock();   // the instance's own start-up is not the runtime's business
        service_instance inst{ph.host.name, spec.name, *address, options.service_port};
        if (auto r = protocol->wait_ready(inst, options.ready_timeout); !r) return fail(r.error());
        return inst;
    }

    bool host_needs_instance(const pool_host& ph) const {
        return static_cast<int>(ph.ready.size()) + ph.starting < options.size && !ph.last_failure;
    }

    // The refill thread: removes released instances (slow: stop + remove, so not on the
    // caller's path) and keeps `size` ready-or-starting instances per host.
    void refill_loop(std::stop_token stop) {
        std::unique_lock lk(mu);
        while (!stop.stop_requested()) {
            if (!to_remove.empty()) {
                auto inst = std::move(to_remove.front());
                to_remove.pop_front();
                removing = true;
                auto& ph = hosts.find(inst.host)->second;
                lk.unlock();
                {
                    std::lock_guard rt(*ph.runtime_mu);
                    (void)ph.host.runtime->remove(inst.id, true);
                }
                lk.lock();
                removing = false;
                refilled.notify_all();
                continue;
            }
            pool_host* need = nullptr;
            for (auto& [name, ph] : hosts)
                if (host_needs_instance(ph)) {
                    need = &ph;
                    break;
                }
            if (!need) {
                wake.wait(lk, stop, [&] {
                    return !to_remove.empty() ||
                           std::any_of(hosts.begin(), hosts.end(), [&](auto& kv) { return host_needs_instance(kv.second); });
                });
                continue;
            }
            int index = need->next_index++;
            ++need->starting;
            lk.unlock();
            auto inst = start_instance(*need, index);
            lk.lock();
            --need->starting;
            if (inst) {
                need->ready.push_back(std::move(*inst));
            } else {
                // Stop refilling this host until someone looks (fill() retries, status() shows it):
                // a host that cannot start instances must not be hammered.
                need->last_failure = inst.error();
                h.info(inst.error().what());
            }
            refilled.notify_all();
        }
    }

    // An instance on `host` for a subject: pooled, else cold. `pooled` tells which.
    result<service_instance> take(pool_host& ph, bool& pooled) {
        {
            std::lock_guard lk(mu);
            if (!ph.ready.empty()) {
                auto inst = std::move(ph.ready.front());
                ph.ready.pop_front();
                pooled = true;
                wake.notify_all();
                return inst;
            }
        }
        pooled = false;
        int index;
        {
            std::lock_guard lk(mu);
            index = ph.next_index++;
        }
        return start_instance(ph, index);
    }

    // An instance that served (or was about to serve) a subject leaves or returns.
    void give_back(const service_instance& inst, bool clean) {
        std::lock_guard lk(mu);
        auto it = hosts.find(inst.host);
        if (it == hosts.end()) return;
        if (options.recycle && clean && static_cast<int>(it->second.ready.size()) < options.size) {
            it->second.ready.push_back(inst);
            refilled.notify_all();
            return;
        }
        to_remove.push_back(inst);
        wake.notify_all();
    }
};

replica_pool::replica_pool(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

replica_pool::~replica_pool() {
    if (impl_ && impl_->refiller.joinable()) {
        impl_->refiller.request_stop();
        impl_->wake.notify_all();
        impl_->refiller.join();
    }
}

const replica_pool_options& replica_pool::options() const noexcept { return impl_->options; }

result<std::unique_ptr<replica_pool>> replica_pool::make(std::vector<edge_host> hosts, replica_pool_options options,
                                                         std::shared_ptr<replica_protocol> protocol, hooks h,
                                                         address_lookup lookup) {
    if (auto v = options.validate(); !v) return v.error();
    if (!protocol) return make_failure(error::invalid_argument, "replica_pool: no replica_protocol given");
    if (hosts.empty()) return make_failure(error::invalid_argument, "replica_pool: no hosts");
    auto i = std::make_unique<impl>();
    i->options = std::move(options);
    i->protocol = std::move(protocol);
    i->h = std::move(h);
    if (!lookup)
        lookup = [](container_runtime& rt, std::string_view id, std::string_view network) -> result<std::string> {
            auto* engine = dynamic_cast<docker::engine*>(&rt);
            if (!engine)
                return make_failure(error::unsupported,
                                    fmt::format("replica_pool: {} is not a Docker engine; give make() an address_lookup",
                                                rt.endpoint()));
            return engine->container_address(id, network);
        };
    i->lookup = std::move(lookup);
    for (auto& eh : hosts) {
        if (!eh.runtime) return make_failure(error::invalid_argument, fmt::format("replica_pool: host '{}' has no runtime", eh.name));
        if (i->hosts.count(eh.name))
            return make_failure(error::invalid_argument, fmt::format("replica_pool: host '{}' given twice", eh.name));
        std::string name = eh.name;
        impl::pool_host ph;
        ph.host = std::move(eh);
        i->hosts.emplace(std::move(name), std::move(ph));
    }
    std::unique_ptr<replica_pool> pool{new replica_pool(std::move(i))};
    auto* raw = pool->impl_.get();
    raw->refiller = std::jthread([raw](std::stop_token st) { raw->refill_loop(st); });
    return pool;
}

result<void> replica_pool::fill(std::stop_token stop) {
    auto& i = *impl_;
    std::unique_lock lk(i.mu);
    for (auto& [name, ph] : i.hosts) {   // a new chance for failed hosts
        ph.last_failure.reset();
    }
    i.wake.notify_all();
    auto deadline = std::chrono::steady_clock::now() + i.options.ready_timeout * std::max(1, i.options.size) +
                    std::chrono::seconds{10};
    while (true) {
        bool full = true;
        for (auto& [name, ph] : i.hosts) {
            if (ph.last_failure) return *ph.last_failure;
            if (static_cast<int>(ph.ready.size()) < i.options.size) full = false;
        }
        if (full) return {};
        if (stop.stop_requested()) return make_failure(error::cancelled, "replica_pool: fill cancelled");
        if (i.refilled.wait_until(lk, deadline) == std::cv_status::timeout)
        {
            std::string have;
            for (auto& [name, ph] : i.hosts) have += fmt::format(" {}: {} ready, {} starting;", name, ph.ready.size(), ph.starting);
            return make_failure(error::timeout,
                                fmt::format("replica_pool: hosts not filled to {} ready instances in time:{}", i.options.size, have));
        }
    }
}

result<void> replica_pool::wait_refilled(std::chrono::milliseconds within) {
    auto& i = *impl_;
    std::unique_lock lk(i.mu);
    bool ok = i.refilled.wait_for(lk, within, [&] {
        return i.to_remove.empty() && !i.removing && std::all_of(i.hosts.begin(), i.hosts.end(), [&](auto& kv) {
            return (static_cast<int>(kv.second.ready.size()) >= i.options.size && kv.second.starting == 0) ||
                   kv.second.last_failure.has_value();
        });
    });
    for (auto& [name, ph] : i.hosts)
        if (ph.last_failure) return *ph.last_failure;
    if (!ok) return make_failure(error::timeout, fmt::format("replica_pool: not refilled within {} ms", within.count()));
    return {};
}

result<service_instance> replica_pool::assign(std::string_view subject, std::string_view host, route_switch* route,
                                              json attachment) {
    auto& i = *impl_;
    if (subject.empty()) return make_failure(error::invalid_argument, "replica_pool.assign: empty subject");
    impl::pool_host* ph = nullptr;
    {
        std::lock_guard lk(i.mu);
        if (i.subjects.count(subject))
            return make_failure(error::already_exists,
                                fmt::format("replica_pool: '{}' already has an instance ({}); migrate it instead", subject,
                                            i.subjects.find(subject)->second.instance.id));
        auto it = i.hosts.find(host);
        if (it == i.hosts.end()) return make_failure(error::not_found, fmt::format("replica_pool: no host '{}'", host));
        ph = &it->second;
    }
    bool pooled = false;
    auto inst = i.take(*ph, pooled);
    if (!inst) return inst.error();
    if (auto a = i.protocol->assign(*inst, subject); !a) {
        i.give_back(*inst, false);
        return a.error();
    }
    std::optional<route_change> rc;
    if (route) {
        route_change c;
        c.subject = std::string(subject);
        c.to = *inst;
        c.attachment = std::move(attachment);
        if (auto r = route->commit(c); !r) {
            (void)i.protocol->release(*inst, subject);
            i.give_back(*inst, false);
            return r.error();
        }
        rc = std::move(c);
    }
    std::lock_guard lk(i.mu);
    i.subjects[std::string(subject)] = impl::subject_state{*inst, std::move(rc)};
    return *inst;
}

result<migration_report> replica_pool::migrate(std::string_view subject, std::string_view host, route_switch& route,
                                               json attachment, std::stop_token stop) {
    auto& i = *impl_;
    impl::pool_host* ph = nullptr;
    impl::subject_state current;
    {
        std::lock_guard lk(i.mu);
        auto s = i.subjects.find(subject);
        if (s == i.subjects.end())
            return make_failure(error::not_found, fmt::format("replica_pool: '{}' has no instance (assign it first)", subject));
        auto it = i.hosts.find(host);
        if (it == i.hosts.end()) return make_failure(error::not_found, fmt::format("replica_pool: no host '{}'", host));
        ph = &it->second;
        current = s->second;
    }
    migration_report rep;
    rep.strategy = "replica_pool";
    rep.subject = std::string(subject);
    rep.source = current.instance.host;
    rep.target = std::string(host);
    rep.started_at = utc_now_iso8601();
    report_recorder recorder{rep};
    hooks h;
    h.log = i.h.log;
    h.on_event = [&](const phase_event& e) {
        recorder(e);
        i.h.emit(e);
    };

    route_change c = current.route.value_or(route_change{});
    c.subject = std::string(subject);
    c.from = current.instance;
    c.to = service_instance{};
    c.attachment = std::move(attachment);
    c.prepared = c.committed = false;

    std::optional<service_instance> taken;
    auto failed = [&](const failure& f, phase_scope& scope) -> result<migration_report> {
        scope.finish(f.code);
        rep.success = false;
        rep.error = f.what();
        phase_scope rb{h, phase::rollback, "old instance serves on; taken instance returned"};
        route.rollback(c);
        if (taken) {
            (void)i.protocol->release(*taken, subject);
            i.give_back(*taken, false);
        }
        rb.finish();
        rep.rolled_back = true;
        rep.details["route"] = c;
        return rep;
    };

    {
        phase_scope s{h, phase::route_switch, "backup route"};
        if (auto r = route.prepare(c); !r) return failed(r.error(), s);
        s.finish();
    }
    if (host == current.instance.host) {
        // The subject moved within its instance's own domain: the instance stays, only the
        // route follows (no instantiation, no state load, nothing released).
        c.to = current.instance;
        phase_scope s{h, phase::route_switch, "new route"};
        if (auto r = route.commit(c); !r) return failed(r.error(), s);
        s.finish();
        std::lock_guard lk(i.mu);
        i.subjects[std::string(subject)].route = c;
        rep.success = true;
        rep.details["instantiation"] = "kept";
        rep.details["route"] = c;
        rep.details["instance"] = current.instance;
        return rep;
    }
    {
        phase_scope s{h, phase::restore, "instantiation"};
        if (stop.stop_requested()) return failed(make_failure(error::cancelled, "replica_pool: migrate cancelled"), s);
        bool pooled = false;
        auto inst = i.take(*ph, pooled);
        if (!inst) return failed(inst.error(), s);
        taken = *inst;
        rep.details["instantiation"] = pooled ? "pooled" : "cold";
        s.finish();
    }
    {
        phase_scope s{h, phase::resume, "state load"};
        if (auto r = i.protocol->assign(*taken, subject); !r) return failed(r.error(), s);
        s.finish();
    }
    c.to = *taken;
    {
        phase_scope s{h, phase::route_switch, "new route"};
        if (auto r = route.commit(c); !r) return failed(r.error(), s);
        s.finish();
    }
    {
        std::lock_guard lk(i.mu);
        i.subjects[std::string(subject)] = impl::subject_state{*taken, c};
    }
    {
        phase_scope s{h, phase::cleanup, "release"};
        auto r = i.protocol->release(current.instance, subject);
        if (!r) rep.details["release_error"] = r.error().what();
        i.give_back(current.instance, static_cast<bool>(r));
        s.finish();
    }
    rep.success = true;
    rep.details["route"] = c;
    rep.details["instance"] = *taken;
    return rep;
}

std::optional<route_change> replica_pool::route_of(std::string_view subject) const {
    std::lock_guard lk(impl_->mu);
    auto s = impl_->subjects.find(subject);
    if (s == impl_->subjects.end()) return std::nullopt;
    return s->second.route;
}

std::optional<service_instance> replica_pool::instance_of(std::string_view subject) const {
    std::lock_guard lk(impl_->mu);
    auto s = impl_->subjects.find(subject);
    if (s == impl_->subjects.end()) return std::nullopt;
    return s->second.instance;
}

result<void> replica_pool::release(std::string_view subject) {
    auto& i = *impl_;
    service_instance inst;
    {
        std::lock_guard lk(i.mu);
        auto s = i.subjects.find(subject);
        if (s == i.subjects.end()) return make_failure(error::not_found, fmt::format("replica_pool: '{}' has no instance", subject));
        inst = s->second.instance;
        i.subjects.erase(s);
    }
    auto r = i.protocol->release(inst, subject);
    i.give_back(inst, static_cast<bool>(r));
    return r;
}

json replica_pool::status() const {
    auto& i = *impl_;
    std::lock_guard lk(i.mu);
    json j = json::object();
    for (auto& [name, ph] : i.hosts) {
        json ready = json::array();
        for (auto& r : ph.ready) ready.push_back(r);
        json assigned = json::object();
        for (auto& [subject, st] : i.subjects)
            if (st.instance.host == name) assigned[subject] = st.instance;
        j[name] = {{"ready", ready}, {"starting", ph.starting}, {"assigned", assigned}, {"error", ph.last_failure ? ph.last_failure->what() : ""}};
    }
    return j;
}

result<void> replica_pool::shutdown() {
    auto& i = *impl_;
    i.refiller.request_stop();
    i.wake.notify_all();
    if (i.refiller.joinable()) i.refiller.join();
    std::vector<std::pair<std::string, std::string>> all;
    {
        std::lock_guard lk(i.mu);
        all = i.started;
        for (auto& [name, ph] : i.hosts) ph.ready.clear();
        i.subjects.clear();
    }
    std::string errors;
    for (auto& [host, id] : all) {
        auto& ph = i.hosts.find(host)->second;
        std::lock_guard rt(*ph.runtime_mu);
        auto r = ph.host.runtime->remove(id, true);
        if (!r && r.error_code() != error::not_found) errors += fmt::format("{} on {}: {}; ", id, host, r.error().what());
    }
    {
        std::lock_guard lk(i.mu);
        i.started.clear();
    }
    if (!errors.empty()) return make_failure(error::daemon_error, "replica_pool: shutdown left " + errors);
    return {};
}

}  // namespace migrate
