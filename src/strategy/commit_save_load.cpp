#include <migrate/image_layers.hpp>
#include <migrate/strategy/commit_save_load.hpp>

#include "container_changes.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <optional>

namespace migrate::strategy {

result<void> commit_save_load_options::validate() const {
    if (image_prefix.empty() || image_prefix.find(':') != std::string::npos || image_prefix.front() == '/' ||
        image_prefix.back() == '/' || image_prefix.find("//") != std::string::npos)
        return make_failure(error::invalid_argument,
                            fmt::format("commit_save_load.image_prefix: '{}' is not a repository prefix (like migrate/commit)",
                                        image_prefix));
    for (char c : image_prefix)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' || c == '-'))
            return make_failure(error::invalid_argument,
                                fmt::format("commit_save_load.image_prefix: '{}' has '{}'; image repositories are "
                                            "lowercase letters, digits and . _ - /",
                                            image_prefix, c));
    return {};
}
void to_json(json& j, const commit_save_load_options& o) {
    j = json{{"image_prefix", o.image_prefix},
             {"pause", o.pause},
             {"skip_present_layers", o.skip_present_layers},
             {"commit_in_downtime", o.commit_in_downtime}};
}
void from_json(const json& j, commit_save_load_options& o) {
    detail::read_field(j, "commit_save_load", "image_prefix", o.image_prefix);
    detail::read_field(j, "commit_save_load", "pause", o.pause);
    detail::read_field(j, "commit_save_load", "skip_present_layers", o.skip_present_layers);
    detail::read_field(j, "commit_save_load", "commit_in_downtime", o.commit_in_downtime);
}

capabilities commit_save_load::caps() const {
    capabilities c;
    c.keeps_volumes = true;
    // The committed layer carries the container's own filesystem; writes after an early
    // commit are lost, so only a commit in the downtime keeps all of them.
    c.keeps_filesystem = opts_.commit_in_downtime;
    c.summary = opts_.commit_in_downtime
                    ? "move the base image's missing layers early; in the downtime stop, docker commit, save/load the "
                      "container's own layer, move volumes, start (thesis M2, filesystem kept)"
                    : "docker commit the running container, save/load only the layers the target lacks; in the "
                      "downtime stop, move volumes, start (thesis M2)";
    return c;
}

result<void> commit_save_load::commit(prepared& p, const hooks& h) {
    auto& src = *p.request.source.runtime;
    const auto ref = fmt::format("{}/{}:{}-{}", opts_.image_prefix, detail::reference_safe(p.target_spec.name),
                                 std::time(nullptr), p.source.id.substr(0, 12));
    // Paused only when it makes a difference: a stopped container cannot be frozen.
    const bool pause = opts_.pause && !opts_.commit_in_downtime;
    phase_scope snap{h, phase::snapshot, fmt::format("docker commit {} as {}", p.source.name, ref)};
    std::optional<phase_scope> frozen;
    if (pause) frozen.emplace(h, phase::freeze, fmt::format("{} paused by the commit", p.source.name));
    const auto t0 = steady_clock::now();
    auto id = src.commit(p.source.id, ref, pause);
    const double ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    if (frozen) frozen->finish(id ? std::error_code{} : id.error_code());
    snap.finish(id ? std::error_code{} : id.error_code());
    if (!id) return id.error();
    p.source_images.push_back(ref);
    p.state["committed"] = ref;
    p.report.details["commit"] = {{"reference", ref}, {"image_id", *id}, {"paused", pause}, {"ms", ms}};
    return {};
}

result<std::string> commit_save_load::move_image(prepared& p, const hooks& h, const std::string& image,
                                                 const char* what, std::stop_token stop) {
    auto& src = *p.request.source.runtime;
    auto& dst = *p.request.target.runtime;
    auto info = src.inspect_image(image);
    if (!info) return info.error();

    // Addad's check: which of the image's layers does the target hold already?
    layer_check check;
    check.layers = info->layers;
    if (opts_.skip_present_layers) {
        auto c = check_layers(dst, info->layers);
        if (!c) return c.error();
        check = std::move(*c);
    } else {
        check.note = "skip_present_layers is off: the whole image moves";
    }
    const bool committed = std::string_view(what) == "committed image";
    json checked = check;
    checked["image"] = image;
    checked["skipped"] = check.skip();
    p.report.details[committed ? "image_case" : "base_image_case"] = check.which;
    p.report.details[committed ? "image_check" : "base_image_check"] = checked;
    h.info(fmt::format("{} {}: target holds {} of {} layers ({})", what, image, check.held, check.layers.size(),
                       to_string(check.which)));

    if (check.which == image_case::memory && dst.inspect_image(info->id)) {
        // The very image is there (a base image moved before): nothing to send, and not ours
        // to remove on rollback.
        p.report.details[committed ? "image_check" : "base_image_check"]["transfer"] = "none: the target has the image";
        return info->id;
    }
    // Recorded before the load: a load that failed halfway may still have made it.
    p.target_images.push_back(image);
    auto spec = artifacts::images({image}, check.skip());
    auto moved = transfer(p, h,
                          fmt::format("{} {} ({} of {} layers sent)", what, image, check.layers.size() - check.held,
                                      check.layers.size()),
                          spec, spec, stop);
    if (!moved) return moved.error();
    return image;
}

result<void> commit_save_load::do_prepare(prepared& p, const hooks& h, std::stop_token stop) {
    if (opts_.commit_in_downtime) {
        // Only the base image now; the container's own layer follows in the downtime.
        auto base = move_image(p, h, p.source.image_id, "base image", stop);
        if (!base) return base.error();
        return create_target_volumes(p);
    }
    MIGRATE_TRY(commit(p, h));
    auto on_target = move_image(p, h, p.state["committed"].get<std::string>(), "committed image", stop);
    if (!on_target) return on_target.error();
    // Volumes first: creating the container would otherwise make them implicitly, and a
    // rollback would not know they were ours.
    MIGRATE_TRY(create_target_volumes(p));
    p.target_spec.image = *on_target;
    return create_on_target(p);
}

result<void> commit_save_load::do_relocate(prepared& p, const hooks& h, std::stop_token stop) {
    MIGRATE_TRY(stop_source(p, h));
    if (opts_.commit_in_downtime) {
        MIGRATE_TRY(commit(p, h));
        auto on_target = move_image(p, h, p.state["committed"].get<std::string>(), "committed image", stop);
        if (!on_target) return on_target.error();
        p.target_spec.image = *on_target;
        MIGRATE_TRY(create_on_target(p));
    }
    MIGRATE_TRY(transfer_volumes(p, h, stop));
    phase_scope r{h, phase::restore, "start on the target"};
    auto s = p.request.target.runtime->start(p.target_id);
    r.finish(s ? std::error_code{} : s.error_code());
    return s;
}

void commit_save_load::do_rollback(prepared& p, json& log) noexcept {
    auto& src = *p.request.source.runtime;
    for (auto& img : p.source_images) {
        auto r = src.remove_image(img, false);
        log.push_back(fmt::format("remove source image {}: {}", img, r ? "ok" : r.error().what()));
    }
    p.source_images.clear();
}

void commit_save_load::do_cleanup(prepared& p, json& log) noexcept {
    if (p.request.remove_source) return;  // the base removed them with the container
    auto& src = *p.request.source.runtime;
    for (auto& img : p.source_images) {
        auto r = src.remove_image(img, false);
        log.push_back(fmt::format("remove source image {}: {}", img, r ? "ok" : r.error().what()));
    }
}

}  // namespace migrate::strategy
