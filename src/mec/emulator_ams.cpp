// The emulator's MEC021 Application Mobility Service: registrations (RegistrationInfo),
// MobilityProcedure / AdjacentAppInfo subscriptions, and INTERHOST_MOVEOUT_TRIGGERED when a
// registered UE enters a zone served by another edge host where the same application runs.
#include "emulator_impl.hpp"

namespace migrate::mec {

using detail::bad_field;
using detail::expect_one_of;
using detail::reader;
using detail::reject_body;
using net::http_request;
using net::http_response;

namespace {

const std::vector<std::string_view> associate_types{"UE_IPv4_ADDRESS", "UE_IPV6_ADDRESS", "NATED_IP_ADDRESS", "GTP_TEID"};
const std::vector<std::string_view> mobility_statuses{"INTERHOST_MOVEOUT_TRIGGERED", "INTERHOST_MOVEOUT_COMPLETED",
                                                                    "INTERHOST_MOVEOUT_FAILED"};

void check_associate(const reader& a) {
    expect_one_of(a, "type", associate_types);
    a.str("value");
}

void check_time_stamp(const reader& t) {
    if (t.integer("seconds") < 0) bad_field(t.at_ptr("seconds"), "must be >= 0");
    if (auto n = t.opt_integer("nanoSeconds"); n && (*n < 0 || *n > 999'999'999)) bad_field(t.at_ptr("nanoSeconds"), "must be 0..999999999");
}

/// RegistrationInfo per MEC021 v2.1.1.
void check_registration(const reader& r) {
    auto consumer = r.object("serviceConsumerId");
    if (!consumer.opt_str("appInstanceId") && !consumer.opt_str("mepId"))
        bad_field(consumer.pointer(), "expected appInstanceId or mepId");
    r.objects("deviceInformation", [](const reader& d) {
        if (!d.has("associateId")) bad_field(d.at_ptr("associateId"), "missing");
        d.objects("associateId", [](const reader& a) { check_associate(a); return 0; });
        expect_one_of(d, "appMobilityServiceLevel",
                      {"APP_MOBILITY_NOT_ALLOWED", "APP_MOBILITY_WITH_CONFIRMATION", "APP_MOBILITY_WITHOUT_CONFIRMATION"}, false);
        expect_one_of(d, "contextTransferState", {"NOT_TRANSFERRED", "USER_CONTEXT_TRANSFER_COMPLETED"}, false);
        return 0;
    });
    if (auto e = r.opt_integer("expiryTime"); e && *e < 0) bad_field(r.at_ptr("expiryTime"), "must be >= 0");
}

/// MobilityProcedureSubscription / AdjacentAppInfoSubscription per MEC021 v2.1.1.
void check_subscription(const reader& r) {
    expect_one_of(r, "subscriptionType", {"MobilityProcedureSubscription", "AdjacentAppInfoSubscription"});
    r.str("callbackReference");
    bool mobility = r.str("subscriptionType") == "MobilityProcedureSubscription";
    if (auto f = r.opt_object("filterCriteria")) {
        f->opt_str("appInstanceId");
        if (mobility) {
            f->objects("associateId", [](const reader& a) { check_associate(a); return 0; });
            auto statuses = f->strings("mobilityStatus");
            for (std::size_t i = 0; i < statuses.size(); ++i)
                if (std::find(mobility_statuses.begin(), mobility_statuses.end(), statuses[i]) == mobility_statuses.end())
                    bad_field(fmt::format("{}/{}", f->at_ptr("mobilityStatus"), i), fmt::format("'{}' is not a MobilityStatus", statuses[i]));
        }
    } else if (mobility) {
        bad_field(r.at_ptr("filterCriteria"), "missing");
    }
    if (auto t = r.opt_object("expiryDeadline")) check_time_stamp(*t);
}

/// Values of the AssociateIds of `doc[key]` (one object or an array).
std::vector<std::string> associate_values(const json& doc, const char* key) {
    std::vector<std::string> out;
    auto it = doc.find(key);
    if (it == doc.end()) return out;
    if (it->is_object()) out.push_back(it->value("value", ""));
    else if (it->is_array())
        for (auto& a : *it) out.push_back(a.value("value", ""));
    return out;
}

}  // namespace

void emulator::impl::ams_notify_locked(const tracker::change& c) {
    if (c.before.zone == c.after.zone || c.after.zone.empty()) return;
    auto* z = model.find_zone(c.after.zone);
    if (!z || z->edge_hosts.empty()) return;
    auto serves_zone = [&](const std::string& host) { return std::find(z->edge_hosts.begin(), z->edge_hosts.end(), host) != z->edge_hosts.end(); };
    for (auto& reg : ams_regs) {
        const std::string source = reg.body["serviceConsumerId"].value("appInstanceId", "");
        auto* src = find_app_locked(source);
        if (!src || serves_zone(src->declared.edge_host)) continue;
        const json* device = nullptr;
        static const json none = json::array();
        const json& devices = reg.body.contains("deviceInformation") ? reg.body["deviceInformation"] : none;
        for (auto& d : devices) {
            auto values = associate_values(d, "associateId");
            if (std::find(values.begin(), values.end(), c.after.ue) != values.end()) device = &d;
        }
        // A device whose context has been moved, or whose app may not move, is not announced.
        if (!device || device->value("contextTransferState", "") == "USER_CONTEXT_TRANSFER_COMPLETED" ||
            device->value("appMobilityServiceLevel", "") == "APP_MOBILITY_NOT_ALLOWED")
            continue;
        const app_instance_record* target = nullptr;
        for (auto& a : apps)
            if (&a != src && a.declared.app_name == src->declared.app_name && serves_zone(a.declared.edge_host) && !target) target = &a;
        if (!target) continue;
        json target_info{{"appInstanceId", target->declared.id}};
        if (!target->declared.endpoints.empty()) {
            json ips = json::array();
            for (auto& e : target->declared.endpoints) ips.push_back({{"host", e.host}, {"port", e.port}});
            target_info["commInterface"] = {{"ipAddresses", std::move(ips)}};
        }
        json id = device->at("associateId").is_array() ? device->at("associateId") : json::array({device->at("associateId")});
        for (auto& s : ams_subs) {
            if (s.type != "MobilityProcedureSubscription") continue;
            const json filter = s.body.value("filterCriteria", json::object());
            if (!filter.value("appInstanceId", std::string{}).empty() && filter["appInstanceId"] != source) continue;
            auto devices = associate_values(filter, "associateId");
            if (!devices.empty() && std::find(devices.begin(), devices.end(), c.after.ue) == devices.end()) continue;
            auto statuses = filter.value("mobilityStatus", json::array());
            if (std::find(statuses.begin(), statuses.end(), "INTERHOST_MOVEOUT_TRIGGERED") == statuses.end()) continue;
            post_locked(s.body["callbackReference"].get<std::string>(),
                        {{"notificationType", "MobilityProcedureNotification"},
                         {"timeStamp", detail::timestamp_now()},
                         {"associateId", id},
                         {"mobilityStatus", "INTERHOST_MOVEOUT_TRIGGERED"},
                         {"targetAppInfo", target_info},
                         {"_links", {{"subscription", {{"href", s.body["_links"]["self"]["href"]}}}}}});
        }
    }
}

void emulator::impl::app_added_locked(app_instance_record rec) {
    apps.push_back(std::move(rec));
    const auto& added = apps.back().declared;
    auto comm = [](const app_instance& a) {
        json ips = json::array();
        for (auto& e : a.endpoints) ips.push_back({{"host", e.host}, {"port", e.port}});
        return json::array({{{"ipAddresses", std::move(ips)}}});
    };
    for (auto& s : ams_subs) {
        if (s.type != "AdjacentAppInfoSubscription") continue;
        // The subscriber's instance must be another instance of the added one's app.
        auto filter = s.body.value("filterCriteria", json::object());
        auto* own = find_app_locked(filter.value("appInstanceId", ""));
        if (!own || own->declared.id == added.id || own->declared.app_name != added.app_name) continue;
        json adjacent = json::array();
        for (auto& a : apps)
            if (a.declared.app_name == added.app_name && a.declared.id != own->declared.id)
                adjacent.push_back({{"appInstanceId", a.declared.id}, {"commInterface", comm(a.declared)}});
        post_locked(s.body["callbackReference"].get<std::string>(),
                    {{"notificationType", "AdjacentAppInfoNotification"},
                     {"timeStamp", detail::timestamp_now()},
                     {"adjacentAppInfo", std::move(adjacent)},
                     {"_links", {{"subscription", {{"href", s.body["_links"]["self"]["href"]}}}}}});
    }
    wake_notifier.notify_one();
}

void emulator::impl::add_ams_routes(net::http_router& r) {
    const std::string b = api_root("amsi/v1");

    // A registration's consumer must be an app instance the platform runs (or a MEP).
    auto check_consumer = [this](const json& doc, const std::string& instance) {
        return reject_body([&] {
            reader rd(doc, "");
            check_registration(rd);
            auto consumer = rd.object("serviceConsumerId");
            if (auto id = consumer.opt_str("appInstanceId"); id && !find_app_locked(*id))
                bad_field(consumer.at_ptr("appInstanceId"), fmt::format("'{}' is not an app instance of this platform", *id));
        }, "RegistrationInfo", instance);
    };
    auto expiry_of = [](const json& doc) -> std::optional<std::int64_t> {
        auto e = doc.value("expiryTime", std::int64_t{0});
        return e > 0 ? std::optional(detail::unix_now() + e) : std::nullopt;
    };
    r.route("POST", b + "/app_mobility_services", [this, b, check_consumer, expiry_of](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        std::lock_guard lock(m);
        if (auto bad = check_consumer(*doc, q.path)) return *bad;
        ams_registration reg{new_id("ams"), *doc, expiry_of(*doc)};
        reg.body["appMobilityServiceId"] = reg.id;
        ams_regs.push_back(reg);
        return http_response::created(reg.body, url_of(fmt::format("{}/app_mobility_services/{}", b, reg.id)));
    });
    r.route("GET", b + "/app_mobility_services", [this](const http_request&) {
        std::lock_guard lock(m);
        expire_locked();
        json out = json::array();
        for (auto& reg : ams_regs) out.push_back(reg.body);
        return http_response::ok(std::move(out));
    });
    auto with_registration = [this](auto f) {
        return [this, f](const http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            auto it = std::find_if(ams_regs.begin(), ams_regs.end(), [&](auto& reg) { return reg.id == q.param("appMobilityServiceId"); });
            if (it == ams_regs.end()) return http_response::problem(404, fmt::format("no app mobility service '{}'", q.param("appMobilityServiceId")), q.path);
            return f(q, it);
        };
    };
    const std::string one = b + "/app_mobility_services/{appMobilityServiceId}";
    r.route("GET", one, with_registration([](const http_request&, auto it) { return http_response::ok(it->body); }));
    r.route("PUT", one, with_registration([check_consumer, expiry_of](const http_request& q, auto it) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = check_consumer(*doc, q.path)) return *bad;
        if (auto id = doc->find("appMobilityServiceId"); id != doc->end() && *id != it->id)
            return http_response::problem(400, fmt::format("RegistrationInfo /appMobilityServiceId: {} is not the path's '{}'", id->dump(), it->id), q.path);
        it->body = *doc;
        it->body["appMobilityServiceId"] = it->id;
        it->expiry_s = expiry_of(*doc);
        return http_response::ok(it->body);
    }));
    auto deregister = with_registration([this](const http_request&, auto it) {
        ams_regs.erase(it);
        return http_response::no_content();
    });
    r.route("DELETE", one, deregister);
    r.route("POST", one + "/deregister_task", deregister);

    r.route("POST", b + "/subscriptions", [this, b](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] { check_subscription(reader(*doc, "")); }, "subscription", q.path)) return *bad;
        std::lock_guard lock(m);
        ams_subscription s{new_id("sub"), (*doc)["subscriptionType"].get<std::string>(), *doc, std::nullopt};
        if (s.type == "MobilityProcedureSubscription") {
            // "In case mobilityStatus is not included in the subscription request, the default
            // value INTERHOST_MOVEOUT_TRIGGERED shall be used and included in the response."
            auto& filter = s.body["filterCriteria"];
            if (!filter.contains("mobilityStatus")) filter["mobilityStatus"] = json::array({"INTERHOST_MOVEOUT_TRIGGERED"});
        }
        if (auto t = doc->find("expiryDeadline"); t != doc->end()) s.expiry_s = t->at("seconds").get<std::int64_t>();
        auto self = url_of(fmt::format("{}/subscriptions/{}", b, s.id));
        s.body["_links"] = {{"self", {{"href", self}}}};
        ams_subs.push_back(s);
        return http_response::created(s.body, self);
    });
    r.route("GET", b + "/subscriptions", [this](const http_request& q) {
        auto type = q.query_value("subscriptionType");
        if (type && *type != "mobility_proc" && *type != "adj_app_info")
            return http_response::problem(400, fmt::format("subscriptionType: '{}' is not mobility_proc or adj_app_info", *type), q.path);
        std::lock_guard lock(m);
        expire_locked();
        json links = json::array();
        for (auto& s : ams_subs) {
            bool mobility = s.type == "MobilityProcedureSubscription";
            if (type && (*type == "mobility_proc") != mobility) continue;
            // MEC021 v2.1.1 SubscriptionLinkList: subscriptionType 1 = MOBILITY_PROCEDURE, 2 = ADJACENT_APPINFO.
            links.push_back({{"href", s.body["_links"]["self"]["href"]}, {"subscriptionType", mobility ? 1 : 2}});
        }
        return http_response::ok({{"_links", {{"self", {{"href", url_of(q.target)}}}}}, {"subscription", std::move(links)}});
    });
    add_subscription_item_routes(r, b + "/subscriptions", ams_subs);
}

}  // namespace migrate::mec
