// migrate/mec/v2x.hpp — ETSI GS MEC 030 V2X Information Service client, the part a migration
// planner uses: predicted QoS along a vehicle's potential routes (POST /provide_predicted_qos).
// The platform answers, per route point, the radio quality it expects there (RSRP/RSRQ): where
// the service will be badly served, i.e. where and when a move should be done ahead.
//
// Flavours: the official v2.1.1 spec serves `vis/v1` and spells a route's points `routeinfo`;
// AdvantEDGE (the ETSI MEC Sandbox) serves `vis/v2` and spells them `routeInfo`. Answers are read
// in either spelling.
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

enum class v2x_flavour { etsi, advantedge };
std::string_view to_string(v2x_flavour f);   ///< "etsi", "advantedge"

/// One point of a potential route: where (geo area and/or cell), when, and — in the answer —
/// the predicted reference signal power and quality there.
struct route_point {
    std::optional<double> latitude;          ///< location.geoArea
    std::optional<double> longitude;
    std::optional<ecgi> cell;                ///< location.ecgi
    std::optional<time_stamp> time;          ///< when the vehicle is expected there
    std::optional<std::int64_t> rsrp;        ///< predicted; 0..97 as in MEC012 (answer only)
    std::optional<std::int64_t> rsrq;        ///< predicted; 0..34 (answer only)
};

/// PredictedQos: the request and the answer have the same shape.
struct predicted_qos {
    std::string location_granularity = "30";   ///< metres between points the platform resolves
    std::optional<time_stamp> time_granularity;
    std::vector<std::vector<route_point>> routes;

    /// As a request: `invalid_argument` naming the field (a route without points, a point
    /// without location, a latitude outside -90..90, rsrp/rsrq set: the spec keeps them for
    /// the answer).
    result<void> validate() const;
};

result<predicted_qos> parse_predicted_qos(const json& body);
json to_json(const predicted_qos& q, v2x_flavour f = v2x_flavour::etsi);

class v2x_client {
public:
    explicit v2x_client(client_options opts, v2x_flavour flavour = v2x_flavour::etsi);

    /// POST /provide_predicted_qos; the platform's prediction for every point. The request is
    /// validated first (`invalid_argument` without a request sent).
    result<predicted_qos> provide_predicted_qos(const predicted_qos& request);

    v2x_flavour flavour() const noexcept { return flavour_; }
    api_client& api() noexcept { return api_; }

private:
    v2x_flavour flavour_;
    api_client api_;
};

}  // namespace migrate::mec
