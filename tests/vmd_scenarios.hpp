// tests/vmd_scenarios.hpp — the vehicular example's twin and device (examples/vmd) in-process
// on loopback, for the unit tests (memory store) and the integration tests (a real redis):
// real libcoap on real UDP sockets. Two twins sharing one store behind a UDP relay that plays
// the route switch: the device sends to the relay's address only, and the relay forwards to
// twin A or twin B (rewriting addresses both ways, as the OpenFlow switch of the real set-up
// does), drops answers on request (acks lost in the switch, so the device retransmits to the
// new twin), or alternates twins per datagram (both twins writing the same device at once).
#pragma once

#include "require_ok.hpp"

#include "md_sim.hpp"
#include "twin.hpp"

#include <migrate/state_store.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace migrate::test::vmd_scene {

using namespace migrate::vmd;
using namespace std::chrono_literals;

inline std::shared_ptr<state_store> open_store(const std::string& uri) {
    auto s = open_state_store(uri);
    INFO(uri);
    REQUIRE_OK(s);
    return std::shared_ptr<state_store>(std::move(*s));
}

inline std::unique_ptr<twin> start_twin(std::shared_ptr<state_store> store, const std::string& name) {
    auto t = twin::start({.address = "127.0.0.1", .port = 0, .name = name}, std::move(store));
    REQUIRE_OK(t);
    return std::move(*t);
}

inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

inline int udp_socket(std::uint16_t port = 0) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto a = loopback(port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error(std::string("relay socket: ") + std::strerror(errno));
    return fd;
}

inline std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

// The route switch between one device and two twins (see the top of the file).
class switch_relay {
public:
    explicit switch_relay(std::vector<std::uint16_t> twins) : twins_(std::move(twins)) {
        front_ = udp_socket();
        for (std::size_t i = 0; i < twins_.size(); ++i) back_.push_back(udp_socket());
        thread_ = std::thread([this] { run(); });
    }
    ~switch_relay() {
        stop_ = true;
        thread_.join();
        ::close(front_);
        for (int fd : back_) ::close(fd);
    }
    std::uint16_t port() const { return port_of(front_); }
    void route_to(std::size_t twin) { route_ = twin; }
    void alternate(bool on) { alternate_ = on; }
    /// Drop the next `n` answers coming back from the twins.
    void drop_answers(int n) { drop_ = n; }
    int answers_left_to_drop() const { return drop_; }
    std::size_t forwarded(std::size_t twin) const { return forwarded_[twin]; }

private:
    void run() {
        std::vector<pollfd> fds{{front_, POLLIN, 0}};
        for (int fd : back_) fds.push_back({fd, POLLIN, 0});
        char buf[2048];
        while (!stop_) {
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents & POLLIN) {
                socklen_t len = sizeof device_;
                auto n = ::recvfrom(front_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&device_), &len);
                std::size_t to = alternate_ ? (next_++ % twins_.size()) : route_.load();
                auto dst = loopback(twins_[to]);
                if (n > 0) {
                    ::sendto(back_[to], buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
                    ++forwarded_[to];
                }
            }
            for (std::size_t i = 0; i < back_.size(); ++i) {
                if (!(fds[i + 1].revents & POLLIN)) continue;
                auto n = ::recv(back_[i], buf, sizeof buf, 0);
                if (n <= 0) continue;
                if (drop_ > 0) {
                    --drop_;
                    continue;
                }
                // From the relay's own address: the device takes answers only from where it sent.
                ::sendto(front_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&device_), sizeof device_);
            }
        }
    }

    std::vector<std::uint16_t> twins_;
    int front_ = -1;
    std::vector<int> back_;
    sockaddr_in device_{};
    std::atomic<std::size_t> route_{0};
    std::atomic<bool> alternate_{false};
    std::atomic<int> drop_{0};
    std::size_t next_ = 0;
    std::atomic<std::size_t> forwarded_[2] = {0, 0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

inline md_sim_options device_to(std::uint16_t port, std::string device = "car-1") {
    md_sim_options o;
    o.address = "127.0.0.1";
    o.port = port;
    o.device = std::move(device);
    o.ack_timeout = 200ms;   // quick retransmissions: the test waits less for the ones it provokes
    return o;
}

inline void require_verified(const md_sim_options& o, const md_sim_summary& s) {
    auto v = verify_with_twin(o, s);
    REQUIRE_OK(v);
    INFO(v->detail);
    CHECK(v->ok);
}

/// Mid-stream, twin A's next acks are lost in the switch and then the switch sends everything
/// to B: nothing is lost, the retransmissions B gets are acked as duplicates and not counted.
inline void route_switch_scenario(std::shared_ptr<state_store> store) {
    auto a = start_twin(store, "twin-a");
    auto b = start_twin(store, "twin-b");
    switch_relay relay({a->port(), b->port()});
    auto o = device_to(relay.port());
    o.rate_hz = 100;
    o.count = 300;
    constexpr int lost_acks = 5;
    std::atomic<int> answered{0};
    // The device on a thread of its own (Catch2 assertions stay on this one).
    auto device = std::async(std::launch::async, [&] {
        return run_md_sim(o, {}, [&](std::uint64_t, std::string_view) { ++answered; });
    });
    // Mid-stream: A's next acks are lost, then the switch sends everything to B.
    while (answered < 120) std::this_thread::sleep_for(5ms);
    relay.drop_answers(lost_acks);
    while (relay.answers_left_to_drop() > 0) std::this_thread::sleep_for(1ms);
    relay.route_to(1);
    auto s = device.get();
    REQUIRE_OK(s);
    INFO(to_text(*s));
    CHECK(s->sent == 300);
    CHECK(s->acked == 300);
    CHECK(s->lost == 0);
    // The records whose acks twin A sent into the switch came back through B as duplicates.
    CHECK(s->duplicates == lost_acks);
    CHECK(s->retransmitted >= lost_acks);
    CHECK(s->counted + s->late == 300 - lost_acks);
    require_verified(o, *s);

    CHECK(relay.forwarded(0) >= 120);
    CHECK(relay.forwarded(1) >= 300 - relay.forwarded(0));
    auto la = a->ledger().stats(), lb = b->ledger().stats();
    CHECK(la.counted + la.late + lb.counted + lb.late == 300);
    CHECK(lb.duplicates == lost_acks);
    // B's first write found the device written by A: it loaded A's state, not a fresh one.
    auto st = b->ledger().load("car-1");
    REQUIRE_OK(st);
    REQUIRE(*st);
    CHECK((*st)->state.count == 300);
    CHECK(b->health()["devices"] == json::array({"car-1"}));
}

/// Both twins write the same device at once (alternate datagrams): every compare-and-set
/// conflict is resolved, no update is lost.
inline void twins_at_once_scenario(std::shared_ptr<state_store> store, const std::string& device) {
    auto a = start_twin(store, "twin-a");
    auto b = start_twin(store, "twin-b");
    switch_relay relay({a->port(), b->port()});
    relay.alternate(true);
    auto o = device_to(relay.port(), device);
    o.rate_hz = 200;
    o.count = 400;
    auto s = run_md_sim(o);
    REQUIRE_OK(s);
    INFO(to_text(*s));
    CHECK(s->acked == 400);
    CHECK(s->lost == 0);
    CHECK(s->duplicates == 0);
    require_verified(o, *s);
    auto la = a->ledger().stats(), lb = b->ledger().stats();
    CHECK(la.counted + la.late + lb.counted + lb.late == 400);
    CHECK(la.counted + la.late >= 190);   // each twin took every other datagram
    CHECK(lb.counted + lb.late >= 190);
    // Every write after the other twin's was a conflict, reloaded and retried.
    CHECK(la.conflicts + lb.conflicts >= 300);
    CHECK(la.store_errors + lb.store_errors == 0);
}

}  // namespace migrate::test::vmd_scene
