// src-only: steps the CRIU strategies (checkpoint, shared_fs) share: checkpoint names and
// a dump that is retried while the service runs on.
#pragma once

#include <migrate/json.hpp>
#include <migrate/runtime.hpp>
#include <migrate/strategy/dumper_mode.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

namespace migrate::detail {

/// dockerd accepts checkpoint names matching [a-zA-Z0-9][a-zA-Z0-9_.-]+ only; a prefix
/// leaves room for the unique part.
inline bool valid_checkpoint_prefix(const std::string& prefix) {
    static const std::regex re{"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}"};
    return std::regex_match(prefix, re);
}

/// `<prefix>-<hex milliseconds><hex counter>`: unique in this process and across restarts.
/// dockerd keeps checkpoints per container and refuses a name twice, so every migration
/// needs names of its own.
inline std::string unique_checkpoint_stem(const std::string& prefix) {
    static std::atomic<unsigned> counter{0};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return fmt::format("{}-{:x}{:02x}", prefix, ms.count(), counter++ & 0xffu);
}

/// Resolves a strategy's dumper choice for container `id` (running) into the dumper its
/// checkpoints use, and notes in `note` what was asked, what is used and why.
/// "runc" where it cannot work fails `unsupported` with the reason; "auto" then falls back to
/// the daemon. Asked in `prepare`, while the service runs (runc needs its live state).
inline result<checkpoint_dumper> choose_dumper(container_runtime& rt, const std::string& id, strategy::dumper_mode mode,
                                               json& note) {
    note = {{"mode", strategy::to_string(mode)}};
    if (mode == strategy::dumper_mode::daemon) {
        note["used"] = "daemon";
        note["reason"] = "dumper = daemon";
        return checkpoint_dumper::daemon;
    }
    auto ok = rt.direct_checkpoint_support(id);
    if (ok) {
        note["used"] = "runc";
        note["reason"] = "runc dumps straight into the engine's checkpoint directory (no containerd copies)";
        return checkpoint_dumper::runc;
    }
    if (mode == strategy::dumper_mode::runc)
        return make_failure(error::unsupported, "dumper is 'runc', but it cannot dump here: " + ok.error().what());
    note["used"] = "daemon";
    note["reason"] = "runc cannot dump here: " + ok.error().what();
    return checkpoint_dumper::daemon;
}

/// The dumper `choose_dumper` picked in prepare (kept in `p.state["dumper"]`).
inline checkpoint_dumper chosen_dumper(const json& state) {
    return state.value("dumper", std::string{}) == "runc" ? checkpoint_dumper::runc : checkpoint_dumper::daemon;
}

/// One CRIU dump through the engine, retried up to `retries` times when it failed and left
/// the service running. Why: CRIU refuses a process with a TCP connection in flight (an
/// outgoing poll, a client in the listen queue: "Connected TCP socket", "In-flight
/// connection"), and `docker checkpoint` passes neither --tcp-established nor
/// --skip-in-flight; a moment later the connection is usually gone (docs/workloads.md
/// measured 4 failed dumps in 90 for A2 while it polls). A dump that stopped the service is
/// never retried: the rollback restores it. Each failed attempt is appended to `attempts`.
inline result<void> dump_retrying(container_runtime& rt, const std::string& id, const checkpoint_options& opts,
                                  int retries, json& attempts) {
    for (int attempt = 0;; ++attempt) {
        auto r = rt.create_checkpoint(id, opts);
        if (r) return {};
        attempts.push_back(r.error().what());
        if (attempt >= retries || r.error_code() != error::daemon_error) return r.error();
        auto now = rt.inspect(id);
        if (!now || !now->running || now->paused) return r.error();
        (void)rt.delete_checkpoint(id, opts.name);  // a leftover of this name would refuse the retry
        std::this_thread::sleep_for(std::chrono::milliseconds{50 + 50 * attempt});
    }
}

}  // namespace migrate::detail
