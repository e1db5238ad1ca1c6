// tests/unit/workload_test_util.hpp — small helpers of the workload unit tests: a raw HTTP
// GET (so the zone server is checked by a client that is not ours), a free port, and
// running the workload programs (examples/workloads) as real processes on loopback.
#pragma once

#include "../require_ok.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/result.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::test {

struct raw_reply {
    int status = 0;
    std::string body;
};

/// One HTTP/1.0 request over a plain socket; status 0 when nothing came back.
inline raw_reply raw_http(const std::string& ip, std::uint16_t port, const std::string& request_line) {
    raw_reply out;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return out;
    }
    std::string req = request_line + " HTTP/1.0\r\nHost: x\r\n\r\n";
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string in;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    if (in.size() > 12 && in.rfind("HTTP/", 0) == 0) out.status = std::atoi(in.c_str() + 9);
    if (auto e = in.find("\r\n\r\n"); e != std::string::npos) out.body = in.substr(e + 4);
    return out;
}

/// A TCP+UDP port that was free a moment ago on 127.0.0.1.
inline std::uint16_t free_port() {
    for (int attempt = 0; attempt < 20; ++attempt) {
        int t = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        ::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::getsockname(t, reinterpret_cast<sockaddr*>(&sa), &len);
        int u = ::socket(AF_INET, SOCK_DGRAM, 0);
        bool udp_free = ::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::close(u);
        ::close(t);
        if (udp_free) return ntohs(sa.sin_port);
    }
    return 0;
}

/// Polls `pred` every 20 ms until true or `timeout`; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

/// A workload program running detached, stdout+stderr in `log`; killed (SIGTERM first) at
/// scope exit.
struct program {
    int pid = 0;
    std::filesystem::path log;
    program(const std::vector<std::string>& argv, std::filesystem::path log_file) : log(std::move(log_file)) {
        auto p = detail::spawn_daemon(argv, log);
        REQUIRE_OK(p);
        pid = *p;
    }
    program(const program&) = delete;
    program& operator=(const program&) = delete;
    /// SIGTERM, wait up to `grace`; true when it ended in time.
    bool stop(std::chrono::milliseconds grace = std::chrono::milliseconds{3000}) {
        if (pid == 0) return true;
        auto start = std::chrono::steady_clock::now();
        bool gone = detail::kill_and_wait(pid, grace);
        pid = 0;
        return gone && std::chrono::steady_clock::now() - start < grace;
    }
    ~program() { stop(std::chrono::milliseconds{500}); }
};

/// A scratch directory removed at scope exit.
struct scratch_dir {
    std::filesystem::path path;
    explicit scratch_dir(const std::string& tag) {
        path = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        std::filesystem::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

inline std::string read_text(const std::filesystem::path& p) {
    std::string s;
    if (FILE* f = std::fopen(p.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
        std::fclose(f);
    }
    return s;
}

}  // namespace migrate::test
