// migrate/testbed/packet_socket.hpp — whole Ethernet frames in and out of an interface in a
// network namespace (AF_PACKET), for tests that must see exactly what a switch forwarded or
// inject a crafted frame without any tool. The socket is made by a short-lived thread that
// joined the namespace, so no thread of the caller changes namespace. Needs CAP_NET_RAW.
#pragma once

#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace migrate::testbed {

class packet_socket {
public:
    /// Bound to `interface` in `netns` (empty = ours), receiving every protocol.
    static result<packet_socket> open(const std::string& netns, const std::string& interface);

    packet_socket(packet_socket&& other) noexcept;
    packet_socket& operator=(packet_socket&& other) noexcept;
    packet_socket(const packet_socket&) = delete;
    packet_socket& operator=(const packet_socket&) = delete;
    ~packet_socket();

    /// Sends one frame as is (destination MAC first).
    result<void> send(std::span<const std::uint8_t> frame);
    /// The next frame received (not ones we sent), or nullopt when none came within `timeout`.
    result<std::optional<std::vector<std::uint8_t>>> receive(std::chrono::milliseconds timeout);
    /// Frames received until `accept` says yes or `timeout` passes; nullopt then.
    template <class Pred>
    result<std::optional<std::vector<std::uint8_t>>> receive_until(Pred accept, std::chrono::milliseconds timeout);

    const std::string& where() const noexcept { return where_; }

private:
    packet_socket(int fd, std::string where) : fd_(fd), where_(std::move(where)) {}
    int fd_ = -1;
    std::string where_;
};

template <class Pred>
result<std::optional<std::vector<std::uint8_t>>> packet_socket::receive_until(Pred accept,
                                                                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::optional<std::vector<std::uint8_t>>{};
        auto frame = receive(left);
        if (!frame || !*frame) return frame;
        if (accept(**frame)) return frame;
    }
}

}  // namespace migrate::testbed
