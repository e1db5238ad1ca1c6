// The MEC scenario model (migrate/mec/scenario.hpp) on the ETSI MEC Sandbox's own Monaco
// scenarios (tests/data/mec, Apache-2.0, AdvantEDGE): loading, motion along paths, the
// sandbox's access point selection rule, zone sequences over a vehicle's loop.
#include "../require_ok.hpp"

#include <migrate/mec/scenario.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <set>

using namespace migrate;
using namespace migrate::mec;

namespace {

const std::filesystem::path data_dir = MIGRATE_TEST_DATA_DIR "/mec";

scenario load_monaco(const char* file = "monaco-4g-5g-wifi-macro.json") {
    auto s = scenario::load(data_dir / file);
    REQUIRE_OK(s);
    return std::move(*s);
}

}  // namespace

TEST_CASE("scenario::load: the Monaco 4g-5g-wifi-macro scenario", "[mec][scenario]") {
    auto s = load_monaco();
    CHECK(s.name() == "4g-5g-wifi-macro");
    // The counts the reference README states for this scenario.
    CHECK(s.zones().size() == 4);
    auto count = [&](poa_type t) {
        return std::count_if(s.access_points().begin(), s.access_points().end(), [&](auto& a) { return a.type == t; });
    };
    CHECK(count(poa_type::cell_4g) == 10);
    CHECK(count(poa_type::cell_5g) == 20);
    CHECK(count(poa_type::wifi) == 11);
    for (auto& a : s.access_points()) {
        INFO(a.name);
        CHECK(a.radius_m == (a.type == poa_type::cell_4g ? 400 : a.type == poa_type::cell_5g ? 100 : 50));
        REQUIRE(s.find_zone(a.zone));
    }
    auto* zone01 = s.find_zone("zone01");
    REQUIRE(zone01);
    CHECK(std::find(zone01->access_points.begin(), zone01->access_points.end(), "4g-macro-cell-1") != zone01->access_points.end());
    CHECK(s.find_access_point("4g-macro-cell-1")->cell_id == "1010101");
    auto* car = s.find_ue("10.100.0.1");
    REQUIRE(car);
    CHECK(car->moving());
    CHECK(car->velocity_mps == 20);
    CHECK(car->eop == end_of_path::loop);
    auto* still = s.find_ue("10.1.0.1");
    REQUIRE(still);
    CHECK_FALSE(still->moving());
}

TEST_CASE("scenario::load: dual-mep puts mep1 in zone01 and mep2 in zone04", "[mec][scenario]") {
    auto s = load_monaco("monaco-dual-mep-short-path.json");
    REQUIRE(s.edge_hosts().size() == 2);
    CHECK(s.edge_hosts()[0].name == "mep1");
    CHECK(s.edge_hosts()[0].zone == "zone01");
    CHECK(s.edge_hosts()[1].name == "mep2");
    CHECK(s.edge_hosts()[1].zone == "zone04");
    CHECK(s.find_zone("zone04")->edge_hosts == std::vector<std::string>{"mep2"});
}

TEST_CASE("scenario::parse: a malformed document is refused naming the field", "[mec][scenario]") {
    auto bad = scenario::parse(json::parse(R"({"deployment": {}})"), "x.json");
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("x.json.deployment.domains"));

    auto doc = json::parse(std::ifstream(data_dir / "monaco-4g-5g-wifi-macro.json"));
    doc["deployment"]["domains"][1]["zones"][1]["networkLocations"][1]["geoData"]["radius"] = "far";
    bad = scenario::parse(doc, "m.json");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("m.json.deployment.domains[1].zones[1].networkLocations[1].geoData.radius"));

    CHECK(scenario::load(data_dir / "no-such.json").error_code() == error::io_error);
}

TEST_CASE("position_at: along the path at the UE's velocity, LOOP and REVERSE ends", "[mec][scenario]") {
    auto s = load_monaco();
    auto* car = s.find_ue("10.100.0.1");   // LOOP, 20 m/s
    REQUIRE(car);
    double length = car->path_length_m();
    REQUIRE(length > 100);
    CHECK(distance_m(scenario::position_at(*car, 0), car->path.front()) < 0.01);
    // 5 s at 20 m/s = 100 m along the path: the straight-line distance is at most that.
    auto p5 = scenario::position_at(*car, 5);
    CHECK(distance_m(car->path.front(), p5) <= 100.0 + 0.01);
    // Back at the start after one loop.
    CHECK(distance_m(scenario::position_at(*car, length / car->velocity_mps), car->path.front()) < 0.5);

    auto* walker = s.find_ue("10.10.0.1");   // REVERSE, 9 m/s
    REQUIRE(walker);
    REQUIRE(walker->eop == end_of_path::reverse);
    double period = walker->path_length_m() / walker->velocity_mps;
    CHECK(distance_m(scenario::position_at(*walker, period), walker->path.back()) < 0.5);
    CHECK(distance_m(scenario::position_at(*walker, 2 * period), walker->path.front()) < 0.5);
    // Going back retraces the way out.
    CHECK(distance_m(scenario::position_at(*walker, period * 0.25), scenario::position_at(*walker, period * 1.75)) < 0.5);

    auto* still = s.find_ue("10.1.0.1");
    CHECK(distance_m(scenario::position_at(*still, 0), scenario::position_at(*still, 1000)) == 0);
}

TEST_CASE("select_access_point: in range only, most localized type, sticky while in range", "[mec][scenario]") {
    auto s = load_monaco();
    auto* car = s.find_ue("10.100.0.1");
    auto* wifi = s.find_access_point("w1");
    REQUIRE(wifi);
    // On top of a WiFi AP: WiFi wins over the 4G/5G cells that also cover the spot.
    CHECK(s.select_access_point(*car, wifi->position, "") == "w1");
    CHECK(s.select_access_point(*car, wifi->position, "4g-macro-cell-1") == "w1");
    // A UE that only has 4G never takes WiFi.
    ue only4g = *car;
    only4g.wireless = {poa_type::cell_4g};
    auto chosen = s.select_access_point(only4g, wifi->position, "");
    REQUIRE_FALSE(chosen.empty());
    CHECK(s.find_access_point(chosen)->type == poa_type::cell_4g);
    // Sticky: a 4G cell still in range is kept even when another 4G cell is closer.
    for (auto& other : s.access_points()) {
        if (other.type != poa_type::cell_4g || other.name == chosen) continue;
        if (distance_m(wifi->position, other.position) <= other.radius_m) {
            CHECK(s.select_access_point(only4g, wifi->position, other.name) == other.name);
        }
    }
    // Far away from Monaco: nothing in range.
    CHECK(s.select_access_point(*car, {2.35, 48.85}, "4g-macro-cell-1").empty());
}

TEST_CASE("tracker: a vehicle's zone sequence over its loop on the Monaco map", "[mec][scenario]") {
    auto s = load_monaco();
    auto* car = s.find_ue("10.100.0.1");
    double loop_s = car->path_length_m() / car->velocity_mps;
    tracker t(s);
    auto* start = t.state("10.100.0.1");
    REQUIRE(start);
    REQUIRE_FALSE(start->zone.empty());
    std::string first_zone = start->zone;
    std::vector<std::string> zones{first_zone};
    std::set<std::string> aps{start->access_point};
    std::size_t ap_changes = 0;
    for (auto& c : t.advance(loop_s)) {
        if (c.after.ue != "10.100.0.1") continue;
        ++ap_changes;
        aps.insert(c.after.access_point);
        // The access point given is in range of where the UE is.
        if (!c.after.access_point.empty()) {
            auto* ap = s.find_access_point(c.after.access_point);
            CHECK(distance_m(ap->position, c.after.position) <= ap->radius_m);
            CHECK(c.after.zone == ap->zone);
        }
        if (c.after.zone != zones.back()) zones.push_back(c.after.zone);
    }
    INFO(fmt::format("loop {:.0f} s, zones {}, {} access points, {} changes", loop_s, fmt::join(zones, " -> "), aps.size(), ap_changes));
    CHECK(zones.size() >= 3);             // the loop through Monaco crosses zones
    CHECK(zones.back() == first_zone);    // and comes back where it started
    CHECK(aps.size() >= 4);
    CHECK(t.now() == Approx(loop_s));
    // A UE without a path never changes.
    auto* still = t.state("10.1.0.1");
    CHECK(still->access_point == [&] {
        tracker fresh(s);
        return fresh.state("10.1.0.1")->access_point;
    }());
}

TEST_CASE("tracker::force: pins a UE to an access point, empty releases it", "[mec][scenario]") {
    auto s = load_monaco();
    tracker t(s);
    auto before = *t.state("10.1.0.1");
    std::string target = before.zone == "zone04" ? "4g-macro-cell-1" : "4g-macro-cell-10";
    auto c = t.force("10.1.0.1", target);
    REQUIRE_OK(c);
    CHECK(c->before.access_point == before.access_point);
    CHECK(c->after.access_point == target);
    CHECK(c->after.zone == s.find_access_point(target)->zone);
    CHECK(c->after.zone != before.zone);
    // Pinned: time passing does not move it back.
    for (auto& ch : t.advance(30)) CHECK(ch.after.ue != "10.1.0.1");
    CHECK(t.state("10.1.0.1")->access_point == target);
    auto released = t.force("10.1.0.1", "");
    REQUIRE_OK(released);
    CHECK(released->after.access_point == before.access_point);
    CHECK(t.force("nobody", target).error_code() == error::not_found);
    CHECK_THAT(t.force("10.1.0.1", "cell-x").error().message, Catch::Contains("cell-x"));
}
