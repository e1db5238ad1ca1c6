// migrate-md-sim — the mobile device of MIGRATE: a car sending OBD-II telemetry to its
// digital twin as confirmable CoAP at a set rate, counting acks, losses and duplicates
// (md_sim.hpp has the whole story).
//
//   migrate-md-sim --address 127.0.0.1 --rate 100 --duration-ms 5000 --verify
//   migrate-md-sim --address 10.99.0.1 --bind veth-md --count 1000 --json
//   migrate-md-sim --manager http://10.99.0.254:8080 --count 3000 --verify   # the manager names the twin
#include "md_sim.hpp"

#include "coap_glue.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <stop_token>
#include <thread>

namespace {
std::stop_source stopper;
void on_signal(int) { stopper.request_stop(); }
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Mobile device simulator: a car driving a route sends its OBD-II telemetry (GPS, speed, RPM, coolant,\n"
                 "air flow, load, fuel, CO2, ...) to its twin as confirmable CoAP POST /telemetry, with CoAP's\n"
                 "retransmissions, and counts: sent, acked (counted / late / duplicate at the twin), lost (no answer\n"
                 "after the last retransmission), rejected (4.xx/5.xx), and each acked record's round-trip time.\n"
                 "Sequence numbers continue where the twin's state for the device ends (GET /state first).\n"
                 "With --manager the device asks the MD manager (migrate-md-manager) for its twin instead of being\n"
                 "given an address, heartbeats to it, and registers again when its records go unanswered for\n"
                 "--reregister-after seconds (the twin vanished): the new twin loads the device's state from the\n"
                 "store, the records still waiting go to it, and the run goes on."};
    migrate::vmd::md_sim_options o;
    std::string engine = "gasoline";
    std::uint64_t first_seq = 0;
    long long duration_ms = o.duration.count(), ack_ms = o.ack_timeout.count(), drain_ms = 0, heartbeat_ms = 0;
    double reregister_s = std::chrono::duration<double>(o.reregister_after).count();
    bool as_json = false, verify = false, verbose = false;
    auto* address =
        app.add_option("-a,--address", o.address, "the twin's IPv4 (or the virtual service address a switch rewrites)");
    auto* manager = app.add_option("-m,--manager", o.manager,
                                   "the MD manager, http://ADDR:PORT: register there (POST /devices) to learn the twin")
                        ->excludes(address);
    app.add_option("--host", o.host, "with --manager: ask for a twin on this edge host (default: the manager's choice)")
        ->needs(manager);
    app.add_option("--reregister-after", reregister_s,
                   "with --manager: seconds without an answer while records wait before registering again")
        ->capture_default_str()
        ->needs(manager);
    app.add_option("--heartbeat-ms", heartbeat_ms, "with --manager: heartbeat interval (default: a third of the manager's timeout)")
        ->needs(manager);
    app.add_option("-p,--port", o.port, "the twin's UDP port")->capture_default_str();
    app.add_option("--bind", o.bind, "send from this local IPv4 address or interface (default: as routed)");
    app.add_option("-d,--device", o.device, "device id (1-64 of A-Z a-z 0-9 . _ -)")->capture_default_str();
    app.add_option("--engine", engine, "gasoline | diesel | hybrid")->capture_default_str();
    app.add_option("-r,--rate", o.rate_hz, "records per second")->capture_default_str();
    auto* count = app.add_option("-n,--count", o.count, "send this many records (instead of --duration-ms)");
    app.add_option("--duration-ms", duration_ms, "send for this long")->capture_default_str()->excludes(count);
    app.add_option("--first-seq", first_seq, "first sequence number (default: the twin's last_seq + 1, or 1)");
    app.add_option("--seed", o.seed, "the generator's seed (same seed, same drive)")->capture_default_str();
    app.add_option("--ack-timeout-ms", ack_ms, "CoAP ACK_TIMEOUT: first retransmission after 1-1.5 x this")->capture_default_str();
    app.add_option("--max-retransmit", o.max_retransmit, "CoAP MAX_RETRANSMIT: retransmissions before a record is lost")
        ->capture_default_str();
    app.add_option("--nstart", o.nstart, "records in flight at once (CoAP NSTART)")->capture_default_str();
    app.add_option("--drain-ms", drain_ms, "wait this long for the last answers (default: the whole retransmission span)");
    app.add_flag("--json", as_json, "print the summary as JSON (with --verify: {\"summary\", \"verify\"})");
    app.add_flag("--verify", verify, "afterwards GET /state and check the twin counted each acked record once and holds "
                                     "the last acked one; exit 1 if not");
    app.add_flag("-v,--verbose", verbose, "libcoap's own log lines (debug level)");
    app.footer("Exit: 0 all acked (and verified), 1 error or verification failed, 2 usage, 3 records lost or rejected.\n"
               "Examples:\n"
               "  migrate-md-sim -a 127.0.0.1 --rate 100 --duration-ms 5000 --verify    # 500 records at 100 Hz\n"
               "  migrate-md-sim -a 127.0.0.1 -p 5684 -d car-7 -n 1000 --json            # a second twin, 1000 records\n"
               "  migrate-md-sim -a 10.99.0.1 --bind md0 --ack-timeout-ms 200 -n 3000    # from interface md0, quick retries\n"
               "  migrate-md-sim -m http://10.99.0.1:8080 -d car-2 -n 3000 --verify      # the manager names the twin\n"
               "Ctrl-C stops sending; the answers still awaited are drained, then the summary is printed.");
    CLI11_PARSE(app, argc, argv);
    if (o.address.empty() && o.manager.empty()) {
        std::fprintf(stderr, "migrate-md-sim: give the twin's --address or an MD --manager that names it\n");
        return 2;
    }
    if (verbose) migrate::vmd::glue::set_log_level(LOG_DEBUG);
    auto e = migrate::vmd::parse_engine_type(engine, "--engine");
    if (!e) {
        std::fprintf(stderr, "migrate-md-sim: %s\n", e.error().what().c_str());
        return 2;
    }
    o.engine = *e;
    o.duration = std::chrono::milliseconds(duration_ms);
    o.ack_timeout = std::chrono::milliseconds(ack_ms);
    o.drain = std::chrono::milliseconds(drain_ms);
    o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    o.reregister_after = std::chrono::milliseconds(std::llround(reregister_s * 1000));
    if (first_seq) o.first_seq = first_seq;
    if (auto v = o.validate(); !v) {
        std::fprintf(stderr, "migrate-md-sim: %s\n", v.error().what().c_str());
        return 2;
    }

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto s = migrate::vmd::run_md_sim(o, stopper.get_token());
    if (!s) {
        std::fprintf(stderr, "migrate-md-sim: %s\n", s.error().what().c_str());
        return 1;
    }
    std::optional<migrate::vmd::verify_result> checked;
    if (verify) {
        auto v = migrate::vmd::verify_with_twin(o, *s);
        if (!v) {
            std::fprintf(stderr, "migrate-md-sim: --verify: %s\n", v.error().what().c_str());
            return 1;
        }
        checked = std::move(*v);
    }
    if (as_json) {
        migrate::json out = *s;
        if (checked) out = migrate::json{{"summary", std::move(out)}, {"verify", *checked}};
        fmt::print("{}\n", out.dump(2));
    } else {
        fmt::print("{}", migrate::vmd::to_text(*s));
        if (checked) fmt::print("  verify: {}: {}\n", checked->ok ? "ok" : "FAILED", checked->detail);
    }
    if (checked && !checked->ok) return 1;
    return s->lost || s->rejected ? 3 : 0;
}
