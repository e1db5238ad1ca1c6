// migrate/route/openflow.hpp — the `openflow` route switch: a device's traffic moved from one
// service instance to another by flow rules on a real OpenFlow 1.3 switch, make-before-break.
//
// The MIGRATE system's data path. Devices talk to one virtual service address (and MAC,
// which they know as a static neighbour); the switch rewrites it to the address of the
// instance that serves the device, and rewrites the replies back, so neither the device nor
// the instances know anything moved. Per device the switch holds
//   uplink    in_port=<device's port>, eth_src=<device>, ipv4_dst=<service address>
//             -> eth_dst=<host's MAC>, ipv4_dst=<instance>, [udp_dst], output:<host's port>
//   downlink  in_port=<host's port>, eth_dst=<device>, ipv4_src=<instance>
//             -> eth_src=<service MAC>, ipv4_src=<service address>, [udp_src], output:<device's port>
// prepare  the device appeared on a new port: uplink from the new port and the downlink
//          to it, both still to the OLD instance (the bridge), confirmed by BARRIER;
// commit   the new instance's downlink, then the uplink rewritten to it (one message batch
//          and one BARRIER: the "new route" of MIGRATE's Fig. 8); returns then. After
//          `drain` (replies the old instance still owes), the old instance's downlink and
//          the old port's uplink are removed in the background, confirmed by a second
//          BARRIER; the next call for the same device waits for that first;
// rollback the old instance serves the device again at its new port; the new instance's
//          downlink is removed.
#pragma once

#include <migrate/route_switch.hpp>

#include <chrono>
#include <optional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace migrate::openflow { class switch_connection; }

namespace migrate::route {

/// How the switch reaches one edge host's instances.
struct openflow_host_link {
    std::uint32_t port = 0;          ///< the switch's port toward the host
    std::string mac;                 ///< the MAC packets to the host's instances must carry (its router)
};
void to_json(json& j, const openflow_host_link& l);
void from_json(const json& j, openflow_host_link& l);

struct openflow_route_options {
    std::string service_address;     ///< the virtual IPv4 devices send to, "10.250.0.100"
    std::string service_mac;         ///< the virtual MAC they send to, "02:4d:49:47:00:01"
    std::uint8_t ip_proto = 17;      ///< 17 UDP (CoAP), 6 TCP, 0 = any IPv4
    std::uint16_t service_port = 0;  ///< the port devices send to; 0 = any (no port rewrite)
    std::map<std::string, openflow_host_link> hosts;   ///< edge host name -> link
    std::uint16_t priority = 1000;   ///< of the device rules (the table-miss is 0)
    std::uint64_t cookie = 0x4d49475241544500;         ///< "MIGRATE\0": marks our rules
    std::chrono::milliseconds drain{20};               ///< old instance's replies in flight
    std::chrono::milliseconds barrier_timeout{2000};

    /// `invalid_argument` naming the field (addresses, MACs, no hosts, a port 0).
    result<void> validate() const;
};
void to_json(json& j, const openflow_route_options& o);
void from_json(const json& j, openflow_route_options& o);

/// `route_change` for this switch: `subject` = the device's MAC; `attachment` =
/// `{"port": <its switch port now>}`; `from`/`to` = instances (address + port, host names
/// that are keys of `options.hosts`). The previous port is remembered in `state` between
/// calls (`state["port"]`), or given as `attachment["previous_port"]` for a first move
/// after the caller established the route elsewhere.
class openflow_route_switch final : public route_switch {
public:
    /// `invalid_argument` from `options.validate()`.
    static result<std::unique_ptr<openflow_route_switch>> make(std::shared_ptr<openflow::switch_connection> sw,
                                                               openflow_route_options options);
    std::string_view name() const noexcept override { return "openflow"; }
    result<void> prepare(route_change& c) override;
    result<void> commit(route_change& c) override;
    void rollback(route_change& c) noexcept override;

    const openflow_route_options& options() const noexcept { return options_; }
    /// Waits for the background removal of `subject`'s old rules; its error, if any.
    std::optional<std::string> finish_cleanup(const std::string& subject);
    ~openflow_route_switch() override;

private:
    openflow_route_switch(std::shared_ptr<openflow::switch_connection> sw, openflow_route_options o);
    std::shared_ptr<openflow::switch_connection> sw_;
    openflow_route_options options_;
    std::mutex cleanup_mu_;
    std::map<std::string, std::jthread> cleanups_;               // subject -> removal of its old rules
    std::map<std::string, std::string> cleanup_errors_;          // subject -> what the switch said
};

}  // namespace migrate::route
