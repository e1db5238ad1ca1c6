// migrate/report.hpp — `migration_report`: what a migration did, how long each phase took,
// how many bytes each moved, the downtime a client saw, and which state was verified.
#pragma once

#include <migrate/events.hpp>
#include <migrate/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace migrate {

/// One finished phase.
struct phase_timing {
    enum phase phase = phase::prepare;
    std::string detail;
    double duration_ms = 0;
    std::uint64_t bytes = 0;
    bool ok = true;
    /// The enclosing stage, `prepare` (pre-relocation) or `relocate` (the downtime), for a
    /// phase nested in one; empty for the stages themselves and for phases outside both.
    std::optional<enum phase> stage;
};

/// Downtime as measured from outside by a client probing the service (never by adding up
/// our own phase timers): last success on the source to first success on the target.
struct downtime_measurement {
    double downtime_ms = 0;
    double probe_interval_ms = 0;   ///< resolution of the measurement
    std::uint64_t probes = 0;       ///< requests sent
    std::uint64_t failures = 0;     ///< requests that got no correct answer
    std::string method;             ///< e.g. "memcached get every 5 ms from the client side"
};

/// One piece of state checked after the move, e.g. "memcached keys": 1000 of 1000.
struct state_check {
    std::string what;
    std::uint64_t expected = 0;
    std::uint64_t found = 0;
    bool ok() const noexcept { return found == expected; }
};

struct migration_report {
    std::string strategy;            ///< e.g. "checkpoint"
    std::string subject;             ///< container or service name
    std::string source;              ///< source host name
    std::string target;              ///< target host name
    std::string started_at;          ///< UTC, ISO 8601
    bool success = false;
    std::string error;               ///< "code: message" when !success
    bool rolled_back = false;        ///< a failure was undone and the source serves (again)
    std::vector<phase_timing> phases;
    std::optional<downtime_measurement> downtime;
    std::vector<state_check> state;
    json details = json::object();   ///< diagnostics: daemon answers, log tails, ...

    /// Sum of the durations of phases of kind `p`.
    double total_ms(enum phase p) const;
    /// Sum of the bytes moved in phases of kind `p`.
    std::uint64_t total_bytes(enum phase p) const;
    /// The same, only for phases nested in `stage` (e.g. transfer within relocate).
    double total_ms(enum phase p, enum phase stage) const;
    std::uint64_t total_bytes(enum phase p, enum phase stage) const;
    /// True when every state check found all it expected.
    bool state_intact() const;
    /// A human-readable multi-line rendering (what `migratectl` prints).
    std::string to_text() const;
};

void to_json(json& j, const phase_timing& t);
void from_json(const json& j, phase_timing& t);
void to_json(json& j, const downtime_measurement& d);
void from_json(const json& j, downtime_measurement& d);
void to_json(json& j, const state_check& c);
void from_json(const json& j, state_check& c);
void to_json(json& j, const migration_report& r);
void from_json(const json& j, migration_report& r);

/// Collects phase `end` events into `report.phases`. Attach with `hooks.on_event = rec`.
class report_recorder {
public:
    explicit report_recorder(migration_report& r) : report_(&r) {}
    void operator()(const phase_event& e);
private:
    migration_report* report_;
    std::vector<phase_event> open_;
};

/// Current UTC time as ISO 8601 ("2026-11-22T19:40:00Z").
std::string utc_now_iso8601();

}  // namespace migrate
