// The vehicular example's twin and device (examples/vmd) in-process on loopback with the
// memory store: real libcoap on real UDP sockets (tests/vmd_scenarios.hpp has the relay that
// plays the route switch; the integration tests run the same scenarios on a real redis).
#include "../vmd_scenarios.hpp"

#include "coap_call.hpp"
#include "twin_ledger.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::vmd;
using namespace migrate::test::vmd_scene;
using namespace std::chrono_literals;

TEST_CASE("vmd twin: 100 Hz for 2 s on loopback, 0 lost, the store counts 200", "[vmd][twin]") {
    auto store = open_store("memory:");
    auto t = start_twin(store, "twin-a");
    auto o = device_to(t->port());
    o.rate_hz = 100;
    o.duration = 2s;
    auto s = run_md_sim(o);
    REQUIRE_OK(s);
    INFO(to_text(*s));
    CHECK(s->sent == 200);
    CHECK(s->acked == 200);
    CHECK(s->counted == 200);
    CHECK(s->lost == 0);
    CHECK(s->rejected == 0);
    CHECK(s->send_rate_hz == Approx(100).epsilon(0.05));
    CHECK(s->rtt.samples == 200);
    CHECK(s->rtt.max < 200);   // nothing needed a retransmission
    require_verified(o, *s);

    // What the store holds, read past the twin.
    auto e = store->get("vmd/car-1");
    REQUIRE_OK(e);
    REQUIRE(*e);
    auto st = parse_device_state((*e)->value);
    REQUIRE_OK(st);
    CHECK(st->count == 200);
    CHECK(st->last_seq == 200);
    CHECK(st->latest == s->last_acked);

    // A second run continues the sequence (the device resumes) and the count goes on.
    o.count = 50;
    auto again = run_md_sim(o);
    REQUIRE_OK(again);
    CHECK(again->first_seq == 201);
    CHECK(again->twin_count_before == 200);
    CHECK(again->acked == 50);
    require_verified(o, *again);
}

TEST_CASE("vmd twin: listening on every address it answers from the one a request came to; the device sends "
          "from a bound address and takes answers only from where it sent", "[vmd][twin]") {
    auto t = twin::start({.address = "0.0.0.0", .port = 0, .name = "twin-any"}, open_store("memory:"));
    REQUIRE_OK(t);
    REQUIRE((*t)->port() != 0);
    std::uint64_t sent = 0;
    for (const char* to : {"127.0.0.2", "127.0.0.3"}) {
        md_sim_options o;
        o.address = to;   // an alias of the twin's host: answered from 127.0.0.1, the device would drop it
        o.port = (*t)->port();
        o.bind = "127.0.0.9";
        o.count = 30;
        o.ack_timeout = 100ms;
        o.max_retransmit = 1;
        auto s = run_md_sim(o);
        REQUIRE_OK(s);
        INFO(to << ": " << to_text(*s));
        CHECK(s->acked == 30);
        CHECK(s->lost == 0);
        sent += s->sent;
    }
    CHECK((*t)->ledger().stats().counted == sent);
}

TEST_CASE("vmd twin: a route switch between two twins on one store mid-stream loses nothing; retransmissions "
          "reaching the new twin are acked as duplicates and not counted twice", "[vmd][twin]") {
    route_switch_scenario(open_store("memory:"));
}

TEST_CASE("vmd twin: two twins writing the same device at once (alternate datagrams) resolve every "
          "compare-and-set conflict; no update is lost", "[vmd][twin]") {
    twins_at_once_scenario(open_store("memory:"), "car-2");
}

TEST_CASE("vmd twin ledger: two ledgers on one store interleaving writes of one device; neither overwrites "
          "the other", "[vmd][twin]") {
    auto store = open_store("memory:");
    twin_ledger x(store), y(store);
    auto g = telemetry_generator::make({.device = "car-3"});
    REQUIRE_OK(g);
    for (int i = 0; i < 50; ++i) {
        auto rx = x.record(g->next());
        REQUIRE_OK(rx);
        auto ry = y.record(g->next());
        REQUIRE_OK(ry);
        CHECK(ry->now.state.count == static_cast<std::uint64_t>(2 * i + 2));
        // Each wrote since the other last read (y's first read was after x's first write).
        if (i > 0) CHECK(rx->conflicts == 1);
        if (i > 0) CHECK(ry->conflicts == 1);
    }
    auto st = x.load("car-3");
    REQUIRE_OK(st);
    CHECK((*st)->state.count == 100);
    CHECK((*st)->state.last_seq == 100);
    CHECK((*st)->state.gaps.empty());
    CHECK(x.stats().counted + y.stats().counted == 100);

    // A stored document that is not a device state is refused naming the key, not overwritten.
    REQUIRE_OK(store->put("vmd/car-4", "not json"));
    auto g4 = telemetry_generator::make({.device = "car-4"});
    REQUIRE_OK(g4);
    auto bad = x.record(g4->next());
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("vmd/car-4"));
    auto kept = store->get("vmd/car-4");
    REQUIRE_OK(kept);
    CHECK((*kept)->value == "not json");
}

TEST_CASE("vmd twin: admin over CoAP (health, assign, release, state) and bad requests answered with 4.xx "
          "naming the fault while it keeps serving", "[vmd][twin]") {
    auto store = open_store("memory:");
    auto t = start_twin(store, "twin-admin");
    auto call = [&](std::string method, std::string path, std::string query = {}, std::string payload = {}) {
        auto r = coap_call({.address = "127.0.0.1", .port = t->port(), .method = std::move(method), .path = std::move(path),
                            .query = std::move(query), .payload = std::move(payload)});
        REQUIRE_OK(r);
        return *r;
    };
    auto health = call("GET", "health");
    REQUIRE(health.code == 205);
    auto h = json::parse(health.payload);
    CHECK(h["status"] == "ok");
    CHECK(h["twin"] == "twin-admin");
    CHECK(h["store"] == "memory:");
    CHECK(h["devices"].empty());

    CHECK(call("GET", "state", "device=car-5").code == 404);
    CHECK(call("GET", "state").code == 400);
    auto assigned = call("POST", "assign", {}, R"({"device": "car-5"})");
    CHECK(assigned.code == 204);
    CHECK(json::parse(assigned.payload)["count"] == 0);
    CHECK(t->health()["devices"] == json::array({"car-5"}));

    auto g = telemetry_generator::make({.device = "car-5"});
    REQUIRE_OK(g);
    auto rec = g->next();
    auto posted = call("POST", "telemetry", {}, to_json_text(rec));
    CHECK(posted.code == 204);
    CHECK(json::parse(posted.payload)["outcome"] == "counted");
    CHECK(call("POST", "telemetry", {}, to_json_text(rec)).code == 204);   // a retransmission
    auto state = call("GET", "state", "device=car-5");
    REQUIRE(state.code == 205);
    auto sj = json::parse(state.payload);
    CHECK(sj["count"] == 1);
    CHECK(sj["twin"] == "twin-admin");
    CHECK(sj["version"].get<std::int64_t>() > 0);
    CHECK(sj["latest"] == json(rec));

    json bad = rec;
    bad["rpm"] = 20000;
    auto refused = call("POST", "telemetry", {}, bad.dump());
    CHECK(refused.code == 400);
    CHECK_THAT(refused.payload, Catch::Contains("telemetry.rpm"));
    CHECK(call("POST", "telemetry", {}, "{not json").code == 400);
    CHECK(call("POST", "assign", {}, R"({"device": "no spaces"})").code == 400);
    CHECK(call("GET", "nowhere").code == 404);

    auto released = call("POST", "release", {}, R"({"device": "car-5"})");
    CHECK(released.code == 202);
    CHECK(json::parse(released.payload)["released"] == true);
    h = json::parse(call("GET", "health").payload);
    CHECK(h["devices"].empty());
    CHECK(h["bad_requests"] == 4);
    CHECK(h["duplicates"] == 1);
    // Released, the state stays in the store and is still answered; asking does not assign.
    CHECK(call("GET", "state", "device=car-5").code == 205);
    CHECK(t->health()["devices"].empty());
}

TEST_CASE("vmd simulator: bad options name the field; an unreachable twin is an error, not a hang",
          "[vmd][twin]") {
    md_sim_options o;
    o.address = "127.0.0.1";
    o.rate_hz = 0;
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.rate_hz"));
    o.rate_hz = 100;
    o.address = "twin.local";
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.address"));
    o.address = "127.0.0.1";
    o.bind = "no-such-interface0";
    auto s = run_md_sim(o);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message, Catch::Contains("no-such-interface0"));
    o.bind = "lo";   // an interface name: its address
    // Nothing listens on this port: ICMP says so at once.
    int fd = udp_socket();
    o.port = port_of(fd);
    ::close(fd);
    auto started = std::chrono::steady_clock::now();
    s = run_md_sim(o);
    REQUIRE_FALSE(s);
    CHECK(s.error_code() == error::daemon_unreachable);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
}
