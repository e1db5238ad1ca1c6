// migrate-agent — the host agent: runs on an edge host next to its dockerd, receives and
// sends artifact streams (container exports, images, volumes, checkpoints, files) for
// drivers and peer agents that hold the shared token. See docs/agent.md.
//
// Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not start (message on stderr), 2 usage.
#include <migrate/agent/server.hpp>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include <pthread.h>
#include <sys/stat.h>

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

int fail(const std::string& what) {
    std::cerr << "migrate-agent: " << what << "\n";
    return exit_failure;
}

// The token file: must exist, be readable only by its owner (like ssh keys), and hold at
// least 16 characters; surrounding whitespace is ignored.
migrate::result<std::string> read_token(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return migrate::make_failure(migrate::error::not_found, "--token-file " + path + ": cannot read it");
    if (st.st_mode & 077)
        return migrate::make_failure(migrate::error::permission_denied,
                                     fmt::format("--token-file {}: mode {:o} lets others read the token; "
                                                 "`chmod 600 {}` first", path, st.st_mode & 0777, path));
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    auto b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
    t = b == std::string::npos ? std::string{} : t.substr(b, e - b + 1);
    if (t.size() < 16)
        return migrate::make_failure(migrate::error::invalid_argument,
                                     fmt::format("--token-file {}: the token has {} characters; at least 16 are required "
                                                 "(e.g. `(umask 077; openssl rand -hex 32 > {})`)", path, t.size(), path));
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "migrate-agent: the host agent of an edge host. It listens on TCP, next to the host's dockerd,\n"
        "and moves container artifacts for migrations: it exports/saves/checkpoints on its own\n"
        "engine and streams the bytes straight to the agent of the target host (relay), or\n"
        "imports/loads/restores what a peer streams to it. Every stream is checked end to end\n"
        "with SHA-256; a consume that fails removes what it made. Requests must carry the shared\n"
        "token from --token-file; file paths must stay inside --work-dir.\n"
        "\n"
        "Example (edge host a of the testbed 'demo', in its network namespace):\n"
        "  (umask 077; openssl rand -hex 32 > /run/agent.token)      # the shared token, mode 0600\n"
        "  nsenter --net=/run/netns/demo-a migrate-agent --listen 10.82.56.2:7070 \\\n"
        "      --token-file /run/agent.token --work-dir /var/lib/migrate-testbed/demo/a/work \\\n"
        "      --docker-socket /run/migrate-testbed/demo/a/docker.sock --name a\n"
        "\n"
        "`migrate-testbed up --agents` starts one per host for you (token in the state dir).\n",
        "migrate-agent"};
    app.footer("Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 usage error.\n"
               "Log: one line per request on stderr (peer, operation, outcome, bytes, rate; never the token).\n"
               "Protocol and security model: docs/agent.md.");

    std::string listen = "127.0.0.1:7070";
    std::string token_file;
    std::string work_dir;
    std::string docker_socket = "/run/docker.sock";
    migrate::agent::server_options opts;
    long long stall_ms = opts.limits.stall_timeout.count();
    bool quiet = false;
    app.add_option("--listen,-l", listen, "ADDRESS:PORT to listen on (the host's own address)")->capture_default_str();
    app.add_option("--token-file,-t", token_file, "file holding the shared token (mode 0600, >= 16 characters)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--work-dir,-w", work_dir, "directory for staged `file` artifacts; every path stays inside it")
        ->required()
        ->check(CLI::ExistingDirectory);
    app.add_option("--docker-socket,-s", docker_socket, "the local dockerd's unix socket")->capture_default_str();
    app.add_option("--name,-n", opts.name, "this host's name in logs and error messages (e.g. a)");
    app.add_option("--max-connections", opts.limits.max_connections, "concurrent requests; more are answered 'busy'")
        ->capture_default_str();
    app.add_option("--stall-timeout-ms", stall_ms, "default: a stream fails when no byte moved for this long")
        ->capture_default_str();
    app.add_flag("--quiet,-q", quiet, "no log lines");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        return exit_usage;
    }

    auto ep = migrate::agent::parse_endpoint(listen, "--listen");
    if (!ep) return fail(ep.error().what());
    auto token = read_token(token_file);
    if (!token) return fail(token.error().what());
    opts.bind_address = ep->host;
    opts.port = ep->port;
    opts.token = *token;
    opts.work_dir = work_dir;
    if (!opts.work_dir.is_absolute()) opts.work_dir = std::filesystem::absolute(opts.work_dir);
    opts.docker_socket = docker_socket;
    opts.limits.stall_timeout = std::chrono::milliseconds(stall_ms);
    if (opts.limits.max_stall_timeout < opts.limits.stall_timeout) opts.limits.max_stall_timeout = opts.limits.stall_timeout;

    // SIGTERM/SIGINT are taken by sigwait below: block them before any thread starts so
    // that every thread inherits the mask and none of them is killed by the signal.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    migrate::hooks h;
    static std::mutex log_mutex;
    if (!quiet)
        h.log = [](std::string_view s) {
            auto now = std::chrono::system_clock::now();
            std::lock_guard lock(log_mutex);
            std::cerr << fmt::format("{:%Y-%m-%dT%H:%M:%S}Z {}\n", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), s)
                      << std::flush;
        };
    auto server = migrate::agent::agent_server::start(opts, h);
    if (!server) return fail(server.error().what());

    int sig = 0;
    sigwait(&sigs, &sig);
    if (!quiet) h.info(fmt::format("signal {}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    (*server)->stop();
    return 0;
}
