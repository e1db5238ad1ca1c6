// migrate/trigger/mec_ams.hpp — the `mec_ams` trigger: the MEC platform's Application Mobility
// Service (ETSI GS MEC 021) tells the app instance serving a UE that the UE is moving out of its
// host, and which app instance should take it over (INTERHOST_MOVEOUT_TRIGGERED with
// targetAppInfo); that instance's edge host is where the UE's service should move.
//
// The trigger subscribes to mobility procedures for `app_instance_id` (the source instance,
// as AdvantEDGE notifies only it). Each TRIGGERED notification decides for each of its UEs
// (subject = the AssociateId value, "10.100.0.1"): from = the UE's host after the trigger's
// last decision for it, else `app_instance_hosts[app_instance_id]`; to =
// `app_instance_hosts[targetAppInfo.appInstanceId]`. A target that is the UE's host already, or
// that is not mapped, decides nothing (`stats().ignored`). COMPLETED and FAILED (sent by the
// official spec's platforms, not by AdvantEDGE) are counted, not decided on: the AMS reports
// the outcome of the move that the TRIGGERED one asked for.
#pragma once

#include <migrate/mec/ams.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/notification_receiver.hpp>
#include <migrate/trigger.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace migrate {

struct mec_ams_trigger_options {
    mec::client_options platform;
    std::string app_instance_id;                     ///< the source instance: filterCriteria.appInstanceId
    std::vector<mec::associate_id> devices;          ///< filterCriteria.associateId; empty = every UE
    std::map<std::string, std::string> app_instance_hosts;   ///< appInstanceId -> edge host
    /// Asked as the subscription's expiryDeadline, renewed before it; none = no deadline asked.
    std::optional<std::chrono::seconds> lifetime;
    /// Register `app_instance_id` with `devices` (APP_MOBILITY_WITH_CONFIRMATION, NOT_TRANSFERRED)
    /// at start and deregister at stop: an AMS announces only the devices registered with the
    /// source instance. Off when the application registers them itself.
    bool register_devices = false;
    mec::notification_receiver_options receiver;     ///< for the receiver the trigger makes when given none

    result<void> validate() const;
};
void to_json(json& j, const mec_ams_trigger_options& o);
void from_json(const json& j, mec_ams_trigger_options& o);

class mec_ams_trigger final : public trigger {
public:
    static result<std::unique_ptr<mec_ams_trigger>> make(mec_ams_trigger_options options,
                                                         std::shared_ptr<mec::notification_receiver> receiver = nullptr);
    ~mec_ams_trigger() override;

    std::string_view name() const noexcept override { return "mec_ams"; }
    /// Registers the devices (`register_devices`), subscribes to mobility procedures; a failure
    /// names the registration, or the subscription and its callback URL.
    result<void> start(decision_handler on_decision) override;
    void stop() noexcept override;

    std::optional<std::string> host_of(std::string_view ue) const;
    std::shared_ptr<mec::notification_receiver> receiver() const;

    struct counters {
        std::uint64_t notifications = 0;
        std::uint64_t decisions = 0;
        std::uint64_t completed = 0;   ///< INTERHOST_MOVEOUT_COMPLETED seen
        std::uint64_t failed = 0;      ///< INTERHOST_MOVEOUT_FAILED seen
        std::uint64_t ignored = 0;
    };
    counters stats() const;

private:
    struct impl;
    explicit mec_ams_trigger(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate
