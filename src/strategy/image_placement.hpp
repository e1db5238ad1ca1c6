// src-only: Addad's check and the image move, shared by the strategies that run the same
// image on the target (checkpoint, shared_fs).
#pragma once

#include <migrate/artifact.hpp>
#include <migrate/migrator.hpp>
#include <migrate/transport.hpp>

#include <functional>
#include <stop_token>
#include <string>

namespace migrate::detail {

/// `migrator_base::transfer` bound to one migration (it is protected, so strategies pass it in).
using transfer_fn =
    std::function<result<transfer_stats>(std::string detail, const artifact_spec& produce, const artifact_spec& consume)>;

/// Makes sure the target holds the source container's image, moving only what it lacks:
/// the exact image (by id) -> "memory", nothing moves; a base-first run of its layers ->
/// "partial", the save leaves those layers out (falling back to the whole image, and saying
/// so, when that cannot be done); nothing -> "full". Writes `details.image_case` and
/// `details.image`, points `p.target_spec.image` at the id when the reference does not name
/// the same image on both sides, and records a loaded image in `p.target_images` (rollback
/// removes it). An unreachable target fails (never taken for an empty one).
result<void> place_image(prepared& p, const transfer_fn& transfer, std::stop_token stop);

}  // namespace migrate::detail
