// REQUIRE_OK(expr): Catch2 REQUIRE for a `migrate::result<T>` that prints the failure (code
// and message) when it fails, so a red test says what the SDK said.
#pragma once

#include <catch2/catch.hpp>

#include <string>

namespace migrate::test {
template <class R>
std::string why(const R& r) {
    return r ? std::string{} : r.error().what();
}
}  // namespace migrate::test

#define REQUIRE_OK(expr)                                  \
    do {                                                  \
        const auto& require_ok_r_ = (expr);               \
        INFO(::migrate::test::why(require_ok_r_));        \
        REQUIRE(require_ok_r_.has_value());               \
    } while (0)
