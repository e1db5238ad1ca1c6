// The mec_location trigger against the MEC platform emulator (mec/emulator.hpp): a forced
// move of a UE into another edge host's zone becomes one decision naming both hosts, a move
// inside the same host's area none; stop deletes the subscriptions at the platform.
#include "../require_ok.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/trigger/mec_location.hpp>

#include "../decision_log.hpp"
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace migrate;
using namespace std::chrono_literals;

using migrate::test::decision_log;

namespace {

std::unique_ptr<mec::emulator> paused_emulator() {
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE_OK(s);
    mec::emulator_options o;
    o.time_scale = 0;   // only forced moves
    auto emu = mec::emulator::start(std::move(*s), o);
    REQUIRE_OK(emu);
    return std::move(*emu);
}


/// Another access point of `zone` than `not_this`.
std::string other_access_point(const mec::emulator& emu, const std::string& zone, const std::string& not_this) {
    for (auto& ap : emu.model().find_zone(zone)->access_points)
        if (ap != not_this) return ap;
    FAIL("zone " << zone << " has one access point only");
    return {};
}

/// Waits until the emulator has POSTed `n` notifications (answered or not).
void wait_notified(const mec::emulator& emu, std::size_t n) {
    for (int i = 0; i < 100 && emu.notifications_sent() + emu.notifications_failed() < n; ++i) std::this_thread::sleep_for(20ms);
}

}  // namespace

TEST_CASE("mec_location (zonal traffic): a UE entering mep1's zone from mep2's is one decision mep2 -> mep1", "[mec][trigger][mec_location]") {
    auto emu = paused_emulator();
    mec_location_trigger_options o;
    o.platform.base_url = emu->url();
    o.zone_hosts = {{"zone01", "mep1"}, {"zone04", "mep2"}};
    o.users = {"10.1.0.4"};   // stands still in zone04
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    CHECK((*t)->host_of("10.1.0.4") == "mep2");   // the initial position query
    CHECK((*t)->receiver()->subscriptions().size() == 2);

    auto moved = emu->force("10.1.0.4", "4g-macro-cell-1");
    REQUIRE_OK(moved);
    REQUIRE(moved->zone == "zone01");
    REQUIRE(log.wait_for(1));
    wait_notified(*emu, 2);   // Leaving zone04 and Entering zone01
    std::this_thread::sleep_for(100ms);
    REQUIRE(log.size() == 1);
    auto d = log.at(0);
    CHECK(d.subject == "10.1.0.4");
    CHECK(d.from == "mep2");
    CHECK(d.to == "mep1");
    CHECK(d.evidence["zone"] == "zone01");
    CHECK(d.evidence["access_point"] == "4g-macro-cell-1");
    CHECK(d.evidence["event"] == "Entering");
    CHECK(d.evidence["notification"].contains("zonalPresenceNotification"));
    CHECK((*t)->host_of("10.1.0.4") == "mep1");

    // Another cell of the same zone: same host, no decision.
    auto sent = emu->notifications_sent();
    REQUIRE_OK(emu->force("10.1.0.4", other_access_point(*emu, "zone01", "4g-macro-cell-1")));
    wait_notified(*emu, sent + 1);
    std::this_thread::sleep_for(100ms);
    CHECK(log.size() == 1);
    CHECK((*t)->stats().ignored >= 2);   // the Leaving of zone04 and this Transferring

    // Back to zone04: mep1 -> mep2.
    REQUIRE_OK(emu->force("10.1.0.4", emu->model().find_zone("zone04")->access_points.front()));
    REQUIRE(log.wait_for(2));
    CHECK(log.at(1).from == "mep1");
    CHECK(log.at(1).to == "mep2");

    // Stopped: the subscriptions are gone at the platform, so a move notifies nobody.
    wait_notified(*emu, 5);   // the emulator counts a POST once answered, after our decision
    (*t)->stop();
    CHECK((*t)->receiver()->subscriptions().empty());
    auto before = emu->notifications_sent() + emu->notifications_failed();
    CHECK(before == 5);
    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    std::this_thread::sleep_for(200ms);
    CHECK(emu->notifications_sent() + emu->notifications_failed() == before);
    CHECK(log.size() == 2);
}

TEST_CASE("mec_location (user tracking): access point map wins over the zone; unknown UE has no host", "[mec][trigger][mec_location]") {
    auto emu = paused_emulator();
    auto start = emu->force("10.1.0.4", emu->model().find_zone("zone04")->access_points.front());
    REQUIRE_OK(start);
    auto ap_a = start->access_point;
    auto ap_b = other_access_point(*emu, "zone04", ap_a);

    mec_location_trigger_options o;
    o.platform.base_url = emu->url();
    o.watch = location_watch::user_tracking;
    o.users = {"acr:10.1.0.4"};
    o.zone_hosts = {{"zone04", "mep2"}};
    o.access_point_hosts = {{ap_b, "mep-b"}};   // one cell of zone04 served by a host of its own
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    CHECK((*t)->host_of("10.1.0.4") == "mep2");
    CHECK_FALSE((*t)->host_of("10.9.9.9").has_value());

    REQUIRE_OK(emu->force("10.1.0.4", ap_b));
    REQUIRE(log.wait_for(1));
    CHECK(log.at(0).subject == "10.1.0.4");   // without "acr:"
    CHECK(log.at(0).from == "mep2");
    CHECK(log.at(0).to == "mep-b");
    CHECK(log.at(0).evidence["event"] == "Transferring");
    CHECK(log.at(0).evidence["previous_access_point"] == ap_a);
    (*t)->stop();
}

TEST_CASE("mec_location: bad options and an unreachable platform are named", "[mec][trigger][mec_location]") {
    mec_location_trigger_options o;
    auto none = mec_location_trigger::make(o);
    REQUIRE_FALSE(none.has_value());
    CHECK_THAT(none.error().message, Catch::Contains("zone_hosts"));

    o.zone_hosts = {{"zone01", "mep1"}};
    o.watch = location_watch::user_tracking;
    auto no_users = mec_location_trigger::make(o);
    REQUIRE_FALSE(no_users.has_value());
    CHECK_THAT(no_users.error().message, Catch::Contains("mec_location_trigger.users"));

    auto parsed = parse_options<mec_location_trigger_options>(json{{"zone_hosts", {{"zone01", "mep1"}}}, {"watch", "sideways"}});
    REQUIRE_FALSE(parsed.has_value());
    CHECK_THAT(parsed.error().message, Catch::Contains("mec_location_trigger.watch"));

    // A platform that is not there: start fails naming the subscription and its callback URL.
    o.watch = location_watch::zonal_traffic;
    o.platform.base_url = "http://127.0.0.1:9";
    o.platform.timeout = 1000ms;
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    auto r = (*t)->start([](const migration_decision&) {});
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains("zonalTraffic zone01"));
    CHECK_THAT(r.error().message, Catch::Contains((*t)->receiver()->callback_base()));
    CHECK((*t)->receiver()->subscriptions().empty());
}

TEST_CASE("mec_location: subscriptions with a duration are renewed before the emulator drops them", "[mec][trigger][mec_location][receiver]") {
    auto emu = paused_emulator();
    mec_location_trigger_options o;
    o.platform.base_url = emu->url();
    o.zone_hosts = {{"zone01", "mep1"}, {"zone04", "mep2"}};
    o.users = {"10.1.0.4"};
    o.duration_s = 2;   // the emulator deletes a subscription that long after its creation
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    auto first = (*t)->receiver()->subscriptions();
    REQUIRE(first.size() == 2);
    for (auto& s : first) CHECK(s.expires.has_value());

    // Past the first subscriptions' end: only renewed ones can still notify.
    std::this_thread::sleep_for(2500ms);
    for (auto& s : (*t)->receiver()->subscriptions()) {
        CHECK(s.renewals >= 1);
        CHECK(s.last_error.empty());
        CHECK(s.resource_url != first[0].resource_url);
        CHECK(s.resource_url != first[1].resource_url);
    }
    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    REQUIRE(log.wait_for(1));
    CHECK(log.at(0).to == "mep1");
    (*t)->stop();
}

TEST_CASE("mec_location: a subscription the platform dropped silently is found gone and re-created (check_every)", "[mec][trigger][mec_location][receiver]") {
    auto emu = paused_emulator();
    mec_location_trigger_options o;
    o.platform.base_url = emu->url();
    o.zones = {"zone01"};
    o.zone_hosts = {{"zone01", "mep1"}, {"zone04", "mep2"}};
    o.users = {"10.1.0.4"};
    o.receiver.check_every = 1s;
    auto t = mec_location_trigger::make(o);
    REQUIRE_OK(t);
    decision_log log;
    REQUIRE_OK((*t)->start(log.handler()));
    auto before = (*t)->receiver()->subscriptions();
    REQUIRE(before.size() == 1);

    // Deleted behind the receiver's back, as a platform restart would.
    mec::location_client other(o.platform);
    REQUIRE_OK(other.unsubscribe_zonal_traffic(before[0].resource_url));
    std::this_thread::sleep_for(1500ms);
    auto after = (*t)->receiver()->subscriptions();
    REQUIRE(after.size() == 1);
    CHECK(after[0].renewals == 1);
    CHECK(after[0].resource_url != before[0].resource_url);
    CHECK(after[0].callback_url == before[0].callback_url);

    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    REQUIRE(log.wait_for(1));
    CHECK(log.at(0).to == "mep1");
    (*t)->stop();
}

TEST_CASE("mec_location: two triggers share one receiver; stopping one leaves the other's subscriptions", "[mec][trigger][mec_location][receiver]") {
    auto emu = paused_emulator();
    auto rx = mec::notification_receiver::start({});
    REQUIRE_OK(rx);
    std::shared_ptr<mec::notification_receiver> shared = std::move(*rx);

    mec_location_trigger_options zonal;
    zonal.platform.base_url = emu->url();
    zonal.zone_hosts = {{"zone01", "mep1"}, {"zone04", "mep2"}};
    zonal.users = {"10.1.0.4"};
    auto tracking = zonal;
    tracking.watch = location_watch::user_tracking;
    auto t1 = mec_location_trigger::make(zonal, shared);
    auto t2 = mec_location_trigger::make(tracking, shared);
    REQUIRE_OK(t1);
    REQUIRE_OK(t2);
    decision_log log1, log2;
    REQUIRE_OK((*t1)->start(log1.handler()));
    REQUIRE_OK((*t2)->start(log2.handler()));
    CHECK(shared->subscriptions().size() == 3);   // two zones + one user

    REQUIRE_OK(emu->force("10.1.0.4", "4g-macro-cell-1"));
    REQUIRE(log1.wait_for(1));
    REQUIRE(log2.wait_for(1));
    CHECK(log1.at(0).to == "mep1");
    CHECK(log2.at(0).to == "mep1");

    (*t1)->stop();
    CHECK(shared->subscriptions().size() == 1);
    REQUIRE_OK(emu->force("10.1.0.4", emu->model().find_zone("zone04")->access_points.front()));
    REQUIRE(log2.wait_for(2));
    CHECK(log2.at(1).to == "mep2");
    std::this_thread::sleep_for(100ms);
    CHECK(log1.size() == 1);
    (*t2)->stop();
    CHECK(shared->subscriptions().empty());
}
