"""The OpenFlow 1.3 speaker from Python against a real Open vSwitch (userspace datapath):
both connection directions, flow mods as dicts checked with dump-flows, the switch's refusal
as MigrationError, a UDP datagram sent in a namespace arriving as a packet-in dict, and a
packet-out coming back to us. Needs root (bridges, namespaces); skipped otherwise."""
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

import migrate

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: OVS bridges, veths and network namespaces"),
    pytest.mark.skipif(shutil.which("ovs-vsctl") is None, reason="Open vSwitch is not installed"),
]

COAP_RULE = {
    "priority": 100,
    "match": {"in_port": 1, "eth_type": 0x0800, "ip_proto": 17, "ipv4_dst": "10.0.0.2", "udp_dst": 5683},
    "actions": [{"set_field": {"ipv4_dst": "10.0.0.3"}}, {"output": 2}],
}


@pytest.fixture
def lab():
    with migrate.OvsLab("ofpy") as lab:
        yield lab


def dialed_in(lab, dpid, options=None):
    listener = migrate.OpenFlowListener("127.0.0.1", 0, options)
    bridge = lab.add_bridge("br", dpid, [listener.target])
    return listener, bridge, listener.wait_for_switch(dpid, 15.0)


def udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    """Ethernet II / IPv4 (checksummed) / UDP without checksum."""
    def ip4(a):
        return bytes(int(x) for x in a.split("."))

    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip4(src_ip), ip4(dst_ip))
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))  # noqa: E731
    return mac(dst_mac) + mac(src_mac) + b"\x08\x00" + header + udp


def test_flow_mods_as_dicts_reach_the_switch_and_refusals_raise(lab):
    listener, bridge, conn = dialed_in(lab, 0xF1)
    with listener, conn:
        assert conn.datapath_id == 0xF1
        assert conn.is_open
        assert conn.features["datapath_id"] == "0x00000000000000f1"
        conn.apply([COAP_RULE], timeout=2.0)
        flows = lab.dump_flows(bridge)
        assert len(flows) == 1
        f = flows[0]
        assert f["priority"] == 100
        assert f["match_fields"]["nw_dst"] == "10.0.0.2"
        assert f["match_fields"]["tp_dst"] == "5683"
        assert f["actions"] == "set_field:10.0.0.3->ip_dst,output:2"

        bad = dict(COAP_RULE, priority=101, actions=[{"output": 0xFFFFFF00}])
        with pytest.raises(migrate.MigrationError) as e:
            conn.apply([bad], timeout=2.0)
        assert e.value.code == "daemon_error"
        assert "refused flow_mod #1 of 1" in e.value.message
        assert "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT" in e.value.message

        with pytest.raises(migrate.MigrationError) as e:
            conn.apply([{"priority": 1, "match": {"ipv4_dst": "10.0.0.1"}}])
        assert e.value.code == "invalid_argument"
        assert "ipv4_dst needs eth_type=0x0800" in e.value.message

        conn.apply([dict(COAP_RULE, command="delete_strict", actions=[])], timeout=2.0)
        assert lab.dump_flows(bridge) == []
        conn.barrier(2.0)


def test_we_dial_the_switch(lab):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bridge = lab.add_bridge("br", 0xF2, [f"ptcp:{port}:127.0.0.1"])  # returns once OVS listens there
    conn = migrate.connect_to_switch("127.0.0.1", port, {"echo_interval_ms": 100}, 2.0)
    with conn:
        assert conn.datapath_id == 0xF2
        conn.apply([COAP_RULE])
        assert [f["priority"] for f in lab.dump_flows(bridge)] == [100]
        time.sleep(0.4)
        stats = conn.stats()
        assert stats["echo_replies"] >= 2
        assert stats["last_echo_rtt_us"] is not None
    assert not conn.is_open
    assert "closed by the controller" in conn.closed_reason


def test_a_datagram_from_a_namespace_arrives_as_a_packet_in_and_a_packet_out_comes_back(lab):
    listener, bridge, conn = dialed_in(lab, 0xF3)
    with listener, conn:
        dev = lab.add_namespace_port(bridge, "dev", "10.0.0.1/24", "02:00:00:00:00:01", 1)
        twin = lab.add_namespace_port(bridge, "twin", "10.0.0.2/24", "02:00:00:00:00:02", 2)
        seen = queue.Queue()
        conn.on_packet_in(seen.put)
        conn.apply([{"priority": 0, "actions": [{"output": "controller"}]}], timeout=2.0)

        # The device's kernel sends a real UDP datagram (a static neighbour entry saves the ARP).
        subprocess.run(["ip", "-n", dev["netns"], "neigh", "replace", "10.0.0.2", "lladdr", twin["mac"],
                        "dev", dev["ns_side"]], check=True)
        subprocess.run(["nsenter", f"--net=/run/netns/{dev['netns']}", sys.executable, "-c",
                        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                        "s.bind(('10.0.0.1', 40003)); s.sendto(b'hello', ('10.0.0.2', 5683))"], check=True)

        def next_matching(pred, timeout=5.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    p = seen.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if pred(p):
                    return p
            pytest.fail("no such packet-in arrived")

        p = next_matching(lambda p: p["frame"] and p["frame"].get("l4_dst") == 5683)
        assert p["in_port"] == dev["ofport"] == 1
        assert p["reason"] == "no_match"
        fr = p["frame"]
        assert fr["eth_src"] == "02:00:00:00:00:01"
        assert fr["eth_dst"] == "02:00:00:00:00:02"
        assert fr["ipv4_src"] == "10.0.0.1"
        assert fr["ipv4_dst"] == "10.0.0.2"
        assert fr["l4_src"] == 40003
        assert p["data"][fr["payload_offset"]:fr["payload_offset"] + 5] == b"hello"

        # A packet-out through output:CONTROLLER comes back as a packet-in with reason 'action'.
        frame = udp_frame("02:00:00:00:00:aa", "02:00:00:00:00:02", "10.0.0.9", "10.0.0.2", 5683, 40004, b"out")
        conn.packet_out(frame, [{"output": "controller"}])
        back = next_matching(lambda p: p["data"] == frame)
        assert back["reason"] == "action"
        assert conn.callback_errors == 0
        conn.on_packet_in(None)
