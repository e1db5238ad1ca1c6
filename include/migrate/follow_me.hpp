// migrate/follow_me.hpp — the service follows its user: each decision of a trigger becomes a
// move of the user's instance through a replica pool and a route switch.
//
// This is the MIGRATE controller loop: the SDN trigger sees the device on a new port, the
// pool gives it an instance on the new domain's host, the route switch moves its traffic.
// Decisions are handled one at a time on a worker thread of the loop's own (the trigger's
// thread only queues them), so a slow move never stalls the switch connection. With an
// `sdn_trigger`, the packets the device sent before its new port had a route (held by the
// trigger) are re-injected right after the backup route is in, and again after the new
// route, so none of them is lost.
#pragma once

#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/route_switch.hpp>
#include <migrate/strategy/replica_pool.hpp>
#include <migrate/trigger.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace migrate {

class sdn_trigger;

class follow_me {
public:
    /// `held` (optional) is the trigger again when it is an `sdn_trigger`. The trigger, pool
    /// and route switch must outlive the loop.
    follow_me(trigger& t, replica_pool& pool, route_switch& route, sdn_trigger* held = nullptr);
    ~follow_me();   // stops
    follow_me(const follow_me&) = delete;
    follow_me& operator=(const follow_me&) = delete;

    /// Starts the trigger and the worker.
    result<void> start();
    /// Stops the trigger, lets the move in progress finish, drops queued decisions.
    void stop() noexcept;

    /// Called on the worker thread after each move (successful or rolled back).
    void on_report(std::function<void(const migration_decision&, const migration_report&)> callback);
    /// Every move so far, in order.
    std::vector<migration_report> reports() const;
    /// Waits until `n` moves are done; `timeout` otherwise.
    result<void> wait_for_moves(std::size_t n, std::chrono::milliseconds within) const;
    /// Decisions that could not become a move (unknown subject or host): what and why.
    std::vector<std::string> refused() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate
