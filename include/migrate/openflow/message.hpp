// migrate/openflow/message.hpp — the OpenFlow 1.3 messages this speaker sends and
// understands, and their wire encoding.
//
// Encoding follows the OpenFlow Switch Specification 1.3.5 (ofp_header, ofp_flow_mod with an
// OXM ofp_match padded to 8 bytes and one OFPIT_APPLY_ACTIONS instruction, ofp_packet_in,
// ofp_packet_out, ofp_error_msg, ofp_switch_features, HELLO with a version bitmap element).
// Decoding is for bytes from the network: any length, truncation or nonsense in them gives a
// `protocol_error` naming what is wrong and where; it never reads outside the given span.
// Messages of other types decode as `unknown_message` (a switch sends PORT_STATUS and others
// we do not act on).
#pragma once

#include <migrate/json.hpp>
#include <migrate/openflow/action.hpp>
#include <migrate/openflow/frame.hpp>
#include <migrate/openflow/match.hpp>
#include <migrate/openflow/types.hpp>
#include <migrate/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace migrate::openflow {

/// OFPT_* message type codes.
namespace msg_type {
inline constexpr std::uint8_t hello = 0;
inline constexpr std::uint8_t error = 1;
inline constexpr std::uint8_t echo_request = 2;
inline constexpr std::uint8_t echo_reply = 3;
inline constexpr std::uint8_t experimenter = 4;
inline constexpr std::uint8_t features_request = 5;
inline constexpr std::uint8_t features_reply = 6;
inline constexpr std::uint8_t packet_in = 10;
inline constexpr std::uint8_t flow_removed = 11;
inline constexpr std::uint8_t port_status = 12;
inline constexpr std::uint8_t packet_out = 13;
inline constexpr std::uint8_t flow_mod = 14;
inline constexpr std::uint8_t multipart_request = 18;
inline constexpr std::uint8_t multipart_reply = 19;
inline constexpr std::uint8_t barrier_request = 20;
inline constexpr std::uint8_t barrier_reply = 21;
}  // namespace msg_type
/// "OFPT_FLOW_MOD"; "OFPT_<n>" for codes beyond 1.3.
std::string type_name(std::uint8_t type);

/// The fixed 8-byte header of every message.
struct header {
    std::uint8_t version = protocol_version;
    std::uint8_t type = 0;
    std::uint16_t length = 8;   ///< whole message, header included
    std::uint32_t xid = 0;      ///< replies carry the xid of their request
};
inline constexpr std::size_t header_size = 8;

/// OFPT_HELLO. `version` is the header's; `version_bitmap` bit n = wire version n supported
/// (0 when the peer sent no bitmap element). Ours offers 1.3 only: bit 4.
struct hello {
    std::uint8_t version = protocol_version;
    std::uint32_t version_bitmap = 1u << protocol_version;
    friend bool operator==(const hello&, const hello&) = default;
};

struct echo_request {
    std::vector<std::uint8_t> data;
    friend bool operator==(const echo_request&, const echo_request&) = default;
};
struct echo_reply {
    std::vector<std::uint8_t> data;
    friend bool operator==(const echo_reply&, const echo_reply&) = default;
};
struct features_request {
    friend bool operator==(const features_request&, const features_request&) = default;
};
struct barrier_request {
    friend bool operator==(const barrier_request&, const barrier_request&) = default;
};
struct barrier_reply {
    friend bool operator==(const barrier_reply&, const barrier_reply&) = default;
};

/// OFPT_FEATURES_REPLY: who the switch is.
struct switch_features {
    std::uint64_t datapath_id = 0;
    std::uint32_t n_buffers = 0;
    std::uint8_t n_tables = 0;
    std::uint8_t auxiliary_id = 0;
    std::uint32_t capabilities = 0;   ///< OFPC_* bits
    friend bool operator==(const switch_features&, const switch_features&) = default;
};
void to_json(json& j, const switch_features& f);
/// "0x0000000000000a01" (how switches print datapath ids).
std::string format_dpid(std::uint64_t dpid);

/// The OFPFC_* flow_mod commands.
enum class flow_command : std::uint8_t {
    add = 0,
    modify = 1,
    modify_strict = 2,
    remove = 3,          ///< OFPFC_DELETE
    remove_strict = 4,   ///< OFPFC_DELETE_STRICT
};
std::string_view to_string(flow_command c) noexcept;
inline std::string_view format_as(flow_command c) noexcept { return to_string(c); }

/// OFPFF_* flow_mod flags.
namespace flow_flags {
inline constexpr std::uint16_t send_flow_rem = 1 << 0;
inline constexpr std::uint16_t check_overlap = 1 << 1;
inline constexpr std::uint16_t reset_counts = 1 << 2;
inline constexpr std::uint16_t no_pkt_counts = 1 << 3;
inline constexpr std::uint16_t no_byt_counts = 1 << 4;
}  // namespace flow_flags

/// OFPT_FLOW_MOD: add, change or remove flow entries. `actions` go in one
/// OFPIT_APPLY_ACTIONS instruction (none when empty: matching packets are dropped).
struct flow_mod {
    flow_command command = flow_command::add;
    std::uint8_t table_id = 0;
    std::uint16_t priority = default_priority;
    std::uint64_t cookie = 0;
    std::uint64_t cookie_mask = 0;
    std::uint16_t idle_timeout = 0;   ///< seconds; 0 = never
    std::uint16_t hard_timeout = 0;   ///< seconds; 0 = never
    std::uint16_t flags = 0;          ///< flow_flags::*
    std::uint32_t buffer_id = no_buffer;
    std::uint32_t out_port = port::any;    ///< remove*: only entries that output here
    std::uint32_t out_group = group_any;
    openflow::match match;
    std::vector<action> actions;

    /// The match's prerequisites, each action, each set_field against the match, table_id
    /// (0..254; 255 only for removes). `invalid_argument` naming the field.
    result<void> validate() const;
    /// "add table 0 priority 100 in_port=2,eth_dst=02:00:00:00:00:01 -> output:1"
    std::string to_string() const;
    friend bool operator==(const flow_mod&, const flow_mod&) = default;
};
/// JSON: {"command": "add", "table_id": 0, "priority": 100, "cookie": 0, "idle_timeout": 0,
/// "hard_timeout": 0, "flags": 0, "out_port": "any", "match": {...}, "actions": [...]};
/// every key optional but the known ones only (a typo is refused, naming the key).
void to_json(json& j, const flow_mod& m);
void from_json(const json& j, flow_mod& m);

/// OFPT_PACKET_IN: a packet the switch sends us (table miss or an output:CONTROLLER action).
struct packet_in {
    std::uint32_t buffer_id = no_buffer;
    std::uint16_t total_len = 0;     ///< the frame's full length (data may be cut to max_len)
    std::uint8_t reason = 0;         ///< 0 no match (table miss), 1 action, 2 invalid TTL
    std::uint8_t table_id = 0;
    std::uint64_t cookie = 0;        ///< of the flow entry that sent it (all ones for a miss)
    openflow::match match;           ///< pipeline fields: in_port at least (other fields skipped)
    std::vector<std::uint8_t> data;  ///< the Ethernet frame (or its first max_len bytes)

    /// The input port from the match; 0 when the switch sent none.
    std::uint32_t in_port() const noexcept { return match.in_port.value_or(0); }
    /// The headers of `data` (bounds-checked).
    result<frame_summary> frame() const { return summarize_frame(data); }
    /// "no_match", "action", "invalid_ttl", or the number.
    std::string reason_name() const;
    friend bool operator==(const packet_in&, const packet_in&) = default;
};

/// OFPT_PACKET_OUT: send `data` through `actions` as if it came in on `in_port`.
struct packet_out {
    std::uint32_t buffer_id = no_buffer;
    std::uint32_t in_port = port::controller;
    std::vector<action> actions;
    std::vector<std::uint8_t> data;

    result<void> validate() const;
    friend bool operator==(const packet_out&, const packet_out&) = default;
};

/// OFPT_ERROR: the switch refused a request (the one with the same xid). `data` holds the
/// start of the refused request (at least 64 bytes of it), or text for HELLO_FAILED.
struct error_message {
    std::uint16_t type = 0;
    std::uint16_t code = 0;
    std::vector<std::uint8_t> data;

    /// "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT (problem validating output port) answering
    /// OFPT_FLOW_MOD"; unknown types and codes by number, HELLO_FAILED with its text.
    std::string describe() const;
    /// "OFPET_BAD_ACTION"
    std::string type_name() const;
    /// "OFPBAC_BAD_OUT_PORT"
    std::string code_name() const;
    /// The type of the request this answers, from the copy of it in `data`.
    std::optional<std::uint8_t> failed_request_type() const;
    friend bool operator==(const error_message&, const error_message&) = default;
};

/// A message of a type not in `message` (its body, header stripped).
struct unknown_message {
    std::uint8_t type = 0;
    std::vector<std::uint8_t> body;
    friend bool operator==(const unknown_message&, const unknown_message&) = default;
};

using message = std::variant<hello, error_message, echo_request, echo_reply, features_request, switch_features,
                             flow_mod, packet_in, packet_out, barrier_request, barrier_reply, unknown_message>;
/// The OFPT_* code of the message's alternative.
std::uint8_t type_of(const message& m) noexcept;

/// Appends the wire form of `m` with this xid to `out` (several messages can share one
/// buffer and one write). Throws `migration_error` (invalid_argument) for a flow_mod or
/// packet_out that fails `validate()`, or one longer than 65535 bytes.
void encode_to(std::vector<std::uint8_t>& out, const message& m, std::uint32_t xid);
/// The wire form of `m` alone.
std::vector<std::uint8_t> encode(const message& m, std::uint32_t xid);

/// The header at the start of `bytes`, checked for a length of at least 8; `protocol_error`
/// when fewer than 8 bytes are given or the length field is below 8.
result<header> peek_header(std::span<const std::uint8_t> bytes);
/// Decodes exactly one message: `bytes` must hold exactly the length its header gives.
/// `protocol_error` naming the message type and what is wrong (truncated, trailing bytes,
/// bad padding length, unsupported instruction, wrong version...). HELLO and ERROR decode
/// in any version (they are how versions are negotiated); everything else must be 1.3.
result<message> decode(std::span<const std::uint8_t> bytes);

}  // namespace migrate::openflow
