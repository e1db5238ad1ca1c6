// migrate/strategy/dumper_mode.hpp — the CRIU strategies' choice of who dumps a checkpoint
// (runtime.hpp's `checkpoint_dumper`: the engine's API, or runc directly).
#pragma once

#include <migrate/json.hpp>

#include <string>
#include <string_view>

namespace migrate::strategy {

enum class dumper_mode {
    automatic,  ///< "auto": runc where the engine's `direct_checkpoint_support` says it can, else the daemon (the report says which and why)
    daemon,     ///< "daemon": the engine's checkpoint API
    runc,       ///< "runc": runc directly; the preparation fails (`unsupported`) where it cannot
};
std::string_view to_string(dumper_mode m) noexcept;
inline std::string_view format_as(dumper_mode m) noexcept { return to_string(m); }
void to_json(json& j, dumper_mode m);
/// Reads `j[key]` when present; an unknown name throws `migration_error` naming `where.key`.
void read_dumper_mode(const json& j, const char* where, const char* key, dumper_mode& out);

}  // namespace migrate::strategy
