"""The user-context transfer from Python (docs/mec.md): two app instances of one app on the MEC
platform emulator (app-a on mep1, app-b on mep2), each with a UserContextEndpoint offered in the
emulator's MEC011 registry; the emulator's AMS announces the car's move out of mep1, a
MecAmsTrigger turns it into a decision, and UserContextTransfer moves the car's context to app-b,
marks the AMS registration USER_CONTEXT_TRANSFER_COMPLETED and only then releases it at app-a.
A target that refuses loses nothing."""
import json
import pathlib
import queue
import urllib.request

import pytest

import migrate

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "mec"
CAR = "10.100.0.1"


def access_point_in(zone):
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    return next(z for z in s.zones if z["name"] == zone)["access_points"][0]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


@pytest.fixture
def platform():
    """The emulator (paused) with the app's two instances, and the platform options for them."""
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    with migrate.MecEmulator(s, base_path="/sbx1/mep1", time_scale=0.0) as emu:
        for inst, host in (("app-a", "mep1"), ("app-b", "mep2")):
            assert post(emu.url + "/sim/v1/appInstances",
                        {"appInstanceId": inst, "edgeHost": host, "appName": "counter"}) in (200, 201)
        base = emu.url[: -len("/sbx1/mep1")]
        yield emu, {"base_url": base, "sandbox": "sbx1/mep1"}


class Instance:
    """One instance of the app: users' contexts in a dict, an endpoint receiving them."""

    def __init__(self, platform_options, name, refuse=False):
        self.users = {}
        self.refuse = refuse
        self.endpoint = migrate.UserContextEndpoint(
            {"platform": platform_options, "app_instance_id": name}, self.on_context)

    def on_context(self, device, context, source):
        if self.refuse:
            raise RuntimeError("no room for " + device["value"])
        self.users[device["value"]] = context

    def export(self, device):
        return self.users[device["value"]]

    def release(self, device):
        del self.users[device["value"]]


def test_ams_decision_moves_the_context_and_marks_the_registration(platform):
    emu, opts = platform
    emu.force(CAR, access_point_in("zone01"))   # mep1's area
    a, b = Instance(opts, "app-a"), Instance(opts, "app-b")
    a.users[CAR] = {"zone_changes": 7, "zone": "zone01"}
    ams = migrate.AmsClient(opts["base_url"], sandbox=opts["sandbox"])
    reg = ams.register_app("app-a", [{"type": "UE_IPv4_ADDRESS", "value": CAR}])
    transfer = migrate.UserContextTransfer(
        {"platform": opts, "app_instance_id": "app-a", "app_mobility_service_id": reg["app_mobility_service_id"]},
        a.export, a.release)
    decisions = queue.Queue()
    trig = migrate.MecAmsTrigger({"platform": opts, "app_instance_id": "app-a",
                                  "app_instance_hosts": {"app-a": "a", "app-b": "b"}})
    with a.endpoint, b.endpoint, trig:
        trig.start(decisions.put)
        emu.force(CAR, access_point_in("zone04"))
        d = decisions.get(timeout=10)
        assert (d["subject"], d["from"], d["to"]) == (CAR, "a", "b")
        report = transfer.on_decision(d)
        assert report.success, report.to_text()
        assert [p["phase"] for p in report.to_dict()["phases"]] == ["prepare", "snapshot", "transfer", "verify", "cleanup"]
        assert b.users[CAR] == {"zone_changes": 7, "zone": "zone01"}
        assert CAR not in a.users
        assert b.endpoint.received == 1
        devices = ams.registration(reg["app_mobility_service_id"])["devices"]
        assert devices[0]["transfer_state"] == "USER_CONTEXT_TRANSFER_COMPLETED"


def test_a_refusing_target_keeps_the_user_at_the_source(platform):
    emu, opts = platform
    a, b = Instance(opts, "app-a"), Instance(opts, "app-b", refuse=True)
    a.users[CAR] = {"zone_changes": 3}
    ams = migrate.AmsClient(opts["base_url"], sandbox=opts["sandbox"])
    reg = ams.register_app("app-a", [{"type": "UE_IPv4_ADDRESS", "value": CAR}])
    transfer = migrate.UserContextTransfer(
        {"platform": opts, "app_instance_id": "app-a", "app_mobility_service_id": reg["app_mobility_service_id"]},
        a.export, a.release)
    with a.endpoint, b.endpoint:
        report = transfer.transfer(CAR, "app-b")
        assert not report.success
        assert report.rolled_back
        assert "no room for 10.100.0.1" in report.error
        assert a.users[CAR] == {"zone_changes": 3}
        devices = ams.registration(reg["app_mobility_service_id"])["devices"]
        assert devices[0]["transfer_state"] == "NOT_TRANSFERRED"
        # An instance nobody offered in the registry is named.
        missing = transfer.transfer({"type": "UE_IPv4_ADDRESS", "value": CAR}, "app-z")
        assert not missing.success and "user-context-app-z" in missing.error
    with pytest.raises(migrate.MigrationError, match="app_mobility_service_id"):
        migrate.UserContextTransfer({"platform": opts, "app_instance_id": "app-a"}, a.export)

