#include "resp.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <charconv>

#include <sys/socket.h>

namespace migrate::store::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr int max_depth = 8;                        // our scripts nest two levels
constexpr std::size_t max_bulk = 512u << 20;        // redis' own limit for a string
}  // namespace

std::string encode_command(const std::vector<std::string_view>& args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (auto a : args) {
        out += fmt::format("${}\r\n", a.size());
        out += a;
        out += "\r\n";
    }
    return out;
}

resp_connection::resp_connection(std::string host, std::uint16_t port, std::string address)
    : sock_(ctx_), host_(std::move(host)), port_(port), address_(std::move(address)) {}

resp_connection::~resp_connection() {
    boost::system::error_code ignored;
    sock_.close(ignored);
}

failure resp_connection::lost(const std::string& why) {
    boost::system::error_code ignored;
    sock_.close(ignored);
    return make_failure(error::daemon_unreachable, fmt::format("redis at {}: {}", address_, why));
}

// Runs one asynchronous operation until it completes, `deadline` passes or interrupt().
template <class Start>
result<std::size_t> resp_connection::run(Start&& start, clock::time_point deadline) {
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    start([&](const boost::system::error_code& e, std::size_t k) { done = true; ec = e; n = k; });
    ctx_.restart();
    // interrupt() sets the flag before it stops the context: either we see the flag here,
    // or the run below returns at once.
    if (!interrupted_) {
        if (deadline == clock::time_point::max()) ctx_.run();
        else ctx_.run_until(deadline);
    }
    if (!done) {
        boost::system::error_code ignored;
        sock_.close(ignored);
        ctx_.restart();
        ctx_.run();   // the aborted operation's handler
        if (interrupted_) return make_failure(error::cancelled, fmt::format("redis at {}: interrupted", address_));
        return make_failure(error::timeout, fmt::format("redis at {}: no answer in time", address_));
    }
    if (ec == asio::error::eof) return lost("the server closed the connection");
    if (ec) return lost(ec.message());
    return n;
}

result<void> resp_connection::connect(std::chrono::milliseconds timeout) {
    boost::system::error_code ec;
    tcp::resolver resolver(ctx_);
    auto found = resolver.resolve(host_, std::to_string(port_), tcp::resolver::numeric_service, ec);
    if (ec) return make_failure(error::daemon_unreachable, fmt::format("redis at {}: cannot resolve '{}': {}", address_, host_, ec.message()));
    auto r = run(
        [&](auto handler) {
            asio::async_connect(sock_, found, [handler](const boost::system::error_code& e, const tcp::endpoint&) mutable {
                handler(e, 0);
            });
        },
        clock::now() + timeout);
    if (!r) {
        auto f = r.error();
        if (f.code == make_error_code(error::timeout))
            f.message = fmt::format("redis at {}: no answer within {} ms", address_, timeout.count());
        else if (f.code == make_error_code(error::daemon_unreachable))
            f.message = "cannot connect to " + f.message;
        if (f.code != make_error_code(error::cancelled)) f.code = make_error_code(error::daemon_unreachable);
        return f;
    }
    sock_.set_option(tcp::no_delay(true), ec);
    sock_.set_option(asio::socket_base::keep_alive(true), ec);
    return {};
}

result<void> resp_connection::send(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout) {
    if (!sock_.is_open()) return lost("not connected");
    auto bytes = encode_command(args);
    auto r = run([&](auto handler) { asio::async_write(sock_, asio::buffer(bytes), handler); }, clock::now() + timeout);
    if (!r) return r.error();
    return {};
}

result<resp_value> resp_connection::call(const std::vector<std::string_view>& args, std::chrono::milliseconds timeout) {
    auto deadline = clock::now() + timeout;
    MIGRATE_TRY(send(args, timeout));
    return read(deadline);
}

result<void> resp_connection::fill(clock::time_point deadline) {
    if (pos_ > 0 && pos_ == in_.size()) {
        in_.clear();
        pos_ = 0;
    }
    char buf[16384];
    auto r = run([&](auto handler) { sock_.async_read_some(asio::buffer(buf), handler); }, deadline);
    if (!r) return r.error();
    in_.append(buf, *r);
    return {};
}

result<std::string> resp_connection::read_line(clock::time_point deadline) {
    for (;;) {
        auto end = in_.find("\r\n", pos_);
        if (end != std::string::npos) {
            auto line = in_.substr(pos_, end - pos_);
            pos_ = end + 2;
            return line;
        }
        if (in_.size() - pos_ > 64 * 1024)
            return make_failure(error::protocol_error, fmt::format("redis at {}: a reply line longer than 64 KiB", address_));
        MIGRATE_TRY(fill(deadline));
    }
}

result<resp_value> resp_connection::parse(clock::time_point deadline, int depth) {
    auto bad = [&](std::string why) {
        boost::system::error_code ignored;
        sock_.close(ignored);   // the stream is out of step: never reuse it
        return make_failure(error::protocol_error, fmt::format("redis at {}: {}", address_, why));
    };
    if (depth > max_depth) return bad("a reply nested too deep");
    auto line = read_line(deadline);
    if (!line) return line.error();
    if (line->empty()) return bad("an empty reply line");
    resp_value v;
    auto body = std::string_view(*line).substr(1);
    auto number = [&](std::int64_t& out) {
        auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), out);
        return ec == std::errc{} && p == body.data() + body.size();
    };
    switch ((*line)[0]) {
    case '+': v.kind = resp_value::type::simple; v.text = body; return v;
    case '-': v.kind = resp_value::type::error; v.text = body; return v;
    case ':':
        v.kind = resp_value::type::integer;
        if (!number(v.integer)) return bad(fmt::format("an integer reply '{}'", body));
        return v;
    case '$': {
        std::int64_t len = 0;
        if (!number(len) || len < -1 || len > static_cast<std::int64_t>(max_bulk))
            return bad(fmt::format("a bulk length '{}'", body));
        if (len == -1) return v;
        while (in_.size() - pos_ < static_cast<std::size_t>(len) + 2) MIGRATE_TRY(fill(deadline));
        if (in_.compare(pos_ + len, 2, "\r\n") != 0) return bad("a bulk string not ended by CRLF");
        v.kind = resp_value::type::bulk;
        v.text = in_.substr(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len) + 2;
        return v;
    }
    case '*': {
        std::int64_t count = 0;
        if (!number(count) || count < -1 || count > (1 << 24)) return bad(fmt::format("an array length '{}'", body));
        if (count == -1) return v;
        v.kind = resp_value::type::array;
        v.items.reserve(static_cast<std::size_t>(count));
        for (std::int64_t i = 0; i < count; ++i) {
            auto item = parse(deadline, depth + 1);
            if (!item) return item.error();
            v.items.push_back(std::move(*item));
        }
        return v;
    }
    default: return bad(fmt::format("a reply starting with byte 0x{:02x}", static_cast<unsigned char>((*line)[0])));
    }
}

result<resp_value> resp_connection::read(clock::time_point deadline) {
    if (!sock_.is_open()) return lost("not connected");
    return parse(deadline, 0);
}

bool resp_connection::reusable() {
    if (!sock_.is_open() || pos_ != in_.size() || interrupted_) return false;
    char c;
    auto n = ::recv(sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void resp_connection::interrupt() noexcept {
    interrupted_ = true;
    ctx_.stop();
}

}  // namespace migrate::store::detail
