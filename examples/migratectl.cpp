// migratectl — move a running container between two edge hosts with a chosen strategy,
// list the strategies, read a saved report.
//
//   migratectl migrate --strategy checkpoint --container memcached --from a --to b
//   migratectl strategies
//   migratectl report run.json
//
// Hosts come from a running testbed (`--testbed`, default $MIGRATE_TESTBED, else "mtb") or
// from a hosts file (`--hosts hosts.json`: [{"name":"a","socket":"/run/docker-a.sock",
// "address":"10.0.0.2","work_dir":"/var/tmp/a","agent":"10.0.0.2:7070"}, ...]) for engines
// outside a testbed. `--transport agent` streams artifacts agent to agent over the link
// between the hosts (docs/agent.md); `local` streams them through this process.
//
// Exit codes: 0 moved, 1 the migration failed (the report says whether the source was
// restored), 2 usage error, 3 setup failed (hosts, options).
#include <migrate/agent/transport.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/strategies.hpp>
#include <migrate/testbed/testbed.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <unistd.h>

namespace {

constexpr int exit_failed = 1;
constexpr int exit_setup = 3;

int setup_error(std::string_view what) {
    std::cerr << "migratectl: " << what << "\n";
    return exit_setup;
}

migrate::result<migrate::json> read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return migrate::make_failure(migrate::error::not_found, fmt::format("cannot open {}", path));
    try {
        return migrate::json::parse(in);
    } catch (const std::exception& e) {
        return migrate::make_failure(migrate::error::invalid_argument, fmt::format("{}: not JSON: {}", path, e.what()));
    }
}

// Edge hosts by name, from a hosts file or a testbed.
migrate::result<std::map<std::string, migrate::edge_host>> load_hosts(const std::string& hosts_file,
                                                                     const std::string& testbed_name) {
    std::map<std::string, migrate::edge_host> out;
    auto add = [&](std::string name, std::filesystem::path socket, std::string address, std::filesystem::path work,
                   std::string agent) {
        migrate::docker::engine_options eo;
        eo.socket = std::move(socket);
        migrate::edge_host h;
        h.name = name;
        h.address = std::move(address);
        h.runtime = std::make_shared<migrate::docker::engine>(eo);
        h.work_dir = std::move(work);
        h.agent = std::move(agent);
        out[name] = std::move(h);
    };
    if (!hosts_file.empty()) {
        auto j = read_json_file(hosts_file);
        if (!j) return j.error();
        if (!j->is_array()) return migrate::make_failure(migrate::error::invalid_argument, hosts_file + ": expected a JSON array of hosts");
        for (std::size_t i = 0; i < j->size(); ++i) {
            auto& h = (*j)[i];
            if (!h.is_object() || !h.contains("name") || !h.contains("socket"))
                return migrate::make_failure(migrate::error::invalid_argument,
                                             fmt::format("{}: host [{}] needs at least \"name\" and \"socket\"", hosts_file, i));
            add(h["name"].get<std::string>(), h["socket"].get<std::string>(), h.value("address", ""),
                h.value("work_dir", "/var/tmp/migrate"), h.value("agent", ""));
        }
        return out;
    }
    auto tb = migrate::testbed::testbed::open(testbed_name);
    if (!tb)
        return migrate::failure{tb.error_code(),
                                fmt::format("{} (bring a testbed up with `migrate-testbed up --name {}`, or give --hosts FILE)",
                                                 tb.error().message, testbed_name)};
    for (auto& h : tb->hosts()) add(h.name, h.socket, h.address, h.work_dir, h.agent);
    return out;
}

std::string human_bytes(std::uint64_t b) {
    if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / double(1ull << 30));
    if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", b / double(1ull << 20));
    if (b >= (1ull << 10)) return fmt::format("{:.1f} KiB", b / double(1ull << 10));
    return fmt::format("{} B", b);
}

// One live line per phase on stderr: rewritten in place on a terminal, one line per
// event otherwise (logs stay readable).
migrate::hooks progress_hooks(bool quiet) {
    migrate::hooks h;
    if (quiet) return h;
    const bool tty = ::isatty(2);
    struct open_phase {
        migrate::steady_clock::time_point start;
    };
    auto open = std::make_shared<std::map<int, open_phase>>();
    h.on_event = [tty, open](const migrate::phase_event& e) {
        using k = migrate::phase_event::kind;
        const int key = static_cast<int>(e.phase);
        if (e.what == k::begin) {
            (*open)[key] = {e.at};
            std::cerr << fmt::format("{}[{:<9}] {} ...{}", tty ? "\r\033[K" : "", to_string(e.phase), e.detail,
                                     tty ? "" : "\n");
        } else if (e.what == k::progress) {
            if (!tty) return;
            auto it = open->find(key);
            double s = it == open->end() ? 0 : std::chrono::duration<double>(e.at - it->second.start).count();
            std::cerr << fmt::format("\r\033[K[{:<9}] {} {} {}", to_string(e.phase), e.detail, human_bytes(e.bytes),
                                     s > 0 ? fmt::format("({:.0f} Mbit/s)", e.bytes * 8 / s / 1e6) : "");
        } else {
            auto it = open->find(key);
            double ms = it == open->end() ? 0 : std::chrono::duration<double, std::milli>(e.at - it->second.start).count();
            std::cerr << fmt::format("{}[{:<9}] {} {} in {:.0f} ms{}\n", tty ? "\r\033[K" : "", to_string(e.phase),
                                     e.detail, e.error ? "FAILED (" + e.error.message() + ")" : "done", ms,
                                     e.bytes ? ", " + human_bytes(e.bytes) : "");
            open->erase(key);
        }
    };
    h.log = [](std::string_view s) { std::cerr << "  " << s << "\n"; };
    return h;
}

std::string yes_no(bool b) { return b ? "yes" : "-"; }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "migratectl: move running containers between edge hosts.\n"
        "\n"
        "Examples:\n"
        "  migrate-testbed up --name demo                       # two edge hosts, a and b\n"
        "  migratectl strategies                                # what each strategy keeps and needs\n"
        "  migratectl migrate --testbed demo --strategy checkpoint --container memcached --from a --to b\n"
        "  migratectl migrate ... --options opts.json --json --report run.json\n"
        "  migratectl report run.json                           # a saved report, readable\n",
        "migratectl"};
    app.require_subcommand(1);
    app.footer("Exit codes: 0 moved, 1 migration failed (the report says whether the source was restored),\n"
               "2 usage error, 3 setup failed. See docs/strategies.md.");

    // ---- migrate --------------------------------------------------------------------------
    auto* mig = app.add_subcommand("migrate", "move a running container from one edge host to another");
    std::string strategy = "checkpoint", container, from, to, options_file, hosts_file, report_file, target_name;
    std::string testbed_name = "mtb";
    bool as_json = false, quiet = false, keep_source = false;
    mig->add_option("--strategy,-s", strategy, "strategy name (see `migratectl strategies`)")->capture_default_str();
    mig->add_option("--container,-c", container, "container name or id on the source host")->required();
    mig->add_option("--from", from, "source host name")->required();
    mig->add_option("--to", to, "target host name")->required();
    mig->add_option("--target-name", target_name, "container name on the target (default: the same)");
    mig->add_option("--options,-o", options_file, "strategy options, a JSON object (see `migratectl strategies --json`)")
        ->check(CLI::ExistingFile);
    mig->add_option("--testbed", testbed_name, "take hosts from this running testbed")
        ->envname("MIGRATE_TESTBED")
        ->capture_default_str();
    mig->add_option("--hosts", hosts_file, "take hosts from a JSON file instead: [{name, socket, address, work_dir}]")
        ->check(CLI::ExistingFile);
    mig->add_flag("--keep-source", keep_source, "do not remove the source container after success");
    int stop_timeout_s = 3;
    mig->add_option("--stop-timeout", stop_timeout_s, "seconds a stopped source gets to exit before SIGKILL")
        ->capture_default_str()
        ->check(CLI::Range(0, 300));
    std::string transport_name = "auto", token_file;
    mig->add_option("--transport", transport_name,
                    "how artifacts move: agent (agent to agent over the hosts' link), local (through this "
                    "process), auto (agent when both hosts run one)")
        ->check(CLI::IsMember({"auto", "agent", "local"}))
        ->capture_default_str();
    mig->add_option("--token-file", token_file, "the agents' shared token (default: the testbed's agent.token)");
    mig->add_flag("--json", as_json, "print the report as JSON instead of text");
    mig->add_option("--report", report_file, "also write the JSON report to this file");
    mig->add_flag("--quiet,-q", quiet, "no progress lines");

    // ---- strategies -----------------------------------------------------------------------
    auto* strat = app.add_subcommand("strategies", "list the strategies: what each keeps, what it needs");
    bool strat_json = false;
    strat->add_flag("--json", strat_json, "as JSON, with each strategy's default options");

    // ---- report ---------------------------------------------------------------------------
    auto* rep = app.add_subcommand("report", "print a saved JSON report as text");
    std::string report_in;
    bool rep_json = false;
    rep->add_option("file", report_in, "a report written by --report or --json")->required()->check(CLI::ExistingFile);
    rep->add_flag("--json", rep_json, "re-print as JSON (validates it)");

    CLI11_PARSE(app, argc, argv);

    if (*strat) {
        auto list = migrate::list_strategies();
        if (strat_json) {
            std::cout << migrate::json(list).dump(2) << "\n";
            return 0;
        }
        fmt::print("{:<18} {:<7} {:<6} {:<8} {:<7} {:<5} {:<10}  {}\n", "STRATEGY", "MEMORY", "FILES", "VOLUMES", "CONFIG",
                   "CRIU", "SHARED-FS", "HOW");
        for (auto& s : list)
            fmt::print("{:<18} {:<7} {:<6} {:<8} {:<7} {:<5} {:<10}  {}\n", s.name, yes_no(s.caps.keeps_memory),
                       yes_no(s.caps.keeps_filesystem), yes_no(s.caps.keeps_volumes), yes_no(s.caps.keeps_config),
                       yes_no(s.caps.needs_criu), yes_no(s.caps.needs_shared_fs), s.caps.summary);
        fmt::print("\nMEMORY/FILES/VOLUMES/CONFIG: what survives the move; CRIU/SHARED-FS: what it needs.\n");
        return 0;
    }

    if (*rep) {
        auto j = read_json_file(report_in);
        if (!j) return setup_error(j.error().what());
        try {
            auto r = j->get<migrate::migration_report>();
            if (rep_json) std::cout << migrate::json(r).dump(2) << "\n";
            else std::cout << r.to_text();
            return r.success ? 0 : exit_failed;
        } catch (const std::exception& e) {
            return setup_error(fmt::format("{}: not a migration report: {}", report_in, e.what()));
        }
    }

    // migrate
    migrate::json options = migrate::json::object();
    if (!options_file.empty()) {
        auto j = read_json_file(options_file);
        if (!j) return setup_error(j.error().what());
        options = *j;
    }
    auto m = migrate::make_migrator(strategy, options);
    if (!m) return setup_error(m.error().what());
    auto hosts = load_hosts(hosts_file, testbed_name);
    if (!hosts) return setup_error(hosts.error().what());
    auto find = [&](const std::string& n) -> const migrate::edge_host* {
        auto it = hosts->find(n);
        return it == hosts->end() ? nullptr : &it->second;
    };
    auto known = [&] {
        std::vector<std::string> names;
        for (auto& [n, h] : *hosts) names.push_back(n);
        return fmt::format("{}", fmt::join(names, ", "));
    };
    if (!find(from)) return setup_error(fmt::format("no host '{}' (known: {})", from, known()));
    if (!find(to)) return setup_error(fmt::format("no host '{}' (known: {})", to, known()));

    // Transport: the agents when asked for, or by default when both hosts run one.
    std::shared_ptr<migrate::transport> transport = migrate::make_local_transport();
    const bool agents = !find(from)->agent.empty() && !find(to)->agent.empty();
    if (transport_name == "agent" && !agents)
        return setup_error(fmt::format("--transport agent: host '{}' or '{}' runs no agent (migrate-testbed up --agents)", from, to));
    if (transport_name == "agent" || (transport_name == "auto" && agents)) {
        std::string token;
        if (token_file.empty() && hosts_file.empty()) {
            auto tb = migrate::testbed::testbed::open(testbed_name);
            auto t = tb ? tb->agent_token() : migrate::result<std::string>(tb.error());
            if (!t) return setup_error(fmt::format("the agents' token: {} (give --token-file)", t.error().what()));
            token = *t;
        } else {
            std::ifstream in(token_file);
            if (!in || !std::getline(in, token) || token.empty())
                return setup_error(fmt::format("cannot read the agents' token from '{}'", token_file));
        }
        migrate::agent::agent_transport_options ao;
        ao.token = token;
        auto t = migrate::agent::make_agent_transport(ao);
        if (!t) return setup_error(t.error().what());
        transport = *t;
    }

    migrate::migration_request req;
    req.transport = transport;
    req.source = *find(from);
    req.target = *find(to);
    req.container = container;
    req.target_name = target_name;
    req.remove_source = !keep_source;
    req.stop_timeout = std::chrono::seconds{stop_timeout_s};
    req.hooks = progress_hooks(quiet);
    auto report = migrate::run_migration(**m, req);
    if (!report) return setup_error(report.error().what());
    if (as_json) std::cout << migrate::json(*report).dump(2) << "\n";
    else std::cout << report->to_text();
    if (!report_file.empty()) std::ofstream(report_file) << migrate::json(*report).dump(2) << "\n";
    return report->success ? 0 : exit_failed;
}
