// migrate/strategy/export_import.hpp — thesis M1 (Campolo et al.): move the container's
// filesystem as a `docker export`, rebuild it on the target with `docker import`, and move
// its named volumes (the user state) during the downtime.
//
//   prepare  export the running container's filesystem -> import it on the target as an
//            image carrying the container's config; create the volumes and the container
//            on the target (not started).
//   relocate stop the source; move every named volume's contents; start the target.
//
// Keeps: volumes, config (unlike the thesis's M1, the app starts on the target with its
// cmd, env, workdir, ports, labels and mounts, no manual input). Loses: process memory;
// filesystem writes after the export unless `export_in_downtime` (longer downtime).
#pragma once

#include <migrate/migrator.hpp>

namespace migrate::strategy {

struct export_import_options {
    /// The image made on the target is `<image_prefix>/<container>:<utc timestamp>`.
    std::string image_prefix = "migrate/export";
    /// Export the filesystem after stopping the source (keeps every filesystem write, at the
    /// price of moving the whole filesystem inside the downtime).
    bool export_in_downtime = false;

    result<void> validate() const;
};
void to_json(json& j, const export_import_options& o);
void from_json(const json& j, export_import_options& o);

class export_import final : public migrator_base {
public:
    explicit export_import(export_import_options o = {}) : opts_(std::move(o)) {}
    std::string_view name() const noexcept override { return "export_import"; }
    capabilities caps() const override;
    json options() const override { return opts_; }

protected:
    result<void> do_prepare(prepared& p, const hooks& h, std::stop_token stop) override;
    result<void> do_relocate(prepared& p, const hooks& h, std::stop_token stop) override;

private:
    result<void> move_filesystem(prepared& p, const hooks& h, std::stop_token stop);
    export_import_options opts_;
};

}  // namespace migrate::strategy
