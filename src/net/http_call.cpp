#include "http_call.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <memory>

namespace migrate::net {

namespace {
size_t collect(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}
}  // namespace

http_connection::http_connection() : curl_(curl_easy_init()) {}

http_connection::~http_connection() {
    if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

result<http_reply> http_call(const std::string& method, const std::string& url, const std::string& body,
                             std::chrono::milliseconds timeout,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    return http_connection{}.request(method, url, body, timeout, headers);
}

result<http_reply> http_connection::request(const std::string& method, const std::string& url, const std::string& body,
                                            std::chrono::milliseconds timeout,
                                            const std::vector<std::pair<std::string, std::string>>& headers) {
    if (!curl_) return make_failure(error::internal, "curl_easy_init failed");
    CURL* c = static_cast<CURL*>(curl_);
    curl_easy_reset(c);   // options of the previous request go; its open connection stays
    curl_slist* hs = nullptr;
    if (!body.empty()) hs = curl_slist_append(hs, "Content-Type: application/json");
    for (auto& [k, v] : headers) hs = curl_slist_append(hs, (k + ": " + v).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(hs, &curl_slist_free_all);

    http_reply reply;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
    if (!body.empty()) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    if (hs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return make_failure(error::timeout, fmt::format("{} {}: no answer within {} ms", method, url, timeout.count()));
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        return make_failure(error::daemon_unreachable, fmt::format("{} {}: {}", method, url, curl_easy_strerror(rc)));
    if (rc != CURLE_OK)
        return make_failure(error::io_error, fmt::format("{} {}: {}", method, url, curl_easy_strerror(rc)));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
}

}  // namespace migrate::net
