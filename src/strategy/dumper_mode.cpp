#include <migrate/strategy/dumper_mode.hpp>

#include <fmt/format.h>

#include <array>

namespace migrate::strategy {
namespace {
constexpr std::array<std::string_view, 3> names = {"auto", "daemon", "runc"};
}

std::string_view to_string(dumper_mode m) noexcept { return names[static_cast<std::size_t>(m)]; }
void to_json(json& j, dumper_mode m) { j = std::string(to_string(m)); }

void read_dumper_mode(const json& j, const char* where, const char* key, dumper_mode& out) {
    std::string s{to_string(out)};
    detail::read_field(j, where, key, s);
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == s) {
            out = static_cast<dumper_mode>(i);
            return;
        }
    throw migration_error(make_failure(
        error::invalid_argument, fmt::format("{}.{}: '{}' is not one of auto, daemon, runc", where, key, s)));
}

}  // namespace migrate::strategy
