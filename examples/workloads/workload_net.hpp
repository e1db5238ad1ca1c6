// examples/workloads/workload_net.hpp — the few plain-socket pieces both workload programs
// (a1_poller, a2_counter) need. Header-only: the programs are linked statically without
// libmigrate, so the image is the program plus busybox.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

namespace workload_net {

using clock_type = std::chrono::steady_clock;

struct url {
    std::string host;   // numeric IPv4 (no resolver in a static binary)
    int port = 80;
    std::string path;
};

// "http://A.B.C.D[:PORT]/path"; nullopt with `why` otherwise.
inline std::optional<url> parse_url(const std::string& s, std::string& why) {
    const std::string scheme = "http://";
    if (s.rfind(scheme, 0) != 0) {
        why = "must start with http://";
        return std::nullopt;
    }
    auto rest = s.substr(scheme.size());
    auto slash = rest.find('/');
    auto hostport = rest.substr(0, slash);
    url u;
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    auto colon = hostport.find(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) {
        char* end = nullptr;
        long p = std::strtol(hostport.c_str() + colon + 1, &end, 10);
        if (*end != '\0' || p < 1 || p > 65535) {
            why = "port is not a number in 1..65535";
            return std::nullopt;
        }
        u.port = static_cast<int>(p);
    }
    in_addr a{};
    if (::inet_pton(AF_INET, u.host.c_str(), &a) != 1) {
        why = "host must be an IPv4 address";
        return std::nullopt;
    }
    return u;
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
inline bool wait_fd(int fd, short events, clock_type::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
        if (r == 0) return false;
    }
}

/// UTC now, ISO 8601 with milliseconds (log lines).
inline std::string utc_now() {
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

/// The environment variable `name`, or `fallback` when unset or empty.
inline const char* env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

}  // namespace workload_net
