// migrate/result.hpp — `result<T>`: a value, or an error code with a message that names
// what failed and where ("container 'foo' not found on unix:///run/docker-a.sock").
#pragma once

#include <migrate/error.hpp>

#include <cassert>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace migrate {

/// An error with context: the code (compare with `migrate::condition`) and a message for
/// humans that names what and where.
struct failure {
    std::error_code code;
    std::string message;

    /// "daemon_unreachable: cannot connect to /run/docker-a.sock: No such file"
    std::string what() const {
        std::string s{code.category() == error_category() ? to_string(static_cast<error>(code.value()))
                                                          : std::string_view{code.message()}};
        if (!message.empty()) { s += ": "; s += message; }
        return s;
    }
};

inline failure make_failure(error e, std::string message) { return {make_error_code(e), std::move(message)}; }

/// Thrown by the throwing wrappers (`value()`, `throw_if_error`).
class migration_error : public std::system_error {
public:
    explicit migration_error(const failure& f) : std::system_error(f.code, f.message), failure_(f) {}
    const failure& details() const noexcept { return failure_; }
private:
    failure failure_;
};

/// Value-or-failure. `result<void>` carries only success or a failure.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;
    result(T v) : v_(std::in_place_index<0>, std::move(v)) {}                    // NOLINT implicit
    result(failure f) : v_(std::in_place_index<1>, std::move(f)) { assert(error_code()); }  // NOLINT
    result(::migrate::error e, std::string message) : result(make_failure(e, std::move(message))) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; throws `migration_error` when this holds a failure.
    T& value() & { check(); return std::get<0>(v_); }
    const T& value() const& { check(); return std::get<0>(v_); }
    T&& value() && { check(); return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    /// The failure; precondition: `!has_value()`.
    const failure& error() const& { return std::get<1>(v_); }
    std::error_code error_code() const noexcept { return has_value() ? std::error_code{} : std::get<1>(v_).code; }

private:
    void check() const { if (!has_value()) throw migration_error(std::get<1>(v_)); }
    std::variant<T, failure> v_;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(failure f) : f_(std::move(f)) {}  // NOLINT implicit
    result(::migrate::error e, std::string message) : f_(make_failure(e, std::move(message))) {}
    bool has_value() const noexcept { return !f_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { if (f_) throw migration_error(*f_); }
    const failure& error() const& { return *f_; }
    std::error_code error_code() const noexcept { return f_ ? f_->code : std::error_code{}; }
private:
    std::optional<failure> f_;
};

/// Success for `result<void>`.
inline result<void> ok() { return {}; }

}  // namespace migrate

/// Propagate a failure from an expression returning `result<...>`; else continue.
#define MIGRATE_TRY(expr)                                              \
    do {                                                               \
        if (auto migrate_try_r_ = (expr); !migrate_try_r_)             \
            return migrate_try_r_.error();                             \
    } while (0)
