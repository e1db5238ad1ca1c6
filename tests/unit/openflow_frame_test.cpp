// Ethernet frames: the UDP builder's bytes and the bounds-checked header summary.
#include <migrate/openflow/frame.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::openflow;

namespace {
udp_frame_spec coap_spec() {
    return {.eth_src = mac_address::parse("02:00:00:00:00:01").value(),
            .eth_dst = mac_address::parse("02:00:00:00:00:02").value(),
            .ipv4_src = ipv4_address::parse("10.0.0.1").value(),
            .ipv4_dst = ipv4_address::parse("10.0.0.2").value(),
            .udp_src = 40000,
            .udp_dst = 5683,
            .payload = {0x40, 0x01, 0x12, 0x34}};
}
}  // namespace

TEST_CASE("make_udp_frame writes Ethernet II, IPv4 with its checksum, UDP", "[openflow][frame]") {
    auto f = make_udp_frame(coap_spec());
    REQUIRE(f.size() == 60);  // 14 + 20 + 8 + 4 = 46, padded to the Ethernet minimum
    CHECK(f[12] == 0x08);
    CHECK(f[13] == 0x00);
    CHECK(f[14] == 0x45);
    CHECK((f[16] << 8 | f[17]) == 32);  // IPv4 total length: 20 + 8 + 4
    CHECK(f[23] == 17);
    // The ones'-complement sum over a header with its checksum in place is 0xffff.
    std::uint32_t sum = 0;
    for (int i = 14; i < 34; i += 2) sum += std::uint32_t(f[i]) << 8 | f[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    CHECK(sum == 0xffff);
    CHECK((f[38] << 8 | f[39]) == 12);  // UDP length
    CHECK(f[42] == 0x40);
}

TEST_CASE("summarize_frame reads Ethernet, VLAN, IPv4 and UDP headers", "[openflow][frame]") {
    auto f = make_udp_frame(coap_spec());
    auto s = summarize_frame(f);
    REQUIRE_OK(s);
    CHECK(s->eth_src.to_string() == "02:00:00:00:00:01");
    CHECK(s->eth_dst.to_string() == "02:00:00:00:00:02");
    CHECK(s->eth_type == eth_type::ipv4);
    CHECK(s->ipv4_src->to_string() == "10.0.0.1");
    CHECK(s->ipv4_dst->to_string() == "10.0.0.2");
    CHECK(s->ip_proto == ip_proto::udp);
    CHECK(s->l4_src == 40000);
    CHECK(s->l4_dst == 5683);
    CHECK(s->payload_offset == 42u);
    CHECK(s->to_string() == "02:00:00:00:00:01 > 02:00:00:00:00:02 0x0800 10.0.0.1:40000 > 10.0.0.2:5683 udp");

    // The same frame with an 802.1Q tag (VLAN 7) after the addresses.
    auto tagged = f;
    tagged.insert(tagged.begin() + 12, {0x81, 0x00, 0x00, 0x07});
    auto t = summarize_frame(tagged);
    REQUIRE_OK(t);
    CHECK(t->vlan_id == 7);
    CHECK(t->l4_dst == 5683);

    // ARP: Ethernet only.
    auto arp = f;
    arp[12] = 0x08;
    arp[13] = 0x06;
    auto a = summarize_frame(arp);
    REQUIRE_OK(a);
    CHECK(a->eth_type == eth_type::arp);
    CHECK_FALSE(a->ipv4_src);
}

TEST_CASE("summarize_frame refuses short and bogus headers without reading past the end", "[openflow][frame]") {
    auto f = make_udp_frame(coap_spec());
    auto cut = [&](std::size_t n) { return summarize_frame(std::span(f).first(n)); };
    CHECK_THAT(cut(10).error().message, Catch::Contains("Ethernet header: needs 14 bytes, has 10"));
    CHECK_THAT(cut(20).error().message, Catch::Contains("IPv4 header: needs 34 bytes, has 20"));
    CHECK_THAT(cut(36).error().message, Catch::Contains("UDP/TCP ports: needs 38 bytes, has 36"));
    auto l4 = cut(40);  // ports present, UDP header incomplete: no payload offset
    REQUIRE_OK(l4);
    CHECK_FALSE(l4->payload_offset);

    auto bad_ihl = f;
    bad_ihl[14] = 0x42;
    CHECK_THAT(summarize_frame(bad_ihl).error().message, Catch::Contains("header length 8 is below 20"));
    auto long_ihl = f;
    long_ihl[14] = 0x4f;  // 60-byte header: longer than this frame's IPv4 part
    CHECK_THAT(summarize_frame(std::span(long_ihl).first(50)).error().message, Catch::Contains("IPv4 header with options"));
    auto v6 = f;
    v6[14] = 0x65;
    CHECK_THAT(summarize_frame(v6).error().message, Catch::Contains("version 6"));
    // A later fragment has no ports.
    auto frag = f;
    frag[20] = 0x00;
    frag[21] = 0x10;
    auto fr = summarize_frame(frag);
    REQUIRE_OK(fr);
    CHECK_FALSE(fr->l4_src);
}
