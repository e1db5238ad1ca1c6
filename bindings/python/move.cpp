// checkpoint_move (CRIU stop-and-copy between two DockerEngines) and
// MemcachedDowntimeProber (downtime measured from outside, in C++, no GIL in the probe
// thread).
#include "common.hpp"

#include <migrate/checkpoint_move.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>

#include <pybind11/stl.h>

#include <arpa/inet.h>
#include <fmt/format.h>

namespace migrate::python {
namespace {

// Holds both engines of a move (once when they are the same object) for its duration.
template <class F>
auto with_engines(py_engine& a, py_engine& b, F&& f) -> decltype(f()) {
    if (&a == &b) return with_engine(a, [&](docker::engine&) { return f(); });
    // A fixed order, so two moves in opposite directions on two threads cannot deadlock.
    py_engine& first = std::less<py_engine*>{}(&a, &b) ? a : b;
    py_engine& second = &first == &a ? b : a;
    return with_engine(first, [&](docker::engine&) { return with_engine(second, [&](docker::engine&) { return f(); }); });
}

/// downtime_prober probing a memcached over UDP at the source and the target address.
class memcached_prober {
public:
    memcached_prober(std::string source, std::string target, std::uint16_t port, std::string key, std::string value,
                     int interval_ms, std::string method)
        : source_(std::move(source)), target_(std::move(target)), port_(port), key_(std::move(key)),
          value_(std::move(value)), interval_(interval_ms),
          prober_([this](int location) {
              return workload::memcached_udp_get(location == 0 ? source_ : target_, port_, key_, value_, interval_);
          }, interval_, method.empty() ? fmt::format("memcached UDP get every {} ms from the client side", interval_ms)
                                       : std::move(method)) {}

    downtime_prober& prober() { return prober_; }
    const downtime_prober& prober() const { return prober_; }
    const std::string& source() const { return source_; }
    const std::string& target() const { return target_; }
    std::uint16_t port() const { return port_; }
    std::chrono::milliseconds interval() const { return interval_; }

private:
    // Declared before prober_: the probe thread reads them until prober_'s destructor joins it.
    std::string source_, target_;
    std::uint16_t port_;
    std::string key_, value_;
    std::chrono::milliseconds interval_;
    downtime_prober prober_;
};

void check_ipv4(const std::string& field, const std::string& addr) {
    in_addr a{};
    if (::inet_pton(AF_INET, addr.c_str(), &a) != 1)
        raise(make_failure(error::invalid_argument,
                           fmt::format("MemcachedDowntimeProber.{}: '{}' is not an IPv4 address", field, addr)));
}

std::chrono::milliseconds ms_of(double seconds) {
    return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

}  // namespace

void bind_move(py::module_& m) {
    m.def("checkpoint_move", [](py_engine& source, py_engine& target, const std::string& container,
                                const std::string& target_name, const std::string& checkpoint_name, bool remove_source,
                                const std::string& source_label, const std::string& target_label,
                                const py::object& on_event) {
        checkpoint_move_options o{.container = container, .target_name = target_name, .checkpoint_name = checkpoint_name,
                                  .remove_source = remove_source, .source_label = source_label,
                                  .target_label = target_label};
        unwrap(o.validate());
        python_callbacks cb;
        cb.on_event = &on_event;
        auto h = cb.make_hooks();
        auto report = nogil([&] {
            return with_engines(source, target, [&] { return checkpoint_move(*source.engine, *target.engine, o, h); });
        });
        if (!cb.first_error.empty()) report.details["on_event_error"] = cb.first_error;
        return report;
    }, py::arg("source"), py::arg("target"), py::arg("container"), py::arg("target_name") = "",
       py::arg("checkpoint_name") = "migrate", py::arg("remove_source") = true, py::arg("source_label") = "source",
       py::arg("target_label") = "target", py::arg("on_event") = py::none(),
       "Moves a running container from `source` to `target` (DockerEngines) with CRIU stop-and-copy: image (only "
       "when the target lacks it) and container config first, then checkpoint, stream, restore. Returns the "
       "MigrationReport, also when the move failed (success False, error set, rolled_back says whether the "
       "source was restored); raises MigrationError only for invalid arguments. `on_event(dict)` is called for "
       "each phase event on this thread (keys: kind, phase, detail, at, bytes, total_bytes, error); an exception "
       "in it does not stop the move (it goes to sys.unraisablehook and report.details['on_event_error']). The "
       "downtime is left empty: measure it with a MemcachedDowntimeProber.");

    py::class_<memcached_prober>(m, "MemcachedDowntimeProber",
                                 "Measures downtime from outside: a memcached UDP get of `key` at the source and at the "
                                 "target address every `interval_ms`, on a C++ thread (no GIL); downtime = last "
                                 "correct answer at the source to first correct answer at the target. memcached must "
                                 "listen on UDP (-U PORT, as memcached_recipe does). Also a context manager "
                                 "(start on enter, stop on exit).")
        .def(py::init([](const std::string& source_addr, const std::string& target_addr, std::uint16_t port,
                         const std::string& key, const std::string& value, int interval_ms, const std::string& method) {
            check_ipv4("source_addr", source_addr);
            check_ipv4("target_addr", target_addr);
            if (interval_ms < 1 || interval_ms > 10000)
                raise(make_failure(error::invalid_argument,
                                   fmt::format("MemcachedDowntimeProber.interval_ms: {} is out of range (1..10000)",
                                               interval_ms)));
            if (key.empty() || key.size() > 250 || key.find_first_of(" \r\n") != std::string::npos)
                raise(make_failure(error::invalid_argument,
                                   "MemcachedDowntimeProber.key: must be a memcached key (1..250 bytes, no spaces)"));
            if (value.size() > 3800)
                raise(make_failure(error::invalid_argument,
                                   fmt::format("MemcachedDowntimeProber.value: {} bytes do not fit one UDP answer "
                                               "(at most 3800)", value.size())));
            return std::make_unique<memcached_prober>(source_addr, target_addr, port, key, value, interval_ms, method);
        }), py::arg("source_addr"), py::arg("target_addr"), py::arg("port"), py::arg("key"), py::arg("value"),
            py::arg("interval_ms") = 5, py::arg("method") = "")
        .def("start", [](memcached_prober& p) { p.prober().start(); }, "Starts probing on a background thread.")
        .def("stop", [](memcached_prober& p) {
            py::gil_scoped_release release;
            p.prober().stop();
        }, "Stops probing and joins the thread (idempotent).")
        .def("wait_for_source", [](memcached_prober& p, double timeout) {
            py::gil_scoped_release release;
            return p.prober().wait_for_source(ms_of(timeout));
        }, py::arg("timeout") = 5.0, "True once the source answered correctly (within `timeout` seconds).")
        .def("wait_for_target", [](memcached_prober& p, double timeout) {
            py::gil_scoped_release release;
            return p.prober().wait_for_target(ms_of(timeout));
        }, py::arg("timeout") = 10.0, "True once the target answered correctly (within `timeout` seconds).")
        .def("result", [](const memcached_prober& p) { return p.prober().result(); },
             "DowntimeMeasurement, or None until the source answered once and then the target answered.")
        .def_property_readonly("source_addr", &memcached_prober::source)
        .def_property_readonly("target_addr", &memcached_prober::target)
        .def_property_readonly("port", &memcached_prober::port)
        .def_property_readonly("interval_ms", [](const memcached_prober& p) { return p.interval().count(); })
        .def("__enter__", [](memcached_prober& p) -> memcached_prober& {
            p.prober().start();
            return p;
        }, py::return_value_policy::reference)
        .def("__exit__", [](memcached_prober& p, const py::args&) {
            py::gil_scoped_release release;
            p.prober().stop();
        })
        .def("__repr__", [](const memcached_prober& p) {
            return fmt::format("<MemcachedDowntimeProber {} -> {} port {} every {} ms>", p.source(), p.target(),
                               p.port(), p.interval().count());
        });
}

}  // namespace migrate::python
