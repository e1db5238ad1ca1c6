// The MEC platform emulator (migrate/mec/emulator.hpp, what migrate-mec-sim serves) on
// loopback with the Monaco dual-mep scenario: Location API answers in the MEC013 v2 shapes
// (required fields present), subscriptions, and zonal presence notifications POSTed to a
// listener when a forced move changes a UE's zone.
#include "../require_ok.hpp"
#include "beast_client.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/net/http_server.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace migrate;
using namespace migrate::mec;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path data_dir = MIGRATE_TEST_DATA_DIR "/mec";

void require_fields(const json& j, std::initializer_list<const char*> fields) {
    for (auto* f : fields) {
        INFO(fmt::format("field '{}' in {}", f, j.dump()));
        CHECK(j.contains(f));
    }
}

/// The emulator on a free loopback port, clock paused (time scale 0): only forced moves
/// change anything, so that the tests are deterministic.
std::unique_ptr<emulator> start_paused(const char* file, std::string base_path = {}) {
    auto s = scenario::load(data_dir / file);
    REQUIRE_OK(s);
    emulator_options o;
    o.base_path = std::move(base_path);
    o.time_scale = 0;
    auto emu = emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);
    return std::move(*emu);
}

/// Collects the notifications POSTed to it.
struct listener {
    std::mutex m;
    std::condition_variable cv;
    std::vector<json> received;
    std::unique_ptr<net::http_server> server;

    listener() {
        net::http_router r;
        r.route("POST", "/notify/{who}", [this](const net::http_request& q) {
            auto body = q.json_body();
            std::lock_guard lock(m);
            received.push_back(json{{"who", q.param("who")}, {"body", body ? *body : json(q.body)}});
            cv.notify_all();
            return net::http_response::no_content();
        });
        auto s = net::http_server::start({}, std::move(r));
        REQUIRE_OK(s);
        server = std::move(*s);
    }

    std::vector<json> wait_for(std::size_t n, std::chrono::milliseconds within = 5s) {
        std::unique_lock lock(m);
        cv.wait_for(lock, within, [&] { return received.size() >= n; });
        return received;
    }
};

}  // namespace

TEST_CASE("emulator: MEC013 v2 queries under the sandbox's base path", "[mec][sim]") {
    auto emu = start_paused("monaco-dual-mep-short-path.json", "/sbx1/mep1");
    auto port = emu->port();
    const std::string loc = "/sbx1/mep1/location/v2";

    auto zones = test::beast_exchange(port, "GET", loc + "/queries/zones");
    REQUIRE(zones.status == 200);
    auto zl = json::parse(zones.body).at("zoneList");
    require_fields(zl, {"zone", "resourceURL"});
    REQUIRE(zl["zone"].size() == 4);
    std::size_t users = 0;
    for (auto& z : zl["zone"]) {
        require_fields(z, {"zoneId", "numberOfAccessPoints", "numberOfUnserviceableAccessPoints", "numberOfUsers", "resourceURL"});
        users += z["numberOfUsers"].get<std::size_t>();
    }
    CHECK(users == emu->model().ues().size());

    auto user = test::beast_exchange(port, "GET", loc + "/queries/users?address=acr%3A10.1.0.1");
    REQUIRE(user.status == 200);
    auto ul = json::parse(user.body).at("userList");
    REQUIRE(ul["user"].size() == 1);
    auto& u = ul["user"][0];
    require_fields(u, {"address", "accessPointId", "zoneId", "resourceURL", "timestamp"});
    require_fields(u["timestamp"], {"seconds", "nanoSeconds"});
    CHECK(u["address"] == "acr:10.1.0.1");
    CHECK(u["zoneId"] == emu->model().find_access_point(u["accessPointId"].get<std::string>())->zone);

    auto aps = test::beast_exchange(port, "GET", loc + "/queries/zones/zone04/accessPoints");
    REQUIRE(aps.status == 200);
    auto al = json::parse(aps.body).at("accessPointList");
    require_fields(al, {"zoneId", "resourceURL", "accessPoint"});
    CHECK(al["accessPoint"].size() == emu->model().find_zone("zone04")->access_points.size());
    for (auto& a : al["accessPoint"]) require_fields(a, {"accessPointId", "connectionType", "operationStatus", "numberOfUsers", "resourceURL"});

    const access_point* wifi = nullptr;
    for (auto& name : emu->model().find_zone("zone04")->access_points)
        if (auto* a = emu->model().find_access_point(name); a->type == poa_type::wifi && !wifi) wifi = a;
    REQUIRE(wifi);
    auto one = test::beast_exchange(port, "GET", loc + "/queries/zones/zone04/accessPoints/" + wifi->name);
    REQUIRE(one.status == 200);
    CHECK(json::parse(one.body)["accessPointInfo"]["connectionType"] == "Wifi");

    auto nobody = test::beast_exchange(port, "GET", loc + "/queries/users?address=acr:10.9.9.9");
    CHECK(nobody.status == 404);
    CHECK(nobody.content_type == "application/problem+json");
    CHECK(test::beast_exchange(port, "GET", loc + "/queries/zones/zone99").status == 404);
    // Without the base path there is nothing.
    CHECK(test::beast_exchange(port, "GET", "/location/v2/queries/zones").status == 404);
}

TEST_CASE("emulator: a forced move out of a zone notifies zonal traffic and user tracking subscribers", "[mec][sim]") {
    auto emu = start_paused("monaco-dual-mep-short-path.json");
    auto port = emu->port();
    listener l;
    auto notify = [&](const char* who) { return fmt::format("{}/notify/{}", l.server->url(), who); };

    // 10.1.0.4 stands still in zone04, where mep2 is.
    auto start = test::beast_exchange(port, "GET", "/location/v2/queries/users?address=10.1.0.4");
    REQUIRE(start.status == 200);
    auto start_user = json::parse(start.body)["userList"]["user"][0];
    REQUIRE(start_user["zoneId"] == "zone04");

    json zonal{{"zonalTrafficSubscription",
                {{"callbackReference", {{"notifyURL", notify("zonal")}, {"callbackData", "z4"}}}, {"zoneId", "zone04"}}}};
    auto created = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", zonal.dump());
    REQUIRE(created.status == 201);
    auto zonal_sub = json::parse(created.body)["zonalTrafficSubscription"];
    CHECK(zonal_sub["resourceURL"] == created.location);
    CHECK(zonal_sub["zoneId"] == "zone04");
    json tracking{{"userTrackingSubscription", {{"callbackReference", {{"notifyURL", notify("tracking")}}}, {"address", "acr:10.1.0.4"}}}};
    auto tracked = test::beast_exchange(port, "POST", "/location/v2/subscriptions/userTracking", tracking.dump());
    REQUIRE(tracked.status == 201);

    // Malformed subscriptions are refused naming the field.
    json bad{{"zonalTrafficSubscription", {{"zoneId", "zone04"}}}};
    auto refused = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", bad.dump());
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("callbackReference.notifyURL"));

    // Force the UE to a cell of zone01 through the control endpoint.
    auto moved = test::beast_exchange(port, "POST", "/sim/v1/ues/10.1.0.4/accessPoint", R"({"accessPointId": "4g-macro-cell-1"})");
    REQUIRE(moved.status == 200);
    CHECK(json::parse(moved.body)["zoneId"] == "zone01");

    auto got = l.wait_for(3);
    REQUIRE(got.size() == 3);   // zonal: Leaving zone04; tracking: Leaving zone04, Entering zone01
    std::vector<json> zonal_n, tracking_n;
    for (auto& g : got) (g["who"] == "zonal" ? zonal_n : tracking_n).push_back(g["body"].at("zonalPresenceNotification"));
    REQUIRE(zonal_n.size() == 1);
    require_fields(zonal_n[0], {"zoneId", "address", "userEventType", "currentAccessPointId", "timestamp"});
    CHECK(zonal_n[0]["zoneId"] == "zone04");
    CHECK(zonal_n[0]["userEventType"] == "Leaving");
    CHECK(zonal_n[0]["address"] == "10.1.0.4");
    CHECK(zonal_n[0]["currentAccessPointId"] == "4g-macro-cell-1");
    CHECK(zonal_n[0]["previousAccessPointId"] == start_user["accessPointId"]);
    CHECK(zonal_n[0]["callbackData"] == "z4");
    REQUIRE(tracking_n.size() == 2);
    CHECK(tracking_n[0]["userEventType"] == "Leaving");
    CHECK(tracking_n[0]["zoneId"] == "zone04");
    CHECK(tracking_n[1]["userEventType"] == "Entering");
    CHECK(tracking_n[1]["zoneId"] == "zone01");

    // The Location API now reports the new zone.
    auto after = test::beast_exchange(port, "GET", "/location/v2/queries/users?address=10.1.0.4");
    CHECK(json::parse(after.body)["userList"]["user"][0]["zoneId"] == "zone01");

    // Back into zone04 after the zonal subscription is deleted: only the tracking one hears it.
    CHECK(test::beast_exchange(port, "DELETE", created.location.substr(created.location.find("/location"))).status == 204);
    CHECK(test::beast_exchange(port, "POST", "/sim/v1/ues/10.1.0.4/accessPoint", R"({"accessPointId": null})").status == 200);
    got = l.wait_for(5);
    REQUIRE(got.size() == 5);
    for (std::size_t i = 3; i < 5; ++i) CHECK(got[i]["who"] == "tracking");
    CHECK(got[4]["body"]["zonalPresenceNotification"]["zoneId"] == "zone04");
    CHECK(got[4]["body"]["zonalPresenceNotification"]["userEventType"] == "Entering");
    // The emulator counts a notification once the listener has answered it.
    for (int i = 0; i < 100 && emu->notifications_sent() < 5; ++i) std::this_thread::sleep_for(10ms);
    CHECK(emu->notifications_sent() == 5);
    CHECK(emu->notifications_failed() == 0);
}

TEST_CASE("emulator: the time scale replays the scenario faster", "[mec][sim]") {
    auto emu = start_paused("monaco-4g-5g-wifi-macro.json");
    auto paused = json::parse(test::beast_exchange(emu->port(), "GET", "/sim/v1/state").body);
    std::this_thread::sleep_for(300ms);
    CHECK(json::parse(test::beast_exchange(emu->port(), "GET", "/sim/v1/state").body)["time"] == paused["time"]);
    auto fast = test::beast_exchange(emu->port(), "PUT", "/sim/v1/timeScale", R"({"timeScale": 200})");
    REQUIRE(fast.status == 200);
    std::this_thread::sleep_for(500ms);
    auto state = json::parse(test::beast_exchange(emu->port(), "GET", "/sim/v1/state").body);
    CHECK(state["timeScale"] == 200);
    CHECK(state["time"].get<double>() >= 50);   // >= 0.4 s of real time at 200x, minus one tick
    // The car has moved away from its start.
    auto* car = emu->model().find_ue("10.100.0.1");
    for (auto& u : state["ues"])
        if (u["ue"] == "10.100.0.1")
            CHECK(distance_m(car->path.front(), {u["longitude"].get<double>(), u["latitude"].get<double>()}) > 10);
    CHECK(test::beast_exchange(emu->port(), "PUT", "/sim/v1/timeScale", R"({"timeScale": -1})").status == 400);
    emu->stop();
    emu->stop();
}

TEST_CASE("emulator: a Location subscription's duration deletes it when it has passed", "[mec][sim]") {
    auto emu = start_paused("monaco-dual-mep-short-path.json");
    auto port = emu->port();
    json lasting{{"zonalTrafficSubscription", {{"callbackReference", {{"notifyURL", "http://127.0.0.1:9/n"}}}, {"zoneId", "zone04"}, {"duration", 0}}}};
    json brief{{"zonalTrafficSubscription", {{"callbackReference", {{"notifyURL", "http://127.0.0.1:9/n"}}}, {"zoneId", "zone04"}, {"duration", 1}}}};
    auto kept = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", lasting.dump());
    auto gone = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", brief.dump());
    REQUIRE(kept.status == 201);
    REQUIRE(gone.status == 201);
    auto path = [](const std::string& url) { return url.substr(url.find("/location")); };
    CHECK(test::beast_exchange(port, "GET", path(gone.location)).status == 200);
    std::this_thread::sleep_for(1200ms);
    CHECK(test::beast_exchange(port, "GET", path(gone.location)).status == 404);
    CHECK(test::beast_exchange(port, "GET", path(kept.location)).status == 200);
    json negative{{"zonalTrafficSubscription", {{"callbackReference", {{"notifyURL", "http://127.0.0.1:9/n"}}}, {"zoneId", "zone04"}, {"duration", -5}}}};
    auto refused = test::beast_exchange(port, "POST", "/location/v2/subscriptions/zonalTraffic", negative.dump());
    CHECK(refused.status == 400);
    CHECK_THAT(json::parse(refused.body)["detail"].get<std::string>(), Catch::Contains("duration"));
}
