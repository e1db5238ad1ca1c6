#include <migrate/migrator.hpp>

#include "../net/http_call.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace migrate {

void to_json(json& j, const capabilities& c) {
    j = json{{"keeps_memory", c.keeps_memory},       {"keeps_filesystem", c.keeps_filesystem},
             {"keeps_volumes", c.keeps_volumes},     {"keeps_config", c.keeps_config},
             {"needs_criu", c.needs_criu},           {"needs_shared_fs", c.needs_shared_fs},
             {"summary", c.summary}};
}

void to_json(json& j, const app_phase_hook& h) {
    j = json{{"url", h.url}, {"timeout_ms", h.timeout.count()}, {"required", h.required}};
}
void from_json(const json& j, app_phase_hook& h) {
    detail::read_field(j, "phase_hook", "url", h.url);
    std::int64_t ms = h.timeout.count();
    detail::read_field(j, "phase_hook", "timeout_ms", ms);
    h.timeout = std::chrono::milliseconds{ms};
    detail::read_field(j, "phase_hook", "required", h.required);
}

result<void> migration_request::validate() const {
    if (container.empty()) return make_failure(error::invalid_argument, "migration_request.container: required");
    if (!source.runtime) return make_failure(error::invalid_argument, "migration_request.source.runtime: required");
    if (!target.runtime) return make_failure(error::invalid_argument, "migration_request.target.runtime: required");
    if (source.runtime == target.runtime)
        return make_failure(error::invalid_argument,
                            "migration_request.target: the same engine as the source (" + source.runtime->endpoint() + ")");
    if (!phase_hook.url.empty() && phase_hook.url.rfind("http://", 0) != 0 && phase_hook.url.rfind("https://", 0) != 0)
        return make_failure(error::invalid_argument, "migration_request.phase_hook.url: must start with http:// or https://");
    if (stop_timeout.count() < 0)
        return make_failure(error::invalid_argument, "migration_request.stop_timeout: must not be negative");
    if (phase_hook.timeout.count() <= 0)
        return make_failure(error::invalid_argument, "migration_request.phase_hook.timeout: must be positive");
    return {};
}

namespace {

failure cancelled_in(std::string_view where) { return make_failure(error::cancelled, fmt::format("cancelled {}", where)); }

// Hooks that record every phase into `p.report` and pass events on to the caller's hooks.
// Made afresh in each call: `prepared` moves between calls, so no pointer into it is kept.
struct recording_hooks {
    report_recorder recorder;
    hooks h;
    recording_hooks(prepared& p) : recorder(p.report) {
        h.log = p.request.hooks.log;
        h.on_event = [this, &p](const phase_event& e) {
            recorder(e);
            p.request.hooks.emit(e);
        };
    }
    recording_hooks(const recording_hooks&) = delete;
};

// The migration-aware app's phase hook (thesis: POST /changePhase).
result<void> call_phase_hook(prepared& p, const hooks& h, std::string_view what) {
    const auto& hook = p.request.phase_hook;
    if (hook.url.empty()) return {};
    json body = {{"phase", what}, {"container", p.request.container}, {"source", p.request.source.name},
                 {"target", p.request.target.name}};
    auto r = net::http_call("POST", hook.url, body.dump(), hook.timeout);
    std::string outcome = !r ? r.error().what()
                          : r->status / 100 == 2 ? fmt::format("HTTP {}", r->status)
                                                 : fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200));
    p.report.details["phase_hook"].push_back({{"phase", what}, {"outcome", outcome}});
    h.info(fmt::format("phase hook {} -> {}", what, outcome));
    bool ok = r && r->status / 100 == 2;
    if (!ok && hook.required)
        return make_failure(r ? error::daemon_error : r.error_code() == error::timeout ? error::timeout : error::daemon_unreachable,
                            fmt::format("phase hook {} at {}: {}", what, hook.url, outcome));
    return {};
}

bool has_checkpoint(container_runtime& rt, const std::string& id, const std::string& name) {
    auto cps = rt.list_checkpoints(id);
    return cps && std::find(cps->begin(), cps->end(), name) != cps->end();
}

}  // namespace

// ---- prepare ------------------------------------------------------------------------------

result<prepared> migrator_base::prepare(const migration_request& req, std::stop_token stop) {
    MIGRATE_TRY(req.validate());
    prepared p;
    p.request = req;
    if (!p.request.transport) p.request.transport = make_local_transport();
    p.strategy = std::string(name());
    auto& rep = p.report;
    rep.strategy = p.strategy;
    rep.subject = req.container;
    rep.source = req.source.name;
    rep.target = req.target.name;
    rep.started_at = utc_now_iso8601();
    rep.details["source_endpoint"] = req.source.runtime->endpoint();
    rep.details["target_endpoint"] = req.target.runtime->endpoint();
    rep.details["transport"] = std::string(p.request.transport->name());
    rep.details["options"] = options();
    // What the target will have of the service, so a reader of the report does not look for
    // what was never meant to arrive (memcached's keys after a move without CRIU, say).
    const auto c = caps();
    rep.details["keeps"] = {{"memory", c.keeps_memory}, {"filesystem", c.keeps_filesystem},
                            {"volumes", c.keeps_volumes}, {"config", c.keeps_config}};

    recording_hooks rh{p};
    const hooks& h = rh.h;
    auto& src = *req.source.runtime;
    auto& dst = *req.target.runtime;

    auto failed = [&](const failure& f, phase_scope& scope) -> result<prepared> {
        scope.finish(f.code);
        rep.error = f.what();
        rollback(p);
        return f;
    };
    phase_scope scope{h, phase::prepare, fmt::format("{}: prepare while the service runs", name())};
    auto info = src.inspect(req.container);
    if (!info) return failed(info.error(), scope);
    if (!info->running || info->paused)
        return failed(make_failure(error::conflict, fmt::format("container '{}' on {} is {}, not running",
                                                                req.container, src.endpoint(), info->status)),
                      scope);
    p.source = *info;
    p.target_spec = info->spec;
    if (!req.target_name.empty()) p.target_spec.name = req.target_name;
    rep.details["source_container"] = info->id;
    if (auto existing = dst.inspect(p.target_spec.name); existing)
        return failed(make_failure(error::already_exists,
                                   fmt::format("a container '{}' already exists on {}", p.target_spec.name, dst.endpoint())),
                      scope);
    if (auto r = call_phase_hook(p, h, "pre-relocation-start"); !r) return failed(r.error(), scope);
    if (stop.stop_requested()) return failed(cancelled_in("during preparation"), scope);
    if (auto r = do_prepare(p, h, stop); !r) return failed(r.error(), scope);
    if (stop.stop_requested()) return failed(cancelled_in("during preparation"), scope);
    if (auto r = call_phase_hook(p, h, "pre-relocation-end"); !r) return failed(r.error(), scope);
    scope.finish();
    return p;
}

// ---- relocate -----------------------------------------------------------------------------

result<migration_report> migrator_base::relocate(prepared& p, std::stop_token stop) {
    if (p.strategy != name())
        return make_failure(error::invalid_argument,
                            fmt::format("this prepared migration belongs to strategy '{}', not '{}'", p.strategy, name()));
    if (p.relocated) return make_failure(error::invalid_argument, "this migration was already relocated");
    p.relocated = true;
    recording_hooks rh{p};
    const hooks& h = rh.h;
    auto& rep = p.report;
    auto& dst = *p.request.target.runtime;

    auto failed = [&](const failure& f, phase_scope& scope) -> result<migration_report> {
        scope.finish(f.code);
        rep.success = false;
        rep.error = f.what();
        rollback(p);
        return rep;
    };
    {
        phase_scope scope{h, phase::relocate, fmt::format("{}: the downtime", name())};
        if (stop.stop_requested()) return failed(cancelled_in("before relocation"), scope);
        if (auto r = do_relocate(p, h, stop); !r) return failed(r.error(), scope);
        if (p.target_id.empty())
            return failed(make_failure(error::internal, fmt::format("strategy '{}' started nothing on the target", name())),
                          scope);
        // Confirm from the target engine itself; a restored process can die at once.
        auto now = dst.inspect(p.target_id);
        if (!now) return failed(now.error(), scope);
        if (!now->running) {
            // Give a just-started container a moment: "running" is set after start returns.
            std::this_thread::sleep_for(std::chrono::milliseconds{100});
            now = dst.inspect(p.target_id);
            if (!now) return failed(now.error(), scope);
        }
        if (!now->running)
            return failed(make_failure(error::daemon_error,
                                       fmt::format("container '{}' on {} is {} (exit code {}) right after its start",
                                                   p.target_spec.name, dst.endpoint(), now->status, now->exit_code)),
                          scope);
        scope.finish();
    }
    // ---- cleanup: only now that the target confirmed ----------------------------------------
    {
        phase_scope c{h, phase::cleanup, "remove what stayed on the source"};
        json log = json::array();
        auto& src = *p.request.source.runtime;
        if (p.request.remove_source) {
            auto r = src.remove(p.source.id, true);
            log.push_back(fmt::format("remove source container {}: {}", p.source.name, r ? "ok" : r.error().what()));
            for (auto& img : p.source_images) {
                auto ri = src.remove_image(img, false);
                log.push_back(fmt::format("remove source image {}: {}", img, ri ? "ok" : ri.error().what()));
            }
        } else {
            for (auto& cp : p.source_checkpoints) (void)src.delete_checkpoint(p.source.id, cp);
        }
        do_cleanup(p, log);
        rep.details["cleanup"] = log;
        c.finish();
    }
    rep.success = true;
    return rep;
}

// ---- rollback -----------------------------------------------------------------------------

void migrator_base::do_rollback(prepared&, json&) noexcept {}
void migrator_base::do_cleanup(prepared&, json&) noexcept {}

void migrator_base::rollback(prepared& p) noexcept {
    // After a successful relocation the target holds the only running copy: nothing to undo.
    if (p.strategy != name() || (p.relocated && p.report.success)) return;
    try {
        recording_hooks rh{p};
        const hooks& h = rh.h;
        phase_scope scope{h, phase::rollback, "restore the service on the source"};
        json log = json::array();
        do_rollback(p, log);
        auto& src = *p.request.source.runtime;
        auto& dst = *p.request.target.runtime;
        // What could not be removed (the target unreachable) stays listed in `p`, so calling
        // rollback again once the target is back finishes the job; the report names it.
        auto gone = [](const result<void>& r) { return r || r.error_code() == error::not_found; };
        if (!p.target_id.empty()) {
            auto r = dst.remove(p.target_id, true);
            log.push_back(fmt::format("remove target container: {}", r ? "ok" : r.error().what()));
            if (gone(r)) p.target_id.clear();
        }
        std::erase_if(p.target_volumes, [&](const std::string& v) {
            // A transfer that failed on its way (the link went down) may still be feeding
            // this volume on the target: its consumer there holds it ("volume is in use")
            // until its own stall limit passes, about when ours did. Give it that long.
            auto r = dst.remove_volume(v, true);
            for (auto until = steady_clock::now() + std::chrono::seconds{10};
                 !r && r.error_code() == error::conflict && steady_clock::now() < until;) {
                std::this_thread::sleep_for(std::chrono::milliseconds{250});
                r = dst.remove_volume(v, true);
            }
            log.push_back(fmt::format("remove target volume {}: {}", v, r ? "ok" : r.error().what()));
            return gone(r);
        });
        std::erase_if(p.target_images, [&](const std::string& img) {
            auto r = dst.remove_image(img, true);
            log.push_back(fmt::format("remove target image {}: {}", img, r ? "ok" : r.error().what()));
            return gone(r);
        });
        if (!p.target_id.empty() || !p.target_volumes.empty() || !p.target_images.empty())
            p.report.details["left_on_target"] = {
                {"container", p.target_id}, {"volumes", p.target_volumes}, {"images", p.target_images}};
        else
            p.report.details.erase("left_on_target");

        // Decide from what the source engine says now: a failed dump or stop can leave it
        // stopped, with or without a checkpoint.
        bool serving = false;
        // A dump with exit that succeeded has killed the service; an engine may report that
        // a moment later (a runc dump: dockerd learns it from containerd's exit event).
        // Until it does, "running" is stale: wait for it rather than call a dead service
        // serving. A dump that failed left its service running, and no checkpoint.
        if (!p.source.id.empty() && !p.exit_checkpoint.empty() && has_checkpoint(src, p.source.id, p.exit_checkpoint))
            for (int i = 0; i < 250; ++i) {
                auto now = src.inspect(p.source.id);
                if (!now || !now->running) break;
                std::this_thread::sleep_for(std::chrono::milliseconds{20});
            }
        if (p.source.id.empty()) {
            serving = true;  // never got as far as the source
        } else if (auto now = src.inspect(p.source.id); !now) {
            log.push_back(fmt::format("inspect source: {}", now.error().what()));
        } else if (now->running) {
            if (now->paused) {
                auto r = src.unpause(p.source.id);
                log.push_back(fmt::format("unpause source: {}", r ? "ok" : r.error().what()));
                serving = static_cast<bool>(r);
            } else {
                log.push_back("source still running");
                serving = true;
            }
        } else {
            if (!p.exit_checkpoint.empty() && has_checkpoint(src, p.source.id, p.exit_checkpoint)) {
                auto r = src.start_from_checkpoint(p.source.id, p.exit_checkpoint);
                log.push_back(fmt::format("restore source from checkpoint '{}': {}", p.exit_checkpoint,
                                          r ? "ok" : r.error().what()));
                serving = static_cast<bool>(r);
            }
            if (!serving) {
                auto r = src.start(p.source.id);
                log.push_back(fmt::format("start source{}: {}", p.exit_checkpoint.empty() ? "" : " cold (memory state lost)",
                                          r ? "ok" : r.error().what()));
                serving = static_cast<bool>(r);
            }
        }
        // Checkpoints go only once the source serves again: a checkpoint whose restore
        // failed is the last copy of the service's memory and stays for a human.
        if (serving)
            for (auto& cp : p.source_checkpoints) (void)src.delete_checkpoint(p.source.id, cp);
        else if (!p.exit_checkpoint.empty())
            log.push_back(fmt::format("kept checkpoint '{}' of {} on {}: the only copy of its memory state",
                                      p.exit_checkpoint, p.source.name, src.endpoint()));
        // A migration-aware app told that preparation started (or ended: it then holds its
        // writes) must hear that the move is off, or it holds until its own limit.
        if (serving && p.report.details.contains("phase_hook")) {
            (void)call_phase_hook(p, h, "running");
            log.push_back(fmt::format("phase hook running: {}",
                                      p.report.details["phase_hook"].back()["outcome"].get<std::string>()));
        }
        p.report.rolled_back = serving;
        p.report.details["rollback"] = log;
        scope.finish(serving ? std::error_code{} : make_error_code(error::state_lost));
    } catch (...) {
        p.report.rolled_back = false;
    }
}

// ---- helpers ------------------------------------------------------------------------------

result<transfer_stats> migrator_base::transfer(prepared& p, const hooks& h, std::string detail,
                                               const artifact_spec& produce, const artifact_spec& consume,
                                               std::stop_token stop) {
    phase_scope t{h, phase::transfer, std::move(detail)};
    auto r = p.request.transport->transfer(p.request.source, produce, p.request.target, consume,
                                           [&](std::uint64_t b) { t.progress(b); }, stop);
    if (!r) {
        t.finish(r.error_code());
        return r.error();
    }
    t.progress(r->bytes);
    t.finish();
    p.report.details["transfers"].push_back({{"what", produce.describe()}, {"stats", *r}});
    return r;
}

result<void> migrator_base::create_on_target(prepared& p) {
    auto id = p.request.target.runtime->create(p.target_spec);
    if (!id) return id.error();
    p.target_id = *id;
    p.report.details["target_container"] = *id;
    return {};
}

result<void> migrator_base::create_target_volumes(prepared& p) {
    auto& dst = *p.request.target.runtime;
    for (auto& m : p.target_spec.mounts) {
        if (m.type != mount_spec::kind::volume || m.source.empty()) continue;
        if (dst.inspect_volume(m.source)) continue;
        auto v = dst.create_volume(m.source, {{"migrate.from", p.request.source.name}});
        if (!v) return v.error();
        p.target_volumes.push_back(m.source);
    }
    return {};
}

result<void> migrator_base::transfer_volumes(prepared& p, const hooks& h, std::stop_token stop) {
    for (auto& m : p.source.spec.mounts) {
        if (m.type != mount_spec::kind::volume || m.source.empty()) continue;
        if (stop.stop_requested()) return cancelled_in("while moving volumes");
        auto r = transfer(p, h, fmt::format("volume {}", m.source), artifacts::volume(m.source), artifacts::volume(m.source),
                          stop);
        if (!r) return r.error();
    }
    return {};
}

result<void> migrator_base::stop_source(prepared& p, const hooks& h) {
    phase_scope f{h, phase::freeze, fmt::format("stop {} on the source", p.source.name)};
    auto r = p.request.source.runtime->stop(p.source.id, p.request.stop_timeout);
    f.finish(r ? std::error_code{} : r.error_code());
    return r;
}

result<migration_report> run_migration(migrator& m, const migration_request& req, std::stop_token stop) {
    MIGRATE_TRY(req.validate());
    // A failed prepare returns only its failure; its phases (which step failed, after how
    // long) are recorded here on the way, so the report of a failed migration still has them.
    migration_report failed;
    failed.strategy = std::string(m.name());
    failed.subject = req.container;
    failed.source = req.source.name;
    failed.target = req.target.name;
    failed.started_at = utc_now_iso8601();
    migration_request recorded = req;
    recorded.hooks.on_event = [rec = std::make_shared<report_recorder>(failed), user = req.hooks.on_event,
                               done = std::make_shared<bool>(false)](const phase_event& e) {
        if (e.what == phase_event::kind::begin && e.phase == phase::relocate) *done = true;  // relocate reports itself
        if (!*done) (*rec)(e);
        if (user) user(e);
    };
    auto p = m.prepare(recorded, stop);
    if (!p) {
        if (p.error_code() == error::invalid_argument) return p.error();
        failed.success = false;
        failed.error = p.error().what();
        failed.rolled_back = true;  // prepare undid its own work; the source never stopped
        return failed;
    }
    return m.relocate(*p, stop);
}

}  // namespace migrate
