// migrate/openflow/action.hpp — what a flow entry or a packet-out does with a packet.
//
// Two actions, as MIGRATE's rules need: `output` to a port and `set_field` to rewrite one
// header field (the addresses and ports of the old and the new service instance). A flow
// entry carries them as one OFPIT_APPLY_ACTIONS instruction, applied in order.
#pragma once

#include <migrate/json.hpp>
#include <migrate/openflow/match.hpp>
#include <migrate/openflow/types.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace migrate::openflow {

/// OFPAT_OUTPUT: send the packet out of `port` (a number or a `port::` constant).
/// `max_len` only matters for `port::controller`: how many bytes of the packet go along.
struct output {
    std::uint32_t port = 0;
    std::uint16_t max_len = max_len_no_buffer;

    friend bool operator==(const output&, const output&) = default;
};

/// OFPAT_SET_FIELD: rewrite one header field. Exactly one member is set:
/// `set_field{.ipv4_dst = ipv4_address::parse("10.0.0.2").value()}`.
struct set_field {
    std::optional<mac_address> eth_src;
    std::optional<mac_address> eth_dst;
    std::optional<ipv4_address> ipv4_src;
    std::optional<ipv4_address> ipv4_dst;
    std::optional<std::uint16_t> udp_src;
    std::optional<std::uint16_t> udp_dst;
    std::optional<std::uint16_t> tcp_src;
    std::optional<std::uint16_t> tcp_dst;

    /// Exactly one field set; `invalid_argument` otherwise.
    result<void> validate() const;
    /// The field that is set (precondition: `validate()` passed).
    openflow::field which() const;

    friend bool operator==(const set_field&, const set_field&) = default;
};

using action = std::variant<output, set_field>;

/// `validate()` of the alternative (output always passes).
result<void> validate(const action& a);
/// A set_field on an IPv4/UDP/TCP header field is only valid when `m` guarantees that
/// header (OFPBAC_MATCH_INCONSISTENT otherwise): checks it, naming the field.
result<void> check_against(const action& a, const match& m);
/// "output:2", "output:CONTROLLER", "set_field:10.0.0.2->ipv4_dst" (ovs-ofctl's spelling).
std::string to_string(const action& a);

/// JSON: {"output": 2}, {"output": "controller"}, {"output": {"port": 2, "max_len": 128}},
/// {"set_field": {"ipv4_dst": "10.0.0.2"}}. Unknown keys are refused.
void to_json(json& j, const action& a);
void from_json(const json& j, action& a);

}  // namespace migrate::openflow
