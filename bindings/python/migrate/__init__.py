"""migrate: move stateful services between edge hosts.

The C++ SDK's Python face. Options go in as dicts (the same JSON documents the C++ API and
the CLI tools take); failures raise :class:`MigrationError` with ``code``, ``condition``,
``message`` and ``retryable``.
"""
from ._migrate import (  # noqa: F401
    __version__,
    MigrationError,
    MigrationReport,
    MemcachedClient,
    MemcachedDataset,
    retry_advice,
)
from . import _migrate as _core

# Optional parts appear as their C++ side lands; import what the extension has.
for _name in ("DockerEngine", "Testbed", "TestbedHost", "build_rootfs_image", "checkpoint_move"):
    if hasattr(_core, _name):
        globals()[_name] = getattr(_core, _name)

__all__ = [n for n in globals() if not n.startswith("_")]
