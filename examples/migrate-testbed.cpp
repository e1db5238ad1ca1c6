// migrate-testbed — bring a multi-host edge testbed up on this machine, look at it, shape
// its links, take it down. Needs root.
//
// Exit codes: 0 ok, 1 the operation failed (message on stderr), 2 usage error.
#include <migrate/testbed/ovs.hpp>
#include <migrate/testbed/testbed.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

using migrate::testbed::link_profile;
using migrate::testbed::testbed;

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

int fail(const migrate::failure& f) {
    std::cerr << "migrate-testbed: " << f.what() << "\n";
    return exit_failure;
}

migrate::hooks progress(bool quiet) {
    migrate::hooks h;
    if (!quiet) h.log = [](std::string_view s) { std::cerr << s << "\n"; };
    return h;
}

std::string fmt_mbps(const migrate::json& host) {
    if (!host.contains("measured")) return "-";
    return fmt::format("{:.0f} Mbit/s", host["measured"]["mbps"].get<double>());
}

// migrate-agent installed or built next to this program.
std::string default_agent_binary() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    return (self.parent_path() / "migrate-agent").string();
}

std::string agent_cell(const migrate::json& h) {
    auto a = h.value("agent", std::string{});
    if (a.empty()) return "-";
    return fmt::format("{} pid {} {}", a, h.value("agent_pid", 0),
                       h.value("agent_answering", false) ? "answering"
                       : h.value("agent_alive", false)   ? "alive, silent"
                                                         : "DEAD");
}

void print_table(const migrate::json& st) {
    fmt::print("testbed {}  profile {} ({})  subnet {}\n", st["name"].get<std::string>(),
               st["profile"].get<std::string>(), st["shaping"].get<std::string>(), st["subnet"].get<std::string>());
    fmt::print("client side (root namespace): bridge {}  address {}\n", st["bridge"].get<std::string>(),
               st["client_address"].get<std::string>());
    fmt::print("{:<5} {:<9} {:<15} {:<48} {:<22} {}\n", "HOST", "NETNS", "ADDRESS", "DOCKER_HOST", "DOCKERD", "MEASURED");
    for (auto& h : st["hosts"]) {
        auto daemon = fmt::format("pid {} {}", h["dockerd_pid"].get<int>(),
                                  h.value("daemon_answering", false) ? "answering"
                                  : h.value("dockerd_alive", false)  ? "alive, silent"
                                                                     : "DEAD");
        fmt::print("{:<5} {:<9} {:<15} {:<48} {:<22} {}\n", h["name"].get<std::string>(), h["netns"].get<std::string>(),
                   h["address"].get<std::string>(), h["endpoint"].get<std::string>(), daemon, fmt_mbps(h));
    }
    bool service_networks = false;
    for (auto& h : st["hosts"]) service_networks = service_networks || !h.value("service_subnet", std::string{}).empty();
    if (service_networks) {
        fmt::print("service networks (run migratable containers on them, reached from the client side):\n");
        for (auto& h : st["hosts"]) {
            auto status = h.value("service_network_status", migrate::json::object());
            fmt::print("  {:<5} {:<4} {:<18} gateway {:<15} {}\n", h["name"].get<std::string>(),
                       h.value("service_network", std::string{}), h.value("service_subnet", std::string{}),
                       h.value("service_gateway", std::string{}),
                       status.value("present", false) ? "present" : "MISSING: " + status.value("error", std::string{}));
        }
    }
    auto token_file = st.value("agent_token_file", std::string{});
    if (!token_file.empty()) {
        fmt::print("agents (token in {}, mode 0600):\n", token_file);
        for (auto& h : st["hosts"]) fmt::print("  {:<5} {}\n", h["name"].get<std::string>(), agent_cell(h));
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "migrate-testbed: a multi-host edge testbed on one machine (needs root).\n"
        "Each edge host is a network namespace <name>-<host> with its own dockerd, joined by a\n"
        "veth to the bridge <name>-br in the root namespace, which plays the client side.\n"
        "\n"
        "Examples:\n"
        "  migrate-testbed up --name demo --hosts 2            # hosts a and b, unshaped links\n"
        "  migrate-testbed up --name demo --agents             # ... and a migrate-agent on each host\n"
        "  migrate-testbed status --name demo --measure        # sockets, addresses, measured Mbit/s\n"
        "  migrate-testbed profile --name demo congested       # HTB 100 Mbit on every link\n"
        "  DOCKER_HOST=unix:///run/migrate-testbed/demo/a/docker.sock docker ps\n"
        "  migrate-testbed down --name demo                    # removes everything it made\n"
        "  migrate-testbed ovs up                              # Open vSwitch daemons (if not running)\n"
        "  migrate-testbed ovs down --prefix mof               # its leftover bridges/ports, daemons if ours\n",
        "migrate-testbed"};
    app.require_subcommand(1);
    app.footer("Exit codes: 0 ok, 1 failure (message on stderr), 2 usage error.\n"
               "--name defaults to $MIGRATE_TESTBED, else \"mtb\". See docs/testbed.md.");

    std::string name = "mtb";
    std::string state_root = "/run/migrate-testbed";
    bool as_json = false;
    bool quiet = false;
    auto add_common = [&](CLI::App* sub) {
        sub->add_option("--name,-n", name, "testbed name, [a-z0-9]{1,6}; prefixes every namespace, link, cgroup")
            ->envname("MIGRATE_TESTBED")
            ->capture_default_str();
        sub->add_option("--state-root", state_root, "where state.json, sockets and logs live")->capture_default_str();
    };

    // up
    migrate::testbed::testbed_options opts;
    bool replace = false;
    std::string profile_name = "normal";
    auto* up = app.add_subcommand("up", "bring a testbed up (fails if one of that name is up, unless --replace)");
    up->footer("Example:\n  migrate-testbed up --name mci --hosts 2 --replace --agents\n"
               "  prints a table of hosts: namespace, address, DOCKER_HOST socket, dockerd pid, and with\n"
               "  --agents each host's migrate-agent (address:port, pid) and where the shared token is");
    add_common(up);
    up->add_option("--hosts,-k", opts.hosts, "number of edge hosts (1..8), named a, b, c, ...")->capture_default_str();
    up->add_option("--profile,-p", profile_name, "link profile")
        ->check(CLI::IsMember({"normal", "congested"}))
        ->capture_default_str();
    up->add_flag("--replace", replace, "tear down a running testbed of that name first");
    up->add_option("--subnet", opts.subnet, "an IPv4 /24 like 10.93.17.0/24 (default: derived from the name)");
    up->add_option("--data-root", opts.data_root, "parent of the dockerd data roots")->capture_default_str();
    up->add_option("--timeout-ms", opts.dockerd_start_timeout_ms, "how long each dockerd may take to answer")
        ->capture_default_str();
    bool agents = false;
    std::string agent_binary;
    up->add_flag("--agents", agents, "start a migrate-agent in every host (token in <state-root>/<name>/agent.token)");
    up->add_option("--agent-binary", agent_binary, "the migrate-agent program (default: the one next to migrate-testbed)");
    up->add_option("--agent-port", opts.agent_port, "TCP port of every agent, on the host's address")->capture_default_str();
    up->add_flag("--json", as_json, "print the status as JSON");
    up->add_flag("--quiet,-q", quiet, "no progress lines on stderr");

    // down
    auto* down = app.add_subcommand("down", "tear a testbed down: daemons, containers, namespaces, links, mounts, "
                                            "cgroups, directories (ok if it is not up)");
    down->footer("Example:\n  migrate-testbed down --name mci");
    add_common(down);
    down->add_flag("--quiet,-q", quiet, "no progress lines on stderr");

    // status
    bool measure = false;
    double measure_mb = 32;
    auto* status = app.add_subcommand("status", "show hosts, sockets, addresses and whether each dockerd answers");
    status->footer("Example:\n  migrate-testbed status --name mci --measure --json\n"
                   "  --measure sends --mb MiB over TCP from the root namespace to each host and reports Mbit/s");
    add_common(status);
    status->add_flag("--measure", measure, "measure each link's TCP rate (root namespace -> host)");
    status->add_option("--mb", measure_mb, "MiB sent per host by --measure")->capture_default_str()->check(CLI::PositiveNumber);
    status->add_flag("--json", as_json, "print JSON");

    // profile
    auto* profile = app.add_subcommand("profile", "switch every link of a running testbed to a profile");
    profile->footer("Example:\n  migrate-testbed profile --name mci congested   # HTB 100 Mbit both directions\n"
                    "  migrate-testbed profile --name mci normal      # no shaping");
    add_common(profile);
    profile->add_option("profile", profile_name, "normal | congested")
        ->required()
        ->check(CLI::IsMember({"normal", "congested"}));

    // ovs: the Open vSwitch daemons for the OpenFlow tests (CTest fixture "ovs: up"/"ovs: down").
    std::string ovs_action;
    std::vector<std::string> ovs_prefixes;
    auto* ovs = app.add_subcommand("ovs", "start Open vSwitch if it is not running / remove an ovs_lab's leftovers and "
                                          "stop the daemons if we started them and no bridge is left");
    ovs->footer("Example:\n  migrate-testbed ovs up\n  migrate-testbed ovs down --prefix mof --prefix oft");
    ovs->add_option("action", ovs_action, "up | down")->required()->check(CLI::IsMember({"up", "down"}));
    ovs->add_option("--prefix", ovs_prefixes, "ovs_lab prefixes whose bridges, veths and namespaces down removes");
    ovs->add_flag("--quiet,-q", quiet, "no progress lines on stderr");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        return exit_usage;
    }

    auto to_profile = [](const std::string& s) { return s == "congested" ? link_profile::congested : link_profile::normal; };
    auto print = [&](const migrate::json& st) {
        if (as_json) std::cout << st.dump(2) << "\n";
        else print_table(st);
    };

    if (*up) {
        opts.name = name;
        opts.state_root = state_root;
        opts.profile = to_profile(profile_name);
        if (agents || !agent_binary.empty()) {
            opts.agent_binary = agent_binary.empty() ? default_agent_binary() : agent_binary;
            if (!opts.agent_binary.empty()) opts.agent_binary = std::filesystem::absolute(opts.agent_binary);
        }
        auto tb = testbed::up(opts, progress(quiet), replace);
        if (!tb) return fail(tb.error());
        print(tb->status());
        return 0;
    }
    if (*ovs) {
        namespace ovs_ns = migrate::testbed::ovs;
        if (ovs_action == "up") {
            auto started = ovs_ns::ensure_daemons({}, progress(quiet));
            if (!started) return fail(started.error());
            std::cerr << (*started ? "Open vSwitch started\n" : "Open vSwitch already running\n");
            return 0;
        }
        for (auto& prefix : ovs_prefixes)
            if (auto r = ovs_ns::ovs_lab::down(prefix, progress(quiet)); !r) return fail(r.error());
        auto r = ovs_ns::stop_daemons({}, progress(quiet));
        if (!r) return fail(r.error());
        return 0;
    }
    if (*down) {
        auto r = testbed::down(name, state_root, progress(quiet));
        if (!r) return fail(r.error());
        return 0;
    }
    auto tb = testbed::open(name, state_root);
    if (!tb) return fail(tb.error());
    if (*status) {
        if (measure)
            for (auto& h : tb->hosts()) {
                auto r = tb->measure_throughput_mbps(h, static_cast<std::uint64_t>(measure_mb * (1 << 20)));
                if (!r) return fail(r.error());
                if (!as_json) std::cerr << fmt::format("host {}: {:.1f} Mbit/s\n", h.name, *r);
            }
        print(tb->status());
        return 0;
    }
    if (*profile) {
        auto r = tb->set_profile(to_profile(profile_name));
        if (!r) return fail(r.error());
        std::cerr << fmt::format("testbed {}: profile {}\n", name, profile_name);
        return 0;
    }
    return exit_usage;
}
