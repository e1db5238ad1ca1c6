// The emulator's core: options, clock, notifier, the control API (/sim/v1) and the public
// methods. The ETSI APIs are in emulator_<api>.cpp (see emulator_impl.hpp).
#include "emulator_impl.hpp"

#include "../net/http_call.hpp"

namespace migrate::mec {

namespace detail {

json timestamp_now() {
    auto since = std::chrono::system_clock::now().time_since_epoch();
    auto s = std::chrono::duration_cast<std::chrono::seconds>(since);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since - s);
    return {{"seconds", s.count()}, {"nanoSeconds", ns.count()}};
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string strip_acr(std::string a) { return a.rfind("acr:", 0) == 0 ? a.substr(4) : a; }

void expect_one_of(const reader& r, const char* key, const std::vector<std::string_view>& allowed, bool required) {
    auto v = required ? std::optional<std::string>(r.str(key)) : r.opt_str(key);
    if (!v) return;
    for (auto a : allowed)
        if (a == *v) return;
    bad_field(r.at_ptr(key), fmt::format("'{}' is not one of {}", *v, fmt::join(allowed, ", ")));
}

}  // namespace detail

result<void> emulator_options::validate() const {
    auto bad = [](const std::string& field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("emulator_options.{}: {}", field, why));
    };
    if (!base_path.empty() && (base_path.front() != '/' || base_path.back() == '/'))
        return bad("base_path", fmt::format("'{}' must start with '/' and not end with one", base_path));
    if (base_path.find_first_of("{}?# ") != std::string::npos) return bad("base_path", fmt::format("'{}' has a reserved character", base_path));
    if (!(time_scale >= 0)) return bad("time_scale", "must be >= 0");
    if (!(step_s > 0)) return bad("step_s", "must be positive");
    if (tick.count() <= 0) return bad("tick", "must be positive");
    if (notify_timeout.count() <= 0) return bad("notify_timeout", "must be positive");
    for (std::size_t i = 0; i < app_instances.size(); ++i) {
        if (app_instances[i].id.empty()) return bad(fmt::format("app_instances[{}].id", i), "empty");
        for (std::size_t j = 0; j < i; ++j)
            if (app_instances[j].id == app_instances[i].id)
                return bad(fmt::format("app_instances[{}].id", i), fmt::format("'{}' is declared twice", app_instances[i].id));
    }
    net::http_server_options probe;
    probe.address = address;
    if (auto v = probe.validate(); !v) return bad("address", v.error().message);
    return ok();
}

double emulator::impl::now_locked() const {
    std::chrono::duration<double> real = std::chrono::steady_clock::now() - base_real;
    return base_t + real.count() * scale;
}

void emulator::impl::notify_locked(const tracker::change& c) {
    location_notify_locked(c);
    ams_notify_locked(c);
    rnis_notify_locked(c);
    wake_notifier.notify_one();
}

void emulator::impl::catch_up_locked() {
    for (auto& c : track.advance(now_locked(), options.step_s)) notify_locked(c);
}

void emulator::impl::expire_locked() {
    auto steady = std::chrono::steady_clock::now();
    std::erase_if(location_subs, [&](auto& s) { return s.expires && *s.expires <= steady; });
    auto wall = detail::unix_now();
    std::erase_if(ams_regs, [&](auto& s) { return s.expiry_s && *s.expiry_s <= wall; });
    std::erase_if(ams_subs, [&](auto& s) { return s.expiry_s && *s.expiry_s <= wall; });
    std::erase_if(rnis_subs, [&](auto& s) { return s.expiry_s && *s.expiry_s <= wall; });
}

void emulator::impl::run_clock() {
    std::unique_lock lock(m);
    while (!stopping) {
        wake_clock.wait_for(lock, options.tick, [&] { return stopping; });
        if (stopping) break;
        expire_locked();
        catch_up_locked();
    }
}

void emulator::impl::run_notifier() {
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

json emulator::impl::sim_state() const {
    json ues = json::array();
    for (auto& st : track.states())
        ues.push_back({{"ue", st.ue}, {"accessPointId", st.access_point}, {"zoneId", st.zone},
                       {"longitude", st.position.longitude}, {"latitude", st.position.latitude}});
    json instances = json::array();
    for (auto& a : apps) instances.push_back(app_instance_json(a));
    return {{"scenario", model.name()}, {"time", track.now()}, {"timeScale", scale}, {"ues", std::move(ues)},
            {"appInstances", std::move(instances)}};
}

net::http_router emulator::impl::routes() {
    net::http_router r;
    add_location_routes(r);
    add_app_support_routes(r);
    add_ams_routes(r);
    add_rnis_routes(r);
    add_sim_routes(r);
    return r;
}

void emulator::impl::add_sim_routes(net::http_router& r) {
    using net::http_request;
    using net::http_response;
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
    r.route("POST", sim + "/appInstances", [this](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        app_instance a;
        auto rules = detail::parse_guarded([&] {
            detail::reader rd(*doc, "");
            a.id = rd.str("appInstanceId");
            a.edge_host = rd.str("edgeHost");
            a.app_name = rd.opt_str("appName").value_or("");
            std::vector<json> docs;
            rd.objects("trafficRules", [&](const detail::reader& t) {
                docs.push_back(t.raw());
                return 0;
            });
            a.endpoints = rd.objects("endpoints", [](const detail::reader& e) { return endpoint{e.str("host"), e.integer("port")}; });
            return docs;
        });
        if (!rules) return http_response::problem(400, "body " + rules.error().message, q.path);
        for (std::size_t i = 0; i < rules->size(); ++i) {
            auto t = parse_traffic_rule((*rules)[i]);
            if (!t) return http_response::problem(400, fmt::format("body /trafficRules/{}{}", i, t.error().message), q.path);
            a.traffic_rules.push_back(*t);
        }
        std::lock_guard lock(m);
        if (find_app_locked(a.id)) return http_response::problem(409, fmt::format("app instance '{}' exists", a.id), q.path);
        auto rec = make_app_instance_locked(a);
        if (!rec) return http_response::problem(400, rec.error().message, q.path);
        app_added_locked(std::move(*rec));
        return http_response::created(app_instance_json(apps.back()), url_of(fmt::format("{}/{}", q.path, a.id)));
    });
    r.route("GET", sim + "/appInstances", [this](const http_request&) {
        std::lock_guard lock(m);
        json out = json::array();
        for (auto& a : apps) out.push_back(app_instance_json(a));
        return http_response::ok(std::move(out));
    });
    r.route("GET", sim + "/appInstances/{appInstanceId}", [this](const http_request& q) {
        std::lock_guard lock(m);
        auto* a = find_app_locked(q.param("appInstanceId"));
        if (!a) return http_response::problem(404, fmt::format("app instance '{}': not declared", q.param("appInstanceId")), q.path);
        return http_response::ok(app_instance_json(*a));
    });
    r.route("POST", sim + "/appInstances/{appInstanceId}/terminate", [this](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        operation_action action = operation_action::terminating;
        std::int64_t timeout = 10;
        auto read = detail::parse_guarded([&] {
            detail::reader rd(*doc, "");
            detail::expect_one_of(rd, "operationAction", {"STOPPING", "TERMINATING"}, false);
            if (rd.opt_str("operationAction").value_or("TERMINATING") == "STOPPING") action = operation_action::stopping;
            timeout = rd.opt_integer("maxGracefulTimeout").value_or(10);
            return true;
        });
        if (!read) return http_response::problem(400, "body " + read.error().message, q.path);
        std::lock_guard lock(m);
        auto t = terminate_locked(q.param("appInstanceId"), action, timeout);
        if (!t) return http_response::problem(404, t.error().message, q.path);
        return http_response::no_content();
    });
}

emulator::emulator(std::unique_ptr<impl> p) : p_(std::move(p)) {}

emulator::~emulator() { stop(); }

result<std::unique_ptr<emulator>> emulator::start(scenario s, const emulator_options& o) {
    MIGRATE_TRY(o.validate());
    auto p = std::make_unique<impl>(std::move(s));
    p->options = o;
    p->scale = o.time_scale;
    for (std::size_t i = 0; i < o.app_instances.size(); ++i) {
        auto rec = p->make_app_instance_locked(o.app_instances[i]);
        if (!rec) return make_failure(error::invalid_argument, fmt::format("emulator_options.app_instances[{}]: {}", i, rec.error().message));
        p->apps.push_back(std::move(*rec));
    }
    net::http_server_options so;
    so.address = o.address;
    so.port = o.port;
    so.server_name = "migrate-mec-sim";
    // A ProblemDetails `instance` (the request path here) is made an absolute URI by net::http_server.
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

result<void> emulator::add_app_instance(const app_instance& a) {
    std::lock_guard lock(p_->m);
    if (a.id.empty()) return make_failure(error::invalid_argument, "app_instance.id: empty");
    if (p_->find_app_locked(a.id)) return make_failure(error::conflict, fmt::format("app instance '{}' exists", a.id));
    auto rec = p_->make_app_instance_locked(a);
    if (!rec) return rec.error();
    p_->app_added_locked(std::move(*rec));
    return ok();
}

std::vector<app_instance_status> emulator::app_instances() const {
    std::lock_guard lock(p_->m);
    std::vector<app_instance_status> out;
    for (auto& a : p_->apps) {
        app_instance_status st{a.declared, a.ready, a.termination_confirmed};
        st.declared.traffic_rules.clear();
        for (auto& r : a.rules) st.declared.traffic_rules.push_back(parse_traffic_rule(r).value());
        out.push_back(std::move(st));
    }
    return out;
}

result<std::vector<traffic_rule>> emulator::traffic_rules(const std::string& app_instance) const {
    std::lock_guard lock(p_->m);
    auto* a = p_->find_app_locked(app_instance);
    if (!a) return make_failure(error::not_found, fmt::format("app instance '{}': not declared", app_instance));
    std::vector<traffic_rule> out;
    for (auto& r : a->rules) out.push_back(parse_traffic_rule(r).value());
    return out;
}

result<void> emulator::terminate(const std::string& app_instance, operation_action action, std::int64_t max_graceful_timeout_s) {
    std::lock_guard lock(p_->m);
    return p_->terminate_locked(app_instance, action, max_graceful_timeout_s);
}

std::size_t emulator::notifications_sent() const noexcept { return p_->sent; }
std::size_t emulator::notifications_failed() const noexcept { return p_->failed; }

}  // namespace migrate::mec
