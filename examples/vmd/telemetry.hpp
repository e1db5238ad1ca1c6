// examples/vmd/telemetry.hpp — the OBD-II record a mobile device (a car) sends to its
// digital twin, as in the MIGRATE paper (IEEE Access 2020): where the car is, how its engine
// runs, what it burns and emits; plus a deterministic generator of such records for the
// device simulator (a car driving a route).
//
// Units and ranges follow the OBD-II PIDs the values come from (SAE J1979): a value outside
// its PID's range is refused with a message naming the field, so a twin never stores what
// no car could have sent.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::vmd {

/// The engine's fuel (fixes the CO2 per litre and, for hybrids, idling with the engine off).
enum class engine_type { gasoline, diesel, hybrid };
std::string_view format_as(engine_type t) noexcept;
/// `invalid_argument` naming `field` for anything but "gasoline", "diesel", "hybrid".
result<engine_type> parse_engine_type(std::string_view text, std::string_view field = "engine_type");

/// One telemetry record. JSON names are in brackets.
struct telemetry {
    std::string device;                  ///< [device] 1-64 of A-Z a-z 0-9 . _ -
    std::uint64_t seq = 1;               ///< [seq] per device, from 1, +1 per record sent
    std::int64_t timestamp_ms = 0;       ///< [timestamp_ms] Unix time of the reading, ms
    double latitude = 0;                 ///< [lat] GPS, degrees, -90..90
    double longitude = 0;                ///< [lon] GPS, degrees, -180..180
    double speed_kmh = 0;                ///< [speed_kmh] PID 0D, 0..255 km/h
    double rpm = 0;                      ///< [rpm] PID 0C, 0..16383.75 1/min
    double coolant_c = 0;                ///< [coolant_c] engine coolant, PID 05, -40..215 °C
    double maf_gps = 0;                  ///< [maf_gps] mass air flow, PID 10, 0..655.35 g/s
    std::uint32_t warmups = 0;           ///< [warmups] warm-ups since codes cleared, PID 30, 0..255
    engine_type engine = engine_type::gasoline;   ///< [engine_type]
    double distance_km = 0;              ///< [distance_km] since codes cleared, PID 31, 0..65535 km
    double intake_kpa = 0;               ///< [intake_kpa] intake manifold abs. pressure, PID 0B, 0..255 kPa
    double throttle_pct = 0;             ///< [throttle_pct] PID 11, 0..100 %
    double load_pct = 0;                 ///< [load_pct] calculated engine load, PID 04, 0..100 %
    double fuel_lph = 0;                 ///< [fuel_lph] fuel rate, PID 5E, 0..3212.75 L/h
    double co2_gps = 0;                  ///< [co2_gps] CO2 emitted, g/s, >= 0 (from the fuel rate)

    /// `invalid_argument` naming the first field out of range ("telemetry.speed_kmh: 300 is
    /// outside 0..255 km/h (OBD-II PID 0D)").
    result<void> validate() const;
    bool operator==(const telemetry&) const = default;
};

/// Every field, under the names above.
void to_json(json& j, const telemetry& t);
std::string to_json_text(const telemetry& t);
/// A record from JSON: every field present with the right type, no unknown field, each in
/// range; otherwise `invalid_argument` naming the field ("telemetry.rpm: missing").
result<telemetry> telemetry_from_json(const json& j);
/// Same from text; malformed JSON is `invalid_argument` with the parser's position.
result<telemetry> parse_telemetry(std::string_view text);

/// `invalid_argument` naming `field` unless `id` is 1-64 of A-Z a-z 0-9 . _ - (it becomes
/// part of a store key).
result<void> validate_device_id(std::string_view id, std::string_view field = "device");

/// A point of a route (degrees) and the speed limit from it to the next point.
struct waypoint {
    double latitude = 0;
    double longitude = 0;
    double limit_kmh = 50;
    bool stop = false;   ///< a traffic light at this point: the car stops here for a while
};

/// What the generator drives.
struct generator_options {
    std::string device = "car-1";
    engine_type engine = engine_type::gasoline;
    std::uint64_t first_seq = 1;
    std::int64_t start_ms = 1'600'000'000'000;   ///< timestamp of the first record
    double period_ms = 10;                       ///< time between records (100 Hz)
    std::uint64_t seed = 1;                      ///< noise, stop lengths, odometer at start
    std::vector<waypoint> route = default_route();   ///< driven in a loop

    /// A loop of about 6 km through a city grid: 50 km/h streets, a 90 km/h ring stretch,
    /// three traffic lights.
    static std::vector<waypoint> default_route();
    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

/// A car driving `route` in a loop: accelerates and brakes within a car's limits, slows for
/// corners, stops at lights, warms its engine up; RPM, load, throttle, intake pressure, air
/// flow, fuel and CO2 follow from speed and acceleration. Deterministic: the same options give
/// the same records (bit for bit with the same standard library: the noise comes from
/// std::mt19937_64 through std::normal_distribution). Not thread-safe (one per device).
class telemetry_generator {
public:
    /// `invalid_argument` naming the option at fault.
    static result<telemetry_generator> make(generator_options o);
    telemetry_generator(telemetry_generator&&) noexcept;
    telemetry_generator& operator=(telemetry_generator&&) noexcept;
    ~telemetry_generator();

    /// The next record (seq and timestamp advance by one period).
    telemetry next();

private:
    struct state;
    explicit telemetry_generator(std::unique_ptr<state> s);
    std::unique_ptr<state> s_;
};

}  // namespace migrate::vmd
