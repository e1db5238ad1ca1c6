#include "md_manager.hpp"

#include "telemetry.hpp"

#include <migrate/report.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>

namespace migrate::vmd {

using clock_type = std::chrono::steady_clock;

result<void> md_manager_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("md_manager_options.{}: {}", field, why));
    };
    if (timeout.count() < 100) return bad("timeout", fmt::format("{} ms is under 100 ms", timeout.count()));
    if (probe_timeout.count() <= 0) return bad("probe_timeout", "must be positive");
    if (sweep_interval.count() < 0) return bad("sweep_interval", "must not be negative");
    return ok();
}

void to_json(json& j, const md_manager_options& o) {
    j = json{{"timeout_ms", o.timeout.count()},
             {"default_host", o.default_host},
             {"probe_timeout_ms", o.probe_timeout.count()},
             {"sweep_interval_ms", o.sweep_interval.count()}};
}

// ---- parsing -------------------------------------------------------------------------------

result<registration> parse_registration(std::string_view body) {
    auto bad = [](std::string why) { return make_failure(error::invalid_argument, std::move(why)); };
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return bad(fmt::format("body: not JSON: '{}'", body.substr(0, 80)));
    if (!j.is_object()) return bad(R"(body: expected a JSON object {"device": ID, "host": NAME})");
    registration r;
    for (auto& [key, value] : j.items()) {
        if (key == "device") {
            if (!value.is_string()) return bad(fmt::format("device: must be a string, not {}", value.dump()));
            r.device = value.get<std::string>();
        } else if (key == "host") {
            if (value.is_null()) continue;
            if (!value.is_string() || value.get<std::string>().empty())
                return bad(fmt::format("host: must be a host's name, not {}", value.dump()));
            r.host = value.get<std::string>();
        } else {
            return bad(fmt::format("{}: unknown field (known: device, host)", key));
        }
    }
    if (!j.contains("device")) return bad("device: missing");
    MIGRATE_TRY(validate_device_id(r.device, "device"));
    return r;
}

std::string_view format_as(md_resource r) noexcept {
    switch (r) {
        case md_resource::devices: return "devices";
        case md_resource::device: return "device";
        case md_resource::heartbeat: return "heartbeat";
        case md_resource::pool: return "pool";
        case md_resource::none: break;
    }
    return "none";
}

md_target parse_target(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
    if (target == "/devices") return {md_resource::devices, {}};
    if (target == "/pool") return {md_resource::pool, {}};
    constexpr std::string_view prefix = "/devices/";
    if (target.substr(0, prefix.size()) != prefix) return {};
    auto rest = target.substr(prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return {md_resource::device, std::string(rest)};
    if (rest.substr(slash) == "/heartbeat" && slash > 0) return {md_resource::heartbeat, std::string(rest.substr(0, slash))};
    return {};
}

std::string_view allowed_methods(md_resource r) noexcept {
    switch (r) {
        case md_resource::devices: return "GET, POST";
        case md_resource::device: return "GET, DELETE";
        case md_resource::heartbeat: return "POST";
        case md_resource::pool: return "GET";
        case md_resource::none: break;
    }
    return "";
}

json to_json(const assignment& a, clock_type::time_point now) {
    return json{{"device", a.device},
                {"twin", a.twin},
                {"registered_at", a.registered_at},
                {"last_heard_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - a.last_heard).count()},
                {"heartbeats", a.heartbeats},
                {"registrations", a.registrations}};
}

// ---- the manager ---------------------------------------------------------------------------

struct md_manager::impl {
    md_manager_options o;
    std::shared_ptr<twin_supply> supply;
    hooks h;
    std::vector<std::string> hosts;

    mutable std::mutex mu;
    std::map<std::string, assignment, std::less<>> devices;
    std::map<std::string, std::string, std::less<>> farewells;   // released devices: when and why
    std::map<std::string, std::uint64_t, std::less<>> twins_had;  // per device, since the start
    std::set<std::string, std::less<>> busy;                     // an operation on it is running
    std::condition_variable_any wake;
    std::jthread sweeper;

    // One operation per device at a time; the claim ends with the returned guard.
    struct claim {
        impl* i = nullptr;
        std::string device;
        claim(impl* owner, std::string d) : i(owner), device(std::move(d)) {}
        claim(claim&& other) noexcept : i(std::exchange(other.i, nullptr)), device(std::move(other.device)) {}
        ~claim() {
            if (!i) return;
            std::lock_guard lk(i->mu);
            i->busy.erase(device);
        }
    };
    result<claim> take(std::string_view device) {
        std::lock_guard lk(mu);
        if (!busy.emplace(device).second)
            return make_failure(error::already_exists,
                                fmt::format("device {} is busy: another request about it is being served", device));
        return claim{this, std::string(device)};
    }

    // Why `device` has no assignment, for a 404. Under `mu`.
    std::string not_registered(std::string_view device) const {
        auto f = farewells.find(device);
        return fmt::format("device {} is not registered{}; POST /devices to register", device,
                           f == farewells.end() ? std::string{} : ": " + f->second);
    }

    // The host serving fewest devices; ties go to the first in the supply's order. Under `mu`.
    std::string least_loaded() const {
        std::map<std::string_view, std::size_t> load;
        for (auto& [d, a] : devices) ++load[a.twin.host];
        return *std::min_element(hosts.begin(), hosts.end(), [&](auto& x, auto& y) { return load[x] < load[y]; });
    }

    std::string choose_host(const registration& r) const {
        if (!r.host.empty()) return r.host;
        if (!o.default_host.empty()) return o.default_host;
        std::lock_guard lk(mu);
        return least_loaded();
    }

    void sweep_loop(std::stop_token stop, md_manager* self) {
        auto interval = o.sweep_interval.count() > 0
                            ? o.sweep_interval
                            : std::clamp(o.timeout / 10, std::chrono::milliseconds{50}, std::chrono::milliseconds{1000});
        while (!stop.stop_requested()) {
            {
                std::unique_lock lk(mu);
                wake.wait_for(lk, stop, interval, [] { return false; });
            }
            if (!stop.stop_requested()) (void)self->release_timed_out();
        }
    }
};

md_manager::md_manager(std::unique_ptr<impl> p) : p_(std::move(p)) {}

md_manager::~md_manager() {
    if (p_ && p_->sweeper.joinable()) {
        p_->sweeper.request_stop();
        p_->sweeper.join();
    }
}

const md_manager_options& md_manager::options() const noexcept { return p_->o; }

result<std::unique_ptr<md_manager>> md_manager::make(md_manager_options o, std::shared_ptr<twin_supply> supply, hooks h) {
    MIGRATE_TRY(o.validate());
    if (!supply) return make_failure(error::invalid_argument, "md_manager: no twin supply");
    auto hosts = supply->hosts();
    if (hosts.empty()) return make_failure(error::invalid_argument, "md_manager: the twin supply has no hosts");
    if (!o.default_host.empty() && std::find(hosts.begin(), hosts.end(), o.default_host) == hosts.end())
        return make_failure(error::invalid_argument, fmt::format("md_manager_options.default_host: no host '{}' (hosts: {})",
                                                                 o.default_host, fmt::join(hosts, ", ")));
    auto p = std::make_unique<impl>();
    p->o = std::move(o);
    p->supply = std::move(supply);
    p->h = std::move(h);
    p->hosts = std::move(hosts);
    std::unique_ptr<md_manager> m{new md_manager(std::move(p))};
    m->p_->sweeper = std::jthread([raw = m.get()](std::stop_token st) { raw->p_->sweep_loop(st, raw); });
    return m;
}

result<registered> md_manager::register_device(const registration& r) {
    auto& i = *p_;
    MIGRATE_TRY(validate_device_id(r.device, "device"));
    if (!r.host.empty() && std::find(i.hosts.begin(), i.hosts.end(), r.host) == i.hosts.end())
        return make_failure(error::invalid_argument, fmt::format("host: no host '{}' (hosts: {})", r.host, fmt::join(i.hosts, ", ")));
    auto claimed = i.take(r.device);
    if (!claimed) return claimed.error();

    registered out;
    std::optional<assignment> existing;
    {
        std::lock_guard lk(i.mu);
        if (auto it = i.devices.find(r.device); it != i.devices.end()) {
            it->second.last_heard = clock_type::now();
            existing = it->second;
        }
    }
    if (existing) {
        const auto& t = existing->twin;
        if (i.supply->answers(t, i.o.probe_timeout))
            return make_failure(error::already_exists,
                                fmt::format("device {} is registered and its twin {} at {}:{} answers (DELETE /devices/{} "
                                            "to let it go)", r.device, t.id, t.address, t.port, r.device));
        (void)i.supply->release(r.device, /*twin_gone=*/true);
        {
            std::lock_guard lk(i.mu);
            i.devices.erase(r.device);
        }
        i.h.info(fmt::format("{}: its twin {} on {} at {}:{} does not answer within {} ms: released as gone", r.device, t.id,
                             t.host, t.address, t.port, i.o.probe_timeout.count()));
        out.replaced = t;
    }

    const auto host = i.choose_host(r);
    auto twin = i.supply->assign(r.device, host);
    if (!twin)
        return failure{twin.error_code(), fmt::format("no twin for {} on host {}: {}", r.device, host, twin.error().message)};
    assignment a{r.device, *twin, utc_now_iso8601(), clock_type::now(), 0, 0};
    {
        std::lock_guard lk(i.mu);
        a.registrations = ++i.twins_had[r.device];
        i.devices[r.device] = a;
        i.farewells.erase(r.device);
    }
    i.h.info(fmt::format("{}: registered, twin {} on {} at {}:{}{}", r.device, twin->id, twin->host, twin->address, twin->port,
                         out.replaced ? fmt::format(" (replaces {})", out.replaced->id) : std::string{}));
    out.now = std::move(a);
    return out;
}

result<released> md_manager::release_device(std::string_view device) {
    auto& i = *p_;
    auto claimed = i.take(device);
    if (!claimed) return claimed.error();
    auto a = find(device);
    if (!a) {
        std::lock_guard lk(i.mu);
        return make_failure(error::not_found, i.not_registered(device));
    }
    released out{a->twin, {}};
    if (auto r = i.supply->release(device, false); !r) out.twin_error = r.error().what();
    {
        std::lock_guard lk(i.mu);
        if (auto it = i.devices.find(device); it != i.devices.end()) i.devices.erase(it);
        i.farewells[std::string(device)] = fmt::format("released at {} by DELETE /devices/{}", utc_now_iso8601(), device);
    }
    i.h.info(fmt::format("{}: released, twin {} on {}{}", device, out.twin.id, out.twin.host,
                         out.twin_error.empty() ? std::string{} : " (it did not let go: " + out.twin_error + ")"));
    return out;
}

result<void> md_manager::heartbeat(std::string_view device) {
    auto& i = *p_;
    std::lock_guard lk(i.mu);
    if (auto it = i.devices.find(device); it != i.devices.end()) {
        it->second.last_heard = clock_type::now();
        ++it->second.heartbeats;
        return ok();
    }
    return make_failure(error::not_found, i.not_registered(device));
}

std::optional<assignment> md_manager::find(std::string_view device) const {
    std::lock_guard lk(p_->mu);
    auto it = p_->devices.find(device);
    if (it == p_->devices.end()) return std::nullopt;
    return it->second;
}

std::vector<assignment> md_manager::devices() const {
    std::lock_guard lk(p_->mu);
    std::vector<assignment> out;
    for (auto& [d, a] : p_->devices) out.push_back(a);
    return out;
}

std::vector<std::string> md_manager::release_timed_out() {
    auto& i = *p_;
    std::vector<impl::claim> expired;
    {
        std::lock_guard lk(i.mu);
        auto now = clock_type::now();
        for (auto& [d, a] : i.devices)
            if (now - a.last_heard > i.o.timeout && i.busy.insert(d).second) expired.emplace_back(&i, d);
    }
    std::vector<std::string> out;
    for (auto& c : expired) {
        auto twin = find(c.device);
        auto r = i.supply->release(c.device, false);
        {
            std::lock_guard lk(i.mu);
            i.devices.erase(c.device);
            i.farewells[c.device] = fmt::format("released at {} after {} ms without a heartbeat", utc_now_iso8601(),
                                                i.o.timeout.count());
        }
        i.h.info(fmt::format("{}: not heard from for {} ms: released, twin {} on {}{}", c.device, i.o.timeout.count(),
                             twin ? twin->twin.id : "?", twin ? twin->twin.host : "?",
                             r ? std::string{} : " (it did not let go: " + r.error().what() + ")"));
        out.push_back(c.device);
    }
    return out;
}

// ---- REST ----------------------------------------------------------------------------------

namespace {

http_response error_answer(unsigned status, std::string why) { return {status, json{{"error", std::move(why)}}, {}}; }

unsigned status_of(const failure& f) {
    switch (static_cast<error>(f.code.value())) {
        case error::invalid_argument: return 400;
        case error::not_found: return 404;
        case error::already_exists: return 409;
        default: return 503;
    }
}

}  // namespace

http_response md_manager::handle(const http_request& r) {
    const auto t = parse_target(r.target);
    if (t.resource == md_resource::none)
        return error_answer(404, fmt::format("no resource {} (the API: POST and GET /devices, GET and DELETE /devices/ID, "
                                             "POST /devices/ID/heartbeat, GET /pool)", r.target));
    const auto allowed = allowed_methods(t.resource);
    bool method_allowed = false;
    for (std::string_view rest = allowed; !rest.empty();) {
        auto comma = rest.find(", ");
        method_allowed |= rest.substr(0, comma) == r.method;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
    }
    if (!method_allowed) {
        auto a = error_answer(405, fmt::format("{} {}: allowed are {}", r.method, r.target, allowed));
        a.headers.emplace_back("Allow", std::string(allowed));
        return a;
    }
    if (t.resource == md_resource::device || t.resource == md_resource::heartbeat)
        if (auto v = validate_device_id(t.device, "device (in the path)"); !v) return error_answer(400, v.error().message);
    const auto now = clock_type::now();

    switch (t.resource) {
        case md_resource::devices: {
            if (r.method == "GET") {
                json list = json::array();
                for (auto& a : devices()) list.push_back(to_json(a, now));
                return {200, json{{"devices", std::move(list)}}, {}};
            }
            auto reg = parse_registration(r.body);
            if (!reg) return error_answer(400, reg.error().message);
            auto done = register_device(*reg);
            if (!done) {
                auto status = status_of(done.error());
                auto answer = error_answer(status, status == 503 ? done.error().what() : done.error().message);
                if (status == 409)
                    if (auto a = find(reg->device)) {
                        answer.body["device"] = a->device;
                        answer.body["twin"] = a->twin;
                        answer.body["timeout_ms"] = p_->o.timeout.count();
                    }
                if (status == 503) answer.headers.emplace_back("Retry-After", "1");
                return answer;
            }
            json body{{"device", done->now.device}, {"twin", done->now.twin}, {"timeout_ms", p_->o.timeout.count()},
                      {"registrations", done->now.registrations}};
            if (done->replaced) body["replaced"] = *done->replaced;
            return {201, std::move(body), {{"Location", "/devices/" + done->now.device}}};
        }
        case md_resource::device: {
            if (r.method == "GET") {
                std::lock_guard lk(p_->mu);
                auto a = p_->devices.find(t.device);
                if (a == p_->devices.end()) return error_answer(404, p_->not_registered(t.device));
                return {200, to_json(a->second, now), {}};
            }
            auto gone = release_device(t.device);
            if (!gone) return error_answer(status_of(gone.error()), gone.error().message);
            json body{{"device", t.device}, {"released", gone->twin}};
            if (!gone->twin_error.empty()) body["twin_error"] = gone->twin_error;
            return {200, std::move(body), {}};
        }
        case md_resource::heartbeat: {
            if (auto b = heartbeat(t.device); !b) return error_answer(404, b.error().message);
            return {204, nullptr, {}};
        }
        case md_resource::pool: return {200, p_->supply->status(), {}};
        case md_resource::none: break;
    }
    return error_answer(404, r.target);
}

}  // namespace migrate::vmd
