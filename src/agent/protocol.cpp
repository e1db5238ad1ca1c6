// The agent wire format: frames, the 'E' trailer, requests as JSON, endpoints, the token
// comparison. Pure functions; the sockets are in channel.cpp.
#include <migrate/agent/protocol.hpp>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <charconv>

namespace migrate::agent {

// ---- frames -------------------------------------------------------------------------------

std::string_view to_string(frame_type t) noexcept {
    switch (t) {
    case frame_type::request: return "request";
    case frame_type::data: return "data";
    case frame_type::end: return "end";
    case frame_type::abort: return "abort";
    case frame_type::progress: return "progress";
    case frame_type::reply: return "reply";
    }
    return "unknown";
}

std::array<std::byte, frame_header_bytes> encode_frame_header(frame_type t, std::uint32_t length) noexcept {
    return {static_cast<std::byte>(t), static_cast<std::byte>(length >> 24), static_cast<std::byte>(length >> 16),
            static_cast<std::byte>(length >> 8), static_cast<std::byte>(length)};
}

std::string encode_frame(frame_type t, std::string_view payload) {
    auto h = encode_frame_header(t, static_cast<std::uint32_t>(payload.size()));
    std::string s(reinterpret_cast<const char*>(h.data()), h.size());
    s.append(payload);
    return s;
}

result<frame_header> decode_frame_header(std::span<const std::byte, frame_header_bytes> b, const frame_limits& limits) {
    auto type = static_cast<unsigned char>(b[0]);
    std::uint32_t len = (std::uint32_t(b[1]) << 24) | (std::uint32_t(b[2]) << 16) | (std::uint32_t(b[3]) << 8) |
                        std::uint32_t(b[4]);
    frame_header h;
    h.length = len;
    std::uint32_t max = limits.max_json_bytes;
    switch (type) {
    case 'H': h.type = frame_type::request; break;
    case 'R': h.type = frame_type::reply; break;
    case 'A': h.type = frame_type::abort; break;
    case 'P': h.type = frame_type::progress; break;
    case 'D':
        h.type = frame_type::data;
        max = limits.max_data_bytes;
        if (len == 0) return make_failure(error::protocol_error, "empty data frame");
        break;
    case 'E':
        h.type = frame_type::end;
        if (len != end_payload_bytes)
            return make_failure(error::protocol_error,
                                fmt::format("end frame of {} bytes (must be {})", len, end_payload_bytes));
        return h;
    default:
        return make_failure(error::protocol_error,
                            std::isprint(type) ? fmt::format("unknown frame type '{}' (0x{:02x})", char(type), type)
                                               : fmt::format("unknown frame type 0x{:02x}", type));
    }
    if (len > max)
        return make_failure(error::protocol_error, fmt::format("{} frame of {} bytes exceeds the limit of {} bytes",
                                                               to_string(h.type), len, max));
    return h;
}

std::string encode_end(const end_trailer& e) {
    std::string s(end_payload_bytes, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(e.bytes >> (8 * (7 - i)));
    std::copy(e.sha256.begin(), e.sha256.end(), s.begin() + 8);
    return s;
}

result<end_trailer> decode_end(std::string_view p) {
    if (p.size() != end_payload_bytes)
        return make_failure(error::protocol_error,
                            fmt::format("end frame of {} bytes (must be {})", p.size(), end_payload_bytes));
    end_trailer e;
    for (int i = 0; i < 8; ++i) e.bytes = (e.bytes << 8) | static_cast<unsigned char>(p[i]);
    std::copy(p.begin() + 8, p.end(), e.sha256.begin());
    return e;
}

// ---- endpoints ----------------------------------------------------------------------------

std::string endpoint::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

result<endpoint> parse_endpoint(std::string_view s, std::string_view field) {
    auto bad = [&](std::string_view why) {
        return make_failure(error::invalid_argument, fmt::format("{}: '{}' {} (expected ADDRESS:PORT, e.g. 10.1.2.3:7070)",
                                                                 field, s, why));
    };
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad("has no address");
    std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return bad("has an unclosed [");
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return bad("needs [brackets] around an IPv6 address");
    }
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
            return bad("has a character not allowed in an address");
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535)
        return bad("has no port in 1..65535");
    return endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

// ---- requests -----------------------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, 4> op_names = {"ping", "produce", "consume", "relay"};

// artifact_spec::validate names "artifact.<field>"; say which of the request's specs it was.
result<void> validate_spec(const artifact_spec& a, std::string_view which) {
    auto v = a.validate();
    if (v) return v;
    auto f = v.error();
    if (f.message.rfind("artifact.", 0) == 0) f.message = fmt::format("request.{}.{}", which, f.message.substr(9));
    else f.message = fmt::format("request.{}: {}", which, f.message);
    return f;
}
}  // namespace

std::string_view to_string(operation o) noexcept { return op_names[static_cast<std::size_t>(o)]; }
void to_json(json& j, operation o) { j = std::string(to_string(o)); }
void from_json(const json& j, operation& o) {
    auto s = j.get<std::string>();
    for (std::size_t i = 0; i < op_names.size(); ++i)
        if (op_names[i] == s) { o = static_cast<operation>(i); return; }
    throw migration_error(make_failure(error::invalid_argument,
                                       fmt::format("request.op: unknown operation '{}' (ping, produce, consume, relay)", s)));
}

result<void> request::validate() const {
    if (version != protocol_version)
        return make_failure(error::invalid_argument, fmt::format("request.v: protocol version {} is not supported "
                                                                 "(this agent speaks {})", version, protocol_version));
    switch (op) {
    case operation::ping: return {};
    case operation::produce: return validate_spec(artifact, "artifact");
    case operation::consume: return validate_spec(artifact, "artifact");
    case operation::relay: {
        MIGRATE_TRY(validate_spec(artifact, "produce"));
        MIGRATE_TRY(validate_spec(consume, "consume"));
        auto e = parse_endpoint(to, "request.to");
        if (!e) return e.error();
        return {};
    }
    }
    return {};
}

std::string request::describe() const {
    switch (op) {
    case operation::ping: return "ping";
    case operation::produce: return "produce " + artifact.describe();
    case operation::consume:
        return from.empty() ? "consume " + artifact.describe() : fmt::format("consume {} from {}", artifact.describe(), from);
    case operation::relay: return fmt::format("relay {} -> {} as {}", artifact.describe(), to, consume.describe());
    }
    return "?";
}

void to_json(json& j, const request& r) {
    j = json{{"v", r.version}, {"op", r.op}, {"token", r.token}};
    switch (r.op) {
    case operation::ping: break;
    case operation::produce: j["artifact"] = r.artifact; break;
    case operation::consume:
        j["artifact"] = r.artifact;
        if (!r.from.empty()) j["from"] = r.from;
        break;
    case operation::relay:
        j["produce"] = r.artifact;
        j["consume"] = r.consume;
        j["to"] = r.to;
        break;
    }
    if (r.stall_timeout_ms) j["stall_timeout_ms"] = r.stall_timeout_ms;
    if (r.reply_timeout_ms) j["reply_timeout_ms"] = r.reply_timeout_ms;
    if (r.progress_interval_ms) j["progress_interval_ms"] = r.progress_interval_ms;
}

void from_json(const json& j, request& r) {
    constexpr const char* w = "request";
    if (!j.is_object()) throw migration_error(make_failure(error::protocol_error, "request: not a JSON object"));
    if (!j.contains("op")) throw migration_error(make_failure(error::invalid_argument, "request.op: required"));
    detail::read_field(j, w, "v", r.version);
    detail::read_field(j, w, "op", r.op);
    detail::read_field(j, w, "token", r.token);
    auto spec = [&](const char* key, artifact_spec& out) {
        auto it = j.find(key);
        if (it == j.end()) throw migration_error(make_failure(error::invalid_argument, fmt::format("request.{}: required", key)));
        try {
            out = it->get<artifact_spec>();
        } catch (const migration_error& e) {
            auto f = e.details();
            if (f.message.rfind("artifact.", 0) == 0) f.message = fmt::format("request.{}.{}", key, f.message.substr(9));
            throw migration_error(f);
        } catch (const json::exception& e) {
            throw migration_error(make_failure(error::invalid_argument, fmt::format("request.{}: {}", key, e.what())));
        }
    };
    switch (r.op) {
    case operation::ping: break;
    case operation::produce:
    case operation::consume: spec("artifact", r.artifact); break;
    case operation::relay:
        spec("produce", r.artifact);
        spec("consume", r.consume);
        detail::read_field(j, w, "to", r.to);
        break;
    }
    detail::read_field(j, w, "from", r.from);
    detail::read_field(j, w, "stall_timeout_ms", r.stall_timeout_ms);
    detail::read_field(j, w, "reply_timeout_ms", r.reply_timeout_ms);
    detail::read_field(j, w, "progress_interval_ms", r.progress_interval_ms);
}

result<request> parse_request(std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return make_failure(error::protocol_error, "request: the request frame does not hold a JSON object");
    try {
        auto r = j.get<request>();
        MIGRATE_TRY(r.validate());
        return r;
    } catch (const migration_error& e) {
        return e.details();
    } catch (const json::exception& e) {
        return make_failure(error::invalid_argument, fmt::format("request: {}", e.what()));
    }
}

bool token_matches(std::string_view expected, std::string_view presented) noexcept {
    // Compare digests, not the strings: equal length, so CRYPTO_memcmp's time depends on
    // neither the position of the first difference nor the presented token's length.
    if (expected.empty()) return false;
    unsigned char a[32], b[32];
    unsigned int la = 0, lb = 0;
    EVP_Digest(expected.data(), expected.size(), a, &la, EVP_sha256(), nullptr);
    EVP_Digest(presented.data(), presented.size(), b, &lb, EVP_sha256(), nullptr);
    return la == 32 && lb == 32 && CRYPTO_memcmp(a, b, 32) == 0;
}

// ---- replies ------------------------------------------------------------------------------

error error_from_string(std::string_view name) noexcept {
    for (int i = 1; i <= static_cast<int>(error::internal); ++i)
        if (migrate::to_string(static_cast<error>(i)) == name) return static_cast<error>(i);
    return error::protocol_error;
}

json error_reply(const failure& f) {
    std::string code = f.code.category() == error_category() ? std::string(migrate::to_string(static_cast<error>(f.code.value())))
                                                              : std::string("internal");
    return json{{"ok", false}, {"error", code}, {"message", f.message}};
}

failure failure_from_reply(const json& reply, std::string_view context) {
    // A peer's reply is untrusted input: fields of the wrong type read as absent.
    auto text = [&](const char* key) -> std::string {
        if (!reply.is_object()) return {};
        auto it = reply.find(key);
        return it != reply.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    std::string code = text("error");
    std::string message = reply.is_object() ? text("message") : reply.dump();
    auto e = error_from_string(code);
    if (e == error::protocol_error && code != "protocol_error")
        message = fmt::format("unrecognised error '{}': {}", code, message);
    return make_failure(e, context.empty() ? message : fmt::format("{}: {}", context, message));
}

}  // namespace migrate::agent
