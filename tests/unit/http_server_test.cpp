// The SDK's embedded HTTP server (migrate/net/http_server.hpp) on loopback: routing with
// path parameters, query decoding, ProblemDetails errors, port 0, shutdown.
#include "../require_ok.hpp"
#include "beast_client.hpp"

#include <migrate/net/http_server.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <atomic>
#include <thread>

using namespace migrate;
using namespace migrate::net;

TEST_CASE("http_router::match: literal and {param} segments, trailing slash", "[net][http_server]") {
    auto m = http_router::match("/location/v2/queries/zones/{zoneId}/accessPoints/{accessPointId}",
                                "/location/v2/queries/zones/zone01/accessPoints/4g-macro-cell-1");
    REQUIRE(m);
    CHECK(m->at("zoneId") == "zone01");
    CHECK(m->at("accessPointId") == "4g-macro-cell-1");
    CHECK(http_router::match("/a/b", "/a/b/"));
    CHECK_FALSE(http_router::match("/a/{x}", "/a"));
    CHECK_FALSE(http_router::match("/a/{x}", "/a/b/c"));
    CHECK_FALSE(http_router::match("/a/b", "/a/c"));
}

TEST_CASE("http_router::add: a malformed pattern is refused naming it", "[net][http_server]") {
    http_router r;
    auto h = [](const http_request&) { return http_response::no_content(); };
    auto bad = r.add("GET", "/zones/x{id}", h);
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("/zones/x{id}"));
    CHECK_FALSE(r.add("GET", "zones", h));
    CHECK_FALSE(r.add("GET", "/zones", nullptr));
    CHECK(r.add("GET", "/zones/{id}", h));
}

TEST_CASE("percent_decode: escapes, '+' only in queries, broken escapes kept", "[net][http_server]") {
    CHECK(percent_decode("acr%3A10.0.0.1") == "acr:10.0.0.1");
    CHECK(percent_decode("a+b") == "a+b");
    CHECK(percent_decode("a+b", true) == "a b");
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%zz%4") == "%zz%4");
}

TEST_CASE("http_server_options::validate names the field", "[net][http_server]") {
    http_server_options o;
    REQUIRE_OK(o.validate());
    o.address = "localhost";
    CHECK_THAT(o.validate().error().message, Catch::Contains("http_server_options.address"));
    o.address = "127.0.0.1";
    o.threads = 0;
    CHECK_THAT(o.validate().error().message, Catch::Contains("http_server_options.threads"));
}

TEST_CASE("http_server on loopback: routes, params, query, JSON, errors as ProblemDetails", "[net][http_server]") {
    std::atomic<int> posts{0};
    http_router router;
    router.route("GET", "/location/v2/queries/users", [](const http_request& r) {
              return http_response::ok(json{{"address", r.query_values("address")}, {"peer_known", !r.peer.empty()}});
          })
        .route("GET", "/location/v2/queries/zones/{zoneId}", [](const http_request& r) {
            return http_response::ok(json{{"zoneId", r.param("zoneId")}});
        })
        .route("POST", "/location/v2/subscriptions/zonalTraffic", [&](const http_request& r) {
            auto body = r.json_body();
            if (!body) return http_response::problem(400, body.error().message, r.path);
            ++posts;
            return http_response::created(*body, "/location/v2/subscriptions/zonalTraffic/sub1");
        })
        .route("DELETE", "/location/v2/subscriptions/zonalTraffic/{id}",
               [](const http_request&) { return http_response::no_content(); })
        .route("GET", "/throw", [](const http_request&) -> http_response { throw std::runtime_error("handler broke"); });

    auto server = http_server::start({}, router);
    REQUIRE_OK(server);
    auto port = (*server)->port();
    REQUIRE(port != 0);
    CHECK((*server)->url() == fmt::format("http://127.0.0.1:{}", port));

    auto users = test::beast_exchange(port, "GET", "/location/v2/queries/users?address=acr%3A10.0.0.1&address=acr:10.0.0.2,acr:10.0.0.3");
    REQUIRE(users.status == 200);
    CHECK(users.content_type == "application/json");
    auto uj = json::parse(users.body);
    CHECK(uj["address"] == json::array({"acr:10.0.0.1", "acr:10.0.0.2", "acr:10.0.0.3"}));
    CHECK(uj["peer_known"] == true);

    auto zone = test::beast_exchange(port, "GET", "/location/v2/queries/zones/zone%2001");
    REQUIRE(zone.status == 200);
    CHECK(json::parse(zone.body)["zoneId"] == "zone 01");

    auto created = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", R"({"a":1})");
    CHECK(created.status == 201);
    CHECK(created.location == "/location/v2/subscriptions/zonalTraffic/sub1");
    CHECK(json::parse(created.body)["a"] == 1);
    CHECK(posts == 1);

    auto broken = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", "{not json");
    CHECK(broken.status == 400);
    CHECK(broken.content_type == "application/problem+json");
    CHECK(json::parse(broken.body)["status"] == 400);

    CHECK(test::beast_exchange(port, "DELETE", "/location/v2/subscriptions/zonalTraffic/sub1").status == 204);

    auto missing = test::beast_exchange(port, "GET", "/location/v2/nothing");
    CHECK(missing.status == 404);
    CHECK(missing.content_type == "application/problem+json");
    // The ProblemDetails instance is an absolute URI (the ETSI specs), built from the Host.
    auto instance = json::parse(missing.body)["instance"].get<std::string>();
    CHECK(instance.rfind("http://", 0) == 0);
    CHECK(instance.ends_with("/location/v2/nothing"));

    auto wrong = test::beast_exchange(port, "PUT", "/location/v2/queries/users");
    CHECK(wrong.status == 405);
    CHECK(wrong.allow == "GET");

    auto thrown = test::beast_exchange(port, "GET", "/throw");
    REQUIRE(thrown.status == 500);
    auto pj = json::parse(thrown.body);
    CHECK(pj["status"] == 500);
    CHECK(pj["title"] == "Internal Server Error");
    CHECK_THAT(pj["detail"].get<std::string>(), Catch::Contains("handler broke"));
    // The server survives its handler's exception.
    CHECK(test::beast_exchange(port, "GET", "/location/v2/queries/zones/z").status == 200);

    (*server)->stop();
    (*server)->stop();   // idempotent
    auto after = test::beast_exchange(port, "GET", "/location/v2/queries/zones/z");
    CHECK(after.status == 0);
}

TEST_CASE("http_server: a busy port is an io_error naming the address", "[net][http_server]") {
    auto first = http_server::start({}, [](const http_request&) { return http_response::no_content(); });
    REQUIRE_OK(first);
    http_server_options o;
    o.port = (*first)->port();
    auto second = http_server::start(o, [](const http_request&) { return http_response::no_content(); });
    REQUIRE_FALSE(second);
    CHECK(second.error_code() == error::io_error);
    CHECK_THAT(second.error().message, Catch::Contains(fmt::format("127.0.0.1:{}", o.port)));
}
