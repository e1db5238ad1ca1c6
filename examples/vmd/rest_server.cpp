#include "rest_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <optional>
#include <thread>

namespace migrate::vmd {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

result<void> rest_server_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("rest_server_options.{}: {}", field, why));
    };
    beast::error_code ec;
    (void)asio::ip::make_address(address, ec);
    if (ec) return bad("address", fmt::format("'{}' is not an IP address", address));
    if (threads == 0 || threads > 256) return bad("threads", fmt::format("{} must be in 1..256", threads));
    if (idle_timeout.count() <= 0) return bad("idle_timeout", "must be positive");
    if (body_limit == 0) return bad("body_limit", "must be positive");
    return ok();
}

namespace {

struct shared_settings {
    http_handler handler;
    rest_server_options options;
};

http::response<http::string_body> make_response(const http_response& r, unsigned version, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "migrate-md-manager");
    for (auto& [name, value] : r.headers) res.set(name, value);
    if (!r.body.is_null()) {
        res.set(http::field::content_type, "application/json");
        res.body() = r.body.dump() + "\n";
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

http_response error_response(unsigned status, std::string why) { return {status, json{{"error", std::move(why)}}, {}}; }

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket&& socket, std::shared_ptr<const shared_settings> s) : stream_(std::move(socket)), s_(std::move(s)) {}

    void run() { asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::read, shared_from_this())); }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(s_->options.body_limit);
        stream_.expires_after(s_->options.idle_timeout);
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) return close();
        if (ec == http::error::body_limit)
            return answer(error_response(413, fmt::format("body: over {} bytes", s_->options.body_limit)), 11, false);
        if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())   // Beast's parse errors
            return answer(error_response(400, fmt::format("not an HTTP/1.1 request: {}", ec.message())), 11, false);
        if (ec) return close();
        auto req = parser_->release();
        http_request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        r.body = std::move(req.body());
        r.content_type = std::string(req[http::field::content_type]);
        beast::error_code pe;
        auto peer = stream_.socket().remote_endpoint(pe);
        if (!pe) r.peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
        http_response out;
        try {
            out = s_->handler(r);
        } catch (const std::exception& e) {
            out = error_response(500, fmt::format("{} {}: {}", r.method, r.target, e.what()));
        }
        answer(out, req.version(), req.keep_alive());
    }

    void answer(const http_response& r, unsigned version, bool keep_alive) {
        res_ = make_response(r, version, keep_alive);
        stream_.expires_after(s_->options.idle_timeout);
        http::async_write(stream_, res_, beast::bind_front_handler(&session::on_write, shared_from_this(), keep_alive));
    }

    void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
        if (ec || !keep_alive) return close();
        read();
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
    std::shared_ptr<const shared_settings> s_;
};

}  // namespace

struct rest_server::impl {
    asio::io_context io;
    tcp::acceptor acceptor{asio::make_strand(io)};
    std::shared_ptr<const shared_settings> settings;
    std::vector<std::thread> threads;
    std::string address;
    std::uint16_t port = 0;
    bool stopped = false;

    void accept() {
        acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) std::make_shared<session>(std::move(socket), settings)->run();
            accept();
        });
    }
};

rest_server::rest_server(std::unique_ptr<impl> p) : p_(std::move(p)) {}

rest_server::~rest_server() { stop(); }

result<std::unique_ptr<rest_server>> rest_server::start(const rest_server_options& o, http_handler handler) {
    if (auto v = o.validate(); !v) return v.error();
    if (!handler) return make_failure(error::invalid_argument, "rest_server: no handler");
    auto p = std::make_unique<impl>();
    p->settings = std::make_shared<shared_settings>(shared_settings{std::move(handler), o});
    tcp::endpoint at{asio::ip::make_address(o.address), o.port};
    beast::error_code ec;
    auto failed = [&](const char* step) {
        return make_failure(error::io_error, fmt::format("rest_server: {} {}:{}: {}", step, o.address, o.port, ec.message()));
    };
    if (p->acceptor.open(at.protocol(), ec); ec) return failed("open");
    if (p->acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return failed("reuse_address");
    if (p->acceptor.bind(at, ec); ec) return failed("bind");
    if (p->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return failed("listen");
    p->address = o.address;
    p->port = p->acceptor.local_endpoint().port();
    p->accept();
    for (unsigned i = 0; i < o.threads; ++i) p->threads.emplace_back([io = &p->io] { io->run(); });
    return std::unique_ptr<rest_server>(new rest_server(std::move(p)));
}

void rest_server::stop() {
    if (!p_ || p_->stopped) return;
    p_->stopped = true;
    p_->io.stop();   // sessions waiting for requests go with the io_context
    for (auto& t : p_->threads)
        if (t.joinable()) t.join();
    beast::error_code ec;
    p_->acceptor.close(ec);
}

std::uint16_t rest_server::port() const noexcept { return p_->port; }

std::string rest_server::url() const {
    bool v6 = p_->address.find(':') != std::string::npos;
    return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", p_->address, v6 ? "]" : "", p_->port);
}

}  // namespace migrate::vmd
