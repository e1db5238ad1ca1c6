"""The MEC platform emulator from Python: load the Monaco scenario, replay it, serve the
MEC013 Location API and get a zonal presence notification on a forced move (docs/mec-sim.md)."""
import http.server
import json
import pathlib
import threading
import urllib.request

import pytest

import migrate

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "mec"


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def test_scenario_load_and_replay():
    s = migrate.MecScenario.load(str(DATA / "monaco-4g-5g-wifi-macro.json"))
    assert s.name == "4g-5g-wifi-macro"
    assert len(s.zones) == 4
    assert sum(1 for a in s.access_points if a["type"] == "POA-WIFI") == 11
    car = next(u for u in s.ues if u["name"] == "10.100.0.1")
    loop_s = car["path_length_m"] / car["velocity_mps"]
    zones = [c["to_zone"] for c in s.replay(loop_s) if c["ue"] == "10.100.0.1" and c["from_zone"] != c["to_zone"]]
    assert len(set(zones)) >= 3
    with pytest.raises(migrate.MigrationError):
        migrate.MecScenario.load(str(DATA / "no-such.json"))


def test_emulator_serves_and_notifies():
    got = []
    arrived = threading.Event()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            arrived.set()

        def log_message(self, *args):
            pass

    listener = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
        with migrate.MecEmulator(s, base_path="/sbx1/mep1", time_scale=0) as emu:
            loc = emu.url + "/location/v2"
            assert len(_get(loc + "/queries/zones")["zoneList"]["zone"]) == 4
            user = _get(loc + "/queries/users?address=10.1.0.4")["userList"]["user"][0]
            assert user["zoneId"] == "zone04"
            status, sub = _post(loc + "/subscriptions/zonalTraffic", {"zonalTrafficSubscription": {
                "callbackReference": {"notifyURL": f"http://127.0.0.1:{listener.server_port}/n"}, "zoneId": "zone04"}})
            assert status == 201
            moved = emu.force("10.1.0.4", "4g-macro-cell-1")
            assert moved["zone"] == "zone01"
            assert arrived.wait(5)
            n = got[0]["zonalPresenceNotification"]
            assert n["userEventType"] == "Leaving"
            assert n["zoneId"] == "zone04"
            assert n["address"] == "10.1.0.4"
            with pytest.raises(migrate.MigrationError):
                emu.force("10.1.0.4", "no-such-cell")
    finally:
        listener.shutdown()
