// bindings/python/common.hpp — what every part of the migrate._migrate extension shares:
// raising migrate.MigrationError from a `failure`, running blocking calls without the GIL,
// JSON <-> Python conversion, callbacks into Python from SDK hooks, and the engine wrapper
// that keeps one Docker engine to one thread at a time.
#pragma once

#include <migrate/docker/engine.hpp>
#include <migrate/edge_host.hpp>
#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <pybind11/pybind11.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace migrate::openflow {
class switch_connection;
}

namespace migrate::python {

namespace py = pybind11;

/// migrate.MigrationError; created once when the module is imported.
inline PyObject* migration_error_type = nullptr;

/// Raises migrate.MigrationError carrying code, condition, message and retryable.
/// Needs the GIL.
[[noreturn]] void raise(const failure& f);

template <class T>
T unwrap(result<T>&& r) {
    if (!r) raise(r.error());
    if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

/// Runs a blocking SDK call with the GIL released, then converts its result (with the GIL
/// held again: raising touches Python objects). `f` must not touch Python objects.
template <class F>
auto nogil(F&& f) {
    auto r = [&] {
        py::gil_scoped_release release;
        return f();
    }();
    return unwrap(std::move(r));
}

/// JSON -> Python (dict, list, str, int, float, bool, None).
py::object to_python(const json& j);
/// Python -> JSON. Accepts dicts (str keys), lists/tuples, str, int, float, bool, None,
/// os.PathLike (as str) and any object with a `to_dict()` (MountSpec, ContainerSpec, ...).
/// Anything else raises MigrationError(invalid_argument) naming `where` and the type.
json from_python(const py::handle& o, const std::string& where = "value");

/// `j.get<T>()` with the SDK's field-naming errors raised as MigrationError(invalid_argument).
template <class T>
T json_to(const json& j) {
    try {
        return j.get<T>();
    } catch (const migration_error& e) {
        raise(e.details());
    } catch (const json::exception& e) {
        raise(make_failure(error::invalid_argument, e.what()));
    }
}

/// A dict argument converted for `from_json`: must be a dict (MigrationError otherwise).
json dict_to_json(const py::handle& o, const char* what);

/// Keyword arguments that were given (not None) as a JSON object; a key that `T{}` does not
/// serialise raises TypeError like an unknown keyword argument would.
json kwargs_json(const json& defaults, const char* callable,
                 std::initializer_list<std::pair<const char*, py::object>> args);

/// Python callables behind SDK hooks. Both are optional. Callbacks run on the thread doing
/// the work, with the GIL acquired for the call; an exception from a callback does not stop
/// the operation: it goes to sys.unraisablehook and the first one is kept in `first_error`.
/// The objects must outlive every call made with the hooks (they live on the binding's stack).
struct python_callbacks {
    const py::object* on_event = nullptr;  ///< called with a dict per phase event
    const py::object* log = nullptr;       ///< called with a str per log line
    std::string first_error;

    hooks make_hooks();
};
/// A runtime of the caller's own made from `rt`'s options (a Docker engine is
/// one-thread-at-a-time, and Python threads may share an EdgeHost); other runtimes as given.
std::shared_ptr<container_runtime> own_runtime(const std::shared_ptr<container_runtime>& rt);

/// The C++ session behind a Python SwitchConnection (openflow.cpp); `invalid_argument`
/// naming `where` for anything else.
std::shared_ptr<openflow::switch_connection> switch_connection_of(const py::handle& o, const char* where);

/// A Python callable shared by C++ copies of a std::function without touching its
/// reference count; the last copy drops it with the GIL held (copies die on any thread).
using shared_callable = std::shared_ptr<py::object>;
shared_callable share(py::object fn);

/// Where exceptions from Python callbacks on C++ threads go (probes, locators, state-store
/// watches): counted, the first kept, each passed to sys.unraisablehook. Needs the GIL.
struct callback_errors {
    std::mutex mu;
    std::string first;
    std::uint64_t count = 0;

    void record(py::error_already_set& e, const char* what);
    std::uint64_t total() {
        std::lock_guard lk(mu);
        return count;
    }
    std::string first_error() {
        std::lock_guard lk(mu);
        return first;
    }
};

/// A holder's deleter for objects whose destructor joins a thread that may be waiting for
/// the GIL (a Python callback on it): deletes with the GIL released.
struct release_gil_delete {
    template <class T>
    void operator()(T* p) const {
        if (Py_IsInitialized() && PyGILState_Check()) {
            py::gil_scoped_release release;
            delete p;
        } else {
            delete p;
        }
    }
};

/// A phase event as the dict `on_event` receives.
py::dict event_to_python(const phase_event& e);

/// A Docker engine as Python holds it: Python threads may share it, but the engine itself
/// is one-thread-at-a-time (one HTTP connection), so every call takes `mu`. A call from
/// the thread already inside a call (a callback re-entering) fails with `conflict` instead
/// of deadlocking.
struct py_engine {
    std::unique_ptr<docker::engine> engine;
    std::mutex mu;
    std::atomic<std::thread::id> owner{};

    std::string busy_message() const;
};

/// Runs `f(engine)` holding the engine; call with the GIL released.
template <class F>
auto with_engine(py_engine& pe, F&& f) -> decltype(f(*pe.engine)) {
    using R = decltype(f(*pe.engine));
    if (pe.owner.load() == std::this_thread::get_id()) return R(make_failure(error::conflict, pe.busy_message()));
    std::lock_guard lock(pe.mu);
    pe.owner = std::this_thread::get_id();
    struct release_owner {
        py_engine& p;
        ~release_owner() { p.owner = std::thread::id{}; }
    } guard{pe};
    return f(*pe.engine);
}

/// `with_engine` without the GIL: the usual shape of an engine method.
template <class F>
auto engine_call(py_engine& pe, F&& f) {
    return nogil([&] { return with_engine(pe, f); });
}

void bind_docker(py::module_& m);
void bind_image(py::module_& m);
void bind_testbed(py::module_& m);
void bind_move(py::module_& m);
void bind_migrator(py::module_& m);
void bind_workload(py::module_& m);
void bind_state_store(py::module_& m);
void bind_openflow(py::module_& m);
void bind_sdn(py::module_& m);
void bind_mec_sim(py::module_& m);
void bind_mec_route(py::module_& m);
void bind_mec_triggers(py::module_& m);
void bind_viability(py::module_& m);
void bind_mec_transfer(py::module_& m);
void bind_mec(py::module_& m);

/// An EdgeHost with a Docker engine on `socket` (Testbed.edge_host; migrator.cpp).
edge_host edge_host_for(const std::string& name, const std::string& address, const std::filesystem::path& socket,
                        const std::filesystem::path& work_dir, const std::string& agent);

}  // namespace migrate::python
