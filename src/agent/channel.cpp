#include "channel.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>

namespace migrate::agent::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
constexpr ms slice = 50ms;

double secs(ms d) { return std::chrono::duration<double>(d).count(); }

std::string peer_of(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    return endpoint{ep.address().to_string(), ep.port()}.to_string();
}
}  // namespace

channel::channel() : sock_(ctx_) {}

channel::channel(int fd) : sock_(ctx_) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    boost::system::error_code ec;
    sock_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    sock_.set_option(tcp::no_delay(true), ec);
    peer_ = peer_of(sock_);
}

channel::~channel() { close(); }

// Runs one asynchronous operation on our io_context until it completes, the caller stops,
// or no byte moved for `stall` (`progress` is the time of the last movement, which the
// operation's completion condition updates).
template <class Start>
result<std::size_t> channel::run(Start&& start, ms stall, std::stop_token stop, const char* what) {
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    auto progress = clock::now();
    last_eof_ = false;
    start([&](const boost::system::error_code& e, std::size_t k) { done = true; ec = e; n = k; }, progress);
    ctx_.restart();
    auto abandon = [&] {
        boost::system::error_code ignored;
        sock_.cancel(ignored);
        ctx_.restart();
        while (!done && ctx_.run_one()) {}
    };
    while (!done) {
        if (stop.stop_requested()) {
            abandon();
            return make_failure(error::cancelled, fmt::format("{} {}: cancelled", what, peer_));
        }
        auto idle = clock::now() - progress;
        if (idle >= stall) {
            abandon();
            return make_failure(error::timeout, fmt::format("{} {}: nothing moved for {:.1f} s (peer stalled or link down)",
                                                            what, peer_, secs(stall)));
        }
        ctx_.run_for(std::min<clock::duration>(slice, stall - idle));
        if (!done && ctx_.stopped()) ctx_.restart();
    }
    if (ec) {
        if (ec == asio::error::eof) {
            last_eof_ = true;
            return make_failure(error::io_error, fmt::format("{} {}: the connection was closed by the peer", what, peer_));
        }
        if (ec == asio::error::operation_aborted)
            return make_failure(error::cancelled, fmt::format("{} {}: cancelled", what, peer_));
        return make_failure(error::io_error, fmt::format("{} {}: {}", what, peer_, ec.message()));
    }
    return n;
}

result<void> channel::connect(const endpoint& to, ms timeout, std::stop_token stop) {
    peer_ = to.to_string();
    boost::system::error_code ec;
    tcp::resolver resolver(ctx_);
    auto found = resolver.resolve(to.host, std::to_string(to.port), tcp::resolver::numeric_service, ec);
    if (ec) return make_failure(error::daemon_unreachable, fmt::format("cannot resolve {}: {}", to.host, ec.message()));
    auto r = run(
        [&](auto handler, clock::time_point&) {
            asio::async_connect(sock_, found, [handler](const boost::system::error_code& e, const tcp::endpoint&) mutable {
                handler(e, 0);
            });
        },
        timeout, stop, "connecting to");
    if (!r) {
        auto f = r.error();
        if (f.code == make_error_code(error::io_error)) f.code = make_error_code(error::daemon_unreachable);
        if (f.code == make_error_code(error::timeout))
            f.message = fmt::format("connecting to {}: no answer within {:.1f} s (agent down or link down)", peer_, secs(timeout));
        sock_.close(ec);
        return f;
    }
    sock_.set_option(tcp::no_delay(true), ec);
    return {};
}

result<void> channel::write(std::string_view bytes, ms stall, std::stop_token stop) {
    auto r = run(
        [&](auto handler, clock::time_point& progress) {
            asio::async_write(
                sock_, asio::buffer(bytes.data(), bytes.size()),
                [&progress, last = std::size_t{0}](const boost::system::error_code& e, std::size_t done) mutable -> std::size_t {
                    if (done != last) { last = done; progress = clock::now(); }
                    return e ? 0 : 65536;
                },
                handler);
        },
        stall, stop, "sending to");
    if (!r) return r.error();
    return {};
}

result<void> channel::write_frame(frame_type t, std::string_view payload, ms stall, std::stop_token stop) {
    auto h = encode_frame_header(t, static_cast<std::uint32_t>(payload.size()));
    std::array<asio::const_buffer, 2> bufs{asio::buffer(h.data(), h.size()), asio::buffer(payload.data(), payload.size())};
    auto r = run(
        [&](auto handler, clock::time_point& progress) {
            asio::async_write(
                sock_, bufs,
                [&progress, last = std::size_t{0}](const boost::system::error_code& e, std::size_t done) mutable -> std::size_t {
                    if (done != last) { last = done; progress = clock::now(); }
                    return e ? 0 : 1 << 20;
                },
                handler);
        },
        stall, stop, "sending to");
    if (!r) return r.error();
    return {};
}

result<void> channel::read_exact(char* p, std::size_t n, ms stall, std::stop_token stop, bool* clean_eof) {
    std::size_t got = 0;
    auto r = run(
        [&](auto handler, clock::time_point& progress) {
            asio::async_read(
                sock_, asio::buffer(p, n),
                [&progress, &got](const boost::system::error_code& e, std::size_t done) -> std::size_t {
                    if (done != got) { got = done; progress = clock::now(); }
                    return e ? 0 : 1 << 20;
                },
                handler);
        },
        stall, stop, "receiving from");
    if (clean_eof) *clean_eof = !r && got == 0 && last_eof_;
    if (!r) return r.error();
    return {};
}

result<frame> channel::read_frame(const frame_limits& limits, ms stall, std::stop_token stop, bool* clean_eof) {
    std::array<std::byte, frame_header_bytes> hb{};
    MIGRATE_TRY(read_exact(reinterpret_cast<char*>(hb.data()), hb.size(), stall, stop, clean_eof));
    auto h = decode_frame_header(hb, limits);
    if (!h) {
        auto f = h.error();
        f.message = fmt::format("from {}: {}", peer_, f.message);
        return f;
    }
    frame fr;
    fr.type = h->type;
    fr.payload.resize(h->length);
    if (h->length) MIGRATE_TRY(read_exact(fr.payload.data(), h->length, stall, stop));
    return fr;
}

bool channel::input_pending() {
    if (!sock_.is_open()) return true;
    pollfd p{sock_.native_handle(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR));
}

bool channel::peer_closed() {
    if (!sock_.is_open()) return true;
    char c;
    auto n = ::recv(sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void channel::shutdown_send() noexcept {
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
}

void channel::linger_close(ms grace) noexcept {
    if (!sock_.is_open()) return;
    shutdown_send();
    auto until = clock::now() + grace;
    std::array<char, 64 * 1024> sink{};
    while (clock::now() < until) {
        auto left = std::chrono::duration_cast<ms>(until - clock::now());
        auto r = run(
            [&](auto handler, clock::time_point&) { sock_.async_read_some(asio::buffer(sink), handler); },
            std::max(left, ms{1}), {}, "draining");
        if (!r) break;
    }
    close();
}

void channel::close() noexcept {
    boost::system::error_code ec;
    if (sock_.is_open()) sock_.close(ec);
}

// ---- frame_sink ---------------------------------------------------------------------------

frame_sink::frame_sink(channel& ch, std::size_t chunk, ms stall, std::stop_token stop)
    : ch_(ch), chunk_(std::max<std::size_t>(chunk, 1)), stall_(stall), stop_(std::move(stop)) {
    buf_.reserve(chunk_);
}

result<void> frame_sink::flush() {
    if (buf_.empty()) return {};
    if (check) MIGRATE_TRY(check());
    MIGRATE_TRY(ch_.write_frame(frame_type::data, buf_, stall_, stop_));
    hash_.update(std::as_bytes(std::span(buf_.data(), buf_.size())));
    bytes_ += buf_.size();
    buf_.clear();
    if (on_progress) on_progress(bytes_);
    return {};
}

result<void> frame_sink::write(std::span<const std::byte> data) {
    while (!data.empty()) {
        auto take = std::min(chunk_ - buf_.size(), data.size());
        buf_.append(reinterpret_cast<const char*>(data.data()), take);
        data = data.subspan(take);
        if (buf_.size() == chunk_) MIGRATE_TRY(flush());
    }
    return {};
}

result<end_trailer> frame_sink::finish() {
    MIGRATE_TRY(flush());
    end_trailer e{bytes_, hash_.finish()};
    MIGRATE_TRY(ch_.write_frame(frame_type::end, encode_end(e), stall_, stop_));
    return e;
}

void frame_sink::abort(const failure& f) noexcept {
    try {
        if (ch_.is_open()) (void)ch_.write_frame(frame_type::abort, error_reply(f).dump(), std::min(stall_, ms{500}), {});
    } catch (...) {
    }
}

// ---- frame_source -------------------------------------------------------------------------

frame_source::frame_source(channel& ch, const frame_limits& limits, ms stall, std::stop_token stop, std::string sender)
    : ch_(ch), limits_(limits), stall_(stall), stop_(std::move(stop)), sender_(std::move(sender)) {}

result<void> frame_source::next_frame() {
    auto fr = ch_.read_frame(limits_, stall_, stop_);
    if (!fr) {
        auto f = fr.error();
        if (ch_.last_eof())
            f = make_failure(error::io_error, fmt::format("the stream from {} ended after {} bytes without its end frame "
                                                          "(sender gone or connection cut)", sender_, bytes_));
        failed_ = f;
        return f;
    }
    switch (fr->type) {
    case frame_type::data: {
        auto chunk = std::as_bytes(std::span(fr->payload.data(), fr->payload.size()));
        hash_.update(chunk);
        bytes_ += chunk.size();
        // Hold the newest frame back until the next one arrives: the consumer never sees the
        // end of a stream that has not been verified, so an engine cannot complete an import
        // from it (dockerd would otherwise finish an import whose upload we abort at 'E').
        if (held_) {
            buf_ = std::move(pending_);
            pos_ = 0;
        }
        pending_ = std::move(fr->payload);
        held_ = true;
        if (on_progress) on_progress(bytes_);
        return {};
    }
    case frame_type::end: {
        auto e = decode_end(fr->payload);
        if (!e) { failed_ = e.error(); return e.error(); }
        auto mine = hash_.finish();
        sha256_ = to_hex(mine);
        if (e->bytes != bytes_ || e->sha256 != mine) {
            failed_ = make_failure(error::corrupt_artifact,
                                   fmt::format("the stream from {} does not match its trailer: received {} bytes with "
                                               "SHA-256 {}, the sender sent {} bytes with SHA-256 {}",
                                               sender_, bytes_, sha256_, e->bytes, to_hex(e->sha256)));
            return *failed_;
        }
        if (held_) {
            buf_ = std::move(pending_);
            pos_ = 0;
            held_ = false;
        }
        ended_ = verified_ = true;
        return {};
    }
    case frame_type::abort: {
        json j = json::parse(fr->payload, nullptr, false);
        failed_ = failure_from_reply(j, fmt::format("the sender ({}) aborted the stream after {} bytes", sender_, bytes_));
        return *failed_;
    }
    default:
        failed_ = make_failure(error::protocol_error,
                               fmt::format("{} frame from {} in the middle of an artifact stream", to_string(fr->type), sender_));
        return *failed_;
    }
}

result<std::size_t> frame_source::read(std::span<std::byte> out) {
    if (failed_) return *failed_;
    while (pos_ == buf_.size()) {
        if (ended_) return std::size_t{0};
        MIGRATE_TRY(next_frame());
    }
    auto n = std::min(out.size(), buf_.size() - pos_);
    std::memcpy(out.data(), buf_.data() + pos_, n);
    pos_ += n;
    return n;
}

result<void> frame_source::drain() {
    while (!ended_ && !failed_) (void)next_frame();
    if (failed_) return *failed_;
    return {};
}

}  // namespace migrate::agent::detail
