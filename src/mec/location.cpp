#include <migrate/mec/location.hpp>

#include "json_reader.hpp"

#include <fmt/format.h>

namespace migrate::mec {

using detail::bad_field;
using detail::parse_guarded;
using detail::reader;
using detail::read_time;
using detail::reply_as;
using detail::subscription_id;

std::string_view to_string(location_flavour f) { return f == location_flavour::v2 ? "v2" : "v3"; }

std::string_view to_string(user_event_type e) {
    switch (e) {
        case user_event_type::entering: return "Entering";
        case user_event_type::leaving: return "Leaving";
        case user_event_type::transferring: return "Transferring";
    }
    return "?";
}

namespace {

/// v2 wraps a document in a member named after its type; v3 does not.
reader unwrap(const json& body, const char* wrapper) {
    if (body.is_object()) {
        if (auto it = body.find(wrapper); it != body.end() && !it->is_null()) return reader(*it, std::string("/") + wrapper);
    }
    return reader(body, "");
}

json wrap(json inner, const char* wrapper, location_flavour f) {
    if (f == location_flavour::v3) return inner;
    return json{{wrapper, std::move(inner)}};
}

user_event_type read_event(const reader& r, const char* key) {
    auto s = r.str(key);
    for (auto e : {user_event_type::entering, user_event_type::leaving, user_event_type::transferring})
        if (s == to_string(e)) return e;
    bad_field(r.at_ptr(key), fmt::format("'{}' is not Entering, Leaving or Transferring", s));
}

std::vector<user_event_type> read_events(const reader& r, const char* key) {
    std::vector<user_event_type> out;
    auto names = r.strings(key);
    for (std::size_t i = 0; i < names.size(); ++i) {
        bool ok = false;
        for (auto e : {user_event_type::entering, user_event_type::leaving, user_event_type::transferring})
            if (names[i] == to_string(e)) { out.push_back(e); ok = true; }
        if (!ok) bad_field(r.at_ptr(key) + "/" + std::to_string(i), fmt::format("'{}' is not a UserEventType", names[i]));
    }
    return out;
}

void read_location(const reader& r, std::optional<double>& lat, std::optional<double>& lon) {
    auto li = r.opt_object("locationInfo");
    if (!li) return;
    // LocationInfo.latitude/longitude are arrays of float (one point, or a polygon).
    auto first = [&](const char* k) -> std::optional<double> {
        if (!li->has(k)) return std::nullopt;
        const json& v = li->raw().at(k);
        if (v.is_number()) return v.get<double>();
        if (v.is_array() && !v.empty() && v[0].is_number()) return v[0].get<double>();
        bad_field(li->at_ptr(k), std::string("expected array of numbers, got ") + v.type_name());
    };
    lat = first("latitude");
    lon = first("longitude");
}

user_info read_user(const reader& r) {
    user_info u;
    u.address = r.str("address");
    u.access_point_id = r.str("accessPointId");
    u.zone_id = r.str("zoneId");
    u.resource_url = r.opt_str("resourceURL").value_or("");
    if (auto t = r.opt_object("timestamp")) u.timestamp = read_time(*t);
    read_location(r, u.latitude, u.longitude);
    return u;
}

zone_info read_zone(const reader& r) {
    zone_info z;
    z.zone_id = r.str("zoneId");
    z.number_of_access_points = r.opt_integer("numberOfAccessPoints").value_or(0);
    z.number_of_unserviceable_access_points = r.opt_integer("numberOfUnserviceableAccessPoints").value_or(0);
    z.number_of_users = r.opt_integer("numberOfUsers").value_or(0);
    z.resource_url = r.opt_str("resourceURL").value_or("");
    return z;
}

access_point_info read_access_point(const reader& r) {
    access_point_info a;
    a.access_point_id = r.str("accessPointId");
    a.connection_type = r.opt_str("connectionType").value_or("");
    a.operation_status = r.opt_str("operationStatus").value_or("");
    a.number_of_users = r.opt_integer("numberOfUsers").value_or(0);
    a.resource_url = r.opt_str("resourceURL").value_or("");
    a.interest_realm = r.opt_str("interestRealm").value_or("");
    read_location(r, a.latitude, a.longitude);
    return a;
}

void read_callback(const reader& r, std::string& url, std::string& data) {
    auto cb = r.object("callbackReference");
    url = cb.str("notifyURL");
    data = cb.opt_str("callbackData").value_or("");
}

zonal_traffic_subscription read_zonal_sub(const reader& r) {
    zonal_traffic_subscription s;
    read_callback(r, s.callback_url, s.callback_data);
    s.zone_id = r.str("zoneId");
    s.user_event_criteria = read_events(r, "userEventCriteria");
    s.interest_realm = r.strings("interestRealm");
    s.duration_s = r.opt_integer("duration");
    s.client_correlator = r.opt_str("clientCorrelator").value_or("");
    s.resource_url = r.opt_str("resourceURL").value_or("");
    return s;
}

user_tracking_subscription read_tracking_sub(const reader& r) {
    user_tracking_subscription s;
    read_callback(r, s.callback_url, s.callback_data);
    s.address = r.str("address");
    s.user_event_criteria = read_events(r, "userEventCriteria");
    s.client_correlator = r.opt_str("clientCorrelator").value_or("");
    s.resource_url = r.opt_str("resourceURL").value_or("");
    return s;
}

json callback_json(const std::string& url, const std::string& data) {
    json cb{{"notifyURL", url}};
    if (!data.empty()) cb["callbackData"] = data;
    return cb;
}

json events_json(const std::vector<user_event_type>& es) {
    json a = json::array();
    for (auto e : es) a.push_back(std::string(to_string(e)));
    return a;
}

}  // namespace

result<zonal_presence_notification> parse_zonal_presence_notification(const json& body) {
    return parse_guarded([&] {
        reader r = unwrap(body, "zonalPresenceNotification");
        zonal_presence_notification n;
        n.zone_id = r.str("zoneId");
        n.address = r.str("address");
        n.event = read_event(r, "userEventType");
        n.current_access_point_id = r.str("currentAccessPointId");
        n.previous_access_point_id = r.opt_str("previousAccessPointId").value_or("");
        n.timestamp = read_time(r.object("timestamp"));
        n.client_correlator = r.opt_str("clientCorrelator").value_or("");
        n.callback_data = r.opt_str("callbackData").value_or("");
        n.interest_realm = r.opt_str("interestRealm").value_or("");
        n.links = r.objects("link", [](const reader& l) { return l.str("href"); });
        return n;
    });
}

result<zonal_traffic_subscription> parse_zonal_traffic_subscription(const json& body) {
    return parse_guarded([&] { return read_zonal_sub(unwrap(body, "zonalTrafficSubscription")); });
}

result<user_tracking_subscription> parse_user_tracking_subscription(const json& body) {
    return parse_guarded([&] { return read_tracking_sub(unwrap(body, "userTrackingSubscription")); });
}

result<std::vector<user_info>> parse_user_list(const json& body) {
    return parse_guarded([&] { return unwrap(body, "userList").objects("user", read_user); });
}

result<std::vector<zone_info>> parse_zone_list(const json& body) {
    return parse_guarded([&] { return unwrap(body, "zoneList").objects("zone", read_zone); });
}

result<std::vector<access_point_info>> parse_access_point_list(const json& body) {
    return parse_guarded([&] { return unwrap(body, "accessPointList").objects("accessPoint", read_access_point); });
}

json to_json(const zonal_traffic_subscription& s, location_flavour flavour) {
    json j{{"callbackReference", callback_json(s.callback_url, s.callback_data)}, {"zoneId", s.zone_id}};
    if (!s.user_event_criteria.empty()) j["userEventCriteria"] = events_json(s.user_event_criteria);
    if (!s.interest_realm.empty()) j["interestRealm"] = s.interest_realm;
    if (s.duration_s) j["duration"] = *s.duration_s;
    if (!s.client_correlator.empty()) j["clientCorrelator"] = s.client_correlator;
    return wrap(std::move(j), "zonalTrafficSubscription", flavour);
}

json to_json(const user_tracking_subscription& s, location_flavour flavour) {
    json j{{"callbackReference", callback_json(s.callback_url, s.callback_data)}, {"address", s.address}};
    if (!s.user_event_criteria.empty()) j["userEventCriteria"] = events_json(s.user_event_criteria);
    if (!s.client_correlator.empty()) j["clientCorrelator"] = s.client_correlator;
    return wrap(std::move(j), "userTrackingSubscription", flavour);
}

location_client::location_client(client_options opts, location_flavour flavour)
    : flavour_(flavour), api_(std::move(opts), flavour == location_flavour::v2 ? "location/v2" : "location/v3") {}

result<std::vector<user_info>> location_client::users(const user_query& q) {
    std::string query;
    auto add = [&](const char* name, const std::vector<std::string>& vs) {
        for (auto& v : vs) query += (query.empty() ? "?" : "&") + std::string(name) + "=" + path_segment(v);
    };
    add("zoneId", q.zone_ids);
    add("accessPointId", q.access_point_ids);
    add("address", q.addresses);
    const std::string p = "/queries/users" + query;
    return reply_as<std::vector<user_info>>(api_, "GET", p, api_.call("GET", p), parse_user_list);
}

result<user_info> location_client::user(const std::string& address) {
    auto us = users(user_query{{}, {}, {address}});
    if (!us) return us.error();
    // "10.1.0.4" and "acr:10.1.0.4" name the same user: platforms answer either way (the spec
    // types UserInfo.address as a URI; AdvantEDGE answers the bare address).
    auto bare = [](std::string_view a) { return a.starts_with("acr:") ? a.substr(4) : a; };
    for (auto& u : *us)
        if (bare(u.address) == bare(address)) return u;
    return make_failure(error::not_found, fmt::format("user '{}': the location service at {} lists no such user", address, api_.url("")));
}

namespace {
template <class T>
result<T> single(const json& body, const char* wrapper, T (*read)(const reader&)) {
    return parse_guarded([&] { return read(unwrap(body, wrapper)); });
}
}  // namespace

result<std::vector<zone_info>> location_client::zones() {
    return reply_as<std::vector<zone_info>>(api_, "GET", "/queries/zones", api_.call("GET", "/queries/zones"), parse_zone_list);
}

result<zone_info> location_client::zone(const std::string& zone_id) {
    std::string p = "/queries/zones/" + path_segment(zone_id);
    return reply_as<zone_info>(api_, "GET", p, api_.call("GET", p),
                               [](const json& b) { return single<zone_info>(b, "zoneInfo", read_zone); });
}

result<std::vector<access_point_info>> location_client::access_points(const std::string& zone_id) {
    std::string p = "/queries/zones/" + path_segment(zone_id) + "/accessPoints";
    return reply_as<std::vector<access_point_info>>(api_, "GET", p, api_.call("GET", p), parse_access_point_list);
}

result<access_point_info> location_client::access_point(const std::string& zone_id, const std::string& access_point_id) {
    std::string p = "/queries/zones/" + path_segment(zone_id) + "/accessPoints/" + path_segment(access_point_id);
    return reply_as<access_point_info>(api_, "GET", p, api_.call("GET", p),
                                       [](const json& b) { return single<access_point_info>(b, "accessPointInfo", read_access_point); });
}

result<zonal_traffic_subscription> location_client::subscribe_zonal_traffic(const zonal_traffic_subscription& s) {
    const std::string p = "/subscriptions/zonalTraffic";
    return reply_as<zonal_traffic_subscription>(api_, "POST", p, api_.call("POST", p, to_json(s, flavour_)),
                                                parse_zonal_traffic_subscription);
}

result<user_tracking_subscription> location_client::subscribe_user_tracking(const user_tracking_subscription& s) {
    const std::string p = "/subscriptions/userTracking";
    return reply_as<user_tracking_subscription>(api_, "POST", p, api_.call("POST", p, to_json(s, flavour_)),
                                                parse_user_tracking_subscription);
}

result<void> location_client::unsubscribe_zonal_traffic(const std::string& resource_url_or_id) {
    auto r = api_.call("DELETE", "/subscriptions/zonalTraffic/" + path_segment(subscription_id(resource_url_or_id)));
    if (!r) return r.error();
    return {};
}

result<void> location_client::unsubscribe_user_tracking(const std::string& resource_url_or_id) {
    auto r = api_.call("DELETE", "/subscriptions/userTracking/" + path_segment(subscription_id(resource_url_or_id)));
    if (!r) return r.error();
    return {};
}

}  // namespace migrate::mec
