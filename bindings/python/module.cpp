// migrate._migrate — the pybind11 extension behind the `migrate` Python package.
//
// Options and reports cross the boundary as dicts through the same JSON conversion the C++
// API uses; failures raise migrate.MigrationError carrying the code, its condition and the
// message; blocking calls release the GIL.
#include <migrate/migrate.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>

#include <pybind11/chrono.h>
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace migrate;

namespace {

PyObject* migration_error_type = nullptr;

// json <-> Python objects, through the json module (reports are small documents).
py::object to_python(const json& j) {
    return py::module_::import("json").attr("loads")(j.dump());
}
json from_python(const py::handle& o) {
    return json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

[[noreturn]] void raise(const failure& f) {
    py::object err = py::reinterpret_borrow<py::object>(migration_error_type)(f.what());
    err.attr("code") = f.code.category() == error_category()
                           ? std::string(to_string(static_cast<error>(f.code.value()))) : f.code.message();
    err.attr("condition") = f.code.category() == error_category()
                                ? std::string(to_string(condition_of(static_cast<error>(f.code.value())))) : "";
    err.attr("message") = f.message;
    err.attr("retryable") = is_retryable(f.code);
    PyErr_SetObject(migration_error_type, err.ptr());
    throw py::error_already_set();
}

template <class T>
T unwrap(result<T>&& r) {
    if (!r) raise(r.error());
    if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

/// Runs a blocking SDK call with the GIL released, then converts its result (with the GIL
/// held again: raising touches Python objects).
template <class F>
auto nogil(F&& f) {
    auto r = [&] {
        py::gil_scoped_release release;
        return f();
    }();
    return unwrap(std::move(r));
}

}  // namespace

PYBIND11_MODULE(_migrate, m) {
    m.doc() = "migrate: move stateful services between edge hosts (C++ core)";
    m.attr("__version__") = version_string;

    migration_error_type = PyErr_NewExceptionWithDoc(
        "migrate.MigrationError",
        "A migrate operation failed. Attributes: code (e.g. 'not_found'), condition (portable group, "
        "e.g. 'unavailable'), message (names what and where), retryable (bool).",
        PyExc_RuntimeError, nullptr);
    m.attr("MigrationError") = py::handle(migration_error_type);
    // C++ throwing wrappers (result::value()) map to the same exception.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const migration_error& e) {
            raise(e.details());
        }
    });

    m.def("retry_advice", [](const std::string& cond) {
        for (int i = 0; i <= static_cast<int>(condition::internal); ++i)
            if (to_string(static_cast<condition>(i)) == cond) return std::string(retry_advice(static_cast<condition>(i)));
        throw py::value_error("unknown condition '" + cond + "'");
    }, py::arg("condition"), "What a caller should do about errors of this condition.");

    // --- reports -------------------------------------------------------------------------
    py::class_<migration_report>(m, "MigrationReport", "What a migration did and measured.")
        .def(py::init<>())
        .def_static("from_dict", [](const py::dict& d) {
            try { return from_python(d).get<migration_report>(); }
            catch (const migration_error& e) { raise(e.details()); }
            catch (const json::exception& e) { raise(make_failure(error::invalid_argument, e.what())); }
        }, py::arg("d"))
        .def_static("from_json", [](const std::string& s) {
            try { return json::parse(s).get<migration_report>(); }
            catch (const migration_error& e) { raise(e.details()); }
            catch (const json::exception& e) { raise(make_failure(error::invalid_argument, e.what())); }
        }, py::arg("text"))
        .def("to_dict", [](const migration_report& r) { return to_python(json(r)); })
        .def("to_json", [](const migration_report& r, int indent) { return json(r).dump(indent); }, py::arg("indent") = 2)
        .def("to_text", &migration_report::to_text)
        .def("total_ms", [](const migration_report& r, const std::string& p) { return r.total_ms(json(p).get<phase>()); })
        .def("total_bytes", [](const migration_report& r, const std::string& p) { return r.total_bytes(json(p).get<phase>()); })
        .def_readwrite("strategy", &migration_report::strategy)
        .def_readwrite("subject", &migration_report::subject)
        .def_readwrite("source", &migration_report::source)
        .def_readwrite("target", &migration_report::target)
        .def_readwrite("success", &migration_report::success)
        .def_readwrite("error", &migration_report::error)
        .def_readwrite("rolled_back", &migration_report::rolled_back)
        .def_property_readonly("state_intact", &migration_report::state_intact)
        .def_property_readonly("downtime_ms", [](const migration_report& r) -> py::object {
            if (!r.downtime) return py::none();
            return py::float_(r.downtime->downtime_ms);
        })
        .def("__repr__", [](const migration_report& r) {
            return "<MigrationReport " + r.strategy + " " + r.subject + " " + r.source + "->" + r.target +
                   (r.success ? " ok>" : " failed>");
        });

    // --- memcached workload ----------------------------------------------------------------
    py::class_<workload::memcached_dataset>(m, "MemcachedDataset",
                                            "A deterministic memcached data set (thesis workload A3).")
        .def(py::init([](std::string prefix, std::uint64_t items, std::size_t value_size) {
            return workload::memcached_dataset{std::move(prefix), items, value_size};
        }), py::arg("prefix") = "key", py::arg("items") = 1000, py::arg("value_size") = 512)
        .def_readwrite("prefix", &workload::memcached_dataset::prefix)
        .def_readwrite("items", &workload::memcached_dataset::items)
        .def_readwrite("value_size", &workload::memcached_dataset::value_size)
        .def("key", &workload::memcached_dataset::key)
        .def("value", &workload::memcached_dataset::value);

    py::class_<workload::memcached_client>(m, "MemcachedClient", "Blocking memcached text-protocol client.")
        .def_static("connect", [](const std::string& host, std::uint16_t port, double timeout_s) {
            return nogil([&] { return workload::memcached_client::connect(host, port,
                std::chrono::milliseconds(static_cast<long>(timeout_s * 1000))); });
        }, py::arg("host"), py::arg("port") = 11211, py::arg("timeout") = 3.0)
        .def("set", [](workload::memcached_client& c, const std::string& k, const std::string& v) {
            nogil([&] { return c.set(k, v); });
        })
        .def("get", [](workload::memcached_client& c, const std::string& k) {
            return nogil([&] { return c.get(k); });
        })
        .def("load", [](workload::memcached_client& c, const workload::memcached_dataset& ds) {
            nogil([&] { return c.load(ds); });
        })
        .def("count_intact", [](workload::memcached_client& c, const workload::memcached_dataset& ds) {
            return nogil([&] { return c.count_intact(ds); });
        });
}
