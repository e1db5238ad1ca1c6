// migrate/strategy/checkpoint.hpp — thesis M3 (Addad et al.): CRIU live migration with a
// first checkpoint moved while the service runs and only the difference moved in the
// downtime.
//
//   (Each checkpoint is dumped by runc straight into dockerd's checkpoint directory where it
//   can, skipping containerd's copies, else through dockerd: `dumper`, dumper_mode.hpp.)
//   prepare  ask the target what it has of the image (Addad's check: the exact image ->
//            "memory", nothing moves; its base layers -> "partial", only the rest moves;
//            nothing -> "full"); create the volumes and the container on the target (not
//            started); take a FIRST checkpoint with the service left running (CRIU freezes
//            it while it dumps: reported as a `freeze` phase inside prepare) and move it
//            to the target container's checkpoint directory.
//   relocate take the FINAL checkpoint (the service stops: the downtime starts); move the
//            named volumes' contents; move only the blocks of the final checkpoint that
//            differ from the first (both hosts hold the first; the target rebuilds the
//            final from its copy and checks every file's SHA-256); restore on the target.
//   rollback the source is restored from its final checkpoint, memory intact (the
//            migrator base does it); what was made on the target is removed.
//
// Iterative pre-dump (pre-copy) needs the kernel to track dirty memory (`criu check
// --feature mem_dirty_track`) AND a way to run `criu pre-dump` with a parent image path,
// which Docker's checkpoint API does not offer (the runc dumper could; not written, as no
// kernel here has the feature to test it). The strategy probes the feature, says in
// `details.pre_dump` whether it is available and why it is not used, and takes the delta
// path. On this platform the kernel has no soft-dirty tracking at all (docs/strategies.md).
//
// Keeps: memory, volumes, config. Loses: writes to the container's own filesystem (its
// writable layer is not moved; CRIU needs the files it has open to be there as they were).
// Needs: CRIU and an experimental dockerd on both hosts; each daemon's checkpoint files
// reachable where its side of a transfer runs (the driver with the local transport, the
// host's agent with the agent transport; docs/docker-engine.md). docs/strategies.md has the
// measured figures.
#pragma once

#include <migrate/migrator.hpp>
#include <migrate/strategy/dumper_mode.hpp>

#include <cstdint>
#include <string>

namespace migrate::strategy {

/// Whether to use iterative pre-dump when the kernel tracks dirty memory.
enum class pre_dump_mode {
    automatic,  ///< "auto": probe; use it where possible, else the delta path (said in the report)
    off,        ///< "off": do not probe
    required,   ///< "required": fail the preparation (`unsupported`) when it cannot be used
};
std::string_view to_string(pre_dump_mode m) noexcept;
inline std::string_view format_as(pre_dump_mode m) noexcept { return to_string(m); }
void to_json(json& j, pre_dump_mode m);
void from_json(const json& j, pre_dump_mode& m);

struct pre_dump_options {
    pre_dump_mode mode = pre_dump_mode::automatic;
    /// Stop iterating once a round leaves fewer dirty pages than this (4 KiB pages).
    std::uint64_t page_threshold = 1024;
    /// At most this many pre-dump rounds before the final dump.
    int max_rounds = 4;
};

/// Options of the `checkpoint` strategy. (`migrate::checkpoint_options` in runtime.hpp is
/// one CRIU dump's options; these configure the whole migration.)
struct checkpoint_strategy_options {
    /// Move only the blocks of the final checkpoint that differ from the first. Off: the
    /// final checkpoint moves whole.
    bool delta = true;
    /// Size of the compared blocks (512 B .. 1 MiB, a multiple of 512). CRIU writes memory
    /// pages of 4 KiB in address order, so 4096 matches what changes.
    std::uint32_t block_size = 4096;
    pre_dump_options pre_dump;
    /// Who runs CRIU. runc straight into the checkpoint directory skips containerd's two
    /// copies of the images: about half the dump time, inside the downtime for the final one.
    dumper_mode dumper = dumper_mode::automatic;
    /// Checkpoint names are `<prefix>-<unique>-first` / `-final` (docker keeps checkpoints
    /// per container, so every migration needs its own names).
    std::string checkpoint_prefix = "migrate";
    /// A dump that fails while the service runs on (CRIU refuses a TCP connection in
    /// flight) is retried up to this many times (0 .. 10); the report lists the failures.
    int dump_retries = 2;
    /// Leave the checkpoints on the target container (and on a kept source) after success,
    /// for debugging. By default they are deleted once the target runs.
    bool keep_checkpoints = false;
    /// Move the contents of the container's named volumes in the downtime (after the final
    /// dump, so they match the memory state). Off: the target gets empty volumes of the same
    /// names (or keeps its own).
    bool move_volumes = true;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const pre_dump_options& o);
void from_json(const json& j, pre_dump_options& o);
void to_json(json& j, const checkpoint_strategy_options& o);
void from_json(const json& j, checkpoint_strategy_options& o);

/// What `criu check --feature mem_dirty_track` said on this machine.
struct dirty_tracking {
    bool available = false;
    std::string reason;       ///< CRIU's own words, or why it could not be asked
};
void to_json(json& j, const dirty_tracking& d);

/// Runs `criu check --feature mem_dirty_track` once per process (the answer is cached;
/// thread safe). CRIU missing is reported as not available, with the reason.
const dirty_tracking& criu_dirty_tracking();

class checkpoint final : public migrator_base {
public:
    explicit checkpoint(checkpoint_strategy_options o = {}) : opts_(std::move(o)) {}
    std::string_view name() const noexcept override { return "checkpoint"; }
    capabilities caps() const override;
    json options() const override { return opts_; }

protected:
    result<void> do_prepare(prepared& p, const hooks& h, std::stop_token stop) override;
    result<void> do_relocate(prepared& p, const hooks& h, std::stop_token stop) override;
    void do_cleanup(prepared& p, json& log) noexcept override;

private:
    result<void> move_final_checkpoint(prepared& p, const hooks& h, std::stop_token stop, bool use_delta,
                                       const std::string& why_not_delta);
    checkpoint_strategy_options opts_;
};

}  // namespace migrate::strategy
