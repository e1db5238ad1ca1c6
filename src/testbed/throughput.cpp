// Throughput of a testbed link, measured with a real TCP stream from the root namespace to a
// listener inside the host's namespace.
#include "system.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::testbed::sys {
namespace {

struct fd_guard {
    int fd = -1;
    explicit fd_guard(int f = -1) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { if (fd >= 0) ::close(fd); }
};

std::string errno_text() { return std::strerror(errno); }

// A listening TCP socket inside `netns`, on any free port.
result<int> listen_in(const std::string& netns) {
    auto s = tcp_socket_in(netns);
    if (!s) return s.error();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    if (::bind(*s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(*s, 1) != 0) {
        auto why = errno_text();
        ::close(*s);
        return make_failure(error::io_error, "cannot listen in " + netns + ": " + why);
    }
    return *s;
}

}  // namespace

result<int> tcp_socket_in(const std::string& netns) { return socket_in(netns, AF_INET, SOCK_STREAM, 0); }

result<int> socket_in(const std::string& netns, int domain, int type, int protocol) {
    std::promise<result<int>> done;
    std::thread([&] {
        if (!netns.empty()) {
            auto path = "/run/netns/" + netns;
            int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (nsfd < 0) {
                done.set_value(make_failure(error::not_found, "cannot open " + path + ": " + errno_text()));
                return;
            }
            if (::setns(nsfd, CLONE_NEWNET) != 0) {
                auto why = errno_text();
                ::close(nsfd);
                done.set_value(make_failure(error::permission_denied, "setns into " + path + ": " + why));
                return;
            }
            ::close(nsfd);
        }
        int s = ::socket(domain, type | SOCK_CLOEXEC, protocol);
        if (s < 0) done.set_value(make_failure(error::io_error, "socket in namespace '" + netns + "': " + errno_text()));
        else done.set_value(s);
    }).join();
    return done.get_future().get();
}

result<tcp_transfer> measure_tcp(const std::string& netns, const std::string& address, std::uint64_t bytes,
                                 std::chrono::milliseconds timeout) {
    auto l = listen_in(netns);
    if (!l) return l.error();
    fd_guard listener(*l);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&bound), &len);

    // Receiver: accept one connection, read to EOF, time first byte to EOF.
    auto received = std::async(std::launch::async, [&, fd = listener.fd]() -> result<tcp_transfer> {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
            return make_failure(error::timeout, "no connection to the listener in " + netns);
        fd_guard c(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (c.fd < 0) return make_failure(error::io_error, "accept in " + netns + ": " + errno_text());
        timeval tv{static_cast<time_t>(timeout.count() / 1000), 0};
        ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::vector<char> buf(256 * 1024);
        tcp_transfer t;
        std::chrono::steady_clock::time_point first{};
        for (;;) {
            auto n = ::recv(c.fd, buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return make_failure(error::io_error, "receiving in " + netns + ": " + errno_text());
            if (n == 0) break;
            if (t.bytes == 0) first = std::chrono::steady_clock::now();
            t.bytes += static_cast<std::uint64_t>(n);
        }
        if (t.bytes) t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
        return t;
    });

    // Sender, in the caller's (root) namespace.
    auto send_all = [&]() -> result<void> {
        fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (s.fd < 0) return make_failure(error::io_error, "socket: " + errno_text());
        timeval tv{static_cast<time_t>(timeout.count() / 1000), 0};
        ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = bound.sin_port;
        if (::inet_pton(AF_INET, address.c_str(), &to.sin_addr) != 1)
            return make_failure(error::invalid_argument, "bad host address '" + address + "'");
        if (::connect(s.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
            return make_failure(error::io_error, fmt::format("connect to {}:{} ({}): {}", address,
                                                             ntohs(bound.sin_port), netns, errno_text()));
        std::vector<char> buf(256 * 1024, 'x');
        std::uint64_t left = bytes;
        while (left > 0) {
            auto n = ::send(s.fd, buf.data(), std::min<std::uint64_t>(left, buf.size()), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return make_failure(error::io_error, fmt::format("sending to {}: {}", address, errno_text()));
            left -= static_cast<std::uint64_t>(n);
        }
        ::shutdown(s.fd, SHUT_WR);
        return ok();
    };
    auto sent = send_all();
    if (!sent) {
        // Unblock the receiver if it is still waiting for a connection.
        ::shutdown(listener.fd, SHUT_RDWR);
        (void)received.get();
        return sent.error();
    }
    auto r = received.get();
    if (!r) return r.error();
    if (r->bytes != bytes)
        return make_failure(error::io_error, fmt::format("{} received {} of {} bytes", netns, r->bytes, bytes));
    return *r;
}

}  // namespace migrate::testbed::sys
