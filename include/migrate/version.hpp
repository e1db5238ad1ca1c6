// migrate/version.hpp — the SDK's version.
#pragma once

#define MIGRATE_VERSION_MAJOR 0
#define MIGRATE_VERSION_MINOR 1
#define MIGRATE_VERSION_PATCH 0

namespace migrate {
inline constexpr const char* version_string = "0.1.0";
}
