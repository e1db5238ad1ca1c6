// migrate/route/mec_traffic_rule.hpp — the `mec_traffic_rule` route switch: a user's traffic
// moved from one service instance to another by the MEC platform's data plane, switching
// ETSI MEC011 traffic rules (mec_app_support/v1) ACTIVE / INACTIVE, make-before-break.
//
// MEC011 lets an app instance read and update (PUT) the traffic rules the platform created
// for it from its AppD; it cannot create or delete one. So the rules must exist: each edge
// host's instance has a rule steering the service's traffic to it (normally the target's
// INACTIVE, the source's ACTIVE), and a move flips the two:
// prepare  GET the source's and the target's rule (one GET each, nothing changed): checks
//          that both exist and that the platform implements traffic rules at all. A 501
//          (AdvantEDGE answers it to every traffic_rules route) is `unsupported` here, before
//          anything moved, so that the caller can fall back to another route switch;
// commit   PUT the target's rule ACTIVE, confirmed by the answer and a GET; only then the
//          source's INACTIVE, confirmed the same way (make before break). A PUT answered but
//          a GET still showing the old state is `daemon_error`;
// rollback PUT back the documents prepare read, the source's first (it serves again before
//          the target's is withdrawn); only when commit sent something. Never throws.
//
// `c.state` holds, for rollback and reports: `rules.source` / `rules.target` = {host,
// app_instance_id, traffic_rule_id, state_before, document (as read)}, `steps` = each PUT
// [{rule, state, confirmed}], `same_rule` when both instances share one rule.
//
// Which rule: `options.subjects[subject][host]` (a rule per user, e.g. one whose
// trafficFilter srcAddress is the UE's address, provisioned by the platform), else
// `options.hosts[host]`, else — when `options.traffic_rule_id` is set — the instance's
// `service_instance.id` as its appInstanceId with that rule id. A host-level rule moves every
// user of that instance at once; a rule per user moves one.
#pragma once

#include <migrate/mec/client.hpp>
#include <migrate/route_switch.hpp>

#include <map>
#include <memory>
#include <string>

namespace migrate::route {

/// One traffic rule of one app instance.
struct mec_traffic_rule_ref {
    std::string app_instance_id;     ///< as the platform allocated it
    std::string traffic_rule_id;     ///< trafficRuleId
};
void to_json(json& j, const mec_traffic_rule_ref& r);
void from_json(const json& j, mec_traffic_rule_ref& r);

struct mec_traffic_rule_options {
    mec::client_options platform;    ///< where the MEC platform is (base URL, sandbox, token)
    /// Edge host name -> its instance's rule.
    std::map<std::string, mec_traffic_rule_ref> hosts;
    /// Subject (the UE's address) -> edge host name -> that user's own rule there; wins over `hosts`.
    std::map<std::string, std::map<std::string, mec_traffic_rule_ref>> subjects;
    /// When set, a host in neither map uses `service_instance.id` as the appInstanceId with this rule.
    std::string traffic_rule_id;
    /// After each PUT, GET the rule and check its state (besides the PUT's answer).
    bool confirm_by_get = true;

    /// `invalid_argument` naming the field (platform, an empty id, no way to find any rule).
    result<void> validate() const;
};
void to_json(json& j, const mec_traffic_rule_options& o);
void from_json(const json& j, mec_traffic_rule_options& o);

/// `route_change` for this switch: `subject` = the user (its address, the key of
/// `options.subjects`); `from`/`to` = instances whose `host` (or `id`, see above) finds their
/// rules; `attachment` is not used. An empty `from` establishes a first route (commit only
/// activates the target's rule). An empty `to` at prepare (a replica pool picks the target
/// later) reads only the source's rule; commit then reads the target's before any PUT.
/// Thread safety: calls may run concurrently (each opens its own client); changes of
/// different subjects that share host-level rules switch the same rules.
class mec_traffic_rule_route_switch final : public route_switch {
public:
    /// `invalid_argument` from `options.validate()`.
    static result<std::unique_ptr<mec_traffic_rule_route_switch>> make(mec_traffic_rule_options options);
    std::string_view name() const noexcept override { return "mec_traffic_rule"; }
    /// Reads the rules; `unsupported` (a 501: the platform has no MEC011 traffic rules; fall
    /// back to e.g. `openflow`), `not_found` (no such app instance / rule), `invalid_argument`
    /// (no rule known for a host), each naming the instance, host and rule.
    result<void> prepare(route_change& c) override;
    /// Target's rule ACTIVE, confirmed; then the source's INACTIVE, confirmed.
    result<void> commit(route_change& c) override;
    /// The rules as prepare read them; failures in `c.state["rollback_errors"]`.
    void rollback(route_change& c) noexcept override;

    const mec_traffic_rule_options& options() const noexcept { return options_; }
    /// The rule that steers `subject`'s traffic to `i`, or `invalid_argument` naming the host.
    result<mec_traffic_rule_ref> rule_for(const std::string& subject, const service_instance& i) const;

private:
    explicit mec_traffic_rule_route_switch(mec_traffic_rule_options o) : options_(std::move(o)) {}
    mec_traffic_rule_options options_;
};

}  // namespace migrate::route
