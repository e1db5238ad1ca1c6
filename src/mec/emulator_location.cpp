// The emulator's MEC013 Location API (v2): zone / access point / user queries, zonal traffic
// and user tracking subscriptions, zonalPresenceNotification on UE moves.
#include "emulator_impl.hpp"

namespace migrate::mec {

using detail::strip_acr;
using detail::timestamp_now;

namespace {

const char* connection_type(poa_type t) {
    switch (t) {
        case poa_type::cell_4g: return "Macro";
        case poa_type::cell_5g: return "Smallcell";
        case poa_type::wifi: return "Wifi";
    }
    return "Unknown";
}

json location_info(geo_point p) {
    return {{"latitude", json::array({p.latitude})}, {"longitude", json::array({p.longitude})}, {"shape", 2}};
}

}  // namespace

void emulator::impl::location_notify_locked(const tracker::change& c) {
    auto emit = [&](const location_subscription& s, const std::string& zone, const char* event) {
        if (!s.events.empty() && std::find(s.events.begin(), s.events.end(), event) == s.events.end()) return;
        json n{{"zoneId", zone},
               {"address", c.after.ue},
               {"userEventType", event},
               {"currentAccessPointId", c.after.access_point},
               {"timestamp", timestamp_now()}};
        if (!c.before.access_point.empty()) n["previousAccessPointId"] = c.before.access_point;
        if (!s.callback_data.empty()) n["callbackData"] = s.callback_data;
        n["link"] = json::array({{{"rel", s.kind == location_kind::zonal_traffic ? "ZonalTrafficSubscription" : "UserTrackingSubscription"},
                                  {"href", s.body.value("resourceURL", "")}}});
        post_locked(s.notify_url, json{{"zonalPresenceNotification", std::move(n)}});
    };
    bool zone_changed = c.before.zone != c.after.zone;
    bool ap_changed = c.before.access_point != c.after.access_point;
    for (auto& s : location_subs) {
        if (s.kind == location_kind::zonal_traffic) {
            if (zone_changed && c.after.zone == s.zone) emit(s, s.zone, "Entering");
            else if (zone_changed && c.before.zone == s.zone) emit(s, s.zone, "Leaving");
            else if (!zone_changed && ap_changed && c.after.zone == s.zone) emit(s, s.zone, "Transferring");
        } else if (s.address == c.after.ue) {
            if (zone_changed) {
                if (!c.before.zone.empty()) emit(s, c.before.zone, "Leaving");
                if (!c.after.zone.empty()) emit(s, c.after.zone, "Entering");
            } else if (ap_changed) {
                emit(s, c.after.zone, "Transferring");
            }
        }
    }
}

net::http_response emulator::impl::location_subscribe(const net::http_request& r, location_kind kind) {
    using net::http_response;
    const char* wrapper = kind == location_kind::zonal_traffic ? "zonalTrafficSubscription" : "userTrackingSubscription";
    const char* leaf = kind == location_kind::zonal_traffic ? "zonalTraffic" : "userTracking";
    auto doc = r.json_body();
    if (!doc) return http_response::problem(400, doc.error().message, r.path);
    auto it = doc->find(wrapper);
    if (it == doc->end() || !it->is_object())
        return http_response::problem(400, fmt::format("body: expected {{\"{}\": {{...}}}} (MEC013 v2)", wrapper), r.path);
    location_subscription s;
    s.kind = kind;
    s.body = *it;
    auto cb = s.body.find("callbackReference");
    if (cb == s.body.end() || !cb->is_object() || !cb->contains("notifyURL") || !(*cb)["notifyURL"].is_string())
        return http_response::problem(400, fmt::format("{}.callbackReference.notifyURL: missing or not a string", wrapper), r.path);
    s.notify_url = (*cb)["notifyURL"].get<std::string>();
    if (auto d = cb->find("callbackData"); d != cb->end() && d->is_string()) s.callback_data = d->get<std::string>();
    if (auto d = s.body.find("callbackData"); d != s.body.end() && d->is_string() && s.callback_data.empty()) s.callback_data = d->get<std::string>();
    if (auto e = s.body.find("userEventCriteria"); e != s.body.end()) {
        if (!e->is_array()) return http_response::problem(400, fmt::format("{}.userEventCriteria: expected a list", wrapper), r.path);
        for (auto& v : *e) {
            auto name = v.is_string() ? v.get<std::string>() : std::string{};
            if (name != "Entering" && name != "Leaving" && name != "Transferring")
                return http_response::problem(400, fmt::format("{}.userEventCriteria: '{}' is not Entering, Leaving or Transferring", wrapper, v.dump()), r.path);
            s.events.push_back(name);
        }
    }
    if (auto d = s.body.find("duration"); d != s.body.end()) {
        if (!d->is_number_unsigned() && !(d->is_number_integer() && d->get<std::int64_t>() >= 0))
            return http_response::problem(400, fmt::format("{}.duration: expected seconds (an integer >= 0)", wrapper), r.path);
        // 0 means "the service's default": here, no expiry.
        if (auto secs = d->get<std::int64_t>(); secs > 0) s.expires = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
    }
    std::lock_guard lock(m);
    if (kind == location_kind::zonal_traffic) {
        auto z = s.body.find("zoneId");
        if (z == s.body.end() || !z->is_string()) return http_response::problem(400, fmt::format("{}.zoneId: missing or not a string", wrapper), r.path);
        s.zone = z->get<std::string>();
        if (!model.find_zone(s.zone)) return http_response::problem(400, fmt::format("{}.zoneId: no zone '{}'", wrapper, s.zone), r.path);
    } else {
        auto a = s.body.find("address");
        if (a == s.body.end() || !a->is_string()) return http_response::problem(400, fmt::format("{}.address: missing or not a string", wrapper), r.path);
        s.address = strip_acr(a->get<std::string>());
        if (!model.find_ue(s.address)) return http_response::problem(400, fmt::format("{}.address: no UE '{}'", wrapper, s.address), r.path);
    }
    s.id = new_id("sub");
    auto location = url_of(fmt::format("{}/subscriptions/{}/{}", location_root(), leaf, s.id));
    s.body["resourceURL"] = location;
    json answer{{wrapper, s.body}};
    location_subs.push_back(std::move(s));
    return http_response::created(std::move(answer), location);
}

void emulator::impl::add_location_routes(net::http_router& r) {
    using net::http_request;
    using net::http_response;
    const std::string b = location_root();
    const std::string root = b;
    auto user_info = [this, root](const ue_state& st) -> json {
        // UserInfo.address is a URI (MEC013: format uri): the UE's address as an acr: URI.
        return {{"address", "acr:" + st.ue},
                {"accessPointId", st.access_point},
                {"zoneId", st.zone},
                {"resourceURL", url_of(fmt::format("{}/queries/users?address={}", root, st.ue))},
                {"timestamp", timestamp_now()},
                {"locationInfo", location_info(st.position)}};
    };
    auto users_on = [this](const std::string& zone, const std::string& ap) {
        std::size_t n = 0;
        for (auto& st : track.states())
            if ((zone.empty() || st.zone == zone) && (ap.empty() || st.access_point == ap)) ++n;
        return n;
    };
    auto zone_info = [this, root, users_on](const zone& z) -> json {
        return {{"zoneId", z.name},
                {"numberOfAccessPoints", z.access_points.size()},
                {"numberOfUnserviceableAccessPoints", 0},
                {"numberOfUsers", users_on(z.name, "")},
                {"resourceURL", url_of(fmt::format("{}/queries/zones/{}", root, z.name))}};
    };
    auto access_point_info = [this, root, users_on](const access_point& a) -> json {
        return {{"accessPointId", a.name},
                {"connectionType", connection_type(a.type)},
                {"operationStatus", "Serviceable"},
                {"numberOfUsers", users_on("", a.name)},
                {"locationInfo", location_info(a.position)},
                {"resourceURL", url_of(fmt::format("{}/queries/zones/{}/accessPoints/{}", root, a.zone, a.name))}};
    };
    r.route("GET", b + "/queries/users", [this, user_info](const http_request& q) {
        auto addresses = q.query_values("address");
        for (auto& a : addresses) a = strip_acr(a);
        auto zones = q.query_values("zoneId");
        auto aps = q.query_values("accessPointId");
        auto has = [](const std::vector<std::string>& list, const std::string& v) {
            return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
        };
        std::lock_guard lock(m);
        catch_up_locked();
        json users = json::array();
        for (auto& st : track.states())
            if (has(addresses, st.ue) && has(zones, st.zone) && has(aps, st.access_point)) users.push_back(user_info(st));
        if (!addresses.empty() && users.empty())
            return http_response::problem(404, fmt::format("no UE with address {}", fmt::join(addresses, ",")), q.path);
        return http_response::ok({{"userList", {{"user", std::move(users)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones", [this, zone_info](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        json zones = json::array();
        for (auto& z : model.zones()) zones.push_back(zone_info(z));
        return http_response::ok({{"zoneList", {{"zone", std::move(zones)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}", [this, zone_info](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* z = model.find_zone(q.param("zoneId"));
        if (!z) return http_response::problem(404, fmt::format("no zone '{}'", q.param("zoneId")), q.path);
        return http_response::ok({{"zoneInfo", zone_info(*z)}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}/accessPoints", [this, access_point_info](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* z = model.find_zone(q.param("zoneId"));
        if (!z) return http_response::problem(404, fmt::format("no zone '{}'", q.param("zoneId")), q.path);
        json aps = json::array();
        for (auto& name : z->access_points) aps.push_back(access_point_info(*model.find_access_point(name)));
        return http_response::ok({{"accessPointList", {{"zoneId", z->name}, {"accessPoint", std::move(aps)}, {"resourceURL", url_of(q.target)}}}});
    });
    r.route("GET", b + "/queries/zones/{zoneId}/accessPoints/{accessPointId}", [this, access_point_info](const http_request& q) {
        std::lock_guard lock(m);
        catch_up_locked();
        auto* a = model.find_access_point(q.param("accessPointId"));
        if (!a || a->zone != q.param("zoneId"))
            return http_response::problem(404, fmt::format("no access point '{}' in zone '{}'", q.param("accessPointId"), q.param("zoneId")), q.path);
        return http_response::ok({{"accessPointInfo", access_point_info(*a)}});
    });
    for (auto kind : {location_kind::zonal_traffic, location_kind::user_tracking}) {
        std::string leaf = kind == location_kind::zonal_traffic ? "zonalTraffic" : "userTracking";
        std::string wrapper = kind == location_kind::zonal_traffic ? "zonalTrafficSubscription" : "userTrackingSubscription";
        r.route("POST", b + "/subscriptions/" + leaf, [this, kind](const http_request& q) { return location_subscribe(q, kind); });
        r.route("GET", b + "/subscriptions/" + leaf, [this, kind, wrapper](const http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            json list = json::array();
            for (auto& s : location_subs)
                if (s.kind == kind) list.push_back(s.body);
            return http_response::ok({{"notificationSubscriptionList", {{wrapper, std::move(list)}, {"resourceURL", url_of(q.target)}}}});
        });
        r.route("GET", b + "/subscriptions/" + leaf + "/{subscriptionId}", [this, kind, wrapper](const http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            for (auto& s : location_subs)
                if (s.kind == kind && s.id == q.param("subscriptionId")) return http_response::ok({{wrapper, s.body}});
            return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
        });
        r.route("DELETE", b + "/subscriptions/" + leaf + "/{subscriptionId}", [this, kind](const http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            auto it = std::find_if(location_subs.begin(), location_subs.end(),
                                   [&](auto& s) { return s.kind == kind && s.id == q.param("subscriptionId"); });
            if (it == location_subs.end()) return http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
            location_subs.erase(it);
            return http_response::no_content();
        });
    }
}

}  // namespace migrate::mec
