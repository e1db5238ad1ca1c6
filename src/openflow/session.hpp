// src/openflow/session.hpp — the machinery under switch_connection and controller_listener
// (private to src/openflow): the io thread, one OpenFlow session on a socket, and the
// factory access to the public handles.
//
// Ownership: a session is kept alive by its own pending handlers (read loop, timers,
// writes) and by the public handles; it holds only a reference to its io_context. The
// io_context belongs to an `io_runner` that the public handles (and nothing else) own, so the
// runner outlives every handle and, when the last one goes, stops its thread and destroys the
// io_context, which destroys whatever handlers (and sessions) are still pending.
#pragma once

#include <migrate/openflow/connection.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace migrate::openflow::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ms = std::chrono::milliseconds;

/// An io_context and the thread running it. Destroyed on the io thread itself (the last
/// handle dropped in a callback) it cannot join: the thread then finishes on its own and
/// destroys the io_context after its last handler.
class io_runner {
public:
    io_runner();
    ~io_runner();
    io_runner(const io_runner&) = delete;
    io_runner& operator=(const io_runner&) = delete;
    asio::io_context& context() noexcept { return core_->ctx; }

private:
    struct core {
        asio::io_context ctx{1};
        asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
    };
    std::shared_ptr<core> core_;
    std::thread thread_;
};

/// One OpenFlow session on a connected socket.
class session : public std::enable_shared_from_this<session> {
public:
    using ready_handler = std::function<void(const std::optional<failure>&)>;

    session(asio::io_context& io, tcp::socket socket, const connection_options& options);

    /// Sends HELLO and starts reading; `on_ready` is called once on the io thread: with
    /// nullopt after FEATURES_REPLY, or with why the handshake failed.
    void start(ready_handler on_ready);
    /// Called once on the io thread when the session ends (the listener forgets it).
    void set_closed_hook(std::function<void()> hook);

    const switch_features& features() const noexcept { return features_; }
    const std::string& peer() const noexcept { return peer_; }
    bool is_open() const;
    std::optional<failure> closed_reason() const;
    result<void> apply(const std::vector<flow_mod>& mods, ms timeout);
    result<void> send(const packet_out& p);
    void on_packet_in(std::function<void(const packet_in&)> callback);
    void on_disconnect(std::function<void(const failure&)> callback);
    void close(failure why) noexcept;
    connection_stats stats() const;

private:
    struct waiter {
        std::uint32_t first_xid = 0;
        std::uint32_t barrier_xid = 0;
        bool done = false;
        std::optional<std::pair<std::size_t, error_message>> refused;  // index of the mod, the ERROR
        std::optional<failure> failed;
    };

    // io thread only
    void read_header();
    void read_body();
    void handle_message();
    void dispatch(std::uint32_t xid, message&& m);
    void on_hello(const hello& h);
    void on_error(std::uint32_t xid, error_message&& e);
    void on_reply(std::uint32_t xid);
    void write(std::vector<std::uint8_t> bytes);
    void write_next();
    void echo_tick();
    void teardown(const failure& why);
    std::string who() const;

    // any thread
    bool on_io_thread() const;
    void queue(std::vector<std::uint8_t> bytes);
    std::uint32_t take_xids(std::uint32_t n);
    /// Records the end, fails the waiters; false when the session had ended already.
    bool mark_closed(const failure& why);

    asio::io_context& io_;
    tcp::socket socket_;
    asio::steady_timer handshake_timer_;
    asio::steady_timer echo_timer_;
    const connection_options options_;
    std::string peer_;
    switch_features features_;   // written once before the session is handed out

    // io thread only
    std::vector<std::uint8_t> rx_;
    std::deque<std::vector<std::uint8_t>> tx_;
    bool writing_ = false;
    bool hello_seen_ = false;
    bool ready_ = false;
    bool torn_down_ = false;
    std::uint32_t features_xid_ = 0;
    ready_handler on_ready_;
    std::function<void()> closed_hook_;
    int silent_intervals_ = 0;
    bool heard_since_tick_ = false;
    std::uint32_t echo_xid_ = 0;
    std::chrono::steady_clock::time_point echo_sent_at_;

    // shared, under mu_
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::optional<failure> closed_;
    std::uint32_t next_xid_ = 1;
    std::vector<std::shared_ptr<waiter>> waiting_;
    std::shared_ptr<const std::function<void(const packet_in&)>> on_packet_in_;
    std::function<void(const failure&)> on_disconnect_;
    connection_stats stats_;
};

/// The listener's side of accepted sessions (kept alive by its accept handler and by the
/// public controller_listener).
class listener_state : public std::enable_shared_from_this<listener_state> {
public:
    listener_state(asio::io_context& io, std::weak_ptr<io_runner> runner, const listener_options& options);
    result<void> open();
    std::uint16_t port() const noexcept { return port_; }
    const listener_options& options() const noexcept { return options_; }
    void accept_next();
    result<std::shared_ptr<switch_connection>> wait_for(std::optional<std::uint64_t> dpid, ms timeout);
    void on_switch(std::function<void(std::shared_ptr<switch_connection>)> callback);
    std::vector<std::shared_ptr<switch_connection>> switches() const;
    std::optional<failure> last_refusal() const;
    void close() noexcept;

private:
    void adopt(const std::shared_ptr<session>& s);
    void forget(const session* s);

    asio::io_context& io_;
    std::weak_ptr<io_runner> runner_;
    const listener_options options_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool closed_ = false;
    std::vector<std::shared_ptr<switch_connection>> sessions_;
    std::function<void(std::shared_ptr<switch_connection>)> on_switch_;
    std::optional<failure> last_refusal_;
};

/// Builds the public handles (their constructors are private).
struct handle_access {
    static std::shared_ptr<switch_connection> connection(std::shared_ptr<io_runner> runner, std::shared_ptr<session> s);
    static std::unique_ptr<controller_listener> listener(std::shared_ptr<io_runner> runner,
                                                         std::shared_ptr<listener_state> state);
    static const std::shared_ptr<session>& session_of(const switch_connection& c) { return c.session_; }
};

/// "1.0", "1.3", ... for wire versions 1..6; "0x07" beyond.
std::string version_name(unsigned wire_version);

}  // namespace migrate::openflow::detail
