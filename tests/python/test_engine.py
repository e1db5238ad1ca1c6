"""DockerEngine against the real dockerd of testbed host a (MIGRATE_TESTBED, default mci)."""
import tarfile
import threading
import time

import pytest

import migrate


def test_ping_and_version(engine_a, testbed):
    assert engine_a.ping() is None
    v = engine_a.version()
    assert v["api_version"] == "1.41"
    assert v["experimental"] is True
    assert v["root_dir"]
    assert engine_a.endpoint == testbed.find("a").endpoint


def test_unreachable_socket_raises_daemon_unreachable_naming_it():
    sock = "/run/pyt-no-such-dir/docker.sock"
    e = migrate.DockerEngine(socket=sock, connect_timeout_ms=1000)
    with pytest.raises(migrate.MigrationError) as err:
        e.ping()
    assert err.value.code == "daemon_unreachable"
    assert err.value.condition == "unavailable"
    assert err.value.retryable
    assert sock in err.value.message
    assert sock in str(err.value)


def test_invalid_engine_options_name_the_field():
    with pytest.raises(migrate.MigrationError) as err:
        migrate.DockerEngine(socket="relative.sock")
    assert err.value.code == "invalid_argument"
    assert "engine_options.socket" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.DockerEngine(chunk_size=1)
    assert "engine_options.chunk_size" in err.value.message
    with pytest.raises(TypeError):
        migrate.DockerEngine(sockett="/run/docker.sock")
    # The keyword arguments are the engine_options document: it round-trips.
    e = migrate.DockerEngine(socket="/run/x.sock", request_timeout_ms=5000)
    assert migrate.DockerEngine(**e.options).options == e.options
    assert migrate.DockerEngine.from_dict(e.options).options["request_timeout_ms"] == 5000


def test_inspect_unknown_container_raises_not_found(engine_a):
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.inspect("pyt-no-such-container")
    assert err.value.code == "not_found"
    assert err.value.condition == "not_found"
    assert not err.value.retryable
    assert "pyt-no-such-container" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.inspect_image("pyt-no-such-image:9")
    assert err.value.code == "not_found"


def test_container_lifecycle(engine_a, busybox_image, unique, discard):
    name = f"{unique}-life"
    discard(engine_a, name)
    spec = migrate.ContainerSpec(name=name, image=busybox_image, cmd=["sleep", "300"],
                                 env=["PYT=1"], labels={"pyt": unique})
    cid = engine_a.create(spec)
    try:
        info = engine_a.inspect(name)
        assert info.id == cid
        assert info.status == "created" and not info.running
        engine_a.start(cid)
        info = engine_a.inspect(cid)
        assert info.running and info.pid > 0
        assert info.name == name
        assert info.spec.cmd == ["sleep", "300"]
        assert info.spec.image == busybox_image
        assert info.spec.labels["pyt"] == unique
        assert "PYT=1" in info.spec.env
        assert info.to_dict()["spec"]["name"] == name

        listed = engine_a.list_containers(label=f"pyt={unique}")
        assert [c.id for c in listed] == [cid]

        engine_a.pause(cid)
        assert engine_a.inspect(cid).paused
        engine_a.unpause(cid)
        assert not engine_a.inspect(cid).paused

        # `sleep` as PID 1 ignores SIGTERM, so stop waits out its grace period: a Python
        # thread keeps running meanwhile because the call releases the GIL.
        ticks = []
        done = threading.Event()

        def ticker():
            while not done.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.01)

        t = threading.Thread(target=ticker)
        t.start()
        t0 = time.monotonic()
        engine_a.stop(cid, grace=1)
        t1 = time.monotonic()
        done.set()
        t.join()
        assert t1 - t0 >= 0.9
        assert len([x for x in ticks if t0 < x < t1]) >= 20
        info = engine_a.inspect(cid)
        assert not info.running and info.status == "exited"
    finally:
        engine_a.remove(cid, force=True)
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.inspect(cid)
    assert err.value.code == "not_found"


def test_create_from_dict_and_spec_round_trip(engine_a, busybox_image, unique, discard):
    name = f"{unique}-dict"
    discard(engine_a, name)
    cid = engine_a.create({"name": name, "image": busybox_image, "cmd": ["true"],
                           "mounts": [{"type": "tmpfs", "target": "/scratch"}]})
    try:
        spec = engine_a.inspect(cid).spec
        assert spec.cmd == ["true"]
        assert [m.type for m in spec.mounts] == ["tmpfs"]
        assert spec.mounts[0].target == "/scratch"
        assert migrate.ContainerSpec.from_dict(spec.to_dict()) == spec
    finally:
        engine_a.remove(cid, force=True)
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.create({"name": name, "image": busybox_image, "cmd": "not-a-list"})
    assert err.value.code == "invalid_argument"
    assert "container_spec.cmd" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.MountSpec(target="/x", type="nfs")
    assert "mount.type" in err.value.message


def test_export_import_save_load_through_files(engine_a, busybox_image, unique, tmp_path):
    name = f"{unique}-exp"
    cid = engine_a.create(migrate.ContainerSpec(name=name, image=busybox_image))
    try:
        exported = tmp_path / "rootfs.tar"
        size = engine_a.export_container(cid, exported)
        assert size == exported.stat().st_size > 1_000_000
        assert tarfile.is_tarfile(exported)
        with tarfile.open(exported) as tar:
            names = tar.getnames()
        assert "bin/busybox" in names
        assert "etc/passwd" in names
    finally:
        engine_a.remove(cid, force=True)

    ref = f"{unique}-imported:1"
    image_id = engine_a.import_image(exported, ref, ['CMD ["/bin/sh"]'])
    assert image_id.startswith("sha256:")
    assert ref in engine_a.inspect_image(ref).tags
    assert any(ref in i.tags for i in engine_a.list_images())

    saved = tmp_path / "saved.tar"
    assert engine_a.save_images(ref, str(saved)) > 0
    with tarfile.open(saved) as tar:
        assert "manifest.json" in tar.getnames()
    engine_a.remove_image(ref)
    with pytest.raises(migrate.MigrationError):
        engine_a.inspect_image(ref)
    loaded = engine_a.load_images(saved)
    assert any(ref in x for x in loaded)
    assert engine_a.inspect_image(ref).id == image_id
    engine_a.remove_image(ref)

    not_a_tar = tmp_path / "junk.tar"
    not_a_tar.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.import_image(not_a_tar, ref)
    assert err.value.code == "corrupt_artifact"
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.load_images(tmp_path / "missing.tar")
    assert err.value.code == "not_found"
    assert "missing.tar" in err.value.message

    # A failed export leaves no file behind.
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.export_container("pyt-no-such-container", tmp_path / "none.tar")
    assert err.value.code == "not_found"
    assert not (tmp_path / "none.tar").exists()


def test_volumes_and_their_contents_through_tar_files(engine_a, unique, tmp_path):
    name = f"{unique}-vol"
    v = engine_a.create_volume(name, {"pyt": "1"})
    try:
        assert v.name == name
        assert engine_a.inspect_volume(name).labels == {"pyt": "1"}
        assert v.to_dict()["driver"] == "local"
        src = tmp_path / "hello.txt"
        src.write_text("hello from pytest\n")
        with tarfile.open(tmp_path / "in.tar", "w") as tar:
            tar.add(src, arcname="hello.txt")
        engine_a.import_volume(name, tmp_path / "in.tar")
        assert engine_a.export_volume(name, tmp_path / "out.tar") > 0
        with tarfile.open(tmp_path / "out.tar") as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("hello.txt"))
            assert tar.extractfile(member).read() == b"hello from pytest\n"
    finally:
        engine_a.remove_volume(name)
    with pytest.raises(migrate.MigrationError) as err:
        engine_a.inspect_volume(name)
    assert err.value.code == "not_found"


def test_checkpoints_create_list_delete(engine_a, busybox_image, unique, discard):
    name = f"{unique}-ckpt"
    discard(engine_a, name)
    cid = engine_a.create(migrate.ContainerSpec(name=name, image=busybox_image, cmd=["sleep", "300"]))
    try:
        engine_a.start(cid)
        engine_a.create_checkpoint(cid, "c1", exit=False)
        assert engine_a.inspect(cid).running
        assert engine_a.list_checkpoints(cid) == ["c1"]
        engine_a.delete_checkpoint(cid, "c1")
        assert engine_a.list_checkpoints(cid) == []
    finally:
        engine_a.remove(cid, force=True)


def test_image_recipes():
    mc = migrate.memcached_recipe(11511, 32)
    assert 'CMD ["-p", "11511", "-U", "11511", "-m", "32"]' in mc.changes
    assert mc.binaries == ["memcached"]
    bb = migrate.busybox_recipe()
    assert bb.busybox and bb.binaries == []
    r = migrate.ImageRecipe(binaries=["/bin/true"], changes=['CMD ["/bin/true"]'])
    r.add_file("/etc/motd", "hello\n")
    r.add_directory("/data", 0o700)
    r.validate()
    d = r.to_dict()
    assert {"path": "/etc/motd", "content": "hello\n", "mode": 0o644} in d["files"]
    assert {"path": "/data", "mode": 0o700} in d["directories"]
    with pytest.raises(migrate.MigrationError) as err:
        migrate.ImageRecipe(busybox=False).validate()
    assert err.value.code == "invalid_argument"
    assert "rootfs_spec.binaries" in err.value.message
    with pytest.raises(migrate.MigrationError) as err:
        migrate.build_image(migrate.DockerEngine(socket="/run/pyt-none.sock"), "nginx", "x:1")
    assert "nginx" in err.value.message
