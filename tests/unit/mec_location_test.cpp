// MEC013 Location client: the specs' example bodies parse (both flavours), bad documents are
// rejected naming the field, and the client's requests reach a loopback server as the spec
// says (method, path with the sandbox prefix, bearer token, body).
#include <migrate/mec/location.hpp>

#include "mec_test_server.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {
// ../shared/reference/etsi-mec/gs013-LocationAPI.yaml, /subscriptions/zonalTraffic POST,
// callbacks.notification requestBody `examples` (same in advantedge/meep-loc-serv-swagger.yaml).
// Note the example's `nanoseconds` and single-object `link`, where the schema says
// `nanoSeconds` and an array.
const char* zonal_presence_v2 = R"({
  "zonalPresenceNotification": {
    "clientCorrelator": "0123", "zoneId": "zone01", "address": "acr:10.0.0.1",
    "userEventType": "Transferring", "currentAccessPointId": "ap2", "previousAccessPointId": "ap1",
    "timestamp": {"seconds": 1483231138, "nanoseconds": 0},
    "link": {"rel": "ZonalTrafficSubscription",
             "href": "http://meAppServer.example.com/location/v2/subscriptions/zonalTraffic/sub123"}}})";

// Same file, /subscriptions/zonalTraffic POST requestBody and 201 response `examples`.
const char* zonal_sub_request_v2 = R"({"zonalTrafficSubscription": {"clientCorrelator": "0123",
  "callbackReference": {"notifyURL": "http://my.callback.com/location_notifications/some-id"},
  "zoneId": "zone01", "userEventCriteria": ["Transferring"]}})";
const char* zonal_sub_created_v2 = R"({"zonalTrafficSubscription": {"clientCorrelator": "0123",
  "callbackReference": {"notifyURL": "http://my.callback.com/location_notifications/some-id"},
  "zoneId": "zone01", "userEventCriteria": ["Transferring"],
  "resourceURL": "http://meAppServer.example.com/location/v2/subscriptions/zonalTraffic/sub123"}})";

// Same file, /subscriptions/userTracking POST requestBody `examples`.
const char* tracking_sub_request_v2 = R"({"userTrackingSubscription": {"clientCorrelator": "0123",
  "callbackReference": {"notifyURL": "http://my.callback.com/location_notifications/some-id"},
  "address": "acr:10.0.0.1", "userEventCriteria": ["Transferring"]}})";

zonal_traffic_subscription example_zonal_sub() {
    zonal_traffic_subscription s;
    s.client_correlator = "0123";
    s.callback_url = "http://my.callback.com/location_notifications/some-id";
    s.zone_id = "zone01";
    s.user_event_criteria = {user_event_type::transferring};
    return s;
}

}  // namespace

TEST_CASE("a v2 zonal presence notification from the spec's example parses, link object and nanoseconds included", "[mec][location]") {
    auto n = parse_zonal_presence_notification(json::parse(zonal_presence_v2));
    REQUIRE(n.has_value());
    CHECK(n->zone_id == "zone01");
    CHECK(n->address == "acr:10.0.0.1");
    CHECK(n->event == user_event_type::transferring);
    CHECK(n->current_access_point_id == "ap2");
    CHECK(n->previous_access_point_id == "ap1");
    CHECK(n->timestamp.seconds == 1483231138);
    CHECK(n->client_correlator == "0123");
    REQUIRE(n->links.size() == 1);
    CHECK(n->links[0] == "http://meAppServer.example.com/location/v2/subscriptions/zonalTraffic/sub123");
}

TEST_CASE("the v3 (unwrapped) notification parses to the same values as the v2 one", "[mec][location]") {
    json v2 = json::parse(zonal_presence_v2);
    json v3 = v2["zonalPresenceNotification"];
    v3["timestamp"] = {{"seconds", 1483231138}, {"nanoSeconds", 5}};
    v3["link"] = json::array({v3["link"]});
    v3["someFutureField"] = {{"x", 1}};   // unknown fields are tolerated
    auto n = parse_zonal_presence_notification(v3);
    REQUIRE(n.has_value());
    CHECK(n->current_access_point_id == "ap2");
    CHECK(n->timestamp.nanoseconds == 5);
    CHECK(n->links.size() == 1);
}

TEST_CASE("malformed notifications are rejected naming the field as a JSON pointer", "[mec][location]") {
    json j = json::parse(zonal_presence_v2);
    SECTION("wrong type") {
        j["zonalPresenceNotification"]["timestamp"]["seconds"] = "yesterday";
        auto n = parse_zonal_presence_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK(n.error_code() == error::protocol_error);
        CHECK_THAT(n.error().message, Catch::Contains("/zonalPresenceNotification/timestamp/seconds: expected integer, got string"));
    }
    SECTION("missing required field") {
        j["zonalPresenceNotification"].erase("currentAccessPointId");
        auto n = parse_zonal_presence_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/zonalPresenceNotification/currentAccessPointId: missing"));
    }
    SECTION("unknown enum value") {
        j["zonalPresenceNotification"]["userEventType"] = "Teleporting";
        auto n = parse_zonal_presence_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/zonalPresenceNotification/userEventType: 'Teleporting'"));
    }
    SECTION("not an object at all") {
        auto n = parse_zonal_presence_notification(json::array());
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/: expected object, got array"));
    }
}

TEST_CASE("subscription bodies are written wrapped in v2 and unwrapped in v3, as the spec's example", "[mec][location]") {
    CHECK(to_json(example_zonal_sub(), location_flavour::v2) == json::parse(zonal_sub_request_v2));
    CHECK(to_json(example_zonal_sub(), location_flavour::v3) == json::parse(zonal_sub_request_v2)["zonalTrafficSubscription"]);
    user_tracking_subscription t;
    t.client_correlator = "0123";
    t.callback_url = "http://my.callback.com/location_notifications/some-id";
    t.address = "acr:10.0.0.1";
    t.user_event_criteria = {user_event_type::transferring};
    CHECK(to_json(t, location_flavour::v2) == json::parse(tracking_sub_request_v2));
}

TEST_CASE("location client: zonal traffic subscribe and delete send the spec's requests with the token and sandbox prefix", "[mec][location]") {
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.method == "POST") return {201, zonal_sub_created_v2};
        return {204, ""};
    });
    location_client loc(options_for(srv));
    auto created = loc.subscribe_zonal_traffic(example_zonal_sub());
    REQUIRE(created.has_value());
    CHECK(created->resource_url == "http://meAppServer.example.com/location/v2/subscriptions/zonalTraffic/sub123");
    REQUIRE(loc.unsubscribe_zonal_traffic(created->resource_url).has_value());

    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[0].target == "/sbx1/location/v2/subscriptions/zonalTraffic");
    CHECK(reqs[0].headers["authorization"] == "Bearer t0k3n");
    CHECK(reqs[0].headers["content-type"] == "application/json");
    CHECK(json::parse(reqs[0].body) == json::parse(zonal_sub_request_v2));
    CHECK(reqs[1].method == "DELETE");
    CHECK(reqs[1].target == "/sbx1/location/v2/subscriptions/zonalTraffic/sub123");
    CHECK(reqs[1].body.empty());
}

TEST_CASE("location client v3: unwrapped bodies under location/v3, user tracking", "[mec][location]") {
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.method == "POST") {
            json b = json::parse(r.body);
            b["resourceURL"] = "http://x/location/v3/subscriptions/userTracking/ut7";
            return {201, b.dump()};
        }
        return {204, ""};
    });
    auto opts = options_for(srv);
    opts.sandbox.clear();
    location_client loc(opts, location_flavour::v3);
    user_tracking_subscription t;
    t.callback_url = "http://127.0.0.1:9/cb";
    t.address = "acr:10.100.0.4";
    auto created = loc.subscribe_user_tracking(t);
    REQUIRE(created.has_value());
    CHECK(created->address == "acr:10.100.0.4");
    REQUIRE(loc.unsubscribe_user_tracking("ut7").has_value());
    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].target == "/location/v3/subscriptions/userTracking");
    CHECK(json::parse(reqs[0].body) == json{{"callbackReference", {{"notifyURL", "http://127.0.0.1:9/cb"}}}, {"address", "acr:10.100.0.4"}});
    CHECK(reqs[1].target == "/location/v3/subscriptions/userTracking/ut7");
}

TEST_CASE("location client: users, zones and access points queries", "[mec][location]") {
    // Bodies shaped by the schemas UserList / ZoneList / AccessPointInfo of gs013 (the spec
    // has no examples for these queries); values from the Monaco scenario.
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.target.starts_with("/sbx1/location/v2/queries/users"))
            return {200, R"({"userList": {"resourceURL": "u", "user": [
                {"address": "acr:10.100.0.4", "accessPointId": "4g-macro-cell-2", "zoneId": "zone01",
                 "resourceURL": "u/1", "timestamp": {"seconds": 1, "nanoSeconds": 2},
                 "locationInfo": {"latitude": [43.73], "longitude": [7.42], "shape": 2}}]}})"};
        if (r.target == "/sbx1/location/v2/queries/zones")
            return {200, R"({"zoneList": {"resourceURL": "z", "zone": [{"zoneId": "zone01", "numberOfAccessPoints": 3,
                "numberOfUnserviceableAccessPoints": 0, "numberOfUsers": 2, "resourceURL": "z/1"}]}})"};
        if (r.target == "/sbx1/location/v2/queries/zones/zone01/accessPoints/wifi-ap-1")
            return {200, R"({"accessPointInfo": {"accessPointId": "wifi-ap-1", "connectionType": "Wifi",
                "operationStatus": "Serviceable", "numberOfUsers": 1, "resourceURL": "a/1"}})"};
        return {404, R"({"problemDetails": {"status": 404, "detail": "zone 'nowhere' not found"}})"};
    });
    location_client loc(options_for(srv));
    auto u = loc.user("acr:10.100.0.4");
    REQUIRE(u.has_value());
    CHECK(u->zone_id == "zone01");
    CHECK(u->access_point_id == "4g-macro-cell-2");
    CHECK(u->latitude.value_or(0) == Approx(43.73));
    auto zs = loc.zones();
    REQUIRE(zs.has_value());
    REQUIRE(zs->size() == 1);
    CHECK((*zs)[0].number_of_access_points == 3);
    auto ap = loc.access_point("zone01", "wifi-ap-1");
    REQUIRE(ap.has_value());
    CHECK(ap->connection_type == "Wifi");
    CHECK(srv.requests()[0].target == "/sbx1/location/v2/queries/users?address=acr:10.100.0.4");

    auto missing = loc.access_points("nowhere");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error_code() == error::not_found);
    CHECK_THAT(missing.error().message, Catch::Contains("GET " + srv.base_url() + "/sbx1/location/v2/queries/zones/nowhere/accessPoints: HTTP 404: zone 'nowhere' not found"));
}

TEST_CASE("location client: a malformed reply names the request and the field", "[mec][location]") {
    mec_test_server srv([](const recorded_request&) -> canned_reply {
        return {200, R"({"zoneList": {"resourceURL": "z", "zone": [{"zoneId": 7}]}})"};
    });
    location_client loc(options_for(srv));
    auto zs = loc.zones();
    REQUIRE_FALSE(zs.has_value());
    CHECK(zs.error_code() == error::protocol_error);
    CHECK_THAT(zs.error().message, Catch::Contains("/sbx1/location/v2/queries/zones: /zoneList/zone/0/zoneId: expected string, got number"));
}

TEST_CASE("client options reject a base URL that is not http(s) or ends with a slash", "[mec]") {
    client_options o;
    o.base_url = "ftp://x";
    CHECK_THAT(o.validate().error().message, Catch::Contains("client_options.base_url"));
    o.base_url = "http://x/";
    CHECK_FALSE(o.validate().has_value());
    o.base_url = "https://try-mec.etsi.org";
    o.sandbox = "sbx1/mep1";   // the ETSI MEC Sandbox's two segments
    CHECK(o.validate().has_value());
    for (const char* bad : {"/sbx1", "sbx1/", "sbx1//mep1", "sbx 1"}) {
        o.sandbox = bad;
        CHECK_THAT(o.validate().error().message, Catch::Contains("client_options.sandbox"));
    }
}
