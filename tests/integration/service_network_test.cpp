// The testbed's per-host service networks against REAL dockerd and CRIU: each host has a
// routed docker bridge network the root namespace reaches, and a memcached on it moves
// from a to b by checkpoint/restore with every key, answering at b's address afterwards,
// while host a's own namespace is never locked by CRIU.
#include "workload_fixture.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/pipe.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>
#include <migrate/workload/service_locator.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace migrate;
using namespace migrate::test;
using namespace std::chrono_literals;

namespace {

std::optional<workload::memcached_client> connect_memcached(const std::string& address, std::uint16_t port) {
    std::optional<workload::memcached_client> c;
    wl::eventually([&] {
        auto r = workload::memcached_client::connect(address, port, 1s);
        if (r) c.emplace(std::move(*r));
        return c.has_value();
    }, 10s, 100ms);
    return c;
}

std::string host_iptables(const testbed::host& h) {
    auto r = detail::run({"nsenter", "--net=/run/netns/" + h.netns, "iptables", "-S"}, {.timeout = 10s});
    return r && r->exit_code == 0 ? r->out : "iptables failed";
}

}  // namespace

TEST_CASE("every testbed host has its own routed service network", "[testbed][svcnet]") {
    auto& tb = shared_testbed();
    auto st = tb.status();
    REQUIRE(st["hosts"].size() == tb.hosts().size());
    std::set<std::string> subnets;
    for (std::size_t i = 0; i < tb.hosts().size(); ++i) {
        auto& h = tb.hosts()[i];
        INFO("host " << h.name);
        REQUIRE_FALSE(h.service_network.empty());
        CHECK(workload::in_network(h.service_gateway, h.service_subnet));
        CHECK_FALSE(workload::in_network(h.address, h.service_subnet));
        subnets.insert(h.service_subnet);
        // status() reports the network as the host's dockerd sees it.
        auto& js = st["hosts"][i];
        CHECK(js["service_subnet"] == h.service_subnet);
        CHECK(js["service_network_status"]["present"] == true);
        auto e = engine_on(h.name);
        auto n = e.inspect_network(h.service_network);
        REQUIRE_OK(n);
        CHECK(n->driver == "bridge");
        CHECK(n->subnet == h.service_subnet);
        CHECK(n->gateway == h.service_gateway);
        CHECK(n->labels["org.migrate.testbed"] == tb.options().name);
    }
    CHECK(subnets.size() == tb.hosts().size());   // one subnet per host
    CHECK(st["up"] == true);

    // The engine's network calls: a taken name is a conflict, a missing one not_found.
    auto e = engine_on("a");
    auto again = e.create_network({.name = wl::service_network("a")});
    REQUIRE_FALSE(again);
    CHECK(again.error_code() == error::conflict);
    auto missing = e.remove_network("no-such-network-here");
    REQUIRE_FALSE(missing);
    CHECK(missing.error_code() == error::not_found);
    CHECK_THAT(missing.error().message, Catch::Contains("no-such-network-here"));
}

TEST_CASE("memcached on the service network: CRIU a -> b keeps every key, answers at b's address, host a never locked",
          "[docker][criu][svcnet]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    wl::ensure_image(a, image::memcached_recipe(), wl::memcached_image);
    wl::ensure_image(b, image::memcached_recipe(), wl::memcached_image);
    const std::string name = "svc-mc";
    wl::discard(a, name);
    wl::discard(b, name);
    const std::uint16_t port = 11211;
    const auto& net = wl::service_network("a");
    container_spec s{.name = name, .image = wl::memcached_image,
                     .cmd = {"-p", std::to_string(port), "-U", std::to_string(port), "-m", "32"}, .network_mode = net};
    auto id_a = a.create(s);
    REQUIRE_OK(id_a);
    REQUIRE_OK(a.start(*id_a));
    auto addr_a = wl::address_of(a, name, net);
    CHECK(workload::in_network(addr_a, tb_host("a").service_subnet));

    workload::memcached_dataset ds{.prefix = "svc", .items = 3000, .value_size = 256};
    {
        auto c = connect_memcached(addr_a, port);   // from the root namespace, routed via host a
        REQUIRE(c);
        REQUIRE_OK(c->load(ds));
    }   // closed before the dump: CRIU refuses an established connection
    const std::string probe_key = ds.key(7), probe_value = ds.value(7);
    CHECK(workload::memcached_udp_get(addr_a, port, probe_key, probe_value, 500ms));

    // A client probing by UDP from outside, following the service to b's address.
    downtime_prober prober(workload::two_location_probe(
                               workload::container_address_locator(tb_host("a").socket, name, net),
                               workload::container_address_locator(tb_host("b").socket, name, net),
                               [&](const std::string& addr) {
                                   return workload::memcached_udp_get(addr, port, probe_key, probe_value, 20ms);
                               }),
                           10ms, "memcached UDP get every 10 ms");
    prober.start();
    REQUIRE(prober.wait_for_source(5s));

    REQUIRE_OK(a.create_checkpoint(*id_a, {.name = "svc1", .exit = true}));
    // The dump locked the container's namespace, not the host's: no CRIU rule was ever in
    // host a's own tables, and none is left.
    CHECK(host_iptables(tb_host("a")).find("CRIU") == std::string::npos);
    auto info_a = a.inspect(*id_a);
    REQUIRE_OK(info_a);
    CHECK(info_a->spec.network_mode == net);   // the same name exists on b: the spec moves unchanged
    auto id_b = b.create(info_a->spec);
    REQUIRE_OK(id_b);
    auto moved = stream_between([&](byte_sink& out) { return a.export_checkpoint(*id_a, "svc1", out); },
                                [&](byte_source& in) { return b.import_checkpoint(*id_b, "svc1", in); });
    REQUIRE_OK(moved);
    REQUIRE_OK(b.start_from_checkpoint(*id_b, "svc1"));
    auto addr_b = wl::address_of(b, name, net);
    CHECK(workload::in_network(addr_b, tb_host("b").service_subnet));
    CHECK(prober.wait_for_target(10s));
    prober.stop();
    auto m = prober.result();
    REQUIRE(m);
    INFO("downtime " << m->downtime_ms << " ms (" << m->method << ")");
    CHECK(m->downtime_ms > 0);

    auto c = connect_memcached(addr_b, port);
    REQUIRE(c);
    auto n = c->count_intact(ds);
    REQUIRE_OK(n);
    CHECK(*n == ds.items);
    c.reset();
    REQUIRE_OK(b.remove(*id_b, true));
    REQUIRE_OK(a.remove(*id_a, true));
}
