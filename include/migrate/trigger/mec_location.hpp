// migrate/trigger/mec_location.hpp — the `mec_location` trigger: the MEC platform's Location
// API (ETSI GS MEC 013, v2 or v3) tells us that a UE entered a zone or moved to another access
// point; when that puts it in another edge host's area, the UE's service should move there.
//
// It subscribes through a notification_receiver (mec/notification_receiver.hpp), either to
// zonal traffic in each watched zone or to user tracking of each followed UE, and first asks
// the platform where the UEs are, so a decision's `from` is known. The host of a position is
// `access_point_hosts[accessPointId]` when the access point is mapped, else
// `zone_hosts[zoneId]` (a Leaving event's zone is the one left, so only its access point
// counts). A notification decides only when the UE's host changes: the Leaving + Entering pair
// of one zone change, or a move between two access points of one host, decide once or not at
// all. Subjects are UE addresses without the "acr:" scheme ("10.100.0.1").
#pragma once

#include <migrate/mec/client.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/notification_receiver.hpp>
#include <migrate/trigger.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace migrate {

enum class location_watch { zonal_traffic, user_tracking };
std::string_view to_string(location_watch w);   ///< "zonal_traffic", "user_tracking"

struct mec_location_trigger_options {
    mec::client_options platform;
    mec::location_flavour flavour = mec::location_flavour::v2;
    location_watch watch = location_watch::zonal_traffic;
    /// Zonal traffic: the zones subscribed to. Empty = the zones of `zone_hosts`, or, when
    /// that is empty too, every zone the platform lists.
    std::vector<std::string> zones;
    /// UE addresses followed. User tracking: one subscription each (required). Zonal
    /// traffic: others' notifications are ignored; empty = every UE.
    std::vector<std::string> users;
    std::map<std::string, std::string> zone_hosts;          ///< zoneId -> edge host
    std::map<std::string, std::string> access_point_hosts;  ///< accessPointId -> edge host (wins over the zone)
    std::optional<std::int64_t> duration_s;   ///< zonal traffic subscriptions' duration (renewed before it ends)
    /// For the receiver the trigger makes when it is given none.
    mec::notification_receiver_options receiver;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const mec_location_trigger_options& o);
void from_json(const json& j, mec_location_trigger_options& o);

class mec_location_trigger final : public trigger {
public:
    /// `receiver` may be shared with other triggers; null = one of the trigger's own, listening
    /// now (`io_error` when it cannot). `invalid_argument` from `options.validate()`.
    static result<std::unique_ptr<mec_location_trigger>> make(mec_location_trigger_options options,
                                                              std::shared_ptr<mec::notification_receiver> receiver = nullptr);
    ~mec_location_trigger() override;

    std::string_view name() const noexcept override { return "mec_location"; }
    /// Subscribes, then asks where the followed UEs are; returns once both are done. A failure
    /// names the subscription or query (and what was subscribed is deleted again).
    /// `conflict` when started already.
    result<void> start(decision_handler on_decision) override;
    /// Deletes the subscriptions; no decision is delivered once it returns. Not from a decision.
    void stop() noexcept override;

    /// The edge host the trigger believes serves `ue` now (after its last decision), if known.
    std::optional<std::string> host_of(std::string_view ue) const;
    const mec_location_trigger_options& options() const noexcept;
    std::shared_ptr<mec::notification_receiver> receiver() const;

    struct counters {
        std::uint64_t notifications = 0;   ///< parsed
        std::uint64_t decisions = 0;
        std::uint64_t ignored = 0;         ///< other UEs, unmapped positions, no host change
    };
    counters stats() const;

private:
    struct impl;
    explicit mec_location_trigger(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate
