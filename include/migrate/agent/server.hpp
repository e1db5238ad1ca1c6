// migrate/agent/server.hpp — the host agent: a TCP server that runs next to one edge host's
// dockerd (in its network namespace) and performs artifact steps on that local engine for
// drivers and peer agents holding the shared token (protocol.hpp has the wire format).
//
//   produce  stream an artifact of this host to the caller
//   consume  read a stream from the caller into this host's engine (checked by SHA-256)
//   relay    produce here and push it to another agent, reporting progress to the caller
//
// Requests are checked before anything is done: the token (constant-time), the frame and
// JSON, each artifact spec (a `file` path must stay inside `work_dir`). A bad one gets an
// error reply and its connection is closed. A consume whose stream fails, stalls, is aborted
// or does not match its trailer removes what it made (a staged file, an imported image, a
// checkpoint, a volume it created) before it answers.
//
// Threads: one accept thread, one thread per connection (at most `limits.max_connections`;
// more are answered `daemon_unreachable`, i.e. "unavailable: retry with backoff"), plus one
// per relay for the push. Each connection uses its own engine client. `stop()` stops
// accepting and cancels every connection (a consumer cleans up as on any failure).
#pragma once

#include <migrate/agent/protocol.hpp>
#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace migrate::agent {

struct server_limits {
    int max_connections = 16;                         ///< concurrent requests; more are refused
    std::chrono::milliseconds request_timeout{5000};  ///< to receive the request frame after connecting
    /// Default stall limit of streams (no byte moved); a request may ask for less or more,
    /// up to `max_stall_timeout`.
    std::chrono::milliseconds stall_timeout{10000};
    std::chrono::milliseconds max_stall_timeout{300000};
    /// After a pushed stream ended, how long the peer agent may take to answer.
    std::chrono::milliseconds reply_timeout{120000};
    std::chrono::milliseconds progress_interval{250}; ///< relay progress frames (min 20 ms)
    std::size_t chunk_bytes = 256 * 1024;             ///< 'D' frames this agent sends
    frame_limits frames;

    result<void> validate() const;
};
void to_json(json& j, const server_limits& l);
void from_json(const json& j, server_limits& l);

struct server_options {
    std::string bind_address = "127.0.0.1";         ///< the host's address (or 0.0.0.0)
    std::uint16_t port = 7070;                      ///< 0 = any free port (tests)
    std::string token;                              ///< shared secret; at least 16 characters
    std::filesystem::path work_dir;                 ///< scratch for `file` artifacts; must exist
    std::filesystem::path docker_socket = "/run/docker.sock";
    std::string name;                               ///< this host's name in logs and messages
    server_limits limits;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
/// The token is never written out.
void to_json(json& j, const server_options& o);
void from_json(const json& j, server_options& o);

class agent_server {
public:
    /// Makes the engine client a connection uses; default: `docker::engine` on
    /// `options.docker_socket`. Called once per connection, on that connection's thread.
    using runtime_factory = std::function<std::shared_ptr<container_runtime>()>;

    /// Validates, binds and starts accepting. `h.log` gets one line per request (peer, op,
    /// artifact, outcome, bytes and rate; never the token). Fails with `invalid_argument`
    /// (options) or `io_error` (cannot bind, naming the address).
    static result<std::unique_ptr<agent_server>> start(server_options opts, hooks h = {}, runtime_factory rt = {});
    ~agent_server();
    agent_server(const agent_server&) = delete;
    agent_server& operator=(const agent_server&) = delete;

    /// The bound address, e.g. "10.1.2.3:7070" (the real port when `port` was 0).
    endpoint local_endpoint() const;
    const server_options& options() const noexcept;

    /// Stops accepting, cancels every connection and waits for their threads. Idempotent.
    void stop() noexcept;
    /// Blocks until `stop()` was called (from another thread or a signal handler's thread).
    void wait();

    /// Counters since start: {"accepted", "refused", "succeeded", "failed", "bytes_in", "bytes_out"}.
    json stats() const;

private:
    struct impl;
    explicit agent_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate::agent
