// migrate/runtime.hpp — `container_runtime`: what strategies ask of a container engine.
//
// Strategies talk to this interface, never to a daemon's wire format. The Docker Engine
// implementation is `migrate::docker::engine` (migrate/docker/engine.hpp). Every artifact
// body (exports, image tars, volume and checkpoint archives) goes through `byte_sink` /
// `byte_source`: they reach gigabytes and are never held whole in memory.
//
// Thread safety: one runtime object per thread; distinct objects are independent.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/stream.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

/// A mount of a container: a named volume or a host path (bind).
struct mount_spec {
    enum class kind { volume, bind, tmpfs };
    kind type = kind::volume;
    std::string source;     ///< volume name or host path (empty for tmpfs)
    std::string target;     ///< path inside the container
    bool read_only = false;
};

/// Everything needed to create the same container on another engine: the thesis's M1 lost
/// this (the app had to be started by hand on the target); we carry it.
struct container_spec {
    std::string name;                         ///< container name (no leading '/')
    std::string image;                        ///< image reference
    std::vector<std::string> cmd;
    std::vector<std::string> entrypoint;
    std::vector<std::string> env;             ///< "KEY=value"
    std::string working_dir;
    std::string user;
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;   ///< "11211/tcp"
    std::string network_mode = "none";        ///< "host", "none", "container:x", a network
    std::vector<mount_spec> mounts;
    json extra_host_config = json::object();  ///< further HostConfig fields, passed verbatim
};

struct container_info {
    std::string id;
    std::string name;
    std::string image_id;
    std::string status;          ///< "created", "running", "paused", "exited", ...
    bool running = false;
    bool paused = false;
    int pid = 0;                 ///< host pid of the init process when running
    int exit_code = 0;
    container_spec spec;         ///< captured config, ready for `create` elsewhere
};

struct image_info {
    std::string id;                        ///< "sha256:..."
    std::vector<std::string> tags;
    std::uint64_t size = 0;
    std::vector<std::string> layers;       ///< RootFS diff ids, base first
};

struct volume_info {
    std::string name;
    std::string driver;
    std::filesystem::path mountpoint;
    std::map<std::string, std::string> labels;
};

/// Who runs CRIU for a checkpoint.
enum class checkpoint_dumper {
    /// The engine's checkpoint API (`docker checkpoint create`). On Docker, containerd has
    /// runc dump into a temporary directory, packs the images into its content store, and
    /// dockerd unpacks them into the checkpoint directory: two more copies of every page
    /// while the service is frozen.
    daemon,
    /// The OCI runtime directly (`runc checkpoint` on the container's own runc state),
    /// writing straight into the directory where the engine keeps the container's
    /// checkpoints: the same images, which the engine lists and restores as its own, without
    /// the copies. Needs the runtime's state visible from this process
    /// (`container_runtime::direct_checkpoint_support`).
    runc,
};
std::string_view to_string(checkpoint_dumper d) noexcept;
inline std::string_view format_as(checkpoint_dumper d) noexcept { return to_string(d); }

struct checkpoint_options {
    std::string name;                      ///< checkpoint id
    bool exit = true;                      ///< stop the container after dumping (the downtime)
    checkpoint_dumper dumper = checkpoint_dumper::daemon;
};

struct runtime_version {
    std::string version;                   ///< "20.10.24"
    std::string api_version;               ///< "1.41"
    bool experimental = false;             ///< checkpoints need it on Docker
    std::filesystem::path root_dir;        ///< daemon data root
};

/// The container engine of one edge host.
class container_runtime {
public:
    virtual ~container_runtime() = default;

    /// Where this runtime talks to, for messages ("unix:///run/migrate-tb-a.sock").
    virtual std::string endpoint() const = 0;
    virtual result<runtime_version> version() = 0;

    // --- containers -------------------------------------------------------------------
    virtual result<container_info> inspect(std::string_view name_or_id) = 0;
    /// Creates (does not start) a container; returns its id.
    virtual result<std::string> create(const container_spec& spec) = 0;
    virtual result<void> start(std::string_view id) = 0;
    virtual result<void> stop(std::string_view id, std::chrono::seconds grace = std::chrono::seconds{10}) = 0;
    virtual result<void> pause(std::string_view id) = 0;
    virtual result<void> unpause(std::string_view id) = 0;
    virtual result<void> remove(std::string_view id, bool force = false) = 0;

    // --- filesystem and images --------------------------------------------------------
    /// Streams the container's flattened filesystem as a tar (`docker export`).
    virtual result<void> export_container(std::string_view id, byte_sink& out) = 0;
    /// Creates an image from a rootfs tar (`docker import`); returns the image id.
    /// `changes` are Dockerfile instructions ("CMD [\"memcached\"]").
    virtual result<std::string> import_image(byte_source& rootfs_tar, std::string_view reference,
                                             const std::vector<std::string>& changes = {}) = 0;
    /// Commits a container to an image (`docker commit`); `pause` freezes it meanwhile.
    virtual result<std::string> commit(std::string_view id, std::string_view reference, bool pause = true) = 0;
    /// Streams `docker save` of the given images.
    virtual result<void> save_images(const std::vector<std::string>& references, byte_sink& out) = 0;
    /// Loads a `docker save` tar; returns the loaded references/ids as the daemon reports them.
    virtual result<std::vector<std::string>> load_images(byte_source& tar) = 0;
    virtual result<image_info> inspect_image(std::string_view reference) = 0;
    virtual result<void> remove_image(std::string_view reference, bool force = false) = 0;
    /// Every image the engine holds: id, tags, size; `layers` may be left empty (then
    /// `inspect_image` has them). Asked of a target to learn which layers it already has
    /// (migrate/image_layers.hpp). Default: `unsupported`.
    virtual result<std::vector<image_info>> list_images() {
        return make_failure(error::unsupported, endpoint() + ": cannot list its images");
    }

    // --- volumes ----------------------------------------------------------------------
    virtual result<volume_info> create_volume(std::string_view name,
                                              const std::map<std::string, std::string>& labels = {}) = 0;
    virtual result<volume_info> inspect_volume(std::string_view name) = 0;
    virtual result<void> remove_volume(std::string_view name, bool force = false) = 0;
    /// Streams the volume's contents as a tar (paths relative to the volume root).
    virtual result<void> export_volume(std::string_view name, byte_sink& out) = 0;
    /// Unpacks a tar made by `export_volume` into the (existing) volume.
    virtual result<void> import_volume(std::string_view name, byte_source& tar) = 0;

    // --- checkpoints (CRIU) -----------------------------------------------------------
    virtual result<void> create_checkpoint(std::string_view id, const checkpoint_options& opts) = 0;
    virtual result<std::vector<std::string>> list_checkpoints(std::string_view id) = 0;
    virtual result<void> delete_checkpoint(std::string_view id, std::string_view name) = 0;
    /// Streams a checkpoint's image files as a tar.
    virtual result<void> export_checkpoint(std::string_view id, std::string_view name, byte_sink& out) = 0;
    /// Places a checkpoint tar where `start_from_checkpoint` finds it for container `id`.
    virtual result<void> import_checkpoint(std::string_view id, std::string_view name, byte_source& tar) = 0;
    /// Starts a created container from a checkpoint (CRIU restore).
    virtual result<void> start_from_checkpoint(std::string_view id, std::string_view name) = 0;
    /// Whether `create_checkpoint` with `checkpoint_dumper::runc` can dump container `id` from
    /// here; the failure (`unsupported`) says what is missing. Default: `unsupported`.
    virtual result<void> direct_checkpoint_support(std::string_view id) {
        (void)id;
        return make_failure(error::unsupported, endpoint() + ": this engine has no direct (runc) checkpoint dumper");
    }
    /// Where the checkpoint's image files live on this machine, for engines whose files the
    /// SDK can read directly (delta transfer works on them). Default: `unsupported`.
    virtual result<std::filesystem::path> checkpoint_directory(std::string_view id, std::string_view name) {
        (void)id;
        (void)name;
        return make_failure(error::unsupported, endpoint() + ": checkpoint files are not reachable from here");
    }
};

void to_json(json& j, const mount_spec& m);
void from_json(const json& j, mount_spec& m);
void to_json(json& j, const container_spec& s);
void from_json(const json& j, container_spec& s);
void to_json(json& j, const container_info& c);
void to_json(json& j, const image_info& i);
void to_json(json& j, const volume_info& v);

}  // namespace migrate
