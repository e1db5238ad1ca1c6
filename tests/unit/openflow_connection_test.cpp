// OpenFlow sessions over loopback against a scripted switch: handshake both ways, version
// refusal, apply with the switch's ERROR, barrier timeout, echo both ways, silence, a
// malformed message, disconnects, lent io_context. (tests/integration/openflow_ovs_test.cpp
// does the same against Open vSwitch.)
#include <migrate/openflow/connection.hpp>

#include "../require_ok.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace migrate;
using namespace migrate::openflow;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct received {
    std::uint32_t xid = 0;
    message body;
};

/// The switch's side, scripted: blocking socket calls with a poll timeout.
class fake_switch {
public:
    /// Dials a listener.
    explicit fake_switch(std::uint16_t port) : socket_(io_) {
        socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    }
    /// Listens; `accept()` takes the controller's connection.
    fake_switch() : socket_(io_), acceptor_(std::in_place, io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    std::uint16_t port() const { return acceptor_->local_endpoint().port(); }
    void accept() { acceptor_->accept(socket_); }

    void send(const message& m, std::uint32_t xid) { send_raw(encode(m, xid)); }
    void send_raw(const std::vector<std::uint8_t>& bytes) { asio::write(socket_, asio::buffer(bytes)); }

    /// The next message, or nullopt when nothing came within `timeout` / the peer closed.
    std::optional<received> read(std::chrono::milliseconds timeout = 2000ms) {
        if (!wait_readable(timeout)) return std::nullopt;
        std::vector<std::uint8_t> b(header_size);
        boost::system::error_code ec;
        asio::read(socket_, asio::buffer(b), ec);
        if (ec) return std::nullopt;
        auto h = peek_header(b);
        REQUIRE_OK(h);
        b.resize(h->length);
        asio::read(socket_, asio::buffer(b.data() + header_size, b.size() - header_size), ec);
        if (ec) return std::nullopt;
        auto m = decode(b);
        REQUIRE_OK(m);
        return received{h->xid, std::move(*m)};
    }
    template <class T>
    std::pair<std::uint32_t, T> expect(std::chrono::milliseconds timeout = 2000ms) {
        auto r = read(timeout);
        REQUIRE(r);
        INFO("got " << type_name(type_of(r->body)));
        REQUIRE(std::holds_alternative<T>(r->body));
        return {r->xid, std::get<T>(r->body)};
    }
    /// True when the controller closed the connection within `timeout`.
    bool closed_by_peer(std::chrono::milliseconds timeout = 2000ms) {
        if (!wait_readable(timeout)) return false;
        std::uint8_t byte;
        boost::system::error_code ec;
        socket_.read_some(asio::buffer(&byte, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

    /// HELLO both ways, FEATURES_REQUEST answered with `dpid`.
    void handshake(std::uint64_t dpid, hello ours = {}) {
        send(ours, 1);
        auto [hx, their_hello] = expect<hello>();
        CHECK(their_hello.version == 0x04);
        CHECK(their_hello.version_bitmap == 0x10);
        auto [fx, req] = expect<features_request>();
        (void)req;
        send(switch_features{dpid, 256, 254, 0, 0x4f}, fx);
    }
    void close() { socket_.close(); }

private:
    bool wait_readable(std::chrono::milliseconds timeout) {
        pollfd p{socket_.native_handle(), POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
    }
    asio::io_context io_;
    tcp::socket socket_;
    std::optional<tcp::acceptor> acceptor_;
};

listener_options loopback(connection_options c = {}) {
    return {.address = "127.0.0.1", .port = 0, .connection = c};
}

flow_mod rule(std::uint32_t in_port, std::uint32_t out) {
    flow_mod m;
    m.priority = 100;
    m.match.in_port = in_port;
    m.actions = {output{out}};
    return m;
}

template <class F>
bool eventually(F&& f, std::chrono::milliseconds patience = 3000ms) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < until) {
        if (f()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return f();
}

}  // namespace

TEST_CASE("a switch dialing the listener completes HELLO and FEATURES", "[openflow][connection]") {
    auto listener = controller_listener::listen(loopback());
    REQUIRE_OK(listener);
    auto& l = **listener;
    CHECK(l.port() != 0);
    CHECK(l.target() == "tcp:127.0.0.1:" + std::to_string(l.port()));
    std::promise<std::uint64_t> seen;
    l.on_switch([&](std::shared_ptr<switch_connection> c) { seen.set_value(c->datapath_id()); });

    fake_switch sw(l.port());
    sw.handshake(0xa1);
    auto c = l.wait_for_switch(0xa1, 3000ms);
    REQUIRE_OK(c);
    CHECK((*c)->datapath_id() == 0xa1);
    CHECK((*c)->features().n_tables == 254);
    CHECK((*c)->is_open());
    CHECK((*c)->peer().rfind("127.0.0.1:", 0) == 0);
    CHECK(seen.get_future().get() == 0xa1);
    CHECK(l.switches().size() == 1);
    // Another dpid is not this one.
    auto other = l.wait_for_switch(0xb2, 50ms);
    REQUIRE_FALSE(other);
    CHECK(other.error_code() == error::timeout);
    CHECK_THAT(other.error().message, Catch::Contains("no switch 0x00000000000000b2"));
}

TEST_CASE("connect_to_switch dials a switch's passive port", "[openflow][connection]") {
    fake_switch sw;
    auto script = std::async(std::launch::async, [&] {
        sw.accept();
        sw.handshake(0xc3);
    });
    auto c = connect_to_switch("127.0.0.1", sw.port(), {}, 3000ms);
    script.get();
    REQUIRE_OK(c);
    CHECK((*c)->datapath_id() == 0xc3);
    (*c)->close();
    CHECK_FALSE((*c)->is_open());
    CHECK(sw.closed_by_peer());
}

TEST_CASE("a peer without OpenFlow 1.3 is refused with HELLO_FAILED and a clear error", "[openflow][connection]") {
    fake_switch sw;
    auto script = std::async(std::launch::async, [&] {
        sw.accept();
        sw.send(hello{0x01, 0}, 1);  // OpenFlow 1.0, no bitmap
        auto [x, h] = sw.expect<hello>();
        auto [ex, e] = sw.expect<error_message>();
        CHECK(e.describe().find("OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE") == 0);
        CHECK(sw.closed_by_peer());
    });
    auto c = connect_to_switch("127.0.0.1", sw.port(), {}, 3000ms);
    script.get();
    REQUIRE_FALSE(c);
    CHECK(c.error_code() == error::unsupported);
    CHECK_THAT(c.error().message, Catch::Contains("offers OpenFlow versions up to 1.0"));
    CHECK_THAT(c.error().message, Catch::Contains("needs 1.3"));

    // Through the listener: the refusal is remembered and named when nobody else came.
    auto listener = controller_listener::listen(loopback());
    REQUIRE_OK(listener);
    fake_switch old((*listener)->port());
    old.send(hello{0x05, (1u << 1) | (1u << 5)}, 1);  // bitmap: 1.0 and 1.4
    auto w = (*listener)->wait_for_switch(std::nullopt, 300ms);
    REQUIRE_FALSE(w);
    CHECK_THAT(w.error().message, Catch::Contains("last refused"));
    CHECK_THAT(w.error().message, Catch::Contains("offers OpenFlow 1.0, 1.4"));
}

TEST_CASE("a peer that sends no HELLO fails the handshake in time", "[openflow][connection]") {
    fake_switch sw;
    auto script = std::async(std::launch::async, [&] {
        sw.accept();
        sw.expect<hello>();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto c = connect_to_switch("127.0.0.1", sw.port(), {.handshake_timeout = 200ms}, 3000ms);
    script.get();
    REQUIRE_FALSE(c);
    CHECK(c.error_code() == error::timeout);
    CHECK_THAT(c.error().message, Catch::Contains("no HELLO"));
    CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);
    // Nothing listens: refused at once.
    auto refused = connect_to_switch("127.0.0.1", 1, {}, 1000ms);
    REQUIRE_FALSE(refused);
    CHECK(refused.error_code() == error::daemon_unreachable);
}

TEST_CASE("apply sends the mods and a barrier, and names the mod the switch refused", "[openflow][connection]") {
    auto listener = controller_listener::listen(loopback());
    REQUIRE_OK(listener);
    fake_switch sw((*listener)->port());
    sw.handshake(7);
    auto c = (*listener)->wait_for_switch(7, 3000ms);
    REQUIRE_OK(c);
    auto& conn = **c;

    // The switch refuses the second mod, then answers the barrier.
    auto script = std::async(std::launch::async, [&] {
        auto [x1, m1] = sw.expect<flow_mod>();
        auto [x2, m2] = sw.expect<flow_mod>();
        auto [x3, m3] = sw.expect<flow_mod>();
        auto [xb, b] = sw.expect<barrier_request>();
        CHECK(x2 == x1 + 1);
        CHECK(x3 == x2 + 1);
        CHECK(xb == x3 + 1);
        CHECK(m2.match.in_port == 2);
        auto refused = encode(m2, x2);
        refused.resize(64);
        sw.send(error_message{2, 4, refused}, x2);
        sw.send(barrier_reply{}, xb);
    });
    auto r = conn.apply({rule(1, 2), rule(2, 3), rule(3, 4)}, 3000ms);
    script.get();
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::daemon_error);
    CHECK_THAT(r.error().message,
               Catch::Contains("refused flow_mod #2 of 3 (add table 0 priority 100 in_port=2 -> output:3): "
                               "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT (problem validating output port) answering "
                               "OFPT_FLOW_MOD"));
    CHECK_THAT(r.error().message, Catch::Contains("switch 0x0000000000000007 at 127.0.0.1:"));

    // A good commit, then a barrier nobody answers.
    auto good = std::async(std::launch::async, [&] {
        sw.expect<flow_mod>();
        auto [xb, b] = sw.expect<barrier_request>();
        sw.send(barrier_reply{}, xb);
    });
    REQUIRE_OK(conn.apply({rule(1, 2)}, 3000ms));
    good.get();
    auto late = conn.barrier(100ms);
    REQUIRE_FALSE(late);
    CHECK(late.error_code() == error::timeout);
    CHECK_THAT(late.error().message, Catch::Contains("no BARRIER_REPLY within 100 ms"));
    sw.expect<barrier_request>();

    // Invalid mods never leave: the error names the index.
    flow_mod bad = rule(1, 2);
    bad.match.udp_dst = 1;
    auto invalid = conn.apply({rule(1, 2), bad}, 100ms);
    REQUIRE_FALSE(invalid);
    CHECK(invalid.error_code() == error::invalid_argument);
    CHECK_THAT(invalid.error().message, Catch::Contains("flow_mod #2 of 2"));
    CHECK_FALSE(sw.read(100ms));
}

TEST_CASE("echo requests are answered and our probes measure the round trip", "[openflow][connection]") {
    auto listener = controller_listener::listen(loopback({.echo_interval = 50ms, .echo_misses = 3}));
    REQUIRE_OK(listener);
    fake_switch sw((*listener)->port());
    sw.handshake(1);
    auto c = (*listener)->wait_for_switch(1, 3000ms);
    REQUIRE_OK(c);

    sw.send(echo_request{{'p', 'i', 'n', 'g'}}, 99);
    // Our own probes may come first; the reply to ours carries the xid we chose.
    bool answered = false;
    for (int i = 0; i < 10 && !answered; ++i) {
        auto r = sw.read();
        REQUIRE(r);
        if (auto* e = std::get_if<echo_reply>(&r->body)) {
            CHECK(r->xid == 99);
            CHECK(e->data == std::vector<std::uint8_t>{'p', 'i', 'n', 'g'});
            answered = true;
        } else if (std::holds_alternative<echo_request>(r->body)) {
            sw.send(echo_reply{}, r->xid);
        }
    }
    CHECK(answered);
    auto [x, probe] = sw.expect<echo_request>();
    sw.send(echo_reply{}, x);
    CHECK(eventually([&] { return (*c)->stats().echo_replies >= 1; }));
    CHECK((*c)->stats().last_echo_rtt.has_value());
    CHECK((*c)->stats().echo_requests_answered == 1);
}

TEST_CASE("a silent switch is dropped after echo_misses intervals", "[openflow][connection]") {
    auto listener = controller_listener::listen(loopback({.echo_interval = 50ms, .echo_misses = 2}));
    REQUIRE_OK(listener);
    fake_switch sw((*listener)->port());
    sw.handshake(2);
    auto c = (*listener)->wait_for_switch(2, 3000ms);
    REQUIRE_OK(c);
    std::promise<failure> dropped;
    (*c)->on_disconnect([&](const failure& f) { dropped.set_value(f); });
    auto f = dropped.get_future();
    REQUIRE(f.wait_for(2000ms) == std::future_status::ready);
    auto why = f.get();
    CHECK(why.code == error::timeout);
    CHECK_THAT(why.message, Catch::Contains("silent for 100 ms (2 ECHO_REQUESTs unanswered)"));
    CHECK_FALSE((*c)->is_open());
    CHECK(eventually([&] { return (*listener)->switches().empty(); }));
    auto after = (*c)->apply({rule(1, 2)}, 100ms);
    REQUIRE_FALSE(after);
    CHECK(after.error_code() == error::daemon_unreachable);
    CHECK_THAT(after.error().message, Catch::Contains("silent"));
}

TEST_CASE("a malformed message is skipped, packet-ins reach the callback, a lost peer ends the session",
          "[openflow][connection]") {
    auto listener = controller_listener::listen(loopback({.echo_interval = 0ms}));
    REQUIRE_OK(listener);
    fake_switch sw((*listener)->port());
    sw.handshake(3);
    auto c = (*listener)->wait_for_switch(3, 3000ms);
    REQUIRE_OK(c);
    std::promise<std::pair<packet_in, std::error_code>> got;
    std::atomic<int> calls{0};
    (*c)->on_packet_in([&](const packet_in& p) {
        // Blocking calls from the io thread refuse instead of deadlocking.
        auto r = (*c)->barrier(10ms);
        if (calls++ == 0) got.set_value({p, r.error_code()});
        throw std::runtime_error("callbacks may throw");
    });

    packet_in pin;
    pin.match.in_port = 4;
    pin.data = make_udp_frame({.udp_src = 1, .udp_dst = 5683});
    pin.total_len = static_cast<std::uint16_t>(pin.data.size());
    auto broken = encode(pin, 0);
    broken[25] = 0x00;  // ofp_match.type 1 (OXM) -> 0
    sw.send_raw(broken);
    sw.send(pin, 0);
    auto f = got.get_future();
    REQUIRE(f.wait_for(2000ms) == std::future_status::ready);
    auto [p, from_callback] = f.get();
    CHECK(from_callback == error::internal);
    CHECK(p.in_port() == 4);
    REQUIRE_OK(p.frame());
    CHECK(p.frame()->l4_dst == 5683);
    CHECK(calls == 1);
    auto st = (*c)->stats();
    CHECK(st.decode_errors == 1);
    CHECK_THAT(st.last_decode_error, Catch::Contains("ofp_match type"));
    CHECK(eventually([&] { return (*c)->stats().callback_errors == 1; }));
    CHECK((*c)->is_open());

    std::promise<failure> lost;
    (*c)->on_disconnect([&](const failure& why) { lost.set_value(why); });
    sw.close();
    auto l = lost.get_future();
    REQUIRE(l.wait_for(2000ms) == std::future_status::ready);
    auto why = l.get();
    CHECK(why.code == error::daemon_unreachable);
    CHECK_THAT(why.message, Catch::Contains("switch 0x0000000000000003 at 127.0.0.1:"));
    CHECK_THAT(why.message, Catch::Contains("disconnected"));
    // Registering after the end calls back at once.
    bool late = false;
    (*c)->on_disconnect([&](const failure&) { late = true; });
    CHECK(late);
}

TEST_CASE("a lent io_context runs the listener and its sessions", "[openflow][connection]") {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    {
        auto listener = controller_listener::listen(io, loopback());
        REQUIRE_OK(listener);
        fake_switch sw((*listener)->port());
        sw.handshake(9);
        auto c = (*listener)->wait_for_switch(9, 3000ms);
        REQUIRE_OK(c);
        auto script = std::async(std::launch::async, [&] {
            auto [xb, b] = sw.expect<barrier_request>();
            sw.send(barrier_reply{}, xb);
        });
        REQUIRE_OK((*c)->barrier(2000ms));
        script.get();
    }
    work.reset();
    io.stop();
    runner.join();
}

TEST_CASE("connection options validate and read from JSON", "[openflow][connection]") {
    CHECK(connection_options{}.validate());
    CHECK_FALSE(connection_options{.handshake_timeout = 0ms}.validate());
    CHECK_FALSE(connection_options{.echo_misses = 0}.validate());
    auto o = json::parse(R"({"address": "0.0.0.0", "port": 6634, "connection": {"echo_interval_ms": 1000}})")
                 .get<listener_options>();
    CHECK(o.port == 6634);
    CHECK(o.connection.echo_interval == 1000ms);
    REQUIRE_OK(o.validate());
    o.address = "localhost";
    CHECK_THAT(o.validate().error().message, Catch::Contains("listener_options.address"));
    CHECK_THROWS_WITH(json::parse(R"({"prot": 1})").get<listener_options>(), Catch::Contains("listener_options.prot"));
}
