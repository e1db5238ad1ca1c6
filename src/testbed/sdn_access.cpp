// The SDN access network in front of a testbed (include/migrate/testbed/sdn_access.hpp).
#include <migrate/detail/process.hpp>
#include <migrate/testbed/sdn_access.hpp>

#include "system.hpp"

#include <fmt/format.h>

#include <regex>

namespace migrate::testbed {

namespace {

result<void> ip_in(const std::string& netns, std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", netns});
    auto r = migrate::detail::run_checked(args, sys::timeout_opts(std::chrono::seconds{10}));
    if (!r) return r.error();
    return {};
}

// A fixed MAC per host link: 02:4d:48:00:00:<index>.
std::string host_link_mac(std::size_t index) { return fmt::format("02:4d:48:00:00:{:02x}", index + 1); }

}  // namespace

result<void> sdn_access_options::validate() const {
    static const std::regex base{R"((\d{1,3})\.(\d{1,3})\.(\d{1,3}))"};
    std::smatch m;
    if (!std::regex_match(subnet_base, m, base) || std::stoi(m[1]) > 255 || std::stoi(m[2]) > 255 || std::stoi(m[3]) > 255)
        return make_failure(error::invalid_argument,
                            fmt::format("sdn_access.subnet_base: '{}' must be the first three parts of a /24, e.g. 10.251.0",
                                        subnet_base));
    if (attachments < 1 || attachments > 8)
        return make_failure(error::invalid_argument, fmt::format("sdn_access.attachments: {} is outside 1 .. 8", attachments));
    static const std::regex mac{R"([0-9a-f]{2}(:[0-9a-f]{2}){5})"};
    if (!std::regex_match(device_mac, mac))
        return make_failure(error::invalid_argument, fmt::format("sdn_access.device_mac: '{}' is not a lower-case MAC", device_mac));
    if (!std::regex_match(service_mac, mac))
        return make_failure(error::invalid_argument,
                            fmt::format("sdn_access.service_mac: '{}' is not a lower-case MAC", service_mac));
    return {};
}

result<sdn_access> make_sdn_access(ovs::ovs_lab& lab, const testbed& tb, const sdn_access_options& o) {
    MIGRATE_TRY(o.validate());
    if (tb.hosts().size() > 8) return make_failure(error::invalid_argument, "sdn_access: at most 8 testbed hosts");
    sdn_access a;
    a.device_mac = o.device_mac;
    a.service_mac = o.service_mac;
    a.device_address = o.subnet_base + ".2";
    a.service_address = o.subnet_base + ".100";
    ovs::bridge_options b;
    b.name = "br";
    b.controllers = o.controllers;
    auto bridge = lab.add_bridge(b);
    if (!bridge) return bridge.error();
    a.bridge = *bridge;
    a.device_netns = lab.options().prefix + "-md";
    for (int i = 0; i < o.attachments; ++i) {
        ovs::ns_port_options po;
        po.name = fmt::format("d{}", i + 1);
        po.netns = a.device_netns;
        po.mac = o.device_mac;
        po.ofport = static_cast<std::uint32_t>(i + 1);
        auto p = lab.add_namespace_port(a.bridge, po);
        if (!p) return p.error();
        a.attachments.push_back(*p);
    }
    for (std::size_t i = 0; i < tb.hosts().size(); ++i) {
        const auto& h = tb.hosts()[i];
        auto link_address = fmt::format("{}.{}", o.subnet_base, 11 + i);
        ovs::ns_port_options po;
        po.name = "h" + h.name;
        po.netns = h.netns;
        po.address = link_address + "/24";
        po.mac = host_link_mac(i);
        po.ofport = static_cast<std::uint32_t>(11 + i);
        auto p = lab.add_namespace_port(a.bridge, po);
        if (!p) return p.error();
        // The host reaches the device through its link without asking (no ARP on the switch).
        MIGRATE_TRY(ip_in(h.netns, {"neigh", "replace", a.device_address, "lladdr", a.device_mac, "dev", p->ns_side, "nud",
                                    "permanent"}));
        a.host_links[h.name] = *p;
    }
    MIGRATE_TRY(a.attach_device(0));
    return a;
}

result<void> sdn_access::attach_device(int index) {
    if (index < 0 || index >= static_cast<int>(attachments.size()))
        return make_failure(error::invalid_argument,
                            fmt::format("sdn_access: no attachment {} (the device has {})", index, attachments.size()));
    // New attachment up first, then the old one down (a handover that keeps a route: the
    // device's sends never fail for want of one, as a soft handover between cells).
    const auto& p = attachments[static_cast<std::size_t>(index)];
    MIGRATE_TRY(ip_in(device_netns, {"link", "set", p.ns_side, "up"}));
    MIGRATE_TRY(ip_in(device_netns, {"addr", "replace", device_address + "/24", "dev", p.ns_side}));
    MIGRATE_TRY(ip_in(device_netns, {"neigh", "replace", service_address, "lladdr", service_mac, "dev", p.ns_side, "nud",
                                     "permanent"}));
    for (std::size_t i = 0; i < attachments.size(); ++i) {
        if (static_cast<int>(i) == index) continue;
        const auto& old = attachments[i];
        MIGRATE_TRY(ip_in(device_netns, {"link", "set", old.ns_side, "down"}));
        (void)ip_in(device_netns, {"addr", "flush", "dev", old.ns_side});
    }
    attached = index;
    return {};
}

route::openflow_route_options sdn_access::route_options(std::uint8_t ip_proto, std::uint16_t service_port) const {
    route::openflow_route_options o;
    o.service_address = service_address;
    o.service_mac = service_mac;
    o.ip_proto = ip_proto;
    o.service_port = service_port;
    for (auto& [host, link] : host_links) o.hosts[host] = {link.ofport, link.mac};
    return o;
}

}  // namespace migrate::testbed
