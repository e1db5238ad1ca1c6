// Workload A2 (zone-change counter in a volume, migration aware): the client side's
// vocabulary, and the real program on loopback counting zone changes driven by a zone
// server, with its data directory standing in for the volume.
#include "workload_test_util.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/workload/a2_counter.hpp>
#include <migrate/workload/zone_server.hpp>

#include <catch2/catch.hpp>

#include <fstream>

using namespace migrate;
using namespace migrate::workload;
using namespace std::chrono_literals;

TEST_CASE("a2_counter_config: validation names the field, JSON round trip, the spec mounts the volume",
          "[workload][a2]") {
    a2_counter_config c{.zone_url = "http://10.0.0.1:8000/zone", .network = "svc", .volume = "counter-vol", .port = 9090};
    REQUIRE_OK(c.validate());
    auto s = a2_counter_spec(c);
    CHECK(s.network_mode == "svc");
    REQUIRE(s.mounts.size() == 1);
    CHECK(s.mounts[0].type == mount_spec::kind::volume);
    CHECK(s.mounts[0].source == "counter-vol");
    CHECK(s.mounts[0].target == "/data");
    CHECK(s.cmd == std::vector<std::string>{"--zone-url", "http://10.0.0.1:8000/zone", "--port", "9090", "--data",
                                            "/data", "--interval-ms", "200", "--hold-max-ms", "30000",
                                            "--zone-format", "text"});
    CHECK(s.exposed_ports == std::vector<std::string>{"9090/tcp", "9090/udp"});
    json j = c;
    auto back = j.get<a2_counter_config>();
    CHECK(back.volume == "counter-vol");
    CHECK(back.port == 9090);
    CHECK(back.hold_max == 30000ms);
    CHECK(back.zone_format == a2_zone_format::text);
    c.zone_format = a2_zone_format::mec_location;
    CHECK(a2_counter_spec(c).cmd.back() == "mec-location");
    CHECK(json(c).get<a2_counter_config>().zone_format == a2_zone_format::mec_location);
    j["zone_format"] = "gps";
    CHECK_THROWS_WITH(j.get<a2_counter_config>(), Catch::Contains("a2_counter_config.zone_format"));
    c.zone_format = a2_zone_format::text;
    c.volume.clear();
    CHECK_THAT(c.validate().error().message, Catch::Contains("a2_counter_config.volume"));
    c.volume = "v";
    c.zone_url = "10.0.0.1:8000";
    CHECK_THAT(c.validate().error().message, Catch::Contains("a2_counter_config.zone_url"));
}

TEST_CASE("a2_state JSON and the counter check: continues vs restarted", "[workload][a2]") {
    auto st = json::parse(R"({"count":12,"zone":"z3","phase":"running","writes_held":false,"address":"10.70.2.2",
                              "polls":40,"poll_errors":1,"starts":1,"persisted":13})")
                  .get<a2_state>();
    CHECK(st.count == 12);
    CHECK(st.address == "10.70.2.2");
    CHECK(st.starts == 1);
    json back = st;
    CHECK(back["persisted"] == 13);

    auto kept = a2_counter_check(10, st);
    CHECK(kept.ok());
    CHECK(kept.expected == 10);
    CHECK_THAT(kept.what, Catch::Contains("continues from 10"));
    a2_state restarted;
    restarted.count = 2;
    auto lost = a2_counter_check(10, restarted);
    CHECK_FALSE(lost.ok());
    CHECK(lost.found == 2);
}

TEST_CASE("a2 client calls fail clearly when nothing listens", "[workload][a2]") {
    auto port = test::free_port();
    REQUIRE(port != 0);
    auto udp = a2_udp_count("127.0.0.1", port, 100ms);
    REQUIRE_FALSE(udp);
    CHECK_THAT(udp.error().message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
    auto http = a2_get_count("127.0.0.1", port, 500ms);
    REQUIRE_FALSE(http);
    CHECK(http.error_code() == error::daemon_unreachable);
    CHECK(a2_udp_count("no-address", port).error_code() == error::invalid_argument);
}

#ifdef MIGRATE_A2_COUNTER
namespace {

struct a2_on_loopback {
    std::uint16_t port = test::free_port();
    std::unique_ptr<zone_server> zones;
    test::scratch_dir dir{"a2-unit"};
    std::optional<test::program> proc;

    a2_on_loopback() {
        auto s = zone_server::start({.address = "127.0.0.1", .zone = "zone-1"});
        REQUIRE_OK(s);
        zones = std::move(*s);
    }
    void start(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {MIGRATE_A2_COUNTER, "--zone-url", zones->url("/zone"), "--port",
                                         std::to_string(port), "--data", (dir.path / "data").string(),
                                         "--interval-ms", "40"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        proc.emplace(argv, dir.path / ("a2-" + std::to_string(++starts) + ".log"));
        REQUIRE(test::eventually([&] { return a2_udp_count("127.0.0.1", port, 100ms).has_value(); }, 5s));
    }
    std::uint64_t count() {
        auto c = a2_udp_count("127.0.0.1", port, 200ms);
        REQUIRE_OK(c);
        return *c;
    }
    // Waits for the program to have polled at least twice after now (it saw the zone).
    void settle() {
        auto before = zones->answered();
        REQUIRE(test::eventually([&] { return zones->answered() >= before + 2; }, 3s));
    }
    bool counts_to(std::uint64_t n) {
        return test::eventually([&] { return count() == n; }, 3s);
    }
    int starts = 0;
};

}  // namespace

TEST_CASE("the A2 program counts zone changes, serves them over HTTP and UDP, keeps them in its volume",
          "[workload][a2]") {
    a2_on_loopback a2;
    a2.start();
    a2.settle();
    CHECK(a2.count() == 0);   // the first zone seen is not a change
    for (int z = 2; z <= 4; ++z) {
        REQUIRE_OK(a2.zones->set_zone("zone-" + std::to_string(z)));
        a2.settle();
    }
    REQUIRE(a2.counts_to(3));
    auto http = a2_get_count("127.0.0.1", a2.port);
    REQUIRE_OK(http);
    CHECK(*http == 3);
    auto st = a2_get_state("127.0.0.1", a2.port);
    REQUIRE_OK(st);
    CHECK(st->count == 3);
    CHECK(st->zone == "zone-4");
    CHECK(st->phase == "running");
    CHECK(st->starts == 1);
    CHECK(st->address == "127.0.0.1");
    CHECK(st->persisted >= 4);   // the start and every change
    CHECK(test::read_text(a2.dir.path / "data" / "counter") == "count=3\nzone=zone-4\nstarts=1\n");
    // The zone server saw it poll from 127.0.0.1 with a growing seq.
    auto recs = a2.zones->records();
    REQUIRE(recs.size() >= 4);
    CHECK(recs.back().path == "/zone");
    CHECK(recs.back().seq > recs.front().seq);

    // Stopped (SIGTERM, as `docker stop`) and started again with the same volume: the
    // counter continues from the file, and the restart is counted as one.
    REQUIRE(a2.proc->stop());
    REQUIRE_OK(a2.zones->set_zone("zone-5"));   // changed while it was down: counted on start
    a2.start();
    REQUIRE(a2.counts_to(4));
    auto again = a2_get_state("127.0.0.1", a2.port);
    REQUIRE_OK(again);
    CHECK(again->starts == 2);
    CHECK(again->zone == "zone-5");
}

TEST_CASE("the A2 program reads its zone from a MEC013 Location API: the emulator moves the UE, it counts",
          "[workload][a2][mec]") {
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    mec::emulator_options eo;
    eo.base_path = "/sbx1/mep1";
    eo.time_scale = 0;   // only forced moves: deterministic
    auto emu = mec::emulator::start(std::move(*s), eo);
    REQUIRE_OK(emu);
    // The first access point of each of three zones.
    std::vector<std::pair<std::string, std::string>> stops;   // zone, access point
    for (const auto& z : (*emu)->model().zones())
        if (!z.access_points.empty() && stops.size() < 3) stops.emplace_back(z.name, z.access_points.front());
    REQUIRE(stops.size() == 3);
    const std::string ue = "10.100.0.1";
    REQUIRE_OK((*emu)->force(ue, stops[0].second));

    auto port = test::free_port();
    test::scratch_dir dir{"a2-mec"};
    test::program proc({MIGRATE_A2_COUNTER, "--zone-format", "mec-location", "--zone-url",
                        (*emu)->url() + "/location/v2/queries/users?address=" + ue, "--port", std::to_string(port),
                        "--data", (dir.path / "data").string(), "--interval-ms", "40"},
                       dir.path / "a2.log");
    auto zone_is = [&](const std::string& z) {
        return test::eventually([&] {
            auto st = a2_get_state("127.0.0.1", port, 200ms);
            return st && st->zone == z;
        }, 5s);
    };
    REQUIRE(zone_is(stops[0].first));
    REQUIRE_OK((*emu)->force(ue, stops[1].second));
    REQUIRE(zone_is(stops[1].first));
    REQUIRE_OK((*emu)->force(ue, stops[2].second));
    REQUIRE(zone_is(stops[2].first));
    auto st = a2_get_state("127.0.0.1", port);
    REQUIRE_OK(st);
    CHECK(st->count == 2);   // two changes after the first zone
    CHECK(st->poll_errors == 0);
}

TEST_CASE("the A2 program's changePhase: pre-relocation-end flushes and holds, running resumes",
          "[workload][a2]") {
    a2_on_loopback a2;
    a2.start();
    a2.settle();
    REQUIRE_OK(a2.zones->set_zone("zone-2"));
    REQUIRE(a2.counts_to(1));

    REQUIRE_OK(a2_change_phase("127.0.0.1", a2.port, "pre-relocation-start"));
    auto st = a2_get_state("127.0.0.1", a2.port);
    REQUIRE_OK(st);
    CHECK(st->phase == "pre-relocation-start");
    CHECK_FALSE(st->writes_held);

    REQUIRE_OK(a2_change_phase("127.0.0.1", a2.port, "pre-relocation-end"));
    st = a2_get_state("127.0.0.1", a2.port);
    REQUIRE_OK(st);
    CHECK(st->writes_held);
    CHECK(test::read_text(a2.dir.path / "data" / "counter") == "count=1\nzone=zone-2\nstarts=1\n");
    // Held: no zone polls, so a change now is not seen yet, and nothing is written.
    auto answered = a2.zones->answered();
    REQUIRE_OK(a2.zones->set_zone("zone-3"));
    std::this_thread::sleep_for(300ms);
    CHECK(a2.zones->answered() == answered);
    CHECK(a2.count() == 1);
    CHECK(test::read_text(a2.dir.path / "data" / "counter") == "count=1\nzone=zone-2\nstarts=1\n");

    // A phase it does not know is refused, naming it; the hold stays.
    auto bad = a2_change_phase("127.0.0.1", a2.port, "relocated-maybe");
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("relocated-maybe"));

    REQUIRE_OK(a2_change_phase("127.0.0.1", a2.port, "running"));
    REQUIRE(a2.counts_to(2));   // the change during the hold is counted at the first poll after it
    st = a2_get_state("127.0.0.1", a2.port);
    REQUIRE_OK(st);
    CHECK_FALSE(st->writes_held);
    CHECK(st->phase == "running");
    REQUIRE(test::eventually([&] { return test::read_text(a2.dir.path / "data" / "counter").rfind("count=2\n", 0) == 0; },
                             2s));
}

TEST_CASE("the A2 program's hold ends by itself after --hold-max-ms (an abandoned move)", "[workload][a2]") {
    a2_on_loopback a2;
    a2.start({"--hold-max-ms", "300"});
    a2.settle();
    REQUIRE_OK(a2_change_phase("127.0.0.1", a2.port, "pre-relocation-end"));
    REQUIRE_OK(a2.zones->set_zone("zone-2"));
    REQUIRE(test::eventually(
        [&] {
            auto st = a2_get_state("127.0.0.1", a2.port);
            return st && !st->writes_held && st->phase == "running";
        },
        3s));
    CHECK(a2.counts_to(1));
}

TEST_CASE("the A2 program refuses a counter file it cannot read, naming it", "[workload][a2]") {
    test::scratch_dir dir("a2-bad");
    std::filesystem::create_directories(dir.path / "data");
    std::ofstream(dir.path / "data" / "counter") << "count=twelve\n";
    auto r = detail::run({MIGRATE_A2_COUNTER, "--zone-url", "http://127.0.0.1:9/zone", "--port",
                          std::to_string(test::free_port()), "--data", (dir.path / "data").string()},
                         {.timeout = 5s});
    REQUIRE_OK(r);
    CHECK(r->exit_code == 1);
    CHECK_THAT(r->err, Catch::Contains((dir.path / "data" / "counter").string()) && Catch::Contains("twelve"));
    // The file is left as it was: nothing is overwritten.
    CHECK(test::read_text(dir.path / "data" / "counter") == "count=twelve\n");
}
#endif
