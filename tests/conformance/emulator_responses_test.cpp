// The emulator's answers (mec/emulator.hpp) validated against the official ETSI specs: the
// SDK's clients talk to `prism proxy` of the spec in front of the emulator, so each request
// and each answer (status, headers, body, error documents included) is checked; a violation
// on either side fails the test naming the request, the path and the field.
#include "prism_check.hpp"

#include <migrate/mec/ams.hpp>
#include <migrate/mec/app_support.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/rnis.hpp>

#include <fmt/format.h>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::judged;
using migrate::test::start_prism;
using migrate::test::through_prism;

namespace {

/// The dual-MEP Monaco scenario, paused, with app instance "a1" on mep1 (traffic rule "r1")
/// and "a2" on mep2, both of application "counter".
std::unique_ptr<emulator> start_emulator() {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    o.time_scale = 0;   // UEs stay where they are unless a test moves them
    traffic_rule r1;
    r1.id = "r1";
    r1.priority = 1;
    r1.document = json{{"trafficFilter", json::array({{{"dstAddress", {"10.1.0.0/16"}}}})},
                       {"dstInterface", {{"interfaceType", "IP"}, {"dstIpAddress", "10.2.0.10"}}}};
    o.app_instances = {{"a1", "mep1", "counter", {r1}, {{"10.2.0.10", 8080}}},
                       {"a2", "mep2", "counter", {}, {{"10.3.0.10", 8080}}}};
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);
    return std::move(*emu);
}

client_options at(const test::prism_server& prism) {
    client_options o;
    o.base_url = prism.url();
    return o;
}

#define EXCHANGE(prism, what, expr) through_prism(prism, judged::requests_and_responses, what, [&] { return (expr); })

}  // namespace

TEST_CASE("emulator MEC013 Location v2: answers conform to the spec", "[prism][proxy][location]") {
    auto emu = start_emulator();
    auto prism = start_prism("gs013-LocationAPI.yaml", fmt::format("http://127.0.0.1:{}", emu->port()));
    location_client loc(at(*prism), location_flavour::v2);

    auto zones = EXCHANGE(*prism, "zones()", loc.zones());
    REQUIRE_OK(zones);
    REQUIRE_FALSE(zones->empty());
    const auto zone_id = zones->front().zone_id;
    REQUIRE_OK(EXCHANGE(*prism, "zone(id)", loc.zone(zone_id)));
    auto aps = EXCHANGE(*prism, "access_points(zone)", loc.access_points(zone_id));
    REQUIRE_OK(aps);
    REQUIRE_FALSE(aps->empty());
    REQUIRE_OK(EXCHANGE(*prism, "access_point(zone, id)", loc.access_point(zone_id, aps->front().access_point_id)));

    auto users = EXCHANGE(*prism, "users()", loc.users());
    REQUIRE_OK(users);
    REQUIRE_FALSE(users->empty());
    const auto& someone = users->front();
    REQUIRE_OK(EXCHANGE(*prism, "users(zone)", loc.users(user_query{{someone.zone_id}, {}, {}})));
    REQUIRE_OK(EXCHANGE(*prism, "users(access point)", loc.users(user_query{{}, {someone.access_point_id}, {}})));
    REQUIRE_OK(EXCHANGE(*prism, "user(address)", loc.user(someone.address)));

    // Error answers are documents of the spec too (ProblemDetails with the spec's status).
    auto missing = EXCHANGE(*prism, "zone(unknown)", loc.zone("no-such-zone"));
    CHECK(missing.error_code() == error::not_found);

    zonal_traffic_subscription z;
    z.callback_url = "http://127.0.0.1:9/notify/zonal";
    z.zone_id = zone_id;
    z.user_event_criteria = {user_event_type::entering, user_event_type::leaving, user_event_type::transferring};
    z.client_correlator = "corr-1";
    z.callback_data = "cb-1";
    auto zs = EXCHANGE(*prism, "subscribe_zonal_traffic", loc.subscribe_zonal_traffic(z));
    REQUIRE_OK(zs);

    user_tracking_subscription u;
    u.callback_url = "http://127.0.0.1:9/notify/user";
    u.address = someone.address;
    u.user_event_criteria = {user_event_type::entering, user_event_type::transferring};
    u.client_correlator = "corr-2";
    u.callback_data = "cb-2";
    auto us = EXCHANGE(*prism, "subscribe_user_tracking", loc.subscribe_user_tracking(u));
    REQUIRE_OK(us);

    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe_zonal_traffic", loc.unsubscribe_zonal_traffic(zs->resource_url)));
    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe_user_tracking", loc.unsubscribe_user_tracking(us->resource_url)));
    auto gone = EXCHANGE(*prism, "unsubscribe_zonal_traffic (again)", loc.unsubscribe_zonal_traffic(zs->resource_url));
    CHECK(gone.error_code() == error::not_found);
}

TEST_CASE("emulator MEC011 app support: answers conform to the spec", "[prism][proxy][app_support]") {
    auto emu = start_emulator();
    auto prism = start_prism("gs011-MecAppSupportApi.yaml", fmt::format("http://127.0.0.1:{}", emu->port()));
    app_support_client a1(at(*prism), "a1");

    REQUIRE_OK(EXCHANGE(*prism, "confirm_ready", a1.confirm_ready()));
    auto sub = EXCHANGE(*prism, "subscribe_termination", a1.subscribe_termination("http://127.0.0.1:9/notify/termination"));
    REQUIRE_OK(sub);
    auto rules = EXCHANGE(*prism, "traffic_rules", a1.traffic_rules());
    REQUIRE_OK(rules);
    REQUIRE(rules->size() == 1);
    REQUIRE_OK(EXCHANGE(*prism, "traffic_rule_by_id", a1.traffic_rule_by_id("r1")));
    REQUIRE_OK(EXCHANGE(*prism, "set_traffic_rule_state", a1.set_traffic_rule_state("r1", traffic_rule_state::inactive)));
    auto unknown = EXCHANGE(*prism, "traffic_rule_by_id(unknown)", a1.traffic_rule_by_id("no-such-rule"));
    CHECK(unknown.error_code() == error::not_found);
    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe", a1.unsubscribe(sub->self_url)));
    REQUIRE_OK(EXCHANGE(*prism, "confirm_termination", a1.confirm_termination(operation_action::terminating)));
}

TEST_CASE("emulator MEC011 service management: answers conform to the spec", "[prism][proxy][app_support]") {
    auto emu = start_emulator();
    auto prism = start_prism("gs011-MecServiceMgmtApi.yaml", fmt::format("http://127.0.0.1:{}", emu->port()));
    app_support_client a2(at(*prism), "a2");

    service_info s;
    s.ser_name = "user-context-transfer";
    s.addresses = {endpoint{"10.3.0.10", 8080}};
    auto offered = EXCHANGE(*prism, "register_service", a2.register_service(s));
    REQUIRE_OK(offered);
    auto all = EXCHANGE(*prism, "services()", a2.services());
    REQUIRE_OK(all);
    CHECK(all->size() == 1);
    REQUIRE_OK(EXCHANGE(*prism, "service(name)", a2.service("user-context-transfer")));
    REQUIRE_OK(EXCHANGE(*prism, "deregister_service", a2.deregister_service(offered->ser_instance_id)));
    auto none = EXCHANGE(*prism, "service(name) after deregistering", a2.service("user-context-transfer"));
    CHECK(none.error_code() == error::not_found);
}

TEST_CASE("emulator MEC021 AMS: answers conform to the spec", "[prism][proxy][ams]") {
    auto emu = start_emulator();
    auto prism = start_prism("gs021-MEC021_AppMobilityService.yaml", fmt::format("http://127.0.0.1:{}", emu->port()));
    ams_client ams(at(*prism));
    const auto ue = emu->states().front().ue;

    registration_info r;
    r.app_instance_id = "a1";
    r.devices = {device_information{associate_id{"UE_IPv4_ADDRESS", ue}, app_mobility_service_level::with_confirmation,
                                    context_transfer_state::not_transferred}};
    auto reg = EXCHANGE(*prism, "register_app", ams.register_app(r));
    REQUIRE_OK(reg);
    REQUIRE_OK(EXCHANGE(*prism, "registration", ams.registration(reg->app_mobility_service_id)));
    REQUIRE_OK(EXCHANGE(*prism, "set_context_transfer_state",
                        ams.set_context_transfer_state(reg->app_mobility_service_id, associate_id{"UE_IPv4_ADDRESS", ue},
                                                       context_transfer_state::user_context_transfer_completed)));

    mobility_procedure_subscription m;
    m.callback_url = "http://127.0.0.1:9/notify/mobility";
    m.app_instance_id = "a1";
    m.devices = {associate_id{"UE_IPv4_ADDRESS", ue}};
    m.statuses = {mobility_status::interhost_moveout_triggered};
    auto ms = EXCHANGE(*prism, "subscribe_mobility_procedure", ams.subscribe_mobility_procedure(m));
    REQUIRE_OK(ms);
    adjacent_app_info_subscription a;
    a.callback_url = "http://127.0.0.1:9/notify/adjacent";
    a.app_instance_id = "a1";
    auto as = EXCHANGE(*prism, "subscribe_adjacent_app_info", ams.subscribe_adjacent_app_info(a));
    REQUIRE_OK(as);
    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe (mobility)", ams.unsubscribe(ms->self_url)));
    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe (adjacent)", ams.unsubscribe(as->self_url)));
    REQUIRE_OK(EXCHANGE(*prism, "deregister", ams.deregister(reg->app_mobility_service_id)));
    auto gone = EXCHANGE(*prism, "registration after deregister", ams.registration(reg->app_mobility_service_id));
    CHECK(gone.error_code() == error::not_found);
}

TEST_CASE("emulator MEC012 RNIS: answers conform to the spec", "[prism][proxy][rnis]") {
    auto emu = start_emulator();
    auto prism = start_prism("gs012-RniAPI.yaml", fmt::format("http://127.0.0.1:{}", emu->port()));
    rnis_client rnis(at(*prism));

    auto all = EXCHANGE(*prism, "rab(app)", rnis.rab("a1"));
    REQUIRE_OK(all);
    REQUIRE_FALSE(all->users.empty());
    REQUIRE_OK(EXCHANGE(*prism, "rab(app, cell)", rnis.rab("a1", {all->users.front().cell.cell_id})));

    cell_change_subscription s;
    s.callback_url = "http://127.0.0.1:9/notify/cell";
    s.app_instance_id = "a1";
    s.devices = all->users.front().devices;
    s.statuses = {ho_status::in_preparation, ho_status::completed};
    auto sub = EXCHANGE(*prism, "subscribe_cell_change", rnis.subscribe_cell_change(s));
    REQUIRE_OK(sub);
    REQUIRE_OK(EXCHANGE(*prism, "unsubscribe", rnis.unsubscribe(sub->self_url)));
    auto gone = EXCHANGE(*prism, "unsubscribe (again)", rnis.unsubscribe(sub->self_url));
    CHECK(gone.error_code() == error::not_found);
}
