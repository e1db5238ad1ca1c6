// migrate._migrate — the pybind11 extension behind the `migrate` Python package.
//
// Options and reports cross the boundary as dicts through the same JSON conversion the C++
// API uses; failures raise migrate.MigrationError carrying the code, its condition and the
// message; blocking calls release the GIL.
//
// Parts: this file (errors, reports, memcached workload), docker.cpp (DockerEngine and the
// runtime vocabulary), image.cpp (image recipes, build_image), testbed.cpp (Testbed),
// move.cpp (checkpoint_move, MemcachedDowntimeProber), migrator.cpp (strategies: Migrator,
// EdgeHost, MigrationRequest, Prepared), workload.cpp (ZoneServer, A1, A2, DowntimeProber
// with locators and probes), state_store.cpp (state stores), openflow.cpp (the OpenFlow 1.3
// speaker), sdn.cpp (route switches, triggers, the replica pool); common.hpp holds the shared helpers.
#include "common.hpp"

#include <migrate/migrate.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>

#include <pybind11/chrono.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <thread>

using namespace migrate;
using namespace migrate::python;

namespace {

phase phase_named(const std::string& p) { return json_to<phase>(json(p)); }

template <class T>
T from_dict_as(const py::handle& d, const char* what) {
    return json_to<T>(dict_to_json(d, what));
}

void bind_report(py::module_& m) {
    py::class_<phase_timing>(m, "PhaseTiming", "One finished phase of a migration.")
        .def_property_readonly("phase", [](const phase_timing& t) { return std::string(to_string(t.phase)); })
        .def_readonly("detail", &phase_timing::detail)
        .def_readonly("duration_ms", &phase_timing::duration_ms)
        .def_readonly("bytes", &phase_timing::bytes)
        .def_readonly("ok", &phase_timing::ok)
        .def("to_dict", [](const phase_timing& t) { return to_python(json(t)); })
        .def("__repr__", [](const phase_timing& t) {
            return "<PhaseTiming " + std::string(to_string(t.phase)) + " " + std::to_string(t.duration_ms) + " ms " +
                   std::to_string(t.bytes) + " B" + (t.ok ? "" : " failed") + ">";
        });

    py::class_<downtime_measurement>(m, "DowntimeMeasurement",
                                     "Downtime as a client saw it: last answer at the source to first answer at the "
                                     "target.")
        .def(py::init([](double downtime_ms, double probe_interval_ms, std::uint64_t probes, std::uint64_t failures,
                         std::string method) {
            return downtime_measurement{downtime_ms, probe_interval_ms, probes, failures, std::move(method)};
        }), py::arg("downtime_ms") = 0.0, py::arg("probe_interval_ms") = 0.0, py::arg("probes") = 0,
            py::arg("failures") = 0, py::arg("method") = "")
        .def_static("from_dict", [](const py::dict& d) { return from_dict_as<downtime_measurement>(d, "downtime"); },
                    py::arg("d"))
        .def("to_dict", [](const downtime_measurement& d) { return to_python(json(d)); })
        .def_readwrite("downtime_ms", &downtime_measurement::downtime_ms)
        .def_readwrite("probe_interval_ms", &downtime_measurement::probe_interval_ms)
        .def_readwrite("probes", &downtime_measurement::probes)
        .def_readwrite("failures", &downtime_measurement::failures)
        .def_readwrite("method", &downtime_measurement::method)
        .def("__repr__", [](const downtime_measurement& d) {
            return "<DowntimeMeasurement " + std::to_string(d.downtime_ms) + " ms, " + std::to_string(d.probes) +
                   " probes, " + std::to_string(d.failures) + " failed>";
        });

    py::class_<state_check>(m, "StateCheck", "One piece of state checked after a move: found of expected.")
        .def(py::init([](std::string what, std::uint64_t expected, std::uint64_t found) {
            return state_check{std::move(what), expected, found};
        }), py::arg("what"), py::arg("expected"), py::arg("found"))
        .def_readwrite("what", &state_check::what)
        .def_readwrite("expected", &state_check::expected)
        .def_readwrite("found", &state_check::found)
        .def_property_readonly("ok", &state_check::ok)
        .def("to_dict", [](const state_check& c) { return to_python(json(c)); })
        .def("__repr__", [](const state_check& c) {
            return "<StateCheck " + c.what + ": " + std::to_string(c.found) + " of " + std::to_string(c.expected) + ">";
        });

    py::class_<migration_report>(m, "MigrationReport", "What a migration did and measured.")
        .def(py::init<>())
        .def_static("from_dict", [](const py::dict& d) { return from_dict_as<migration_report>(d, "migration_report"); },
                    py::arg("d"))
        .def_static("from_json", [](const std::string& s) {
            try { return json::parse(s).get<migration_report>(); }
            catch (const migration_error& e) { raise(e.details()); }
            catch (const json::exception& e) { raise(make_failure(error::invalid_argument, e.what())); }
        }, py::arg("text"))
        .def("to_dict", [](const migration_report& r) { return to_python(json(r)); })
        .def("to_json", [](const migration_report& r, int indent) { return json(r).dump(indent); }, py::arg("indent") = 2)
        .def("to_text", &migration_report::to_text)
        .def("total_ms", [](const migration_report& r, const std::string& p) { return r.total_ms(phase_named(p)); },
             py::arg("phase"), "Sum of the durations (ms) of the phases of this kind ('relocate', 'transfer', ...).")
        .def("total_bytes", [](const migration_report& r, const std::string& p) { return r.total_bytes(phase_named(p)); },
             py::arg("phase"), "Sum of the bytes moved in the phases of this kind.")
        .def("add_state_check", [](migration_report& r, std::string what, std::uint64_t expected, std::uint64_t found) {
            r.state.push_back({std::move(what), expected, found});
        }, py::arg("what"), py::arg("expected"), py::arg("found"),
           "Records a state check (e.g. 'memcached keys on b', 1000, 1000).")
        .def_readwrite("strategy", &migration_report::strategy)
        .def_readwrite("subject", &migration_report::subject)
        .def_readwrite("source", &migration_report::source)
        .def_readwrite("target", &migration_report::target)
        .def_readwrite("started_at", &migration_report::started_at)
        .def_readwrite("success", &migration_report::success)
        .def_readwrite("error", &migration_report::error)
        .def_readwrite("rolled_back", &migration_report::rolled_back)
        // Copies, never references into the report's vectors (they reallocate).
        .def_property("phases", [](const migration_report& r) { return r.phases; },
                      [](migration_report& r, std::vector<phase_timing> v) { r.phases = std::move(v); },
                      "Finished phases (a copy: assign to change).")
        .def_property("state", [](const migration_report& r) { return r.state; },
                      [](migration_report& r, std::vector<state_check> v) { r.state = std::move(v); },
                      "State checks (a copy: use add_state_check or assign).")
        .def_property("downtime", [](const migration_report& r) { return r.downtime; },
                      [](migration_report& r, std::optional<downtime_measurement> d) { r.downtime = std::move(d); },
                      "DowntimeMeasurement or None; assign a MemcachedDowntimeProber's result().")
        .def_property("details", [](const migration_report& r) { return to_python(r.details); },
                      [](migration_report& r, const py::dict& d) { r.details = from_python(d, "details"); },
                      "Diagnostics as a dict (a copy: assign to change).")
        .def_property_readonly("state_intact", &migration_report::state_intact)
        .def_property_readonly("downtime_ms", [](const migration_report& r) -> py::object {
            if (!r.downtime) return py::none();
            return py::float_(r.downtime->downtime_ms);
        })
        .def("__repr__", [](const migration_report& r) {
            return "<MigrationReport " + r.strategy + " " + r.subject + " " + r.source + "->" + r.target +
                   (r.success ? " ok>" : " failed>");
        });
}

void bind_memcached(py::module_& m) {
    py::class_<workload::memcached_dataset>(m, "MemcachedDataset",
                                            "A deterministic memcached data set (thesis workload A3).")
        .def(py::init([](std::string prefix, std::uint64_t items, std::size_t value_size) {
            return workload::memcached_dataset{std::move(prefix), items, value_size};
        }), py::arg("prefix") = "key", py::arg("items") = 1000, py::arg("value_size") = 512)
        .def_readwrite("prefix", &workload::memcached_dataset::prefix)
        .def_readwrite("items", &workload::memcached_dataset::items)
        .def_readwrite("value_size", &workload::memcached_dataset::value_size)
        .def("key", &workload::memcached_dataset::key, py::arg("i"))
        .def("value", &workload::memcached_dataset::value, py::arg("i"))
        .def("bytes", &workload::memcached_dataset::bytes, "items * value_size");

    py::class_<workload::memcached_client>(m, "MemcachedClient", "Blocking memcached text-protocol client.")
        .def_static("connect", [](const std::string& host, std::uint16_t port, double timeout_s, double wait_s) {
            return nogil([&] {
                const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
                const auto deadline = steady_clock::now() + std::chrono::milliseconds(static_cast<long>(wait_s * 1000));
                auto c = workload::memcached_client::connect(host, port, timeout);
                // A freshly started memcached needs a moment before it accepts connections.
                while (!c && steady_clock::now() < deadline) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    c = workload::memcached_client::connect(host, port, timeout);
                }
                return c;
            });
        }, py::arg("host"), py::arg("port") = 11211, py::arg("timeout") = 3.0, py::arg("wait") = 0.0,
           "Connects within `timeout` seconds; keeps retrying for `wait` seconds (a freshly started server).")
        .def("set", [](workload::memcached_client& c, const std::string& k, const std::string& v) {
            nogil([&] { return c.set(k, v); });
        }, py::arg("key"), py::arg("value"))
        .def("get", [](workload::memcached_client& c, const std::string& k) {
            return nogil([&] { return c.get(k); });
        }, py::arg("key"))
        .def("load", [](workload::memcached_client& c, const workload::memcached_dataset& ds) {
            nogil([&] { return c.load(ds); });
        }, py::arg("dataset"))
        .def("count_intact", [](workload::memcached_client& c, const workload::memcached_dataset& ds) {
            return nogil([&] { return c.count_intact(ds); });
        }, py::arg("dataset"))
        .def("stats", [](workload::memcached_client& c, const std::string& group) {
            return nogil([&] { return c.stats(group); });
        }, py::arg("group") = "",
           "`stats` (or `stats <group>`, e.g. 'items'): every numeric statistic by name ('items:9:number_hot' -> 0).")
        .def("wait_settled", [](workload::memcached_client& c, double patience, double quiet) {
            const auto p = std::chrono::milliseconds(static_cast<long>(patience * 1000));
            const auto q = std::chrono::milliseconds(static_cast<long>(quiet * 1000));
            nogil([&] { return c.wait_settled(p, q); });
        }, py::arg("patience") = 15.0, py::arg("quiet") = 0.2,
           "Waits (seconds) until memcached's LRU maintainer is done with freshly loaded items (none HOT, no "
           "moves for `quiet`): from then on the data set is static page for page, which a checkpoint delta "
           "needs. MigrationError(timeout) when it has not settled within `patience`.");
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

    bind_report(m);
    bind_memcached(m);
    bind_docker(m);
    bind_image(m);
    bind_testbed(m);
    bind_move(m);
    bind_migrator(m);
    bind_workload(m);
    bind_state_store(m);
    bind_openflow(m);
    bind_sdn(m);
    bind_mec_sim(m);
    bind_mec(m);
    bind_mec_route(m);
    bind_mec_triggers(m);
    bind_viability(m);
    bind_mec_transfer(m);
}
