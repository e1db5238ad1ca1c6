// examples/vmd/coap_glue.hpp — what the twin, the simulator and coap_call share on top of
// libcoap 4.3 (internal to examples/vmd: the only headers that include libcoap's).
#pragma once

#include <migrate/result.hpp>

#include <coap3/coap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace migrate::vmd::glue {

/// coap_startup() once per process, and libcoap's log lines routed to stderr prefixed with
/// "libcoap:" from `level` up (LOG_ERR by default: its warnings about ICMP errors and
/// retransmissions are what our counters report anyway).
void init_library();
void set_log_level(int level);

struct context_deleter {
    void operator()(coap_context_t* c) const noexcept { coap_free_context(c); }
};
using context_ptr = std::unique_ptr<coap_context_t, context_deleter>;
struct session_deleter {
    void operator()(coap_session_t* s) const noexcept { coap_session_release(s); }
};
using session_ptr = std::unique_ptr<coap_session_t, session_deleter>;

/// A new context with libcoap doing block-wise transfers and handing over whole bodies.
result<context_ptr> make_context();

/// `address` (dotted IPv4) and `port`; `invalid_argument` naming `field`.
result<coap_address_t> ipv4_address(std::string_view address, std::uint16_t port, std::string_view field);
/// `bind` as a local address with port 0: an IPv4 address, or an interface name whose
/// (first) IPv4 address is used. `invalid_argument` naming `field` otherwise.
result<coap_address_t> local_address(std::string_view bind, std::string_view field);
/// "10.0.0.1:5683".
std::string to_string(const coap_address_t& a);

/// A client session from `bind` (empty = any local address) to `server`; the socket is
/// connected, so only answers from `server` are taken (a virtual service address included).
result<session_ptr> client_session(coap_context_t* ctx, std::string_view bind, const coap_address_t& server,
                                   std::string_view bind_field);

/// 205 for 2.05.
int code_number(coap_pdu_code_t c) noexcept;
coap_pdu_code_t code_from_number(int n) noexcept;

/// What the program put in the session's context with coap_set_app_data.
template <class T>
T& app_data(coap_session_t* session) {
    return *static_cast<T*>(coap_get_app_data(coap_session_get_context(session)));
}

/// The Content-Format option (COAP_MEDIATYPE_*).
void add_content_format(coap_pdu_t* pdu, std::uint16_t format);

/// Uri-Path options from "a/b" and Uri-Query options from "x=1&y=2"; false when the PDU has
/// no room.
bool add_path_and_query(coap_pdu_t* pdu, std::string_view path, std::string_view query);
/// The whole body of a PDU (block-wise transfers reassembled by libcoap).
std::string body(const coap_pdu_t* pdu);

/// The 8-byte token that carries a sequence number, and back (0 for another token).
void add_seq_token(coap_pdu_t* pdu, std::uint64_t seq);
std::uint64_t seq_of(const coap_pdu_t* pdu);

/// The value of `name` in a query "a=1&device=car-1"; empty when absent.
std::string query_value(std::string_view query, std::string_view name);

}  // namespace migrate::vmd::glue
