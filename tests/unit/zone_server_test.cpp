// The zone/location server of workloads A1/A2 on loopback: real sockets, a plain client.
#include "workload_test_util.hpp"

#include <migrate/workload/zone_server.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::workload;
using namespace std::chrono_literals;

TEST_CASE("zone_server_options: validation names the field, JSON round trip", "[workload][zone]") {
    zone_server_options o;
    REQUIRE_OK(o.validate());
    o.address = "localhost";
    auto bad = o.validate();
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("zone_server_options.address"));
    o.address = "10.1.2.3";
    o.zone = "a\nb";
    CHECK_THAT(o.validate().error().message, Catch::Contains("zone_server_options.zone"));
    o.zone = "z9";
    o.max_records = 0;
    CHECK_THAT(o.validate().error().message, Catch::Contains("zone_server_options.max_records"));
    o.max_records = 7;
    o.port = 8123;
    json j = o;
    auto back = j.get<zone_server_options>();
    CHECK(back.address == "10.1.2.3");
    CHECK(back.port == 8123);
    CHECK(back.zone == "z9");
    CHECK(back.max_records == 7);
}

TEST_CASE("in_network: addresses, /24s, /32s and malformed input", "[workload][zone]") {
    CHECK(in_network("10.70.3.2", "10.70.3.0/24"));
    CHECK_FALSE(in_network("10.70.4.2", "10.70.3.0/24"));
    CHECK(in_network("10.70.3.2", "10.70.3.2"));
    CHECK_FALSE(in_network("10.70.3.3", "10.70.3.2/32"));
    CHECK(in_network("192.168.1.1", "0.0.0.0/0"));
    CHECK_FALSE(in_network("10.70.3.2", "10.70.3.0/33"));
    CHECK_FALSE(in_network("not-an-ip", "10.70.3.0/24"));
    CHECK_FALSE(in_network("10.70.3.0/24", "10.70.3.0/24"));   // a network is not an address
    REQUIRE_OK(validate_network("10.70.3.0/24", "f"));
    auto bad = validate_network("10.70.3/24", "a1_downtime_options.source");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("a1_downtime_options.source") && Catch::Contains("10.70.3/24"));
}

TEST_CASE("zone_server answers /zone and /location with the current zone and records each poll", "[workload][zone]") {
    auto s = zone_server::start({.address = "127.0.0.1", .port = 0, .zone = "zone-1"});
    REQUIRE_OK(s);
    auto& srv = **s;
    REQUIRE(srv.port() != 0);
    CHECK(srv.url("/location") == "http://127.0.0.1:" + std::to_string(srv.port()) + "/location");

    auto r = test::raw_http("127.0.0.1", srv.port(), "GET /zone?seq=7");
    CHECK(r.status == 200);
    CHECK(r.body == "zone-1\n");
    REQUIRE_OK(srv.set_zone("zone-2"));
    CHECK(srv.zone() == "zone-2");
    r = test::raw_http("127.0.0.1", srv.port(), "GET /location?x=1&seq=8");
    CHECK(r.status == 200);
    CHECK(r.body == "zone-2\n");
    // Unknown resources and methods are refused and not recorded.
    CHECK(test::raw_http("127.0.0.1", srv.port(), "GET /nothing").status == 404);
    CHECK(test::raw_http("127.0.0.1", srv.port(), "POST /zone").status == 404);

    auto recs = srv.records();
    REQUIRE(recs.size() == 2);
    CHECK(recs[0].peer == "127.0.0.1");
    CHECK(recs[0].path == "/zone");
    CHECK(recs[0].seq == 7);
    CHECK(recs[0].zone == "zone-1");
    CHECK(recs[1].path == "/location");
    CHECK(recs[1].seq == 8);
    CHECK(recs[1].zone == "zone-2");
    CHECK(recs[0].at <= recs[1].at);
    CHECK(srv.answered() == 2);
    CHECK(srv.refused() == 2);
    CHECK(srv.records_from("127.0.0.0/8").size() == 2);
    CHECK(srv.records_from("10.0.0.0/8").empty());

    CHECK(srv.set_zone("").error_code() == error::invalid_argument);
    CHECK(srv.set_zone("a\r\nb").error_code() == error::invalid_argument);
    CHECK(srv.zone() == "zone-2");
    srv.clear_records();
    CHECK(srv.records().empty());
    srv.stop();
    srv.stop();   // idempotent
    CHECK(test::raw_http("127.0.0.1", srv.port(), "GET /zone").status == 0);
}

TEST_CASE("zone_server keeps at most max_records, the newest", "[workload][zone]") {
    auto s = zone_server::start({.address = "127.0.0.1", .max_records = 3});
    REQUIRE_OK(s);
    for (int i = 1; i <= 5; ++i)
        REQUIRE(test::raw_http("127.0.0.1", (*s)->port(), "GET /zone?seq=" + std::to_string(i)).status == 200);
    auto recs = (*s)->records();
    REQUIRE(recs.size() == 3);
    CHECK(recs.front().seq == 3);
    CHECK(recs.back().seq == 5);
    CHECK((*s)->answered() == 5);
}

TEST_CASE("zone_server: a port in use and a bad address fail naming them", "[workload][zone]") {
    auto first = zone_server::start({.address = "127.0.0.1"});
    REQUIRE_OK(first);
    auto second = zone_server::start({.address = "127.0.0.1", .port = (*first)->port()});
    REQUIRE_FALSE(second);
    CHECK(second.error_code() == error::io_error);
    CHECK_THAT(second.error().message, Catch::Contains("127.0.0.1:" + std::to_string((*first)->port())));
    auto bad = zone_server::start({.address = "not-an-address"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
}
