// migrate/testbed/testbed.hpp — a real multi-host edge testbed on one machine.
//
// N edge hosts, each a network namespace with its own dockerd (own data-root, exec-root,
// socket, cgroup parent), joined by veth links to a bridge in the root namespace, which
// plays the user/client side. Link profiles: `normal` (unshaped) and `congested` (HTB
// 100 Mbit, as in the thesis), switchable while running. State is kept in
// `<state_root>/<name>/state.json` so `open(name)` and `down(name)` work from any process,
// also after a crash. Two testbeds never collide: every namespace, link, directory and
// cgroup is prefixed by the testbed's name, and each testbed gets its own subnet.
//
// Needs root. Thread safety: a `testbed` object is not shared between threads.
#pragma once

#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::testbed {

/// Shaping of every host's link to the bridge.
enum class link_profile {
    normal,     ///< unshaped (the measured rate is reported by `measure_link`)
    congested,  ///< HTB class at 100 Mbit, as the thesis's congested network
};
std::string_view to_string(link_profile p) noexcept;
inline std::string_view format_as(link_profile p) noexcept { return to_string(p); }
void to_json(json& j, link_profile p);
void from_json(const json& j, link_profile& p);

struct testbed_options {
    std::string name = "mtb";          ///< prefix of everything made; [a-z0-9]{1,6}
    int hosts = 2;                     ///< number of edge hosts (1..8), named a, b, c, ...
    link_profile profile = link_profile::normal;
    std::filesystem::path state_root = "/run/migrate-testbed";  ///< state.json, sockets, exec roots
    std::filesystem::path data_root = "/var/lib/migrate-testbed"; ///< dockerd data roots (disk)
    std::string subnet;                ///< "10.x.y.0/24"; empty = derived from the name
    int dockerd_start_timeout_ms = 30000;
    /// `migrate-agent` to start in every host's network namespace, bound to the host's
    /// address at `agent_port`, with a random token in `<state_root>/<name>/agent.token`
    /// (0600). Empty = no agents. Each must answer a ping within `dockerd_start_timeout_ms`.
    std::filesystem::path agent_binary;
    int agent_port = 7070;

    result<void> validate() const;
};
void to_json(json& j, const testbed_options& o);
void from_json(const json& j, testbed_options& o);

/// One edge host of a testbed.
struct host {
    std::string name;                      ///< "a", "b", ...
    std::string netns;                     ///< network namespace, e.g. "mtb-a"
    std::string address;                   ///< the host's address, reachable from the root ns
    std::filesystem::path socket;          ///< dockerd's unix socket
    std::filesystem::path data_root;       ///< dockerd --data-root
    std::filesystem::path exec_root;       ///< dockerd --exec-root
    std::filesystem::path work_dir;        ///< scratch space for artifacts of this host
    int dockerd_pid = 0;
    std::string agent;                     ///< its migrate-agent "address:port"; empty = none
    int agent_pid = 0;
    /// The host's service network: a docker bridge network (same name on every host) whose
    /// routed /24 the root namespace reaches via the host's address. Run migratable
    /// services on it (`container_spec::network_mode = service_network`), not with
    /// `--network host`: CRIU locks the dumped task's network namespace, which for a host
    /// network container is the whole edge host. A container moved here gets an address in
    /// this host's subnet. Empty for testbeds brought up before service networks existed.
    std::string service_network;           ///< "svc"
    std::string service_subnet;            ///< e.g. "10.70.3.0/24"
    std::string service_gateway;           ///< the bridge's address in the host's namespace (.1)

    /// "unix:///run/migrate-testbed/mtb/a/docker.sock"
    std::string endpoint() const { return "unix://" + socket.string(); }
};
void to_json(json& j, const host& h);
void from_json(const json& j, host& h);

/// One throughput measurement, root namespace -> host, over TCP.
struct throughput_sample {
    link_profile profile = link_profile::normal;  ///< the profile in force while measuring
    double mbps = 0;                              ///< payload megabits (10^6) per second
    std::uint64_t bytes = 0;                      ///< payload moved
    double seconds = 0;                           ///< receiver's first byte to end of stream
};
void to_json(json& j, const throughput_sample& s);
void from_json(const json& j, throughput_sample& s);

/// The /24 a testbed of this name is given when nothing on the machine uses it: a stable
/// hash of the name inside 10.64.0.0/10 (e.g. "10.93.17.0/24"). `up` moves on to the next
/// free /24 when it is taken.
std::string default_subnet(std::string_view name);

class testbed {
public:
    /// Brings a testbed up. Fails with `already_exists` (and touches nothing) when a testbed
    /// of that name is up; with `replace` it first tears the old one down.
    static result<testbed> up(const testbed_options& opts, const hooks& h = {}, bool replace = false);
    /// Attaches to a running testbed by name (reads its state file).
    static result<testbed> open(std::string_view name,
                                const std::filesystem::path& state_root = "/run/migrate-testbed");
    /// Tears a testbed down: stops its daemons and containers, removes every namespace,
    /// link, mount, cgroup and directory it made. Works from the state file or, if that is
    /// gone, from the name prefix (after a crash). Removing a testbed that is not there is ok.
    static result<void> down(std::string_view name,
                             const std::filesystem::path& state_root = "/run/migrate-testbed",
                             const hooks& h = {});

    const testbed_options& options() const noexcept { return opts_; }
    const std::vector<host>& hosts() const noexcept { return hosts_; }
    /// The host named `name`; `not_found` otherwise.
    result<host> find(std::string_view name) const;
    /// The root-namespace side: bridge name and its address (the client/UE side).
    const std::string& bridge() const noexcept { return bridge_; }
    const std::string& client_address() const noexcept { return client_address_; }

    /// Switches every link's shaping while running (both directions of every host's link)
    /// and records it in the state file. Fails with `command_failed` quoting `tc`.
    result<void> set_profile(link_profile p);
    link_profile profile() const noexcept { return opts_.profile; }

    /// Measures the real TCP rate from the root namespace to `h` by sending `bytes` to a
    /// listener bound inside the host's namespace; records the sample (shown by `status`,
    /// kept in the state file). Blocks for about bytes*8/rate (64 MiB at 100 Mbit: ~5.4 s).
    result<double> measure_throughput_mbps(const host& h, std::uint64_t bytes = 64ull << 20);
    /// The last measurement per host name.
    const std::map<std::string, throughput_sample>& measurements() const noexcept { return measured_; }

    /// Where the agents' shared token is kept: `<state_root>/<name>/agent.token` (0600).
    std::filesystem::path agent_token_file() const;
    /// The agents' shared token; `not_found` when this testbed runs no agents.
    result<std::string> agent_token() const;

    /// The /24 this testbed uses, e.g. "10.93.17.0/24".
    const std::string& subnet() const noexcept { return subnet_; }

    /// Status as JSON (what `migrate-testbed status` prints): hosts, sockets, addresses,
    /// daemon liveness (pid alive, answers `GET /_ping`), profile, last measured rates; with
    /// agents, each host's `agent` {endpoint, pid, alive, answering} and `agent_token_file`
    /// (the path; the token itself is never printed); each host's `service_network`,
    /// `service_subnet`, `service_gateway` and `service_network_status` {present, id, subnet}
    /// (asked from its dockerd).
    json status() const;

    testbed() = default;

private:
    testbed_options opts_;
    std::vector<host> hosts_;
    std::string bridge_;
    std::string client_address_;
    std::string subnet_;
    std::map<std::string, throughput_sample> measured_;
    friend void to_json(json& j, const testbed& t);
    friend void from_json(const json& j, testbed& t);
};

}  // namespace migrate::testbed
