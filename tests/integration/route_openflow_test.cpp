// The `openflow` route switch and the `sdn` trigger against a real switch: Open vSwitch
// (userspace datapath) with the SDK as its controller. Raw Ethernet frames stand for the
// device and the instances, sent and caught on veth ends in namespaces, so every assertion
// is about what the switch really did to a packet (and `ovs-ofctl dump-flows` agrees).
//
//   device attachments  d1 (port 1, domain of host a)   d2 (port 2, domain of host b)
//   edge hosts          ha (port 3)                     hb (port 4)
#include "../require_ok.hpp"

#include <migrate/openflow/connection.hpp>
#include <migrate/openflow/frame.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/testbed/ovs.hpp>
#include <migrate/testbed/packet_socket.hpp>
#include <migrate/trigger/sdn.hpp>

#include "../decision_log.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <condition_variable>
#include <mutex>

using namespace migrate;
namespace of = migrate::openflow;
namespace ovs = migrate::testbed::ovs;
using std::chrono::milliseconds;

using migrate::test::decision_log;

namespace {

const std::string device_mac = "02:00:00:00:0d:01";
const std::string device_ip = "10.251.0.2";
const std::string service_ip = "10.251.0.100";
const std::string service_mac = "02:4d:49:47:00:01";
const std::string host_a_mac = "02:00:00:00:0a:01";
const std::string host_b_mac = "02:00:00:00:0b:01";
constexpr std::uint16_t coap = 5683;

of::mac_address mac(const std::string& s) { return of::mac_address::parse(s).value(); }
of::ipv4_address ip(const std::string& s) { return of::ipv4_address::parse(s).value(); }

struct switch_scene {
    ovs::ovs_lab lab;
    std::string bridge;
    std::map<std::string, ovs::ns_port> ports;
    std::unique_ptr<of::controller_listener> listener;
    std::shared_ptr<of::switch_connection> sw;

    static ovs::ovs_lab open_lab() {
        (void)ovs::ovs_lab::down("rts");   // leftovers of a crashed run
        auto lab = ovs::ovs_lab::open({.prefix = "rts"});
        REQUIRE_OK(lab);
        return std::move(*lab);
    }

    switch_scene() : lab(open_lab()) {
        auto l = of::controller_listener::listen({.address = "127.0.0.1", .port = 0});
        REQUIRE_OK(l);
        listener = std::move(*l);
        auto b = lab.add_bridge({.name = "br", .controllers = {listener->target()}});
        REQUIRE_OK(b);
        bridge = *b;
        std::uint32_t n = 1;
        for (auto [name, m] : std::vector<std::pair<std::string, std::string>>{
                 {"d1", device_mac}, {"d2", device_mac}, {"ha", host_a_mac}, {"hb", host_b_mac}}) {
            auto p = lab.add_namespace_port(bridge, {.name = name, .mac = m, .ofport = n++});
            REQUIRE_OK(p);
            ports[name] = *p;
        }
        auto s = listener->wait_for_switch(std::nullopt, std::chrono::seconds{10});
        REQUIRE_OK(s);
        sw = *s;
    }
    ~switch_scene() { (void)lab.down(); }

    std::uint32_t port(const std::string& name) { return ports.at(name).ofport; }
    testbed::packet_socket socket(const std::string& name) {
        auto s = testbed::packet_socket::open(ports.at(name).netns, ports.at(name).ns_side);
        REQUIRE_OK(s);
        return std::move(*s);
    }

    route::openflow_route_options route_options() {
        route::openflow_route_options o;
        o.service_address = service_ip;
        o.service_mac = service_mac;
        o.ip_proto = 17;
        o.service_port = coap;
        o.hosts["a"] = {port("ha"), host_a_mac};
        o.hosts["b"] = {port("hb"), host_b_mac};
        return o;
    }
};

// A device's CoAP datagram to the service address, and an instance's answer to the device.
std::vector<std::uint8_t> from_device(std::uint8_t seq) {
    return of::make_udp_frame({.eth_src = mac(device_mac), .eth_dst = mac(service_mac), .ipv4_src = ip(device_ip),
                               .ipv4_dst = ip(service_ip), .udp_src = 40000, .udp_dst = coap, .payload = {seq}});
}
std::vector<std::uint8_t> from_instance(const std::string& host_mac, const std::string& instance_ip, std::uint8_t seq) {
    return of::make_udp_frame({.eth_src = mac(host_mac), .eth_dst = mac(device_mac), .ipv4_src = ip(instance_ip),
                               .ipv4_dst = ip(device_ip), .udp_src = coap, .udp_dst = 40000, .payload = {seq}});
}

// The next frame on `s` carrying UDP payload byte `seq`, summarised; nullopt if none in time.
std::optional<of::frame_summary> catch_frame(testbed::packet_socket& s, std::uint8_t seq,
                                             milliseconds within = milliseconds{1000}) {
    auto f = s.receive_until(
        [&](const std::vector<std::uint8_t>& fr) {
            auto sum = of::summarize_frame(fr);
            return sum && sum->payload_offset && *sum->payload_offset < fr.size() && fr[*sum->payload_offset] == seq;
        },
        within);
    REQUIRE_OK(f);
    if (!*f) return std::nullopt;
    return of::summarize_frame(**f).value();
}

// OVS answers a BARRIER once its flow table has the change; its datapath's flow cache
// follows a moment later (revalidator threads), so a frame sent right after may still take
// the old path. Sends `make(seq)` every 50 ms until `to` catches one; nullopt after 2 s.
template <class Make>
std::optional<of::frame_summary> send_until_caught(testbed::packet_socket& from, testbed::packet_socket& to, Make make,
                                                   std::uint8_t& seq) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
    while (std::chrono::steady_clock::now() < deadline) {
        ++seq;
        REQUIRE_OK(from.send(make(seq)));
        if (auto f = catch_frame(to, seq, milliseconds{50})) return f;
    }
    return std::nullopt;
}

// The device's first route: `to` serves it at `port`, committed.
route_change first_route(route_switch& rs, const service_instance& to, std::uint32_t port) {
    route_change c;
    c.subject = device_mac;
    c.to = to;
    c.attachment = {{"port", port}};
    REQUIRE_OK(rs.commit(c));
    return c;
}


service_instance instance(const std::string& host, const std::string& id, const std::string& address) {
    return service_instance{host, id, address, coap};
}

bool any_flow_mentions(const std::vector<ovs::flow_entry>& flows, const std::string& text) {
    return std::any_of(flows.begin(), flows.end(), [&](auto& f) { return f.line.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("openflow route: first route, backup route after the device moved, new route to another host",
          "[ovs][route]") {
    switch_scene s;
    auto rs = route::openflow_route_switch::make(s.sw, s.route_options());
    REQUIRE_OK(rs);
    auto d1 = s.socket("d1"), d2 = s.socket("d2"), ha = s.socket("ha"), hb = s.socket("hb");
    const auto a = instance("a", "twin-a", "10.70.1.5");
    const auto b = instance("b", "twin-b", "10.70.2.7");

    auto c = first_route(**rs, a, s.port("d1"));

    // Device -> service address reaches host a, rewritten to instance a.
    REQUIRE_OK(d1.send(from_device(1)));
    auto up = catch_frame(ha, 1);
    REQUIRE(up);
    CHECK(up->ipv4_dst == ip(a.address));
    CHECK(up->eth_dst == mac(host_a_mac));
    CHECK(up->l4_dst == coap);
    // Instance a -> device comes back from the service address.
    REQUIRE_OK(ha.send(from_instance(host_a_mac, a.address, 2)));
    auto down = catch_frame(d1, 2);
    REQUIRE(down);
    CHECK(down->ipv4_src == ip(service_ip));
    CHECK(down->eth_src == mac(service_mac));

    // The device appears on d2: the backup route bridges it to the OLD instance.
    c.from = a;
    c.to = {};
    c.attachment = {{"port", s.port("d2")}};
    REQUIRE_OK((*rs)->prepare(c));
    std::uint8_t seq = 100;
    auto bridged = send_until_caught(d2, ha, from_device, seq);
    REQUIRE(bridged);
    CHECK(bridged->ipv4_dst == ip(a.address));
    CHECK(send_until_caught(ha, d2, [&](std::uint8_t n) { return from_instance(host_a_mac, a.address, n); }, seq));

    // The new route: instance b serves the device at d2, both ways; a's rules are gone.
    c.to = b;
    REQUIRE_OK((*rs)->commit(c));
    auto moved = send_until_caught(d2, hb, from_device, seq);
    REQUIRE(moved);
    CHECK(moved->ipv4_dst == ip(b.address));
    CHECK(moved->eth_dst == mac(host_b_mac));
    REQUIRE_OK(d2.send(from_device(5)));
    CHECK(catch_frame(hb, 5));
    CHECK_FALSE(catch_frame(ha, 5, milliseconds{200}));   // once in effect, nothing reaches a any more
    auto back = send_until_caught(hb, d2, [&](std::uint8_t n) { return from_instance(host_b_mac, b.address, n); }, seq);
    REQUIRE(back);
    CHECK(back->ipv4_src == ip(service_ip));

    CHECK_FALSE((*rs)->finish_cleanup(device_mac));   // the old rules' removal, done without error
    auto flows = s.lab.dump_flows(s.bridge);
    REQUIRE_OK(flows);
    INFO([&] {
        std::string all;
        for (auto& f : *flows) all += f.line + "\n";
        return all;
    }());
    CHECK(any_flow_mentions(*flows, "set_field:10.70.2.7->ip_dst"));
    CHECK_FALSE(any_flow_mentions(*flows, "10.70.1.5"));                                       // a's rules removed
    CHECK_FALSE(any_flow_mentions(*flows, fmt::format("in_port={},", s.port("d1"))));        // and the old port's
    // Exactly the two device rules remain, and they carried the packets we sent.
    auto ours = std::count_if(flows->begin(), flows->end(), [](auto& f) { return f.priority == 1000; });
    CHECK(ours == 2);
}

TEST_CASE("openflow route: rollback after a new route puts the old instance back, at the device's new port",
          "[ovs][route]") {
    switch_scene s;
    auto rs = route::openflow_route_switch::make(s.sw, s.route_options());
    REQUIRE_OK(rs);
    auto d2 = s.socket("d2"), ha = s.socket("ha"), hb = s.socket("hb");
    const auto a = instance("a", "twin-a", "10.70.1.5");
    const auto b = instance("b", "twin-b", "10.70.2.7");
    auto c = first_route(**rs, a, s.port("d1"));
    c.from = a;
    c.to = b;
    c.attachment = {{"port", s.port("d2")}};
    REQUIRE_OK((*rs)->prepare(c));
    REQUIRE_OK((*rs)->commit(c));
    (*rs)->rollback(c);
    CHECK_FALSE(c.state.contains("rollback_errors"));
    std::uint8_t seq = 100;
    auto up = send_until_caught(d2, ha, from_device, seq);
    REQUIRE(up);
    CHECK(up->ipv4_dst == ip(a.address));
    REQUIRE_OK(d2.send(from_device(7)));
    CHECK(catch_frame(ha, 7));
    CHECK_FALSE(catch_frame(hb, 7, milliseconds{200}));
    auto flows = s.lab.dump_flows(s.bridge);
    REQUIRE_OK(flows);
    CHECK_FALSE(any_flow_mentions(*flows, "nw_src=10.70.2.7"));   // b's downlink removed
}

TEST_CASE("openflow route: a rule the switch refuses fails the commit naming the switch's error", "[ovs][route]") {
    switch_scene s;
    auto o = s.route_options();
    o.hosts["c"] = {4000, "02:00:00:00:0c:01"};   // no such port on the bridge
    auto rs = route::openflow_route_switch::make(s.sw, o);
    REQUIRE_OK(rs);
    route_change c;
    c.subject = device_mac;
    c.to = instance("c", "twin-c", "10.70.3.3");
    c.attachment = {{"port", s.port("d1")}};
    auto r = (*rs)->commit(c);
    // OVS accepts an output to a port that does not exist yet (it may appear later); what it
    // must refuse is a malformed request. Either way the call says what happened.
    if (!r) CHECK(r.error().message.find("new route") != std::string::npos);

    route_change bad;
    bad.subject = "not-a-mac";
    bad.to = instance("a", "twin-a", "10.70.1.5");
    bad.attachment = {{"port", 1}};
    auto e = (*rs)->commit(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("subject") != std::string::npos);
    route_change no_port;
    no_port.subject = device_mac;
    no_port.to = instance("a", "twin-a", "10.70.1.5");
    CHECK((*rs)->commit(no_port).error().message.find("attachment.port") != std::string::npos);
}

TEST_CASE("sdn trigger: a known device on a new port decides (layer 2), its packets are held and re-injected "
          "through the backup route",
          "[ovs][sdn]") {
    switch_scene s;
    auto rs = route::openflow_route_switch::make(s.sw, s.route_options());
    REQUIRE_OK(rs);
    sdn_trigger_options o;
    o.port_hosts = {{s.port("d1"), "a"}, {s.port("d2"), "b"}};
    o.subnet_hosts = {{"10.252.0.0/24", "b"}};
    auto t = sdn_trigger::make(s.sw, o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    const auto a = instance("a", "twin-a", "10.70.1.5");
    (*t)->track({device_mac, s.port("d1"), device_ip, "a"});
    auto c = first_route(**rs, a, s.port("d1"));

    auto d1 = s.socket("d1"), d2 = s.socket("d2"), ha = s.socket("ha");
    // Served at d1: the rules match, nothing reaches the controller, nothing is decided.
    REQUIRE_OK(d1.send(from_device(10)));
    REQUIRE(catch_frame(ha, 10));
    // An unknown device's packet reaches the controller and is ignored.
    REQUIRE_OK(d2.send(of::make_udp_frame({.eth_src = mac("02:00:00:00:99:99"), .eth_dst = mac(service_mac),
                                           .ipv4_src = ip("10.251.0.9"), .ipv4_dst = ip(service_ip),
                                           .udp_src = 1, .udp_dst = coap, .payload = {99}})));
    // The device moves to d2: three packets before any rule exists there.
    for (std::uint8_t seq : {11, 12, 13}) REQUIRE_OK(d2.send(from_device(seq)));
    REQUIRE(log.wait_for(1));
    std::this_thread::sleep_for(milliseconds{200});   // the other two packet-ins arrive too
    {
        auto seen = log.decisions();
        REQUIRE(seen.size() == 1);   // one decision, not one per packet
        CHECK(seen[0].subject == device_mac);
        CHECK(seen[0].from == "a");
        CHECK(seen[0].to == "b");
        CHECK(seen[0].evidence["layer"] == 2);
        CHECK(seen[0].evidence["port"] == s.port("d2"));
    }
    CHECK((*t)->device(device_mac)->port == s.port("d2"));
    CHECK((*t)->stats().unknown >= 1);
    CHECK_FALSE(catch_frame(ha, 11, milliseconds{100}));   // held, not delivered yet
    // The backup route, then the held packets go through it: none lost, in order.
    c.from = a;
    c.to = {};
    c.attachment = {{"port", s.port("d2")}};
    REQUIRE_OK((*rs)->prepare(c));
    auto n = (*t)->reinject_held(device_mac);
    REQUIRE_OK(n);
    CHECK(*n == 3);
    for (std::uint8_t seq : {11, 12, 13}) {
        auto f = catch_frame(ha, seq);
        REQUIRE(f);
        CHECK(f->ipv4_dst == ip(a.address));
    }

    (*t)->stop();
}

TEST_CASE("sdn trigger: a known device's CoAP from a new address decides (layer 3); further rules can decide",
          "[ovs][sdn]") {
    switch_scene s;
    sdn_trigger_options o;
    o.subnet_hosts = {{"10.252.0.0/24", "b"}, {"10.251.0.0/24", "a"}};
    auto t = sdn_trigger::make(s.sw, o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    (*t)->track({device_mac, s.port("d1"), device_ip, "a"});
    // Not CoAP (another UDP port) from a new address: layer 3 looks only at CoAP.
    auto d1 = s.socket("d1");
    auto frame = [&](const std::string& src, std::uint16_t dport, std::uint8_t seq) {
        return of::make_udp_frame({.eth_src = mac(device_mac), .eth_dst = mac(service_mac), .ipv4_src = ip(src),
                                   .ipv4_dst = ip(service_ip), .udp_src = 40000, .udp_dst = dport, .payload = {seq}});
    };
    REQUIRE_OK(d1.send(frame("10.252.0.5", 9999, 1)));
    REQUIRE_OK(d1.send(frame("10.252.0.5", coap, 2)));
    REQUIRE(log.wait_for(1));
    {
        auto seen = log.decisions();
        CHECK(seen[0].evidence["layer"] == 3);
        CHECK(seen[0].evidence["address"] == "10.252.0.5");
        CHECK(seen[0].evidence["previous_address"] == device_ip);
        CHECK(seen[0].from == "a");
        CHECK(seen[0].to == "b");
    }
    CHECK((*t)->device(device_mac)->address == "10.252.0.5");
    // A rule of our own: payload byte 42 means "send me to c".
    (*t)->add_rule("payload-42", [](const of::packet_in& pi, const of::frame_summary& f, const sdn_device& dev)
                                     -> std::optional<migration_decision> {
        if (!f.payload_offset || *f.payload_offset >= pi.data.size() || pi.data[*f.payload_offset] != 42) return std::nullopt;
        return migration_decision{.subject = dev.mac, .from = dev.host, .to = "c", .reason = "asked"};
    });
    REQUIRE_OK(d1.send(frame("10.252.0.5", coap, 42)));
    REQUIRE(log.wait_for(2));
    auto seen = log.decisions();
    CHECK(seen[1].to == "c");
    CHECK(seen[1].evidence["rule"] == "payload-42");
    CHECK(seen.size() == 2);
    (*t)->stop();
}
