// src-only: one plain HTTP request to a URL with libcurl (app phase hooks, later the MEC
// API clients). Small JSON bodies only; artifact streams never go through here.
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

/// `method url` with `body` (sent as application/json when not empty). Transport failures
/// only: connection refused -> `daemon_unreachable`, timeout -> `timeout`, both naming the
/// URL; every HTTP status is a reply.
result<http_reply> http_call(const std::string& method, const std::string& url, const std::string& body,
                             std::chrono::milliseconds timeout,
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace migrate::net
