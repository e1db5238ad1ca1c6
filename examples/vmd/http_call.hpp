// examples/vmd/http_call.hpp — one HTTP/1.1 request with a JSON body and its answer, blocking
// (Boost.Beast underneath, not in this header): how the device simulator and the tests talk
// to the MD manager (md_manager.hpp). The CoAP counterpart is coap_call.hpp.
#pragma once

#include <migrate/agent/protocol.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace migrate::vmd {

/// "http://10.0.0.1:8080" or "http://10.0.0.1:8080/" as host and port; `invalid_argument`
/// naming `field` for anything else (another scheme, a path, no port).
result<agent::endpoint> parse_http_url(std::string_view url, std::string_view field);

struct http_reply {
    unsigned status = 0;
    std::string body;
    /// The body as JSON; `protocol_error` naming the status when it is not.
    result<json> json_body() const;
    /// The "error" string of a JSON error body, else the body as it came.
    std::string error_text() const;
};

struct http_call_options {
    std::string url;                          ///< the server, "http://ADDR:PORT"
    std::string method = "GET";               ///< GET, POST, PUT, DELETE
    std::string target = "/";                 ///< "/devices/car-1"
    std::string body;                         ///< sent as application/json when not empty
    std::chrono::milliseconds timeout{3000};  ///< connect, send and answer together
};

/// Sends one request on a connection of its own and reads the answer (any status: a 404 is
/// a reply, not a failure). Fails with `invalid_argument` (url, method), `daemon_unreachable`
/// when the server cannot be connected to, `timeout`, `protocol_error` for a broken answer.
/// Thread safety: reentrant.
result<http_reply> http_call(const http_call_options& o);

}  // namespace migrate::vmd
