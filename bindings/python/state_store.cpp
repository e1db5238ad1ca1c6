// State stores from Python (include/migrate/state_store.hpp): open_state_store(uri) gives a
// StateStore (memory, file, redis, etcd) with get / put / compare_and_set / erase / list
// and watch. Keys are str, values bytes (a str value is stored as its UTF-8).
//
// Every call blocks without the GIL. A watch's callback runs on the watch's C++ thread with
// the GIL taken for the call; its exceptions go to sys.unraisablehook and are counted on the
// StateWatch. Everything that joins that thread (cancel, __exit__, deallocation) releases the
// GIL first, so a callback waiting for the GIL cannot deadlock it.
#include "common.hpp"

#include <migrate/state_store.hpp>

#include <pybind11/stl.h>

#include <fmt/format.h>

namespace migrate::python {
namespace {

std::string bytes_of(const py::handle& value, const char* what) {
    if (py::isinstance<py::bytes>(value)) return value.cast<std::string>();
    if (py::isinstance<py::str>(value)) return value.cast<std::string>();
    if (py::isinstance<py::bytearray>(value) || py::isinstance<py::memoryview>(value))
        return py::bytes(py::reinterpret_borrow<py::object>(value)).cast<std::string>();
    raise(make_failure(error::invalid_argument,
                       fmt::format("{}: expected bytes or str, got {}", what,
                                   py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>())));
}

/// A watch as Python holds it, with the errors of its callback.
struct py_state_watch {
    std::unique_ptr<state_watch> watch;
    std::shared_ptr<callback_errors> errors = std::make_shared<callback_errors>();
    std::string prefix;

    void cancel() {
        py::gil_scoped_release release;
        if (watch) watch->cancel();
    }
};

/// Deallocating a watch joins its thread, whose callback may wait for the GIL.
using watch_holder = std::unique_ptr<py_state_watch, release_gil_delete>;

watch_holder start_watch(state_store& s, const std::string& prefix, py::object callback) {
    if (!PyCallable_Check(callback.ptr()))
        raise(make_failure(error::invalid_argument, "StateStore.watch: callback must be callable(StateEvent)"));
    watch_holder w(new py_state_watch);
    w->prefix = prefix;
    auto on_event = [fn = share(std::move(callback)), errors = w->errors](const state_event& e) {
        if (!Py_IsInitialized()) return;
        py::gil_scoped_acquire gil;
        try {
            (*fn)(py::cast(e));
        } catch (py::error_already_set& err) {
            errors->record(err, "migrate state store watch callback");
        }
    };
    w->watch = nogil([&] { return s.watch(prefix, on_event); });
    return w;
}

}  // namespace

void bind_state_store(py::module_& m) {
    py::class_<state_entry>(m, "StateEntry", "One key's value (bytes) and its version (> 0, grows with every write).")
        .def(py::init([](std::string key, const py::object& value, std::int64_t version) {
                 return state_entry{std::move(key), bytes_of(value, "StateEntry.value"), version};
             }),
             py::arg("key"), py::arg("value") = py::bytes(), py::arg("version") = 0)
        .def_readwrite("key", &state_entry::key)
        .def_property(
            "value", [](const state_entry& e) { return py::bytes(e.value); },
            [](state_entry& e, const py::object& v) { e.value = bytes_of(v, "StateEntry.value"); })
        .def_readwrite("version", &state_entry::version)
        .def("to_dict", [](const state_entry& e) { return to_python(json(e)); },
             "{'key', 'version', 'value'} ('value_base64' when the value is not UTF-8).")
        .def("__eq__", [](const state_entry& a, const state_entry& b) {
            return a.key == b.key && a.value == b.value && a.version == b.version;
        })
        .def("__repr__", [](const state_entry& e) {
            return fmt::format("StateEntry(key={}, version={}, {} bytes)", py::repr(py::str(e.key)).cast<std::string>(),
                               e.version, e.value.size());
        });

    py::class_<state_event>(m, "StateEvent", "A change a watch saw: kind 'put' or 'erase', and the entry "
                                             "(for an erase: the key and the erase's version, no value).")
        .def_property_readonly("kind", [](const state_event& e) { return e.what == state_event::kind::put ? "put" : "erase"; })
        .def_readonly("entry", &state_event::entry)
        .def("__repr__", [](const state_event& e) {
            return fmt::format("StateEvent({}, {}, version={})", e.what == state_event::kind::put ? "put" : "erase",
                               py::repr(py::str(e.entry.key)).cast<std::string>(), e.entry.version);
        });

    py::class_<py_state_watch, watch_holder>(
        m, "StateWatch",
        "A running watch. cancel() (or leaving the `with` block) stops it; after it returns the callback is not "
        "called again. Exceptions from the callback are counted in callback_errors (the first in callback_error).")
        .def("cancel", &py_state_watch::cancel)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](py_state_watch& w, py::args) { w.cancel(); })
        .def_property_readonly("prefix", [](const py_state_watch& w) { return w.prefix; })
        .def_property_readonly("callback_errors", [](const py_state_watch& w) { return w.errors->total(); })
        .def_property_readonly("callback_error", [](const py_state_watch& w) { return w.errors->first_error(); });

    py::class_<state_store, std::shared_ptr<state_store>>(
        m, "StateStore",
        "A versioned key-value store with compare-and-set and watches (docs/state-stores.md). Keys: non-empty "
        "str up to 1024 UTF-8 bytes; values: bytes (str is stored as UTF-8). Calls block without the GIL and may "
        "come from several threads.")
        .def_property_readonly("backend", [](const state_store& s) { return std::string(s.backend()); })
        .def_property_readonly("location", &state_store::location)
        .def("get", [](state_store& s, const std::string& key) { return nogil([&] { return s.get(key); }); },
             py::arg("key"), "The key's StateEntry, or None.")
        .def("put",
             [](state_store& s, const std::string& key, const py::object& value) {
                 auto v = bytes_of(value, "StateStore.put value");
                 return nogil([&] { return s.put(key, v); });
             },
             py::arg("key"), py::arg("value"), "Writes unconditionally; returns the new version.")
        .def("compare_and_set",
             [](state_store& s, const std::string& key, const py::object& value, std::int64_t expected_version) {
                 auto v = bytes_of(value, "StateStore.compare_and_set value");
                 return nogil([&] { return s.compare_and_set(key, v, expected_version); });
             },
             py::arg("key"), py::arg("value"), py::arg("expected_version"),
             "Writes only if the key is at expected_version (0: must not exist); returns the new version. "
             "MigrationError(code='conflict') when it is not, saying the version there now.")
        .def("erase", [](state_store& s, const std::string& key) { return nogil([&] { return s.erase(key); }); },
             py::arg("key"), "Removes the key; False when it did not exist.")
        .def("list", [](state_store& s, const std::string& prefix) { return nogil([&] { return s.list(prefix); }); },
             py::arg("prefix") = "", "Every StateEntry whose key starts with prefix, sorted by key.")
        .def("watch", &start_watch, py::arg("prefix"), py::arg("callback"),
             "Calls callback(StateEvent) for every later change under prefix, in order, on a thread of the "
             "store's own. Returns once established; use as a context manager or cancel().")
        .def("__repr__", [](const state_store& s) { return fmt::format("StateStore('{}')", s.location()); });

    m.def(
        "open_state_store",
        [](const std::string& uri, double connect_timeout) {
            if (!(connect_timeout > 0) || connect_timeout > 3600)
                raise(make_failure(error::invalid_argument,
                                   fmt::format("open_state_store: connect_timeout {} s is out of range (0, 3600]", connect_timeout)));
            auto timeout = std::chrono::milliseconds(static_cast<long>(connect_timeout * 1000 + 0.5));
            return std::shared_ptr<state_store>(nogil([&] { return open_state_store(uri, timeout); }));
        },
        py::arg("uri"), py::arg("connect_timeout") = 2.0,
        "Opens a StateStore: 'memory:', 'file:/dir', 'redis://HOST:PORT[/prefix]', 'etcd://HOST:PORT[/prefix]'. "
        "MigrationError invalid_argument for a bad URI (naming the bad part), daemon_unreachable when the server "
        "does not answer within connect_timeout seconds.");
}

}  // namespace migrate::python
