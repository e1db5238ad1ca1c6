// The user-context transfer (strategy/user_context_transfer.hpp) between two real
// `user_context_endpoint`s on loopback, with a FAKE MEC platform (a recording loopback server
// that keeps a service registry and one AMS registration in memory) so that the tests can
// make each platform step fail. The same sequence against the MEC emulator is in
// mec_sim_client_test.cpp / the end-to-end test.
#include "mec_test_server.hpp"
#include "../require_ok.hpp"

#include <migrate/mec/user_context_endpoint.hpp>
#include <migrate/strategy/user_context_transfer.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <mutex>

using namespace migrate;
using namespace migrate::mec;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {

/// A fake platform: POST/GET services of the MEC011 registry, GET/PUT of one AMS
/// registration ("ams-1" of app "app-a", device 10.100.0.1 NOT_TRANSFERRED).
struct fake_platform {
    std::mutex m;
    std::map<std::string, json> services;   // serName -> ServiceInfo
    json registration = json::parse(R"({"appMobilityServiceId": "ams-1",
        "serviceConsumerId": {"appInstanceId": "app-a"},
        "deviceInformation": [{"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
                               "appMobilityServiceLevel": "APP_MOBILITY_WITH_CONFIRMATION",
                               "contextTransferState": "NOT_TRANSFERRED"}]})");
    bool ams_fails = false;
    mec_test_server server{[this](const recorded_request& r) { return answer(r); }};

    canned_reply answer(const recorded_request& r) {
        std::lock_guard lock(m);
        const std::string registry = "/sbx1/mec_service_mgmt/v1";
        if (r.method == "POST" && r.target.rfind(registry + "/applications/", 0) == 0) {
            json s = json::parse(r.body);
            s["serInstanceId"] = "svc-" + s["serName"].get<std::string>();
            services[s["serName"]] = s;
            return {201, s.dump()};
        }
        if (r.method == "DELETE" && r.target.rfind(registry + "/applications/", 0) == 0) return {204, ""};
        if (r.method == "GET" && r.target.rfind(registry + "/services?ser_name=", 0) == 0) {
            json list = json::array();
            auto name = r.target.substr(r.target.find('=') + 1);
            if (services.count(name)) list.push_back(services[name]);
            return {200, list.dump()};
        }
        if (r.target == "/sbx1/amsi/v1/app_mobility_services/ams-1") {
            if (r.method == "GET") return {200, registration.dump()};
            if (r.method == "PUT") {
                if (ams_fails) return {503, R"({"status": 503, "detail": "AMS restarting"})"};
                registration = json::parse(r.body);
                return {200, registration.dump()};
            }
        }
        return {404, R"({"status": 404, "detail": "no such resource"})"};
    }
    std::string transfer_state() {
        std::lock_guard lock(m);
        return registration["deviceInformation"][0]["contextTransferState"];
    }
    std::size_t count(const std::string& method, const std::string& prefix) {
        std::size_t n = 0;
        for (auto& r : server.requests())
            if (r.method == method && r.target.rfind(prefix, 0) == 0) ++n;
        return n;
    }
};

/// One app instance: contexts by device, an endpoint that receives them.
struct app_instance {
    std::mutex m;
    std::map<std::string, json> users;
    bool refuse = false;
    std::unique_ptr<user_context_endpoint> endpoint;

    app_instance(fake_platform& p, const std::string& id) {
        user_context_endpoint_options o;
        o.platform = options_for(p.server);
        o.app_instance_id = id;
        auto e = user_context_endpoint::start(o, [this](const associate_id& d, const json& c, const std::string&) -> result<void> {
            std::lock_guard lock(m);
            if (refuse) return make_failure(error::io_error, "disk full");
            users[d.value] = c;
            return {};
        });
        REQUIRE_OK(e);
        endpoint = std::move(*e);
    }
    user_context_callbacks callbacks() {
        return {[this](const associate_id& d) -> result<json> {
                    std::lock_guard lock(m);
                    auto it = users.find(d.value);
                    if (it == users.end()) return make_failure(error::not_found, "no user " + d.value);
                    return it->second;
                },
                [this](const associate_id& d) -> result<void> {
                    std::lock_guard lock(m);
                    users.erase(d.value);
                    return {};
                }};
    }
    bool has(const std::string& d) {
        std::lock_guard lock(m);
        return users.count(d) > 0;
    }
};

/// The transfer at `a`, the instance called `name`.
std::unique_ptr<user_context_transfer> transfer_from(fake_platform& p, app_instance& a, const std::string& name = "app-a") {
    user_context_transfer_options o;
    o.platform = options_for(p.server);
    o.app_instance_id = name;
    o.app_mobility_service_id = "ams-1";
    auto t = user_context_transfer::create(o, a.callbacks());
    REQUIRE_OK(t);
    return std::move(*t);
}

const associate_id car{"UE_IPv4_ADDRESS", "10.100.0.1"};

}  // namespace

TEST_CASE("user-context transfer: registry lookup, context PUT to the target, AMS marked, then released", "[mec][transfer]") {
    fake_platform platform;
    app_instance a(platform, "app-a"), b(platform, "app-b");
    a.users[car.value] = json{{"zone_changes", 7}, {"zone", "zone01"}};
    auto t = transfer_from(platform, a);

    auto rep = t->transfer(car, "app-b");
    INFO(rep.to_text());
    REQUIRE(rep.success);
    CHECK_FALSE(a.has(car.value));   // released at the source, after the target confirmed
    REQUIRE(b.has(car.value));
    CHECK(b.users[car.value]["zone_changes"] == 7);
    CHECK(platform.transfer_state() == "USER_CONTEXT_TRANSFER_COMPLETED");
    CHECK(b.endpoint->received() == 1);
    CHECK(rep.details["target_url"] == b.endpoint->url());
    std::vector<phase> order;
    for (auto& ph : rep.phases) order.push_back(ph.phase);
    CHECK(order == std::vector<phase>{phase::prepare, phase::snapshot, phase::transfer, phase::verify, phase::cleanup});
    CHECK(rep.total_bytes(phase::transfer) > 0);
}

TEST_CASE("user-context transfer: a target that refuses keeps the user at the source, AMS untouched", "[mec][transfer]") {
    fake_platform platform;
    app_instance a(platform, "app-a"), b(platform, "app-b");
    a.users[car.value] = json{{"zone_changes", 3}};
    b.refuse = true;
    auto t = transfer_from(platform, a);
    auto rep = t->transfer(car, "app-b");
    CHECK_FALSE(rep.success);
    CHECK(rep.rolled_back);
    CHECK_THAT(rep.error, Catch::Contains("disk full"));
    CHECK_THAT(rep.error, Catch::Contains(b.endpoint->url()));
    CHECK(a.has(car.value));
    CHECK(platform.transfer_state() == "NOT_TRANSFERRED");
    CHECK(platform.count("PUT", "/sbx1/amsi") == 0);
}

TEST_CASE("user-context transfer: an unknown target instance is named, nothing is sent", "[mec][transfer]") {
    fake_platform platform;
    app_instance a(platform, "app-a");
    a.users[car.value] = json{{"zone_changes", 1}};
    auto t = transfer_from(platform, a);
    auto rep = t->transfer(car, "app-z");
    CHECK_FALSE(rep.success);
    CHECK(rep.rolled_back);
    CHECK_THAT(rep.error, Catch::Contains("user-context-app-z"));
    CHECK(a.has(car.value));
    CHECK(platform.count("PUT", "/sbx1/amsi") == 0);
    // A user the app does not serve: the app's not_found, before anything is sent.
    app_instance b(platform, "app-b");
    auto none = t->transfer({"UE_IPv4_ADDRESS", "10.100.0.99"}, "app-b");
    CHECK_FALSE(none.success);
    CHECK_THAT(none.error, Catch::Contains("no user 10.100.0.99"));
    CHECK(b.endpoint->received() == 0);
}

TEST_CASE("user-context transfer: an AMS that fails after the target stored it loses nothing and says so", "[mec][transfer]") {
    fake_platform platform;
    app_instance a(platform, "app-a"), b(platform, "app-b");
    a.users[car.value] = json{{"zone_changes", 5}};
    platform.ams_fails = true;
    auto t = transfer_from(platform, a);
    auto rep = t->transfer(car, "app-b");
    CHECK_FALSE(rep.success);
    CHECK_FALSE(rep.rolled_back);                 // the target has it
    CHECK_THAT(rep.error, Catch::Contains("AMS restarting"));
    CHECK_THAT(rep.error, Catch::Contains("source kept its copy"));
    CHECK(a.has(car.value));                      // not released
    CHECK(b.has(car.value));
    CHECK(platform.transfer_state() == "NOT_TRANSFERRED");
}

TEST_CASE("user-context transfer: driven by the AMS notification and by a mec_ams decision", "[mec][transfer]") {
    fake_platform platform;
    app_instance a(platform, "app-a"), b(platform, "app-b");
    a.users[car.value] = json{{"zone_changes", 2}};
    auto t = transfer_from(platform, a);

    mobility_procedure_notification n;
    n.status = mobility_status::interhost_moveout_completed;
    n.devices = {car};
    n.target = app_instance_endpoints{"app-b", {}};
    CHECK(t->on_notification(n).empty());   // only TRIGGERED moves anything
    n.status = mobility_status::interhost_moveout_triggered;
    auto reps = t->on_notification(n);
    REQUIRE(reps.size() == 1);
    CHECK(reps[0].success);
    CHECK(b.has(car.value));

    // Back again through a decision: the target instance comes in the evidence.
    migration_decision d;
    d.subject = car.value;
    d.evidence = json{{"target_app_instance_id", "app-a"}};
    auto tb = transfer_from(platform, b, "app-b");
    auto back = tb->on_decision(d);
    INFO(back.to_text());
    CHECK(back.success);
    CHECK(a.has(car.value));
    CHECK_FALSE(b.has(car.value));
    migration_decision bad;
    bad.subject = car.value;
    auto refused = tb->on_decision(bad);
    CHECK_FALSE(refused.success);
    CHECK_THAT(refused.error, Catch::Contains("no target app instance"));
}

TEST_CASE("user-context transfer and endpoint options name the bad field", "[mec][transfer]") {
    user_context_transfer_options o;
    o.app_instance_id = "a";
    CHECK_THAT(o.validate().error().message, Catch::Contains("app_mobility_service_id"));
    o.app_mobility_service_id = "ams";
    o.transfer_timeout = std::chrono::milliseconds{0};
    CHECK_THAT(o.validate().error().message, Catch::Contains("transfer_timeout"));
    o.transfer_timeout = std::chrono::milliseconds{100};
    CHECK_THAT(user_context_transfer::create(o, {}).error().message, Catch::Contains("export_context"));
    user_context_endpoint_options e;
    CHECK_THAT(e.validate().error().message, Catch::Contains("app_instance_id"));
    e.app_instance_id = "a";
    e.advertised_url = "10.0.0.1:80";
    CHECK_THAT(e.validate().error().message, Catch::Contains("advertised_url"));
}
