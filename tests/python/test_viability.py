"""Dwell times from a replayed MEC scenario and the share of them a migration fits in, from
Python (docs/viability.md): the Monaco scenario's vehicles and pedestrians, censored stays,
a grid report's medians, viable shares against times given by hand."""
import json
import pathlib

import pytest

import migrate

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "mec"


@pytest.fixture(scope="module")
def monaco():
    return migrate.MecScenario.load(str(DATA / "monaco-4g-5g-wifi-macro.json"))


@pytest.fixture(scope="module")
def replay(monaco):
    return migrate.replay_dwell(monaco, loops=2, step_s=0.5)


def test_kinds_from_the_scenario(monaco):
    kinds = migrate.ue_kinds(monaco)
    assert kinds["10.100.0.1"] == "vehicle"
    assert kinds["10.10.0.2"] == "pedestrian"
    assert kinds["10.1.0.1"] == "stationary"


def test_replay_stays_and_stats(monaco, replay):
    slowest = max(u["path_length_m"] / u["velocity_mps"] * (2 if u["eop"] == "REVERSE" else 1)
                  for u in monaco.ues if u["moving"])
    assert replay.duration_s == pytest.approx(2 * slowest, rel=1e-6)
    assert replay.step_s == 0.5
    assert replay.scenario == "4g-5g-wifi-macro"

    car5g = replay.stats("vehicle", "5g_ap")
    zone = replay.stats("vehicle", "zone")
    assert car5g["count"] > 0 and zone["count"] > 0
    assert zone["mean_s"] > car5g["mean_s"]
    assert car5g["min_s"] <= car5g["p5_s"] <= car5g["median_s"] <= car5g["max_s"]
    assert len(replay.seconds("vehicle", "5g_ap")) == car5g["count"]
    cars = [u for u, k in migrate.ue_kinds(monaco).items() if k == "vehicle"]
    assert sum(replay.stats_of(u, "5g_ap")["count"] for u in cars) == car5g["count"]

    # Censored stays are listed, flagged, and left out of the figures: a camera has only those.
    camera = [s for s in replay.stays if s["ue"] == "10.1.0.1"]
    assert camera and all(s["censored"] for s in camera)
    assert replay.stats_of("10.1.0.1", "any_ap")["count"] == 0
    assert replay.stats_of("10.1.0.1", "any_ap")["censored"] == 1
    complete = [s for s in replay.stays if s["kind"] == "vehicle" and s["level"] == "5g_ap" and not s["censored"]]
    assert sorted(s["seconds"] for s in complete) == sorted(replay.seconds("vehicle", "5g_ap"))


def test_bad_arguments_raise_naming_them(monaco, replay):
    with pytest.raises(migrate.MigrationError) as e:
        replay.stats("car", "5g_ap")
    assert "car" in e.value.message
    with pytest.raises(migrate.MigrationError) as e:
        replay.seconds("vehicle", "5G")
    assert "5G" in e.value.message
    with pytest.raises(migrate.MigrationError) as e:
        migrate.replay_dwell(monaco, step_s=0)
    assert e.value.code == "invalid_argument"
    assert "step_s" in e.value.message


def test_viable_shares_against_times_by_hand(replay):
    lengths = sorted(replay.seconds("vehicle", "5g_ap"))
    # A time between the shortest and the longest stay: some stays fit, some do not.
    middle = lengths[len(lengths) // 2]
    times = [{"method": "slow", "workload": "a3", "link": "normal", "prepare_ms": middle * 500, "relocate_ms": middle * 500},
             {"method": "instant", "workload": "a1", "link": "normal", "prepare_ms": 0, "relocate_ms": 0}]
    shares = migrate.viable_shares(replay, times)
    slow = next(s for s in shares if s["method"] == "slow" and s["kind"] == "vehicle" and s["level"] == "5g_ap")
    assert slow["stays"] == len(lengths)
    assert slow["long_enough"] == sum(1 for x in lengths if x >= middle)
    assert 0 < slow["share"] < 1
    assert slow["share_relocation"] >= slow["share"]
    instant = [s for s in shares if s["method"] == "instant"]
    assert instant and all(s["share"] == 1.0 for s in instant)
    with pytest.raises(migrate.MigrationError) as e:
        migrate.viable_shares(replay, [{"method": "x", "workload": "a1", "link": "normal", "prepare_ms": "slow",
                                        "relocate_ms": 1}])
    assert "prepare_ms" in e.value.message


def test_grid_report(tmp_path):
    doc = {"medians": [
        {"method": "checkpoint", "workload": "a3", "link": "normal", "runs": 3, "ok": 3,
         "prepare_ms": 284.0, "relocate_ms": 966.0},
        {"method": "shared_fs", "workload": "a3", "link": "normal", "runs": 3, "ok": 0,
         "prepare_ms": 0, "relocate_ms": 0},
    ]}
    times = migrate.parse_grid_report(doc)
    assert [t["method"] for t in times] == ["checkpoint"]
    assert times[0]["total_ms"] == pytest.approx(1250.0)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    assert migrate.load_grid_report(str(path)) == times
    with pytest.raises(migrate.MigrationError) as e:
        migrate.load_grid_report(str(tmp_path / "none.json"))
    assert e.value.code == "io_error"
    with pytest.raises(migrate.MigrationError) as e:
        migrate.parse_grid_report({"runs": []})
    assert "/medians" in e.value.message
