#include <migrate/events.hpp>

#include <array>

namespace migrate {
namespace {
constexpr std::array<std::pair<phase, std::string_view>, 11> phase_names{{
    {phase::prepare, "prepare"}, {phase::snapshot, "snapshot"}, {phase::transfer, "transfer"},
    {phase::restore, "restore"}, {phase::relocate, "relocate"}, {phase::freeze, "freeze"},
    {phase::resume, "resume"}, {phase::route_switch, "route_switch"}, {phase::verify, "verify"},
    {phase::cleanup, "cleanup"}, {phase::rollback, "rollback"},
}};
}  // namespace

std::string_view to_string(phase p) noexcept {
    for (auto& [k, v] : phase_names) if (k == p) return v;
    return "unknown";
}

void to_json(json& j, phase p) { j = to_string(p); }

void from_json(const json& j, phase& p) {
    const auto s = j.get<std::string>();
    for (auto& [k, v] : phase_names) if (v == s) { p = k; return; }
    throw json::type_error::create(302, "unknown phase '" + s + "'", &j);
}

}  // namespace migrate
