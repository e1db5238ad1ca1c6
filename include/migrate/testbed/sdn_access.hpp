// migrate/testbed/sdn_access.hpp — an SDN access network in front of a testbed: a mobile
// device reaching the edge hosts through a real OpenFlow switch, as in MIGRATE.
//
//   device namespace <prefix>-md          OVS bridge <prefix>-br (netdev, OpenFlow 1.3,
//     <prefix>-d1n  ── port 1 ──┐         fail-mode secure: no traffic without our rules)
//     <prefix>-d2n  ── port 2 ──┤
//                               ├── port 11 ── <prefix>-han in host a's namespace
//                               └── port 12 ── <prefix>-hbn in host b's namespace
//
// The device's attachments (access points, one per edge domain) share its MAC and address;
// one is up at a time (`attach_device` moves it, as a car drives from one cell to the
// next). The device knows the virtual service address as a static neighbour with the
// virtual service MAC; each host knows the device likewise and forwards between its link
// and its service network (ip_forward is on in testbed hosts), so an instance on a host's
// service network answers the device through the switch. No ARP crosses the switch: every
// packet on it is one the route switch put a rule in for (or a table-miss to the controller).
#pragma once

#include <migrate/result.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/testbed/ovs.hpp>
#include <migrate/testbed/testbed.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace migrate::testbed {

struct sdn_access_options {
    std::string subnet_base = "10.251.0";          ///< the access network's /24: device .2, hosts .11.., service .100
    int attachments = 2;                            ///< the device's attachment ports (1..8)
    std::vector<std::string> controllers;           ///< "tcp:127.0.0.1:6653" (the switch dials us)
    std::string device_mac = "02:4d:44:00:00:01";
    std::string service_mac = "02:4d:53:00:00:01";

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

struct sdn_access {
    std::string bridge;
    std::string device_netns;
    std::string device_mac;
    std::string device_address;                     ///< "10.251.0.2"
    std::string service_address;                    ///< "10.251.0.100"
    std::string service_mac;
    std::vector<ovs::ns_port> attachments;          ///< [0] = port 1, ...
    std::map<std::string, ovs::ns_port> host_links; ///< host name -> its link (ns_side in the host's namespace)
    int attached = 0;                               ///< index of the attachment that is up

    /// Brings attachment `index` up (address, service neighbour), then the others down.
    result<void> attach_device(int index);
    /// The route switch's options for this network: every host's link, the service address.
    route::openflow_route_options route_options(std::uint8_t ip_proto, std::uint16_t service_port) const;
};

/// Builds the access network with `lab` (which removes it on `down()`) in front of `tb`'s
/// hosts; the device starts attached at index 0.
result<sdn_access> make_sdn_access(ovs::ovs_lab& lab, const testbed& tb, const sdn_access_options& options);

}  // namespace migrate::testbed
