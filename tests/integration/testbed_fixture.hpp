// tests/integration/testbed_fixture.hpp — the shared edge testbed of the integration tests.
//
// CTest brings the testbed up before the integration tests (`migrate-testbed up --name mci
// --hosts 2 --replace`, a FIXTURES_SETUP test) and down after them. Tests only attach to it,
// by the name in the environment variable MIGRATE_TESTBED (default "mci"): the library reads
// no environment variables, the tests do.
#pragma once

#include <migrate/testbed/testbed.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <mutex>
#include <optional>
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

}  // namespace migrate::test
