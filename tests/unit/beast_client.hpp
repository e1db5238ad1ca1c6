// tests/unit/beast_client.hpp — one synchronous HTTP/1.1 exchange with Boost.Beast, so the
// SDK's HTTP servers are checked by a client that is not the SDK's own (libcurl) one.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace migrate::test {

struct beast_reply {
    unsigned status = 0;            ///< 0: no answer (connection refused, timeout)
    std::string content_type;
    std::string allow;
    std::string location;
    std::string body;
    std::string error;
};

inline beast_reply beast_exchange(std::uint16_t port, const std::string& method, const std::string& target,
                                  const std::string& body = {}, const std::string& content_type = "application/json") {
    namespace beast = boost::beast;
    namespace http = boost::beast::http;
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    beast_reply out;
    try {
        stream.expires_after(std::chrono::seconds(5));
        stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, "127.0.0.1:" + std::to_string(port));   // as curl sends it
        if (!body.empty()) {
            req.set(http::field::content_type, content_type);
            req.body() = body;
        }
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(stream, buf, res);
        out.status = res.result_int();
        out.content_type = std::string(res[http::field::content_type]);
        out.allow = std::string(res[http::field::allow]);
        out.location = std::string(res[http::field::location]);
        out.body = res.body();
        beast::error_code ec;
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    return out;
}

}  // namespace migrate::test
