// The edge testbed: network namespaces + veths + a bridge + one dockerd per host.
//
// Layout of testbed N (host h):
//   /run/netns/N-h                          the host's network namespace (lo, eth0)
//   N-h (root ns) <-> eth0 (in N-h)          veth pair; the root end is a port of N-br
//   N-br                                    bridge in the root namespace, <subnet>.1 (client)
//   <state_root>/N/state.json               what `open` and `down` read
//   <state_root>/N/h/{docker.sock,dockerd.pid,dockerd.log,daemon.json,exec/}
//   <data_root>/N/h/docker                  dockerd --data-root (bind-mounted, shared)
//   <data_root>/N/h/work                    scratch space for artifacts
//   <data_root>/N/h/tmp                     TMPDIR of the host's dockerd and containerd
//   /sys/fs/cgroup/<ctrl>/N-h               dockerd --cgroup-parent
#include <migrate/testbed/testbed.hpp>

#include "service_network.hpp"
#include "system.hpp"

#include <migrate/agent/client.hpp>
#include <migrate/detail/process.hpp>

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace migrate::testbed {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
}

fs::path state_dir_of(const fs::path& state_root, std::string_view name) { return state_root / std::string(name); }
fs::path state_file_of(const fs::path& state_root, std::string_view name) {
    return state_dir_of(state_root, name) / "state.json";
}

std::string bridge_of(std::string_view name) { return std::string(name) + "-br"; }

fs::path token_file_of(const fs::path& state_root, std::string_view name) {
    return state_dir_of(state_root, name) / "agent.token";
}

result<void> save_state(const testbed& t) {
    json j = t;
    return sys::write_file_atomic(state_file_of(t.options().state_root, t.options().name), j.dump(2) + "\n");
}

// `tc` in the root namespace (netns empty) or in a host's.
std::vector<std::string> tc_argv(const std::string& netns, std::vector<std::string> rest) {
    std::vector<std::string> argv{"tc"};
    if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
}

// One direction of one link: replaces whatever root qdisc `dev` has.
result<void> shape(const std::string& netns, const std::string& dev, link_profile p) {
    // Deleting a root qdisc that is not there fails ("Cannot delete qdisc with handle of
    // zero"); that is the state we want, so the exit code does not matter.
    (void)migrate::detail::run(tc_argv(netns, {"qdisc", "del", "dev", dev, "root"}), sys::timeout_opts(10s));
    if (p == link_profile::normal) return ok();
    MIGRATE_TRY(sys::run_ok(tc_argv(netns, {"qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10"})));
    MIGRATE_TRY(sys::run_ok(tc_argv(netns, {"class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb",
                                            "rate", "100mbit", "ceil", "100mbit"})));
    return ok();
}

// What a testbed of this name has made that is visible without its state file.
std::vector<std::string> traces_of(std::string_view name, const fs::path& state_root) {
    std::vector<std::string> found;
    if (fs::exists(state_file_of(state_root, name))) found.push_back(state_file_of(state_root, name).string());
    for (auto& ns : sys::list_netns())
        if (sys::is_host_object(ns, name)) found.push_back("namespace " + ns);
    if (sys::link_exists(bridge_of(name))) found.push_back("bridge " + bridge_of(name));
    return found;
}

result<std::string> choose_subnet(const testbed_options& o, const hooks& h) {
    auto used = sys::used_networks();
    if (!used) return used.error();
    auto in_use = [&](const sys::cidr& c) {
        return std::any_of(used->begin(), used->end(), [&](const sys::cidr& u) { return sys::overlaps(u, c); });
    };
    if (!o.subnet.empty()) {
        auto c = sys::parse_cidr(o.subnet);
        if (in_use(*c))
            return make_failure(error::already_exists, "testbed_options.subnet: " + o.subnet +
                                                           " overlaps an address or route in use on this machine");
        return o.subnet;
    }
    auto start = sys::name_hash(o.name);
    for (std::uint32_t i = 0; i < 256; ++i) {
        auto s = sys::subnet_for_index(start + i);
        if (!in_use(*sys::parse_cidr(s))) {
            if (i > 0) h.info(fmt::format("subnet {} is in use; took {}", sys::subnet_for_index(start), s));
            return s;
        }
    }
    return make_failure(error::already_exists, "no free /24 in 10.64.0.0/10 near " + sys::subnet_for_index(start));
}

// ---- teardown ----------------------------------------------------------------------------------

// Everything `down` needs, from the state file and/or from what is found on the machine.
struct teardown_plan {
    std::string name;
    std::set<std::string> hosts;            // "a", "b", ...
    std::set<fs::path> roots;               // directories we made: unmount under, then remove
    std::set<int> dockerds;                 // dockerd pids verified to be ours
    std::set<int> agents;                   // migrate-agent pids (their token file is ours)
};

bool arg_is(const std::vector<std::string>& argv, std::string_view a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
}

std::string arg_after(const std::vector<std::string>& argv, std::string_view flag) {
    std::string eq = std::string(flag) + "=";
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == flag && i + 1 < argv.size()) return argv[i + 1];
        if (argv[i].rfind(eq, 0) == 0) return argv[i].substr(eq.size());
    }
    return {};
}

bool is_dockerd(const std::vector<std::string>& argv) {
    return !argv.empty() && fs::path(argv[0]).filename() == "dockerd";
}

teardown_plan plan_teardown(std::string_view name, const fs::path& state_root, const testbed* known) {
    teardown_plan plan;
    plan.name = std::string(name);
    plan.roots.insert(state_dir_of(state_root, name));
    testbed_options defaults;
    plan.roots.insert(defaults.data_root / std::string(name));
    if (known) {
        plan.roots.insert(known->options().data_root / std::string(name));
        for (auto& h : known->hosts()) plan.hosts.insert(h.name);
    }
    for (auto& ns : sys::list_netns())
        if (sys::is_host_object(ns, name)) plan.hosts.insert(ns.substr(name.size() + 1));
    std::error_code ec;
    for (auto& e : fs::directory_iterator(state_dir_of(state_root, name), ec)) {
        auto f = e.path().filename().string();
        if (e.is_directory() && f.size() == 1 && f[0] >= 'a' && f[0] <= 'h') plan.hosts.insert(f);
    }
    // dockerds of this testbed, recognised by their cgroup parent "/N-h" (unique to us);
    // their command lines also tell where their data and exec roots are.
    for (auto& p : sys::list_processes()) {
        if (!is_dockerd(p.argv)) continue;
        auto parent = arg_after(p.argv, "--cgroup-parent");
        if (parent.size() < 2 || parent[0] != '/' || !sys::is_host_object(parent.substr(1), name)) continue;
        plan.dockerds.insert(p.pid);
        plan.hosts.insert(parent.substr(parent.size() - 1));
        // <data_root>/N/h/docker and <state_root>/N/h/exec: the testbed dir is two up.
        for (auto flag : {"--data-root", "--exec-root"}) {
            fs::path d = arg_after(p.argv, flag);
            auto top = d.parent_path().parent_path();
            if (!d.empty() && top.filename() == name) plan.roots.insert(top);
        }
    }
    // Agents: their --token-file lies in our state directory (also after a crash).
    const auto token_file = token_file_of(state_root, name).string();
    for (auto& p : sys::list_processes())
        if (arg_after(p.argv, "--token-file") == token_file) plan.agents.insert(p.pid);
    // Pidfiles name dockerds that may have been started under another name of the binary.
    for (auto& h : plan.hosts) {
        auto pf = sys::read_file(state_dir_of(state_root, name) / h / "dockerd.pid");
        if (!pf) continue;
        try {
            int pid = std::stoi(*pf);
            for (auto& p : sys::list_processes())
                if (p.pid == pid && is_dockerd(p.argv) && arg_is(p.argv, "--cgroup-parent=/" + plan.name + "-" + h))
                    plan.dockerds.insert(pid);
        } catch (...) {
        }
    }
    return plan;
}

// Processes that mention one of our directories on their command line (containerd started by
// our dockerds, containerd-shim-runc-v2 with its -address under our exec root).
std::vector<int> processes_using(const teardown_plan& plan) {
    std::vector<int> out;
    for (auto& p : sys::list_processes()) {
        if (p.pid == ::getpid() || p.pid == ::getppid()) continue;
        bool ours = std::any_of(p.argv.begin(), p.argv.end(), [&](const std::string& a) {
            return std::any_of(plan.roots.begin(), plan.roots.end(), [&](const fs::path& r) {
                auto rs = r.string();
                return a == rs || a.find(rs + "/") != std::string::npos;
            });
        });
        if (ours) out.push_back(p.pid);
    }
    return out;
}

result<void> execute_teardown(const teardown_plan& plan, const hooks& h) {
    auto start = clock::now();
    std::vector<std::string> problems;

    // 0. agents: they would otherwise keep accepting work while their daemons go away.
    if (!plan.agents.empty()) {
        std::vector<std::thread> stoppers;
        for (int pid : plan.agents) stoppers.emplace_back([pid] { migrate::detail::kill_and_wait(pid, 5s); });
        for (auto& t : stoppers) t.join();
        h.info(fmt::format("testbed {}: stopped {} agent(s)", plan.name, plan.agents.size()));
    }

    // 1. containers first: they live in the cgroups "/N-h/<id>" and are disposable. Killing
    //    them up front spares dockerd its 10 s stop timeout per container that ignores SIGTERM.
    auto cgroups = sys::cgroup_roots();
    {
        std::vector<int> pids;
        for (auto& host : plan.hosts)
            for (auto& root : cgroups)
                for (int pid : sys::cgroup_pids(root / (plan.name + "-" + host))) pids.push_back(pid);
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        if (!pids.empty()) {
            sys::kill_all(pids, 5s);
            h.info(fmt::format("testbed {}: killed {} container process(es)", plan.name, pids.size()));
        }
    }

    // 2. dockerds: SIGTERM all at once (each stops its containerd), then wait; SIGKILL what
    //    is left.
    if (!plan.dockerds.empty()) {
        std::vector<std::thread> stoppers;
        for (int pid : plan.dockerds)
            stoppers.emplace_back([pid] { migrate::detail::kill_and_wait(pid, 20s); });
        for (auto& t : stoppers) t.join();
        h.info(fmt::format("testbed {}: stopped {} dockerd(s) ({:.1f} s)", plan.name, plan.dockerds.size(), seconds_since(start)));
    }

    // 3. whatever is left: containerd, shims, container processes, anything in the namespaces
    //    or the cgroups. Twice, because killing a shim can leave its children to be found.
    for (int round = 0; round < 2; ++round) {
        std::vector<int> pids = processes_using(plan);
        for (auto& host : plan.hosts) {
            auto ns = plan.name + "-" + host;
            for (int pid : sys::netns_pids(ns)) pids.push_back(pid);
            for (auto& root : cgroups)
                for (int pid : sys::cgroup_pids(root / ns)) pids.push_back(pid);
        }
        if (pids.empty()) break;
        sys::kill_all(pids, 5s);
    }

    // 4. mounts under our directories (overlay layers, shm, the shared bind of each data root).
    std::vector<fs::path> roots(plan.roots.begin(), plan.roots.end());
    for (auto& stuck : sys::unmount_under(roots)) problems.push_back("still mounted: " + stuck.string());

    // 5. namespaces (deleting one destroys its eth0 and so the veth's root end), links, bridge.
    for (auto& host : plan.hosts) {
        auto ns = plan.name + "-" + host;
        if (fs::exists(fs::path("/run/netns") / ns))
            if (auto r = sys::run_ok({"ip", "netns", "del", ns}); !r) problems.push_back(r.error().message);
    }
    for (auto& host : plan.hosts) {
        // The veth's root end goes away with the namespace, asynchronously: give it a moment
        // before deleting it ourselves (a namespace that was already gone leaves it behind).
        auto veth = plan.name + "-" + host;
        for (int i = 0; i < 20 && sys::link_exists(veth); ++i) std::this_thread::sleep_for(50ms);
        if (sys::link_exists(veth))
            if (auto r = sys::run_ok({"ip", "link", "del", veth}); !r && sys::link_exists(veth))
                problems.push_back(r.error().message);
    }
    if (sys::link_exists(bridge_of(plan.name)))
        if (auto r = sys::run_ok({"ip", "link", "del", bridge_of(plan.name)}); !r && sys::link_exists(bridge_of(plan.name)))
            problems.push_back(r.error().message);

    // 6. cgroup directories "/N-h" in every hierarchy (v1 controllers and v2).
    for (auto& root : cgroups) {
        std::error_code ec;
        for (auto& e : fs::directory_iterator(root, ec)) {
            if (!sys::is_host_object(e.path().filename().string(), plan.name)) continue;
            std::string why;
            if (!sys::remove_cgroup_tree(e.path(), why)) problems.push_back(why);
        }
    }

    // 7. directories, only where nothing is mounted any more (remove_all would otherwise
    //    descend into a live filesystem).
    auto mounts = sys::read_mounts();
    for (auto& r : plan.roots) {
        bool mounted = std::any_of(mounts.begin(), mounts.end(), [&](const sys::mount_entry& m) {
            return sys::is_under(m.mount_point, r);
        });
        if (mounted) continue;  // already reported in 4.
        std::error_code ec;
        fs::remove_all(r, ec);
        if (ec) problems.push_back(fmt::format("cannot remove {}: {}", r.string(), ec.message()));
    }

    if (!problems.empty()) {
        std::string msg = "testbed " + plan.name + " not fully removed:";
        for (auto& p : problems) msg += " " + p + ";";
        msg.pop_back();
        return make_failure(error::io_error, msg);
    }
    h.info(fmt::format("testbed {}: down ({:.1f} s)", plan.name, seconds_since(start)));
    return ok();
}

result<void> teardown(std::string_view name, const fs::path& state_root, const testbed* known, const hooks& h) {
    return execute_teardown(plan_teardown(name, state_root, known), h);
}

// ---- bring-up ---------------------------------------------------------------------------------

result<void> make_network(const testbed& t, const hooks& h) {
    auto& br = t.bridge();
    MIGRATE_TRY(sys::run_ok({"ip", "link", "add", br, "type", "bridge"}));
    MIGRATE_TRY(sys::run_ok({"ip", "addr", "add", t.client_address() + "/24", "dev", br}));
    MIGRATE_TRY(sys::run_ok({"ip", "link", "set", br, "up"}));
    for (auto& host : t.hosts()) {
        const auto& ns = host.netns;
        MIGRATE_TRY(sys::run_ok({"ip", "netns", "add", ns}));
        MIGRATE_TRY(sys::run_ok({"ip", "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns}));
        MIGRATE_TRY(sys::run_ok({"ip", "link", "set", ns, "master", br, "up"}));
        MIGRATE_TRY(sys::run_ok({"ip", "-n", ns, "link", "set", "lo", "up"}));
        MIGRATE_TRY(sys::run_ok({"ip", "-n", ns, "addr", "add", host.address + "/24", "dev", "eth0"}));
        MIGRATE_TRY(sys::run_ok({"ip", "-n", ns, "link", "set", "eth0", "up"}));
        MIGRATE_TRY(shape("", ns, t.profile()));
        MIGRATE_TRY(shape(ns, "eth0", t.profile()));
        h.info(fmt::format("host {}: namespace {}, address {}", host.name, ns, host.address));
    }
    // Right after the links: the routes mark the service subnets as taken for any testbed
    // brought up next.
    return svc::add_routes(t);
}

// The daemons' temporary directory (TMPDIR of dockerd and the containerd it starts), under
// the testbed's data root so `down` removes it. containerd restores a checkpoint from a
// copy it unpacks into a `ctrd-checkpoint*` directory there and does not remove it (seen
// here: 265 of them, up to 15 MB each, in /tmp after one day of tests).
fs::path daemon_tmp_dir(const host& host) { return host.data_root.parent_path() / "tmp"; }

result<void> prepare_dirs(const host& host) {
    std::error_code ec;
    auto state_dir = host.socket.parent_path();
    for (auto& d : {state_dir, host.exec_root, host.data_root, host.work_dir, daemon_tmp_dir(host)}) {
        fs::create_directories(d, ec);
        if (ec) return make_failure(error::io_error, fmt::format("cannot create {}: {}", d.string(), ec.message()));
    }
    // A config file of our own, so /etc/docker/daemon.json cannot change what we asked for.
    MIGRATE_TRY(sys::write_file_atomic(state_dir / "daemon.json", "{}\n"));
    // CRIU restores a checkpoint taken on another daemon only when the target's data root is
    // on a shared mount ("mnt-v2: Failed to copy sharing"): make it one.
    MIGRATE_TRY(sys::run_ok({"mount", "--bind", host.data_root.string(), host.data_root.string()}));
    MIGRATE_TRY(sys::run_ok({"mount", "--make-shared", host.data_root.string()}));
    return ok();
}

std::vector<std::string> dockerd_argv(const testbed_options& o, const host& host) {
    auto state_dir = host.socket.parent_path();
    return {"env",
            "TMPDIR=" + daemon_tmp_dir(host).string(),
            "nsenter",
            "--net=/run/netns/" + host.netns,
            "dockerd",
            "--data-root", host.data_root.string(),
            "--exec-root", host.exec_root.string(),
            "-H", host.endpoint(),
            "--pidfile", (state_dir / "dockerd.pid").string(),
            "--config-file", (state_dir / "daemon.json").string(),
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--experimental",
            "--cgroup-parent=/" + o.name + "-" + host.name};
}

// Starts every host's dockerd, then waits for all of them to answer /_ping.
result<void> start_daemons(testbed& t, std::vector<host>& hosts, const hooks& h) {
    const auto& o = t.options();
    std::vector<clock::time_point> started(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        MIGRATE_TRY(prepare_dirs(hosts[i]));
        auto log = hosts[i].socket.parent_path() / "dockerd.log";
        started[i] = clock::now();
        auto pid = migrate::detail::spawn_daemon(dockerd_argv(o, hosts[i]), log);
        if (!pid) return pid.error();
        hosts[i].dockerd_pid = *pid;
    }
    std::vector<bool> ready(hosts.size(), false);
    auto timeout = std::chrono::milliseconds(o.dockerd_start_timeout_ms);
    while (std::find(ready.begin(), ready.end(), false) != ready.end()) {
        for (std::size_t i = 0; i < hosts.size(); ++i) {
            if (ready[i]) continue;
            auto& host = hosts[i];
            auto log = host.socket.parent_path() / "dockerd.log";
            if (sys::docker_ping(host.socket, 1s)) {
                ready[i] = true;
                h.info(fmt::format("host {}: dockerd ready ({:.1f} s, pid {}, {})", host.name, seconds_since(started[i]),
                                   host.dockerd_pid, host.endpoint()));
                continue;
            }
            if (!migrate::detail::process_alive(host.dockerd_pid))
                return make_failure(error::daemon_unreachable,
                                    fmt::format("host {}: dockerd (pid {}) exited during start; {} ends with:\n{}",
                                                host.name, host.dockerd_pid, log.string(), sys::file_tail(log)));
            if (clock::now() - started[i] > timeout)
                return make_failure(error::timeout,
                                    fmt::format("host {}: dockerd did not answer on {} within {} ms; {} ends with:\n{}",
                                                host.name, host.socket.string(), o.dockerd_start_timeout_ms,
                                                log.string(), sys::file_tail(log)));
        }
        std::this_thread::sleep_for(100ms);
    }
    return ok();
}

// ---- agents ------------------------------------------------------------------------------------

// 32 random bytes as hex, written with mode 0600 from the start (never readable by others,
// not even for a moment).
result<void> write_token(const fs::path& file) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return make_failure(error::internal, "RAND_bytes failed: no random token");
    std::string token;
    for (auto c : raw) token += fmt::format("{:02x}", c);
    token += "\n";
    std::error_code ec;
    fs::remove(file, ec);
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_failure(error::io_error, fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
    bool written = ::write(fd, token.data(), token.size()) == static_cast<ssize_t>(token.size());
    written = (::close(fd) == 0) && written;
    if (!written) return make_failure(error::io_error, "cannot write " + file.string());
    return ok();
}

std::vector<std::string> agent_argv(const testbed_options& o, const host& host, const fs::path& token_file) {
    return {"nsenter",
            "--net=/run/netns/" + host.netns,
            o.agent_binary.string(),
            "--listen", host.agent,
            "--token-file", token_file.string(),
            "--work-dir", host.work_dir.string(),
            "--docker-socket", host.socket.string(),
            "--name", host.name};
}

std::string read_token_file(const fs::path& file) {
    auto t = sys::read_file(file);
    if (!t) return {};
    auto s = *t;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// Pings the agent at `address` with the token (one short attempt).
bool agent_answers(const std::string& address, const std::string& token, std::chrono::milliseconds timeout) {
    migrate::agent::client_options co;
    co.token = token;
    co.name = "testbed";
    co.connect_timeout = timeout;
    co.stall_timeout = std::max<std::chrono::milliseconds>(timeout, 100ms);
    co.reply_timeout = std::max<std::chrono::milliseconds>(timeout, 100ms);
    auto c = migrate::agent::agent_client::make(address, co);
    return c && c->ping().has_value();
}

// Starts one agent per host inside its namespace, bound to the host's address, then waits
// until each answers a ping with the token.
result<void> start_agents(const testbed_options& o, std::vector<host>& hosts, const hooks& h) {
    auto token_file = token_file_of(o.state_root, o.name);
    MIGRATE_TRY(write_token(token_file));
    auto token = read_token_file(token_file);
    std::vector<clock::time_point> started(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        hosts[i].agent = fmt::format("{}:{}", hosts[i].address, o.agent_port);
        started[i] = clock::now();
        auto pid = migrate::detail::spawn_daemon(agent_argv(o, hosts[i], token_file),
                                                 hosts[i].socket.parent_path() / "agent.log");
        if (!pid) return pid.error();
        hosts[i].agent_pid = *pid;
    }
    auto timeout = std::chrono::milliseconds(o.dockerd_start_timeout_ms);
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        auto& host = hosts[i];
        auto log = host.socket.parent_path() / "agent.log";
        for (;;) {
            if (agent_answers(host.agent, token, 500ms)) {
                h.info(fmt::format("host {}: agent ready ({:.1f} s, pid {}, {})", host.name, seconds_since(started[i]),
                                   host.agent_pid, host.agent));
                break;
            }
            if (!migrate::detail::process_alive(host.agent_pid))
                return make_failure(error::daemon_unreachable,
                                    fmt::format("host {}: migrate-agent (pid {}) exited during start; {} ends with:\n{}",
                                                host.name, host.agent_pid, log.string(), sys::file_tail(log)));
            if (clock::now() - started[i] > timeout)
                return make_failure(error::timeout,
                                    fmt::format("host {}: migrate-agent did not answer on {} within {} ms; {} ends with:\n{}",
                                                host.name, host.agent, o.dockerd_start_timeout_ms, log.string(),
                                                sys::file_tail(log)));
            std::this_thread::sleep_for(50ms);
        }
    }
    return ok();
}

}  // namespace

// ---- the public API ----------------------------------------------------------------------------

result<testbed> testbed::up(const testbed_options& opts, const hooks& h, bool replace) {
    MIGRATE_TRY(opts.validate());
    auto start = clock::now();
    if (auto traces = traces_of(opts.name, opts.state_root); !traces.empty()) {
        if (!replace) {
            std::string what;
            for (auto& t : traces) what += (what.empty() ? "" : ", ") + t;
            return make_failure(error::already_exists,
                                fmt::format("testbed '{}' is already up ({}); use it, take it down first "
                                            "(`migrate-testbed down --name {}`) or ask for replace",
                                            opts.name, what, opts.name));
        }
        h.info(fmt::format("testbed {}: replacing the running one", opts.name));
        auto old = open(opts.name, opts.state_root);
        MIGRATE_TRY(teardown(opts.name, opts.state_root, old ? &*old : nullptr, h));
    }

    auto subnet = choose_subnet(opts, h);
    if (!subnet) return subnet.error();

    testbed t;
    t.opts_ = opts;
    t.subnet_ = *subnet;
    t.bridge_ = bridge_of(opts.name);
    auto base = *sys::parse_subnet24(*subnet);
    t.client_address_ = sys::ip_to_string(base + 1);
    auto service_subnets = svc::choose_subnets(opts.name, *subnet, opts.hosts);
    if (!service_subnets) return service_subnets.error();
    auto state_dir = state_dir_of(opts.state_root, opts.name);
    for (int i = 0; i < opts.hosts; ++i) {
        host x;
        x.name = sys::host_name(i);
        x.netns = opts.name + "-" + x.name;
        x.address = sys::ip_to_string(base + 2 + static_cast<std::uint32_t>(i));
        x.socket = state_dir / x.name / "docker.sock";
        x.exec_root = state_dir / x.name / "exec";
        x.data_root = opts.data_root / opts.name / x.name / "docker";
        x.work_dir = opts.data_root / opts.name / x.name / "work";
        t.hosts_.push_back(std::move(x));
    }
    svc::assign(t.hosts_, *service_subnets);
    h.info(fmt::format("testbed {}: subnet {}, bridge {} {}", opts.name, t.subnet_, t.bridge_, t.client_address_));

    // From here on a failure tears down what was made. The state file goes first so that a
    // crash half-way still leaves `down` everything it needs.
    auto fail = [&](const failure& f) -> result<testbed> {
        h.info(fmt::format("testbed {}: bring-up failed, tearing down: {}", opts.name, f.what()));
        (void)teardown(opts.name, opts.state_root, &t, h);
        return f;
    };
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (ec) return fail(make_failure(error::io_error, fmt::format("cannot create {}: {}", state_dir.string(), ec.message())));
    if (auto r = save_state(t); !r) return fail(r.error());
    if (auto r = make_network(t, h); !r) return fail(r.error());
    if (auto r = start_daemons(t, t.hosts_, h); !r) return fail(r.error());
    if (auto r = svc::create_networks(t.hosts_, opts.name, h); !r) return fail(r.error());
    if (auto r = save_state(t); !r) return fail(r.error());
    if (!opts.agent_binary.empty()) {
        auto r = start_agents(opts, t.hosts_, h);
        (void)save_state(t);  // the pids, also on failure (down finds the agents by token file anyway)
        if (!r) return fail(r.error());
    }
    h.info(fmt::format("testbed {}: up with {} host(s), profile {} ({:.1f} s)", opts.name, opts.hosts,
                       to_string(opts.profile), seconds_since(start)));
    return t;
}

result<testbed> testbed::open(std::string_view name, const fs::path& state_root) {
    MIGRATE_TRY(sys::validate_name(name));
    auto file = state_file_of(state_root, name);
    auto text = sys::read_file(file);
    if (!text) return make_failure(error::not_found, fmt::format("testbed '{}' is not up: no {}", name, file.string()));
    testbed t;
    try {
        t = json::parse(*text).get<testbed>();
    } catch (const migration_error& e) {
        return make_failure(error::corrupt_artifact, file.string() + ": " + e.details().message);
    } catch (const json::exception& e) {
        return make_failure(error::corrupt_artifact, file.string() + ": " + e.what());
    }
    t.opts_.state_root = state_root;
    for (auto& h : t.hosts_)
        if (!fs::exists(fs::path("/run/netns") / h.netns))
            return make_failure(error::not_found,
                                fmt::format("testbed '{}': {} exists but namespace {} does not (crashed? "
                                            "`migrate-testbed down --name {}` cleans up)",
                                            name, file.string(), h.netns, name));
    return t;
}

result<void> testbed::down(std::string_view name, const fs::path& state_root, const hooks& h) {
    MIGRATE_TRY(sys::validate_name(name));
    auto known = open(name, state_root);
    if (!known) {
        // No usable state file: work from the name prefix alone.
        auto t = sys::read_file(state_file_of(state_root, name));
        if (t) {
            try {
                auto partial = json::parse(*t).get<testbed>();
                return teardown(name, state_root, &partial, h);
            } catch (...) {
            }
        }
        return teardown(name, state_root, nullptr, h);
    }
    return teardown(name, state_root, &*known, h);
}

result<host> testbed::find(std::string_view name) const {
    for (auto& h : hosts_)
        if (h.name == name) return h;
    return make_failure(error::not_found, fmt::format("testbed '{}' has no host '{}'", opts_.name, name));
}

result<void> testbed::set_profile(link_profile p) {
    for (auto& h : hosts_) {
        MIGRATE_TRY(shape("", h.netns, p));
        MIGRATE_TRY(shape(h.netns, "eth0", p));
    }
    opts_.profile = p;
    return save_state(*this);
}

fs::path testbed::agent_token_file() const { return token_file_of(opts_.state_root, opts_.name); }

result<std::string> testbed::agent_token() const {
    auto file = agent_token_file();
    auto t = read_token_file(file);
    if (t.empty())
        return make_failure(error::not_found, fmt::format("testbed '{}' runs no agents (no token in {}); bring it up "
                                                          "with agents (`migrate-testbed up --agents`)",
                                                          opts_.name, file.string()));
    return t;
}

json testbed::status() const {
    json hosts = json::array();
    bool all_up = true;
    const std::string token = read_token_file(agent_token_file());
    bool agents = false;
    for (auto& h : hosts_) {
        json j = h;
        bool alive = migrate::detail::process_alive(h.dockerd_pid);
        bool answering = sys::docker_ping(h.socket, 2s);
        all_up = all_up && alive && answering && fs::exists(fs::path("/run/netns") / h.netns);
        j["dockerd_alive"] = alive;
        j["daemon_answering"] = answering;
        if (!h.service_network.empty()) {
            auto svc_status = answering ? svc::network_status(h) : json{{"present", false}, {"error", "dockerd not answering"}};
            all_up = all_up && svc_status.value("present", false);
            j["service_network_status"] = std::move(svc_status);
        }
        if (!h.agent.empty()) {
            agents = true;
            bool a_alive = migrate::detail::process_alive(h.agent_pid);
            bool a_answering = a_alive && !token.empty() && agent_answers(h.agent, token, 2s);
            all_up = all_up && a_alive && a_answering;
            j["agent_alive"] = a_alive;
            j["agent_answering"] = a_answering;
        }
        if (auto m = measured_.find(h.name); m != measured_.end()) j["measured"] = m->second;
        hosts.push_back(std::move(j));
    }
    return json{{"name", opts_.name},
                {"up", all_up},
                {"profile", opts_.profile},
                {"shaping", opts_.profile == link_profile::normal ? "unshaped" : "htb 100mbit both directions"},
                {"subnet", subnet_},
                {"bridge", bridge_},
                {"client_address", client_address_},
                {"state_file", state_file_of(opts_.state_root, opts_.name).string()},
                {"agent_token_file", agents ? agent_token_file().string() : std::string{}},
                {"hosts", hosts}};
}

}  // namespace migrate::testbed

namespace migrate::testbed {

result<double> testbed::measure_throughput_mbps(const host& h, std::uint64_t bytes) {
    if (bytes == 0) return make_failure(error::invalid_argument, "measure_throughput_mbps: bytes must be > 0");
    // Generous: 10 s plus the time the transfer takes at 10 Mbit/s.
    auto timeout = std::chrono::milliseconds(10000 + bytes * 8 / 10'000);
    auto t = sys::measure_tcp(h.netns, h.address, bytes, timeout);
    if (!t) return t.error();
    if (t->seconds <= 0) return make_failure(error::io_error, "transfer to " + h.netns + " took no measurable time");
    throughput_sample s{opts_.profile, static_cast<double>(t->bytes) * 8 / t->seconds / 1e6, t->bytes, t->seconds};
    measured_[h.name] = s;
    MIGRATE_TRY(save_state(*this));
    return s.mbps;
}

}  // namespace migrate::testbed
