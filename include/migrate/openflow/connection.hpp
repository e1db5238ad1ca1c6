// migrate/openflow/connection.hpp — one OpenFlow 1.3 session with a switch, over TCP, in
// either direction: the switch dials us (`controller_listener`, OVS: `ovs-vsctl
// set-controller BR tcp:IP:PORT`) or we dial a switch's passive port (`connect_to_switch`,
// OVS: `set-controller BR ptcp:PORT`).
//
// A session is ready when HELLO negotiated version 1.3 (a peer that does not offer it gets
// OFPET_HELLO_FAILED and a clear `unsupported` error) and FEATURES_REPLY said who the switch
// is. From then on it answers the switch's ECHO_REQUESTs, probes the switch with its own
// every `echo_interval` and drops the session after `echo_misses` intervals of silence.
//
// Threads: the sockets run on an io thread of their own (shared by a listener and the
// sessions it accepted) or on an `io_context` the caller lends and runs. The blocking calls
// (`apply`, `barrier`, `wait_for_switch`) may be made from any thread but the io thread
// (they refuse there, instead of deadlocking); callbacks run on the io thread and must be
// quick. A `switch_connection` and a `controller_listener` are thread-safe.
#pragma once

#include <migrate/json.hpp>
#include <migrate/openflow/message.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace migrate::openflow {

namespace detail {
class session;
class io_runner;
class listener_state;
struct handle_access;
}  // namespace detail

/// Timers of one session.
struct connection_options {
    /// HELLO exchange plus FEATURES_REPLY, after the TCP connection is up.
    std::chrono::milliseconds handshake_timeout{5000};
    /// A probe (ECHO_REQUEST) after this long; also how often silence is counted. 0 = none.
    std::chrono::milliseconds echo_interval{5000};
    /// Intervals without any message from the switch before the session is dropped (>= 1).
    int echo_misses = 3;

    /// Positive handshake timeout, echo_interval >= 0, echo_misses >= 1; names the field.
    result<void> validate() const;
};
void to_json(json& j, const connection_options& o);
void from_json(const json& j, connection_options& o);

/// Counters of a session (for tests, benchmarks and status pages).
struct connection_stats {
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t packet_ins = 0;
    std::uint64_t echo_requests_answered = 0;   ///< the switch's probes we answered
    std::uint64_t echo_replies = 0;             ///< answers to our probes
    std::optional<std::chrono::microseconds> last_echo_rtt;
    std::uint64_t decode_errors = 0;            ///< messages we could not decode (session kept)
    std::string last_decode_error;
    std::uint64_t callback_errors = 0;          ///< exceptions thrown by our callbacks (swallowed)
};

/// One ready OpenFlow 1.3 session with a switch. Made by `connect_to_switch` or a
/// `controller_listener`; closed by `close()` or when the last handle goes away.
class switch_connection {
public:
    ~switch_connection();
    switch_connection(const switch_connection&) = delete;
    switch_connection& operator=(const switch_connection&) = delete;

    std::uint64_t datapath_id() const noexcept;
    /// What FEATURES_REPLY said.
    const switch_features& features() const noexcept;
    /// The switch's address, "127.0.0.1:41234".
    const std::string& peer() const noexcept;
    /// False once the session ended (peer gone, echo silence, protocol error, close()).
    bool is_open() const noexcept;
    /// Why the session ended; nullopt while it is open.
    std::optional<failure> closed_reason() const;

    /// Sends every mod and one BARRIER_REQUEST in a single write, then waits for the
    /// BARRIER_REPLY: when this returns ok the switch has applied all of them. Fails with
    /// `invalid_argument` (before sending anything) naming the mod that fails validate(),
    /// `daemon_error` naming the first mod the switch refused and its ERROR in words,
    /// `timeout` when no BARRIER_REPLY came in time, `daemon_unreachable` when the session
    /// is or goes down. Mods before a refused one stay applied (OpenFlow has no
    /// transactions); the caller undoes them.
    result<void> apply(const std::vector<flow_mod>& mods, std::chrono::milliseconds timeout);
    /// BARRIER_REQUEST / BARRIER_REPLY alone: everything sent before is processed.
    result<void> barrier(std::chrono::milliseconds timeout);
    /// Queues a PACKET_OUT (no answer is expected; a refusal arrives as an ERROR nobody
    /// waits for, counted only). `invalid_argument` for a bad packet_out, `daemon_unreachable`
    /// when the session is down.
    result<void> send(const packet_out& p);

    /// Called on the io thread for each PACKET_IN; replaces the previous callback. Exceptions
    /// it throws are counted in `stats().callback_errors` and dropped.
    void on_packet_in(std::function<void(const packet_in&)> callback);
    /// Called once, on the io thread, when the session ends, with the reason; at once on
    /// the calling thread when it has ended already.
    void on_disconnect(std::function<void(const failure&)> callback);
    /// Ends the session (pending calls fail with `daemon_unreachable`). Idempotent.
    void close() noexcept;

    connection_stats stats() const;

private:
    friend struct detail::handle_access;
    switch_connection(std::shared_ptr<detail::io_runner> runner, std::shared_ptr<detail::session> s);

    std::shared_ptr<detail::io_runner> runner_;  // null with a lent io_context
    std::shared_ptr<detail::session> session_;
};

/// Dials a switch listening for controllers (OVS `ptcp:PORT`), negotiates and asks for its
/// features; `timeout` covers all of it. Runs the session on an io thread of its own.
/// Errors: `daemon_unreachable` (refused/unreachable), `timeout`, `unsupported` (no 1.3),
/// `protocol_error`.
result<std::shared_ptr<switch_connection>> connect_to_switch(const std::string& host, std::uint16_t port,
                                                             const connection_options& options = {},
                                                             std::chrono::milliseconds timeout = std::chrono::seconds(5));
/// The same on an io_context the caller runs (on another thread than the caller's).
result<std::shared_ptr<switch_connection>> connect_to_switch(boost::asio::io_context& io, const std::string& host,
                                                             std::uint16_t port, const connection_options& options = {},
                                                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Where a controller_listener listens.
struct listener_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = default_port;   ///< 0 = any free port (see `port()`)
    connection_options connection;       ///< for every accepted session

    /// An IPv4/IPv6 literal address; names the field.
    result<void> validate() const;
};
void to_json(json& j, const listener_options& o);
void from_json(const json& j, listener_options& o);

/// Accepts switches dialing in (OVS `set-controller BR tcp:ADDRESS:PORT`) and keeps every
/// session that completed its handshake until it ends or the listener goes away. Sessions
/// handed out stay open as long as their handles live.
class controller_listener {
public:
    /// Binds and listens (on an io thread of its own). `invalid_argument` for bad options,
    /// `already_exists` when the port is taken, `io_error` otherwise.
    static result<std::unique_ptr<controller_listener>> listen(const listener_options& options = {});
    /// The same on an io_context the caller runs.
    static result<std::unique_ptr<controller_listener>> listen(boost::asio::io_context& io,
                                                               const listener_options& options = {});
    ~controller_listener();
    controller_listener(const controller_listener&) = delete;
    controller_listener& operator=(const controller_listener&) = delete;

    /// The bound port (the chosen one when the options said 0).
    std::uint16_t port() const noexcept;
    /// "tcp:127.0.0.1:6653": what `ovs-vsctl set-controller` takes.
    std::string target() const;

    /// The newest open session with this datapath id (any switch when nullopt), waiting up to
    /// `timeout` for one to complete its handshake. `timeout` otherwise, naming the last
    /// refused handshake if there was one.
    result<std::shared_ptr<switch_connection>> wait_for_switch(std::optional<std::uint64_t> datapath_id,
                                                               std::chrono::milliseconds timeout);
    /// Called on the io thread for every session that completed its handshake.
    void on_switch(std::function<void(std::shared_ptr<switch_connection>)> callback);
    /// Open sessions, oldest first.
    std::vector<std::shared_ptr<switch_connection>> switches() const;
    /// Why the last incoming connection failed its handshake; nullopt if none did.
    std::optional<failure> last_refusal() const;
    /// Stops accepting and closes the sessions nobody else holds. Idempotent.
    void close() noexcept;

private:
    friend struct detail::handle_access;
    controller_listener(std::shared_ptr<detail::io_runner> runner, std::shared_ptr<detail::listener_state> state);
    std::shared_ptr<detail::io_runner> runner_;
    std::shared_ptr<detail::listener_state> state_;
};

}  // namespace migrate::openflow
