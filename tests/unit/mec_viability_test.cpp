// Dwell times from a replayed scenario (migrate/mec/viability.hpp): a hand-made scenario on
// the equator whose stays are known by hand (censoring included), the viable share against
// given migration times, the grid report's reader, and the Monaco scenario's stays.
#include "../require_ok.hpp"

#include <migrate/mec/viability.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>

using namespace migrate;
using namespace migrate::mec;

namespace {

const std::filesystem::path data_dir = MIGRATE_TEST_DATA_DIR "/mec";

// On the equator, x metres east of (0, 0) is this longitude exactly (the haversine of a
// pure longitude difference at latitude 0 is R * dlon).
double lon(double x_m) { return x_m / (6371000.0 * 3.14159265358979323846 / 180.0); }

json point(double x_m) { return json::array({lon(x_m), 0.0}); }

json poa(const char* name, const char* type, double x_m, double radius_m, json ues = json::array()) {
    return {{"name", name}, {"type", type}, {"geoData", {{"location", {{"coordinates", point(x_m)}}}, {"radius", radius_m}}},
            {"physicalLocations", std::move(ues)}};
}

json moving_ue(const char* name, const char* icon, double from_m, double to_m, double velocity, const char* eop) {
    return {{"name", name},
            {"type", "UE"},
            {"meta", {{"display.map.icon", icon}}},
            {"geoData",
             {{"location", {{"coordinates", point(from_m)}}},
              {"path", {{"coordinates", json::array({point(from_m), point(to_m)})}}},
              {"velocity", velocity},
              {"eopMode", eop}}}};
}

// Zone z1: a 4G macro cell m4g (x = 200 m, r = 1000 m: the whole road) and a 5G cell a5g
// (x = 0, r = 100 m). Zone z2: a 5G cell b5g (x = 400 m, r = 50 m).
// The car drives x = -200 -> 600 m at 10 m/s and loops (80 s a loop): 5G is preferred to 4G,
// so it is on m4g, a5g over [-100, 100] m, m4g, b5g over [350, 450] m, m4g. Over two loops
// (160 s):
//   access points: m4g [0,10) censored, a5g [10,30) 20 s, m4g [30,55) 25 s, b5g [55,65) 10 s,
//                  m4g [65,90) 25 s (across the loop's jump: -200 m is still in m4g),
//                  a5g [90,110) 20 s, m4g [110,135) 25 s, b5g [135,145) 10 s, m4g [145,160] censored
//   zones:         z1 [0,55) censored, z2 [55,65) 10 s, z1 [65,135) 70 s, z2 [135,145) 10 s,
//                  z1 [145,160] censored
// The pedestrian walks to and fro inside a5g at 5 m/s (a 40 s period, shorter than the
// car's: the car sets the duration of a loop) and never leaves it; the camera sits on b5g.
json hand_made() {
    json road_ues = json::array({moving_ue("car", "ion-android-car", -200, 600, 10, "LOOP"),
                                 moving_ue("walker", "ion-android-walk", -50, 50, 5, "REVERSE")});
    json camera = {{"name", "camera"},
                   {"type", "UE"},
                   {"meta", {{"display.map.icon", "ion-ios-videocam"}}},
                   {"geoData", {{"location", {{"coordinates", point(400)}}}}}};
    json z1 = {{"type", "ZONE"},
               {"name", "z1"},
               {"networkLocations", json::array({poa("m4g", "POA-4G", 200, 1000, road_ues), poa("a5g", "POA-5G", 0, 100)})}};
    json z2 = {{"type", "ZONE"},
               {"name", "z2"},
               {"networkLocations", json::array({poa("b5g", "POA-5G", 400, 50, json::array({camera}))})}};
    return {{"name", "hand"}, {"deployment", {{"domains", json::array({{{"name", "d"}, {"zones", json::array({z1, z2})}}})}}}};
}

scenario load_hand_made() {
    auto s = scenario::parse(hand_made(), "hand.json");
    REQUIRE_OK(s);
    return std::move(*s);
}

std::vector<double> sorted(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Each stay is exact to within one replay step.
void check_lengths(const std::vector<double>& got, std::vector<double> want, double step) {
    REQUIRE(got.size() == want.size());
    auto g = sorted(got);
    std::sort(want.begin(), want.end());
    for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("stay " << i << " of " << g.size());
        CHECK(g[i] == Approx(want[i]).margin(step + 1e-9));
    }
}

}  // namespace

TEST_CASE("kind_of: the sandbox's map icon says vehicle or pedestrian; still UEs are stationary", "[mec][viability]") {
    auto s = load_hand_made();
    CHECK(s.find_ue("car")->map_icon == "ion-android-car");
    CHECK(kind_of(*s.find_ue("car")) == ue_kind::vehicle);
    CHECK(kind_of(*s.find_ue("walker")) == ue_kind::pedestrian);
    CHECK(kind_of(*s.find_ue("camera")) == ue_kind::stationary);
    ue unknown = *s.find_ue("car");
    unknown.map_icon.clear();
    CHECK(kind_of(unknown) == ue_kind::other);
    CHECK(ue_kind_from_string("pedestrian") == ue_kind::pedestrian);
    CHECK(granularity_from_string("5g_ap") == granularity::ap_5g);
    CHECK_FALSE(granularity_from_string("5G"));
}

TEST_CASE("replay_dwell: a car across two 5G cells in two zones, stays known by hand", "[mec][viability]") {
    auto s = load_hand_made();
    const double step = 0.1;
    auto r = replay_dwell(s, {.loops = 2, .step_s = step});   // the car's loop is 80 s
    REQUIRE_OK(r);
    CHECK(r->scenario == "hand");
    CHECK(r->duration_s == Approx(160).epsilon(1e-6));

    // The car's complete stays, by level.
    check_lengths(r->seconds_of("car", granularity::ap_5g), {20, 10, 20, 10}, step);
    check_lengths(r->seconds_of("car", granularity::ap_4g), {25, 25, 25}, step);
    check_lengths(r->seconds_of("car", granularity::any_ap), {20, 25, 10, 25, 20, 25, 10}, step);
    check_lengths(r->seconds_of("car", granularity::zone), {10, 70, 10}, step);
    CHECK(r->seconds_of("car", granularity::ap_wifi).empty());

    auto five = r->stats(ue_kind::vehicle, granularity::ap_5g);
    CHECK(five.count == 4);
    CHECK(five.censored == 0);
    CHECK(five.mean_s == Approx(15).margin(step));
    CHECK(five.min_s == Approx(10).margin(step));
    CHECK(five.max_s == Approx(20).margin(step));
    CHECK(five.median_s == Approx(15).margin(step));       // between 10 and 20
    CHECK(five.p5_s == Approx(10).margin(step));            // linear between the closest ranks
    auto zone = r->stats(ue_kind::vehicle, granularity::zone);
    CHECK(zone.count == 3);
    CHECK(zone.mean_s == Approx(30).margin(step));
    CHECK(zone.min_s == Approx(10).margin(step));
    CHECK(zone.median_s == Approx(10).margin(step));

    // Censoring: the m4g stay the car starts on and the one it ends on are kept but flagged,
    // and left out of the figures; likewise its first and last zone stays.
    auto any = r->stats(ue_kind::vehicle, granularity::any_ap);
    CHECK(any.count == 7);
    CHECK(any.censored == 2);
    CHECK(zone.censored == 2);
    std::vector<stay> car;
    for (auto& st : r->stays)
        if (st.ue == "car" && st.at(granularity::any_ap)) car.push_back(st);
    REQUIRE(car.size() == 9);
    CHECK(car.front().where == "m4g");
    CHECK(car.front().censored);
    CHECK(car.front().start_s == 0);
    CHECK(car.front().end_s == Approx(10).margin(step));
    CHECK(car.back().where == "m4g");
    CHECK(car.back().censored);
    CHECK(car.back().end_s == Approx(160).epsilon(1e-6));
    CHECK(car[1].where == "a5g");
    CHECK(car[1].level == granularity::ap_5g);
    CHECK(car[3].where == "b5g");
    for (std::size_t i = 1; i + 1 < car.size(); ++i) CHECK_FALSE(car[i].censored);
    for (std::size_t i = 1; i < car.size(); ++i) CHECK(car[i].start_s == car[i - 1].end_s);   // back to back

    // The pedestrian never leaves a5g, the camera never leaves b5g: only censored stays.
    auto walker = r->stats(ue_kind::pedestrian, granularity::ap_5g);
    CHECK(walker.count == 0);
    CHECK(walker.censored == 1);
    CHECK(walker.mean_s == 0);
    CHECK(r->stats(ue_kind::stationary, granularity::any_ap).count == 0);
    CHECK(r->stats(ue_kind::stationary, granularity::zone).censored == 1);
}

TEST_CASE("replay_dwell: an explicit duration, and a stay still open at the end is censored", "[mec][viability]") {
    auto s = load_hand_made();
    // Ends at 60 s: on b5g since 55 s, so that stay is censored; a5g [10,30) is complete.
    auto r = replay_dwell(s, {.duration_s = 60, .step_s = 0.5});
    REQUIRE_OK(r);
    CHECK(r->duration_s == 60);
    check_lengths(r->seconds_of("car", granularity::ap_5g), {20}, 0.5);
    check_lengths(r->seconds_of("car", granularity::ap_4g), {25}, 0.5);
    CHECK(r->stats_of("car", granularity::ap_5g).censored == 1);
    CHECK(r->seconds_of("car", granularity::zone).empty());   // z1 from the start, z2 to the end
    CHECK(r->stats_of("car", granularity::zone).censored == 2);
}

TEST_CASE("replay_dwell: bad options are refused naming the field", "[mec][viability]") {
    auto s = load_hand_made();
    auto bad = replay_dwell(s, {.step_s = 0});
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("step_s"));
    bad = replay_dwell(s, {.loops = -1});
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("loops"));

    json still = hand_made();
    auto& ues = still["deployment"]["domains"][0]["zones"][0]["networkLocations"][0]["physicalLocations"];
    for (auto& u : ues) u["geoData"].erase("path");
    auto nobody_moves = scenario::parse(still, "still.json");
    REQUIRE_OK(nobody_moves);
    bad = replay_dwell(*nobody_moves, {});
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("no UE moves"));
    CHECK(replay_dwell(*nobody_moves, {.duration_s = 10}).has_value());
}

TEST_CASE("viable_shares: the stays at least as long as pre-relocation + relocation", "[mec][viability]") {
    auto s = load_hand_made();
    auto r = replay_dwell(s, {.loops = 2, .step_s = 0.1});
    REQUIRE_OK(r);
    // 12 s in all (7 + 5): of the car's 5G stays {20, 10, 20, 10}, two; of its zone stays
    // {10, 70, 10}, one. The relocation alone (5 s) fits in every one of them.
    std::vector<migration_time> times = {
        {.method = "slow", .workload = "a3", .link = "normal", .prepare_ms = 7000, .relocate_ms = 5000, .runs = 1, .ok = 1},
        {.method = "quick", .workload = "a1", .link = "normal", .prepare_ms = 100, .relocate_ms = 400, .runs = 1, .ok = 1}};
    auto shares = viable_shares(*r, times);
    auto find = [&](const std::string& method, ue_kind k, granularity g) -> const viable_share* {
        for (auto& v : shares)
            if (v.time.method == method && v.kind == k && v.level == g) return &v;
        return nullptr;
    };
    auto* five = find("slow", ue_kind::vehicle, granularity::ap_5g);
    REQUIRE(five);
    CHECK(five->stays == 4);
    CHECK(five->long_enough == 2);
    CHECK(five->share() == Approx(0.5));
    CHECK(five->long_enough_relocation == 4);
    CHECK(five->share_relocation() == 1.0);
    auto* zone = find("slow", ue_kind::vehicle, granularity::zone);
    REQUIRE(zone);
    CHECK(zone->stays == 3);
    CHECK(zone->share() == Approx(1.0 / 3));
    auto* any = find("slow", ue_kind::vehicle, granularity::any_ap);
    REQUIRE(any);
    CHECK(any->long_enough == 5);   // all but the two 10 s stays on b5g
    CHECK(any->stays == 7);
    auto* quick = find("quick", ue_kind::vehicle, granularity::ap_5g);
    REQUIRE(quick);
    CHECK(quick->share() == 1.0);
    // No complete stay, no row: the pedestrian and the camera have none; the car no WiFi.
    CHECK_FALSE(find("slow", ue_kind::pedestrian, granularity::ap_5g));
    CHECK_FALSE(find("slow", ue_kind::stationary, granularity::any_ap));
    CHECK_FALSE(find("slow", ue_kind::vehicle, granularity::ap_wifi));
}

TEST_CASE("parse_grid_report: bench_thesis_grid's medians, failed cells skipped, bad fields named", "[mec][viability]") {
    json doc = {{"medians", json::array({
                    {{"method", "checkpoint"}, {"workload", "a3"}, {"link", "normal"}, {"runs", 3}, {"ok", 3},
                     {"prepare_ms", 284.5}, {"relocate_ms", 966}, {"downtime_ms", 956}},
                    {{"method", "shared_fs"}, {"workload", "a3"}, {"link", "normal"}, {"runs", 3}, {"ok", 0},
                     {"prepare_ms", 0}, {"relocate_ms", 0}},
                })}};
    auto times = parse_grid_report(doc, "grid.json");
    REQUIRE_OK(times);
    REQUIRE(times->size() == 1);
    auto& t = times->front();
    CHECK(t.method == "checkpoint");
    CHECK(t.workload == "a3");
    CHECK(t.link == "normal");
    CHECK(t.ok == 3);
    CHECK(t.total_s() == Approx(1.2505));

    doc["medians"][0]["relocate_ms"] = "fast";
    auto bad = parse_grid_report(doc, "grid.json");
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("grid.json") && Catch::Contains("/medians/0/relocate_ms"));
    bad = parse_grid_report(json{{"runs", json::array()}}, "other.json");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("/medians"));
    CHECK(load_grid_report(data_dir / "no-such-grid.json").error_code() == error::io_error);
}

TEST_CASE("replay_dwell on Monaco: vehicles and pedestrians, sane stays", "[mec][viability][monaco]") {
    auto s = scenario::load(data_dir / "monaco-4g-5g-wifi-macro.json");
    REQUIRE_OK(s);
    std::map<ue_kind, int> kinds;
    for (auto& u : s->ues()) ++kinds[kind_of(u)];
    CHECK(kinds[ue_kind::vehicle] == 2);      // 10.100.0.x, 20 m/s
    CHECK(kinds[ue_kind::pedestrian] == 2);   // 10.10.0.x, 9 m/s
    CHECK(kinds[ue_kind::stationary] == 2);   // the cameras 10.1.0.x

    const double step = 0.5;
    auto r = replay_dwell(*s, {.loops = 2, .step_s = step});
    REQUIRE_OK(r);
    for (auto k : {ue_kind::vehicle, ue_kind::pedestrian}) {
        INFO(to_string(k));
        auto five = r->stats(k, granularity::ap_5g);
        auto any = r->stats(k, granularity::any_ap);
        auto zone = r->stats(k, granularity::zone);
        REQUIRE(five.count > 0);
        REQUIRE(zone.count > 0);
        // A zone holds several access points: staying in it lasts longer than on one cell.
        CHECK(zone.mean_s > any.mean_s);
        CHECK(zone.count < any.count);
        // The replay is at least two loops: the few censored stays are at the two ends only.
        CHECK(any.censored <= 2 * std::size_t(kinds[k]));
        CHECK(any.count == r->stats(k, granularity::ap_4g).count + five.count + r->stats(k, granularity::ap_wifi).count);
        CHECK(five.min_s >= step);
        CHECK(five.min_s <= five.p5_s);
        CHECK(five.p5_s <= five.median_s);
        CHECK(five.median_s <= five.max_s);
    }
    // At less than half the speed, a pedestrian stays longer on a 5G cell than a vehicle.
    CHECK(r->stats(ue_kind::pedestrian, granularity::ap_5g).mean_s > r->stats(ue_kind::vehicle, granularity::ap_5g).mean_s);
    // The cameras never move: nothing complete.
    CHECK(r->stats(ue_kind::stationary, granularity::any_ap).count == 0);

    // Per UE, access point stays follow one another without overlapping, within the replay.
    for (auto& u : s->ues()) {
        double last_end = 0;
        for (auto& st : r->stays) {
            if (st.ue != u.name || !st.at(granularity::any_ap)) continue;
            CHECK(st.start_s >= last_end);
            CHECK(st.end_s <= r->duration_s);
            CHECK(st.end_s > st.start_s);
            last_end = st.end_s;
        }
    }
}
