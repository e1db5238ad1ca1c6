// src/openflow/connection.cpp — switch_connection, connect_to_switch and the options.
#include "session.hpp"

#include "json_fields.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include <future>

namespace migrate::openflow {

using detail::handle_access;
using detail::io_runner;
using detail::ms;
using detail::session;
using detail::tcp;
namespace asio = boost::asio;

// ---- options -------------------------------------------------------------------------------

result<void> connection_options::validate() const {
    if (handshake_timeout.count() <= 0)
        return make_failure(error::invalid_argument, "connection_options.handshake_timeout_ms: must be positive");
    if (echo_interval.count() < 0)
        return make_failure(error::invalid_argument, "connection_options.echo_interval_ms: must be 0 (off) or positive");
    if (echo_misses < 1) return make_failure(error::invalid_argument, "connection_options.echo_misses: must be at least 1");
    return ok();
}

void to_json(json& j, const connection_options& o) {
    j = {{"handshake_timeout_ms", o.handshake_timeout.count()},
         {"echo_interval_ms", o.echo_interval.count()},
         {"echo_misses", o.echo_misses}};
}

void from_json(const json& j, connection_options& o) {
    openflow::detail::require_object(j, "connection_options");
    for (auto& [key, v] : j.items()) {
        auto where = "connection_options." + key;
        if (key == "handshake_timeout_ms") o.handshake_timeout = ms(openflow::detail::read_uint<std::uint32_t>(v, where));
        else if (key == "echo_interval_ms") o.echo_interval = ms(openflow::detail::read_uint<std::uint32_t>(v, where));
        else if (key == "echo_misses") o.echo_misses = openflow::detail::read_uint<std::uint16_t>(v, where);
        else openflow::detail::bad_field(where, "unknown key (known: handshake_timeout_ms, echo_interval_ms, echo_misses)");
    }
}

result<void> listener_options::validate() const {
    boost::system::error_code ec;
    asio::ip::make_address(address, ec);
    if (ec)
        return make_failure(error::invalid_argument,
                            fmt::format("listener_options.address: '{}' is not an IP address", address));
    return connection.validate();
}

void to_json(json& j, const listener_options& o) {
    j = {{"address", o.address}, {"port", o.port}, {"connection", o.connection}};
}

void from_json(const json& j, listener_options& o) {
    openflow::detail::require_object(j, "listener_options");
    for (auto& [key, v] : j.items()) {
        auto where = "listener_options." + key;
        if (key == "address") {
            if (!v.is_string()) openflow::detail::bad_field(where, "expected a string, got " + v.dump());
            o.address = v.get<std::string>();
        } else if (key == "port") o.port = openflow::detail::read_uint<std::uint16_t>(v, where);
        else if (key == "connection") o.connection = v.get<connection_options>();
        else openflow::detail::bad_field(where, "unknown key (known: address, port, connection)");
    }
}

// ---- the handle ------------------------------------------------------------------------------

std::shared_ptr<switch_connection> detail::handle_access::connection(std::shared_ptr<io_runner> runner,
                                                                     std::shared_ptr<session> s) {
    return std::shared_ptr<switch_connection>(new switch_connection(std::move(runner), std::move(s)));
}

switch_connection::switch_connection(std::shared_ptr<io_runner> runner, std::shared_ptr<session> s)
    : runner_(std::move(runner)), session_(std::move(s)) {}

switch_connection::~switch_connection() { close(); }

std::uint64_t switch_connection::datapath_id() const noexcept { return session_->features().datapath_id; }
const switch_features& switch_connection::features() const noexcept { return session_->features(); }
const std::string& switch_connection::peer() const noexcept { return session_->peer(); }
bool switch_connection::is_open() const noexcept { return session_->is_open(); }
std::optional<failure> switch_connection::closed_reason() const { return session_->closed_reason(); }

result<void> switch_connection::apply(const std::vector<flow_mod>& mods, std::chrono::milliseconds timeout) {
    return session_->apply(mods, timeout);
}
result<void> switch_connection::barrier(std::chrono::milliseconds timeout) { return session_->apply({}, timeout); }
result<void> switch_connection::send(const packet_out& p) { return session_->send(p); }

void switch_connection::on_packet_in(std::function<void(const packet_in&)> callback) {
    session_->on_packet_in(std::move(callback));
}
void switch_connection::on_disconnect(std::function<void(const failure&)> callback) {
    session_->on_disconnect(std::move(callback));
}
void switch_connection::close() noexcept {
    session_->close(make_failure(error::daemon_unreachable, "closed by the controller"));
}
connection_stats switch_connection::stats() const { return session_->stats(); }

// ---- dialing a switch ----------------------------------------------------------------------

namespace {

result<std::shared_ptr<switch_connection>> dial(std::shared_ptr<io_runner> runner, asio::io_context& io,
                                                const std::string& host, std::uint16_t port,
                                                const connection_options& options, ms timeout) {
    if (auto r = options.validate(); !r) return r.error();
    if (timeout.count() <= 0) return make_failure(error::invalid_argument, "connect_to_switch: timeout must be positive");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto where = fmt::format("{}:{}", host, port);

    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return make_failure(error::daemon_unreachable, fmt::format("cannot resolve {}: {}", host, ec.message()));

    // Connect on the io thread with a timer; the caller waits for the outcome.
    auto socket = std::make_shared<tcp::socket>(io);
    auto timer = std::make_shared<asio::steady_timer>(io);
    auto connected = std::make_shared<std::promise<boost::system::error_code>>();
    auto outcome = connected->get_future();
    asio::post(io, [=] {
        timer->expires_after(timeout);
        timer->async_wait([socket](boost::system::error_code e) {
            if (!e) socket->close();
        });
        asio::async_connect(*socket, endpoints, [=](boost::system::error_code e, const tcp::endpoint&) {
            timer->cancel();
            connected->set_value(e);
        });
    });
    if (outcome.wait_until(deadline + ms(500)) != std::future_status::ready)
        return make_failure(error::timeout, fmt::format("no TCP connection to the switch at {} within {} ms (is the "
                                                        "io_context running?)",
                                                        where, timeout.count()));
    if (auto e = outcome.get()) {
        if (e == asio::error::operation_aborted)
            return make_failure(error::timeout,
                                fmt::format("no TCP connection to the switch at {} within {} ms", where, timeout.count()));
        return make_failure(error::daemon_unreachable, fmt::format("cannot connect to the switch at {}: {}", where, e.message()));
    }

    auto handshake = options;
    const auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
    handshake.handshake_timeout = std::max(ms(1), std::min(options.handshake_timeout, left));
    auto s = std::make_shared<session>(io, std::move(*socket), handshake);
    auto ready = std::make_shared<std::promise<std::optional<failure>>>();
    auto ready_outcome = ready->get_future();
    s->start([ready](const std::optional<failure>& f) { ready->set_value(f); });
    if (ready_outcome.wait_for(handshake.handshake_timeout + ms(500)) != std::future_status::ready) {
        s->close(make_failure(error::timeout, "handshake not finished"));
        return make_failure(error::timeout, fmt::format("no OpenFlow handshake with {} within {} ms", where,
                                                        handshake.handshake_timeout.count()));
    }
    if (auto f = ready_outcome.get()) return *f;
    return handle_access::connection(std::move(runner), std::move(s));
}

}  // namespace

result<std::shared_ptr<switch_connection>> connect_to_switch(const std::string& host, std::uint16_t port,
                                                             const connection_options& options,
                                                             std::chrono::milliseconds timeout) {
    auto runner = std::make_shared<io_runner>();
    auto& io = runner->context();
    return dial(std::move(runner), io, host, port, options, timeout);
}

result<std::shared_ptr<switch_connection>> connect_to_switch(boost::asio::io_context& io, const std::string& host,
                                                             std::uint16_t port, const connection_options& options,
                                                             std::chrono::milliseconds timeout) {
    return dial(nullptr, io, host, port, options, timeout);
}

}  // namespace migrate::openflow
