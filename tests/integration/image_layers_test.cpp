// Layer skipping against REAL dockerd (testbed hosts a and b): Addad's check asks b which
// layers it holds, and `docker load` on b accepts a save without the layers it holds and
// refuses it, with a clear error and nothing loaded, when it lacks them.
#include "strategy_fixture.hpp"

#include <migrate/artifact.hpp>
#include <migrate/image_layers.hpp>
#include <migrate/pipe.hpp>
#include <migrate/transport.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::test;

namespace {

// An image on a of the counter base plus one layer of its own (a commit).
struct layered_image {
    docker::engine a = engine_on("a");
    docker::engine b = engine_on("b");
    std::string ref = fmt::format("cslt/layers:{}", ::getpid());
    std::string base_id;
    image_info info;

    layered_image() {
        const auto& base = counter_base_image();
        auto bi = a.inspect_image(base);
        REQUIRE_OK(bi);
        base_id = bi->id;
        clean();
        (void)a.remove("cslt-layers", true);
        auto id = a.create({.name = "cslt-layers", .image = base, .cmd = {"/bin/sh", "-c", "echo top > /top; sleep 600"}});
        REQUIRE_OK(id);
        REQUIRE_OK(a.start(*id));
        for (int i = 0; i < 50 && !std::filesystem::exists(fmt::format("/proc/{}/root/top", a.inspect(*id)->pid)); ++i)
            std::this_thread::sleep_for(100ms);
        REQUIRE_OK(a.commit(*id, ref, true));
        REQUIRE_OK(a.remove(*id, true));
        auto i = a.inspect_image(ref);
        REQUIRE_OK(i);
        info = *i;
        REQUIRE(info.layers.size() == bi->layers.size() + 1);
    }
    ~layered_image() {
        clean();
        (void)a.remove_image(ref, true);
    }
    void clean() {
        (void)b.remove_image(ref, true);
        (void)b.remove_image(base_id, true);
    }
    // save on a minus `skip`, load on b, as the transfer of a migration does it.
    result<transfer_stats> move(const std::vector<std::string>& skip) {
        edge_host from{.name = "a", .address = tb_host("a").address,
                       .runtime = std::make_shared<docker::engine>(engine_on("a")), .work_dir = tb_host("a").work_dir};
        edge_host to{.name = "b", .address = tb_host("b").address,
                     .runtime = std::make_shared<docker::engine>(engine_on("b")), .work_dir = tb_host("b").work_dir};
        auto spec = artifacts::images({ref}, skip);
        return make_local_transport()->transfer(from, spec, to, spec);
    }
};

}  // namespace

TEST_CASE("docker load on b accepts a save without the base layers once b holds them", "[docker][image_layers]") {
    layered_image img;
    auto& b = img.b;
    const std::vector<std::string> base(img.info.layers.begin(), img.info.layers.end() - 1);

    // Addad's check: b holds nothing of it yet.
    auto none = check_layers(b, img.info.layers);
    REQUIRE_OK(none);
    CHECK(none->which == image_case::full);
    CHECK(none->held == 0);

    // The base image crosses whole.
    {
        auto spec = artifacts::images({img.base_id});
        edge_host from{.name = "a", .address = {}, .runtime = std::make_shared<docker::engine>(engine_on("a")), .work_dir = {}};
        edge_host to{.name = "b", .address = {}, .runtime = std::make_shared<docker::engine>(engine_on("b")), .work_dir = {}};
        REQUIRE_OK(make_local_transport()->transfer(from, spec, to, spec));
    }
    auto partial = check_layers(b, img.info.layers);
    REQUIRE_OK(partial);
    CHECK(partial->which == image_case::partial);
    CHECK(partial->held == base.size());
    CHECK(partial->held_by == img.base_id);
    CHECK(partial->skip() == base);

    // The image without its base layers: much smaller, and b loads it.
    auto moved = img.move(partial->skip());
    REQUIRE_OK(moved);
    auto produced = moved->produced;
    INFO(produced.dump(2));
    CHECK(produced.at("layers_skipped") == json(base));
    CHECK(produced.at("layers_sent") == json::array({img.info.layers.back()}));
    CHECK(produced.at("bytes_saved").get<std::uint64_t>() > 1'000'000);
    CHECK(moved->bytes < 100'000);
    CHECK(moved->bytes == produced.at("sent_bytes").get<std::uint64_t>());
    auto loaded = b.inspect_image(img.ref);
    REQUIRE_OK(loaded);
    CHECK(loaded->id == img.info.id);
    CHECK(loaded->layers == img.info.layers);
    // It runs there, with the committed file and the base's files.
    auto id = b.create({.name = "cslt-layers-b", .image = img.ref, .cmd = {"/bin/sh", "-c", "sleep 600"}});
    REQUIRE_OK(id);
    REQUIRE_OK(b.start(*id));
    auto c = b.inspect(*id);
    REQUIRE_OK(c);
    CHECK(slurp(fmt::format("/proc/{}/root/top", c->pid)) == "top\n");
    CHECK_FALSE(slurp(fmt::format("/proc/{}/root/etc/migrate-test-run", c->pid)).empty());
    REQUIRE_OK(b.remove(*id, true));

    // Now b holds it all.
    auto memory = check_layers(b, img.info.layers);
    REQUIRE_OK(memory);
    CHECK(memory->which == image_case::memory);
    // The staging file is gone from a's work dir.
    for (auto& f : std::filesystem::directory_iterator(tb_host("a").work_dir))
        CHECK(f.path().filename().string().rfind(".save-", 0) != 0);
}

TEST_CASE("docker load on b refuses a save without layers b lacks: clear error, nothing loaded", "[docker][image_layers]") {
    layered_image img;
    auto& b = img.b;
    const std::vector<std::string> base(img.info.layers.begin(), img.info.layers.end() - 1);
    auto before = inventory(b);

    // The engine alone: docker's own message, which names the layer.tar it could not open.
    {
        auto staged = strategy_scratch() / "filtered.tar";
        auto sink = file_sink(staged);
        auto a = engine_on("a");
        auto st = save_images_without_layers(a, {img.ref}, base, strategy_scratch(), *sink);
        REQUIRE_OK(st);
        REQUIRE_OK(sink->close());
        auto src = file_source(staged);
        REQUIRE_OK(src);
        auto raw = b.load_images(**src);
        REQUIRE_FALSE(raw);
        CHECK_THAT(raw.error().what(), Catch::Contains("layer.tar"));
        std::filesystem::remove(staged);
    }
    // Through an artifact transfer, as a migration does it: the error says what went wrong.
    auto moved = img.move(base);
    REQUIRE_FALSE(moved);
    INFO(moved.error().what());
    CHECK(moved.error_code() == error::not_found);
    CHECK_THAT(moved.error().message, Catch::Contains("said to hold") && Catch::Contains(base.front()) &&
                                          Catch::Contains("send the image whole"));
    CHECK(b.inspect_image(img.ref).error_code() == error::not_found);
    CHECK(inventory(b) == before);
}
