// migratectl — move a running container between two edge hosts with a chosen strategy,
// list the strategies, read a saved report, follow a user by a MEC platform's word.
//
//   migratectl migrate --strategy checkpoint --container memcached --from a --to b
//   migratectl strategies
//   migratectl report run.json
//   migratectl follow --trigger location --platform http://10.0.0.1:8080 --sandbox sbx1/mep1
//       --zone-host zone01=a --zone-host zone03=b --user 10.100.0.1 --container web
//
// Hosts come from a running testbed (`--testbed`, default $MIGRATE_TESTBED, else "mtb") or
// from a hosts file (`--hosts hosts.json`: [{"name":"a","socket":"/run/docker-a.sock",
// "address":"10.0.0.2","work_dir":"/var/tmp/a","agent":"10.0.0.2:7070"}, ...]) for engines
// outside a testbed. `--transport agent` streams artifacts agent to agent over the link
// between the hosts (docs/agent.md); `local` streams them through this process.
//
// `follow` watches an ETSI MEC platform (a trigger of include/migrate/trigger/mec_*.hpp) and
// moves the container each time the platform says its user went to another edge host's area,
// one move at a time, with the same code as `migrate`.
//
// Exit codes: 0 moved (follow: every move succeeded), 1 a migration failed (the report says
// whether the source was restored), 2 usage error, 3 setup failed (hosts, options, the MEC
// platform unreachable).
#include <migrate/agent/transport.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/strategies.hpp>
#include <migrate/testbed/testbed.hpp>
#include <migrate/trigger/mec_ams.hpp>
#include <migrate/trigger/mec_location.hpp>
#include <migrate/trigger/mec_rnis.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <unistd.h>

namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_setup = 3;

int setup_error(std::string_view what) {
    std::cerr << "migratectl: " << what << "\n";
    return exit_setup;
}

int usage_error(std::string_view what) {
    std::cerr << "migratectl: " << what << "\n";
    return exit_usage;
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

// ---- moving a container: shared by `migrate` and `follow` ---------------------------------

/// The options of a move that `migrate` and `follow` share.
struct move_settings {
    std::string strategy = "checkpoint";
    std::string options_file, hosts_file, token_file, target_name;
    std::string testbed_name = "mtb";
    std::string transport_name = "auto";
    bool keep_source = false, quiet = false;
    int stop_timeout_s = 3;

    void add_to(CLI::App* sub) {
        sub->add_option("--strategy,-s", strategy, "strategy name (see `migratectl strategies`)")->capture_default_str();
        sub->add_option("--options,-o", options_file, "strategy options, a JSON object (see `migratectl strategies --json`)")
            ->check(CLI::ExistingFile);
        sub->add_option("--testbed", testbed_name, "take hosts from this running testbed")
            ->envname("MIGRATE_TESTBED")
            ->capture_default_str();
        sub->add_option("--hosts", hosts_file, "take hosts from a JSON file instead: [{name, socket, address, work_dir}]")
            ->check(CLI::ExistingFile);
        sub->add_flag("--keep-source", keep_source, "do not remove the source container after success");
        sub->add_option("--stop-timeout", stop_timeout_s, "seconds a stopped source gets to exit before SIGKILL")
            ->capture_default_str()
            ->check(CLI::Range(0, 300));
        sub->add_option("--transport", transport_name,
                        "how artifacts move: agent (agent to agent over the hosts' link), local (through this "
                        "process), auto (agent when both hosts run one)")
            ->check(CLI::IsMember({"auto", "agent", "local"}))
            ->capture_default_str();
        sub->add_option("--token-file", token_file, "the agents' shared token (default: the testbed's agent.token)");
        sub->add_flag("--quiet,-q", quiet, "no progress lines");
    }
};

/// A strategy and the hosts it moves between, made once; `move` runs one migration.
class mover {
public:
    static migrate::result<mover> make(const move_settings& s) {
        mover out;
        out.s_ = s;
        migrate::json options = migrate::json::object();
        if (!s.options_file.empty()) {
            auto j = read_json_file(s.options_file);
            if (!j) return j.error();
            options = *j;
        }
        auto m = migrate::make_migrator(s.strategy, options);
        if (!m) return m.error();
        out.m_ = std::move(*m);
        auto hosts = load_hosts(s.hosts_file, s.testbed_name);
        if (!hosts) return hosts.error();
        out.hosts_ = std::move(*hosts);
        return out;
    }

    const migrate::edge_host* find(const std::string& n) const {
        auto it = hosts_.find(n);
        return it == hosts_.end() ? nullptr : &it->second;
    }
    std::string known() const {
        std::vector<std::string> names;
        for (auto& [n, h] : hosts_) names.push_back(n);
        return fmt::format("{}", fmt::join(names, ", "));
    }
    /// `invalid_argument` "no host 'x' (known: a, b)".
    migrate::result<void> check_host(const std::string& n) const {
        if (find(n)) return {};
        return migrate::make_failure(migrate::error::invalid_argument, fmt::format("no host '{}' (known: {})", n, known()));
    }
    /// The host whose engine runs `container`, if one does.
    std::optional<std::string> host_running(const std::string& container) const {
        for (auto& [n, h] : hosts_) {
            auto info = h.runtime->inspect(container);
            if (info && info->running) return n;
        }
        return std::nullopt;
    }

    /// One migration of `container` from `from` to `to`: the report (also of a failed move),
    /// or a failure when it could not begin (unknown host, no agent token).
    migrate::result<migrate::migration_report> move(const std::string& container, const std::string& from,
                                                    const std::string& to) {
        MIGRATE_TRY(check_host(from));
        MIGRATE_TRY(check_host(to));
        auto transport = transport_between(*find(from), *find(to));
        if (!transport) return transport.error();
        migrate::migration_request req;
        req.transport = *transport;
        req.source = *find(from);
        req.target = *find(to);
        req.container = container;
        req.target_name = s_.target_name;
        req.remove_source = !s_.keep_source;
        req.stop_timeout = std::chrono::seconds{s_.stop_timeout_s};
        req.hooks = progress_hooks(s_.quiet);
        return migrate::run_migration(*m_, req);
    }

private:
    // The agents when asked for, or by default when both hosts run one.
    migrate::result<std::shared_ptr<migrate::transport>> transport_between(const migrate::edge_host& from,
                                                                           const migrate::edge_host& to) const {
        const bool agents = !from.agent.empty() && !to.agent.empty();
        if (s_.transport_name == "agent" && !agents)
            return migrate::make_failure(migrate::error::invalid_argument,
                                         fmt::format("--transport agent: host '{}' or '{}' runs no agent (migrate-testbed up --agents)",
                                                     from.name, to.name));
        if (s_.transport_name == "local" || (s_.transport_name == "auto" && !agents)) return migrate::make_local_transport();
        std::string token;
        if (s_.token_file.empty() && s_.hosts_file.empty()) {
            auto tb = migrate::testbed::testbed::open(s_.testbed_name);
            auto t = tb ? tb->agent_token() : migrate::result<std::string>(tb.error());
            if (!t)
                return migrate::failure{t.error_code(), fmt::format("the agents' token: {} (give --token-file)", t.error().what())};
            token = *t;
        } else {
            std::ifstream in(s_.token_file);
            if (!in || !std::getline(in, token) || token.empty())
                return migrate::make_failure(migrate::error::not_found,
                                             fmt::format("cannot read the agents' token from '{}'", s_.token_file));
        }
        migrate::agent::agent_transport_options ao;
        ao.token = token;
        auto t = migrate::agent::make_agent_transport(ao);
        if (!t) return t.error();
        return std::shared_ptr<migrate::transport>(*t);
    }

    move_settings s_;
    std::unique_ptr<migrate::migrator> m_;
    std::map<std::string, migrate::edge_host> hosts_;
};


// ---- follow: a MEC trigger's decisions become moves --------------------------------------

/// `follow`'s own options: which MEC trigger, on which platform, mapping what to which host.
struct follow_settings {
    std::string trigger = "location";
    std::string trigger_options_file;
    std::string platform, sandbox, token;
    std::vector<std::string> zone_hosts, access_point_hosts, app_instance_hosts, cell_hosts, users;
    std::string app_instance;
    bool register_devices = false;
    std::string callback_address, advertised_url;
    std::string container, at;
    int moves = 0;        // 0 = no limit
    double duration_s = 0;   // 0 = no limit
    bool as_json = false;
};

/// "zone01=a" pairs of option `--name` into `into`; `invalid_argument` naming the option.
migrate::result<void> parse_host_map(const std::string& option, const std::vector<std::string>& pairs,
                                     std::map<std::string, std::string>& into) {
    for (auto& p : pairs) {
        auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == p.size() || p.find('=', eq + 1) != std::string::npos)
            return migrate::make_failure(migrate::error::invalid_argument,
                                         fmt::format("{} '{}': expected ID=HOST, e.g. {} zone01=a", option, p, option));
        into[p.substr(0, eq)] = p.substr(eq + 1);
    }
    return {};
}

/// The options struct `T` from `--trigger-options FILE` (when given), then the command line's.
template <class T>
migrate::result<T> base_options(const follow_settings& f) {
    T o;
    if (!f.trigger_options_file.empty()) {
        auto j = read_json_file(f.trigger_options_file);
        if (!j) return j.error();
        try {
            o = j->get<T>();
        } catch (const std::exception& e) {
            return migrate::make_failure(migrate::error::invalid_argument,
                                         fmt::format("--trigger-options {}: {}", f.trigger_options_file, e.what()));
        }
    }
    if (!f.platform.empty()) o.platform.base_url = f.platform;
    if (!f.sandbox.empty()) o.platform.sandbox = f.sandbox;
    if (!f.token.empty()) o.platform.bearer_token = f.token;
    if (!f.callback_address.empty()) o.receiver.server.address = f.callback_address;
    if (!f.advertised_url.empty()) o.receiver.advertised_url = f.advertised_url;
    return o;
}

/// A usage error (`invalid_argument`) or a setup one, kept apart for the exit code.
struct built_trigger {
    std::unique_ptr<migrate::trigger> trigger;
    migrate::mec::client_options platform;
    std::map<std::string, std::string> host_map;   // for the check that every host exists
    std::string map_option;
};

/// The MEC trigger the options describe (made, not started).
migrate::result<built_trigger> build_trigger(const follow_settings& f) {
    built_trigger out;
    auto finish = [&](auto made, const auto& o, std::map<std::string, std::string> map, std::string option)
        -> migrate::result<built_trigger> {
        if (!made) return made.error();
        out.trigger = std::move(*made);
        out.platform = o.platform;
        out.host_map = std::move(map);
        out.map_option = std::move(option);
        return std::move(out);
    };
    if (f.trigger == "location") {
        auto o = base_options<migrate::mec_location_trigger_options>(f);
        if (!o) return o.error();
        MIGRATE_TRY(parse_host_map("--zone-host", f.zone_hosts, o->zone_hosts));
        MIGRATE_TRY(parse_host_map("--access-point-host", f.access_point_hosts, o->access_point_hosts));
        for (auto& u : f.users) o->users.push_back(u);
        MIGRATE_TRY(o->validate());
        auto map = o->zone_hosts;
        for (auto& [k, v] : o->access_point_hosts) map["access point " + k] = v;
        return finish(migrate::mec_location_trigger::make(*o), *o, std::move(map), "--zone-host/--access-point-host");
    }
    if (f.trigger == "ams") {
        auto o = base_options<migrate::mec_ams_trigger_options>(f);
        if (!o) return o.error();
        MIGRATE_TRY(parse_host_map("--app-instance-host", f.app_instance_hosts, o->app_instance_hosts));
        for (auto& u : f.users) o->devices.push_back({"UE_IPv4_ADDRESS", u});
        if (!f.app_instance.empty()) o->app_instance_id = f.app_instance;
        if (f.register_devices) o->register_devices = true;
        MIGRATE_TRY(o->validate());
        return finish(migrate::mec_ams_trigger::make(*o), *o, o->app_instance_hosts, "--app-instance-host");
    }
    auto o = base_options<migrate::mec_rnis_trigger_options>(f);
    if (!o) return o.error();
    MIGRATE_TRY(parse_host_map("--cell-host", f.cell_hosts, o->cell_hosts));
    for (auto& u : f.users) o->devices.push_back({1, u});
    if (!f.app_instance.empty()) o->app_instance_id = f.app_instance;
    MIGRATE_TRY(o->validate());
    return finish(migrate::mec_rnis_trigger::make(*o), *o, o->cell_hosts, "--cell-host");
}

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_stop_signal(int sig) { stop_signal = sig; }

/// Decisions from the trigger's thread, for the main thread.
struct decision_queue {
    std::mutex m;
    std::condition_variable cv;
    std::deque<migrate::migration_decision> q;

    void push(const migrate::migration_decision& d) {
        std::lock_guard lock(m);
        q.push_back(d);
        cv.notify_all();
    }
    std::optional<migrate::migration_decision> pop(std::chrono::milliseconds within) {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, within, [&] { return !q.empty(); })) return std::nullopt;
        auto d = std::move(q.front());
        q.pop_front();
        return d;
    }
};

std::string platform_url(const migrate::mec::client_options& p) {
    return p.sandbox.empty() ? p.base_url : fmt::format("{}/{}", p.base_url, p.sandbox);
}

/// The trigger options' validation names JSON fields ("client_options.base_url: ..."); the
/// operator typed options: name the one to fix.
std::string with_option_hint(const std::string& message) {
    static const std::pair<const char*, const char*> fields[] = {
        {"base_url", "--platform"},          {"sandbox", "--sandbox"},     {"app_instance_id", "--app-instance"},
        {"zone_hosts", "--zone-host"},       {"access_point_hosts", "--access-point-host"},
        {"app_instance_hosts", "--app-instance-host"}, {"cell_hosts", "--cell-host"},
        {"users", "--user"},                 {"devices", "--user"},        {"advertised_url", "--advertised-url"},
        {"address", "--callback-address"}};
    for (auto& [field, option] : fields)
        if (message.find(std::string(".") + field + ":") != std::string::npos ||
            message.find(std::string(".") + field + "[") != std::string::npos)
            return fmt::format("{} (give {})", message, option);
    return message;
}

int run_follow(const follow_settings& f, const move_settings& ms) {
    auto trig = build_trigger(f);
    if (!trig) {
        if (trig.error_code() == migrate::error::invalid_argument) return usage_error(with_option_hint(trig.error().message));
        return setup_error(trig.error().what());   // the receiver cannot listen
    }
    if (f.moves < 0) return usage_error("--moves: must be 0 (no limit) or more");
    auto mv = mover::make(ms);
    if (!mv) return setup_error(mv.error().what());
    for (auto& [what, host] : trig->host_map)
        if (auto ok = mv->check_host(host); !ok)
            return setup_error(fmt::format("{} {}={}: {}", trig->map_option, what, host, ok.error().message));

    std::string here = f.at;
    if (here.empty()) {
        auto h = mv->host_running(f.container);
        if (!h) return setup_error(fmt::format("container '{}' runs on no host (looked at {}; give --at HOST)", f.container, mv->known()));
        here = *h;
    } else if (auto ok = mv->check_host(here); !ok) {
        return setup_error(fmt::format("--at: {}", ok.error().message));
    }

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    decision_queue inbox;
    const auto url = platform_url(trig->platform);
    if (auto ok = trig->trigger->start([&inbox](const migrate::migration_decision& d) { inbox.push(d); }); !ok)
        return setup_error(fmt::format("cannot follow through the MEC platform at {}: {}", url, ok.error().what()));
    std::cerr << fmt::format("migratectl: following through {} ({} trigger); container '{}' runs on {}; Ctrl-C stops\n",
                             url, trig->trigger->name(), f.container, here);

    const auto deadline = f.duration_s > 0 ? std::optional(migrate::steady_clock::now() +
                                                           std::chrono::duration_cast<migrate::steady_clock::duration>(
                                                               std::chrono::duration<double>(f.duration_s)))
                                           : std::nullopt;
    int moves = 0;
    bool failed = false, lost = false;
    auto print = [&](const migrate::migration_decision& d, const migrate::migration_report* report, const std::string& skipped) {
        if (f.as_json) {
            migrate::json line = {{"decision", d}};
            if (report) line["report"] = *report;
            else line["skipped"] = skipped;
            std::cout << line.dump() << std::endl;
            return;
        }
        std::cout << fmt::format("decision: {} {} -> {} ({})\n", d.subject, d.from.empty() ? "?" : d.from, d.to, d.reason);
        if (report) std::cout << report->to_text();
        else std::cout << "  skipped: " << skipped << "\n";
        std::cout << std::flush;
    };
    while (!stop_signal && !lost && (f.moves == 0 || moves < f.moves) &&
           (!deadline || migrate::steady_clock::now() < *deadline)) {
        auto d = inbox.pop(std::chrono::milliseconds(200));
        if (!d) continue;
        if (d->to == here) {
            print(*d, nullptr, fmt::format("the container runs on {} already", here));
            continue;
        }
        if (d->from != here) {
            print(*d, nullptr, fmt::format("from {}, but the container runs on {}", d->from.empty() ? "an unknown host" : d->from, here));
            continue;
        }
        auto report = mv->move(f.container, here, d->to);
        ++moves;
        if (!report) {
            // It could not begin (the agents' token, a host): nothing moved.
            failed = true;
            migrate::migration_report r;
            r.subject = f.container;
            r.source = here;
            r.target = d->to;
            r.strategy = ms.strategy;
            r.error = report.error().what();
            r.rolled_back = true;
            print(*d, &r, {});
            continue;
        }
        report->details["decision"] = *d;
        print(*d, &*report, {});
        if (report->success) here = d->to;
        else {
            failed = true;
            lost = !report->rolled_back;   // neither moved nor serving at the source: stop following
        }
    }
    trig->trigger->stop();
    std::cerr << fmt::format("migratectl: stopped{}: {} move{}{}; the container {}\n",
                             stop_signal ? " (signal)" : "", moves, moves == 1 ? "" : "s", failed ? ", one failed" : "",
                             lost ? fmt::format("is lost between hosts (the failed move was not undone)")
                                  : fmt::format("runs on {}", here));
    return failed ? exit_failed : 0;
}

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
    move_settings mig_settings;
    std::string container, from, to, report_file;
    bool as_json = false;
    mig->add_option("--container,-c", container, "container name or id on the source host")->required();
    mig->add_option("--from", from, "source host name")->required();
    mig->add_option("--to", to, "target host name")->required();
    mig->add_option("--target-name", mig_settings.target_name, "container name on the target (default: the same)");
    mig_settings.add_to(mig);
    mig->add_flag("--json", as_json, "print the report as JSON instead of text");
    mig->add_option("--report", report_file, "also write the JSON report to this file");

    // ---- follow ---------------------------------------------------------------------------
    auto* fol = app.add_subcommand("follow", "watch an ETSI MEC platform and move a container after its user");
    follow_settings fs;
    move_settings fol_settings;
    fol->add_option("--trigger", fs.trigger,
                    "what the platform tells: location (MEC013 zonal traffic: the UE entered a zone), ams (MEC021: "
                    "the UE moves out of the app instance's host), rnis (MEC012: a cell handover)")
        ->check(CLI::IsMember({"location", "ams", "rnis"}))
        ->capture_default_str();
    fol->add_option("--platform", fs.platform, "the MEC platform, scheme://host:port (no path)");
    fol->add_option("--sandbox", fs.sandbox, "path before the API roots: sbx1/mep1 (AdvantEDGE / the MEC Sandbox)");
    fol->add_option("--token", fs.token, "bearer token sent to the platform");
    fol->add_option("--zone-host", fs.zone_hosts, "location: ZONE=HOST, the edge host serving a zone (repeat)");
    fol->add_option("--access-point-host", fs.access_point_hosts, "location: ACCESS_POINT=HOST, wins over the zone (repeat)");
    fol->add_option("--app-instance-host", fs.app_instance_hosts, "ams: APP_INSTANCE_ID=HOST (repeat)");
    fol->add_option("--cell-host", fs.cell_hosts, "rnis: CELL_ID=HOST (repeat)");
    fol->add_option("--user", fs.users, "UE address followed, e.g. 10.100.0.1 (repeat; none = every UE)");
    fol->add_option("--app-instance", fs.app_instance, "ams/rnis: the app instance subscribing (ams: the source instance)");
    fol->add_flag("--register-devices", fs.register_devices, "ams: register the --user devices with --app-instance first");
    fol->add_option("--callback-address", fs.callback_address,
                    "where the notification receiver listens (default 127.0.0.1; 0.0.0.0 for a remote platform)");
    fol->add_option("--advertised-url", fs.advertised_url,
                    "the receiver's URL as the platform reaches it, http://host:port (default: its own)");
    fol->add_option("--trigger-options", fs.trigger_options_file,
                    "the trigger's options as JSON (the mec_*_trigger_options fields); the options above override it")
        ->check(CLI::ExistingFile);
    fol->add_option("--container,-c", fs.container, "the container that follows its user")->required();
    fol->add_option("--at", fs.at, "the host it runs on now (default: the host whose engine runs it)");
    fol->add_option("--moves", fs.moves, "stop after this many moves (0: no limit)")->capture_default_str();
    fol->add_option("--duration", fs.duration_s, "stop after this many seconds (0: no limit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    fol->add_flag("--json", fs.as_json, "one JSON object per decision and line: {\"decision\": ..., \"report\": ...}");
    fol_settings.add_to(fol);
    fol->footer(
        "Each decision whose `from` is the container's host becomes a migration to its `to` host, one at a time\n"
        "(decisions during a move wait their turn); a decision for the host it is on is printed and skipped.\n"
        "Progress lines go to stderr; decisions and reports to stdout. Ctrl-C (or SIGTERM) lets the move in\n"
        "progress finish, deletes the subscriptions and stops.\n"
        "\n"
        "Example: the emulated Monaco platform (docs/mec-sim.md) on the client address of testbed demo\n"
        "(`migrate-testbed status --name demo` prints it; 10.79.112.1 here), container web on host a:\n"
        "  migrate-mec-sim --scenario tests/data/mec/monaco-dual-mep-short-path.json \\\n"
        "      --address 10.79.112.1 --port 8080 --base-path /sbx1/mep1 --time-scale 0 &\n"
        "  migratectl follow --testbed demo --container web --strategy checkpoint \\\n"
        "      --trigger location --platform http://10.79.112.1:8080 --sandbox sbx1/mep1 \\\n"
        "      --zone-host zone01=a --zone-host zone02=a --zone-host zone03=b --zone-host zone04=b \\\n"
        "      --user 10.100.0.1 --json\n"
        "  # in another shell, move the UE into zone03 (host b's area); web moves from a to b:\n"
        "  curl -X POST -d '{\"accessPointId\":\"4g-macro-cell-6\"}' \\\n"
        "      http://10.79.112.1:8080/sbx1/mep1/sim/v1/ues/10.100.0.1/accessPoint\n"
        "\n"
        "Exit codes: 0 every move succeeded (or none was asked for), 1 a move failed (its report says\n"
        "whether the source was restored), 2 usage error, 3 setup failed (hosts, the container not found,\n"
        "the platform unreachable or refusing the subscription: the message names its URL). See docs/mec.md.");

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

    if (*fol) return run_follow(fs, fol_settings);

    // migrate
    auto mv = mover::make(mig_settings);
    if (!mv) return setup_error(mv.error().what());
    if (auto ok = mv->check_host(from); !ok) return setup_error(ok.error().message);
    if (auto ok = mv->check_host(to); !ok) return setup_error(ok.error().message);
    auto report = mv->move(container, from, to);
    if (!report) return setup_error(report.error().what());
    if (as_json) std::cout << migrate::json(*report).dump(2) << "\n";
    else std::cout << report->to_text();
    if (!report_file.empty()) std::ofstream(report_file) << migrate::json(*report).dump(2) << "\n";
    return report->success ? 0 : exit_failed;
}
