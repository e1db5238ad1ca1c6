// migrate-vmd-controller — MIGRATE's SDN controller for vMD twins, as a program: an OpenFlow
// 1.3 switch dials it, the `sdn` trigger watches the devices' packets, and each device's twin
// follows it between the edge hosts of a testbed (replica pool + `openflow` route switch,
// docs/sdn.md). Runs until SIGINT/SIGTERM, printing each move (text, or --json lines), then
// removes the twins it started.
#include "twin_protocol.hpp"

#include <migrate/docker/engine.hpp>
#include <migrate/follow_me.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/openflow/connection.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/strategy/replica_pool.hpp>
#include <migrate/testbed/testbed.hpp>
#include <migrate/trigger/sdn.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <thread>

using namespace migrate;

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

[[noreturn]] void fail(const std::string& what) {
    fmt::print(stderr, "migrate-vmd-controller: {}\n", what);
    std::exit(1);
}

template <class T>
T need(result<T> r, const std::string& what) {
    if (!r) fail(what + ": " + r.error().what());
    return std::move(*r);
}
void need(result<void> r, const std::string& what) {
    if (!r) fail(what + ": " + r.error().what());
}

// "KEY=VALUE" -> (KEY, VALUE); `what` names the option in the error.
std::pair<std::string, std::string> split_pair(const std::string& s, const char* what) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
        fail(fmt::format("{} '{}': expected KEY=VALUE", what, s));
    return {s.substr(0, eq), s.substr(eq + 1)};
}

std::uint32_t port_number(const std::string& s, const char* what) {
    try {
        std::size_t used = 0;
        auto n = std::stoul(s, &used);
        if (used == s.size() && n > 0 && n <= 0xffffff00) return static_cast<std::uint32_t>(n);
    } catch (const std::exception&) {
    }
    fail(fmt::format("{}: '{}' is not a switch port number", what, s));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MIGRATE's SDN controller for vMD twins: a switch dials in (OpenFlow 1.3), a tracked device seen on "
                 "another domain's port gets a twin there (pre-warmed), its traffic is moved to it make-before-break, "
                 "and its state comes from the store. See docs/sdn.md."};
    std::string testbed_name = "mtb", listen = "127.0.0.1:6653", image = "migrate-vmd-twin:1", store;
    std::string service_address, service_mac = "02:4d:53:00:00:01";
    std::uint16_t service_port = 5683;
    int pool_size = 1;
    bool as_json = false, build_image = false;
    std::vector<std::string> links, port_hosts, devices;
    app.add_option("--testbed", testbed_name, "the edge hosts: a running testbed's")->capture_default_str();
    app.add_option("--listen", listen, "where the switch dials us (ovs-vsctl set-controller BR tcp:ADDRESS:PORT)")
        ->capture_default_str();
    app.add_option("--store", store, "the twins' state store, as the twins reach it (redis://CLIENT_ADDRESS:6379/)")
        ->required();
    app.add_option("--image", image, "the twin image on every host (image::vmd_twin_recipe)")->capture_default_str();
    app.add_flag("--build-image", build_image, "build the twin image where it is missing (from the migrate-vmd-twin "
                                               "next to this program)");
    app.add_option("--service-address", service_address, "the virtual IPv4 devices send to")->required();
    app.add_option("--service-mac", service_mac, "the virtual MAC devices send to")->capture_default_str();
    app.add_option("--service-port", service_port, "the twins' UDP port")->capture_default_str();
    app.add_option("--link", links, "HOST=PORT,MAC: the switch port toward an edge host and the MAC packets to its "
                                    "twins must carry; one per host")
        ->required();
    app.add_option("--port-host", port_hosts, "PORT=HOST: a device seen on this switch port belongs to HOST's domain")
        ->required();
    app.add_option("--device", devices, "MAC=PORT,ADDRESS: a device to follow, attached at PORT now; repeatable")
        ->required();
    app.add_option("--pool-size", pool_size, "ready twins per host")->capture_default_str()->check(CLI::Range(0, 16));
    app.add_flag("--json", as_json, "print each move as one JSON line (the migration report)");
    app.footer(
        "Example (a testbed 'mtb' with testbed::sdn_access in front of it, as the integration test builds):\n"
        "  migrate-vmd-controller --testbed mtb --store redis://10.82.56.1:6379/ \\\n"
        "      --service-address 10.251.0.100 --link a=11,02:4d:48:00:00:01 --link b=12,02:4d:48:00:00:02 \\\n"
        "      --port-host 1=a --port-host 2=b --device 02:4d:44:00:00:01=1,10.251.0.2\n"
        "  ovs-vsctl set-controller BRIDGE tcp:127.0.0.1:6653\n"
        "Each move prints its phases: backup route, instantiation, state load, new route, release.");
    CLI11_PARSE(app, argc, argv);

    auto tb = need(testbed::testbed::open(testbed_name), "testbed " + testbed_name);
    route::openflow_route_options ro;
    ro.service_address = service_address;
    ro.service_mac = service_mac;
    ro.ip_proto = 17;
    ro.service_port = service_port;
    for (auto& l : links) {
        auto [host, rest] = split_pair(l, "--link");
        auto comma = rest.find(',');
        if (comma == std::string::npos) fail(fmt::format("--link '{}': expected HOST=PORT,MAC", l));
        ro.hosts[host] = {port_number(rest.substr(0, comma), "--link"), rest.substr(comma + 1)};
    }
    need(ro.validate(), "options");
    sdn_trigger_options to;
    for (auto& p : port_hosts) {
        auto [port, host] = split_pair(p, "--port-host");
        to.port_hosts[port_number(port, "--port-host")] = host;
    }
    need(to.validate(), "options");

    std::vector<edge_host> hosts;
    for (auto& [name, link] : ro.hosts) {
        auto h = need(tb.find(name), "--link host");
        docker::engine_options eo;
        eo.socket = h.socket;
        auto engine = std::make_shared<docker::engine>(eo);
        if (build_image && !engine->inspect_image(image)) {
            auto self = std::filesystem::canonical("/proc/self/exe").parent_path() / "migrate-vmd-twin";
            auto recipe = need(image::vmd_twin_recipe(self), "twin recipe");
            need(image::build_image(*engine, recipe.rootfs, image, recipe.changes), "build " + image + " on " + name);
        }
        hosts.push_back({h.name, h.address, engine, h.work_dir, {}});
    }

    auto colon = listen.rfind(':');
    if (colon == std::string::npos) fail("--listen '" + listen + "': expected ADDRESS:PORT");
    openflow::listener_options lo;
    lo.address = listen.substr(0, colon);
    lo.port = static_cast<std::uint16_t>(port_number(listen.substr(colon + 1), "--listen"));
    auto listener = need(openflow::controller_listener::listen(lo), "listen on " + listen);
    fmt::print(stderr, "waiting for a switch on {} (ovs-vsctl set-controller BRIDGE {})\n", listen, listener->target());
    auto sw = need(listener->wait_for_switch(std::nullopt, std::chrono::minutes{10}), "switch");
    fmt::print(stderr, "switch {:#x} connected from {}\n", sw->datapath_id(), sw->peer());

    auto route = need(route::openflow_route_switch::make(sw, ro), "route switch");
    auto trigger = need(sdn_trigger::make(sw, to), "sdn trigger");
    replica_pool_options po;
    po.image = image;
    po.cmd = {"--store", store};
    po.service_port = service_port;
    po.size = pool_size;
    po.name_prefix = "vmdc";
    auto pool = need(replica_pool::make(hosts, po, std::make_shared<vmd::twin_protocol>()), "replica pool");
    need(pool->fill(), "fill the pool");

    for (auto& d : devices) {
        auto [mac, rest] = split_pair(d, "--device");
        auto comma = rest.find(',');
        if (comma == std::string::npos) fail(fmt::format("--device '{}': expected MAC=PORT,ADDRESS", d));
        auto port = port_number(rest.substr(0, comma), "--device");
        auto it = to.port_hosts.find(port);
        if (it == to.port_hosts.end()) fail(fmt::format("--device '{}': port {} has no --port-host", d, port));
        const std::string host = it->second, address = rest.substr(comma + 1);
        trigger->track({mac, port, address, host});
        auto twin = need(pool->assign(mac, host, route.get(), json{{"port", port}}), "first twin of " + mac);
        fmt::print(stderr, "device {} (twin id {}) served by {} on {} at {}\n", mac, vmd::device_id_of(mac), twin.id,
                   host, twin.address);
    }

    follow_me loop{*trigger, *pool, *route, trigger.get()};
    loop.on_report([&](const migration_decision& d, const migration_report& r) {
        if (as_json) {
            fmt::print("{}\n", json(r).dump());
        } else {
            fmt::print("{}: {}\n{}\n", d.subject, d.reason, r.to_text());
        }
        std::fflush(stdout);
    });
    need(loop.start(), "follow_me");
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    fmt::print(stderr, "following {} device(s); Ctrl-C stops and removes the twins\n", devices.size());
    while (!stop_requested && sw->is_open()) std::this_thread::sleep_for(std::chrono::milliseconds{200});
    loop.stop();
    if (!sw->is_open()) fmt::print(stderr, "the switch went away: {}\n", sw->closed_reason() ? sw->closed_reason()->what() : "");
    if (auto r = pool->shutdown(); !r) fail(r.error().what());
    fmt::print(stderr, "{} move(s), {} refused; twins removed\n", loop.reports().size(), loop.refused().size());
    return 0;
}
