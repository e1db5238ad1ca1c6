// The MEC notification receiver (subscription lifetime: renewal before expiry and on an
// ExpiryNotification, deletion on stop, errors naming the subscription) and the mec_rnis and
// mec_ams triggers, against a recording loopback platform (mec_test_server.hpp) that answers
// subscriptions and to whose callbacks the tests POST the specs' own notification examples;
// mec_ams also against the MEC platform emulator's AMS (a forced move-out).
#include "../require_ok.hpp"
#include "beast_client.hpp"
#include "mec_test_server.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/mec/notification_receiver.hpp>
#include <migrate/trigger/mec_ams.hpp>
#include <migrate/trigger/mec_location.hpp>
#include <migrate/trigger/mec_rnis.hpp>

#include "../decision_log.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace migrate;
using namespace std::chrono_literals;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::recorded_request;

using migrate::test::decision_log;

namespace {

/// A platform that accepts every subscription (201 with a self link / resourceURL of its own
/// numbering, plus `extra` merged into the reply) and every DELETE.
struct fake_platform {
    std::atomic<int> next{1};
    json extra = json::object();
    std::mutex m;
    mec_test_server srv{[this](const recorded_request& r) -> canned_reply {
        if (r.method == "POST") {
            json b = json::parse(r.body);
            auto self = fmt::format("{}{}/sub{}", base_url(), r.target, next++);
            if (b.contains("zonalTrafficSubscription")) {
                b["zonalTrafficSubscription"]["resourceURL"] = self;
                b["zonalTrafficSubscription"].update(extra);
            } else if (r.target.find("/location/") != std::string::npos) {   // MEC013 v3: unwrapped
                b["resourceURL"] = self;
                b.update(extra);
            } else {
                b["_links"] = {{"self", {{"href", self}}}};
                b.update(extra);
            }
            return {201, b.dump()};
        }
        if (r.method == "GET") return {404, R"({"title": "no rab_info here", "status": 404})"};
        return {204, ""};
    }};

    std::string base_url() const { return srv.base_url(); }
    mec::client_options options() const {
        mec::client_options o;
        o.base_url = base_url();
        return o;
    }
    std::vector<recorded_request> requests(const std::string& method) const {
        std::vector<recorded_request> out;
        for (auto& r : srv.requests())
            if (r.method == method) out.push_back(r);
        return out;
    }
    /// The callback URL of the last subscription created.
    std::string last_callback() const {
        auto posts = requests("POST");
        REQUIRE_FALSE(posts.empty());
        json b = json::parse(posts.back().body);
        if (b.contains("zonalTrafficSubscription")) return b["zonalTrafficSubscription"]["callbackReference"]["notifyURL"];
        if (b["callbackReference"].is_object()) return b["callbackReference"]["notifyURL"];
        return b["callbackReference"];
    }
};

/// POSTs `body` to `url` (a receiver's callback on loopback).
test::beast_reply notify(const std::string& url, const std::string& body) {
    auto rest = url.substr(url.find("//") + 2);
    auto colon = rest.find(':');
    auto slash = rest.find('/');
    auto port = static_cast<std::uint16_t>(std::stoi(rest.substr(colon + 1, slash - colon - 1)));
    return test::beast_exchange(port, "POST", rest.substr(slash), body);
}


template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds within = 5s) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
        if (p()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return p();
}

// etsi-mec/gs012-RniAPI.yaml CellChangeNotification example, with its trgEcgi.cellId put
// inside trgEcgi (the example has it beside; mec_rnis_test.cpp shows the parser naming that).
json cell_change(int ho_status, const std::string& source, const std::string& target) {
    auto j = json::parse(R"({"notificationType": "CellChangeNotification",
      "associateId": [{"type": 1, "value": "10.100.0.1"}], "hoStatus": 1,
      "srcEcgi": {"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "ACBDEFA"},
      "tempUeId": {"mmec": 1, "mtmsi": 1011231231234},
      "timeStamp": {"seconds": 1977836800, "nanoSeconds": 0},
      "trgEcgi": [{"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "FEDCBAA"}]})");
    j["hoStatus"] = ho_status;
    j["srcEcgi"]["cellId"] = source;
    j["trgEcgi"][0]["cellId"] = target;
    return j;
}

// advantedge/meep-ams-swagger.yaml MobilityProcedureNotification, as AdvantEDGE sends it to
// the source instance (same body as mec_ams_test.cpp).
json moveout(const std::string& status, const std::string& target_instance) {
    auto j = json::parse(R"({
      "notificationType": "MobilityProcedureNotification",
      "timeStamp": {"seconds": 1673525362, "nanoSeconds": 0},
      "associateId": [{"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}],
      "mobilityStatus": "INTERHOST_MOVEOUT_TRIGGERED",
      "targetAppInfo": {"appInstanceId": "demo3-instance-mep2",
                        "commInterface": {"ipAddresses": [{"host": "10.200.0.2", "port": 31112}]}},
      "_links": {"subscription": {"href": "http://mep1/amsi/v1/subscriptions/sub-7"}}})");
    j["mobilityStatus"] = status;
    j["targetAppInfo"]["appInstanceId"] = target_instance;
    return j;
}

}  // namespace

TEST_CASE("notification_receiver: callback URL from the advertised address; 404 for unknown ids, 400 naming the field", "[mec][receiver]") {
    fake_platform platform;
    mec::notification_receiver_options o;
    o.advertised_url = "http://203.0.113.7:8080";   // what a platform behind NAT must be told
    auto rx = mec::notification_receiver::start(o);
    REQUIRE_OK(rx);
    CHECK((*rx)->callback_base() == "http://203.0.113.7:8080/mec/notify");

    std::atomic<int> delivered{0};
    mec::cell_change_subscription s;
    s.app_instance_id = "myApp";
    auto id = (*rx)->subscribe(mec::cell_change_subscription_spec(platform.options(), s, std::nullopt,
                                                                  [&](const mec::cell_change_notification&, const json&) -> result<void> {
                                                                      ++delivered;
                                                                      return {};
                                                                  }));
    REQUIRE_OK(id);
    auto cb = platform.last_callback();
    CHECK(cb == "http://203.0.113.7:8080/mec/notify/" + *id);

    // The platform cannot reach 203.0.113.7 from here; we post to the local server on the same path.
    auto local = (*rx)->local_url() + "/mec/notify/" + *id;
    CHECK(notify(local, cell_change(1, "A", "B").dump()).status == 204);
    CHECK(delivered == 1);
    auto bad = cell_change(1, "A", "B");
    bad["hoStatus"] = 9;
    auto rejected = notify(local, bad.dump());
    CHECK(rejected.status == 400);
    CHECK_THAT(rejected.body, Catch::Contains("/hoStatus"));
    CHECK_THAT(rejected.body, Catch::Contains("rnis CellChangeSubscription myApp"));
    CHECK(notify((*rx)->local_url() + "/mec/notify/s999", cell_change(1, "A", "B").dump()).status == 404);
    auto st = (*rx)->subscriptions();
    REQUIRE(st.size() == 1);
    CHECK(st[0].notifications == 1);
    CHECK(st[0].rejected == 1);

    // Stopped: the subscription is deleted at the platform and the path answers no more.
    (*rx)->stop();
    auto deletes = platform.requests("DELETE");
    REQUIRE(deletes.size() == 1);
    CHECK(deletes[0].target == "/rni/v2/subscriptions/sub1");
    CHECK(delivered == 1);
}

TEST_CASE("notification_receiver: a subscription is renewed before its expiryDeadline and on an ExpiryNotification", "[mec][receiver]") {
    fake_platform platform;
    mec::notification_receiver_options o;
    o.renew_before = 30s;   // longer than the lifetime: half the lifetime is used
    auto rx = mec::notification_receiver::start(o);
    REQUIRE_OK(rx);
    mec::mobility_procedure_subscription s;
    s.app_instance_id = "demo3-instance-mep1";
    auto id = (*rx)->subscribe(mec::mobility_procedure_subscription_spec(
        platform.options(), s, 2s, [](const mec::mobility_procedure_notification&, const json&) -> result<void> { return {}; }));
    REQUIRE_OK(id);
    auto first = platform.last_callback();
    auto first_body = json::parse(platform.requests("POST")[0].body);
    CHECK(first_body.contains("expiryDeadline"));

    // Renewed at about half of the 2 s: a new subscription on the same callback, the old deleted.
    REQUIRE(eventually([&] { return platform.requests("DELETE").size() >= 1; }, 4s));
    CHECK(platform.requests("POST").size() >= 2);
    CHECK(platform.last_callback() == first);
    CHECK(platform.requests("DELETE")[0].target == "/amsi/v1/subscriptions/sub1");
    auto st = (*rx)->subscriptions();
    REQUIRE(st.size() == 1);
    CHECK(st[0].renewals >= 1);
    CHECK(st[0].resource_url != platform.base_url() + "/amsi/v1/subscriptions/sub1");

    // MEC012 ExpiryNotification: renewed at once.
    auto posts = platform.requests("POST").size();
    auto local = (*rx)->local_url() + "/mec/notify/" + *id;
    auto expiry = json{{"_links", {{"self", {{"href", st[0].resource_url}}}}}, {"expiryDeadline", {{"seconds", 1977836800}, {"nanoSeconds", 0}}}};
    CHECK(notify(local, expiry.dump()).status == 204);
    CHECK(eventually([&] { return platform.requests("POST").size() > posts; }, 1s));
    (*rx)->stop();
}

TEST_CASE("notification_receiver: a failed create names the subscription and its callback URL and keeps nothing", "[mec][receiver]") {
    mec_test_server refusing([](const recorded_request&) -> canned_reply {
        return {400, R"({"title": "Bad Request", "status": 400, "detail": "callbackReference unreachable"})"};
    });
    auto rx = mec::notification_receiver::start({});
    REQUIRE_OK(rx);
    mec::client_options co;
    co.base_url = refusing.base_url();
    mec::cell_change_subscription s;
    s.app_instance_id = "myApp";
    auto id = (*rx)->subscribe(mec::cell_change_subscription_spec(co, s, std::nullopt,
                                                                  [](const mec::cell_change_notification&, const json&) -> result<void> { return {}; }));
    REQUIRE_FALSE(id.has_value());
    CHECK(id.error_code() == condition::invalid_argument);
    CHECK_THAT(id.error().message, Catch::Contains("rnis CellChangeSubscription myApp"));
    CHECK_THAT(id.error().message, Catch::Contains((*rx)->callback_base()));
    CHECK_THAT(id.error().message, Catch::Contains("callbackReference unreachable"));
    CHECK((*rx)->subscriptions().empty());
}

TEST_CASE("mec_rnis: IN_PREPARATION decides early, COMPLETED of the same handover confirms; CANCELLED goes back", "[mec][trigger][mec_rnis]") {
    fake_platform platform;
    mec_rnis_trigger_options o;
    o.platform = platform.options();
    o.app_instance_id = "myApp";
    o.cell_hosts = {{"ACBDEFA", "mep1"}, {"FEDCBAA", "mep2"}};
    auto t = mec_rnis_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));   // rab_info answers 404 here: not a failure
    auto cb = platform.last_callback();
    auto sub = json::parse(platform.requests("POST").back().body);
    CHECK(sub["subscriptionType"] == "CellChangeSubscription");
    CHECK(sub["filterCriteriaAssocHo"]["appInstanceId"] == "myApp");
    auto local = (*t)->receiver()->local_url() + cb.substr(cb.find("/mec/notify"));

    REQUIRE(notify(local, cell_change(1, "ACBDEFA", "FEDCBAA").dump()).status == 204);   // IN_PREPARATION
    REQUIRE(log.size() == 1);
    CHECK(log.at(0).subject == "10.100.0.1");
    CHECK(log.at(0).from == "mep1");
    CHECK(log.at(0).to == "mep2");
    CHECK_THAT(log.at(0).reason, Catch::Contains("early warning"));
    CHECK(log.at(0).evidence["ho_status"] == "IN_PREPARATION");
    CHECK(log.at(0).evidence["target_cells"] == json::array({"FEDCBAA"}));
    REQUIRE(notify(local, cell_change(2, "ACBDEFA", "FEDCBAA").dump()).status == 204);   // IN_EXECUTION
    REQUIRE(notify(local, cell_change(3, "ACBDEFA", "FEDCBAA").dump()).status == 204);   // COMPLETED
    CHECK(log.size() == 1);   // one handover, one decision
    CHECK((*t)->stats().confirmed == 2);
    CHECK((*t)->host_of("10.100.0.1") == "mep2");

    // The next handover is seen first as COMPLETED: it decides then.
    REQUIRE(notify(local, cell_change(3, "FEDCBAA", "ACBDEFA").dump()).status == 204);
    REQUIRE(log.size() == 2);
    CHECK(log.at(1).from == "mep2");
    CHECK(log.at(1).to == "mep1");
    CHECK(log.at(1).evidence["ho_status"] == "COMPLETED");

    // Prepared, then cancelled: the service goes back where the UE stayed.
    REQUIRE(notify(local, cell_change(1, "ACBDEFA", "FEDCBAA").dump()).status == 204);
    REQUIRE(notify(local, cell_change(5, "ACBDEFA", "FEDCBAA").dump()).status == 204);
    REQUIRE(log.size() == 4);
    CHECK(log.at(3).from == "mep2");
    CHECK(log.at(3).to == "mep1");
    CHECK(log.at(3).evidence["ho_status"] == "CANCELLED");
    CHECK((*t)->stats().undone == 1);

    // An unmapped target cell decides nothing.
    REQUIRE(notify(local, cell_change(1, "ACBDEFA", "0000000").dump()).status == 204);
    CHECK(log.size() == 4);

    (*t)->stop();
    CHECK(platform.requests("DELETE").size() == 1);
    CHECK(notify(local, cell_change(1, "ACBDEFA", "FEDCBAA").dump()).status == 404);
    CHECK(log.size() == 4);
}

TEST_CASE("mec_ams: INTERHOST_MOVEOUT_TRIGGERED with targetAppInfo is a decision to the target instance's host", "[mec][trigger][mec_ams]") {
    fake_platform platform;
    mec_ams_trigger_options o;
    o.platform = platform.options();
    o.app_instance_id = "demo3-instance-mep1";
    o.app_instance_hosts = {{"demo3-instance-mep1", "mep1"}, {"demo3-instance-mep2", "mep2"}};
    auto t = mec_ams_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    auto sub = json::parse(platform.requests("POST").back().body);
    CHECK(sub["subscriptionType"] == "MobilityProcedureSubscription");
    CHECK(sub["filterCriteria"]["appInstanceId"] == "demo3-instance-mep1");
    auto cb = platform.last_callback();
    auto local = (*t)->receiver()->local_url() + cb.substr(cb.find("/mec/notify"));

    REQUIRE(notify(local, moveout("INTERHOST_MOVEOUT_TRIGGERED", "demo3-instance-mep2").dump()).status == 204);
    REQUIRE(log.size() == 1);
    CHECK(log.at(0).subject == "10.100.0.1");
    CHECK(log.at(0).from == "mep1");
    CHECK(log.at(0).to == "mep2");
    CHECK(log.at(0).evidence["target_app_instance_id"] == "demo3-instance-mep2");
    CHECK(log.at(0).evidence["target_endpoints"][0]["port"] == 31112);
    // Again for the same target (a platform repeating itself): no second move.
    REQUIRE(notify(local, moveout("INTERHOST_MOVEOUT_TRIGGERED", "demo3-instance-mep2").dump()).status == 204);
    REQUIRE(notify(local, moveout("INTERHOST_MOVEOUT_COMPLETED", "demo3-instance-mep2").dump()).status == 204);
    CHECK(log.size() == 1);
    CHECK((*t)->stats().completed == 1);
    // An instance nobody mapped: nothing to move to.
    REQUIRE(notify(local, moveout("INTERHOST_MOVEOUT_TRIGGERED", "somebody-else").dump()).status == 204);
    CHECK(log.size() == 1);
    CHECK((*t)->host_of("10.100.0.1") == "mep2");

    (*t)->stop();
    CHECK(platform.requests("DELETE").size() == 1);
}

TEST_CASE("mec_ams against the emulator: a registered UE moving to the other host's zone is a decision to a1's host; renewed past its expiryDeadline", "[mec][trigger][mec_ams][sim]") {
    // Two instances of one app: a1 on mep1 (zone01), a2 on mep2 (zone04), where 10.1.0.4 stands.
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    mec::emulator_options eo;
    eo.time_scale = 0;
    eo.app_instances = {{"a1", "mep1", "counter", {}, {{"10.2.0.10", 8080}}}, {"a2", "mep2", "counter", {}, {{"10.3.0.10", 8080}}}};
    auto emu = mec::emulator::start(std::move(*s), eo);
    REQUIRE_OK(emu);

    mec_ams_trigger_options o;
    o.platform.base_url = (*emu)->url();
    o.app_instance_id = "a2";
    o.devices = {{"UE_IPv4_ADDRESS", "10.1.0.4"}};
    o.register_devices = true;   // the emulator announces registered devices only
    o.app_instance_hosts = {{"a1", "mep1"}, {"a2", "mep2"}};
    o.lifetime = 2s;             // the emulator drops a subscription at its expiryDeadline
    auto t = mec_ams_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    std::this_thread::sleep_for(2500ms);
    auto subs = (*t)->receiver()->subscriptions();
    REQUIRE(subs.size() == 1);
    CHECK(subs[0].renewals >= 1);
    CHECK(subs[0].last_error.empty());

    REQUIRE_OK((*emu)->force("10.1.0.4", "4g-macro-cell-1"));   // zone01: mep1
    REQUIRE(eventually([&] { return log.size() >= 1; }));
    auto d = log.at(0);
    CHECK(d.subject == "10.1.0.4");
    CHECK(d.from == "mep2");
    CHECK(d.to == "mep1");
    CHECK(d.evidence["target_app_instance_id"] == "a1");
    CHECK(d.evidence["target_endpoints"][0]["host"] == "10.2.0.10");
    CHECK(d.evidence["notification"]["mobilityStatus"] == "INTERHOST_MOVEOUT_TRIGGERED");

    // Stopped: subscription and registration are gone, the next move-out reaches nobody.
    (*t)->stop();
    auto before = (*emu)->notifications_sent() + (*emu)->notifications_failed();
    REQUIRE_OK((*emu)->force("10.1.0.4", (*emu)->model().find_zone("zone04")->access_points.front()));
    REQUIRE_OK((*emu)->force("10.1.0.4", "4g-macro-cell-1"));
    std::this_thread::sleep_for(200ms);
    CHECK((*emu)->notifications_sent() + (*emu)->notifications_failed() == before);
    CHECK(log.size() == 1);
}

TEST_CASE("mec_location v3: unwrapped subscription and notification; the previous access point tells `from`", "[mec][trigger][mec_location]") {
    fake_platform platform;   // answers the users query 404: no initial position
    mec_location_trigger_options o;
    o.platform = platform.options();
    o.flavour = mec::location_flavour::v3;
    o.zones = {"zone01"};
    o.access_point_hosts = {{"ap-east", "mep1"}, {"ap-west", "mep2"}};
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    auto posts = platform.requests("POST");
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].target == "/location/v3/subscriptions/zonalTraffic");
    auto sub = json::parse(posts[0].body);
    CHECK_FALSE(sub.contains("zonalTrafficSubscription"));
    CHECK(sub["zoneId"] == "zone01");
    auto cb = platform.last_callback();
    auto local = (*t)->receiver()->local_url() + cb.substr(cb.find("/mec/notify"));

    json n{{"zoneId", "zone01"}, {"address", "acr:10.0.0.7"}, {"userEventType", "Transferring"},
           {"currentAccessPointId", "ap-west"}, {"previousAccessPointId", "ap-east"},
           {"timestamp", {{"seconds", 1977836800}, {"nanoSeconds", 0}}}, {"link", json::array()}};
    REQUIRE(notify(local, n.dump()).status == 204);
    REQUIRE(log.size() == 1);
    CHECK(log.at(0).subject == "10.0.0.7");
    CHECK(log.at(0).from == "mep1");
    CHECK(log.at(0).to == "mep2");
    (*t)->stop();
    auto deletes = platform.requests("DELETE");
    REQUIRE(deletes.size() == 1);
    CHECK(deletes[0].target == "/location/v3/subscriptions/zonalTraffic/sub1");
}

TEST_CASE("mec_rnis against the emulator: a handover into the other host's cell decides on IN_PREPARATION, COMPLETED confirms", "[mec][trigger][mec_rnis][sim]") {
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    mec::emulator_options eo;
    eo.time_scale = 0;
    auto emu = mec::emulator::start(std::move(*s), eo);
    REQUIRE_OK(emu);
    // Every 4G/5G cell of zone01 is mep1's, of zone04 mep2's; 10.1.0.4 starts on a zone04 cell.
    mec_rnis_trigger_options o;
    o.platform.base_url = (*emu)->url();
    o.app_instance_id = "counter-a2";
    std::string start_cell, target_ap;
    for (auto& ap : (*emu)->model().access_points()) {
        if (ap.type == mec::poa_type::wifi || ap.cell_id.empty()) continue;
        if (ap.zone == "zone01") {
            o.cell_hosts[ap.cell_id] = "mep1";
            if (target_ap.empty()) target_ap = ap.name;
        }
        if (ap.zone == "zone04") {
            o.cell_hosts[ap.cell_id] = "mep2";
            if (start_cell.empty()) {
                start_cell = ap.cell_id;
                REQUIRE_OK((*emu)->force("10.1.0.4", ap.name));
            }
        }
    }
    REQUIRE_FALSE(start_cell.empty());
    REQUIRE_FALSE(target_ap.empty());
    auto t = mec_rnis_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    CHECK((*t)->host_of("10.1.0.4") == "mep2");   // from rab_info

    REQUIRE_OK((*emu)->force("10.1.0.4", target_ap));
    REQUIRE(eventually([&] { return (*t)->stats().confirmed >= 1; }));
    REQUIRE(log.size() == 1);   // IN_PREPARATION decided, COMPLETED confirmed
    auto d = log.at(0);
    CHECK(d.subject == "10.1.0.4");
    CHECK(d.from == "mep2");
    CHECK(d.to == "mep1");
    CHECK(d.evidence["ho_status"] == "IN_PREPARATION");
    CHECK(d.evidence["source_cell"] == start_cell);
    CHECK((*t)->stats().early == 1);
    (*t)->stop();
    CHECK((*t)->receiver()->subscriptions().empty());
}
