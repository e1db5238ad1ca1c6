// A plain TCP copy between two testbed hosts' network namespaces (host_copy.hpp).
#include <migrate/testbed/host_copy.hpp>

#include "system.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <future>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::testbed {
namespace {

std::string errno_text() { return std::strerror(errno); }

struct fd_guard {
    int fd = -1;
    explicit fd_guard(int f = -1) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { if (fd >= 0) ::close(fd); }
};

std::string where(const host& h) {
    return h.netns.empty() ? fmt::format("{} ({})", h.name, h.address)
                           : fmt::format("{} ({}, namespace {})", h.name, h.address, h.netns);
}

result<sockaddr_in> ipv4(const std::string& address, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
        return make_failure(error::invalid_argument, "host address '" + address + "' is not an IPv4 address");
    return a;
}

// Reads the accepted connection; a reset (the producer failed) is an error, not an end.
class socket_source final : public byte_source {
public:
    socket_source(int fd, std::chrono::milliseconds stall, std::string what)
        : fd_(fd), stall_(stall), what_(std::move(what)) {}
    result<std::size_t> read(std::span<std::byte> b) override {
        for (;;) {
            pollfd p{fd_, POLLIN, 0};
            int r = ::poll(&p, 1, static_cast<int>(stall_.count()));
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return make_failure(error::timeout, fmt::format("{}: no byte for {} ms", what_, stall_.count()));
            auto n = ::recv(fd_, b.data(), b.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return make_failure(error::io_error, fmt::format("{}: receiving: {}", what_, errno_text()));
            bytes += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
    }
    std::uint64_t bytes = 0;

private:
    int fd_;
    std::chrono::milliseconds stall_;
    std::string what_;
};

class socket_sink final : public byte_sink {
public:
    socket_sink(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
    result<void> write(std::span<const std::byte> c) override {
        while (!c.empty()) {
            auto n = ::send(fd_, c.data(), c.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0)
                return make_failure(errno == EAGAIN || errno == EWOULDBLOCK ? error::timeout : error::io_error,
                                    fmt::format("{}: sending: {}", what_, errno_text()));
            c = c.subspan(static_cast<std::size_t>(n));
        }
        return ok();
    }

private:
    int fd_;
    std::string what_;
};

}  // namespace

result<host_copy_stats> copy_between_hosts(const host& from, const host& to,
                                           const std::function<result<void>(byte_sink&)>& produce,
                                           const std::function<result<void>(byte_source&)>& consume,
                                           const host_copy_options& opts) {
    const auto what = fmt::format("copy from {} to {}", where(from), where(to));
    if (opts.stall_timeout.count() <= 0)
        return make_failure(error::invalid_argument, "host_copy_options.stall_timeout: must be positive");
    auto bind_to = ipv4(to.address, 0);
    if (!bind_to) return bind_to.error();
    auto l = sys::tcp_socket_in(to.netns);
    if (!l) return l.error();
    fd_guard listener(*l);
    if (::bind(listener.fd, reinterpret_cast<const sockaddr*>(&*bind_to), sizeof *bind_to) != 0 ||
        ::listen(listener.fd, 1) != 0)
        return make_failure(error::io_error, fmt::format("{}: cannot listen on {}: {}", what, to.address, errno_text()));
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&bound), &len);
    auto s = sys::tcp_socket_in(from.netns);
    if (!s) return s.error();
    fd_guard sender(*s);
    const auto start = std::chrono::steady_clock::now();

    auto sent = std::async(std::launch::async, [&]() -> result<void> {
        timeval tv{static_cast<time_t>(opts.stall_timeout.count() / 1000),
                   static_cast<suseconds_t>(opts.stall_timeout.count() % 1000 * 1000)};
        ::setsockopt(sender.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(sender.fd, reinterpret_cast<const sockaddr*>(&bound), sizeof bound) != 0) {
            auto why = errno_text();
            ::shutdown(listener.fd, SHUT_RDWR);   // unblock the accept
            return make_failure(error::io_error,
                                fmt::format("{}: connect to {}:{}: {}", what, to.address, ntohs(bound.sin_port), why));
        }
        socket_sink out(sender.fd, what);
        auto r = produce(out);
        if (r) r = out.close();
        if (!r) {
            // A reset, so the consumer reads an error and never mistakes the cut for the end.
            linger lg{1, 0};
            ::setsockopt(sender.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            ::close(sender.fd);
            sender.fd = -1;
            return r;
        }
        ::shutdown(sender.fd, SHUT_WR);
        return ok();
    });

    auto received = [&]() -> result<std::uint64_t> {
        for (;;) {
            pollfd p{listener.fd, POLLIN, 0};
            int r = ::poll(&p, 1, static_cast<int>(opts.stall_timeout.count()));
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return make_failure(error::timeout, what + ": no connection came");
            break;
        }
        fd_guard c(::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (c.fd < 0) return make_failure(error::io_error, what + ": accept: " + errno_text());
        socket_source in(c.fd, opts.stall_timeout, what);
        auto r = consume(in);
        if (!r) {
            ::shutdown(c.fd, SHUT_RDWR);   // the producer's writes fail from here on
            return r.error();
        }
        return in.bytes;
    }();
    auto produced = sent.get();
    if (!produced) return produced.error();
    if (!received) return received.error();
    return host_copy_stats{*received, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace migrate::testbed
