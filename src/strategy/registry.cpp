#include <migrate/strategies.hpp>
#include <migrate/strategy/commit_save_load.hpp>
#include <migrate/strategy/checkpoint.hpp>
#include <migrate/strategy/export_import.hpp>
#include <migrate/strategy/shared_fs.hpp>

#include <fmt/format.h>

#include <functional>

namespace migrate {

namespace {

struct entry {
    std::string_view name;
    std::function<result<std::unique_ptr<migrator>>(const json&)> make;
};

template <class Strategy, class Options>
result<std::unique_ptr<migrator>> make_with(const json& j) {
    if (!j.is_object()) return make_failure(error::invalid_argument, "strategy options: expected a JSON object");
    // A misspelt option would silently keep its default: refuse names the strategy lacks.
    const json known = Options{};
    for (auto& [key, value] : j.items())
        if (!known.contains(key)) {
            std::vector<std::string> names;
            for (auto& [k, v] : known.items()) names.push_back(k);
            return make_failure(error::invalid_argument, fmt::format("{}.{}: no such option (known: {})", Strategy(Options{}).name(),
                                                                     key, fmt::join(names, ", ")));
        }
    auto o = parse_options<Options>(j);
    if (!o) return o.error();
    return std::unique_ptr<migrator>(std::make_unique<Strategy>(std::move(*o)));
}

const std::vector<entry>& registry() {
    static const std::vector<entry> r = {
        {"export_import", &make_with<strategy::export_import, strategy::export_import_options>},
        {"commit_save_load", &make_with<strategy::commit_save_load, strategy::commit_save_load_options>},
        {"checkpoint", &make_with<strategy::checkpoint, strategy::checkpoint_strategy_options>},
        {"shared_fs", &make_with<strategy::shared_fs, strategy::shared_fs_options>},
    };
    return r;
}

}  // namespace

void to_json(json& j, const strategy_info& s) {
    j = json{{"name", s.name}, {"caps", s.caps}, {"default_options", s.default_options}};
}

std::vector<strategy_info> list_strategies() {
    std::vector<strategy_info> out;
    for (auto& e : registry()) {
        auto m = e.make(json::object());
        if (!m) continue;
        out.push_back({std::string(e.name), (*m)->caps(), (*m)->options()});
    }
    return out;
}

result<std::unique_ptr<migrator>> make_migrator(std::string_view name, const json& options) {
    for (auto& e : registry())
        if (e.name == name) return e.make(options.is_null() ? json::object() : options);
    std::vector<std::string_view> names;
    for (auto& e : registry()) names.push_back(e.name);
    return make_failure(error::not_found,
                        fmt::format("no strategy '{}'; known: {}", name, fmt::join(names, ", ")));
}

}  // namespace migrate
