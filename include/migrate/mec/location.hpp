// migrate/mec/location.hpp — ETSI GS MEC 013 Location API client: where users are (zone,
// access point), the zones and access points, and the two subscriptions a migration
// trigger needs (zonal traffic: users entering/leaving/transferring in a zone; user
// tracking: one user's moves), with their notification bodies.
//
// Flavours: v2 (MEC013 v2.2.1, the ETSI MEC Sandbox / AdvantEDGE) wraps every body in a
// member named after its type (`{"zonalTrafficSubscription": {...}}`,
// `{"userList": {...}}`); v3 sends the object itself. The parsers accept both, whatever the
// client's flavour, so a receiver can take notifications from either platform.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/time_stamp.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace migrate::mec {

enum class location_flavour { v2, v3 };
std::string_view to_string(location_flavour f);
inline std::string_view format_as(location_flavour f) { return to_string(f); }

enum class user_event_type { entering, leaving, transferring };
std::string_view to_string(user_event_type e);   ///< "Entering", "Leaving", "Transferring"
inline std::string_view format_as(user_event_type e) { return to_string(e); }

struct user_info {
    std::string address;            ///< "acr:10.0.0.1"
    std::string access_point_id;
    std::string zone_id;
    std::string resource_url;
    std::optional<time_stamp> timestamp;  ///< required by the spec; AdvantEDGE may leave it out
    std::optional<double> latitude, longitude;   ///< locationInfo, when given
};

struct zone_info {
    std::string zone_id;
    std::int64_t number_of_access_points = 0;
    std::int64_t number_of_unserviceable_access_points = 0;
    std::int64_t number_of_users = 0;
    std::string resource_url;
};

struct access_point_info {
    std::string access_point_id;
    std::string connection_type;    ///< "Macro", "Wifi", "5G", ... (kept as text: platforms add values)
    std::string operation_status;   ///< "Serviceable", "Unserviceable", "Unknown"
    std::int64_t number_of_users = 0;
    std::string resource_url;
    std::string interest_realm;
    std::optional<double> latitude, longitude;
};

struct zonal_traffic_subscription {
    std::string callback_url;       ///< callbackReference.notifyURL
    std::string zone_id;
    std::vector<user_event_type> user_event_criteria;   ///< empty: all events
    std::vector<std::string> interest_realm;
    std::optional<std::int64_t> duration_s;
    std::string client_correlator;
    std::string callback_data;
    std::string resource_url;       ///< set by the platform on create
};

struct user_tracking_subscription {
    std::string callback_url;
    std::string address;            ///< the user, "acr:10.0.0.1"
    std::vector<user_event_type> user_event_criteria;
    std::string client_correlator;
    std::string callback_data;
    std::string resource_url;
};

/// The body of both subscriptions' notifications (ZonalPresenceNotification).
struct zonal_presence_notification {
    std::string zone_id;
    std::string address;
    user_event_type event = user_event_type::transferring;
    std::string current_access_point_id;
    std::string previous_access_point_id;   ///< empty when absent (Entering)
    time_stamp timestamp;
    std::string client_correlator;
    std::string callback_data;
    std::string interest_realm;
    std::vector<std::string> links;          ///< link[].href (the subscription)
};

// The parsers take a whole document, wrapped (v2) or not (v3); errors name the field as a
// JSON pointer into that document.
result<zonal_presence_notification> parse_zonal_presence_notification(const json& body);
result<zonal_traffic_subscription> parse_zonal_traffic_subscription(const json& body);
result<user_tracking_subscription> parse_user_tracking_subscription(const json& body);
result<std::vector<user_info>> parse_user_list(const json& body);
result<std::vector<zone_info>> parse_zone_list(const json& body);
result<std::vector<access_point_info>> parse_access_point_list(const json& body);

/// The request body of a create, in `flavour`'s shape.
json to_json(const zonal_traffic_subscription& s, location_flavour flavour);
json to_json(const user_tracking_subscription& s, location_flavour flavour);

struct user_query {
    std::vector<std::string> zone_ids;
    std::vector<std::string> access_point_ids;
    std::vector<std::string> addresses;
};

class location_client {
public:
    location_client(client_options opts, location_flavour flavour = location_flavour::v2);

    /// GET /queries/users [?zoneId=..&accessPointId=..&address=..]
    result<std::vector<user_info>> users(const user_query& q = {});
    /// The one user at `address`; `not_found` naming it when the platform lists none.
    result<user_info> user(const std::string& address);
    /// GET /queries/zones
    result<std::vector<zone_info>> zones();
    /// GET /queries/zones/{zoneId}
    result<zone_info> zone(const std::string& zone_id);
    /// GET /queries/zones/{zoneId}/accessPoints
    result<std::vector<access_point_info>> access_points(const std::string& zone_id);
    /// GET /queries/zones/{zoneId}/accessPoints/{accessPointId}
    result<access_point_info> access_point(const std::string& zone_id, const std::string& access_point_id);

    /// POST /subscriptions/zonalTraffic; the platform's copy (with resource_url).
    result<zonal_traffic_subscription> subscribe_zonal_traffic(const zonal_traffic_subscription& s);
    /// POST /subscriptions/userTracking
    result<user_tracking_subscription> subscribe_user_tracking(const user_tracking_subscription& s);
    /// DELETE a subscription by the resource URL the create returned (its last segment is
    /// the id; the path is rebuilt on this client's base so that a platform answering with
    /// an internal host name still works).
    result<void> unsubscribe_zonal_traffic(const std::string& resource_url_or_id);
    result<void> unsubscribe_user_tracking(const std::string& resource_url_or_id);

    location_flavour flavour() const noexcept { return flavour_; }
    api_client& api() noexcept { return api_; }

private:
    location_flavour flavour_;
    api_client api_;
};

}  // namespace migrate::mec
