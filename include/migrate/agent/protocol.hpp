// migrate/agent/protocol.hpp — the wire format spoken between a migration driver and the
// host agents (`migrate-agent`), and between two agents.
//
// One TCP connection carries one request. Everything on it is a frame:
//
//     frame = type:u8  length:u32 (big endian)  payload[length]
//
//     'H' request   JSON; the first frame the connecting side sends (<= max_json_bytes)
//     'D' data      one chunk of an artifact stream (1 .. max_data_bytes)
//     'E' end       the stream is complete: total bytes u64 (big endian) + the 32-byte
//                   SHA-256 of every 'D' payload in order (40 bytes exactly)
//     'A' abort     the sender gave up mid-stream: JSON {"error": code, "message": text}
//     'P' progress  JSON {"bytes": n}: relay progress, agent -> driver; also a heartbeat
//     'R' reply     JSON, the server's last frame: {"ok": true, ...} or
//                   {"ok": false, "error": "<migrate::error name>", "message": "..."}
//
// Requests (the JSON of 'H'): {"v": 1, "op": ..., "token": ...} and, per op:
//
//     ping      -                                      R {"ok", "agent": {...}}
//     produce   "artifact"                             server: D.. E (or A); then R
//     consume   "artifact", "from"                     client: D.. E (or A); server consumes
//                                                      on its engine, checks the digest; R
//     relay     "produce", "to" ("addr:port"),          server produces on its engine and
//               "consume"                              pushes to the agent at `to` (a consume
//                                                      request there); P frames to the driver
//                                                      meanwhile; then R with the stats
//
// Optional in every request: "stall_timeout_ms", "reply_timeout_ms", "progress_interval_ms"
// (the driver's timeouts, which a relaying agent passes on; the server caps them).
//
// A receiver reports success only when the byte count and SHA-256 it computed equal the
// sender's 'E' trailer. Anything malformed (unknown frame type, oversized frame, bad JSON,
// unknown op, bad token, an artifact path leaving the work dir) gets an error 'R' and the
// connection is closed before anything is done. See docs/agent.md for the security model.
#pragma once

#include <migrate/artifact.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/sha256.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace migrate::agent {

/// Version carried in every request ("v"); a server refuses other versions.
inline constexpr int protocol_version = 1;
/// Bytes of a frame header: type + length.
inline constexpr std::size_t frame_header_bytes = 5;
/// Bytes of an 'E' payload: u64 length + SHA-256.
inline constexpr std::size_t end_payload_bytes = 40;

enum class frame_type : std::uint8_t {
    request = 'H',
    data = 'D',
    end = 'E',
    abort = 'A',
    progress = 'P',
    reply = 'R',
};
std::string_view to_string(frame_type t) noexcept;
inline std::string_view format_as(frame_type t) noexcept { return to_string(t); }

/// Size limits a reader enforces before it allocates anything.
struct frame_limits {
    std::uint32_t max_json_bytes = 64 * 1024;       ///< 'H', 'R', 'A', 'P'
    std::uint32_t max_data_bytes = 1024 * 1024;     ///< 'D'
};

struct frame_header {
    frame_type type = frame_type::data;
    std::uint32_t length = 0;
};

/// The 5 header bytes of a frame.
std::array<std::byte, frame_header_bytes> encode_frame_header(frame_type t, std::uint32_t length) noexcept;
/// A whole frame (header + payload) as bytes; for small frames.
std::string encode_frame(frame_type t, std::string_view payload);
/// Checks a received header: a known type and a length within `limits` ('E' exactly 40,
/// 'D' at least 1). `protocol_error` naming the byte seen or the length and the limit.
result<frame_header> decode_frame_header(std::span<const std::byte, frame_header_bytes> bytes,
                                         const frame_limits& limits = {});

/// SHA-256 of a stream (migrate/sha256.hpp).
using stream_hash = ::migrate::sha256;
using ::migrate::to_hex;

/// The 'E' trailer.
struct end_trailer {
    std::uint64_t bytes = 0;
    stream_hash::digest sha256{};
};
std::string encode_end(const end_trailer& e);
/// `protocol_error` unless exactly 40 bytes.
result<end_trailer> decode_end(std::string_view payload);

/// "10.1.2.3:7070" or "[::1]:7070" or "localhost:7070".
struct endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
};
/// `invalid_argument` naming `field` when `s` is not host:port with a port in 1..65535.
result<endpoint> parse_endpoint(std::string_view s, std::string_view field = "endpoint");

enum class operation { ping, produce, consume, relay };
std::string_view to_string(operation o) noexcept;
inline std::string_view format_as(operation o) noexcept { return to_string(o); }
void to_json(json& j, operation o);
void from_json(const json& j, operation& o);

/// One request (the JSON of an 'H' frame).
struct request {
    int version = protocol_version;
    operation op = operation::ping;
    std::string token;
    artifact_spec artifact;       ///< produce, consume: the artifact; relay: what to produce
    artifact_spec consume;        ///< relay: how the agent at `to` consumes it
    std::string to;               ///< relay: the target agent, "addr:port"
    std::string from;             ///< consume: the sender's name, for messages and logs
    std::uint32_t stall_timeout_ms = 0;      ///< 0 = the server's own
    std::uint32_t reply_timeout_ms = 0;      ///< 0 = the server's own
    std::uint32_t progress_interval_ms = 0;  ///< 0 = the server's own

    /// Checks what does not need the token: the version, the op's fields (each artifact's
    /// `validate()`: a `file` path must stay inside the work dir), `to`. `invalid_argument`
    /// naming the field ("request.consume.path: ...").
    result<void> validate() const;
    /// For logs: "relay filesystem of container 'x' -> 10.1.2.3:7070 as image 'y'".
    std::string describe() const;
};
/// The token travels in the JSON; never log it.
void to_json(json& j, const request& r);
void from_json(const json& j, request& r);

/// Parses and validates the JSON of an 'H' frame: `protocol_error` for text that is not a
/// JSON object, `invalid_argument` naming the field otherwise. Does not check the token.
result<request> parse_request(std::string_view text);

/// Constant-time comparison of a presented token with the expected one: the time taken does
/// not depend on where they differ or on the presented token's length. An empty expected
/// token matches nothing.
bool token_matches(std::string_view expected, std::string_view presented) noexcept;

/// {"ok": false, "error": "<code>", "message": "..."}.
json error_reply(const failure& f);
/// The failure an error reply or an 'A' frame describes, its message prefixed with
/// `context` ("agent b (10.1.2.3:7070): ..."). An unknown code becomes `protocol_error`.
failure failure_from_reply(const json& reply, std::string_view context);
/// The `migrate::error` whose name is `name`; `error::protocol_error` when none is.
error error_from_string(std::string_view name) noexcept;

}  // namespace migrate::agent
