// migrate/net/http_server.hpp — an embedded HTTP/1.1 server for JSON APIs (Boost.Beast
// underneath, compiled in src/net/http_server.cpp): what the MEC notification receiver and
// the MEC platform emulator (migrate-mec-sim) answer on.
//
// Requests are routed by method + path pattern (`/location/v2/queries/zones/{zoneId}`); a
// handler gets the request with its path parameters and decoded query, and answers JSON.
// Handlers run on one of `threads` I/O threads of the server's own and may block: a connection
// is served in order, other connections go on while fewer than `threads` handlers block.
// Broken requests are answered 400, bodies over `body_limit` 413, an unknown path 404, a known
// path with another method 405 (with `Allow`), a handler's exception 500 — all with an RFC 7807
// ProblemDetails body, as the ETSI MEC APIs answer errors.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace migrate::net {

struct http_request {
    std::string method;    ///< "GET", "POST", ... as sent
    std::string target;    ///< "/location/v2/queries/users?address=acr%3A10.0.0.1", as sent
    std::string path;      ///< target before '?', percent-decoded
    /// The query, percent-decoded; a repeated key keeps every value, in order
    /// (MEC013 `?address=a&address=b`).
    std::multimap<std::string, std::string> query;
    std::map<std::string, std::string> params;   ///< `{zoneId}` -> "zone01", filled by the router
    std::string body;
    std::string content_type;
    std::string peer;      ///< "10.0.0.9:40112"

    /// The first value of query key `key`, if any.
    std::optional<std::string> query_value(std::string_view key) const;
    /// Every value of query key `key` (a comma-separated value counts as several, as MEC
    /// clients send lists either way).
    std::vector<std::string> query_values(std::string_view key) const;
    /// The path parameter `name`; throws `migration_error(internal)` when the route has none
    /// of that name (a bug in the route table, not the client's fault).
    const std::string& param(std::string_view name) const;
    /// The body parsed as JSON; `invalid_argument` naming the parse error's position.
    result<json> json_body() const;
};

struct http_response {
    unsigned status = 200;
    json body;             ///< null = no body (e.g. 204)
    std::vector<std::pair<std::string, std::string>> headers;   ///< extra, e.g. {"Location", "..."}
    std::string content_type = "application/json";

    static http_response ok(json body) { return {200, std::move(body), {}, "application/json"}; }
    static http_response created(json body, std::string location);
    static http_response no_content() { return {204, nullptr, {}, "application/json"}; }
    /// RFC 7807 ProblemDetails (`type`, `title`, `status`, `detail`, `instance`), served as
    /// application/problem+json: what ETSI MEC APIs answer on errors. An `instance` given as a
    /// path ("/location/v2/...") is sent as an absolute URI built from the request's Host, as
    /// the ETSI specs require.
    static http_response problem(unsigned status, std::string detail, std::string instance = {});
};

using http_handler = std::function<http_response(const http_request&)>;

/// Method + path-pattern routing. A pattern is a '/'-separated path whose segments are either
/// literal or `{name}` (one whole segment, non-empty). Routes are matched in the order added.
class http_router {
public:
    /// `invalid_argument` naming the pattern when it is not of the shape above.
    result<void> add(std::string method, std::string pattern, http_handler handler);
    /// Throws `migration_error` on a bad pattern: for route tables written in code.
    http_router& route(std::string method, std::string pattern, http_handler handler);

    /// Fills `r.params` and runs the matching handler; 404 / 405 (with `Allow`) otherwise.
    /// A handler's exception propagates (the server turns it into a 500).
    http_response dispatch(http_request& r) const;

    /// The segments of `path` when it matches `pattern`, else nullopt (exposed for tests).
    static std::optional<std::map<std::string, std::string>> match(std::string_view pattern, std::string_view path);

private:
    struct entry {
        std::string method;
        std::string pattern;
        http_handler handler;
    };
    std::vector<entry> routes_;
};

struct http_server_options {
    std::string address = "127.0.0.1";      ///< IPv4 or IPv6 literal to listen on
    std::uint16_t port = 0;                  ///< 0 = a free port (see `http_server::port`)
    unsigned threads = 2;                    ///< handlers that may block at once
    std::chrono::seconds idle_timeout{60};   ///< a kept-alive connection with no request is closed
    std::size_t body_limit = 1024 * 1024;
    std::string server_name = "migrate";     ///< the `Server` header

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

class http_server {
public:
    /// Binds and serves on threads of its own. `invalid_argument` (options), `io_error`
    /// naming the address when it cannot listen.
    static result<std::unique_ptr<http_server>> start(const http_server_options& o, http_handler handler);
    /// The router is copied; later changes to the caller's router do not reach the server.
    static result<std::unique_ptr<http_server>> start(const http_server_options& o, http_router router);
    /// Stops (see `stop`).
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Stops accepting, closes every connection and joins the threads once the handlers that
    /// are running return. Idempotent. Must not be called from a handler.
    void stop();
    std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:8080", with the port actually bound.
    std::string url() const;

private:
    struct impl;
    explicit http_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

/// "%41b+c" -> "Ab c" (`+` as space only when `plus_is_space`, i.e. in a query). Invalid
/// escapes are kept as they are.
std::string percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace migrate::net
