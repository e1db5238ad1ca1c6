// migrate/mec/emulator.hpp — a MEC platform emulator driven by a mobility scenario: serves the
// subset of MEC013 Location (v2), MEC011 App Support + Service Management, MEC021 Application
// Mobility Service and MEC012 Radio Network Information that the SDK's clients use, over its
// own HTTP server, moves the scenario's UEs as time passes (scaled for fast replay) and POSTs
// notifications to subscribers when a UE moves. What `migrate-mec-sim` runs; researchers use
// it instead of an ETSI MEC Sandbox account. Answers follow the official ETSI specs' shapes
// (../shared/reference/etsi-mec/) at the paths and versions AdvantEDGE serves.
//
// Served under `base_path` (the sandbox's "/<sandbox>/mep1", or empty):
// MEC013 Location v2 (bodies wrapped, as v2 is):
//   GET  /location/v2/queries/users[?address=&zoneId=&accessPointId=]   {"userList": ...}
//   GET  /location/v2/queries/zones                                      {"zoneList": ...}
//   GET  /location/v2/queries/zones/{zoneId}                             {"zoneInfo": ...}
//   GET  /location/v2/queries/zones/{zoneId}/accessPoints                {"accessPointList": ...}
//   GET  /location/v2/queries/zones/{zoneId}/accessPoints/{apId}         {"accessPointInfo": ...}
//   GET|POST /location/v2/subscriptions/zonalTraffic, GET|DELETE .../{subscriptionId}
//   GET|POST /location/v2/subscriptions/userTracking, GET|DELETE .../{subscriptionId}
//   (`duration` > 0: the subscription is deleted that many seconds later, real time)
// MEC011 App Support (app instances are declared: `emulator_options::app_instances`,
// `add_app_instance`, POST /sim/v1/appInstances; any other appInstanceId is a 404):
//   POST /mec_app_support/v1/applications/{id}/confirm_ready          {"indication": "READY"} -> 204
//   POST /mec_app_support/v1/applications/{id}/confirm_termination    {"operationAction": ...} -> 204
//   GET|POST /mec_app_support/v1/applications/{id}/subscriptions      AppTerminationNotificationSubscription
//   GET|DELETE /mec_app_support/v1/applications/{id}/subscriptions/{subscriptionId}
//   GET  /mec_app_support/v1/applications/{id}/traffic_rules          [TrafficRule]
//   GET|PUT /mec_app_support/v1/applications/{id}/traffic_rules/{ruleId}  TrafficRule (validated; 400 names the field)
//   (with `serve_traffic_rules = false` the traffic_rules routes answer 501, as AdvantEDGE
//   does; dns_rules routes always answer 501)
// MEC011 Service Management:
//   GET|POST /mec_service_mgmt/v1/applications/{id}/services[?ser_name=]   ServiceInfo (serInstanceId assigned)
//   GET|PUT|DELETE /mec_service_mgmt/v1/applications/{id}/services/{serviceId}
//   GET  /mec_service_mgmt/v1/services[?ser_instance_id=|ser_name=|ser_category_id=]
//   GET  /mec_service_mgmt/v1/services/{serviceId}
// MEC021 Application Mobility Service (amsi/v1):
//   GET|POST /amsi/v1/app_mobility_services                          RegistrationInfo (appMobilityServiceId assigned;
//                                                                    serviceConsumerId.appInstanceId must be declared)
//   GET|PUT|DELETE /amsi/v1/app_mobility_services/{id}, POST .../{id}/deregister_task
//   GET|POST /amsi/v1/subscriptions[?subscriptionType=mobility_proc|adj_app_info]
//            MobilityProcedureSubscription (filterCriteria.mobilityStatus defaults to
//            [INTERHOST_MOVEOUT_TRIGGERED], in the answer too) / AdjacentAppInfoSubscription;
//            the list is the official v2.1.1 SubscriptionLinkList (subscriptionType 1 / 2)
//   GET|DELETE /amsi/v1/subscriptions/{subscriptionId}
//   Registrations end after `expiryTime` s (> 0), subscriptions at `expiryDeadline`.
//   Notification: when a UE listed in a registration of app instance S enters a zone (a zone
//   change) whose edge hosts do not include S's host, and an app instance T with S's
//   app_name runs on one of them, every MobilityProcedureSubscription whose filter matches
//   (appInstanceId absent or S, associateId absent or the UE, mobilityStatus has TRIGGERED)
//   gets a MobilityProcedureNotification INTERHOST_MOVEOUT_TRIGGERED with targetAppInfo
//   {T, T's endpoints}. As AdvantEDGE: only TRIGGERED, never COMPLETED / FAILED; devices
//   marked USER_CONTEXT_TRANSFER_COMPLETED or APP_MOBILITY_NOT_ALLOWED are not announced
//   (the target registers the UE itself once it serves it). An AdjacentAppInfoSubscription
//   whose filterCriteria.appInstanceId is declared gets an AdjacentAppInfoNotification (every
//   other instance of its app, with endpoints) each time an instance of that app is added;
//   /queries/adjacent_app_instances is not served (no SDK client calls it).
// MEC012 Radio Network Information (rni/v2):
//   GET  /rni/v2/queries/rab_info[?app_ins_id=&cell_id=&ue_ipv4_address=]   RabInfo: the UEs on each
//        4G/5G cell now, one E-RAB each (erabId = the UE's place in the scenario + 1, qci 9);
//        appInstanceId echoes app_ins_id, requestId is the emulator's
//   GET|POST /rni/v2/subscriptions[?subscription_type=cell_change]   CellChangeSubscription only
//        (filterCriteriaAssocHo.hoStatus defaults to [3] = COMPLETED, in the answer too)
//   GET|DELETE /rni/v2/subscriptions/{subscriptionId}; subscriptions end at `expiryDeadline`
//   Cell ids: ECGI cellId = the scenario's poa4GConfig.cellId (4G) or poa5GConfig.cellId (5G:
//   the NR cell id, carried in the ECGI since CellChangeNotification has no NCGI), the access
//   point's name for WiFi; PLMN mcc "001" / mnc "001" (the test PLMN the Monaco scenarios use).
//   Notification: on every access point change of a UE (not into or out of coverage) whose
//   filter matches (associateId absent or the UE, ecgi absent or the source or target cell),
//   a CellChangeNotification with hoStatus 1 = IN_PREPARATION, then one with 3 = COMPLETED,
//   each only when the filter's hoStatus lists it. Both are sent at the move: the emulator's
//   IN_PREPARATION gives no lead time over COMPLETED.
// and the emulator's own control API (not ETSI):
//   GET  /sim/v1/state                       scenario time, time scale, every UE's state, app
//                                            instances with their traffic rule states
//   POST /sim/v1/ues/{ue}/accessPoint        {"accessPointId": "w1"}; null releases the UE
//   PUT  /sim/v1/timeScale                   {"timeScale": 10}; 0 pauses the clock
//   POST /sim/v1/appInstances                {"appInstanceId", "edgeHost", "appName"?, "trafficRules"?: [TrafficRule],
//                                            "endpoints"?: [{"host", "port"}]}; GET lists them, GET .../{id} one
//   POST /sim/v1/appInstances/{id}/terminate {"operationAction": "TERMINATING", "maxGracefulTimeout": 10}:
//                                            AppTerminationNotification to its subscribers
// Every query answers the state at the time it is asked (the clock catches up first).
// UE addresses are the scenario's UE names ("10.100.0.1"); a query may prefix them "acr:"; a
// UserInfo answers "acr:10.100.0.1" (MEC013 types it as a URI), notifications the bare name
// (as AdvantEDGE sends them).
#pragma once

#include <migrate/mec/app_support.hpp>
#include <migrate/mec/endpoint.hpp>
#include <migrate/mec/scenario.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace migrate::mec {

/// A MEC application instance the emulated platform runs.
struct app_instance {
    std::string id;                  ///< appInstanceId
    std::string edge_host;           ///< the scenario's edge host it runs on ("mep1")
    /// Instances with the same name are the same application on different hosts: where MEC021
    /// looks for the target of a UE's move. "" is a name like any other.
    std::string app_name;
    /// Its MEC011 traffic rules. Fields left out are filled in: filterType FLOW, action
    /// FORWARD_DECAPSULATED, trafficFilter [] (the document may carry the spec's others).
    std::vector<traffic_rule> traffic_rules;
    std::vector<endpoint> endpoints; ///< where it listens: MEC021 targetAppInfo.commInterface
};

/// An app instance as the platform sees it now.
struct app_instance_status {
    app_instance declared;           ///< traffic rules with their current states
    bool ready = false;              ///< confirm_ready received
    std::string termination_confirmed;   ///< "", "STOPPING" or "TERMINATING"
};

struct emulator_options {
    std::string address = "127.0.0.1";   ///< IP literal to listen on
    std::uint16_t port = 0;              ///< 0 = a free port (see `emulator::port`)
    std::string base_path;               ///< "" or "/sbx1/mep1": prefixed to every route
    double time_scale = 1.0;             ///< scenario seconds per real second; 0 = paused
    double step_s = 1.0;                 ///< mobility step, scenario seconds (the sandbox's GIS: 1 s)
    std::chrono::milliseconds tick{100};             ///< how often the clock advances, real time
    std::chrono::milliseconds notify_timeout{2000};  ///< per notification POST
    std::vector<app_instance> app_instances;         ///< MEC011/MEC021 app instances at start
    /// false: the MEC011 traffic_rules routes answer 501, as AdvantEDGE does.
    bool serve_traffic_rules = true;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

class emulator {
public:
    /// Serves `s` and starts its clock. `invalid_argument` (options), `io_error` (cannot listen).
    static result<std::unique_ptr<emulator>> start(scenario s, const emulator_options& o);
    ~emulator();
    emulator(const emulator&) = delete;
    emulator& operator=(const emulator&) = delete;

    /// Stops the clock, the server and the notifier (pending notifications are dropped).
    /// Idempotent.
    void stop();

    std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:PORT" + base_path: prefix "/location/v2/..." to it.
    std::string url() const;
    const scenario& model() const noexcept;

    /// Scenario seconds since start.
    double now() const;
    /// Changes the clock's speed from now on; `invalid_argument` when negative.
    result<void> set_time_scale(double scale);
    /// As the control endpoint: pins `ue` to `access_point` (empty: releases it) and notifies.
    result<ue_state> force(const std::string& ue, const std::string& access_point);
    /// Declares another app instance (as POST /sim/v1/appInstances). `invalid_argument`
    /// naming the field (unknown edge host, bad rule), `conflict` when the id exists.
    result<void> add_app_instance(const app_instance& a);
    /// Every app instance, declared order.
    std::vector<app_instance_status> app_instances() const;
    /// `app_instance`'s traffic rules as they are now (after the PUTs); `not_found`.
    result<std::vector<traffic_rule>> traffic_rules(const std::string& app_instance) const;
    /// POSTs an AppTerminationNotification to `app_instance`'s MEC011 subscribers; `not_found`.
    result<void> terminate(const std::string& app_instance, operation_action action = operation_action::terminating,
                           std::int64_t max_graceful_timeout_s = 10);
    /// Every UE's state now (the clock catches up first, notifying as it goes).
    std::vector<ue_state> states() const;
    /// Notifications POSTed so far (answered 2xx), and failed.
    std::size_t notifications_sent() const noexcept;
    std::size_t notifications_failed() const noexcept;

private:
    struct impl;
    explicit emulator(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::mec
