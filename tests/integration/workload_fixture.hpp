// tests/integration/workload_fixture.hpp — what the workload and service-network tests
// share (on top of testbed_fixture.hpp): the hosts' service networks, the workload images (built once per host
// and run from the programs in examples/workloads), waiting helpers.
#pragma once

#include "testbed_fixture.hpp"

#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/workload/zone_server.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace migrate::test::wl {

/// The host's service network, or FAIL: a testbed brought up before service networks
/// existed has none (bring it up again).
inline const std::string& service_network(std::string_view name) {
    auto& h = tb_host(name);
    if (h.service_network.empty())
        FAIL("testbed host " << name << " has no service network: bring the testbed up again with this build");
    return h.service_network;
}

inline const char* const a1_image = "migrate-test-a1-poller:1";
inline const char* const a2_image = "migrate-test-a2-counter:1";
inline const char* const memcached_image = "migrate-test-memcached:1";

inline void ensure_image(docker::engine& e, const result<image::image_recipe>& recipe, const std::string& ref) {
    if (e.inspect_image(ref)) return;
    REQUIRE_OK(recipe);
    auto id = image::build_image(e, recipe->rootfs, ref, recipe->changes);
    INFO(ref << " on " << e.endpoint());
    REQUIRE_OK(id);
}

inline void ensure_workload_images(docker::engine& e) {
    ensure_image(e, image::a1_poller_recipe(MIGRATE_A1_POLLER), a1_image);
    ensure_image(e, image::a2_counter_recipe(MIGRATE_A2_COUNTER), a2_image);
    ensure_image(e, image::memcached_recipe(), memcached_image);
}

/// Removes a container (and with `volume` a volume) if there; errors are fine.
inline void discard(docker::engine& e, const std::string& container, const std::string& volume = {}) {
    (void)e.remove(container, true);
    if (!volume.empty()) (void)e.remove_volume(volume, true);
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step = std::chrono::milliseconds{50}) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

/// The container's address on the host's service network, once it has one.
inline std::string address_of(docker::engine& e, const std::string& container, const std::string& network) {
    std::string addr;
    eventually([&] {
        auto a = e.container_address(container, network);
        if (a) addr = *a;
        return a.has_value();
    }, std::chrono::seconds(10));
    INFO("container " << container << " on " << e.endpoint());
    REQUIRE_FALSE(addr.empty());
    return addr;
}

/// A zone server on the testbed's client side (the bridge address).
inline std::unique_ptr<workload::zone_server> client_side_zone_server() {
    auto s = workload::zone_server::start({.address = shared_testbed().client_address(), .zone = "zone-1"});
    REQUIRE_OK(s);
    return std::move(*s);
}

}  // namespace migrate::test::wl
