// examples/vmd/rest_server.hpp — a small HTTP/1.1 server for a JSON API (Boost.Beast
// underneath, not in this header): what the MD manager (md_manager.hpp) answers on.
//
// Connections are kept alive; each request goes to the handler whole (method, target, body)
// and the handler's answer goes back as JSON. The handler runs on one of `threads` I/O
// threads and may block (a replica pool starting a twin cold takes seconds): a connection is
// served in order, other connections go on while fewer than `threads` handlers block.
// Broken requests are answered 400, bodies over `body_limit` 413, a handler's exception 500,
// without the handler seeing them.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace migrate::vmd {

struct http_request {
    std::string method;    ///< "GET", "POST", ... as sent
    std::string target;    ///< "/devices/car-1?x=1", as sent
    std::string body;
    std::string content_type;
    std::string peer;      ///< "10.0.0.9:40112"
};

struct http_response {
    unsigned status = 200;
    json body;             ///< null = no body (204)
    std::vector<std::pair<std::string, std::string>> headers;   ///< extra, e.g. {"Allow", "GET"}
};

using http_handler = std::function<http_response(const http_request&)>;

struct rest_server_options {
    std::string address = "127.0.0.1";      ///< IPv4 or IPv6 literal to listen on
    std::uint16_t port = 8080;               ///< 0 = a free port (see `rest_server::port`)
    unsigned threads = 8;                    ///< handlers that may block at once
    std::chrono::seconds idle_timeout{60};   ///< a kept-alive connection with no request is closed
    std::size_t body_limit = 64 * 1024;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

class rest_server {
public:
    /// Binds and serves on threads of its own. `invalid_argument` (options), `io_error`
    /// naming the address when it cannot listen.
    static result<std::unique_ptr<rest_server>> start(const rest_server_options& o, http_handler handler);
    /// Stops (see `stop`).
    ~rest_server();
    rest_server(const rest_server&) = delete;
    rest_server& operator=(const rest_server&) = delete;

    /// Stops accepting, closes every connection and joins the threads once the handlers that
    /// are running return. Idempotent.
    void stop();
    std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:8080", with the port actually bound.
    std::string url() const;

private:
    struct impl;
    explicit rest_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::vmd
