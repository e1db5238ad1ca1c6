// migrate/docker/runc_dump.hpp — checkpointing a Docker container with runc directly.
//
// Why: `docker checkpoint create` has containerd run `runc checkpoint` into a temporary
// directory, pack the images into its content store, and then dockerd unpacks them into the
// container's checkpoint directory — two more copies of every memory page while the service
// is frozen (or, with `exit`, while it is down). Measured here (memcached, 15 MB of images,
// docs/strategies.md): docker 0.73-0.79 s, runc straight into the checkpoint directory
// 0.33-0.40 s.
//
// `runc checkpoint` run on the container's own runc state (the state dockerd's containerd
// shim keeps under `<exec-root>/runtime-runc/<namespace>`) writes the same images dockerd
// would: dockerd lists them with its own checkpoints and `docker start --checkpoint`
// restores them (tested in tests/integration/docker_engine_test.cpp, "runc dump: ...").
//
// Requirements, each checked by `runc_dump_support` with a message naming what is missing:
// runc on PATH; the container running; its containerd shim and runc state visible from this
// process (the SDK on the same machine as the daemon, as for the delta transfer); restart
// policy "no" (after a runc dump with exit, dockerd sees an ordinary exit and would restart
// a container with a restart policy); a network namespace of its own (CRIU leaves its
// network lock in the dumped namespace after an exit dump: in the host's, it cuts the host
// off).
#pragma once

#include <migrate/result.hpp>
#include <migrate/runtime.hpp>

#include <filesystem>
#include <string_view>

namespace migrate::docker {

class engine;

/// Where runc keeps the state of a running container (the directory holding
/// `<id>/state.json`), found from the container's containerd shim: the shim's parent of the
/// container's init is `containerd-shim-runc-v2 -namespace <ns> -address
/// <exec-root>/containerd/containerd.sock`, and dockerd gives runc `<exec-root>/runtime-runc`
/// as its root. `unsupported` naming what was not found.
result<std::filesystem::path> runc_state_root(const container_info& c);

/// Ok when `runc_checkpoint` can dump container `id` of `e` from here; else `unsupported`
/// (or `not_found` for an unknown container) saying why.
result<void> runc_dump_support(engine& e, std::string_view id);

/// `runc checkpoint` of container `id` into `e.checkpoint_directory(id, opts.name)`
/// (`--leave-running` unless `opts.exit`). On failure the partial directory is removed and
/// the message quotes CRIU's last log lines; CRIU resumes the service when a dump fails, so
/// a failed dump leaves it running (`daemon_error`, which callers may retry). The
/// container's cgroup is frozen by us first (CRIU's own freeze waits in steps of 100 ms) and
/// thawed after. With `exit`, returns as soon as CRIU is done: dockerd reports the container
/// stopped a moment later (about 0.2 s here), which callers that restore it must wait for.
result<void> runc_checkpoint(engine& e, std::string_view id, const checkpoint_options& opts);

}  // namespace migrate::docker
