// MEC012 RNIS client: the spec's cell change examples, hoStatus as the early warning, bad
// documents named by field, and the client's requests against a loopback server.
#include <migrate/mec/rnis.hpp>

#include "mec_test_server.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {
// etsi-mec/gs012-RniAPI.yaml, /subscriptions POST callbacks `examples.message` exactly as the
// YAML reads: its indentation puts trgEcgi's cellId at the top level (and trgEcgi is one
// object where the schema says an array).
const char* cell_change_example_as_written = R"({"notificationType": "CellChangeNotification",
  "associateId": [{"type": 1, "value": "10.100.0.1"}], "hoStatus": 1,
  "srcEcgi": {"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "ACBDEFA"},
  "tempUeId": {"mmec": 1, "mtmsi": 1011231231234},
  "timeStamp": {"seconds": 1977836800, "nanoSeconds": 0},
  "trgEcgi": {"plmn": {"mnc": "01", "mcc": "001"}}, "cellId": "FEDCBAA"})";

// Same file, /subscriptions POST requestBody `examples.example-cell-change-subscription` and
// the 201 response `examples.example-call-change-subscription`.
const char* subscription_request = R"({"subscriptionType": "CellChangeSubscription",
  "callbackReference": "http://my.callback.com/rni-cell-change/some-id",
  "filterCriteriaAssocHo": {"appInstanceId": "myApp", "associateId": [{"type": 1, "value": "10.100.0.1"}],
    "ecgi": [{"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "ACBDEFA"}], "hoStatus": [1, 2]},
  "expiryDeadline": {"seconds": 1977836800, "nanoSeconds": 0}})";
}  // namespace

TEST_CASE("the spec's own cell change example is rejected naming the misplaced field; fixed, it parses", "[mec][rnis]") {
    json j = json::parse(cell_change_example_as_written);
    auto bad = parse_cell_change_notification(j);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error_code() == error::protocol_error);
    CHECK_THAT(bad.error().message, Catch::Contains("/trgEcgi/cellId: missing"));

    j["trgEcgi"]["cellId"] = j["cellId"];
    j.erase("cellId");
    auto n = parse_cell_change_notification(j);
    REQUIRE(n.has_value());
    CHECK(n->status == ho_status::in_preparation);   // the early warning: not on the new cell yet
    CHECK(n->source.cell_id == "ACBDEFA");
    REQUIRE(n->targets.size() == 1);
    CHECK(n->targets[0] == ecgi{"FEDCBAA", "001", "01"});
    REQUIRE(n->devices.size() == 1);
    CHECK(n->devices[0] == rni_associate_id{1, "10.100.0.1"});

    j["hoStatus"] = 9;
    CHECK_THAT(parse_cell_change_notification(j).error().message, Catch::Contains("/hoStatus: 9 is not a HoStatus (1..5)"));
    j["hoStatus"] = "1";
    CHECK_THAT(parse_cell_change_notification(j).error().message, Catch::Contains("/hoStatus: expected integer, got string"));
}

TEST_CASE("rab_info: users on cells with their E-RABs", "[mec][rnis]") {
    // Shaped by gs012's RabInfo / CellUserInfo / UeInfo / ErabInfo schemas (no example there).
    auto r = parse_rab_info(json::parse(R"({"appInstanceId": "myApp", "requestId": "r1",
      "cellUserInfo": [{"ecgi": {"cellId": "ACBDEFA", "plmn": {"mcc": "001", "mnc": "01"}},
        "ueInfo": [{"associateId": [{"type": 1, "value": "10.100.0.1"}], "erabInfo": [{"erabId": 5}]}]}]})"));
    REQUIRE(r.has_value());
    REQUIRE(r->users.size() == 1);
    CHECK(r->users[0].cell.cell_id == "ACBDEFA");
    CHECK(r->users[0].erab_ids == std::vector<std::int64_t>{5});
}

TEST_CASE("rnis client: cell change subscription as the spec's example, rab_info query, delete", "[mec][rnis]") {
    mec_test_server srv([](const recorded_request& r) -> canned_reply {
        if (r.method == "POST") {
            json b = json::parse(r.body);
            b["_links"] = {{"self", {{"href", "http://meAppServer.example.com/rni/v2/subscriptions/sub123"}}}};
            return {201, b.dump()};
        }
        if (r.method == "GET") return {200, R"({"appInstanceId": "myApp", "requestId": "r1"})"};
        return {204, ""};
    });
    rnis_client rnis(options_for(srv));
    cell_change_subscription s;
    s.callback_url = "http://my.callback.com/rni-cell-change/some-id";
    s.app_instance_id = "myApp";
    s.devices = {{1, "10.100.0.1"}};
    s.cells = {{"ACBDEFA", "001", "01"}};
    s.statuses = {ho_status::in_preparation, ho_status::in_execution};
    s.expiry_deadline = time_stamp{1977836800, 0};
    auto created = rnis.subscribe_cell_change(s);
    REQUIRE(created.has_value());
    CHECK(created->self_url == "http://meAppServer.example.com/rni/v2/subscriptions/sub123");
    CHECK(created->statuses.size() == 2);
    REQUIRE(rnis.rab("myApp", {"ACBDEFA"}).has_value());
    REQUIRE(rnis.unsubscribe(created->self_url).has_value());
    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[0].target == "/sbx1/rni/v2/subscriptions");
    CHECK(json::parse(reqs[0].body) == json::parse(subscription_request));
    CHECK(reqs[1].target == "/sbx1/rni/v2/queries/rab_info?app_ins_id=myApp&cell_id=ACBDEFA");
    CHECK(reqs[2].method == "DELETE");
    CHECK(reqs[2].target == "/sbx1/rni/v2/subscriptions/sub123");
    for (auto& r : reqs) CHECK(r.headers["authorization"] == "Bearer t0k3n");
}
