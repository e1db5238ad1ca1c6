// The vehicular example's twin and device (examples/vmd) in-process on loopback: real
// libcoap on real UDP sockets, the memory state store. Two twins sharing one store behind a
// UDP relay that plays the route switch: the device sends to the relay's address only, and
// the relay forwards to twin A or twin B (rewriting addresses both ways, as the OpenFlow
// switch of the real set-up does), drops answers on request (acks lost in the switch, so
// the device retransmits to the new twin), or alternates twins per datagram (both twins
// writing the same device at once).
#include "../require_ok.hpp"

#include "coap_call.hpp"
#include "md_sim.hpp"
#include "twin.hpp"
#include "twin_ledger.hpp"

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
#include <mutex>
#include <thread>

using namespace migrate;
using namespace migrate::vmd;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<state_store> memory_store() {
    auto s = open_state_store("memory:");
    REQUIRE_OK(s);
    return std::shared_ptr<state_store>(std::move(*s));
}

std::unique_ptr<twin> start_twin(std::shared_ptr<state_store> store, const std::string& name) {
    auto t = twin::start({.address = "127.0.0.1", .port = 0, .name = name}, std::move(store));
    REQUIRE_OK(t);
    return std::move(*t);
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int udp_socket(std::uint16_t port = 0) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto a = loopback(port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error(std::string("relay socket: ") + std::strerror(errno));
    return fd;
}

std::uint16_t port_of(int fd) {
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

md_sim_options device_to(std::uint16_t port, std::string device = "car-1") {
    md_sim_options o;
    o.address = "127.0.0.1";
    o.port = port;
    o.device = std::move(device);
    o.ack_timeout = 200ms;   // quick retransmissions: the test waits less for the ones it provokes
    return o;
}

void require_verified(const md_sim_options& o, const md_sim_summary& s) {
    auto v = verify_with_twin(o, s);
    REQUIRE_OK(v);
    INFO(v->detail);
    CHECK(v->ok);
}

}  // namespace

TEST_CASE("vmd twin: 100 Hz for 2 s on loopback, 0 lost, the store counts 200", "[vmd][twin]") {
    auto store = memory_store();
    auto t = start_twin(store, "twin-a");
    auto o = device_to(t->port());
    o.rate_hz = 100;
    o.duration = 2s;
    auto s = run_md_sim(o);
    REQUIRE_OK(s);
    INFO(to_text(*s));
    CHECK(s->sent == 200);
    CHECK(s->acked == 200);
    CHECK(s->counted == 200);
    CHECK(s->lost == 0);
    CHECK(s->rejected == 0);
    CHECK(s->send_rate_hz == Approx(100).epsilon(0.05));
    CHECK(s->rtt.samples == 200);
    CHECK(s->rtt.max < 200);   // nothing needed a retransmission
    require_verified(o, *s);

    // What the store holds, read past the twin.
    auto e = store->get("vmd/car-1");
    REQUIRE_OK(e);
    REQUIRE(*e);
    auto st = parse_device_state((*e)->value);
    REQUIRE_OK(st);
    CHECK(st->count == 200);
    CHECK(st->last_seq == 200);
    CHECK(st->latest == s->last_acked);

    // A second run continues the sequence (the device resumes) and the count goes on.
    o.count = 50;
    auto again = run_md_sim(o);
    REQUIRE_OK(again);
    CHECK(again->first_seq == 201);
    CHECK(again->twin_count_before == 200);
    CHECK(again->acked == 50);
    require_verified(o, *again);
}

TEST_CASE("vmd twin: a route switch between two twins on one store mid-stream loses nothing; retransmissions "
          "reaching the new twin are acked as duplicates and not counted twice", "[vmd][twin]") {
    auto store = memory_store();
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

TEST_CASE("vmd twin: two twins writing the same device at once (alternate datagrams) resolve every "
          "compare-and-set conflict; no update is lost", "[vmd][twin]") {
    auto store = memory_store();
    auto a = start_twin(store, "twin-a");
    auto b = start_twin(store, "twin-b");
    switch_relay relay({a->port(), b->port()});
    relay.alternate(true);
    auto o = device_to(relay.port(), "car-2");
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

TEST_CASE("vmd twin ledger: two ledgers on one store interleaving writes of one device; neither overwrites "
          "the other", "[vmd][twin]") {
    auto store = memory_store();
    twin_ledger x(store), y(store);
    auto g = telemetry_generator::make({.device = "car-3"});
    REQUIRE_OK(g);
    for (int i = 0; i < 50; ++i) {
        auto rx = x.record(g->next());
        REQUIRE_OK(rx);
        auto ry = y.record(g->next());
        REQUIRE_OK(ry);
        CHECK(ry->now.state.count == static_cast<std::uint64_t>(2 * i + 2));
        // Each wrote since the other last read (y's first read was after x's first write).
        if (i > 0) CHECK(rx->conflicts == 1);
        if (i > 0) CHECK(ry->conflicts == 1);
    }
    auto st = x.load("car-3");
    REQUIRE_OK(st);
    CHECK((*st)->state.count == 100);
    CHECK((*st)->state.last_seq == 100);
    CHECK((*st)->state.gaps.empty());
    CHECK(x.stats().counted + y.stats().counted == 100);

    // A stored document that is not a device state is refused naming the key, not overwritten.
    REQUIRE_OK(store->put("vmd/car-4", "not json"));
    auto g4 = telemetry_generator::make({.device = "car-4"});
    REQUIRE_OK(g4);
    auto bad = x.record(g4->next());
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == error::invalid_argument);
    CHECK_THAT(bad.error().message, Catch::Contains("vmd/car-4"));
    auto kept = store->get("vmd/car-4");
    REQUIRE_OK(kept);
    CHECK((*kept)->value == "not json");
}

TEST_CASE("vmd twin: admin over CoAP (health, assign, release, state) and bad requests answered with 4.xx "
          "naming the fault while it keeps serving", "[vmd][twin]") {
    auto store = memory_store();
    auto t = start_twin(store, "twin-admin");
    auto call = [&](std::string method, std::string path, std::string query = {}, std::string payload = {}) {
        auto r = coap_call({.address = "127.0.0.1", .port = t->port(), .method = std::move(method), .path = std::move(path),
                            .query = std::move(query), .payload = std::move(payload)});
        REQUIRE_OK(r);
        return *r;
    };
    auto health = call("GET", "health");
    REQUIRE(health.code == 205);
    auto h = json::parse(health.payload);
    CHECK(h["status"] == "ok");
    CHECK(h["twin"] == "twin-admin");
    CHECK(h["store"] == "memory:");
    CHECK(h["devices"].empty());

    CHECK(call("GET", "state", "device=car-5").code == 404);
    CHECK(call("GET", "state").code == 400);
    auto assigned = call("POST", "assign", {}, R"({"device": "car-5"})");
    CHECK(assigned.code == 204);
    CHECK(json::parse(assigned.payload)["count"] == 0);
    CHECK(t->health()["devices"] == json::array({"car-5"}));

    auto g = telemetry_generator::make({.device = "car-5"});
    REQUIRE_OK(g);
    auto rec = g->next();
    auto posted = call("POST", "telemetry", {}, to_json_text(rec));
    CHECK(posted.code == 204);
    CHECK(json::parse(posted.payload)["outcome"] == "counted");
    CHECK(call("POST", "telemetry", {}, to_json_text(rec)).code == 204);   // a retransmission
    auto state = call("GET", "state", "device=car-5");
    REQUIRE(state.code == 205);
    auto sj = json::parse(state.payload);
    CHECK(sj["count"] == 1);
    CHECK(sj["twin"] == "twin-admin");
    CHECK(sj["version"].get<std::int64_t>() > 0);
    CHECK(sj["latest"] == json(rec));

    json bad = rec;
    bad["rpm"] = 20000;
    auto refused = call("POST", "telemetry", {}, bad.dump());
    CHECK(refused.code == 400);
    CHECK_THAT(refused.payload, Catch::Contains("telemetry.rpm"));
    CHECK(call("POST", "telemetry", {}, "{not json").code == 400);
    CHECK(call("POST", "assign", {}, R"({"device": "no spaces"})").code == 400);
    CHECK(call("GET", "nowhere").code == 404);

    auto released = call("POST", "release", {}, R"({"device": "car-5"})");
    CHECK(released.code == 202);
    CHECK(json::parse(released.payload)["released"] == true);
    h = json::parse(call("GET", "health").payload);
    CHECK(h["devices"].empty());
    CHECK(h["bad_requests"] == 4);
    CHECK(h["duplicates"] == 1);
    // Released, the state stays in the store and is still answered; asking does not assign.
    CHECK(call("GET", "state", "device=car-5").code == 205);
    CHECK(t->health()["devices"].empty());
}

TEST_CASE("vmd simulator: bad options name the field; an unreachable twin is an error, not a hang",
          "[vmd][twin]") {
    md_sim_options o;
    o.address = "127.0.0.1";
    o.rate_hz = 0;
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.rate_hz"));
    o.rate_hz = 100;
    o.address = "twin.local";
    CHECK_THAT(o.validate().error().message, Catch::Contains("md_sim_options.address"));
    o.address = "127.0.0.1";
    o.bind = "no-such-interface0";
    auto s = run_md_sim(o);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message, Catch::Contains("no-such-interface0"));
    o.bind = "lo";   // an interface name: its address
    // Nothing listens on this port: ICMP says so at once.
    int fd = udp_socket();
    o.port = port_of(fd);
    ::close(fd);
    auto started = std::chrono::steady_clock::now();
    s = run_md_sim(o);
    REQUIRE_FALSE(s);
    CHECK(s.error_code() == error::daemon_unreachable);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
}
