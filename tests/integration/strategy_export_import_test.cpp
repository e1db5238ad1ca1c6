// export_import (thesis M1) against REAL dockerd on testbed hosts a and b: a busybox counter
// keeping its state in a named volume is moved and must resume, not restart; every failure of
// the target must leave the source serving with its volume and nothing on b. See
// strategy_fixture.hpp for the service and for how b is made to fail (a fault-injecting
// wrapper around b's real engine, a cuttable relay in front of b's real socket, a target
// volume too small for the data).
#include "strategy_fixture.hpp"

#include <migrate/strategy/export_import.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::test;

namespace {
strategy::export_import make(bool in_downtime = false) {
    return strategy::export_import({.image_prefix = strategy_image_prefix, .export_in_downtime = in_downtime});
}
}  // namespace

TEST_CASE("export_import moves the counter: volume, own files and config arrive, the counter resumes",
          "[strategy][export_import]") {
    counter_scene sc("csl-ei-move");
    auto m = make();
    auto rep = check_moves_counter(m, sc);
    // The filesystem crossed before the downtime, the volume inside it.
    bool fs_early = false, volume_in_downtime = false;
    for (auto& t : rep.phases) {
        if (t.phase != phase::transfer) continue;
        if (t.detail.find("filesystem") != std::string::npos) fs_early = t.stage == phase::prepare && t.bytes > 1'000'000;
        if (t.detail.find("volume") != std::string::npos) volume_in_downtime = t.stage == phase::relocate;
    }
    CHECK(fs_early);
    CHECK(volume_in_downtime);
    // The image made on b carries the container's config too (it runs by hand as well).
    auto t = sc.b->inspect(sc.name);
    REQUIRE_OK(t);
    auto img = sc.b->inspect_image(t->image_id);
    REQUIRE_OK(img);
    CHECK(std::any_of(img->tags.begin(), img->tags.end(),
                      [&](auto& tag) { return tag.rfind(strategy_image_prefix + "/" + sc.name + ":", 0) == 0; }));
}

TEST_CASE("export_import with the export in the downtime keeps a file written after prepare",
          "[strategy][export_import]") {
    counter_scene sc("csl-ei-late");
    auto m = make(true);
    auto p = m.prepare(sc.request());
    REQUIRE_OK(p);
    auto src = sc.a->inspect(sc.name);
    REQUIRE_OK(src);
    { std::ofstream(fmt::format("/proc/{}/root/root/late", src->pid)) << "written after prepare\n"; }
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text());
    REQUIRE(rep->success);
    auto t = sc.b->inspect(sc.name);
    REQUIRE_OK(t);
    CHECK(slurp(fmt::format("/proc/{}/root/root/late", t->pid)) == "written after prepare\n");
}

TEST_CASE("export_import rolls back when b refuses the start", "[strategy][export_import][rollback]") {
    counter_scene sc("csl-ei-start");
    auto m = make();
    check_rollback_start_refused(m, sc);
}

TEST_CASE("export_import rolls back when b's daemon becomes unreachable", "[strategy][export_import][rollback]") {
    counter_scene sc("csl-ei-gone");
    auto m = make();
    check_rollback_target_unreachable(m, sc);
}

TEST_CASE("export_import rolls back when b cannot import the volume", "[strategy][export_import][rollback]") {
    counter_scene sc("csl-ei-vol");
    auto m = make();
    check_rollback_volume_import_fails(m, sc);
}
