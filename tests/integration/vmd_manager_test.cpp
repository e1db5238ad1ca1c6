// The MD manager of the vehicular example on the REAL testbed named by MIGRATE_TESTBED: a
// replica pool of migrate-vmd-twin containers on hosts a and b (their state in a
// redis-server on the testbed's client address), the manager's REST API on that address,
// and the migrate-md-sim program in the root namespace (the client side) registering through
// it. Then the device's twin container is killed (docker rm -f: SIGKILL) in the middle of a
// stream: the simulator registers again after --reregister-after, gets a new twin, which
// loaded the device's state from redis, and every record is acknowledged. Last the device
// goes quiet past the manager's timeout: it is released (its twin removed, its state kept),
// and when it comes back it registers again and counts on. Verified from the device side
// (--verify asks the twin it ends with) and in redis.
#include "../store_servers.hpp"
#include "testbed_fixture.hpp"
#include "workload_fixture.hpp"

#include "md_manager.hpp"
#include <migrate/net/http_server.hpp>
#include "twin_supply.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/state_store.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <mutex>

using namespace migrate;
using namespace std::chrono_literals;
using migrate::test::shared_testbed;
namespace wl = migrate::test::wl;

namespace {

constexpr const char* twin_image = "migrate-test-vmd-twin:1";

edge_host pool_host(const testbed::host& h) {
    return edge_host{h.name, h.address, std::make_shared<docker::engine>(docker::engine_options{.socket = h.socket}),
                     h.work_dir, {}};
}

// migrate-md-sim --manager URL ... --json --verify: {"summary", "verify"} and its exit code.
struct sim_run {
    json summary, verify;
    int exit_code = -1;
};
sim_run md_sim(const std::string& manager, std::uint64_t records) {
    auto out = migrate::detail::run({MIGRATE_MD_SIM, "--manager", manager, "--device", "car-1", "--rate", "100", "--count",
                                     std::to_string(records), "--json", "--verify"},
                                    {.timeout = 120s, .stdin_data = {}, .cwd = {}});
    REQUIRE_OK(out);
    INFO("md-sim: " << out->out << out->err);
    auto j = json::parse(out->out, nullptr, false);
    REQUIRE(j.is_object());
    return {j["summary"], j["verify"], out->exit_code};
}

json stored_state(const std::string& redis_uri) {
    auto store = open_state_store(redis_uri);
    REQUIRE_OK(store);
    auto entry = (*store)->get("vmd/car-1");
    REQUIRE_OK(entry);
    REQUIRE(*entry);
    return json::parse((*entry)->value);
}

}  // namespace

TEST_CASE("vmd manager on the testbed: md-sim registers and streams, 0 lost; its twin container killed mid-stream, it "
          "registers again, the new twin continues the count from redis; released after the timeout, it registers "
          "again", "[vmd][manager]") {
    const auto& tb = shared_testbed();
    for (auto h : {"a", "b"}) {
        auto e = migrate::test::engine_on(h);
        wl::ensure_image(e, image::vmd_twin_recipe(MIGRATE_VMD_TWIN), twin_image);
    }
    test::redis_server redis{tb.client_address()};
    const auto redis_uri = fmt::format("redis://{}/", redis.address());

    replica_pool_options po;
    po.image = twin_image;
    po.cmd = {"--store", redis_uri};
    po.size = 1;
    po.name_prefix = "vmt-mgr";
    // The manager's and the pool's lines, printed as the program prints them, and kept: they
    // say why a device got a new twin.
    std::vector<std::string> lines;
    std::mutex lines_mu;
    auto said = [&](std::string_view what) {
        std::lock_guard lk(lines_mu);
        return std::count_if(lines.begin(), lines.end(), [&](auto& l) { return l.find(what) != std::string::npos; });
    };
    hooks h;
    h.log = [&](std::string_view line) {
        fmt::print(stderr, "md-manager: {}\n", line);
        std::lock_guard lk(lines_mu);
        lines.emplace_back(line);
    };
    auto made = vmd::pooled_twins::make({pool_host(tb.find("a").value()), pool_host(tb.find("b").value())}, po, h);
    REQUIRE_OK(made);
    std::shared_ptr<vmd::pooled_twins> twins = std::move(*made);
    struct cleanup {
        vmd::pooled_twins& t;
        ~cleanup() { (void)t.pool().shutdown(); }
    } cleanup_at_end{*twins};
    REQUIRE_OK(twins->pool().fill());

    auto manager = vmd::md_manager::make({.timeout = 3s}, twins, h);
    REQUIRE_OK(manager);
    auto& m = **manager;
    auto server = net::http_server::start({.address = tb.client_address(), .port = 0},
                                          [&m](const net::http_request& r) { return m.handle(r); });
    REQUIRE_OK(server);
    const auto url = (*server)->url();

    // 1. Registered through the manager: a pooled twin on the least-loaded host (a), 0 lost.
    auto first = md_sim(url, 300);
    CHECK(first.summary["acked"] == 300);
    CHECK(first.summary["lost"] == 0);
    CHECK(first.summary["reregistrations"] == 0);
    REQUIRE(first.summary["twins"].size() == 1);
    CHECK(first.summary["twins"][0]["host"] == "a");
    CHECK(first.summary["heartbeats"].get<int>() >= 1);
    CHECK(first.verify["ok"] == true);
    CHECK(first.exit_code == 0);
    auto assigned = m.find("car-1");
    REQUIRE(assigned);
    CHECK(assigned->twin.id == first.summary["twins"][0]["id"]);

    // 2. Its twin container is killed mid-stream; the device registers again and goes on.
    auto running = std::async(std::launch::async, [&] { return md_sim(url, 800); });
    std::this_thread::sleep_for(2s);
    auto victim = m.find("car-1");
    REQUIRE(victim);
    auto victim_engine = migrate::test::engine_on(victim->twin.host);
    REQUIRE_OK(victim_engine.remove(victim->twin.id, /*force=*/true));   // docker rm -f: SIGKILL
    auto second = running.get();
    CHECK(second.summary["sent"] == 800);
    CHECK(second.summary["acked"] == 800);
    CHECK(second.summary["lost"] == 0);
    CHECK(second.summary["first_seq"] == 301);
    CHECK(second.summary["twin_count_before"] == 300);
    CHECK(second.summary["reregistrations"] == 1);
    REQUIRE(second.summary["twins"].size() == 2);
    CHECK(second.summary["twins"][0]["id"] == victim->twin.id);
    CHECK(second.summary["twins"][1]["id"] != victim->twin.id);
    CHECK(second.summary["rtt_ms"]["max"].get<double>() >= 3000);   // the records that waited out --reregister-after
    CHECK(second.verify["ok"] == true);   // the new twin counted each acked record once, on top of the old count
    CHECK(second.verify["state"]["count"] == 1100);
    CHECK(second.verify["state"]["last_seq"] == 1100);
    CHECK(second.exit_code == 0);
    // Because its twin did not answer (the device said so by registering again), not because
    // the manager stopped hearing from it: the heartbeats went on during the outage.
    CHECK(said("car-1: its twin " + victim->twin.id + " on " + victim->twin.host) == 1);
    CHECK(said("released as gone") == 1);
    CHECK(said("not heard from") == 0);
    auto replaced = m.find("car-1");
    REQUIRE(replaced);
    CHECK(replaced->twin.id == second.summary["twins"][1]["id"]);
    CHECK(replaced->registrations == 2);
    auto state = stored_state(redis_uri);
    CHECK(state["count"] == 1100);

    // 3. Quiet past the timeout: released, its twin removed by the pool, its state kept.
    const auto quiet_twin = replaced->twin;
    REQUIRE(wl::eventually([&] { return !m.find("car-1"); }, 10s));
    CHECK(said("car-1: not heard from for 3000 ms: released, twin " + quiet_twin.id) == 1);
    REQUIRE(wl::eventually([&] { return !migrate::test::engine_on(quiet_twin.host).inspect(quiet_twin.id); }, 30s));
    CHECK(stored_state(redis_uri)["count"] == 1100);
    auto back = md_sim(url, 100);
    CHECK(back.summary["acked"] == 100);
    CHECK(back.summary["lost"] == 0);
    CHECK(back.summary["first_seq"] == 1101);
    CHECK(back.summary["twin_count_before"] == 1100);
    CHECK(back.summary["twins"][0]["id"] != quiet_twin.id);
    CHECK(back.verify["ok"] == true);
    CHECK(back.exit_code == 0);
    CHECK(m.find("car-1")->registrations == 3);
    (*server)->stop();
}
