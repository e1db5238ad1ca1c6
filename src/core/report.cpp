#include <migrate/report.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ctime>
#include <vector>

namespace migrate {

double migration_report::total_ms(enum phase p) const {
    double t = 0;
    for (auto& x : phases) if (x.phase == p) t += x.duration_ms;
    return t;
}

std::uint64_t migration_report::total_bytes(enum phase p) const {
    std::uint64_t b = 0;
    for (auto& x : phases) if (x.phase == p) b += x.bytes;
    return b;
}

double migration_report::total_ms(enum phase p, enum phase stage) const {
    double t = 0;
    for (auto& x : phases) if (x.phase == p && x.stage == stage) t += x.duration_ms;
    return t;
}

std::uint64_t migration_report::total_bytes(enum phase p, enum phase stage) const {
    std::uint64_t b = 0;
    for (auto& x : phases) if (x.phase == p && x.stage == stage) b += x.bytes;
    return b;
}

bool migration_report::state_intact() const {
    return std::all_of(state.begin(), state.end(), [](const state_check& c) { return c.ok(); });
}

namespace {
std::string human_bytes(std::uint64_t b) {
    if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / double(1ull << 30));
    if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", b / double(1ull << 20));
    if (b >= (1ull << 10)) return fmt::format("{:.1f} KiB", b / double(1ull << 10));
    return fmt::format("{} B", b);
}
}  // namespace

std::string migration_report::to_text() const {
    std::string s;
    auto out = std::back_inserter(s);
    fmt::format_to(out, "migration of '{}' {} -> {} with strategy '{}': {}\n", subject, source, target,
                   strategy, success ? "SUCCESS" : "FAILED");
    if (!started_at.empty()) fmt::format_to(out, "  started      {}\n", started_at);
    if (!success && !error.empty()) fmt::format_to(out, "  error        {}\n", error);
    if (rolled_back) fmt::format_to(out, "  rolled back  yes (the source keeps the service)\n");
    if (auto k = details.find("keeps"); k != details.end() && k->is_object()) {
        std::vector<std::string> kept, lost;
        for (const char* what : {"memory", "filesystem", "volumes", "config"})
            if (auto v = k->find(what); v != k->end() && v->is_boolean()) (v->get<bool>() ? kept : lost).push_back(what);
        fmt::format_to(out, "  keeps        {}{}{}\n", fmt::join(kept, ", "), kept.empty() || lost.empty() ? "" : "; ",
                       lost.empty() ? std::string{} : fmt::format("not kept: {}", fmt::join(lost, ", ")));
    }
    if (!phases.empty()) {
        fmt::format_to(out, "  phases:\n");
        for (auto& p : phases) {
            auto name = p.stage ? fmt::format("  {}", to_string(p.phase)) : std::string(to_string(p.phase));
            fmt::format_to(out, "    {:<13}{:>10.1f} ms {:>12}  {}{}\n", name, p.duration_ms,
                           p.bytes ? human_bytes(p.bytes) : std::string{}, p.detail, p.ok ? "" : "  [failed]");
        }
    }
    if (downtime)
        fmt::format_to(out, "  downtime     {:.1f} ms as seen by a client ({}; {} probes, {} failed, every {:.0f} ms)\n",
                       downtime->downtime_ms, downtime->method, downtime->probes, downtime->failures,
                       downtime->probe_interval_ms);
    for (auto& c : state)
        fmt::format_to(out, "  state        {}: {} of {} present{}\n", c.what, c.found, c.expected,
                       c.ok() ? "" : "  [STATE LOST]");
    return s;
}

void to_json(json& j, const phase_timing& t) {
    j = json{{"phase", t.phase}, {"detail", t.detail}, {"duration_ms", t.duration_ms}, {"bytes", t.bytes}, {"ok", t.ok}};
    j["stage"] = t.stage ? json(*t.stage) : json(nullptr);
}
void from_json(const json& j, phase_timing& t) {
    detail::read_field(j, "phase_timing", "phase", t.phase);
    detail::read_field(j, "phase_timing", "detail", t.detail);
    detail::read_field(j, "phase_timing", "duration_ms", t.duration_ms);
    detail::read_field(j, "phase_timing", "bytes", t.bytes);
    detail::read_field(j, "phase_timing", "ok", t.ok);
    if (auto it = j.find("stage"); it != j.end() && !it->is_null()) t.stage = it->get<enum phase>();
}
void to_json(json& j, const downtime_measurement& d) {
    j = json{{"downtime_ms", d.downtime_ms}, {"probe_interval_ms", d.probe_interval_ms},
             {"probes", d.probes}, {"failures", d.failures}, {"method", d.method}};
}
void from_json(const json& j, downtime_measurement& d) {
    detail::read_field(j, "downtime", "downtime_ms", d.downtime_ms);
    detail::read_field(j, "downtime", "probe_interval_ms", d.probe_interval_ms);
    detail::read_field(j, "downtime", "probes", d.probes);
    detail::read_field(j, "downtime", "failures", d.failures);
    detail::read_field(j, "downtime", "method", d.method);
}
void to_json(json& j, const state_check& c) {
    j = json{{"what", c.what}, {"expected", c.expected}, {"found", c.found}, {"ok", c.ok()}};
}
void from_json(const json& j, state_check& c) {
    detail::read_field(j, "state", "what", c.what);
    detail::read_field(j, "state", "expected", c.expected);
    detail::read_field(j, "state", "found", c.found);
}
void to_json(json& j, const migration_report& r) {
    j = json{{"strategy", r.strategy}, {"subject", r.subject}, {"source", r.source}, {"target", r.target},
             {"started_at", r.started_at}, {"success", r.success}, {"error", r.error},
             {"rolled_back", r.rolled_back}, {"phases", r.phases}, {"state", r.state},
             {"state_intact", r.state_intact()}, {"details", r.details}};
    j["downtime"] = r.downtime ? json(*r.downtime) : json(nullptr);
}
void from_json(const json& j, migration_report& r) {
    constexpr const char* w = "migration_report";
    detail::read_field(j, w, "strategy", r.strategy);
    detail::read_field(j, w, "subject", r.subject);
    detail::read_field(j, w, "source", r.source);
    detail::read_field(j, w, "target", r.target);
    detail::read_field(j, w, "started_at", r.started_at);
    detail::read_field(j, w, "success", r.success);
    detail::read_field(j, w, "error", r.error);
    detail::read_field(j, w, "rolled_back", r.rolled_back);
    detail::read_field(j, w, "phases", r.phases);
    detail::read_field(j, w, "state", r.state);
    detail::read_field(j, w, "details", r.details);
    if (auto it = j.find("downtime"); it != j.end() && !it->is_null()) {
        downtime_measurement d;
        from_json(*it, d);
        r.downtime = d;
    }
}

void report_recorder::operator()(const phase_event& e) {
    using k = phase_event::kind;
    if (e.what == k::begin) { open_.push_back(e); return; }
    if (e.what != k::end) return;
    // Match the innermost open phase of the same kind (phases nest: relocate > transfer).
    for (auto it = open_.rbegin(); it != open_.rend(); ++it) {
        if (it->phase != e.phase) continue;
        // The stage is the outermost prepare/relocate still open around this phase.
        std::optional<enum phase> stage;
        for (auto o = open_.begin(); o != std::prev(it.base()); ++o)
            if (o->phase == phase::prepare || o->phase == phase::relocate) { stage = o->phase; break; }
        report_->phases.push_back({e.phase, e.detail,
            std::chrono::duration<double, std::milli>(e.at - it->at).count(), e.bytes, !e.error, stage});
        open_.erase(std::next(it).base());
        return;
    }
}

std::string utc_now_iso8601() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace migrate
