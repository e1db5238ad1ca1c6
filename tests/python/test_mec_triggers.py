"""The MEC triggers from Python: a MecLocationTrigger on the MEC platform emulator turns a forced
move of a UE into another edge host's zone into a decision dict delivered to a Python callback;
the triggers are accepted by FollowMe; bad options raise naming the field (docs/mec.md)."""
import pathlib
import threading

import pytest

import migrate

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "mec"


@pytest.fixture
def emulator():
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    with migrate.MecEmulator(s, time_scale=0.0) as emu:
        yield emu


def test_location_trigger_decides_in_python(emulator):
    got = []
    arrived = threading.Event()

    def on_decision(d):
        got.append(d)
        arrived.set()

    trig = migrate.MecLocationTrigger({"platform": {"base_url": emulator.url},
                                       "zone_hosts": {"zone01": "mep1", "zone04": "mep2"},
                                       "users": ["10.1.0.4"]})
    with trig:
        trig.start(on_decision)
        assert trig.host_of("10.1.0.4") == "mep2"
        assert len(trig.subscriptions()) == 2
        assert all(s["callback_url"].startswith(trig.callback_base) for s in trig.subscriptions())
        emulator.force("10.1.0.4", "4g-macro-cell-1")
        assert arrived.wait(5.0)
        d = got[0]
        assert (d["subject"], d["from"], d["to"]) == ("10.1.0.4", "mep2", "mep1")
        assert d["evidence"]["zone"] == "zone01"
        assert trig.stats()["decisions"] == 1
        assert trig.callback_errors == 0
    assert trig.subscriptions() == []


def test_mec_triggers_drive_follow_me_and_name_bad_options():
    ams = migrate.MecAmsTrigger({"app_instance_id": "a1", "app_instance_hosts": {"a1": "mep1", "a2": "mep2"}})
    rnis = migrate.MecRnisTrigger({"app_instance_id": "a1", "cell_hosts": {"ACBDEFA": "mep1"}})
    # The trigger is accepted: FollowMe complains about the pool, which comes next.
    for trig in (ams, rnis):
        with pytest.raises(migrate.MigrationError, match="FollowMe.pool"):
            migrate.FollowMe(trig, None, None)
    with pytest.raises(migrate.MigrationError, match="mec_location_trigger.watch"):
        migrate.MecLocationTrigger({"zone_hosts": {"zone01": "mep1"}, "watch": "sideways"})
    with pytest.raises(migrate.MigrationError, match="mec_rnis_trigger.cell_hosts"):
        migrate.MecRnisTrigger({"app_instance_id": "a1"})


def test_ams_trigger_decides_in_python():
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    apps = [{"id": "a1", "edge_host": "mep1", "app_name": "counter", "endpoints": [("10.2.0.10", 8080)]},
            {"id": "a2", "edge_host": "mep2", "app_name": "counter"}]
    got = []
    arrived = threading.Event()

    def on_decision(d):
        got.append(d)
        arrived.set()

    with migrate.MecEmulator(s, time_scale=0.0, app_instances=apps) as emu:
        # a2 on mep2 serves 10.1.0.4 (in zone04); the AMS announces it once it moves to zone01.
        with migrate.MecAmsTrigger({"platform": {"base_url": emu.url}, "app_instance_id": "a2",
                                    "devices": ["10.1.0.4"], "register_devices": True,
                                    "app_instance_hosts": {"a1": "mep1", "a2": "mep2"}}) as trig:
            trig.start(on_decision)
            emu.force("10.1.0.4", "4g-macro-cell-1")
            assert arrived.wait(5.0)
            d = got[0]
            assert (d["subject"], d["from"], d["to"]) == ("10.1.0.4", "mep2", "mep1")
            assert d["evidence"]["target_app_instance_id"] == "a1"
            assert trig.host_of("10.1.0.4") == "mep1"
