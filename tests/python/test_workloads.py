"""The thesis workloads from Python: the zone server on loopback (read with urllib), A1/A2
configs and specs, the real A2 program on loopback probed with DowntimeProber (Python
callables on the prober's thread), and A2 moved a -> b on the testbed with the checkpoint
strategy through the agents while a DowntimeProber measures the downtime from outside."""
import gc
import http.client
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

import migrate


def bin_dir():
    """Where the build put its programs: MIGRATE_BIN_DIR (set by CTest), else <build>/examples
    next to the <build>/python this package was imported from."""
    env = os.environ.get("MIGRATE_BIN_DIR")
    return pathlib.Path(env) if env else pathlib.Path(migrate.__file__).resolve().parents[2] / "examples"


def a2_binary():
    path = bin_dir() / "workloads" / "migrate-a2-counter"
    if not path.exists():
        pytest.skip(f"{path} is not built (cmake --build <build> --target migrate-a2-counter)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


# --- the zone server on loopback ----------------------------------------------------------------

def test_zone_server_answers_the_zone_it_was_set_and_records_each_poll():
    with migrate.ZoneServer.start(zone="zone-1") as zones:
        assert zones.address == "127.0.0.1" and zones.port > 0
        assert zones.url() == f"http://127.0.0.1:{zones.port}/zone"
        assert get(zones.url("/location") + "?seq=1") == (200, "zone-1\n")
        zones.set_zone("zone-7")
        assert zones.zone == "zone-7"
        assert get(zones.url("/zone") + "?seq=2") == (200, "zone-7\n")
        with pytest.raises(urllib.error.HTTPError):
            get(zones.url("/elsewhere"))

        recs = zones.records()
        assert [(r.path, r.seq, r.zone, r.peer) for r in recs] == [
            ("/location", 1, "zone-1", "127.0.0.1"), ("/zone", 2, "zone-7", "127.0.0.1")]
        assert recs[0].at <= recs[1].at <= time.monotonic()
        assert recs[1].to_dict()["zone"] == "zone-7"
        assert (zones.answered, zones.refused) == (2, 1)
        assert len(zones.records_from("127.0.0.0/8")) == 2
        assert zones.records_from("10.1.2.0/24") == []
        zones.clear_records()
        assert zones.records() == [] and zones.answered == 2

        with pytest.raises(migrate.MigrationError) as err:
            zones.set_zone("two\nlines")
        assert err.value.code == "invalid_argument"
        assert zones.zone == "zone-7"
        with pytest.raises(migrate.MigrationError) as err:
            zones.records_from("10.1.2.0/33")
        assert "records_from.network" in err.value.message
        url = zones.url()
    with pytest.raises(urllib.error.URLError):   # stopped on exit
        get(url, timeout=0.5)


def test_zone_server_refuses_bad_options_naming_the_field():
    with pytest.raises(migrate.MigrationError) as err:
        migrate.ZoneServer.start(address="not-an-address")
    assert err.value.code == "invalid_argument" and "zone_server_options.address" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.ZoneServer.start(zone="")
    assert "zone_server_options.zone" in err.value.message
    with migrate.ZoneServer.start() as taken:
        with pytest.raises(migrate.MigrationError) as err:
            migrate.ZoneServer.start(port=taken.port)
        assert err.value.code == "io_error" and str(taken.port) in err.value.message


def test_a1_downtime_is_read_from_the_polls_of_two_source_addresses():
    # Two "hosts" on loopback (127.0.0.2 and 127.0.0.3) poll like A1; the source stops, the
    # target starts 0.3 s later: the zone server's records give that gap.
    def poll(zones, source, seq):
        c = http.client.HTTPConnection("127.0.0.1", zones.port, timeout=2, source_address=(source, 0))
        c.request("GET", f"/location?seq={seq}")
        assert c.getresponse().read() == b"zone-1\n"
        c.close()

    with migrate.ZoneServer.start() as zones:
        for seq in range(1, 4):
            time.sleep(0.02)
            poll(zones, "127.0.0.2", seq)
        gap_start = time.monotonic()
        time.sleep(0.3)
        poll(zones, "127.0.0.3", 4)
        gap = time.monotonic() - gap_start
        poll(zones, "127.0.0.3", 5)
        m = migrate.a1_downtime(zones.records(), source="127.0.0.2", target="127.0.0.3", interval_ms=20)
        assert isinstance(m, migrate.DowntimeMeasurement)
        assert 300 <= m.downtime_ms <= gap * 1000 + 1, (m.downtime_ms, gap)
        assert m.probes == 5 and m.probe_interval_ms == 20
        with pytest.raises(migrate.MigrationError) as err:
            migrate.a1_downtime(zones.records(), source="127.0.0.3", target="127.0.0.4")
        assert err.value.code == "not_found"
        with pytest.raises(migrate.MigrationError) as err:
            migrate.a1_downtime(zones.records(), source="127.0.0.0/8", target="127.0.0.3")
        assert err.value.code == "invalid_argument"
        assert migrate.in_network("127.0.0.3", "127.0.0.0/8")
        assert not migrate.in_network("127.0.0.3", "garbage")


# --- configs, specs, recipes -------------------------------------------------------------------

def test_a2_config_makes_the_spec_and_names_bad_fields():
    cfg = migrate.A2CounterConfig(zone_url="http://10.0.0.1:8000/zone", network="svc", volume="counter-vol",
                                  port=9090)
    assert (cfg.name, cfg.image, cfg.interval_ms, cfg.hold_max_ms) == ("a2-counter", "migrate-a2-counter:1", 200,
                                                                       30000)
    spec = migrate.a2_counter_spec(cfg)
    assert isinstance(spec, migrate.ContainerSpec)
    assert spec.network_mode == "svc"
    assert [(mt.source, mt.target) for mt in spec.mounts] == [("counter-vol", "/data")]
    assert spec.cmd[:4] == ["--zone-url", "http://10.0.0.1:8000/zone", "--port", "9090"]
    assert migrate.A2CounterConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    cfg.interval_ms = 40
    assert cfg.to_dict()["interval_ms"] == 40

    cfg.volume = ""
    with pytest.raises(migrate.MigrationError) as err:
        migrate.a2_counter_spec(cfg)
    assert err.value.code == "invalid_argument" and "a2_counter_config.volume" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.A2CounterConfig.from_dict({"port": "eighty"})
    assert "port" in err.value.message
    with pytest.raises(TypeError):
        migrate.A2CounterConfig(colour="red")

    a1 = migrate.A1PollerConfig(url="http://10.0.0.1:8000/location", network="svc", interval_ms=300)
    assert migrate.a1_poller_spec(a1).network_mode == "svc"
    with pytest.raises(migrate.MigrationError) as err:
        migrate.A1PollerConfig().validate()
    assert "a1_poller_config.url" in err.value.message


def test_workload_recipes_name_a_missing_binary():
    with pytest.raises(migrate.MigrationError) as err:
        migrate.a2_counter_recipe("/nonexistent/migrate-a2-counter")
    assert err.value.code == "not_found" and "/nonexistent/migrate-a2-counter" in err.value.message
    recipe = migrate.a2_counter_recipe(a2_binary())
    assert isinstance(recipe, migrate.ImageRecipe)
    assert any("migrate-a2-counter" in c for c in recipe.changes)


# --- DowntimeProber: Python callables on the prober's thread --------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_prober_with_a_python_probe_measures_the_gap_and_keeps_its_exceptions():
    # A "service" that answers at the source until `moved`, then (after 0.25 s) at the target.
    moved = threading.Event()
    state = {"target_up_at": None, "calls": 0}

    def probe(location):
        state["calls"] += 1
        if state["calls"] % 7 == 0:
            raise RuntimeError("probe failed on purpose")
        if location == 0:
            return not moved.is_set()
        up = state["target_up_at"]
        return up is not None and time.monotonic() >= up

    with migrate.DowntimeProber(probe, interval_ms=5) as prober:
        assert prober.wait_for_source(2.0)
        # Busy Python work on this thread: the probe thread must still get the GIL.
        end = time.monotonic() + 0.1
        while time.monotonic() < end:
            sum(range(1000))
        moved.set()
        state["target_up_at"] = time.monotonic() + 0.25
        assert prober.wait_for_target(3.0)
    m = prober.result()
    assert 250 <= m.downtime_ms < 600, m.downtime_ms
    assert m.probes > 10 and m.failures > 0
    assert prober.callback_errors > 0
    assert "probe failed on purpose" in prober.callback_error


def test_a_running_prober_with_a_python_probe_can_be_dropped_without_stopping_it():
    calls = []
    prober = migrate.DowntimeProber(lambda loc: calls.append(loc) or True, interval_ms=1)
    prober.start()
    assert eventually(lambda: len(calls) > 5, 2.0)
    del prober                 # joins the probe thread: must not deadlock on the GIL
    gc.collect()
    n = len(calls)
    time.sleep(0.05)
    assert len(calls) == n


def test_two_location_probe_asks_only_where_there_is_an_address():
    asked = []
    where = {"target": None}
    probe = migrate.two_location_probe("127.0.0.1", lambda: where["target"],
                                       lambda addr: asked.append(addr) or addr == "127.0.0.1")
    assert probe(0) and not probe(1)
    where["target"] = "127.0.0.9"
    assert not probe(1)
    assert asked == ["127.0.0.1", "127.0.0.9"]
    assert migrate.fixed_address("127.0.0.1")() == "127.0.0.1"
    with pytest.raises(migrate.MigrationError) as err:
        migrate.fixed_address("127.0.0.0/8")
    assert "fixed_address.address" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.two_location_probe(42, "127.0.0.1", bool)
    assert err.value.code == "invalid_argument" and "two_location_probe.source" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.DowntimeProber("not a probe")
    assert "DowntimeProber.probe" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.DowntimeProber(probe, interval_ms=0)
    assert "DowntimeProber.interval_ms" in err.value.message


# --- memcached on loopback: stats, settling, the UDP probes --------------------------------------

def test_memcached_stats_settling_and_udp_probes_on_loopback():
    port = free_port()
    proc = subprocess.Popen(["memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", str(port),
                             "-m", "16"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = migrate.MemcachedClient.connect("127.0.0.1", port, wait=5.0)
        ds = migrate.MemcachedDataset(prefix="pyt-udp", items=500, value_size=100)
        client.load(ds)
        client.wait_settled(patience=10.0)
        items = client.stats("items")
        assert all(v == 0 for k, v in items.items() if k.endswith(":number_hot")), items
        assert client.stats()["curr_items"] == ds.items
        assert migrate.memcached_udp_get("127.0.0.1", port, ds.key(7), ds.value(7), timeout=0.5)
        assert not migrate.memcached_udp_get("127.0.0.1", port, ds.key(7), "something else", timeout=0.5)
        assert migrate.memcached_udp_version("127.0.0.1", port, timeout=0.5)
        del client
    finally:
        proc.terminate()
        proc.wait(5)
    assert not migrate.memcached_udp_version("127.0.0.1", port, timeout=0.1)


# --- the real A2 program on loopback ------------------------------------------------------------

class A2OnLoopback:
    def __init__(self, zones, tmp_path):
        self.zones, self.port, self.data = zones, free_port(), tmp_path / "data"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [str(a2_binary()), "--zone-url", self.zones.url("/zone"), "--port", str(self.port),
             "--data", str(self.data), "--interval-ms", "40"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert eventually(lambda: self.count() is not None, 5.0), "A2 does not answer its UDP count"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(5)

    def count(self):
        try:
            return migrate.a2_udp_count("127.0.0.1", self.port, timeout=0.1)
        except migrate.MigrationError:
            return None

    def change_zone(self, zone):
        before = self.count()
        self.zones.set_zone(zone)
        assert eventually(lambda: self.count() == before + 1, 3.0), zone


def test_a2_on_loopback_counts_zones_and_a_prober_following_it_sees_the_restart(tmp_path):
    with migrate.ZoneServer.start() as zones:
        a2 = A2OnLoopback(zones, tmp_path)
        try:
            a2.start()
            assert eventually(lambda: zones.answered >= 2, 3.0)
            for z in (2, 3, 4):
                a2.change_zone(f"zone-{z}")
            st = migrate.a2_get_state("127.0.0.1", a2.port)
            assert (st.count, st.zone, st.phase, st.starts) == (3, "zone-4", "running", 1)
            assert migrate.a2_get_count("127.0.0.1", a2.port) == 3
            migrate.a2_change_phase("127.0.0.1", a2.port, "pre-relocation-end")
            assert migrate.a2_get_state("127.0.0.1", a2.port).writes_held
            migrate.a2_change_phase("127.0.0.1", a2.port, "running")
            with pytest.raises(migrate.MigrationError) as err:
                migrate.a2_change_phase("127.0.0.1", a2.port, "dancing")
            assert err.value.code == "invalid_argument"

            # "Moved" by a cold restart with the same data: where the service is comes from
            # Python locators (the source has it until the stop, the target from then on);
            # the probe itself is C++ (the A2 UDP count).
            where = {"source": "127.0.0.1", "target": None}
            probe = migrate.a2_probe(lambda: where["source"], lambda: where["target"], a2.port, timeout=0.05)
            with migrate.DowntimeProber(probe, interval_ms=10) as prober:
                assert prober.wait_for_source(2.0)
                stopped_at = time.monotonic()
                a2.stop()
                where.update(source=None, target="127.0.0.1")
                time.sleep(0.2)
                a2.start()
                assert prober.wait_for_target(5.0)
                answered_by = time.monotonic()
            m = prober.result()
            assert 200 <= m.downtime_ms <= (answered_by - stopped_at) * 1000 + 20, m.downtime_ms
            assert "A2 UDP count" in m.method and prober.callback_errors == 0
            after = migrate.a2_get_state("127.0.0.1", a2.port)
            check = migrate.a2_counter_check(3, after)
            assert check.ok and after.count == 3
            assert after.starts == 2          # a cold start: the counter came from the data dir
            assert not migrate.a2_counter_check(4, after).ok
        finally:
            a2.stop()


# --- A2 moved a -> b on the testbed with the checkpoint strategy through the agents ------------

A2_REF = "pyt-a2-counter:1"
A2_PORT = 8080


def test_a2_moves_a_to_b_by_checkpoint_through_the_agents_and_its_counter_resumes(
        testbed, engine_a, engine_b, unique, discard):
    a, b = testbed.find("a"), testbed.find("b")
    if not (a.agent and b.agent):
        pytest.fail(f"testbed {testbed.name} runs no agents: bring it up with `migrate-testbed up --agents`")
    if not a.service_network:
        pytest.fail(f"testbed {testbed.name} has no service networks: bring it up again with this build")
    try:
        engine_a.inspect_image(A2_REF)
    except migrate.MigrationError:
        migrate.build_image(engine_a, migrate.a2_counter_recipe(a2_binary()), A2_REF)
    name, volume = f"{unique}-a2", f"{unique}-a2-data"

    def cleanup():
        for e in (engine_a, engine_b):
            discard(e, name)
            try:
                e.remove_volume(volume, True)
            except migrate.MigrationError:
                pass

    cleanup()
    with migrate.ZoneServer.start(address=testbed.client_address) as zones:
        try:
            cfg = migrate.A2CounterConfig(name=name, image=A2_REF, zone_url=zones.url("/zone"),
                                          network=a.service_network, volume=volume, port=A2_PORT)
            engine_a.create_volume(volume)
            engine_a.start(engine_a.create(migrate.a2_counter_spec(cfg)))
            at_a = migrate.container_address_locator(a.socket, name, a.service_network)
            at_b = migrate.container_address_locator(b.socket, name, b.service_network)
            assert eventually(lambda: at_a() is not None, 10.0)
            addr_a = at_a()
            assert migrate.in_network(addr_a, a.service_subnet)

            def count(addr):
                try:
                    return migrate.a2_udp_count(addr, A2_PORT)
                except migrate.MigrationError:
                    return None

            assert eventually(lambda: count(addr_a) is not None, 10.0)
            for z in (2, 3, 4):
                c = count(addr_a)
                zones.set_zone(f"zone-{z}")
                assert eventually(lambda: count(addr_a) == c + 1, 5.0)
            before = migrate.a2_udp_count(addr_a, A2_PORT)
            assert before == 3

            request = migrate.MigrationRequest(
                testbed.edge_host("a"), testbed.edge_host("b"), name,
                phase_hook_url=f"http://{addr_a}:{A2_PORT}/changePhase", phase_hook_required=True,
                transport=migrate.agent_transport(token=testbed.agent_token()))
            with migrate.DowntimeProber(migrate.a2_probe(at_a, at_b, A2_PORT), interval_ms=10) as prober:
                assert prober.wait_for_source(5.0)
                report = migrate.run_migration(migrate.make_migrator("checkpoint"), request)
                assert report.success, report.to_text()
                assert prober.wait_for_target(10.0)
            report.downtime = prober.result()
            assert report.details["transport"] == "agent"
            # Migration aware: told when preparation started and ended (flush and hold).
            assert [c["outcome"] for c in report.details["phase_hook"]] == ["HTTP 200", "HTTP 200"]
            assert report.downtime is not None and 0 < report.downtime_ms < 10_000
            assert report.downtime.probes > 0

            addr_b = at_b()
            assert addr_b and migrate.in_network(addr_b, b.service_subnet)

            def resumed():
                try:
                    st = migrate.a2_get_state(addr_b, A2_PORT)
                    return st.phase == "running" and not st.writes_held
                except migrate.MigrationError:
                    return False

            assert eventually(resumed, 5.0)
            after = migrate.a2_get_state(addr_b, A2_PORT)
            check = migrate.a2_counter_check(before, after)
            report.add_state_check(check.what, check.expected, check.found)
            assert report.state_intact, report.to_text()
            assert after.count == before
            assert after.starts == 1          # restored from its checkpoint, not started again
            assert after.address == addr_b
            print(report.to_text())           # pytest -s shows the phases and the downtime
            zones.set_zone("zone-5")          # and it counts on at b
            assert eventually(lambda: count(addr_b) == before + 1, 5.0)
            with pytest.raises(migrate.MigrationError) as err:
                engine_a.inspect(name)
            assert err.value.code == "not_found"
        finally:
            cleanup()
