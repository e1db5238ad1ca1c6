// The SDK's own MEC013 client (mec/location.hpp) against the emulator (mec/emulator.hpp):
// every answer and notification the emulator sends parses with the client, under a sandbox
// prefix, and a forced move reaches the client's notification parser.
#include "../require_ok.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/net/http_server.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <condition_variable>
#include <mutex>

using namespace migrate;
using namespace migrate::mec;
using namespace std::chrono_literals;

TEST_CASE("location_client v2 against the emulator: queries, subscription, notification", "[mec][sim][client]") {
    auto s = scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    emulator_options o;
    // The client's sandbox prefix is one path segment (the sandbox's "/<sandbox>/mep1" does
    // not fit it yet), so the emulator serves under "/sbx1" here.
    o.base_path = "/sbx1";
    o.time_scale = 0;
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);

    client_options co;
    co.base_url = fmt::format("http://127.0.0.1:{}", (*emu)->port());
    co.sandbox = "sbx1";
    location_client loc(co);

    auto zones = loc.zones();
    REQUIRE_OK(zones);
    CHECK(zones->size() == 4);
    auto user = loc.user("10.1.0.4");
    REQUIRE_OK(user);
    CHECK(user->zone_id == "zone04");
    CHECK(user->timestamp.has_value());
    auto aps = loc.access_points("zone04");
    REQUIRE_OK(aps);
    CHECK(aps->size() == (*emu)->model().find_zone("zone04")->access_points.size());
    auto one = loc.access_point("zone04", user->access_point_id);
    REQUIRE_OK(one);
    CHECK(one->access_point_id == user->access_point_id);

    std::mutex m;
    std::condition_variable cv;
    std::vector<json> got;
    net::http_router r;
    r.route("POST", "/n", [&](const net::http_request& q) {
        std::lock_guard lock(m);
        got.push_back(q.json_body().value());
        cv.notify_all();
        return net::http_response::no_content();
    });
    auto listener = net::http_server::start({}, std::move(r));
    REQUIRE_OK(listener);

    zonal_traffic_subscription sub;
    sub.callback_url = (*listener)->url() + "/n";
    sub.zone_id = "zone04";
    sub.callback_data = "from-client";
    auto created = loc.subscribe_zonal_traffic(sub);
    REQUIRE_OK(created);
    CHECK_FALSE(created->resource_url.empty());

    REQUIRE_OK((*emu)->force("10.1.0.4", "4g-macro-cell-1"));
    {
        std::unique_lock lock(m);
        cv.wait_for(lock, 5s, [&] { return !got.empty(); });
        REQUIRE(got.size() == 1);
    }
    auto n = parse_zonal_presence_notification(got[0]);
    REQUIRE_OK(n);
    CHECK(n->zone_id == "zone04");
    CHECK(n->event == user_event_type::leaving);
    CHECK(n->current_access_point_id == "4g-macro-cell-1");
    CHECK(n->callback_data == "from-client");
    REQUIRE_OK(loc.unsubscribe_zonal_traffic(created->resource_url));
}
