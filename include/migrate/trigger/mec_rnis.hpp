// migrate/trigger/mec_rnis.hpp — the `mec_rnis` trigger: the MEC platform's Radio Network
// Information service (ETSI GS MEC 012) tells us that a UE's handover to another cell is being
// prepared, executed or completed; when the target cell is another edge host's, the UE's
// service should move there.
//
// One handover, one decision: the first notification of a handover whose target cell maps to
// another host decides — IN_PREPARATION (or IN_EXECUTION) as an early warning, before the UE
// is on the new cell, so the move can start before the radio switch; COMPLETED only when no
// earlier status of that handover was seen. Later statuses of the same handover confirm it
// without a decision (`stats().confirmed`). A handover REJECTED or CANCELLED after its early
// warning decided is undone by a decision back to the source host (the UE stays on its cell).
// Cells map to hosts by `cell_hosts` (cellId -> host); with several target cells (a
// preparation towards candidates) the first mapped one counts. Subjects are the UEs'
// AssociateId values ("10.100.0.1"). Where the UEs are at start is asked with rab_info.
#pragma once

#include <migrate/mec/client.hpp>
#include <migrate/mec/notification_receiver.hpp>
#include <migrate/mec/rnis.hpp>
#include <migrate/trigger.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace migrate {

struct mec_rnis_trigger_options {
    mec::client_options platform;
    std::string app_instance_id;                 ///< filterCriteriaAssocHo.appInstanceId (required by MEC012)
    std::vector<mec::rni_associate_id> devices;  ///< filter; empty = every UE
    std::vector<mec::ecgi> cells;                ///< filter; empty = every cell
    std::map<std::string, std::string> cell_hosts;   ///< cellId -> edge host
    /// Asked as the subscription's expiryDeadline, renewed before it; none = no deadline asked.
    std::optional<std::chrono::seconds> lifetime;
    bool initial_query = true;                   ///< ask rab_info where the UEs are at start
    mec::notification_receiver_options receiver; ///< for the receiver the trigger makes when given none

    result<void> validate() const;
};
void to_json(json& j, const mec_rnis_trigger_options& o);
void from_json(const json& j, mec_rnis_trigger_options& o);

class mec_rnis_trigger final : public trigger {
public:
    static result<std::unique_ptr<mec_rnis_trigger>> make(mec_rnis_trigger_options options,
                                                          std::shared_ptr<mec::notification_receiver> receiver = nullptr);
    ~mec_rnis_trigger() override;

    std::string_view name() const noexcept override { return "mec_rnis"; }
    /// Subscribes to cell changes, then asks rab_info (a platform answering 404/501 to it is
    /// no failure: the UEs' hosts are then learnt from the notifications' source cells).
    result<void> start(decision_handler on_decision) override;
    void stop() noexcept override;

    std::optional<std::string> host_of(std::string_view ue) const;
    std::shared_ptr<mec::notification_receiver> receiver() const;

    struct counters {
        std::uint64_t notifications = 0;
        std::uint64_t decisions = 0;
        std::uint64_t early = 0;       ///< decisions on IN_PREPARATION / IN_EXECUTION
        std::uint64_t confirmed = 0;   ///< later statuses of a handover already decided
        std::uint64_t undone = 0;      ///< decisions back after REJECTED / CANCELLED
        std::uint64_t ignored = 0;
    };
    counters stats() const;

private:
    struct impl;
    explicit mec_rnis_trigger(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate
