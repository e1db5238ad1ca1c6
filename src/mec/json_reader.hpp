// src-only: reading MEC documents field by field so that a malformed one is rejected with
// the JSON pointer of the field at fault ("/zonalPresenceNotification/timestamp/seconds:
// expected integer, got string"). Unknown fields are simply never looked at.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace migrate::mec::detail {

/// Thrown by `reader`; the parse entry points turn it into `protocol_error`.
[[noreturn]] inline void bad_field(const std::string& pointer, const std::string& what) {
    throw migration_error(make_failure(error::protocol_error, (pointer.empty() ? "/" : pointer) + ": " + what));
}

/// A view of one JSON object at `pointer` in the document.
class reader {
public:
    reader(const json& j, std::string pointer) : j_(j), ptr_(std::move(pointer)) {
        if (!j_.is_object()) bad_field(ptr_, std::string("expected object, got ") + j_.type_name());
    }

    const std::string& pointer() const { return ptr_; }
    std::string at_ptr(const char* key) const { return ptr_ + "/" + key; }
    bool has(const char* key) const { auto it = j_.find(key); return it != j_.end() && !it->is_null(); }
    const json& raw() const { return j_; }

    std::string str(const char* key) const {
        if (auto v = opt_str(key)) return *v;
        bad_field(at_ptr(key), "missing");
    }
    std::optional<std::string> opt_str(const char* key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_string()) bad_field(at_ptr(key), std::string("expected string, got ") + v->type_name());
        return v->get<std::string>();
    }
    std::int64_t integer(const char* key) const {
        if (auto v = opt_integer(key)) return *v;
        bad_field(at_ptr(key), "missing");
    }
    std::optional<std::int64_t> opt_integer(const char* key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_number_integer()) bad_field(at_ptr(key), std::string("expected integer, got ") + v->type_name());
        return v->get<std::int64_t>();
    }
    std::optional<double> opt_number(const char* key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_number()) bad_field(at_ptr(key), std::string("expected number, got ") + v->type_name());
        return v->get<double>();
    }
    std::optional<bool> opt_bool(const char* key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) bad_field(at_ptr(key), std::string("expected boolean, got ") + v->type_name());
        return v->get<bool>();
    }
    reader object(const char* key) const {
        const json* v = find(key);
        if (!v) bad_field(at_ptr(key), "missing");
        return reader(*v, at_ptr(key));
    }
    std::optional<reader> opt_object(const char* key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        return reader(*v, at_ptr(key));
    }
    /// Each element of the array `key` (absent -> none) read with `f(reader)` or, for
    /// strings, as strings. A single object where the spec says array is accepted (the
    /// specs' own examples do that, e.g. MEC013's notification `link`).
    template <class F>
    auto objects(const char* key, F f) const {
        using T = decltype(f(std::declval<reader>()));
        std::vector<T> out;
        const json* v = find(key);
        if (!v) return out;
        if (v->is_object()) { out.push_back(f(reader(*v, at_ptr(key)))); return out; }
        if (!v->is_array()) bad_field(at_ptr(key), std::string("expected array, got ") + v->type_name());
        for (std::size_t i = 0; i < v->size(); ++i)
            out.push_back(f(reader((*v)[i], at_ptr(key) + "/" + std::to_string(i))));
        return out;
    }
    std::vector<std::string> strings(const char* key) const {
        std::vector<std::string> out;
        const json* v = find(key);
        if (!v) return out;
        if (!v->is_array()) bad_field(at_ptr(key), std::string("expected array, got ") + v->type_name());
        for (std::size_t i = 0; i < v->size(); ++i) {
            if (!(*v)[i].is_string())
                bad_field(at_ptr(key) + "/" + std::to_string(i), std::string("expected string, got ") + (*v)[i].type_name());
            out.push_back((*v)[i].get<std::string>());
        }
        return out;
    }

private:
    const json* find(const char* key) const {
        auto it = j_.find(key);
        return it == j_.end() || it->is_null() ? nullptr : &*it;
    }
    const json& j_;
    std::string ptr_;
};

/// Run a parse function, turning a `reader` complaint into a failure.
template <class F>
auto parse_guarded(F f) -> result<decltype(f())> {
    try {
        return f();
    } catch (const migration_error& e) {
        return e.details();
    }
}

}  // namespace migrate::mec::detail
