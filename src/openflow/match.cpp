// src/openflow/match.cpp — match prerequisites, printing and JSON.
#include <migrate/openflow/match.hpp>

#include "json_fields.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace migrate::openflow {

std::string_view to_string(field f) noexcept {
    switch (f) {
        case field::in_port: return "in_port";
        case field::eth_dst: return "eth_dst";
        case field::eth_src: return "eth_src";
        case field::eth_type: return "eth_type";
        case field::ip_proto: return "ip_proto";
        case field::ipv4_src: return "ipv4_src";
        case field::ipv4_dst: return "ipv4_dst";
        case field::tcp_src: return "tcp_src";
        case field::tcp_dst: return "tcp_dst";
        case field::udp_src: return "udp_src";
        case field::udp_dst: return "udp_dst";
    }
    return "unknown";
}

result<void> match::validate() const {
    auto refuse = [](std::string why) { return make_failure(error::invalid_argument, "match: " + std::move(why)); };
    if (in_port && (*in_port == 0 || (*in_port > port::max && *in_port != port::local && *in_port != port::controller)))
        return refuse(fmt::format("in_port {} is not a port a packet can arrive on", port::name(*in_port)));
    const bool ipv4 = eth_type == eth_type::ipv4;
    if (ipv4_src && !ipv4) return refuse("ipv4_src needs eth_type=0x0800 in the same match");
    if (ipv4_dst && !ipv4) return refuse("ipv4_dst needs eth_type=0x0800 in the same match");
    if (ip_proto && !ipv4 && eth_type != eth_type::ipv6)
        return refuse("ip_proto needs eth_type=0x0800 or 0x86dd in the same match");
    const bool udp = ip_proto == ip_proto::udp;
    const bool tcp = ip_proto == ip_proto::tcp;
    if (udp_src && !udp) return refuse("udp_src needs ip_proto=17 (and an eth_type) in the same match");
    if (udp_dst && !udp) return refuse("udp_dst needs ip_proto=17 (and an eth_type) in the same match");
    if (tcp_src && !tcp) return refuse("tcp_src needs ip_proto=6 (and an eth_type) in the same match");
    if (tcp_dst && !tcp) return refuse("tcp_dst needs ip_proto=6 (and an eth_type) in the same match");
    return ok();
}

bool match::empty() const noexcept { return *this == match{}; }

std::string match::to_string() const {
    std::vector<std::string> parts;
    if (in_port) parts.push_back("in_port=" + port::name(*in_port));
    if (eth_dst) parts.push_back("eth_dst=" + eth_dst->to_string());
    if (eth_src) parts.push_back("eth_src=" + eth_src->to_string());
    if (eth_type) parts.push_back(fmt::format("eth_type=0x{:04x}", *eth_type));
    if (ip_proto) parts.push_back(fmt::format("ip_proto={}", *ip_proto));
    if (ipv4_src) parts.push_back("ipv4_src=" + ipv4_src->to_string());
    if (ipv4_dst) parts.push_back("ipv4_dst=" + ipv4_dst->to_string());
    if (tcp_src) parts.push_back(fmt::format("tcp_src={}", *tcp_src));
    if (tcp_dst) parts.push_back(fmt::format("tcp_dst={}", *tcp_dst));
    if (udp_src) parts.push_back(fmt::format("udp_src={}", *udp_src));
    if (udp_dst) parts.push_back(fmt::format("udp_dst={}", *udp_dst));
    return parts.empty() ? std::string("any") : fmt::format("{}", fmt::join(parts, ","));
}

void to_json(json& j, const match& m) {
    j = json::object();
    if (m.in_port) j["in_port"] = *m.in_port;
    if (m.eth_src) j["eth_src"] = *m.eth_src;
    if (m.eth_dst) j["eth_dst"] = *m.eth_dst;
    if (m.eth_type) j["eth_type"] = *m.eth_type;
    if (m.ipv4_src) j["ipv4_src"] = *m.ipv4_src;
    if (m.ipv4_dst) j["ipv4_dst"] = *m.ipv4_dst;
    if (m.ip_proto) j["ip_proto"] = *m.ip_proto;
    if (m.udp_src) j["udp_src"] = *m.udp_src;
    if (m.udp_dst) j["udp_dst"] = *m.udp_dst;
    if (m.tcp_src) j["tcp_src"] = *m.tcp_src;
    if (m.tcp_dst) j["tcp_dst"] = *m.tcp_dst;
}

void from_json(const json& j, match& m) {
    using namespace detail;
    require_object(j, "match");
    m = match{};
    for (auto& [key, v] : j.items()) {
        auto where = "match." + key;
        if (v.is_null()) continue;
        if (key == "in_port") m.in_port = read_port(v, where);
        else if (key == "eth_src") m.eth_src = read_address<mac_address>(v, where);
        else if (key == "eth_dst") m.eth_dst = read_address<mac_address>(v, where);
        else if (key == "eth_type") m.eth_type = read_uint<std::uint16_t>(v, where);
        else if (key == "ipv4_src") m.ipv4_src = read_address<ipv4_address>(v, where);
        else if (key == "ipv4_dst") m.ipv4_dst = read_address<ipv4_address>(v, where);
        else if (key == "ip_proto") m.ip_proto = read_uint<std::uint8_t>(v, where);
        else if (key == "udp_src") m.udp_src = read_uint<std::uint16_t>(v, where);
        else if (key == "udp_dst") m.udp_dst = read_uint<std::uint16_t>(v, where);
        else if (key == "tcp_src") m.tcp_src = read_uint<std::uint16_t>(v, where);
        else if (key == "tcp_dst") m.tcp_dst = read_uint<std::uint16_t>(v, where);
        else
            bad_field(where, "unknown match field (known: in_port, eth_src, eth_dst, eth_type, ipv4_src, ipv4_dst, "
                             "ip_proto, udp_src, udp_dst, tcp_src, tcp_dst)");
    }
}

}  // namespace migrate::openflow
