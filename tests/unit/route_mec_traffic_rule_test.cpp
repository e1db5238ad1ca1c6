// The `mec_traffic_rule` route switch against a recording loopback MEC011 platform: the make
// PUT (target ACTIVE) goes before the break PUT (source INACTIVE), rollback restores what
// prepare read, a 501 is `unsupported` at prepare with no PUT sent, a 4xx's ProblemDetails is
// named, and a PUT the platform answers but does not apply fails the commit.
#include <migrate/mec/app_support.hpp>
#include <migrate/mec/emulator.hpp>
#include <migrate/route/mec_traffic_rule.hpp>

#include "mec_test_server.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <mutex>

using namespace migrate;
using namespace migrate::route;
using migrate::test::canned_reply;
using migrate::test::mec_test_server;
using migrate::test::options_for;
using migrate::test::recorded_request;

namespace {

const std::string rules_root = "/sbx1/mec_app_support/v1/applications/";

// The spec's TrafficRule example (gs011-MecAppSupportApi.yaml, TrafficRule) with the given id
// and state; trafficFilter / dstInterface must survive every PUT.
json rule_document(const std::string& id, const std::string& state, const std::string& dst) {
    json j = json::parse(R"({"serName": "ExampleService", "filterType": "FLOW", "priority": 1,
      "trafficFilter": [{"srcAddress": ["192.168.2.0/24"], "dstAddress": ["192.127.4.100/32"], "dstPort": ["80"]}],
      "action": "FORWARD_DECAPSULATED", "dstInterface": {"interfaceType": "IP"}})");
    j["trafficRuleId"] = id;
    j["state"] = state;
    j["dstInterface"]["dstIpAddress"] = dst;
    return j;
}

// A MEC011 platform holding rules by "app/rule"; GET and PUT as the spec says, or broken in
// the ways the tests ask for.
struct platform {
    std::map<std::string, json> rules{{"app-a/rule-a", rule_document("rule-a", "ACTIVE", "10.0.1.2")},
                                      {"app-b/rule-b", rule_document("rule-b", "INACTIVE", "10.0.2.2")}};
    bool not_implemented = false;      // AdvantEDGE: 501 to every traffic_rules route
    bool ignores_puts = false;         // answers the PUT's body back but keeps its rule
    std::string fails_put_of;          // "app/rule" answered 400 with ProblemDetails

    canned_reply operator()(const recorded_request& r) {
        if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "Bearer t0k3n") return {401, ""};
        if (not_implemented) return {501, R"({"status": 501, "detail": "Not Implemented"})"};
        if (!r.target.starts_with(rules_root)) return {404, ""};
        auto rest = r.target.substr(rules_root.size());   // app/traffic_rules/rule
        auto slash = rest.find("/traffic_rules/");
        if (slash == std::string::npos) return {404, ""};
        std::string key = rest.substr(0, slash) + "/" + rest.substr(slash + std::string("/traffic_rules/").size());
        auto it = rules.find(key);
        if (it == rules.end())
            return {404, json{{"type", "about:blank"}, {"title", "Not Found"}, {"status", 404},
                              {"detail", "traffic rule " + key + " does not exist"}}.dump()};
        if (r.method == "GET") return {200, it->second.dump()};
        if (r.method == "PUT") {
            if (key == fails_put_of)
                return {400, json{{"title", "Bad Request"}, {"status", 400}, {"detail", "dstInterface is not reachable"}}.dump()};
            auto body = json::parse(r.body);
            if (!ignores_puts) it->second = body;
            return {200, body.dump()};
        }
        return {405, ""};
    }
};

// The recording server's handler runs under its lock; the platform is read by the test after.
struct platform_server {
    platform p;
    mec_test_server srv{[this](const recorded_request& r) { return p(r); }};
    std::string state_of(const std::string& key) const { return p.rules.at(key).at("state"); }
    std::vector<recorded_request> puts() const {
        std::vector<recorded_request> out;
        for (auto& r : srv.requests())
            if (r.method == "PUT") out.push_back(r);
        return out;
    }
};

std::unique_ptr<mec_traffic_rule_route_switch> switch_for(const mec_test_server& srv) {
    mec_traffic_rule_options o;
    o.platform = options_for(srv);
    o.hosts["a"] = {"app-a", "rule-a"};
    o.hosts["b"] = {"app-b", "rule-b"};
    return mec_traffic_rule_route_switch::make(o).value();
}

route_change move_a_to_b() {
    route_change c;
    c.subject = "10.100.0.1";
    c.from = service_instance{"a", "svc-a", "10.0.1.2", 80};
    c.to = service_instance{"b", "svc-b", "10.0.2.2", 80};
    return c;
}

}  // namespace

TEST_CASE("mec_traffic_rule: prepare reads both rules and changes nothing", "[mec_route]") {
    platform_server ps;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    CHECK(c.prepared);
    CHECK(ps.puts().empty());
    CHECK(c.state["rules"]["source"]["state_before"] == "ACTIVE");
    CHECK(c.state["rules"]["target"]["state_before"] == "INACTIVE");
    CHECK(c.state["rules"]["target"]["app_instance_id"] == "app-b");
    auto reqs = ps.srv.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].target == rules_root + "app-b/traffic_rules/rule-b");   // the target's first
    CHECK(reqs[1].target == rules_root + "app-a/traffic_rules/rule-a");
}

TEST_CASE("mec_traffic_rule: commit activates the target's rule, confirmed, before deactivating the source's", "[mec_route]") {
    platform_server ps;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    REQUIRE(sw->commit(c).has_value());
    CHECK(c.committed);
    CHECK(ps.state_of("app-b/rule-b") == "ACTIVE");
    CHECK(ps.state_of("app-a/rule-a") == "INACTIVE");

    auto puts = ps.puts();
    REQUIRE(puts.size() == 2);
    CHECK(puts[0].target == rules_root + "app-b/traffic_rules/rule-b");
    CHECK(json::parse(puts[0].body)["state"] == "ACTIVE");
    CHECK(puts[1].target == rules_root + "app-a/traffic_rules/rule-a");
    CHECK(json::parse(puts[1].body)["state"] == "INACTIVE");
    // The PUT sends back what this SDK does not model.
    CHECK(json::parse(puts[0].body)["dstInterface"]["dstIpAddress"] == "10.0.2.2");
    CHECK(json::parse(puts[0].body)["trafficFilter"][0]["dstPort"][0] == "80");

    // Each PUT is confirmed by a GET before the next request.
    auto reqs = ps.srv.requests();
    std::vector<std::string> seq;
    for (auto& r : reqs) seq.push_back(r.method + " " + r.target.substr(rules_root.size()));
    CHECK(seq == std::vector<std::string>{"GET app-b/traffic_rules/rule-b", "GET app-a/traffic_rules/rule-a",
                                          "PUT app-b/traffic_rules/rule-b", "GET app-b/traffic_rules/rule-b",
                                          "PUT app-a/traffic_rules/rule-a", "GET app-a/traffic_rules/rule-a"});
    REQUIRE(c.state["steps"].size() == 2);
    CHECK(c.state["steps"][0]["role"] == "target");
    CHECK(c.state["steps"][0]["confirmed"] == true);
    CHECK(c.state["steps"][1]["role"] == "source");
}

TEST_CASE("mec_traffic_rule: rollback after a commit restores the rules prepare read, the source's first", "[mec_route]") {
    platform_server ps;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    REQUIRE(sw->commit(c).has_value());
    sw->rollback(c);
    CHECK_FALSE(c.committed);
    CHECK_FALSE(c.state.contains("rollback_errors"));
    CHECK(ps.state_of("app-a/rule-a") == "ACTIVE");
    CHECK(ps.state_of("app-b/rule-b") == "INACTIVE");
    auto puts = ps.puts();
    REQUIRE(puts.size() == 4);
    CHECK(puts[2].target == rules_root + "app-a/traffic_rules/rule-a");
    CHECK(json::parse(puts[2].body)["state"] == "ACTIVE");
    CHECK(puts[3].target == rules_root + "app-b/traffic_rules/rule-b");
    CHECK(json::parse(puts[3].body)["state"] == "INACTIVE");
}

TEST_CASE("mec_traffic_rule: rollback after prepare only sends nothing", "[mec_route]") {
    platform_server ps;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    auto before = ps.srv.requests().size();
    sw->rollback(c);
    CHECK(ps.srv.requests().size() == before);
}

TEST_CASE("mec_traffic_rule: a platform answering 501 is unsupported at prepare, naming the fallback, with no PUT sent",
          "[mec_route]") {
    platform_server ps;
    ps.p.not_implemented = true;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    auto r = sw->prepare(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::unsupported);
    CHECK(r.error_code() == condition::unimplemented);
    CHECK_THAT(r.error().message, Catch::Contains("the platform does not implement MEC011 traffic rules"));
    CHECK_THAT(r.error().message, Catch::Contains("e.g. openflow"));
    CHECK_THAT(r.error().message, Catch::Contains("'rule-b' of app instance 'app-b'"));
    CHECK_FALSE(c.prepared);
    CHECK(ps.puts().empty());
    sw->rollback(c);   // nothing moved: nothing to restore
    CHECK(ps.puts().empty());
}

TEST_CASE("mec_traffic_rule: a PUT refused with ProblemDetails fails the commit naming the rule and the platform's detail; "
          "rollback restores",
          "[mec_route]") {
    platform_server ps;
    ps.p.fails_put_of = "app-a/rule-a";   // the break fails, after the make
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    auto r = sw->commit(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::invalid_argument);
    CHECK_THAT(r.error().message, Catch::Contains("switching INACTIVE 10.100.0.1's source rule 'rule-a' of app instance 'app-a'"));
    CHECK_THAT(r.error().message, Catch::Contains("HTTP 400: dstInterface is not reachable"));
    CHECK_FALSE(c.committed);
    CHECK(ps.state_of("app-b/rule-b") == "ACTIVE");

    ps.p.fails_put_of.clear();
    sw->rollback(c);
    CHECK_FALSE(c.state.contains("rollback_errors"));
    CHECK(ps.state_of("app-a/rule-a") == "ACTIVE");
    CHECK(ps.state_of("app-b/rule-b") == "INACTIVE");
}

TEST_CASE("mec_traffic_rule: a missing rule is not_found at prepare with the platform's detail", "[mec_route]") {
    platform_server ps;
    ps.p.rules.erase("app-b/rule-b");
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    auto r = sw->prepare(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::not_found);
    CHECK_THAT(r.error().message, Catch::Contains("instance 'svc-b' on host 'b'"));
    CHECK_THAT(r.error().message, Catch::Contains("traffic rule app-b/rule-b does not exist"));
}

TEST_CASE("mec_traffic_rule: a PUT answered but not applied (a GET shows the old state) fails the commit", "[mec_route]") {
    platform_server ps;
    ps.p.ignores_puts = true;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    REQUIRE(sw->prepare(c).has_value());
    auto r = sw->commit(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::daemon_error);
    CHECK_THAT(r.error().message, Catch::Contains("accepted the PUT of state ACTIVE but a GET then reads state INACTIVE"));
    CHECK_FALSE(c.committed);
    CHECK(ps.puts().size() == 1);   // the source's rule was not touched
    CHECK(c.state["steps"][0]["confirmed"] == false);
}

TEST_CASE("mec_traffic_rule: the target picked after prepare is read at commit before any PUT", "[mec_route]") {
    platform_server ps;
    auto sw = switch_for(ps.srv);
    auto c = move_a_to_b();
    c.to = service_instance{};
    REQUIRE(sw->prepare(c).has_value());
    CHECK_FALSE(c.state["rules"].contains("target"));
    c.to = service_instance{"b", "svc-b", "10.0.2.2", 80};
    REQUIRE(sw->commit(c).has_value());
    CHECK(ps.state_of("app-b/rule-b") == "ACTIVE");
    CHECK(ps.state_of("app-a/rule-a") == "INACTIVE");
    auto reqs = ps.srv.requests();
    REQUIRE(reqs.size() >= 3);
    CHECK(reqs[1].method == "GET");
    CHECK(reqs[1].target == rules_root + "app-b/traffic_rules/rule-b");
}

TEST_CASE("mec_traffic_rule: a subject's own rule wins over the host's; the instance id serves as app instance id",
          "[mec_route]") {
    mec_traffic_rule_options o;
    o.platform.base_url = "http://127.0.0.1:9";
    o.hosts["a"] = {"app-a", "rule-a"};
    o.subjects["10.100.0.1"]["a"] = {"app-a", "rule-ue1"};
    o.traffic_rule_id = "steer";
    auto sw = mec_traffic_rule_route_switch::make(o).value();
    service_instance a{"a", "svc-a", "10.0.1.2", 80}, c{"c", "app-c", "10.0.3.2", 80};
    CHECK(sw->rule_for("10.100.0.1", a).value().traffic_rule_id == "rule-ue1");
    CHECK(sw->rule_for("10.100.0.2", a).value().traffic_rule_id == "rule-a");
    CHECK(sw->rule_for("10.100.0.2", c).value().app_instance_id == "app-c");
    CHECK(sw->rule_for("10.100.0.2", c).value().traffic_rule_id == "steer");

    o.traffic_rule_id.clear();
    auto strict = mec_traffic_rule_route_switch::make(o).value();
    CHECK_THAT(strict->rule_for("10.100.0.2", c).error().message,
               Catch::Contains("no traffic rule known for instance 'app-c' on host 'c'"));
}

TEST_CASE("mec_traffic_rule options: JSON in both spellings, bad ones named", "[mec_route]") {
    auto o = parse_options<mec_traffic_rule_options>(json::parse(R"({
        "platform": {"base_url": "http://127.0.0.1:8080", "sandbox": "sbx1"},
        "hosts": {"a": {"appInstanceId": "app-a", "trafficRuleId": "rule-a"},
                  "b": {"app_instance_id": "app-b", "traffic_rule_id": "rule-b"}}})"));
    REQUIRE(o.has_value());
    CHECK(o->hosts.at("a").traffic_rule_id == "rule-a");
    CHECK(o->hosts.at("b").app_instance_id == "app-b");
    CHECK(o->platform.sandbox == "sbx1");
    CHECK(json(*o)["hosts"]["b"]["traffic_rule_id"] == "rule-b");

    auto no_rule = parse_options<mec_traffic_rule_options>(json::parse(R"({"hosts": {"a": {"app_instance_id": "app-a"}}})"));
    REQUIRE_FALSE(no_rule.has_value());
    CHECK_THAT(no_rule.error().message, Catch::Contains("mec_traffic_rule.hosts.a.traffic_rule_id: empty"));
    auto bad_url = parse_options<mec_traffic_rule_options>(json::parse(R"({"platform": {"base_url": "ftp://x"}, "traffic_rule_id": "r"})"));
    REQUIRE_FALSE(bad_url.has_value());
    CHECK_THAT(bad_url.error().message, Catch::Contains("mec_traffic_rule.platform: client_options.base_url"));
    CHECK_FALSE(parse_options<mec_traffic_rule_options>(json::object()).has_value());
}

// Against the SDK's MEC platform emulator (mec/emulator.hpp), which serves MEC011 traffic
// rules, or answers 501 to them as AdvantEDGE does.
namespace {

mec::traffic_rule steering_rule(const std::string& id, mec::traffic_rule_state state, const std::string& dst) {
    mec::traffic_rule r;
    r.id = id;
    r.priority = 1;
    r.state = state;
    r.document = json{{"trafficFilter", json::array({json{{"dstAddress", json::array({"10.250.0.100/32"})}}})},
                      {"dstInterface", {{"interfaceType", "IP"}, {"dstIpAddress", dst}}}};
    return r;
}

std::unique_ptr<mec::emulator> emulator_with_rules(bool serve_traffic_rules) {
    auto s = mec::scenario::load(std::filesystem::path(MIGRATE_TEST_DATA_DIR) / "mec" / "monaco-dual-mep-short-path.json");
    REQUIRE(s.has_value());
    mec::emulator_options o;
    o.base_path = "/sbx1";   // the client's sandbox prefix is one segment
    o.time_scale = 0;
    o.serve_traffic_rules = serve_traffic_rules;
    o.app_instances.push_back({"app-mep1", "mep1", "svc", {steering_rule("steer", mec::traffic_rule_state::active, "10.0.1.2")}, {}});
    o.app_instances.push_back({"app-mep2", "mep2", "svc", {steering_rule("steer", mec::traffic_rule_state::inactive, "10.0.2.2")}, {}});
    auto emu = mec::emulator::start(std::move(*s), o);
    REQUIRE(emu.has_value());
    return std::move(*emu);
}

std::unique_ptr<mec_traffic_rule_route_switch> switch_for(const mec::emulator& emu) {
    mec_traffic_rule_options o;
    o.platform.base_url = fmt::format("http://127.0.0.1:{}", emu.port());
    o.platform.sandbox = "sbx1";
    o.traffic_rule_id = "steer";   // the instances' ids are their app instance ids
    return mec_traffic_rule_route_switch::make(o).value();
}

std::string state_at(const mec::emulator& emu, const std::string& app) {
    auto rules = emu.traffic_rules(app);
    REQUIRE(rules.has_value());
    REQUIRE(rules->size() == 1);
    return std::string(mec::to_string((*rules)[0].state));
}

route_change move_mep1_to_mep2() {
    route_change c;
    c.subject = "10.1.0.4";
    c.from = service_instance{"mep1", "app-mep1", "10.0.1.2", 80};
    c.to = service_instance{"mep2", "app-mep2", "10.0.2.2", 80};
    return c;
}

}  // namespace

TEST_CASE("mec_traffic_rule against the emulator: commit flips the rules, rollback flips them back", "[mec_route][sim]") {
    auto emu = emulator_with_rules(true);
    auto sw = switch_for(*emu);
    auto c = move_mep1_to_mep2();
    REQUIRE(sw->prepare(c).has_value());
    CHECK(state_at(*emu, "app-mep1") == "ACTIVE");
    CHECK(state_at(*emu, "app-mep2") == "INACTIVE");
    REQUIRE(sw->commit(c).has_value());
    CHECK(state_at(*emu, "app-mep1") == "INACTIVE");
    CHECK(state_at(*emu, "app-mep2") == "ACTIVE");
    // The rule's filter and destination survived the PUTs.
    auto rules = emu->traffic_rules("app-mep2");
    REQUIRE(rules.has_value());
    CHECK((*rules)[0].document["dstInterface"]["dstIpAddress"] == "10.0.2.2");
    sw->rollback(c);
    CHECK_FALSE(c.state.contains("rollback_errors"));
    CHECK(state_at(*emu, "app-mep1") == "ACTIVE");
    CHECK(state_at(*emu, "app-mep2") == "INACTIVE");

    // And a second move the other way, as a follow-me does.
    route_change back;
    back.subject = c.subject;
    back.from = c.to;
    back.to = c.from;
    REQUIRE(sw->commit(c).has_value());
    REQUIRE(sw->prepare(back).has_value());
    REQUIRE(sw->commit(back).has_value());
    CHECK(state_at(*emu, "app-mep1") == "ACTIVE");
    CHECK(state_at(*emu, "app-mep2") == "INACTIVE");
}

TEST_CASE("mec_traffic_rule against the emulator: an unknown app instance is not_found at prepare", "[mec_route][sim]") {
    auto emu = emulator_with_rules(true);
    auto sw = switch_for(*emu);
    auto c = move_mep1_to_mep2();
    c.to.id = "app-nowhere";
    auto r = sw->prepare(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == error::not_found);
    CHECK_THAT(r.error().message, Catch::Contains("app instance 'app-nowhere'"));
}

TEST_CASE("mec_traffic_rule against the emulator playing AdvantEDGE (501): unsupported at prepare, rules untouched",
          "[mec_route][sim]") {
    auto emu = emulator_with_rules(false);
    auto sw = switch_for(*emu);
    auto c = move_mep1_to_mep2();
    auto r = sw->prepare(c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error_code() == condition::unimplemented);
    CHECK_THAT(r.error().message, Catch::Contains("HTTP 501"));
    CHECK_THAT(r.error().message, Catch::Contains("the platform does not implement MEC011 traffic rules"));
    CHECK_THAT(r.error().message, Catch::Contains("fall back to another route switch, e.g. openflow"));
    sw->rollback(c);
    CHECK(state_at(*emu, "app-mep1") == "ACTIVE");
    CHECK(state_at(*emu, "app-mep2") == "INACTIVE");
}
