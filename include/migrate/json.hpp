// migrate/json.hpp — the JSON library used for options and reports (nlohmann/json), and
// the helpers every options struct uses so that a bad document names the field at fault.
#pragma once

#include <migrate/result.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace migrate {

using json = nlohmann::json;

namespace detail {
/// Read `j[key]` into `out` when present; a wrong type throws `migration_error` naming
/// `where.key` (so "docker_options.timeout_ms: expected number, got string").
template <class T>
void read_field(const json& j, const char* where, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    try {
        out = it->template get<T>();
    } catch (const json::exception& e) {
        throw migration_error(make_failure(error::invalid_argument,
            std::string(where) + "." + key + ": " + e.what()));
    }
}
}  // namespace detail

/// Parse an options struct from JSON, then `validate()` it; all errors name the field.
template <class Options>
result<Options> parse_options(const json& j) {
    try {
        Options o = j.template get<Options>();
        if (auto v = o.validate(); !v) return v.error();
        return o;
    } catch (const migration_error& e) {
        return e.details();
    } catch (const json::exception& e) {
        return make_failure(error::invalid_argument, e.what());
    }
}

}  // namespace migrate
