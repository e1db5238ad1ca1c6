// migrate/trigger.hpp — what decides when a service should move and where to.
//
// A trigger watches something (a switch's packet-ins, an ETSI MEC location or radio
// notification, a predicted path, a person at a keyboard) and emits `migration_decision`s;
// whoever consumes them runs the migration (a migrator or the replica pool) and the route
// switch. Implementations: include/migrate/trigger/ (`manual`, `sdn`, later the MEC ones).
#pragma once

#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace migrate {

/// "Move `subject`'s service from host `from` to host `to`, because `reason`."
struct migration_decision {
    std::string subject;                ///< the device/user (SDN: its MAC address)
    std::string from;                   ///< edge host serving it now; empty = unknown
    std::string to;                     ///< edge host that should serve it
    std::string reason;                 ///< for humans: "02:00:00:00:00:01 seen on port 2 (was 1)"
    json evidence = json::object();     ///< the trigger's own details (ports, addresses, zone...)
    steady_clock::time_point at = steady_clock::now();   ///< when the trigger saw it
    std::optional<steady_clock::time_point> deadline;    ///< when it must be done, if known
};
void to_json(json& j, const migration_decision& d);

/// The interface. `start` returns once the trigger watches; decisions arrive on the
/// trigger's own thread (keep the callback quick, or hand the work to another thread).
/// `stop` returns once no callback runs any more. Not copyable; stopping twice is fine.
class trigger {
public:
    using decision_handler = std::function<void(const migration_decision&)>;
    virtual ~trigger() = default;
    /// "manual", "sdn", ...
    virtual std::string_view name() const noexcept = 0;
    virtual result<void> start(decision_handler on_decision) = 0;
    virtual void stop() noexcept = 0;
};

}  // namespace migrate
