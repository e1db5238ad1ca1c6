// migrate/strategy/replica_pool.hpp — the `replica_pool` strategy: pre-warmed instances of a
// service on every edge host, state in a state store, so moving a device's service moves no
// bytes (the MIGRATE system's way).
//
// Each host keeps `size` instances of the service image started and ready. Assigning a
// device takes one (the pool refills in the background) and tells it to serve the device,
// which makes the instance load the device's state from the state store. Migrating the
// device to another host, as MIGRATE's Fig. 8 splits it:
//   backup route    route_switch::prepare: the device, seen at its new attachment, is still
//                   served by the old instance;
//   instantiation   an instance on the target: taken from the pool (about zero) or, cold,
//                   created + started + waited for;
//   state load      the instance is told to serve the device (`replica_protocol::assign`);
//   new route       route_switch::commit: traffic to the new instance, confirmed;
//   release         the old instance lets go of the device and leaves (or goes back to the
//                   pool with `recycle`).
// A failure before the new route rolls the route back and returns the taken instance:
// the old instance never stopped serving. The instances' own admin protocol (how to ask
// "ready?", "serve device X", "let go of X") is the service's: `replica_protocol`.
#pragma once

#include <migrate/edge_host.hpp>
#include <migrate/events.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/route_switch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

/// How the pool talks to the instances it runs: the service's admin protocol (the vMD
/// twin's is CoAP, examples/vmd). Called from the pool's and the caller's threads.
class replica_protocol {
public:
    virtual ~replica_protocol() = default;
    /// Returns once `i` answers; `timeout` when it did not within `within`.
    virtual result<void> wait_ready(const service_instance& i, std::chrono::milliseconds within) = 0;
    /// `i` serves `subject` from now on: it loads the subject's state from the store.
    virtual result<void> assign(const service_instance& i, std::string_view subject) = 0;
    /// `i` lets go of `subject` (its state is already in the store).
    virtual result<void> release(const service_instance& i, std::string_view subject) = 0;
};

struct replica_pool_options {
    std::string image;                      ///< present on every host (build or load it first)
    std::vector<std::string> cmd;           ///< empty = the image's
    std::vector<std::string> env;           ///< "KEY=value"
    std::string network = "svc";            ///< docker network the instances join (needs addresses)
    std::uint16_t service_port = 5683;      ///< where instances answer
    int size = 2;                           ///< ready instances per host; 0 = cold (start on demand)
    std::string name_prefix = "replica";    ///< instances are <prefix>-<host>-<n>
    bool recycle = false;                   ///< released instances go back to the pool
    std::chrono::milliseconds ready_timeout{15000};

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const replica_pool_options& o);
void from_json(const json& j, replica_pool_options& o);

class replica_pool {
public:
    /// Where an instance answers: its address on `network` (asked right after its start).
    using address_lookup =
        std::function<result<std::string>(container_runtime& rt, std::string_view id, std::string_view network)>;
    /// Without `lookup`, `hosts`' runtimes must be Docker engines (the address comes from the
    /// engine's network endpoint); `invalid_argument` otherwise or for bad options. Starts
    /// nothing yet.
    static result<std::unique_ptr<replica_pool>> make(std::vector<edge_host> hosts, replica_pool_options options,
                                                      std::shared_ptr<replica_protocol> protocol, hooks h = {},
                                                      address_lookup lookup = {});
    /// Stops the background refill; the instances stay (call `shutdown` to remove them).
    ~replica_pool();
    replica_pool(const replica_pool&) = delete;
    replica_pool& operator=(const replica_pool&) = delete;

    /// Starts instances until every host has `size` ready ones; returns once they answer.
    result<void> fill(std::stop_token stop = {});
    /// Gives `subject` an instance on `host` (pooled, or started cold), assigned to it;
    /// with a `route`, also its first route (`route_switch::commit` from no instance, at
    /// `attachment`), which `migrate` continues from. `already_exists` when the subject
    /// already has an instance (move it instead).
    result<service_instance> assign(std::string_view subject, std::string_view host, route_switch* route = nullptr,
                                    json attachment = json::object());
    /// Moves `subject` to an instance on `host` through `route` (see the file comment).
    /// When `host` is the one serving it already, only the route follows (phases `backup
    /// route` and `new route`; `details.instantiation` = "kept").
    /// `attachment` is the route switch's (OpenFlow: `{"port": new port}`). The report's
    /// phases are the five above; `success == false` with `rolled_back` when a step failed
    /// and the old instance still serves. A `result` failure only for misuse (unknown
    /// subject, unknown host).
    result<migration_report> migrate(std::string_view subject, std::string_view host, route_switch& route,
                                     json attachment = json::object(), std::stop_token stop = {});
    /// The subject's route as the last `assign`/`migrate` left it.
    std::optional<route_change> route_of(std::string_view subject) const;
    /// `subject`'s instance lets go; it leaves (or returns to the pool with `recycle`).
    result<void> release(std::string_view subject);
    std::optional<service_instance> instance_of(std::string_view subject) const;
    /// Per host: ready, starting and assigned instances (names, addresses).
    json status() const;
    /// Waits until the background refill has brought every host back to `size` ready.
    result<void> wait_refilled(std::chrono::milliseconds within);
    /// Removes every instance the pool started (assigned ones too). Idempotent.
    result<void> shutdown();

    const replica_pool_options& options() const noexcept;

private:
    struct impl;
    explicit replica_pool(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate
