// OpenFlow 1.3 codec: each message's bytes against arrays written from the specification
// (OpenFlow Switch Specification 1.3.5, section 7; the struct names are the spec's), decode
// of what switches send, round trips, and the errors of malformed input.
#include <migrate/openflow/message.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace migrate;
using namespace migrate::openflow;

namespace {

using bytes = std::vector<std::uint8_t>;

ipv4_address ip(const char* s) { return ipv4_address::parse(s).value(); }
mac_address mac(const char* s) { return mac_address::parse(s).value(); }

template <class T>
T decoded_as(const bytes& b) {
    auto m = decode(b);
    INFO(test::why(m));
    REQUIRE(m);
    REQUIRE(std::holds_alternative<T>(*m));
    return std::get<T>(*m);
}

}  // namespace

TEST_CASE("HELLO carries a version bitmap element offering 1.3 only", "[openflow][codec]") {
    const bytes expected{
        0x04, 0x00, 0x00, 0x10,  // ofp_header: version 0x04 (1.3), OFPT_HELLO (0), length 16
        0x00, 0x00, 0x00, 0x07,  //            xid 7
        0x00, 0x01, 0x00, 0x08,  // ofp_hello_elem_versionbitmap: OFPHET_VERSIONBITMAP (1), length 8 (no padding)
        0x00, 0x00, 0x00, 0x10,  //            bitmaps[0]: bit 4 = wire version 0x04
    };
    CHECK(encode(hello{}, 7) == expected);
    auto h = decoded_as<hello>(expected);
    CHECK(h.version == 0x04);
    CHECK(h.version_bitmap == 0x10);
}

TEST_CASE("HELLO from other versions decodes: bitmaps, unknown elements, no elements", "[openflow][codec]") {
    // OpenFlow 1.0 hello: header only, version 0x01.
    auto old = decoded_as<hello>(bytes{0x01, 0x00, 0x00, 0x08, 0, 0, 0, 1});
    CHECK(old.version == 0x01);
    CHECK(old.version_bitmap == 0);
    // 1.5 switch offering 1.0, 1.3 and 1.5 (bits 1, 4, 6), after an unknown element type 9 of
    // length 5 padded to 8.
    const bytes newer{0x06, 0x00, 0x00, 0x18, 0, 0, 0, 2,  // header, length 24
                      0x00, 0x09, 0x00, 0x05, 0xaa, 0, 0, 0,  // unknown element, padded
                      0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x52};
    auto h = decoded_as<hello>(newer);
    CHECK(h.version == 0x06);
    CHECK(h.version_bitmap == 0x52);
}

TEST_CASE("fixed requests: FEATURES_REQUEST, BARRIER_REQUEST, ECHO_REQUEST", "[openflow][codec]") {
    // ofp_header only: version, type, length 8, xid.
    CHECK(encode(features_request{}, 0x01020304) == bytes{0x04, 0x05, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04});
    CHECK(encode(barrier_request{}, 9) == bytes{0x04, 0x14, 0x00, 0x08, 0, 0, 0, 9});
    // ECHO carries arbitrary data after the header, echoed back by the reply.
    CHECK(encode(echo_request{{'h', 'i'}}, 3) == bytes{0x04, 0x02, 0x00, 0x0a, 0, 0, 0, 3, 'h', 'i'});
    CHECK(decoded_as<echo_reply>(bytes{0x04, 0x03, 0x00, 0x0a, 0, 0, 0, 3, 'h', 'i'}).data == bytes{'h', 'i'});
    decoded_as<barrier_reply>(bytes{0x04, 0x15, 0x00, 0x08, 0, 0, 0, 9});
}

TEST_CASE("FLOW_MOD: fixed part, OXM match padded to 8, one APPLY_ACTIONS instruction", "[openflow][codec]") {
    flow_mod m;
    m.command = flow_command::add;
    m.table_id = 0;
    m.priority = 100;
    m.cookie = 0x1122334455667788;
    m.match.in_port = 2;
    m.match.eth_type = eth_type::ipv4;
    m.match.ipv4_dst = ip("10.0.0.2");
    m.actions = {set_field{.ipv4_dst = ip("10.0.0.3")}, output{1}};

    const bytes expected{
        0x04, 0x0e, 0x00, 0x78, 0x00, 0x00, 0x00, 0x2a,  // ofp_header: OFPT_FLOW_MOD (14), length 120, xid 42
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // cookie
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // cookie_mask
        0x00, 0x00,                                      // table_id 0, command OFPFC_ADD (0)
        0x00, 0x00, 0x00, 0x00,                          // idle_timeout, hard_timeout
        0x00, 0x64,                                      // priority 100
        0xff, 0xff, 0xff, 0xff,                          // buffer_id OFP_NO_BUFFER
        0xff, 0xff, 0xff, 0xff,                          // out_port OFPP_ANY
        0xff, 0xff, 0xff, 0xff,                          // out_group OFPG_ANY
        0x00, 0x00, 0x00, 0x00,                          // flags, pad[2]
        // ofp_match: OFPMT_OXM (1), length 26 = 4 + 8 + 6 + 8 (padding excluded)
        0x00, 0x01, 0x00, 0x1a,
        0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02,  // OXM basic (0x8000), IN_PORT (0) << 1, len 4: 2
        0x80, 0x00, 0x0a, 0x02, 0x08, 0x00,              // ETH_TYPE (5) << 1 = 0x0a, len 2: 0x0800
        0x80, 0x00, 0x18, 0x04, 0x0a, 0x00, 0x00, 0x02,  // IPV4_DST (12) << 1 = 0x18, len 4: 10.0.0.2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // padding to 32
        // ofp_instruction_actions: OFPIT_APPLY_ACTIONS (4), len 40, pad[4]
        0x00, 0x04, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00,
        // ofp_action_set_field: OFPAT_SET_FIELD (25), len 16 = 4 + 8 rounded up to 8
        0x00, 0x19, 0x00, 0x10,
        0x80, 0x00, 0x18, 0x04, 0x0a, 0x00, 0x00, 0x03,  // OXM IPV4_DST 10.0.0.3
        0x00, 0x00, 0x00, 0x00,                          // padding
        // ofp_action_output: OFPAT_OUTPUT (0), len 16, port 1, max_len OFPCML_NO_BUFFER, pad[6]
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    CHECK(encode(m, 42) == expected);
    CHECK(decoded_as<flow_mod>(expected) == m);
}

TEST_CASE("FLOW_MOD delete strict without actions has no instruction, MAC and L4 fields encode", "[openflow][codec]") {
    flow_mod m;
    m.command = flow_command::remove_strict;
    m.priority = 0x8000;
    m.match.eth_src = mac("02:00:00:00:00:01");
    m.match.eth_type = eth_type::ipv4;
    m.match.ip_proto = ip_proto::udp;
    m.match.udp_dst = 5683;
    auto b = encode(m, 1);
    // 48 fixed + match (4 + 10 + 6 + 5 + 6 = 31, padded to 32) and nothing after it.
    REQUIRE(b.size() == 80);
    CHECK(b[25] == 4);                                              // OFPFC_DELETE_STRICT
    CHECK(bytes(b.begin() + 48, b.begin() + 52) == bytes{0x00, 0x01, 0x00, 0x1f});
    // ETH_SRC (4) << 1 = 0x08, len 6
    CHECK(bytes(b.begin() + 52, b.begin() + 62) == bytes{0x80, 0x00, 0x08, 0x06, 0x02, 0, 0, 0, 0, 0x01});
    // IP_PROTO (10) << 1 = 0x14, len 1: 17, after ETH_TYPE
    CHECK(bytes(b.begin() + 68, b.begin() + 73) == bytes{0x80, 0x00, 0x14, 0x01, 0x11});
    // UDP_DST (16) << 1 = 0x20, len 2: 5683 = 0x1633
    CHECK(bytes(b.begin() + 73, b.begin() + 79) == bytes{0x80, 0x00, 0x20, 0x02, 0x16, 0x33});
    CHECK(b[79] == 0);
    CHECK(decoded_as<flow_mod>(b) == m);
}

TEST_CASE("PACKET_OUT: buffer, in_port, actions_len, actions, then the frame", "[openflow][codec]") {
    packet_out p;
    p.actions = {output{1}};
    p.data = {0xaa, 0xbb, 0xcc};
    const bytes expected{
        0x04, 0x0d, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x05,  // ofp_header: OFPT_PACKET_OUT (13), length 43, xid 5
        0xff, 0xff, 0xff, 0xff,                          // buffer_id OFP_NO_BUFFER
        0xff, 0xff, 0xff, 0xfd,                          // in_port OFPP_CONTROLLER
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // actions_len 16, pad[6]
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0,  // output:1
        0xaa, 0xbb, 0xcc,                                // data
    };
    CHECK(encode(p, 5) == expected);
    CHECK(decoded_as<packet_out>(expected) == p);
}

TEST_CASE("PACKET_IN as OVS sends it: in_port among other OXMs, two pad bytes, the frame", "[openflow][codec]") {
    const bytes wire{
        0x04, 0x0a, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,  // ofp_header: OFPT_PACKET_IN (10), length 64
        0xff, 0xff, 0xff, 0xff,                          // buffer_id
        0x00, 0x40,                                      // total_len 64 (data cut to 6 bytes)
        0x00, 0x00,                                      // reason OFPR_NO_MATCH, table_id 0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // cookie
        // ofp_match, length 4 + 8 + 12 + 8 = 32 (no padding): IN_PORT 3, METADATA (2) skipped,
        // an NXM_1 tunnel field skipped.
        0x00, 0x01, 0x00, 0x20,
        0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03,
        0x80, 0x00, 0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
        0x00, 0x01, 0x3e, 0x04, 9, 9, 9, 9,
        0x00, 0x00,                                      // pad[2]
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // data (6 bytes of the frame)
    };
    auto p = decoded_as<packet_in>(wire);
    CHECK(p.in_port() == 3);
    CHECK(p.total_len == 64);
    CHECK(p.reason_name() == "no_match");
    CHECK(p.cookie == 0xffffffffffffffffull);
    CHECK(p.data == bytes{0x02, 0, 0, 0, 0, 0x02});
    CHECK_FALSE(p.match.eth_type);
    // Too short a frame to summarise: a clear error, not a crash.
    auto f = p.frame();
    REQUIRE_FALSE(f);
    CHECK(f.error().message.find("Ethernet header") != std::string::npos);
}

TEST_CASE("FEATURES_REPLY decodes the datapath id and counts", "[openflow][codec]") {
    const bytes wire{
        0x04, 0x06, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02,  // OFPT_FEATURES_REPLY, length 32
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x01,  // datapath_id
        0x00, 0x00, 0x01, 0x00,                          // n_buffers 256
        0xfe, 0x00, 0x00, 0x00,                          // n_tables 254, auxiliary_id 0, pad[2]
        0x00, 0x00, 0x00, 0x4f,                          // capabilities
        0x00, 0x00, 0x00, 0x00,                          // reserved
    };
    auto f = decoded_as<switch_features>(wire);
    CHECK(f.datapath_id == 0x0a01);
    CHECK(format_dpid(f.datapath_id) == "0x0000000000000a01");
    CHECK(f.n_buffers == 256);
    CHECK(f.n_tables == 254);
    CHECK(f.capabilities == 0x4f);
    CHECK(encode(f, 2) == wire);
}

TEST_CASE("ERROR decodes into words naming the type, the code and the refused request", "[openflow][codec]") {
    // ofp_error_msg: type OFPET_BAD_ACTION (2), code OFPBAC_BAD_OUT_PORT (4), data = the start
    // of the refused FLOW_MOD.
    flow_mod refused;
    refused.actions = {output{5}};
    auto req = encode(refused, 77);
    bytes wire{0x04, 0x01, 0x00, 0x00, 0, 0, 0, 77, 0x00, 0x02, 0x00, 0x04};
    wire.insert(wire.end(), req.begin(), req.begin() + 64);
    wire[3] = static_cast<std::uint8_t>(wire.size());
    auto e = decoded_as<error_message>(wire);
    CHECK(e.type == 2);
    CHECK(e.code == 4);
    CHECK(e.failed_request_type() == msg_type::flow_mod);
    CHECK(e.describe() == "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT (problem validating output port) answering OFPT_FLOW_MOD");

    error_message table{5, 2, {}};
    CHECK(table.describe().find("OFPET_FLOW_MOD_FAILED/OFPFMFC_BAD_TABLE_ID") == 0);
    error_message unknown{42, 7, {}};
    CHECK(unknown.describe() == "OFPET_42/7");
    // HELLO_FAILED carries text; a 1.0 switch sends it in its own version.
    auto hf = decoded_as<error_message>(bytes{0x01, 0x01, 0x00, 0x11, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00, 'n', 'o', ' ',
                                             '1', '3'});
    CHECK(hf.describe() == "OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE (no compatible version): no 13");
    // Experimenter errors (OVS's Nicira ones): exp_type in the code's place, then the id.
    error_message nx{0xffff, 9, {0x00, 0x00, 0x23, 0x20}};
    CHECK(nx.describe() == "OFPET_EXPERIMENTER (experimenter 0x00002320 Nicira, exp_type 9)");
}

TEST_CASE("every message round-trips through encode and decode", "[openflow][codec]") {
    flow_mod fm;
    fm.command = flow_command::modify_strict;
    fm.table_id = 3;
    fm.priority = 7;
    fm.cookie = 1;
    fm.cookie_mask = 0xff;
    fm.idle_timeout = 10;
    fm.hard_timeout = 20;
    fm.flags = flow_flags::send_flow_rem | flow_flags::check_overlap;
    fm.match = {.in_port = 1,
                .eth_src = mac("02:00:00:00:00:01"),
                .eth_dst = mac("02:00:00:00:00:02"),
                .eth_type = eth_type::ipv4,
                .ipv4_src = ip("10.1.0.1"),
                .ipv4_dst = ip("10.1.0.2"),
                .ip_proto = ip_proto::tcp,
                .tcp_src = 1000,
                .tcp_dst = 80};
    fm.actions = {set_field{.eth_src = mac("02:00:00:00:00:03")}, set_field{.eth_dst = mac("02:00:00:00:00:04")},
                  set_field{.ipv4_src = ip("10.2.0.1")},         set_field{.tcp_src = 1},
                  set_field{.tcp_dst = 2},                       output{port::controller, 128},
                  output{port::in_port}};
    flow_mod udp;
    udp.match = {.eth_type = eth_type::ipv4, .ip_proto = ip_proto::udp, .udp_src = 1, .udp_dst = 2};
    udp.actions = {set_field{.udp_src = 3}, set_field{.udp_dst = 4}, output{port::flood}};
    packet_in pin;
    pin.buffer_id = 5;
    pin.total_len = 3;
    pin.reason = 1;
    pin.table_id = 2;
    pin.cookie = 9;
    pin.match.in_port = 4;
    pin.data = {1, 2, 3};

    const std::vector<message> all{
        hello{},
        hello{0x06, 0x52},
        error_message{1, 6, {1, 2, 3}},
        echo_request{{1, 2}},
        echo_reply{},
        features_request{},
        switch_features{0xfedcba9876543210ull, 1, 2, 3, 4},
        fm,
        udp,
        flow_mod{},
        pin,
        packet_out{5, 1, {output{2}}, {}},
        barrier_request{},
        barrier_reply{},
        unknown_message{msg_type::port_status, {1, 2, 3, 4}},
    };
    for (auto& m : all) {
        auto wire = encode(m, 0xdeadbeef);
        INFO(type_name(type_of(m)));
        auto h = peek_header(wire);
        REQUIRE_OK(h);
        CHECK(h->xid == 0xdeadbeef);
        CHECK(h->length == wire.size());
        CHECK(h->type == type_of(m));
        auto back = decode(wire);
        REQUIRE_OK(back);
        CHECK(*back == m);
    }
}

TEST_CASE("several messages share one buffer (what one write of a commit sends)", "[openflow][codec]") {
    std::vector<std::uint8_t> out;
    flow_mod a;
    a.actions = {output{1}};
    encode_to(out, a, 1);
    encode_to(out, a, 2);
    encode_to(out, barrier_request{}, 3);
    std::size_t at = 0;
    std::vector<std::uint32_t> xids;
    while (at < out.size()) {
        auto h = peek_header(std::span(out).subspan(at));
        REQUIRE_OK(h);
        REQUIRE_OK(decode(std::span(out).subspan(at, h->length)));
        xids.push_back(h->xid);
        at += h->length;
    }
    CHECK(xids == std::vector<std::uint32_t>{1, 2, 3});
}

TEST_CASE("encode refuses an invalid flow_mod and leaves the buffer as it was", "[openflow][codec]") {
    flow_mod bad;
    bad.match.ipv4_dst = ip("10.0.0.1");   // no eth_type
    std::vector<std::uint8_t> out{1, 2, 3};
    CHECK_THROWS_WITH(encode_to(out, bad, 1), Catch::Contains("ipv4_dst needs eth_type=0x0800"));
    CHECK(out == bytes{1, 2, 3});
    packet_out empty;
    CHECK_THROWS_WITH(encode(empty, 1), Catch::Contains("no frame"));
}

TEST_CASE("malformed input gives protocol_error naming what is wrong", "[openflow][codec]") {
    auto err = [](const bytes& b) {
        auto r = decode(b);
        REQUIRE_FALSE(r);
        CHECK(r.error_code() == error::protocol_error);
        return r.error().message;
    };
    CHECK_THAT(err({0x04, 0x00}), Catch::Contains("needs 8 bytes, has 2"));
    CHECK_THAT(err({0x04, 0x00, 0x00, 0x04, 0, 0, 0, 0}), Catch::Contains("below the 8-byte header"));
    CHECK_THAT(err({0x04, 0x00, 0x00, 0x10, 0, 0, 0, 0}), Catch::Contains("says 16 bytes but 8 were given"));
    CHECK_THAT(err({0x01, 0x0e, 0x00, 0x08, 0, 0, 0, 0}), Catch::Contains("not 1.3"));
    CHECK_THAT(err({0x04, 0x15, 0x00, 0x09, 0, 0, 0, 0, 1}), Catch::Contains("OFPT_BARRIER_REPLY has 1 unexpected bytes"));
    // FEATURES_REPLY cut after the datapath id.
    CHECK_THAT(err({0x04, 0x06, 0x00, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}),
               Catch::Contains("OFPT_FEATURES_REPLY (xid 1): n_buffers truncated at offset 16"));

    // A flow_mod whose match claims more OXM bytes than the message has.
    flow_mod fm;
    fm.match.in_port = 1;
    auto wire = encode(fm, 1);
    wire[51] = 0x40;  // ofp_match.length
    CHECK_THAT(err(wire), Catch::Contains("ofp_match OXM fields truncated"));
    // An action of length 0 (would loop forever if trusted).
    fm.actions = {output{1}};
    wire = encode(fm, 1);
    wire[wire.size() - 14] = 0;  // ofp_action_output.len
    wire[wire.size() - 13] = 0;
    CHECK_THAT(err(wire), Catch::Contains("has length 0"));
    // A masked match field.
    wire = encode(fm, 1);
    wire[54] |= 1;  // OXM has_mask bit of in_port
    CHECK_THAT(err(wire), Catch::Contains("OXM in_port is masked"));
    // The same field twice.
    flow_mod twice;
    twice.match.in_port = 1;
    wire = encode(twice, 1);
    bytes dup(wire.begin(), wire.begin() + 60);
    dup.insert(dup.end(), wire.begin() + 52, wire.begin() + 60);  // second IN_PORT TLV
    dup[51] = 20;                                                // match length 4 + 16
    dup.insert(dup.end(), 4, 0);                                 // pad to 24
    dup[3] = static_cast<std::uint8_t>(dup.size());
    CHECK_THAT(err(dup), Catch::Contains("OXM in_port appears twice"));
    // An instruction other than APPLY_ACTIONS (GOTO_TABLE, type 1).
    wire = encode(fm, 1);
    wire[65] = 1;  // ofp_instruction.type
    CHECK_THAT(err(wire), Catch::Contains("instruction type 1 is not supported"));
}
