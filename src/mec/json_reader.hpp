// src-only: reading MEC documents field by field so that a malformed one is rejected with
// the JSON pointer of the field at fault ("/zonalPresenceNotification/timestamp/seconds:
// expected integer, got string"). Unknown fields are simply never looked at.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/time_stamp.hpp>
#include <migrate/result.hpp>

#include <fmt/format.h>

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

/// A MEC TimeStamp. The specs' schemas say `nanoSeconds`, some of their own examples say
/// `nanoseconds`: both are read.
inline time_stamp read_time(const reader& r) {
    time_stamp t;
    t.seconds = r.integer("seconds");
    if (auto n = r.opt_integer("nanoSeconds")) t.nanoseconds = *n;
    else t.nanoseconds = r.opt_integer("nanoseconds").value_or(0);
    return t;
}

inline json time_json(const time_stamp& t) { return json{{"seconds", t.seconds}, {"nanoSeconds", t.nanoseconds}}; }

/// A discriminator (`notificationType`, `subscriptionType`) that, when present, must say `expected`.
inline void expect_type(const reader& r, const char* key, std::string_view expected) {
    auto t = r.opt_str(key);
    if (t && *t != expected) bad_field(r.at_ptr(key), fmt::format("'{}', expected '{}'", *t, expected));
}

/// Run a parse function, turning a `reader` complaint into a failure.
template <class F>
auto parse_guarded(F f) -> result<decltype(f())> {
    try {
        return f();
    } catch (const migration_error& e) {
        return e.details();
    }
}

/// Parse a reply; a parse failure names the request too.
template <class T, class F>
result<T> reply_as(api_client& api, const char* method, const std::string& path, result<json> j, F parse) {
    if (!j) return j.error();
    auto v = parse(*j);
    if (!v) return make_failure(error::protocol_error, fmt::format("{} {}: {}", method, api.url(path), v.error().message));
    return v;
}

/// "http://x/location/v2/subscriptions/zonalTraffic/sub123" or "sub123" -> "sub123": a
/// subscription is deleted on the client's own base URL, whatever host the platform put in
/// the resource URL (AdvantEDGE answers with its internal name).
inline std::string subscription_id(const std::string& url_or_id) {
    auto s = url_or_id;
    while (!s.empty() && s.back() == '/') s.pop_back();
    auto slash = s.rfind('/');
    return slash == std::string::npos ? s : s.substr(slash + 1);
}

}  // namespace migrate::mec::detail
