"""The MEC platform emulator from Python: load the Monaco scenario, replay it, serve the
MEC013 Location API and get a zonal presence notification on a forced move (docs/mec-sim.md)."""
import http.server
import json
import pathlib
import threading
import urllib.error
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


def _put(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def _status_of(fn, *args):
    try:
        return fn(*args)[0]
    except urllib.error.HTTPError as e:
        return e.code


APPS = [{"id": "a1", "edge_host": "mep1", "app_name": "counter", "endpoints": [("10.2.0.10", 8080)],
         "traffic_rules": [{"trafficRuleId": "r1", "trafficFilter": [{"dstAddress": ["10.1.0.0/16"]}]}]},
        {"id": "a2", "edge_host": "mep2", "app_name": "counter"}]


def test_emulator_traffic_rules_from_python():
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    with migrate.MecEmulator(s, time_scale=0, app_instances=APPS) as emu:
        assert [a["id"] for a in emu.app_instances()] == ["a1", "a2"]
        rule = emu.traffic_rules("a1")[0]
        assert rule["state"] == "ACTIVE" and rule["filterType"] == "FLOW"
        rule["state"] = "INACTIVE"
        url = emu.url + "/mec_app_support/v1/applications/a1/traffic_rules/r1"
        assert _put(url, rule)[0] == 200
        assert emu.traffic_rules("a1")[0]["state"] == "INACTIVE"
        rule["state"] = "OFF"
        assert _status_of(_put, url, rule) == 400
        with pytest.raises(migrate.MigrationError):
            emu.traffic_rules("nobody")
        emu.add_app_instance({"id": "a3", "edge_host": "mep1"})
        with pytest.raises(migrate.MigrationError):
            emu.add_app_instance({"id": "a4", "edge_host": "mep9"})
        assert len(emu.app_instances()) == 3
    with migrate.MecEmulator(s, time_scale=0, app_instances=APPS, serve_traffic_rules=False) as emu:
        assert _status_of(_get_status, emu.url + "/mec_app_support/v1/applications/a1/traffic_rules") == 501


def _get_status(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, json.loads(r.read())


def test_emulator_ams_and_rnis_notify_from_python():
    got = []
    cond = threading.Condition()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()
            with cond:
                got.append((self.path, body))
                cond.notify_all()

        def log_message(self, *args):
            pass

    listener = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    back = f"http://127.0.0.1:{listener.server_port}"
    try:
        s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
        with migrate.MecEmulator(s, time_scale=0, app_instances=APPS) as emu:
            status, reg = _post(emu.url + "/amsi/v1/app_mobility_services", {
                "serviceConsumerId": {"appInstanceId": "a2"},
                "deviceInformation": [{"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.1.0.4"}}]})
            assert status == 201 and reg["appMobilityServiceId"]
            assert _post(emu.url + "/amsi/v1/subscriptions", {
                "subscriptionType": "MobilityProcedureSubscription", "callbackReference": back + "/ams",
                "filterCriteria": {"appInstanceId": "a2"}})[0] == 201
            status, sub = _post(emu.url + "/rni/v2/subscriptions", {
                "subscriptionType": "CellChangeSubscription", "callbackReference": back + "/rnis",
                "filterCriteriaAssocHo": {"associateId": [{"type": 1, "value": "10.1.0.4"}]}})
            assert status == 201 and sub["filterCriteriaAssocHo"]["hoStatus"] == [3]
            emu.force("10.1.0.4", "4g-macro-cell-1")
            with cond:
                assert cond.wait_for(lambda: len(got) >= 2, timeout=5)
            by_path = dict(got)
            ams = by_path["/ams"]
            assert ams["mobilityStatus"] == "INTERHOST_MOVEOUT_TRIGGERED"
            assert ams["targetAppInfo"]["appInstanceId"] == "a1"
            assert ams["targetAppInfo"]["commInterface"]["ipAddresses"] == [{"host": "10.2.0.10", "port": 8080}]
            cell = by_path["/rnis"]
            assert cell["hoStatus"] == 3
            assert cell["trgEcgi"][0]["cellId"] == "1010101"
            rab = _get(emu.url + "/rni/v2/queries/rab_info?app_ins_id=a1&ue_ipv4_address=10.1.0.4")
            assert rab["cellUserInfo"][0]["ecgi"]["cellId"] == "1010101"
    finally:
        listener.shutdown()
