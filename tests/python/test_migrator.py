"""The migration strategy API from Python against the real testbed (MIGRATE_TESTBED, default
mci): list_strategies / make_migrator, EdgeHost from the testbed, MigrationRequest, and
real moves a -> b (a counter keeping its state in a named volume; memcached for the
strategies that keep memory), prepare + relocate, prepare + rollback, cancellation."""
import io
import itertools
import tarfile
import time

import pytest

import migrate

# Every strategy of the project's issue; those this build does not register are skipped.
# Strategies registered but not listed here are smoke-tested too (see _smoke_names).
KNOWN_STRATEGIES = ["export_import", "commit_save_load", "checkpoint", "shared_fs"]

# Options a strategy needs to run on the testbed, beyond its defaults, from a scratch dir.
# shared_fs: the testbed's hosts share this machine's filesystem, so any directory is a path
# both hosts see.
SMOKE_OPTIONS = {
    "shared_fs": lambda scratch: {"shared_root": str(scratch)},
}

SMOKE_MEMCACHED_PORT = 11512  # test_testbed_move uses 11511

# A user-state counter (the A2 in miniature): resumes from /data/n, adds one every
# 100 ms. The write goes through a rename, so a reader never sees a half-written file. As
# PID 1, sh ignores SIGTERM unless it traps it; the trap makes the source's stop graceful.
COUNTER_SCRIPT = (
    'trap "exit 0" TERM; '
    "n=$(cat /data/n 2>/dev/null || echo 0); "
    "while true; do n=$((n+1)); echo $n > /data/n.tmp; mv /data/n.tmp /data/n; sleep 0.1; done"
)
COUNTER_SEED = 1000
_counters = itertools.count()


def _smoke_names():
    registered = [s.name for s in migrate.list_strategies()]
    return KNOWN_STRATEGIES + [n for n in registered if n not in KNOWN_STRATEGIES]


def _not_found(fn, *args):
    try:
        fn(*args)
    except migrate.MigrationError as e:
        if e.code != "not_found":
            raise
        return True
    return False


def _tar_with(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_counter(engine, volume, tmp_path):
    """The counter in `volume`, read through export_volume (the API has no exec)."""
    path = tmp_path / f"{volume}-{time.monotonic_ns()}.tar"
    engine.export_volume(volume, path)
    try:
        with tarfile.open(path) as tar:
            member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "n")
            return int(tar.extractfile(member).read().decode().strip())
    finally:
        path.unlink()


def wait_counter_above(engine, volume, value, tmp_path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        n = read_counter(engine, volume, tmp_path)
        if n > value or time.monotonic() > deadline:
            return n
        time.sleep(0.15)


def _cleanup(engines, name):
    """Removes the container, its volume and every image named after it, on every engine."""
    for e in engines:
        _not_found(e.remove, name, True)
        _not_found(e.remove_volume, name, True)
        for img in e.list_images():
            if any(name in t for t in img.tags):
                _not_found(e.remove_image, img.id, True)


def _nothing_of(engine, name):
    assert _not_found(engine.inspect, name), f"container {name} left on {engine.endpoint}"
    assert _not_found(engine.inspect_volume, name), f"volume {name} left on {engine.endpoint}"
    assert not [i for i in engine.list_images() if any(name in t for t in i.tags)]


@pytest.fixture
def hosts(testbed):
    return testbed.edge_host("a"), testbed.edge_host("b")


@pytest.fixture
def counter(engine_a, engine_b, busybox_image, unique, tmp_path):
    """A running counter on a whose volume (same name as the container) starts at COUNTER_SEED."""
    name = f"{unique}-counter{next(_counters)}"
    _cleanup([engine_a, engine_b], name)
    engine_a.create_volume(name, {"pyt": "1"})
    seed = tmp_path / "seed.tar"
    seed.write_bytes(_tar_with("n", f"{COUNTER_SEED}\n".encode()))
    engine_a.import_volume(name, seed)
    spec = migrate.ContainerSpec(name=name, image=busybox_image, cmd=["sh", "-c", COUNTER_SCRIPT],
                                 mounts=[migrate.MountSpec(name, "/data")])
    engine_a.start(engine_a.create(spec))
    try:
        assert wait_counter_above(engine_a, name, COUNTER_SEED, tmp_path) > COUNTER_SEED, "the counter does not count"
        yield name
    finally:
        _cleanup([engine_a, engine_b], name)


# --- the registry ---------------------------------------------------------------------------

def test_list_strategies_has_export_import_with_its_caps():
    infos = migrate.list_strategies()
    assert all(isinstance(s, migrate.StrategyInfo) for s in infos)
    names = [s.name for s in infos]
    assert len(set(names)) == len(names)
    ei = next(s for s in infos if s.name == "export_import")
    assert ei.caps["keeps_volumes"] is True
    assert ei.caps["keeps_config"] is True
    assert ei.caps["keeps_memory"] is False
    assert ei.caps["needs_criu"] is False
    assert ei.caps["keeps_filesystem"] is False         # writes after the export are lost by default
    assert "export" in ei.caps["summary"]
    assert ei.default_options == {"image_prefix": "migrate/export", "export_in_downtime": False}
    assert ei.to_dict() == {"name": "export_import", "caps": ei.caps, "default_options": ei.default_options}

    m = migrate.make_migrator("export_import", {"export_in_downtime": True})
    assert isinstance(m, migrate.Migrator)
    assert m.name == "export_import"
    assert m.options == {"image_prefix": "migrate/export", "export_in_downtime": True}
    assert m.caps["keeps_filesystem"] is True            # the options change what it keeps
    assert migrate.make_migrator("export_import").options == ei.default_options


def test_unknown_strategy_and_bad_options_name_what_is_wrong():
    with pytest.raises(migrate.MigrationError) as err:
        migrate.make_migrator("teleport")
    assert err.value.code == "not_found"
    assert "teleport" in err.value.message
    for s in migrate.list_strategies():
        assert s.name in err.value.message            # lists the known names

    with pytest.raises(migrate.MigrationError) as err:
        migrate.make_migrator("export_import", {"export_in_downtime": "yes"})
    assert err.value.code == "invalid_argument"
    assert "export_import.export_in_downtime" in err.value.message

    with pytest.raises(migrate.MigrationError) as err:
        migrate.make_migrator("export_import", {"image_prefix": "bad:prefix"})
    assert err.value.code == "invalid_argument"
    assert "export_import.image_prefix" in err.value.message

    with pytest.raises(migrate.MigrationError) as err:      # a typo is not silently a default
        migrate.make_migrator("export_import", {"export_in_dowtime": True})
    assert err.value.code == "invalid_argument"
    assert "export_import.export_in_dowtime" in err.value.message
    assert "export_in_downtime" in err.value.message.split("known:")[1]

    with pytest.raises(migrate.MigrationError) as err:
        migrate.make_migrator("export_import", ["not", "a", "dict"])
    assert err.value.code == "invalid_argument"
    assert "make_migrator.options" in err.value.message


def test_edge_hosts_and_request_validation(testbed, engine_a, hosts):
    a, b = hosts
    ta = testbed.find("a")
    assert (a.name, a.address, a.work_dir) == ("a", ta.address, ta.work_dir)
    assert a.endpoint == ta.endpoint
    assert a.agent == ta.agent
    assert a.to_dict() == {"name": "a", "address": ta.address, "endpoint": ta.endpoint, "work_dir": ta.work_dir,
                           "agent": ta.agent}
    by_hand = migrate.EdgeHost("a2", ta.address, engine_a, "/var/tmp/pyt")
    assert by_hand.endpoint == engine_a.endpoint

    r = migrate.MigrationRequest(a, b, "svc")
    assert (r.container, r.target_name, r.remove_source, r.stop_timeout_s) == ("svc", "", True, 3)
    assert (r.phase_hook_url, r.phase_hook_timeout_ms, r.phase_hook_required) == ("", 2000, False)
    assert r.on_event is None and r.source.name == "a" and r.target.name == "b"

    def invalid(field, **kw):
        args = dict(source=a, target=b, container="svc")
        args.update(kw)
        with pytest.raises(migrate.MigrationError) as err:
            migrate.MigrationRequest(**args)
        assert err.value.code == "invalid_argument"
        assert field in err.value.message, err.value.message

    invalid("migration_request.container", container="")
    invalid("migration_request.target", target=a)                  # the same engine on both sides
    invalid("migration_request.phase_hook.url", phase_hook_url="ftp://x")
    invalid("migration_request.stop_timeout", stop_timeout_s=-1)
    with pytest.raises(migrate.MigrationError) as err:
        migrate.EdgeHost("", ta.address, engine_a, "/var/tmp/pyt")
    assert "EdgeHost.name" in err.value.message

    r.container = ""                                               # attributes are checked at use
    with pytest.raises(migrate.MigrationError) as err:
        migrate.run_migration(migrate.make_migrator("export_import"), r)
    assert err.value.code == "invalid_argument"
    with pytest.raises(migrate.MigrationError) as err:
        migrate.run_migration(migrate.make_migrator("export_import"), migrate.MigrationRequest(a, b, "x"),
                              cancel="soon")
    assert "cancel" in err.value.message


# --- export_import, real moves ----------------------------------------------------------------

def test_export_import_moves_the_counter_and_it_resumes(hosts, engine_a, engine_b, counter, tmp_path):
    a, b = hosts
    events = []
    m = migrate.make_migrator("export_import")
    before = read_counter(engine_a, counter, tmp_path)
    t0 = time.monotonic()
    report = migrate.run_migration(m, migrate.MigrationRequest(a, b, counter, stop_timeout_s=1,
                                                               on_event=events.append))
    t1 = time.monotonic()
    assert report.success, report.to_text()
    assert (report.strategy, report.subject, report.source, report.target) == ("export_import", counter, "a", "b")
    assert not report.rolled_back and report.error == ""
    assert {p.phase for p in report.phases} >= {"prepare", "transfer", "freeze", "restore", "relocate", "cleanup"}
    transfers = [p.detail for p in report.phases if p.phase == "transfer"]
    assert any("filesystem" in d for d in transfers) and any(counter in d for d in transfers), transfers
    assert report.total_bytes("transfer") > 0
    assert report.details["options"] == m.options

    # on_event saw the phases begin and end, on the monotonic clock, without errors.
    assert {(e["kind"], e["phase"]) for e in events} >= {("begin", "prepare"), ("end", "prepare"),
                                                         ("begin", "relocate"), ("end", "relocate")}
    assert all(t0 <= e["at"] <= t1 for e in events)
    assert all(e["error"] is None for e in events if e["kind"] == "end")

    # The counter resumed on b from where it was (a restart would count from 0), and counts.
    assert engine_b.inspect(counter).running
    assert _not_found(engine_a.inspect, counter)                    # removed once b confirmed
    resumed = read_counter(engine_b, counter, tmp_path)
    assert resumed >= before > COUNTER_SEED, (before, resumed)
    assert wait_counter_above(engine_b, counter, resumed, tmp_path) > resumed
    report.add_state_check("counter resumed on b", before, min(resumed, before))
    assert report.state_intact


def test_prepare_then_relocate_in_two_stages(hosts, engine_a, engine_b, counter, tmp_path):
    a, b = hosts
    m = migrate.make_migrator("export_import", {"image_prefix": "pyt/export"})
    p = m.prepare(migrate.MigrationRequest(a, b, counter, target_name=counter, stop_timeout_s=1))
    assert isinstance(p, migrate.Prepared)
    assert p.strategy == "export_import" and not p.relocated
    assert p.source.name == counter and p.source.running
    assert isinstance(p.target_spec, migrate.ContainerSpec)
    assert p.target_spec.image.startswith(f"pyt/export/{counter}:")
    assert p.target_images == [p.target_spec.image]
    assert isinstance(p.state, dict)
    # Prepared: filesystem imported, container created (not started) on b; a still counts.
    assert p.target_id and engine_b.inspect(p.target_id).status == "created"
    assert engine_a.inspect(counter).running
    assert p.report.phases[-1].phase == "prepare" and not p.report.success

    report = m.relocate(p)
    assert report.success, report.to_text()
    assert p.relocated and p.report.success
    assert engine_b.inspect(counter).id == p.target_id
    assert read_counter(engine_b, counter, tmp_path) > COUNTER_SEED

    with pytest.raises(migrate.MigrationError) as err:
        m.relocate(p)
    assert err.value.code == "invalid_argument" and "already relocated" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        m.rollback(p)                                   # would remove the only running copy
    assert err.value.code == "invalid_argument" and "already relocated" in err.value.message
    assert engine_b.inspect(counter).running


def test_prepare_then_rollback_leaves_the_source_running_and_nothing_on_b(
        hosts, engine_a, engine_b, counter, tmp_path):
    a, b = hosts
    m = migrate.make_migrator("export_import")
    p = m.prepare(migrate.MigrationRequest(a, b, counter, stop_timeout_s=1))
    assert p.target_id and p.target_images and p.target_volumes == [counter]
    assert engine_b.inspect(counter).status == "created"
    before = read_counter(engine_a, counter, tmp_path)

    others = [s.name for s in migrate.list_strategies() if s.name != "export_import"]
    if others:                                          # a Prepared belongs to the strategy that made it
        with pytest.raises(migrate.MigrationError) as err:
            migrate.make_migrator(others[0]).rollback(p)
        assert err.value.code == "invalid_argument" and "belongs to strategy" in err.value.message

    report = m.rollback(p)
    assert report.rolled_back
    assert any("source still running" in line for line in report.details["rollback"])
    assert "rollback" in {ph.phase for ph in report.phases}
    assert engine_a.inspect(counter).running
    assert wait_counter_above(engine_a, counter, before, tmp_path) > before   # still counting
    _nothing_of(engine_b, counter)

    with pytest.raises(migrate.MigrationError) as err:
        m.relocate(p)                                   # would stop the source for nothing
    assert err.value.code == "invalid_argument" and "rolled back" in err.value.message


def test_a_cancelled_migration_leaves_the_source_as_it_was(hosts, engine_a, engine_b, counter, tmp_path):
    a, b = hosts
    token = migrate.CancelToken()
    assert not token.cancelled
    token.cancel()
    assert token.cancelled
    report = migrate.run_migration(migrate.make_migrator("export_import"),
                                   migrate.MigrationRequest(a, b, counter, stop_timeout_s=1), cancel=token)
    assert not report.success
    assert report.error.startswith("cancelled"), report.error
    assert report.rolled_back
    assert engine_a.inspect(counter).running
    _nothing_of(engine_b, counter)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_failures_are_reports_and_callback_errors_do_not_stop_a_move(hosts):
    a, b = hosts

    def boom(event):
        raise ValueError("callback failed on purpose")

    report = migrate.run_migration(migrate.make_migrator("export_import"),
                                   migrate.MigrationRequest(a, b, "pyt-no-such-container", on_event=boom))
    assert not report.success
    assert report.error.startswith("not_found") and "pyt-no-such-container" in report.error
    assert "callback failed on purpose" in report.details["on_event_error"]

    with pytest.raises(migrate.MigrationError) as err:
        migrate.make_migrator("export_import").prepare(migrate.MigrationRequest(a, b, "pyt-no-such-container"))
    assert err.value.code == "not_found"



# --- the agent transport --------------------------------------------------------------------

def test_transport_objects_and_bad_input(hosts):
    a, b = hosts
    local = migrate.local_transport()
    assert local.name == "local" and repr(local) == "<Transport local>"
    req = migrate.MigrationRequest(a, b, "pyt-x")
    assert req.transport is None                        # the local transport
    req.transport = local
    assert req.transport.name == "local"
    req.transport = None
    assert req.transport is None
    with pytest.raises(migrate.MigrationError) as err:
        migrate.MigrationRequest(a, b, "pyt-x", transport="agent")
    assert err.value.code == "invalid_argument" and "MigrationRequest.transport" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.agent_transport(token="")
    assert err.value.code == "invalid_argument" and "token" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.agent_transport(token="t", stall_timeout_ms=5)
    assert err.value.code == "invalid_argument" and "stall_timeout" in err.value.message


def test_agent_transport_moves_the_counter_over_the_link_and_the_report_shows_the_bytes(
        testbed, hosts, engine_a, engine_b, counter, tmp_path):
    a, b = hosts
    assert a.agent and b.agent, "the testbed runs no agents: bring it up with --agents"
    t = migrate.agent_transport(token=testbed.agent_token(), stall_timeout_ms=5000)
    assert t.name == "agent"
    req = migrate.MigrationRequest(a, b, counter, stop_timeout_s=1, transport=t)
    assert req.transport.name == "agent" and repr(req).endswith("via agent>")
    before = read_counter(engine_a, counter, tmp_path)
    report = migrate.run_migration(migrate.make_migrator("export_import"), req)
    assert report.success, report.to_text()
    assert report.details["transport"] == "agent"
    # The filesystem in prepare and the volume in the downtime went agent to agent, each
    # stream checked end to end, and the report has their bytes.
    phases = [p.to_dict() for p in report.phases if p.phase == "transfer"]
    in_downtime = [p for p in phases if p["stage"] == "relocate" and counter in p["detail"]]
    assert in_downtime and in_downtime[0]["bytes"] > 0, phases
    assert any(p["stage"] == "prepare" and p["bytes"] > 0 for p in phases), phases
    assert report.total_bytes("transfer") == sum(p["bytes"] for p in phases)
    assert all(len(x["stats"]["sha256"]) == 64 for x in report.details["transfers"])
    # No memory is carried (the report says so); the counter resumed from its volume on b.
    assert report.details["keeps"]["memory"] is False and "not kept: memory" in report.to_text()
    assert engine_b.inspect(counter).running
    assert _not_found(engine_a.inspect, counter)
    resumed = read_counter(engine_b, counter, tmp_path)
    assert resumed >= before > COUNTER_SEED, (before, resumed)
    assert wait_counter_above(engine_b, counter, resumed, tmp_path) > resumed

# --- every registered strategy: a smoke move --------------------------------------------------
# Strategies whose caps keep memory move a loaded memcached and must bring every key along;
# the others move the counter, which must resume when they keep volumes. Names this build
# does not register are skipped, so the test grows as strategies land.

@pytest.mark.parametrize("strategy", _smoke_names())
def test_smoke_move_with_every_registered_strategy(
        strategy, testbed, hosts, engine_a, engine_b, busybox_image, memcached_image, unique, tmp_path):
    infos = {s.name: s for s in migrate.list_strategies()}
    if strategy not in infos:
        pytest.skip(f"strategy {strategy} is not registered in this build (registered: {sorted(infos)})")
    caps = infos[strategy].caps
    shared = tmp_path / "shared"
    shared.mkdir()
    m = migrate.make_migrator(strategy, SMOKE_OPTIONS.get(strategy, lambda _: {})(shared))
    a, b = hosts
    name = f"{unique}-smoke-{strategy.replace('_', '-')}"
    _cleanup([engine_a, engine_b], name)
    try:
        if caps["keeps_memory"]:
            _smoke_memcached(m, a, b, engine_a, engine_b, memcached_image, name)
        else:
            _smoke_counter(m, caps, a, b, engine_a, engine_b, busybox_image, name, tmp_path)
    finally:
        _cleanup([engine_a, engine_b], name)


def _smoke_memcached(m, a, b, engine_a, engine_b, image, name):
    port = str(SMOKE_MEMCACHED_PORT)
    engine_a.start(engine_a.create(migrate.ContainerSpec(
        name=name, image=image, cmd=["-p", port, "-U", port, "-m", "32"], network_mode="host")))
    ds = migrate.MemcachedDataset(prefix="pyts", items=1000, value_size=256)
    client = migrate.MemcachedClient.connect(a.address, SMOKE_MEMCACHED_PORT, wait=5.0)
    client.load(ds)
    del client  # CRIU does not dump an established TCP connection
    time.sleep(0.2)
    report = migrate.run_migration(m, migrate.MigrationRequest(a, b, name, stop_timeout_s=1))
    assert report.success, report.to_text()
    client = migrate.MemcachedClient.connect(b.address, SMOKE_MEMCACHED_PORT, wait=5.0)
    found = client.count_intact(ds)
    del client
    assert found == ds.items, f"{found} of {ds.items} keys on b"
    assert engine_b.inspect(name).running
    assert _not_found(engine_a.inspect, name)           # removed once b confirmed


def _smoke_counter(m, caps, a, b, engine_a, engine_b, image, name, tmp_path):
    engine_a.create_volume(name)
    seed = tmp_path / "seed.tar"
    seed.write_bytes(_tar_with("n", f"{COUNTER_SEED}\n".encode()))
    engine_a.import_volume(name, seed)
    engine_a.start(engine_a.create(migrate.ContainerSpec(
        name=name, image=image, cmd=["sh", "-c", COUNTER_SCRIPT], mounts=[migrate.MountSpec(name, "/data")])))
    before = wait_counter_above(engine_a, name, COUNTER_SEED, tmp_path)
    report = migrate.run_migration(m, migrate.MigrationRequest(a, b, name, stop_timeout_s=1))
    assert report.success, report.to_text()
    assert engine_b.inspect(name).running
    assert _not_found(engine_a.inspect, name)           # removed once b confirmed
    after = wait_counter_above(engine_b, name, before, tmp_path)
    if caps["keeps_volumes"]:
        assert after > before, (before, after)          # resumed, not restarted
