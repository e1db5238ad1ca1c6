// migrate/workload/service_locator.hpp — where a service answers, for probes that follow it
// from one host to another.
//
// On the testbed's service networks a container's address is its host's: a service moved
// from host a to host b answers at an address in b's subnet that is only known once b's
// dockerd attached the container. A `downtime_prober` asks both locations from the start,
// so the target's address is looked up while probing (from b's dockerd, through the
// network's endpoint list, which does not wait for a restore in progress).
#pragma once

#include <migrate/probe.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace migrate::workload {

/// The service's current address at one location, or nullopt when it has none (yet).
/// Called from the prober's thread; must return quickly.
using address_locator = std::function<std::optional<std::string>()>;

/// Always `address` (host networking, or a known address).
address_locator fixed_address(std::string address);

/// The address of container `container` (its name) on docker network `network` of the
/// dockerd at `socket` (`GET /networks/{network}`): looked up at most once per
/// `min_interval` until found, then about once a second (a container restored on its own
/// host after a failed move may come back with another address; one that is gone has no
/// address). When the daemon does not answer, the last address is kept. Owns its own
/// engine connection (safe on the prober's thread).
address_locator container_address_locator(std::filesystem::path socket, std::string container, std::string network,
                                          std::chrono::milliseconds min_interval = std::chrono::milliseconds{20});

/// A `downtime_prober::probe_fn` that asks `ask(address)` at the source (location 0) or the
/// target (location 1); false while the location has no address.
downtime_prober::probe_fn two_location_probe(address_locator source, address_locator target,
                                             std::function<bool(const std::string& address)> ask);

}  // namespace migrate::workload
