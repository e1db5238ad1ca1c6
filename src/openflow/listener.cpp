// src/openflow/listener.cpp — controller_listener: switches dial in, sessions are kept.
#include "session.hpp"

#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::openflow {

using detail::handle_access;
using detail::io_runner;
using detail::listener_state;
using detail::ms;
using detail::session;
using detail::tcp;
namespace asio = boost::asio;

namespace detail {

listener_state::listener_state(asio::io_context& io, std::weak_ptr<io_runner> runner, const listener_options& options)
    : io_(io), runner_(std::move(runner)), options_(options), acceptor_(io) {}

result<void> listener_state::open() {
    boost::system::error_code ec;
    const tcp::endpoint at(asio::ip::make_address(options_.address, ec), options_.port);
    const auto where = fmt::format("{}:{}", options_.address, options_.port);
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return make_failure(ec == asio::error::address_in_use ? error::already_exists : error::io_error,
                            fmt::format("cannot listen for OpenFlow switches on {}: {}", where, ec.message()));
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return ok();
}

void listener_state::accept_next() {
    acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (!ec) {
            auto s = std::make_shared<session>(self->io_, std::move(socket), self->options_.connection);
            std::weak_ptr<listener_state> weak = self;
            // Weak both ways: the session keeps this handler until its handshake ends.
            s->start([weak, ws = std::weak_ptr<session>(s)](const std::optional<failure>& f) {
                auto state = weak.lock();
                auto s = ws.lock();
                if (!state || !s) return;
                if (f) {
                    std::lock_guard lock(state->mu_);
                    state->last_refusal_ = *f;
                } else {
                    state->adopt(s);
                }
            });
        }
        // A failed accept (too many files, ...) must not end listening.
        self->accept_next();
    });
}

void listener_state::adopt(const std::shared_ptr<session>& s) {
    auto runner = runner_.lock();
    std::shared_ptr<switch_connection> handle;
    std::function<void(std::shared_ptr<switch_connection>)> callback;
    {
        std::lock_guard lock(mu_);
        if (closed_) return;  // the new session closes with its last reference
        handle = handle_access::connection(std::move(runner), s);
        sessions_.push_back(handle);
        callback = on_switch_;
    }
    std::weak_ptr<listener_state> weak = shared_from_this();
    s->set_closed_hook([weak, raw = s.get()] {
        if (auto state = weak.lock()) state->forget(raw);
    });
    cv_.notify_all();
    if (callback) {
        try {
            callback(handle);
        } catch (...) {
            // A throwing callback must not end the io thread; the session stays listed.
        }
    }
}

void listener_state::forget(const session* s) {
    std::shared_ptr<switch_connection> gone;  // released outside the lock
    std::lock_guard lock(mu_);
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](auto& c) { return handle_access::session_of(*c).get() == s; });
    if (it == sessions_.end()) return;
    gone = std::move(*it);
    sessions_.erase(it);
}

result<std::shared_ptr<switch_connection>> listener_state::wait_for(std::optional<std::uint64_t> dpid, ms timeout) {
    if (io_.get_executor().running_in_this_thread())
        return make_failure(error::internal, "wait_for_switch called on the OpenFlow io thread: it would wait for itself");
    std::unique_lock lock(mu_);
    std::shared_ptr<switch_connection> found;
    auto match = [&] {
        if (closed_) return true;
        for (auto it = sessions_.rbegin(); it != sessions_.rend(); ++it)
            if ((*it)->is_open() && (!dpid || (*it)->datapath_id() == *dpid)) {
                found = *it;
                return true;
            }
        return false;
    };
    cv_.wait_for(lock, timeout, match);
    if (found) return found;
    if (closed_) return make_failure(error::cancelled, "the controller listener was closed");
    auto which = dpid ? "switch " + format_dpid(*dpid) : std::string("switch");
    auto text = fmt::format("no {} completed an OpenFlow handshake on {}:{} within {} ms", which, options_.address, port_,
                            timeout.count());
    if (last_refusal_) text += "; last refused: " + last_refusal_->what();
    return make_failure(error::timeout, text);
}

void listener_state::on_switch(std::function<void(std::shared_ptr<switch_connection>)> callback) {
    std::lock_guard lock(mu_);
    on_switch_ = std::move(callback);
}

std::vector<std::shared_ptr<switch_connection>> listener_state::switches() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<switch_connection>> out;
    for (auto& c : sessions_)
        if (c->is_open()) out.push_back(c);
    return out;
}

std::optional<failure> listener_state::last_refusal() const {
    std::lock_guard lock(mu_);
    return last_refusal_;
}

void listener_state::close() noexcept {
    std::vector<std::shared_ptr<switch_connection>> released;
    {
        std::lock_guard lock(mu_);
        if (closed_) return;
        closed_ = true;
        released.swap(sessions_);
        on_switch_ = nullptr;
    }
    cv_.notify_all();
    try {
        asio::post(io_, [self = shared_from_this()] {
            boost::system::error_code ignored;
            self->acceptor_.close(ignored);
        });
    } catch (...) {
    }
    // `released` goes here: sessions nobody else holds close now.
}

std::unique_ptr<controller_listener> handle_access::listener(std::shared_ptr<io_runner> runner,
                                                             std::shared_ptr<listener_state> state) {
    return std::unique_ptr<controller_listener>(new controller_listener(std::move(runner), std::move(state)));
}

}  // namespace detail

namespace {

result<std::unique_ptr<controller_listener>> start_listening(std::shared_ptr<io_runner> runner, asio::io_context& io,
                                                             const listener_options& options) {
    if (auto r = options.validate(); !r) return r.error();
    auto state = std::make_shared<listener_state>(io, runner, options);
    if (auto r = state->open(); !r) return r.error();
    asio::post(io, [state] { state->accept_next(); });
    return handle_access::listener(std::move(runner), std::move(state));
}

}  // namespace

controller_listener::controller_listener(std::shared_ptr<io_runner> runner, std::shared_ptr<listener_state> state)
    : runner_(std::move(runner)), state_(std::move(state)) {}

controller_listener::~controller_listener() { close(); }

result<std::unique_ptr<controller_listener>> controller_listener::listen(const listener_options& options) {
    auto runner = std::make_shared<io_runner>();
    auto& io = runner->context();
    return start_listening(std::move(runner), io, options);
}

result<std::unique_ptr<controller_listener>> controller_listener::listen(boost::asio::io_context& io,
                                                                        const listener_options& options) {
    return start_listening(nullptr, io, options);
}

std::uint16_t controller_listener::port() const noexcept { return state_->port(); }

std::string controller_listener::target() const {
    return fmt::format("tcp:{}:{}", state_->options().address, state_->port());
}

result<std::shared_ptr<switch_connection>> controller_listener::wait_for_switch(std::optional<std::uint64_t> datapath_id,
                                                                                std::chrono::milliseconds timeout) {
    return state_->wait_for(datapath_id, timeout);
}

void controller_listener::on_switch(std::function<void(std::shared_ptr<switch_connection>)> callback) {
    state_->on_switch(std::move(callback));
}

std::vector<std::shared_ptr<switch_connection>> controller_listener::switches() const { return state_->switches(); }
std::optional<failure> controller_listener::last_refusal() const { return state_->last_refusal(); }
void controller_listener::close() noexcept { state_->close(); }

}  // namespace migrate::openflow
