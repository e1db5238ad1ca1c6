// migrate/mec/client.hpp — what every ETSI MEC API client shares: where the platform is
// (base URL + optional sandbox prefix, as the ETSI MEC Sandbox / AdvantEDGE serves
// `https://host/<sandbox>/location/v2/...`), the bearer token, the timeout, and one JSON
// request with the platform's errors turned into `failure`s.
//
// Errors: an HTTP status >= 400 becomes a failure naming method, URL, status and the
// ProblemDetails `detail` (or `title`) when the body carries one: 400/422 ->
// `invalid_argument`, 401/403 -> `permission_denied`, 404 -> `not_found`, 409/412 ->
// `conflict`, 501 -> `unsupported` (AdvantEDGE answers 501 to MEC011 traffic rules),
// other 5xx -> `daemon_error`. A body that is not JSON or lacks a required field is a
// `protocol_error` naming the field as a JSON pointer ("/userList/user/0/zoneId: missing").
// Unknown fields are ignored. Thread safety: one request at a time per client object
// (they share a keep-alive connection); use one client per thread.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace migrate::mec {

struct client_options {
    std::string base_url = "http://127.0.0.1:8080";  ///< scheme://host[:port], no trailing path
    std::string sandbox;                             ///< path before the API root: "", "sbx1", "sbx1/mep1"
    std::string bearer_token;                        ///< sent as `Authorization: Bearer ...` when set
    std::chrono::milliseconds timeout{5000};         ///< one request's round trip

    /// `invalid_argument` naming the field ("client_options.base_url: ...").
    result<void> validate() const;
};
void to_json(json& j, const client_options& o);
void from_json(const json& j, client_options& o);

/// One MEC API (e.g. "location/v2") on one platform. The typed clients own one.
class api_client {
public:
    /// `api_root` without slashes at either end, e.g. "location/v2", "amsi/v1".
    api_client(client_options opts, std::string api_root);
    ~api_client();
    api_client(api_client&&) noexcept;
    api_client& operator=(api_client&&) noexcept;

    /// base_url [+ "/" + sandbox] + "/" + api_root + path (`path` starts with "/").
    std::string url(std::string_view path) const;

    /// `method path` with `body` (none when null); the reply's JSON (null for an empty body,
    /// e.g. 204), or the failure described above.
    result<json> call(std::string_view method, std::string_view path, const json& body = nullptr);

    const client_options& options() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Escape one path segment (an id from the caller: "zone 01" -> "zone%2001").
std::string path_segment(std::string_view s);

}  // namespace migrate::mec
