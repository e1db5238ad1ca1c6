// migrate/mec/scenario.hpp — a MEC mobility scenario as the ETSI MEC Sandbox (AdvantEDGE)
// describes it: zones of access points (4G/5G/WiFi, each with a position and a radius), edge
// hosts in zones, and UEs moving along paths at their velocities. Loaded from AdvantEDGE's
// scenario JSON (domains -> zones -> networkLocations -> physicalLocations); what
// migrate-mec-sim serves and what the viability benchmark replays.
//
// Mobility model (AdvantEDGE's GIS engine, reproduced):
// - a UE moves along its path (a point list) at `velocity` m/s from the path's first point; at
//   the end it starts over (LOOP) or goes back (REVERSE). A UE without path stays put.
// - serving access point: the one the sandbox's `selectPoa` picks. Among the access points in
//   range (distance <= radius) of a type the UE supports, the UE stays on its current one while
//   it is in range, unless a more localized type (the UE's wireless priority, default
//   wifi > 5g > 4g) is in range: then it takes the closest of that type. With no current one, it
//   takes the closest of the most localized type in range. With none in range, it has none.
//   (Chosen over "nearest in range" because it is what a sandbox user sees: a handover happens
//   when a cell is left, not at every midpoint between two cells.) The rule needs the previous
//   access point, hence `tracker`, which steps time forward.
// - its zone is the zone of its access point.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::mec {

struct geo_point {
    double longitude = 0;   ///< degrees, GeoJSON order: [longitude, latitude]
    double latitude = 0;
};

/// Great-circle distance in metres (haversine, mean Earth radius 6371 km).
double distance_m(geo_point a, geo_point b) noexcept;

enum class poa_type { cell_4g, cell_5g, wifi };
/// "POA-4G", "POA-5G", "POA-WIFI"
std::string_view to_string(poa_type t) noexcept;
inline std::string_view format_as(poa_type t) noexcept { return to_string(t); }

struct access_point {
    std::string id;          ///< the scenario's UUID
    std::string name;        ///< "4g-macro-cell-1": what the Location API calls accessPointId
    std::string zone;        ///< the zone's name
    poa_type type = poa_type::cell_4g;
    geo_point position;
    double radius_m = 0;
    std::string cell_id;     ///< 4G/5G: poa4GConfig/poa5GConfig.cellId
    std::string mac_id;      ///< WiFi: poaWifiConfig.macId
};

struct edge_host {
    std::string id;
    std::string name;        ///< "mep1"
    std::string zone;
    geo_point position;
};

struct zone {
    std::string id;
    std::string name;        ///< "zone01": what the Location API calls zoneId
    std::vector<std::string> access_points;   ///< names, scenario order
    std::vector<std::string> edge_hosts;      ///< names
};

enum class end_of_path { loop, reverse };

struct ue {
    std::string id;
    std::string name;        ///< "10.100.0.1" in the Monaco scenario (the sandbox names UEs by IP)
    geo_point start;         ///< geoData.location
    std::vector<geo_point> path;   ///< empty: the UE does not move
    double velocity_mps = 0;
    end_of_path eop = end_of_path::loop;
    std::vector<poa_type> wireless;   ///< priority order, most preferred first
    std::string initial_access_point;   ///< the networkLocation the scenario puts it under
    std::string map_icon;   ///< meta["display.map.icon"]: "ion-android-car", "ion-android-walk" (the sandbox's kind of UE)

    bool moving() const noexcept { return path.size() >= 2 && velocity_mps > 0; }
    /// Sum of the path's segment lengths, metres.
    double path_length_m() const noexcept;
};

class scenario {
public:
    /// `where` names the document in errors ("monaco.json: deployment.domains[1].zones[2]...").
    static result<scenario> parse(const json& doc, std::string_view where = "scenario");
    /// Reads and parses a file; `io_error` / `invalid_argument` naming the path.
    static result<scenario> load(const std::filesystem::path& file);

    const std::string& name() const noexcept { return name_; }
    const std::vector<zone>& zones() const noexcept { return zones_; }
    const std::vector<access_point>& access_points() const noexcept { return access_points_; }
    const std::vector<edge_host>& edge_hosts() const noexcept { return edge_hosts_; }
    const std::vector<ue>& ues() const noexcept { return ues_; }

    const zone* find_zone(std::string_view name) const noexcept;
    const access_point* find_access_point(std::string_view name) const noexcept;
    const ue* find_ue(std::string_view name) const noexcept;

    /// Where `u` is `t_s` seconds after the scenario starts (see the mobility model above).
    static geo_point position_at(const ue& u, double t_s) noexcept;
    /// The access point `u` at `where` selects, given the one it is on (`current`, may be
    /// empty): the sandbox rule above. Empty when none is in range.
    std::string select_access_point(const ue& u, geo_point where, std::string_view current) const;

private:
    std::string name_;
    std::vector<zone> zones_;
    std::vector<access_point> access_points_;
    std::vector<edge_host> edge_hosts_;
    std::vector<ue> ues_;
};

/// One UE's state at a time.
struct ue_state {
    std::string ue;
    geo_point position;
    std::string access_point;   ///< empty: out of coverage
    std::string zone;           ///< empty: out of coverage
};

/// Follows every UE of a scenario through time (the selection rule needs each UE's previous
/// access point). Not thread-safe: the emulator holds it under its own lock.
class tracker {
public:
    /// At t = 0 each UE is on the access point the selection rule gives from its scenario one.
    explicit tracker(const scenario& s);

    /// Moves time forward to `t_s` (seconds since start) in steps of at most `step_s` (the
    /// sandbox's GIS engine updates once a second), returning each change of access point or
    /// zone, in time order. `t_s` earlier than now is ignored.
    struct change {
        double t_s = 0;
        ue_state before;
        ue_state after;
    };
    std::vector<change> advance(double t_s, double step_s = 1.0);

    /// Puts `ue` on `access_point` now, whatever its position (the emulator's control
    /// endpoint): it keeps moving but stays on that access point until the next `force`; an
    /// empty `access_point` hands it back to the selection rule. `not_found` naming the UE or
    /// the access point.
    result<change> force(std::string_view ue, std::string_view access_point);

    double now() const noexcept { return now_; }
    const std::vector<ue_state>& states() const noexcept { return states_; }
    const ue_state* state(std::string_view ue) const noexcept;

private:
    ue_state evaluate(const ue& u, double t_s, const ue_state& previous) const;

    const scenario* s_;
    double now_ = 0;
    std::vector<ue_state> states_;        ///< scenario UE order
    std::vector<std::string> pinned_;     ///< forced access point per UE, empty when free
};

}  // namespace migrate::mec
