"""The ETSI MEC API clients from Python (docs/mec.md), against a small http.server on
loopback that records each request: method, path with the sandbox prefix, bearer token, body."""
import http.server
import json
import threading

import pytest

import migrate


class _Platform(http.server.BaseHTTPRequestHandler):
    routes = {}      # (method, path) -> (status, body)
    seen = []

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        status, reply = type(self).routes.get((self.command, self.path), (404, {"detail": "no route " + self.path}))
        data = json.dumps(reply).encode() if reply is not None else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def platform():
    _Platform.routes, _Platform.seen = {}, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield _Platform, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_location_subscribe_and_notification(platform):
    p, url = platform
    created = {"zonalTrafficSubscription": {
        "callbackReference": {"notifyURL": "http://127.0.0.1:9/cb"}, "zoneId": "zone01",
        "userEventCriteria": ["Transferring"],
        "resourceURL": "http://x/location/v2/subscriptions/zonalTraffic/sub123"}}
    p.routes[("POST", "/sbx1/location/v2/subscriptions/zonalTraffic")] = (201, created)
    p.routes[("DELETE", "/sbx1/location/v2/subscriptions/zonalTraffic/sub123")] = (204, None)
    loc = migrate.LocationClient(url, sandbox="sbx1", bearer_token="t0k3n")
    sub = loc.subscribe_zonal_traffic("http://127.0.0.1:9/cb", "zone01", user_event_criteria=["Transferring"])
    assert sub["resource_url"].endswith("/sub123")
    loc.unsubscribe_zonal_traffic(sub["resource_url"])
    method, path, auth, body = p.seen[0]
    assert (method, path, auth) == ("POST", "/sbx1/location/v2/subscriptions/zonalTraffic", "Bearer t0k3n")
    assert json.loads(body) == {"zonalTrafficSubscription": {
        "callbackReference": {"notifyURL": "http://127.0.0.1:9/cb"}, "zoneId": "zone01",
        "userEventCriteria": ["Transferring"]}}
    assert p.seen[1][:2] == ("DELETE", "/sbx1/location/v2/subscriptions/zonalTraffic/sub123")

    # gs013-LocationAPI.yaml, the zonalTraffic callback's example body
    n = migrate.parse_zonal_presence_notification({"zonalPresenceNotification": {
        "zoneId": "zone01", "address": "acr:10.0.0.1", "userEventType": "Transferring",
        "currentAccessPointId": "ap2", "previousAccessPointId": "ap1",
        "timestamp": {"seconds": 1483231138, "nanoseconds": 0}}})
    assert (n["event"], n["previous_access_point_id"], n["current_access_point_id"]) == ("Transferring", "ap1", "ap2")
    with pytest.raises(migrate.MigrationError, match="/zonalPresenceNotification/zoneId: missing"):
        migrate.parse_zonal_presence_notification({"zonalPresenceNotification": {"address": "acr:10.0.0.1"}})


def test_location_error_names_url_status_and_detail(platform):
    _, url = platform
    loc = migrate.LocationClient(url, sandbox="sbx1")
    with pytest.raises(migrate.MigrationError, match=r"GET .*/sbx1/location/v2/queries/zones: HTTP 404: no route") as e:
        loc.zones()
    assert e.value.code == "not_found"


def test_ams_context_transfer_and_moveout_notification(platform):
    p, url = platform
    reg = {"appMobilityServiceId": "ams-42", "serviceConsumerId": {"appInstanceId": "i1"},
           "deviceInformation": [{"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
                                  "contextTransferState": "NOT_TRANSFERRED"}]}
    done = json.loads(json.dumps(reg))
    done["deviceInformation"][0]["contextTransferState"] = "USER_CONTEXT_TRANSFER_COMPLETED"
    p.routes[("GET", "/amsi/v1/app_mobility_services/ams-42")] = (200, reg)
    p.routes[("PUT", "/amsi/v1/app_mobility_services/ams-42")] = (200, done)
    ams = migrate.AmsClient(url)
    r = ams.set_context_transfer_state("ams-42", {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
                                       "USER_CONTEXT_TRANSFER_COMPLETED")
    assert r["devices"][0]["transfer_state"] == "USER_CONTEXT_TRANSFER_COMPLETED"
    put = json.loads(p.seen[1][3])
    assert put["deviceInformation"][0]["contextTransferState"] == "USER_CONTEXT_TRANSFER_COMPLETED"

    n = migrate.parse_mobility_procedure_notification({
        "notificationType": "MobilityProcedureNotification",
        "associateId": [{"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}],
        "mobilityStatus": "INTERHOST_MOVEOUT_TRIGGERED",
        "targetAppInfo": {"appInstanceId": "i2", "commInterface": {"ipAddresses": [{"host": "10.200.0.2", "port": 31112}]}},
        "_links": {"subscription": {"href": "http://mep1/amsi/v1/subscriptions/sub-7"}}})
    assert n["status"] == "INTERHOST_MOVEOUT_TRIGGERED"
    assert n["target"] == {"app_instance_id": "i2", "endpoints": [("10.200.0.2", 31112)]}


def test_app_support_traffic_rules_501_is_unsupported(platform):
    p, url = platform
    p.routes[("GET", "/mec_app_support/v1/applications/app-1/traffic_rules/r1")] = (501, {"detail": "Not Implemented"})
    p.routes[("POST", "/mec_app_support/v1/applications/app-1/confirm_ready")] = (204, None)
    mec = migrate.AppSupportClient("app-1", url)
    mec.confirm_ready()
    assert json.loads(p.seen[0][3]) == {"indication": "READY"}
    with pytest.raises(migrate.MigrationError, match="HTTP 501: Not Implemented.*use another route switch") as e:
        mec.set_traffic_rule_state("r1", "INACTIVE")
    assert e.value.code == "unsupported"


def test_rnis_cell_change_subscription_and_early_warning(platform):
    p, url = platform
    p.routes[("POST", "/rni/v2/subscriptions")] = (201, {
        "subscriptionType": "CellChangeSubscription", "callbackReference": "http://127.0.0.1:9/rni",
        "_links": {"self": {"href": "http://x/rni/v2/subscriptions/sub123"}}})
    rnis = migrate.RnisClient(url)
    sub = rnis.subscribe_cell_change("http://127.0.0.1:9/rni", addresses=["10.100.0.1"], ho_statuses=[1, 2])
    assert sub["self_url"].endswith("/sub123")
    assert json.loads(p.seen[0][3])["filterCriteriaAssocHo"] == {
        "associateId": [{"type": 1, "value": "10.100.0.1"}], "hoStatus": [1, 2]}
    n = migrate.parse_cell_change_notification({
        "notificationType": "CellChangeNotification", "hoStatus": 1,
        "srcEcgi": {"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "ACBDEFA"},
        "trgEcgi": [{"plmn": {"mnc": "01", "mcc": "001"}, "cellId": "FEDCBAA"}]})
    assert n["status"] == "IN_PREPARATION"
    assert n["targets"][0]["cell_id"] == "FEDCBAA"


def test_v2x_predicted_qos_along_a_route(platform):
    p, url = platform
    answer = {"locationGranularity": "50", "routes": [{"routeinfo": [
        {"location": {"geoArea": {"latitude": 43.7335, "longitude": 7.419}}, "time": {"seconds": 1700000000, "nanoSeconds": 0},
         "rsrp": 55, "rsrq": 18},
        {"location": {"ecgi": {"cellId": {"cellId": "2345678"}, "plmn": {"mcc": "001", "mnc": "01"}}}, "rsrp": 21, "rsrq": 4}]}]}
    p.routes[("POST", "/sbx1/mep1/vis/v1/provide_predicted_qos")] = (200, answer)
    vis = migrate.V2xClient(url, sandbox="sbx1/mep1")
    routes = vis.provide_predicted_qos(
        [[{"latitude": 43.7335, "longitude": 7.419, "time": (1700000000, 0)},
          {"cell": {"cell_id": "2345678", "mcc": "001", "mnc": "01"}}]], location_granularity="50")
    assert [pt["rsrp"] for pt in routes[0]] == [55, 21]
    assert routes[0][1]["cell"] == {"cell_id": "2345678", "mcc": "001", "mnc": "01"}
    sent = json.loads(p.seen[0][3])
    assert sent["routes"][0]["routeinfo"][0]["location"]["geoArea"] == {"latitude": 43.7335, "longitude": 7.419}
    # Bad requests are refused before anything is sent, naming the point.
    with pytest.raises(migrate.MigrationError, match=r"routes\[0\]\[0\]"):
        vis.provide_predicted_qos([[{"time": (1, 0)}, {"latitude": 43.7, "longitude": 7.4}]])
    with pytest.raises(migrate.MigrationError, match="flavour"):
        migrate.V2xClient(url, flavour="5g")
    assert len(p.seen) == 1
