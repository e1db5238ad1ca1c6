// The migration strategy API (migrator.hpp, strategies.hpp): list_strategies, make_migrator
// -> Migrator (prepare / relocate / rollback), run_migration, EdgeHost, MigrationRequest,
// Prepared, CancelToken, and the transports a request moves its artifacts with
// (transport.hpp, agent/transport.hpp): local_transport, agent_transport -> Transport. Generic over the strategy registry: a strategy registered in
// src/strategy/registry.cpp appears here without a change.
//
// Threads: the SDK's runtimes are one-thread-at-a-time, and Python threads may share an
// EdgeHost (two moves out of `a` at once). So every call gives the migration engines of its
// own, made from the EdgeHosts' engine options; the Prepared keeps them for relocate and
// rollback. Calls on one Migrator are serialised (a strategy object is not promised to be
// thread-safe); a Prepared is in one call at a time.
#include "common.hpp"

#include <migrate/agent/transport.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/migrator.hpp>
#include <migrate/strategies.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

#include <filesystem>
#include <stop_token>

namespace migrate::python {
namespace {

namespace fs = std::filesystem;

/// One call at a time on an object; a second call from the thread already inside (a callback
/// re-entering) fails with `conflict` instead of deadlocking.
struct call_lock {
    std::mutex mu;
    std::atomic<std::thread::id> owner{};
};

/// Runs `f()` holding `l` (waiting for it when `wait`, else `conflict` when it is taken); call
/// without the GIL. `what` names the object in the error.
template <class F>
auto locked(call_lock& l, bool wait, const std::string& what, F&& f) -> decltype(f()) {
    using R = decltype(f());
    if (l.owner.load() == std::this_thread::get_id())
        return R(make_failure(error::conflict, what + " is already in a call on this thread (a callback calling back "
                                                      "into it?)"));
    std::unique_lock lock(l.mu, std::defer_lock);
    if (wait) lock.lock();
    else if (!lock.try_lock())
        return R(make_failure(error::conflict, what + " is in a call on another thread"));
    l.owner = std::this_thread::get_id();
    struct release_owner {
        call_lock& l;
        ~release_owner() { l.owner = std::thread::id{}; }
    } guard{l};
    return f();
}

/// The Python callables of one migration, alive as long as its Prepared (the request's
/// hooks, copied into the Prepared, point here). Made and destroyed with the GIL held.
struct callbacks_holder {
    py::object on_event;
    py::object log;
    python_callbacks cb;
    hooks h;

    callbacks_holder(py::object e, py::object l) : on_event(std::move(e)), log(std::move(l)) {
        cb.on_event = &on_event;
        cb.log = &log;
        h = cb.make_hooks();
    }
    callbacks_holder(const callbacks_holder&) = delete;
    callbacks_holder& operator=(const callbacks_holder&) = delete;

    void note_errors(migration_report& r) const {
        if (!cb.first_error.empty()) r.details["on_event_error"] = cb.first_error;
    }
};

struct py_request {
    migration_request req;  // hooks stay empty here: made per call; no transport = the local one
    py::object on_event = py::none();
    py::object log = py::none();
};

struct py_prepared {
    prepared p;
    std::shared_ptr<callbacks_holder> callbacks;
    bool rolled_back = false;  // relocating after a rollback would stop the source for nothing
    call_lock lock;
};

/// Reads a Prepared's field (with the GIL): `conflict` while a call on another thread (or
/// a callback of this one) is changing it.
template <class F>
auto read_prepared(py_prepared& pp, F&& f) {
    std::unique_lock lock(pp.lock.mu, std::try_to_lock);
    if (!lock.owns_lock())
        raise(make_failure(error::conflict, "this Prepared is in a relocate or rollback call; read it afterwards"));
    return f(pp.p);
}

/// A getter of one field of a Prepared (a copy).
template <class M>
auto prepared_field(M prepared::*member) {
    return [member](py_prepared& pp) { return read_prepared(pp, [&](const prepared& p) { return p.*member; }); };
}

struct py_migrator {
    std::unique_ptr<migrator> m;
    call_lock lock;

    std::string what() const { return fmt::format("the Migrator '{}'", m->name()); }
};

struct py_cancel {
    std::stop_source source;
};

std::stop_token token_of(const py::object& cancel) {
    if (cancel.is_none()) return {};
    if (!py::isinstance<py_cancel>(cancel))
        raise(make_failure(error::invalid_argument,
                           fmt::format("cancel: expected a CancelToken or None, got {}",
                                       py::str(py::type::handle_of(cancel).attr("__name__")).cast<std::string>())));
    return cancel.cast<py_cancel&>().source.get_token();
}

/// A runtime of this call's own: a Docker engine is remade from its options (cheap: it
/// connects on first use); any other runtime is shared as it is.
/// The C++ request of one call: its own engines (one engine used as source and target stays
/// one, so validate() still refuses it), the call's hooks, the local transport by default.
migration_request call_request(const py_request& r, const hooks& h) {
    migration_request q = r.req;
    const bool same = q.source.runtime == q.target.runtime;
    q.source.runtime = own_runtime(q.source.runtime);
    q.target.runtime = same ? q.source.runtime : own_runtime(q.target.runtime);
    q.hooks = h;
    return q;
}

/// None (the local transport) or a Transport; anything else is `invalid_argument`.
std::shared_ptr<transport> transport_of(const py::object& t) {
    if (t.is_none()) return nullptr;
    if (!py::isinstance<transport>(t))
        raise(make_failure(error::invalid_argument,
                           fmt::format("MigrationRequest.transport: expected a Transport (local_transport() or "
                                       "agent_transport(token=...)) or None, got {}",
                                       py::str(py::type::handle_of(t).attr("__name__")).cast<std::string>())));
    return t.cast<std::shared_ptr<transport>>();
}

edge_host make_edge_host(std::string name, std::string address, py_engine& engine, fs::path work_dir,
                         std::string agent) {
    if (name.empty()) raise(make_failure(error::invalid_argument, "EdgeHost.name: required"));
    if (work_dir.empty()) raise(make_failure(error::invalid_argument, "EdgeHost.work_dir: required"));
    edge_host h;
    h.name = std::move(name);
    h.address = std::move(address);
    h.runtime = unwrap(docker::engine::make(engine.engine->options()));
    h.work_dir = std::move(work_dir);
    h.agent = std::move(agent);
    return h;
}

/// `options` keys the strategy does not have are refused: the C++ parser ignores unknown
/// fields, and a misspelt option silently left at its default would spoil an experiment.
void check_option_names(std::string_view strategy, const json& given) {
    for (const auto& info : list_strategies()) {
        if (info.name != strategy) continue;
        std::vector<std::string> known;
        for (const auto& [k, v] : info.default_options.items()) known.push_back(k);
        for (const auto& [k, v] : given.items())
            if (!info.default_options.contains(k))
                raise(make_failure(error::invalid_argument,
                                   fmt::format("{}.{}: no such option (known: {})", strategy, k,
                                               fmt::join(known, ", "))));
    }
}

std::string host_repr(const edge_host& h) {
    return fmt::format("<EdgeHost {} {} {} work_dir={}{}>", h.name, h.address.empty() ? "-" : h.address,
                       h.runtime ? h.runtime->endpoint() : "no engine", h.work_dir.string(),
                       h.agent.empty() ? "" : " agent=" + h.agent);
}

}  // namespace

void bind_migrator(py::module_& m) {
    py::class_<transport, std::shared_ptr<transport>>(
        m, "Transport",
        "How a migration's artifacts (filesystems, images, volumes, checkpoints) go from the source host to the "
        "target: local_transport() streams them through this process, agent_transport(token=...) has the source "
        "host's migrate-agent stream them to the target's over the link between the hosts. Give it to a "
        "MigrationRequest (`transport=`); one Transport may serve several migrations at once.")
        .def_property_readonly("name", [](const transport& t) { return std::string(t.name()); },
                               "'local' or 'agent' (what a report's details['transport'] says)")
        .def("__repr__", [](const transport& t) { return fmt::format("<Transport {}>", t.name()); });

    m.def("local_transport", [] { return make_local_transport(); },
          "Streams artifacts through this process: both hosts' engines must be reachable from here (a testbed on "
          "this machine). What a MigrationRequest uses without a transport.");

    m.def("agent_transport", [](std::string token, std::int64_t connect_timeout_ms, std::int64_t stall_timeout_ms,
                                std::int64_t reply_timeout_ms, std::int64_t progress_interval_ms) {
        agent::agent_transport_options o;
        o.token = std::move(token);
        o.connect_timeout = std::chrono::milliseconds{connect_timeout_ms};
        o.stall_timeout = std::chrono::milliseconds{stall_timeout_ms};
        o.reply_timeout = std::chrono::milliseconds{reply_timeout_ms};
        o.progress_interval = std::chrono::milliseconds{progress_interval_ms};
        return unwrap(agent::make_agent_transport(std::move(o)));
    }, py::arg("token"), py::arg("connect_timeout_ms") = 5000, py::arg("stall_timeout_ms") = 10000,
       py::arg("reply_timeout_ms") = 120000, py::arg("progress_interval_ms") = 250,
       "Through the hosts' migrate-agents: the source host's agent produces each artifact on its engine and "
       "streams it straight to the target host's agent (SHA-256 checked), so the bytes cross the link between "
       "the hosts. Both EdgeHosts need `agent` ('address:port'; Testbed.edge_host fills it when the testbed "
       "runs agents); `token` is the agents' shared token (Testbed.agent_token()). A link that moves no byte "
       "for `stall_timeout_ms` fails the transfer (and the migration rolls back). MigrationError("
       "invalid_argument) naming the field for an empty token or a bad timeout.");

    py::class_<py_cancel>(m, "CancelToken",
                          "Cancels a migration from another thread: pass it as `cancel=` to prepare, relocate or "
                          "run_migration and call cancel(). The SDK checks it between steps and aborts a running "
                          "transfer; what was made is rolled back.")
        .def(py::init<>())
        .def("cancel", [](py_cancel& c) { c.source.request_stop(); }, "Requests cancellation (idempotent).")
        .def_property_readonly("cancelled", [](const py_cancel& c) { return c.source.stop_requested(); })
        .def("__repr__", [](const py_cancel& c) {
            return std::string(c.source.stop_requested() ? "<CancelToken cancelled>" : "<CancelToken>");
        });

    py::class_<edge_host>(m, "EdgeHost",
                          "One edge host as a migration sees it: a name (reports), the address its services answer "
                          "on (probes, phase hooks), its container engine and a scratch directory on it. The host "
                          "keeps the DockerEngine's options, not the object: each migration talks to the daemon "
                          "over connections of its own.")
        .def(py::init(&make_edge_host), py::arg("name"), py::arg("address"), py::arg("engine"), py::arg("work_dir"),
             py::arg("agent") = "")
        .def_readwrite("name", &edge_host::name)
        .def_readwrite("address", &edge_host::address)
        .def_property("work_dir", [](const edge_host& h) { return h.work_dir.string(); },
                      [](edge_host& h, const fs::path& p) { h.work_dir = p; })
        .def_readwrite("agent", &edge_host::agent, "its migrate-agent, 'address:port'; '' = none")
        .def_property_readonly("endpoint", [](const edge_host& h) { return h.runtime ? h.runtime->endpoint() : ""; },
                               "where its engine is reached, e.g. 'unix:///run/docker-a.sock'")
        .def("to_dict", [](const edge_host& h) {
            py::dict d;
            d["name"] = h.name;
            d["address"] = h.address;
            d["endpoint"] = h.runtime ? h.runtime->endpoint() : "";
            d["work_dir"] = h.work_dir.string();
            d["agent"] = h.agent;
            return d;
        })
        .def("__repr__", &host_repr);

    py::class_<py_request>(m, "MigrationRequest",
                           "What to move where: `container` (name or id) from `source` to `target` (EdgeHosts). "
                           "`target_name` empty keeps the name; `remove_source` once the target confirmed it runs; "
                           "`stop_timeout_s` is the grace of the source's stop (SIGTERM, then SIGKILL) for "
                           "strategies that stop it; `phase_hook_url` tells a migration-aware app when preparation "
                           "starts and ends (POST {'phase': ...}). `on_event(dict)` and `log(str)` are called on "
                           "the migrating thread with the GIL taken. `transport` moves the artifacts: None is "
                           "local_transport() (both engines reachable from this process), agent_transport(token=...) "
                           "sends them agent to agent over the hosts' link.")
        .def(py::init([](const edge_host& source, const edge_host& target, std::string container,
                         std::string target_name, bool remove_source, std::int64_t stop_timeout_s,
                         std::string phase_hook_url, std::int64_t phase_hook_timeout_ms, bool phase_hook_required,
                         py::object on_event, py::object log, const py::object& transport) {
            py_request r;
            r.req.source = source;
            r.req.target = target;
            r.req.container = std::move(container);
            r.req.target_name = std::move(target_name);
            r.req.remove_source = remove_source;
            r.req.stop_timeout = std::chrono::seconds{stop_timeout_s};
            r.req.phase_hook.url = std::move(phase_hook_url);
            r.req.phase_hook.timeout = std::chrono::milliseconds{phase_hook_timeout_ms};
            r.req.phase_hook.required = phase_hook_required;
            r.on_event = std::move(on_event);
            r.log = std::move(log);
            r.req.transport = transport_of(transport);
            unwrap(r.req.validate());
            return r;
        }), py::arg("source"), py::arg("target"), py::arg("container"), py::arg("target_name") = "",
            py::arg("remove_source") = true, py::arg("stop_timeout_s") = 3, py::arg("phase_hook_url") = "",
            py::arg("phase_hook_timeout_ms") = 2000, py::arg("phase_hook_required") = false,
            py::arg("on_event") = py::none(), py::arg("log") = py::none(), py::arg("transport") = py::none(),
            "Checks the request (MigrationError(invalid_argument) naming the field): a container name, two "
            "different engines, an http(s) phase hook URL, no negative timeout.")
        .def_property("source", [](const py_request& r) { return r.req.source; },
                      [](py_request& r, const edge_host& h) { r.req.source = h; })
        .def_property("target", [](const py_request& r) { return r.req.target; },
                      [](py_request& r, const edge_host& h) { r.req.target = h; })
        .def_property("container", [](const py_request& r) { return r.req.container; },
                      [](py_request& r, std::string v) { r.req.container = std::move(v); })
        .def_property("target_name", [](const py_request& r) { return r.req.target_name; },
                      [](py_request& r, std::string v) { r.req.target_name = std::move(v); })
        .def_property("remove_source", [](const py_request& r) { return r.req.remove_source; },
                      [](py_request& r, bool v) { r.req.remove_source = v; })
        .def_property("stop_timeout_s", [](const py_request& r) { return r.req.stop_timeout.count(); },
                      [](py_request& r, std::int64_t v) { r.req.stop_timeout = std::chrono::seconds{v}; })
        .def_property("phase_hook_url", [](const py_request& r) { return r.req.phase_hook.url; },
                      [](py_request& r, std::string v) { r.req.phase_hook.url = std::move(v); })
        .def_property("phase_hook_timeout_ms", [](const py_request& r) { return r.req.phase_hook.timeout.count(); },
                      [](py_request& r, std::int64_t v) { r.req.phase_hook.timeout = std::chrono::milliseconds{v}; })
        .def_property("phase_hook_required", [](const py_request& r) { return r.req.phase_hook.required; },
                      [](py_request& r, bool v) { r.req.phase_hook.required = v; })
        .def_property("transport", [](const py_request& r) -> py::object {
            if (!r.req.transport) return py::none();
            return py::cast(r.req.transport);
        }, [](py_request& r, const py::object& t) { r.req.transport = transport_of(t); },
                      "the Transport its artifacts move with; None = local_transport()")
        .def_readwrite("on_event", &py_request::on_event)
        .def_readwrite("log", &py_request::log)
        .def("validate", [](const py_request& r) { unwrap(r.req.validate()); },
             "MigrationError(invalid_argument) naming the field, after changing attributes.")
        .def("__repr__", [](const py_request& r) {
            return fmt::format("<MigrationRequest {} {} -> {}{}{}>", r.req.container, r.req.source.name,
                               r.req.target.name, r.req.target_name.empty() ? "" : " as " + r.req.target_name,
                               r.req.transport ? fmt::format(" via {}", r.req.transport->name()) : "");
        });

    py::class_<py_prepared>(m, "Prepared",
                            "What Migrator.prepare made and learnt, the service still running on the source: pass "
                            "it to relocate (the downtime) or rollback (undo). Attributes are copies.")
        .def_property_readonly("strategy", prepared_field(&prepared::strategy))
        .def_property_readonly("report", prepared_field(&prepared::report),
                               "the MigrationReport so far (a copy)")
        .def_property_readonly("source", prepared_field(&prepared::source),
                               "ContainerInfo of the source as inspected when prepare began")
        .def_property_readonly("target_spec", prepared_field(&prepared::target_spec),
                               "ContainerSpec created (or to be created) on the target")
        .def_property_readonly("target_id", prepared_field(&prepared::target_id),
                               "container created on the target, '' if none yet")
        .def_property_readonly("target_images", prepared_field(&prepared::target_images),
                               "images this migration made on the target (rollback removes them)")
        .def_property_readonly("target_volumes", prepared_field(&prepared::target_volumes),
                               "volumes this migration made on the target (rollback removes them)")
        .def_property_readonly("source_checkpoints", prepared_field(&prepared::source_checkpoints))
        .def_property_readonly("exit_checkpoint", prepared_field(&prepared::exit_checkpoint))
        .def_property_readonly("state", [](py_prepared& pp) {
            return read_prepared(pp, [](const prepared& p) { return to_python(p.state); });
        },
                               "the strategy's own notes between the stages (a dict copy)")
        .def_property_readonly("relocated", prepared_field(&prepared::relocated))
        .def("__repr__", [](const py_prepared& p) {
            // Fields prepare set and nothing changes later: safe while a relocate runs.
            return fmt::format("<Prepared {} {} {} -> {}>", p.p.strategy, p.p.request.container,
                               p.p.request.source.name, p.p.request.target.name);
        });

    py::class_<strategy_info>(m, "StrategyInfo", "A registered strategy: what it keeps and needs, its default options.")
        .def_readonly("name", &strategy_info::name)
        .def_property_readonly("caps", [](const strategy_info& s) { return to_python(json(s.caps)); },
                               "{'keeps_memory', 'keeps_filesystem', 'keeps_volumes', 'keeps_config', 'needs_criu', "
                               "'needs_shared_fs', 'summary'}")
        .def_property_readonly("default_options", [](const strategy_info& s) { return to_python(s.default_options); })
        .def("to_dict", [](const strategy_info& s) { return to_python(json(s)); })
        .def("__repr__", [](const strategy_info& s) { return fmt::format("<StrategyInfo {}>", s.name); });

    m.def("list_strategies", [] { return list_strategies(); },
          "Every strategy this build knows (StrategyInfo), in a stable order.");

    m.def("make_migrator", [](const std::string& name, const py::object& options) {
        json o = options.is_none() ? json::object() : dict_to_json(options, "make_migrator.options");
        auto mig = unwrap(make_migrator(name, o));  // not_found listing the known names comes first
        check_option_names(name, o);
        auto pm = std::make_unique<py_migrator>();
        pm->m = std::move(mig);
        return pm;
    }, py::arg("name"), py::arg("options") = py::none(),
       "The strategy `name` configured by `options` (a dict; missing fields keep their defaults). "
       "MigrationError(not_found) listing the known names; MigrationError(invalid_argument) naming a bad or "
       "unknown option.");

    py::class_<py_migrator>(m, "Migrator",
                            "A configured migration strategy (make via make_migrator). prepare moves what can move "
                            "while the service runs; relocate is the downtime; rollback undoes a prepare. Blocking, "
                            "without the GIL; calls on one Migrator are serialised (make one per thread to migrate "
                            "in parallel).")
        .def_property_readonly("name", [](const py_migrator& pm) { return std::string(pm.m->name()); })
        .def_property_readonly("caps", [](const py_migrator& pm) { return to_python(json(pm.m->caps())); },
                               "what it keeps and needs with these options (a dict)")
        .def_property_readonly("options", [](const py_migrator& pm) { return to_python(pm.m->options()); },
                               "its options, defaults filled in (a dict)")
        .def("prepare", [](py_migrator& pm, const py_request& r, const py::object& cancel) {
            auto stop = token_of(cancel);
            auto cb = std::make_shared<callbacks_holder>(r.on_event, r.log);
            auto q = call_request(r, cb->h);
            auto out = std::make_unique<py_prepared>();
            out->p = nogil([&] { return locked(pm.lock, true, pm.what(), [&] { return pm.m->prepare(q, stop); }); });
            cb->note_errors(out->p.report);
            out->callbacks = std::move(cb);
            return out;
        }, py::arg("request"), py::arg("cancel") = py::none(),
           "Stage 1, the service still running. Returns a Prepared; raises MigrationError when preparing fails "
           "(what it made is already undone, the source untouched).")
        .def("relocate", [](py_migrator& pm, py_prepared& pp, const py::object& cancel) {
            auto stop = token_of(cancel);
            auto rep = nogil([&] {
                return locked(pp.lock, false, "this Prepared", [&]() -> result<migration_report> {
                    if (pp.rolled_back)
                        return make_failure(error::invalid_argument,
                                            "this migration was rolled back: prepare it again");
                    return locked(pm.lock, true, pm.what(), [&] { return pm.m->relocate(pp.p, stop); });
                });
            });
            if (pp.callbacks) pp.callbacks->note_errors(rep);
            return rep;
        }, py::arg("prepared"), py::arg("cancel") = py::none(),
           "Stage 2, the downtime. Returns the MigrationReport, also when the move failed (success False, error "
           "set, the rollback has run: rolled_back says whether the source serves again). Raises MigrationError "
           "only for misuse (relocating twice, a Prepared of another strategy).")
        .def("rollback", [](py_migrator& pm, py_prepared& pp) {
            if (pp.p.strategy != pm.m->name())
                raise(make_failure(error::invalid_argument,
                                   fmt::format("this Prepared belongs to strategy '{}', not '{}'", pp.p.strategy,
                                               pm.m->name())));
            return nogil([&] {
                return locked(pp.lock, false, "this Prepared", [&]() -> result<migration_report> {
                    // After relocate there is nothing left to undo: a failed relocate rolled back
                    // already, and after a success a rollback would remove the only running copy.
                    if (pp.p.relocated)
                        return make_failure(error::invalid_argument, "this migration was already relocated (a failed "
                                                                     "relocation rolls back by itself)");
                    return locked(pm.lock, true, pm.what(), [&]() -> result<migration_report> {
                        pm.m->rollback(pp.p);
                        pp.rolled_back = true;
                        return pp.p.report;
                    });
                });
            });
        }, py::arg("prepared"),
           "Undoes a prepare (e.g. you decided not to move): removes what it made on the target, makes sure the "
           "source serves. Returns the report (rolled_back, details['rollback']).")
        .def("__repr__", [](const py_migrator& pm) {
            return fmt::format("<Migrator {} {}>", pm.m->name(), pm.m->options().dump());
        });

    m.def("run_migration", [](py_migrator& pm, const py_request& r, const py::object& cancel) {
        auto stop = token_of(cancel);
        callbacks_holder cb{r.on_event, r.log};
        auto q = call_request(r, cb.h);
        auto rep = nogil([&] {
            return locked(pm.lock, true, pm.what(), [&] { return run_migration(*pm.m, q, stop); });
        });
        cb.note_errors(rep);
        return rep;
    }, py::arg("migrator"), py::arg("request"), py::arg("cancel") = py::none(),
       "prepare + relocate in one call. Returns the MigrationReport, also when the move failed (a failed prepare: "
       "success False, nothing moved, the source untouched); raises MigrationError only for invalid input.");
}

/// An EdgeHost for a testbed host: its name, address, an engine on its socket, its work dir.
edge_host edge_host_for(const std::string& name, const std::string& address, const fs::path& socket,
                        const fs::path& work_dir, const std::string& agent) {
    docker::engine_options o;
    o.socket = socket;
    edge_host h;
    h.name = name;
    h.address = address;
    h.runtime = unwrap(docker::engine::make(std::move(o)));
    h.work_dir = work_dir;
    h.agent = agent;
    return h;
}

}  // namespace migrate::python
