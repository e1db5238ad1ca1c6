// migrate/openflow/match.hpp — which packets a flow entry applies to (OpenFlow 1.3 OXM match).
//
// Only exact matches on the fields MIGRATE's rules need; an absent field is a wildcard.
// OpenFlow requires each field's prerequisites in the same match (ipv4_src needs
// eth_type=0x0800, udp_dst needs ip_proto=17, ...): `validate()` checks them before anything
// reaches a switch, so a rule is refused here with the field named rather than by the switch
// with OFPBMC_BAD_PREREQ.
#pragma once

#include <migrate/json.hpp>
#include <migrate/openflow/types.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace migrate::openflow {

/// The OXM (OpenFlow basic class) fields this speaker knows; the value is the OXM field code.
enum class field : std::uint8_t {
    in_port = 0,
    eth_dst = 3,
    eth_src = 4,
    eth_type = 5,
    ip_proto = 10,
    ipv4_src = 11,
    ipv4_dst = 12,
    tcp_src = 13,
    tcp_dst = 14,
    udp_src = 15,
    udp_dst = 16,
};
/// "in_port", "eth_dst", ... (the names used in JSON and in messages).
std::string_view to_string(field f) noexcept;
inline std::string_view format_as(field f) noexcept { return to_string(f); }

struct match {
    std::optional<std::uint32_t> in_port;
    std::optional<mac_address> eth_src;
    std::optional<mac_address> eth_dst;
    std::optional<std::uint16_t> eth_type;
    std::optional<ipv4_address> ipv4_src;
    std::optional<ipv4_address> ipv4_dst;
    std::optional<std::uint8_t> ip_proto;
    std::optional<std::uint16_t> udp_src;
    std::optional<std::uint16_t> udp_dst;
    std::optional<std::uint16_t> tcp_src;
    std::optional<std::uint16_t> tcp_dst;

    /// Prerequisites: ipv4_* need eth_type 0x0800; ip_proto needs eth_type 0x0800 or
    /// 0x86dd; udp_* need ip_proto 17, tcp_* ip_proto 6; in_port must be a real port or
    /// LOCAL/CONTROLLER. `invalid_argument` naming the field and what it lacks.
    result<void> validate() const;
    /// No field set: matches every packet (a table-miss rule).
    bool empty() const noexcept;
    /// "in_port=1,eth_type=0x0800,ipv4_dst=10.0.0.2" in wire order; "any" when empty.
    std::string to_string() const;

    friend bool operator==(const match&, const match&) = default;
};

/// JSON: an object with the fields that are set, by their names; macs and addresses as
/// text, eth_type as a number or "0x0800", in_port as a number or a reserved port name.
/// Unknown keys are refused (`invalid_argument` naming the key): a typo must not widen a
/// match to every packet.
void to_json(json& j, const match& m);
void from_json(const json& j, match& m);

}  // namespace migrate::openflow

template <>
struct fmt::formatter<migrate::openflow::match> : fmt::formatter<std::string_view> {
    auto format(const migrate::openflow::match& m, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(m.to_string(), ctx);
    }
};
