// commit_save_load sequencing and rollback on IN-MEMORY FAKES of container_runtime
// (tests/unit/fake_runtime.hpp): which step runs in which stage, what rollback and cleanup
// remove. The real-engine behaviour (layers skipped, volumes and files carried, rollback on
// real daemons) is in tests/integration/strategy_commit_save_load_test.cpp.
#include "fake_runtime.hpp"

#include <migrate/strategies.hpp>
#include <migrate/strategy/commit_save_load.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace migrate;
using migrate::test::fake_runtime;

namespace {

struct fixture {
    std::shared_ptr<fake_runtime> a = std::make_shared<fake_runtime>("a");
    std::shared_ptr<fake_runtime> b = std::make_shared<fake_runtime>("b");
    std::string source_id = a->add_running("svc", "img", "state-1");

    migration_request request() {
        migration_request r;
        r.source = {"a", "10.0.0.2", a, "/tmp"};
        r.target = {"b", "10.0.0.3", b, "/tmp"};
        r.container = "svc";
        return r;
    }
};

std::ptrdiff_t position(const fake_runtime& rt, const std::string& method) {
    return std::find(rt.calls.begin(), rt.calls.end(), method) - rt.calls.begin();
}
bool called(const fake_runtime& rt, const std::string& method) {
    return position(rt, method) < static_cast<std::ptrdiff_t>(rt.calls.size());
}

const phase_timing* find_phase(const migration_report& r, phase ph, std::optional<phase> stage) {
    for (auto& t : r.phases)
        if (t.phase == ph && t.stage == stage) return &t;
    return nullptr;
}

}  // namespace

TEST_CASE("commit_save_load: commit, save and load in prepare; stop, volumes, start in relocate", "[migrator][commit_save_load]") {
    fixture f;
    strategy::commit_save_load m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    CHECK(called(*f.a, "commit"));
    CHECK(called(*f.a, "save_images"));
    CHECK(called(*f.b, "load_images"));
    CHECK(position(*f.b, "load_images") < position(*f.b, "create"));
    CHECK_FALSE(called(*f.a, "stop"));
    const auto ref = p->state.at("committed").get<std::string>();
    CHECK(ref.rfind("migrate/commit/svc:", 0) == 0);
    CHECK(p->target_spec.image == ref);
    CHECK(f.b->images.count(ref));
    // The commit's pause is a freeze inside prepare, and the check of the target is reported.
    CHECK(find_phase(p->report, phase::freeze, phase::prepare));
    CHECK(find_phase(p->report, phase::snapshot, phase::prepare));
    CHECK(p->report.details.at("image_case") == "full");   // the fake cannot list images
    CHECK(p->report.details.at("commit").at("paused") == true);

    auto rep = m.relocate(*p);
    REQUIRE(rep);
    CHECK(rep->success);
    CHECK(f.b->find("svc")->info.running);
    CHECK(f.a->find("svc") == nullptr);
    CHECK(f.a->images.count(ref) == 0);          // the commit made on the source is gone
    CHECK(f.b->images.count(ref) == 1);          // the target runs from it
    CHECK(find_phase(*rep, phase::freeze, phase::relocate));
}

TEST_CASE("commit_save_load: a start refused on the target rolls back both sides", "[migrator][commit_save_load]") {
    fixture f;
    strategy::commit_save_load m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    const auto ref = p->state.at("committed").get<std::string>();
    f.b->fail_next["start"] = make_failure(error::daemon_error, "start refused on b");
    auto rep = m.relocate(*p);
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK(rep->rolled_back);
    CHECK(f.a->find("svc")->info.running);
    CHECK(f.b->find("svc") == nullptr);
    CHECK(f.b->images.count(ref) == 0);          // loaded on the target: removed
    CHECK(f.a->images.count(ref) == 0);          // committed on the source: removed too
}

TEST_CASE("commit_save_load: a failed load undoes the commit and leaves the source running", "[migrator][commit_save_load]") {
    fixture f;
    strategy::commit_save_load m;
    f.b->fail_next["load_images"] = make_failure(error::corrupt_artifact, "not an image tar");
    auto p = m.prepare(f.request());
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::corrupt_artifact);
    CHECK(f.a->find("svc")->info.running);
    CHECK_FALSE(called(*f.a, "stop"));
    CHECK(f.b->containers.empty());
    CHECK(std::none_of(f.a->images.begin(), f.a->images.end(),
                       [](auto& i) { return i.rfind("migrate/commit/", 0) == 0; }));
}

TEST_CASE("commit_save_load in the downtime: base image early, commit after the stop", "[migrator][commit_save_load]") {
    fixture f;
    strategy::commit_save_load m({.commit_in_downtime = true});
    CHECK(m.caps().keeps_filesystem);
    auto p = m.prepare(f.request());
    REQUIRE(p);
    CHECK_FALSE(called(*f.a, "commit"));
    CHECK(called(*f.b, "load_images"));          // the base image
    CHECK(p->report.details.contains("base_image_case"));
    CHECK(p->target_id.empty());
    auto rep = m.relocate(*p);
    REQUIRE(rep);
    CHECK(rep->success);
    CHECK(position(*f.a, "stop") < position(*f.a, "commit"));
    CHECK(find_phase(*rep, phase::snapshot, phase::relocate));
    CHECK(find_phase(*rep, phase::freeze, phase::prepare) == nullptr);   // nothing paused early
}

TEST_CASE("commit_save_load options: JSON round trip, validation names the field, registry", "[migrator][commit_save_load]") {
    strategy::commit_save_load_options o{.image_prefix = "edge/snap", .pause = false, .skip_present_layers = false,
                                         .commit_in_downtime = true};
    json j = o;
    auto back = j.get<strategy::commit_save_load_options>();
    CHECK(json(back) == j);
    CHECK(strategy::commit_save_load_options{}.validate());
    for (auto* bad : {"", "Upper/case", "a:b", "/lead", "trail/", "a//b"}) {
        strategy::commit_save_load_options x;
        x.image_prefix = bad;
        auto v = x.validate();
        INFO(bad);
        REQUIRE_FALSE(v);
        CHECK_THAT(v.error().message, Catch::Contains("commit_save_load.image_prefix"));
    }
    auto m = make_migrator("commit_save_load", {{"pause", false}});
    REQUIRE(m);
    CHECK((*m)->name() == "commit_save_load");
    CHECK((*m)->options().at("pause") == false);
    CHECK((*m)->caps().keeps_volumes);
    auto wrong = make_migrator("commit_save_load", {{"skip_present_layers", 1}});
    REQUIRE_FALSE(wrong);
    CHECK_THAT(wrong.error().message, Catch::Contains("commit_save_load.skip_present_layers"));
    auto names = list_strategies();
    CHECK(std::any_of(names.begin(), names.end(), [](auto& s) { return s.name == "commit_save_load"; }));
}
