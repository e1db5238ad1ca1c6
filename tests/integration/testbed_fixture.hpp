// tests/integration/testbed_fixture.hpp — the shared edge testbed of the integration tests.
//
// CTest brings the testbed up before the integration tests (`migrate-testbed up --name mci
// --hosts 2 --replace`, a FIXTURES_SETUP test) and down after them. Tests only attach to it,
// by the name in the environment variable MIGRATE_TESTBED (default "mci"): the library reads
// no environment variables, the tests do.
#pragma once

#include <migrate/docker/engine.hpp>
#include <migrate/testbed/testbed.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace migrate::test {

/// Name of the testbed the integration tests run against (MIGRATE_TESTBED, default "mci").
inline std::string shared_testbed_name() {
    const char* env = std::getenv("MIGRATE_TESTBED");
    return env && *env ? std::string(env) : std::string("mci");
}

/// The shared testbed, opened once per test process and cached. Fails the calling test
/// (Catch2 FAIL) with the reason and the command that brings it up when it is not up.
inline const migrate::testbed::testbed& shared_testbed() {
    static std::mutex mutex;
    static std::optional<migrate::testbed::testbed> cached;
    std::lock_guard lock(mutex);
    if (!cached) {
        auto name = shared_testbed_name();
        auto tb = migrate::testbed::testbed::open(name);
        if (!tb) {
            FAIL("the integration testbed '" << name << "' is not up (" << tb.error().what()
                 << "); bring it up with `migrate-testbed up --name " << name
                 << " --hosts 2 --replace` or run the tests through ctest, which does");
        }
        cached = std::move(*tb);
    }
    return *cached;
}

/// A host of the shared testbed by name ("a", "b"); throws when there is none.
inline const migrate::testbed::host& tb_host(std::string_view name) {
    auto& tb = shared_testbed();
    for (auto& h : tb.hosts())
        if (h.name == name) return h;
    throw std::runtime_error("testbed has no host " + std::string(name));
}

/// A Docker engine client for a host of the shared testbed.
inline migrate::docker::engine engine_on(std::string_view host) {
    return migrate::docker::engine({.socket = tb_host(host).socket});
}

}  // namespace migrate::test
