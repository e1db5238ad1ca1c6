// migrate/docker/engine.hpp — `migrate::docker::engine`: the Docker Engine API (v1.41,
// dockerd 20.10) over a unix socket, implementing `container_runtime`.
//
// Every artifact body (exports, `docker save`/`load`, imports, volume and checkpoint
// archives) is streamed chunk by chunk between the daemon and a `byte_sink`/`byte_source`:
// memory stays flat whatever the size (see docs/docker-engine.md for the measured figure).
// libcurl stays out of this header (pimpl).
//
// Same-machine requirement: Docker 20.10 refuses a custom checkpoint directory on start, so
// `export_checkpoint`/`import_checkpoint` read and write the daemon's own
// `<DockerRootDir>/containers/<id>/checkpoints/<name>` with `tar`. They therefore need this
// process on the same machine (and mount namespace) as the daemon, as root; every other call
// only needs the socket.
//
// Thread safety: one engine per thread (it reuses one HTTP connection); distinct engines are
// independent.
#pragma once

#include <migrate/json.hpp>
#include <migrate/runtime.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <map>
#include <string>

namespace migrate::docker {

/// How to reach a dockerd and how patient to be with it.
struct engine_options {
    /// dockerd's unix socket.
    std::filesystem::path socket = "/run/docker.sock";
    /// API version prefix of every request; the SDK is written against "v1.41".
    std::string api_version = "v1.41";
    /// Connecting to the socket.
    std::chrono::milliseconds connect_timeout{5000};
    /// Whole-request limit for small (JSON) requests; `stop` adds its grace period and
    /// checkpoint creation may take this long too.
    std::chrono::milliseconds request_timeout{120000};
    /// Streamed transfers have no total limit (they reach gigabytes); they fail when no
    /// byte moved for this long.
    std::chrono::milliseconds stall_timeout{300000};
    /// Buffer size for streamed bodies, 16 KiB .. 2 MiB (libcurl's upload limit).
    std::size_t chunk_size = 256 * 1024;
    /// The tiny image the engine imports itself (when missing) for volume helper containers.
    std::string helper_image = "migrate-helper:1";

    /// `invalid_argument` naming the first bad field ("engine_options.chunk_size: ...").
    result<void> validate() const;
};
void to_json(json& j, const engine_options& o);
void from_json(const json& j, engine_options& o);

/// A user-defined docker network (what the testbed's per-host service networks need).
struct network_spec {
    std::string name;
    std::string driver = "bridge";
    std::string subnet;                              ///< "10.70.3.0/24"; empty = the daemon picks
    std::string gateway;                             ///< "10.70.3.1"; empty = the daemon picks
    std::map<std::string, std::string> options;      ///< driver options ("com.docker.network.bridge.name")
    std::map<std::string, std::string> labels;
};

/// A network as the daemon reports it (`GET /networks/{id}`).
struct network_info {
    std::string id;
    std::string name;
    std::string driver;
    std::string subnet;                              ///< first IPAM config, "" when none
    std::string gateway;
    std::map<std::string, std::string> options;
    std::map<std::string, std::string> labels;
    /// Attached containers: name -> IPv4 address ("10.70.3.2", no prefix). A container is
    /// listed as soon as its endpoint exists (a restore in progress included), without
    /// waiting for the container's own lock, so probes can poll this cheaply.
    std::map<std::string, std::string> containers;
};
void to_json(json& j, const network_info& n);

/// A Docker Engine reached over its unix socket.
///
/// Errors (each message names the object, the endpoint and quotes the daemon's `message`):
/// cannot connect -> `daemon_unreachable`; 404 -> `not_found`; 409 -> `conflict`;
/// 400 -> `invalid_argument`; 5xx -> `daemon_error`; an answer that is not the JSON we
/// expect -> `protocol_error`; an import/load input that is not a tar -> `corrupt_artifact`
/// (detected before anything reaches the daemon, or from the daemon's `errorDetail`).
/// Sinks are never closed by the engine: whoever owns the sink closes it.
class engine final : public container_runtime {
public:
    /// Throws `migration_error` (`invalid_argument`) when the options are invalid. Does not
    /// connect: the first call does (use `ping()` to check the daemon).
    explicit engine(engine_options opts = {});
    /// Non-throwing factory: the validation failure, or the engine.
    static result<std::unique_ptr<engine>> make(engine_options opts);
    ~engine() override;
    engine(engine&&) noexcept;
    engine& operator=(engine&&) noexcept;

    const engine_options& options() const noexcept;

    /// `GET /_ping`: ok when the daemon answers.
    result<void> ping();

    /// `GET /containers/json`: containers (all states when `all`), optionally only those
    /// carrying `label` ("key" or "key=value"). Summary fields only: id, name, image_id,
    /// status, running, paused, spec.image and spec.labels.
    result<std::vector<container_info>> list_containers(bool all = true, std::string_view label = {});
    /// `GET /images/json`: id, tags and size of every image (`layers` left empty).
    result<std::vector<image_info>> list_images() override;

    std::string endpoint() const override;
    result<runtime_version> version() override;

    result<container_info> inspect(std::string_view name_or_id) override;
    result<std::string> create(const container_spec& spec) override;
    /// Already running is success (the daemon's 304).
    result<void> start(std::string_view id) override;
    /// Already stopped is success (the daemon's 304).
    result<void> stop(std::string_view id, std::chrono::seconds grace = std::chrono::seconds{10}) override;
    result<void> pause(std::string_view id) override;
    result<void> unpause(std::string_view id) override;
    /// Removes the container; its named volumes are kept (they are state).
    result<void> remove(std::string_view id, bool force = false) override;

    result<void> export_container(std::string_view id, byte_sink& out) override;
    /// `POST /images/create?fromSrc=-`: the tar is streamed (chunked). The first block is
    /// checked to be a tar (or compressed tar) before the daemon sees anything.
    result<std::string> import_image(byte_source& rootfs_tar, std::string_view reference,
                                     const std::vector<std::string>& changes = {}) override;
    result<std::string> commit(std::string_view id, std::string_view reference, bool pause = true) override;
    result<void> save_images(const std::vector<std::string>& references, byte_sink& out) override;
    result<std::vector<std::string>> load_images(byte_source& tar) override;
    result<image_info> inspect_image(std::string_view reference) override;
    result<void> remove_image(std::string_view reference, bool force = false) override;

    result<volume_info> create_volume(std::string_view name,
                                      const std::map<std::string, std::string>& labels = {}) override;
    result<volume_info> inspect_volume(std::string_view name) override;
    result<void> remove_volume(std::string_view name, bool force = false) override;
    /// A plain local volume whose directory is visible here: `tar` in that directory
    /// (numeric owners). Any other: through the archive API of a never-started helper
    /// container (from `helper_image`, imported when missing) with the volume mounted; the
    /// helper is removed on every path. Both give paths relative to the volume root.
    result<void> export_volume(std::string_view name, byte_sink& out) override;
    /// As `export_volume`; `not_found` when the volume does not exist (it is never created
    /// implicitly).
    result<void> import_volume(std::string_view name, byte_source& tar) override;

    /// `POST /networks/create` (CheckDuplicate): `conflict` when the name is taken,
    /// `invalid_argument` for a subnet the daemon refuses.
    result<network_info> create_network(const network_spec& spec);
    result<network_info> inspect_network(std::string_view name_or_id);
    /// `not_found` when there is no such network; `conflict` while containers use it.
    result<void> remove_network(std::string_view name_or_id);
    /// The IPv4 address of a container on `network` (empty: on its first network with an
    /// address), from `GET /containers/{id}/json`. `not_found` when the container does not
    /// exist or has no address there yet (created but not started, stopped, network none/host).
    /// The address is the daemon's: a container restored on another host gets that host's.
    result<std::string> container_address(std::string_view id, std::string_view network = {});

    /// `POST /containers/{id}/checkpoints`; needs an `--experimental` daemon and CRIU.
    /// The container's stdio must be pipes or /dev/null (CRIU cannot dump a host file as
    /// stdout).
    /// `opts.dumper == runc`: `runc checkpoint` straight into the checkpoint directory
    /// (docker/runc_dump.hpp), without containerd's copies.
    result<void> create_checkpoint(std::string_view id, const checkpoint_options& opts) override;
    /// docker/runc_dump.hpp: runc on PATH, the container running with its runc state visible
    /// here, no restart policy.
    result<void> direct_checkpoint_support(std::string_view id) override;
    result<std::vector<std::string>> list_checkpoints(std::string_view id) override;
    result<void> delete_checkpoint(std::string_view id, std::string_view name) override;
    /// `tar -c` of `<DockerRootDir>/containers/<id>/checkpoints/<name>`; same machine only.
    result<void> export_checkpoint(std::string_view id, std::string_view name, byte_sink& out) override;
    /// `tar -x` into `<DockerRootDir>/containers/<id>/checkpoints/<name>` (replacing what was
    /// there; removed again if unpacking fails); same machine only.
    result<void> import_checkpoint(std::string_view id, std::string_view name, byte_source& tar) override;
    result<void> start_from_checkpoint(std::string_view id, std::string_view name) override;
    /// `<DockerRootDir>/containers/<id>/checkpoints/<name>` (need not exist yet); same machine only.
    result<std::filesystem::path> checkpoint_directory(std::string_view id, std::string_view name) override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate::docker
