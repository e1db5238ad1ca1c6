// The thesis workloads A1 and A2 against REAL dockerd and CRIU on the shared testbed, on
// the hosts' service networks, probed from the root namespace (the client side), with the
// zone server there.
#include "workload_fixture.hpp"

#include <migrate/checkpoint_move.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>
#include <migrate/workload/service_locator.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace migrate;
using namespace migrate::test;
using namespace std::chrono_literals;

namespace {

// The counter file as it is in a volume of a host (the testbed shares the mount namespace).
std::string volume_counter(docker::engine& e, const std::string& volume) {
    auto v = e.inspect_volume(volume);
    if (!v) return {};
    std::ifstream in(v->mountpoint / "counter");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Moves the user through `n` zones, waiting for A2 at `addr` to count each.
void drive_zones(workload::zone_server& zones, const std::string& addr, std::uint16_t port, int& zone, int n) {
    for (int i = 0; i < n; ++i) {
        auto before = workload::a2_udp_count(addr, port, 500ms);
        REQUIRE_OK(before);
        REQUIRE_OK(zones.set_zone("zone-" + std::to_string(++zone)));
        INFO("zone-" << zone << " at A2 " << addr);
        REQUIRE(wl::eventually([&] {
            auto c = workload::a2_udp_count(addr, port, 200ms);
            return c && *c == *before + 1;
        }, 5s));
    }
}

}  // namespace

TEST_CASE("A1 runs on the service network; the location server sees its polls from its host and measures a move",
          "[workloads][a1]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    wl::ensure_workload_images(a);
    wl::ensure_workload_images(b);
    auto zones = wl::client_side_zone_server();
    const std::string name = "wl-a1";
    wl::discard(a, name);
    wl::discard(b, name);
    workload::a1_poller_config cfg{.name = name, .image = wl::a1_image, .url = zones->url("/location"),
                                   .network = wl::service_network("a")};
    REQUIRE_OK(cfg.validate());
    auto id_a = a.create(workload::a1_poller_spec(cfg));
    REQUIRE_OK(id_a);
    REQUIRE_OK(a.start(*id_a));
    auto addr_a = wl::address_of(a, name, cfg.network);
    const auto& subnet_a = tb_host("a").service_subnet;
    const auto& subnet_b = tb_host("b").service_subnet;
    REQUIRE(wl::eventually([&] { return zones->records_from(subnet_a).size() >= 5; }, 10s));
    auto from_a = zones->records_from(subnet_a);
    CHECK(from_a.front().peer == addr_a);        // routed, not masqueraded: its own address
    CHECK(from_a.front().path == "/location");
    for (std::size_t i = 1; i < from_a.size(); ++i) CHECK(from_a[i].seq == from_a[i - 1].seq + 1);
    auto gap = std::chrono::duration<double, std::milli>(from_a.back().at - from_a.front().at).count() /
               static_cast<double>(from_a.size() - 1);
    CHECK(gap == Approx(200).margin(60));         // every 200 ms

    // Moved by CRIU: its memory (the seq) goes along, its polls now come from b's subnet.
    auto report = checkpoint_move(a, b, {.container = name, .source_label = "a", .target_label = "b"});
    REQUIRE_OK(report);
    INFO(report->to_text());
    REQUIRE(report->success);
    REQUIRE(wl::eventually([&] { return zones->records_from(subnet_b).size() >= 3; }, 10s));
    auto m = workload::a1_downtime(zones->records(), {.source = subnet_a, .target = subnet_b});
    REQUIRE_OK(m);
    INFO(m->method << ": " << m->downtime_ms << " ms");
    CHECK(m->downtime_ms >= 200.0);               // at least one poll slot
    CHECK(m->downtime_ms < 30000.0);
    auto last_a = zones->records_from(subnet_a).back();
    auto first_b = zones->records_from(subnet_b).front();
    CHECK(first_b.seq > last_a.seq);              // continued, not restarted at 1
    CHECK(first_b.peer == wl::address_of(b, name, cfg.network));
    REQUIRE_OK(b.remove(name, true));
}

TEST_CASE("A2 on the service network counts zone changes, answers its probes from the client side, "
          "and keeps counting across a stop and start with the same volume",
          "[workloads][a2]") {
    auto a = engine_on("a");
    wl::ensure_workload_images(a);
    auto zones = wl::client_side_zone_server();
    workload::a2_counter_config cfg{.name = "wl-a2", .image = wl::a2_image, .zone_url = zones->url("/zone"),
                                    .network = wl::service_network("a"), .volume = "wl-a2-data", .port = 8080};
    wl::discard(a, cfg.name, cfg.volume);
    REQUIRE_OK(a.create_volume(cfg.volume));
    auto id = a.create(workload::a2_counter_spec(cfg));
    REQUIRE_OK(id);
    REQUIRE_OK(a.start(*id));
    auto addr = wl::address_of(a, cfg.name, cfg.network);
    REQUIRE(wl::eventually([&] { return workload::a2_udp_count(addr, cfg.port, 200ms).has_value(); }, 10s));
    int zone = 1;
    drive_zones(*zones, addr, cfg.port, zone, 3);

    auto st = workload::a2_get_state(addr, cfg.port);
    REQUIRE_OK(st);
    CHECK(st->count == 3);
    CHECK(st->address == addr);
    CHECK(workload::in_network(st->address, tb_host("a").service_subnet));
    CHECK(st->starts == 1);
    auto http = workload::a2_get_count(addr, cfg.port);
    REQUIRE_OK(http);
    CHECK(*http == 3);
    CHECK(volume_counter(a, cfg.volume).rfind("count=3\n", 0) == 0);   // the state is in the volume

    // Stop (SIGTERM: it flushes) and start again: the counter continues from the volume.
    REQUIRE_OK(a.stop(*id, 5s));
    REQUIRE_OK(zones->set_zone("zone-" + std::to_string(++zone)));   // moved while it was down
    REQUIRE_OK(a.start(*id));
    auto addr2 = wl::address_of(a, cfg.name, cfg.network);
    REQUIRE(wl::eventually([&] {
        auto c = workload::a2_udp_count(addr2, cfg.port, 200ms);
        return c && *c == 4;
    }, 10s));
    auto again = workload::a2_get_state(addr2, cfg.port);
    REQUIRE_OK(again);
    CHECK(again->starts == 2);
    CHECK(workload::a2_counter_check(3, *again).ok());
    drive_zones(*zones, addr2, cfg.port, zone, 1);
    CHECK(*workload::a2_udp_count(addr2, cfg.port) == 5);
    REQUIRE_OK(a.remove(*id, true));
    REQUIRE_OK(a.remove_volume(cfg.volume));
}

TEST_CASE("A2 moved a -> b by CRIU checkpoint_move keeps its counter, resumes on its own, counts on at b",
          "[workloads][a2][criu]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    wl::ensure_workload_images(a);
    wl::ensure_workload_images(b);
    auto zones = wl::client_side_zone_server();
    workload::a2_counter_config cfg{.name = "wl-a2-mv", .image = wl::a2_image, .zone_url = zones->url("/zone"),
                                    .network = wl::service_network("a"), .volume = "wl-a2-mv-data", .port = 8080};
    wl::discard(a, cfg.name, cfg.volume);
    wl::discard(b, cfg.name, cfg.volume);
    REQUIRE_OK(a.create_volume(cfg.volume));
    auto id = a.create(workload::a2_counter_spec(cfg));
    REQUIRE_OK(id);
    REQUIRE_OK(a.start(*id));
    auto addr_a = wl::address_of(a, cfg.name, cfg.network);
    REQUIRE(wl::eventually([&] { return workload::a2_udp_count(addr_a, cfg.port, 200ms).has_value(); }, 10s));
    int zone = 1;
    drive_zones(*zones, addr_a, cfg.port, zone, 4);
    auto before = workload::a2_udp_count(addr_a, cfg.port);
    REQUIRE_OK(before);
    REQUIRE(*before == 4);

    // What the migrator does for a migration-aware app at the end of preparation: flush and
    // hold (no zone poll in flight when CRIU freezes it).
    REQUIRE_OK(workload::a2_change_phase(addr_a, cfg.port, "pre-relocation-end"));
    auto held = workload::a2_get_state(addr_a, cfg.port);
    REQUIRE_OK(held);
    CHECK(held->writes_held);

    // The downtime probe (UDP count) follows the service to b's address.
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
    auto m = prober.result();
    REQUIRE(m);
    report->downtime = *m;

    auto addr_b = wl::address_of(b, cfg.name, cfg.network);
    CHECK(workload::in_network(addr_b, tb_host("b").service_subnet));
    // It noticed the new address and resumed by itself, with the counter from its memory
    // (checkpoint_move carries no volume: b's volume starts empty and gets the value on resume).
    REQUIRE(wl::eventually([&] {
        auto st = workload::a2_get_state(addr_b, cfg.port);
        return st && !st->writes_held && st->phase == "running";
    }, 5s));
    auto after = workload::a2_get_state(addr_b, cfg.port);
    REQUIRE_OK(after);
    report->state.push_back(workload::a2_counter_check(*before, *after));
    INFO(report->to_text());
    CHECK(report->state_intact());
    CHECK(after->count == *before);
    CHECK(after->starts == 1);                                  // restored, not started again
    CHECK(after->address == addr_b);
    CHECK(volume_counter(b, cfg.volume).rfind("count=4\n", 0) == 0);
    // And it keeps counting at b.
    drive_zones(*zones, addr_b, cfg.port, zone, 2);
    CHECK(*workload::a2_udp_count(addr_b, cfg.port) == 6);
    REQUIRE_OK(b.remove(cfg.name, true));
    (void)b.remove_volume(cfg.volume, true);
    (void)a.remove_volume(cfg.volume, true);
}
