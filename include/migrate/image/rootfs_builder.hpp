// migrate/image/rootfs_builder.hpp — container images without a registry.
//
// Edge hosts here reach no image registry, so images are made from the host itself: a
// rootfs tar holding chosen host binaries, every library `ldd` lists for them (and the
// dynamic loader), busybox-static as /bin/busybox with /bin/sh & co. as links, plus extra
// files and directories; then `docker import` with Dockerfile `changes`. memcached's image
// comes out near 10 MB. The tar is streamed: nothing is staged on disk or held in memory,
// so generated multi-gigabyte files are fine.
#pragma once

#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/stream.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::image {

/// A file whose contents are given inline ("/etc/passwd").
struct rootfs_file {
    std::string path;
    std::string content;
    std::uint32_t mode = 0644;
};

/// A directory to create ("/tmp" with 01777).
struct rootfs_dir {
    std::string path;
    std::uint32_t mode = 0755;
};

/// A host file, or a host directory copied recursively (symlinks kept as links), placed at
/// `path` in the image.
struct rootfs_copy {
    std::filesystem::path host;
    std::string path;
};

/// A file of exactly `size` bytes produced by `open()` while the tar is written (large
/// test data without a copy on disk).
struct rootfs_generated {
    std::string path;
    std::uint64_t size = 0;
    std::function<std::unique_ptr<byte_source>()> open;
    std::uint32_t mode = 0644;
};

/// What goes into the rootfs.
struct rootfs_spec {
    /// Host programs (absolute paths or names looked up on PATH), each placed at its host
    /// path with the libraries `ldd` lists for it, at the paths ldd prints.
    std::vector<std::filesystem::path> binaries;
    /// Install busybox (a static build) as /bin/busybox with `applets` as symlinks in /bin.
    bool busybox = true;
    std::filesystem::path busybox_path = "/bin/busybox";
    std::vector<std::string> applets = {"sh",   "ash",  "ls",    "cat",  "echo", "sleep", "mkdir", "rm",
                                        "cp",   "mv",   "ps",    "grep", "sed",  "wc",    "head",  "tail",
                                        "env",  "id",   "kill",  "touch", "date", "true", "false", "test",
                                        "du",   "df",   "find",  "tar",  "chmod", "ln",   "pwd",   "uname",
                                        "nc",   "printf", "seq", "sync", "hostname", "dd"};
    std::vector<rootfs_dir> directories = {{"/tmp", 01777}, {"/etc", 0755}, {"/proc", 0755}, {"/sys", 0755},
                                           {"/dev", 0755},  {"/root", 0700}, {"/var", 0755}, {"/run", 0755}};
    std::vector<rootfs_file> files;
    std::vector<rootfs_copy> copies;
    std::vector<rootfs_generated> generated;

    /// `invalid_argument` naming the field (relative paths, a generated file without a
    /// producer, nothing at all to put in the image).
    result<void> validate() const;
};

/// What a build wrote.
struct rootfs_stats {
    std::uint64_t bytes = 0;                        ///< tar bytes written
    std::size_t entries = 0;                        ///< tar entries
    std::vector<std::string> libraries;             ///< shared libraries pulled in by ldd
};

/// The shared libraries (and the dynamic loader) `ldd` lists for `binary`; empty for a
/// static binary. `not_found` when ldd reports a library as "not found".
result<std::vector<std::filesystem::path>> shared_libraries(const std::filesystem::path& binary);

/// Streams the rootfs tar into `out` (the sink is not closed). Errors name the host file
/// or the spec field at fault. Thread safety: reentrant.
result<rootfs_stats> build_rootfs(const rootfs_spec& spec, byte_sink& out);
/// Same, into a file (created or truncated; removed again on failure).
result<rootfs_stats> build_rootfs_file(const rootfs_spec& spec, const std::filesystem::path& file);

/// Builds the rootfs and streams it straight into `runtime.import_image` (no file in
/// between); returns the image id. `changes` are Dockerfile instructions
/// (CMD/ENTRYPOINT/ENV/WORKDIR/EXPOSE/USER/LABEL).
result<std::string> build_image(container_runtime& runtime, const rootfs_spec& spec, std::string_view reference,
                                const std::vector<std::string>& changes = {});

/// A rootfs spec plus the `changes` that make it a runnable image.
struct image_recipe {
    rootfs_spec rootfs;
    std::vector<std::string> changes;
};

/// busybox alone (~2 MB): CMD ["/bin/sh"].
image_recipe busybox_recipe();
/// memcached + its libraries + busybox, /etc/passwd and /etc/group (root, nobody):
/// ENTRYPOINT ["/usr/bin/memcached", "-u", "root"], CMD ["-p", PORT, "-U", PORT, "-m", MB]
/// (UDP on the same port, for the one-datagram downtime probe). It runs as root on purpose:
/// without CAP_SYS_RESOURCE (as on these hosts) CRIU cannot dump a task of another user.
image_recipe memcached_recipe(std::uint16_t port = 11211, unsigned memory_mb = 64);

/// The thesis workload A1, the stateless poller (examples/workloads/a1_poller.cpp; the build
/// makes `migrate-a1-poller`, linked static) + busybox: `binary` at
/// /usr/local/bin/migrate-a1-poller, ENTRYPOINT that (the url etc. go in the container's
/// cmd, see workload::a1_poller_spec). A dynamically linked binary gets the libraries
/// `ldd` lists. Runs as root (CRIU here cannot dump another user's task). `not_found`
/// naming `binary` when it does not exist.
result<image_recipe> a1_poller_recipe(const std::filesystem::path& binary);
/// The thesis workload A2, the zone-change counter (examples/workloads/a2_counter.cpp,
/// `migrate-a2-counter`) + busybox: `binary` at /usr/local/bin/migrate-a2-counter,
/// ENTRYPOINT that, /data for the state volume (workload::a2_counter_spec).
result<image_recipe> a2_counter_recipe(const std::filesystem::path& binary);
/// The vehicular example's digital twin (examples/vmd, `migrate-vmd-twin`; dynamically
/// linked, so libcoap, libcurl and the rest come along from `ldd`) + busybox: `binary` at
/// /usr/local/bin/migrate-vmd-twin, ENTRYPOINT that, CMD ["--store", "file:/data/store"],
/// /data for a volume holding the state store (or give it --store redis://ADDRESS:PORT, an
/// address the container can reach: the testbed's client address), CoAP on 5683/udp.
result<image_recipe> vmd_twin_recipe(const std::filesystem::path& binary);

}  // namespace migrate::image
