#include <migrate/mec/v2x.hpp>

#include "ecgi_json.hpp"
#include "json_reader.hpp"

#include <fmt/format.h>

namespace migrate::mec {

using detail::bad_field;
using detail::ecgi_json;
using detail::parse_guarded;
using detail::read_ecgi;
using detail::read_time;
using detail::reader;
using detail::reply_as;
using detail::time_json;

std::string_view to_string(v2x_flavour f) { return f == v2x_flavour::etsi ? "etsi" : "advantedge"; }

result<void> predicted_qos::validate() const {
    auto bad = [](const std::string& field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("predicted_qos.{}: {}", field, why));
    };
    if (location_granularity.empty()) return bad("location_granularity", "must not be empty");
    if (routes.empty()) return bad("routes", "must name at least one route");
    for (std::size_t i = 0; i < routes.size(); ++i) {
        // The spec: the first point is the origin, the last the destination (2..N points).
        if (routes[i].size() < 2)
            return bad(fmt::format("routes[{}]", i), fmt::format("has {} point(s); a route needs its origin and destination", routes[i].size()));
        for (std::size_t k = 0; k < routes[i].size(); ++k) {
            const auto& p = routes[i][k];
            auto where = fmt::format("routes[{}][{}]", i, k);
            if (p.latitude.has_value() != p.longitude.has_value())
                return bad(where, "latitude and longitude go together");
            if (!p.latitude && !p.cell) return bad(where, "needs a location: latitude/longitude or a cell");
            if (p.latitude && !(*p.latitude >= -90 && *p.latitude <= 90))
                return bad(where + ".latitude", fmt::format("{} is outside -90..90", *p.latitude));
            if (p.rsrp || p.rsrq) return bad(where, "rsrp/rsrq are the platform's answer, not part of a request");
            if (p.longitude && !(*p.longitude >= -180 && *p.longitude <= 180))
                return bad(where + ".longitude", fmt::format("{} is outside -180..180", *p.longitude));
        }
    }
    return ok();
}

namespace {

// MEC030 wraps the cell identity in a CellId object ({"cellId": {"cellId": "..."}}) where MEC012
// writes the string itself.
json v2x_ecgi_json(const ecgi& e) {
    json j = ecgi_json(e);
    j["cellId"] = json{{"cellId", e.cell_id}};
    return j;
}

ecgi read_v2x_ecgi(const reader& r) {
    auto cell = r.raw().find("cellId");
    if (cell != r.raw().end() && cell->is_object()) {
        ecgi e;
        e.cell_id = r.object("cellId").str("cellId");
        auto plmn = r.object("plmn");
        e.mcc = plmn.str("mcc");
        e.mnc = plmn.str("mnc");
        return e;
    }
    return read_ecgi(r);   // a plain string, as some platforms write it
}

}  // namespace

json to_json(const predicted_qos& q, v2x_flavour f) {
    const char* points_key = f == v2x_flavour::etsi ? "routeinfo" : "routeInfo";
    json routes = json::array();
    for (const auto& route : q.routes) {
        json points = json::array();
        for (const auto& p : route) {
            json location = json::object();
            if (p.latitude) location["geoArea"] = {{"latitude", *p.latitude}, {"longitude", *p.longitude}};
            if (p.cell) location["ecgi"] = v2x_ecgi_json(*p.cell);
            json point{{"location", location}};
            if (p.time) point["time"] = time_json(*p.time);
            if (p.rsrp) point["rsrp"] = *p.rsrp;
            if (p.rsrq) point["rsrq"] = *p.rsrq;
            points.push_back(std::move(point));
        }
        routes.push_back({{points_key, std::move(points)}});
    }
    json j{{"locationGranularity", q.location_granularity}, {"routes", std::move(routes)}};
    if (q.time_granularity) j["timeGranularity"] = time_json(*q.time_granularity);
    return j;
}

namespace {

route_point read_point(const reader& r) {
    route_point p;
    auto location = r.object("location");
    if (auto geo = location.opt_object("geoArea")) {
        p.latitude = geo->opt_number("latitude");
        p.longitude = geo->opt_number("longitude");
        if (!p.latitude) bad_field(geo->at_ptr("latitude"), "missing");
        if (!p.longitude) bad_field(geo->at_ptr("longitude"), "missing");
    }
    if (auto cell = location.opt_object("ecgi")) p.cell = read_v2x_ecgi(*cell);
    if (auto t = r.opt_object("time")) p.time = read_time(*t);
    p.rsrp = r.opt_integer("rsrp");
    p.rsrq = r.opt_integer("rsrq");
    return p;
}

}  // namespace

result<predicted_qos> parse_predicted_qos(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        predicted_qos q;
        q.location_granularity = r.str("locationGranularity");
        if (auto t = r.opt_object("timeGranularity")) q.time_granularity = read_time(*t);
        if (!r.has("routes")) bad_field(r.at_ptr("routes"), "missing");
        q.routes = r.objects("routes", [](const reader& route) {
            // The spec's `routeinfo`, AdvantEDGE's `routeInfo`.
            const char* key = route.has("routeinfo") ? "routeinfo" : "routeInfo";
            if (!route.has(key)) bad_field(route.at_ptr("routeinfo"), "missing");
            return route.objects(key, read_point);
        });
        return q;
    });
}

v2x_client::v2x_client(client_options opts, v2x_flavour flavour)
    : flavour_(flavour), api_(std::move(opts), flavour == v2x_flavour::etsi ? "vis/v1" : "vis/v2") {}

result<predicted_qos> v2x_client::provide_predicted_qos(const predicted_qos& request) {
    if (auto v = request.validate(); !v) return v.error();
    const std::string p = "/provide_predicted_qos";
    return reply_as<predicted_qos>(api_, "POST", p, api_.call("POST", p, to_json(request, flavour_)), parse_predicted_qos);
}

}  // namespace migrate::mec
