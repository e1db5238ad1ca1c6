// The replica pool's sequencing and rollback, on IN-MEMORY FAKES of the container runtime,
// the route switch and the instances' protocol. The real pool (dockerd, OVS, CoAP twins) is
// tested in tests/integration/sdn_twin_test.cpp.
#include "../require_ok.hpp"
#include "fake_route_switch.hpp"
#include "fake_runtime.hpp"

#include <migrate/strategy/replica_pool.hpp>

#include <catch2/catch.hpp>

#include <mutex>

using namespace migrate;
using migrate::test::fake_route_switch;
using migrate::test::fake_runtime;

namespace {

// Records what the pool asked the instances; `fail_assign_on` makes assign fail there.
struct fake_protocol final : replica_protocol {
    std::mutex mu;
    std::vector<std::string> calls;
    std::string fail_assign_on;
    result<void> wait_ready(const service_instance& i, std::chrono::milliseconds) override {
        std::lock_guard lk(mu);
        calls.push_back("ready " + i.id);
        return {};
    }
    result<void> assign(const service_instance& i, std::string_view subject) override {
        std::lock_guard lk(mu);
        calls.push_back("assign " + i.id + " " + std::string(subject));
        if (i.id == fail_assign_on) return make_failure(error::daemon_error, "state load failed in " + i.id);
        return {};
    }
    result<void> release(const service_instance& i, std::string_view subject) override {
        std::lock_guard lk(mu);
        calls.push_back("release " + i.id + " " + std::string(subject));
        return {};
    }
};

struct scene {
    std::shared_ptr<fake_runtime> a = std::make_shared<fake_runtime>("a");
    std::shared_ptr<fake_runtime> b = std::make_shared<fake_runtime>("b");
    std::shared_ptr<fake_protocol> proto = std::make_shared<fake_protocol>();
    fake_route_switch route;
    std::unique_ptr<replica_pool> pool;

    explicit scene(int size) {
        a->images.insert("twin");
        b->images.insert("twin");
        replica_pool_options o;
        o.image = "twin";
        o.size = size;
        o.name_prefix = "t";
        // The fake has no networks: the address is derived from the container's name.
        auto lookup = [](container_runtime&, std::string_view id, std::string_view) -> result<std::string> {
            return "10.0.0." + std::to_string(id.size());
        };
        auto p = replica_pool::make({edge_host{"a", "", a, {}, {}}, edge_host{"b", "", b, {}, {}}}, o, proto, {}, lookup);
        REQUIRE_OK(p);
        pool = std::move(*p);
    }
    std::size_t running_on(fake_runtime& rt) {
        std::size_t n = 0;
        for (auto& [id, c] : rt.containers) n += c.info.running;
        return n;
    }
    std::vector<std::string> phase_details(const migration_report& r) {
        std::vector<std::string> v;
        for (auto& p : r.phases) v.push_back(p.detail);
        return v;
    }
};

}  // namespace

TEST_CASE("replica_pool cold: an instance is started per assignment, the move runs MIGRATE's phases in order",
          "[replica_pool]") {
    scene s{0};
    auto first = s.pool->assign("car-1", "a", &s.route, json{{"port", 1}});
    REQUIRE_OK(first);
    CHECK(first->host == "a");
    CHECK(s.route.serving["car-1"] == first->id);

    auto r = s.pool->migrate("car-1", "b", s.route, json{{"port", 2}});
    REQUIRE_OK(r);
    INFO(r->error);
    REQUIRE(r->success);
    CHECK(s.phase_details(*r) == std::vector<std::string>{"backup route", "instantiation", "state load", "new route", "release"});
    CHECK(r->details["instantiation"] == "cold");
    auto now = s.pool->instance_of("car-1");
    REQUIRE(now);
    CHECK(now->host == "b");
    CHECK(s.route.serving["car-1"] == now->id);
    // The route was prepared before the new instance existed, committed after it loaded the state.
    REQUIRE(s.route.calls.size() == 3);
    CHECK(s.route.calls[1] == "prepare car-1 " + first->id + "->");
    CHECK(s.route.calls[2] == "commit car-1 " + first->id + "->" + now->id);
    {
        std::lock_guard lk(s.proto->mu);
        auto& c = s.proto->calls;
        auto at = [&](const std::string& x) { return std::find(c.begin(), c.end(), x) - c.begin(); };
        CHECK(at("assign " + now->id + " car-1") < at("release " + first->id + " car-1"));
    }
    REQUIRE_OK(s.pool->wait_refilled(std::chrono::seconds{5}));
    CHECK(s.running_on(*s.a) == 0);   // the old instance left once released
    CHECK(s.running_on(*s.b) == 1);
}

TEST_CASE("replica_pool pooled: instances wait ready, a move takes one and the pool refills", "[replica_pool]") {
    scene s{2};
    REQUIRE_OK(s.pool->fill());
    CHECK(s.running_on(*s.a) == 2);
    CHECK(s.running_on(*s.b) == 2);
    REQUIRE_OK(s.pool->assign("car-1", "a", &s.route, json{{"port", 1}}));
    auto r = s.pool->migrate("car-1", "b", s.route, json{{"port", 2}});
    REQUIRE_OK(r);
    REQUIRE(r->success);
    CHECK(r->details["instantiation"] == "pooled");
    REQUIRE_OK(s.pool->wait_refilled(std::chrono::seconds{5}));
    auto st = s.pool->status();
    CHECK(st["a"]["ready"].size() == 2);
    CHECK(st["b"]["ready"].size() == 2);
    CHECK(st["b"]["assigned"].contains("car-1"));
    CHECK(s.running_on(*s.a) == 2);   // 1 taken by car-1 then released and removed, refilled to 2
    CHECK(s.running_on(*s.b) == 3);   // 2 ready + car-1's
    REQUIRE_OK(s.pool->shutdown());
    CHECK(s.running_on(*s.a) + s.running_on(*s.b) == 0);
}

TEST_CASE("replica_pool: a failed state load rolls the route back and the old instance keeps serving",
          "[replica_pool]") {
    scene s{0};
    auto first = s.pool->assign("car-1", "a", &s.route, json{{"port", 1}});
    REQUIRE_OK(first);
    s.proto->fail_assign_on = "t-b-0";   // the first instance on b
    auto r = s.pool->migrate("car-1", "b", s.route, json{{"port", 2}});
    REQUIRE_OK(r);
    CHECK_FALSE(r->success);
    CHECK(r->rolled_back);
    CHECK(r->error.find("state load failed in t-b-0") != std::string::npos);
    CHECK(s.pool->instance_of("car-1")->id == first->id);
    CHECK(s.route.serving["car-1"] == first->id);
    CHECK(s.route.calls.back().rfind("rollback car-1", 0) == 0);
    REQUIRE_OK(s.pool->wait_refilled(std::chrono::seconds{5}));
    CHECK(s.running_on(*s.b) == 0);   // the taken instance was removed
    CHECK(s.running_on(*s.a) == 1);
}

TEST_CASE("replica_pool: a refused new route rolls back and releases the new instance", "[replica_pool]") {
    scene s{0};
    auto first = s.pool->assign("car-1", "a", &s.route, json{{"port", 1}});
    REQUIRE_OK(first);
    s.route.fail_next["commit"] = make_failure(error::daemon_error, "switch said OFPET_BAD_ACTION");
    auto r = s.pool->migrate("car-1", "b", s.route, json{{"port", 2}});
    REQUIRE_OK(r);
    CHECK_FALSE(r->success);
    CHECK(r->rolled_back);
    CHECK(s.pool->instance_of("car-1")->id == first->id);
    CHECK(s.route.serving["car-1"] == first->id);
    std::lock_guard lk(s.proto->mu);
    CHECK(std::find(s.proto->calls.begin(), s.proto->calls.end(), "release t-b-0 car-1") != s.proto->calls.end());
}

TEST_CASE("replica_pool: a move within the instance's own host only moves the route", "[replica_pool]") {
    scene s{0};
    auto first = s.pool->assign("car-1", "a", &s.route, json{{"port", 1}});
    REQUIRE_OK(first);
    auto r = s.pool->migrate("car-1", "a", s.route, json{{"port", 3}});
    REQUIRE_OK(r);
    REQUIRE(r->success);
    CHECK(s.phase_details(*r) == std::vector<std::string>{"backup route", "new route"});
    CHECK(r->details["instantiation"] == "kept");
    CHECK(s.pool->instance_of("car-1")->id == first->id);
    CHECK(s.route.calls.back() == "commit car-1 " + first->id + "->" + first->id);
    CHECK(s.pool->route_of("car-1")->attachment["port"] == 3);
    std::lock_guard lk(s.proto->mu);
    CHECK(std::count_if(s.proto->calls.begin(), s.proto->calls.end(),
                        [](auto& c) { return c.rfind("assign", 0) == 0 || c.rfind("release", 0) == 0; }) == 1);
}

TEST_CASE("replica_pool: misuse and bad options are named", "[replica_pool]") {
    scene s{0};
    CHECK(s.pool->migrate("nobody", "b", s.route).error_code() == error::not_found);
    REQUIRE_OK(s.pool->assign("car-1", "a"));
    CHECK(s.pool->assign("car-1", "b").error_code() == error::already_exists);
    CHECK(s.pool->migrate("car-1", "z", s.route).error_code() == error::not_found);

    replica_pool_options o;
    o.image = "twin";
    o.network = "host";
    auto v = o.validate();
    REQUIRE_FALSE(v);
    CHECK(v.error().message.find("replica_pool.network") != std::string::npos);
    auto j = json(replica_pool_options{.image = "twin", .size = 3});
    auto back = parse_options<replica_pool_options>(j);
    REQUIRE_OK(back);
    CHECK(back->size == 3);
    CHECK(parse_options<replica_pool_options>(json{{"size", "many"}}).error().message.find("replica_pool.size") !=
          std::string::npos);
}
