// copy_between_hosts on the real testbed: the bytes go from a socket in host a's namespace to
// a listener in host b's, over the link between them, and the congested profile's 100 Mbit
// shaping applies to them (which a copy that bypassed the link would not feel).
#include "testbed_fixture.hpp"

#include <migrate/testbed/host_copy.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace migrate;
using namespace std::chrono_literals;

namespace {

result<void> zeros(byte_sink& out, std::uint64_t n) {
    std::vector<std::byte> buf(256 * 1024);
    for (std::uint64_t off = 0; off < n; off += buf.size())
        if (auto r = out.write(std::span(buf.data(), std::min<std::uint64_t>(buf.size(), n - off))); !r) return r;
    return ok();
}
result<void> drain(byte_source& in) {
    std::vector<std::byte> buf(256 * 1024);
    for (;;) {
        auto n = in.read(buf);
        if (!n) return n.error();
        if (*n == 0) return ok();
    }
}

struct profile_guard {
    ~profile_guard() {
        if (auto tb = testbed::testbed::open(test::shared_testbed_name())) (void)tb->set_profile(testbed::link_profile::normal);
    }
};

}  // namespace

TEST_CASE("host copy: a to b crosses the testbed link and feels its shaping", "[testbed][host_copy]") {
    auto tb = testbed::testbed::open(test::shared_testbed_name());
    REQUIRE(tb);
    const auto& a = test::tb_host("a");
    const auto& b = test::tb_host("b");
    const std::uint64_t n = 6ull << 20;   // 6 MiB: ~0.5 s at 100 Mbit

    profile_guard restore;
    REQUIRE(tb->set_profile(testbed::link_profile::congested));
    auto shaped = testbed::copy_between_hosts(a, b, [&](byte_sink& out) { return zeros(out, n); }, drain);
    REQUIRE(shaped);
    CHECK(shaped->bytes == n);
    const double shaped_mbps = double(n) * 8 / 1e6 / shaped->seconds;
    CHECK(shaped_mbps < 110);   // HTB 100 Mbit (payload a little below)

    REQUIRE(tb->set_profile(testbed::link_profile::normal));
    auto free = testbed::copy_between_hosts(a, b, [&](byte_sink& out) { return zeros(out, n); }, drain);
    REQUIRE(free);
    CHECK(free->bytes == n);
    CHECK(free->seconds < shaped->seconds);
    WARN("host copy a -> b: " << shaped_mbps << " Mbit/s congested, " << double(n) * 8 / 1e6 / free->seconds
                              << " Mbit/s normal");
}
