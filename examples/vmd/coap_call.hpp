// examples/vmd/coap_call.hpp — one CoAP request and its answer, blocking (libcoap 4.3
// underneath, not in this header): what the simulator's --verify, the tests and the twin's
// admins use to talk to a twin (GET /state, POST /assign, GET /health).
#pragma once

#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace migrate::vmd {

/// A CoAP response code as class * 100 + detail: 205 is "2.05 Content".
struct coap_reply {
    int code = 0;
    std::string payload;
    bool success() const noexcept { return code >= 200 && code < 300; }
};
/// "2.05".
std::string format_coap_code(int code);

struct coap_call_options {
    std::string address;                 ///< the server's IPv4 address
    std::uint16_t port = 5683;
    std::string method = "GET";          ///< GET, POST, PUT, DELETE
    std::string path;                    ///< "state" or "/state"; segments split at '/'
    std::string query;                   ///< "device=car-1" (without '?'); pairs split at '&'
    std::string payload;                 ///< sent as application/json when not empty
    std::string bind;                    ///< local IPv4 or interface name; empty = any
    std::chrono::milliseconds timeout{3000};   ///< for the whole exchange (retransmissions included)
};

/// Sends one confirmable request and waits for its response (any code: a 4.04 is a
/// reply, not a failure). Fails with `invalid_argument` naming the option (address, bind,
/// method), `timeout` when nothing answered in time, `daemon_unreachable` when the request
/// could not be delivered (ICMP unreachable, reset). Thread safety: reentrant (each call has
/// its own libcoap context).
result<coap_reply> coap_call(const coap_call_options& o);

}  // namespace migrate::vmd
