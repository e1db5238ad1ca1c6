// migrate/mec/app_support.hpp — ETSI GS MEC 011 for one app instance: tell the platform it
// is ready / done terminating, be told when it is being terminated, find other services in
// the service registry (mec_service_mgmt/v1), and read or switch its traffic rules.
//
// Traffic rules: implemented per the official spec (GET the rule, PUT it back with another
// `state`, keeping every field this SDK does not model). AdvantEDGE (the ETSI MEC Sandbox)
// answers 501 to every traffic_rules / dns_rules route: that comes back as `unsupported`
// naming the platform, so that a caller can fall back to another route switch.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/endpoint.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::mec {

enum class operation_action { stopping, terminating };
std::string_view to_string(operation_action a);   ///< "STOPPING", "TERMINATING"
inline std::string_view format_as(operation_action a) { return to_string(a); }

enum class traffic_rule_state { active, inactive };
std::string_view to_string(traffic_rule_state s);   ///< "ACTIVE", "INACTIVE"
inline std::string_view format_as(traffic_rule_state s) { return to_string(s); }

struct traffic_rule {
    std::string id;                 ///< trafficRuleId
    std::string filter_type;        ///< "FLOW", "PACKET"
    std::int64_t priority = 0;
    std::string action;             ///< "FORWARD_DECAPSULATED", "DROP", ...
    traffic_rule_state state = traffic_rule_state::active;
    json document;                  ///< the rule as received: trafficFilter, dstInterface, ... kept for the PUT
};

struct service_info {
    std::string ser_instance_id;
    std::string ser_name;
    std::string state;              ///< "ACTIVE", "INACTIVE", ...
    std::string version;
    std::vector<std::string> uris;          ///< transportInfo.endpoint.uris
    std::vector<endpoint> addresses;        ///< transportInfo.endpoint.addresses
};

struct app_termination_subscription {
    std::string callback_url;
    std::string app_instance_id;
    std::string self_url;           ///< _links.self.href, set by the platform
};

struct app_termination_notification {
    operation_action action = operation_action::terminating;
    std::int64_t max_graceful_timeout_s = 0;
    std::string subscription_url;           ///< _links.subscription.href
    std::string confirm_termination_url;    ///< _links.confirmTermination.href (may be empty)
};

result<traffic_rule> parse_traffic_rule(const json& body);
result<std::vector<traffic_rule>> parse_traffic_rules(const json& body);
result<service_info> parse_service_info(const json& body);
result<std::vector<service_info>> parse_service_list(const json& body);
result<app_termination_subscription> parse_app_termination_subscription(const json& body);
/// `_links` per the spec; AdvantEDGE's own example writes `links`: both are read.
result<app_termination_notification> parse_app_termination_notification(const json& body);
json to_json(const traffic_rule& r);
/// ServiceInfo for a registration: a REST_HTTP transport over HTTP 2.0 (the spec's example
/// values), JSON serializer, endpoint `uris` or else `addresses`; state "ACTIVE" when empty.
json to_json(const service_info& s);

class app_support_client {
public:
    /// One app instance (`app_instance_id`, as the platform allocated it).
    app_support_client(client_options opts, std::string app_instance_id);

    /// POST /applications/{id}/confirm_ready {"indication": "READY"}
    result<void> confirm_ready();
    /// POST /applications/{id}/confirm_termination {"operationAction": ...}
    result<void> confirm_termination(operation_action action = operation_action::terminating);

    /// POST /applications/{id}/subscriptions (AppTerminationNotificationSubscription)
    result<app_termination_subscription> subscribe_termination(const std::string& callback_url);
    /// DELETE /applications/{id}/subscriptions/{subscriptionId}, by self URL or id.
    result<void> unsubscribe(const std::string& self_url_or_id);

    /// POST mec_service_mgmt/v1/applications/{id}/services: offers `s` in the registry; the
    /// platform's copy (with its serInstanceId).
    result<service_info> register_service(const service_info& s);
    /// DELETE mec_service_mgmt/v1/applications/{id}/services/{serInstanceId}
    result<void> deregister_service(const std::string& ser_instance_id);
    /// GET mec_service_mgmt/v1/services[?ser_name=NAME]
    result<std::vector<service_info>> services(const std::string& ser_name = {});
    /// The one service named `ser_name`; `not_found` naming it when the registry has none.
    result<service_info> service(const std::string& ser_name);

    /// GET /applications/{id}/traffic_rules
    result<std::vector<traffic_rule>> traffic_rules();
    /// GET /applications/{id}/traffic_rules/{ruleId}
    result<traffic_rule> traffic_rule_by_id(const std::string& rule_id);
    /// PUT /applications/{id}/traffic_rules/{ruleId} with `r`; the platform's copy.
    result<traffic_rule> update_traffic_rule(const traffic_rule& r);
    /// GET the rule, set its state, PUT it back.
    result<traffic_rule> set_traffic_rule_state(const std::string& rule_id, traffic_rule_state state);

    const std::string& app_instance_id() const noexcept { return app_instance_id_; }

private:
    std::string app_instance_id_;
    std::string app_path_;          // "/applications/{id}"
    api_client app_support_;        // mec_app_support/v1
    api_client service_mgmt_;       // mec_service_mgmt/v1
};

}  // namespace migrate::mec
