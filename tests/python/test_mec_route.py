"""MecTrafficRuleRouteSwitch from Python (docs/mec.md): the rules flip target-ACTIVE-then-
source-INACTIVE on a small stateful MEC011 http.server, rollback restores them, and a platform
answering 501 (as AdvantEDGE does) raises 'unsupported' at prepare, before any PUT, so that the
caller can fall back to another route switch; and the rules flip on the SDK's MEC emulator
(MecEmulator, app instances declared through its control API)."""
import copy
import http.server
import json
import pathlib
import threading
import urllib.request

import pytest

import migrate

_ROOT = "/sbx1/mec_app_support/v1/applications/"


def _rule(rule_id, state):
    return {"trafficRuleId": rule_id, "filterType": "FLOW", "priority": 1, "action": "FORWARD_DECAPSULATED",
            "trafficFilter": [{"dstAddress": ["192.127.4.100/32"]}], "state": state}


class _Platform(http.server.BaseHTTPRequestHandler):
    rules = {}            # "app/rule" -> TrafficRule
    seen = []             # (method, path, body)
    not_implemented = False

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        cls = type(self)
        cls.seen.append((self.command, self.path, body))
        status, reply = 404, {"status": 404, "detail": "no route " + self.path}
        if cls.not_implemented:
            status, reply = 501, {"status": 501, "detail": "Not Implemented"}
        elif self.path.startswith(_ROOT) and "/traffic_rules/" in self.path:
            app, rule = self.path[len(_ROOT):].split("/traffic_rules/")
            key = app + "/" + rule
            if key in cls.rules and self.command == "GET":
                status, reply = 200, cls.rules[key]
            elif key in cls.rules and self.command == "PUT":
                cls.rules[key] = json.loads(body)
                status, reply = 200, cls.rules[key]
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def platform():
    _Platform.rules = {"app-a/rule-a": _rule("rule-a", "ACTIVE"), "app-b/rule-b": _rule("rule-b", "INACTIVE")}
    _Platform.seen, _Platform.not_implemented = [], False
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield _Platform, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _switch(url):
    return migrate.MecTrafficRuleRouteSwitch({
        "platform": {"base_url": url, "sandbox": "sbx1", "bearer_token": "t0k3n"},
        "hosts": {"a": {"app_instance_id": "app-a", "traffic_rule_id": "rule-a"},
                  "b": {"appInstanceId": "app-b", "trafficRuleId": "rule-b"}}})


def _change():
    c = migrate.RouteChange()
    c.subject = "10.100.0.1"
    c.source = migrate.ServiceInstance("a", "svc-a", "10.0.1.2", 80)
    c.target = migrate.ServiceInstance("b", "svc-b", "10.0.2.2", 80)
    return c


def test_commit_flips_target_first_and_rollback_restores(platform):
    p, url = platform
    sw = _switch(url)
    assert isinstance(sw, migrate.RouteSwitch)
    assert sw.name == "mec_traffic_rule"
    c = _change()
    sw.prepare(c)
    assert c.prepared and not [s for s in p.seen if s[0] == "PUT"]
    assert c.state["rules"]["target"]["state_before"] == "INACTIVE"
    before = copy.deepcopy(p.rules)
    sw.commit(c)
    assert c.committed
    puts = [(path, json.loads(body)["state"]) for method, path, body in p.seen if method == "PUT"]
    assert puts == [(_ROOT + "app-b/traffic_rules/rule-b", "ACTIVE"), (_ROOT + "app-a/traffic_rules/rule-a", "INACTIVE")]
    assert p.rules["app-b/rule-b"]["state"] == "ACTIVE" and p.rules["app-a/rule-a"]["state"] == "INACTIVE"
    sw.rollback(c)
    assert not c.committed and "rollback_errors" not in c.state
    assert p.rules == before


def test_rule_for_and_options(platform):
    _, url = platform
    sw = _switch(url)
    assert sw.rule_for("10.100.0.1", migrate.ServiceInstance("b", "svc-b")) == {
        "app_instance_id": "app-b", "traffic_rule_id": "rule-b"}
    with pytest.raises(migrate.MigrationError, match="no traffic rule known for instance 'x' on host 'c'") as e:
        sw.rule_for("10.100.0.1", migrate.ServiceInstance("c", "x"))
    assert e.value.code == "invalid_argument"
    assert sw.options["platform"]["sandbox"] == "sbx1"
    with pytest.raises(migrate.MigrationError, match="mec_traffic_rule.hosts.a.traffic_rule_id: empty"):
        migrate.MecTrafficRuleRouteSwitch({"hosts": {"a": {"app_instance_id": "app-a"}}})


class _Recording(migrate.RouteSwitch):
    """Stands in for the fallback (OpenFlowRouteSwitch on a real switch in docs/mec.md)."""

    def __init__(self):
        migrate.RouteSwitch.__init__(self, "fallback")
        self.calls = []

    def prepare(self, change):
        self.calls.append("prepare")

    def commit(self, change):
        self.calls.append("commit")

    def rollback(self, change):
        self.calls.append("rollback")


def test_501_is_unsupported_at_prepare_with_no_put_and_the_caller_falls_back(platform):
    p, url = platform
    p.not_implemented = True
    c = _change()
    fallback = _Recording()
    route = _switch(url)
    try:
        route.prepare(c)
    except migrate.MigrationError as e:
        assert e.code == "unsupported"
        assert "the platform does not implement MEC011 traffic rules" in str(e)
        assert "e.g. openflow" in str(e)
        route = fallback
        route.prepare(c)
    route.commit(c)
    assert route is fallback and fallback.calls == ["prepare", "commit"]
    assert [s for s in p.seen if s[0] == "PUT"] == []


DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "mec"


def _call(method, url, body=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def _rule_states(emu):
    return {a["appInstanceId"]: [r["state"] for r in a["trafficRules"]]
            for a in _call("GET", emu.url + "/sim/v1/state")["appInstances"]}


def test_rules_flip_on_the_emulator():
    s = migrate.MecScenario.load(str(DATA / "monaco-dual-mep-short-path.json"))
    with migrate.MecEmulator(s, base_path="/sbx1/mep1", time_scale=0) as emu:
        for app, host, state in (("app-mep1", "mep1", "ACTIVE"), ("app-mep2", "mep2", "INACTIVE")):
            _call("POST", emu.url + "/sim/v1/appInstances", {
                "appInstanceId": app, "edgeHost": host,
                "trafficRules": [{"trafficRuleId": "steer", "priority": 1, "state": state,
                                  "trafficFilter": [{"dstAddress": ["10.250.0.100/32"]}]}]})
        route = migrate.MecTrafficRuleRouteSwitch({
            "platform": {"base_url": f"http://127.0.0.1:{emu.port}", "sandbox": "sbx1/mep1"},
            "traffic_rule_id": "steer"})   # the instances' ids are their app instance ids
        c = migrate.RouteChange()
        c.subject = "10.1.0.4"
        c.source = migrate.ServiceInstance("mep1", "app-mep1")
        c.target = migrate.ServiceInstance("mep2", "app-mep2")
        route.prepare(c)
        assert _rule_states(emu) == {"app-mep1": ["ACTIVE"], "app-mep2": ["INACTIVE"]}
        route.commit(c)
        assert _rule_states(emu) == {"app-mep1": ["INACTIVE"], "app-mep2": ["ACTIVE"]}
        assert [st["role"] for st in c.state["steps"]] == ["target", "source"]
        route.rollback(c)
        assert _rule_states(emu) == {"app-mep1": ["ACTIVE"], "app-mep2": ["INACTIVE"]}
