// bench_viability — is there time for a migration? Replays a MEC mobility scenario (the ETSI
// MEC Sandbox's Monaco one by default) in simulated time and reports, for vehicles and
// pedestrians, how long each UE stays on one access point (by radio type, and any) and in one
// zone: the time a migration has if an edge host serves each 5G access point, each access
// point, or each zone. With a results.json from bench_thesis_grid it adds, per strategy,
// workload and link, the share of those stays at least as long as the strategy's measured
// pre-relocation + relocation (and the relocation alone). docs/viability.md tells the story.
//
// No testbed and no sleeping: the scenario's tracker is stepped through simulated time.
#include "bench_support.hpp"

#include <migrate/mec/viability.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace migrate;
using namespace migrate::mec;
using migrate::bench::die;
using migrate::bench::need;
namespace fs = std::filesystem;

namespace {

const std::vector<ue_kind> shown_kinds = {ue_kind::vehicle, ue_kind::pedestrian, ue_kind::other};
const std::vector<granularity> all_levels = {granularity::ap_5g, granularity::ap_4g, granularity::ap_wifi,
                                             granularity::any_ap, granularity::zone};
// The comparison's columns: the issue's question (an edge host per 5G AP, per AP, per zone).
const std::vector<granularity> compared_levels = {granularity::ap_5g, granularity::any_ap, granularity::zone};

// CLI11 2.1's PositiveNumber prints DBL_MAX in its message; this says what is wrong.
const CLI::Validator positive(
    [](std::string& in) -> std::string {
        try {
            std::size_t used = 0;
            double v = std::stod(in, &used);
            if (used == in.size() && v > 0 && std::isfinite(v)) return {};
        } catch (const std::exception&) {
        }
        return "'" + in + "' is not a positive number";
    },
    "> 0");

std::string seconds_text(const dwell_stats& s, double v) { return s.count ? fmt::format("{:.1f}", v) : "-"; }

std::string share_text(const std::optional<viable_share>& v) {
    if (!v) return "-";
    return fmt::format("{:.0f}% ({:.0f}%)", v->share() * 100, v->share_relocation() * 100);
}

}  // namespace

int main(int argc, char** argv) {
    bench::program_name() = "bench_viability";
    std::string scenario_file = MIGRATE_SOURCE_DIR "/tests/data/mec/monaco-4g-5g-wifi-macro.json";
    replay_options o;
    std::string grid_report, json_out;
    bool no_per_ue = false;

    CLI::App app{"How long a UE stays on one access point / in one zone of a MEC scenario (replayed in simulated "
                 "time), and which share of those stays a strategy's measured pre-relocation + relocation fits in."};
    app.add_option("--scenario", scenario_file, "AdvantEDGE scenario JSON")->check(CLI::ExistingFile)->capture_default_str();
    app.add_option("--loops", o.loops, "replay this many periods of the slowest UE's path")
        ->check(positive)->capture_default_str();
    app.add_option("--duration", o.duration_s, "replay this many simulated seconds instead of --loops (0: use --loops)")
        ->check(CLI::Range(0.0, 1e9))->capture_default_str();
    app.add_option("--step", o.step_s, "tracker time step, s (each stay is exact to within one step)")
        ->check(positive)->capture_default_str();
    app.add_option("--grid-report", grid_report, "results.json written by bench_thesis_grid (its medians)")
        ->check(CLI::ExistingFile);
    app.add_option("--json", json_out, "also write everything (stats, shares, every stay) as JSON to this file; - for stdout");
    app.add_flag("--no-per-ue", no_per_ue, "leave out the per-UE table");
    app.footer(R"(Examples:
  bench_viability                                   # Monaco, dwell tables only
  bench_viability --grid-report thesis-grid-X/results.json --json viability.json
  benchmarks/plot_viability.py viability.json viability.png     # CDFs with each strategy's time
Stays in progress when the replay starts or ends are left out (their length is unknown).)");
    CLI11_PARSE(app, argc, argv);

    auto s = need(scenario::load(scenario_file), "scenario");
    auto r = need(replay_dwell(s, o), "replay");
    std::optional<std::vector<migration_time>> times;
    if (!grid_report.empty()) times = need(load_grid_report(grid_report), "grid report");

    std::string reproduce = fmt::format("bench_viability --scenario {}", scenario_file);
    if (o.duration_s > 0) reproduce += fmt::format(" --duration {}", o.duration_s);
    else reproduce += fmt::format(" --loops {}", o.loops);
    reproduce += fmt::format(" --step {}", o.step_s);
    if (!grid_report.empty()) reproduce += " --grid-report " + grid_report;

    // Human output goes to stderr when the JSON goes to stdout.
    const bool json_on_stdout = json_out == "-";
    std::FILE* out = json_on_stdout ? stderr : stdout;

    double slowest = 0;
    for (auto& u : s.ues()) slowest = std::max(slowest, path_period_s(u));
    fmt::print(out, "viability: scenario '{}', {:.0f} s replayed ({}), step {} s; stays cut by the replay's start or "
                    "end are left out\n",
               r.scenario, r.duration_s,
               o.duration_s > 0 ? std::string("--duration") : fmt::format("{} x the slowest path's {:.0f} s", o.loops, slowest),
               r.step_s);
    fmt::print(out, "UEs:");
    for (auto& u : s.ues())
        fmt::print(out, " {} {}{}", u.name, to_string(kind_of(u)),
                   u.moving() ? fmt::format(" ({:.0f} m/s, {:.0f} s period)", u.velocity_mps, path_period_s(u)) : "");
    fmt::print(out, "\n\ndwell times, s (complete stays; cens = left out)\n");
    fmt::print(out, "{:<11} {:<8} {:>6} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "kind", "where", "stays", "cens", "mean",
               "shortest", "p5", "median", "longest");
    for (auto k : shown_kinds) {
        for (auto g : all_levels) {
            auto st = r.stats(k, g);
            if (st.count == 0 && st.censored == 0) continue;
            fmt::print(out, "{:<11} {:<8} {:>6} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}\n", to_string(k), to_string(g), st.count,
                       st.censored, seconds_text(st, st.mean_s), seconds_text(st, st.min_s), seconds_text(st, st.p5_s),
                       seconds_text(st, st.median_s), seconds_text(st, st.max_s));
        }
    }
    if (!no_per_ue) {
        fmt::print(out, "\nper UE (stays, mean / shortest s)\n{:<12} {:<11}", "ue", "kind");
        for (auto g : all_levels) fmt::print(out, " {:>18}", to_string(g));
        fmt::print(out, "\n");
        for (auto& u : s.ues()) {
            if (!u.moving()) continue;
            fmt::print(out, "{:<12} {:<11}", u.name, to_string(kind_of(u)));
            for (auto g : all_levels) {
                auto st = r.stats_of(u.name, g);
                fmt::print(out, " {:>18}", st.count ? fmt::format("{} {:.1f} / {:.1f}", st.count, st.mean_s, st.min_s) : "-");
            }
            fmt::print(out, "\n");
        }
    }

    std::vector<viable_share> shares;
    if (!times) {
        fmt::print(out, "\nno --grid-report: dwell tables only. For the strategies' share, run bench_thesis_grid on a "
                        "testbed and pass its results.json.\n");
    } else {
        shares = viable_shares(r, *times);
        auto find = [&](const migration_time& t, ue_kind k, granularity g) -> std::optional<viable_share> {
            for (auto& v : shares)
                if (v.time.method == t.method && v.time.workload == t.workload && v.time.link == t.link && v.kind == k &&
                    v.level == g)
                    return v;
            return std::nullopt;
        };
        fmt::print(out, "\nviable share: stays at least as long as pre-relocation + relocation (in brackets: the "
                        "relocation alone, the pre-relocation done before the handover); grid medians from {}\n",
                   grid_report);
        std::vector<ue_kind> kinds;
        for (auto k : shown_kinds)
            if (r.stats(k, granularity::any_ap).count + r.stats(k, granularity::zone).count > 0) kinds.push_back(k);
        fmt::print(out, "{:<17} {:<3} {:<9} {:>7} {:>7} {:>7}", "method", "wl", "link", "pre ms", "rel ms", "sum ms");
        for (auto k : kinds)
            for (auto g : compared_levels) fmt::print(out, " {:>15}", fmt::format("{} {}", to_string(k).substr(0, 3), to_string(g)));
        fmt::print(out, "\n");
        for (auto& t : *times) {
            fmt::print(out, "{:<17} {:<3} {:<9} {:>7.0f} {:>7.0f} {:>7.0f}", t.method, t.workload, t.link, t.prepare_ms,
                       t.relocate_ms, t.prepare_ms + t.relocate_ms);
            for (auto k : kinds)
                for (auto g : compared_levels) fmt::print(out, " {:>15}", share_text(find(t, k, g)));
            fmt::print(out, "\n");
        }
    }
    fmt::print(out, "\nreproduce: {}\n", reproduce);

    if (!json_out.empty()) {
        json j = {{"scenario", r.scenario}, {"scenario_file", scenario_file}, {"duration_s", r.duration_s},
                  {"step_s", r.step_s},     {"reproduce", reproduce}};
        j["loops"] = o.duration_s > 0 ? json(nullptr) : json(o.loops);
        j["ues"] = json::array();
        for (auto& u : s.ues())
            j["ues"].push_back({{"name", u.name}, {"kind", to_string(kind_of(u))}, {"moving", u.moving()},
                                {"velocity_mps", u.velocity_mps}, {"period_s", path_period_s(u)}});
        j["stats"] = json::array();
        for (auto k : {ue_kind::vehicle, ue_kind::pedestrian, ue_kind::stationary, ue_kind::other})
            for (auto g : all_levels) {
                json st = r.stats(k, g);
                st["kind"] = to_string(k);
                st["level"] = to_string(g);
                j["stats"].push_back(st);
            }
        j["per_ue"] = json::array();
        for (auto& u : s.ues())
            for (auto g : all_levels) {
                json st = r.stats_of(u.name, g);
                st["ue"] = u.name;
                st["level"] = to_string(g);
                j["per_ue"].push_back(st);
            }
        j["grid_report"] = grid_report.empty() ? json(nullptr) : json(grid_report);
        j["migration_times"] = times ? json(*times) : json::array();
        j["viable"] = shares;
        j["stays"] = r.stays;
        if (json_on_stdout) {
            std::cout << j.dump(2) << "\n";
        } else {
            std::ofstream f(json_out);
            if (!f) die("--json " + json_out + ": cannot write");
            f << j.dump(2) << "\n";
            fmt::print(out, "JSON: {}\n", json_out);
        }
    }
    return 0;
}
