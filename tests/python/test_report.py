import json

import pytest

import migrate


def test_report_round_trips_through_dicts():
    d = {
        "strategy": "checkpoint",
        "subject": "memcached",
        "source": "a",
        "target": "b",
        "success": True,
        "phases": [{"phase": "transfer", "detail": "cp", "duration_ms": 12.5, "bytes": 1024, "ok": True}],
        "downtime": {"downtime_ms": 180.0, "probe_interval_ms": 5, "probes": 10, "failures": 2, "method": "udp get"},
        "state": [{"what": "memcached keys", "expected": 10, "found": 10}],
    }
    r = migrate.MigrationReport.from_dict(d)
    assert r.strategy == "checkpoint"
    assert r.downtime_ms == 180.0
    assert r.state_intact
    assert r.total_bytes("transfer") == 1024
    back = r.to_dict()
    assert back["phases"][0]["bytes"] == 1024
    assert json.loads(r.to_json())["state_intact"] is True
    assert "10 of 10 present" in r.to_text()


def test_lost_state_is_visible():
    r = migrate.MigrationReport.from_dict({"state": [{"what": "keys", "expected": 5, "found": 4}]})
    assert not r.state_intact
    assert "STATE LOST" in r.to_text()


def test_bad_document_raises_migration_error_naming_the_field():
    with pytest.raises(migrate.MigrationError) as e:
        migrate.MigrationReport.from_dict({"strategy": 5})
    assert e.value.code == "invalid_argument"
    assert e.value.condition == "invalid_argument"
    assert "migration_report.strategy" in str(e.value)
    assert not e.value.retryable


def test_retry_advice_is_documented():
    assert "retry" in migrate.retry_advice("unavailable")
    with pytest.raises(ValueError):
        migrate.retry_advice("no-such-condition")


def test_memcached_client_reports_unreachable_with_the_address():
    with pytest.raises(migrate.MigrationError) as e:
        migrate.MemcachedClient.connect("127.0.0.1", 1, timeout=0.5)
    assert e.value.condition == "unavailable"
    assert "127.0.0.1:1" in e.value.message


def test_dataset_is_deterministic():
    ds = migrate.MemcachedDataset(prefix="k", items=3, value_size=16)
    assert ds.key(2) == "k:00000002"
    assert ds.value(2) == migrate.MemcachedDataset("k", 3, 16).value(2)
    assert len(ds.value(1)) == 16
