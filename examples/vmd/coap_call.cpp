#include "coap_call.hpp"

#include "coap_glue.hpp"

#include <fmt/format.h>

#include <optional>

namespace migrate::vmd {
namespace {

struct exchange {
    std::optional<coap_reply> reply;
    std::optional<coap_nack_reason_t> nack;
};

coap_response_t on_response(coap_session_t* session, const coap_pdu_t*, const coap_pdu_t* received, const coap_mid_t) {
    glue::app_data<exchange>(session).reply =
        coap_reply{glue::code_number(coap_pdu_get_code(received)), glue::body(received)};
    return COAP_RESPONSE_OK;
}

void on_nack(coap_session_t* session, const coap_pdu_t*, const coap_nack_reason_t reason, const coap_mid_t) {
    glue::app_data<exchange>(session).nack = reason;
}

}  // namespace

std::string format_coap_code(int code) { return fmt::format("{}.{:02}", code / 100, code % 100); }

result<coap_reply> coap_call(const coap_call_options& o) {
    coap_pdu_code_t method;
    if (o.method == "GET") method = COAP_REQUEST_CODE_GET;
    else if (o.method == "POST") method = COAP_REQUEST_CODE_POST;
    else if (o.method == "PUT") method = COAP_REQUEST_CODE_PUT;
    else if (o.method == "DELETE") method = COAP_REQUEST_CODE_DELETE;
    else return make_failure(error::invalid_argument, fmt::format("coap_call.method: '{}' is not GET, POST, PUT or DELETE", o.method));
    auto server = glue::ipv4_address(o.address, o.port, "coap_call.address");
    if (!server) return server.error();
    auto ctx = glue::make_context();
    if (!ctx) return ctx.error();
    exchange x;
    coap_set_app_data(ctx->get(), &x);
    coap_register_response_handler(ctx->get(), on_response);
    coap_register_nack_handler(ctx->get(), on_nack);
    auto session = glue::client_session(ctx->get(), o.bind, *server, "coap_call.bind");
    if (!session) return session.error();

    auto where = fmt::format("coap://{}/{}{}{}", glue::to_string(*server), o.path.starts_with('/') ? o.path.substr(1) : o.path,
                             o.query.empty() ? "" : "?", o.query);
    coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(session->get()),
                                    coap_session_max_pdu_size(session->get()));
    if (!pdu) return make_failure(error::internal, "libcoap: coap_pdu_init failed");
    uint8_t token[8];
    size_t token_length = sizeof token;
    coap_session_new_token(session->get(), &token_length, token);
    coap_add_token(pdu, token_length, token);
    bool fits = glue::add_path_and_query(pdu, o.path, o.query);
    if (fits && !o.payload.empty()) {
        glue::add_content_format(pdu, COAP_MEDIATYPE_APPLICATION_JSON);
        // The payload outlives the exchange (it is `o`'s), so libcoap may send it in blocks
        // straight from there.
        fits = coap_add_data_large_request(session->get(), pdu, o.payload.size(),
                                           reinterpret_cast<const uint8_t*>(o.payload.data()), nullptr, nullptr) != 0;
    }
    if (!fits) {
        coap_delete_pdu(pdu);
        return make_failure(error::invalid_argument, fmt::format("{}: the request does not fit a CoAP message", where));
    }
    if (coap_send(session->get(), pdu) == COAP_INVALID_MID)
        return make_failure(error::io_error, fmt::format("{}: cannot send", where));

    auto deadline = std::chrono::steady_clock::now() + o.timeout;
    while (!x.reply && !x.nack) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        coap_io_process(ctx->get(), static_cast<uint32_t>(std::min<long long>(left.count(), 100)));
    }
    if (x.reply) return *x.reply;
    if (x.nack)
        return make_failure(*x.nack == COAP_NACK_TOO_MANY_RETRIES ? error::timeout : error::daemon_unreachable,
                            fmt::format("{}: {}", where,
                                        *x.nack == COAP_NACK_TOO_MANY_RETRIES ? "no answer to any retransmission"
                                        : *x.nack == COAP_NACK_RST            ? "reset by the peer"
                                        : *x.nack == COAP_NACK_ICMP_ISSUE     ? "ICMP unreachable (nothing listens there?)"
                                                                              : "not deliverable"));
    return make_failure(error::timeout, fmt::format("{}: no answer within {} ms", where, o.timeout.count()));
}

}  // namespace migrate::vmd
