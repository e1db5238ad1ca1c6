// The redis state store against a real redis-server started by the test (no testbed
// needed): the conformance suite, the data layout other redis clients see, prefixes kept
// apart, a server that is down, and a server killed and restarted under a live store.
#include "../store_conformance.hpp"
#include "../store_servers.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/store/redis.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

using namespace migrate;
using namespace std::chrono_literals;

namespace {
std::unique_ptr<state_store> open_redis(const std::string& address, const std::string& prefix) {
    auto s = open_state_store(fmt::format("redis://{}/{}", address, prefix));
    REQUIRE_OK(s);
    return std::move(*s);
}

std::string redis_cli(std::uint16_t port, std::vector<std::string> args) {
    std::vector<std::string> argv{"redis-cli", "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = detail::run_checked(argv);
    REQUIRE_OK(r);
    return *r;
}
}  // namespace

TEST_CASE("redis state store: conformance", "[state_store][redis]") {
    auto& server = test::shared_redis_server();
    static int n = 0;
    test::check_state_store_conformance([&] { return open_redis(server.address(), fmt::format("conf-{}/", n++)); });
}

TEST_CASE("redis state store: each key is a hash of value and version under the prefix", "[state_store][redis]") {
    auto& server = test::shared_redis_server();
    auto s = open_redis(server.address(), "layout/");
    CHECK(s->location() == fmt::format("redis://{}/layout/", server.address()));
    auto v = s->put("twin/1", "state");
    REQUIRE_OK(v);
    CHECK(redis_cli(server.port(), {"HGET", "layout/twin/1", "v"}) == "state\n");
    CHECK(redis_cli(server.port(), {"HGET", "layout/twin/1", "ver"}) == fmt::format("{}\n", *v));
    // A value changed behind the store's back is what the store reads (no cache).
    redis_cli(server.port(), {"HSET", "layout/twin/1", "v", "edited"});
    CHECK(s->get("twin/1")->value().value == "edited");
}

TEST_CASE("redis state store: stores with different prefixes do not see each other", "[state_store][redis]") {
    auto& server = test::shared_redis_server();
    auto a = open_redis(server.address(), "iso-a/");
    auto b = open_redis(server.address(), "iso-b/");
    test::event_recorder rec;
    auto w = b->watch("", rec.callback());
    REQUIRE_OK(w);
    REQUIRE_OK(a->put("k", "a"));
    CHECK_FALSE(b->get("k")->has_value());
    CHECK(b->list("")->empty());
    REQUIRE_OK(b->put("k", "b"));
    auto events = rec.wait_for(1);
    std::this_thread::sleep_for(200ms);
    events = rec.events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].entry.value == "b");
    CHECK(a->get("k")->value().value == "a");
}

TEST_CASE("redis state store: a server that is down is daemon_unreachable naming its address", "[state_store][redis]") {
    auto port = test::free_port();
    auto address = fmt::format("127.0.0.1:{}", port);
    auto r = open_state_store(fmt::format("redis://{}/x/", address), 500ms);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::daemon_unreachable);
    CHECK_THAT(r.error().message, Catch::Contains(address));

    test::redis_server server;
    auto s = open_redis(server.address(), "down/");
    REQUIRE_OK(s->put("k", "v"));
    server.stop();
    auto p = s->put("k", "w");
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::daemon_unreachable);
    CHECK_THAT(p.error().message, Catch::Contains(server.address()));
    CHECK(s->get("k").error_code() == error::daemon_unreachable);
}

TEST_CASE("redis state store: a killed and restarted server is reconnected to, watches too", "[state_store][redis]") {
    test::redis_server server;
    auto s = open_redis(server.address(), "restart/");
    test::event_recorder rec;
    auto w = s->watch("", rec.callback());
    REQUIRE_OK(w);
    REQUIRE_OK(s->put("before", "1"));
    REQUIRE(rec.wait_for(1).size() == 1);

    server.stop(/*hard=*/true);
    server.start();   // same port, empty (no persistence)
    // The pooled connection is dead; the store notices before using it.
    auto v = s->put("after", "2");
    REQUIRE_OK(v);
    CHECK(s->get("after")->value().value == "2");
    CHECK_FALSE(s->get("before")->has_value());
    // The watch reconnects and catches up with what was written while it was away.
    auto events = rec.wait_for(2, 10s);
    REQUIRE(events.size() >= 2);
    CHECK(events[1].entry.key == "after");
    CHECK(events[1].entry.value == "2");
    REQUIRE_OK(s->put("later", "3"));
    events = rec.wait_for(3, 10s);
    REQUIRE(events.size() == 3);
    CHECK(events[2].entry.key == "later");
}
