// migrate/strategy/shared_fs.hpp — Addad's "unknown path" variant: the service's state on
// disk already lives on a path both hosts see (NFS, CephFS; in the testbed a common host
// directory), so only the process (its CRIU checkpoint) moves, and it moves through that
// same shared path, not over a host-to-host stream.
//
//   prepare  check that every mount of the container is a bind of a directory under the
//            shared root (a named volume lives in one daemon's data root: refused, naming
//            it); make sure the target has the image (Addad's check, as the checkpoint
//            strategy); create the container on the target (not started). The source runs on.
//   relocate final checkpoint on the source (the service stops); the source host writes it
//            to `<shared_root>/<staging_dir>/<name>`; the target host reads it from there into
//            its daemon's checkpoint directory (Docker 20.10 restores only from there); CRIU
//            restore on the target. The bound directories are the same files on both sides,
//            so nothing else moves.
//   rollback the source is restored from its checkpoint (memory intact); the staged copy on
//            the shared path is removed.
//
// Keeps: memory and everything under the shared root. Loses: writes to the container's own
// writable layer (run it with a read-only root filesystem; prepare warns otherwise).
// Needs: CRIU on both hosts, the shared root at the same path on both, and the checkpoint
// files of both daemons reachable where the shared root is (the same machine in the
// testbed; on separate machines each side is a host agent's job).
#pragma once

#include <migrate/migrator.hpp>
#include <migrate/strategy/dumper_mode.hpp>

#include <filesystem>
#include <string>

namespace migrate::strategy {

struct shared_fs_options {
    /// The path both hosts see, absolute (the default is only a conventional place; set it
    /// to the NFS/CephFS mount). Every bind mount of the container must lie under it;
    /// prepare fails when it is not a directory.
    std::filesystem::path shared_root = "/var/lib/migrate/shared";
    /// Where checkpoints are staged, relative to `shared_root`.
    std::string staging_dir = ".migrate-checkpoints";
    /// Checkpoint names are `<prefix>-<unique>`.
    std::string checkpoint_prefix = "migrate";
    /// A dump that fails while the service runs on (CRIU refuses a TCP connection in
    /// flight) is retried up to this many times (0 .. 10); the report lists the failures.
    int dump_retries = 2;
    /// Who runs CRIU (dumper_mode.hpp): runc straight into the checkpoint directory skips
    /// containerd's two copies of the images inside the downtime.
    dumper_mode dumper = dumper_mode::automatic;
    /// Leave the checkpoint on the target container and on the shared path after success.
    bool keep_checkpoints = false;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const shared_fs_options& o);
void from_json(const json& j, shared_fs_options& o);

class shared_fs final : public migrator_base {
public:
    /// Throws `migration_error` (`invalid_argument`) when the options are invalid; use
    /// `make_migrator("shared_fs", json)` for a non-throwing construction.
    explicit shared_fs(shared_fs_options o = {});
    std::string_view name() const noexcept override { return "shared_fs"; }
    capabilities caps() const override;
    json options() const override { return opts_; }

protected:
    result<void> do_prepare(prepared& p, const hooks& h, std::stop_token stop) override;
    result<void> do_relocate(prepared& p, const hooks& h, std::stop_token stop) override;
    void do_rollback(prepared& p, json& log) noexcept override;
    void do_cleanup(prepared& p, json& log) noexcept override;

private:
    std::filesystem::path staged(const prepared& p) const;
    shared_fs_options opts_;
};

}  // namespace migrate::strategy
