"""Fixtures of the Python tests that use real components.

They attach to the testbed named by MIGRATE_TESTBED (default "mci"). Under CTest it is up:
the "python: pytest" test requires the "testbed" fixture ("testbed: up"). Run by hand, bring
one up first (`migrate-testbed up --name pyt --hosts 2 --replace`, then
MIGRATE_TESTBED=pyt); tests that need it are skipped, saying so, when it is not up (under
CTest, MIGRATE_REQUIRE_TESTBED=1 turns that skip into a failure).
"""
import os

import pytest

import migrate

BUSYBOX_REF = "pyt-busybox:1"
MEMCACHED_REF = "pyt-memcached:1"
MEMCACHED_PORT = 11511  # used by no other test


def testbed_name():
    return os.environ.get("MIGRATE_TESTBED") or "mci"


@pytest.fixture(scope="session")
def testbed():
    name = testbed_name()
    try:
        return migrate.Testbed.open(name)
    except migrate.MigrationError as e:
        if e.code != "not_found" or os.environ.get("MIGRATE_REQUIRE_TESTBED"):
            raise
        pytest.skip(
            f"{e.message}; bring it up with "
            f"`migrate-testbed up --name {name} --hosts 2 --replace` or run through ctest, which does"
        )


@pytest.fixture(scope="session")
def engine_a(testbed):
    return testbed.engine("a")


@pytest.fixture(scope="session")
def engine_b(testbed):
    return testbed.engine("b")


def ensure_image(engine, recipe, ref):
    """Builds and imports `ref` from `recipe` unless the engine already has it."""
    try:
        return engine.inspect_image(ref).id
    except migrate.MigrationError as e:
        if e.code != "not_found":
            raise
    return migrate.build_image(engine, recipe, ref)


@pytest.fixture(scope="session")
def busybox_image(engine_a):
    ensure_image(engine_a, migrate.busybox_recipe(), BUSYBOX_REF)
    return BUSYBOX_REF


@pytest.fixture(scope="session")
def memcached_image(engine_a):
    ensure_image(engine_a, migrate.memcached_recipe(MEMCACHED_PORT, 32), MEMCACHED_REF)
    return MEMCACHED_REF


def _discard(engine, name):
    try:
        engine.remove(name, force=True)
    except migrate.MigrationError as e:
        if e.code != "not_found":
            raise


@pytest.fixture
def discard():
    """discard(engine, name): removes a container if it is there."""
    return _discard


@pytest.fixture
def memcached_port():
    return MEMCACHED_PORT


@pytest.fixture
def unique():
    """A name prefix unique to this test run: pyt-<pid>."""
    return f"pyt-{os.getpid()}"
