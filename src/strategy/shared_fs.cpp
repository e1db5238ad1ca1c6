#include <migrate/strategy/shared_fs.hpp>

#include "criu_steps.hpp"
#include "image_placement.hpp"

#include <fmt/format.h>

#include <chrono>

namespace fs = std::filesystem;

namespace migrate::strategy {

// ---- options ------------------------------------------------------------------------------

void to_json(json& j, const shared_fs_options& o) {
    j = json{{"shared_root", o.shared_root.string()},
             {"staging_dir", o.staging_dir},
             {"checkpoint_prefix", o.checkpoint_prefix},
             {"dump_retries", o.dump_retries},
             {"dumper", o.dumper},
             {"keep_checkpoints", o.keep_checkpoints}};
}
void from_json(const json& j, shared_fs_options& o) {
    std::string root = o.shared_root.string();
    detail::read_field(j, "shared_fs", "shared_root", root);
    o.shared_root = root;
    detail::read_field(j, "shared_fs", "staging_dir", o.staging_dir);
    detail::read_field(j, "shared_fs", "checkpoint_prefix", o.checkpoint_prefix);
    detail::read_field(j, "shared_fs", "dump_retries", o.dump_retries);
    read_dumper_mode(j, "shared_fs", "dumper", o.dumper);
    detail::read_field(j, "shared_fs", "keep_checkpoints", o.keep_checkpoints);
}

result<void> shared_fs_options::validate() const {
    if (shared_root.empty() || !shared_root.is_absolute())
        return make_failure(error::invalid_argument,
                            fmt::format("shared_fs.shared_root: '{}' must be an absolute path (the path both hosts see)",
                                        shared_root.string()));
    fs::path s{staging_dir};
    bool inside = !staging_dir.empty() && s.is_relative();
    for (auto& part : s)
        if (part == "..") inside = false;
    if (!inside)
        return make_failure(error::invalid_argument,
                            fmt::format("shared_fs.staging_dir: '{}' must be a relative path inside the shared root", staging_dir));
    if (dump_retries < 0 || dump_retries > 10)
        return make_failure(error::invalid_argument,
                            fmt::format("shared_fs.dump_retries: {} is outside 0 .. 10", dump_retries));
    if (!detail::valid_checkpoint_prefix(checkpoint_prefix))
        return make_failure(error::invalid_argument,
                            fmt::format("shared_fs.checkpoint_prefix: '{}' must match [a-zA-Z0-9][a-zA-Z0-9_.-]{{0,63}} "
                                        "(dockerd's checkpoint names)",
                                        checkpoint_prefix));
    return {};
}

shared_fs::shared_fs(shared_fs_options o) : opts_(std::move(o)) {
    if (auto v = opts_.validate(); !v) throw migration_error(v.error());
}

capabilities shared_fs::caps() const {
    capabilities c;
    c.keeps_memory = true;
    c.keeps_volumes = true;  // in the sense of the state on disk: bound from the shared root
    c.needs_criu = true;
    c.needs_shared_fs = true;
    c.summary = fmt::format("CRIU checkpoint written to and read from the shared path {}; the state on disk stays where "
                            "it is (Addad, unknown path)",
                            opts_.shared_root.string());
    return c;
}

namespace {

failure cancelled_in(std::string_view where) { return make_failure(error::cancelled, fmt::format("cancelled {}", where)); }

// `path` equals `root` or lies below it (both made absolute and normal, symlinks resolved
// where they exist).
bool is_under(const fs::path& path, const fs::path& root) {
    std::error_code ec;
    auto p = fs::weakly_canonical(path, ec);
    if (ec) return false;
    auto r = fs::weakly_canonical(root, ec);
    if (ec) return false;
    auto pi = p.begin();
    for (auto ri = r.begin(); ri != r.end(); ++ri, ++pi) {
        if (ri->empty()) continue;  // a trailing separator
        if (pi == p.end() || *pi != *ri) return false;
    }
    return true;
}

// Copies the directory `from` to `to` through `to.partial` + rename, so a reader never sees
// half a checkpoint. Returns the bytes copied.
result<std::uint64_t> copy_dir(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    if (!fs::is_directory(from, ec))
        return make_failure(error::not_found, fmt::format("{} is not a directory", from.string()));
    const fs::path partial = to.string() + ".partial";
    fs::remove_all(partial, ec);
    fs::create_directories(partial, ec);
    if (ec) return make_failure(error::io_error, fmt::format("cannot create {}: {}", partial.string(), ec.message()));
    std::uint64_t bytes = 0;
    auto fail = [&](std::string what) -> result<std::uint64_t> {
        std::error_code ec2;
        fs::remove_all(partial, ec2);
        return make_failure(error::io_error, std::move(what));
    };
    for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        auto rel = fs::relative(it->path(), from, ec);
        if (ec) break;
        auto st = it->symlink_status(ec);
        if (ec) break;
        if (fs::is_directory(st)) {
            fs::create_directories(partial / rel, ec);
        } else if (fs::is_regular_file(st)) {
            fs::copy_file(it->path(), partial / rel, fs::copy_options::overwrite_existing, ec);
            if (!ec) bytes += fs::file_size(it->path(), ec);
        } else {
            return fail(fmt::format("{}: only files and directories are expected in a checkpoint", it->path().string()));
        }
        if (ec) break;
    }
    if (ec) return fail(fmt::format("copying {} to {}: {}", from.string(), partial.string(), ec.message()));
    fs::remove_all(to, ec);
    fs::rename(partial, to, ec);
    if (ec) return fail(fmt::format("rename {} to {}: {}", partial.string(), to.string(), ec.message()));
    return bytes;
}

double ms_of(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

fs::path shared_fs::staged(const prepared& p) const {
    auto name = p.state.value("checkpoint", std::string{});
    return opts_.shared_root / opts_.staging_dir / name;
}

result<void> shared_fs::do_prepare(prepared& p, const hooks& h, std::stop_token stop) {
    auto& rep = p.report;
    const auto& root = opts_.shared_root;
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        return make_failure(error::invalid_argument,
                            fmt::format("shared_fs.shared_root: {} is not a directory here", root.string()));
    // Only what lies on the shared path stays consistent between the two hosts.
    json mounts = json::array();
    for (auto& m : p.source.spec.mounts) {
        switch (m.type) {
        case mount_spec::kind::tmpfs:
            mounts.push_back({{"target", m.target}, {"type", "tmpfs"}, {"how", "in the checkpoint (CRIU dumps tmpfs)"}});
            break;
        case mount_spec::kind::volume:
            return make_failure(
                error::conflict,
                fmt::format("container '{}' on {} mounts the named volume '{}' at {}: a named volume lives in that "
                            "daemon's data root, not on the shared root {}; bind a directory under the shared root "
                            "instead (or use the checkpoint strategy, which moves volumes)",
                            p.source.name, p.request.source.runtime->endpoint(), m.source, m.target, root.string()));
        case mount_spec::kind::bind:
            if (!is_under(m.source, root))
                return make_failure(error::conflict,
                                    fmt::format("container '{}' on {} binds {} at {}, which is not under the shared root "
                                                "{}: the target would see different files",
                                                p.source.name, p.request.source.runtime->endpoint(), m.source, m.target,
                                                root.string()));
            mounts.push_back({{"target", m.target}, {"type", "bind"}, {"source", m.source}, {"how", "shared"}});
            break;
        }
    }
    rep.details["mounts"] = mounts;
    const auto& ro = p.source.spec.extra_host_config;
    if (!(ro.is_object() && ro.value("ReadonlyRootfs", false)))
        rep.details["warnings"].push_back(
            "the container's root filesystem is writable: writes to it outside the shared root are not carried (run "
            "it with a read-only root filesystem)");

    detail::transfer_fn tf = [&](std::string what, const artifact_spec& a, const artifact_spec& b) {
        return transfer(p, h, std::move(what), a, b, stop);
    };
    MIGRATE_TRY(detail::place_image(p, tf, stop));
    if (stop.stop_requested()) return cancelled_in("during preparation");
    MIGRATE_TRY(create_on_target(p));
    json dumper_note;
    auto dumper = detail::choose_dumper(*p.request.source.runtime, p.source.id, opts_.dumper, dumper_note);
    rep.details["dumper"] = dumper_note;
    if (!dumper) return dumper.error();
    p.state["dumper"] = std::string(to_string(*dumper));
    p.state["checkpoint"] = detail::unique_checkpoint_stem(opts_.checkpoint_prefix);
    // Fail now, while the source still runs, if the staging directory cannot be made.
    fs::create_directories(opts_.shared_root / opts_.staging_dir, ec);
    if (ec)
        return make_failure(error::io_error, fmt::format("cannot create {}: {}",
                                                         (opts_.shared_root / opts_.staging_dir).string(), ec.message()));
    return {};
}

result<void> shared_fs::do_relocate(prepared& p, const hooks& h, std::stop_token stop) {
    auto& src = *p.request.source.runtime;
    auto& dst = *p.request.target.runtime;
    const auto name = p.state.value("checkpoint", std::string{});
    if (name.empty() || p.target_id.empty()) return make_failure(error::internal, "shared_fs: relocate without prepare");
    // Before freezing: the target must answer (the source keeps serving if it does not),
    // and its checkpoint directory must be reachable from here.
    auto to_dir = dst.checkpoint_directory(p.target_id, name);
    if (!to_dir) return to_dir.error();

    {
        phase_scope s{h, phase::snapshot, fmt::format("checkpoint '{}' of {} (exit)", name, p.source.name)};
        p.exit_checkpoint = name;
        p.source_checkpoints.push_back(name);
        json failed = json::array();
        auto r = detail::dump_retrying(src, p.source.id,
                                      {.name = name, .exit = true, .dumper = detail::chosen_dumper(p.state)},
                                      opts_.dump_retries, failed);
        auto took = s.finish(r ? std::error_code{} : r.error_code());
        p.report.details["checkpoint"] = {{"name", name}, {"dump_ms", ms_of(took)}};
        if (!failed.empty()) p.report.details["checkpoint"]["failed_attempts"] = failed;
        if (!r) return r.error();
    }
    if (stop.stop_requested()) return cancelled_in("during relocation");
    {
        const auto path = staged(p);
        phase_scope t{h, phase::transfer,
                      fmt::format("checkpoint '{}' through the shared path {} ({} writes, {} reads)", name, path.string(),
                                  p.request.source.name, p.request.target.name)};
        auto fail = [&](const failure& f) -> result<void> {
            t.finish(f.code);
            return f;
        };
        auto from_dir = src.checkpoint_directory(p.source.id, name);
        if (!from_dir) return fail(from_dir.error());
        auto t0 = steady_clock::now();
        auto written = copy_dir(*from_dir, path);  // the source host's side
        if (!written) return fail(written.error());
        auto t1 = steady_clock::now();
        t.progress(*written);
        auto read = copy_dir(path, *to_dir);       // the target host's side
        if (!read) return fail(read.error());
        auto t2 = steady_clock::now();
        t.finish();
        auto& cp = p.report.details["checkpoint"];
        cp["shared_path"] = path.string();
        cp["bytes"] = *written;
        cp["write_ms"] = ms_of(t1 - t0);
        cp["read_ms"] = ms_of(t2 - t1);
        cp["network_copy"] = false;
    }
    if (stop.stop_requested()) return cancelled_in("during relocation");
    phase_scope r{h, phase::restore, fmt::format("CRIU restore on {} from '{}'", p.request.target.name, name)};
    auto started = dst.start_from_checkpoint(p.target_id, name);
    r.finish(started ? std::error_code{} : started.error_code());
    if (!started) return started.error();
    if (opts_.keep_checkpoints) p.source_checkpoints.clear();
    return {};
}

void shared_fs::do_rollback(prepared& p, json& log) noexcept {
    try {
        if (p.state.value("checkpoint", std::string{}).empty()) return;
        std::error_code ec;
        auto path = staged(p);
        fs::remove_all(path.string() + ".partial", ec);
        if (fs::exists(path, ec)) {
            fs::remove_all(path, ec);
            log.push_back(fmt::format("remove the staged checkpoint {}: {}", path.string(), ec ? ec.message() : "ok"));
        }
    } catch (...) {
    }
}

void shared_fs::do_cleanup(prepared& p, json& log) noexcept {
    if (opts_.keep_checkpoints) return;
    try {
        auto name = p.state.value("checkpoint", std::string{});
        if (name.empty()) return;
        std::error_code ec;
        auto path = staged(p);
        fs::remove_all(path, ec);
        log.push_back(fmt::format("remove the staged checkpoint {}: {}", path.string(), ec ? ec.message() : "ok"));
        auto r = p.request.target.runtime->delete_checkpoint(p.target_id, name);
        log.push_back(fmt::format("delete checkpoint '{}' on the target: {}", name, r ? "ok" : r.error().what()));
    } catch (...) {
    }
}

}  // namespace migrate::strategy
