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
The thesis workloads: a :class:`ZoneServer` tells A1 (:class:`A1PollerConfig`) and A2
(:class:`A2CounterConfig`) where the user is; :func:`a2_udp_count`, :func:`a2_get_state` and
:func:`a2_counter_check` read A2's state; a :class:`DowntimeProber` runs a :func:`a2_probe` (or
any Python callable) that follows the service with :func:`container_address_locator`.
State that must not travel with a service lives in a :class:`StateStore` from
:func:`open_state_store` ('memory:', 'file:/dir', 'redis://...', 'etcd://...'): versioned
entries, compare-and-set and watches (docs/state-stores.md).
A switch's flows: :class:`OpenFlowListener` (the switch dials in) or :func:`connect_to_switch`
give a :class:`SwitchConnection` (``apply`` flow mods as dicts, ``barrier``, packet-in callback);
:class:`OvsLab` makes Open vSwitch bridges and namespace ports for it (docs/openflow.md).
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
    # thesis workloads A1 / A2, following a service from host to host
    ZoneServer,
    PollRecord,
    in_network,
    A1PollerConfig,
    a1_poller_spec,
    a1_poller_recipe,
    a1_downtime,
    A2CounterConfig,
    a2_counter_spec,
    a2_counter_recipe,
    A2State,
    a2_get_state,
    a2_get_count,
    a2_udp_count,
    a2_change_phase,
    a2_counter_check,
    memcached_udp_get,
    memcached_udp_version,
    DowntimeProber,
    Probe,
    AddressLocator,
    fixed_address,
    container_address_locator,
    two_location_probe,
    a2_probe,
    # following a device (MIGRATE): routes, the replica pool, triggers
    ServiceInstance,
    RouteChange,
    RouteSwitch,
    ReplicaProtocol,
    ReplicaPool,
    ManualTrigger,
    OpenFlowRouteSwitch,
    MecTrafficRuleRouteSwitch,
    SdnTrigger,
    FollowMe,
    # state stores: memory, file, redis, etcd
    open_state_store,
    StateStore,
    StateEntry,
    StateEvent,
    StateWatch,
    # the OpenFlow 1.3 speaker and the Open vSwitch it is tested against
    OpenFlowListener,
    SwitchConnection,
    connect_to_switch,
    OvsLab,
    # the MEC platform emulator (docs/mec-sim.md)
    MecScenario,
    MecEmulator,
    # the ETSI MEC API clients (docs/mec.md)
    LocationClient,
    parse_zonal_presence_notification,
    AmsClient,
    parse_mobility_procedure_notification,
    AppSupportClient,
    RnisClient,
    parse_cell_change_notification,
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
    "ZoneServer",
    "PollRecord",
    "in_network",
    "A1PollerConfig",
    "a1_poller_spec",
    "a1_poller_recipe",
    "a1_downtime",
    "A2CounterConfig",
    "a2_counter_spec",
    "a2_counter_recipe",
    "A2State",
    "a2_get_state",
    "a2_get_count",
    "a2_udp_count",
    "a2_change_phase",
    "a2_counter_check",
    "memcached_udp_get",
    "memcached_udp_version",
    "DowntimeProber",
    "Probe",
    "AddressLocator",
    "fixed_address",
    "container_address_locator",
    "two_location_probe",
    "a2_probe",
    "ServiceInstance",
    "RouteChange",
    "RouteSwitch",
    "ReplicaProtocol",
    "ReplicaPool",
    "ManualTrigger",
    "OpenFlowRouteSwitch",
    "MecTrafficRuleRouteSwitch",
    "SdnTrigger",
    "FollowMe",
    "open_state_store",
    "StateStore",
    "StateEntry",
    "StateEvent",
    "StateWatch",
    "OpenFlowListener",
    "SwitchConnection",
    "connect_to_switch",
    "OvsLab",
    "MecScenario",
    "MecEmulator",
    "LocationClient",
    "parse_zonal_presence_notification",
    "AmsClient",
    "parse_mobility_procedure_notification",
    "AppSupportClient",
    "RnisClient",
    "parse_cell_change_notification",
]
