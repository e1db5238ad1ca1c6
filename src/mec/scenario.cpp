#include <migrate/mec/scenario.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace migrate::mec {

double distance_m(geo_point a, geo_point b) noexcept {
    constexpr double earth_radius_m = 6371000.0;
    constexpr double rad = 3.14159265358979323846 / 180.0;
    double dlat = (b.latitude - a.latitude) * rad, dlon = (b.longitude - a.longitude) * rad;
    double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
               std::cos(a.latitude * rad) * std::cos(b.latitude * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * earth_radius_m * std::asin(std::min(1.0, std::sqrt(h)));
}

std::string_view to_string(poa_type t) noexcept {
    switch (t) {
        case poa_type::cell_4g: return "POA-4G";
        case poa_type::cell_5g: return "POA-5G";
        case poa_type::wifi: return "POA-WIFI";
    }
    return "POA-?";
}

double ue::path_length_m() const noexcept {
    double total = 0;
    for (std::size_t i = 1; i < path.size(); ++i) total += distance_m(path[i - 1], path[i]);
    return total;
}

// ---- parsing --------------------------------------------------------------------------------

namespace {

struct bad_document {
    std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& why) { throw bad_document{fmt::format("{}: {}", where, why)}; }

const json& member(const json& j, const std::string& where, const char* key) {
    if (!j.is_object()) fail(where, "expected an object");
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) fail(fmt::format("{}.{}", where, key), "missing");
    return *it;
}

std::string text(const json& j, const std::string& where, const char* key) {
    auto& v = member(j, where, key);
    if (!v.is_string()) fail(fmt::format("{}.{}", where, key), fmt::format("expected a string, got {}", v.type_name()));
    return v.get<std::string>();
}

std::string optional_text(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

const json& optional_list(const json& j, const char* key) {
    static const json empty = json::array();
    auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : empty;
}

geo_point point(const json& coords, const std::string& where) {
    if (!coords.is_array() || coords.size() < 2 || !coords[0].is_number() || !coords[1].is_number())
        fail(where, "expected [longitude, latitude]");
    geo_point p{coords[0].get<double>(), coords[1].get<double>()};
    if (std::abs(p.longitude) > 180 || std::abs(p.latitude) > 90)
        fail(where, fmt::format("[{}, {}] is not a longitude, latitude", p.longitude, p.latitude));
    return p;
}

geo_point location(const json& geo, const std::string& where) {
    auto& loc = member(geo, where, "location");
    return point(member(loc, where + ".location", "coordinates"), where + ".location.coordinates");
}

double number(const json& j, const std::string& where, const char* key) {
    auto& v = member(j, where, key);
    if (!v.is_number()) fail(fmt::format("{}.{}", where, key), fmt::format("expected a number, got {}", v.type_name()));
    return v.get<double>();
}

std::optional<poa_type> poa_type_of(std::string_view network_location_type) {
    if (network_location_type == "POA-4G" || network_location_type == "POA-4G-MACRO") return poa_type::cell_4g;
    if (network_location_type == "POA-5G") return poa_type::cell_5g;
    if (network_location_type == "POA-WIFI") return poa_type::wifi;
    return std::nullopt;
}

std::vector<poa_type> wireless_priority(const std::string& wireless_type, const std::string& where) {
    // The sandbox's default when a UE names none: the most localized first.
    if (wireless_type.empty()) return {poa_type::wifi, poa_type::cell_5g, poa_type::cell_4g};
    std::vector<poa_type> out;
    std::stringstream in(wireless_type);
    for (std::string item; std::getline(in, item, ',');) {
        if (item == "wifi") out.push_back(poa_type::wifi);
        else if (item == "5g") out.push_back(poa_type::cell_5g);
        else if (item == "4g") out.push_back(poa_type::cell_4g);
        else if (!item.empty() && item != "other") fail(where + ".wirelessType", fmt::format("unknown type '{}' in '{}'", item, wireless_type));
    }
    return out;
}

ue parse_ue(const json& pl, const std::string& where, const std::string& under) {
    ue u;
    u.id = optional_text(pl, "id");
    u.name = text(pl, where, "name");
    auto& geo = member(pl, where, "geoData");
    u.start = location(geo, where + ".geoData");
    if (auto p = geo.find("path"); p != geo.end() && p->is_object()) {
        auto& coords = member(*p, where + ".geoData.path", "coordinates");
        if (!coords.is_array()) fail(where + ".geoData.path.coordinates", "expected a list of points");
        for (std::size_t i = 0; i < coords.size(); ++i)
            u.path.push_back(point(coords[i], fmt::format("{}.geoData.path.coordinates[{}]", where, i)));
        if (auto v = geo.find("velocity"); v != geo.end() && !v->is_null()) {
            if (!v->is_number() || v->get<double>() < 0) fail(where + ".geoData.velocity", "expected a number >= 0 (m/s)");
            u.velocity_mps = v->get<double>();
        }
        auto mode = optional_text(geo, "eopMode");
        if (mode.empty() || mode == "LOOP") u.eop = end_of_path::loop;
        else if (mode == "REVERSE") u.eop = end_of_path::reverse;
        else fail(where + ".geoData.eopMode", fmt::format("'{}' is neither LOOP nor REVERSE", mode));
    }
    u.wireless = wireless_priority(optional_text(pl, "wirelessType"), where);
    u.initial_access_point = under;
    if (auto m = pl.find("meta"); m != pl.end() && m->is_object()) u.map_icon = optional_text(*m, "display.map.icon");
    return u;
}

}  // namespace

result<scenario> scenario::parse(const json& doc, std::string_view where_name) {
    scenario s;
    std::string root{where_name};
    try {
        s.name_ = optional_text(doc, "name");
        auto& domains = member(member(doc, root, "deployment"), root + ".deployment", "domains");
        if (!domains.is_array()) fail(root + ".deployment.domains", "expected a list");
        for (std::size_t d = 0; d < domains.size(); ++d) {
            auto dw = fmt::format("{}.deployment.domains[{}]", root, d);
            auto& zones = optional_list(domains[d], "zones");
            for (std::size_t z = 0; z < zones.size(); ++z) {
                auto zw = fmt::format("{}.zones[{}]", dw, z);
                bool is_zone = optional_text(zones[z], "type") == "ZONE";
                zone zn;
                if (is_zone) {
                    zn.id = optional_text(zones[z], "id");
                    zn.name = text(zones[z], zw, "name");
                }
                auto& nls = optional_list(zones[z], "networkLocations");
                for (std::size_t n = 0; n < nls.size(); ++n) {
                    auto nw = fmt::format("{}.networkLocations[{}]", zw, n);
                    auto& nl = nls[n];
                    auto type = poa_type_of(optional_text(nl, "type"));
                    std::string ap_name;
                    if (type && is_zone) {
                        access_point ap;
                        ap.id = optional_text(nl, "id");
                        ap.name = ap_name = text(nl, nw, "name");
                        ap.zone = zn.name;
                        ap.type = *type;
                        auto& geo = member(nl, nw, "geoData");
                        ap.position = location(geo, nw + ".geoData");
                        ap.radius_m = number(geo, nw + ".geoData", "radius");
                        if (ap.radius_m <= 0) fail(nw + ".geoData.radius", "must be positive (metres)");
                        for (auto* cfg : {"poa4GConfig", "poa5GConfig", "cellularPoaConfig"})
                            if (auto c = nl.find(cfg); c != nl.end() && c->is_object() && ap.cell_id.empty()) ap.cell_id = optional_text(*c, "cellId");
                        if (auto c = nl.find("poaWifiConfig"); c != nl.end() && c->is_object()) ap.mac_id = optional_text(*c, "macId");
                        zn.access_points.push_back(ap.name);
                        s.access_points_.push_back(std::move(ap));
                    }
                    auto& pls = optional_list(nl, "physicalLocations");
                    for (std::size_t p = 0; p < pls.size(); ++p) {
                        auto pw = fmt::format("{}.physicalLocations[{}]", nw, p);
                        auto pl_type = optional_text(pls[p], "type");
                        if (pl_type == "UE") {
                            s.ues_.push_back(parse_ue(pls[p], pw, ap_name));
                        } else if (pl_type == "EDGE" && is_zone) {
                            edge_host e;
                            e.id = optional_text(pls[p], "id");
                            e.name = text(pls[p], pw, "name");
                            e.zone = zn.name;
                            e.position = location(member(pls[p], pw, "geoData"), pw + ".geoData");
                            zn.edge_hosts.push_back(e.name);
                            s.edge_hosts_.push_back(std::move(e));
                        }
                    }
                }
                if (is_zone) s.zones_.push_back(std::move(zn));
            }
        }
    } catch (const bad_document& e) {
        return make_failure(error::invalid_argument, e.message);
    }
    auto unique = [&](auto& items, const char* what) -> result<void> {
        for (std::size_t i = 0; i < items.size(); ++i)
            for (std::size_t j = i + 1; j < items.size(); ++j)
                if (items[i].name == items[j].name)
                    return make_failure(error::invalid_argument, fmt::format("{}: two {} named '{}'", root, what, items[i].name));
        return ok();
    };
    MIGRATE_TRY(unique(s.zones_, "zones"));
    MIGRATE_TRY(unique(s.access_points_, "access points"));
    MIGRATE_TRY(unique(s.ues_, "UEs"));
    return s;
}

result<scenario> scenario::load(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return make_failure(error::io_error, fmt::format("scenario {}: cannot open", file.string()));
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::exception& e) {
        return make_failure(error::invalid_argument, fmt::format("scenario {}: not JSON: {}", file.string(), e.what()));
    }
    return parse(doc, file.filename().string());
}

const zone* scenario::find_zone(std::string_view name) const noexcept {
    for (auto& z : zones_)
        if (z.name == name) return &z;
    return nullptr;
}

const access_point* scenario::find_access_point(std::string_view name) const noexcept {
    for (auto& a : access_points_)
        if (a.name == name) return &a;
    return nullptr;
}

const ue* scenario::find_ue(std::string_view name) const noexcept {
    for (auto& u : ues_)
        if (u.name == name) return &u;
    return nullptr;
}

// ---- mobility -------------------------------------------------------------------------------

geo_point scenario::position_at(const ue& u, double t_s) noexcept {
    if (!u.moving()) return u.path.empty() ? u.start : u.path.front();
    double length = u.path_length_m();
    if (length <= 0) return u.path.front();
    double d = u.velocity_mps * std::max(0.0, t_s);
    if (u.eop == end_of_path::loop) {
        d = std::fmod(d, length);
    } else {
        d = std::fmod(d, 2 * length);
        if (d > length) d = 2 * length - d;
    }
    for (std::size_t i = 1; i < u.path.size(); ++i) {
        double seg = distance_m(u.path[i - 1], u.path[i]);
        if (d <= seg && seg > 0) {
            double f = d / seg;
            return {u.path[i - 1].longitude + f * (u.path[i].longitude - u.path[i - 1].longitude),
                    u.path[i - 1].latitude + f * (u.path[i].latitude - u.path[i - 1].latitude)};
        }
        d -= seg;
    }
    return u.path.back();
}

std::string scenario::select_access_point(const ue& u, geo_point where, std::string_view current) const {
    auto rank = [&](poa_type t) -> int {   // lower = more localized for this UE; -1 unsupported
        auto it = std::find(u.wireless.begin(), u.wireless.end(), t);
        return it == u.wireless.end() ? -1 : static_cast<int>(it - u.wireless.begin());
    };
    const access_point* best = nullptr;
    double best_distance = 0;
    int best_rank = 0;
    const access_point* kept = nullptr;
    for (auto& ap : access_points_) {
        int r = rank(ap.type);
        if (r < 0) continue;
        double d = distance_m(where, ap.position);
        if (d > ap.radius_m) continue;
        if (ap.name == current) kept = &ap;
        if (!best || r < best_rank || (r == best_rank && d < best_distance)) {
            best = &ap;
            best_distance = d;
            best_rank = r;
        }
    }
    if (!best) return {};
    // Stay while in range unless a more localized type is in range.
    if (kept && rank(kept->type) <= best_rank) return kept->name;
    return best->name;
}

tracker::tracker(const scenario& s) : s_(&s) {
    for (auto& u : s.ues()) {
        ue_state start;
        start.ue = u.name;
        start.access_point = u.initial_access_point;
        states_.push_back(evaluate(u, 0, start));
        pinned_.emplace_back();
    }
}

ue_state tracker::evaluate(const ue& u, double t_s, const ue_state& previous) const {
    ue_state next;
    next.ue = u.name;
    next.position = scenario::position_at(u, t_s);
    next.access_point = s_->select_access_point(u, next.position, previous.access_point);
    if (auto* ap = s_->find_access_point(next.access_point)) next.zone = ap->zone;
    return next;
}

std::vector<tracker::change> tracker::advance(double t_s, double step_s) {
    std::vector<change> out;
    if (!(step_s > 0)) step_s = 1.0;
    while (now_ < t_s) {
        double t = std::min(t_s, now_ + step_s);
        for (std::size_t i = 0; i < states_.size(); ++i) {
            auto& u = s_->ues()[i];
            ue_state next = states_[i];
            if (!pinned_[i].empty()) {
                next.position = scenario::position_at(u, t);
            } else {
                next = evaluate(u, t, states_[i]);
            }
            if (next.access_point != states_[i].access_point || next.zone != states_[i].zone)
                out.push_back({t, states_[i], next});
            states_[i] = std::move(next);
        }
        now_ = t;
    }
    return out;
}

result<tracker::change> tracker::force(std::string_view ue_name, std::string_view ap_name) {
    auto& ues = s_->ues();
    auto it = std::find_if(ues.begin(), ues.end(), [&](const ue& u) { return u.name == ue_name; });
    if (it == ues.end()) return make_failure(error::not_found, fmt::format("no UE '{}' in scenario '{}'", ue_name, s_->name()));
    auto i = static_cast<std::size_t>(it - ues.begin());
    change c{now_, states_[i], states_[i]};
    if (ap_name.empty()) {   // back to the mobility model
        pinned_[i].clear();
        c.after = evaluate(*it, now_, states_[i]);
    } else {
        auto* ap = s_->find_access_point(ap_name);
        if (!ap) return make_failure(error::not_found, fmt::format("no access point '{}' in scenario '{}'", ap_name, s_->name()));
        pinned_[i] = ap->name;
        c.after.access_point = ap->name;
        c.after.zone = ap->zone;
    }
    states_[i] = c.after;
    return c;
}

const ue_state* tracker::state(std::string_view ue) const noexcept {
    for (auto& s : states_)
        if (s.ue == ue) return &s;
    return nullptr;
}

}  // namespace migrate::mec
