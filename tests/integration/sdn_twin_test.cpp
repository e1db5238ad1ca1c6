// MIGRATE end to end, all real: a car's digital twin follows the car from host a to host b
// while the car streams telemetry at 100 Hz.
//
// The car is a namespace behind an Open vSwitch (testbed/sdn_access.hpp) running
// migrate-md-sim (confirmable CoAP to the virtual service address); the twins are
// migrate-vmd-twin containers pre-warmed on both hosts' service networks (replica_pool),
// their state in a redis-server on the testbed's client side; the SDK is the switch's
// controller: the `sdn` trigger sees the car's MAC on a new port, `follow_me` moves its twin
// through the pool and the `openflow` route switch. Verified from the device side (every
// record acknowledged, none lost; the twin answering at the service address counted each
// record once and holds the last one) and on the switch (`ovs-ofctl dump-flows`).
#include "../store_servers.hpp"
#include "testbed_fixture.hpp"
#include "workload_fixture.hpp"

#include "twin_protocol.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/follow_me.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/openflow/connection.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/state_store.hpp>
#include <migrate/strategy/replica_pool.hpp>
#include <migrate/testbed/sdn_access.hpp>
#include <migrate/trigger/sdn.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <future>
#include <sstream>

using namespace migrate;
using namespace std::chrono_literals;
using migrate::test::shared_testbed;
namespace wl = migrate::test::wl;
namespace ovs = migrate::testbed::ovs;

namespace {

constexpr const char* twin_image = "migrate-test-vmd-twin:1";
constexpr std::uint16_t coap_port = 5683;

edge_host pool_host(const testbed::host& h) {
    docker::engine_options o;
    o.socket = h.socket;
    return edge_host{h.name, h.address, std::make_shared<docker::engine>(o), h.work_dir, {}};
}

void twin_image_on_both_hosts() {
    for (auto h : {"a", "b"}) {
        auto e = migrate::test::engine_on(h);
        wl::ensure_image(e, image::vmd_twin_recipe(MIGRATE_VMD_TWIN), twin_image);
    }
}

// An OVS lab of this prefix, without what a crashed run of it left.
result<ovs::ovs_lab> fresh_lab(const std::string& prefix) {
    (void)ovs::ovs_lab::down(prefix);
    auto lab = ovs::ovs_lab::open({.prefix = prefix});
    REQUIRE_OK(lab);
    return lab;
}

bool flows_mention(const std::vector<ovs::flow_entry>& flows, const std::string& text) {
    return std::any_of(flows.begin(), flows.end(), [&](auto& f) { return f.line.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("sdn: a car's twin follows it from host a to host b during a 100 Hz CoAP stream, 0 records lost, state "
          "intact, flows on the switch",
          "[ovs][sdn][vmd]") {
    const auto& tb = shared_testbed();
    twin_image_on_both_hosts();
    // The twins' state store, on the testbed's client side where every container can reach it.
    test::redis_server redis{tb.client_address()};

    auto lab = fresh_lab("sdt");
    auto listener = openflow::controller_listener::listen({.address = "127.0.0.1", .port = 0});
    REQUIRE_OK(listener);
    testbed::sdn_access_options ao;
    ao.controllers = {(*listener)->target()};
    auto access = testbed::make_sdn_access(*lab, tb, ao);
    REQUIRE_OK(access);
    auto sw = (*listener)->wait_for_switch(std::nullopt, 10s);
    REQUIRE_OK(sw);

    auto route = route::openflow_route_switch::make(*sw, access->route_options(17, coap_port));
    REQUIRE_OK(route);
    sdn_trigger_options to;
    to.port_hosts = {{access->attachments[0].ofport, "a"}, {access->attachments[1].ofport, "b"}};
    auto trigger = sdn_trigger::make(*sw, to);
    REQUIRE_OK(trigger);

    replica_pool_options po;
    po.image = twin_image;
    po.cmd = {"--store", fmt::format("redis://{}/", redis.address())};
    po.network = "svc";
    po.service_port = coap_port;
    po.size = 1;
    po.name_prefix = "sdt-twin";
    auto pool = replica_pool::make({pool_host(tb.find("a").value()), pool_host(tb.find("b").value())}, po,
                                   std::make_shared<vmd::twin_protocol>());
    REQUIRE_OK(pool);
    struct cleanup {
        replica_pool& p;
        ovs::ovs_lab& l;
        ~cleanup() {
            (void)p.shutdown();
            (void)l.down();
        }
    } cleanup_at_end{**pool, *lab};
    REQUIRE_OK((*pool)->fill());

    // The car is served by a twin on a, through attachment 1 (a's domain).
    const auto car = access->device_mac;
    const auto device_id = vmd::device_id_of(car);
    (*trigger)->track({car, access->attachments[0].ofport, access->device_address, "a"});
    auto first = (*pool)->assign(car, "a", route->get(), json{{"port", access->attachments[0].ofport}});
    REQUIRE_OK(first);

    follow_me loop{**trigger, **pool, **route, trigger->get()};
    REQUIRE_OK(loop.start());

    // 600 records at 100 Hz from the car's namespace; after 2 s the car drives into b's cell.
    auto sim = std::async(std::launch::async, [&] {
        return migrate::detail::run({"ip", "netns", "exec", access->device_netns, MIGRATE_MD_SIM, "--address",
                                     access->service_address, "--device", device_id, "--rate", "100", "--count", "600",
                                     "--json", "--verify"},
                                    {.timeout = 60s, .stdin_data = {}, .cwd = {}});
    });
    std::this_thread::sleep_for(2s);
    REQUIRE_OK(access->attach_device(1));
    REQUIRE_OK(loop.wait_for_moves(1, 20s));
    auto out = sim.get();
    REQUIRE_OK(out);
    INFO("md-sim: " << out->out << out->err);
    auto result = json::parse(out->out);
    const auto& summary = result["summary"];
    CHECK(summary["sent"] == 600);
    CHECK(summary["acked"] == 600);
    CHECK(summary["lost"] == 0);
    CHECK(result["verify"]["ok"] == true);   // the twin at the service address counted each record once
    CHECK(out->exit_code == 0);

    // The move: MIGRATE's phases, a pooled twin, the new twin on b serving the car.
    auto reports = loop.reports();
    REQUIRE(reports.size() == 1);
    const auto& rep = reports[0];
    INFO(json(rep).dump(2));
    CHECK(rep.success);
    CHECK(rep.details["instantiation"] == "pooled");
    CHECK(rep.details["decision"]["evidence"]["layer"] == 2);
    auto now = (*pool)->instance_of(car);
    REQUIRE(now);
    CHECK(now->host == "b");
    CHECK(loop.refused().empty());

    // The state in the store: every record, the last one.
    auto store = open_state_store(fmt::format("redis://{}/", redis.address()));
    REQUIRE_OK(store);
    auto entry = (*store)->get("vmd/" + device_id);
    REQUIRE_OK(entry);
    REQUIRE(*entry);
    auto state = json::parse((*entry)->value);
    CHECK(state["count"] == 600);
    CHECK(state["last_seq"] == 600);
    CHECK(state["latest"]["seq"] == summary["last_acked"]["seq"]);

    // On the switch: the car's rules lead to b's twin; nothing leads to a's any more.
    REQUIRE_FALSE((*route)->finish_cleanup(car));
    auto flows = lab->dump_flows(access->bridge);
    REQUIRE_OK(flows);
    INFO([&] {
        std::string all;
        for (auto& f : *flows) all += f.line + "\n";
        return all;
    }());
    CHECK(flows_mention(*flows, fmt::format("set_field:{}->ip_dst", now->address)));
    CHECK_FALSE(flows_mention(*flows, first->address + "->") );
    CHECK_FALSE(flows_mention(*flows, "nw_src=" + first->address));
    loop.stop();
}

TEST_CASE("sdn: the migrate-vmd-controller program follows a car the same way (its JSON reports, 0 records lost, its "
          "twins removed when it stops)",
          "[ovs][sdn][vmd][controller]") {
    const auto& tb = shared_testbed();
    twin_image_on_both_hosts();
    test::redis_server redis{tb.client_address()};
    auto lab = fresh_lab("sdc");
    const auto port = test::free_port();
    testbed::sdn_access_options ao;
    ao.controllers = {fmt::format("tcp:127.0.0.1:{}", port)};
    auto access = testbed::make_sdn_access(*lab, tb, ao);
    REQUIRE_OK(access);
    struct lab_down {
        ovs::ovs_lab& l;
        ~lab_down() { (void)l.down(); }
    } lab_down_at_end{*lab};

    const auto& links = access->host_links;
    test::scratch_dir dir{"sdn-controller"};
    const auto log = dir.path / "controller.log";
    test::program controller{{MIGRATE_VMD_CONTROLLER, "--testbed", test::shared_testbed_name(), "--listen",
                              fmt::format("127.0.0.1:{}", port), "--store", fmt::format("redis://{}/", redis.address()),
                              "--image", twin_image, "--service-address", access->service_address, "--service-mac",
                              access->service_mac, "--link",
                              fmt::format("a={},{}", links.at("a").ofport, links.at("a").mac), "--link",
                              fmt::format("b={},{}", links.at("b").ofport, links.at("b").mac), "--port-host",
                              fmt::format("{}=a", access->attachments[0].ofport), "--port-host",
                              fmt::format("{}=b", access->attachments[1].ofport), "--device",
                              fmt::format("{}={},{}", access->device_mac, access->attachments[0].ofport,
                                          access->device_address),
                              "--json"},
                             log};
    auto log_has = [&](const std::string& text) { return test::read_text(log).find(text) != std::string::npos; };
    bool following = wl::eventually([&] { return log_has("following 1 device(s)"); }, 60s);
    INFO(test::read_text(log));
    REQUIRE(following);

    const auto device_id = vmd::device_id_of(access->device_mac);
    auto sim = std::async(std::launch::async, [&] {
        return migrate::detail::run({"ip", "netns", "exec", access->device_netns, MIGRATE_MD_SIM, "--address",
                                     access->service_address, "--device", device_id, "--rate", "100", "--count", "400",
                                     "--json", "--verify"},
                                    {.timeout = 60s, .stdin_data = {}, .cwd = {}});
    });
    std::this_thread::sleep_for(1500ms);
    REQUIRE_OK(access->attach_device(1));
    auto out = sim.get();
    REQUIRE_OK(out);
    INFO("md-sim: " << out->out << out->err);
    auto result = json::parse(out->out);
    CHECK(result["summary"]["acked"] == 400);
    CHECK(result["summary"]["lost"] == 0);
    CHECK(result["verify"]["ok"] == true);

    // The move, as the program printed it: one JSON report per line on its stdout.
    REQUIRE(wl::eventually([&] { return log_has("\"strategy\":\"replica_pool\""); }, 20s));
    json report;
    std::istringstream lines(test::read_text(log));
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("{", 0) == 0 && line.find("\"replica_pool\"") != std::string::npos) report = json::parse(line);
    CHECK(report["success"] == true);
    CHECK(report["target"] == "b");
    CHECK(report["details"]["instantiation"] == "pooled");

    // Stopped, it removes its twins from both hosts.
    CHECK(controller.stop(std::chrono::seconds{30}));
    CHECK(log_has("twins removed"));
    for (auto h : {"a", "b"}) {
        auto e = migrate::test::engine_on(h);
        auto left = e.list_containers(true, "migrate.replica_pool=vmdc");
        REQUIRE_OK(left);
        CHECK(left->empty());
    }
}
