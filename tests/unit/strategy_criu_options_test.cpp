// Options of the CRIU strategies (checkpoint, shared_fs): JSON round trips, validation that
// names the field, and the registry. The strategies' behaviour is tested against real dockerd
// + CRIU in tests/integration/strategy_{checkpoint,shared_fs}_test.cpp.
#include <migrate/strategies.hpp>
#include <migrate/strategy/checkpoint.hpp>
#include <migrate/strategy/shared_fs.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace migrate;

TEST_CASE("checkpoint options: defaults, JSON round trip", "[strategy][checkpoint]") {
    strategy::checkpoint_strategy_options o;
    CHECK(o.delta);
    CHECK(o.block_size == 4096);
    CHECK(o.pre_dump.mode == strategy::pre_dump_mode::automatic);
    REQUIRE(o.validate());
    json j = o;
    CHECK(j["pre_dump"]["mode"] == "auto");
    CHECK(o.dumper == strategy::dumper_mode::automatic);
    CHECK(j["dumper"] == "auto");
    o.delta = false;
    o.block_size = 8192;
    o.pre_dump = {strategy::pre_dump_mode::off, 10, 2};
    o.checkpoint_prefix = "mig.x_1";
    o.keep_checkpoints = true;
    o.move_volumes = false;
    o.dump_retries = 0;
    o.dumper = strategy::dumper_mode::daemon;
    auto back = parse_options<strategy::checkpoint_strategy_options>(json(o));
    REQUIRE(back);
    CHECK(json(*back) == json(o));
    // Missing fields keep their defaults.
    auto partial = parse_options<strategy::checkpoint_strategy_options>({{"delta", false}});
    REQUIRE(partial);
    CHECK_FALSE(partial->delta);
    CHECK(partial->block_size == 4096);
}

TEST_CASE("checkpoint options: a bad value names its field", "[strategy][checkpoint]") {
    auto fails_on = [](json j, const std::string& field) {
        auto o = parse_options<strategy::checkpoint_strategy_options>(j);
        INFO(j.dump());
        REQUIRE_FALSE(o);
        CHECK(o.error_code() == error::invalid_argument);
        CHECK_THAT(o.error().what(), Catch::Contains(field));
    };
    fails_on({{"block_size", 1000}}, "checkpoint.block_size");
    fails_on({{"block_size", 256}}, "checkpoint.block_size");
    fails_on({{"block_size", 4 << 20}}, "checkpoint.block_size");
    fails_on({{"delta", "yes"}}, "checkpoint.delta");
    fails_on({{"pre_dump", {{"mode", "sometimes"}}}}, "checkpoint.pre_dump.mode");
    fails_on({{"pre_dump", {{"max_rounds", 0}}}}, "checkpoint.pre_dump.max_rounds");
    fails_on({{"pre_dump", {{"page_threshold", 0}}}}, "checkpoint.pre_dump.page_threshold");
    fails_on({{"pre_dump", 3}}, "checkpoint.pre_dump");
    fails_on({{"checkpoint_prefix", "has/slash"}}, "checkpoint.checkpoint_prefix");
    fails_on({{"checkpoint_prefix", "-lead"}}, "checkpoint.checkpoint_prefix");
    fails_on({{"dump_retries", 11}}, "checkpoint.dump_retries");
    fails_on({{"dump_retries", -1}}, "checkpoint.dump_retries");
    fails_on({{"dumper", "criu"}}, "checkpoint.dumper");
}

TEST_CASE("shared_fs options: JSON round trip, validation names the field", "[strategy][shared_fs]") {
    strategy::shared_fs_options o{.shared_root = "/srv/shared", .staging_dir = "cp/staged", .checkpoint_prefix = "m1",
                                  .dump_retries = 5, .dumper = strategy::dumper_mode::runc, .keep_checkpoints = true};
    auto back = parse_options<strategy::shared_fs_options>(json(o));
    REQUIRE(back);
    CHECK(json(*back) == json(o));
    CHECK(back->shared_root == "/srv/shared");
    CHECK(json(*back)["dumper"] == "runc");
    CHECK(strategy::shared_fs_options{}.dumper == strategy::dumper_mode::automatic);

    auto bad_root = make_migrator("shared_fs", {{"shared_root", "relative/path"}});
    REQUIRE_FALSE(bad_root);
    CHECK_THAT(bad_root.error().what(), Catch::Contains("shared_fs.shared_root"));
    auto bad_staging = make_migrator("shared_fs", {{"shared_root", "/srv/x"}, {"staging_dir", "../up"}});
    REQUIRE_FALSE(bad_staging);
    CHECK_THAT(bad_staging.error().what(), Catch::Contains("shared_fs.staging_dir"));
    auto abs_staging = make_migrator("shared_fs", {{"shared_root", "/srv/x"}, {"staging_dir", "/abs"}});
    REQUIRE_FALSE(abs_staging);
    CHECK_THAT(abs_staging.error().what(), Catch::Contains("shared_fs.staging_dir"));
    auto bad_retries = make_migrator("shared_fs", {{"dump_retries", 20}});
    REQUIRE_FALSE(bad_retries);
    CHECK_THAT(bad_retries.error().what(), Catch::Contains("shared_fs.dump_retries"));
    auto bad_dumper = make_migrator("shared_fs", {{"dumper", "podman"}});
    REQUIRE_FALSE(bad_dumper);
    CHECK_THAT(bad_dumper.error().what(), Catch::Contains("shared_fs.dumper: 'podman' is not one of auto, daemon, runc"));
    CHECK_THROWS_AS(strategy::shared_fs({.shared_root = ""}), migration_error);
}

TEST_CASE("the CRIU strategies are registered with what they keep and need", "[strategy]") {
    auto all = list_strategies();
    auto find = [&](const std::string& n) {
        auto it = std::find_if(all.begin(), all.end(), [&](auto& s) { return s.name == n; });
        REQUIRE(it != all.end());
        return *it;
    };
    auto cp = find("checkpoint");
    CHECK(cp.caps.keeps_memory);
    CHECK(cp.caps.keeps_volumes);
    CHECK(cp.caps.needs_criu);
    CHECK_FALSE(cp.caps.needs_shared_fs);
    CHECK(cp.default_options == json(strategy::checkpoint_strategy_options{}));
    auto sf = find("shared_fs");
    CHECK(sf.caps.keeps_memory);
    CHECK(sf.caps.needs_criu);
    CHECK(sf.caps.needs_shared_fs);

    auto m = make_migrator("checkpoint", {{"delta", false}});
    REQUIRE(m);
    CHECK((*m)->name() == "checkpoint");
    CHECK((*m)->options()["delta"] == false);
    CHECK_THAT((*m)->caps().summary, Catch::Contains("whole"));
    auto bad = make_migrator("checkpoint", {{"block_size", 3}});
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().what(), Catch::Contains("checkpoint.block_size"));
}
