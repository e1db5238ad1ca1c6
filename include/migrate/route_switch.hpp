// migrate/route_switch.hpp — moving a user's traffic from one service instance to another,
// make-before-break.
//
// Two phases, as a migration has: `prepare` makes a path that keeps the user served while
// the move happens (OpenFlow: the device's packets arriving at its new attachment point are
// bridged to the OLD instance), `commit` installs the new path in both directions and only
// then removes the old one, and returns once the network confirmed it (OpenFlow: BARRIER);
// `rollback` puts the old path back. Implementations (include/migrate/route/): `openflow`
// (flow rules on a real OpenFlow 1.3 switch), later `mec_traffic_rule` (ETSI MEC011).
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace migrate {

/// A service instance a route can lead to.
struct service_instance {
    std::string host;               ///< the edge host it runs on ("a")
    std::string id;                 ///< container name or id; empty = none (no route yet)
    std::string address;            ///< its IPv4 address
    std::uint16_t port = 0;         ///< its service port (0 = any)
    bool empty() const noexcept { return id.empty(); }
};
void to_json(json& j, const service_instance& s);
void from_json(const json& j, service_instance& s);

/// One subject's route moving from `from` to `to`. An empty `from` establishes a first
/// route (prepare does nothing, commit installs). `attachment` says where the subject
/// reaches the network now, in the switch's terms (OpenFlow: `{"port": 2}`); `state` is the
/// route switch's own notes between the phases (what it installed, for rollback).
struct route_change {
    std::string subject;            ///< the user/device (an OpenFlow switch: its MAC)
    service_instance from;
    service_instance to;
    json attachment = json::object();
    json state = json::object();
    bool prepared = false;
    bool committed = false;
};
void to_json(json& j, const route_change& c);

/// The interface. Each call blocks until the network confirmed it (or fails naming what
/// the switch refused). Thread safety: changes of different subjects may run concurrently.
class route_switch {
public:
    virtual ~route_switch() = default;
    /// "openflow", "mec_traffic_rule".
    virtual std::string_view name() const noexcept = 0;
    /// Make-before: a path that keeps `c.subject` served by `c.from` from its new attachment.
    virtual result<void> prepare(route_change& c) = 0;
    /// The new path in both directions, then the old one removed; confirmed.
    virtual result<void> commit(route_change& c) = 0;
    /// Back to the route before `prepare` (or before a failed `commit`). Never throws; what
    /// it could not restore is noted in `c.state["rollback_errors"]`.
    virtual void rollback(route_change& c) noexcept = 0;
};

}  // namespace migrate
