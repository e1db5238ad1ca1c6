// migrator_base sequencing and rollback, driven through the export_import strategy on
// IN-MEMORY FAKES of container_runtime (tests/unit/fake_runtime.hpp). The real-engine
// behaviour is in tests/integration/strategies_test.cpp.
#include "fake_runtime.hpp"

#include <migrate/strategies.hpp>
#include <migrate/strategy/export_import.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace migrate;
using migrate::test::fake_runtime;

namespace {

struct fixture {
    std::shared_ptr<fake_runtime> a = std::make_shared<fake_runtime>("a");
    std::shared_ptr<fake_runtime> b = std::make_shared<fake_runtime>("b");
    std::string source_id = a->add_running("svc", "img", "state-1");
    std::vector<phase_event> events;

    migration_request request() {
        migration_request r;
        r.source = {"a", "10.0.0.2", a, "/tmp"};
        r.target = {"b", "10.0.0.3", b, "/tmp"};
        r.container = "svc";
        r.hooks.on_event = [this](const phase_event& e) { events.push_back(e); };
        return r;
    }
};

bool called(const fake_runtime& rt, const std::string& method) {
    return std::find(rt.calls.begin(), rt.calls.end(), method) != rt.calls.end();
}

std::ptrdiff_t position(const fake_runtime& rt, const std::string& method) {
    return std::find(rt.calls.begin(), rt.calls.end(), method) - rt.calls.begin();
}

}  // namespace

TEST_CASE("export_import: filesystem moves in prepare, the source stops only in relocate", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    CHECK(called(*f.a, "export_container"));
    CHECK(called(*f.b, "import_image"));
    CHECK(called(*f.b, "create"));
    CHECK_FALSE(called(*f.a, "stop"));            // still serving
    CHECK(f.a->find("svc")->info.running);

    auto rep = m.relocate(*p);
    REQUIRE(rep);
    CHECK(rep->success);
    CHECK(rep->strategy == "export_import");
    CHECK(position(*f.a, "stop") < position(*f.a, "remove"));   // removed only after the target started
    CHECK(f.b->find("svc")->info.running);
    CHECK(f.a->find("svc") == nullptr);
    // Phases carry their stage: the transfer of the filesystem happened before the downtime.
    auto fs_transfer = std::find_if(rep->phases.begin(), rep->phases.end(),
                                    [](auto& t) { return t.phase == phase::transfer; });
    REQUIRE(fs_transfer != rep->phases.end());
    CHECK(fs_transfer->stage == phase::prepare);
    CHECK(rep->total_ms(phase::freeze, phase::relocate) >= 0);
    CHECK(std::any_of(rep->phases.begin(), rep->phases.end(), [](auto& t) { return t.phase == phase::freeze && t.stage == phase::relocate; }));
}

TEST_CASE("a target that fails to start rolls back: the source runs again, the target is cleaned", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    f.b->fail_next["start"] = make_failure(error::daemon_error, "start refused on b");
    auto rep = m.relocate(*p);
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::Contains("start refused on b"));
    CHECK(rep->rolled_back);
    REQUIRE(f.a->find("svc"));
    CHECK(f.a->find("svc")->info.running);          // started again
    CHECK(f.b->find("svc") == nullptr);             // target container removed
    CHECK(f.b->images.count(p->target_spec.image) == 0);   // the imported image removed
}

TEST_CASE("a failed prepare undoes itself and never touches the running source", "[migrator]") {
    fixture f;
    strategy::export_import m;
    f.b->fail_next["import_image"] = make_failure(error::corrupt_artifact, "not a tar");
    auto p = m.prepare(f.request());
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::corrupt_artifact);
    CHECK_FALSE(called(*f.a, "stop"));
    CHECK(f.a->find("svc")->info.running);
    CHECK(f.b->containers.empty());
}

TEST_CASE("run_migration reports a failed prepare as a failed migration", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto req = f.request();
    req.container = "nope";
    auto rep = run_migration(m, req);
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::Contains("nope"));
}

TEST_CASE("run_migration keeps the phases of a failed prepare in its report, and the caller's hook sees them",
          "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto req = f.request();
    int ends = 0;
    req.hooks.on_event = [&](const phase_event& e) { ends += e.what == phase_event::kind::end; };
    f.a->fail_next["export_container"] = make_failure(error::daemon_error, "export broke");
    auto rep = run_migration(m, req);
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::Contains("export broke"));
    REQUIRE_FALSE(rep->phases.empty());
    auto prep = std::find_if(rep->phases.begin(), rep->phases.end(),
                             [](const phase_timing& t) { return t.phase == phase::prepare; });
    REQUIRE(prep != rep->phases.end());
    CHECK_FALSE(prep->ok);
    bool failed_transfer = std::any_of(rep->phases.begin(), rep->phases.end(), [](const phase_timing& t) {
        return t.phase == phase::transfer && !t.ok && t.stage == phase::prepare;
    });
    CHECK(failed_transfer);
    CHECK(ends == static_cast<int>(rep->phases.size()));
    CHECK(f.a->find("svc")->info.running);
}

TEST_CASE("the request is validated and a name taken on the target is refused", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto req = f.request();
    req.target.runtime = f.a;
    auto same = m.prepare(req);
    REQUIRE_FALSE(same);
    CHECK_THAT(same.error().message, Catch::Contains("same engine"));

    f.b->add_running("svc", "img", "other");
    auto taken = m.prepare(f.request());
    REQUIRE_FALSE(taken);
    CHECK(taken.error_code() == error::already_exists);
    CHECK(f.a->find("svc")->info.running);
}

TEST_CASE("a prepared migration relocates once, with the strategy that prepared it", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    REQUIRE(m.relocate(*p));
    auto again = m.relocate(*p);
    REQUIRE_FALSE(again);
    CHECK(again.error_code() == error::invalid_argument);
}

TEST_CASE("cancellation before relocation leaves the source serving", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    std::stop_source stop;
    stop.request_stop();
    auto rep = m.relocate(*p, stop.get_token());
    REQUIRE(rep);
    CHECK_FALSE(rep->success);
    CHECK(rep->rolled_back);
    CHECK_FALSE(called(*f.a, "stop"));
    CHECK(f.a->find("svc")->info.running);
}

TEST_CASE("strategies are made by name from JSON options", "[migrator]") {
    auto m = make_migrator("export_import", {{"export_in_downtime", true}});
    REQUIRE(m);
    CHECK((*m)->caps().keeps_filesystem);
    CHECK((*m)->options()["export_in_downtime"] == true);

    auto unknown = make_migrator("teleport");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error_code() == error::not_found);
    CHECK_THAT(unknown.error().message, Catch::Contains("export_import"));

    auto bad = make_migrator("export_import", {{"export_in_downtime", "yes"}});
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("export_import.export_in_downtime"));

    auto list = list_strategies();
    REQUIRE_FALSE(list.empty());
    CHECK(list.front().name == "export_import");
}

TEST_CASE("every strategy takes back its own default options and refuses unknown names", "[migrator]") {
    for (auto& s : list_strategies()) {
        INFO(s.name);
        auto again = make_migrator(s.name, s.default_options);
        REQUIRE(again);
        auto typo = make_migrator(s.name, {{"no_such_option", 1}});
        REQUIRE_FALSE(typo);
        CHECK(typo.error_code() == error::invalid_argument);
        CHECK_THAT(typo.error().message, Catch::Contains(s.name + ".no_such_option"));
    }
}

TEST_CASE("rollback after a successful relocation leaves the moved service alone", "[migrator]") {
    fixture f;
    strategy::export_import m;
    auto p = m.prepare(f.request());
    REQUIRE(p);
    auto rep = m.relocate(*p);
    REQUIRE(rep);
    REQUIRE(rep->success);
    m.rollback(*p);
    REQUIRE(f.b->find("svc"));
    CHECK(f.b->find("svc")->info.running);
}
