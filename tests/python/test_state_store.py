"""State stores from Python against the embedded backends and real servers this test
starts itself (redis-server, etcd on 127.0.0.1, free ports, scratch directories): the same
checks for every backend, watches calling back into Python from the store's thread."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

import migrate


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class _Server:
    """A server process in a scratch directory, stopped and removed at the end."""

    def __init__(self, argv_of, ready, tag):
        self.dir = tempfile.mkdtemp(prefix=f"migrate-py-{tag}-")
        self.port = _free_port()
        self.peer_port = _free_port()
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(argv_of(self), stdout=self.log, stderr=subprocess.STDOUT)
        if not _wait_until(lambda: ready(self)):
            self.stop()
            pytest.fail(f"{tag} did not come up on port {self.port}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _redis_answers(s):
    with socket.create_connection(("127.0.0.1", s.port), timeout=1) as c:
        c.sendall(b"PING\r\n")
        return c.recv(16).startswith(b"+PONG")


def _etcd_answers(s):
    with urllib.request.urlopen(f"http://127.0.0.1:{s.port}/health", timeout=1) as r:
        return r.status == 200


@pytest.fixture(scope="module")
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/bootstrap installs it)")
    s = _Server(lambda s: ["redis-server", "--port", str(s.port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", s.dir], _redis_answers, "redis")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def etcd_server():
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (scripts/bootstrap installs it)")
    def argv(s):
        client, peer = f"http://127.0.0.1:{s.port}", f"http://127.0.0.1:{s.peer_port}"
        return ["etcd", "--name", "py", "--data-dir", os.path.join(s.dir, "data"), "--listen-client-urls", client,
                "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"py={peer}", "--log-level", "warn"]
    s = _Server(argv, _etcd_answers, "etcd")
    yield s
    s.stop()


_counter = iter(range(1_000_000))


@pytest.fixture(params=["memory", "file", "redis", "etcd"])
def store(request, tmp_path):
    n = next(_counter)
    if request.param == "memory":
        return migrate.open_state_store("memory:")
    if request.param == "file":
        return migrate.open_state_store(f"file:{tmp_path / 'store'}")
    server = request.getfixturevalue(f"{request.param}_server")
    return migrate.open_state_store(f"{request.param}://127.0.0.1:{server.port}/py-{n}/")


def test_put_get_versions_and_bytes(store):
    assert store.get("twin/1") is None
    v1 = store.put("twin/1", b"\x00state\xff")
    entry = store.get("twin/1")
    assert isinstance(entry, migrate.StateEntry)
    assert (entry.key, entry.value, entry.version) == ("twin/1", b"\x00state\xff", v1)
    v2 = store.put("twin/1", "text is stored as UTF-8: ü")
    assert v2 > v1
    assert store.get("twin/1").value == "text is stored as UTF-8: ü".encode()
    assert store.get("twin/1").to_dict() == {"key": "twin/1", "value": "text is stored as UTF-8: ü", "version": v2}


def test_compare_and_set_conflict_names_the_version(store):
    v = store.compare_and_set("cas", b"a", 0)
    with pytest.raises(migrate.MigrationError) as e:
        store.compare_and_set("cas", b"b", 0)
    assert e.value.code == "conflict"
    assert str(v) in e.value.message
    assert store.compare_and_set("cas", b"b", v) > v
    with pytest.raises(migrate.MigrationError) as e:
        store.put("", b"x")
    assert e.value.code == "invalid_argument"
    with pytest.raises(migrate.MigrationError) as e:
        store.put("k", 5)
    assert e.value.code == "invalid_argument"


def test_erase_and_sorted_list(store):
    for k in ["b/2", "a", "b/1", "b/10"]:
        store.put(k, k)
    assert [e.key for e in store.list("b/")] == ["b/1", "b/10", "b/2"]
    assert [e.key for e in store.list()] == ["a", "b/1", "b/10", "b/2"]
    assert store.erase("a") is True
    assert store.erase("a") is False
    assert store.get("a") is None


def test_watch_calls_python_in_order_and_stops_on_cancel(store):
    seen, arrived = [], threading.Event()

    def on_event(ev):
        seen.append((ev.kind, ev.entry.key, ev.entry.value, ev.entry.version))
        if len(seen) == 3:
            arrived.set()

    with store.watch("w/", on_event) as w:
        v1 = store.put("w/a", b"1")
        store.put("other", b"not watched")
        v2 = store.put("w/b", b"2")
        assert store.erase("w/a")
        assert arrived.wait(10)
    assert seen[:2] == [("put", "w/a", b"1", v1), ("put", "w/b", b"2", v2)]
    assert seen[2][:2] == ("erase", "w/a") and seen[2][3] > v2
    store.put("w/after", b"x")
    time.sleep(0.3)
    assert len(seen) == 3
    assert w.callback_errors == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_watch_callback_errors_are_counted_not_fatal(store):
    calls = threading.Semaphore(0)

    def failing(ev):
        calls.release()
        raise RuntimeError("callback failed on purpose")

    w = store.watch("", failing)
    store.put("e1", b"x")
    store.put("e2", b"x")
    assert calls.acquire(timeout=10) and calls.acquire(timeout=10)
    w.cancel()
    assert w.callback_errors == 2
    assert "on purpose" in w.callback_error


def test_concurrent_compare_and_set_from_python_threads(store):
    store.put("counter", b"0")
    threads, increments = 4, 10

    def work():
        done = 0
        while done < increments:
            cur = store.get("counter")
            try:
                store.compare_and_set("counter", str(int(cur.value) + 1), cur.version)
                done += 1
            except migrate.MigrationError as e:
                assert e.code == "conflict"

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert store.get("counter").value == str(threads * increments).encode()


def test_open_state_store_names_the_bad_part():
    with pytest.raises(migrate.MigrationError) as e:
        migrate.open_state_store("redis://127.0.0.1:notaport/")
    assert e.value.code == "invalid_argument" and "port 'notaport'" in e.value.message
    port = _free_port()
    with pytest.raises(migrate.MigrationError) as e:
        migrate.open_state_store(f"redis://127.0.0.1:{port}/", connect_timeout=0.5)
    assert e.value.code == "daemon_unreachable" and f"127.0.0.1:{port}" in e.value.message
