// migrate/image_layers.hpp — moving an image without the layers the receiver already has.
//
// Two halves of the same idea (Addad's check, thesis M2/M3):
//   - ask the receiver which of an image's layers it holds: `check_layers` says whether the
//     whole image is there (`memory`), its base layers (`partial`) or nothing (`full`);
//   - send a `docker save` archive without the `layer.tar` of those layers:
//     `save_images_without_layers` (what `artifacts::images(refs, skip_layers)` produces).
//
// Why this works with Docker 20.10: `docker load` walks each image's RootFS.DiffIDs base
// first and, for a layer whose chain id it already holds, never opens that layer's
// `layer.tar` (moby image/tarexport/load.go); only manifest.json and the image config must
// be there. A chain id covers the layer AND every layer below it, so a layer can be left out
// only when all layers below it are left out too: what is skipped is always a base-first run.
//
// Why a staging file: the save archive holds one directory per layer named by a v1 id (in
// lexical order, not rootfs order) and manifest.json near the end, so which directory is
// which diff id is only known once the whole archive has been seen. The save is written to
// the host's work dir, indexed, streamed out filtered, and deleted.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

/// Which of an image's layers a receiver holds (Addad's three cases).
enum class image_case {
    memory,   ///< every layer: nothing but the image's config and manifest has to move
    partial,  ///< a base-first run of the layers (e.g. the base image): only the rest moves
    full,     ///< none (or the receiver could not say): the whole image moves
};
std::string_view to_string(image_case c) noexcept;
inline std::string_view format_as(image_case c) noexcept { return to_string(c); }
void to_json(json& j, image_case c);
void from_json(const json& j, image_case& c);

/// The answer of `check_layers`.
struct layer_check {
    image_case which = image_case::full;
    std::vector<std::string> layers;  ///< the image's layer diff ids, base first
    std::size_t held = 0;             ///< how many of them, base first, the receiver holds
    std::string held_by;              ///< an image on the receiver holding that run ("sha256:..")
    std::string note;                 ///< why the receiver could not be asked, if it could not

    /// The diff ids to leave out of the transfer: `layers[0, held)`.
    std::vector<std::string> skip() const;
};
void to_json(json& j, const layer_check& c);

/// How many of `layers` (base first) `held` starts with: the run a receiver holding an image
/// with layers `held` need not be sent.
std::size_t common_base_layers(const std::vector<std::string>& layers, const std::vector<std::string>& held) noexcept;

/// Asks `receiver` which of `layers` (an image's diff ids, base first) it already holds, by
/// listing its images and comparing their layers. A receiver that cannot list its images
/// (`unsupported`) yields `full` with a `note`; other failures (daemon unreachable) fail.
result<layer_check> check_layers(container_runtime& receiver, const std::vector<std::string>& layers);

/// What `filter_saved_images` sent and left out.
struct layer_filter_stats {
    std::vector<std::string> layers_sent;      ///< diff ids whose layer.tar is in the output
    std::vector<std::string> layers_skipped;   ///< diff ids whose layer.tar was left out
    std::uint64_t archive_bytes = 0;           ///< the whole `docker save` archive
    std::uint64_t sent_bytes = 0;              ///< what was written to the sink
    std::uint64_t bytes_saved() const noexcept { return archive_bytes > sent_bytes ? archive_bytes - sent_bytes : 0; }
};
void to_json(json& j, const layer_filter_stats& s);

/// Copies the `docker save` archive `archive` into `out` (not closed) without the layer.tar
/// of every layer in the base-first run of each image whose diff ids are all in `skip`.
/// A layer.tar that a kept layer links to (save writes a symlink for a repeated diff id) is
/// kept. Everything else (manifest.json, configs, the layer directories' VERSION and json)
/// is copied unchanged. `corrupt_artifact` naming the archive when it is not a save archive
/// (bad header, no manifest.json, a config or layer the manifest names is missing).
result<layer_filter_stats> filter_saved_images(const std::filesystem::path& archive,
                                               const std::vector<std::string>& skip, byte_sink& out);

/// `docker save` of `refs` on `rt`, streamed into `out` without the layers in `skip` (diff
/// ids the receiver holds; see `filter_saved_images`). The save is staged in `work_dir`
/// (created if missing) and removed on every path. Returns `layer_filter_stats` as JSON (with
/// the staging size); the report shows it as the transfer's `produced` details.
result<json> save_images_without_layers(container_runtime& rt, const std::vector<std::string>& refs,
                                        const std::vector<std::string>& skip, const std::filesystem::path& work_dir,
                                        byte_sink& out);

}  // namespace migrate
