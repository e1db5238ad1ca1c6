// migrate/openflow/frame.hpp — the Ethernet frames a PACKET_IN carries and a PACKET_OUT
// sends: a bounds-checked summary of the headers a controller decides on, and a builder for
// the UDP/IPv4 frames tests and probes send.
#pragma once

#include <migrate/openflow/types.hpp>
#include <migrate/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace migrate::openflow {

/// The headers of one frame. IPv4 fields are set for IPv4 frames, the L4 ports for UDP/TCP
/// in an unfragmented (or first-fragment) IPv4 packet.
struct frame_summary {
    mac_address eth_dst;
    mac_address eth_src;
    std::uint16_t eth_type = 0;                 ///< after one 802.1Q tag, if any
    std::optional<std::uint16_t> vlan_id;       ///< the 802.1Q VLAN id, if tagged
    std::optional<ipv4_address> ipv4_src;
    std::optional<ipv4_address> ipv4_dst;
    std::optional<std::uint8_t> ip_proto;
    std::optional<std::uint16_t> l4_src;        ///< UDP/TCP source port
    std::optional<std::uint16_t> l4_dst;        ///< UDP/TCP destination port
    std::optional<std::size_t> payload_offset;  ///< where the UDP/TCP payload starts in the frame

    /// "02:..:01 > 02:..:02 0x0800 10.0.0.1:5683 > 10.0.0.2:5683 udp"
    std::string to_string() const;
};

/// Reads the headers of `frame`. Never reads past its end: a frame too short for a header it
/// announces fails with `protocol_error` naming the header and the lengths.
result<frame_summary> summarize_frame(std::span<const std::uint8_t> frame);

/// What `make_udp_frame` builds.
struct udp_frame_spec {
    mac_address eth_src;
    mac_address eth_dst;
    ipv4_address ipv4_src;
    ipv4_address ipv4_dst;
    std::uint16_t udp_src = 0;
    std::uint16_t udp_dst = 0;
    std::vector<std::uint8_t> payload;
    std::uint8_t ttl = 64;
};
/// An Ethernet II / IPv4 / UDP frame with a correct IPv4 header checksum (UDP checksum 0 =
/// none, which IPv4 allows), padded to the Ethernet minimum of 60 bytes.
std::vector<std::uint8_t> make_udp_frame(const udp_frame_spec& spec);

}  // namespace migrate::openflow
