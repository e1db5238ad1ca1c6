// migrate/strategy/commit_save_load.hpp — thesis M2: `docker commit` the running container,
// `docker save` the committed image, move it, `docker load` it on the target; named volumes
// (the user state) move during the downtime. Unlike the thesis's M2, only the layers the
// target lacks cross the link (Addad's check, migrate/image_layers.hpp).
//
//   prepare  commit the running container (pause = true freezes it for the commit: reported
//            as a `freeze` phase inside prepare); ask the target which of the committed
//            image's layers it holds (`details.image_case`: memory / partial / full); save
//            and stream only the missing layers, load; create the volumes and the container
//            on the target (not started).
//   relocate stop the source; move every named volume's contents; start the target.
//
// With `commit_in_downtime`, prepare moves the container's base image instead (again only
// what the target lacks) and the commit happens after the source stopped, so every write to
// the container's own filesystem survives; the downtime then carries the commit, the
// container's own top layer and the volumes.
//
// Keeps: volumes, config (cmd, env, workdir, user, ports, labels, mounts), the container's
// filesystem as of the commit (including files it wrote, unlike a fresh start from the base
// image). Loses: process memory; filesystem writes after the commit unless
// `commit_in_downtime`. The committed image stays on the target (the container runs from
// it); on the source it is removed once the target runs, or on rollback.
#pragma once

#include <migrate/migrator.hpp>

namespace migrate::strategy {

struct commit_save_load_options {
    /// The committed image is `<image_prefix>/<container>:<utc seconds>-<source id prefix>`.
    std::string image_prefix = "migrate/commit";
    /// `docker commit --pause`: a consistent snapshot of the filesystem, at the price of
    /// freezing the service while the commit runs (reported as a `freeze` phase in prepare).
    bool pause = true;
    /// Ask the target which layers it holds and send only the others. Off: always the whole
    /// image (the thesis's M2).
    bool skip_present_layers = true;
    /// Commit after stopping the source (keeps every filesystem write; prepare moves the
    /// base image, the downtime the container's own layer).
    bool commit_in_downtime = false;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const commit_save_load_options& o);
void from_json(const json& j, commit_save_load_options& o);

class commit_save_load final : public migrator_base {
public:
    explicit commit_save_load(commit_save_load_options o = {}) : opts_(std::move(o)) {}
    std::string_view name() const noexcept override { return "commit_save_load"; }
    capabilities caps() const override;
    json options() const override { return opts_; }

protected:
    result<void> do_prepare(prepared& p, const hooks& h, std::stop_token stop) override;
    result<void> do_relocate(prepared& p, const hooks& h, std::stop_token stop) override;
    /// Removes the image committed on the source (the base leaves it only after success).
    void do_rollback(prepared& p, json& log) noexcept override;
    /// Removes the committed image on the source also when the source container is kept.
    void do_cleanup(prepared& p, json& log) noexcept override;

private:
    result<void> commit(prepared& p, const hooks& h);
    /// Moves `image` (a reference or id on the source) to the target without the layers the
    /// target holds, recording it for rollback; returns how the target names it (the id when
    /// the target had the very image already and nothing moved).
    result<std::string> move_image(prepared& p, const hooks& h, const std::string& image, const char* what,
                                   std::stop_token stop);
    commit_save_load_options opts_;
};

}  // namespace migrate::strategy
