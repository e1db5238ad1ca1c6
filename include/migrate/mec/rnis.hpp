// migrate/mec/rnis.hpp — ETSI GS MEC 012 Radio Network Information client, the part a
// migration trigger needs: which cell a user's radio bearers are on (rab_info) and cell
// change subscriptions, whose notifications carry the handover status — IN_PREPARATION and
// IN_EXECUTION come before the user is on the new cell, an early warning to start moving.
//
// MEC012 identifies UEs by an AssociateId whose `type` is an integer (1 = UE_IPv4_ADDRESS),
// unlike MEC021's string; both the official spec and AdvantEDGE (rni/v2) agree on that.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/ecgi.hpp>
#include <migrate/mec/time_stamp.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::mec {

/// MEC012 AssociateId: `type` 1 = UE_IPv4_ADDRESS, 2 = UE_IPV6_ADDRESS, 3 = NATED_IP_ADDRESS, 4 = GTP_TEID.
struct rni_associate_id {
    std::int64_t type = 1;
    std::string value;
    friend bool operator==(const rni_associate_id&, const rni_associate_id&) = default;
};


enum class ho_status { in_preparation = 1, in_execution = 2, completed = 3, rejected = 4, cancelled = 5 };
std::string_view to_string(ho_status s);   ///< "IN_PREPARATION", ...
inline std::string_view format_as(ho_status s) { return to_string(s); }

struct cell_change_subscription {
    std::string callback_url;
    std::string app_instance_id;                ///< filterCriteriaAssocHo.appInstanceId
    std::vector<rni_associate_id> devices;      ///< filterCriteriaAssocHo.associateId
    std::vector<ecgi> cells;                    ///< filterCriteriaAssocHo.ecgi
    std::vector<ho_status> statuses;            ///< filterCriteriaAssocHo.hoStatus
    std::optional<time_stamp> expiry_deadline;
    std::string self_url;                       ///< _links.self.href, set by the platform
};

struct cell_change_notification {
    ho_status status = ho_status::completed;
    std::vector<rni_associate_id> devices;
    ecgi source;
    std::vector<ecgi> targets;                  ///< several only while IN_PREPARATION / REJECTED / CANCELLED
    std::optional<time_stamp> timestamp;
};

/// One user on one cell, with its E-RAB ids (RabInfo.cellUserInfo[].ueInfo[]).
struct rab_user {
    ecgi cell;
    std::vector<rni_associate_id> devices;
    std::vector<std::int64_t> erab_ids;
};

struct rab_info {
    std::string app_instance_id;
    std::string request_id;
    std::vector<rab_user> users;
    std::optional<time_stamp> timestamp;
};

result<cell_change_notification> parse_cell_change_notification(const json& body);
result<cell_change_subscription> parse_cell_change_subscription(const json& body);
result<rab_info> parse_rab_info(const json& body);
json to_json(const cell_change_subscription& s);

class rnis_client {
public:
    explicit rnis_client(client_options opts);

    /// GET /queries/rab_info?app_ins_id=..[&cell_id=..]
    result<rab_info> rab(const std::string& app_instance_id, const std::vector<std::string>& cell_ids = {});
    /// POST /subscriptions (CellChangeSubscription)
    result<cell_change_subscription> subscribe_cell_change(const cell_change_subscription& s);
    /// DELETE /subscriptions/{id}, by self URL or id.
    result<void> unsubscribe(const std::string& self_url_or_id);

    api_client& api() noexcept { return api_; }

private:
    api_client api_;
};

}  // namespace migrate::mec
