// Workload A1 (stateless poller): the downtime read from the location server's log, the
// container spec, and the real program polling a zone server on loopback.
#include "workload_test_util.hpp"

#include <migrate/workload/a1_poller.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::workload;
using namespace std::chrono_literals;

namespace {

poll_record rec(int ms, std::string peer, std::uint64_t seq = 0, std::string path = "/location") {
    poll_record r;
    r.at = std::chrono::steady_clock::time_point{} + std::chrono::milliseconds(ms);
    r.peer = std::move(peer);
    r.seq = seq;
    r.path = std::move(path);
    r.zone = "z";
    return r;
}

const a1_downtime_options ab{.source = "10.70.1.0/24", .target = "10.70.2.0/24", .interval = 200ms};

}  // namespace

TEST_CASE("a1_downtime: last poll from the source to the first from the target", "[workload][a1]") {
    std::vector<poll_record> log = {rec(0, "10.70.1.2", 1),      rec(200, "10.70.1.2", 2), rec(400, "10.70.1.2", 3),
                                    rec(450, "10.82.0.9"),      // someone else: ignored
                                    rec(1400, "10.70.2.2", 4), rec(1600, "10.70.2.2", 5),
                                    rec(1700, "10.70.1.2", 9)};  // source after the target: ignored
    auto m = a1_downtime(log, ab);
    REQUIRE_OK(m);
    CHECK(m->downtime_ms == Approx(1000.0));
    CHECK(m->probe_interval_ms == Approx(200.0));
    CHECK(m->probes == 6);           // 4 from the source, 2 from the target
    CHECK(m->failures == 4);         // 1000 ms gap at 200 ms: 4 polls missing
    CHECK_THAT(m->method, Catch::Contains("10.70.1.0/24") && Catch::Contains("10.70.2.0/24") &&
                              Catch::Contains("200 ms"));
}

TEST_CASE("a1_downtime: only polls of the path count; a seamless move has no missed slot", "[workload][a1]") {
    std::vector<poll_record> log = {rec(0, "10.70.1.2"), rec(100, "10.70.2.7", 0, "/zone"), rec(200, "10.70.2.7")};
    auto m = a1_downtime(log, ab);
    REQUIRE_OK(m);
    CHECK(m->downtime_ms == Approx(200.0));
    CHECK(m->failures == 0);
}

TEST_CASE("a1_downtime: no source poll, no target poll after it, bad networks", "[workload][a1]") {
    auto none = a1_downtime({rec(0, "10.70.2.2")}, ab);
    REQUIRE_FALSE(none);
    CHECK(none.error_code() == error::not_found);
    CHECK_THAT(none.error().message, Catch::Contains("no poll of /location from the source 10.70.1.0/24"));

    auto early = a1_downtime({rec(0, "10.70.2.2"), rec(200, "10.70.1.2")}, ab);
    REQUIRE_FALSE(early);
    CHECK(early.error_code() == error::not_found);
    CHECK_THAT(early.error().message, Catch::Contains("1 of them before the source's"));

    auto overlap = a1_downtime({}, {.source = "10.70.0.0/16", .target = "10.70.2.0/24"});
    REQUIRE_FALSE(overlap);
    CHECK(overlap.error_code() == error::invalid_argument);
    CHECK_THAT(overlap.error().message, Catch::Contains("overlap"));
    auto malformed = a1_downtime({}, {.source = "host-a", .target = "10.70.2.0/24"});
    REQUIRE_FALSE(malformed);
    CHECK_THAT(malformed.error().message, Catch::Contains("a1_downtime_options.source"));
    // One address per side works as well as a subnet.
    auto exact = a1_downtime({rec(0, "10.70.1.2"), rec(300, "10.70.2.2")},
                             {.source = "10.70.1.2", .target = "10.70.2.2", .interval = 200ms});
    REQUIRE_OK(exact);
    CHECK(exact->downtime_ms == Approx(300.0));
}

TEST_CASE("a1_poller_config: validation, JSON round trip, the container spec", "[workload][a1]") {
    a1_poller_config c{.url = "http://10.0.0.1:8000/location", .network = "svc"};
    REQUIRE_OK(c.validate());
    auto s = a1_poller_spec(c);
    CHECK(s.name == "a1-poller");
    CHECK(s.image == "migrate-a1-poller:1");
    CHECK(s.network_mode == "svc");
    CHECK(s.cmd == std::vector<std::string>{"--url", "http://10.0.0.1:8000/location", "--interval-ms", "200",
                                            "--timeout-ms", "150"});
    json j = c;
    auto back = j.get<a1_poller_config>();
    CHECK(back.url == c.url);
    CHECK(back.interval == 200ms);
    CHECK(back.network == "svc");
    c.url = "https://x";
    CHECK_THAT(c.validate().error().message, Catch::Contains("a1_poller_config.url"));
    c.url = "http://10.0.0.1:8000/location";
    c.timeout = 500ms;
    CHECK_THAT(c.validate().error().message, Catch::Contains("a1_poller_config.timeout"));
}

#ifdef MIGRATE_A1_POLLER
TEST_CASE("the A1 program polls the location server with a growing seq and stops on SIGTERM", "[workload][a1]") {
    auto s = zone_server::start({.address = "127.0.0.1", .zone = "zone-7"});
    REQUIRE_OK(s);
    test::scratch_dir dir("a1-unit");
    test::program a1({MIGRATE_A1_POLLER, "--url", (*s)->url("/location"), "--interval-ms", "50"}, dir.path / "a1.log");
    REQUIRE(test::eventually([&] { return (*s)->records().size() >= 5; }, 5s));
    CHECK(a1.stop());   // SIGTERM ends it at once (it is PID 1 in its container)
    auto recs = (*s)->records();
    for (std::size_t i = 0; i < recs.size(); ++i) {
        CHECK(recs[i].peer == "127.0.0.1");
        CHECK(recs[i].path == "/location");
        CHECK(recs[i].seq == i + 1);
    }
    // 50 ms apart, give or take the machine's load.
    auto span = std::chrono::duration<double, std::milli>(recs.back().at - recs.front().at).count();
    CHECK(span >= 50.0 * static_cast<double>(recs.size() - 1) * 0.8);
    auto log = test::read_text(dir.path / "a1.log");
    CHECK_THAT(log, Catch::Contains("seq=1 status=200 location=zone-7"));
}

TEST_CASE("the A1 program refuses a bad URL naming it", "[workload][a1]") {
    auto r = detail::run({MIGRATE_A1_POLLER, "--url", "http://name.invalid:80/location"}, {.timeout = 5s});
    REQUIRE_OK(r);
    CHECK(r->exit_code == 2);
    CHECK_THAT(r->err, Catch::Contains("--url 'http://name.invalid:80/location'") && Catch::Contains("IPv4"));
    auto none = detail::run({MIGRATE_A1_POLLER}, {.timeout = 5s});
    REQUIRE_OK(none);
    CHECK(none->exit_code == 2);
    CHECK_THAT(none->err, Catch::Contains("--url"));
}
#endif
