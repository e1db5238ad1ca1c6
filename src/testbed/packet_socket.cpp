// src/testbed/packet_socket.cpp — AF_PACKET frames in a namespace.
#include <migrate/testbed/packet_socket.hpp>

#include "system.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::testbed {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

result<packet_socket> packet_socket::open(const std::string& netns, const std::string& interface) {
    const auto where = fmt::format("{} in namespace '{}'", interface, netns.empty() ? "(ours)" : netns);
    if (interface.empty() || interface.size() >= IFNAMSIZ)
        return make_failure(error::invalid_argument, "packet_socket: bad interface name '" + interface + "'");
    // Protocol 0: nothing is queued until bind() names the interface and ETH_P_ALL, so no
    // frame of another interface slips in between.
    auto fd = sys::socket_in(netns, AF_PACKET, SOCK_RAW, 0);
    if (!fd) return fd.error();
    packet_socket s(*fd, where);
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, interface.c_str(), interface.size());
    // SIOCGIFINDEX answers for the socket's namespace, not the calling thread's.
    if (::ioctl(s.fd_, SIOCGIFINDEX, &ifr) != 0)
        return make_failure(error::not_found, fmt::format("no interface {}: {}", where, errno_text()));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = ifr.ifr_ifindex;
    if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0)
        return make_failure(error::io_error, fmt::format("cannot bind a packet socket to {}: {}", where, errno_text()));
    return s;
}

packet_socket::packet_socket(packet_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), where_(std::move(o.where_)) {}

packet_socket& packet_socket::operator=(packet_socket&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        where_ = std::move(o.where_);
    }
    return *this;
}

packet_socket::~packet_socket() {
    if (fd_ >= 0) ::close(fd_);
}

result<void> packet_socket::send(std::span<const std::uint8_t> frame) {
    auto n = ::send(fd_, frame.data(), frame.size(), 0);
    if (n != static_cast<ssize_t>(frame.size()))
        return make_failure(error::io_error, fmt::format("sending a {}-byte frame on {}: {}", frame.size(), where_,
                                                         n < 0 ? errno_text() : "short write"));
    return ok();
}

result<std::optional<std::vector<std::uint8_t>>> packet_socket::receive(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::uint8_t> buf(65536);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd_, POLLIN, 0};
        int ready = ::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count())));
        if (ready < 0 && errno != EINTR)
            return make_failure(error::io_error, fmt::format("poll on {}: {}", where_, errno_text()));
        if (ready <= 0) {
            if (std::chrono::steady_clock::now() >= deadline) return std::optional<std::vector<std::uint8_t>>{};
            continue;
        }
        sockaddr_ll from{};
        socklen_t len = sizeof from;
        auto n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) return make_failure(error::io_error, fmt::format("receiving on {}: {}", where_, errno_text()));
        if (from.sll_pkttype == PACKET_OUTGOING) continue;  // our own sends
        buf.resize(static_cast<std::size_t>(n));
        return std::optional<std::vector<std::uint8_t>>(std::move(buf));
    }
}

}  // namespace migrate::testbed
