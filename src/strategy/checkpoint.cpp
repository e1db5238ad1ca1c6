#include <migrate/detail/process.hpp>
#include <migrate/strategy/checkpoint.hpp>

#include "criu_steps.hpp"
#include "image_placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>

namespace migrate::strategy {

// ---- options ------------------------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, 3> mode_names = {"auto", "off", "required"};
constexpr const char* where = "checkpoint";
}  // namespace

std::string_view to_string(pre_dump_mode m) noexcept { return mode_names[static_cast<std::size_t>(m)]; }
void to_json(json& j, pre_dump_mode m) { j = std::string(to_string(m)); }
void from_json(const json& j, pre_dump_mode& m) {
    auto s = j.get<std::string>();
    for (std::size_t i = 0; i < mode_names.size(); ++i)
        if (mode_names[i] == s) { m = static_cast<pre_dump_mode>(i); return; }
    throw migration_error(make_failure(error::invalid_argument,
                                       fmt::format("checkpoint.pre_dump.mode: '{}' is not one of auto, off, required", s)));
}

void to_json(json& j, const pre_dump_options& o) {
    j = json{{"mode", o.mode}, {"page_threshold", o.page_threshold}, {"max_rounds", o.max_rounds}};
}
void from_json(const json& j, pre_dump_options& o) {
    if (!j.is_object())
        throw migration_error(make_failure(error::invalid_argument, "checkpoint.pre_dump: expected an object"));
    detail::read_field(j, "checkpoint.pre_dump", "mode", o.mode);
    detail::read_field(j, "checkpoint.pre_dump", "page_threshold", o.page_threshold);
    detail::read_field(j, "checkpoint.pre_dump", "max_rounds", o.max_rounds);
}

void to_json(json& j, const checkpoint_strategy_options& o) {
    j = json{{"delta", o.delta},
             {"block_size", o.block_size},
             {"pre_dump", o.pre_dump},
             {"dumper", o.dumper},
             {"checkpoint_prefix", o.checkpoint_prefix},
             {"dump_retries", o.dump_retries},
             {"keep_checkpoints", o.keep_checkpoints},
             {"move_volumes", o.move_volumes}};
}
void from_json(const json& j, checkpoint_strategy_options& o) {
    detail::read_field(j, where, "delta", o.delta);
    detail::read_field(j, where, "block_size", o.block_size);
    detail::read_field(j, where, "pre_dump", o.pre_dump);
    read_dumper_mode(j, where, "dumper", o.dumper);
    detail::read_field(j, where, "checkpoint_prefix", o.checkpoint_prefix);
    detail::read_field(j, where, "dump_retries", o.dump_retries);
    detail::read_field(j, where, "keep_checkpoints", o.keep_checkpoints);
    detail::read_field(j, where, "move_volumes", o.move_volumes);
}

result<void> checkpoint_strategy_options::validate() const {
    if (block_size < 512 || block_size > (1u << 20) || block_size % 512 != 0)
        return make_failure(error::invalid_argument,
                            fmt::format("checkpoint.block_size: {} must be a multiple of 512 within 512 B .. 1 MiB", block_size));
    if (pre_dump.page_threshold == 0)
        return make_failure(error::invalid_argument, "checkpoint.pre_dump.page_threshold: must be positive");
    if (pre_dump.max_rounds < 1 || pre_dump.max_rounds > 32)
        return make_failure(error::invalid_argument,
                            fmt::format("checkpoint.pre_dump.max_rounds: {} is outside 1 .. 32", pre_dump.max_rounds));
    if (dump_retries < 0 || dump_retries > 10)
        return make_failure(error::invalid_argument,
                            fmt::format("checkpoint.dump_retries: {} is outside 0 .. 10", dump_retries));
    if (!detail::valid_checkpoint_prefix(checkpoint_prefix))
        return make_failure(error::invalid_argument,
                            fmt::format("checkpoint.checkpoint_prefix: '{}' must match [a-zA-Z0-9][a-zA-Z0-9_.-]{{0,63}} "
                                        "(dockerd's checkpoint names)",
                                        checkpoint_prefix));
    return {};
}

// ---- the dirty-memory probe -----------------------------------------------------------------

void to_json(json& j, const dirty_tracking& d) { j = json{{"available", d.available}, {"reason", d.reason}}; }

const dirty_tracking& criu_dirty_tracking() {
    // Static local: initialised once, thread safe; the kernel does not change under us.
    static const dirty_tracking answer = [] {
        dirty_tracking d;
        detail::run_options ro;
        ro.timeout = std::chrono::milliseconds{20000};
        auto out = detail::run({"criu", "check", "--feature", "mem_dirty_track"}, ro);
        if (!out) {
            d.reason = "could not ask CRIU (`criu check --feature mem_dirty_track`): " + out.error().what();
            return d;
        }
        std::string text = out->out + out->err;
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        d.available = out->exit_code == 0;
        d.reason = fmt::format("`criu check --feature mem_dirty_track` {}: {}",
                               d.available ? "passed" : fmt::format("failed (exit code {})", out->exit_code),
                               text.empty() ? "(no output)" : text);
        return d;
    }();
    return answer;
}

// ---- the strategy ---------------------------------------------------------------------------

capabilities checkpoint::caps() const {
    capabilities c;
    c.keeps_memory = true;
    c.keeps_volumes = opts_.move_volumes;
    c.needs_criu = true;
    c.summary = opts_.delta ? "CRIU: first checkpoint moved while the service runs, in the downtime only the blocks "
                              "of the final checkpoint that changed (thesis M3, Addad)"
                            : "CRIU: first checkpoint moved while the service runs, the final checkpoint moved whole "
                              "in the downtime (thesis M3)";
    return c;
}

namespace {

failure cancelled_in(std::string_view where_) { return make_failure(error::cancelled, fmt::format("cancelled {}", where_)); }

double ms_of(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

result<void> checkpoint::do_prepare(prepared& p, const hooks& h, std::stop_token stop) {
    auto& src = *p.request.source.runtime;
    auto& rep = p.report;

    // Pre-copy needs dirty-memory tracking; say what this machine offers, then use the delta.
    json pd = {{"mode", opts_.pre_dump.mode}, {"used", false}};
    if (opts_.pre_dump.mode == pre_dump_mode::off) {
        pd["available"] = nullptr;
        pd["reason"] = "not probed (checkpoint.pre_dump.mode = off)";
    } else {
        const auto& dt = criu_dirty_tracking();
        pd["available"] = dt.available;
        pd["reason"] = dt.reason;
        pd["page_threshold"] = opts_.pre_dump.page_threshold;
        pd["max_rounds"] = opts_.pre_dump.max_rounds;
        pd["instead"] = dt.available
                            ? "the kernel tracks dirty memory, but Docker's checkpoint API cannot run `criu pre-dump` "
                              "with a parent image: the final checkpoint moves as a delta against the first"
                            : "the final checkpoint moves as a delta against the first";
        if (opts_.pre_dump.mode == pre_dump_mode::required) {
            rep.details["pre_dump"] = pd;
            return make_failure(error::unsupported,
                                fmt::format("checkpoint.pre_dump.mode is 'required', but iterative pre-dump cannot run: {}",
                                            dt.available ? pd["instead"].get<std::string>() : dt.reason));
        }
    }
    rep.details["pre_dump"] = pd;

    // Addad's check: move only what the target lacks of the image.
    detail::transfer_fn tf = [&](std::string what, const artifact_spec& a, const artifact_spec& b) {
        return transfer(p, h, std::move(what), a, b, stop);
    };
    MIGRATE_TRY(detail::place_image(p, tf, stop));
    if (stop.stop_requested()) return cancelled_in("during preparation");

    if (opts_.move_volumes) MIGRATE_TRY(create_target_volumes(p));
    json binds = json::array();
    for (auto& m : p.target_spec.mounts)
        if (m.type == mount_spec::kind::bind) binds.push_back(m.source);
    if (!binds.empty())
        rep.details["binds"] = {{"paths", binds},
                                {"note", "bind mounts are recreated with the same host paths; their contents are not "
                                         "moved (put them on a path both hosts see and use shared_fs)"}};
    MIGRATE_TRY(create_on_target(p));

    json dumper_note;
    auto dumper = detail::choose_dumper(src, p.source.id, opts_.dumper, dumper_note);
    rep.details["dumper"] = dumper_note;
    if (!dumper) return dumper.error();
    p.state["dumper"] = std::string(to_string(*dumper));

    const auto stem = detail::unique_checkpoint_stem(opts_.checkpoint_prefix);
    const std::string first = stem + "-first", final_ = stem + "-final";
    p.state["first_checkpoint"] = first;
    p.state["final_checkpoint"] = final_;

    // The first checkpoint: CRIU freezes the service while it dumps, then lets it run on.
    {
        phase_scope f{h, phase::freeze,
                      fmt::format("first checkpoint '{}' of {}, left running (frozen while CRIU dumps)", first,
                                  p.source.name)};
        p.source_checkpoints.push_back(first);
        json failed = json::array();
        auto r = detail::dump_retrying(src, p.source.id, {.name = first, .exit = false, .dumper = *dumper},
                                      opts_.dump_retries, failed);
        auto took = f.finish(r ? std::error_code{} : r.error_code());
        rep.details["first_checkpoint"] = {{"name", first}, {"freeze_ms", ms_of(took)}};
        if (!failed.empty()) rep.details["first_checkpoint"]["failed_attempts"] = failed;
        if (!r) return r.error();
    }
    // A dump that was to leave the service running must have done so; if it did not, the
    // rollback restores it from this very checkpoint (its memory as of the dump).
    auto now = src.inspect(p.source.id);
    if (!now) return now.error();
    if (!now->running || now->paused) {
        p.exit_checkpoint = first;
        return make_failure(error::daemon_error,
                            fmt::format("container '{}' on {} is {} after a checkpoint that was to leave it running",
                                        p.source.name, src.endpoint(), now->status));
    }
    if (stop.stop_requested()) return cancelled_in("during preparation");
    auto moved = transfer(p, h, fmt::format("first checkpoint '{}'", first), artifacts::checkpoint(p.source.id, first),
                          artifacts::checkpoint(p.target_id, first), stop);
    if (!moved) return moved.error();
    rep.details["first_checkpoint"]["bytes"] = moved->bytes;
    return {};
}

result<void> checkpoint::do_relocate(prepared& p, const hooks& h, std::stop_token stop) {
    auto& src = *p.request.source.runtime;
    auto& dst = *p.request.target.runtime;
    const auto first = p.state.value("first_checkpoint", std::string{});
    const auto final_ = p.state.value("final_checkpoint", std::string{});
    if (first.empty() || final_.empty() || p.target_id.empty())
        return make_failure(error::internal, "checkpoint: relocate without a prepared first checkpoint");

    // Before freezing anything: the target must answer, and the delta needs its copy of the
    // first checkpoint. An unreachable target fails here, with the source still serving.
    auto held = dst.list_checkpoints(p.target_id);
    if (!held) return held.error();
    std::string why_not_delta;
    if (!opts_.delta)
        why_not_delta = "delta transfer is off (checkpoint.delta = false)";
    else if (std::find(held->begin(), held->end(), first) == held->end())
        why_not_delta = fmt::format("the target container no longer holds the first checkpoint '{}'", first);

    // The final checkpoint stops the service: the downtime starts here.
    {
        phase_scope s{h, phase::snapshot, fmt::format("final checkpoint '{}' of {} (exit)", final_, p.source.name)};
        p.exit_checkpoint = final_;
        p.source_checkpoints.push_back(final_);
        json failed = json::array();
        auto r = detail::dump_retrying(src, p.source.id, {.name = final_, .exit = true, .dumper = detail::chosen_dumper(p.state)},
                                      opts_.dump_retries, failed);
        auto took = s.finish(r ? std::error_code{} : r.error_code());
        auto& fc = p.report.details["final_checkpoint"];
        fc = {{"name", final_}, {"dump_ms", ms_of(took)}};
        if (!failed.empty()) fc["failed_attempts"] = failed;
        if (!r) {
            // A dump can fail after CRIU stopped the service, its images gone with it (seen
            // with containerd, moby#42900). The first checkpoint is then the newest copy of
            // the service's memory: better restored from than started cold.
            auto now = src.inspect(p.source.id);
            auto cps = src.list_checkpoints(p.source.id);
            if (now && !now->running && cps && std::find(cps->begin(), cps->end(), final_) == cps->end() &&
                std::find(cps->begin(), cps->end(), first) != cps->end()) {
                p.exit_checkpoint = first;
                fc["fallback"] = fmt::format("the failed dump stopped the service and left no checkpoint: the rollback "
                                             "restores '{}', its memory as of the preparation",
                                             first);
            }
            return r.error();
        }
    }
    if (stop.stop_requested()) return cancelled_in("during relocation");
    // Volumes after the dump: their contents then match the memory state exactly.
    if (opts_.move_volumes) MIGRATE_TRY(transfer_volumes(p, h, stop));
    MIGRATE_TRY(move_final_checkpoint(p, h, stop, why_not_delta.empty(), why_not_delta));
    if (stop.stop_requested()) return cancelled_in("during relocation");

    phase_scope r{h, phase::restore, fmt::format("CRIU restore on {} from '{}'", p.request.target.name, final_)};
    auto started = dst.start_from_checkpoint(p.target_id, final_);
    r.finish(started ? std::error_code{} : started.error_code());
    if (!started) return started.error();
    if (opts_.keep_checkpoints) p.source_checkpoints.clear();  // a kept source keeps them too
    return {};
}

result<void> checkpoint::move_final_checkpoint(prepared& p, const hooks& h, std::stop_token stop, bool use_delta,
                                               const std::string& why_not_delta) {
    const auto first = p.state.value("first_checkpoint", std::string{});
    const auto final_ = p.state.value("final_checkpoint", std::string{});
    std::string why_not = why_not_delta;
    if (use_delta) {
        auto produce = artifacts::checkpoint_delta(p.source.id, final_, first);
        produce.block_size = opts_.block_size;
        auto moved = transfer(p, h, fmt::format("final checkpoint '{}' as a delta against '{}'", final_, first), produce,
                              artifacts::checkpoint_delta(p.target_id, final_, first), stop);
        if (moved) {
            const json st = moved->produced.value("delta", json::object());
            const auto full = st.value("full_bytes", std::uint64_t{0});
            json d = {{"used", true},
                      {"full_bytes", full},
                      {"sent_bytes", moved->bytes},
                      {"ratio", moved->bytes ? double(full) / double(moved->bytes) : 0.0},
                      {"changed_blocks", st.value("changed_blocks", std::uint64_t{0})},
                      {"total_blocks", st.value("total_blocks", std::uint64_t{0})},
                      {"block_size", opts_.block_size},
                      {"first_checkpoint_bytes", p.report.details["first_checkpoint"].value("bytes", std::uint64_t{0})}};
            // The delta costs the same bytes as the whole checkpoint at worst (a few bytes of
            // framing per file and per 64 blocks), so a poor ratio is reported, never re-sent.
            if (double(full) < 1.2 * double(moved->bytes))
                d["note"] = "the final checkpoint differed from the first almost everywhere: the delta did not pay";
            p.report.details["delta"] = d;
            return {};
        }
        // A base missing on the source side: send it whole. A base that differs between the
        // two sides (corrupt_artifact: a rebuilt file failed its SHA-256) is not trusted: the
        // migration fails and rolls back.
        if (moved.error_code() != error::not_found) return moved.error();
        why_not = fmt::format("the delta could not be made ({}); sent the final checkpoint whole", moved.error().what());
    }
    auto moved = transfer(p, h, fmt::format("final checkpoint '{}' (whole)", final_),
                          artifacts::checkpoint(p.source.id, final_), artifacts::checkpoint(p.target_id, final_), stop);
    if (!moved) return moved.error();
    p.report.details["delta"] = {{"used", false}, {"reason", why_not}, {"sent_bytes", moved->bytes}};
    return {};
}

void checkpoint::do_cleanup(prepared& p, json& log) noexcept {
    if (opts_.keep_checkpoints || p.target_id.empty()) return;
    try {
        auto& dst = *p.request.target.runtime;
        for (const char* key : {"first_checkpoint", "final_checkpoint"}) {
            auto name = p.state.value(key, std::string{});
            if (name.empty()) continue;
            auto r = dst.delete_checkpoint(p.target_id, name);
            log.push_back(fmt::format("delete checkpoint '{}' on the target: {}", name, r ? "ok" : r.error().what()));
        }
    } catch (...) {
    }
}

}  // namespace migrate::strategy
