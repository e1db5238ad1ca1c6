// migrate/strategies.hpp — every migration strategy by name, for CLIs, benchmarks and
// bindings: `make_migrator("checkpoint", options_json)`.
#pragma once

#include <migrate/json.hpp>
#include <migrate/migrator.hpp>
#include <migrate/result.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

struct strategy_info {
    std::string name;
    capabilities caps;            ///< with default options
    json default_options;
};
void to_json(json& j, const strategy_info& s);

/// Every strategy this build knows, in a stable order.
std::vector<strategy_info> list_strategies();

/// The strategy `name` configured by `options` (a JSON object; missing fields keep their
/// defaults). `not_found` listing the known names; `invalid_argument` naming a bad field.
result<std::unique_ptr<migrator>> make_migrator(std::string_view name, const json& options = json::object());

}  // namespace migrate
