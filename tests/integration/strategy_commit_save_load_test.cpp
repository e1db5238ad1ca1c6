// commit_save_load (thesis M2) against REAL dockerd on testbed hosts a and b: the counter of
// strategy_fixture.hpp is committed, saved, moved (only the layers b lacks) and loaded; its
// volume moves in the downtime and the counter must resume. Rollbacks as for every strategy
// that carries volumes, plus: the commit made on a and the image loaded on b go too.
#include "strategy_fixture.hpp"

#include <migrate/image_layers.hpp>
#include <migrate/strategy/commit_save_load.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::test;

namespace {

strategy::commit_save_load make(bool in_downtime = false) {
    return strategy::commit_save_load({.image_prefix = strategy_image_prefix, .commit_in_downtime = in_downtime});
}

// b holds none of the base image's layers (a test in this process may have left it there).
std::vector<std::string> base_layers_unknown_to_b(counter_scene& sc) {
    auto base = sc.a->inspect_image(counter_base_image());
    REQUIRE_OK(base);
    (void)sc.b->remove_image(base->id, true);
    auto held = check_layers(*sc.b, base->layers);
    REQUIRE_OK(held);
    REQUIRE(held->held == 0);
    return base->layers;
}

const json& image_transfer(const migration_report& rep) {
    for (auto& t : rep.details.at("transfers"))
        if (t.at("what").get<std::string>().rfind("images ", 0) == 0) return t.at("stats");
    FAIL("no image transfer in the report");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("commit_save_load moves the counter: volume, own files and config arrive, the counter resumes",
          "[strategy][commit_save_load]") {
    counter_scene sc("csl-csl-move");
    base_layers_unknown_to_b(sc);
    auto m = make();
    auto rep = check_moves_counter(m, sc);

    // The commit froze the service inside prepare, and the report says for how long.
    auto frozen = std::find_if(rep.phases.begin(), rep.phases.end(),
                               [](auto& t) { return t.phase == phase::freeze && t.stage == phase::prepare; });
    REQUIRE(frozen != rep.phases.end());
    CHECK(frozen->duration_ms > 0);
    CHECK(rep.details.at("commit").at("paused") == true);
    // b had none of it: the whole image crossed, in prepare.
    CHECK(rep.details.at("image_case") == "full");
    CHECK(image_transfer(rep).at("produced").value("layers_skipped", json::array()).empty());
    CHECK(rep.total_bytes(phase::transfer, phase::prepare) > 1'000'000);
    // b runs the very image committed on a (same id: same config and layers), which a no
    // longer keeps.
    const auto ref = rep.details.at("commit").at("reference").get<std::string>();
    auto t = sc.b->inspect(sc.name);
    REQUIRE_OK(t);
    CHECK(t->image_id == rep.details.at("commit").at("image_id").get<std::string>());
    auto img = sc.b->inspect_image(ref);
    REQUIRE_OK(img);
    CHECK(img->layers.size() == rep.details.at("image_check").at("layers").get<std::size_t>());
    CHECK(sc.a->inspect_image(ref).error_code() == error::not_found);
}

TEST_CASE("commit_save_load sends only the layers b lacks: a second move of the same base sends less",
          "[strategy][commit_save_load]") {
    counter_scene first("csl-csl-one");
    auto base = base_layers_unknown_to_b(first);
    auto m = make();
    auto rep1 = run_migration(m, first.request());
    REQUIRE_OK(rep1);
    INFO(rep1->to_text() << rep1->details.dump(2));
    REQUIRE(rep1->success);
    CHECK(rep1->details.at("image_case") == "full");
    const auto bytes1 = image_transfer(*rep1).at("bytes").get<std::uint64_t>();

    // Another container of the same base image: b holds the base layers now (through the
    // first one's image), so only the new container's own layer crosses.
    counter_scene second("csl-csl-two");
    auto rep2 = run_migration(m, second.request());
    REQUIRE_OK(rep2);
    INFO(rep2->to_text() << rep2->details.dump(2));
    REQUIRE(rep2->success);
    CHECK(rep2->details.at("image_case") == "partial");
    const auto& st2 = image_transfer(*rep2);
    const auto skipped = st2.at("produced").at("layers_skipped").get<std::vector<std::string>>();
    CHECK(skipped == base);                       // exactly the base image's layers
    CHECK(st2.at("produced").at("bytes_saved").get<std::uint64_t>() > 1'000'000);
    const auto bytes2 = st2.at("bytes").get<std::uint64_t>();
    CHECK(bytes2 < bytes1 / 10);
    WARN(fmt::format("image bytes sent: first move {} (case full), second move {} (case partial, {} layer(s) skipped)",
                     bytes1, bytes2, skipped.size()));
    // And b lacks nothing: the second container runs, from all of its layers, counting on.
    auto t = second.b->inspect(second.name);
    REQUIRE_OK(t);
    CHECK(t->running);
    auto img = second.b->inspect_image(t->image_id);
    REQUIRE_OK(img);
    CHECK(img->layers.size() == base.size() + 1);
    CHECK(common_base_layers(img->layers, base) == base.size());
    auto s = second.wait_starts(*second.b, 2);
    REQUIRE(s.size() == 2);
    second.wait_count_at_least(*second.b, s[1] + 3);
}

TEST_CASE("commit_save_load with the commit in the downtime keeps a file written after prepare",
          "[strategy][commit_save_load]") {
    counter_scene sc("csl-csl-late");
    auto m = make(true);
    auto p = m.prepare(sc.request());
    REQUIRE_OK(p);
    CHECK(p->report.details.contains("base_image_case"));
    auto src = sc.a->inspect(sc.name);
    REQUIRE_OK(src);
    { std::ofstream(fmt::format("/proc/{}/root/root/late", src->pid)) << "written after prepare\n"; }
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    // The base moved (or was there) before the downtime: only the container's layer crossed in it.
    CHECK(rep->details.at("image_case") == "partial");
    auto t = sc.b->inspect(sc.name);
    REQUIRE_OK(t);
    CHECK(slurp(fmt::format("/proc/{}/root/root/late", t->pid)) == "written after prepare\n");
    auto s = sc.wait_starts(*sc.b, 2);
    REQUIRE(s.size() == 2);
    CHECK(s[1] > 0);
}

TEST_CASE("commit_save_load rolls back when b refuses the start", "[strategy][commit_save_load][rollback]") {
    counter_scene sc("csl-csl-start");
    auto m = make();
    check_rollback_start_refused(m, sc);
    // The image committed on a for the move is gone too.
    auto imgs = sc.a->list_images();
    REQUIRE_OK(imgs);
    for (auto& i : *imgs)
        for (auto& tag : i.tags) CHECK(tag.rfind(strategy_image_prefix + "/" + sc.name + ":", 0) != 0);
}

TEST_CASE("commit_save_load rolls back when b's daemon becomes unreachable", "[strategy][commit_save_load][rollback]") {
    counter_scene sc("csl-csl-gone");
    auto m = make();
    check_rollback_target_unreachable(m, sc);
}

TEST_CASE("commit_save_load rolls back when b cannot import the volume", "[strategy][commit_save_load][rollback]") {
    counter_scene sc("csl-csl-vol");
    auto m = make();
    check_rollback_volume_import_fails(m, sc);
}
