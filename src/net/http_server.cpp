#include <migrate/net/http_server.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace migrate::net {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---- decoding and request helpers -----------------------------------------------------------

std::string percent_decode(std::string_view s, bool plus_is_space) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        auto at = s.find(sep, start);
        out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) break;
        start = at + 1;
    }
    return out;
}

// "/a/b/" and "/a/b" are the same resource to a client; the segments ignore the empty ones.
std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    for (auto seg : split(path, '/'))
        if (!seg.empty()) out.push_back(seg);
    return out;
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

void fill_target(http_request& r) {
    std::string_view t = r.target;
    auto q = t.find('?');
    r.path = percent_decode(t.substr(0, q));
    r.query.clear();
    if (q == std::string_view::npos) return;
    for (auto pair : split(t.substr(q + 1), '&')) {
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
        r.query.emplace(std::move(key), std::move(value));
    }
}

const char* reason_of(unsigned status) {
    auto s = http::obsolete_reason(static_cast<http::status>(status));
    return s.empty() ? "Error" : s.data();
}

}  // namespace

std::optional<std::string> http_request::query_value(std::string_view key) const {
    auto it = query.find(std::string(key));
    if (it == query.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> http_request::query_values(std::string_view key) const {
    std::vector<std::string> out;
    auto [b, e] = query.equal_range(std::string(key));
    for (auto it = b; it != e; ++it)
        for (auto v : split(it->second, ','))
            if (!v.empty()) out.emplace_back(v);
    return out;
}

const std::string& http_request::param(std::string_view name) const {
    auto it = params.find(std::string(name));
    if (it == params.end())
        throw migration_error(make_failure(error::internal, fmt::format("route of {} has no parameter {{{}}}", path, name)));
    return it->second;
}

result<json> http_request::json_body() const {
    try {
        return json::parse(body);
    } catch (const json::exception& e) {
        return make_failure(error::invalid_argument, fmt::format("{} {}: body is not JSON: {}", method, path, e.what()));
    }
}

http_response http_response::created(json body, std::string location) {
    http_response r{201, std::move(body), {}, "application/json"};
    if (!location.empty()) r.headers.emplace_back("Location", std::move(location));
    return r;
}

http_response http_response::problem(unsigned status, std::string detail, std::string instance) {
    json p{{"type", "about:blank"}, {"title", reason_of(status)}, {"status", status}, {"detail", std::move(detail)}};
    if (!instance.empty()) p["instance"] = std::move(instance);
    return {status, std::move(p), {}, "application/problem+json"};
}

// ---- router ---------------------------------------------------------------------------------

result<void> http_router::add(std::string method, std::string pattern, http_handler handler) {
    auto bad = [&](const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("http_router: route {} '{}': {}", method, pattern, why));
    };
    if (method.empty()) return bad("no method");
    if (pattern.empty() || pattern.front() != '/') return bad("a pattern starts with '/'");
    if (!handler) return bad("no handler");
    for (auto seg : segments(pattern)) {
        bool opens = seg.find('{') != std::string_view::npos, closes = seg.find('}') != std::string_view::npos;
        if ((opens || closes) && !is_param(seg)) return bad(fmt::format("segment '{}': a parameter is a whole segment '{{name}}'", seg));
    }
    routes_.push_back({std::move(method), std::move(pattern), std::move(handler)});
    return ok();
}

http_router& http_router::route(std::string method, std::string pattern, http_handler handler) {
    add(std::move(method), std::move(pattern), std::move(handler)).value();
    return *this;
}

std::optional<std::map<std::string, std::string>> http_router::match(std::string_view pattern, std::string_view path) {
    auto ps = segments(pattern), xs = segments(path);
    if (ps.size() != xs.size()) return std::nullopt;
    std::map<std::string, std::string> params;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        if (is_param(ps[i]))
            params.emplace(std::string(ps[i].substr(1, ps[i].size() - 2)), std::string(xs[i]));
        else if (ps[i] != xs[i])
            return std::nullopt;
    }
    return params;
}

http_response http_router::dispatch(http_request& r) const {
    std::vector<std::string> allowed;
    for (auto& e : routes_) {
        auto params = match(e.pattern, r.path);
        if (!params) continue;
        if (e.method != r.method) {
            if (std::find(allowed.begin(), allowed.end(), e.method) == allowed.end()) allowed.push_back(e.method);
            continue;
        }
        r.params = std::move(*params);
        return e.handler(r);
    }
    if (allowed.empty()) return http_response::problem(404, fmt::format("no resource at {}", r.path), r.path);
    auto res = http_response::problem(405, fmt::format("{} is not allowed on {}", r.method, r.path), r.path);
    res.headers.emplace_back("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
    return res;
}

// ---- server ---------------------------------------------------------------------------------

result<void> http_server_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("http_server_options.{}: {}", field, why));
    };
    beast::error_code ec;
    (void)asio::ip::make_address(address, ec);
    if (ec) return bad("address", fmt::format("'{}' is not an IP address", address));
    if (threads == 0 || threads > 256) return bad("threads", fmt::format("{} must be in 1..256", threads));
    if (idle_timeout.count() <= 0) return bad("idle_timeout", "must be positive");
    if (body_limit == 0) return bad("body_limit", "must be positive");
    if (server_name.find_first_of("\r\n") != std::string::npos) return bad("server_name", "has a line break");
    return ok();
}

namespace {

struct shared_settings {
    http_handler handler;
    http_server_options options;
};

http::response<http::string_body> make_response(const http_response& r, const std::string& server, unsigned version,
                                                bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, server);
    for (auto& [name, value] : r.headers) res.set(name, value);
    if (!r.body.is_null()) {
        res.set(http::field::content_type, r.content_type);
        res.body() = r.body.dump();
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

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
            return answer(http_response::problem(413, fmt::format("body over {} bytes", s_->options.body_limit)), 11, false);
        if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())   // Beast's parse errors
            return answer(http_response::problem(400, fmt::format("not an HTTP/1.1 request: {}", ec.message())), 11, false);
        if (ec) return close();
        auto req = parser_->release();
        http_request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        fill_target(r);
        r.body = std::move(req.body());
        r.content_type = std::string(req[http::field::content_type]);
        beast::error_code pe;
        auto peer = stream_.socket().remote_endpoint(pe);
        if (!pe) r.peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
        http_response out;
        try {
            out = s_->handler(r);
        } catch (const std::exception& e) {
            out = http_response::problem(500, fmt::format("{} {}: {}", r.method, r.path, e.what()), r.path);
        } catch (...) {
            out = http_response::problem(500, fmt::format("{} {}: unknown exception", r.method, r.path), r.path);
        }
        absolute_instance(out, std::string(req[http::field::host]));
        answer(out, req.version(), req.keep_alive());
    }

    // The ETSI MEC specs want a ProblemDetails `instance` as an absolute URI; handlers name the
    // path, so it is completed here with the Host the client used (or the address it reached).
    void absolute_instance(http_response& out, std::string host) {
        if (out.content_type != "application/problem+json" || !out.body.is_object()) return;
        auto it = out.body.find("instance");
        if (it == out.body.end() || !it->is_string() || it->get<std::string>().rfind("/", 0) != 0) return;
        if (host.empty()) {
            beast::error_code ec;
            auto local = stream_.socket().local_endpoint(ec);
            if (ec) return;
            host = local.address().is_v6() ? fmt::format("[{}]:{}", local.address().to_string(), local.port())
                                           : fmt::format("{}:{}", local.address().to_string(), local.port());
        }
        *it = "http://" + host + it->get<std::string>();
    }

    void answer(const http_response& r, unsigned version, bool keep_alive) {
        res_ = make_response(r, s_->options.server_name, version, keep_alive);
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

struct http_server::impl {
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

http_server::http_server(std::unique_ptr<impl> p) : p_(std::move(p)) {}

http_server::~http_server() { stop(); }

result<std::unique_ptr<http_server>> http_server::start(const http_server_options& o, http_router router) {
    auto shared = std::make_shared<const http_router>(std::move(router));
    return start(o, [shared](const http_request& r) {
        http_request routed = r;
        return shared->dispatch(routed);
    });
}

result<std::unique_ptr<http_server>> http_server::start(const http_server_options& o, http_handler handler) {
    if (auto v = o.validate(); !v) return v.error();
    if (!handler) return make_failure(error::invalid_argument, "http_server: no handler");
    auto p = std::make_unique<impl>();
    p->settings = std::make_shared<shared_settings>(shared_settings{std::move(handler), o});
    tcp::endpoint at{asio::ip::make_address(o.address), o.port};
    beast::error_code ec;
    auto failed = [&](const char* step) {
        return make_failure(error::io_error, fmt::format("http_server: {} {}:{}: {}", step, o.address, o.port, ec.message()));
    };
    if (p->acceptor.open(at.protocol(), ec); ec) return failed("open");
    if (p->acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return failed("reuse_address");
    if (p->acceptor.bind(at, ec); ec) return failed("bind");
    if (p->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return failed("listen");
    p->address = o.address;
    p->port = p->acceptor.local_endpoint().port();
    p->accept();
    for (unsigned i = 0; i < o.threads; ++i) p->threads.emplace_back([io = &p->io] { io->run(); });
    return std::unique_ptr<http_server>(new http_server(std::move(p)));
}

void http_server::stop() {
    if (!p_ || p_->stopped) return;
    p_->stopped = true;
    p_->io.stop();   // sessions waiting for requests go with the io_context
    for (auto& t : p_->threads)
        if (t.joinable()) t.join();
    beast::error_code ec;
    p_->acceptor.close(ec);
}

std::uint16_t http_server::port() const noexcept { return p_->port; }

std::string http_server::url() const {
    bool v6 = p_->address.find(':') != std::string::npos;
    return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", p_->address, v6 ? "]" : "", p_->port);
}

}  // namespace migrate::net
