// src/testbed/ovs.cpp — Open vSwitch daemons, netdev bridges, namespace ports, dump-flows.
#include <migrate/testbed/ovs.hpp>

#include <migrate/detail/process.hpp>
#include <migrate/json.hpp>

#include "system.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::testbed::ovs {

namespace fs = std::filesystem;
using migrate::detail::run;
using migrate::detail::run_checked;
using ms = std::chrono::milliseconds;

namespace {

constexpr std::size_t max_ifname = 15;  // IFNAMSIZ - 1

migrate::detail::run_options within(ms t) { return sys::timeout_opts(t); }

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

std::vector<std::string> list_bridges(ms timeout) {
    auto r = run_checked({"ovs-vsctl", fmt::format("--timeout={}", std::max<long>(1, timeout.count() / 1000)), "list-br"},
                         within(timeout));
    return r ? lines_of(*r) : std::vector<std::string>{};
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The lab's names: "<prefix>-o<name>". The "-o" keeps them apart from a testbed of the same
// name, whose objects are "<name>-br" and "<name>-a".."<name>-h".
std::string lab_stem(const std::string& prefix) { return prefix + "-o"; }

std::uint64_t to_u64(std::string_view s) {
    int base = 10;
    if (s.substr(0, 2) == "0x") {
        s.remove_prefix(2);
        base = 16;
    }
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v, base);
    return v;
}

// ovsdb's string syntax, for values ovs-vsctl would otherwise split (targets have ':').
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

void controller_records(std::vector<std::string>& args, const std::string& bridge,
                        const std::vector<std::string>& targets, ms max_backoff, ms inactivity_probe) {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        ids.push_back(fmt::format("@c{}", i));
        args.insert(args.end(), {"--", "--id=" + ids.back(), "create", "Controller", "target=" + quoted(targets[i]),
                                 fmt::format("max_backoff={}", max_backoff.count()),
                                 fmt::format("inactivity_probe={}", inactivity_probe.count()),
                                 "connection_mode=out-of-band"});
    }
    args.insert(args.end(), {"--", "set", "bridge", bridge, fmt::format("controller=[{}]", fmt::join(ids, ","))});
}

// True when a socket of this (root) namespace listens on TCP `port` (/proc/net/tcp{,6}:
// "local_address" is HEXADDR:HEXPORT, state 0A is LISTEN).
bool tcp_listening(std::uint16_t port) {
    const auto suffix = fmt::format(":{:04X}", port);
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            if (state == "0A" && local.size() > suffix.size() && local.ends_with(suffix)) return true;
        }
    }
    return false;
}

// The port of a passive target "ptcp:PORT[:ADDRESS]"; nullopt for other targets and port 0.
std::optional<std::uint16_t> passive_port(const std::string& target) {
    if (!starts_with(target, "ptcp:")) return std::nullopt;
    auto rest = std::string_view(target).substr(5);
    rest = rest.substr(0, rest.find(':'));
    std::uint16_t port = 0;
    auto [next, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
    if (ec != std::errc{} || port == 0) return std::nullopt;
    return port;
}

}  // namespace

result<std::uint16_t> free_local_port() {
    auto fd = sys::socket_in("", AF_INET, SOCK_STREAM, 0);
    if (!fd) return fd.error();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool bound = ::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                       ::getsockname(*fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(*fd);
    if (!bound) return make_failure(error::io_error, "no free TCP port on 127.0.0.1");
    return ntohs(a.sin_port);
}

// ---- daemons --------------------------------------------------------------------------------

bool daemons_running() {
    auto db = run({"ovs-vsctl", "--timeout=2", "show"}, within(ms(3000)));
    if (!db || db->exit_code != 0) return false;
    auto vswitchd = run({"ovs-appctl", "--timeout=2", "-t", "ovs-vswitchd", "version"}, within(ms(3000)));
    return vswitchd && vswitchd->exit_code == 0;
}

result<bool> ensure_daemons(const daemon_options& options, const hooks& h) {
    if (daemons_running()) return false;
    h.info("starting Open vSwitch (" + options.ovs_ctl.string() + " start)");
    // No kernel module here: ovs-ctl skips modprobe, and bridges must use datapath_type=netdev.
    auto started = run_checked({options.ovs_ctl.string(), "--system-id=random", "start"}, within(options.timeout));
    if (!started) return started.error();
    if (!daemons_running())
        return make_failure(error::command_failed, "ovs-ctl start returned but ovsdb-server/ovs-vswitchd do not answer: " +
                                                       *started);
    std::error_code ec;
    fs::create_directories(options.marker.parent_path(), ec);
    std::ofstream(options.marker) << "started by migrate\n";
    return true;
}

result<void> stop_daemons(const daemon_options& options, const hooks& h) {
    std::error_code ec;
    if (!daemons_running()) {
        fs::remove(options.marker, ec);
        return ok();
    }
    if (!fs::exists(options.marker)) {
        h.info("Open vSwitch was not started by migrate: left running");
        return ok();
    }
    if (auto bridges = list_bridges(options.timeout); !bridges.empty()) {
        h.info(fmt::format("Open vSwitch left running: bridges {} still exist", fmt::join(bridges, ", ")));
        return ok();
    }
    h.info("stopping Open vSwitch (" + options.ovs_ctl.string() + " stop)");
    auto stopped = run_checked({options.ovs_ctl.string(), "stop"}, within(options.timeout));
    if (!stopped) return stopped.error();
    fs::remove(options.marker, ec);
    return ok();
}

// ---- dump-flows -----------------------------------------------------------------------------

std::map<std::string, std::string> flow_entry::match_fields() const {
    std::map<std::string, std::string> out;
    std::istringstream in(match);
    for (std::string item; std::getline(in, item, ',');) {
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string::npos) out[item] = "";
        else out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

result<std::vector<flow_entry>> parse_dump_flows(const std::string& text) {
    std::vector<flow_entry> out;
    for (auto& raw : lines_of(text)) {
        auto line = raw.substr(raw.find_first_not_of(' ') == std::string::npos ? raw.size() : raw.find_first_not_of(' '));
        if (!starts_with(line, "cookie=")) continue;  // "OFPST_FLOW reply (OF1.3) (xid=0x2):"
        auto at = line.find(" actions=");
        if (at == std::string::npos)
            return make_failure(error::protocol_error, "dump-flows line without actions: " + line);
        flow_entry f;
        f.line = line;
        f.actions = line.substr(at + 9);
        // "cookie=0x0, duration=0.07s, table=0, n_packets=0, n_bytes=0, idle_timeout=60, priority=100,udp,in_port=5"
        std::vector<std::string> match;
        std::string item;
        std::istringstream in(line.substr(0, at));
        while (std::getline(in, item, ',')) {
            item.erase(0, item.find_first_not_of(' '));
            // "n_bytes=0 reset_counts priority=0": flags stand between the stats and the match.
            std::istringstream words(item);
            for (std::string w; words >> w;) {
                auto eq = w.find('=');
                auto key = w.substr(0, eq);
                auto value = eq == std::string::npos ? std::string() : w.substr(eq + 1);
                if (key == "cookie") f.cookie = to_u64(value);
                else if (key == "duration") continue;
                else if (key == "table") f.table = static_cast<int>(to_u64(value));
                else if (key == "n_packets") f.n_packets = to_u64(value);
                else if (key == "n_bytes") f.n_bytes = to_u64(value);
                else if (key == "idle_timeout") f.idle_timeout = static_cast<int>(to_u64(value));
                else if (key == "hard_timeout") f.hard_timeout = static_cast<int>(to_u64(value));
                else if (key == "idle_age" || key == "hard_age" || key == "importance") continue;
                else if (key == "priority") f.priority = static_cast<int>(to_u64(value));
                else if (eq == std::string::npos && (key == "send_flow_rem" || key == "reset_counts" ||
                                                    key == "no_packet_counts" || key == "no_byte_counts" ||
                                                    key == "check_overlap"))
                    f.flags.push_back(key);
                else match.push_back(w);
            }
        }
        f.match = fmt::format("{}", fmt::join(match, ","));
        out.push_back(std::move(f));
    }
    return out;
}

// ---- the lab --------------------------------------------------------------------------------

result<void> lab_options::validate() const {
    if (prefix.empty() || prefix.size() > 6 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }))
        return make_failure(error::invalid_argument,
                            fmt::format("lab_options.prefix: '{}' must be 1 to 6 of [a-z0-9]", prefix));
    if (command_timeout.count() < 1000)
        return make_failure(error::invalid_argument, "lab_options.command_timeout: at least 1000 ms");
    return ok();
}

result<ovs_lab> ovs_lab::open(const lab_options& options, const hooks& h) {
    if (auto r = options.validate(); !r) return r.error();
    auto started = ensure_daemons(options.daemons, h);
    if (!started) return started.error();
    ovs_lab lab;
    lab.options_ = options;
    lab.hooks_ = h;
    lab.started_daemons_ = *started;
    lab.active_ = true;
    return lab;
}

ovs_lab::ovs_lab(ovs_lab&& o) noexcept
    : options_(std::move(o.options_)), hooks_(std::move(o.hooks_)), started_daemons_(o.started_daemons_),
      active_(std::exchange(o.active_, false)), bridges_(std::move(o.bridges_)), veths_(std::move(o.veths_)),
      netns_(std::move(o.netns_)) {}

ovs_lab& ovs_lab::operator=(ovs_lab&& o) noexcept {
    if (this != &o) {
        (void)down();
        options_ = std::move(o.options_);
        hooks_ = std::move(o.hooks_);
        started_daemons_ = o.started_daemons_;
        active_ = std::exchange(o.active_, false);
        bridges_ = std::move(o.bridges_);
        veths_ = std::move(o.veths_);
        netns_ = std::move(o.netns_);
    }
    return *this;
}

ovs_lab::~ovs_lab() { (void)down(); }

result<std::string> ovs_lab::vsctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ovs-vsctl", fmt::format("--timeout={}", options_.command_timeout.count() / 1000)});
    return run_checked(args, within(options_.command_timeout + ms(2000)));
}

result<std::string> ovs_lab::add_bridge(const bridge_options& b) {
    const auto br = lab_stem(options_.prefix) + b.name;
    if (b.name.empty() || br.size() > max_ifname)
        return make_failure(error::invalid_argument,
                            fmt::format("bridge_options.name: '{}' makes the bridge '{}', which must be 1..15 characters",
                                        b.name, br));
    if (auto exists = run({"ovs-vsctl", "br-exists", br}, within(options_.command_timeout)); exists && exists->exit_code == 0)
        return make_failure(error::already_exists, "bridge " + br + " exists already");
    std::vector<std::string> args{"--", "add-br", br, "--", "set", "bridge", br, "datapath_type=netdev",
                                  "protocols=" + b.protocols, "fail_mode=" + b.fail_mode,
                                  "other-config:disable-in-band=true", "external_ids:migrate-lab=" + options_.prefix};
    if (b.datapath_id) args.push_back(fmt::format("other-config:datapath-id={:016x}", *b.datapath_id));
    if (!b.controllers.empty())
        controller_records(args, br, b.controllers, b.controller_max_backoff, b.controller_inactivity_probe);
    if (auto r = vsctl(args); !r) return r.error();
    bridges_.push_back(br);
    // ovs-vswitchd opens passive targets a moment after the database says so.
    const auto deadline = std::chrono::steady_clock::now() + options_.command_timeout;
    for (auto& target : b.controllers)
        if (auto port = passive_port(target))
            while (!tcp_listening(*port)) {
                if (std::chrono::steady_clock::now() > deadline)
                    return make_failure(error::timeout, fmt::format("bridge {}: ovs-vswitchd does not listen on {} "
                                                                    "within {} ms", br, target,
                                                                    options_.command_timeout.count()));
                std::this_thread::sleep_for(ms(10));
            }
    hooks_.info("ovs: bridge " + br + " (netdev, " + b.protocols + ", fail_mode " + b.fail_mode + ")");
    return br;
}

result<void> ovs_lab::set_controllers(const std::string& bridge, const std::vector<std::string>& targets, ms max_backoff) {
    std::vector<std::string> args{"--", "del-controller", bridge};
    if (!targets.empty()) controller_records(args, bridge, targets, max_backoff, ms(5000));
    if (auto r = vsctl(args); !r) return r.error();
    return ok();
}

result<void> ovs_lab::delete_bridge(const std::string& bridge) {
    if (auto r = vsctl({"--if-exists", "del-br", bridge}); !r) return r.error();
    std::erase(bridges_, bridge);
    return ok();
}

result<std::uint32_t> ovs_lab::ofport(const std::string& interface) const {
    const auto deadline = std::chrono::steady_clock::now() + options_.command_timeout;
    for (;;) {
        auto r = vsctl({"get", "interface", interface, "ofport"});
        if (!r) return r.error();
        long n = std::strtol(r->c_str(), nullptr, 10);
        if (n > 0) return static_cast<std::uint32_t>(n);
        if (std::chrono::steady_clock::now() > deadline) {
            auto why = vsctl({"get", "interface", interface, "error"});
            return make_failure(error::timeout, fmt::format("OVS gave interface {} no OpenFlow port (ofport {}): {}",
                                                            interface, *r, why ? *why : why.error().what()));
        }
        std::this_thread::sleep_for(ms(20));
    }
}

result<ns_port> ovs_lab::add_namespace_port(const std::string& bridge, const ns_port_options& p) {
    ns_port port;
    port.bridge = bridge;
    port.ovs_side = lab_stem(options_.prefix) + p.name;
    port.ns_side = port.ovs_side + "n";
    if (p.name.empty() || port.ns_side.size() > max_ifname)
        return make_failure(error::invalid_argument,
                            fmt::format("ns_port_options.name: '{}' makes the interface '{}', which must be at most 15 "
                                        "characters",
                                        p.name, port.ns_side));
    port.netns = p.netns.empty() ? port.ovs_side : p.netns;
    port.address = p.address.substr(0, p.address.find('/'));
    const auto t = options_.command_timeout;
    auto ip = [&](std::vector<std::string> args) -> result<void> {
        args.insert(args.begin(), "ip");
        auto r = run_checked(args, within(t));
        if (!r) return r.error();
        return ok();
    };
    auto in_ns = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"-n", port.netns});
        return ip(std::move(args));
    };

    auto existing = sys::list_netns();
    if (std::find(existing.begin(), existing.end(), port.netns) == existing.end()) {
        MIGRATE_TRY(ip({"netns", "add", port.netns}));
        netns_.push_back(port.netns);
    }
    MIGRATE_TRY(ip({"link", "add", port.ovs_side, "type", "veth", "peer", "name", port.ns_side}));
    veths_.push_back(port.ovs_side);
    // No IPv6 on either end: router solicitations and DAD would reach the controller as
    // table misses. (Fails harmlessly when IPv6 is off in the kernel.)
    std::ofstream("/proc/sys/net/ipv6/conf/" + port.ovs_side + "/disable_ipv6") << "1";
    MIGRATE_TRY(ip({"link", "set", port.ns_side, "netns", port.netns}));
    (void)run({"nsenter", "--net=/run/netns/" + port.netns, "sysctl", "-q", "-w",
               "net.ipv6.conf." + port.ns_side + ".disable_ipv6=1"},
              within(t));
    // The userspace datapath patches UDP/TCP checksums incrementally when a rule rewrites an
    // address; a veth leaves the checksum to the "hardware" (only the pseudo-header sum is in
    // the packet), so a rewritten packet would arrive with a wrong one and be dropped by its
    // receiver (Udp InCsumErrors). The namespace side computes its checksums itself.
    MIGRATE_TRY(run_checked({"ip", "netns", "exec", port.netns, "ethtool", "-K", port.ns_side, "tx", "off"}, within(t)));
    if (!p.mac.empty()) MIGRATE_TRY(in_ns({"link", "set", port.ns_side, "address", p.mac}));
    if (!p.address.empty()) MIGRATE_TRY(in_ns({"addr", "add", p.address, "dev", port.ns_side}));
    MIGRATE_TRY(in_ns({"link", "set", "lo", "up"}));
    MIGRATE_TRY(in_ns({"link", "set", port.ns_side, "up"}));
    MIGRATE_TRY(ip({"link", "set", port.ovs_side, "up"}));
    std::vector<std::string> add{"--", "add-port", bridge, port.ovs_side};
    if (p.ofport) add.insert(add.end(), {"--", "set", "interface", port.ovs_side, fmt::format("ofport_request={}", *p.ofport)});
    MIGRATE_TRY(vsctl(add));
    auto number = ofport(port.ovs_side);
    if (!number) return number.error();
    port.ofport = *number;

    auto shown = run_checked({"ip", "-n", port.netns, "-j", "link", "show", "dev", port.ns_side}, within(t));
    if (!shown) return shown.error();
    try {
        port.mac = json::parse(*shown).at(0).at("address").get<std::string>();
    } catch (const json::exception& e) {
        return make_failure(error::protocol_error, fmt::format("ip -j link show {}: {}", port.ns_side, e.what()));
    }
    hooks_.info(fmt::format("ovs: port {} (ofport {}) <-> {} in {} ({} {})", port.ovs_side, port.ofport, port.ns_side,
                            port.netns, port.address.empty() ? "no address" : port.address, port.mac));
    return port;
}

result<std::vector<flow_entry>> ovs_lab::dump_flows(const std::string& bridge) const {
    auto out = run_checked({"ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows", bridge},
                           within(options_.command_timeout));
    if (!out) return out.error();
    return parse_dump_flows(*out);
}

result<void> ovs_lab::down() {
    if (!active_) return ok();
    active_ = false;
    std::optional<failure> first;
    auto keep = [&](result<void> r) {
        if (!r && !first) first = r.error();
    };
    for (auto& br : bridges_)
        keep([&]() -> result<void> {
            MIGRATE_TRY(vsctl({"--if-exists", "del-br", br}));
            return ok();
        }());
    for (auto& v : veths_)
        if (sys::link_exists(v)) keep(sys::run_ok({"ip", "link", "del", v}));
    for (auto& ns : netns_) keep(sys::run_ok({"ip", "netns", "del", ns}));
    bridges_.clear();
    veths_.clear();
    netns_.clear();
    if (started_daemons_) keep(stop_daemons(options_.daemons, hooks_));
    if (first) return *first;
    return ok();
}

result<void> ovs_lab::down(const std::string& prefix, const hooks& h) {
    const auto stem = lab_stem(prefix);
    std::optional<failure> first;
    auto keep = [&](result<void> r) {
        if (!r && !first) first = r.error();
    };
    if (daemons_running())
        for (auto& br : list_bridges(ms(10000)))
            if (starts_with(br, stem)) {
                h.info("ovs: removing bridge " + br);
                keep(sys::run_ok({"ovs-vsctl", "--timeout=10", "--if-exists", "del-br", br}));
            }
    if (auto links = sys::list_links())
        for (auto& l : *links)
            if (starts_with(l, stem)) {
                h.info("ovs: removing link " + l);
                keep(sys::run_ok({"ip", "link", "del", l}));
            }
    for (auto& ns : sys::list_netns())
        if (starts_with(ns, stem)) {
            h.info("ovs: removing namespace " + ns);
            keep(sys::run_ok({"ip", "netns", "del", ns}));
        }
    if (first) return *first;
    return ok();
}

}  // namespace migrate::testbed::ovs
