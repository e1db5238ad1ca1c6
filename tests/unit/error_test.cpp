#include <migrate/error.hpp>
#include <migrate/result.hpp>

#include <catch2/catch.hpp>

using namespace migrate;

TEST_CASE("errors map to portable conditions with retry advice", "[error]") {
    std::error_code ec = error::daemon_unreachable;
    CHECK(ec == condition::unavailable);
    CHECK(ec != condition::not_found);
    CHECK(is_retryable(ec));
    CHECK_FALSE(is_retryable(error::not_found));
    CHECK(std::error_code(error::timeout) == condition::deadline_exceeded);
    CHECK(ec.message() == "daemon_unreachable");
    CHECK_FALSE(retry_advice(condition::unavailable).empty());
}

TEST_CASE("generic socket errors group into conditions", "[error]") {
    CHECK(std::make_error_code(std::errc::connection_refused) == condition::unavailable);
    CHECK(std::make_error_code(std::errc::timed_out) == condition::deadline_exceeded);
}

TEST_CASE("every error has a name and a condition", "[error]") {
    for (int i = 0; i <= static_cast<int>(error::internal); ++i) {
        auto e = static_cast<error>(i);
        CHECK(to_string(e) != "unknown");
        CHECK(to_string(condition_of(e)) != "unknown");
    }
}

TEST_CASE("result carries a value or a failure naming what and where", "[result]") {
    result<int> good = 42;
    REQUIRE(good);
    CHECK(*good == 42);

    result<int> bad{error::not_found, "container 'nope' on unix:///run/x.sock"};
    REQUIRE_FALSE(bad);
    CHECK(bad.error_code() == condition::not_found);
    CHECK(bad.error().what() == "not_found: container 'nope' on unix:///run/x.sock");
    CHECK_THROWS_AS(bad.value(), migration_error);

    result<void> v;
    CHECK(v);
    result<void> fv = make_failure(error::io_error, "disk full");
    CHECK_FALSE(fv);
    CHECK_THROWS_WITH(fv.value(), Catch::Contains("disk full"));
}

namespace {
result<int> parse_positive(int x) {
    if (x <= 0) return make_failure(error::invalid_argument, "x: must be positive");
    return x;
}
result<int> twice(int x) {
    MIGRATE_TRY(parse_positive(x));
    return 2 * x;
}
}  // namespace

TEST_CASE("MIGRATE_TRY propagates the first failure", "[result]") {
    CHECK(*twice(3) == 6);
    auto r = twice(-1);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "x: must be positive");
}
