// ovs::parse_dump_flows: `ovs-ofctl -O OpenFlow13 dump-flows` lines as OVS 3.1 prints them
// (the integration tests read real ones).
#include <migrate/testbed/ovs.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
namespace ovs = migrate::testbed::ovs;

TEST_CASE("ovs: dump-flows output parses, including flags and the default priority", "[openflow][ovs_parse]") {
    auto flows = ovs::parse_dump_flows(
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n"
        " cookie=0x4d, duration=0.074s, table=0, n_packets=3, n_bytes=180, priority=100,udp,in_port=5,nw_dst=10.0.0.2,"
        "tp_dst=5683 actions=set_field:10.0.0.3->ip_dst,output:5\n"
        " cookie=0x0, duration=0.037s, table=0, n_packets=0, n_bytes=0, reset_counts priority=0 actions=CONTROLLER:65535\n"
        " cookie=0x0, duration=0.011s, table=3, n_packets=0, n_bytes=0, idle_timeout=60, actions=output:5\n");
    REQUIRE_OK(flows);
    REQUIRE(flows->size() == 3);
    auto& a = (*flows)[0];
    CHECK(a.cookie == 0x4d);
    CHECK(a.n_packets == 3);
    CHECK(a.n_bytes == 180);
    CHECK(a.priority == 100);
    CHECK(a.match == "udp,in_port=5,nw_dst=10.0.0.2,tp_dst=5683");
    CHECK(a.actions == "set_field:10.0.0.3->ip_dst,output:5");
    CHECK((*flows)[1].flags == std::vector<std::string>{"reset_counts"});
    CHECK((*flows)[1].priority == 0);
    CHECK((*flows)[1].match.empty());
    CHECK((*flows)[2].table == 3);
    CHECK((*flows)[2].priority == 32768);
    CHECK((*flows)[2].idle_timeout == 60);
    CHECK((*flows)[2].match.empty());
    CHECK_FALSE(ovs::parse_dump_flows(" cookie=0x0, table=0 priority=1\n"));
}
