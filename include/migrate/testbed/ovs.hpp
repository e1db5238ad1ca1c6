// migrate/testbed/ovs.hpp — Open vSwitch as the real switch of tests and benchmarks.
//
// This kernel has no openvswitch module, so bridges use the userspace datapath
// (datapath_type=netdev): veth ports forward, flows and counters work. The daemons are
// started with ovs-ctl when they are not running, and a marker file records that we did, so
// `stop_daemons` (from any process: the CTest fixture's "ovs: down") stops only daemons we
// started, and leaves them running while any bridge exists.
//
// An `ovs_lab` makes bridges, namespace ports (a veth whose one end is an OVS port and the
// other sits in a network namespace with an address and a MAC) and remembers everything it
// made; `down()` (also run by its destructor) removes all of it. Every name starts with the
// lab's prefix, so labs of different prefixes never collide; `ovs_lab::down(prefix)` cleans
// up after a crash. Everything runs ovs-vsctl, ovs-ofctl, ip, nsenter and sysctl through an
// argument vector, never a shell. Needs root. Not thread-safe (one lab, one thread).
#pragma once

#include <migrate/events.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace migrate::testbed::ovs {

// ---- the daemons ---------------------------------------------------------------------------

struct daemon_options {
    std::filesystem::path ovs_ctl = "/usr/share/openvswitch/scripts/ovs-ctl";
    /// Written when we start the daemons; its presence lets `stop_daemons` stop them.
    std::filesystem::path marker = "/run/migrate-testbed/ovs.started-by-migrate";
    std::chrono::milliseconds timeout{30000};
};

/// True when ovsdb-server and ovs-vswitchd answer (`ovs-vsctl show` within 2 s).
bool daemons_running();
/// Starts the daemons unless they run. True when this call started them (marker written).
/// `command_failed` quoting ovs-ctl when they do not come up.
result<bool> ensure_daemons(const daemon_options& options = {}, const hooks& h = {});
/// Stops the daemons if the marker says we started them and no bridge is left (it says
/// which bridges keep them running otherwise, through `h.log`). Not running: ok.
result<void> stop_daemons(const daemon_options& options = {}, const hooks& h = {});

/// A TCP port on 127.0.0.1 that is free now, for a passive controller target
/// ("ptcp:PORT:127.0.0.1"; OVS 3.1 does not report the port it bound for "ptcp:0").
result<std::uint16_t> free_local_port();

// ---- bridges and ports --------------------------------------------------------------------

struct lab_options {
    std::string prefix = "mof";                          ///< [a-z0-9]{1,6}; starts every name
    std::chrono::milliseconds command_timeout{20000};    ///< per ovs-vsctl/ip call
    daemon_options daemons;
    result<void> validate() const;
};

struct bridge_options {
    std::string name = "br";                  ///< the bridge is "<prefix>-<name>" (<= 15 chars)
    std::string protocols = "OpenFlow13";
    std::string fail_mode = "secure";         ///< "secure": no flows but ours, even without a controller
    std::optional<std::uint64_t> datapath_id;
    /// "tcp:127.0.0.1:6653" (the switch dials us) and/or "ptcp:6634:127.0.0.1" (it listens).
    std::vector<std::string> controllers;
    /// How soon OVS redials a controller it lost (OVS's default is 8 s; tests want quick).
    std::chrono::milliseconds controller_max_backoff{1000};
    /// OVS probes an idle controller connection after this long (default and minimum 5 s:
    /// OVS rounds smaller values up to whole seconds, at least 5); 0 = never.
    std::chrono::milliseconds controller_inactivity_probe{5000};
};

struct ns_port_options {
    std::string name;          ///< veth "<prefix>-<name>" on the bridge, "<prefix>-<name>n" in the namespace
    std::string netns;         ///< namespace of the other end; empty = "<prefix>-<name>" (made, and removed by down())
    std::string address;       ///< "10.0.0.1/24" on the namespace side; empty = none
    std::string mac;           ///< "02:00:00:00:00:01" on the namespace side; empty = kernel's choice
    std::optional<std::uint32_t> ofport;   ///< ask OVS for this OpenFlow port number
};

/// A namespace port as made.
struct ns_port {
    std::string bridge;
    std::string ovs_side;      ///< interface on the bridge (root namespace)
    std::string ns_side;       ///< interface in `netns`
    std::string netns;
    std::string address;       ///< without the prefix length
    std::string mac;           ///< of `ns_side`
    std::uint32_t ofport = 0;  ///< its OpenFlow port number on the bridge
};

/// One line of `ovs-ofctl -O OpenFlow13 dump-flows`, in OVS's own spelling.
struct flow_entry {
    std::uint64_t cookie = 0;
    int table = 0;
    int priority = 32768;             ///< OVS omits the default
    std::string match;                ///< "udp,in_port=1,nw_dst=10.0.0.2,tp_dst=5683"; "" = all
    std::string actions;              ///< "set_field:10.0.0.3->ip_dst,output:2"
    std::uint64_t n_packets = 0;
    std::uint64_t n_bytes = 0;
    int idle_timeout = 0;
    int hard_timeout = 0;
    std::vector<std::string> flags;   ///< "send_flow_rem", "reset_counts", ...
    std::string line;                 ///< the whole line

    /// The match's fields: "in_port" -> "1", "udp" -> "" (OVS's shorthands as keys).
    std::map<std::string, std::string> match_fields() const;
};
/// Parses dump-flows output (header lines are skipped); `protocol_error` naming a line it
/// cannot read.
result<std::vector<flow_entry>> parse_dump_flows(const std::string& text);

class ovs_lab {
public:
    /// Validates the options and makes sure the daemons run (starting them if needed).
    static result<ovs_lab> open(const lab_options& options, const hooks& h = {});
    /// Removes every bridge, veth and namespace whose name starts with "<prefix>-" (after a
    /// crash: works without the lab object). Missing things are fine.
    static result<void> down(const std::string& prefix, const hooks& h = {});

    ovs_lab(ovs_lab&& other) noexcept;
    ovs_lab& operator=(ovs_lab&& other) noexcept;
    ovs_lab(const ovs_lab&) = delete;
    ovs_lab& operator=(const ovs_lab&) = delete;
    /// Runs `down()`; errors are dropped (call `down()` yourself to see them).
    ~ovs_lab();

    const lab_options& options() const noexcept { return options_; }
    /// True when `open` started the daemons (then `down()` stops them, if no bridge is left).
    bool started_daemons() const noexcept { return started_daemons_; }

    /// Makes a netdev bridge "<prefix>-o<name>" with its protocols, fail mode, datapath id and
    /// controllers (out-of-band) in one ovs-vsctl transaction, and returns its name once
    /// ovs-vswitchd listens on every passive ("ptcp:PORT") target. `already_exists` when it
    /// exists; `timeout` when a passive port does not open within the command timeout.
    result<std::string> add_bridge(const bridge_options& b);
    /// Replaces the bridge's controllers (empty = none).
    result<void> set_controllers(const std::string& bridge, const std::vector<std::string>& targets,
                                 std::chrono::milliseconds max_backoff = std::chrono::milliseconds(1000));
    result<void> delete_bridge(const std::string& bridge);
    /// A veth pair: one end on `bridge`, the other in a namespace with address and MAC, both up,
    /// IPv6 off on both ends (no router solicitations reaching the controller), TX checksum
    /// offload off on the namespace side (the userspace datapath's rewrites need whole checksums).
    result<ns_port> add_namespace_port(const std::string& bridge, const ns_port_options& p);
    /// The OpenFlow port number of an interface on a bridge (waits until OVS assigned one).
    result<std::uint32_t> ofport(const std::string& interface) const;
    /// `ovs-ofctl -O OpenFlow13 --no-names dump-flows BRIDGE`, parsed.
    result<std::vector<flow_entry>> dump_flows(const std::string& bridge) const;
    /// Removes what this lab made (bridges, veths, namespaces it created), then stops the
    /// daemons if it started them and no bridge is left. Idempotent.
    result<void> down();

private:
    ovs_lab() = default;
    std::string name(const std::string& suffix) const { return options_.prefix + "-" + suffix; }
    result<std::string> vsctl(std::vector<std::string> args) const;

    lab_options options_;
    hooks hooks_;
    bool started_daemons_ = false;
    bool active_ = false;
    std::vector<std::string> bridges_;
    std::vector<std::string> veths_;      // root-namespace ends
    std::vector<std::string> netns_;      // namespaces we created
};

}  // namespace migrate::testbed::ovs
