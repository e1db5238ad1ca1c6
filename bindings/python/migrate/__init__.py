"""migrate: move stateful services between edge hosts.

The C++ SDK's Python face. Options go in as dicts or keyword arguments (the same JSON
documents the C++ API and the CLI tools take); failures raise :class:`MigrationError` with
``code``, ``condition``, ``message`` and ``retryable``; blocking calls release the GIL.

A whole experiment: :meth:`Testbed.up` (edge hosts with their own dockerd), a
:class:`DockerEngine` per host, :func:`build_image` from :func:`memcached_recipe`,
:class:`MemcachedClient` to load a :class:`MemcachedDataset`, :func:`checkpoint_move` while a
:class:`MemcachedDowntimeProber` measures the downtime, then the :class:`MigrationReport`.
Strategies by name: :func:`list_strategies`, :func:`make_migrator` gives a :class:`Migrator`;
:func:`run_migration` (or ``prepare`` / ``relocate`` / ``rollback``) moves a container named
in a :class:`MigrationRequest` between two :class:`EdgeHost` (``Testbed.edge_host``), its
artifacts through this process or, with :func:`agent_transport`, agent to agent over the
hosts' link.
See docs/python.md.
"""
from ._migrate import (  # noqa: F401
    __version__,
    # errors and reports
    MigrationError,
    retry_advice,
    MigrationReport,
    PhaseTiming,
    DowntimeMeasurement,
    StateCheck,
    # container runtime
    DockerEngine,
    ContainerSpec,
    ContainerInfo,
    MountSpec,
    ImageInfo,
    VolumeInfo,
    # images without a registry
    ImageRecipe,
    busybox_recipe,
    memcached_recipe,
    build_image,
    build_rootfs,
    # the edge testbed
    Testbed,
    TestbedHost,
    # moving, measuring
    checkpoint_move,
    MemcachedDowntimeProber,
    # migration strategies
    list_strategies,
    StrategyInfo,
    make_migrator,
    Migrator,
    run_migration,
    EdgeHost,
    MigrationRequest,
    Prepared,
    CancelToken,
    Transport,
    local_transport,
    agent_transport,
    # memcached workload
    MemcachedClient,
    MemcachedDataset,
)

__all__ = [
    "__version__",
    "MigrationError",
    "retry_advice",
    "MigrationReport",
    "PhaseTiming",
    "DowntimeMeasurement",
    "StateCheck",
    "DockerEngine",
    "ContainerSpec",
    "ContainerInfo",
    "MountSpec",
    "ImageInfo",
    "VolumeInfo",
    "ImageRecipe",
    "busybox_recipe",
    "memcached_recipe",
    "build_image",
    "build_rootfs",
    "Testbed",
    "TestbedHost",
    "checkpoint_move",
    "MemcachedDowntimeProber",
    "list_strategies",
    "StrategyInfo",
    "make_migrator",
    "Migrator",
    "run_migration",
    "EdgeHost",
    "MigrationRequest",
    "Prepared",
    "CancelToken",
    "Transport",
    "local_transport",
    "agent_transport",
    "MemcachedClient",
    "MemcachedDataset",
]
