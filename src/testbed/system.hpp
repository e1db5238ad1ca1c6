// src/testbed/system.hpp — the Linux plumbing under the testbed (private to src/testbed):
// names and subnets, `ip`/`tc` through argv, /proc scans, mountinfo, cgroups, the dockerd
// ping. Everything here is idempotent where it deletes, so `down` can run it blindly.
#pragma once

#include <migrate/detail/process.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::testbed::sys {

// ---- names and addresses --------------------------------------------------------------------

/// `[a-z0-9]{1,6}`; the message names the field.
result<void> validate_name(std::string_view name);
/// Host names: "a".."h".
std::string host_name(int index);
/// True for "<name>-a" .. "<name>-h": the namespaces and root-side veths of testbed `name`.
bool is_host_object(std::string_view object, std::string_view name);

/// An IPv4 network, address in host byte order.
struct cidr {
    std::uint32_t addr = 0;
    int prefix = 32;
};
std::optional<cidr> parse_cidr(std::string_view s);
/// "a.b.c.0/24" -> the network address; nullopt for anything else.
std::optional<std::uint32_t> parse_subnet24(std::string_view s);
bool overlaps(const cidr& a, const cidr& b);
std::string ip_to_string(std::uint32_t addr);
/// FNV-1a of the name: stable across runs and builds.
std::uint32_t name_hash(std::string_view name);
/// The `index`-th candidate /24 inside 10.64.0.0/10 (wraps), e.g. "10.93.17.0/24".
std::string subnet_for_index(std::uint32_t index);
/// Networks in use in the root namespace: every address and every route except the default.
result<std::vector<cidr>> used_networks();

// ---- kernel objects --------------------------------------------------------------------------

/// Names under /run/netns.
std::vector<std::string> list_netns();
/// Link names in the root namespace.
result<std::vector<std::string>> list_links();
bool link_exists(std::string_view name);

/// Run options with only a timeout (the child is killed when it overruns).
migrate::detail::run_options timeout_opts(std::chrono::milliseconds t);
/// Runs a program (argv) and fails with `command_failed` naming it and quoting stderr.
result<void> run_ok(const std::vector<std::string>& argv);

struct process_info {
    int pid = 0;
    std::vector<std::string> argv;
};
/// Every process with a readable command line (kernel threads excluded).
std::vector<process_info> list_processes();
/// Pids in a network namespace (`ip netns pids`); empty if it does not exist.
std::vector<int> netns_pids(std::string_view netns);
/// SIGKILL each pid (ignoring ours) and wait up to `wait` for them to be gone.
void kill_all(const std::vector<int>& pids, std::chrono::milliseconds wait);

struct mount_entry {
    std::filesystem::path mount_point;
    std::string fstype;
};
/// /proc/self/mountinfo, in order, with octal escapes (\040) decoded.
std::vector<mount_entry> read_mounts();
/// True if `p` is `root` or lies under it (lexically).
bool is_under(const std::filesystem::path& p, const std::filesystem::path& root);
/// Unmounts everything mounted at or under any of `roots`, deepest first, lazily when busy.
/// Returns the mount points that stayed.
std::vector<std::filesystem::path> unmount_under(const std::vector<std::filesystem::path>& roots);

/// Mount points of every cgroup v1 controller and of cgroup v2.
std::vector<std::filesystem::path> cgroup_roots();
/// Pids in a cgroup directory and all its children.
std::vector<int> cgroup_pids(const std::filesystem::path& dir);
/// rmdir of a cgroup tree, children first; false (with `why`) if something stayed.
bool remove_cgroup_tree(const std::filesystem::path& dir, std::string& why);

// ---- files and dockerd -------------------------------------------------------------------------

/// Writes `content` to `path` through a temporary file and rename(2): readers see the old
/// file or the new one, never half of one.
result<void> write_file_atomic(const std::filesystem::path& path, const std::string& content);
result<std::string> read_file(const std::filesystem::path& path);

/// `GET /_ping` on a dockerd unix socket; true on "200 OK".
bool docker_ping(const std::filesystem::path& socket, std::chrono::milliseconds timeout);
/// Last `n` characters of a file (dockerd's log, for error messages).
std::string file_tail(const std::filesystem::path& path, std::size_t n = 1500);

// ---- sockets in a host's namespace ------------------------------------------------------------

/// A TCP socket (fd, close-on-exec) belonging to network namespace `netns` (empty: ours). A
/// socket belongs to the namespace it was created in, whichever thread uses it later, so a
/// throwaway thread joins the namespace with setns(2), makes the socket and ends; no thread
/// of the caller ever changes namespace and no program is spawned.
result<int> tcp_socket_in(const std::string& netns);
/// Any socket(2) (close-on-exec) in network namespace `netns`, made the same way.
result<int> socket_in(const std::string& netns, int domain, int type, int protocol);

// ---- throughput ---------------------------------------------------------------------------------

struct tcp_transfer {
    std::uint64_t bytes = 0;
    double seconds = 0;   ///< receiver: first byte to end of stream
};
/// Sends `bytes` over TCP from the calling (root) namespace to a listener bound inside
/// network namespace `netns` at `address`; the listener socket is created by a short-lived
/// thread that joined the namespace with setns(2), so no program is spawned.
result<tcp_transfer> measure_tcp(const std::string& netns, const std::string& address, std::uint64_t bytes,
                                 std::chrono::milliseconds timeout);

}  // namespace migrate::testbed::sys
