"""Testbed from Python, and a real memcached moved a -> b with checkpoint_move while a probe
measures the downtime (testbed MIGRATE_TESTBED, default mci)."""
import ipaddress
import os
import time

import pytest

import migrate


def test_testbed_attributes(testbed):
    net = ipaddress.ip_network(testbed.subnet)
    assert testbed.name == (os.environ.get("MIGRATE_TESTBED") or "mci")
    assert ipaddress.ip_address(testbed.client_address) in net
    hosts = testbed.hosts
    assert [h.name for h in hosts][:2] == ["a", "b"]
    for h in hosts:
        assert isinstance(h, migrate.TestbedHost)
        assert h.netns == f"{testbed.name}-{h.name}"
        assert ipaddress.ip_address(h.address) in net
        assert h.endpoint == "unix://" + h.socket
        assert os.path.exists(h.socket)
        assert h.dockerd_pid > 0
        assert h.to_dict()["address"] == h.address
    assert testbed.find("b") == hosts[1]
    with pytest.raises(migrate.MigrationError) as err:
        testbed.find("zz")
    assert err.value.code == "not_found"
    status = testbed.status()
    assert isinstance(status, dict)
    assert testbed.name in str(status)
    assert hosts[0].address in str(status)


def test_profiles_and_measured_throughput(testbed):
    before = testbed.profile
    try:
        testbed.set_profile("normal")
        normal = testbed.measure_throughput_mbps("b", 8 << 20)
        testbed.set_profile("congested")
        assert testbed.profile == "congested"
        congested = testbed.measure_throughput_mbps(testbed.find("b"), 4 << 20)
    finally:
        testbed.set_profile(before)
    assert 50 < congested < 110, congested          # HTB 100 Mbit
    assert normal > 2 * congested, (normal, congested)
    assert testbed.measurements["b"]["profile"] == "congested"
    with pytest.raises(migrate.MigrationError) as err:
        testbed.set_profile("lossy")
    assert err.value.code == "invalid_argument"


def test_testbed_up_and_down_from_python():
    name = f"py{os.getpid() % 10000}"
    lines = []
    tb = migrate.Testbed.up(name=name, hosts=1, replace=True, log=lines.append)
    try:
        assert [h.name for h in tb.hosts] == ["a"]
        assert any("up with 1 host" in line for line in lines)
        with pytest.raises(migrate.MigrationError) as err:
            migrate.Testbed.up(name=name, hosts=1)
        assert err.value.code == "already_exists"
        assert migrate.Testbed.open(name).subnet == tb.subnet
        tb.engine("a").ping()
    finally:
        migrate.Testbed.down(name)
    with pytest.raises(migrate.MigrationError) as err:
        migrate.Testbed.open(name)
    assert err.value.code == "not_found"
    with pytest.raises(migrate.MigrationError) as err:
        migrate.Testbed.up(name="Bad_Name")
    assert err.value.code == "invalid_argument"


def test_memcached_moves_a_to_b_with_every_key_and_a_measured_downtime(
        testbed, engine_a, engine_b, memcached_image, memcached_port, unique, discard):
    a, b = testbed.find("a"), testbed.find("b")
    name = f"{unique}-mc"
    discard(engine_a, name)
    discard(engine_b, name)
    port = str(memcached_port)
    spec = migrate.ContainerSpec(name=name, image=memcached_image,
                                 cmd=["-p", port, "-U", port, "-m", "32"], network_mode="host")
    engine_a.start(engine_a.create(spec))
    ds = migrate.MemcachedDataset(prefix="pyt", items=2000, value_size=256)
    try:
        client = migrate.MemcachedClient.connect(a.address, memcached_port, wait=5.0)
        client.load(ds)
        assert client.count_intact(ds) == ds.items
        del client   # CRIU cannot dump an established TCP connection
        time.sleep(0.2)

        events = []
        with migrate.MemcachedDowntimeProber(a.address, b.address, memcached_port, ds.key(0), ds.value(0),
                                             interval_ms=5) as prober:
            assert prober.wait_for_source(5.0), "memcached on a does not answer the UDP probe"
            t0 = time.monotonic()
            report = migrate.checkpoint_move(engine_a, engine_b, name, source_label="a", target_label="b",
                                             on_event=events.append)
            t1 = time.monotonic()
            assert report.success, report.to_text()
            assert prober.wait_for_target(10.0)
        report.downtime = prober.result()

        assert report.subject == name and (report.source, report.target) == ("a", "b")
        assert not report.rolled_back and report.error == ""
        assert report.downtime is not None
        assert 0 < report.downtime_ms < 10_000
        assert report.downtime.probes > 0
        assert report.downtime.probe_interval_ms == 5
        assert report.total_ms("relocate") > 0
        assert report.total_bytes("transfer") > 0       # at least the checkpoint images
        assert {p.phase for p in report.phases} >= {"prepare", "snapshot", "transfer", "restore", "relocate"}

        # on_event saw every phase begin and end, on monotonic time.
        assert {(e["kind"], e["phase"]) for e in events} >= {("begin", "relocate"), ("end", "relocate"),
                                                             ("end", "snapshot"), ("end", "restore")}
        assert all(t0 <= e["at"] <= t1 for e in events)
        assert all(e["error"] is None for e in events if e["kind"] == "end")

        client = migrate.MemcachedClient.connect(b.address, memcached_port, wait=5.0)
        found = client.count_intact(ds)
        del client
        report.add_state_check("memcached keys on b", ds.items, found)
        assert found == ds.items
        assert report.state_intact
        text = report.to_text()
        assert f"memcached keys on b: {ds.items} of {ds.items} present" in text
        assert "downtime" in text

        assert engine_b.inspect(name).running
        with pytest.raises(migrate.MigrationError) as err:
            engine_a.inspect(name)                        # removed once b confirmed
        assert err.value.code == "not_found"
    finally:
        discard(engine_a, name)
        discard(engine_b, name)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_failed_move_is_a_report_and_callback_errors_do_not_stop_it(engine_a, engine_b):
    def boom(event):
        raise ValueError("callback failed on purpose")

    report = migrate.checkpoint_move(engine_a, engine_b, "pyt-no-such-container", on_event=boom)
    assert not report.success
    assert report.error.startswith("not_found")
    assert "pyt-no-such-container" in report.error
    assert not report.rolled_back
    assert "callback failed on purpose" in report.details["on_event_error"]

    with pytest.raises(migrate.MigrationError) as err:
        migrate.checkpoint_move(engine_a, engine_b, "")
    assert err.value.code == "invalid_argument"
    assert "checkpoint_move_options.container" in err.value.message
