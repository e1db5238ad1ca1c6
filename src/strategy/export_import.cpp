#include <migrate/strategy/export_import.hpp>

#include "container_changes.hpp"

#include <fmt/format.h>

#include <ctime>

namespace migrate::strategy {

result<void> export_import_options::validate() const {
    if (image_prefix.empty() || image_prefix.find(':') != std::string::npos || image_prefix.front() == '/' ||
        image_prefix.back() == '/')
        return make_failure(error::invalid_argument,
                            fmt::format("export_import.image_prefix: '{}' is not a repository prefix (like migrate/export)",
                                        image_prefix));
    return {};
}
void to_json(json& j, const export_import_options& o) {
    j = json{{"image_prefix", o.image_prefix}, {"export_in_downtime", o.export_in_downtime}};
}
void from_json(const json& j, export_import_options& o) {
    detail::read_field(j, "export_import", "image_prefix", o.image_prefix);
    detail::read_field(j, "export_import", "export_in_downtime", o.export_in_downtime);
}

capabilities export_import::caps() const {
    capabilities c;
    c.keeps_volumes = true;
    c.keeps_filesystem = opts_.export_in_downtime;
    c.summary = opts_.export_in_downtime
                    ? "stop, docker export the filesystem, import on the target, move volumes, start (thesis M1, "
                      "filesystem moved in the downtime)"
                    : "docker export the running container, import on the target; in the downtime stop, move volumes, "
                      "start (thesis M1)";
    return c;
}

result<void> export_import::move_filesystem(prepared& p, const hooks& h, std::stop_token stop) {
    const auto ref = fmt::format("{}/{}:{}", opts_.image_prefix, detail::reference_safe(p.target_spec.name), std::time(nullptr));
    auto moved = transfer(p, h, "container filesystem (export -> import)", artifacts::container_fs(p.source.id),
                          artifacts::image_from_fs(ref, detail::dockerfile_changes(p.source.spec)), stop);
    if (!moved) return moved.error();
    p.target_images.push_back(ref);
    p.target_spec.image = ref;
    return {};
}

result<void> export_import::do_prepare(prepared& p, const hooks& h, std::stop_token stop) {
    // Volumes before the container: creating it would make missing volumes implicitly, and
    // a rollback would not know they were this migration's to remove.
    MIGRATE_TRY(create_target_volumes(p));
    if (!opts_.export_in_downtime) {
        MIGRATE_TRY(move_filesystem(p, h, stop));
        MIGRATE_TRY(create_on_target(p));
    }
    return {};
}

result<void> export_import::do_relocate(prepared& p, const hooks& h, std::stop_token stop) {
    MIGRATE_TRY(stop_source(p, h));
    if (opts_.export_in_downtime) {
        MIGRATE_TRY(move_filesystem(p, h, stop));
        MIGRATE_TRY(create_on_target(p));
    }
    MIGRATE_TRY(transfer_volumes(p, h, stop));
    phase_scope r{h, phase::restore, "start on the target"};
    auto s = p.request.target.runtime->start(p.target_id);
    r.finish(s ? std::error_code{} : s.error_code());
    return s;
}

}  // namespace migrate::strategy
