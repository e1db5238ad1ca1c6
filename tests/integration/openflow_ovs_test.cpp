// The OpenFlow 1.3 speaker against a real Open vSwitch (userspace datapath): both connection
// directions, handshake and features, flow_mods checked with `ovs-ofctl dump-flows`, the
// switch's ERRORs in words, barriers, a frame sent from a namespace arriving as PACKET_IN,
// a PACKET_OUT arriving in another namespace, echo keep-alive both ways, and the session
// ending when the bridge goes away. Every bridge, veth and namespace is made by an ovs_lab
// (prefix "ofit") and removed by it on every path; the daemons are started if needed (and then
// stopped again by the lab, unless CTest's "ovs: up" fixture started them).
#include <migrate/openflow/connection.hpp>
#include <migrate/testbed/ovs.hpp>
#include <migrate/testbed/packet_socket.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace migrate;
using namespace migrate::openflow;
using namespace std::chrono_literals;
namespace ovs = migrate::testbed::ovs;

namespace {

constexpr const char* lab_prefix = "ofit";

ipv4_address ip(const char* s) { return ipv4_address::parse(s).value(); }
mac_address mac(const char* s) { return mac_address::parse(s).value(); }

/// A lab with leftovers of a crashed earlier run removed first.
ovs::ovs_lab open_lab() {
    REQUIRE_OK(ovs::ovs_lab::down(lab_prefix));
    auto lab = ovs::ovs_lab::open({.prefix = lab_prefix});
    REQUIRE_OK(lab);
    return std::move(*lab);
}

/// A bridge dialing a fresh listener; the session once the switch completed its handshake.
struct dialed_in {
    std::unique_ptr<controller_listener> listener;
    std::string bridge;
    std::shared_ptr<switch_connection> conn;
};
dialed_in bridge_dialing_us(ovs::ovs_lab& lab, std::uint64_t dpid, connection_options options = {}) {
    dialed_in d;
    auto l = controller_listener::listen({.address = "127.0.0.1", .port = 0, .connection = options});
    REQUIRE_OK(l);
    d.listener = std::move(*l);
    auto br = lab.add_bridge({.name = "br", .datapath_id = dpid, .controllers = {d.listener->target()}});
    REQUIRE_OK(br);
    d.bridge = *br;
    auto c = d.listener->wait_for_switch(dpid, 15s);
    REQUIRE_OK(c);
    d.conn = *c;
    return d;
}

const ovs::flow_entry* find_flow(const std::vector<ovs::flow_entry>& flows, int priority) {
    auto it = std::find_if(flows.begin(), flows.end(), [&](auto& f) { return f.priority == priority; });
    return it == flows.end() ? nullptr : &*it;
}

/// PACKET_INs collected on the io thread, taken on the test's thread.
class packet_in_queue {
public:
    void attach(switch_connection& c) {
        c.on_packet_in([this](const packet_in& p) {
            std::lock_guard lock(mu_);
            seen_.push_back(p);
            cv_.notify_all();
        });
    }
    template <class Pred>
    std::optional<packet_in> wait_for(Pred pred, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        std::optional<packet_in> found;
        cv_.wait_for(lock, timeout, [&] {
            for (auto& p : seen_)
                if (pred(p)) {
                    found = p;
                    return true;
                }
            return false;
        });
        return found;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<packet_in> seen_;
};

flow_mod coap_rule(std::uint16_t priority, std::uint32_t out) {
    flow_mod m;
    m.priority = priority;
    m.cookie = 0x4d;
    m.match = {.in_port = 1, .eth_type = eth_type::ipv4, .ipv4_dst = ip("10.0.0.2"), .ip_proto = ip_proto::udp, .udp_dst = 5683};
    m.actions = {set_field{.ipv4_dst = ip("10.0.0.3")}, output{out}};
    return m;
}

}  // namespace

TEST_CASE("ovs: the switch dials us, flow_mod add, modify strict and delete strict show in dump-flows",
          "[ovs][openflow]") {
    auto lab = open_lab();
    auto d = bridge_dialing_us(lab, 0xa1);
    CHECK(d.conn->datapath_id() == 0xa1);
    CHECK(d.conn->features().n_tables > 0);
    CHECK(d.conn->is_open());

    REQUIRE_OK(d.conn->apply({coap_rule(100, 2), coap_rule(200, 4)}, 2s));
    auto flows = lab.dump_flows(d.bridge);
    REQUIRE_OK(flows);
    REQUIRE(flows->size() == 2);
    auto* added = find_flow(*flows, 100);
    REQUIRE(added);
    INFO(added->line);
    auto fields = added->match_fields();
    CHECK(fields.count("udp") == 1);
    CHECK(fields["in_port"] == "1");
    CHECK(fields["nw_dst"] == "10.0.0.2");
    CHECK(fields["tp_dst"] == "5683");
    CHECK(added->actions == "set_field:10.0.0.3->ip_dst,output:2");
    CHECK(added->cookie == 0x4d);

    // Modify strict changes only the rule of that priority.
    auto changed = coap_rule(100, 3);
    changed.command = flow_command::modify_strict;
    changed.actions = {output{3}};
    REQUIRE_OK(d.conn->apply({changed}, 2s));
    flows = lab.dump_flows(d.bridge);
    REQUIRE_OK(flows);
    REQUIRE(find_flow(*flows, 100));
    CHECK(find_flow(*flows, 100)->actions == "output:3");
    REQUIRE(find_flow(*flows, 200));
    CHECK(find_flow(*flows, 200)->actions == "set_field:10.0.0.3->ip_dst,output:4");

    // Delete strict removes that priority only.
    auto gone = coap_rule(100, 0);
    gone.command = flow_command::remove_strict;
    gone.actions.clear();
    REQUIRE_OK(d.conn->apply({gone}, 2s));
    flows = lab.dump_flows(d.bridge);
    REQUIRE_OK(flows);
    CHECK_FALSE(find_flow(*flows, 100));
    CHECK(find_flow(*flows, 200));
    REQUIRE_OK(d.conn->barrier(2s));
    REQUIRE_OK(lab.down());
}

TEST_CASE("ovs: we dial the switch's passive port", "[ovs][openflow]") {
    auto lab = open_lab();
    auto port = ovs::free_local_port();
    REQUIRE_OK(port);
    auto br = lab.add_bridge({.name = "br", .datapath_id = 0xb2,
                              .controllers = {"ptcp:" + std::to_string(*port) + ":127.0.0.1"}});
    REQUIRE_OK(br);   // returns once ovs-vswitchd listens there
    auto c = connect_to_switch("127.0.0.1", *port, {}, 2s);
    REQUIRE_OK(c);
    CHECK((*c)->datapath_id() == 0xb2);
    REQUIRE_OK((*c)->barrier(2s));
    flow_mod m;
    m.priority = 5;
    m.match = {.eth_dst = mac("02:00:00:00:00:02")};
    m.actions = {output{7}};
    REQUIRE_OK((*c)->apply({m}, 2s));
    auto flows = lab.dump_flows(*br);
    REQUIRE_OK(flows);
    REQUIRE(find_flow(*flows, 5));
    CHECK(find_flow(*flows, 5)->match_fields()["dl_dst"] == "02:00:00:00:00:02");
    CHECK(find_flow(*flows, 5)->actions == "output:7");
}

TEST_CASE("ovs: a refused flow_mod comes back as the switch's ERROR in words, naming the mod", "[ovs][openflow]") {
    auto lab = open_lab();
    auto d = bridge_dialing_us(lab, 0xc3);

    flow_mod good;
    good.priority = 10;
    good.match.in_port = 1;
    good.actions = {output{2}};
    flow_mod bad_port = good;
    bad_port.priority = 11;
    bad_port.actions = {output{port::max}};   // a number OVS keeps for itself
    auto r = d.conn->apply({good, bad_port}, 2s);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::daemon_error);
    INFO(r.error().message);
    CHECK_THAT(r.error().message, Catch::Contains("switch 0x00000000000000c3 at 127.0.0.1:"));
    CHECK_THAT(r.error().message, Catch::Contains("refused flow_mod #2 of 2 (add table 0 priority 11 in_port=1 -> "
                                                  "output:4294967040)"));
    CHECK_THAT(r.error().message, Catch::Contains("OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT (problem validating output port) "
                                                  "answering OFPT_FLOW_MOD"));
    // OpenFlow has no transactions: the mod before the refused one stays.
    auto flows = lab.dump_flows(d.bridge);
    REQUIRE_OK(flows);
    CHECK(find_flow(*flows, 10));
    CHECK_FALSE(find_flow(*flows, 11));

    flow_mod bad_table = good;
    bad_table.table_id = 254;   // OVS's hidden internal table
    r = d.conn->apply({bad_table}, 2s);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK_THAT(r.error().message, Catch::Contains("refused flow_mod #1 of 1 (add table 254"));
    CHECK_THAT(r.error().message, Catch::Contains("OFPET_BAD_REQUEST/OFPBRC_EPERM"));
    // The session carries on.
    REQUIRE_OK(d.conn->barrier(2s));
}

TEST_CASE("ovs: a frame from a namespace arrives as PACKET_IN, PACKET_OUT delivers one to another namespace",
          "[ovs][openflow]") {
    auto lab = open_lab();
    auto d = bridge_dialing_us(lab, 0xd4);
    auto dev = lab.add_namespace_port(d.bridge, {.name = "dev", .address = "10.0.0.1/24", .mac = "02:00:00:00:00:01", .ofport = 1});
    REQUIRE_OK(dev);
    auto twin = lab.add_namespace_port(d.bridge, {.name = "twin", .address = "10.0.0.2/24", .mac = "02:00:00:00:00:02", .ofport = 2});
    REQUIRE_OK(twin);
    CHECK(dev->ofport == 1);
    CHECK(twin->ofport == 2);
    CHECK(dev->mac == "02:00:00:00:00:01");

    packet_in_queue ins;
    ins.attach(*d.conn);
    flow_mod miss;   // table-miss: everything else to us, whole frames
    miss.priority = 0;
    miss.actions = {output{port::controller, max_len_no_buffer}};
    REQUIRE_OK(d.conn->apply({miss}, 2s));

    auto from_dev = testbed::packet_socket::open(dev->netns, dev->ns_side);
    REQUIRE_OK(from_dev);
    const std::vector<std::uint8_t> hello_payload{'h', 'e', 'l', 'l', 'o'};
    auto frame = make_udp_frame({.eth_src = mac("02:00:00:00:00:01"),
                                 .eth_dst = mac("02:00:00:00:00:02"),
                                 .ipv4_src = ip("10.0.0.1"),
                                 .ipv4_dst = ip("10.0.0.2"),
                                 .udp_src = 40001,
                                 .udp_dst = 5683,
                                 .payload = hello_payload});
    REQUIRE_OK(from_dev->send(frame));
    auto is_ours = [&](const packet_in& p) {
        auto f = p.frame();
        return f && f->l4_dst == 5683 && f->l4_src == 40001;
    };
    auto pin = ins.wait_for(is_ours, 5s);
    REQUIRE(pin);
    CHECK(pin->in_port() == dev->ofport);
    CHECK(pin->reason_name() == "no_match");
    CHECK(pin->total_len == frame.size());
    CHECK(pin->data == frame);
    auto f = pin->frame();
    REQUIRE_OK(f);
    CHECK(f->eth_src == mac("02:00:00:00:00:01"));
    CHECK(f->eth_dst == mac("02:00:00:00:00:02"));
    CHECK(f->ipv4_src == ip("10.0.0.1"));
    CHECK(f->ipv4_dst == ip("10.0.0.2"));
    CHECK(f->ip_proto == ip_proto::udp);
    REQUIRE(f->payload_offset);
    CHECK(std::equal(hello_payload.begin(), hello_payload.end(), pin->data.begin() + static_cast<long>(*f->payload_offset)));

    // PACKET_OUT to the twin's port: the frame appears on the twin's interface, as sent.
    auto at_twin = testbed::packet_socket::open(twin->netns, twin->ns_side);
    REQUIRE_OK(at_twin);
    auto reply = make_udp_frame({.eth_src = mac("02:00:00:00:00:aa"),
                                 .eth_dst = mac("02:00:00:00:00:02"),
                                 .ipv4_src = ip("10.0.0.9"),
                                 .ipv4_dst = ip("10.0.0.2"),
                                 .udp_src = 5683,
                                 .udp_dst = 40002,
                                 .payload = {'o', 'u', 't'}});
    REQUIRE_OK(d.conn->send(packet_out{.actions = {output{twin->ofport}}, .data = reply}));
    auto got = at_twin->receive_until([&](const std::vector<std::uint8_t>& b) { return b == reply; }, 5s);
    REQUIRE_OK(got);
    CHECK(got->has_value());

    auto flows = lab.dump_flows(d.bridge);
    REQUIRE_OK(flows);
    REQUIRE(find_flow(*flows, 0));
    CHECK(find_flow(*flows, 0)->n_packets >= 1);
    CHECK(find_flow(*flows, 0)->actions == "CONTROLLER:65535");
    CHECK(d.conn->stats().packet_ins >= 1);
}

TEST_CASE("ovs: echo keep-alive both ways, the session ends when the switch goes away", "[ovs][openflow]") {
    auto lab = open_lab();
    // OVS probes an idle controller after its inactivity_probe (at least 5 s: OVS rounds
    // smaller values up); we answer. Our own probes are off, so the connection is idle for OVS.
    auto quiet = controller_listener::listen({.address = "127.0.0.1", .port = 0, .connection = {.echo_interval = 0ms}});
    REQUIRE_OK(quiet);
    auto br = lab.add_bridge({.name = "br", .datapath_id = 0xe5, .controllers = {(*quiet)->target()},
                              .controller_inactivity_probe = 5000ms});
    REQUIRE_OK(br);
    auto c = (*quiet)->wait_for_switch(0xe5, 15s);
    REQUIRE_OK(c);
    const auto until = std::chrono::steady_clock::now() + 8s;
    while ((*c)->stats().echo_requests_answered == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(100ms);
    CHECK((*c)->stats().echo_requests_answered >= 1);
    CHECK((*c)->is_open());

    // Our probes, every 100 ms, answered by OVS.
    auto probing = controller_listener::listen({.address = "127.0.0.1", .port = 0, .connection = {.echo_interval = 100ms}});
    REQUIRE_OK(probing);
    REQUIRE_OK(lab.set_controllers(*br, {(*probing)->target()}));
    auto p = (*probing)->wait_for_switch(0xe5, 15s);
    REQUIRE_OK(p);
    std::this_thread::sleep_for(600ms);
    auto st = (*p)->stats();
    CHECK(st.echo_replies >= 3);
    REQUIRE(st.last_echo_rtt);
    WARN("echo round trip to OVS: " << st.last_echo_rtt->count() << " us");

    // The bridge goes away: OVS closes the connection, the session ends and says why.
    std::mutex mu;
    std::condition_variable cv;
    std::optional<failure> why;
    (*p)->on_disconnect([&](const failure& f) {
        std::lock_guard lock(mu);
        why = f;
        cv.notify_all();
    });
    REQUIRE_OK(lab.delete_bridge(*br));
    {
        std::unique_lock lock(mu);
        REQUIRE(cv.wait_for(lock, 5s, [&] { return why.has_value(); }));
    }
    CHECK(why->code == error::daemon_unreachable);
    CHECK_THAT(why->message, Catch::Contains("switch 0x00000000000000e5"));
    CHECK_FALSE((*p)->is_open());
    auto after = (*p)->barrier(1s);
    REQUIRE_FALSE(after);
    CHECK(after.error_code() == error::daemon_unreachable);
    CHECK(((*probing)->switches().empty()));
}
