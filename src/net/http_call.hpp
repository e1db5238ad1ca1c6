// src-only: one plain HTTP request to a URL with libcurl (app phase hooks, the etcd state
// store, later the MEC API clients). Small JSON bodies only; artifact streams never go
// through here.
#pragma once

#include <migrate/result.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace migrate::net {

struct http_reply {
    long status = 0;
    std::string body;
};

/// A libcurl handle kept between requests, so that they reuse its connection (keep-alive).
/// One thread at a time; `request` behaves as `http_call`.
class http_connection {
public:
    http_connection();
    ~http_connection();
    http_connection(const http_connection&) = delete;
    http_connection& operator=(const http_connection&) = delete;

    result<http_reply> request(const std::string& method, const std::string& url, const std::string& body,
                               std::chrono::milliseconds timeout,
                               const std::vector<std::pair<std::string, std::string>>& headers = {});

private:
    void* curl_;   // CURL*, kept out of this header
};

/// `method url` with `body` (sent as application/json when not empty). Transport failures
/// only: connection refused -> `daemon_unreachable`, timeout -> `timeout`, both naming the
/// URL; every HTTP status is a reply.
result<http_reply> http_call(const std::string& method, const std::string& url, const std::string& body,
                             std::chrono::milliseconds timeout,
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace migrate::net
