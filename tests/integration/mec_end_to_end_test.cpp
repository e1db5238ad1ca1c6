// ETSI MEC end to end (issue 5's done-when): the MEC platform emulator (`migrate-mec-sim`'s
// engine, on the testbed's client side) moves a car from zone to zone; a MEC trigger fires
// (the Location API's zonal traffic notifications, or, separately, the AMS's
// INTERHOST_MOVEOUT_TRIGGERED); the thesis workload A2 — which reads its zone from the
// emulator's Location API — is moved from host a to host b by a real CRIU live migration and
// keeps counting the car's zone changes at b.
//
// Scenario: the ETSI MEC Sandbox's Monaco `dual-mep-short-path` (mep1 in zone01, mep2 in
// zone04); host a serves zones 01-02 (mep1), host b zones 03-04 (mep2). The emulator's clock is
// paused: only forced moves happen, so the run is deterministic.
#include "../decision_log.hpp"
#include "mec_fixture.hpp"

#include <migrate/checkpoint_move.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/probe.hpp>
#include <migrate/trigger/mec_ams.hpp>
#include <migrate/trigger/mec_location.hpp>
#include <migrate/workload/a2_counter.hpp>
#include <migrate/workload/service_locator.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>


using namespace migrate;
using namespace migrate::test;
using namespace std::chrono_literals;

namespace {

const char* const car = mec_car;


/// A2 on host a (mec_fixture.hpp), moved to b when a trigger says so.
struct a2_at_a : a2_reading_mec {
    using a2_reading_mec::a2_reading_mec;

    /// The migration `d` asks for: A2 flushes and holds, CRIU moves it live from a to b, a
    /// client probing its UDP count measures the downtime; A2 resumes at b by itself with the
    /// count it had at a (checked into the report).
    migration_report move_to_b(const migration_decision& d) {
        auto before = workload::a2_udp_count(addr, cfg.port);
        REQUIRE_OK(before);
        REQUIRE_OK(workload::a2_change_phase(addr, cfg.port, "pre-relocation-end"));
        downtime_prober prober(workload::a2_probe(workload::container_address_locator(tb_host("a").socket, cfg.name, cfg.network),
                                                  workload::container_address_locator(tb_host("b").socket, cfg.name, cfg.network),
                                                  cfg.port),
                               10ms, "A2 UDP count every 10 ms from the client side");
        prober.start();
        REQUIRE(prober.wait_for_source(5s));
        auto report = checkpoint_move(a, b, {.container = cfg.name, .source_label = "a", .target_label = "b"});
        REQUIRE_OK(report);
        INFO(report->to_text());
        REQUIRE(report->success);
        CHECK(prober.wait_for_target(10s));
        prober.stop();
        if (auto m = prober.result()) report->downtime = *m;
        addr = wl::address_of(b, cfg.name, cfg.network);
        CHECK(workload::in_network(addr, tb_host("b").service_subnet));
        REQUIRE(wl::eventually([&] {
            auto st = workload::a2_get_state(addr, cfg.port);
            return st && !st->writes_held && st->phase == "running";
        }, 10s));
        auto after = workload::a2_get_state(addr, cfg.port);
        REQUIRE_OK(after);
        report->state.push_back(workload::a2_counter_check(*before, *after));
        report->details["decision"] = d;
        INFO(report->to_text());
        CHECK(report->state_intact());
        CHECK(report->downtime.has_value());
        CHECK(after->starts == 1);   // restored by CRIU, not started again
        return *report;
    }
};

}  // namespace

TEST_CASE("MEC end to end: the emulator moves the car, the location trigger decides, A2 moves a -> b live and counts on",
          "[mec][e2e][location][a2][criu]") {
    auto emu = client_side_emulator();
    const std::string z1 = "zone01", z2 = "zone02", z3 = "zone03", z4 = "zone04";
    REQUIRE_OK(emu->force(car, access_point_in(*emu, z1)));
    a2_at_a app(*emu, "mec-e2e-a2");
    CHECK(app.sees(app.addr, z1) == 0);

    mec_location_trigger_options to;
    to.platform = platform_options(*emu);
    to.users = {car};
    to.zone_hosts = {{z1, "a"}, {z2, "a"}, {z3, "b"}, {z4, "b"}};
    auto trig = mec_location_trigger::make(to);
    REQUIRE_OK(trig);
    decision_log decisions;
    REQUIRE_OK((*trig)->start(decisions.handler()));
    CHECK((*trig)->host_of(car) == std::optional<std::string>("a"));

    // zone01 -> zone02: a change A2 counts, but a still serves it: no decision.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, z2)));
    CHECK(app.sees(app.addr, z2) == 1);
    CHECK_FALSE(decisions.wait_for(1, 1500ms));

    // zone02 -> zone03: b's area. The trigger decides a -> b; A2 moves.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, z3)));
    REQUIRE(decisions.wait_for(1, 10s));
    auto d = decisions.at(0);
    INFO(json(d).dump());
    CHECK(d.subject == car);
    CHECK(d.from == "a");
    CHECK(d.to == "b");
    CHECK(app.sees(app.addr, z3) == 2);
    auto report = app.move_to_b(d);

    // At b it keeps counting the car's zones from the emulator; moves within b's area decide nothing.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, z4)));
    CHECK(app.sees(app.addr, z4) == 3);
    REQUIRE_OK(emu->force(car, access_point_in(*emu, z3)));
    CHECK(app.sees(app.addr, z3) == 4);
    CHECK_FALSE(decisions.wait_for(2, 1500ms));
    CHECK((*trig)->stats().decisions == 1);
    (*trig)->stop();
    WARN(report.to_text());
}

TEST_CASE("MEC end to end: the AMS announces the car's move out of mep1, the mec_ams trigger decides, A2 moves a -> b live",
          "[mec][e2e][ams][a2][criu]") {
    // The app runs as one instance per MEC host: a2-mep1 (host a) and a2-mep2 (host b).
    auto emu = client_side_emulator({{.id = "a2-mep1", .edge_host = "mep1", .app_name = "a2"},
                                     {.id = "a2-mep2", .edge_host = "mep2", .app_name = "a2"}});
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone01")));
    a2_at_a app(*emu, "mec-e2e-ams-a2");
    CHECK(app.sees(app.addr, "zone01") == 0);

    mec_ams_trigger_options to;
    to.platform = platform_options(*emu);
    to.app_instance_id = "a2-mep1";
    to.devices = {{"UE_IPv4_ADDRESS", car}};
    to.app_instance_hosts = {{"a2-mep1", "a"}, {"a2-mep2", "b"}};
    to.register_devices = true;   // the AMS announces only devices registered with the source instance
    auto trig = mec_ams_trigger::make(to);
    REQUIRE_OK(trig);
    decision_log decisions;
    REQUIRE_OK((*trig)->start(decisions.handler()));

    // zone01 (mep1) -> zone04 (mep2): INTERHOST_MOVEOUT_TRIGGERED to a2-mep1, target a2-mep2.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone04")));
    REQUIRE(decisions.wait_for(1, 10s));
    auto d = decisions.at(0);
    INFO(json(d).dump());
    CHECK(d.subject == car);
    CHECK(d.from == "a");
    CHECK(d.to == "b");
    CHECK(d.evidence.value("target_app_instance_id", "") == "a2-mep2");
    CHECK(app.sees(app.addr, "zone04") == 1);
    auto report = app.move_to_b(d);
    // Counting on at b.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone03")));
    CHECK(app.sees(app.addr, "zone03") == 2);
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone04")));
    CHECK(app.sees(app.addr, "zone04") == 3);
    CHECK((*trig)->stats().decisions == 1);
    (*trig)->stop();
    WARN(report.to_text());
}
