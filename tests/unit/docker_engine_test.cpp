// engine options and the failures that need no daemon.
#include <migrate/docker/engine.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <unistd.h>

using namespace migrate;
using namespace migrate::docker;

TEST_CASE("engine_options: defaults are valid and round-trip through JSON", "[docker][options]") {
    engine_options o;
    REQUIRE(o.validate());
    o.socket = "/run/migrate-testbed/mci/a/docker.sock";
    o.connect_timeout = std::chrono::milliseconds{750};
    o.chunk_size = 1 << 20;
    auto back = parse_options<engine_options>(json(o));
    REQUIRE(back);
    CHECK(back->socket == o.socket);
    CHECK(back->api_version == "v1.41");
    CHECK(back->connect_timeout.count() == 750);
    CHECK(back->request_timeout == o.request_timeout);
    CHECK(back->stall_timeout == o.stall_timeout);
    CHECK(back->chunk_size == (1u << 20));
    CHECK(json(*back) == json(o));
}

TEST_CASE("engine_options: validate and from_json name the bad field", "[docker][options]") {
    auto fails_on = [](json j, const char* field) {
        auto r = parse_options<engine_options>(j);
        REQUIRE_FALSE(r);
        CHECK(r.error_code() == error::invalid_argument);
        CHECK_THAT(r.error().message, Catch::Contains(field));
    };
    fails_on({{"socket", "relative.sock"}}, "engine_options.socket");
    fails_on({{"socket", ""}}, "engine_options.socket");
    fails_on({{"api_version", "1.41"}}, "engine_options.api_version");
    fails_on({{"connect_timeout_ms", 0}}, "engine_options.connect_timeout_ms");
    fails_on({{"request_timeout_ms", -5}}, "engine_options.request_timeout_ms");
    fails_on({{"stall_timeout_ms", 10}}, "engine_options.stall_timeout_ms");
    fails_on({{"chunk_size", 100}}, "engine_options.chunk_size");
    fails_on({{"chunk_size", "big"}}, "engine_options.chunk_size");   // wrong type
    fails_on({{"helper_image", ""}}, "engine_options.helper_image");
}

TEST_CASE("engine construction refuses invalid options", "[docker][options]") {
    CHECK_THROWS_AS(engine(engine_options{.socket = "x.sock"}), migration_error);
    auto r = engine::make({.chunk_size = 1});
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("chunk_size"));
}

TEST_CASE("an unreachable socket gives daemon_unreachable naming the path", "[docker]") {
    engine e({.socket = "/run/migrate-no-such-dockerd.sock", .connect_timeout = std::chrono::milliseconds{500}});
    CHECK(e.endpoint() == "unix:///run/migrate-no-such-dockerd.sock");
    auto p = e.ping();
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::daemon_unreachable);
    CHECK(p.error_code() == condition::unavailable);
    CHECK_THAT(p.error().message, Catch::Contains("/run/migrate-no-such-dockerd.sock"));
    auto i = e.inspect("web");
    REQUIRE_FALSE(i);
    CHECK(i.error_code() == error::daemon_unreachable);
    null_sink sink;
    CHECK(e.export_container("web", sink).error_code() == error::daemon_unreachable);
}

TEST_CASE("a socket file nobody listens on is daemon_unreachable too", "[docker]") {
    // A stale socket path left by a dead dockerd: a regular file stands in for it.
    auto path = std::filesystem::temp_directory_path() / ("migrate-stale-" + std::to_string(::getpid()) + ".sock");
    { auto s = file_sink(path); REQUIRE(s->close()); }
    engine e({.socket = path});
    auto p = e.ping();
    std::filesystem::remove(path);
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::daemon_unreachable);
    CHECK_THAT(p.error().message, Catch::Contains(path.string()));
}

TEST_CASE("garbage given to import/load is refused before any connection", "[docker]") {
    // The daemon does not exist: a corrupt_artifact answer proves the check came first.
    engine e({.socket = "/run/migrate-no-such-dockerd.sock"});
    struct text_source final : byte_source {
        std::string s = "this is not a tar archive, just text\n";
        std::size_t pos = 0;
        result<std::size_t> read(std::span<std::byte> b) override {
            auto n = std::min(b.size(), s.size() - pos);
            std::memcpy(b.data(), s.data() + pos, n);
            pos += n;
            return n;
        }
    };
    text_source a, b;
    auto i = e.import_image(a, "junk:1");
    REQUIRE_FALSE(i);
    CHECK(i.error_code() == error::corrupt_artifact);
    CHECK_THAT(i.error().message, Catch::Contains("import_image('junk:1')") && Catch::Contains("not a tar"));
    auto l = e.load_images(b);
    REQUIRE_FALSE(l);
    CHECK(l.error_code() == error::corrupt_artifact);
    CHECK_THAT(l.error().message, Catch::Contains("load_images"));
}
