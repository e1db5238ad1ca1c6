// migrate-zone-server — the client side of workloads A1 and A2 by hand: serves
// GET /location and GET /zone on the testbed's bridge address, prints every poll as it
// arrives (time, source address, path, seq, zone), and moves the user to the zone typed on
// stdin (one line = one zone). With --source/--target (the hosts' service subnets) it
// prints A1's downtime from the poll log when it ends (Ctrl-C).
//
//   migrate-zone-server --address 10.82.56.1 --port 8000
//   migrate-zone-server --address 10.82.56.1 --port 8000 --source 10.94.22.0/24 --target 10.94.23.0/24
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/zone_server.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Location/zone server of the thesis workloads A1 and A2 (prints each poll; stdin lines set the zone)"};
    migrate::workload::zone_server_options o;
    std::string source, target;
    int interval_ms = 200;
    bool quiet = false;
    app.add_option("--address", o.address, "IPv4 to listen on: the testbed's client address (bridge)")->capture_default_str();
    app.add_option("--port", o.port, "TCP port (0 = any free one)")->capture_default_str();
    app.add_option("--zone", o.zone, "the user's zone at start")->capture_default_str();
    app.add_option("--source", source, "A1 downtime at exit: the source host's service subnet");
    app.add_option("--target", target, "A1 downtime at exit: the target host's service subnet");
    app.add_option("--interval-ms", interval_ms, "the poller's interval (resolution of the downtime)")->capture_default_str();
    app.add_flag("-q,--quiet", quiet, "do not print each poll");
    app.footer("Example: migrate-zone-server --address 10.82.56.1 --port 8000 --source 10.94.22.0/24 --target 10.94.23.0/24");
    CLI11_PARSE(app, argc, argv);
    if (source.empty() != target.empty()) {
        std::cerr << "migrate-zone-server: --source and --target go together\n";
        return 2;
    }

    auto server = migrate::workload::zone_server::start(o);
    if (!server) {
        std::cerr << "migrate-zone-server: " << server.error().what() << '\n';
        return 1;
    }
    auto& s = **server;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::cerr << fmt::format("zone server on {} (A1: {}, A2: {}); zone {}; type a zone and Enter to move the user\n",
                             s.url("/"), s.url("/location"), s.url("/zone"), s.zone());
    // stdin on a thread of its own: a blocked read must not hold up the printing or Ctrl-C.
    std::thread([&s] {
        for (std::string line; std::getline(std::cin, line);) {
            if (line.empty()) continue;
            if (auto r = s.set_zone(line); !r) std::cerr << r.error().what() << '\n';
            else std::cerr << "zone is now " << line << '\n';
        }
    }).detach();

    auto t0 = std::chrono::steady_clock::now();
    std::size_t printed = 0;
    while (!stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto recs = s.records();
        if (printed > recs.size()) printed = 0;
        for (; printed < recs.size(); ++printed) {
            if (quiet) continue;
            auto& r = recs[printed];
            fmt::print("{:10.3f} s  {:<15} {:<9} seq={:<6} {}\n",
                       std::chrono::duration<double>(r.at - t0).count(), r.peer, r.path, r.seq, r.zone);
        }
        std::fflush(stdout);
    }
    s.stop();
    if (!source.empty()) {
        auto m = migrate::workload::a1_downtime(
            s.records(), {.source = source, .target = target, .interval = std::chrono::milliseconds(interval_ms)});
        if (!m) {
            std::cerr << "A1 downtime: " << m.error().what() << '\n';
            return 1;
        }
        fmt::print("A1 downtime {:.1f} ms ({}; {} polls, {} slots missed)\n", m->downtime_ms, m->method, m->probes,
                   m->failures);
    }
    return 0;
}
