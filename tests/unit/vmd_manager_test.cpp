// The vehicular example's MD manager (examples/vmd/md_manager.hpp) without Docker: its REST
// parsing, then the manager over real HTTP on loopback with twins that are real in-process
// migrate-vmd-twin servers on one memory store (`loopback_twins`: the twin_supply a replica
// pool is in production, here without containers), and the device simulator registering
// through it, losing its twin mid-stream and registering again.
#include "../vmd_scenarios.hpp"
#include "workload_test_util.hpp"

#include "coap_call.hpp"
#include "http_call.hpp"
#include "md_manager.hpp"
#include <migrate/net/http_server.hpp>
#include "twin_protocol.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <future>
#include <map>
#include <mutex>

using namespace migrate;
using namespace migrate::vmd;
using namespace migrate::test::vmd_scene;
using namespace std::chrono_literals;

namespace {

// Twins on demand as in-process servers on 127.0.0.1, hosts by name only; `kill` stops a
// device's twin as a crash would (the manager is not told).
class loopback_twins final : public twin_supply {
public:
    explicit loopback_twins(std::shared_ptr<state_store> store) : store_(std::move(store)) {}

    std::vector<std::string> hosts() const override { return {"a", "b"}; }
    result<service_instance> assign(std::string_view device, std::string_view host) override {
        std::lock_guard lk(mu_);
        if (refusal_) return *refusal_;
        if (host != "a" && host != "b") return make_failure(error::not_found, fmt::format("no host '{}'", host));
        if (twins_.count(std::string(device))) return make_failure(error::already_exists, std::string(device));
        auto name = fmt::format("twin-{}-{}", host, next_++);
        auto t = twin::start({.address = "127.0.0.1", .port = 0, .name = name}, store_);
        if (!t) return t.error();
        service_instance inst{std::string(host), name, "127.0.0.1", (*t)->port()};
        MIGRATE_TRY(protocol_.assign(inst, device));
        twins_[std::string(device)] = {inst, std::move(*t)};
        return inst;
    }
    result<void> release(std::string_view device, bool twin_gone) override {
        std::lock_guard lk(mu_);
        auto it = twins_.find(std::string(device));
        if (it == twins_.end()) return make_failure(error::not_found, std::string(device));
        result<void> r;
        if (twin_gone) ++released_as_gone;
        else r = protocol_.release(it->second.instance, device);
        twins_.erase(it);
        ++released;
        return r;
    }
    bool answers(const service_instance& t, std::chrono::milliseconds within) override {
        return static_cast<bool>(protocol_.wait_ready(t, within));
    }
    json status() const override {
        std::lock_guard lk(mu_);
        json j = {{"a", {{"assigned", json::object()}}}, {"b", {{"assigned", json::object()}}}};
        for (auto& [d, t] : twins_) j[t.instance.host]["assigned"][d] = t.instance;
        return j;
    }

    void kill(const std::string& device) {
        std::lock_guard lk(mu_);
        twins_.at(device).server->stop();
    }
    void refuse(std::optional<failure> f) {
        std::lock_guard lk(mu_);
        refusal_ = std::move(f);
    }
    std::atomic<int> released{0}, released_as_gone{0};

private:
    struct running {
        service_instance instance;
        std::unique_ptr<twin> server;
    };
    std::shared_ptr<state_store> store_;
    twin_protocol protocol_{500ms};
    mutable std::mutex mu_;
    std::map<std::string, running> twins_;
    std::optional<failure> refusal_;
    int next_ = 0;
};

// A manager on a free loopback port over loopback twins.
struct manager_on_loopback {
    std::shared_ptr<state_store> store = open_store("memory:");
    std::shared_ptr<loopback_twins> twins = std::make_shared<loopback_twins>(store);
    std::unique_ptr<md_manager> manager;
    std::unique_ptr<net::http_server> server;

    explicit manager_on_loopback(md_manager_options o = {}) {
        o.probe_timeout = 300ms;
        auto m = md_manager::make(o, twins);
        REQUIRE_OK(m);
        manager = std::move(*m);
        auto s = net::http_server::start({.address = "127.0.0.1", .port = 0, .threads = 4},
                                    [m = manager.get()](const http_request& r) { return m->handle(r); });
        REQUIRE_OK(s);
        server = std::move(*s);
    }
    http_reply call(const std::string& method, const std::string& target, const std::string& body = {}) const {
        auto r = http_call({.url = server->url(), .method = method, .target = target, .body = body, .timeout = 5s});
        INFO(method << " " << target << " " << body);
        REQUIRE_OK(r);
        return *r;
    }
    json call_json(const std::string& method, const std::string& target, const std::string& body, unsigned status) const {
        auto r = call(method, target, body);
        INFO(method << " " << target << " " << body << " -> " << r.status << " " << r.body);
        REQUIRE(r.status == status);
        auto j = r.json_body();
        REQUIRE_OK(j);
        return *j;
    }
};

std::optional<device_state> twin_state_of(const service_instance& t, const std::string& device) {
    auto r = coap_call({.address = t.address, .port = t.port, .method = "GET", .path = "state", .query = "device=" + device});
    REQUIRE_OK(r);
    if (r->code == 404) return std::nullopt;
    REQUIRE(r->code == 205);
    auto s = parse_device_state(r->payload);
    REQUIRE_OK(s);
    return *s;
}

}  // namespace

TEST_CASE("vmd manager: POST /devices bodies are parsed strictly, errors name the field", "[vmd][manager]") {
    auto r = parse_registration(R"({"device": "car-1", "host": "b"})");
    REQUIRE_OK(r);
    CHECK(r->device == "car-1");
    CHECK(r->host == "b");
    auto no_host = parse_registration(R"({"device": "car-1", "host": null})");
    REQUIRE_OK(no_host);
    CHECK(no_host->host.empty());

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"", "body: not JSON"},
        {"{\"device\": \"car-1\"", "body: not JSON"},
        {"[\"car-1\"]", "body: expected a JSON object"},
        {"{}", "device: missing"},
        {R"({"host": "a"})", "device: missing"},
        {R"({"device": 7})", "device: must be a string"},
        {R"({"device": "car 1"})", "device: 'car 1' must be 1-64 characters"},
        {R"({"device": ""})", "device: '' must be 1-64"},
        {R"({"device": "car-1", "host": 2})", "host: must be a host's name"},
        {R"({"device": "car-1", "host": ""})", "host: must be a host's name"},
        {R"({"device": "car-1", "colour": "red"})", "colour: unknown field (known: device, host)"},
    };
    for (auto& [body, why] : bad) {
        auto p = parse_registration(body);
        INFO(body);
        REQUIRE_FALSE(p);
        CHECK(p.error_code() == error::invalid_argument);
        CHECK_THAT(p.error().message, Catch::Contains(why));
    }
}

TEST_CASE("vmd manager: request targets name the resource, query and one trailing slash ignored", "[vmd][manager]") {
    auto t = parse_target("/devices");
    CHECK(t.resource == md_resource::devices);
    CHECK(parse_target("/devices/").resource == md_resource::devices);
    CHECK(parse_target("/devices?all=1").resource == md_resource::devices);
    t = parse_target("/devices/car-1");
    CHECK(t.resource == md_resource::device);
    CHECK(t.device == "car-1");
    t = parse_target("/devices/car-1/heartbeat");
    CHECK(t.resource == md_resource::heartbeat);
    CHECK(t.device == "car-1");
    CHECK(parse_target("/pool").resource == md_resource::pool);
    for (auto none : {"/", "", "/device", "/devices//heartbeat", "/devices/car-1/state", "/devices/a/b/heartbeat", "/pools"}) {
        INFO(none);
        CHECK(parse_target(none).resource == md_resource::none);
    }
    CHECK(allowed_methods(md_resource::devices) == "GET, POST");
    CHECK(allowed_methods(md_resource::heartbeat) == "POST");
}

TEST_CASE("vmd manager: options are validated naming the field", "[vmd][manager]") {
    md_manager_options o;
    REQUIRE_OK(o.validate());
    o.timeout = 50ms;
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_manager_options.timeout"));
    o = {};
    o.default_host = "c";
    auto m = md_manager::make(o, std::make_shared<loopback_twins>(open_store("memory:")));
    REQUIRE_FALSE(m);
    CHECK_THAT(m.error().message, Catch::Contains("default_host: no host 'c' (hosts: a, b)"));
}

TEST_CASE("vmd manager over HTTP: register 201, again 409 while its twin answers, 400/404/405 naming what, list, "
          "pool, delete", "[vmd][manager]") {
    manager_on_loopback m;
    auto first = m.call_json("POST", "/devices", R"({"device": "car-1"})", 201);
    CHECK(first["device"] == "car-1");
    CHECK(first["twin"]["host"] == "a");   // no load yet: the first host
    CHECK(first["twin"]["address"] == "127.0.0.1");
    CHECK(first["twin"]["port"].get<int>() > 0);
    CHECK(first["timeout_ms"] == 10000);
    CHECK(first["registrations"] == 1);
    CHECK_FALSE(first.contains("replaced"));
    // The twin was assigned: it loaded the (empty) state.
    auto twin = first["twin"].get<service_instance>();
    CHECK_FALSE(twin_state_of(twin, "car-1"));

    auto again = m.call_json("POST", "/devices", R"({"device": "car-1"})", 409);
    CHECK_THAT(again["error"].get<std::string>(), Catch::Contains("registered and its twin"));
    CHECK(again["twin"] == first["twin"]);
    CHECK(again["timeout_ms"] == 10000);   // the device's heartbeat interval follows it

    // Least loaded: a serves car-1, so b.
    auto second = m.call_json("POST", "/devices", R"({"device": "car-2"})", 201);
    CHECK(second["twin"]["host"] == "b");
    auto third = m.call_json("POST", "/devices", R"({"device": "car-3", "host": "b"})", 201);
    CHECK(third["twin"]["host"] == "b");

    auto bad_host = m.call_json("POST", "/devices", R"({"device": "car-4", "host": "c"})", 400);
    CHECK(bad_host["error"] == "host: no host 'c' (hosts: a, b)");
    auto bad_field = m.call_json("POST", "/devices", R"({"device": "car 4"})", 400);
    CHECK_THAT(bad_field["error"].get<std::string>(), Catch::StartsWith("device: 'car 4'"));
    auto bad_path = m.call_json("GET", "/devices/car%204", {}, 400);
    CHECK_THAT(bad_path["error"].get<std::string>(), Catch::StartsWith("device (in the path)"));
    m.call_json("GET", "/devices/car-9", {}, 404);
    auto nowhere = m.call_json("GET", "/twins", {}, 404);
    CHECK_THAT(nowhere["error"].get<std::string>(), Catch::Contains("no resource /twins"));
    auto wrong = m.call("PUT", "/devices/car-1", "{}");
    CHECK(wrong.status == 405);
    CHECK_THAT(wrong.error_text(), Catch::Contains("allowed are GET, DELETE"));

    auto list = m.call_json("GET", "/devices", {}, 200);
    REQUIRE(list["devices"].size() == 3);
    CHECK(list["devices"][0]["device"] == "car-1");
    auto one = m.call_json("GET", "/devices/car-2", {}, 200);
    CHECK(one["twin"] == second["twin"]);
    CHECK(one["heartbeats"] == 0);
    CHECK(m.call("POST", "/devices/car-2/heartbeat").status == 204);
    CHECK(m.call_json("GET", "/devices/car-2", {}, 200)["heartbeats"] == 1);

    auto pool = m.call_json("GET", "/pool", {}, 200);
    CHECK(pool["b"]["assigned"].size() == 2);

    auto gone = m.call_json("DELETE", "/devices/car-2", {}, 200);
    CHECK(gone["released"] == second["twin"]);
    CHECK_FALSE(gone.contains("twin_error"));
    CHECK(m.twins->released == 1);
    auto hb = m.call_json("POST", "/devices/car-2/heartbeat", {}, 404);
    CHECK_THAT(hb["error"].get<std::string>(), Catch::Contains("by DELETE /devices/car-2"));
    m.call_json("DELETE", "/devices/car-2", {}, 404);
}

TEST_CASE("vmd manager: 503 naming why when no twin can be had; the device is not registered", "[vmd][manager]") {
    manager_on_loopback m;
    m.twins->refuse(make_failure(error::timeout, "twin vmd-twin-a-3 not ready within 15000 ms"));
    auto r = m.call("POST", "/devices", R"({"device": "car-1"})");
    CHECK(r.status == 503);
    CHECK(r.error_text() == "timeout: no twin for car-1 on host a: twin vmd-twin-a-3 not ready within 15000 ms");
    m.call_json("GET", "/devices/car-1", {}, 404);
    m.twins->refuse(std::nullopt);
    m.call_json("POST", "/devices", R"({"device": "car-1"})", 201);
}

TEST_CASE("vmd manager: a default host takes registrations naming none", "[vmd][manager]") {
    manager_on_loopback m({.default_host = "b"});
    CHECK(m.call_json("POST", "/devices", R"({"device": "car-1"})", 201)["twin"]["host"] == "b");
    CHECK(m.call_json("POST", "/devices", R"({"device": "car-2"})", 201)["twin"]["host"] == "b");
    CHECK(m.call_json("POST", "/devices", R"({"device": "car-3", "host": "a"})", 201)["twin"]["host"] == "a");
}

TEST_CASE("vmd manager: a device silent for the timeout is released, its state stays in the store; its heartbeat "
          "gets 404; it registers again and its new twin continues its count", "[vmd][manager]") {
    manager_on_loopback m({.timeout = 300ms});
    auto first = m.call_json("POST", "/devices", R"({"device": "car-5"})", 201)["twin"].get<service_instance>();
    auto o = device_to(first.port, "car-5");
    o.count = 20;
    auto s = run_md_sim(o);
    REQUIRE_OK(s);
    CHECK(s->acked == 20);

    REQUIRE(migrate::test::eventually([&] { return m.call("GET", "/devices/car-5").status == 404; }, 3s));
    CHECK(m.twins->released == 1);
    CHECK(m.twins->released_as_gone == 0);   // the twin was alive: asked to let go
    auto hb = m.call_json("POST", "/devices/car-5/heartbeat", {}, 404);
    CHECK_THAT(hb["error"].get<std::string>(), Catch::Contains("after 300 ms without a heartbeat"));
    auto get = m.call_json("GET", "/devices/car-5", {}, 404);
    CHECK_THAT(get["error"].get<std::string>(), Catch::Contains("after 300 ms without a heartbeat; POST /devices to register"));

    auto back = m.call_json("POST", "/devices", R"({"device": "car-5"})", 201);
    CHECK(back["registrations"] == 2);
    auto second = back["twin"].get<service_instance>();
    CHECK(second.id != first.id);
    auto state = twin_state_of(second, "car-5");
    REQUIRE(state);
    CHECK(state->count == 20);
    o.port = second.port;
    o.count = 10;
    auto more = run_md_sim(o);
    REQUIRE_OK(more);
    CHECK(more->first_seq == 21);
    CHECK(more->twin_count_before == 20);
    require_verified(o, *more);
}

TEST_CASE("vmd md-sim with a manager: registers, heartbeats; its twin dies mid-stream, it registers again after "
          "--reregister-after, 0 lost, the new twin continues the count", "[vmd][manager]") {
    manager_on_loopback m({.timeout = 2s});
    md_sim_options o;
    o.manager = m.server->url();
    o.device = "car-7";
    o.rate_hz = 100;
    o.count = 400;
    o.ack_timeout = 200ms;
    o.reregister_after = 500ms;
    o.heartbeat = 100ms;
    std::atomic<int> answered{0};
    auto device = std::async(std::launch::async, [&] {
        return run_md_sim(o, {}, [&](std::uint64_t, std::string_view) { ++answered; });
    });
    while (answered < 100) std::this_thread::sleep_for(5ms);
    auto before = m.manager->find("car-7");
    REQUIRE(before);
    m.twins->kill("car-7");
    auto s = device.get();
    REQUIRE_OK(s);
    INFO(to_text(*s));
    CHECK(s->sent == 400);
    CHECK(s->acked == 400);
    CHECK(s->lost == 0);
    CHECK(s->reregistrations == 1);
    REQUIRE(s->twins.size() == 2);
    CHECK(s->twins[0].id == before->twin.id);
    CHECK(s->twins[1].id != s->twins[0].id);
    CHECK(s->heartbeats > 0);
    CHECK(s->rtt.max >= 500);   // the records waiting while the twin was dead
    CHECK(m.twins->released_as_gone == 1);
    auto after = m.manager->find("car-7");
    REQUIRE(after);
    CHECK(after->twin.id == s->twins[1].id);
    CHECK(after->registrations == 2);
    // From the device side: the new twin counted each acked record once, from the store.
    auto v = verify_with_twin(o, *s);
    REQUIRE_OK(v);
    INFO(v->detail);
    CHECK(v->ok);
    REQUIRE(v->state);
    CHECK(v->state->count == 400);
    CHECK(v->state->last_seq == 400);
}

TEST_CASE("vmd md-sim options: an address or a manager, not both; the manager as http://ADDR:PORT", "[vmd][manager]") {
    md_sim_options o;
    o.manager = "http://127.0.0.1:8080";
    REQUIRE_OK(o.validate());
    o.address = "127.0.0.1";
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.address: give an address or a manager"));
    o.address.clear();
    o.manager = "127.0.0.1:8080";
    CHECK_THAT(o.validate().error().message, Catch::Contains("is not an http:// URL"));
    o.manager = "http://127.0.0.1:8080/devices";
    CHECK_THAT(o.validate().error().message, Catch::Contains("has a path"));
    o.manager = "http://127.0.0.1/";
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.manager"));
    o.manager = "http://127.0.0.1:8080/";
    o.reregister_after = 10ms;
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.reregister_after"));
}

