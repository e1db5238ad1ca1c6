#include "http_call.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <optional>

namespace migrate::vmd {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

result<agent::endpoint> parse_http_url(std::string_view url, std::string_view field) {
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme)
        return make_failure(error::invalid_argument,
                            fmt::format("{}: '{}' is not an http:// URL (expected http://ADDRESS:PORT)", field, url));
    auto rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos)
        return make_failure(error::invalid_argument,
                            fmt::format("{}: '{}' has a path; give the server only (http://ADDRESS:PORT)", field, url));
    return agent::parse_endpoint(rest, field);
}

result<json> http_reply::json_body() const {
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return make_failure(error::protocol_error, fmt::format("HTTP {}: the body is not JSON: {}", status, body));
    return j;
}

std::string http_reply::error_text() const {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
    // RFC 7807 ProblemDetails, what net::http_server answers for 404/405/413/500 of its own.
    if (!j.is_discarded() && j.is_object() && j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
    return body;
}

result<http_reply> http_call(const http_call_options& o) {
    auto server = parse_http_url(o.url, "http_call.url");
    if (!server) return server.error();
    auto verb = http::string_to_verb(o.method);
    if (verb != http::verb::get && verb != http::verb::post && verb != http::verb::put && verb != http::verb::delete_)
        return make_failure(error::invalid_argument, fmt::format("http_call.method: '{}' is not GET, POST, PUT or DELETE", o.method));
    const auto where = fmt::format("{} {}{}", o.method, o.url, o.target);

    // Asynchronous operations on a private io_context: the stream's deadline covers them all.
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    http::request<http::string_body> req{verb, o.target, 11};
    req.set(http::field::host, server->to_string());
    req.set(http::field::connection, "close");
    if (!o.body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = o.body;
    }
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(16u << 20);
    std::optional<beast::error_code> failed;
    std::string step;
    auto fail = [&](beast::error_code ec, const char* what) {
        failed = ec;
        step = what;
    };

    tcp::resolver resolver(io);
    stream.expires_after(o.timeout);
    resolver.async_resolve(server->host, std::to_string(server->port), [&](beast::error_code ec, tcp::resolver::results_type rs) {
        if (ec) return fail(ec, "resolve");
        stream.async_connect(rs, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec) return fail(ec, "connect");
            http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                if (ec) return fail(ec, "send");
                http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
                    if (ec) return fail(ec, "answer");
                });
            });
        });
    });
    io.run();
    if (failed) {
        if (*failed == beast::error::timeout)
            return make_failure(error::timeout, fmt::format("{}: no answer within {} ms ({})", where, o.timeout.count(), step));
        if (step == "resolve" || step == "connect")
            return make_failure(error::daemon_unreachable, fmt::format("{}: {}: {}", where, step, failed->message()));
        return make_failure(error::protocol_error, fmt::format("{}: {}: {}", where, step, failed->message()));
    }
    auto res = parser.release();
    return http_reply{res.result_int(), std::move(res.body())};
}

}  // namespace migrate::vmd
