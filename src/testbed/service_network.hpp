// src/testbed/service_network.hpp — per-host service networks of the testbed (private to
// src/testbed).
//
// Why: CRIU locks the network namespace of the task it dumps (iptables DROP for the length
// of the dump, left behind when a dump fails). A service run with `--network host` shares
// its edge host's namespace, so a dump would freeze all of that host's traffic, dockerd's
// and the agent's included. Each host therefore gets a docker bridge network of its own
// (`svc`, bridge `svc0` in the host's namespace) with a routed /24: containers on it have
// their own namespace and address, the root namespace reaches them through a route via the
// host's address (no NAT), and a container restored on another host simply gets that
// host's address.
#pragma once

#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/testbed/testbed.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace migrate::testbed::svc {

/// The docker network's name on every host: the same name everywhere, so a container spec
/// captured on one host (`NetworkMode: svc`) creates the container on another unchanged.
inline constexpr const char* network_name = "svc";
/// The Linux bridge docker makes for it inside each host's namespace.
inline constexpr const char* bridge_name = "svc0";

/// `count` free /24s for the hosts' service networks: candidates in 10.64.0.0/10 from a
/// stable hash of the testbed's name, skipping `main_subnet` and every network in use in
/// the root namespace (other testbeds' service subnets are routes there, so two testbeds
/// never get the same one).
result<std::vector<std::string>> choose_subnets(std::string_view name, const std::string& main_subnet, int count);

/// Fills `service_network`, `service_subnet`, `service_gateway` of each host.
void assign(std::vector<host>& hosts, const std::vector<std::string>& subnets);

/// Routes, once the bridge has its address: in the root namespace each service subnet via
/// its host's address; in each host's namespace the other hosts' service subnets via their
/// addresses; IPv4 forwarding on in each host's namespace.
result<void> add_routes(const testbed& t);

/// Creates the docker network on each host's dockerd (after the daemons answer).
result<void> create_networks(const std::vector<host>& hosts, std::string_view testbed_name, const hooks& h);

/// `{"present": bool, "id": ..., "error": ...}` for `status()`.
json network_status(const host& h);

}  // namespace migrate::testbed::svc
