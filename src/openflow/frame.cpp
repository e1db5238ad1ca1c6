// src/openflow/frame.cpp — Ethernet/IPv4/UDP/TCP header summary and the UDP frame builder.
#include <migrate/openflow/frame.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::openflow {

namespace {

constexpr std::size_t eth_header = 14;
constexpr std::size_t vlan_tag = 4;
constexpr std::size_t ipv4_min_header = 20;
constexpr std::size_t ethernet_min_frame = 60;  // without the FCS

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at) {
    return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}

failure too_short(const char* what, std::size_t needed, std::size_t have) {
    return make_failure(error::protocol_error,
                        fmt::format("frame too short for its {}: needs {} bytes, has {}", what, needed, have));
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}

}  // namespace

result<frame_summary> summarize_frame(std::span<const std::uint8_t> frame) {
    frame_summary s;
    if (frame.size() < eth_header) return too_short("Ethernet header", eth_header, frame.size());
    std::copy_n(frame.begin(), 6, s.eth_dst.bytes.begin());
    std::copy_n(frame.begin() + 6, 6, s.eth_src.bytes.begin());
    s.eth_type = be16(frame, 12);
    std::size_t at = eth_header;
    if (s.eth_type == eth_type::vlan) {
        if (frame.size() < eth_header + vlan_tag) return too_short("802.1Q tag", eth_header + vlan_tag, frame.size());
        s.vlan_id = static_cast<std::uint16_t>(be16(frame, 14) & 0x0fff);
        s.eth_type = be16(frame, 16);
        at += vlan_tag;
    }
    if (s.eth_type != eth_type::ipv4) return s;

    if (frame.size() < at + ipv4_min_header) return too_short("IPv4 header", at + ipv4_min_header, frame.size());
    const std::uint8_t version = frame[at] >> 4;
    const std::size_t ihl = std::size_t(frame[at] & 0x0f) * 4;
    if (version != 4)
        return make_failure(error::protocol_error, fmt::format("frame's IPv4 header has version {}", version));
    if (ihl < ipv4_min_header)
        return make_failure(error::protocol_error, fmt::format("frame's IPv4 header length {} is below 20", ihl));
    if (frame.size() < at + ihl) return too_short("IPv4 header with options", at + ihl, frame.size());
    s.ip_proto = frame[at + 9];
    s.ipv4_src = ipv4_address{be32(frame, at + 12)};
    s.ipv4_dst = ipv4_address{be32(frame, at + 16)};
    const bool later_fragment = (be16(frame, at + 6) & 0x1fff) != 0;
    if (later_fragment || (*s.ip_proto != ip_proto::udp && *s.ip_proto != ip_proto::tcp)) return s;

    at += ihl;
    if (frame.size() < at + 4) return too_short("UDP/TCP ports", at + 4, frame.size());
    s.l4_src = be16(frame, at);
    s.l4_dst = be16(frame, at + 2);
    if (*s.ip_proto == ip_proto::udp) {
        if (frame.size() >= at + 8) s.payload_offset = at + 8;
    } else if (frame.size() >= at + 13) {
        const std::size_t data_offset = std::size_t(frame[at + 12] >> 4) * 4;
        if (data_offset >= 20 && frame.size() >= at + data_offset) s.payload_offset = at + data_offset;
    }
    return s;
}

std::string frame_summary::to_string() const {
    auto text = fmt::format("{} > {} 0x{:04x}", eth_src, eth_dst, eth_type);
    if (vlan_id) text += fmt::format(" vlan {}", *vlan_id);
    if (ipv4_src && ipv4_dst) {
        if (l4_src && l4_dst) text += fmt::format(" {}:{} > {}:{}", *ipv4_src, *l4_src, *ipv4_dst, *l4_dst);
        else text += fmt::format(" {} > {}", *ipv4_src, *ipv4_dst);
    }
    if (ip_proto) {
        if (*ip_proto == ip_proto::udp) text += " udp";
        else if (*ip_proto == ip_proto::tcp) text += " tcp";
        else text += fmt::format(" proto {}", *ip_proto);
    }
    return text;
}

std::vector<std::uint8_t> make_udp_frame(const udp_frame_spec& spec) {
    std::vector<std::uint8_t> f;
    f.reserve(std::max(ethernet_min_frame, eth_header + 28 + spec.payload.size()));
    f.insert(f.end(), spec.eth_dst.bytes.begin(), spec.eth_dst.bytes.end());
    f.insert(f.end(), spec.eth_src.bytes.begin(), spec.eth_src.bytes.end());
    put16(f, eth_type::ipv4);
    const std::size_t ip_at = f.size();
    const auto udp_len = static_cast<std::uint16_t>(8 + spec.payload.size());
    f.push_back(0x45);                      // version 4, header 5 words
    f.push_back(0);                         // DSCP/ECN
    put16(f, static_cast<std::uint16_t>(20 + udp_len));
    put16(f, 0);                            // identification
    put16(f, 0x4000);                       // don't fragment
    f.push_back(spec.ttl);
    f.push_back(ip_proto::udp);
    put16(f, 0);                            // checksum, below
    put32(f, spec.ipv4_src.value);
    put32(f, spec.ipv4_dst.value);
    std::uint32_t sum = 0;
    for (std::size_t i = ip_at; i < ip_at + 20; i += 2) sum += std::uint32_t(f[i]) << 8 | f[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const auto checksum = static_cast<std::uint16_t>(~sum);
    f[ip_at + 10] = static_cast<std::uint8_t>(checksum >> 8);
    f[ip_at + 11] = static_cast<std::uint8_t>(checksum);
    put16(f, spec.udp_src);
    put16(f, spec.udp_dst);
    put16(f, udp_len);
    put16(f, 0);                            // no UDP checksum
    f.insert(f.end(), spec.payload.begin(), spec.payload.end());
    if (f.size() < ethernet_min_frame) f.resize(ethernet_min_frame, 0);
    return f;
}

}  // namespace migrate::openflow
