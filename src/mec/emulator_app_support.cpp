// The emulator's MEC011 APIs: app support (app instances declared by the emulator's user,
// ready / termination confirmations, termination subscriptions, traffic rules, 501 for DNS
// rules) and service management (the service registry).
#include "emulator_impl.hpp"

namespace migrate::mec {

using detail::bad_field;
using detail::expect_one_of;
using detail::reader;
using detail::reject_body;
using net::http_request;
using net::http_response;

namespace {

/// TrafficRule per MEC011 v2.1.1, field by field; a complaint names the field.
void check_traffic_rule(const reader& r) {
    r.str("trafficRuleId");
    expect_one_of(r, "filterType", {"FLOW", "PACKET"});
    r.integer("priority");
    if (!r.has("trafficFilter")) bad_field(r.at_ptr("trafficFilter"), "missing");
    if (!r.raw().at("trafficFilter").is_array()) bad_field(r.at_ptr("trafficFilter"), "expected array");
    r.objects("trafficFilter", [](const reader& f) {
        for (auto* key : {"srcAddress", "dstAddress", "srcPort", "dstPort", "protocol", "token", "srcTunnelAddress",
                          "tgtTunnelAddress", "srcTunnelPort", "dstTunnelPort"})
            f.strings(key);
        return 0;
    });
    expect_one_of(r, "action", {"DROP", "FORWARD_DECAPSULATED", "FORWARD_ENCAPSULATED", "PASSTHROUGH", "DUPLICATE_DECAPSULATED",
                                "DUPLICATE_ENCAPSULATED"});
    if (auto d = r.opt_object("dstInterface")) expect_one_of(*d, "interfaceType", {"TUNNEL", "MAC", "IP"});
    expect_one_of(r, "state", {"ACTIVE", "INACTIVE"});
}

/// ServiceInfo per MEC011 v2.1.1 (the required fields and the enums).
void check_service_info(const reader& r) {
    r.str("serName");
    r.str("version");
    expect_one_of(r, "state", {"ACTIVE", "INACTIVE"});
    expect_one_of(r, "serializer", {"JSON", "XML", "PROTOBUF3"});
    auto ti = r.object("transportInfo");
    for (auto* key : {"id", "name", "protocol", "version"}) ti.str(key);
    expect_one_of(ti, "type", {"REST_HTTP", "MB_TOPIC_BASED", "MB_ROUTING", "MB_PUBSUB", "RPC", "RPC_STREAMING", "WEBSOCKET"});
    auto ep = ti.object("endpoint");
    if (!ep.has("uris") && !ep.has("addresses") && !ep.has("alternative"))
        bad_field(ep.pointer(), "expected one of uris, addresses, alternative");
    ep.strings("uris");
    ep.objects("addresses", [](const reader& a) { return endpoint{a.str("host"), a.integer("port")}; });
    ti.object("security");
    if (auto c = r.opt_object("serCategory"))
        for (auto* key : {"href", "id", "name", "version"}) c->str(key);
    expect_one_of(r, "scopeOfLocality", {"MEC_SYSTEM", "MEC_HOST", "NFVI_POP", "ZONE", "ZONE_GROUP", "NFVI_NODE"}, false);
    r.opt_bool("consumedLocalOnly");
    r.opt_bool("isLocal");
}

}  // namespace

const emulator::impl::app_instance_record* emulator::impl::find_app_locked(std::string_view id) const {
    for (auto& a : apps)
        if (a.declared.id == id) return &a;
    return nullptr;
}

result<emulator::impl::app_instance_record> emulator::impl::make_app_instance_locked(const app_instance& a) const {
    auto bad = [&](const std::string& field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("app instance '{}': {}: {}", a.id, field, why));
    };
    if (a.id.empty()) return bad("id", "empty");
    bool known = std::any_of(model.edge_hosts().begin(), model.edge_hosts().end(), [&](auto& h) { return h.name == a.edge_host; });
    if (!known) {
        std::vector<std::string> names;
        for (auto& h : model.edge_hosts()) names.push_back(h.name);
        return bad("edge_host", fmt::format("'{}' is not an edge host of scenario {} (it has: {})", a.edge_host, model.name(),
                                            names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    app_instance_record rec;
    rec.declared = a;
    for (std::size_t i = 0; i < a.traffic_rules.size(); ++i) {
        json doc = to_json(a.traffic_rules[i]);
        if (!doc.contains("filterType")) doc["filterType"] = "FLOW";
        if (!doc.contains("action")) doc["action"] = "FORWARD_DECAPSULATED";
        if (!doc.contains("trafficFilter")) doc["trafficFilter"] = json::array();
        auto checked = detail::parse_guarded([&] {
            check_traffic_rule(reader(doc, ""));
            return true;
        });
        if (!checked) return bad(fmt::format("traffic_rules[{}]", i), checked.error().message);
        for (auto& other : rec.rules)
            if (other["trafficRuleId"] == doc["trafficRuleId"])
                return bad(fmt::format("traffic_rules[{}]", i), fmt::format("rule '{}' is declared twice", a.traffic_rules[i].id));
        rec.rules.push_back(std::move(doc));
    }
    return rec;
}

json emulator::impl::app_instance_json(const app_instance_record& a) const {
    json eps = json::array();
    for (auto& e : a.declared.endpoints) eps.push_back({{"host", e.host}, {"port", e.port}});
    return {{"appInstanceId", a.declared.id},
            {"edgeHost", a.declared.edge_host},
            {"appName", a.declared.app_name},
            {"endpoints", std::move(eps)},
            {"ready", a.ready},
            {"terminationConfirmed", a.termination_confirmed},
            {"trafficRules", a.rules}};
}

result<void> emulator::impl::terminate_locked(const std::string& app_instance, operation_action action, std::int64_t max_graceful_timeout_s) {
    if (!find_app_locked(app_instance)) return make_failure(error::not_found, fmt::format("app instance '{}': not declared", app_instance));
    const std::string app = fmt::format("{}/applications/{}", api_root("mec_app_support/v1"), app_instance);
    for (auto& s : app_subs) {
        if (s.app_instance != app_instance) continue;
        post_locked(s.body.value("callbackReference", ""),
                    {{"notificationType", "AppTerminationNotification"},
                     {"operationAction", std::string(to_string(action))},
                     {"maxGracefulTimeout", max_graceful_timeout_s},
                     {"_links", {{"subscription", {{"href", s.body["_links"]["self"]["href"]}}},
                                 {"confirmTermination", {{"href", url_of(app + "/confirm_termination")}}}}}});
    }
    wake_notifier.notify_one();
    return ok();
}

void emulator::impl::add_app_support_routes(net::http_router& r) {
    const std::string app = api_root("mec_app_support/v1") + "/applications/{appInstanceId}";
    const std::string mgmt = api_root("mec_service_mgmt/v1");

    // Runs `f(record)` for a declared app instance with `m` held, a 404 otherwise.
    auto with_app = [this](auto f) {
        return [this, f](const http_request& q) {
            std::lock_guard lock(m);
            auto* a = find_app_locked(q.param("appInstanceId"));
            if (!a) return http_response::problem(404, fmt::format("app instance '{}': not declared to the emulator", q.param("appInstanceId")), q.path);
            return f(q, *a);
        };
    };

    r.route("POST", app + "/confirm_ready", with_app([](const http_request& q, app_instance_record& a) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] { expect_one_of(reader(*doc, ""), "indication", {"READY"}); }, "AppReadyConfirmation", q.path)) return *bad;
        a.ready = true;
        return http_response::no_content();
    }));
    r.route("POST", app + "/confirm_termination", with_app([](const http_request& q, app_instance_record& a) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] { expect_one_of(reader(*doc, ""), "operationAction", {"STOPPING", "TERMINATING"}); },
                                   "AppTerminationConfirmation", q.path))
            return *bad;
        a.termination_confirmed = doc->at("operationAction").get<std::string>();
        return http_response::no_content();
    }));

    // Termination subscriptions.
    r.route("POST", app + "/subscriptions", with_app([this](const http_request& q, app_instance_record& a) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] {
                reader rd(*doc, "");
                expect_one_of(rd, "subscriptionType", {"AppTerminationNotificationSubscription"});
                rd.str("callbackReference");
                if (rd.str("appInstanceId") != a.declared.id)
                    bad_field(rd.at_ptr("appInstanceId"), fmt::format("'{}' is not the path's '{}'", rd.str("appInstanceId"), a.declared.id));
            }, "AppTerminationNotificationSubscription", q.path))
            return *bad;
        app_termination_subscription_record s{new_id("sub"), a.declared.id, *doc};
        auto self = url_of(fmt::format("{}/{}", q.path, s.id));
        s.body["_links"] = {{"self", {{"href", self}}}};
        app_subs.push_back(s);
        return http_response::created(s.body, self);
    }));
    r.route("GET", app + "/subscriptions", with_app([this](const http_request& q, app_instance_record& a) {
        json links = json::array();
        for (auto& s : app_subs)
            if (s.app_instance == a.declared.id)
                links.push_back({{"href", s.body["_links"]["self"]["href"]}, {"rel", "AppTerminationNotificationSubscription"}});
        return http_response::ok({{"_links", {{"self", {{"href", url_of(q.path)}}}, {"subscriptions", std::move(links)}}}});
    }));
    r.route("GET", app + "/subscriptions/{subscriptionId}", with_app([this](const http_request& q, app_instance_record& a) {
        for (auto& s : app_subs)
            if (s.app_instance == a.declared.id && s.id == q.param("subscriptionId")) return http_response::ok(s.body);
        return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
    }));
    r.route("DELETE", app + "/subscriptions/{subscriptionId}", with_app([this](const http_request& q, app_instance_record& a) {
        auto n = std::erase_if(app_subs, [&](auto& s) { return s.app_instance == a.declared.id && s.id == q.param("subscriptionId"); });
        if (n == 0) return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
        return http_response::no_content();
    }));

    // Traffic rules: 501 throughout when the emulator plays AdvantEDGE.
    auto rules_served = [this](auto f) {
        return [this, f](const http_request& q) {
            if (!options.serve_traffic_rules)
                return http_response::problem(501, "traffic rules are not implemented by this platform (emulating AdvantEDGE: "
                                                   "serve_traffic_rules = false)", q.path);
            return f(q);
        };
    };
    r.route("GET", app + "/traffic_rules", rules_served(with_app([](const http_request&, app_instance_record& a) {
        return http_response::ok(json(a.rules));
    })));
    r.route("GET", app + "/traffic_rules/{trafficRuleId}", rules_served(with_app([](const http_request& q, app_instance_record& a) {
        for (auto& rule : a.rules)
            if (rule["trafficRuleId"] == q.param("trafficRuleId")) return http_response::ok(rule);
        return http_response::problem(404, fmt::format("app instance '{}' has no traffic rule '{}'", a.declared.id, q.param("trafficRuleId")), q.path);
    })));
    r.route("PUT", app + "/traffic_rules/{trafficRuleId}", rules_served(with_app([](const http_request& q, app_instance_record& a) {
        auto it = std::find_if(a.rules.begin(), a.rules.end(), [&](auto& rule) { return rule["trafficRuleId"] == q.param("trafficRuleId"); });
        if (it == a.rules.end())
            return http_response::problem(404, fmt::format("app instance '{}' has no traffic rule '{}'", a.declared.id, q.param("trafficRuleId")), q.path);
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] {
                reader rd(*doc, "");
                check_traffic_rule(rd);
                if (rd.str("trafficRuleId") != q.param("trafficRuleId"))
                    bad_field(rd.at_ptr("trafficRuleId"), fmt::format("'{}' is not the path's '{}'", rd.str("trafficRuleId"), q.param("trafficRuleId")));
            }, "TrafficRule", q.path))
            return *bad;
        *it = *doc;
        return http_response::ok(*it);
    })));
    for (auto* p : {"/dns_rules", "/dns_rules/{dnsRuleId}"})
        for (auto* method : {"GET", "PUT"}) {
            if (std::string_view(p) == "/dns_rules" && std::string_view(method) == "PUT") continue;
            r.route(method, app + p, [](const http_request& q) {
                return http_response::problem(501, "DNS rules are not implemented by the emulator (nor by AdvantEDGE)", q.path);
            });
        }

    // Service registry.
    auto check_service = [](const http_request& q, const json& doc) {
        return reject_body([&] { check_service_info(reader(doc, "")); }, "ServiceInfo", q.path);
    };
    auto list_services = [this](const http_request& q, const std::string& producer) {
        auto ids = q.query_values("ser_instance_id");
        auto names = q.query_values("ser_name");
        auto categories = q.query_values("ser_category_id");
        if (!ids.empty() + !names.empty() + !categories.empty() > 1)
            return http_response::problem(400, "query: only one of ser_instance_id, ser_name, ser_category_id may be given", q.path);
        auto in = [](const std::vector<std::string>& list, const std::string& v) {
            return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
        };
        json out = json::array();
        for (auto& s : services) {
            if (!producer.empty() && s.app_instance != producer) continue;
            std::string category = s.body.contains("serCategory") ? s.body["serCategory"].value("id", "") : "";
            if (in(ids, s.id) && in(names, s.body.value("serName", "")) && (categories.empty() || in(categories, category)))
                out.push_back(s.body);
        }
        return http_response::ok(std::move(out));
    };
    r.route("GET", mgmt + "/services", [this, list_services](const http_request& q) {
        std::lock_guard lock(m);
        return list_services(q, "");
    });
    r.route("GET", mgmt + "/services/{serviceId}", [this](const http_request& q) {
        std::lock_guard lock(m);
        for (auto& s : services)
            if (s.id == q.param("serviceId")) return http_response::ok(s.body);
        return http_response::problem(404, fmt::format("no service '{}'", q.param("serviceId")), q.path);
    });
    const std::string app_services = mgmt + "/applications/{appInstanceId}/services";
    r.route("GET", app_services, with_app([list_services](const http_request& q, app_instance_record& a) { return list_services(q, a.declared.id); }));
    r.route("POST", app_services, with_app([this, check_service](const http_request& q, app_instance_record& a) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = check_service(q, *doc)) return *bad;
        service_record s{new_id("svc"), a.declared.id, *doc};
        s.body["serInstanceId"] = s.id;
        services.push_back(s);
        return http_response::created(s.body, url_of(fmt::format("{}/{}", q.path, s.id)));
    }));
    auto find_service = [this](const http_request& q, const app_instance_record& a) {
        return std::find_if(services.begin(), services.end(),
                            [&](auto& s) { return s.app_instance == a.declared.id && s.id == q.param("serviceId"); });
    };
    r.route("GET", app_services + "/{serviceId}", with_app([this, find_service](const http_request& q, app_instance_record& a) {
        auto it = find_service(q, a);
        if (it == services.end()) return http_response::problem(404, fmt::format("app instance '{}' has no service '{}'", a.declared.id, q.param("serviceId")), q.path);
        return http_response::ok(it->body);
    }));
    r.route("PUT", app_services + "/{serviceId}", with_app([this, find_service, check_service](const http_request& q, app_instance_record& a) {
        auto it = find_service(q, a);
        if (it == services.end()) return http_response::problem(404, fmt::format("app instance '{}' has no service '{}'", a.declared.id, q.param("serviceId")), q.path);
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = check_service(q, *doc)) return *bad;
        if (auto id = doc->find("serInstanceId"); id != doc->end() && *id != it->id)
            return http_response::problem(400, fmt::format("ServiceInfo /serInstanceId: '{}' is not the path's '{}'", id->dump(), it->id), q.path);
        it->body = *doc;
        it->body["serInstanceId"] = it->id;
        return http_response::ok(it->body);
    }));
    r.route("DELETE", app_services + "/{serviceId}", with_app([this, find_service](const http_request& q, app_instance_record& a) {
        auto it = find_service(q, a);
        if (it == services.end()) return http_response::problem(404, fmt::format("app instance '{}' has no service '{}'", a.declared.id, q.param("serviceId")), q.path);
        services.erase(it);
        return http_response::no_content();
    }));
}

}  // namespace migrate::mec
