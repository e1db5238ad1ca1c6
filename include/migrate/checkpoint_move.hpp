// migrate/checkpoint_move.hpp — the foundation's migration path: move a running container
// with its memory state from one engine to another by CRIU stop-and-copy.
//
//   prepare (service keeps running): inspect the source, make sure the target has the
//     image (stream `docker save` A -> `docker load` B only when it lacks it), create the
//     container on the target from the captured config (not started).
//   relocate (the downtime): checkpoint with exit on the source, stream the checkpoint to
//     the target, start the target container from it, confirm it runs.
//   cleanup (only after the target confirmed): remove the source container.
//   rollback on any failure: remove what was made on the target; if the source was already
//     checkpointed, restore it from its own checkpoint (memory intact; the checkpoint is
//     then deleted, so the move can be retried) or, failing that, start it cold (the
//     checkpoint is kept). Nothing on the source is deleted before the target confirmed.
//
// This is the simplest path that keeps memory state on this platform (no soft-dirty
// tracking, so no pre-copy; see docs/getting-started.md). The migrator strategies build
// on it.
#pragma once

#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>

#include <stop_token>
#include <string>

namespace migrate {

struct checkpoint_move_options {
    std::string container;                  ///< name or id on the source (required)
    std::string target_name;                ///< name on the target; empty = the source's name
    std::string checkpoint_name = "migrate";
    bool remove_source = true;              ///< remove the source container once the target runs
    std::string source_label = "source";    ///< host names, for the report
    std::string target_label = "target";

    result<void> validate() const;
};
void to_json(json& j, const checkpoint_move_options& o);
void from_json(const json& j, checkpoint_move_options& o);

/// Moves `opts.container` from `source` to `target`. Returns the report (also on failure:
/// `success == false`, `error` set, `rolled_back` says whether the source was restored);
/// a `result` failure only for invalid options. Downtime in the report is left empty: it is
/// measured from outside by a `downtime_prober` the caller runs.
/// Cancellation: checked between steps; a stop request before relocation leaves the
/// source untouched, during relocation it rolls back.
result<migration_report> checkpoint_move(container_runtime& source, container_runtime& target,
                                         const checkpoint_move_options& opts, const hooks& h = {},
                                         std::stop_token stop = {});

}  // namespace migrate
