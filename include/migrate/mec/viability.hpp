// migrate/mec/viability.hpp — how long a UE stays where one edge host could serve it, from a
// replayed mobility scenario, and whether a migration fits in that time.
//
// If an edge host served each 5G access point (or each access point, or each zone), the UE's
// service would move every time the UE changes access point (zone), and each move has until
// the UE's next change to finish. The replay steps the scenario's `tracker` (the sandbox's
// selectPoa rule, mec/scenario.hpp) in simulated time, cuts each UE's timeline into stays
// (one access point, one zone) and compares their lengths with a strategy's measured
// pre-relocation + relocation time (bench_thesis_grid's results.json).
//
// Censoring: a stay in progress when the replay starts or ends has an unknown length (the UE
// was there before t = 0, or is still there at the end). Such stays are kept in `stays` with
// `censored` set, and left out of every statistic and share. A UE that never changes access
// point (a camera) thus contributes no complete stay.
//
// Resolution: the tracker moves in steps of `step_s`; a change is seen at the first step
// after it happens, so every stay's length is exact to within one step.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/scenario.hpp>
#include <migrate/result.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::mec {

/// What kind of UE the scenario describes, from its map icon (the sandbox's frontend draws a
/// car or a walker): `vehicle` ("ion-android-car"), `pedestrian` ("ion-android-walk"); any
/// other UE that does not move is `stationary`, one that moves `other`.
enum class ue_kind { vehicle, pedestrian, stationary, other };
/// "vehicle", "pedestrian", "stationary", "other"
std::string_view to_string(ue_kind k) noexcept;
inline std::string_view format_as(ue_kind k) noexcept { return to_string(k); }
std::optional<ue_kind> ue_kind_from_string(std::string_view s) noexcept;
ue_kind kind_of(const ue& u) noexcept;
/// Seconds of one period of `u`'s path: once along (LOOP), there and back (REVERSE); 0 for a
/// UE that does not move.
double path_period_s(const ue& u) noexcept;

/// Where an edge host would be: at each access point of one radio type, at every access point
/// whatever its type, or one per zone.
enum class granularity { ap_4g, ap_5g, ap_wifi, any_ap, zone };
/// "4g_ap", "5g_ap", "wifi_ap", "any_ap", "zone"
std::string_view to_string(granularity g) noexcept;
inline std::string_view format_as(granularity g) noexcept { return to_string(g); }
std::optional<granularity> granularity_from_string(std::string_view s) noexcept;
/// The granularity of a stay on an access point of type `t` (ap_4g, ap_5g or ap_wifi).
granularity granularity_of(poa_type t) noexcept;

struct replay_options {
    /// The replay lasts this many periods of the slowest moving UE's path (a period: once
    /// along a LOOP path, there and back on a REVERSE one), so every UE goes round at least
    /// this often. Ignored when `duration_s` > 0.
    double loops = 3;
    /// The replay's length in simulated seconds; 0: from `loops`.
    double duration_s = 0;
    /// The tracker's time step (the sandbox's GIS engine: 1 s): each stay's length is exact to
    /// within one step.
    double step_s = 0.1;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

/// One UE's stay on one access point (level ap_4g / ap_5g / ap_wifi: the access point's type)
/// or in one zone (level zone).
struct stay {
    std::string ue;
    ue_kind kind = ue_kind::other;
    granularity level = granularity::any_ap;
    std::string where;        ///< the access point's or the zone's name
    double start_s = 0;       ///< scenario seconds; a censored stay may start at 0
    double end_s = 0;         ///< a censored stay may end at the replay's end
    bool censored = false;    ///< in progress at the replay's start or end: length unknown

    double seconds() const noexcept { return end_s - start_s; }
    /// Whether this stay counts at `g` (any_ap takes the stays on every type of access point).
    bool at(granularity g) const noexcept;
};

/// Count and lengths of complete stays; every figure 0 when `count` is 0.
struct dwell_stats {
    std::size_t count = 0;      ///< complete stays
    std::size_t censored = 0;   ///< stays left out: cut by the replay's start or end
    double mean_s = 0, min_s = 0, p5_s = 0, median_s = 0, max_s = 0;
};

/// Percentile `p` (0..100) by linear interpolation between the closest ranks; 0 for none.
double percentile(std::vector<double> values, double p);

struct dwell_replay {
    std::string scenario;
    double duration_s = 0;
    double step_s = 0;
    std::vector<stay> stays;   ///< every stay, censored ones included, ordered by UE then start

    /// The lengths of the complete stays at `g` of UEs of `kind` (or of the UE named `ue`).
    std::vector<double> seconds(ue_kind kind, granularity g) const;
    std::vector<double> seconds_of(std::string_view ue, granularity g) const;
    dwell_stats stats(ue_kind kind, granularity g) const;
    dwell_stats stats_of(std::string_view ue, granularity g) const;
};

/// Replays `s` from t = 0 for the options' duration (no sleeping: simulated time).
/// `invalid_argument` for bad options, or when `loops` is used and no UE moves.
result<dwell_replay> replay_dwell(const scenario& s, const replay_options& o = {});

/// The time one method (a strategy, or the grid's raw procedure "raw-M1"...) took for one
/// workload on one link: the grid's medians of the pre-relocation and the relocation stage.
struct migration_time {
    std::string method;     ///< "checkpoint", "raw-M3"
    std::string workload;   ///< "a1", "a2", "a3"
    std::string link;       ///< "normal", "congested"
    double prepare_ms = 0;
    double relocate_ms = 0;
    int runs = 0, ok = 0;

    /// What a stay must last for the move to finish before the UE leaves.
    double total_s() const noexcept { return (prepare_ms + relocate_ms) / 1000.0; }
};

/// The `medians` of a results.json that bench_thesis_grid wrote; cells without a successful
/// run are skipped. `invalid_argument` naming the field ("grid.json: medians[3].prepare_ms").
result<std::vector<migration_time>> parse_grid_report(const json& doc, std::string_view where = "grid report");
/// Reads and parses the file; `io_error` / `invalid_argument` naming the path.
result<std::vector<migration_time>> load_grid_report(const std::filesystem::path& file);

/// One method's chance against one kind of UE at one granularity.
struct viable_share {
    migration_time time;
    ue_kind kind = ue_kind::other;
    granularity level = granularity::any_ap;
    std::size_t stays = 0;                    ///< complete stays
    std::size_t long_enough = 0;              ///< stays >= pre-relocation + relocation
    std::size_t long_enough_relocation = 0;   ///< stays >= relocation alone (the pre-relocation ran
                                              ///< before the handover, e.g. on an early warning)

    double share() const noexcept { return stays ? double(long_enough) / double(stays) : 0; }
    double share_relocation() const noexcept { return stays ? double(long_enough_relocation) / double(stays) : 0; }
};

/// For every time x kind x granularity with at least one complete stay: how many stays are
/// at least as long as the move. Order: times as given, then kind, then granularity.
std::vector<viable_share> viable_shares(const dwell_replay& r, const std::vector<migration_time>& times);

void to_json(json& j, const stay& s);
void to_json(json& j, const dwell_stats& s);
void to_json(json& j, const migration_time& t);
void to_json(json& j, const viable_share& v);

}  // namespace migrate::mec
