#include "telemetry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace migrate::vmd {
namespace {

failure bad(std::string_view field, const std::string& why) {
    return make_failure(error::invalid_argument, fmt::format("telemetry.{}: {}", field, why));
}

// One numeric field: its JSON name, where it lives in the record, its OBD-II range.
struct numeric_field {
    const char* name;
    double telemetry::*member;
    double min;
    double max;
    const char* unit;
    const char* source;
};

constexpr numeric_field numeric_fields[] = {
    {"lat", &telemetry::latitude, -90, 90, "degrees", "GPS"},
    {"lon", &telemetry::longitude, -180, 180, "degrees", "GPS"},
    {"speed_kmh", &telemetry::speed_kmh, 0, 255, "km/h", "OBD-II PID 0D"},
    {"rpm", &telemetry::rpm, 0, 16383.75, "1/min", "OBD-II PID 0C"},
    {"coolant_c", &telemetry::coolant_c, -40, 215, "°C", "OBD-II PID 05"},
    {"maf_gps", &telemetry::maf_gps, 0, 655.35, "g/s", "OBD-II PID 10"},
    {"distance_km", &telemetry::distance_km, 0, 65535, "km", "OBD-II PID 31"},
    {"intake_kpa", &telemetry::intake_kpa, 0, 255, "kPa", "OBD-II PID 0B"},
    {"throttle_pct", &telemetry::throttle_pct, 0, 100, "%", "OBD-II PID 11"},
    {"load_pct", &telemetry::load_pct, 0, 100, "%", "OBD-II PID 04"},
    {"fuel_lph", &telemetry::fuel_lph, 0, 3212.75, "L/h", "OBD-II PID 5E"},
    // The most fuel an OBD-II rate can say, all of it diesel: an upper bound, not a PID.
    {"co2_gps", &telemetry::co2_gps, 0, 3212.75 / 3600 * 2640, "g/s", "from the fuel rate"},
};

constexpr const char* integer_fields[] = {"seq", "timestamp_ms", "warmups"};

// Grams of CO2 per litre burnt (complete combustion; the usual inventory factors).
double co2_per_litre(engine_type e) { return e == engine_type::diesel ? 2640.0 : 2392.0; }

}  // namespace

std::string_view format_as(engine_type t) noexcept {
    switch (t) {
    case engine_type::gasoline: return "gasoline";
    case engine_type::diesel: return "diesel";
    case engine_type::hybrid: return "hybrid";
    }
    return "unknown";
}

result<engine_type> parse_engine_type(std::string_view text, std::string_view field) {
    for (auto e : {engine_type::gasoline, engine_type::diesel, engine_type::hybrid})
        if (text == format_as(e)) return e;
    return make_failure(error::invalid_argument,
                        fmt::format("{}: '{}' is not an engine type (gasoline, diesel, hybrid)", field, text));
}

result<void> validate_device_id(std::string_view id, std::string_view field) {
    auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    };
    if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), allowed))
        return make_failure(error::invalid_argument,
                            fmt::format("{}: '{}' must be 1-64 characters of A-Z a-z 0-9 . _ -", field, id));
    return ok();
}

result<void> telemetry::validate() const {
    if (auto v = validate_device_id(device, "telemetry.device"); !v) return v;
    if (seq == 0) return bad("seq", "must be >= 1 (0 means no record)");
    if (timestamp_ms < 0) return bad("timestamp_ms", fmt::format("{} is before 1970", timestamp_ms));
    for (auto& f : numeric_fields) {
        double v = this->*f.member;
        if (!std::isfinite(v) || v < f.min || v > f.max)
            return bad(f.name, fmt::format("{} is outside {}..{} {} ({})", v, f.min, f.max, f.unit, f.source));
    }
    if (warmups > 255) return bad("warmups", fmt::format("{} is outside 0..255 (OBD-II PID 30)", warmups));
    return ok();
}

void to_json(json& j, const telemetry& t) {
    j = json{{"device", t.device},       {"seq", t.seq},      {"timestamp_ms", t.timestamp_ms},
             {"warmups", t.warmups},     {"engine_type", std::string(format_as(t.engine))}};
    for (auto& f : numeric_fields) j[f.name] = t.*f.member;
}

std::string to_json_text(const telemetry& t) { return json(t).dump(); }

result<telemetry> telemetry_from_json(const json& j) {
    if (!j.is_object()) return bad("", fmt::format("expected an object, got {}", j.type_name()));
    telemetry t;
    auto field = [&](const char* name) -> result<const json*> {
        auto it = j.find(name);
        if (it == j.end()) return bad(name, "missing");
        return &*it;
    };
    auto text = field("device");
    if (!text) return text.error();
    if (!(*text)->is_string()) return bad("device", fmt::format("expected a string, got {}", (*text)->type_name()));
    t.device = (*text)->get<std::string>();
    auto engine = field("engine_type");
    if (!engine) return engine.error();
    if (!(*engine)->is_string())
        return bad("engine_type", fmt::format("expected a string, got {}", (*engine)->type_name()));
    auto e = parse_engine_type((*engine)->get<std::string>(), "telemetry.engine_type");
    if (!e) return e.error();
    t.engine = *e;
    for (const char* name : integer_fields) {
        auto v = field(name);
        if (!v) return v.error();
        const json& n = **v;
        if (!n.is_number_integer()) return bad(name, fmt::format("expected an integer, got {} ({})", n.type_name(), n.dump()));
        if (!n.is_number_unsigned() && n.get<std::int64_t>() < 0) return bad(name, fmt::format("{} is negative", n.dump()));
        auto u = n.get<std::uint64_t>();
        if (std::string_view(name) == "seq") t.seq = u;
        else if (std::string_view(name) == "timestamp_ms") {
            if (u > static_cast<std::uint64_t>(INT64_MAX)) return bad(name, fmt::format("{} is too large", u));
            t.timestamp_ms = static_cast<std::int64_t>(u);
        } else {
            if (u > 255) return bad(name, fmt::format("{} is outside 0..255 (OBD-II PID 30)", u));
            t.warmups = static_cast<std::uint32_t>(u);
        }
    }
    for (auto& f : numeric_fields) {
        auto v = field(f.name);
        if (!v) return v.error();
        if (!(*v)->is_number()) return bad(f.name, fmt::format("expected a number, got {}", (*v)->type_name()));
        t.*f.member = (*v)->get<double>();
    }
    std::size_t known = std::size(numeric_fields) + std::size(integer_fields) + 2;
    if (j.size() != known)
        for (auto& [k, v] : j.items()) {
            bool found = k == "device" || k == "engine_type";
            for (auto* n : integer_fields) found = found || k == n;
            for (auto& f : numeric_fields) found = found || k == f.name;
            if (!found) return bad(k, "unknown field");
        }
    if (auto v = t.validate(); !v) return v.error();
    return t;
}

result<telemetry> parse_telemetry(std::string_view text) {
    auto j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) {
        // Parse again with exceptions for the parser's position in the message.
        try {
            auto again = json::parse(text.begin(), text.end());
            (void)again;
        } catch (const json::exception& e) {
            return make_failure(error::invalid_argument, fmt::format("telemetry: not JSON: {}", e.what()));
        }
    }
    return telemetry_from_json(j);
}

// ---- the generator ----------------------------------------------------------------------------

std::vector<waypoint> generator_options::default_route() {
    // A city block loop with a faster stretch on the ring road (about 6 km per lap).
    return {{40.6405, -8.6538, 50, true},  {40.6442, -8.6480, 50, false}, {40.6480, -8.6395, 90, false},
            {40.6455, -8.6260, 90, false}, {40.6390, -8.6215, 50, true},  {40.6330, -8.6290, 50, false},
            {40.6320, -8.6410, 50, true},  {40.6360, -8.6500, 50, false}};
}

result<void> generator_options::validate() const {
    auto no = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("generator_options.{}: {}", field, why));
    };
    if (auto v = validate_device_id(device, "generator_options.device"); !v) return v;
    if (first_seq == 0) return no("first_seq", "must be >= 1");
    if (start_ms < 0) return no("start_ms", "must not be negative");
    if (!(period_ms > 0) || period_ms > 3'600'000) return no("period_ms", fmt::format("{} must be in (0, 3600000]", period_ms));
    if (route.size() < 2) return no("route", "needs at least two waypoints");
    for (std::size_t i = 0; i < route.size(); ++i) {
        auto& w = route[i];
        if (!(std::abs(w.latitude) <= 90) || !(std::abs(w.longitude) <= 180))
            return no("route", fmt::format("waypoint {}: ({}, {}) is not a position", i, w.latitude, w.longitude));
        if (!(w.limit_kmh >= 10 && w.limit_kmh <= 200))
            return no("route", fmt::format("waypoint {}: limit {} km/h must be in 10..200", i, w.limit_kmh));
        auto& n = route[(i + 1) % route.size()];
        if (w.latitude == n.latitude && w.longitude == n.longitude)
            return no("route", fmt::format("waypoints {} and {} are the same point", i, (i + 1) % route.size()));
    }
    return ok();
}

struct telemetry_generator::state {
    generator_options o;
    std::mt19937_64 rng;
    std::normal_distribution<double> noise{0.0, 1.0};
    std::uint64_t seq;
    std::uint64_t step = 0;
    std::size_t segment = 0;     // driving from route[segment] to route[segment + 1]
    double along_m = 0;          // metres into the segment
    double speed_ms = 0;
    double stopped_s = 0;        // time left standing at a light
    double coolant_c = 18;       // a cold start at ambient temperature
    double coolant_start_c = 18;
    bool warmup_counted = false;
    std::uint32_t warmups;
    double distance_km;
    int gear = 1;

    explicit state(generator_options opts)
        : o(std::move(opts)), rng(o.seed), seq(o.first_seq),
          warmups(static_cast<std::uint32_t>(o.seed % 40)), distance_km(800.0 + static_cast<double>(o.seed % 9000)) {}

    double segment_length_m(std::size_t i) const {
        auto& a = o.route[i];
        auto& b = o.route[(i + 1) % o.route.size()];
        constexpr double r = 6'371'000;
        double lat = (a.latitude + b.latitude) / 2 * std::numbers::pi / 180;
        double dx = (b.longitude - a.longitude) * std::numbers::pi / 180 * std::cos(lat) * r;
        double dy = (b.latitude - a.latitude) * std::numbers::pi / 180 * r;
        return std::hypot(dx, dy);
    }

    // Moves the car by one period; returns its acceleration (m/s²).
    double drive(double dt) {
        if (stopped_s > 0) {
            stopped_s -= dt;
            speed_ms = 0;
            return 0;
        }
        auto& to = o.route[(segment + 1) % o.route.size()];
        double limit = o.route[segment].limit_kmh / 3.6;
        double left = segment_length_m(segment) - along_m;
        // The speed we may have here to still stop (light) or slow to 20 km/h (corner) at the
        // end of the segment with 2.5 m/s² of braking.
        double end_speed = to.stop ? 0.0 : 20 / 3.6;
        double brake_limit = std::sqrt(end_speed * end_speed + 2 * 2.5 * std::max(left - 2, 0.0));
        double target = std::min(limit, brake_limit);
        double accel = std::clamp((target - speed_ms) / dt, -3.0, 2.2);
        accel += 0.05 * noise(rng);
        speed_ms = std::max(0.0, speed_ms + accel * dt);
        double moved = speed_ms * dt;
        along_m += moved;
        distance_km = std::min(65535.0, distance_km + moved / 1000);
        // At a light the car halts about 2 m before the line (the braking target above).
        if (along_m >= segment_length_m(segment) || (to.stop && left < 3.0 && speed_ms < 0.3)) {
            along_m = 0;
            segment = (segment + 1) % o.route.size();
            if (to.stop) {
                speed_ms = 0;
                std::uniform_real_distribution<double> wait(5.0, 25.0);
                stopped_s = wait(rng);
            }
        }
        return accel;
    }

    telemetry record(double accel, double dt) {
        telemetry t;
        t.device = o.device;
        t.seq = seq;
        t.timestamp_ms = o.start_ms + static_cast<std::int64_t>(std::llround(static_cast<double>(step) * o.period_ms));
        auto& a = o.route[segment];
        auto& b = o.route[(segment + 1) % o.route.size()];
        double f = std::clamp(along_m / segment_length_m(segment), 0.0, 1.0);
        t.latitude = a.latitude + (b.latitude - a.latitude) * f + 2e-6 * noise(rng);
        t.longitude = a.longitude + (b.longitude - a.longitude) * f + 2e-6 * noise(rng);
        t.engine = o.engine;
        double kmh = speed_ms * 3.6;
        t.speed_kmh = std::clamp(kmh, 0.0, 255.0);

        // Gears change up at these speeds (km/h); revs per km/h in each gear.
        static constexpr double up[] = {0, 18, 32, 50, 68, 1e9};
        static constexpr double revs_per_kmh[] = {0, 110, 65, 45, 34, 27};
        while (kmh > up[gear] && gear < 5) ++gear;
        while (gear > 1 && kmh < up[gear - 1] - 4) --gear;
        bool engine_off = o.engine == engine_type::hybrid && kmh < 25 && accel < 1.0;   // electric at low speed
        double idle = 780 + 15 * noise(rng);
        double rpm = engine_off ? 0 : std::max(idle, kmh * revs_per_kmh[gear]);
        t.rpm = std::clamp(rpm, 0.0, 16383.75);

        bool coasting = accel < -0.3;   // fuel cut on the overrun
        double load = engine_off ? 0
                      : coasting ? 8 + 2 * std::abs(noise(rng))
                                 : std::clamp(18 + 0.25 * kmh + 22 * std::max(accel, 0.0) + 2 * noise(rng), 12.0, 100.0);
        t.load_pct = load;
        t.throttle_pct = engine_off || coasting ? 0 : std::clamp(0.7 * load - 5 + noise(rng), 0.0, 100.0);
        t.intake_kpa = engine_off ? 101 : std::clamp(28 + 0.72 * load + noise(rng), 20.0, 105.0);
        // A 1.6 L four-stroke: air per minute = rpm/2 * displacement * density * fill.
        t.maf_gps = std::clamp(t.rpm / 120 * 1.6 * 1.2 * (load / 100), 0.0, 655.35);
        double air_per_fuel = o.engine == engine_type::diesel ? 22.0 : 14.7;
        double fuel_density = o.engine == engine_type::diesel ? 832.0 : 745.0;   // g/L
        t.fuel_lph = coasting ? 0 : std::clamp(t.maf_gps / air_per_fuel / fuel_density * 3600, 0.0, 3212.75);
        t.co2_gps = t.fuel_lph / 3600 * co2_per_litre(o.engine);

        // The coolant approaches 90 °C, faster the harder the engine works; a warm-up (PID 30)
        // is a rise of 22 °C that reaches at least 70 °C.
        if (!engine_off) coolant_c += (90 - coolant_c) * dt / 240 * (0.5 + load / 100);
        t.coolant_c = std::clamp(coolant_c, -40.0, 215.0);
        if (!warmup_counted && coolant_c >= 70 && coolant_c - coolant_start_c >= 22) {
            warmup_counted = true;
            warmups = std::min<std::uint32_t>(255, warmups + 1);
        }
        t.warmups = warmups;
        t.distance_km = distance_km;
        return t;
    }
};

result<telemetry_generator> telemetry_generator::make(generator_options o) {
    if (auto v = o.validate(); !v) return v.error();
    return telemetry_generator(std::make_unique<state>(std::move(o)));
}

telemetry_generator::telemetry_generator(std::unique_ptr<state> s) : s_(std::move(s)) {}
telemetry_generator::telemetry_generator(telemetry_generator&&) noexcept = default;
telemetry_generator& telemetry_generator::operator=(telemetry_generator&&) noexcept = default;
telemetry_generator::~telemetry_generator() = default;

telemetry telemetry_generator::next() {
    double dt = s_->o.period_ms / 1000;
    double accel = s_->drive(dt);
    auto t = s_->record(accel, dt);
    ++s_->seq;
    ++s_->step;
    return t;
}

}  // namespace migrate::vmd
