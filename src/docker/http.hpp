// src-only: HTTP/1.1 over a unix socket with libcurl, streaming bodies to/from the SDK's
// byte streams. Kept out of include/ so that libcurl never reaches users' translation units.
#pragma once

#include <migrate/result.hpp>
#include <migrate/stream.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

namespace migrate::docker::detail {

struct http_request {
    const char* method = "GET";
    std::string target;                        ///< path + query after the API version, e.g. "/containers/x/json"
    std::string json_body;                     ///< sent when `has_json`
    bool has_json = false;
    byte_source* upload = nullptr;             ///< streamed, chunked request body
    const char* content_type = "application/x-tar";  ///< of `upload`
    byte_sink* download = nullptr;             ///< receives a 2xx body; else it is collected
    /// Whole-request limit; zero for streams (then only the stall limit applies).
    std::chrono::milliseconds timeout{0};
};

struct http_response {
    long status = 0;
    std::string body;                          ///< collected body (non-2xx always; 2xx unless downloaded)
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
};

/// One connection (reused between requests) to a daemon's unix socket. Not thread safe.
class http_client {
public:
    http_client(std::filesystem::path socket, std::string api_version, std::chrono::milliseconds connect_timeout,
                std::chrono::milliseconds stall_timeout, std::size_t chunk_size);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// Transport failures only (connect -> daemon_unreachable naming the socket, timeouts,
    /// a sink's or source's own failure); any HTTP status is a successful response.
    result<http_response> send(const http_request& req);

    std::string endpoint() const { return "unix://" + socket_.string(); }

    /// Percent-encodes a query value or path segment (keeps [A-Za-z0-9-._~] and, when
    /// `keep_slash_colon`, '/', ':' and '@' for image references).
    static std::string escape(std::string_view s, bool keep_slash_colon = false);

private:
    std::filesystem::path socket_;
    std::string api_version_;
    std::chrono::milliseconds connect_timeout_;
    std::chrono::milliseconds stall_timeout_;
    std::size_t chunk_size_;
    void* curl_ = nullptr;   // CURL*; void to keep curl.h out of this header too
};

}  // namespace migrate::docker::detail
