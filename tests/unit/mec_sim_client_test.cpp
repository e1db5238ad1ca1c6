// The SDK's own MEC clients against the emulator (mec/emulator.hpp): every answer and
// notification the emulator sends parses with the client, under a sandbox prefix — MEC013
// (location.hpp): queries, a subscription and its notification on a forced move; MEC011
// (app_support.hpp): confirmations, termination subscription and notification, the service
// registry and traffic rules (switched, and 501 when the emulator plays AdvantEDGE).
#include "../require_ok.hpp"

#include <migrate/mec/app_support.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/net/http_server.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "beast_client.hpp"

#include <condition_variable>
#include <mutex>

using namespace migrate;
using namespace migrate::mec;
using namespace std::chrono_literals;

TEST_CASE("location_client v2 against the emulator: queries, subscription, notification", "[mec][sim][client]") {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    // The client's sandbox prefix is one path segment (the sandbox's "/<sandbox>/mep1" does
    // not fit it yet), so the emulator serves under "/sbx1" here.
    o.base_path = "/sbx1";
    o.time_scale = 0;
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);

    client_options co;
    co.base_url = fmt::format("http://127.0.0.1:{}", (*emu)->port());
    co.sandbox = "sbx1";
    location_client loc(co);

    auto zones = loc.zones();
    REQUIRE_OK(zones);
    CHECK(zones->size() == 4);
    auto user = loc.user("10.1.0.4");
    REQUIRE_OK(user);
    CHECK(user->zone_id == "zone04");
    CHECK(user->timestamp.has_value());
    auto aps = loc.access_points("zone04");
    REQUIRE_OK(aps);
    CHECK(aps->size() == (*emu)->model().find_zone("zone04")->access_points.size());
    auto one = loc.access_point("zone04", user->access_point_id);
    REQUIRE_OK(one);
    CHECK(one->access_point_id == user->access_point_id);

    std::mutex m;
    std::condition_variable cv;
    std::vector<json> got;
    net::http_router r;
    r.route("POST", "/n", [&](const net::http_request& q) {
        std::lock_guard lock(m);
        got.push_back(q.json_body().value());
        cv.notify_all();
        return net::http_response::no_content();
    });
    auto listener = net::http_server::start({}, std::move(r));
    REQUIRE_OK(listener);

    zonal_traffic_subscription sub;
    sub.callback_url = (*listener)->url() + "/n";
    sub.zone_id = "zone04";
    sub.callback_data = "from-client";
    auto created = loc.subscribe_zonal_traffic(sub);
    REQUIRE_OK(created);
    CHECK_FALSE(created->resource_url.empty());

    REQUIRE_OK((*emu)->force("10.1.0.4", "4g-macro-cell-1"));
    {
        std::unique_lock lock(m);
        cv.wait_for(lock, 5s, [&] { return !got.empty(); });
        REQUIRE(got.size() == 1);
    }
    auto n = parse_zonal_presence_notification(got[0]);
    REQUIRE_OK(n);
    CHECK(n->zone_id == "zone04");
    CHECK(n->event == user_event_type::leaving);
    CHECK(n->current_access_point_id == "4g-macro-cell-1");
    CHECK(n->callback_data == "from-client");
    REQUIRE_OK(loc.unsubscribe_zonal_traffic(created->resource_url));
}

namespace {

/// Collects the JSON bodies POSTed to "/n".
struct recorder {
    std::mutex m;
    std::condition_variable cv;
    std::vector<json> got;
    std::unique_ptr<net::http_server> server;

    recorder() {
        net::http_router r;
        r.route("POST", "/n", [this](const net::http_request& q) {
            std::lock_guard lock(m);
            got.push_back(q.json_body().value());
            cv.notify_all();
            return net::http_response::no_content();
        });
        auto s = net::http_server::start({}, std::move(r));
        REQUIRE_OK(s);
        server = std::move(*s);
    }
    std::string url() const { return server->url() + "/n"; }
    std::vector<json> wait_for(std::size_t n, std::chrono::milliseconds within = 5s) {
        std::unique_lock lock(m);
        cv.wait_for(lock, within, [&] { return got.size() >= n; });
        return got;
    }
};

/// The dual-mep scenario, paused, under "/sbx1", with app instance "a1" on mep1 (rule "r1")
/// and "a2" on mep2; `options` adjusts the rest.
std::unique_ptr<emulator> start_with_apps(void (*adjust)(emulator_options&) = nullptr) {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    o.base_path = "/sbx1";
    o.time_scale = 0;
    traffic_rule r1;
    r1.id = "r1";
    r1.priority = 1;
    r1.document = json{{"trafficFilter", json::array({{{"dstAddress", {"10.1.0.0/16"}}}})}, {"dstInterface", {{"interfaceType", "IP"}, {"dstIpAddress", "10.2.0.10"}}}};
    o.app_instances = {{"a1", "mep1", "counter", {r1}, {{"10.2.0.10", 8080}}}, {"a2", "mep2", "counter", {}, {{"10.3.0.10", 8080}}}};
    if (adjust) adjust(o);
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);
    return std::move(*emu);
}

client_options client_of(const emulator& e) {
    client_options co;
    co.base_url = fmt::format("http://127.0.0.1:{}", e.port());
    co.sandbox = "sbx1";
    return co;
}

json service_info_body(const std::string& name, const std::string& host, int port) {
    return {{"serName", name},
            {"version", "1.0"},
            {"state", "ACTIVE"},
            {"serializer", "JSON"},
            {"transportInfo",
             {{"id", "t1"}, {"name", "REST"}, {"type", "REST_HTTP"}, {"protocol", "HTTP"}, {"version", "1.1"},
              {"endpoint", {{"addresses", {{{"host", host}, {"port", port}}}}}}, {"security", json::object()}}}};
}

}  // namespace

TEST_CASE("app_support_client against the emulator: ready, termination, service registry", "[mec][sim][client]") {
    auto emu = start_with_apps();
    app_support_client a1(client_of(*emu), "a1");
    REQUIRE_OK(a1.confirm_ready());
    REQUIRE_OK(a1.confirm_termination(operation_action::stopping));
    auto apps = emu->app_instances();
    REQUIRE(apps.size() == 2);
    CHECK(apps[0].ready);
    CHECK(apps[0].termination_confirmed == "STOPPING");
    CHECK_FALSE(apps[1].ready);

    // An app instance the emulator was not told about is a 404 -> not_found.
    app_support_client stranger(client_of(*emu), "nobody");
    CHECK(stranger.confirm_ready().error_code() == error::not_found);

    recorder rec;
    auto sub = a1.subscribe_termination(rec.url());
    REQUIRE_OK(sub);
    CHECK(sub->app_instance_id == "a1");
    CHECK_FALSE(sub->self_url.empty());
    REQUIRE_OK(emu->terminate("a1", operation_action::terminating, 7));
    auto got = rec.wait_for(1);
    REQUIRE(got.size() == 1);
    auto n = parse_app_termination_notification(got[0]);
    REQUIRE_OK(n);
    CHECK(n->action == operation_action::terminating);
    CHECK(n->max_graceful_timeout_s == 7);
    CHECK(n->subscription_url == sub->self_url);
    CHECK_THAT(n->confirm_termination_url, Catch::EndsWith("/sbx1/mec_app_support/v1/applications/a1/confirm_termination"));
    REQUIRE_OK(a1.unsubscribe(sub->self_url));
    CHECK(a1.unsubscribe(sub->self_url).error_code() == error::not_found);

    // Register a service as a2 (the client only reads the registry), then find it as a1.
    auto posted = test::beast_exchange(emu->port(), "POST", "/sbx1/mec_service_mgmt/v1/applications/a2/services",
                                       service_info_body("ctx-transfer", "10.3.0.10", 9000).dump());
    REQUIRE(posted.status == 201);
    CHECK_FALSE(posted.location.empty());
    auto svc = a1.service("ctx-transfer");
    REQUIRE_OK(svc);
    CHECK(svc->ser_instance_id == json::parse(posted.body)["serInstanceId"]);
    CHECK(svc->state == "ACTIVE");
    REQUIRE(svc->addresses.size() == 1);
    CHECK(svc->addresses[0].host == "10.3.0.10");
    CHECK(svc->addresses[0].port == 9000);
    auto all = a1.services();
    REQUIRE_OK(all);
    CHECK(all->size() == 1);
    CHECK(a1.service("no-such").error_code() == error::not_found);

    // A ServiceInfo without its transport is refused naming the field.
    auto bad = service_info_body("x", "h", 1);
    bad.erase("transportInfo");
    auto refused = test::beast_exchange(emu->port(), "POST", "/sbx1/mec_service_mgmt/v1/applications/a2/services", bad.dump());
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("/transportInfo: missing"));
}

TEST_CASE("app_support_client against the emulator: traffic rules read and switched", "[mec][sim][client]") {
    auto emu = start_with_apps();
    app_support_client a1(client_of(*emu), "a1");
    auto rules = a1.traffic_rules();
    REQUIRE_OK(rules);
    REQUIRE(rules->size() == 1);
    CHECK((*rules)[0].id == "r1");
    CHECK((*rules)[0].state == traffic_rule_state::active);
    CHECK((*rules)[0].filter_type == "FLOW");
    CHECK((*rules)[0].document["dstInterface"]["dstIpAddress"] == "10.2.0.10");

    auto off = a1.set_traffic_rule_state("r1", traffic_rule_state::inactive);
    REQUIRE_OK(off);
    CHECK(off->state == traffic_rule_state::inactive);
    // The rest of the rule survives the round trip.
    CHECK(off->document["trafficFilter"][0]["dstAddress"][0] == "10.1.0.0/16");
    auto now = emu->traffic_rules("a1");
    REQUIRE_OK(now);
    REQUIRE(now->size() == 1);
    CHECK((*now)[0].state == traffic_rule_state::inactive);
    auto state = json::parse(test::beast_exchange(emu->port(), "GET", "/sbx1/sim/v1/state").body);
    CHECK(state["appInstances"][0]["trafficRules"][0]["state"] == "INACTIVE");

    CHECK(a1.traffic_rule_by_id("r9").error_code() == error::not_found);
    CHECK(app_support_client(client_of(*emu), "a2").traffic_rules().value().empty());
    CHECK(emu->traffic_rules("nobody").error_code() == error::not_found);

    // A PUT with a bad state, or without a required field, is a 400 naming the field.
    auto doc = to_json((*now)[0]);
    doc["state"] = "ON";
    auto put = test::beast_exchange(emu->port(), "PUT", "/sbx1/mec_app_support/v1/applications/a1/traffic_rules/r1", doc.dump());
    CHECK(put.status == 400);
    CHECK_THAT(json::parse(put.body)["detail"].get<std::string>(), Catch::Contains("/state: 'ON' is not one of ACTIVE, INACTIVE"));
    doc["state"] = "ACTIVE";
    doc.erase("priority");
    put = test::beast_exchange(emu->port(), "PUT", "/sbx1/mec_app_support/v1/applications/a1/traffic_rules/r1", doc.dump());
    CHECK(put.status == 400);
    CHECK_THAT(json::parse(put.body)["detail"].get<std::string>(), Catch::Contains("/priority: missing"));
    CHECK(emu->traffic_rules("a1").value()[0].state == traffic_rule_state::inactive);
}

TEST_CASE("app_support_client against the emulator playing AdvantEDGE: traffic rules are unsupported", "[mec][sim][client]") {
    auto emu = start_with_apps([](emulator_options& o) { o.serve_traffic_rules = false; });
    app_support_client a1(client_of(*emu), "a1");
    auto rules = a1.traffic_rules();
    REQUIRE_FALSE(rules);
    CHECK(rules.error_code() == error::unsupported);
    CHECK(a1.set_traffic_rule_state("r1", traffic_rule_state::inactive).error_code() == error::unsupported);
    // The rest of MEC011 still answers.
    REQUIRE_OK(a1.confirm_ready());
    CHECK(emu->traffic_rules("a1").value()[0].state == traffic_rule_state::active);
}

TEST_CASE("emulator: app instances are checked against the scenario", "[mec][sim]") {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    o.time_scale = 0;
    o.app_instances = {{"a1", "mep9", "", {}, {}}};
    auto refused = emulator::start(*s, o);
    REQUIRE_FALSE(refused);
    CHECK(refused.error_code() == error::invalid_argument);
    CHECK_THAT(refused.error().message, Catch::Contains("edge_host") && Catch::Contains("mep9") && Catch::Contains("mep1"));
    traffic_rule bad;
    bad.id = "r1";
    bad.action = "TELEPORT";
    o.app_instances = {{"a1", "mep1", "", {bad}, {}}};
    refused = emulator::start(*s, o);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::Contains("traffic_rules[0]") && Catch::Contains("/action"));

    o.app_instances.clear();
    auto emu = emulator::start(*s, o);
    REQUIRE_OK(emu);
    auto port = (*emu)->port();
    auto added = test::beast_exchange(port, "POST", "/sim/v1/appInstances",
                                      R"({"appInstanceId": "b1", "edgeHost": "mep2", "appName": "x",
                                          "trafficRules": [{"trafficRuleId": "t", "filterType": "FLOW", "priority": 2,
                                                            "trafficFilter": [], "action": "DROP", "state": "INACTIVE"}]})");
    REQUIRE(added.status == 201);
    CHECK(test::beast_exchange(port, "POST", "/sim/v1/appInstances", R"({"appInstanceId": "b1", "edgeHost": "mep2"})").status == 409);
    CHECK(test::beast_exchange(port, "POST", "/sim/v1/appInstances", R"({"appInstanceId": "b2", "edgeHost": "nowhere"})").status == 400);
    CHECK((*emu)->add_app_instance({"b1", "mep1", "", {}, {}}).error_code() == error::conflict);
    REQUIRE_OK((*emu)->add_app_instance({"b3", "mep1", "", {}, {}}));
    auto rules = (*emu)->traffic_rules("b1");
    REQUIRE_OK(rules);
    REQUIRE(rules->size() == 1);
    CHECK((*rules)[0].state == traffic_rule_state::inactive);
    CHECK((*rules)[0].action == "DROP");
    CHECK((*emu)->app_instances().size() == 2);
}
