// migrate/artifact.hpp — what a transfer carries between two edge hosts, named as data.
//
// A strategy never copies bytes itself: it says "produce <this artifact> on the source,
// consume it as <that artifact> on the target" and a `transport` moves the stream. Because
// the artifact is a plain description (JSON on the wire), the same transfer runs in this
// process (both engines reachable here) or between two host agents, agent to agent, without
// the bytes passing through the driver.
//
//   kind              produce (source side)                 consume (target side)
//   container_fs      export_container(container)           import_image(reference, changes)
//   images            save_images(images), minus `skip_layers`  load_images
//   volume            export_volume(volume)                 import_volume(volume)
//   checkpoint        export_checkpoint(container, checkpoint)  import_checkpoint(container, checkpoint)
//   checkpoint_delta  blocks of `checkpoint` that differ    rebuild `checkpoint` from `base` + blocks
//                     from `base` (both on this host)       (base already on this host)
//   file              read work_dir/path                    write work_dir/path
//
// Mixing kinds stages: produce `container_fs`, consume `file` = an export saved on the
// target's disk (what the thesis's raw procedure does with `scp`).
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/stream.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

enum class artifact_kind { container_fs, images, volume, checkpoint, checkpoint_delta, file };
std::string_view to_string(artifact_kind k) noexcept;
inline std::string_view format_as(artifact_kind k) noexcept { return to_string(k); }
void to_json(json& j, artifact_kind k);
void from_json(const json& j, artifact_kind& k);

/// One end of a transfer. Only the fields its kind uses are read (table above).
struct artifact_spec {
    artifact_kind kind = artifact_kind::file;
    std::string container;                 ///< container name or id on that host
    std::vector<std::string> images;       ///< image references or ids (images)
    /// images: layer diff ids (base first) the receiver already holds: left out of the save
    /// on the producing side (image_layers.hpp); on the consuming side named in the error
    /// when the receiver turns out to lack them.
    std::vector<std::string> skip_layers;
    std::string volume;                    ///< volume name
    std::string checkpoint;                ///< checkpoint name
    std::string base;                      ///< checkpoint_delta: the checkpoint both sides hold
    std::uint32_t block_size = 0;          ///< checkpoint_delta: compared block size, 0 = 4096
    std::string path;                      ///< file: relative to the host's work dir, no ".."
    std::string reference;                 ///< container_fs consume: the image reference to make
    std::vector<std::string> changes;      ///< container_fs consume: Dockerfile instructions

    /// `invalid_argument` naming the field the kind needs, or a path that leaves the work dir.
    result<void> validate() const;
    /// For messages and reports: "checkpoint 'final' of container 3f2a9c".
    std::string describe() const;
};
void to_json(json& j, const artifact_spec& a);
void from_json(const json& j, artifact_spec& a);

/// Shorthands for the common cases.
namespace artifacts {
artifact_spec container_fs(std::string container);
artifact_spec image_from_fs(std::string reference, std::vector<std::string> changes = {});
artifact_spec images(std::vector<std::string> refs, std::vector<std::string> skip_layers = {});
artifact_spec volume(std::string name);
artifact_spec checkpoint(std::string container, std::string name);
artifact_spec checkpoint_delta(std::string container, std::string name, std::string base);
artifact_spec file(std::string relative_path);
}  // namespace artifacts

/// Streams `a` out of the host whose engine is `rt` and whose scratch directory is
/// `work_dir` into `out` (not closed). Returns details for the report (e.g. a delta's
/// full and sent sizes, which layers were skipped).
result<json> produce_artifact(container_runtime& rt, const std::filesystem::path& work_dir,
                              const artifact_spec& a, byte_sink& out);
/// Reads `in` to its end into the host as `a`. Returns what the engine reported (the image
/// id of an import, the references a load made, a delta's rebuilt size).
result<json> consume_artifact(container_runtime& rt, const std::filesystem::path& work_dir,
                              const artifact_spec& a, byte_source& in);

}  // namespace migrate
