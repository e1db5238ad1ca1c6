"""MIGRATE's controller from Python on real parts: an OpenFlowRouteSwitch on Open vSwitch
(rules checked with dump-flows), an SdnTrigger tracking a device, and FollowMe moving a
subject between memcached instances of a ReplicaPool on the testbed when a ManualTrigger
decides, with the route following. Needs root; skipped otherwise."""
import os
import shutil
import time

import pytest

import migrate
from conftest import MEMCACHED_PORT, ensure_image
from test_replica_pool import OwnerProtocol, memcached_command

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: OVS bridges, veths and network namespaces"),
    pytest.mark.skipif(shutil.which("ovs-vsctl") is None, reason="Open vSwitch is not installed"),
]

DEVICE = "02:00:00:00:0d:01"


@pytest.fixture
def switch():
    with migrate.OvsLab("sdnpy") as lab:
        listener = migrate.OpenFlowListener("127.0.0.1", 0)
        bridge = lab.add_bridge("br", 0x5D, [listener.target])
        ports = {name: lab.add_namespace_port(bridge, name, ofport=n)["ofport"]
                 for n, name in enumerate(["d1", "d2", "ha", "hb"], start=1)}
        with listener:
            conn = listener.wait_for_switch(0x5D, 15.0)
            with conn:
                yield lab, bridge, conn, ports


def route_options(ports):
    return {"service_address": "10.251.0.100", "service_mac": "02:4d:53:00:00:01", "ip_proto": 17,
            "service_port": MEMCACHED_PORT,
            "hosts": {"a": {"port": ports["ha"], "mac": "02:4d:48:00:00:01"},
                      "b": {"port": ports["hb"], "mac": "02:4d:48:00:00:02"}}}


def lines(lab, bridge):
    return "\n".join(f["line"] for f in lab.dump_flows(bridge))


def test_openflow_route_switch_installs_moves_and_refuses_bad_changes(switch):
    lab, bridge, conn, ports = switch
    route = migrate.OpenFlowRouteSwitch(conn, route_options(ports))
    assert route.name == "openflow"
    change = migrate.RouteChange()
    change.subject = DEVICE
    change.target = migrate.ServiceInstance("a", "twin-a", "10.70.1.5", MEMCACHED_PORT)
    change.attachment = {"port": ports["d1"]}
    route.commit(change)
    assert change.committed and change.state["port"] == ports["d1"]
    assert "set_field:10.70.1.5->ip_dst" in lines(lab, bridge)

    change.source, change.target = change.target, migrate.ServiceInstance()
    change.attachment = {"port": ports["d2"]}
    route.prepare(change)                                    # the backup route: d2 -> the old instance
    assert f"in_port={ports['d2']}" in lines(lab, bridge)
    change.target = migrate.ServiceInstance("b", "twin-b", "10.70.2.7", MEMCACHED_PORT)
    route.commit(change)
    assert route.finish_cleanup(DEVICE) is None
    now = lines(lab, bridge)
    assert "set_field:10.70.2.7->ip_dst" in now and "10.70.1.5" not in now

    bad = migrate.RouteChange()
    bad.subject = "not-a-mac"
    bad.target = migrate.ServiceInstance("a", "x", "10.70.1.5", MEMCACHED_PORT)
    bad.attachment = {"port": 1}
    with pytest.raises(migrate.MigrationError) as err:
        route.commit(bad)
    assert "subject" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.OpenFlowRouteSwitch(conn, dict(route_options(ports), service_mac="nope"))
    assert "openflow_route.service_mac" in err.value.message


def test_sdn_trigger_tracks_devices_and_installs_its_table_miss(switch):
    lab, bridge, conn, ports = switch
    trigger = migrate.SdnTrigger(conn, {"port_hosts": {str(ports["d1"]): "a", str(ports["d2"]): "b"},
                                        "subnet_hosts": {"10.252.0.0/24": "b"}})
    seen = []
    trigger.start(seen.append)
    assert "priority=0 actions=CONTROLLER:65535" in lines(lab, bridge)
    trigger.track({"mac": DEVICE, "port": ports["d1"], "address": "10.251.0.2", "host": "a"})
    assert trigger.device(DEVICE) == {"mac": DEVICE, "port": ports["d1"], "address": "10.251.0.2", "host": "a"}
    assert trigger.device("02:00:00:00:00:99") is None
    assert trigger.reinject_held(DEVICE) == 0
    assert trigger.stats()["decisions"] == 0
    trigger.forget(DEVICE)
    assert trigger.device(DEVICE) is None
    trigger.stop()
    with pytest.raises(migrate.MigrationError) as err:
        migrate.SdnTrigger(conn, {"subnet_hosts": {"10.252.0.0/33": "b"}})
    assert "sdn_trigger.subnet_hosts" in err.value.message


def test_follow_me_moves_the_subject_when_a_trigger_decides(switch, testbed, engine_a, engine_b, unique):
    lab, bridge, conn, ports = switch
    ref = "pyt-memcached:1"
    ensure_image(engine_a, migrate.memcached_recipe(MEMCACHED_PORT, 32), ref)
    ensure_image(engine_b, migrate.memcached_recipe(MEMCACHED_PORT, 32), ref)
    pool = migrate.ReplicaPool([testbed.edge_host("a"), testbed.edge_host("b")],
                               {"image": ref, "service_port": MEMCACHED_PORT, "size": 1, "name_prefix": f"{unique}-fm"},
                               OwnerProtocol())
    route = migrate.OpenFlowRouteSwitch(conn, route_options(ports))
    trigger = migrate.ManualTrigger()
    loop = migrate.FollowMe(trigger, pool, route)
    try:
        pool.fill()
        first = pool.assign(DEVICE, "a", route, {"port": ports["d1"]})
        loop.start()
        trigger.fire({"subject": DEVICE, "from": "a", "to": "b", "reason": "test",
                      "evidence": {"port": ports["d2"]}})
        loop.wait_for_moves(1, 30.0)
        [report] = loop.reports()
        assert report.success, report.error
        assert [p.detail for p in report.phases][:4] == ["backup route", "instantiation", "state load", "new route"]
        now = pool.instance_of(DEVICE)
        assert now.host == "b"
        assert DEVICE in memcached_command(now.address, "get owner")
        route.finish_cleanup(DEVICE)
        flows = lines(lab, bridge)
        assert f"set_field:{now.address}->ip_dst" in flows and first.address + "->" not in flows
        trigger.fire({"subject": "02:00:00:00:00:99", "to": "b"})   # nobody: refused, not moved
        for _ in range(50):
            if loop.refused():
                break
            time.sleep(0.05)
        assert "02:00:00:00:00:99" in loop.refused()[0]
    finally:
        loop.stop()
        pool.shutdown()
