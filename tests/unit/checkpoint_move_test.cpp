// Sequencing and rollback of checkpoint_move, against the in-memory FAKE runtime. The real
// move against dockerd + CRIU is tested in tests/integration/checkpoint_move_test.cpp.
#include "fake_runtime.hpp"

#include <migrate/checkpoint_move.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using migrate::test::fake_runtime;

namespace {
std::size_t index_of(const std::vector<std::string>& calls, const std::string& c) {
    return std::find(calls.begin(), calls.end(), c) - calls.begin();
}
}  // namespace

TEST_CASE("a move carries the memory state and removes the source only after the target runs", "[checkpoint_move]") {
    fake_runtime a{"a"}, b{"b"};
    auto id = a.add_running("mc", "memcached", "1000 keys");
    auto rep = checkpoint_move(a, b, {.container = "mc", .source_label = "a", .target_label = "b"});
    REQUIRE(rep);
    CHECK(rep->success);
    CHECK_FALSE(rep->rolled_back);
    auto* moved = b.find("mc");
    REQUIRE(moved);
    CHECK(moved->info.running);
    CHECK(moved->memory == "1000 keys");
    CHECK(a.containers.empty());
    // The target was started before the source was removed.
    CHECK(index_of(b.calls, "start_from_checkpoint") < b.calls.size());
    CHECK(index_of(a.calls, "remove") > index_of(a.calls, "export_checkpoint"));
    // The image went over because b lacked it; phases are in the report.
    CHECK(b.images.count("memcached"));
    CHECK(rep->total_ms(phase::relocate) > 0);
    CHECK(rep->phases.size() >= 6);
    (void)id;
}

TEST_CASE("the image is not moved when the target has it", "[checkpoint_move]") {
    fake_runtime a{"a"}, b{"b"};
    a.add_running("mc", "memcached", "m");
    b.images.insert("sha256:memcached");
    b.images.insert("memcached");
    auto rep = checkpoint_move(a, b, {.container = "mc"});
    REQUIRE(rep->success);
    CHECK(index_of(a.calls, "save_images") == a.calls.size());
    CHECK(rep->details["image_transfer"] == "target already has the image");
}

TEST_CASE("a failed restore on the target brings the source back with its memory", "[checkpoint_move][rollback]") {
    fake_runtime a{"a"}, b{"b"};
    auto id = a.add_running("mc", "memcached", "1000 keys");
    b.fail_next["start_from_checkpoint"] = make_failure(error::daemon_error, "criu restore failed");
    auto rep = checkpoint_move(a, b, {.container = "mc"});
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::Contains("criu restore failed"));
    CHECK(rep->rolled_back);
    REQUIRE(a.find(id));
    CHECK(a.find(id)->info.running);
    CHECK(a.find(id)->memory == "1000 keys");      // restored from its checkpoint, not cold
    CHECK(a.find(id)->checkpoints.empty());        // ... which is gone, so a retry can checkpoint again
    CHECK(b.find("mc") == nullptr);                // nothing left on the target
    CHECK_FALSE(b.images.count("memcached"));      // the image we loaded is gone again
}

TEST_CASE("a failed transfer rolls back; a failed cold path is reported honestly", "[checkpoint_move][rollback]") {
    fake_runtime a{"a"}, b{"b"};
    auto id = a.add_running("mc", "memcached", "state");
    b.fail_next["import_checkpoint"] = make_failure(error::io_error, "link down");
    auto rep = checkpoint_move(a, b, {.container = "mc"});
    CHECK_FALSE(rep->success);
    CHECK(rep->rolled_back);
    CHECK(a.find(id)->memory == "state");

    fake_runtime c{"c"}, d{"d"};
    auto id2 = c.add_running("mc", "memcached", "state");
    d.fail_next["start_from_checkpoint"] = make_failure(error::daemon_error, "restore refused");
    c.fail_next["start_from_checkpoint"] = make_failure(error::daemon_error, "restore refused on source too");
    auto rep2 = checkpoint_move(c, d, {.container = "mc"});
    CHECK_FALSE(rep2->success);
    CHECK(rep2->rolled_back);                          // started cold
    CHECK(c.find(id2)->memory == "fresh");             // ... and the report says memory was lost
    CHECK(c.find(id2)->checkpoints.count("migrate"));  // the only copy of the state is kept
    CHECK_THAT(rep2->details["rollback"].dump(), Catch::Contains("memory state lost"));
}

TEST_CASE("bad input changes nothing", "[checkpoint_move]") {
    fake_runtime a{"a"}, b{"b"};
    a.add_running("mc", "memcached", "m");
    SECTION("unknown container") {
        auto rep = checkpoint_move(a, b, {.container = "nope"});
        REQUIRE(rep);
        CHECK_FALSE(rep->success);
        CHECK_THAT(rep->error, Catch::Contains("nope") && Catch::Contains("fake://a"));
        CHECK_FALSE(rep->rolled_back);
    }
    SECTION("name taken on the target") {
        b.add_running("mc", "other", "x");
        auto rep = checkpoint_move(a, b, {.container = "mc"});
        CHECK_FALSE(rep->success);
        CHECK_THAT(rep->error, Catch::Contains("already exists"));
    }
    SECTION("invalid options") {
        auto rep = checkpoint_move(a, b, {.container = ""});
        REQUIRE_FALSE(rep);
        CHECK_THAT(rep.error().message, Catch::Contains("checkpoint_move_options.container"));
    }
    CHECK(a.find("mc")->info.running);
    CHECK(index_of(a.calls, "create_checkpoint") == a.calls.size());
}

TEST_CASE("a target that cannot be asked fails prepare before anything moves", "[checkpoint_move][rollback]") {
    fake_runtime a{"a"}, b{"b"};
    a.add_running("mc", "memcached", "m");
    b.fail_next["inspect"] = make_failure(error::daemon_unreachable, "cannot connect to fake://b");
    auto rep = checkpoint_move(a, b, {.container = "mc"});
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_unreachable") && Catch::Contains("fake://b"));
    CHECK(rep->rolled_back);                           // the source keeps the service
    CHECK(index_of(a.calls, "save_images") == a.calls.size());
    CHECK(index_of(a.calls, "create_checkpoint") == a.calls.size());
    CHECK(a.find("mc")->info.running);
}

TEST_CASE("a stop request before relocation leaves the source untouched", "[checkpoint_move]") {
    fake_runtime a{"a"}, b{"b"};
    a.add_running("mc", "memcached", "m");
    std::stop_source ss;
    ss.request_stop();
    auto rep = checkpoint_move(a, b, {.container = "mc"}, {}, ss.get_token());
    CHECK_FALSE(rep->success);
    CHECK(a.find("mc")->info.running);
    CHECK(index_of(a.calls, "create_checkpoint") == a.calls.size());
    CHECK(b.find("mc") == nullptr);
}
