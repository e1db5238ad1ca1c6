// Dwell times from a replayed MEC scenario and the share of them a migration fits in
// (mec/viability.hpp): replay_dwell gives a DwellReplay (stays as dicts, stats per kind of UE
// or per UE at a granularity), load_grid_report / parse_grid_report read bench_thesis_grid's
// medians, viable_shares compares the two. Kinds and granularities go in and out as the
// C++ names ("vehicle", "5g_ap").
#include "common.hpp"

#include <migrate/mec/viability.hpp>

#include <pybind11/stl.h>

#include <fmt/format.h>

namespace migrate::python {
namespace {

mec::ue_kind kind_arg(const std::string& s) {
    if (auto k = mec::ue_kind_from_string(s)) return *k;
    raise(make_failure(error::invalid_argument,
                       fmt::format("kind '{}': expected vehicle, pedestrian, stationary or other", s)));
}

mec::granularity level_arg(const std::string& s) {
    if (auto g = mec::granularity_from_string(s)) return *g;
    raise(make_failure(error::invalid_argument,
                       fmt::format("level '{}': expected 4g_ap, 5g_ap, wifi_ap, any_ap or zone", s)));
}

mec::migration_time time_arg(const py::handle& o, std::size_t i) {
    auto j = from_python(o, fmt::format("times[{}]", i));
    if (j.is_object()) {   // a time written by hand need not say how many runs it is the median of
        if (!j.contains("runs")) j["runs"] = 1;
        if (!j.contains("ok")) j["ok"] = j["runs"];
    }
    // The same reader as a grid report's medians, so a bad entry is named the same way.
    auto parsed = mec::parse_grid_report(json{{"medians", json::array({j})}}, "times");
    if (!parsed) raise(parsed.error());
    if (parsed->empty())
        raise(make_failure(error::invalid_argument, fmt::format("times[{}]: 'ok' is 0: no successful run to compare", i)));
    return parsed->front();
}

}  // namespace

void bind_viability(py::module_& m) {
    py::class_<mec::dwell_replay>(m, "DwellReplay",
                                  "Every UE's stays on one access point and in one zone over a replayed scenario "
                                  "(censored stays flagged and left out of stats); see docs/viability.md.")
        .def_readonly("scenario", &mec::dwell_replay::scenario)
        .def_readonly("duration_s", &mec::dwell_replay::duration_s)
        .def_readonly("step_s", &mec::dwell_replay::step_s)
        .def_property_readonly("stays", [](const mec::dwell_replay& r) { return to_python(json(r.stays)); })
        .def(
            "seconds", [](const mec::dwell_replay& r, const std::string& kind, const std::string& level) {
                return r.seconds(kind_arg(kind), level_arg(level));
            },
            py::arg("kind"), py::arg("level"), "Lengths of the complete stays of UEs of `kind` at `level`.")
        .def(
            "seconds_of", [](const mec::dwell_replay& r, const std::string& ue, const std::string& level) {
                return r.seconds_of(ue, level_arg(level));
            },
            py::arg("ue"), py::arg("level"), "Lengths of one UE's complete stays at `level`.")
        .def(
            "stats", [](const mec::dwell_replay& r, const std::string& kind, const std::string& level) {
                return to_python(json(r.stats(kind_arg(kind), level_arg(level))));
            },
            py::arg("kind"), py::arg("level"), "count, censored, mean_s, min_s, p5_s, median_s, max_s.")
        .def(
            "stats_of", [](const mec::dwell_replay& r, const std::string& ue, const std::string& level) {
                return to_python(json(r.stats_of(ue, level_arg(level))));
            },
            py::arg("ue"), py::arg("level"));

    m.def(
        "replay_dwell",
        [](const mec::scenario& s, double loops, double duration_s, double step_s) {
            mec::replay_options o{.loops = loops, .duration_s = duration_s, .step_s = step_s};
            return nogil([&] { return mec::replay_dwell(s, o); });
        },
        py::arg("scenario"), py::arg("loops") = 3.0, py::arg("duration_s") = 0.0, py::arg("step_s") = 0.1,
        "Replays the scenario in simulated time (loops x the slowest path's period, or duration_s) and cuts it into stays.");
    m.def(
        "ue_kinds",
        [](const mec::scenario& s) {
            py::dict out;
            for (auto& u : s.ues()) out[py::str(u.name)] = std::string(mec::to_string(mec::kind_of(u)));
            return out;
        },
        py::arg("scenario"), "Each UE's kind from its map icon: vehicle, pedestrian, stationary, other.");
    m.def(
        "load_grid_report",
        [](const std::string& path) { return to_python(json(unwrap(mec::load_grid_report(path)))); }, py::arg("path"),
        "The medians of a bench_thesis_grid results.json (cells without a successful run skipped).");
    m.def(
        "parse_grid_report",
        [](const py::handle& doc) { return to_python(json(unwrap(mec::parse_grid_report(from_python(doc, "doc"))))); },
        py::arg("doc"));
    m.def(
        "viable_shares",
        [](const mec::dwell_replay& r, const py::list& times) {
            std::vector<mec::migration_time> t;
            for (std::size_t i = 0; i < times.size(); ++i) t.push_back(time_arg(times[i], i));
            return to_python(json(mec::viable_shares(r, t)));
        },
        py::arg("replay"), py::arg("times"),
        "Per time x kind x level: complete stays, how many last >= prepare_ms + relocate_ms (and >= relocate_ms), shares.");
}

}  // namespace migrate::python
