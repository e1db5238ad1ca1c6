// OpenFlow vocabulary: addresses, ports, match prerequisites, actions, flow_mod validation
// and the JSON forms Python and the CLI use.
#include <migrate/openflow/message.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::openflow;

namespace {
ipv4_address ip(const char* s) { return ipv4_address::parse(s).value(); }
mac_address mac(const char* s) { return mac_address::parse(s).value(); }

std::string refusal(const result<void>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::invalid_argument);
    return r.error().message;
}
}  // namespace

TEST_CASE("MAC and IPv4 addresses parse, print and compare", "[openflow][types]") {
    auto m = mac_address::parse("02:00:00:AB:cd:01");
    REQUIRE_OK(m);
    CHECK(m->to_string() == "02:00:00:ab:cd:01");
    CHECK(*m == mac("02-00-00-ab-cd-01"));
    CHECK_FALSE(m->is_multicast());
    CHECK(broadcast_mac.is_broadcast());
    for (auto bad : {"", "02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:001", "02.00.00.00.00.01"}) {
        INFO(bad);
        auto r = mac_address::parse(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("is not a MAC address") != std::string::npos);
    }

    auto a = ipv4_address::parse("10.0.0.2");
    REQUIRE_OK(a);
    CHECK(a->value == 0x0a000002);
    CHECK(ipv4_address::from_uint32(0xc0a80101).to_string() == "192.168.1.1");
    CHECK(ip("10.0.0.1") < ip("10.0.0.2"));
    for (auto bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1.", "10..0.1", "a.b.c.d", "10.0.0.1 ", "-1.0.0.0", "1.2.3.0001"}) {
        INFO(bad);
        CHECK_FALSE(ipv4_address::parse(bad));
    }
}

TEST_CASE("ports print and parse by their reserved names", "[openflow][types]") {
    CHECK(port::name(2) == "2");
    CHECK(port::name(port::controller) == "CONTROLLER");
    CHECK(port::parse("controller").value() == port::controller);
    CHECK(port::parse("IN_PORT").value() == port::in_port);
    CHECK(port::parse("17").value() == 17u);
    CHECK_FALSE(port::parse("eth0"));
    CHECK_FALSE(port::parse(""));
}

TEST_CASE("match prerequisites are checked and the refusal names the field", "[openflow][match]") {
    CHECK(match{}.validate());
    CHECK(match{}.empty());
    CHECK(match{}.to_string() == "any");

    CHECK_THAT(refusal(match{.ipv4_dst = ip("10.0.0.1")}.validate()), Catch::Contains("ipv4_dst needs eth_type=0x0800"));
    CHECK_THAT(refusal(match{.eth_type = eth_type::arp, .ipv4_src = ip("10.0.0.1")}.validate()),
               Catch::Contains("ipv4_src needs eth_type=0x0800"));
    CHECK_THAT(refusal(match{.ip_proto = 17}.validate()), Catch::Contains("ip_proto needs eth_type"));
    CHECK_THAT(refusal(match{.eth_type = eth_type::ipv4, .udp_dst = 5683}.validate()),
               Catch::Contains("udp_dst needs ip_proto=17"));
    CHECK_THAT(refusal(match{.eth_type = eth_type::ipv4, .ip_proto = ip_proto::udp, .tcp_dst = 80}.validate()),
               Catch::Contains("tcp_dst needs ip_proto=6"));
    CHECK_THAT(refusal(match{.in_port = 0}.validate()), Catch::Contains("in_port 0"));
    CHECK_THAT(refusal(match{.in_port = port::flood}.validate()), Catch::Contains("in_port FLOOD"));

    match full{.in_port = 1,
               .eth_type = eth_type::ipv4,
               .ipv4_dst = ip("10.0.0.2"),
               .ip_proto = ip_proto::udp,
               .udp_dst = 5683};
    REQUIRE_OK(full.validate());
    CHECK(full.to_string() == "in_port=1,eth_type=0x0800,ip_proto=17,ipv4_dst=10.0.0.2,udp_dst=5683");
    CHECK(match{.eth_type = eth_type::ipv6, .ip_proto = ip_proto::tcp, .tcp_dst = 80}.validate());
}

TEST_CASE("actions validate and print as ovs-ofctl does", "[openflow][action]") {
    CHECK(to_string(action{output{2}}) == "output:2");
    CHECK(to_string(action{output{port::controller}}) == "output:CONTROLLER");
    CHECK(to_string(action{output{port::controller, 128}}) == "output:CONTROLLER:128");
    CHECK(to_string(action{set_field{.ipv4_dst = ip("10.0.0.2")}}) == "set_field:10.0.0.2->ipv4_dst");
    CHECK(to_string(action{set_field{.eth_src = mac("02:00:00:00:00:09")}}) == "set_field:02:00:00:00:00:09->eth_src");

    CHECK_THAT(refusal(validate(action{set_field{}})), Catch::Contains("exactly one field must be set, 0 are"));
    CHECK_THAT(refusal(validate(action{set_field{.udp_src = 1, .udp_dst = 2}})), Catch::Contains("2 are"));
    CHECK_THAT(refusal(validate(action{output{0}})), Catch::Contains("0 is not a port"));
    CHECK_THAT(refusal(validate(action{output{port::any}})), Catch::Contains("ANY"));
    CHECK(validate(action{output{port::in_port}}));

    // set_field needs its header guaranteed by the match (OFPBAC_MATCH_INCONSISTENT otherwise).
    CHECK_THAT(refusal(check_against(set_field{.ipv4_dst = ip("10.0.0.2")}, match{})),
               Catch::Contains("set_field ipv4_dst needs eth_type=0x0800"));
    CHECK_THAT(refusal(check_against(set_field{.udp_dst = 1}, match{.eth_type = eth_type::ipv4})),
               Catch::Contains("set_field udp_dst needs ip_proto=17"));
    CHECK(check_against(set_field{.eth_dst = mac("02:00:00:00:00:01")}, match{}));
}

TEST_CASE("flow_mod validation names the rule and the field", "[openflow][flow_mod]") {
    flow_mod m;
    m.priority = 100;
    m.match.in_port = 2;
    m.actions = {set_field{.ipv4_dst = ip("10.0.0.3")}, output{1}};
    auto why = refusal(m.validate());
    CHECK_THAT(why, Catch::Contains("flow_mod (add table 0 priority 100 in_port=2 -> set_field:10.0.0.3->ipv4_dst,output:1)"));
    CHECK_THAT(why, Catch::Contains("set_field ipv4_dst needs eth_type=0x0800"));
    m.match.eth_type = eth_type::ipv4;
    REQUIRE_OK(m.validate());

    flow_mod all_tables;
    all_tables.table_id = table_all;
    CHECK_THAT(refusal(all_tables.validate()), Catch::Contains("only valid for remove"));
    all_tables.command = flow_command::remove;
    CHECK(all_tables.validate());
    CHECK(all_tables.to_string() == "remove table 255 priority 32768 any");
    flow_mod drop;
    CHECK(drop.to_string() == "add table 0 priority 32768 any -> drop");
}

TEST_CASE("flow_mod JSON round-trips and refuses typos", "[openflow][flow_mod][json]") {
    auto j = json::parse(R"({
        "command": "add", "table_id": 0, "priority": 200, "cookie": 7,
        "match": {"in_port": 2, "eth_dst": "02:00:00:00:00:01", "eth_type": "0x0800",
                  "ip_proto": 17, "ipv4_dst": "10.0.0.2", "udp_dst": 5683},
        "actions": [{"set_field": {"ipv4_dst": "10.0.0.3"}}, {"output": 1},
                    {"output": "controller"}, {"output": {"port": "controller", "max_len": 128}}]
    })");
    auto m = j.get<flow_mod>();
    CHECK(m.priority == 200);
    CHECK(m.cookie == 7);
    CHECK(m.match.eth_type == eth_type::ipv4);
    CHECK(m.match.udp_dst == 5683);
    REQUIRE(m.actions.size() == 4);
    CHECK(std::get<set_field>(m.actions[0]).ipv4_dst == ip("10.0.0.3"));
    CHECK(std::get<output>(m.actions[2]).port == port::controller);
    CHECK(std::get<output>(m.actions[3]).max_len == 128);
    REQUIRE_OK(m.validate());
    CHECK(json(m).get<flow_mod>() == m);
    CHECK(json::parse(R"({"command": "delete_strict"})").get<flow_mod>().command == flow_command::remove_strict);

    auto refused = [](const char* text) {
        try {
            (void)json::parse(text).get<flow_mod>();
        } catch (const migration_error& e) {
            CHECK(e.details().code == error::invalid_argument);
            return e.details().message;
        }
        FAIL("accepted " << text);
        return std::string{};
    };
    CHECK_THAT(refused(R"({"match": {"ipv4_dest": "10.0.0.1"}})"), Catch::Contains("match.ipv4_dest: unknown match field"));
    CHECK_THAT(refused(R"({"priorty": 1})"), Catch::Contains("flow_mod.priorty: unknown key"));
    CHECK_THAT(refused(R"({"command": "insert"})"), Catch::Contains("'insert' is not add"));
    CHECK_THAT(refused(R"({"priority": 70000})"), Catch::Contains("flow_mod.priority: 70000 is out of range"));
    CHECK_THAT(refused(R"({"priority": -1})"), Catch::Contains("must not be negative"));
    CHECK_THAT(refused(R"({"match": {"eth_src": "nope"}})"), Catch::Contains("match.eth_src: 'nope' is not a MAC"));
    CHECK_THAT(refused(R"({"actions": [{"drop": 1}]})"), Catch::Contains("action.drop: unknown action"));
    CHECK_THAT(refused(R"({"actions": [{"set_field": {"ip_proto": 6}}]})"),
               Catch::Contains("action.set_field.ip_proto: not a field set_field can rewrite"));
    CHECK_THAT(refused(R"({"actions": [{"output": "eth0"}]})"), Catch::Contains("'eth0' is not a port"));
}

TEST_CASE("JSON numbers stored signed (as Python ints arrive) read like unsigned ones", "[openflow][json]") {
    json j = {{"priority", std::int64_t{0}}, {"table_id", std::int64_t{3}}, {"match", {{"in_port", std::int64_t{2}}}},
              {"actions", json::array({{{"output", std::int64_t{1}}}})}};
    auto m = j.get<flow_mod>();
    CHECK(m.priority == 0);
    CHECK(m.table_id == 3);
    CHECK(m.match.in_port == 2u);
    CHECK(std::get<output>(m.actions[0]).port == 1u);
    j["priority"] = std::int64_t{-5};
    CHECK_THROWS_WITH(j.get<flow_mod>(), Catch::Contains("flow_mod.priority: must not be negative, got -5"));
}
