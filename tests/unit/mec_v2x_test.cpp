// MEC030 V2X predicted QoS client: the request in both flavours' shapes (the spec's
// `routeinfo` under vis/v1, AdvantEDGE's `routeInfo` under vis/v2), answers read in either
// spelling, malformed answers named by JSON pointer, bad requests refused before sending.
#include <migrate/mec/v2x.hpp>
#include "mec_test_server.hpp"
#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {

/// Two points of a Monaco route (the sandbox scenario's vehicle path), 30 s apart.
predicted_qos monaco_route() {
    predicted_qos q;
    q.location_granularity = "50";
    q.time_granularity = time_stamp{30, 0};
    route_point a, b;
    a.latitude = 43.7335;
    a.longitude = 7.4190;
    a.time = time_stamp{1700000000, 0};
    b.latitude = 43.7370;
    b.longitude = 7.4221;
    b.cell = ecgi{"2345678", "001", "01"};
    b.time = time_stamp{1700000030, 0};
    q.routes = {{a, b}};
    return q;
}

/// The platform: answers the request with an rsrp/rsrq per point, in `key`'s spelling.
canned_reply predict(const recorded_request& r, const char* key) {
    json req = json::parse(r.body);
    json out = req;
    for (auto& route : out["routes"]) {
        json points = route.contains("routeinfo") ? route["routeinfo"] : route["routeInfo"];
        int i = 0;
        for (auto& p : points) {
            p["rsrp"] = 60 - 20 * i;
            p["rsrq"] = 20 - 8 * i++;
        }
        route = json{{key, points}};
    }
    return {200, out.dump()};
}

}  // namespace

TEST_CASE("v2x client: predicted QoS in the spec's shape under vis/v1, the answer per point", "[mec][v2x]") {
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.method == "POST" && r.target == "/sbx1/vis/v1/provide_predicted_qos") return predict(r, "routeinfo");
        return {404, ""};
    });
    v2x_client vis(options_for(srv));
    auto q = vis.provide_predicted_qos(monaco_route());
    INFO((q ? std::string() : q.error().what()));
    REQUIRE(q.has_value());
    REQUIRE(q->routes.size() == 1);
    REQUIRE(q->routes[0].size() == 2);
    CHECK(q->routes[0][0].rsrp == 60);
    CHECK(q->routes[0][1].rsrp == 40);
    CHECK(q->routes[0][1].rsrq == 12);
    CHECK(q->routes[0][1].cell == ecgi{"2345678", "001", "01"});
    CHECK(q->routes[0][0].latitude == Approx(43.7335));
    CHECK(q->routes[0][1].time->seconds == 1700000030);
    CHECK(q->location_granularity == "50");

    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].headers["authorization"] == "Bearer t0k3n");
    json body = json::parse(reqs[0].body);
    CHECK(body["locationGranularity"] == "50");
    CHECK(body["timeGranularity"] == json{{"seconds", 30}, {"nanoSeconds", 0}});
    REQUIRE(body["routes"][0].contains("routeinfo"));
    json p0 = body["routes"][0]["routeinfo"][0];
    CHECK(p0["location"]["geoArea"] == json{{"latitude", 43.7335}, {"longitude", 7.4190}});
    CHECK_FALSE(p0.contains("rsrp"));   // answer-only fields are not sent
    // MEC030's Ecgi wraps the cell id in a CellId object (MEC012's does not).
    CHECK(body["routes"][0]["routeinfo"][1]["location"]["ecgi"] ==
          json{{"cellId", {{"cellId", "2345678"}}}, {"plmn", {{"mcc", "001"}, {"mnc", "01"}}}});
}

TEST_CASE("v2x client: AdvantEDGE's vis/v2 and routeInfo", "[mec][v2x]") {
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.method == "POST" && r.target == "/sbx1/vis/v2/provide_predicted_qos") return predict(r, "routeInfo");
        return {404, ""};
    });
    v2x_client vis(options_for(srv), v2x_flavour::advantedge);
    auto q = vis.provide_predicted_qos(monaco_route());
    REQUIRE(q.has_value());
    CHECK(q->routes[0][0].rsrq == 20);
    CHECK(json::parse(srv.requests()[0].body)["routes"][0].contains("routeInfo"));
}

TEST_CASE("v2x: malformed answers are named by JSON pointer; bad requests are refused before sending", "[mec][v2x]") {
    auto bad = parse_predicted_qos(json::parse(R"({"locationGranularity": "30",
        "routes": [{"routeinfo": [{"location": {"geoArea": {"latitude": 43.7}}, "rsrp": 50}]}]})"));
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error_code() == error::protocol_error);
    CHECK_THAT(bad.error().message, Catch::Contains("/routes/0/routeinfo/0/location/geoArea/longitude"));
    auto no_routes = parse_predicted_qos(json{{"locationGranularity", "30"}});
    CHECK_THAT(no_routes.error().message, Catch::Contains("/routes"));
    // An answer with the cell id as a plain string (MEC012's way) is read too.
    auto plain = parse_predicted_qos(json::parse(R"({"locationGranularity": "30", "routes": [{"routeinfo": [
        {"location": {"ecgi": {"cellId": "77", "plmn": {"mcc": "001", "mnc": "01"}}}},
        {"location": {"ecgi": {"cellId": {"cellId": "78"}, "plmn": {"mcc": "001", "mnc": "01"}}}}]}]})"));
    REQUIRE(plain.has_value());
    CHECK(plain->routes[0][0].cell->cell_id == "77");
    CHECK(plain->routes[0][1].cell->cell_id == "78");
    auto no_points = parse_predicted_qos(json::parse(R"({"locationGranularity": "30", "routes": [{}]})"));
    CHECK_THAT(no_points.error().message, Catch::Contains("/routes/0/routeinfo"));

    mec_test_server srv([](const recorded_request&) -> canned_reply { return {500, ""}; });
    v2x_client vis(options_for(srv));
    auto q = monaco_route();
    q.routes[0][1].rsrp = 40;
    CHECK_THAT(vis.provide_predicted_qos(q).error().message, Catch::Contains("routes[0][1]"));
    q = monaco_route();
    q.routes[0][0].latitude = 123.0;
    CHECK_THAT(vis.provide_predicted_qos(q).error().message, Catch::Contains("routes[0][0].latitude"));
    q = monaco_route();
    q.routes.push_back({q.routes[0][0]});   // origin only: the spec wants 2..N points
    CHECK_THAT(vis.provide_predicted_qos(q).error().message, Catch::Contains("routes[1]"));
    CHECK(srv.requests().empty());
    // A platform without MEC030 (404 on the route): not_found naming the URL.
    auto refused = vis.provide_predicted_qos(monaco_route());
    REQUIRE_FALSE(refused.has_value());
    CHECK_THAT(refused.error().message, Catch::Contains("/vis/v1/provide_predicted_qos"));
}
