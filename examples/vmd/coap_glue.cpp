#include "coap_glue.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace migrate::vmd::glue {
namespace {

std::atomic<int> log_threshold{LOG_ERR};

void log_line(coap_log_t level, const char* message) {
    if (level > log_threshold.load()) return;
    std::fprintf(stderr, "libcoap: %s", message);
}

}  // namespace

void init_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        coap_startup();
        coap_set_log_handler(log_line);
        coap_set_log_level(log_threshold.load());
    });
}

void set_log_level(int level) {
    init_library();
    log_threshold = level;
    coap_set_log_level(level);
}

result<context_ptr> make_context() {
    init_library();
    context_ptr ctx{coap_new_context(nullptr)};
    if (!ctx) return make_failure(error::internal, "libcoap: coap_new_context failed");
    coap_context_set_block_mode(ctx.get(), COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    return ctx;
}

result<coap_address_t> ipv4_address(std::string_view address, std::uint16_t port, std::string_view field) {
    coap_address_t a;
    coap_address_init(&a);
    a.size = sizeof(sockaddr_in);
    a.addr.sin.sin_family = AF_INET;
    a.addr.sin.sin_port = htons(port);
    std::string text(address);
    if (::inet_pton(AF_INET, text.c_str(), &a.addr.sin.sin_addr) != 1)
        return make_failure(error::invalid_argument, fmt::format("{}: '{}' is not an IPv4 address", field, address));
    return a;
}

result<coap_address_t> local_address(std::string_view bind, std::string_view field) {
    if (auto a = ipv4_address(bind, 0, field)) return a;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0)
        return make_failure(error::io_error, fmt::format("{}: cannot list interfaces: {}", field, std::strerror(errno)));
    std::string found;
    for (auto* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || bind != i->ifa_name) continue;
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
        found = text;
        break;
    }
    ::freeifaddrs(list);
    if (found.empty())
        return make_failure(error::invalid_argument,
                            fmt::format("{}: '{}' is neither an IPv4 address nor an interface with one", field, bind));
    return ipv4_address(found, 0, field);
}

std::string to_string(const coap_address_t& a) {
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.addr.sin.sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(a.addr.sin.sin_port));
}

result<session_ptr> client_session(coap_context_t* ctx, std::string_view bind, const coap_address_t& server,
                                   std::string_view bind_field) {
    coap_address_t local;
    const coap_address_t* from = nullptr;
    if (!bind.empty()) {
        auto l = local_address(bind, bind_field);
        if (!l) return l.error();
        local = *l;
        from = &local;
    }
    session_ptr s{coap_new_client_session(ctx, from, &server, COAP_PROTO_UDP)};
    if (!s)
        return make_failure(error::io_error, fmt::format("cannot open a CoAP session to {}{}", to_string(server),
                                                         bind.empty() ? "" : fmt::format(" from {}", bind)));
    return s;
}

int code_number(coap_pdu_code_t c) noexcept {
    auto v = static_cast<unsigned>(c);
    return static_cast<int>((v >> 5) * 100 + (v & 0x1f));
}

coap_pdu_code_t code_from_number(int n) noexcept { return static_cast<coap_pdu_code_t>(COAP_RESPONSE_CODE(n)); }

void add_content_format(coap_pdu_t* pdu, std::uint16_t format) {
    uint8_t value[4];
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(value, sizeof value, format), value);
}

bool add_path_and_query(coap_pdu_t* pdu, std::string_view path, std::string_view query) {
    auto add_parts = [pdu](std::string_view text, char sep, coap_option_num_t option) {
        while (!text.empty()) {
            auto cut = text.find(sep);
            auto part = text.substr(0, cut);
            if (!part.empty() &&
                coap_add_option(pdu, option, part.size(), reinterpret_cast<const uint8_t*>(part.data())) == 0)
                return false;
            if (cut == std::string_view::npos) break;
            text.remove_prefix(cut + 1);
        }
        return true;
    };
    return add_parts(path, '/', COAP_OPTION_URI_PATH) && add_parts(query, '&', COAP_OPTION_URI_QUERY);
}

std::string body(const coap_pdu_t* pdu) {
    size_t len = 0, offset = 0, total = 0;
    const uint8_t* data = nullptr;
    if (!coap_get_data_large(pdu, &len, &data, &offset, &total) || !data) return {};
    return std::string(reinterpret_cast<const char*>(data), len);
}

void add_seq_token(coap_pdu_t* pdu, std::uint64_t seq) {
    uint8_t token[8];
    for (int i = 7; i >= 0; --i, seq >>= 8) token[i] = static_cast<uint8_t>(seq & 0xff);
    coap_add_token(pdu, sizeof token, token);
}

std::uint64_t seq_of(const coap_pdu_t* pdu) {
    auto t = coap_pdu_get_token(pdu);
    if (t.length != 8) return 0;
    std::uint64_t seq = 0;
    for (size_t i = 0; i < 8; ++i) seq = (seq << 8) | t.s[i];
    return seq;
}

std::string query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto cut = query.find('&');
        auto pair = query.substr(0, cut);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=')
            return std::string(pair.substr(name.size() + 1));
        if (cut == std::string_view::npos) break;
        query.remove_prefix(cut + 1);
    }
    return {};
}

}  // namespace migrate::vmd::glue
