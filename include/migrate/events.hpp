// migrate/events.hpp — phase events and progress hooks.
//
// Reports, progress lines and benchmarks are all built from these events, so what the CLI
// shows and what a benchmark measures are the same numbers.
#pragma once

#include <migrate/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace migrate {

using steady_clock = std::chrono::steady_clock;

/// The stages of a migration (thesis terms: pre-relocation = prepare, relocation = downtime).
enum class phase {
    prepare,        ///< whole pre-relocation phase; service still running on the source
    snapshot,       ///< capture state on the source (export, commit, checkpoint)
    transfer,       ///< bytes moving between hosts
    restore,        ///< make the service on the target (import, load, restore)
    relocate,       ///< whole relocation phase (downtime window)
    freeze,         ///< the service is stopped/paused on the source
    resume,         ///< the service answers on the target
    route_switch,   ///< traffic moved to the target
    verify,         ///< state checked on the target
    cleanup,        ///< source instance removed after the target confirmed
    rollback,       ///< undo after a failure
};
std::string_view to_string(phase p) noexcept;
inline std::string_view format_as(phase p) noexcept { return to_string(p); }
void to_json(json& j, phase p);
void from_json(const json& j, phase& p);

/// One phase's begin/progress/end. `bytes` counts bytes moved so far in this phase,
/// `total_bytes` is 0 when unknown.
struct phase_event {
    enum class kind { begin, progress, end };
    kind what = kind::begin;
    enum phase phase = phase::prepare;
    std::string detail;                 ///< e.g. "export container memcached"
    steady_clock::time_point at = steady_clock::now();
    std::uint64_t bytes = 0;
    std::uint64_t total_bytes = 0;
    std::error_code error;              ///< set on a failed `end`
};

/// Observation points; every member may be empty. Called on the thread doing the work;
/// keep them quick. Thread safety: a hooks object is only called from one thread at a time.
struct hooks {
    std::function<void(const phase_event&)> on_event;
    std::function<void(std::string_view)> log;

    void emit(const phase_event& e) const { if (on_event) on_event(e); }
    void info(std::string_view s) const { if (log) log(s); }
};

/// Emits `begin` on construction and `end` on `finish()` (or on destruction, as a failure
/// with `error::cancelled` if `finish` was never called). Measures the phase's duration.
class phase_scope {
public:
    phase_scope(const hooks& h, enum phase p, std::string detail = {})
        : hooks_(h), phase_(p), detail_(std::move(detail)), start_(steady_clock::now()) {
        hooks_.emit({phase_event::kind::begin, phase_, detail_, start_, 0, 0, {}});
    }
    phase_scope(const phase_scope&) = delete;
    phase_scope& operator=(const phase_scope&) = delete;
    ~phase_scope() { if (!done_) finish(std::make_error_code(std::errc::operation_canceled)); }

    void progress(std::uint64_t bytes, std::uint64_t total = 0) {
        bytes_ = bytes;
        hooks_.emit({phase_event::kind::progress, phase_, detail_, steady_clock::now(), bytes, total, {}});
    }
    /// Ends the phase; returns its duration.
    steady_clock::duration finish(std::error_code ec = {}) {
        if (done_) return end_ - start_;
        done_ = true;
        end_ = steady_clock::now();
        hooks_.emit({phase_event::kind::end, phase_, detail_, end_, bytes_, 0, ec});
        return end_ - start_;
    }
    steady_clock::time_point start() const noexcept { return start_; }

private:
    const hooks& hooks_;
    enum phase phase_;
    std::string detail_;
    steady_clock::time_point start_, end_{};
    std::uint64_t bytes_ = 0;
    bool done_ = false;
};

}  // namespace migrate
