#include "http.hpp"

#include <curl/curl.h>

#include <fmt/format.h>

#include <mutex>
#include <optional>

namespace migrate::docker::detail {
namespace {

// A collected body (error answers, JSON) larger than this is not something dockerd sends for
// the calls that collect; refuse rather than grow without bound.
constexpr std::size_t collect_limit = 64u << 20;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct transfer {
    CURL* curl;
    const http_request* req;
    http_response res;
    std::optional<failure> sink_failure;
    std::optional<failure> source_failure;
    bool overflow = false;
};

std::size_t on_write(char* p, std::size_t size, std::size_t n, void* ud) {
    auto& t = *static_cast<transfer*>(ud);
    std::size_t len = size * n;
    if (t.res.status == 0) curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &t.res.status);
    t.res.bytes_in += len;
    if (t.req->download && t.res.status >= 200 && t.res.status < 300) {
        auto r = t.req->download->write({reinterpret_cast<const std::byte*>(p), len});
        if (!r) { t.sink_failure = r.error(); return 0; }
        return len;
    }
    if (t.res.body.size() + len > collect_limit) { t.overflow = true; return 0; }
    t.res.body.append(p, len);
    return len;
}

std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* ud) {
    auto& t = *static_cast<transfer*>(ud);
    auto r = t.req->upload->read({reinterpret_cast<std::byte*>(buf), size * n});
    if (!r) { t.source_failure = r.error(); return CURL_READFUNC_ABORT; }
    t.res.bytes_out += *r;
    return *r;
}

}  // namespace

http_client::http_client(std::filesystem::path socket, std::string api_version,
                         std::chrono::milliseconds connect_timeout, std::chrono::milliseconds stall_timeout,
                         std::size_t chunk_size)
    : socket_(std::move(socket)), api_version_(std::move(api_version)), connect_timeout_(connect_timeout),
      stall_timeout_(stall_timeout), chunk_size_(chunk_size) {
    global_init();
    curl_ = curl_easy_init();
}

http_client::~http_client() {
    if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string http_client::escape(std::string_view s, bool keep_slash_colon) {
    std::string out;
    for (unsigned char c : s) {
        bool plain = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
                     (keep_slash_colon && (c == '/' || c == ':' || c == '@'));
        if (plain) out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

result<http_response> http_client::send(const http_request& req) {
    auto* curl = static_cast<CURL*>(curl_);
    const std::string where = fmt::format("{} {} on {}", req.method, req.target, endpoint());
    if (!curl) return make_failure(error::internal, "curl_easy_init failed for " + where);
    // Reset clears options but keeps the connection cache: requests reuse the connection.
    curl_easy_reset(curl);

    transfer t{curl, &req, {}, {}, {}, false};
    std::string url = "http://docker/" + api_version_ + req.target;
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
    if (req.timeout.count() > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    // Streams: no total limit, but give up when nothing moved for the stall time.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<long>(1, stall_timeout_.count() / 1000)));
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, static_cast<long>(chunk_size_));
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(chunk_size_));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

    curl_slist* headers = nullptr;
    // No "Expect: 100-continue" round trip before bodies.
    headers = curl_slist_append(headers, "Expect:");
    std::string method = req.method;
    if (req.upload) {
        // Unknown length: chunked transfer encoding, read chunk by chunk from the source.
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        headers = curl_slist_append(headers, fmt::format("Content-Type: {}", req.content_type).c_str());
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &t);
        if (method != "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method);
    } else if (req.has_json) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.json_body.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.json_body.size()));
        if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method);
    } else if (method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);
    if (t.res.status == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.res.status);

    if (t.sink_failure) return *t.sink_failure;
    if (t.source_failure) return *t.source_failure;
    if (rc == CURLE_OK) return std::move(t.res);
    // The daemon may answer an error before it has read the whole upload (e.g. a tar it
    // rejects) and close; the answer is what matters, not the broken send.
    if (t.res.status >= 300 && !t.res.body.empty() && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
                                                       rc == CURLE_ABORTED_BY_CALLBACK))
        return std::move(t.res);
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST: {
            std::error_code ec;
            std::string why = std::filesystem::exists(socket_, ec) ? "connection refused (is dockerd running?)"
                                                                   : "the socket " + socket_.string() + " does not exist";
            return make_failure(error::daemon_unreachable,
                                fmt::format("cannot connect to {}: {} ({} {})", endpoint(), why, req.method, req.target));
        }
        case CURLE_OPERATION_TIMEDOUT:
            return make_failure(error::timeout, fmt::format("{}: {}", where, detail));
        case CURLE_WRITE_ERROR:
            if (t.overflow)
                return make_failure(error::protocol_error, fmt::format("{}: answer larger than {} bytes", where, collect_limit));
            break;
        default: break;
    }
    // The connection broke mid-request (daemon died or closed on us).
    return make_failure(error::daemon_unreachable, fmt::format("{}: transfer failed: {}", where, detail));
}

}  // namespace migrate::docker::detail
