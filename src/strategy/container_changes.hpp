// src-only helpers shared by strategies that rebuild an image on the target.
#pragma once

#include <migrate/runtime.hpp>

#include <string>
#include <vector>

namespace migrate::detail {

/// Dockerfile instructions (for `docker import --change`) that give an image the
/// container's own config: ENTRYPOINT, CMD, ENV, WORKDIR, USER, EXPOSE, LABEL. The
/// container created from it carries the full spec anyway; this makes the image itself
/// runnable by hand.
std::vector<std::string> dockerfile_changes(const container_spec& spec);

/// `name` made usable as an image repository component (lowercase, [a-z0-9._-]).
std::string reference_safe(const std::string& name);

}  // namespace migrate::detail
