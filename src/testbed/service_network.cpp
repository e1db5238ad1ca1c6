// Per-host service networks: a routed docker bridge network on each edge host (see
// service_network.hpp for why). Everything goes through argv (`ip`, `nsenter sysctl`) and
// the Engine API; `down` needs nothing extra: the networks live in each dockerd's data
// root and each host's namespace, the root-namespace routes leave with the bridge.
#include "service_network.hpp"

#include "system.hpp"

#include <migrate/docker/engine.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::testbed::svc {

result<std::vector<std::string>> choose_subnets(std::string_view name, const std::string& main_subnet, int count) {
    auto used = sys::used_networks();
    if (!used) return used.error();
    if (auto m = sys::parse_cidr(main_subnet)) used->push_back(*m);
    std::vector<std::string> out;
    // A different hash from the main subnet's, so the main /24s of testbeds with nearby
    // names and the service /24s do not chase each other.
    auto start = sys::name_hash(std::string(name) + "/service");
    for (std::uint32_t i = 0; i < 16384 && static_cast<int>(out.size()) < count; ++i) {
        auto s = sys::subnet_for_index(start + i);
        auto c = *sys::parse_cidr(s);
        bool taken = std::any_of(used->begin(), used->end(), [&](const sys::cidr& u) { return sys::overlaps(u, c); });
        if (taken) continue;
        out.push_back(s);
        used->push_back(c);
    }
    if (static_cast<int>(out.size()) < count)
        return make_failure(error::already_exists, fmt::format("no {} free /24s in 10.64.0.0/10 for the service networks "
                                                               "of testbed '{}'", count, name));
    return out;
}

void assign(std::vector<host>& hosts, const std::vector<std::string>& subnets) {
    for (std::size_t i = 0; i < hosts.size() && i < subnets.size(); ++i) {
        auto base = *sys::parse_subnet24(subnets[i]);
        hosts[i].service_network = network_name;
        hosts[i].service_subnet = subnets[i];
        hosts[i].service_gateway = sys::ip_to_string(base + 1);
    }
}

result<void> add_routes(const testbed& t) {
    for (auto& h : t.hosts()) {
        if (h.service_subnet.empty()) continue;
        MIGRATE_TRY(sys::run_ok({"ip", "route", "add", h.service_subnet, "via", h.address, "dev", t.bridge()}));
        for (auto& other : t.hosts())
            if (other.name != h.name && !other.service_subnet.empty())
                MIGRATE_TRY(sys::run_ok({"ip", "-n", h.netns, "route", "add", other.service_subnet, "via", other.address,
                                         "dev", "eth0"}));
        // The host routes between eth0 and its service bridge. dockerd turns this on too
        // (its --ip-forward default), but the testbed does not rely on a daemon default.
        MIGRATE_TRY(sys::run_ok({"nsenter", "--net=/run/netns/" + h.netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"}));
    }
    return ok();
}

result<void> create_networks(const std::vector<host>& hosts, std::string_view testbed_name, const hooks& h) {
    for (auto& host : hosts) {
        if (host.service_subnet.empty()) continue;
        docker::engine e({.socket = host.socket});
        docker::network_spec spec;
        spec.name = host.service_network;
        spec.subnet = host.service_subnet;
        spec.gateway = host.service_gateway;
        // Routed, not masqueraded: the client side sees each container's own address, which
        // tells it on which host the service runs (the A1 location server relies on this).
        spec.options = {{"com.docker.network.bridge.name", bridge_name},
                        {"com.docker.network.bridge.enable_ip_masquerade", "false"}};
        spec.labels = {{"org.migrate.testbed", std::string(testbed_name)}, {"org.migrate.host", host.name}};
        auto n = e.create_network(spec);
        if (!n)
            return make_failure(n.error_code() == make_error_code(error::conflict) ? error::already_exists
                                                                                     : error::daemon_error,
                                fmt::format("host {}: cannot create service network {} {}: {}", host.name,
                                            host.service_network, host.service_subnet, n.error().what()));
        // The client's requests during a move make the target host ask (ARP) for a container
        // address that is not up yet; unanswered, the kernel asks again only after
        // retrans_time (1 s by default), so a service restored on the target answered up to
        // a second late (seen: 450-530 ms after its restore returned, for every strategy and
        // the raw procedures alike). Ask again every 25 ms on the service bridge instead.
        MIGRATE_TRY(sys::run_ok({"nsenter", "--net=/run/netns/" + host.netns, "sysctl", "-q", "-w",
                                 fmt::format("net.ipv4.neigh.{}.retrans_time_ms=25", bridge_name)}));
        h.info(fmt::format("host {}: service network {} {} (gateway {}, bridge {})", host.name, host.service_network,
                           host.service_subnet, host.service_gateway, bridge_name));
    }
    return ok();
}

json network_status(const host& h) {
    if (h.service_network.empty()) return json{{"present", false}, {"error", "this testbed has no service networks"}};
    docker::engine e({.socket = h.socket, .connect_timeout = std::chrono::milliseconds(2000),
                      .request_timeout = std::chrono::milliseconds(2000)});
    auto n = e.inspect_network(h.service_network);
    if (!n) return json{{"present", false}, {"error", n.error().what()}};
    bool matches = n->subnet == h.service_subnet;
    json j{{"present", matches}, {"id", n->id.substr(0, 12)}, {"subnet", n->subnet}};
    if (!matches) j["error"] = fmt::format("daemon reports subnet {} for {}, expected {}", n->subnet, h.service_network,
                                           h.service_subnet);
    return j;
}

}  // namespace migrate::testbed::svc
