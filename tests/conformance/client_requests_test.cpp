// Every request the SDK's MEC clients make, against `prism mock --errors` of the official
// ETSI spec (tests/data/mec/specs): a request Prism finds invalid (a body field of the wrong
// type or missing, a parameter, a path the spec does not have) fails the test, naming the
// request and the field. Optional fields are all set, so that each one is checked. (user()
// and service() send what users(address) and services(name) send.)
//
// The mock answers with the spec's own examples; what the client makes of them is reported
// (WARN) but is not what these tests judge: the emulator tests check the responses.
#include "prism_check.hpp"

#include <migrate/mec/ams.hpp>
#include <migrate/mec/app_support.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/rnis.hpp>
#include <migrate/mec/v2x.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::start_prism;
using migrate::test::through_prism;

namespace {

client_options at(const test::prism_server& prism) {
    client_options o;
    o.base_url = prism.url();
    o.bearer_token = "conformance";
    return o;
}

/// The client's reading of the mock's example answer, for the log.
template <class R>
void note(const std::string& what, const R& r) {
    if (!r) WARN(what << ": the client did not take the spec example Prism answered with: " << r.error().what());
}

#define THROUGH(prism, what, expr) note(what, through_prism(prism, test::judged::requests, what, [&] { return (expr); }))

}  // namespace

TEST_CASE("MEC013 Location v2: the client's requests conform to the spec", "[prism][mock][location]") {
    auto prism = start_prism("gs013-LocationAPI.yaml");
    location_client loc(at(*prism), location_flavour::v2);

    THROUGH(*prism, "users()", loc.users());
    THROUGH(*prism, "users(zone, access point, address)",
            loc.users(user_query{{"zone01"}, {"4g-macro-cell-1"}, {"acr:10.100.0.1"}}));
    THROUGH(*prism, "zones()", loc.zones());
    THROUGH(*prism, "zone(id)", loc.zone("zone01"));
    THROUGH(*prism, "access_points(zone)", loc.access_points("zone01"));
    THROUGH(*prism, "access_point(zone, id)", loc.access_point("zone01", "4g-macro-cell-1"));

    zonal_traffic_subscription z;
    z.callback_url = "http://127.0.0.1:9/notify/zonal";
    z.zone_id = "zone01";
    z.user_event_criteria = {user_event_type::entering, user_event_type::leaving, user_event_type::transferring};
    z.interest_realm = {"LA"};
    z.duration_s = 3600;
    z.client_correlator = "corr-1";
    z.callback_data = "cb-1";
    THROUGH(*prism, "subscribe_zonal_traffic", loc.subscribe_zonal_traffic(z));

    user_tracking_subscription u;
    u.callback_url = "http://127.0.0.1:9/notify/user";
    u.address = "acr:10.100.0.1";
    u.user_event_criteria = {user_event_type::entering, user_event_type::transferring};
    u.client_correlator = "corr-2";
    u.callback_data = "cb-2";
    THROUGH(*prism, "subscribe_user_tracking", loc.subscribe_user_tracking(u));

    THROUGH(*prism, "unsubscribe_zonal_traffic", loc.unsubscribe_zonal_traffic("http://platform/location/v2/subscriptions/zonalTraffic/sub1"));
    THROUGH(*prism, "unsubscribe_user_tracking", loc.unsubscribe_user_tracking("sub2"));
}

TEST_CASE("MEC021 AMS: the client's requests conform to the spec", "[prism][mock][ams]") {
    auto prism = start_prism("gs021-MEC021_AppMobilityService.yaml");
    ams_client ams(at(*prism));

    registration_info r;
    r.app_instance_id = "app-1";
    r.devices = {device_information{associate_id{"UE_IPv4_ADDRESS", "10.100.0.1"},
                                    app_mobility_service_level::with_confirmation,
                                    context_transfer_state::not_transferred}};
    r.expiry_time_s = 600;
    THROUGH(*prism, "register_app", ams.register_app(r));
    registration_info by_mep = r;
    by_mep.app_instance_id.clear();
    by_mep.mep_id = "mep1";
    THROUGH(*prism, "register_app (by MEP id)", ams.register_app(by_mep));
    THROUGH(*prism, "registration", ams.registration("ams-1"));
    r.app_mobility_service_id = "ams-1";
    THROUGH(*prism, "update_registration", ams.update_registration(r));
    THROUGH(*prism, "set_context_transfer_state",
            ams.set_context_transfer_state("ams-1", associate_id{"UE_IPv4_ADDRESS", "10.100.0.1"},
                                           context_transfer_state::user_context_transfer_completed));
    THROUGH(*prism, "deregister", ams.deregister("ams-1"));

    mobility_procedure_subscription m;
    m.callback_url = "http://127.0.0.1:9/notify/mobility";
    m.app_instance_id = "app-1";
    m.devices = {associate_id{"UE_IPv4_ADDRESS", "10.100.0.1"}};
    m.statuses = {mobility_status::interhost_moveout_triggered, mobility_status::interhost_moveout_completed,
                  mobility_status::interhost_moveout_failed};
    m.expiry_deadline = time_stamp{1977836800, 0};
    THROUGH(*prism, "subscribe_mobility_procedure", ams.subscribe_mobility_procedure(m));

    adjacent_app_info_subscription a;
    a.callback_url = "http://127.0.0.1:9/notify/adjacent";
    a.app_instance_id = "app-1";
    a.expiry_deadline = time_stamp{1977836800, 0};
    THROUGH(*prism, "subscribe_adjacent_app_info", ams.subscribe_adjacent_app_info(a));

    THROUGH(*prism, "unsubscribe", ams.unsubscribe("http://platform/amsi/v1/subscriptions/sub1"));
}

TEST_CASE("MEC011 app support: the client's requests conform to the spec", "[prism][mock][app_support]") {
    auto prism = start_prism("gs011-MecAppSupportApi.yaml");
    app_support_client app(at(*prism), "app-1");

    THROUGH(*prism, "confirm_ready", app.confirm_ready());
    THROUGH(*prism, "confirm_termination(terminating)", app.confirm_termination(operation_action::terminating));
    THROUGH(*prism, "confirm_termination(stopping)", app.confirm_termination(operation_action::stopping));
    THROUGH(*prism, "subscribe_termination", app.subscribe_termination("http://127.0.0.1:9/notify/termination"));
    THROUGH(*prism, "unsubscribe", app.unsubscribe("http://platform/mec_app_support/v1/applications/app-1/subscriptions/sub1"));

    THROUGH(*prism, "traffic_rules", app.traffic_rules());
    auto rule = through_prism(*prism, test::judged::requests, "traffic_rule_by_id", [&] { return app.traffic_rule_by_id("TrafficRule123"); });
    note("traffic_rule_by_id", rule);
    REQUIRE(rule.has_value());   // the PUTs below send back the rule as read, as a caller does
    rule->state = traffic_rule_state::inactive;
    THROUGH(*prism, "update_traffic_rule", app.update_traffic_rule(*rule));
    THROUGH(*prism, "set_traffic_rule_state", app.set_traffic_rule_state("TrafficRule123", traffic_rule_state::active));
}

TEST_CASE("MEC011 service management: the client's requests conform to the spec", "[prism][mock][app_support]") {
    auto prism = start_prism("gs011-MecServiceMgmtApi.yaml");
    app_support_client app(at(*prism), "app-1");

    THROUGH(*prism, "services()", app.services());
    THROUGH(*prism, "services(name)", app.services("user-context-transfer"));

    service_info by_uri;
    by_uri.ser_name = "user-context-transfer";
    by_uri.version = "1.0";
    by_uri.uris = {"http://10.2.0.10:8080/context"};
    THROUGH(*prism, "register_service (uris)", app.register_service(by_uri));
    service_info by_address;
    by_address.ser_name = "user-context-transfer";
    by_address.addresses = {endpoint{"10.2.0.10", 8080}};
    THROUGH(*prism, "register_service (addresses)", app.register_service(by_address));
    THROUGH(*prism, "deregister_service", app.deregister_service("ser-1"));
}

TEST_CASE("MEC012 RNIS: the client's requests conform to the spec", "[prism][mock][rnis]") {
    auto prism = start_prism("gs012-RniAPI.yaml");
    rnis_client rnis(at(*prism));

    THROUGH(*prism, "rab(app)", rnis.rab("app-1"));
    THROUGH(*prism, "rab(app, cells)", rnis.rab("app-1", {"ACBDEFA", "FEDCBAA"}));

    cell_change_subscription s;
    s.callback_url = "http://127.0.0.1:9/notify/cell";
    s.app_instance_id = "app-1";
    s.devices = {rni_associate_id{1, "10.100.0.1"}};
    s.cells = {ecgi{"ACBDEFA", "001", "01"}};
    s.statuses = {ho_status::in_preparation, ho_status::in_execution, ho_status::completed};
    s.expiry_deadline = time_stamp{1977836800, 0};
    THROUGH(*prism, "subscribe_cell_change", rnis.subscribe_cell_change(s));
    THROUGH(*prism, "unsubscribe", rnis.unsubscribe("http://platform/rni/v2/subscriptions/sub1"));
}

TEST_CASE("MEC030 V2X: the client's requests conform to the spec", "[prism][mock][v2x]") {
    auto prism = start_prism("gs030-MEC030_V2XInformationService.yaml");
    v2x_client v2x(at(*prism), v2x_flavour::etsi);

    predicted_qos by_area;
    route_point a;
    a.latitude = 43.7335;
    a.longitude = 7.4190;
    a.time = time_stamp{1977836800, 0};
    route_point b = a;
    b.latitude = 43.7340;
    by_area.routes = {{a, b}};
    THROUGH(*prism, "provide_predicted_qos (geo area)", v2x.provide_predicted_qos(by_area));

    predicted_qos by_cell;
    by_cell.location_granularity = "100";
    by_cell.time_granularity = time_stamp{10, 0};
    route_point c;
    c.cell = ecgi{"ACBDEFA", "001", "01"};
    c.time = time_stamp{1977836800, 0};
    route_point d = c;
    d.cell = ecgi{"FEDCBAA", "001", "01"};
    // The spec wants 2 points a route at least (origin and destination): the client does not
    // check that itself.
    by_cell.routes = {{c, d}, {a, b}};
    THROUGH(*prism, "provide_predicted_qos (cell, two routes)", v2x.provide_predicted_qos(by_cell));
}

TEST_CASE("Prism names the path and the field of a request that violates the spec", "[prism][mock][self]") {
    // What a failure of the tests above reads like, and proof that they can fail.
    auto prism = start_prism("gs013-LocationAPI.yaml");
    api_client raw(at(*prism), "location/v2");
    const auto from = prism->mark();
    auto r = raw.call("POST", "/subscriptions/zonalTraffic",
                      json{{"zonalTrafficSubscription", {{"callbackReference", {{"notifyURL", 5}}}}}});
    CHECK_FALSE(r.has_value());
    auto said = prism->since(from);
    const auto errors = fmt::format("{}", fmt::join(said.request_errors(), "\n"));
    INFO(errors);
    CHECK_THAT(errors, Catch::Contains("post /location/v2/subscriptions/zonalTraffic: Violation: "
                                       "request.body.zonalTrafficSubscription.callbackReference.notifyURL"));
    CHECK_THAT(errors, Catch::Contains("must have required property 'zoneId'"));

    const auto again = prism->mark();
    (void)raw.call("GET", "/queries/nowhere");
    CHECK_THAT(fmt::format("{}", fmt::join(prism->since(again).request_errors(), "\n")),
               Catch::Contains("get /location/v2/queries/nowhere: Request terminated with error") &&
                   Catch::Contains("NO_PATH_MATCHED_ERROR"));
}
