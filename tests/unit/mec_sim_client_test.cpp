// The SDK's own MEC clients against the emulator (mec/emulator.hpp): every answer and
// notification the emulator sends parses with the client, under a sandbox prefix — MEC013
// (location.hpp): queries, a subscription and its notification on a forced move; MEC011
// (app_support.hpp): confirmations, termination subscription and notification, the service
// registry and traffic rules (switched, and 501 when the emulator plays AdvantEDGE); MEC021
// (ams.hpp): registration round trips and INTERHOST_MOVEOUT_TRIGGERED to the source instance
// when its UE moves to the other host's zone; MEC012 (rnis.hpp): rab_info and cell change
// notifications, IN_PREPARATION then COMPLETED.
#include "../require_ok.hpp"

#include <migrate/mec/ams.hpp>
#include <migrate/mec/app_support.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/rnis.hpp>
#include <migrate/net/http_server.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "beast_client.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace migrate;
using namespace migrate::mec;
using namespace std::chrono_literals;

TEST_CASE("location_client v2 against the emulator: queries, subscription, notification", "[mec][sim][client]") {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    // The ETSI MEC Sandbox's two-segment prefix, "/<sandbox>/mep1", on both sides.
    o.base_path = "/sbx1/mep1";
    o.time_scale = 0;
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);

    client_options co;
    co.base_url = fmt::format("http://127.0.0.1:{}", (*emu)->port());
    co.sandbox = "sbx1/mep1";
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
    // ProblemDetails.instance is an absolute URI, as the specs type it.
    CHECK(json::parse(put.body)["instance"] == fmt::format("http://127.0.0.1:{}/sbx1/mec_app_support/v1/applications/a1/traffic_rules/r1", emu->port()));
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
    auto listed = test::beast_exchange(port, "GET", added.location.substr(added.location.find("/sim")));
    REQUIRE(listed.status == 200);
    CHECK(json::parse(listed.body)["trafficRules"][0]["state"] == "INACTIVE");
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

TEST_CASE("ams_client against the emulator: registration, subscription, move-out to the other host", "[mec][sim][client][ams]") {
    // a2 (app "counter") on mep2 serves 10.1.0.4, which stands in zone04 (mep2's zone);
    // a1, the same app, runs on mep1 in zone01.
    auto emu = start_with_apps();
    ams_client ams(client_of(*emu));
    const associate_id ue{"UE_IPv4_ADDRESS", "10.1.0.4"};
    registration_info reg;
    reg.app_instance_id = "a2";
    reg.devices = {{ue, app_mobility_service_level::with_confirmation, context_transfer_state::not_transferred}};
    auto created = ams.register_app(reg);
    REQUIRE_OK(created);
    REQUIRE_FALSE(created->app_mobility_service_id.empty());
    auto read = ams.registration(created->app_mobility_service_id);
    REQUIRE_OK(read);
    CHECK(read->app_instance_id == "a2");
    REQUIRE(read->devices.size() == 1);
    CHECK(read->devices[0].device == ue);
    CHECK(read->devices[0].service_level == app_mobility_service_level::with_confirmation);

    recorder source, other;
    mobility_procedure_subscription sub;
    sub.callback_url = source.url();
    sub.app_instance_id = "a2";
    sub.devices = {ue};
    auto s = ams.subscribe_mobility_procedure(sub);
    REQUIRE_OK(s);
    CHECK_FALSE(s->self_url.empty());
    // The spec's default filter is included in the answer.
    REQUIRE(s->statuses.size() == 1);
    CHECK(s->statuses[0] == mobility_status::interhost_moveout_triggered);
    mobility_procedure_subscription not_mine;
    not_mine.callback_url = other.url();
    not_mine.app_instance_id = "a1";
    REQUIRE_OK(ams.subscribe_mobility_procedure(not_mine));
    adjacent_app_info_subscription adjacent;
    adjacent.callback_url = other.url();
    adjacent.app_instance_id = "a2";
    auto adj = ams.subscribe_adjacent_app_info(adjacent);
    REQUIRE_OK(adj);
    CHECK_FALSE(adj->self_url.empty());

    // A move within zone04 is no move-out.
    auto* z4 = emu->model().find_zone("zone04");
    std::string other_ap;
    for (auto& st : emu->states())
        if (st.ue == "10.1.0.4")
            for (auto& ap : z4->access_points)
                if (ap != st.access_point) other_ap = ap;
    REQUIRE_OK(emu->force("10.1.0.4", other_ap));
    // To zone01, where mep1 runs a1: the source's subscription hears the move-out, with a1.
    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    auto got = source.wait_for(1);
    REQUIRE(got.size() == 1);
    auto n = parse_mobility_procedure_notification(got[0]);
    REQUIRE_OK(n);
    CHECK(n->status == mobility_status::interhost_moveout_triggered);
    REQUIRE(n->devices.size() == 1);
    CHECK(n->devices[0] == ue);
    REQUIRE(n->target.has_value());
    CHECK(n->target->app_instance_id == "a1");
    REQUIRE(n->target->endpoints.size() == 1);
    CHECK(n->target->endpoints[0].host == "10.2.0.10");
    CHECK(n->target->endpoints[0].port == 8080);
    CHECK(n->subscription_url == s->self_url);
    CHECK(n->timestamp.has_value());

    // The context moved: marked so, the device is not announced again when it comes back and leaves again.
    auto marked = ams.set_context_transfer_state(created->app_mobility_service_id, ue, context_transfer_state::user_context_transfer_completed);
    REQUIRE_OK(marked);
    CHECK(marked->devices[0].transfer_state == context_transfer_state::user_context_transfer_completed);
    REQUIRE_OK(emu->force("10.1.0.4", other_ap));
    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    std::this_thread::sleep_for(300ms);
    CHECK(source.wait_for(1, 0ms).size() == 1);
    CHECK(other.wait_for(1, 0ms).empty());   // a1's subscription and the adjacent-info one heard nothing

    // Another instance of the app comes up: a2's adjacent-info subscription hears of a1 and a3.
    REQUIRE_OK(emu->add_app_instance({"a3", "mep1", "counter", {}, {{"10.4.0.10", 8080}}}));
    auto adjacent_got = other.wait_for(1);
    REQUIRE(adjacent_got.size() == 1);
    auto an = parse_adjacent_app_info_notification(adjacent_got[0]);
    REQUIRE_OK(an);
    CHECK(an->subscription_url == adj->self_url);
    REQUIRE(an->adjacent.size() == 2);
    CHECK(an->adjacent[0].app_instance_id == "a1");
    CHECK(an->adjacent[1].app_instance_id == "a3");
    REQUIRE(an->adjacent[1].endpoints.size() == 1);
    CHECK(an->adjacent[1].endpoints[0].host == "10.4.0.10");

    REQUIRE_OK(ams.unsubscribe(s->self_url));
    CHECK(ams.unsubscribe(s->self_url).error_code() == error::not_found);
    REQUIRE_OK(ams.deregister(created->app_mobility_service_id));
    CHECK(ams.registration(created->app_mobility_service_id).error_code() == error::not_found);
}

TEST_CASE("emulator AMS: bodies checked per MEC021, subscription list per the spec", "[mec][sim][ams]") {
    auto emu = start_with_apps();
    auto port = emu->port();
    const std::string b = "/sbx1/amsi/v1";
    auto refused = test::beast_exchange(port, "POST", b + "/app_mobility_services",
                                        R"({"serviceConsumerId": {"appInstanceId": "a1"}, "deviceInformation": [{"associateId": {"type": "IMSI", "value": "1"}}]})");
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("/deviceInformation/0/associateId/type"));
    refused = test::beast_exchange(port, "POST", b + "/app_mobility_services", R"({"serviceConsumerId": {"appInstanceId": "zz"}})");
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("/serviceConsumerId/appInstanceId"));
    refused = test::beast_exchange(port, "POST", b + "/subscriptions", R"({"subscriptionType": "MobilityProcedureSubscription", "callbackReference": "http://x/"})");
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("/filterCriteria: missing"));

    auto sub = test::beast_exchange(port, "POST", b + "/subscriptions",
                                    R"({"subscriptionType": "AdjacentAppInfoSubscription", "callbackReference": "http://x/", "filterCriteria": {"appInstanceId": "a1"}})");
    REQUIRE(sub.status == 201);
    auto list = test::beast_exchange(port, "GET", b + "/subscriptions?subscriptionType=adj_app_info");
    REQUIRE(list.status == 200);
    auto l = json::parse(list.body);
    REQUIRE(l["subscription"].size() == 1);
    CHECK(l["subscription"][0]["subscriptionType"] == 2);
    CHECK(l["subscription"][0]["href"] == sub.location);
    CHECK(json::parse(test::beast_exchange(port, "GET", b + "/subscriptions?subscriptionType=mobility_proc").body)["subscription"].empty());

    // expiryDeadline in the past: gone at the next look.
    auto expired = test::beast_exchange(port, "POST", b + "/subscriptions",
                                        R"({"subscriptionType": "AdjacentAppInfoSubscription", "callbackReference": "http://x/",
                                            "expiryDeadline": {"seconds": 1, "nanoSeconds": 0}})");
    REQUIRE(expired.status == 201);
    CHECK(test::beast_exchange(port, "GET", expired.location.substr(expired.location.find("/sbx1"))).status == 404);
}

TEST_CASE("rnis_client against the emulator: rab_info and cell change notifications", "[mec][sim][client][rnis]") {
    auto emu = start_with_apps();
    rnis_client rnis(client_of(*emu));
    auto cell_of = [&](const std::string& ap) {
        auto* a = emu->model().find_access_point(ap);
        return a->cell_id.empty() ? a->name : a->cell_id;
    };
    std::string start_ap;
    for (auto& st : emu->states())
        if (st.ue == "10.1.0.4") start_ap = st.access_point;
    REQUIRE_FALSE(start_ap.empty());
    // Put the UE on a 5G cell first, so rab_info lists it.
    std::string cell5g;
    for (auto& name : emu->model().find_zone("zone04")->access_points)
        if (emu->model().find_access_point(name)->type == poa_type::cell_5g && cell5g.empty()) cell5g = name;
    REQUIRE_FALSE(cell5g.empty());
    REQUIRE_OK(emu->force("10.1.0.4", cell5g));

    auto rab = rnis.rab("a1");
    REQUIRE_OK(rab);
    CHECK(rab->app_instance_id == "a1");
    CHECK_FALSE(rab->request_id.empty());
    CHECK(rab->timestamp.has_value());
    const rab_user* mine = nullptr;
    for (auto& u : rab->users)
        if (!u.devices.empty() && u.devices[0].value == "10.1.0.4") mine = &u;
    REQUIRE(mine);
    CHECK(mine->cell.cell_id == emu->model().find_access_point(cell5g)->cell_id);
    CHECK(mine->cell.mcc == "001");
    CHECK(mine->devices[0].type == 1);
    CHECK(mine->erab_ids.size() == 1);
    auto one_cell = rnis.rab("a1", {mine->cell.cell_id});
    REQUIRE_OK(one_cell);
    for (auto& u : one_cell->users) CHECK(u.cell.cell_id == mine->cell.cell_id);

    recorder both, completed_only, someone_else;
    cell_change_subscription sub;
    sub.callback_url = both.url();
    sub.devices = {{1, "10.1.0.4"}};
    sub.statuses = {ho_status::in_preparation, ho_status::completed};
    auto s = rnis.subscribe_cell_change(sub);
    REQUIRE_OK(s);
    CHECK_FALSE(s->self_url.empty());
    CHECK(s->statuses.size() == 2);
    cell_change_subscription plain;
    plain.callback_url = completed_only.url();
    plain.devices = {{1, "10.1.0.4"}};
    auto p = rnis.subscribe_cell_change(plain);
    REQUIRE_OK(p);
    REQUIRE(p->statuses.size() == 1);   // the spec's default, in the answer
    CHECK(p->statuses[0] == ho_status::completed);
    cell_change_subscription other;
    other.callback_url = someone_else.url();
    other.devices = {{1, "10.1.0.1"}};
    REQUIRE_OK(rnis.subscribe_cell_change(other));

    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    auto got = both.wait_for(2);
    REQUIRE(got.size() == 2);
    auto prep = parse_cell_change_notification(got[0]);
    auto done = parse_cell_change_notification(got[1]);
    REQUIRE_OK(prep);
    REQUIRE_OK(done);
    CHECK(prep->status == ho_status::in_preparation);
    CHECK(done->status == ho_status::completed);
    for (auto* n : {&*prep, &*done}) {
        CHECK(n->source.cell_id == cell_of(cell5g));
        REQUIRE(n->targets.size() == 1);
        CHECK(n->targets[0].cell_id == "1010101");   // poa4GConfig.cellId of 4g-macro-cell-1
        REQUIRE(n->devices.size() == 1);
        CHECK(n->devices[0].value == "10.1.0.4");
    }
    auto plain_got = completed_only.wait_for(1);
    REQUIRE(plain_got.size() == 1);
    CHECK(parse_cell_change_notification(plain_got[0]).value().status == ho_status::completed);
    std::this_thread::sleep_for(200ms);
    CHECK(someone_else.wait_for(1, 0ms).empty());

    REQUIRE_OK(rnis.unsubscribe(s->self_url));
    CHECK(rnis.unsubscribe(s->self_url).error_code() == error::not_found);
    auto list = test::beast_exchange(emu->port(), "GET", "/sbx1/rni/v2/subscriptions?subscription_type=cell_change");
    REQUIRE(list.status == 200);
    CHECK(json::parse(list.body)["_links"]["subscription"].size() == 2);
    auto refused = test::beast_exchange(emu->port(), "POST", "/sbx1/rni/v2/subscriptions",
                                        R"({"subscriptionType": "CellChangeSubscription", "callbackReference": "http://x/",
                                            "filterCriteriaAssocHo": {"hoStatus": [7]}})");
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("/filterCriteriaAssocHo/hoStatus/0"));
}
