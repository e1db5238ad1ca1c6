// src/openflow/session.cpp — one OpenFlow 1.3 session: handshake, read loop, writes,
// keep-alive, and the waiters of apply/barrier.
#include "session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::openflow::detail {

namespace {

using boost::system::error_code;
using clock = std::chrono::steady_clock;

std::string offered_versions(const hello& h) {
    if (h.version_bitmap == 0) return "versions up to " + version_name(h.version) + " (no version bitmap)";
    std::string out;
    for (unsigned v = 1; v < 32; ++v)
        if (h.version_bitmap & (1u << v)) out += (out.empty() ? "" : ", ") + version_name(v);
    return out.empty() ? std::string("no version") : out;
}

}  // namespace

std::string version_name(unsigned wire_version) {
    if (wire_version >= 1 && wire_version <= 6) return fmt::format("1.{}", wire_version - 1);
    return fmt::format("0x{:02x}", wire_version);
}

// ---- io_runner ---------------------------------------------------------------------------

io_runner::io_runner() : core_(std::make_shared<core>()) {
    thread_ = std::thread([core = core_] { core->ctx.run(); });
}

io_runner::~io_runner() {
    core_->work.reset();
    core_->ctx.stop();
    if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
    else thread_.join();
}

// ---- session: setup ------------------------------------------------------------------------

session::session(asio::io_context& io, tcp::socket socket, const connection_options& options)
    : io_(io), socket_(std::move(socket)), handshake_timer_(io), echo_timer_(io), options_(options) {
    error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown peer") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    // Every commit is a burst of small messages that must leave at once.
    socket_.set_option(tcp::no_delay(true), ec);
}

std::string session::who() const {
    return ready_ ? fmt::format("switch {} at {}", format_dpid(features_.datapath_id), peer_) : "peer " + peer_;
}

bool session::on_io_thread() const { return io_.get_executor().running_in_this_thread(); }

void session::start(ready_handler on_ready) {
    asio::post(io_, [self = shared_from_this(), on_ready = std::move(on_ready)]() mutable {
        self->on_ready_ = std::move(on_ready);
        self->write(encode(hello{}, self->take_xids(1)));
        self->handshake_timer_.expires_after(self->options_.handshake_timeout);
        self->handshake_timer_.async_wait([self](error_code ec) {
            if (ec || self->ready_) return;
            self->close(make_failure(error::timeout,
                                     fmt::format("{} completed no OpenFlow handshake within {} ms ({})", self->who(),
                                                 self->options_.handshake_timeout.count(),
                                                 self->hello_seen_ ? "HELLO received, no FEATURES_REPLY" : "no HELLO")));
        });
        self->read_header();
    });
}

void session::set_closed_hook(std::function<void()> hook) {
    auto install = [self = shared_from_this(), hook = std::move(hook)]() mutable {
        if (self->torn_down_) hook();
        else self->closed_hook_ = std::move(hook);
    };
    if (on_io_thread()) install();
    else asio::post(io_, std::move(install));
}

std::uint32_t session::take_xids(std::uint32_t n) {
    std::lock_guard lock(mu_);
    // A range never wraps, so a waiter's [first, barrier] comparison holds; 0 is never used.
    if (next_xid_ > 0xffffffffu - n) next_xid_ = 1;
    const auto first = next_xid_;
    next_xid_ += n;
    return first;
}

// ---- reading -------------------------------------------------------------------------------

void session::read_header() {
    rx_.resize(header_size);
    asio::async_read(socket_, asio::buffer(rx_.data(), header_size), [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) {
            self->close(make_failure(error::daemon_unreachable,
                                     fmt::format("{} disconnected: {}", self->who(),
                                                 ec == asio::error::eof ? std::string("connection closed") : ec.message())));
            return;
        }
        auto h = peek_header(self->rx_);
        if (!h) {
            // The framing itself is broken: nothing after this can be trusted.
            self->close(make_failure(error::protocol_error, fmt::format("{} sent {}", self->who(), h.error().message)));
            return;
        }
        self->rx_.resize(h->length);
        if (h->length == header_size) self->handle_message();
        else self->read_body();
    });
}

void session::read_body() {
    asio::async_read(socket_, asio::buffer(rx_.data() + header_size, rx_.size() - header_size),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                         if (ec) {
                             self->close(make_failure(error::daemon_unreachable,
                                                      fmt::format("{} disconnected in the middle of a message: {}",
                                                                  self->who(), ec.message())));
                             return;
                         }
                         self->handle_message();
                     });
}

void session::handle_message() {
    heard_since_tick_ = true;
    const auto xid = peek_header(rx_)->xid;
    auto m = decode(rx_);
    {
        std::lock_guard lock(mu_);
        ++stats_.messages_in;
        if (!m) {
            // Framing is intact (the header's length was read): skip the message, keep the session.
            ++stats_.decode_errors;
            stats_.last_decode_error = m.error().message;
        }
    }
    if (m) dispatch(xid, std::move(*m));
    else if (!ready_) close(make_failure(error::protocol_error, fmt::format("{} sent {}", who(), m.error().message)));
    if (!torn_down_) read_header();
}

void session::dispatch(std::uint32_t xid, message&& m) {
    if (auto* h = std::get_if<hello>(&m)) return on_hello(*h);
    if (auto* e = std::get_if<error_message>(&m)) return on_error(xid, std::move(*e));
    if (auto* r = std::get_if<echo_request>(&m)) {
        write(encode(echo_reply{std::move(r->data)}, xid));
        std::lock_guard lock(mu_);
        ++stats_.echo_requests_answered;
        return;
    }
    if (std::holds_alternative<echo_reply>(m)) {
        if (xid != echo_xid_) return;
        std::lock_guard lock(mu_);
        ++stats_.echo_replies;
        stats_.last_echo_rtt = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - echo_sent_at_);
        return;
    }
    if (auto* f = std::get_if<switch_features>(&m)) {
        if (ready_ || xid != features_xid_) return;
        features_ = *f;
        ready_ = true;
        handshake_timer_.cancel();
        if (options_.echo_interval.count() > 0) {
            echo_timer_.expires_after(options_.echo_interval);
            echo_timer_.async_wait([self = shared_from_this()](error_code ec) {
                if (!ec) self->echo_tick();
            });
        }
        if (auto r = std::exchange(on_ready_, nullptr)) r(std::nullopt);
        return;
    }
    if (std::holds_alternative<barrier_reply>(m)) return on_reply(xid);
    if (auto* p = std::get_if<packet_in>(&m)) {
        std::shared_ptr<const std::function<void(const packet_in&)>> callback;
        {
            std::lock_guard lock(mu_);
            ++stats_.packet_ins;
            callback = on_packet_in_;
        }
        if (!callback || !*callback) return;
        try {
            (*callback)(*p);
        } catch (...) {
            std::lock_guard lock(mu_);
            ++stats_.callback_errors;
        }
    }
    // PORT_STATUS, FLOW_REMOVED, MULTIPART_REPLY, ...: nothing of ours waits for them.
}

void session::on_hello(const hello& h) {
    if (hello_seen_) return;
    hello_seen_ = true;
    // Version negotiation (spec 1.3.5, 6.3.1): with both bitmaps, the highest version in
    // both; without the peer's, the lower of the two header versions. We offer 1.3 only.
    const bool shared = h.version_bitmap != 0 ? (h.version_bitmap & (1u << protocol_version)) != 0
                                              : h.version >= protocol_version;
    if (!shared) {
        const auto why = fmt::format("{} offers OpenFlow {}; this speaker needs 1.3 (wire version 0x04)", who(),
                                     offered_versions(h));
        error_message refusal{0 /*OFPET_HELLO_FAILED*/, 0 /*OFPHFC_INCOMPATIBLE*/, {}};
        const std::string text = "this controller speaks OpenFlow 1.3 only";
        refusal.data.assign(text.begin(), text.end());
        auto bytes = encode(refusal, 0);
        error_code ignored;
        asio::write(socket_, asio::buffer(bytes), ignored);  // small, and we close right after
        close(make_failure(error::unsupported, why));
        return;
    }
    features_xid_ = take_xids(1);
    write(encode(features_request{}, features_xid_));
}

void session::on_error(std::uint32_t xid, error_message&& e) {
    if (!ready_) {
        close(make_failure(hello_seen_ ? error::protocol_error : error::unsupported,
                           fmt::format("{} refused the handshake: {}", who(), e.describe())));
        return;
    }
    std::lock_guard lock(mu_);
    for (auto& w : waiting_) {
        if (w->done || xid < w->first_xid || xid > w->barrier_xid) continue;
        if (xid == w->barrier_xid) {
            w->failed = make_failure(error::daemon_error, fmt::format("{} refused the barrier: {}", who(), e.describe()));
            w->done = true;
            cv_.notify_all();
        } else if (!w->refused) {
            w->refused.emplace(xid - w->first_xid, std::move(e));
        }
        return;
    }
    ++stats_.decode_errors;  // an ERROR nobody waits for (a packet_out's, a late one)
    stats_.last_decode_error = fmt::format("unclaimed ERROR for xid {}: {}", xid, e.describe());
}

void session::on_reply(std::uint32_t xid) {
    std::lock_guard lock(mu_);
    for (auto& w : waiting_)
        if (!w->done && w->barrier_xid == xid) {
            w->done = true;
            cv_.notify_all();
        }
}

// ---- writing -------------------------------------------------------------------------------

void session::queue(std::vector<std::uint8_t> bytes) {
    asio::post(io_, [self = shared_from_this(), bytes = std::move(bytes)]() mutable { self->write(std::move(bytes)); });
}

void session::write(std::vector<std::uint8_t> bytes) {
    if (torn_down_) return;
    tx_.push_back(std::move(bytes));
    if (!writing_) write_next();
}

void session::write_next() {
    if (tx_.empty() || torn_down_) {
        writing_ = false;
        return;
    }
    writing_ = true;
    // Whatever queued while the last write was in flight leaves in one write.
    while (tx_.size() > 1) {
        auto& first = tx_.front();
        first.insert(first.end(), tx_[1].begin(), tx_[1].end());
        tx_.erase(tx_.begin() + 1);
    }
    {
        std::lock_guard lock(mu_);
        ++stats_.messages_out;
    }
    asio::async_write(socket_, asio::buffer(tx_.front()), [self = shared_from_this()](error_code ec, std::size_t) {
        if (!self->tx_.empty()) self->tx_.pop_front();
        if (ec) {
            self->close(make_failure(error::daemon_unreachable, fmt::format("writing to {}: {}", self->who(), ec.message())));
            return;
        }
        self->write_next();
    });
}

// ---- keep-alive ----------------------------------------------------------------------------

void session::echo_tick() {
    if (torn_down_) return;
    silent_intervals_ = heard_since_tick_ ? 0 : silent_intervals_ + 1;
    heard_since_tick_ = false;
    if (silent_intervals_ >= options_.echo_misses) {
        close(make_failure(error::timeout,
                           fmt::format("{} silent for {} ms ({} ECHO_REQUESTs unanswered): session dropped", who(),
                                       options_.echo_interval.count() * options_.echo_misses, options_.echo_misses)));
        return;
    }
    echo_xid_ = take_xids(1);
    echo_sent_at_ = clock::now();
    write(encode(echo_request{}, echo_xid_));
    echo_timer_.expires_after(options_.echo_interval);
    echo_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->echo_tick();
    });
}

// ---- the end -------------------------------------------------------------------------------

bool session::mark_closed(const failure& why) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    closed_ = why;
    for (auto& w : waiting_)
        if (!w->done) {
            w->failed = why;
            w->done = true;
        }
    cv_.notify_all();
    return true;
}

void session::close(failure why) noexcept {
    mark_closed(why);
    if (on_io_thread()) {
        teardown(why);
        return;
    }
    try {
        asio::post(io_, [self = shared_from_this(), why = std::move(why)] { self->teardown(why); });
    } catch (...) {
        // Out of memory: the socket closes with the session.
    }
}

void session::teardown(const failure& why) {
    if (torn_down_) return;
    torn_down_ = true;
    error_code ignored;
    handshake_timer_.cancel();
    echo_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    tx_.clear();
    std::function<void(const failure&)> callback;
    {
        std::lock_guard lock(mu_);
        callback = std::move(on_disconnect_);
        on_disconnect_ = nullptr;
        on_packet_in_.reset();
    }
    const auto reason = closed_reason().value_or(why);
    if (auto r = std::exchange(on_ready_, nullptr)) r(reason);
    if (auto hook = std::exchange(closed_hook_, nullptr)) hook();
    if (callback) {
        try {
            callback(reason);
        } catch (...) {
            std::lock_guard lock(mu_);
            ++stats_.callback_errors;
        }
    }
}

// ---- the caller's side ---------------------------------------------------------------------

bool session::is_open() const {
    std::lock_guard lock(mu_);
    return !closed_;
}

std::optional<failure> session::closed_reason() const {
    std::lock_guard lock(mu_);
    return closed_;
}

result<void> session::apply(const std::vector<flow_mod>& mods, ms timeout) {
    if (on_io_thread())
        return make_failure(error::internal, "apply/barrier called on the OpenFlow io thread (from a callback?): it "
                                             "would wait for itself");
    for (std::size_t i = 0; i < mods.size(); ++i)
        if (auto r = mods[i].validate(); !r)
            return make_failure(error::invalid_argument,
                                fmt::format("flow_mod #{} of {}: {}", i + 1, mods.size(), r.error().message));

    auto w = std::make_shared<waiter>();
    const auto n = static_cast<std::uint32_t>(mods.size());
    w->first_xid = take_xids(n + 1);
    w->barrier_xid = w->first_xid + n;
    std::vector<std::uint8_t> bytes;
    bytes.reserve(mods.size() * 128 + header_size);
    for (std::uint32_t i = 0; i < n; ++i) encode_to(bytes, mods[i], w->first_xid + i);
    encode_to(bytes, barrier_request{}, w->barrier_xid);
    {
        std::lock_guard lock(mu_);
        if (closed_) return make_failure(error::daemon_unreachable, "session closed: " + closed_->what());
        waiting_.push_back(w);
    }
    queue(std::move(bytes));

    std::unique_lock lock(mu_);
    const bool answered = cv_.wait_for(lock, timeout, [&] { return w->done; });
    std::erase(waiting_, w);
    const auto name = fmt::format("switch {} at {}", format_dpid(features_.datapath_id), peer_);
    if (!answered)
        return make_failure(error::timeout, fmt::format("{} sent no BARRIER_REPLY within {} ms (after {} flow_mods)",
                                                        name, timeout.count(), mods.size()));
    if (w->refused) {
        auto& [index, e] = *w->refused;
        return make_failure(error::daemon_error, fmt::format("{} refused flow_mod #{} of {} ({}): {}", name, index + 1,
                                                             mods.size(), mods[index].to_string(), e.describe()));
    }
    if (w->failed) return *w->failed;
    return ok();
}

result<void> session::send(const packet_out& p) {
    if (auto r = p.validate(); !r) return r.error();
    auto bytes = encode(p, take_xids(1));
    {
        std::lock_guard lock(mu_);
        if (closed_) return make_failure(error::daemon_unreachable, "session closed: " + closed_->what());
    }
    queue(std::move(bytes));
    return ok();
}

void session::on_packet_in(std::function<void(const packet_in&)> callback) {
    auto shared = std::make_shared<const std::function<void(const packet_in&)>>(std::move(callback));
    std::lock_guard lock(mu_);
    if (!closed_) on_packet_in_ = std::move(shared);
}

void session::on_disconnect(std::function<void(const failure&)> callback) {
    std::unique_lock lock(mu_);
    if (closed_) {
        auto why = *closed_;
        lock.unlock();
        if (callback) callback(why);
        return;
    }
    on_disconnect_ = std::move(callback);
}

connection_stats session::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

}  // namespace migrate::openflow::detail
