// The thesis workloads from Python (include/migrate/workload/): ZoneServer (where "the
// user" is, and who asked when), A1 (stateless poller) and A2 (zone counter) configs,
// specs, image recipes and state readers, the memcached UDP probes, and DowntimeProber with
// the service locators and ready-made probes that follow a service from host to host.
//
// Probes run on the prober's C++ thread. The ready-made ones (a2_probe, two_location_probe
// over container_address_locator) never touch Python; a Python callable given as a probe,
// locator or `ask` is called with the GIL taken for the call, its exceptions count as a
// failed probe (the first one is kept in DowntimeProber.callback_error), and the
// callable's reference is dropped with the GIL held. Everything that joins the probe
// thread (stop, __exit__, the object's deallocation) releases the GIL first, so a probe
// waiting for the GIL cannot deadlock it.
#include "common.hpp"

#include <migrate/image/rootfs_builder.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>
#include <migrate/workload/memcached.hpp>
#include <migrate/workload/service_locator.hpp>
#include <migrate/workload/zone_server.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <mutex>

namespace migrate::python {
namespace {

namespace fs = std::filesystem;
namespace wl = migrate::workload;
using std::chrono::milliseconds;

milliseconds ms_of_seconds(double seconds, const char* field) {
    if (!(seconds > 0) || seconds > 3600)
        raise(make_failure(error::invalid_argument, fmt::format("{}: {} s is out of range (0..3600]", field, seconds)));
    return milliseconds(static_cast<long>(seconds * 1000 + 0.5));
}

double monotonic_seconds(steady_clock::time_point t) {
    // steady_clock is CLOCK_MONOTONIC here: comparable with time.monotonic().
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// ---- Python callables on the prober's thread -------------------------------------------------

/// Calls `fn(args...)` on any thread; an exception becomes `fallback` (and is recorded).
template <class R, class... A>
R call_python(const shared_callable& fn, const std::shared_ptr<callback_errors>& errors, const char* what,
              R fallback, A&&... args) {
    if (!Py_IsInitialized()) return fallback;
    py::gil_scoped_acquire gil;
    try {
        py::object r = (*fn)(std::forward<A>(args)...);
        if constexpr (std::is_same_v<R, bool>) {
            int truth = PyObject_IsTrue(r.ptr());
            if (truth < 0) throw py::error_already_set();
            return truth == 1;
        } else {
            if (r.is_none()) return std::nullopt;
            return r.cast<std::string>();
        }
    } catch (py::error_already_set& e) {
        errors->record(e, what);
    } catch (const std::exception& e) {   // a cast that failed: a wrong return type
        PyErr_SetString(PyExc_TypeError, (std::string(what) + " must return str or None: " + e.what()).c_str());
        py::error_already_set err;
        errors->record(err, what);
    }
    return fallback;
}

/// An address_locator in Python: a ready-made one (C++) or a Python callable.
struct py_locator {
    wl::address_locator fn;
    std::string description;
    std::shared_ptr<callback_errors> errors = std::make_shared<callback_errors>();
};

/// A downtime_prober::probe_fn in Python: a ready-made one or a Python callable.
struct py_probe {
    downtime_prober::probe_fn fn;
    std::string description;
    std::vector<std::shared_ptr<callback_errors>> errors;   ///< of every Python callable inside
};

py_locator locator_from(const py::object& o, const char* field) {
    if (py::isinstance<py_locator>(o)) return o.cast<py_locator>();
    if (py::isinstance<py::str>(o)) {
        auto a = o.cast<std::string>();
        if (a.find('/') != std::string::npos)
            raise(make_failure(error::invalid_argument, fmt::format("{}: '{}' is a network, not an address", field, a)));
        unwrap(wl::validate_network(a, field));
        return {wl::fixed_address(a), "fixed " + a};
    }
    if (!PyCallable_Check(o.ptr()))
        raise(make_failure(error::invalid_argument,
                           fmt::format("{}: expected an AddressLocator, an address str or a callable returning "
                                       "str or None, got {}",
                                       field, py::str(py::type::handle_of(o).attr("__name__")).cast<std::string>())));
    py_locator l;
    l.description = "Python " + py::repr(o).cast<std::string>();
    l.fn = [fn = share(o), errors = l.errors]() -> std::optional<std::string> {
        return call_python<std::optional<std::string>>(fn, errors, "migrate address locator", std::nullopt);
    };
    return l;
}

py_probe probe_from(const py::object& o, const char* field) {
    if (py::isinstance<py_probe>(o)) return o.cast<py_probe>();
    if (!PyCallable_Check(o.ptr()))
        raise(make_failure(error::invalid_argument,
                           fmt::format("{}: expected a Probe or a callable(location: int) -> bool, got {}", field,
                                       py::str(py::type::handle_of(o).attr("__name__")).cast<std::string>())));
    py_probe p;
    p.description = "Python " + py::repr(o).cast<std::string>();
    auto errors = std::make_shared<callback_errors>();
    p.errors = {errors};
    p.fn = [fn = share(o), errors](int location) {
        return call_python<bool>(fn, errors, "migrate probe", false, location);
    };
    return p;
}

/// downtime_prober with the errors of every Python callable inside its probe.
class py_prober {
public:
    py_prober(py_probe probe, int interval_ms, std::string method)
        : errors_(probe.errors), description_(probe.description), interval_(interval_ms),
          prober_(std::move(probe.fn), interval_, std::move(method)) {}

    downtime_prober& prober() { return prober_; }
    const downtime_prober& prober() const { return prober_; }
    milliseconds interval() const { return interval_; }
    const std::string& description() const { return description_; }

    std::uint64_t callback_errors_count() const {
        std::uint64_t n = 0;
        for (auto& e : errors_) {
            std::lock_guard lk(e->mu);
            n += e->count;
        }
        return n;
    }
    std::string first_callback_error() const {
        for (auto& e : errors_) {
            std::lock_guard lk(e->mu);
            if (!e->first.empty()) return e->first;
        }
        return {};
    }

private:
    std::vector<std::shared_ptr<callback_errors>> errors_;
    std::string description_;
    milliseconds interval_;
    downtime_prober prober_;   // last: its destructor joins the thread that uses the rest
};


// ---- configs as keyword arguments ---------------------------------------------------------------

template <class T>
T config_from(const char* callable, std::initializer_list<std::pair<const char*, py::object>> args) {
    json j = json(T{});
    j.update(kwargs_json(json(T{}), callable, args));
    return json_to<T>(j);
}

template <class T>
T config_from_dict(const py::handle& d, const char* what) {
    json j = json(T{});
    j.update(dict_to_json(d, what));
    return json_to<T>(j);
}

template <class T>
std::string repr_json(const char* cls, const T& v) {
    return fmt::format("<{} {}>", cls, json(v).dump());
}

}  // namespace

void bind_workload(py::module_& m) {
    // ---- zone server --------------------------------------------------------------------------------
    py::class_<wl::poll_record>(m, "PollRecord", "One poll the ZoneServer answered.")
        .def_property_readonly("at", [](const wl::poll_record& r) { return monotonic_seconds(r.at); },
                               "when the request had been read (seconds on the time.monotonic() clock)")
        .def_readonly("peer", &wl::poll_record::peer, "the poller's IPv4 source address")
        .def_readonly("path", &wl::poll_record::path, "'/location' or '/zone' (no query)")
        .def_readonly("seq", &wl::poll_record::seq, "the poller's `seq` query parameter; 0 when absent")
        .def_readonly("zone", &wl::poll_record::zone, "the zone it was told")
        .def("to_dict", [](const wl::poll_record& r) {
            py::dict d;
            d["at"] = monotonic_seconds(r.at);
            d["peer"] = r.peer;
            d["path"] = r.path;
            d["seq"] = r.seq;
            d["zone"] = r.zone;
            return d;
        })
        .def("__repr__", [](const wl::poll_record& r) {
            return fmt::format("<PollRecord {} {} seq={} zone={}>", r.peer, r.path, r.seq, r.zone);
        });

    py::class_<wl::zone_server>(m, "ZoneServer",
                                "The location server of the thesis workloads: answers GET /location (A1) and GET "
                                "/zone (A2) with the user's zone, one line, and records every poll with its source "
                                "address. Serves on a C++ thread of its own (no GIL). ZoneServer.start(...) makes "
                                "one; also a context manager (stops on exit).")
        .def_static("start", [](const std::string& address, std::uint16_t port, const std::string& zone,
                                std::size_t max_records) {
            wl::zone_server_options o{.address = address, .port = port, .zone = zone, .max_records = max_records};
            unwrap(o.validate());
            return nogil([&] { return wl::zone_server::start(o); });
        }, py::arg("address") = "127.0.0.1", py::arg("port") = 0, py::arg("zone") = "zone-1",
           py::arg("max_records") = 1'000'000,
           "Binds `address`:`port` (0 = a free port) and starts serving. On a testbed pass its client_address (the "
           "bridge, reachable from every host's service network). MigrationError(invalid_argument) naming the "
           "field (zone_server_options.address, ...), io_error naming the address when it cannot bind.")
        .def("stop", [](wl::zone_server& s) {
            py::gil_scoped_release release;
            s.stop();
        }, "Stops serving and joins its thread (idempotent); the records stay readable.")
        .def_property_readonly("address", &wl::zone_server::address)
        .def_property_readonly("port", &wl::zone_server::port, "the bound port (the free one chosen for port=0)")
        .def("url", &wl::zone_server::url, py::arg("path") = "/zone",
             "'http://<address>:<port><path>': what the workloads are given (A1: url('/location'), A2: url('/zone')).")
        .def("set_zone", [](wl::zone_server& s, std::string zone) { unwrap(s.set_zone(std::move(zone))); },
             py::arg("zone"),
             "Moves the user: every poll from now on is told `zone`. MigrationError(invalid_argument) for an empty "
             "zone or one with a line break.")
        .def_property_readonly("zone", &wl::zone_server::zone, "the zone polls are told now")
        .def("records", [](const wl::zone_server& s) { return s.records(); },
             "Every answered poll so far (PollRecord), oldest first.")
        .def("records_from", [](const wl::zone_server& s, const std::string& network) {
            unwrap(wl::validate_network(network, "ZoneServer.records_from.network"));
            return s.records_from(network);
        }, py::arg("network"),
           "The polls whose peer lies in `network` ('10.70.3.0/24', or one address): a host's service_subnet says "
           "which polls came from that host.")
        .def("clear_records", &wl::zone_server::clear_records)
        .def_property_readonly("answered", &wl::zone_server::answered,
                               "requests answered so far (also those beyond max_records)")
        .def_property_readonly("refused", &wl::zone_server::refused, "requests refused (unknown path, bad request)")
        .def("__enter__", [](wl::zone_server& s) -> wl::zone_server& { return s; }, py::return_value_policy::reference)
        .def("__exit__", [](wl::zone_server& s, const py::args&) {
            py::gil_scoped_release release;
            s.stop();
        })
        .def("__repr__", [](const wl::zone_server& s) {
            return fmt::format("<ZoneServer {} zone={} answered={}>", s.url(""), s.zone(), s.answered());
        });

    m.def("in_network", [](const std::string& address, const std::string& network) {
        return wl::in_network(address, network);
    }, py::arg("address"), py::arg("network"),
       "True when `address` lies in `network` ('10.70.3.0/24', or one address = /32); False for anything malformed.");

    // ---- A1: the stateless poller -------------------------------------------------------------------
    py::class_<wl::a1_poller_config>(m, "A1PollerConfig",
                                     "How to run the thesis workload A1 (polls url every interval_ms) in a "
                                     "container; a1_poller_spec makes its ContainerSpec.")
        .def(py::init([](py::object name, py::object image, py::object url, py::object network,
                         py::object interval_ms, py::object timeout_ms) {
            return config_from<wl::a1_poller_config>("A1PollerConfig",
                                                     {{"name", name}, {"image", image}, {"url", url},
                                                      {"network", network}, {"interval_ms", interval_ms},
                                                      {"timeout_ms", timeout_ms}});
        }), py::arg("name") = py::none(), py::arg("image") = py::none(), py::arg("url") = py::none(),
            py::arg("network") = py::none(), py::arg("interval_ms") = py::none(), py::arg("timeout_ms") = py::none(),
            "Unset fields keep their defaults: name 'a1-poller', image 'migrate-a1-poller:1', interval_ms 200, "
            "timeout_ms 150.")
        .def_static("from_dict", [](const py::dict& d) {
            return config_from_dict<wl::a1_poller_config>(d, "a1_poller_config");
        }, py::arg("d"))
        .def("to_dict", [](const wl::a1_poller_config& c) { return to_python(json(c)); })
        .def("validate", [](const wl::a1_poller_config& c) { unwrap(c.validate()); },
             "MigrationError(invalid_argument) naming the field.")
        .def_readwrite("name", &wl::a1_poller_config::name, "container name")
        .def_readwrite("image", &wl::a1_poller_config::image, "built with a1_poller_recipe")
        .def_readwrite("url", &wl::a1_poller_config::url, "ZoneServer.url('/location')")
        .def_readwrite("network", &wl::a1_poller_config::network, "the host's service_network")
        .def_property("interval_ms", [](const wl::a1_poller_config& c) { return c.interval.count(); },
                      [](wl::a1_poller_config& c, long v) { c.interval = milliseconds(v); })
        .def_property("timeout_ms", [](const wl::a1_poller_config& c) { return c.timeout.count(); },
                      [](wl::a1_poller_config& c, long v) { c.timeout = milliseconds(v); }, "per poll")
        .def("__repr__", [](const wl::a1_poller_config& c) { return repr_json("A1PollerConfig", c); });

    m.def("a1_poller_spec", [](const wl::a1_poller_config& c) {
        unwrap(c.validate());
        return wl::a1_poller_spec(c);
    }, py::arg("config"), "The ContainerSpec for DockerEngine.create (validates the config first).");

    m.def("a1_downtime", [](const std::vector<wl::poll_record>& polls, const std::string& source,
                            const std::string& target, long interval_ms, const std::string& path) {
        wl::a1_downtime_options o{.source = source, .target = target, .interval = milliseconds(interval_ms),
                                  .path = path};
        unwrap(o.validate());
        return unwrap(wl::a1_downtime(polls, o));
    }, py::arg("polls"), py::arg("source"), py::arg("target"), py::arg("interval_ms") = 200,
       py::arg("path") = "/location",
       "A1's downtime from a ZoneServer's records(): last poll from `source` (the source host's service_subnet, or "
       "one address) before the first from `target`, to that first poll; a DowntimeMeasurement at the resolution "
       "of interval_ms. MigrationError(not_found) saying how many polls came from where when there is no such "
       "pair; invalid_argument naming a malformed or overlapping network.");

    m.def("a1_poller_recipe", [](const fs::path& binary) { return unwrap(image::a1_poller_recipe(binary)); },
          py::arg("binary"),
          "A1's image: `binary` (the build's migrate-a1-poller, <build>/examples/workloads) + busybox, ENTRYPOINT "
          "the poller. MigrationError(not_found) naming `binary` when it does not exist. Build it with "
          "build_image(engine, recipe, ref).");

    // ---- A2: the zone counter ---------------------------------------------------------------------------
    py::class_<wl::a2_counter_config>(m, "A2CounterConfig",
                                      "How to run the thesis workload A2 (counts zone changes, keeps the count in "
                                      "a volume at /data, migration aware) in a container; a2_counter_spec makes "
                                      "its ContainerSpec.")
        .def(py::init([](py::object name, py::object image, py::object zone_url, py::object network,
                         py::object volume, py::object port, py::object interval_ms, py::object hold_max_ms,
                         py::object zone_format) {
            return config_from<wl::a2_counter_config>("A2CounterConfig",
                                                      {{"name", name}, {"image", image}, {"zone_url", zone_url},
                                                       {"network", network}, {"volume", volume}, {"port", port},
                                                       {"interval_ms", interval_ms}, {"hold_max_ms", hold_max_ms},
                                                       {"zone_format", zone_format}});
        }), py::arg("name") = py::none(), py::arg("image") = py::none(), py::arg("zone_url") = py::none(),
            py::arg("network") = py::none(), py::arg("volume") = py::none(), py::arg("port") = py::none(),
            py::arg("interval_ms") = py::none(), py::arg("hold_max_ms") = py::none(),
            py::arg("zone_format") = py::none(),
            "Unset fields keep their defaults: name 'a2-counter', image 'migrate-a2-counter:1', volume 'a2-data', "
            "port 8080, interval_ms 200, hold_max_ms 30000, zone_format 'text' ('mec-location': zone_url is "
            "an ETSI MEC013 users query, e.g. MecEmulator.url + '/location/v2/queries/users?address=UE').")
        .def_static("from_dict", [](const py::dict& d) {
            return config_from_dict<wl::a2_counter_config>(d, "a2_counter_config");
        }, py::arg("d"))
        .def("to_dict", [](const wl::a2_counter_config& c) { return to_python(json(c)); })
        .def("validate", [](const wl::a2_counter_config& c) { unwrap(c.validate()); },
             "MigrationError(invalid_argument) naming the field.")
        .def_readwrite("name", &wl::a2_counter_config::name, "container name")
        .def_readwrite("image", &wl::a2_counter_config::image, "built with a2_counter_recipe")
        .def_readwrite("zone_url", &wl::a2_counter_config::zone_url, "ZoneServer.url('/zone') or a MEC013 users query")
        .def_property("zone_format",
                      [](const wl::a2_counter_config& c) {
                          return c.zone_format == wl::a2_zone_format::mec_location ? "mec-location" : "text";
                      },
                      [](wl::a2_counter_config& c, const std::string& v) {
                          if (v != "text" && v != "mec-location")
                              throw py::value_error("zone_format '" + v + "': must be 'text' or 'mec-location'");
                          c.zone_format = v == "text" ? wl::a2_zone_format::text : wl::a2_zone_format::mec_location;
                      },
                      "'text' (a zone server's one line) or 'mec-location' (a MEC013 users query's zoneId)")
        .def_readwrite("network", &wl::a2_counter_config::network, "the host's service_network")
        .def_readwrite("volume", &wl::a2_counter_config::volume,
                       "named volume at /data (the state); create it first or docker makes it empty")
        .def_readwrite("port", &wl::a2_counter_config::port, "TCP (HTTP) and UDP (the probe)")
        .def_property("interval_ms", [](const wl::a2_counter_config& c) { return c.interval.count(); },
                      [](wl::a2_counter_config& c, long v) { c.interval = milliseconds(v); }, "zone polls")
        .def_property("hold_max_ms", [](const wl::a2_counter_config& c) { return c.hold_max.count(); },
                      [](wl::a2_counter_config& c, long v) { c.hold_max = milliseconds(v); },
                      "longest hold after pre-relocation-end")
        .def("__repr__", [](const wl::a2_counter_config& c) { return repr_json("A2CounterConfig", c); });

    m.def("a2_counter_spec", [](const wl::a2_counter_config& c) {
        unwrap(c.validate());
        return wl::a2_counter_spec(c);
    }, py::arg("config"), "The ContainerSpec for DockerEngine.create (validates the config first).");

    m.def("a2_counter_recipe", [](const fs::path& binary) { return unwrap(image::a2_counter_recipe(binary)); },
          py::arg("binary"),
          "A2's image: `binary` (the build's migrate-a2-counter, <build>/examples/workloads) + busybox, ENTRYPOINT "
          "the counter, /data for its volume. MigrationError(not_found) naming `binary` when it does not exist.");

    py::class_<wl::a2_state>(m, "A2State", "What A2 reports at GET /state.")
        .def_readonly("count", &wl::a2_state::count, "zone changes counted")
        .def_readonly("zone", &wl::a2_state::zone, "last zone seen")
        .def_readonly("phase", &wl::a2_state::phase, "'running', 'pre-relocation-start' or 'pre-relocation-end'")
        .def_readonly("writes_held", &wl::a2_state::writes_held, "holding after pre-relocation-end")
        .def_readonly("address", &wl::a2_state::address, "its own address (its host's service subnet)")
        .def_readonly("polls", &wl::a2_state::polls, "zone polls since this process started")
        .def_readonly("poll_errors", &wl::a2_state::poll_errors)
        .def_readonly("starts", &wl::a2_state::starts, "cold starts with this volume (a CRIU restore is none)")
        .def_readonly("persisted", &wl::a2_state::persisted, "counter writes since this process started")
        .def("to_dict", [](const wl::a2_state& s) { return to_python(json(s)); })
        .def("__repr__", [](const wl::a2_state& s) { return repr_json("A2State", s); });

    m.def("a2_get_state", [](const std::string& address, std::uint16_t port, double timeout) {
        auto t = ms_of_seconds(timeout, "a2_get_state.timeout");
        return nogil([&] { return wl::a2_get_state(address, port, t); });
    }, py::arg("address"), py::arg("port") = 8080, py::arg("timeout") = 2.0,
       "GET /state over HTTP -> A2State. MigrationError daemon_unreachable / timeout naming the URL, "
       "protocol_error for an answer that is not the state document.");
    m.def("a2_get_count", [](const std::string& address, std::uint16_t port, double timeout) {
        auto t = ms_of_seconds(timeout, "a2_get_count.timeout");
        return nogil([&] { return wl::a2_get_count(address, port, t); });
    }, py::arg("address"), py::arg("port") = 8080, py::arg("timeout") = 2.0, "GET /count over HTTP.");
    m.def("a2_udp_count", [](const std::string& address, std::uint16_t port, double timeout) {
        auto t = ms_of_seconds(timeout, "a2_udp_count.timeout");
        return nogil([&] { return wl::a2_udp_count(address, port, t); });
    }, py::arg("address"), py::arg("port") = 8080, py::arg("timeout") = 0.2,
       "The counter over UDP (one datagram each way; safe while CRIU dumps it). MigrationError(timeout) when "
       "nothing came back, protocol_error for a malformed answer.");
    m.def("a2_change_phase", [](const std::string& address, std::uint16_t port, const std::string& phase,
                                double timeout) {
        auto t = ms_of_seconds(timeout, "a2_change_phase.timeout");
        nogil([&] { return wl::a2_change_phase(address, port, phase, t); });
    }, py::arg("address"), py::arg("port"), py::arg("phase"), py::arg("timeout") = 2.0,
       "POST /changePhase {'phase': phase}: 'pre-relocation-end' flushes and holds, 'running' resumes. "
       "MigrationError(invalid_argument) when the app refuses the phase.");
    m.def("a2_counter_check", &wl::a2_counter_check, py::arg("before"), py::arg("after"),
          "The StateCheck after a move: the counter on the target (`after`, an A2State) continues from `before` "
          "(read on the source before the move); a restart from zero shows as found < expected. Add it to a "
          "report with report.state = report.state + [check].");

    // ---- memcached over UDP -------------------------------------------------------------------------------
    m.def("memcached_udp_get", [](const std::string& host, std::uint16_t port, const std::string& key,
                                  const std::string& expected_value, double timeout) {
        auto t = ms_of_seconds(timeout, "memcached_udp_get.timeout");
        py::gil_scoped_release release;
        return wl::memcached_udp_get(host, port, key, expected_value, t);
    }, py::arg("host"), py::arg("port"), py::arg("key"), py::arg("expected_value"), py::arg("timeout") = 0.05,
       "One memcached get over UDP (memcached -U PORT): True when it answered `expected_value` within `timeout` s.");
    m.def("memcached_udp_version", [](const std::string& host, std::uint16_t port, double timeout) {
        auto t = ms_of_seconds(timeout, "memcached_udp_version.timeout");
        py::gil_scoped_release release;
        return wl::memcached_udp_version(host, port, t);
    }, py::arg("host"), py::arg("port"), py::arg("timeout") = 0.05,
       "One memcached UDP `version` request: True when it answered within `timeout` s (an empty cache that "
       "answers is up).");

    // ---- following a service: locators, probes, the prober -----------------------------------------------
    py::class_<py_locator>(m, "AddressLocator",
                           "Where a service answers now (an address, or None while it has none); made by "
                           "fixed_address or container_address_locator. Wherever one is expected, an address str "
                           "or a Python callable returning str or None works too.")
        .def("__call__", [](const py_locator& l) {
            py::gil_scoped_release release;
            return l.fn();
        }, "The address now, or None.")
        .def_property_readonly("description", [](const py_locator& l) { return l.description; })
        .def("__repr__", [](const py_locator& l) { return "<AddressLocator " + l.description + ">"; });

    m.def("fixed_address", [](const std::string& address) {
        if (address.find('/') != std::string::npos)
            raise(make_failure(error::invalid_argument,
                               fmt::format("fixed_address.address: '{}' is a network, not an address", address)));
        unwrap(wl::validate_network(address, "fixed_address.address"));
        return py_locator{wl::fixed_address(address), "fixed " + address};
    }, py::arg("address"), "Always `address` (host networking, or a known address).");

    m.def("container_address_locator", [](const fs::path& socket, const std::string& container,
                                          const std::string& network, long min_interval_ms) {
        if (container.empty())
            raise(make_failure(error::invalid_argument, "container_address_locator.container: required"));
        if (network.empty())
            raise(make_failure(error::invalid_argument,
                               "container_address_locator.network: required (a host's service_network)"));
        if (min_interval_ms < 1 || min_interval_ms > 60000)
            raise(make_failure(error::invalid_argument,
                               fmt::format("container_address_locator.min_interval_ms: {} is out of range (1..60000)",
                                           min_interval_ms)));
        return py_locator{wl::container_address_locator(socket, container, network, milliseconds(min_interval_ms)),
                          fmt::format("{} on {} at {}", container, network, socket.string())};
    }, py::arg("socket"), py::arg("container"), py::arg("network"), py::arg("min_interval_ms") = 20,
       "The address of container `container` on docker network `network` of the dockerd at `socket` (a "
       "TestbedHost's socket and service_network), looked up by the locator itself (its own engine connection, "
       "in C++): at most every min_interval_ms until found, then about once a second. None while it has none.");

    py::class_<py_probe>(m, "Probe",
                         "One request to a service at location 0 (source) or 1 (target), True when it answered "
                         "correctly; made by a2_probe or two_location_probe, run by a DowntimeProber.")
        .def("__call__", [](const py_probe& p, int location) {
            if (location != 0 && location != 1) throw py::value_error("location must be 0 (source) or 1 (target)");
            py::gil_scoped_release release;
            return p.fn(location);
        }, py::arg("location"), "Probes once now.")
        .def_property_readonly("description", [](const py_probe& p) { return p.description; })
        .def("__repr__", [](const py_probe& p) { return "<Probe " + p.description + ">"; });

    m.def("two_location_probe", [](const py::object& source, const py::object& target, const py::object& ask) {
        auto s = locator_from(source, "two_location_probe.source");
        auto t = locator_from(target, "two_location_probe.target");
        if (!PyCallable_Check(ask.ptr()))
            raise(make_failure(error::invalid_argument,
                               "two_location_probe.ask: expected a callable(address: str) -> bool"));
        auto errors = std::make_shared<callback_errors>();
        auto ask_fn = [fn = share(ask), errors](const std::string& address) {
            return call_python<bool>(fn, errors, "migrate probe ask", false, address);
        };
        py_probe p;
        p.fn = wl::two_location_probe(s.fn, t.fn, ask_fn);
        p.description = fmt::format("ask {} at [{}] / [{}]", py::repr(ask).cast<std::string>(), s.description,
                                    t.description);
        p.errors = {s.errors, t.errors, errors};
        return p;
    }, py::arg("source"), py::arg("target"), py::arg("ask"),
       "A Probe asking `ask(address)` (a Python callable -> bool) at the source's or the target's current address "
       "(AddressLocator, address str or callable); False while that location has no address. `ask` runs on the "
       "prober's thread with the GIL taken: keep it short, with a timeout.");

    m.def("a2_probe", [](const py::object& source, const py::object& target, std::uint16_t port, double timeout) {
        auto s = locator_from(source, "a2_probe.source");
        auto t = locator_from(target, "a2_probe.target");
        py_probe p;
        p.fn = wl::a2_probe(s.fn, t.fn, port, ms_of_seconds(timeout, "a2_probe.timeout"));
        p.description = fmt::format("A2 UDP count at [{}] / [{}] port {}", s.description, t.description, port);
        p.errors = {s.errors, t.errors};   // a Python locator's errors belong to this probe
        return p;
    }, py::arg("source"), py::arg("target"), py::arg("port") = 8080, py::arg("timeout") = 0.05,
       "A2's downtime probe, all in C++: the UDP count at the source's or the target's current address "
       "(AddressLocator, e.g. container_address_locator; an address str; or a callable); True for a well-formed "
       "answer within `timeout` s.");

    py::class_<py_prober, std::unique_ptr<py_prober, release_gil_delete>>(
        m, "DowntimeProber",
        "Measures downtime from outside: probes the source (location 0) and the target (location 1) every "
        "interval_ms on a background thread; downtime = last successful answer at the source to the first at the "
        "target. `probe` is a Probe (a2_probe, two_location_probe: C++, no GIL) or a Python "
        "callable(location: int) -> bool (called with the GIL; an exception counts as a failed probe and is "
        "kept in callback_error). A context manager: starts on enter, stops on exit.")
        .def(py::init([](const py::object& probe, int interval_ms, const std::string& method) {
            if (interval_ms < 1 || interval_ms > 10000)
                raise(make_failure(error::invalid_argument,
                                   fmt::format("DowntimeProber.interval_ms: {} is out of range (1..10000)",
                                               interval_ms)));
            auto p = probe_from(probe, "DowntimeProber.probe");
            auto m = method.empty() ? fmt::format("{} every {} ms from the client side", p.description, interval_ms)
                                    : method;
            return std::unique_ptr<py_prober, release_gil_delete>(
                new py_prober(std::move(p), interval_ms, std::move(m)));
        }), py::arg("probe"), py::arg("interval_ms") = 10, py::arg("method") = "")
        .def("start", [](py_prober& p) { p.prober().start(); }, "Starts probing on a background thread.")
        .def("stop", [](py_prober& p) {
            py::gil_scoped_release release;
            p.prober().stop();
        }, "Stops probing and joins the thread (idempotent).")
        .def("wait_for_source", [](py_prober& p, double timeout) {
            auto t = ms_of_seconds(timeout, "DowntimeProber.wait_for_source.timeout");
            py::gil_scoped_release release;
            return p.prober().wait_for_source(t);
        }, py::arg("timeout") = 5.0, "True once the source answered (within `timeout` seconds).")
        .def("wait_for_target", [](py_prober& p, double timeout) {
            auto t = ms_of_seconds(timeout, "DowntimeProber.wait_for_target.timeout");
            py::gil_scoped_release release;
            return p.prober().wait_for_target(t);
        }, py::arg("timeout") = 10.0, "True once the target answered after the source (within `timeout` seconds).")
        .def("result", [](const py_prober& p) { return p.prober().result(); },
             "DowntimeMeasurement, or None until the source answered once and then the target answered.")
        .def_property_readonly("interval_ms", [](const py_prober& p) { return p.interval().count(); })
        .def_property_readonly("callback_errors", &py_prober::callback_errors_count,
                               "exceptions raised by Python probes, locators or asks so far")
        .def_property_readonly("callback_error", &py_prober::first_callback_error,
                               "the first of them ('' when none)")
        .def("__enter__", [](py_prober& p) -> py_prober& {
            p.prober().start();
            return p;
        }, py::return_value_policy::reference)
        .def("__exit__", [](py_prober& p, const py::args&) {
            py::gil_scoped_release release;
            p.prober().stop();
        })
        .def("__repr__", [](const py_prober& p) {
            return fmt::format("<DowntimeProber {} every {} ms>", p.description(), p.interval().count());
        });
}

}  // namespace migrate::python
