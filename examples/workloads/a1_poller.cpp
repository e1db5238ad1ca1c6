// migrate-a1-poller — the thesis's workload A1: a stateless poller. Every 200 ms it asks an
// HTTP endpoint on the client side where the user is (`GET /location?seq=N`) and logs the
// answer to stdout. It keeps nothing worth migrating; what a migration costs it is seen
// from OUTSIDE: the location server records every poll with the poller's source address,
// and the gap between the last poll from the source host and the first from the target
// host is the downtime (migrate/workload/a1_poller.hpp computes it).
//
// Runs as PID 1 of a registry-less container (image::a1_poller_recipe); built static so the
// image is this file plus busybox. CRIU-friendly on purpose: each poll is one short-lived
// connection (no established TCP socket survives between polls, which `docker checkpoint`
// could not dump), stdout is the container's pipe, and SIGTERM ends it at once.
//
//   migrate-a1-poller --url http://10.82.56.1:8000/location [--interval-ms 200] [--timeout-ms 150]
//   (or A1_URL, A1_INTERVAL_MS, A1_TIMEOUT_MS in the environment)
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <thread>

#include "workload_net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
using workload_net::env_or;
using workload_net::parse_url;
using workload_net::url;
using workload_net::utc_now;
using workload_net::wait_fd;
std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

struct reply {
    int status = 0;
    std::string body;
    std::string error;   // transport failure; empty when a reply arrived
};

// One HTTP/1.0 GET on a fresh connection, closed before returning (CRIU: nothing open
// between polls).
reply http_get(const url& u, const std::string& path, std::chrono::milliseconds timeout) {
    reply out;
    auto deadline = clock_type::now() + timeout;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        out.error = std::string("socket: ") + std::strerror(errno);
        return out;
    }
    auto fail = [&](std::string why) {
        // Abortive close: no FIN_WAIT/TIME_WAIT socket lingers after a failed poll.
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
        out.error = std::move(why);
        return out;
    };
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(u.port));
    ::inet_pton(AF_INET, u.host.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
        return fail(std::string("connect: ") + std::strerror(errno));
    if (!wait_fd(fd, POLLOUT, deadline)) return fail("connect: timed out");
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) return fail(std::string("connect: ") + std::strerror(soerr));

    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + u.host + ":" + std::to_string(u.port) +
                      "\r\nUser-Agent: migrate-a1-poller\r\nConnection: close\r\n\r\n";
    std::size_t sent = 0;
    while (sent < req.size()) {
        ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("send: ") + std::strerror(errno));
        if (!wait_fd(fd, POLLOUT, deadline)) return fail("send: timed out");
    }
    std::string in;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            in.append(buf, static_cast<std::size_t>(n));
            if (in.size() > 65536) return fail("reply larger than 64 KiB");
            continue;
        }
        if (n == 0) break;
        if (errno != EAGAIN && errno != EINTR) return fail(std::string("recv: ") + std::strerror(errno));
        if (!wait_fd(fd, POLLIN, deadline)) return fail("recv: timed out");
    }
    ::close(fd);
    // "HTTP/1.x NNN ..."
    if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) {
        out.error = "not an HTTP reply";
        return out;
    }
    out.status = std::atoi(in.c_str() + 9);
    auto hdr_end = in.find("\r\n\r\n");
    out.body = hdr_end == std::string::npos ? std::string{} : in.substr(hdr_end + 4);
    while (!out.body.empty() && (out.body.back() == '\n' || out.body.back() == '\r')) out.body.pop_back();
    return out;
}

int usage(const char* why) {
    std::fprintf(stderr,
                 "migrate-a1-poller: %s\n"
                 "usage: migrate-a1-poller --url http://IPv4:PORT/PATH [--interval-ms 200] [--timeout-ms 150]\n"
                 "       (or A1_URL, A1_INTERVAL_MS, A1_TIMEOUT_MS)\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string url_text = env_or("A1_URL", "");
    long interval_ms = std::atol(env_or("A1_INTERVAL_MS", "200"));
    long timeout_ms = std::atol(env_or("A1_TIMEOUT_MS", "150"));
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (a == "--url" && (v = value())) url_text = v;
        else if (a == "--interval-ms" && (v = value())) interval_ms = std::atol(v);
        else if (a == "--timeout-ms" && (v = value())) timeout_ms = std::atol(v);
        else if (a == "--help" || a == "-h") {
            usage("help");
            return 0;
        } else
            return usage(("unknown or incomplete argument '" + a + "'").c_str());
    }
    if (url_text.empty()) return usage("--url (or A1_URL) is required");
    std::string why;
    auto u = parse_url(url_text, why);
    if (!u) return usage(("--url '" + url_text + "': " + why).c_str());
    if (interval_ms < 10 || interval_ms > 3600000) return usage("--interval-ms must be in 10..3600000");
    if (timeout_ms < 1 || timeout_ms > 60000) return usage("--timeout-ms must be in 1..60000");

    // PID 1 in a container ignores signals it does not handle: handle them, so `docker stop`
    // ends the poller at once instead of after the 10 s grace.
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    std::printf("%s a1-poller start url=%s interval_ms=%ld\n", utc_now().c_str(), url_text.c_str(), interval_ms);
    const auto interval = std::chrono::milliseconds(interval_ms);
    const std::string sep = u->path.find('?') == std::string::npos ? "?" : "&";
    auto next = clock_type::now();
    // The sequence number lives only in memory: after a CRIU move it continues, after a
    // cold restart it begins at 1 again, so the location server's log tells them apart.
    for (unsigned long long seq = 1; !stop_requested; ++seq) {
        auto r = http_get(*u, u->path + sep + "seq=" + std::to_string(seq), std::chrono::milliseconds(timeout_ms));
        if (r.error.empty())
            std::printf("%s seq=%llu status=%d location=%s\n", utc_now().c_str(), seq, r.status, r.body.c_str());
        else
            std::printf("%s seq=%llu error=%s\n", utc_now().c_str(), seq, r.error.c_str());
        next += interval;
        auto now = clock_type::now();
        if (next < now) next = now;
        while (!stop_requested && clock_type::now() < next)
            std::this_thread::sleep_for(std::min<clock_type::duration>(next - clock_type::now(), std::chrono::milliseconds(50)));
    }
    std::printf("%s a1-poller stop\n", utc_now().c_str());
    return 0;
}
