// src/store/resp.hpp — a small blocking RESP2 client connection for the redis state store
// (private to src/store). Each connection owns an io_context and runs it on the calling
// thread until the operation completes or its deadline passes, so every call has a deadline
// without a thread of its own; `interrupt()` (thread-safe) ends a blocking read at once,
// which is how a watch's SUBSCRIBE connection is cancelled.
#pragma once

#include <migrate/result.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::store::detail {

/// One RESP2 reply.
struct resp_value {
    enum class type { simple, error, integer, bulk, nil, array };
    type kind = type::nil;
    std::string text;                ///< simple, error, bulk
    std::int64_t integer = 0;
    std::vector<resp_value> items;   ///< array

    bool is_error() const noexcept { return kind == type::error; }
};

/// The RESP2 encoding of a command: an array of bulk strings (binary-safe).
std::string encode_command(const std::vector<std::string_view>& args);

class resp_connection {
public:
    using clock = std::chrono::steady_clock;

    /// `host`, `port` to connect to; `address` ("127.0.0.1:6379") names it in messages.
    resp_connection(std::string host, std::uint16_t port, std::string address);
    ~resp_connection();
    resp_connection(const resp_connection&) = delete;
    resp_connection& operator=(const resp_connection&) = delete;

    /// `daemon_unreachable` naming the address when refused or unanswered within `timeout`.
    result<void> connect(std::chrono::milliseconds timeout);
    /// Sends a command and reads its reply (an error reply is a value, not a failure).
    /// Failures: `daemon_unreachable` (connection lost), `timeout`, `protocol_error`.
    result<resp_value> call(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout);
    result<void> send(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout);
    /// Reads one reply, waiting until `deadline` (`clock::time_point::max()`: until a reply,
    /// a failure or `interrupt()`, which fails it with `cancelled`).
    result<resp_value> read(clock::time_point deadline);

    /// True when the connection can carry another command: open, nothing unread, and the
    /// server has not closed it (a restarted server's old connections are not).
    bool reusable();
    /// Thread-safe: ends the current or next blocking operation with `cancelled`.
    void interrupt() noexcept;
    const std::string& address() const noexcept { return address_; }

private:
    template <class Start>
    result<std::size_t> run(Start&& start, clock::time_point deadline);
    result<void> fill(clock::time_point deadline);
    result<std::string> read_line(clock::time_point deadline);
    result<resp_value> parse(clock::time_point deadline, int depth);
    failure lost(const std::string& why);

    boost::asio::io_context ctx_;
    boost::asio::ip::tcp::socket sock_;
    std::string host_;
    std::uint16_t port_;
    std::string address_;
    std::string in_;          ///< received, not yet parsed
    std::size_t pos_ = 0;     ///< parse position in `in_`
    std::atomic<bool> interrupted_{false};
};

}  // namespace migrate::store::detail
