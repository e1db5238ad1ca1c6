#include <migrate/report.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace migrate;

TEST_CASE("phase events become phase timings in the report", "[report][events]") {
    migration_report r;
    report_recorder rec{r};
    hooks h;
    h.on_event = [&](const phase_event& e) { rec(e); };
    {
        phase_scope relocate{h, phase::relocate, "downtime"};
        {
            phase_scope t{h, phase::transfer, "checkpoint"};
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            t.progress(4096);
            t.finish();
        }
        relocate.finish();
    }
    REQUIRE(r.phases.size() == 2);
    CHECK(r.phases[0].phase == phase::transfer);
    CHECK(r.phases[0].bytes == 4096);
    CHECK(r.phases[0].duration_ms >= 20.0);
    CHECK(r.phases[1].phase == phase::relocate);
    CHECK(r.phases[1].duration_ms >= r.phases[0].duration_ms);
    CHECK(r.total_bytes(phase::transfer) == 4096);
}

TEST_CASE("a phase never finished is recorded as failed", "[report][events]") {
    migration_report r;
    report_recorder rec{r};
    hooks h;
    h.on_event = [&](const phase_event& e) { rec(e); };
    { phase_scope s{h, phase::snapshot}; }
    REQUIRE(r.phases.size() == 1);
    CHECK_FALSE(r.phases[0].ok);
}

TEST_CASE("migration_report round-trips through JSON", "[report][json]") {
    migration_report r;
    r.strategy = "checkpoint";
    r.subject = "memcached";
    r.source = "a";
    r.target = "b";
    r.success = true;
    r.phases.push_back({phase::transfer, "cp", 12.5, 1024, true});
    r.downtime = downtime_measurement{180.0, 5.0, 400, 36, "memcached get"};
    r.state.push_back({"memcached keys", 1000, 1000});
    r.details["criu"] = "4.2.1";

    json j = r;
    CHECK(j["state_intact"] == true);
    CHECK(j["phases"][0]["phase"] == "transfer");
    auto back = j.get<migration_report>();
    CHECK(back.strategy == "checkpoint");
    REQUIRE(back.downtime);
    CHECK(back.downtime->downtime_ms == 180.0);
    CHECK(back.phases.at(0).bytes == 1024);
    CHECK(back.state.at(0).found == 1000);
    CHECK(back.details["criu"] == "4.2.1");
    CHECK(json(back) == j);
}

TEST_CASE("a report with missing keys says the state was lost", "[report]") {
    migration_report r;
    r.state.push_back({"memcached keys", 1000, 999});
    CHECK_FALSE(r.state_intact());
    CHECK_THAT(r.to_text(), Catch::Contains("999 of 1000") && Catch::Contains("STATE LOST"));
}

TEST_CASE("a malformed report document names the field", "[report][json]") {
    json j = {{"strategy", 5}};
    CHECK_THROWS_WITH(j.get<migration_report>(), Catch::Contains("migration_report.strategy"));
    json k = {{"phases", {{{"phase", "teleport"}}}}};
    CHECK_THROWS_WITH(k.get<migration_report>(), Catch::Contains("teleport"));
}
