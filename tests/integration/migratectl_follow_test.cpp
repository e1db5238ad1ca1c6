// `migratectl follow`, the operator's CLI for MEC-triggered moves, run as the program it is:
// the MEC platform emulator (paused, on the testbed's client side) serves the Monaco
// dual-mep-short-path scenario; A2 runs on host a reading the car's zone from it; migratectl
// follows the car through the Location API; the test moves the car into zone03 (host b's
// area) and migratectl moves A2 from a to b with a real CRIU migration, prints the decision
// and the report as one JSON line, deletes its subscription and exits 0 after that one move.
#include "mec_fixture.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>

#include <boost/process.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <fstream>
#include <sstream>

using namespace migrate;
using namespace migrate::test;
using namespace std::chrono_literals;

namespace {

const char* const car = mec_car;
const char* const sandbox = mec_sandbox;

/// The zonal traffic subscriptions the emulator holds now.
std::size_t zonal_subscriptions(const mec::emulator& emu) {
    mec::api_client c({.base_url = platform_url(emu), .sandbox = sandbox}, "location/v2");
    auto list = c.call("GET", "/subscriptions/zonalTraffic");
    REQUIRE_OK(list);
    return list->at("notificationSubscriptionList").at("zonalTrafficSubscription").size();
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

/// migratectl with `args`, run to its end: exit code, stdout, stderr.
detail::command_output migratectl(std::vector<std::string> args) {
    args.insert(args.begin(), MIGRATE_MIGRATECTL_TOOL);
    auto out = detail::run(args, {.timeout = 60s});
    REQUIRE_OK(out);
    return *out;
}

/// `migratectl follow` running in the background, its output in files the test reads while it
/// runs; terminated if the test ends first.
struct background_follow {
    std::filesystem::path dir, out_file, err_file;
    boost::process::child child;

    explicit background_follow(std::vector<std::string> args) {
        namespace bp = boost::process;
        dir = std::filesystem::temp_directory_path() / fmt::format("migratectl-follow-{}-{}", ::getpid(), counter()++);
        std::filesystem::create_directories(dir);
        out_file = dir / "stdout";
        err_file = dir / "stderr";
        args.insert(args.begin(), "follow");
        child = bp::child(bp::exe = MIGRATE_MIGRATECTL_TOOL, bp::args = args, bp::std_out > out_file.string(),
                          bp::std_err > err_file.string(), bp::std_in < bp::null);
    }
    ~background_follow() {
        if (child.running()) child.terminate();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string out() const { return slurp(out_file); }
    std::string err() const { return slurp(err_file); }
    /// Until it said it follows (subscribed, and asked where the UEs are); false if it ended first.
    bool watching() {
        wl::eventually([&] { return err().find("following through") != std::string::npos || !child.running(); }, 15s, 100ms);
        return child.running() && err().find("following through") != std::string::npos;
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

/// A2 on host a (mec_fixture.hpp) once it has seen the car in `zone`.
struct a2_on_a : a2_reading_mec {
    a2_on_a(const mec::emulator& emu, const std::string& zone) : a2_reading_mec(emu, "follow-cli-a2") { sees(addr, zone); }

    /// What `follow` printed and did after its one move: one JSON line naming the decision a -> b
    /// and a successful report; A2 runs on b (not on a) and reads `zone` there.
    void moved_to_b(background_follow& follow, const std::string& zone) {
        REQUIRE(follow.child.wait_for(std::chrono::seconds(90)));
        const auto out = follow.out();
        INFO("stdout:\n" << out << "\nstderr:\n" << follow.err());
        CHECK(follow.child.exit_code() == 0);
        auto lines = lines_of(out);
        REQUIRE(lines.size() == 1);
        auto line = json::parse(lines[0]);
        CHECK(line.at("decision").at("subject") == car);
        CHECK(line.at("decision").at("from") == "a");
        CHECK(line.at("decision").at("to") == "b");
        CHECK(line.at("report").at("success") == true);
        CHECK(line.at("report").at("strategy") == "checkpoint");
        CHECK(line.at("report").at("source") == "a");
        CHECK(line.at("report").at("target") == "b");
        WARN("migratectl follow's report:\n" << line.at("report").get<migration_report>().to_text());

        auto on_b = b.inspect(cfg.name);
        REQUIRE_OK(on_b);
        CHECK(on_b->running);
        CHECK_FALSE(a.inspect(cfg.name).has_value());
        const auto addr_b = wl::address_of(b, cfg.name, wl::service_network("b"));
        CHECK(wl::eventually([&] {
            auto st = workload::a2_get_state(addr_b, cfg.port, 300ms);
            return st && st->zone == zone && st->phase == "running";
        }, 10s));
    }
};

}  // namespace

TEST_CASE("migratectl follow: the car enters host b's zone, migratectl moves A2 from a to b and exits 0 after one move",
          "[mec][follow][cli][a2][criu]") {
    auto emu = client_side_emulator();
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone02")));

    a2_on_a app(*emu, "zone02");

    background_follow follow({"--testbed", shared_testbed_name(), "--container", app.cfg.name, "--strategy", "checkpoint",
                              "--trigger", "location", "--platform", platform_url(*emu), "--sandbox", sandbox,
                              "--zone-host", "zone01=a", "--zone-host", "zone02=a", "--zone-host", "zone03=b",
                              "--zone-host", "zone04=b", "--user", car, "--moves", "1", "--duration", "120", "--json"});
    INFO("migratectl stderr:\n" << follow.err());
    REQUIRE(follow.watching());
    CHECK(zonal_subscriptions(*emu) == 4);

    // zone02 -> zone03: host b's area.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone03")));
    app.moved_to_b(follow, "zone03");
    // Stopping deleted its subscriptions at the platform.
    CHECK(zonal_subscriptions(*emu) == 0);
}

TEST_CASE("migratectl follow --trigger ams: the AMS moves the car out of mep1, migratectl moves A2 from a to b",
          "[mec][follow][cli][ams][a2][criu]") {
    // One instance of the app per MEC host: a2-mep1 (host a, zones 01-02), a2-mep2 (host b, 03-04).
    auto emu = client_side_emulator({{.id = "a2-mep1", .edge_host = "mep1", .app_name = "a2"},
                                     {.id = "a2-mep2", .edge_host = "mep2", .app_name = "a2"}});
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone01")));
    a2_on_a app(*emu, "zone01");

    background_follow follow({"--testbed", shared_testbed_name(), "--container", app.cfg.name, "--strategy", "checkpoint",
                              "--trigger", "ams", "--platform", platform_url(*emu), "--sandbox", sandbox,
                              "--app-instance", "a2-mep1", "--app-instance-host", "a2-mep1=a",
                              "--app-instance-host", "a2-mep2=b", "--user", car, "--register-devices",
                              "--moves", "1", "--duration", "120", "--json"});
    INFO("migratectl stderr:\n" << follow.err());
    REQUIRE(follow.watching());

    // zone01 (mep1) -> zone04 (mep2): INTERHOST_MOVEOUT_TRIGGERED to a2-mep1, target a2-mep2.
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone04")));
    app.moved_to_b(follow, "zone04");
}

TEST_CASE("migratectl follow: a move that fails (its name taken on b) exits 1, the report says the source serves, A2 stays on a",
          "[mec][follow][cli][a2]") {
    auto emu = client_side_emulator();
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone02")));
    a2_on_a app(*emu, "zone02");
    // A container of that name on b already: the migration's prepare refuses to overwrite it.
    auto squatter = app.b.create(workload::a1_poller_spec(
        {.name = app.cfg.name, .image = wl::a1_image, .url = "http://127.0.0.1:9/location", .network = wl::service_network("b")}));
    REQUIRE_OK(squatter);

    background_follow follow({"--testbed", shared_testbed_name(), "--container", app.cfg.name, "--strategy", "checkpoint",
                              "--trigger", "location", "--platform", platform_url(*emu), "--sandbox", sandbox,
                              "--zone-host", "zone02=a", "--zone-host", "zone03=b", "--user", car, "--moves", "1",
                              "--duration", "120", "--json"});
    INFO("migratectl stderr:\n" << follow.err());
    REQUIRE(follow.watching());
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone03")));
    REQUIRE(follow.child.wait_for(std::chrono::seconds(90)));
    INFO("stdout:\n" << follow.out() << "\nstderr:\n" << follow.err());
    CHECK(follow.child.exit_code() == 1);
    auto lines = lines_of(follow.out());
    REQUIRE(lines.size() == 1);
    auto line = json::parse(lines[0]);
    CHECK(line.at("decision").at("to") == "b");
    CHECK(line.at("report").at("success") == false);
    CHECK_FALSE(line.at("report").at("error").get<std::string>().empty());
    CHECK(line.at("report").at("rolled_back") == true);   // the source keeps serving
    CHECK(follow.err().find("the container runs on a") != std::string::npos);
    auto on_a = app.a.inspect(app.cfg.name);
    REQUIRE_OK(on_a);
    CHECK(on_a->running);
    CHECK(zonal_subscriptions(*emu) == 0);
}

TEST_CASE("migratectl follow: a decision for the host the container is on is printed as skipped; SIGTERM stops it, "
          "subscriptions deleted, exit 0",
          "[mec][follow][cli]") {
    auto emu = client_side_emulator();
    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone02")));
    // The platform has the car in a's area; the operator says the container is on b already.
    background_follow follow({"--testbed", shared_testbed_name(), "--container", "follow-cli-nobody", "--at", "b",
                              "--trigger", "location", "--platform", platform_url(*emu), "--sandbox", sandbox,
                              "--zone-host", "zone02=a", "--zone-host", "zone03=b", "--user", car, "--json"});
    INFO("migratectl stderr:\n" << follow.err());
    REQUIRE(follow.watching());
    CHECK(zonal_subscriptions(*emu) == 2);

    REQUIRE_OK(emu->force(car, access_point_in(*emu, "zone03")));
    REQUIRE(wl::eventually([&] { return !lines_of(follow.out()).empty(); }, 10s, 100ms));
    auto lines = lines_of(follow.out());
    REQUIRE(lines.size() == 1);
    auto line = json::parse(lines[0]);
    INFO(line.dump());
    CHECK(line.at("decision").at("from") == "a");
    CHECK(line.at("decision").at("to") == "b");
    CHECK_FALSE(line.contains("report"));
    CHECK(line.at("skipped").get<std::string>().find("runs on b already") != std::string::npos);
    CHECK(follow.child.running());   // no --moves, no --duration: it goes on

    REQUIRE(::kill(follow.child.id(), SIGTERM) == 0);
    REQUIRE(follow.child.wait_for(std::chrono::seconds(15)));
    CHECK(follow.child.exit_code() == 0);
    CHECK(follow.err().find("stopped (signal): 0 moves") != std::string::npos);
    CHECK(zonal_subscriptions(*emu) == 0);
}

TEST_CASE("migratectl follow: a bad host map is a usage error naming the option, an unreachable platform a setup error naming its URL",
          "[mec][follow][cli]") {
    const auto testbed = shared_testbed_name();
    SECTION("--zone-host without '=' exits 2") {
        auto r = migratectl({"follow", "--testbed", testbed, "--container", "nobody", "--at", "a", "--trigger", "location",
                             "--platform", "http://127.0.0.1:9", "--zone-host", "zone01:a"});
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--zone-host 'zone01:a'") != std::string::npos);
    }
    SECTION("a platform nobody listens at exits 3 naming its URL") {
        auto r = migratectl({"follow", "--testbed", testbed, "--container", "nobody", "--at", "a", "--trigger", "location",
                             "--platform", "http://127.0.0.1:9", "--sandbox", "sbx1/mep1", "--zone-host", "zone01=a"});
        INFO(r.err);
        CHECK(r.exit_code == 3);
        CHECK(r.err.find("http://127.0.0.1:9/sbx1/mep1") != std::string::npos);
        CHECK(r.out.empty());
    }
    SECTION("a zone mapped to a host the testbed lacks exits 3 naming it") {
        auto r = migratectl({"follow", "--testbed", testbed, "--container", "nobody", "--at", "a", "--trigger", "location",
                             "--platform", "http://127.0.0.1:9", "--zone-host", "zone01=c"});
        INFO(r.err);
        CHECK(r.exit_code == 3);
        CHECK(r.err.find("zone01=c") != std::string::npos);
        CHECK(r.err.find("no host 'c'") != std::string::npos);
    }
}
