// migrate-vmd-twin — the vMD digital twin of MIGRATE as a program (twin.hpp says what it
// serves). Runs until SIGINT/SIGTERM (it is PID 1 in its container), then prints its counters.
//
//   migrate-vmd-twin --store file:/data/store
//   migrate-vmd-twin --port 5683 --store redis://10.82.56.1:6379/twins --name twin-b --device car-1
#include "twin.hpp"

#include "coap_glue.hpp"

#include <migrate/state_store.hpp>
#include <migrate/store/file.hpp>
#include <migrate/store/uri.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <thread>

namespace {
volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vMD digital twin: serves CoAP (UDP) for mobile devices and keeps each device's state in a state store.\n"
                 "  POST /telemetry        a telemetry record (JSON) -> 2.04 once the store has it\n"
                 "  GET  /state?device=ID  the device's state from the store (4.04 when unknown)\n"
                 "  POST /assign {\"device\":ID}, POST /release {\"device\":ID}, GET /health\n"
                 "Every write is a compare-and-set on the version last read, so two twins sharing a store\n"
                 "(old and new edge during a route switch) never lose each other's updates."};
    migrate::vmd::twin_options o;
    std::string store_uri = "memory:";
    std::vector<std::string> devices;
    bool verbose = false, no_fsync = false;
    app.add_option("--address", o.address, "IPv4 to listen on (answers come from the address a request was sent to)")
        ->capture_default_str();
    app.add_option("--port", o.port, "UDP port (0 = any free one, printed at start)")->capture_default_str();
    app.add_option("--store", store_uri,
                   "state store URI: memory: | file:/DIR | redis://HOST:PORT[/prefix] | etcd://HOST:PORT[/prefix]")
        ->capture_default_str();
    app.add_flag("--no-fsync", no_fsync,
                 "file: stores only: no fsync per write (a write survives the twin's crash, not the machine's; "
                 "a durable write took 12 ms at the median on a shared disk, more than 100 Hz leaves: docs/vmd.md)");
    app.add_option("--name", o.name, "this twin's name in /health and /state (default: the host name)");
    app.add_option("--key-prefix", o.key_prefix, "store keys are PREFIX + device id")->capture_default_str();
    app.add_option("--device", devices, "assign these devices at start (load their state now); repeatable");
    app.add_option("--max-cas-attempts", o.max_cas_attempts, "compare-and-set retries per record before 5.03")
        ->capture_default_str();
    app.add_flag("-v,--verbose", verbose, "libcoap's own log lines (debug level)");
    app.footer("Examples:\n"
               "  migrate-vmd-twin --store file:/tmp/twins                 # one twin, state in a directory\n"
               "  migrate-vmd-twin --port 5684 --store file:/tmp/twins     # a second twin on the same store\n"
               "  coap-client-notls -m get 'coap://127.0.0.1/state?device=car-1'   # ask it (libcoap3-bin)\n"
               "In a container (image recipe image::vmd_twin_recipe): docker run -v twins:/data IMAGE --store file:/data/store");
    CLI11_PARSE(app, argc, argv);
    if (verbose) migrate::vmd::glue::set_log_level(LOG_DEBUG);

    auto uri = migrate::store::parse_state_store_uri(store_uri);
    if (!uri) {
        std::fprintf(stderr, "migrate-vmd-twin: --store: %s\n", uri.error().what().c_str());
        return 2;
    }
    if (no_fsync && uri->scheme != "file") {
        std::fprintf(stderr, "migrate-vmd-twin: --no-fsync is for file: stores, not %s\n", store_uri.c_str());
        return 2;
    }
    auto store = no_fsync ? migrate::store::make_file_store({.directory = uri->path, .durable = false})
                          : migrate::open_state_store(store_uri);
    if (!store) {
        std::fprintf(stderr, "migrate-vmd-twin: --store: %s\n", store.error().what().c_str());
        return 1;
    }
    std::shared_ptr<migrate::state_store> shared = std::move(*store);
    auto twin = migrate::vmd::twin::start(o, shared);
    if (!twin) {
        std::fprintf(stderr, "migrate-vmd-twin: %s\n", twin.error().what().c_str());
        return 1;
    }
    auto& t = **twin;
    for (auto& d : devices) {
        if (auto v = migrate::vmd::validate_device_id(d, "--device"); !v) {
            std::fprintf(stderr, "migrate-vmd-twin: %s\n", v.error().what().c_str());
            return 2;
        }
        auto s = t.ledger().load(d);
        if (!s) {
            std::fprintf(stderr, "migrate-vmd-twin: assigning %s: %s\n", d.c_str(), s.error().what().c_str());
            return 1;
        }
        fmt::print("assigned {}: {} records stored, last seq {}\n", d, *s ? (*s)->state.count : 0,
                   *s ? (*s)->state.last_seq : 0);
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    fmt::print("vmd twin '{}' serving coap://{}:{} (telemetry, state, assign, release, health), store {}\n",
               t.options().name, o.address, t.port(), shared->location());
    std::fflush(stdout);
    while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    t.stop();
    fmt::print("stopped: {}\n", t.health().dump());
    return 0;
}
