#include <migrate/pipe.hpp>

#include <catch2/catch.hpp>

#include <numeric>

using namespace migrate;

namespace {
result<void> produce_bytes(byte_sink& s, std::size_t total, std::size_t chunk) {
    std::vector<std::byte> buf(chunk);
    for (std::size_t sent = 0; sent < total; sent += chunk) {
        for (std::size_t i = 0; i < chunk; ++i) buf[i] = static_cast<std::byte>((sent + i) % 251);
        MIGRATE_TRY(s.write({buf.data(), std::min(chunk, total - sent)}));
    }
    return {};
}
}  // namespace

TEST_CASE("stream_between moves every byte in order through a small buffer", "[pipe]") {
    constexpr std::size_t total = 3'000'000;
    std::size_t received = 0;
    bool in_order = true;
    std::uint64_t last_progress = 0;
    auto r = stream_between(
        [&](byte_sink& s) { return produce_bytes(s, total, 10'000); },
        [&](byte_source& src) -> result<void> {
            std::vector<std::byte> buf(7'000);
            for (;;) {
                auto n = src.read(buf);
                if (!n) return n.error();
                if (*n == 0) return {};
                for (std::size_t i = 0; i < *n; ++i)
                    in_order &= buf[i] == static_cast<std::byte>((received + i) % 251);
                received += *n;
            }
        },
        64 * 1024, [&](std::uint64_t b) { last_progress = b; });
    REQUIRE(r);
    CHECK(r->bytes == total);
    CHECK(received == total);
    CHECK(in_order);
    CHECK(last_progress == total);
}

TEST_CASE("a failing consumer stops the producer and its failure is returned", "[pipe]") {
    auto r = stream_between(
        [&](byte_sink& s) { return produce_bytes(s, 100'000'000, 65536); },
        [&](byte_source& src) -> result<void> {
            std::vector<std::byte> buf(1000);
            (void)src.read(buf);
            return make_failure(error::corrupt_artifact, "not a tar");
        },
        64 * 1024);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::corrupt_artifact);
}

TEST_CASE("a failing producer is reported even if the consumer accepted a short stream", "[pipe]") {
    auto r = stream_between(
        [&](byte_sink& s) -> result<void> {
            MIGRATE_TRY(produce_bytes(s, 1000, 100));
            return make_failure(error::daemon_error, "save failed on host a");
        },
        [&](byte_source& src) -> result<void> {
            std::vector<std::byte> buf(4096);
            while (true) {
                auto n = src.read(buf);
                if (!n) return n.error();
                if (*n == 0) return {};
            }
        });
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "save failed on host a");
}
