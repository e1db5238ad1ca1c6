#include <migrate/checkpoint_move.hpp>
#include <migrate/pipe.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate {

result<void> checkpoint_move_options::validate() const {
    if (container.empty()) return make_failure(error::invalid_argument, "checkpoint_move_options.container: required");
    if (checkpoint_name.empty() || checkpoint_name.find('/') != std::string::npos)
        return make_failure(error::invalid_argument,
                            "checkpoint_move_options.checkpoint_name: must be a non-empty name without '/'");
    return {};
}

void to_json(json& j, const checkpoint_move_options& o) {
    j = json{{"container", o.container}, {"target_name", o.target_name}, {"checkpoint_name", o.checkpoint_name},
             {"remove_source", o.remove_source}, {"source_label", o.source_label}, {"target_label", o.target_label}};
}

void from_json(const json& j, checkpoint_move_options& o) {
    constexpr const char* w = "checkpoint_move_options";
    detail::read_field(j, w, "container", o.container);
    detail::read_field(j, w, "target_name", o.target_name);
    detail::read_field(j, w, "checkpoint_name", o.checkpoint_name);
    detail::read_field(j, w, "remove_source", o.remove_source);
    detail::read_field(j, w, "source_label", o.source_label);
    detail::read_field(j, w, "target_label", o.target_label);
}

namespace {

// Everything one move made, so a rollback undoes exactly that.
struct move_state {
    std::string source_id;
    std::string target_id;           // created on the target
    std::string loaded_image;        // image we loaded onto the target (removed on rollback)
    bool checkpointed = false;       // our checkpoint exists on the source
};

failure cancelled_failure(std::string_view where) {
    return make_failure(error::cancelled, fmt::format("cancelled {}", where));
}

void rollback(container_runtime& source, container_runtime& target, const move_state& st,
              const checkpoint_move_options& opts, const hooks& h, migration_report& rep) {
    phase_scope scope{h, phase::rollback, "restore the service on the source"};
    json log = json::array();
    if (!st.target_id.empty()) {
        auto r = target.remove(st.target_id, true);
        log.push_back(fmt::format("remove target container: {}", r ? "ok" : r.error().what()));
    }
    if (!st.loaded_image.empty()) {
        auto r = target.remove_image(st.loaded_image, false);
        log.push_back(fmt::format("remove loaded image from target: {}", r ? "ok" : r.error().what()));
    }
    // Decide from what the source engine says now, not from what we think happened: a
    // failed dump can leave the container stopped, with or without a checkpoint.
    bool restored = false;
    auto now = source.inspect(st.source_id);
    if (!now) {
        log.push_back(fmt::format("inspect source: {}", now.error().what()));
    } else if (now->running) {
        if (now->paused) (void)source.unpause(st.source_id);
        log.push_back("source still running");
        restored = true;
    } else {
        auto cps = source.list_checkpoints(st.source_id);
        bool have_cp = cps && std::find(cps->begin(), cps->end(), opts.checkpoint_name) != cps->end();
        if (have_cp) {
            // The source stopped at its checkpoint: bring it back with its memory state.
            auto r = source.start_from_checkpoint(st.source_id, opts.checkpoint_name);
            log.push_back(fmt::format("restore source from its checkpoint: {}", r ? "ok" : r.error().what()));
            restored = static_cast<bool>(r);
            // Its state lives again in the running source: drop the checkpoint, or the next
            // move of this container fails ("checkpoint with name ... already exists").
            // Kept when the restore failed: it is then the only copy of the memory state.
            if (restored && st.checkpointed) {
                auto d = source.delete_checkpoint(st.source_id, opts.checkpoint_name);
                log.push_back(fmt::format("delete the checkpoint on the source: {}", d ? "ok" : d.error().what()));
            }
        }
        if (!restored) {
            auto s = source.start(st.source_id);
            log.push_back(fmt::format("start source cold (memory state lost): {}", s ? "ok" : s.error().what()));
            restored = static_cast<bool>(s);
        }
    }
    rep.rolled_back = restored;
    rep.details["rollback"] = log;
    scope.finish(restored ? std::error_code{} : make_error_code(error::state_lost));
}

}  // namespace

result<migration_report> checkpoint_move(container_runtime& source, container_runtime& target,
                                         const checkpoint_move_options& opts, const hooks& h,
                                         std::stop_token stop) {
    MIGRATE_TRY(opts.validate());
    migration_report rep;
    rep.strategy = "checkpoint (stop-and-copy)";
    rep.subject = opts.container;
    rep.source = opts.source_label;
    rep.target = opts.target_label;
    rep.started_at = utc_now_iso8601();
    rep.details["source_endpoint"] = source.endpoint();
    rep.details["target_endpoint"] = target.endpoint();

    // Record phases into the report while still passing events to the caller.
    report_recorder recorder{rep};
    hooks hk = h;
    hk.on_event = [&](const phase_event& e) {
        recorder(e);
        h.emit(e);
    };

    move_state st;
    auto fail = [&](const failure& f, bool do_rollback) -> result<migration_report> {
        rep.success = false;
        rep.error = f.what();
        if (do_rollback) rollback(source, target, st, opts, hk, rep);
        return rep;
    };

    // ---- prepare: the service keeps running ------------------------------------------------
    container_info src;
    {
        phase_scope prepare{hk, phase::prepare, "inspect, image, create on target"};
        auto info = source.inspect(opts.container);
        if (!info) { prepare.finish(info.error_code()); return fail(info.error(), false); }
        src = *info;
        st.source_id = src.id;
        rep.details["source_container"] = src.id;
        if (!src.running || src.paused) {
            prepare.finish(make_error_code(error::conflict));
            return fail(make_failure(error::conflict, fmt::format("container '{}' on {} is {}, not running",
                                                                  opts.container, source.endpoint(), src.status)),
                        false);
        }
        container_spec spec = src.spec;
        if (!opts.target_name.empty()) spec.name = opts.target_name;
        if (auto existing = target.inspect(spec.name); existing) {
            prepare.finish(make_error_code(error::already_exists));
            return fail(make_failure(error::already_exists, fmt::format("a container '{}' already exists on {}",
                                                                        spec.name, target.endpoint())),
                        false);
        } else if (existing.error_code() != error::not_found) {
            // Only "no such container" means the name is free; an unreachable or failing
            // target must not be taken for an empty one (we would start streaming the image).
            prepare.finish(existing.error_code());
            return fail(existing.error(), true);
        }
        if (stop.stop_requested()) { prepare.finish(make_error_code(error::cancelled)); return fail(cancelled_failure("before relocation"), false); }

        // Move the image only when the target lacks it (by id: tags can differ).
        auto have = target.inspect_image(src.image_id);
        if (!have && have.error_code() != error::not_found) {
            prepare.finish(have.error_code());
            return fail(have.error(), true);
        }
        if (have) {
            rep.details["image_transfer"] = "target already has the image";
        } else {
            phase_scope t{hk, phase::transfer, fmt::format("image {}", spec.image)};
            auto moved = stream_between(
                [&](byte_sink& out) { return source.save_images({spec.image}, out); },
                [&](byte_source& in) -> result<void> {
                    auto loaded = target.load_images(in);
                    if (!loaded) return loaded.error();
                    return {};
                },
                4 << 20, [&](std::uint64_t b) { t.progress(b); });
            if (!moved) {
                t.finish(moved.error_code());
                prepare.finish(moved.error_code());
                return fail(moved.error(), true);
            }
            st.loaded_image = spec.image;
            t.finish();
            rep.details["image_transfer"] = fmt::format("{} bytes", moved->bytes);
        }
        auto created = target.create(spec);
        if (!created) { prepare.finish(created.error_code()); return fail(created.error(), true); }
        st.target_id = *created;
        rep.details["target_container"] = st.target_id;
        prepare.finish();
    }
    if (stop.stop_requested()) return fail(cancelled_failure("before relocation"), true);

    // ---- relocate: the downtime -------------------------------------------------------------
    {
        phase_scope relocate{hk, phase::relocate, "checkpoint, transfer, restore"};
        {
            phase_scope snap{hk, phase::snapshot, "CRIU checkpoint (exit) on source"};
            auto cp = source.create_checkpoint(st.source_id, {opts.checkpoint_name, true});
            if (!cp) {
                snap.finish(cp.error_code());
                relocate.finish(cp.error_code());
                // A failed dump may still have stopped the container: rollback looks.
                return fail(cp.error(), true);
            }
            st.checkpointed = true;
            snap.finish();
        }
        if (stop.stop_requested()) { relocate.finish(make_error_code(error::cancelled)); return fail(cancelled_failure("during relocation"), true); }
        {
            phase_scope t{hk, phase::transfer, "checkpoint images"};
            auto moved = stream_between(
                [&](byte_sink& out) { return source.export_checkpoint(st.source_id, opts.checkpoint_name, out); },
                [&](byte_source& in) { return target.import_checkpoint(st.target_id, opts.checkpoint_name, in); },
                4 << 20, [&](std::uint64_t b) { t.progress(b); });
            if (!moved) {
                t.finish(moved.error_code());
                relocate.finish(moved.error_code());
                return fail(moved.error(), true);
            }
            t.finish();
            rep.details["checkpoint_bytes"] = moved->bytes;
        }
        {
            phase_scope r{hk, phase::restore, "CRIU restore on target"};
            auto started = target.start_from_checkpoint(st.target_id, opts.checkpoint_name);
            if (started) {
                auto now = target.inspect(st.target_id);
                if (!now) started = now.error();
                else if (!now->running)
                    started = make_failure(error::daemon_error,
                                           fmt::format("restored container exited at once (status {}, exit code {})",
                                                       now->status, now->exit_code));
            }
            if (!started) {
                r.finish(started.error_code());
                relocate.finish(started.error_code());
                return fail(started.error(), true);
            }
            r.finish();
        }
        relocate.finish();
    }

    // ---- cleanup: only now that the target runs ---------------------------------------------
    {
        phase_scope c{hk, phase::cleanup, "remove the source container"};
        json log = json::array();
        if (opts.remove_source) {
            auto r = source.remove(st.source_id, true);
            log.push_back(fmt::format("remove source container: {}", r ? "ok" : r.error().what()));
        }
        rep.details["cleanup"] = log;
        c.finish();
    }
    rep.success = true;
    return rep;
}

}  // namespace migrate
