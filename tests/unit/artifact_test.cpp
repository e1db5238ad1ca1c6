#include <migrate/artifact.hpp>

#include <catch2/catch.hpp>

using namespace migrate;

TEST_CASE("artifact specs name the field a kind needs", "[artifact]") {
    auto v = artifacts::volume("").validate();
    REQUIRE_FALSE(v);
    CHECK_THAT(v.error().message, Catch::Contains("artifact.volume"));
    auto c = artifacts::checkpoint_delta("c1", "final", "").validate();
    REQUIRE_FALSE(c);
    CHECK_THAT(c.error().message, Catch::Contains("artifact.base"));
    CHECK(artifacts::checkpoint_delta("c1", "final", "first").validate());
}

TEST_CASE("file artifacts stay inside the work dir", "[artifact]") {
    for (const char* bad : {"../x", "/etc/passwd", "a/../../b", ""}) {
        auto r = artifacts::file(bad).validate();
        REQUIRE_FALSE(r);
        CHECK(r.error_code() == error::invalid_argument);
    }
    CHECK(artifacts::file("staged/export.tar").validate());
}

TEST_CASE("artifact specs round-trip through JSON and reject unknown kinds", "[artifact]") {
    auto a = artifacts::images({"x:1", "y:2"}, {"sha256:aa"});
    json j = a;
    auto b = j.get<artifact_spec>();
    CHECK(b.kind == artifact_kind::images);
    CHECK(b.images == a.images);
    CHECK(b.skip_layers == a.skip_layers);
    json bad = {{"kind", "teleport"}};
    CHECK_THROWS_WITH(bad.get<artifact_spec>(), Catch::Contains("teleport"));
}
