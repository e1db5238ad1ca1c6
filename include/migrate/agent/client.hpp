// migrate/agent/client.hpp — talking to a host agent (`migrate-agent`) over TCP.
//
// A driver uses `relay` to move an artifact from one host to another without the bytes
// passing through it: the source host's agent produces the artifact on its own engine and
// pushes it straight to the target host's agent, which consumes it on its engine. `push`
// (this process produces, the agent consumes) and `fetch` (the agent produces, this process
// consumes) are the two halves; an agent relaying uses `push` itself.
//
// Every call opens its own connection and is blocking, on the caller's thread. Cancellation:
// a stop request closes the connection within ~50 ms and the call fails with `cancelled`;
// the agent on the other side then aborts what it was doing (a consumer removes its partial
// output). Thread safety: an `agent_client` is immutable; calls from several threads at once
// are fine.
#pragma once

#include <migrate/agent/protocol.hpp>
#include <migrate/artifact.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/stream.hpp>
#include <migrate/transport.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

namespace migrate::agent {

struct client_options {
    std::string token;                               ///< the agents' shared secret
    std::string name = "driver";                     ///< this side, in the agent's logs and messages
    std::chrono::milliseconds connect_timeout{5000};
    /// A stream fails when no byte moved for this long (link down, peer hung). A relay
    /// passes it on to the source agent, which applies it to its push to the target.
    std::chrono::milliseconds stall_timeout{10000};
    /// After the stream ended: how long the consumer may take to finish (e.g. the engine
    /// finalising an image import) before answering.
    std::chrono::milliseconds reply_timeout{120000};
    /// How often a relaying agent reports progress (and shows it is alive).
    std::chrono::milliseconds progress_interval{250};
    std::size_t chunk_bytes = 256 * 1024;            ///< 'D' frame size (<= limits.max_data_bytes)
    frame_limits limits;

    /// `invalid_argument` naming the field ("client_options.token: empty").
    result<void> validate() const;
};
/// The token is never written out ("token": "<set>" or "").
void to_json(json& j, const client_options& o);
void from_json(const json& j, client_options& o);

class agent_client {
public:
    using progress_fn = std::function<void(std::uint64_t bytes_so_far)>;
    /// Writes the artifact into the sink it is given; returns details for the report.
    using produce_fn = std::function<result<json>(byte_sink&)>;

    /// `address` is "ADDR:PORT". `invalid_argument` naming the field when it or the options
    /// are malformed. Does not connect.
    static result<agent_client> make(std::string_view address, client_options opts);

    const endpoint& peer() const noexcept { return peer_; }
    const client_options& options() const noexcept { return opts_; }

    /// Asks the agent who it is: {"name", "version", "work_dir", "docker": {...}}.
    /// `permission_denied` when the token is refused, `daemon_unreachable` when nothing
    /// answers.
    result<json> ping(std::stop_token stop = {}) const;

    /// Streams what `produce` writes to the agent, which consumes it as `consume` on its
    /// engine. Succeeds only when the agent confirmed the byte count and SHA-256. Errors are
    /// the agent's (prefixed "agent at ADDR:PORT") or this side's.
    result<transfer_stats> push(const artifact_spec& consume, const produce_fn& produce, const progress_fn& progress = {},
                                std::stop_token stop = {}) const;

    /// The agent produces `produce` on its engine; the stream is written into `out` (not
    /// closed). Fails with `corrupt_artifact` when the stream does not match its trailer
    /// (`out` then holds unverified bytes: discard them).
    result<transfer_stats> fetch(const artifact_spec& produce, byte_sink& out, const progress_fn& progress = {},
                                 std::stop_token stop = {}) const;

    /// The agent produces `produce` and pushes it to the agent at `to` ("ADDR:PORT"), which
    /// consumes it as `consume`; the bytes never pass through this process. `progress`
    /// receives the bytes sent so far, every `progress_interval`.
    result<transfer_stats> relay(const artifact_spec& produce, std::string_view to, const artifact_spec& consume,
                                 const progress_fn& progress = {}, std::stop_token stop = {}) const;

private:
    agent_client(endpoint e, client_options o) : peer_(std::move(e)), opts_(std::move(o)) {}
    endpoint peer_;
    client_options opts_;
};

}  // namespace migrate::agent
