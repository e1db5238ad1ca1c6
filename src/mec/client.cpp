#include <migrate/mec/client.hpp>

#include "../net/http_call.hpp"

#include <fmt/format.h>

namespace migrate::mec {

result<void> client_options::validate() const {
    if (!(base_url.starts_with("http://") || base_url.starts_with("https://")))
        return make_failure(error::invalid_argument,
                            fmt::format("client_options.base_url: '{}' is not an http:// or https:// URL", base_url));
    if (base_url.ends_with("/"))
        return make_failure(error::invalid_argument,
                            fmt::format("client_options.base_url: '{}' ends with '/'; give scheme://host[:port]", base_url));
    // "sbx1" or the ETSI MEC Sandbox's "sbx1/mep1": segments without empty ones.
    if (!sandbox.empty() && (sandbox.front() == '/' || sandbox.back() == '/' || sandbox.find("//") != std::string::npos))
        return make_failure(error::invalid_argument,
                            fmt::format("client_options.sandbox: '{}' must be path segments without leading, trailing "
                                        "or double '/' (e.g. 'sbx1' or 'sbx1/mep1')", sandbox));
    if (sandbox.find_first_of("?# ") != std::string::npos)
        return make_failure(error::invalid_argument,
                            fmt::format("client_options.sandbox: '{}' has a reserved character", sandbox));
    if (timeout.count() <= 0)
        return make_failure(error::invalid_argument, "client_options.timeout_ms: must be positive");
    return {};
}

void to_json(json& j, const client_options& o) {
    j = json{{"base_url", o.base_url}, {"sandbox", o.sandbox}, {"bearer_token", o.bearer_token},
             {"timeout_ms", o.timeout.count()}};
}

void from_json(const json& j, client_options& o) {
    migrate::detail::read_field(j, "client_options", "base_url", o.base_url);
    migrate::detail::read_field(j, "client_options", "sandbox", o.sandbox);
    migrate::detail::read_field(j, "client_options", "bearer_token", o.bearer_token);
    long long ms = o.timeout.count();
    migrate::detail::read_field(j, "client_options", "timeout_ms", ms);
    o.timeout = std::chrono::milliseconds(ms);
}

struct api_client::impl {
    client_options opts;
    std::string root;   // base_url[/sandbox]/api_root
    net::http_connection conn;
};

api_client::api_client(client_options opts, std::string api_root) : impl_(std::make_unique<impl>()) {
    impl_->root = opts.base_url;
    if (!opts.sandbox.empty()) impl_->root += "/" + opts.sandbox;
    impl_->root += "/" + api_root;
    impl_->opts = std::move(opts);
}
api_client::~api_client() = default;
api_client::api_client(api_client&&) noexcept = default;
api_client& api_client::operator=(api_client&&) noexcept = default;

const client_options& api_client::options() const noexcept { return impl_->opts; }

std::string api_client::url(std::string_view path) const { return impl_->root + std::string(path); }

namespace {
error error_for_status(long status) {
    switch (status) {
        case 400: case 422: return error::invalid_argument;
        case 401: case 403: return error::permission_denied;
        case 404: return error::not_found;
        case 409: case 412: return error::conflict;
        case 501: return error::unsupported;
        default: return status >= 500 ? error::daemon_error : error::protocol_error;
    }
}

/// ProblemDetails' `detail` (else `title`), or the start of a non-JSON body.
std::string problem_text(const std::string& body) {
    if (body.empty()) return {};
    json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        for (const char* k : {"detail", "title"})
            if (auto it = j.find(k); it != j.end() && it->is_string()) return it->get<std::string>();
        // AdvantEDGE wraps it: {"problemDetails": {...}}
        if (auto it = j.find("problemDetails"); it != j.end() && it->is_object())
            return problem_text(it->dump());
    }
    return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}
}  // namespace

result<json> api_client::call(std::string_view method, std::string_view path, const json& body) {
    std::string m(method), u = url(path);
    std::vector<std::pair<std::string, std::string>> headers{{"Accept", "application/json"}};
    if (!impl_->opts.bearer_token.empty()) headers.emplace_back("Authorization", "Bearer " + impl_->opts.bearer_token);
    auto reply = impl_->conn.request(m, u, body.is_null() ? std::string{} : body.dump(), impl_->opts.timeout, headers);
    if (!reply) return reply.error();
    if (reply->status >= 400) {
        std::string text = problem_text(reply->body);
        return make_failure(error_for_status(reply->status),
                            fmt::format("{} {}: HTTP {}{}{}", m, u, reply->status, text.empty() ? "" : ": ", text));
    }
    if (reply->body.empty()) return json(nullptr);
    json j = json::parse(reply->body, nullptr, false);
    if (j.is_discarded())
        return make_failure(error::protocol_error, fmt::format("{} {}: HTTP {} with a body that is not JSON", m, u, reply->status));
    return j;
}

std::string path_segment(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

}  // namespace migrate::mec
