// copy_between_hosts on loopback (hosts without a namespace: the caller's own); the same
// over a real testbed link is in tests/integration/host_copy_test.cpp.
#include <migrate/testbed/host_copy.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace migrate;
using namespace std::chrono_literals;

namespace {

testbed::host loopback(std::string name) {
    testbed::host h;
    h.name = std::move(name);
    h.address = "127.0.0.1";
    return h;
}

char pattern(std::uint64_t i) { return static_cast<char>('a' + (i * 7 + i / 4096) % 26); }

result<void> write_pattern(byte_sink& out, std::uint64_t n) {
    std::vector<char> buf(64 * 1024);
    for (std::uint64_t off = 0; off < n; off += buf.size()) {
        auto k = std::min<std::uint64_t>(buf.size(), n - off);
        for (std::uint64_t i = 0; i < k; ++i) buf[i] = pattern(off + i);
        if (auto r = out.write(std::as_bytes(std::span(buf.data(), k))); !r) return r;
    }
    return ok();
}

}  // namespace

TEST_CASE("host copy: every byte arrives in order and is counted", "[host_copy]") {
    const std::uint64_t n = 3 * 1024 * 1024 + 17;
    std::uint64_t seen = 0;
    bool same = true;
    auto r = testbed::copy_between_hosts(
        loopback("a"), loopback("b"), [&](byte_sink& out) { return write_pattern(out, n); },
        [&](byte_source& in) -> result<void> {
            std::vector<std::byte> buf(100000);
            for (;;) {
                auto k = in.read(buf);
                if (!k) return k.error();
                if (*k == 0) return ok();
                for (std::size_t i = 0; i < *k; ++i) same = same && static_cast<char>(buf[i]) == pattern(seen + i);
                seen += *k;
            }
        });
    REQUIRE(r);
    CHECK(r->bytes == n);
    CHECK(seen == n);
    CHECK(same);
    CHECK(r->seconds > 0);
}

TEST_CASE("host copy: a producer that fails is an error on both sides, never a short copy", "[host_copy]") {
    std::uint64_t seen = 0;
    std::error_code consumer_error{};
    auto r = testbed::copy_between_hosts(
        loopback("a"), loopback("b"),
        [&](byte_sink& out) -> result<void> {
            if (auto w = write_pattern(out, 1 << 20); !w) return w;
            return make_failure(error::command_failed, "docker export exited 1");
        },
        [&](byte_source& in) -> result<void> {
            std::vector<std::byte> buf(65536);
            for (;;) {
                auto k = in.read(buf);
                if (!k) {
                    consumer_error = k.error_code();
                    return k.error();
                }
                if (*k == 0) return ok();
                seen += *k;
            }
        });
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::command_failed);
    CHECK_THAT(r.error().message, Catch::Contains("docker export exited 1"));
    CHECK(consumer_error == error::io_error);   // the reset, not a clean end
}

TEST_CASE("host copy: a consumer that fails stops the producer and its error is returned", "[host_copy]") {
    auto r = testbed::copy_between_hosts(
        loopback("a"), loopback("b"), [&](byte_sink& out) { return write_pattern(out, 64ull << 20); },
        [&](byte_source& in) -> result<void> {
            std::vector<std::byte> buf(4096);
            (void)in.read(buf);
            return make_failure(error::io_error, "tar -x: no space left on device");
        },
        {.stall_timeout = 5s});
    REQUIRE_FALSE(r);
    // Either side may notice first; the consumer's failure is what stopped the copy.
    CHECK((r.error().message.find("no space left") != std::string::npos ||
           r.error().message.find("sending") != std::string::npos));
}

TEST_CASE("host copy: bad input names what is wrong", "[host_copy]") {
    auto nothing = [](byte_sink&) { return ok(); };
    auto drain = [](byte_source&) { return ok(); };
    auto to = loopback("b");
    to.address = "b.example";
    auto r = testbed::copy_between_hosts(loopback("a"), to, nothing, drain);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::invalid_argument);
    CHECK_THAT(r.error().message, Catch::Contains("b.example"));

    auto from = loopback("a");
    from.netns = "no-such-namespace-here";
    r = testbed::copy_between_hosts(from, loopback("b"), nothing, drain);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::not_found);
    CHECK_THAT(r.error().message, Catch::Contains("/run/netns/no-such-namespace-here"));
}
