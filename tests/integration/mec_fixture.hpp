// What the MEC integration tests share: the MEC platform emulator on the testbed's client side
// (where containers on every host reach it), paused so that only forced moves happen, serving the
// ETSI MEC Sandbox's Monaco `dual-mep-short-path` scenario (mep1 in zone01, mep2 in zone04) under
// the sandbox's two-segment prefix; and A2 on host a reading the car's zone from its Location API.
#pragma once

#include "testbed_fixture.hpp"
#include "workload_fixture.hpp"

#include <migrate/mec/client.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/workload/a2_counter.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace migrate::test {

inline const char* const mec_car = "10.100.0.1";
inline const char* const mec_sandbox = "sbx1/mep1";

/// With `apps`, the MEC011/MEC021 app instances the platform runs.
inline std::unique_ptr<mec::emulator> client_side_emulator(std::vector<mec::app_instance> apps = {}) {
    using namespace std::chrono_literals;
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    mec::emulator_options o;
    o.address = shared_testbed().client_address();
    o.base_path = std::string("/") + mec_sandbox;
    o.time_scale = 0;
    o.app_instances = std::move(apps);
    auto emu = mec::emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);
    return std::move(*emu);
}

/// "http://CLIENT:PORT": the platform's base URL (the sandbox prefix goes separately).
inline std::string platform_url(const mec::emulator& emu) {
    return fmt::format("http://{}:{}", shared_testbed().client_address(), emu.port());
}

inline mec::client_options platform_options(const mec::emulator& emu) {
    mec::client_options c;
    c.base_url = platform_url(emu);
    c.sandbox = mec_sandbox;
    return c;
}

/// The first access point of `zone` in the scenario.
inline std::string access_point_in(const mec::emulator& emu, const std::string& zone) {
    auto* z = emu.model().find_zone(zone);
    REQUIRE(z);
    REQUIRE_FALSE(z->access_points.empty());
    return z->access_points.front();
}

/// A2 started on host a, reading the car's zone from the emulator's Location API (`addr` is
/// where it answers); removed from both hosts at the end.
struct a2_reading_mec {
    docker::engine a = engine_on("a");
    docker::engine b = engine_on("b");
    workload::a2_counter_config cfg;
    std::string addr;

    a2_reading_mec(const mec::emulator& emu, const std::string& name) {
        using namespace std::chrono_literals;
        wl::ensure_workload_images(a);
        wl::ensure_workload_images(b);
        cfg = {.name = name, .image = wl::a2_image,
               .zone_url = emu.url() + "/location/v2/queries/users?address=" + mec_car,
               .zone_format = workload::a2_zone_format::mec_location,
               .network = wl::service_network("a"), .volume = name + "-data", .port = 8080,
               .interval = 100ms};
        wl::discard(a, cfg.name, cfg.volume);
        wl::discard(b, cfg.name, cfg.volume);
        REQUIRE_OK(a.create_volume(cfg.volume));
        auto id = a.create(workload::a2_counter_spec(cfg));
        REQUIRE_OK(id);
        REQUIRE_OK(a.start(*id));
        addr = wl::address_of(a, cfg.name, cfg.network);
        REQUIRE(wl::eventually([&] { return workload::a2_udp_count(addr, cfg.port, 200ms).has_value(); }, 10s));
    }
    ~a2_reading_mec() {
        wl::discard(a, cfg.name, cfg.volume);
        wl::discard(b, cfg.name, cfg.volume);
    }
    a2_reading_mec(const a2_reading_mec&) = delete;
    a2_reading_mec& operator=(const a2_reading_mec&) = delete;

    /// Waits until A2 at `where` has seen `zone`; its count then.
    std::uint64_t sees(const std::string& where, const std::string& zone) {
        using namespace std::chrono_literals;
        INFO("A2 at " << where << " should see " << zone);
        std::uint64_t count = 0;
        REQUIRE(wl::eventually([&] {
            auto st = workload::a2_get_state(where, cfg.port, 300ms);
            if (st && st->zone == zone) count = st->count;
            return st && st->zone == zone;
        }, 10s));
        return count;
    }
};

}  // namespace migrate::test
