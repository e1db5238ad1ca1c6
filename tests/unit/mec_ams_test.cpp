// MEC021 AMS client: notification and registration bodies parse (the specs give no full
// example bodies for these, so they are written field by field from the schemas named at
// each), bad documents are rejected naming the field, and the client's requests reach a
// loopback server as the spec says.
#include <migrate/mec/ams.hpp>

#include "mec_test_server.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {
// advantedge/meep-ams-swagger.yaml components.schemas.MobilityProcedureNotification (+
// CommunicationInterface, AssociateId, TimeStamp, Link): what AdvantEDGE sends the source
// instance when its device moves to another MEC host (demo3's sequence).
const char* moveout_triggered = R"({
  "notificationType": "MobilityProcedureNotification",
  "timeStamp": {"seconds": 1673525362, "nanoSeconds": 0},
  "associateId": [{"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}],
  "mobilityStatus": "INTERHOST_MOVEOUT_TRIGGERED",
  "targetAppInfo": {"appInstanceId": "demo3-instance-mep2",
                    "commInterface": {"ipAddresses": [{"host": "10.200.0.2", "port": 31112}]}},
  "_links": {"subscription": {"href": "http://mep1/amsi/v1/subscriptions/sub-7"}}})";

// etsi-mec/gs021 RegistrationInfo (+ RegistrationInfo.deviceInformation, serviceConsumerId).
const char* registration_reply = R"({
  "appMobilityServiceId": "ams-42",
  "serviceConsumerId": {"appInstanceId": "demo3-instance-mep1"},
  "deviceInformation": [{"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
                         "appMobilityServiceLevel": "APP_MOBILITY_WITH_CONFIRMATION",
                         "contextTransferState": "NOT_TRANSFERRED"}],
  "expiryTime": 0, "vendorExtension": {"tolerated": true}})";

}  // namespace

TEST_CASE("an INTERHOST_MOVEOUT_TRIGGERED notification names the target instance and its endpoint", "[mec][ams]") {
    auto n = parse_mobility_procedure_notification(json::parse(moveout_triggered));
    REQUIRE(n.has_value());
    CHECK(n->status == mobility_status::interhost_moveout_triggered);
    REQUIRE(n->devices.size() == 1);
    CHECK(n->devices[0] == associate_id{"UE_IPv4_ADDRESS", "10.100.0.1"});
    REQUIRE(n->target.has_value());
    CHECK(n->target->app_instance_id == "demo3-instance-mep2");
    REQUIRE(n->target->endpoints.size() == 1);
    CHECK(n->target->endpoints[0].host == "10.200.0.2");
    CHECK(n->target->endpoints[0].port == 31112);
    CHECK(n->subscription_url == "http://mep1/amsi/v1/subscriptions/sub-7");
    CHECK(n->timestamp->seconds == 1673525362);
}

TEST_CASE("the other mobility statuses parse, and a notification without targetAppInfo has none", "[mec][ams]") {
    json j = json::parse(moveout_triggered);
    j["mobilityStatus"] = "INTERHOST_MOVEOUT_COMPLETED";
    j.erase("targetAppInfo");
    auto n = parse_mobility_procedure_notification(j);
    REQUIRE(n.has_value());
    CHECK(n->status == mobility_status::interhost_moveout_completed);
    CHECK_FALSE(n->target.has_value());
}

TEST_CASE("malformed AMS notifications are rejected naming the field", "[mec][ams]") {
    json j = json::parse(moveout_triggered);
    SECTION("unknown status") {
        j["mobilityStatus"] = "INTERHOST_MOVEOUT_MAYBE";
        auto n = parse_mobility_procedure_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK(n.error_code() == error::protocol_error);
        CHECK_THAT(n.error().message, Catch::Contains("/mobilityStatus: 'INTERHOST_MOVEOUT_MAYBE' is not one of INTERHOST_MOVEOUT_TRIGGERED"));
    }
    SECTION("port is text") {
        j["targetAppInfo"]["commInterface"]["ipAddresses"][0]["port"] = "31112";
        auto n = parse_mobility_procedure_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/targetAppInfo/commInterface/ipAddresses/0/port: expected integer, got string"));
    }
    SECTION("another notification type") {
        j["notificationType"] = "AdjacentAppInfoNotification";
        auto n = parse_mobility_procedure_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/notificationType: 'AdjacentAppInfoNotification', expected 'MobilityProcedureNotification'"));
    }
    SECTION("target without its instance id") {
        j["targetAppInfo"].erase("appInstanceId");
        auto n = parse_mobility_procedure_notification(j);
        REQUIRE_FALSE(n.has_value());
        CHECK_THAT(n.error().message, Catch::Contains("/targetAppInfo/appInstanceId: missing"));
    }
}

TEST_CASE("an adjacent app info notification lists the adjacent instances", "[mec][ams]") {
    // advantedge/meep-ams-swagger.yaml AdjacentAppInfoNotification (+ ...AdjacentAppInfo).
    auto n = parse_adjacent_app_info_notification(json::parse(R"({
      "notificationType": "AdjacentAppInfoNotification",
      "associateId": [{"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}],
      "adjacentAppInfo": [{"appInstanceId": "i2", "commInterface": [{"ipAddresses": [{"host": "h2", "port": 80}]}]}],
      "_links": {"subscription": {"href": "http://mep1/amsi/v1/subscriptions/sub-8"}}})"));
    REQUIRE(n.has_value());
    REQUIRE(n->adjacent.size() == 1);
    CHECK(n->adjacent[0].app_instance_id == "i2");
    CHECK(n->adjacent[0].endpoints[0].host == "h2");
}

TEST_CASE("ams client: register, mark the context transferred, subscribe and unsubscribe", "[mec][ams]") {
    json stored = json::parse(registration_reply);
    mec_test_server srv([&](const recorded_request& r) -> canned_reply {
        if (r.method == "POST" && r.target == "/sbx1/amsi/v1/app_mobility_services") return {201, stored.dump()};
        if (r.method == "GET" && r.target == "/sbx1/amsi/v1/app_mobility_services/ams-42") return {200, stored.dump()};
        if (r.method == "PUT" && r.target == "/sbx1/amsi/v1/app_mobility_services/ams-42") {
            stored = json::parse(r.body);
            return {200, stored.dump()};
        }
        if (r.method == "POST" && r.target == "/sbx1/amsi/v1/subscriptions") {
            json b = json::parse(r.body);
            b["_links"] = {{"self", {{"href", "http://mep1/amsi/v1/subscriptions/sub-7"}}}};
            return {201, b.dump()};
        }
        if (r.method == "DELETE" && r.target == "/sbx1/amsi/v1/subscriptions/sub-7") return {204, ""};
        return {404, R"({"title": "Not Found", "detail": "no such route"})"};
    });
    ams_client ams(options_for(srv));

    registration_info reg;
    reg.app_instance_id = "demo3-instance-mep1";
    reg.devices.push_back({{"UE_IPv4_ADDRESS", "10.100.0.1"}, app_mobility_service_level::with_confirmation,
                           context_transfer_state::not_transferred});
    auto created = ams.register_app(reg);
    REQUIRE(created.has_value());
    CHECK(created->app_mobility_service_id == "ams-42");

    auto updated = ams.set_context_transfer_state("ams-42", {"UE_IPv4_ADDRESS", "10.100.0.1"},
                                                  context_transfer_state::user_context_transfer_completed);
    REQUIRE(updated.has_value());
    REQUIRE(updated->devices.size() == 1);
    CHECK(updated->devices[0].transfer_state == context_transfer_state::user_context_transfer_completed);

    mobility_procedure_subscription sub;
    sub.callback_url = "http://10.0.0.9:8080/ams";
    sub.app_instance_id = "demo3-instance-mep1";
    sub.devices = {{"UE_IPv4_ADDRESS", "10.100.0.1"}};
    auto s = ams.subscribe_mobility_procedure(sub);
    REQUIRE(s.has_value());
    CHECK(s->self_url == "http://mep1/amsi/v1/subscriptions/sub-7");
    REQUIRE(ams.unsubscribe(s->self_url).has_value());

    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 5);
    for (auto& r : reqs) CHECK(r.headers["authorization"] == "Bearer t0k3n");
    CHECK(json::parse(reqs[0].body) == json::parse(R"({"serviceConsumerId": {"appInstanceId": "demo3-instance-mep1"},
      "deviceInformation": [{"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
        "appMobilityServiceLevel": "APP_MOBILITY_WITH_CONFIRMATION", "contextTransferState": "NOT_TRANSFERRED"}]})"));
    CHECK(reqs[1].method == "GET");
    CHECK(reqs[2].method == "PUT");
    json put = json::parse(reqs[2].body);
    CHECK(put["appMobilityServiceId"] == "ams-42");
    CHECK(put["deviceInformation"][0]["contextTransferState"] == "USER_CONTEXT_TRANSFER_COMPLETED");
    CHECK(json::parse(reqs[3].body) == json::parse(R"({"subscriptionType": "MobilityProcedureSubscription",
      "callbackReference": "http://10.0.0.9:8080/ams",
      "filterCriteria": {"appInstanceId": "demo3-instance-mep1",
                         "associateId": [{"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}]}})"));
    CHECK(reqs[4].method == "DELETE");

    auto missing = ams.registration("nope");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error_code() == error::not_found);
    CHECK_THAT(missing.error().message, Catch::EndsWith("/sbx1/amsi/v1/app_mobility_services/nope: HTTP 404: no such route"));
}

TEST_CASE("a registration reply parses with unknown fields and names a bad enum", "[mec][ams]") {
    auto r = parse_registration_info(json::parse(registration_reply));
    REQUIRE(r.has_value());
    CHECK(r->devices[0].service_level == app_mobility_service_level::with_confirmation);
    json bad = json::parse(registration_reply);
    bad["deviceInformation"][0]["contextTransferState"] = "HALF_DONE";
    auto b = parse_registration_info(bad);
    REQUIRE_FALSE(b.has_value());
    CHECK_THAT(b.error().message, Catch::Contains("/deviceInformation/0/contextTransferState: 'HALF_DONE'"));
}
