// migrate/migrator.hpp — the migration strategy interface and the base every strategy
// builds on.
//
// A migration has two stages (the thesis's terms in brackets):
//   prepare  (pre-relocation) the service keeps running on the source; move all that can
//            move early (images, a first checkpoint, a filesystem export).
//   relocate (relocation)     the downtime: freeze the source, move the rest, start the
//            service on the target, confirm it runs; only then clean up the source.
//   rollback                  on any failure: remove what was made on the target and make
//            sure the source serves again, from its own checkpoint when one was taken, so
//            nothing is lost. Nothing on the source is deleted before the target confirmed.
//
// Strategies derive from `migrator_base`, which owns what every strategy does the same
// way (non-virtual interface, as spdlog's base_sink): validating the request, inspecting
// the source, refusing a name taken on the target, the phase events and the report,
// the migration-aware app's phase hook, confirming the target runs, cleanup, and the
// generic half of rollback. A strategy implements `do_prepare` and `do_relocate`.
//
// Blocking, cancellable (checked between steps) and observable (hooks); run on the
// caller's thread. Downtime is not measured here: a client probing the service does that
// (probe.hpp), so the report's `downtime` is left for the caller to fill.
#pragma once

#include <migrate/edge_host.hpp>
#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/transport.hpp>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

/// What a strategy keeps and what it needs (`migratectl strategies` prints this).
struct capabilities {
    bool keeps_memory = false;           ///< process memory survives (CRIU)
    bool keeps_filesystem = false;       ///< writes to the container's own filesystem survive
    bool keeps_volumes = false;          ///< named volumes move with the container
    bool keeps_config = true;            ///< cmd, env, workdir, ports, labels, mounts recreated
    bool needs_criu = false;             ///< CRIU on both hosts, experimental dockerd
    bool needs_shared_fs = false;        ///< a path both hosts see
    std::string summary;                 ///< one line: how it works
};
void to_json(json& j, const capabilities& c);

/// Migration-aware apps are told when preparation starts and ends (the thesis's
/// `POST /changePhase`). The body is `{"phase": "pre-relocation-start"}` or `"...-end"`.
struct app_phase_hook {
    std::string url;                                ///< "http://10.0.0.2:8080/changePhase"; empty = none
    std::chrono::milliseconds timeout{2000};
    bool required = false;                          ///< a failed call fails the migration
};
void to_json(json& j, const app_phase_hook& h);
void from_json(const json& j, app_phase_hook& h);

struct migration_request {
    edge_host source;
    edge_host target;
    std::string container;                          ///< name or id on the source
    std::string target_name;                        ///< empty = the source's name
    bool remove_source = true;                      ///< once the target confirmed it runs
    /// Grace period of a strategy's stop of the source (SIGTERM, then SIGKILL): part of the
    /// downtime for strategies that stop it, and the app's chance to flush its state.
    std::chrono::seconds stop_timeout{3};
    std::shared_ptr<migrate::transport> transport;  ///< empty = make_local_transport()
    app_phase_hook phase_hook;
    migrate::hooks hooks;

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

/// What `prepare` made and learnt; `relocate` and `rollback` continue from it.
struct prepared {
    migration_request request;
    migration_report report;
    container_info source;                  ///< as inspected when prepare began
    container_spec target_spec;             ///< created (or to be created) on the target
    std::string target_id;                  ///< container created on the target, if any

    // What this migration made on the target: rollback removes exactly these (and keeps
    // listed what it could not remove).
    std::vector<std::string> target_images;
    std::vector<std::string> target_volumes;
    // What it made on the source: removed by cleanup after success.
    std::vector<std::string> source_checkpoints;
    std::vector<std::string> source_images;
    /// The checkpoint whose dump stopped the source; rollback restores from it.
    std::string exit_checkpoint;

    json state = json::object();            ///< the strategy's own notes between stages
    bool relocated = false;
    std::string strategy;                   ///< name of the migrator that prepared this
};

class migrator {
public:
    virtual ~migrator() = default;
    virtual std::string_view name() const noexcept = 0;
    virtual capabilities caps() const = 0;
    /// The strategy's options as JSON (what `make_migrator` was given, defaults filled in).
    virtual json options() const = 0;
    /// Stage 1, the service still running. On failure, what was made is already undone.
    virtual result<prepared> prepare(const migration_request& req, std::stop_token stop = {}) = 0;
    /// Stage 2, the downtime. Returns the report, also when the move failed (then
    /// `success == false` and the rollback has run: `rolled_back` says whether the source
    /// serves again). A `result` failure only for misuse (relocating twice, a foreign
    /// `prepared`).
    virtual result<migration_report> relocate(prepared& p, std::stop_token stop = {}) = 0;
    /// Undo after `prepare` (e.g. the caller decided not to move after all). Never throws.
    /// What it cannot remove from the target (unreachable) stays listed in `p` and in the
    /// report's `details.left_on_target`: call it again once the target is back.
    virtual void rollback(prepared& p) noexcept = 0;
};

/// The shared half of every strategy.
class migrator_base : public migrator {
public:
    result<prepared> prepare(const migration_request& req, std::stop_token stop = {}) final;
    result<migration_report> relocate(prepared& p, std::stop_token stop = {}) final;
    void rollback(prepared& p) noexcept final;

protected:
    /// Runs inside the `prepare` phase after the base inspected the source (`p.source`),
    /// filled `p.target_spec` and checked the name is free on the target.
    virtual result<void> do_prepare(prepared& p, const hooks& h, std::stop_token stop) = 0;
    /// Runs inside the `relocate` phase; must leave the service started on the target with
    /// `p.target_id` set. The base then confirms it runs and cleans up.
    virtual result<void> do_relocate(prepared& p, const hooks& h, std::stop_token stop) = 0;
    /// Strategy-specific undo, run first in a rollback (staged files, ...). Default: nothing.
    virtual void do_rollback(prepared& p, json& log) noexcept;
    /// Strategy-specific cleanup after success (source side). Default: nothing.
    virtual void do_cleanup(prepared& p, json& log) noexcept;

    // ---- helpers for strategies -------------------------------------------------------
    /// One transfer as a `transfer` phase (progress events, bytes in the report).
    result<transfer_stats> transfer(prepared& p, const hooks& h, std::string detail, const artifact_spec& produce,
                                    const artifact_spec& consume, std::stop_token stop);
    /// Creates the container on the target from `p.target_spec` (records `p.target_id`).
    result<void> create_on_target(prepared& p);
    /// Creates on the target every named volume of `p.target_spec` it lacks (recorded for
    /// rollback); volumes it already has are left as they are.
    result<void> create_target_volumes(prepared& p);
    /// Moves the contents of every named volume of the source container to the target.
    result<void> transfer_volumes(prepared& p, const hooks& h, std::stop_token stop);
    /// Stops the source container (graceful, then killed) as a `freeze` phase.
    result<void> stop_source(prepared& p, const hooks& h);
};

/// prepare + relocate in one call. A failed prepare still yields a report (`success ==
/// false`, nothing moved, the source untouched). `result` failure only for invalid input.
result<migration_report> run_migration(migrator& m, const migration_request& req, std::stop_token stop = {});

}  // namespace migrate
