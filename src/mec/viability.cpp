#include <migrate/mec/viability.hpp>

#include "json_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <unordered_map>

namespace migrate::mec {

std::string_view to_string(ue_kind k) noexcept {
    switch (k) {
        case ue_kind::vehicle: return "vehicle";
        case ue_kind::pedestrian: return "pedestrian";
        case ue_kind::stationary: return "stationary";
        case ue_kind::other: return "other";
    }
    return "other";
}

std::optional<ue_kind> ue_kind_from_string(std::string_view s) noexcept {
    for (auto k : {ue_kind::vehicle, ue_kind::pedestrian, ue_kind::stationary, ue_kind::other})
        if (to_string(k) == s) return k;
    return std::nullopt;
}

ue_kind kind_of(const ue& u) noexcept {
    if (u.map_icon == "ion-android-car") return ue_kind::vehicle;
    if (u.map_icon == "ion-android-walk") return ue_kind::pedestrian;
    return u.moving() ? ue_kind::other : ue_kind::stationary;
}

std::string_view to_string(granularity g) noexcept {
    switch (g) {
        case granularity::ap_4g: return "4g_ap";
        case granularity::ap_5g: return "5g_ap";
        case granularity::ap_wifi: return "wifi_ap";
        case granularity::any_ap: return "any_ap";
        case granularity::zone: return "zone";
    }
    return "any_ap";
}

std::optional<granularity> granularity_from_string(std::string_view s) noexcept {
    for (auto g : {granularity::ap_4g, granularity::ap_5g, granularity::ap_wifi, granularity::any_ap, granularity::zone})
        if (to_string(g) == s) return g;
    return std::nullopt;
}

double path_period_s(const ue& u) noexcept {
    if (!u.moving()) return 0;
    double once = u.path_length_m() / u.velocity_mps;
    return u.eop == end_of_path::reverse ? 2 * once : once;
}

granularity granularity_of(poa_type t) noexcept {
    switch (t) {
        case poa_type::cell_4g: return granularity::ap_4g;
        case poa_type::cell_5g: return granularity::ap_5g;
        case poa_type::wifi: return granularity::ap_wifi;
    }
    return granularity::any_ap;
}

bool stay::at(granularity g) const noexcept {
    if (g == granularity::any_ap) return level != granularity::zone;
    return level == g;
}

result<void> replay_options::validate() const {
    if (!std::isfinite(step_s) || step_s <= 0)
        return make_failure(error::invalid_argument, fmt::format("replay_options.step_s: {} is not a positive number of seconds", step_s));
    if (!std::isfinite(duration_s) || duration_s < 0)
        return make_failure(error::invalid_argument, fmt::format("replay_options.duration_s: {} is negative or not finite", duration_s));
    if (duration_s == 0 && (!std::isfinite(loops) || loops <= 0))
        return make_failure(error::invalid_argument, fmt::format("replay_options.loops: {} is not positive (and duration_s is 0)", loops));
    return ok();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(rank));
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (rank - double(lo));
}

namespace {

dwell_stats summarize(std::vector<double> v, std::size_t censored) {
    dwell_stats s;
    s.count = v.size();
    s.censored = censored;
    if (v.empty()) return s;
    s.mean_s = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    s.min_s = *std::min_element(v.begin(), v.end());
    s.max_s = *std::max_element(v.begin(), v.end());
    s.p5_s = percentile(v, 5);
    s.median_s = percentile(std::move(v), 50);
    return s;
}

template <class Pred>
std::pair<std::vector<double>, std::size_t> lengths(const std::vector<stay>& stays, granularity g, Pred pick) {
    std::pair<std::vector<double>, std::size_t> out;
    for (auto& s : stays) {
        if (!s.at(g) || !pick(s)) continue;
        if (s.censored) ++out.second;
        else out.first.push_back(s.seconds());
    }
    return out;
}

}  // namespace

std::vector<double> dwell_replay::seconds(ue_kind kind, granularity g) const {
    return lengths(stays, g, [&](const stay& s) { return s.kind == kind; }).first;
}
std::vector<double> dwell_replay::seconds_of(std::string_view ue, granularity g) const {
    return lengths(stays, g, [&](const stay& s) { return s.ue == ue; }).first;
}
dwell_stats dwell_replay::stats(ue_kind kind, granularity g) const {
    auto [v, censored] = lengths(stays, g, [&](const stay& s) { return s.kind == kind; });
    return summarize(std::move(v), censored);
}
dwell_stats dwell_replay::stats_of(std::string_view ue, granularity g) const {
    auto [v, censored] = lengths(stays, g, [&](const stay& s) { return s.ue == ue; });
    return summarize(std::move(v), censored);
}

result<dwell_replay> replay_dwell(const scenario& s, const replay_options& o) {
    MIGRATE_TRY(o.validate());
    dwell_replay r;
    r.scenario = s.name();
    r.step_s = o.step_s;
    r.duration_s = o.duration_s;
    if (r.duration_s == 0) {
        double longest = 0;
        for (auto& u : s.ues())
            if (u.moving()) longest = std::max(longest, path_period_s(u));
        if (longest <= 0)
            return make_failure(error::invalid_argument,
                                fmt::format("scenario '{}': no UE moves, so 'loops' gives no duration (set duration_s)", s.name()));
        r.duration_s = o.loops * longest;
    }

    // Per UE: the stays so far, and the open access point / zone stay (index into them).
    struct timeline {
        ue_kind kind;
        std::vector<stay> stays;
        std::optional<std::size_t> ap, zone;
    };
    std::vector<timeline> lines;
    std::unordered_map<std::string, std::size_t> index;
    tracker t(s);
    auto open = [&](timeline& l, granularity level, const std::string& ue, const std::string& where, double at) {
        l.stays.push_back({.ue = ue, .kind = l.kind, .level = level, .where = where, .start_s = at, .end_s = at,
                           .censored = at == 0});
        return l.stays.size() - 1;
    };
    auto ap_level = [&](const std::string& ap) {
        auto* a = s.find_access_point(ap);
        return a ? granularity_of(a->type) : granularity::any_ap;
    };
    for (std::size_t i = 0; i < s.ues().size(); ++i) {
        auto& st = t.states()[i];
        timeline l{kind_of(s.ues()[i]), {}, {}, {}};
        if (!st.access_point.empty()) l.ap = open(l, ap_level(st.access_point), st.ue, st.access_point, 0);
        if (!st.zone.empty()) l.zone = open(l, granularity::zone, st.ue, st.zone, 0);
        index.emplace(st.ue, i);
        lines.push_back(std::move(l));
    }
    auto close = [](timeline& l, std::optional<std::size_t>& which, double at) {
        if (!which) return;
        l.stays[*which].end_s = at;
        which.reset();
    };
    for (auto& c : t.advance(r.duration_s, o.step_s)) {
        auto& l = lines[index.at(c.after.ue)];
        if (c.before.access_point != c.after.access_point) {
            close(l, l.ap, c.t_s);
            if (!c.after.access_point.empty())
                l.ap = open(l, ap_level(c.after.access_point), c.after.ue, c.after.access_point, c.t_s);
        }
        if (c.before.zone != c.after.zone) {
            close(l, l.zone, c.t_s);
            if (!c.after.zone.empty()) l.zone = open(l, granularity::zone, c.after.ue, c.after.zone, c.t_s);
        }
    }
    for (auto& l : lines) {
        for (auto* which : {&l.ap, &l.zone}) {
            if (!*which) continue;
            l.stays[**which].censored = true;   // still there when the replay ends
            close(l, *which, r.duration_s);
        }
        std::stable_sort(l.stays.begin(), l.stays.end(), [](const stay& a, const stay& b) { return a.start_s < b.start_s; });
        for (auto& st : l.stays) r.stays.push_back(std::move(st));
    }
    return r;
}

// ---- the grid's measurements ----------------------------------------------------------------

result<std::vector<migration_time>> parse_grid_report(const json& doc, std::string_view where) {
    std::vector<migration_time> out;
    try {
        detail::reader root(doc, "");
        if (!root.has("medians")) detail::bad_field("/medians", "missing (not a bench_thesis_grid results.json?)");
        auto cells = root.objects("medians", [](const detail::reader& m) {
            migration_time t;
            t.method = m.str("method");
            t.workload = m.str("workload");
            t.link = m.str("link");
            t.runs = static_cast<int>(m.integer("runs"));
            t.ok = static_cast<int>(m.integer("ok"));
            auto number = [&](const char* key) {
                auto v = m.opt_number(key);
                if (!v) detail::bad_field(m.at_ptr(key), "missing");
                if (*v < 0) detail::bad_field(m.at_ptr(key), fmt::format("{} is negative", *v));
                return *v;
            };
            t.prepare_ms = number("prepare_ms");
            t.relocate_ms = number("relocate_ms");
            return t;
        });
        for (auto& t : cells)
            if (t.ok > 0) out.push_back(std::move(t));
    } catch (const migration_error& e) {
        return make_failure(error::invalid_argument, fmt::format("{}: {}", where, e.details().message));
    }
    return out;
}

result<std::vector<migration_time>> load_grid_report(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return make_failure(error::io_error, fmt::format("grid report {}: cannot open", file.string()));
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::exception& e) {
        return make_failure(error::invalid_argument, fmt::format("grid report {}: not JSON: {}", file.string(), e.what()));
    }
    return parse_grid_report(doc, file.string());
}

std::vector<viable_share> viable_shares(const dwell_replay& r, const std::vector<migration_time>& times) {
    std::vector<viable_share> out;
    for (auto& t : times) {
        for (auto kind : {ue_kind::vehicle, ue_kind::pedestrian, ue_kind::other, ue_kind::stationary}) {
            for (auto g : {granularity::ap_5g, granularity::ap_4g, granularity::ap_wifi, granularity::any_ap, granularity::zone}) {
                auto v = r.seconds(kind, g);
                if (v.empty()) continue;
                viable_share s{.time = t, .kind = kind, .level = g, .stays = v.size()};
                const double total = t.total_s(), relocation = t.relocate_ms / 1000.0;
                s.long_enough = static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [&](double d) { return d >= total; }));
                s.long_enough_relocation =
                    static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [&](double d) { return d >= relocation; }));
                out.push_back(std::move(s));
            }
        }
    }
    return out;
}

// ---- JSON -------------------------------------------------------------------------------------

void to_json(json& j, const stay& s) {
    j = {{"ue", s.ue},         {"kind", to_string(s.kind)}, {"level", to_string(s.level)}, {"where", s.where},
         {"start_s", s.start_s}, {"end_s", s.end_s},       {"seconds", s.seconds()},     {"censored", s.censored}};
}

void to_json(json& j, const dwell_stats& s) {
    j = {{"count", s.count},   {"censored", s.censored}, {"mean_s", s.mean_s}, {"min_s", s.min_s},
         {"p5_s", s.p5_s},     {"median_s", s.median_s}, {"max_s", s.max_s}};
}

void to_json(json& j, const migration_time& t) {
    j = {{"method", t.method},         {"workload", t.workload}, {"link", t.link},
         {"prepare_ms", t.prepare_ms}, {"relocate_ms", t.relocate_ms}, {"total_ms", t.prepare_ms + t.relocate_ms},
         {"runs", t.runs},             {"ok", t.ok}};
}

void to_json(json& j, const viable_share& v) {
    j = v.time;
    j["kind"] = to_string(v.kind);
    j["level"] = to_string(v.level);
    j["stays"] = v.stays;
    j["long_enough"] = v.long_enough;
    j["share"] = v.share();
    j["long_enough_relocation"] = v.long_enough_relocation;
    j["share_relocation"] = v.share_relocation();
}

}  // namespace migrate::mec
