#include <migrate/probe.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace std::chrono_literals;

TEST_CASE("the prober measures the gap between the last source answer and the first target answer", "[probe]") {
    // A scripted service: up at the source until t=100 ms, then down, up at the target at 250 ms.
    auto t0 = steady_clock::now();
    auto elapsed = [&] { return steady_clock::now() - t0; };
    downtime_prober p{[&](int loc) { return loc == 0 ? elapsed() < 100ms : elapsed() >= 250ms; }, 2ms, "scripted"};
    p.start();
    REQUIRE(p.wait_for_source(1s));
    REQUIRE(p.wait_for_target(2s));
    p.stop();
    auto m = p.result();
    REQUIRE(m);
    CHECK(m->downtime_ms >= 140.0);
    CHECK(m->downtime_ms <= 200.0);
    CHECK(m->failures > 10);
    CHECK(m->method == "scripted");
}

TEST_CASE("no measurement when the target never answers", "[probe]") {
    downtime_prober p{[](int loc) { return loc == 0; }, 1ms, "source only"};
    p.start();
    CHECK_FALSE(p.wait_for_target(50ms));
    p.stop();
    CHECK_FALSE(p.result());
}
