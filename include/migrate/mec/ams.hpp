// migrate/mec/ams.hpp — ETSI GS MEC 021 Application Mobility Service client: an app
// instance registers the devices it serves (with their context transfer state), subscribes
// to mobility procedures (the AMS tells the source instance that a device is moving out, and
// to which target instance) and to adjacent app instances, and marks a device's context
// USER_CONTEXT_TRANSFER_COMPLETED once it has moved it.
//
// Flavours: the official v2.1.1 spec and AdvantEDGE (ETSI MEC Sandbox) share the shapes used
// here. AdvantEDGE only sends INTERHOST_MOVEOUT_TRIGGERED, to the source instance; its
// notification `_links` is `{"subscription": {"href": ...}}`. Devices are identified by an
// AssociateId with a string type (`UE_IPv4_ADDRESS`), unlike MEC012's integer type.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/endpoint.hpp>
#include <migrate/mec/time_stamp.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::mec {

struct associate_id {
    std::string type = "UE_IPv4_ADDRESS";   ///< UE_IPv4_ADDRESS, UE_IPV6_ADDRESS, NATED_IP_ADDRESS, GTP_TEID
    std::string value;                      ///< "10.100.0.1"
    friend bool operator==(const associate_id&, const associate_id&) = default;
};

enum class context_transfer_state { not_transferred, user_context_transfer_completed };
std::string_view to_string(context_transfer_state s);   ///< "NOT_TRANSFERRED", ...
inline std::string_view format_as(context_transfer_state s) { return to_string(s); }

enum class app_mobility_service_level { not_allowed, with_confirmation, without_confirmation };
std::string_view to_string(app_mobility_service_level l);   ///< "APP_MOBILITY_NOT_ALLOWED", ...
inline std::string_view format_as(app_mobility_service_level l) { return to_string(l); }

enum class mobility_status { interhost_moveout_triggered, interhost_moveout_completed, interhost_moveout_failed };
std::string_view to_string(mobility_status s);   ///< "INTERHOST_MOVEOUT_TRIGGERED", ...
inline std::string_view format_as(mobility_status s) { return to_string(s); }

struct device_information {
    associate_id device;
    std::optional<app_mobility_service_level> service_level;
    std::optional<context_transfer_state> transfer_state;
};

/// RegistrationInfo: one app instance and the devices it serves.
struct registration_info {
    std::string app_mobility_service_id;    ///< set by the AMS on register
    std::string app_instance_id;            ///< serviceConsumerId.appInstanceId
    std::string mep_id;                     ///< serviceConsumerId.mepId (instead of an app instance)
    std::vector<device_information> devices;
    std::optional<std::int64_t> expiry_time_s;
};

struct mobility_procedure_subscription {
    std::string callback_url;
    std::string app_instance_id;                 ///< filterCriteria.appInstanceId
    std::vector<associate_id> devices;           ///< filterCriteria.associateId
    std::vector<mobility_status> statuses;       ///< filterCriteria.mobilityStatus
    std::optional<time_stamp> expiry_deadline;
    std::string self_url;                        ///< _links.self.href, set by the AMS
};

struct adjacent_app_info_subscription {
    std::string callback_url;
    std::string app_instance_id;                 ///< filterCriteria.appInstanceId
    std::optional<time_stamp> expiry_deadline;
    std::string self_url;
};

/// An app instance and where it listens (targetAppInfo / adjacentAppInfo).
struct app_instance_endpoints {
    std::string app_instance_id;
    std::vector<endpoint> endpoints;             ///< commInterface[].ipAddresses[], flattened
};

struct mobility_procedure_notification {
    mobility_status status = mobility_status::interhost_moveout_triggered;
    std::vector<associate_id> devices;
    std::optional<app_instance_endpoints> target;   ///< targetAppInfo
    std::optional<time_stamp> timestamp;
    std::string subscription_url;                   ///< _links.subscription.href
};

struct adjacent_app_info_notification {
    std::vector<associate_id> devices;
    std::vector<app_instance_endpoints> adjacent;
    std::optional<time_stamp> timestamp;
    std::string subscription_url;
};

result<registration_info> parse_registration_info(const json& body);
result<mobility_procedure_subscription> parse_mobility_procedure_subscription(const json& body);
result<adjacent_app_info_subscription> parse_adjacent_app_info_subscription(const json& body);
result<mobility_procedure_notification> parse_mobility_procedure_notification(const json& body);
result<adjacent_app_info_notification> parse_adjacent_app_info_notification(const json& body);
json to_json(const registration_info& r);
json to_json(const mobility_procedure_subscription& s);
json to_json(const adjacent_app_info_subscription& s);

class ams_client {
public:
    explicit ams_client(client_options opts);

    /// POST /app_mobility_services; the AMS's copy with app_mobility_service_id.
    result<registration_info> register_app(const registration_info& r);
    /// GET /app_mobility_services/{id}
    result<registration_info> registration(const std::string& app_mobility_service_id);
    /// PUT /app_mobility_services/{id} with `r` (its app_mobility_service_id).
    result<registration_info> update_registration(const registration_info& r);
    /// DELETE /app_mobility_services/{id}
    result<void> deregister(const std::string& app_mobility_service_id);
    /// Read the registration, set `device`'s context transfer state (adding the device when
    /// it is not registered yet), PUT it back; the updated registration.
    result<registration_info> set_context_transfer_state(const std::string& app_mobility_service_id,
                                                         const associate_id& device, context_transfer_state state);

    /// POST /subscriptions
    result<mobility_procedure_subscription> subscribe_mobility_procedure(const mobility_procedure_subscription& s);
    result<adjacent_app_info_subscription> subscribe_adjacent_app_info(const adjacent_app_info_subscription& s);
    /// DELETE /subscriptions/{id}, by the self URL the create returned or the id.
    result<void> unsubscribe(const std::string& self_url_or_id);

    api_client& api() noexcept { return api_; }

private:
    api_client api_;
};

}  // namespace migrate::mec
