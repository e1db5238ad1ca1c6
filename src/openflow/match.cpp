// src/openflow/match.cpp — match prerequisites, printing and JSON.
#include <migrate/openflow/match.hpp>

#include "fields.hpp"

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
    detail::for_each_field(*this, [&](field f, const auto& v) {
        if (v) parts.push_back(fmt::format("{}={}", openflow::to_string(f), detail::value_text(f, *v)));
    });
    return parts.empty() ? std::string("any") : fmt::format("{}", fmt::join(parts, ","));
}

void to_json(json& j, const match& m) { j = detail::fields_to_json(m); }

void from_json(const json& j, match& m) {
    detail::require_object(j, "match");
    m = match{};
    for (auto& [key, v] : j.items()) {
        if (v.is_null()) continue;
        if (!detail::read_named_field(m, key, v, "match." + key))
            detail::bad_field("match." + key, "unknown match field (known: in_port, eth_src, eth_dst, eth_type, "
                                              "ipv4_src, ipv4_dst, ip_proto, udp_src, udp_dst, tcp_src, tcp_dst)");
    }
}

}  // namespace migrate::openflow
