// migrate/openflow/types.hpp — the vocabulary of the OpenFlow 1.3 speaker: Ethernet and
// IPv4 addresses, the reserved port numbers and the other wire constants a caller names.
//
// Values are kept in host byte order; the codec (message.hpp) converts at the wire.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <fmt/format.h>

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace migrate::openflow {

/// The only protocol version this speaker negotiates: OpenFlow 1.3 (wire version 0x04).
inline constexpr std::uint8_t protocol_version = 0x04;
/// The IANA port switches dial and listen on by default.
inline constexpr std::uint16_t default_port = 6653;

/// A 48-bit Ethernet address.
struct mac_address {
    std::array<std::uint8_t, 6> bytes{};

    /// "02:00:00:00:00:01" (also '-' separated, either case); `invalid_argument` otherwise.
    static result<mac_address> parse(std::string_view text);
    /// Lower-case, ':' separated.
    std::string to_string() const;
    bool is_multicast() const noexcept { return (bytes[0] & 1) != 0; }
    bool is_broadcast() const noexcept;

    friend bool operator==(const mac_address&, const mac_address&) = default;
    friend auto operator<=>(const mac_address&, const mac_address&) = default;
};
/// ff:ff:ff:ff:ff:ff
inline constexpr mac_address broadcast_mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline bool mac_address::is_broadcast() const noexcept { return *this == broadcast_mac; }

/// An IPv4 address; `value` in host byte order (10.0.0.1 = 0x0a000001).
struct ipv4_address {
    std::uint32_t value = 0;

    /// Dotted quad, exactly four decimal parts 0..255; `invalid_argument` otherwise.
    static result<ipv4_address> parse(std::string_view text);
    static constexpr ipv4_address from_uint32(std::uint32_t host_order) noexcept { return {host_order}; }
    std::string to_string() const;

    friend bool operator==(const ipv4_address&, const ipv4_address&) = default;
    friend auto operator<=>(const ipv4_address&, const ipv4_address&) = default;
};

/// JSON: the text forms ("02:00:00:00:00:01", "10.0.0.1").
void to_json(json& j, const mac_address& m);
void from_json(const json& j, mac_address& m);
void to_json(json& j, const ipv4_address& a);
void from_json(const json& j, ipv4_address& a);

/// OpenFlow port numbers: physical ports count from 1; the reserved ones are below.
namespace port {
inline constexpr std::uint32_t max = 0xffffff00;         ///< highest number a real port may have
inline constexpr std::uint32_t in_port = 0xfffffff8;     ///< back out of the port it came in on
inline constexpr std::uint32_t table = 0xfffffff9;       ///< through the flow table (packet-out only)
inline constexpr std::uint32_t normal = 0xfffffffa;      ///< the switch's own L2/L3 forwarding
inline constexpr std::uint32_t flood = 0xfffffffb;       ///< every port but the input one
inline constexpr std::uint32_t all = 0xfffffffc;         ///< every port but the input one, also blocked ones
inline constexpr std::uint32_t controller = 0xfffffffd;  ///< to us, as a PACKET_IN
inline constexpr std::uint32_t local = 0xfffffffe;       ///< the switch's local port (the bridge interface)
inline constexpr std::uint32_t any = 0xffffffff;         ///< wildcard (flow deletes: "whatever the output")

/// "2", "CONTROLLER", "IN_PORT", ... (the names ovs-ofctl prints, upper case).
std::string name(std::uint32_t p);
/// A number, or one of the reserved names in either case ("controller", "IN_PORT");
/// `invalid_argument` otherwise.
result<std::uint32_t> parse(std::string_view text);
}  // namespace port

/// buffer_id of a message that carries its packet itself (no switch buffer).
inline constexpr std::uint32_t no_buffer = 0xffffffff;
/// out_group wildcard of flow deletes.
inline constexpr std::uint32_t group_any = 0xffffffff;
/// table_id of a flow delete that spans every table.
inline constexpr std::uint8_t table_all = 0xff;
/// output.max_len: send the whole packet to the controller, unbuffered.
inline constexpr std::uint16_t max_len_no_buffer = 0xffff;
/// flow_mod.priority when none is given.
inline constexpr std::uint16_t default_priority = 0x8000;

/// Ethernet types and IP protocols the match prerequisites speak of.
namespace eth_type {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t vlan = 0x8100;
inline constexpr std::uint16_t ipv6 = 0x86dd;
}  // namespace eth_type
namespace ip_proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
}  // namespace ip_proto

}  // namespace migrate::openflow

template <>
struct fmt::formatter<migrate::openflow::mac_address> : fmt::formatter<std::string_view> {
    auto format(const migrate::openflow::mac_address& m, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(m.to_string(), ctx);
    }
};
template <>
struct fmt::formatter<migrate::openflow::ipv4_address> : fmt::formatter<std::string_view> {
    auto format(const migrate::openflow::ipv4_address& a, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(a.to_string(), ctx);
    }
};
