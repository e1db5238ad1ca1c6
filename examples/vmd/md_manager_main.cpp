// migrate-md-manager — the MD manager of MIGRATE as a program: a replica pool of twin
// containers on a testbed's edge hosts and the REST service that hands them to devices
// (md_manager.hpp has the API and the whole story). Runs until SIGINT/SIGTERM, then removes
// the twins it started (their state stays in the store).
//
//   migrate-md-manager --testbed vmt --store redis://10.112.136.1:6379/vmd/ --listen 10.112.136.1:8080
#include "md_manager.hpp"
#include <migrate/net/http_server.hpp>
#include "twin_supply.hpp"

#include <migrate/agent/protocol.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/store/uri.hpp>
#include <migrate/testbed/testbed.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

int fail(const std::string& what, int code = 1) {
    std::fprintf(stderr, "migrate-md-manager: %s\n", what.c_str());
    return code;
}

void say(std::string_view line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "MD manager of MIGRATE: registers mobile devices and gives each its digital twin from a pool of pre-warmed\n"
        "twin containers (migrate-vmd-twin) on the edge hosts of a testbed. REST, HTTP/1.1, JSON bodies:\n"
        "  POST   /devices {\"device\":ID,\"host\":NAME?}  201 {device, twin:{host,id,address,port}, timeout_ms}\n"
        "                                              409 registered (its twin answers), 400 bad field, 503 no twin\n"
        "  GET    /devices, GET /devices/ID            the assignments\n"
        "  DELETE /devices/ID                          the twin lets go of the device and leaves\n"
        "  POST   /devices/ID/heartbeat                204; 404 once released\n"
        "  GET    /pool                                ready / assigned twins per host\n"
        "A device not heard from within --timeout is released: its twin leaves, its state stays in the store.\n"
        "When it comes back it registers again and its new twin loads that state. A registered device that\n"
        "registers again gets a new twin if its twin no longer answers (migrate-md-sim --manager does this\n"
        "when its records go unanswered)."};
    std::string testbed_name = [] {
        const char* env = std::getenv("MIGRATE_TESTBED");
        return env && *env ? std::string(env) : std::string("mtb");
    }();
    std::vector<std::string> host_names;
    std::string store_uri, listen = "127.0.0.1:8080", build_from;
    double timeout_s = 10, probe_s = 1;
    unsigned threads = 8;
    migrate::replica_pool_options po;
    po.image = "migrate-vmd-twin:1";
    po.name_prefix = "vmd-twin";
    migrate::vmd::md_manager_options mo;
    app.add_option("--testbed", testbed_name, "take the edge hosts from this running testbed (default: $MIGRATE_TESTBED, else mtb)")
        ->capture_default_str();
    app.add_option("--hosts", host_names, "only these of the testbed's hosts (default: all), e.g. --hosts a,b")->delimiter(',');
    app.add_option("--image", po.image, "the twin image, present on every host (or give --build-image)")->capture_default_str();
    app.add_option("--build-image", build_from,
                   "build --image on hosts that lack it from this migrate-vmd-twin binary (image::vmd_twin_recipe)");
    app.add_option("--store", store_uri,
                   "the twins' state store, given to each twin: redis://ADDR:PORT[/prefix] or etcd://ADDR:PORT[/prefix] at "
                   "an address the containers reach (the testbed's client address)")
        ->required();
    app.add_option("--pool-size", po.size, "ready twins kept per host (0 = start each on demand, cold)")->capture_default_str();
    app.add_option("--network", po.network, "the hosts' docker network the twins join")->capture_default_str();
    app.add_option("--name-prefix", po.name_prefix, "twins are PREFIX-HOST-N")->capture_default_str();
    app.add_option("--twin-port", po.service_port, "the twins' CoAP port")->capture_default_str();
    app.add_option("--listen", listen, "ADDR:PORT for the REST API (the testbed's client address lets device namespaces in)")
        ->capture_default_str();
    app.add_option("--timeout", timeout_s, "seconds without a registration or heartbeat before a device is released")
        ->capture_default_str();
    app.add_option("--default-host", mo.default_host, "host for registrations naming none (default: the one serving fewest devices)");
    app.add_option("--probe-timeout", probe_s,
                   "seconds a registered device's twin gets to answer when the device registers again")
        ->capture_default_str();
    app.add_option("--threads", threads, "requests served at once (a cold start blocks one for seconds)")->capture_default_str();
    app.footer(
        "Examples:\n"
        "  migrate-testbed up --name vmt                                  # two edge hosts, a and b\n"
        "  redis-server --bind 10.112.136.1 --port 6379 --protected-mode no &   # the twins' store, on the client address\n"
        "  migrate-md-manager --testbed vmt --build-image build/examples/vmd/migrate-vmd-twin \\\n"
        "      --store redis://10.112.136.1:6379/vmd/ --listen 10.112.136.1:8080 --pool-size 2 --timeout 10\n"
        "  curl -s -X POST -d '{\"device\":\"car-1\"}' http://10.112.136.1:8080/devices\n"
        "  migrate-md-sim --manager http://10.112.136.1:8080 -d car-1 --rate 100 -n 3000 --verify\n"
        "Ctrl-C: stops serving and removes the twins it started.");
    CLI11_PARSE(app, argc, argv);

    auto uri = migrate::store::parse_state_store_uri(store_uri);
    if (!uri) return fail("--store: " + uri.error().what(), 2);
    if (uri->scheme == "memory" || uri->scheme == "file")
        say(fmt::format("warning: --store {}: each twin container gets a store of its own; a device's state will not "
                        "follow it to its next twin (use redis:// or etcd://)", store_uri));
    po.cmd = {"--store", store_uri};
    auto ep = migrate::agent::parse_endpoint(listen, "--listen");
    if (!ep) return fail(ep.error().what(), 2);
    mo.timeout = std::chrono::milliseconds(std::llround(timeout_s * 1000));
    mo.probe_timeout = std::chrono::milliseconds(std::llround(probe_s * 1000));
    if (auto v = mo.validate(); !v) return fail(v.error().what(), 2);
    if (auto v = po.validate(); !v) return fail(v.error().what(), 2);

    auto tb = migrate::testbed::testbed::open(testbed_name);
    if (!tb)
        return fail(fmt::format("--testbed {}: {} (bring it up with `migrate-testbed up --name {}`)", testbed_name,
                                tb.error().message, testbed_name));
    std::vector<migrate::edge_host> hosts;
    for (auto& h : tb->hosts()) {
        if (!host_names.empty() && std::find(host_names.begin(), host_names.end(), h.name) == host_names.end()) continue;
        auto engine = std::make_shared<migrate::docker::engine>(migrate::docker::engine_options{.socket = h.socket});
        if (!build_from.empty() && !engine->inspect_image(po.image)) {
            say(fmt::format("building {} on host {} from {}", po.image, h.name, build_from));
            auto recipe = migrate::image::vmd_twin_recipe(build_from);
            if (!recipe) return fail("--build-image: " + recipe.error().what());
            if (auto id = migrate::image::build_image(*engine, recipe->rootfs, po.image, recipe->changes); !id)
                return fail(fmt::format("--build-image on host {}: {}", h.name, id.error().what()));
        }
        hosts.push_back(migrate::edge_host{h.name, h.address, std::move(engine), h.work_dir, h.agent});
    }
    for (auto& name : host_names)
        if (std::none_of(hosts.begin(), hosts.end(), [&](auto& h) { return h.name == name; }))
            return fail(fmt::format("--hosts: testbed {} has no host '{}'", testbed_name, name), 2);

    migrate::hooks log;
    log.log = [](std::string_view line) { say(line); };
    auto supply = migrate::vmd::pooled_twins::make(std::move(hosts), po, log);
    if (!supply) return fail(supply.error().what());
    std::shared_ptr<migrate::vmd::pooled_twins> twins = std::move(*supply);
    struct remove_twins {
        migrate::vmd::pooled_twins& t;
        ~remove_twins() {
            if (auto r = t.pool().shutdown(); !r) std::fprintf(stderr, "migrate-md-manager: %s\n", r.error().what().c_str());
        }
    } at_exit{*twins};

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    say(fmt::format("filling the pool: {} twin{} of {} per host on {} (store {})", po.size, po.size == 1 ? "" : "s", po.image,
                    fmt::join(twins->hosts(), ", "), store_uri));
    if (auto f = twins->pool().fill(); !f) return fail("filling the pool: " + f.error().what());
    auto manager = migrate::vmd::md_manager::make(mo, twins, log);
    if (!manager) return fail(manager.error().what());
    auto server = migrate::net::http_server::start({.address = ep->host, .port = ep->port, .threads = threads},
                                                   [m = manager->get()](const auto& r) { return m->handle(r); });
    if (!server) return fail("--listen: " + server.error().what());
    say(fmt::format("md manager on {}: devices released after {} s without a heartbeat; pool {}", (*server)->url(),
                    timeout_s, twins->status().dump()));
    while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*server)->stop();
    say(fmt::format("stopping: {} devices registered; removing the twins", (*manager)->devices().size()));
    return 0;
}
