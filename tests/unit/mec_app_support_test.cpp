// MEC011 app support client: the specs' example bodies parse (both flavours where they
// differ), bad documents are rejected naming the field, the requests reach a loopback server
// as the spec says, and a platform answering 501 to traffic rules (AdvantEDGE) gives a clear
// `unsupported`.
#include <migrate/mec/app_support.hpp>

#include "mec_test_server.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {
// etsi-mec/gs011-MecAppSupportApi.yaml, /applications/{appInstanceId}/traffic_rules/{trafficRuleId}
// GET 200 `examples.TrafficRule`.
const char* traffic_rule_example = R"({"trafficRuleId": "TrafficRule123", "serName": "ExampleService",
  "filterType": "FLOW", "priority": 1,
  "trafficFilter": [{"srcAddress": ["192.168.2.0/24", "192.168.3.0/24"], "dstAddress": ["192.127.4.100/32"], "dstPort": ["80"]}],
  "action": "FORWARD_DECAPSULATED", "dstInterface": {"interfaceType": "IP", "dstIpAddress": "20.1.1.1"},
  "state": "ACTIVE"})";

// etsi-mec/gs011-MecServiceMgmtApi.yaml, /services GET 200 `examples` (the first list).
const char* service_list_example = R"([{"serInstanceId": "ServiceInstance123", "serName": "ExampleService",
  "serCategory": {"href": "catItem1", "id": "id12345", "name": "RNI", "version": "version1"},
  "version": "ServiceVersion1", "state": "ACTIVE",
  "transportInfo": {"id": "TransId12345", "name": "REST", "description": "REST API", "type": "REST_HTTP",
    "protocol": "HTTP", "version": "2.0", "endpoint": {"addresses": [{"host": "192.0.2.0", "port": 8080}]},
    "security": {"oAuth2Info": {"grantTypes": ["OAUTH2_CLIENT_CREDENTIALS"], "tokenEndpoint": "/mecSerMgmtApi/security/TokenEndPoint"}}},
  "serializer": "JSON"}])";

// advantedge/meep-ams-swagger.yaml, /notifications/mec011/appTermination requestBody `example`
// (AdvantEDGE writes `links`; the official schema AppTerminationNotification says `_links`).
const char* termination_advantedge = R"({"notificationType": "AppTerminationNotification",
  "operationAction": "TERMINATING", "maxGracefulTimeout": 10,
  "links": {"subscription": {"href": "http://mec011Server.example.com/mec_app_support/v1/applications/appId1234/subscriptions/sub123"},
            "confirmTermination": {"href": "http://mec011Server.example.com/mec_app_support/v1/confirm_termination"}}})";
}  // namespace

TEST_CASE("the spec's traffic rule example parses and is written back with the fields we do not model", "[mec][app_support]") {
    auto r = parse_traffic_rule(json::parse(traffic_rule_example));
    REQUIRE(r.has_value());
    CHECK(r->id == "TrafficRule123");
    CHECK(r->state == traffic_rule_state::active);
    CHECK(r->action == "FORWARD_DECAPSULATED");
    auto t = *r;
    t.state = traffic_rule_state::inactive;
    json expected = json::parse(traffic_rule_example);
    expected["state"] = "INACTIVE";
    CHECK(to_json(t) == expected);

    json bad = json::parse(traffic_rule_example);
    bad["state"] = "ON";
    CHECK_THAT(parse_traffic_rule(bad).error().message, Catch::Contains("/state: 'ON' is not ACTIVE or INACTIVE"));
}

TEST_CASE("the service registry example gives the service's address; a bad port is named", "[mec][app_support]") {
    auto s = parse_service_list(json::parse(service_list_example));
    REQUIRE(s.has_value());
    REQUIRE(s->size() == 1);
    CHECK((*s)[0].ser_name == "ExampleService");
    REQUIRE((*s)[0].addresses.size() == 1);
    CHECK((*s)[0].addresses[0].host == "192.0.2.0");
    CHECK((*s)[0].addresses[0].port == 8080);
    json bad = json::parse(service_list_example);
    bad[0]["transportInfo"]["endpoint"]["addresses"][0]["port"] = "8080";
    CHECK_THAT(parse_service_list(bad).error().message,
               Catch::Contains("/0/transportInfo/endpoint/addresses/0/port: expected integer, got string"));
}

TEST_CASE("a termination notification parses in AdvantEDGE's `links` and the spec's `_links` shape", "[mec][app_support]") {
    json j = json::parse(termination_advantedge);
    auto a = parse_app_termination_notification(j);
    REQUIRE(a.has_value());
    CHECK(a->action == operation_action::terminating);
    CHECK(a->max_graceful_timeout_s == 10);
    CHECK(a->confirm_termination_url == "http://mec011Server.example.com/mec_app_support/v1/confirm_termination");
    j["_links"] = j["links"];
    j.erase("links");
    auto o = parse_app_termination_notification(j);
    REQUIRE(o.has_value());
    CHECK(o->subscription_url == a->subscription_url);
    j.erase("maxGracefulTimeout");
    CHECK_THAT(parse_app_termination_notification(j).error().message, Catch::Contains("/maxGracefulTimeout: missing"));
}

TEST_CASE("app support client: confirm ready/termination, termination subscription, registry lookup, rule switch", "[mec][app_support]") {
    json rule = json::parse(traffic_rule_example);
    mec_test_server srv([&](const recorded_request& r) -> canned_reply {
        const std::string app = "/sbx1/mec_app_support/v1/applications/app-1";
        if (r.method == "POST" && (r.target == app + "/confirm_ready" || r.target == app + "/confirm_termination")) return {204, ""};
        if (r.method == "POST" && r.target == app + "/subscriptions") {
            json b = json::parse(r.body);
            b["_links"] = {{"self", {{"href", "http://mep/mec_app_support/v1/applications/app-1/subscriptions/s1"}}}};
            return {201, b.dump()};
        }
        if (r.method == "DELETE" && r.target == app + "/subscriptions/s1") return {204, ""};
        if (r.method == "GET" && r.target == "/sbx1/mec_service_mgmt/v1/services?ser_name=ExampleService") return {200, service_list_example};
        if (r.method == "GET" && r.target == app + "/traffic_rules/TrafficRule123") return {200, rule.dump()};
        if (r.method == "PUT" && r.target == app + "/traffic_rules/TrafficRule123") { rule = json::parse(r.body); return {200, rule.dump()}; }
        return {404, ""};
    });
    app_support_client mec(options_for(srv), "app-1");
    REQUIRE(mec.confirm_ready().has_value());
    REQUIRE(mec.confirm_termination().has_value());
    auto sub = mec.subscribe_termination("http://10.0.0.9:8080/term");
    REQUIRE(sub.has_value());
    CHECK(sub->self_url.ends_with("/subscriptions/s1"));
    REQUIRE(mec.unsubscribe(sub->self_url).has_value());
    auto svc = mec.service("ExampleService");
    INFO((svc ? std::string() : svc.error().what()));
    REQUIRE(svc.has_value());
    CHECK(svc->addresses.at(0).port == 8080);
    auto switched = mec.set_traffic_rule_state("TrafficRule123", traffic_rule_state::inactive);
    REQUIRE(switched.has_value());
    CHECK(switched->state == traffic_rule_state::inactive);

    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 7);
    for (auto& r : reqs) CHECK(r.headers["authorization"] == "Bearer t0k3n");
    CHECK(json::parse(reqs[0].body) == json{{"indication", "READY"}});
    CHECK(json::parse(reqs[1].body) == json{{"operationAction", "TERMINATING"}});
    CHECK(json::parse(reqs[2].body) == json{{"subscriptionType", "AppTerminationNotificationSubscription"},
                                           {"callbackReference", "http://10.0.0.9:8080/term"}, {"appInstanceId", "app-1"}});
    CHECK(reqs[3].method == "DELETE");
    CHECK(reqs[5].method == "GET");
    CHECK(reqs[6].method == "PUT");
    json put = json::parse(reqs[6].body);
    CHECK(put["state"] == "INACTIVE");
    CHECK(put["dstInterface"]["dstIpAddress"] == "20.1.1.1");   // what we do not model goes back unchanged
}

TEST_CASE("app support client: offers a service in the registry and withdraws it", "[mec][app_support]") {
    mec_test_server srv([&](const recorded_request& r) -> canned_reply {
        const std::string app = "/sbx1/mec_service_mgmt/v1/applications/app-1/services";
        if (r.method == "POST" && r.target == app) {
            json b = json::parse(r.body);
            b["serInstanceId"] = "svc-7";
            return {201, b.dump()};
        }
        if (r.method == "DELETE" && r.target == app + "/svc-7") return {204, ""};
        return {404, ""};
    });
    app_support_client mec(options_for(srv), "app-1");
    service_info s;
    s.ser_name = "user-context-app-1";
    s.uris = {"http://10.0.0.9:8080/user-context"};
    auto offered = mec.register_service(s);
    INFO((offered ? std::string() : offered.error().what()));
    REQUIRE(offered.has_value());
    CHECK(offered->ser_instance_id == "svc-7");
    CHECK(offered->uris == s.uris);
    CHECK(offered->state == "ACTIVE");
    REQUIRE(mec.deregister_service("svc-7").has_value());
    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 2);
    json body = json::parse(reqs[0].body);
    // The spec's required ServiceInfo and TransportInfo fields are all there.
    for (auto* f : {"serName", "version", "state", "transportInfo", "serializer"}) CHECK(body.contains(f));
    for (auto* f : {"id", "name", "type", "protocol", "version", "endpoint", "security"}) CHECK(body["transportInfo"].contains(f));
    CHECK(body["transportInfo"]["type"] == "REST_HTTP");
    CHECK(reqs[1].method == "DELETE");
    // A registry that does not know the app instance: not_found naming the URL.
    app_support_client other(options_for(srv), "app-2");
    auto refused = other.register_service(s);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error_code() == error::not_found);
    CHECK_THAT(refused.error().message, Catch::Contains("app-2"));
}

TEST_CASE("app support client: a platform answering 501 to traffic rules gives a clear unsupported", "[mec][app_support]") {
    mec_test_server srv([](const recorded_request&) -> canned_reply {
        return {501, R"({"status": 501, "detail": "Not Implemented"})"};
    });
    app_support_client mec(options_for(srv), "app-1");
    auto r = mec.set_traffic_rule_state("TrafficRule123", traffic_rule_state::active);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::unsupported);
    CHECK(r.error_code() == condition::unimplemented);
    CHECK_THAT(r.error().message, Catch::StartsWith("GET " + srv.base_url() + "/sbx1/mec_app_support/v1/applications/app-1/traffic_rules/TrafficRule123: HTTP 501: Not Implemented"));
    CHECK_THAT(r.error().message, Catch::Contains("use another route switch"));
    auto list = mec.traffic_rules();
    REQUIRE_FALSE(list.has_value());
    CHECK(list.error_code() == error::unsupported);
}
