// The vehicular example's record and device state (examples/vmd): JSON both ways, validation
// that names the field, the generator's drive, and how records change a device's state.
#include "../require_ok.hpp"

#include "device_state.hpp"
#include "telemetry.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace migrate;
using namespace migrate::vmd;

namespace {

telemetry sample(std::uint64_t seq = 7) {
    auto g = telemetry_generator::make({.device = "car-9", .engine = engine_type::diesel, .first_seq = seq, .seed = 3});
    REQUIRE_OK(g);
    return g->next();
}

// The message of a refused document, which must name `field`.
std::string refusal(const json& j) {
    auto t = telemetry_from_json(j);
    REQUIRE_FALSE(t);
    CHECK(t.error_code() == error::invalid_argument);
    return t.error().message;
}

}  // namespace

TEST_CASE("vmd telemetry: a record survives JSON and text round trips exactly", "[vmd][telemetry]") {
    auto t = sample();
    REQUIRE_OK(t.validate());
    json j = t;
    for (const char* f : {"device", "seq", "timestamp_ms", "lat", "lon", "speed_kmh", "rpm", "coolant_c", "maf_gps", "warmups",
                          "engine_type", "distance_km", "intake_kpa", "throttle_pct", "load_pct", "fuel_lph", "co2_gps"})
        CHECK(j.contains(f));
    CHECK(j.size() == 17);
    CHECK(j["engine_type"] == "diesel");
    auto back = telemetry_from_json(j);
    REQUIRE_OK(back);
    CHECK(*back == t);
    auto parsed = parse_telemetry(to_json_text(t));
    REQUIRE_OK(parsed);
    CHECK(*parsed == t);
}

TEST_CASE("vmd telemetry: a bad record is refused naming the field", "[vmd][telemetry]") {
    json good = sample();
    auto with = [&](const char* field, json v) {
        json j = good;
        j[field] = std::move(v);
        return j;
    };
    CHECK_THAT(refusal(with("speed_kmh", 300.0)), Catch::Contains("telemetry.speed_kmh") && Catch::Contains("0..255"));
    CHECK_THAT(refusal(with("rpm", -1.0)), Catch::Contains("telemetry.rpm"));
    CHECK_THAT(refusal(with("coolant_c", 216)), Catch::Contains("telemetry.coolant_c"));
    CHECK_THAT(refusal(with("lat", 91.0)), Catch::Contains("telemetry.lat"));
    CHECK_THAT(refusal(with("throttle_pct", "50")), Catch::Contains("telemetry.throttle_pct") && Catch::Contains("number"));
    CHECK_THAT(refusal(with("seq", 0)), Catch::Contains("telemetry.seq"));
    CHECK_THAT(refusal(with("seq", 1.5)), Catch::Contains("telemetry.seq") && Catch::Contains("integer"));
    CHECK_THAT(refusal(with("timestamp_ms", -5)), Catch::Contains("telemetry.timestamp_ms"));
    CHECK_THAT(refusal(with("warmups", 256)), Catch::Contains("telemetry.warmups"));
    CHECK_THAT(refusal(with("engine_type", "steam")), Catch::Contains("telemetry.engine_type") && Catch::Contains("steam"));
    CHECK_THAT(refusal(with("device", "car 1")), Catch::Contains("telemetry.device"));
    CHECK_THAT(refusal(with("device", std::string(65, 'x'))), Catch::Contains("telemetry.device"));
    CHECK_THAT(refusal(with("sped_kmh", 5)), Catch::Contains("telemetry.sped_kmh") && Catch::Contains("unknown"));
    json missing = good;
    missing.erase("maf_gps");
    CHECK_THAT(refusal(missing), Catch::Contains("telemetry.maf_gps: missing"));
    CHECK_THAT(refusal(json::array()), Catch::Contains("object"));
    auto text = parse_telemetry(R"({"device": "car-1", "seq": )");
    REQUIRE_FALSE(text);
    CHECK_THAT(text.error().message, Catch::Contains("not JSON"));
}

TEST_CASE("vmd generator: the same options drive the same car; every record is valid and plausible",
          "[vmd][telemetry]") {
    generator_options o{.device = "car-1", .period_ms = 100, .seed = 11};
    auto a = telemetry_generator::make(o);
    auto b = telemetry_generator::make(o);
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    double max_speed = 0, max_coolant = 0, first_distance = 0, last_distance = 0;
    std::size_t standing = 0, moving = 0;
    std::set<std::pair<long, long>> places;   // ~100 m cells visited
    const std::size_t n = 20 * 60 * 10;          // 20 minutes at 10 Hz
    for (std::size_t i = 0; i < n; ++i) {
        auto t = a->next();
        REQUIRE(t == b->next());
        INFO("record " << i << ": " << to_json_text(t));
        REQUIRE_OK(t.validate());
        REQUIRE(t.seq == i + 1);
        REQUIRE(t.timestamp_ms == o.start_ms + static_cast<std::int64_t>(i) * 100);
        if (i == 0) first_distance = t.distance_km;
        last_distance = t.distance_km;
        max_speed = std::max(max_speed, t.speed_kmh);
        max_coolant = std::max(max_coolant, t.coolant_c);
        (t.speed_kmh < 0.5 ? standing : moving)++;
        places.insert({std::lround(t.latitude * 1000), std::lround(t.longitude * 1000)});
        // An engine at work burns fuel and emits CO2 in the gasoline ratio.
        if (t.fuel_lph > 0) REQUIRE(t.co2_gps == Approx(t.fuel_lph / 3600 * 2392));
    }
    CHECK(max_speed > 60);               // the ring road stretch
    CHECK(max_speed <= 95);
    CHECK(standing > n / 50);            // it stops at lights
    CHECK(moving > n / 2);
    CHECK(places.size() > 30);           // it goes around, not in place
    CHECK(last_distance - first_distance > 5);   // km in 20 minutes of town driving
    CHECK(max_coolant > 70);             // warmed up
    auto c = telemetry_generator::make({.device = "car-1", .period_ms = 100, .seed = 12});
    REQUIRE_OK(c);
    bool differs = false;
    auto d = telemetry_generator::make(o);
    for (int i = 0; i < 100 && !differs; ++i) differs = !(c->next() == d->next());
    CHECK(differs);   // another seed, another drive
}

TEST_CASE("vmd generator: bad options are refused naming the field", "[vmd][telemetry]") {
    auto refused = [](generator_options o, const char* field) {
        auto g = telemetry_generator::make(std::move(o));
        REQUIRE_FALSE(g);
        CHECK_THAT(g.error().message, Catch::Contains(field));
    };
    refused({.device = ""}, "generator_options.device");
    refused({.first_seq = 0}, "generator_options.first_seq");
    refused({.period_ms = 0}, "generator_options.period_ms");
    refused({.route = {{1, 1}}}, "generator_options.route");
    refused({.route = {{1, 1}, {1, 1}}}, "generator_options.route");
    refused({.route = {{1, 1}, {91, 1}}}, "generator_options.route");
}

TEST_CASE("vmd device state: newer records count, late ones fill gaps, duplicates change nothing", "[vmd][state]") {
    device_state s{.device = "car-9"};
    auto rec = [](std::uint64_t seq) {
        auto t = sample(seq);
        return t;
    };
    CHECK(apply_record(s, rec(1)) == record_outcome::counted);
    CHECK(apply_record(s, rec(2)) == record_outcome::counted);
    CHECK(apply_record(s, rec(2)) == record_outcome::duplicate);
    CHECK(apply_record(s, rec(6)) == record_outcome::counted);   // 3..5 are in flight still
    CHECK(s.gaps == std::vector<seq_range>{{3, 5}});
    CHECK(s.latest->seq == 6);
    CHECK(apply_record(s, rec(4)) == record_outcome::late);
    CHECK(s.gaps == std::vector<seq_range>{{3, 3}, {5, 5}});
    CHECK(apply_record(s, rec(4)) == record_outcome::duplicate);
    CHECK(apply_record(s, rec(3)) == record_outcome::late);
    CHECK(apply_record(s, rec(5)) == record_outcome::late);
    CHECK(s.gaps.empty());
    CHECK(s.count == 6);
    CHECK(s.last_seq == 6);
    CHECK(s.latest->seq == 6);   // late records never replace the latest
    CHECK(apply_record(s, rec(1)) == record_outcome::duplicate);
    CHECK(s.count == 6);

    // More gaps than kept: the oldest are given up, and a record from one counts as a duplicate.
    for (std::uint64_t i = 0; i < device_state::max_gaps + 2; ++i) apply_record(s, rec(8 + 2 * i));
    CHECK(s.gaps.size() == device_state::max_gaps);
    CHECK(apply_record(s, rec(7)) == record_outcome::duplicate);
    CHECK(apply_record(s, rec(9)) == record_outcome::duplicate);
    CHECK(apply_record(s, rec(s.last_seq - 1)) == record_outcome::late);
}

TEST_CASE("vmd device state: JSON round trip; a stored document that is not a state is refused naming the field",
          "[vmd][state]") {
    device_state s{.device = "car-9"};
    for (std::uint64_t seq : {1, 2, 5, 9}) apply_record(s, sample(seq));
    json j = s;
    auto back = device_state_from_json(j);
    REQUIRE_OK(back);
    CHECK(*back == s);
    auto text = parse_device_state(j.dump());
    REQUIRE_OK(text);
    CHECK(*text == s);
    auto empty = device_state_from_json(json(device_state{.device = "new-car"}));
    REQUIRE_OK(empty);
    CHECK(empty->count == 0);
    CHECK_FALSE(empty->latest);

    auto refused = [](json doc, const char* field) {
        auto r = device_state_from_json(doc);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains(field));
    };
    json bad = j;
    bad.erase("count");
    refused(bad, "device_state.count");
    bad = j;
    bad["gaps"] = json::array({json::array({4, 3})});
    refused(bad, "device_state.gaps");
    bad = j;
    bad["latest"]["seq"] = 8;
    refused(bad, "device_state.latest");
    bad = j;
    bad["latest"]["speed_kmh"] = 999;
    refused(bad, "device_state.latest");
    bad = j;
    bad["latest"] = nullptr;
    refused(bad, "device_state.latest");
    CHECK_FALSE(parse_device_state("{"));
}
