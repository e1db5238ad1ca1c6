// src/agent/channel.hpp — one TCP connection of the agent protocol, blocking, with timeouts
// and cancellation (private to src/agent).
//
// Each channel owns its own io_context and runs it on the calling thread in short slices
// (`run_for`), so every read and write has a stall deadline ("no byte moved for this long")
// and notices a stop request within ~50 ms. Also the framing sink and source that carry an
// artifact stream with its SHA-256 trailer.
#pragma once

#include <migrate/agent/protocol.hpp>
#include <migrate/stream.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

namespace migrate::agent::detail {

using ms = std::chrono::milliseconds;

struct frame {
    frame_type type = frame_type::data;
    std::string payload;
};

/// `j[key]` as T, or `fallback` when absent or of another type (peers' JSON is untrusted:
/// a wrong type must not throw out of a connection thread).
template <class T>
T field_or(const json& j, const char* key, T fallback) {
    if (!j.is_object()) return fallback;
    auto it = j.find(key);
    if (it == j.end()) return fallback;
    try {
        return it->template get<T>();
    } catch (const json::exception&) {
        return fallback;
    }
}

class channel {
public:
    channel();
    /// Adopts a connected socket (an accepted one).
    explicit channel(int native_fd);
    ~channel();
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    /// Resolves and connects; `timeout` covers both. Errors: `daemon_unreachable` (refused,
    /// unreachable), `timeout`, `cancelled`.
    result<void> connect(const endpoint& to, ms timeout, std::stop_token stop);

    /// Writes all bytes; fails with `timeout` when none moved for `stall`.
    result<void> write(std::string_view bytes, ms stall, std::stop_token stop);
    result<void> write_frame(frame_type t, std::string_view payload, ms stall, std::stop_token stop);
    /// Reads exactly `n` bytes; `timeout` when none arrived for `stall`; `io_error` naming
    /// the peer when the connection ends first (`*clean_eof` set when it ended before the
    /// first byte).
    result<void> read_exact(char* p, std::size_t n, ms stall, std::stop_token stop, bool* clean_eof = nullptr);
    /// Reads one frame, checking the header against `limits` before reading the payload.
    result<frame> read_frame(const frame_limits& limits, ms stall, std::stop_token stop, bool* clean_eof = nullptr);

    /// True when the peer sent something or closed (without reading it).
    bool input_pending();
    /// True when the peer closed its side (peeks; does not consume data).
    bool peer_closed();
    void shutdown_send() noexcept;
    /// After an error reply: stop sending, read and drop what the peer still sends for up to
    /// `grace`, so the reply is not lost to a reset; then close.
    void linger_close(ms grace) noexcept;
    void close() noexcept;

    /// "10.1.2.3:45678", for messages.
    const std::string& peer() const noexcept { return peer_; }
    bool is_open() const noexcept { return sock_.is_open(); }
    /// True when the last failed operation failed because the peer closed the connection.
    bool last_eof() const noexcept { return last_eof_; }

private:
    template <class Start>
    result<std::size_t> run(Start&& start, ms stall, std::stop_token stop, const char* what);

    boost::asio::io_context ctx_;
    boost::asio::ip::tcp::socket sock_;
    std::string peer_;
    bool last_eof_ = false;
};

/// A sink that frames what it is given as 'D' frames of at most `chunk` bytes (buffering
/// small writes up to that size), hashing and counting. `finish()` flushes and sends 'E';
/// `abort(f)` sends 'A'. Before each frame `check()` may fail the write (e.g. the receiver
/// already answered with an error).
class frame_sink final : public byte_sink {
public:
    frame_sink(channel& ch, std::size_t chunk, ms stall, std::stop_token stop);
    result<void> write(std::span<const std::byte> chunk) override;
    result<void> close() override { return {}; }  // the stream ends with finish()/abort()
    result<end_trailer> finish();
    void abort(const failure& f) noexcept;

    std::function<result<void>()> check;
    std::function<void(std::uint64_t)> on_progress;
    std::uint64_t bytes() const noexcept { return bytes_; }

private:
    result<void> flush();
    channel& ch_;
    std::size_t chunk_;
    ms stall_;
    std::stop_token stop_;
    stream_hash hash_;
    std::string buf_;
    std::uint64_t bytes_ = 0;
};

/// A source reading 'D' frames until 'E', hashing and counting. At 'E' it compares the
/// sender's byte count and SHA-256 with its own: a difference fails the read with
/// `corrupt_artifact`. The newest 'D' frame is held back until the next frame arrives, so the
/// consumer gets the stream's last bytes only once it is verified. 'A' fails it with the sender's error; anything else, or the
/// connection ending without 'E', with `protocol_error` / `io_error`.
class frame_source final : public byte_source {
public:
    frame_source(channel& ch, const frame_limits& limits, ms stall, std::stop_token stop, std::string sender);
    result<std::size_t> read(std::span<std::byte> out) override;
    /// Reads (and hashes) whatever the consumer left unread, up to 'E'; the verdict.
    result<void> drain();

    bool verified() const noexcept { return verified_; }
    std::uint64_t bytes() const noexcept { return bytes_; }
    const std::string& sha256() const noexcept { return sha256_; }
    const std::optional<failure>& failed() const noexcept { return failed_; }
    std::function<void(std::uint64_t)> on_progress;

private:
    result<void> next_frame();
    channel& ch_;
    frame_limits limits_;
    ms stall_;
    std::stop_token stop_;
    std::string sender_;
    stream_hash hash_;
    std::string buf_;
    std::size_t pos_ = 0;
    std::string pending_;  // the newest frame, held back
    bool held_ = false;
    std::uint64_t bytes_ = 0;
    bool ended_ = false;
    bool verified_ = false;
    std::string sha256_;
    std::optional<failure> failed_;
};

}  // namespace migrate::agent::detail
