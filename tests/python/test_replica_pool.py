"""The replica pool from Python on the real testbed: memcached instances pre-warmed on both
hosts, a ReplicaProtocol and a RouteSwitch written in Python, a subject moved a -> b with
MIGRATE's Fig. 8 phases in the report; a failing state load rolls back; the manual trigger."""
import socket
import time

import pytest

import migrate
from conftest import MEMCACHED_PORT, ensure_image


def memcached_command(address, line, payload=None, timeout=2.0):
    with socket.create_connection((address, MEMCACHED_PORT), timeout=timeout) as s:
        s.sendall(line.encode() + b"\r\n" + ((payload.encode() + b"\r\n") if payload is not None else b""))
        data = b""
        while not (data.endswith(b"\r\n") and (not data.startswith(b"VALUE") or data.endswith(b"END\r\n"))):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode()


class OwnerProtocol(migrate.ReplicaProtocol):
    """Instances are memcacheds; serving a subject = holding the key 'owner' = subject."""

    def __init__(self, fail_assign_on=None):
        migrate.ReplicaProtocol.__init__(self)
        self.calls = []
        self.fail_assign_on = fail_assign_on

    def wait_ready(self, instance, within_s):
        self.calls.append(("ready", instance.id))
        deadline = time.monotonic() + within_s
        while True:
            try:
                memcached_command(instance.address, "version")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def assign(self, instance, subject):
        self.calls.append(("assign", instance.id, subject))
        if instance.host == self.fail_assign_on:
            raise RuntimeError(f"no state for {subject} on {instance.id}")
        assert "STORED" in memcached_command(instance.address, f"set owner 0 0 {len(subject)}", subject)

    def release(self, instance, subject):
        self.calls.append(("release", instance.id, subject))


class RecordingRouteSwitch(migrate.RouteSwitch):
    def __init__(self):
        migrate.RouteSwitch.__init__(self, "recording")
        self.calls = []

    def prepare(self, change):
        self.calls.append(("prepare", change.source.id, change.target.id, change.attachment))

    def commit(self, change):
        self.calls.append(("commit", change.source.id, change.target.id, change.attachment))
        change.state = {"serving": change.target.id}

    def rollback(self, change):
        self.calls.append(("rollback", change.source.id, change.target.id))


@pytest.fixture
def pool_hosts(testbed, engine_a, engine_b):
    ref = "pyt-memcached:1"
    ensure_image(engine_a, migrate.memcached_recipe(MEMCACHED_PORT, 32), ref)
    ensure_image(engine_b, migrate.memcached_recipe(MEMCACHED_PORT, 32), ref)
    return [testbed.edge_host("a"), testbed.edge_host("b")], ref


def make_pool(pool_hosts, unique, protocol, size):
    hosts, ref = pool_hosts
    return migrate.ReplicaPool(hosts, {"image": ref, "network": "svc", "service_port": MEMCACHED_PORT, "size": size,
                                       "name_prefix": f"{unique}-rp"}, protocol)


def test_pooled_move_has_fig8_phases_and_the_new_instance_serves_the_subject(pool_hosts, unique):
    proto = OwnerProtocol()
    pool = make_pool(pool_hosts, unique, proto, size=1)
    route = RecordingRouteSwitch()
    try:
        pool.fill()
        st = pool.status()
        assert len(st["a"]["ready"]) == 1 and len(st["b"]["ready"]) == 1
        first = pool.assign("car-1", "a", route, {"port": 1})
        assert first.host == "a"
        assert memcached_command(first.address, "get owner").find("car-1") > 0
        assert pool.route_of("car-1").state == {"serving": first.id}

        report = pool.migrate("car-1", "b", route, {"port": 2})
        assert report.success, report.error
        assert [p.detail for p in report.phases] == ["backup route", "instantiation", "state load", "new route",
                                                      "release"]
        assert report.details["instantiation"] == "pooled"
        now = pool.instance_of("car-1")
        assert now.host == "b" and now.id != first.id
        assert memcached_command(now.address, "get owner").find("car-1") > 0
        assert route.calls[-2][0] == "prepare" and route.calls[-1] == ("commit", first.id, now.id, {"port": 2})
        assert ("release", first.id, "car-1") in proto.calls
        pool.wait_refilled(30)
        st = pool.status()
        assert len(st["a"]["ready"]) == 1 and len(st["b"]["ready"]) == 1
        assert "car-1" in st["b"]["assigned"]
    finally:
        pool.shutdown()
    assert pool.status()["a"]["ready"] == []


def test_a_failing_state_load_rolls_back_and_the_old_instance_keeps_serving(pool_hosts, unique):
    proto = OwnerProtocol(fail_assign_on="b")
    pool = make_pool(pool_hosts, unique, proto, size=0)
    route = RecordingRouteSwitch()
    try:
        first = pool.assign("car-2", "a", route, {"port": 1})
        report = pool.migrate("car-2", "b", route, {"port": 2})
        assert not report.success and report.rolled_back
        assert "no state for car-2" in report.error
        assert report.details["instantiation"] == "cold"
        assert pool.instance_of("car-2") == first
        assert route.calls[-1][0] == "rollback"
        assert memcached_command(first.address, "get owner").find("car-2") > 0
    finally:
        pool.shutdown()


def test_pool_options_are_checked_naming_the_field(pool_hosts):
    hosts, ref = pool_hosts
    with pytest.raises(migrate.MigrationError) as err:
        migrate.ReplicaPool(hosts, {"image": ref, "network": "host"}, OwnerProtocol())
    assert "replica_pool.network" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.ReplicaPool(hosts, {"image": ref}, object())
    assert "ReplicaProtocol" in err.value.message


def test_manual_trigger_delivers_decisions_as_dicts():
    t = migrate.ManualTrigger()
    seen = []
    with pytest.raises(migrate.MigrationError):
        t.fire({"subject": "car-1", "to": "b"})      # not started
    t.start(seen.append)
    t.fire({"subject": "car-1", "from": "a", "to": "b", "reason": "test", "evidence": {"zone": 4}})
    assert seen == [{"subject": "car-1", "from": "a", "to": "b", "reason": "test", "evidence": {"zone": 4}}]
    with pytest.raises(migrate.MigrationError) as err:
        t.fire({"subject": "car-1"})
    assert "'to'" in err.value.message
    t.stop()
