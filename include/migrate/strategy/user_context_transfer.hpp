// migrate/strategy/user_context_transfer.hpp — moving ONE user's context between two app
// instances that both keep running, driven by the ETSI MEC021 Application Mobility Service
// (the sequence of AdvantEDGE's demo3). No container moves: the app runs on every edge host
// already; what follows the user is its context.
//
// The sequence, for a device the AMS says is moving out (INTERHOST_MOVEOUT_TRIGGERED, with
// `targetAppInfo.appInstanceId`), at the source instance:
//   1. prepare:  look the target's endpoint up in the MEC011 service registry
//                (`user_context_service_name(prefix, target)`, see mec/user_context_endpoint.hpp);
//   2. snapshot: the app exports the user's context (`export_context`);
//   3. transfer: PUT it to the target, which answers 204 once it has stored it;
//   4. verify:   the source's AMS registration marks the device USER_CONTEXT_TRANSFER_COMPLETED
//                (it was NOT_TRANSFERRED);
//   5. cleanup:  only then the app releases the user at the source (`release_context`).
// Losing nothing: a failure before step 3's 204 leaves the source's context and the AMS state
// as they were (the report says `rolled_back`); a failure at step 4 leaves the context on both
// sides (the target has it, the source keeps its copy) and names the AMS call; step 5 never
// runs on a failure.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/ams.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/trigger.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace migrate {

struct user_context_transfer_options {
    mec::client_options platform;                 ///< the MEC platform (AMS + MEC011 registry)
    std::string app_instance_id;                  ///< the source instance (this one)
    std::string app_mobility_service_id;          ///< its AMS registration (AMS register_app)
    std::string service_name_prefix = "user-context-";
    std::chrono::milliseconds transfer_timeout{5000};   ///< the PUT to the target

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
/// {"platform": {...client_options}, "app_instance_id", "app_mobility_service_id",
///  "service_name_prefix", "transfer_timeout_ms"}
void to_json(json& j, const user_context_transfer_options& o);
void from_json(const json& j, user_context_transfer_options& o);

/// The app's side of the source instance.
struct user_context_callbacks {
    /// The user's context as JSON (`not_found` when the app serves no such user).
    std::function<result<json>(const mec::associate_id& device)> export_context;
    /// The target confirmed and the AMS knows: forget the user here. Failures are reported
    /// (in the report's details) but do not undo the transfer.
    std::function<result<void>(const mec::associate_id& device)> release_context;
};

class user_context_transfer {
public:
    /// `invalid_argument` for bad options or a missing export callback.
    static result<std::unique_ptr<user_context_transfer>> create(const user_context_transfer_options& o,
                                                                 user_context_callbacks app);
    ~user_context_transfer();
    user_context_transfer(const user_context_transfer&) = delete;
    user_context_transfer& operator=(const user_context_transfer&) = delete;

    /// Moves `device`'s context to `target_app_instance_id`. Failures come back in the
    /// report too: success = false, error "code: message" naming the step and URL,
    /// rolled_back = true when nothing moved (the source still holds the user).
    migration_report transfer(const mec::associate_id& device, const std::string& target_app_instance_id);

    /// Every device of a MobilityProcedureNotification with INTERHOST_MOVEOUT_TRIGGERED and a
    /// target; other statuses are ignored (no report). One report per device.
    std::vector<migration_report> on_notification(const mec::mobility_procedure_notification& n);

    /// A `mec_ams` trigger's decision: `subject` = the device (UE_IPv4_ADDRESS unless
    /// evidence says `associate_id.type`), evidence `target_app_instance_id`. `invalid_argument`
    /// (in the report) when the decision does not carry the target instance.
    migration_report on_decision(const migration_decision& d);

    const user_context_transfer_options& options() const noexcept;

private:
    struct impl;
    explicit user_context_transfer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate
