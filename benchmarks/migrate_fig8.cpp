// bench_migrate_fig8 — MIGRATE's Fig. 8 on this SDK: the phases of moving a car's digital
// twin between two edge hosts through a real OpenFlow switch, with the twin pre-warmed in a
// replica pool and, side by side in the same run, started cold.
//
// Each run moves the car (its device namespace switches attachment, as in a handover) and
// then its twin with `replica_pool::migrate` through the `openflow` route switch:
//   backup route   the car's new port bridged to the old twin (flow_mods + BARRIER)
//   instantiation  a twin on the target: taken from the pool, or created + started + ready
//   state load     the twin loads the car's state from the store (CoAP POST /assign -> redis)
//   new route      the new twin's rules, BARRIER-confirmed (issue 4's target: <= 1 ms median)
//   release        the old twin lets go (off the effective path)
// "effective" is the first four: what MIGRATE calls an effective migration. Runs alternate
// a -> b and b -> a; the pooled mode waits for the pool to refill between runs (a move
// that found the pool empty would be a cold one in disguise).
//
// With --stream-hz (default 100) it is MIGRATE's whole loop: the car streams confirmable
// CoAP telemetry through the switch all along (migrate-md-sim in its namespace), each move
// is decided by the `sdn` trigger from the car's packets on its new port and run by
// `follow_me`, and the car's own count of records lost across all moves is reported beside
// the phases. --stream-hz 0 calls replica_pool::migrate directly, with no traffic.
//
// Needs root, a testbed that is up (`migrate-testbed up --name NAME`), OVS and redis-server.
#include "bench_support.hpp"

#include "twin_protocol.hpp"

#include <migrate/follow_me.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/openflow/connection.hpp>
#include <migrate/report.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/strategy/replica_pool.hpp>
#include <migrate/testbed/sdn_access.hpp>
#include <migrate/trigger/sdn.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace migrate;
using migrate::bench::die;
using migrate::bench::need;
namespace ovs = migrate::testbed::ovs;

namespace {

const std::vector<std::string> phase_names = {"backup route", "instantiation", "state load", "new route", "release"};
constexpr double migrate_paper_effective_ms = 2.328;   // MIGRATE (IEEE Access 2020), controller at the edge

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

bool tcp_answers(const std::string& address, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

// A redis-server for the twins' state, on the testbed's client side (the containers reach it).
struct redis_process {
    int pid = 0;
    std::string address;
    std::filesystem::path dir;
    redis_process(const std::string& bind) {
        auto port = free_port();
        dir = std::filesystem::temp_directory_path() / fmt::format("bench-fig8-redis-{}", ::getpid());
        std::filesystem::create_directories(dir);
        pid = need(migrate::detail::spawn_daemon({"redis-server", "--port", std::to_string(port), "--bind", bind,
                                                  "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir",
                                                  dir.string()},
                                                 dir / "redis.log"),
                   "start redis-server (apt-get install redis-server)");
        address = fmt::format("{}:{}", bind, port);
        if (!bench::eventually([&] { return tcp_answers(bind, port); }, std::chrono::seconds{10}))
            die("redis-server on " + address + " did not answer (log: " + (dir / "redis.log").string() + ")");
    }
    ~redis_process() {
        if (pid) migrate::detail::kill_and_wait(pid, std::chrono::seconds{3});
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

struct mode_result {
    std::string mode;
    std::map<std::string, std::vector<double>> phases;   // phase -> ms per run
    std::vector<double> effective;
    int failures = 0;
    json device;   // the car's md-sim summary over the mode's moves (streaming only)
};

// The car's telemetry stream in its namespace, stopped (SIGTERM: it drains and prints its
// JSON summary) when the mode's moves are done.
struct car_stream {
    int pid = 0;
    std::filesystem::path log;
    car_stream(const std::string& netns, const std::string& address, const std::string& device, int hz,
               const std::string& tag) {
        log = std::filesystem::temp_directory_path() / fmt::format("bench-fig8-md-sim-{}-{}.log", tag, ::getpid());
        std::filesystem::remove(log);
        pid = need(migrate::detail::spawn_daemon({"ip", "netns", "exec", netns, MIGRATE_MD_SIM, "--address", address,
                                                  "--device", device, "--rate", std::to_string(hz), "--duration-ms",
                                                  "36000000", "--json"},
                                                 log),
                   "start migrate-md-sim in the car's namespace");
    }
    json stop() {
        migrate::detail::kill_and_wait(pid, std::chrono::seconds{60});
        pid = 0;
        std::ifstream in(log);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto open = text.find('{'), close = text.rfind('}');
        if (open == std::string::npos || close == std::string::npos) die("migrate-md-sim printed no summary: " + text);
        return json::parse(text.substr(open, close - open + 1));
    }
    ~car_stream() {
        if (pid) migrate::detail::kill_and_wait(pid, std::chrono::seconds{5});
    }
};

edge_host pool_host(const testbed::host& h) {
    docker::engine_options o;
    o.socket = h.socket;
    return edge_host{h.name, h.address, std::make_shared<docker::engine>(o), h.work_dir, {}};
}

}  // namespace

int main(int argc, char** argv) {
    bench::program_name() = "bench_migrate_fig8";
    CLI::App app{"MIGRATE's Fig. 8 on this SDK: the phases of moving a car's digital twin between two edge hosts "
                 "through a real OpenFlow switch (OVS), pooled and cold, side by side.\n\n"
                 "Example:\n  migrate-testbed up --name fig8\n  bench_migrate_fig8 --testbed fig8 --runs 50\n"};
    std::string testbed_name = "fig8";
    int runs = 50;
    int pool_size = 1;
    int stream_hz = 100;
    std::string json_out;
    app.add_option("--testbed", testbed_name, "a running testbed with hosts a and b")->capture_default_str();
    app.add_option("--runs", runs, "migrations per mode")->capture_default_str()->check(CLI::Range(2, 1000));
    app.add_option("--pool-size", pool_size, "ready twins per host in the pooled mode")->capture_default_str()->check(CLI::Range(1, 8));
    app.add_option("--stream-hz", stream_hz,
                   "the car's CoAP telemetry rate during the moves, which the sdn trigger decides from; 0 = no "
                   "traffic, moves called directly")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    app.add_option("--json", json_out, "also write the per-run phases and the summary to this file");
    CLI11_PARSE(app, argc, argv);
    const std::string command =
        fmt::format("bench_migrate_fig8 --testbed {} --runs {} --pool-size {} --stream-hz {}", testbed_name, runs,
                    pool_size, stream_hz);

    auto t = bench::open_testbed(testbed_name, "local");
    const std::string image_ref = "migrate-bench-vmd-twin:1";
    bench::ensure_image_on_both(t, need(image::vmd_twin_recipe(MIGRATE_VMD_TWIN), "twin recipe"), image_ref);
    redis_process redis{t.tb.client_address()};

    (void)ovs::ovs_lab::down("f8b");
    auto lab = need(ovs::ovs_lab::open({.prefix = "f8b"}), "OVS");
    auto listener = need(openflow::controller_listener::listen({.address = "127.0.0.1", .port = 0}), "controller listener");
    testbed::sdn_access_options ao;
    ao.controllers = {listener->target()};
    auto access = need(testbed::make_sdn_access(lab, t.tb, ao), "access network");
    auto sw = need(listener->wait_for_switch(std::nullopt, std::chrono::seconds{10}), "switch connection");
    auto route = need(route::openflow_route_switch::make(sw, access.route_options(17, 5683)), "route switch");
    const std::string car = access.device_mac;

    fmt::print(stderr, "bench_migrate_fig8: testbed {}, switch {} (dpid {:#x}), redis {}, {} runs per mode (load {})\n",
               testbed_name, access.bridge, sw->datapath_id(), redis.address, runs, bench::loadavg());

    json per_run = json::array();
    std::vector<mode_result> results;
    for (std::string mode : {"pooled", "cold"}) {
        replica_pool_options po;
        po.image = image_ref;
        po.cmd = {"--store", fmt::format("redis://{}/", redis.address)};
        po.network = "svc";
        po.service_port = 5683;
        po.size = mode == "pooled" ? pool_size : 0;
        po.name_prefix = "f8b-" + mode;
        auto pool = need(replica_pool::make({pool_host(t.ha), pool_host(t.hb)}, po, std::make_shared<vmd::twin_protocol>()),
                         "replica pool");
        need(pool->fill(), "fill the pool");
        need(access.attach_device(0), "attach the car to a's cell");
        need(pool->assign(car, "a", route.get(), json{{"port", access.attachments[0].ofport}}), "first twin");

        mode_result mr;
        mr.mode = mode;
        // With traffic: the sdn trigger decides each move from the car's packets, follow_me runs it.
        std::unique_ptr<sdn_trigger> trigger;
        std::unique_ptr<follow_me> loop;
        std::unique_ptr<car_stream> stream;
        if (stream_hz > 0) {
            sdn_trigger_options to;
            to.port_hosts = {{access.attachments[0].ofport, "a"}, {access.attachments[1].ofport, "b"}};
            trigger = need(sdn_trigger::make(sw, to), "sdn trigger");
            trigger->track({car, access.attachments[0].ofport, access.device_address, "a"});
            loop = std::make_unique<follow_me>(*trigger, *pool, *route, trigger.get());
            need(loop->start(), "follow_me");
            stream = std::make_unique<car_stream>(access.device_netns, access.service_address, vmd::device_id_of(car),
                                                  stream_hz, mode);
            std::this_thread::sleep_for(std::chrono::seconds{1});   // the stream is flowing
        }
        for (int i = 0; i < runs; ++i) {
            const int to = (i % 2 == 0) ? 1 : 0;
            const std::string host = to == 1 ? "b" : "a";
            need(access.attach_device(to), "handover");
            migration_report rep;
            if (loop) {
                need(loop->wait_for_moves(static_cast<std::size_t>(i + 1), std::chrono::seconds{60}),
                     fmt::format("the move after handover {} (refused: {})", i + 1, fmt::join(loop->refused(), "; ")));
                rep = loop->reports().back();
            } else {
                rep = need(pool->migrate(car, host, *route, json{{"port", access.attachments[to].ofport}}), "migrate");
            }
            if (!rep.success) {
                ++mr.failures;
                fmt::print(stderr, "  {} run {}: FAILED {}\n", mode, i + 1, rep.error);
                continue;
            }
            if (rep.target != host) die(fmt::format("run {} moved to {}, not {}", i + 1, rep.target, host));
            if (mode == "pooled" && rep.details["instantiation"] != "pooled")
                die(fmt::format("pooled run {} found no ready twin on {}", i + 1, host));
            double effective = 0;
            json row = {{"mode", mode}, {"run", i + 1}, {"to", host}};
            for (auto& p : rep.phases) {
                mr.phases[p.detail].push_back(p.duration_ms);
                row[p.detail] = p.duration_ms;
                if (p.detail != "release") effective += p.duration_ms;
            }
            mr.effective.push_back(effective);
            row["effective"] = effective;
            per_run.push_back(row);
            fmt::print(stderr, "  {} run {:>3}/{} -> {}: effective {:.2f} ms (new route {:.3f} ms)\n", mode, i + 1, runs,
                       host, effective, mr.phases["new route"].back());
            // The next pooled move must find a ready twin; the old one's removal also ends here.
            need(pool->wait_refilled(std::chrono::seconds{60}), "refill");
            if (route->finish_cleanup(car)) die("removing the old rules failed");
        }
        if (loop) loop->stop();
        if (stream) mr.device = stream->stop();
        need(pool->shutdown(), "remove the twins");
        results.push_back(std::move(mr));
    }
    (void)lab.down();

    // ---- report -----------------------------------------------------------------------------
    fmt::print("\nMIGRATE Fig. 8 on this SDK: {} migrations per mode, testbed {} (load {})\n\n", runs, testbed_name,
               bench::loadavg());
    fmt::print("{:<15}", "phase (ms)");
    for (auto& r : results) fmt::print(" | {:>8} {:>8} {:>8}", r.mode + " p50", "p95", "p99");
    fmt::print(" | cold/pooled p50\n");
    auto row = [&](const std::string& name, auto get) {
        fmt::print("{:<15}", name);
        std::vector<double> p50s;
        for (auto& r : results) {
            const auto& v = get(r);
            p50s.push_back(bench::median(v));
            fmt::print(" | {:>12.3f} {:>8.3f} {:>8.3f}", bench::median(v), bench::percentile(v, 95), bench::percentile(v, 99));
        }
        if (p50s.size() == 2 && p50s[0] > 0) fmt::print(" | {:>8.1f}x", p50s[1] / p50s[0]);
        fmt::print("\n");
    };
    for (auto& name : phase_names) row(name, [&](const mode_result& r) -> const std::vector<double>& { return r.phases.at(name); });
    row("effective", [](const mode_result& r) -> const std::vector<double>& { return r.effective; });
    fmt::print("\nMIGRATE (IEEE Access 2020, controller at the edge): effective migration {:.3f} ms\n",
               migrate_paper_effective_ms);
    const double new_route_p50 = bench::median(results[0].phases.at("new route"));
    fmt::print("issue 4 target: new route <= 1 ms median from readiness to BARRIER reply: {:.3f} ms ({})\n", new_route_p50,
               new_route_p50 <= 1.0 ? "met" : "NOT met");
    for (auto& r : results)
        if (r.failures) fmt::print("{}: {} of {} runs failed (rolled back)\n", r.mode, r.failures, runs);
    for (auto& r : results)
        if (!r.device.is_null())
            fmt::print("the car during the {} moves ({} Hz confirmable CoAP through the switch): sent {}, acked {}, "
                       "lost {}, acked only after a retransmission {}, RTT p50 {:.3f} ms p99 {:.3f} ms\n",
                       r.mode, stream_hz, r.device.value("sent", 0), r.device.value("acked", 0), r.device.value("lost", 0),
                       r.device.value("retransmitted", 0), r.device["rtt_ms"].value("p50", 0.0), r.device["rtt_ms"].value("p99", 0.0));
    fmt::print("reproduce: {}\n", command);

    if (!json_out.empty()) {
        json summary = json::object();
        for (auto& r : results) {
            json m = json::object();
            for (auto& [name, v] : r.phases)
                m[name] = {{"p50", bench::median(v)}, {"p95", bench::percentile(v, 95)}, {"p99", bench::percentile(v, 99)}};
            m["effective"] = {{"p50", bench::median(r.effective)}, {"p95", bench::percentile(r.effective, 95)},
                              {"p99", bench::percentile(r.effective, 99)}};
            m["failures"] = r.failures;
            m["device"] = r.device;
            summary[r.mode] = m;
        }
        std::ofstream(json_out) << json{{"command", command}, {"summary", summary}, {"runs", per_run},
                                        {"migrate_paper_effective_ms", migrate_paper_effective_ms}}
                                       .dump(2);
    }
    int failed = 0;
    for (auto& r : results) failed += r.failures + (r.device.is_null() ? 0 : r.device.value("lost", 0));
    return failed == 0 ? 0 : 1;
}
