// Moving a device's service the MIGRATE way (route_switch.hpp, trigger.hpp,
// strategy/replica_pool.hpp, trigger/manual.hpp, route/openflow.hpp, trigger/sdn.hpp,
// follow_me.hpp): ServiceInstance, RouteChange, RouteSwitch and ReplicaProtocol (subclass
// them in Python), ReplicaPool, ManualTrigger, OpenFlowRouteSwitch, SdnTrigger, FollowMe.
//
// Threads: the pool calls its ReplicaProtocol from its refill thread and from the caller's;
// a Python protocol or route switch is called with the GIL taken, and an exception it
// raises becomes the SDK's failure (daemon_error, its text kept), so the pool rolls back as
// it would for a C++ one. Blocking pool calls release the GIL.
#include "common.hpp"

#include <migrate/follow_me.hpp>
#include <migrate/openflow/message.hpp>
#include <migrate/route/openflow.hpp>
#include <migrate/route_switch.hpp>
#include <migrate/strategy/replica_pool.hpp>
#include <migrate/trigger.hpp>
#include <migrate/trigger/manual.hpp>
#include <migrate/trigger/sdn.hpp>

#include <pybind11/chrono.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <fmt/format.h>

namespace migrate::python {

/// The C++ trigger behind a MecLocationTrigger / MecRnisTrigger / MecAmsTrigger, else null (mec_triggers.cpp).
trigger* mec_trigger_of(const py::handle& o);

namespace {

// Route switches written in Python (a recording switch in a test, a controller of one's own).
class py_route_switch final : public route_switch {
public:
    explicit py_route_switch(std::string name) : name_(std::move(name)) {}
    std::string_view name() const noexcept override { return name_; }
    result<void> prepare(route_change& c) override { return call("prepare", c); }
    result<void> commit(route_change& c) override { return call("commit", c); }
    void rollback(route_change& c) noexcept override {
        if (auto r = call("rollback", c); !r) c.state["rollback_errors"].push_back(r.error().what());
    }

private:
    result<void> call(const char* method, route_change& c) {
        py::gil_scoped_acquire gil;
        py::function f = py::get_override(static_cast<const route_switch*>(this), method);
        if (!f) return make_failure(error::internal, fmt::format("RouteSwitch.{} is not implemented", method));
        try {
            f(py::cast(&c, py::return_value_policy::reference));
            return {};
        } catch (py::error_already_set& e) {
            return make_failure(error::daemon_error, fmt::format("RouteSwitch '{}'.{}: {}", name_, method, e.what()));
        }
    }
    std::string name_;
};

class py_replica_protocol final : public replica_protocol {
public:
    result<void> wait_ready(const service_instance& i, std::chrono::milliseconds within) override {
        return call("wait_ready", [&](py::function& f) { f(i, within.count() / 1000.0); });
    }
    result<void> assign(const service_instance& i, std::string_view subject) override {
        return call("assign", [&](py::function& f) { f(i, std::string(subject)); });
    }
    result<void> release(const service_instance& i, std::string_view subject) override {
        return call("release", [&](py::function& f) { f(i, std::string(subject)); });
    }

private:
    template <class F>
    result<void> call(const char* method, F&& invoke) {
        py::gil_scoped_acquire gil;
        py::function f = py::get_override(static_cast<const replica_protocol*>(this), method);
        if (!f) return make_failure(error::internal, fmt::format("ReplicaProtocol.{} is not implemented", method));
        try {
            invoke(f);
            return {};
        } catch (py::error_already_set& e) {
            return make_failure(error::daemon_error, fmt::format("ReplicaProtocol.{}: {}", method, e.what()));
        }
    }
};

/// The pool as Python holds it: the protocol's Python object is kept alive with it (the
/// C++ side only holds the C++ base), and the hosts' engines are the pool's own.
struct py_pool {
    py::object protocol;
    std::unique_ptr<replica_pool> pool;
    // Dropped with the GIL held; the refill thread may be waiting for it in the protocol.
    ~py_pool() {
        py::gil_scoped_release release;
        pool.reset();
    }
};

/// The SDN trigger as Python holds it: its Python callback's errors, the switch kept alive.
struct py_sdn_trigger {
    std::shared_ptr<sdn_trigger> trigger;
    std::shared_ptr<callback_errors> errors = std::make_shared<callback_errors>();
    // Dropped with the GIL held; a decision in delivery waits for it, and stop waits for that.
    ~py_sdn_trigger() {
        py::gil_scoped_release release;
        trigger.reset();
    }
};

/// The follow-me loop with the Python objects it works on kept alive as long as it runs.
/// Dropped by Python with the GIL held: the loop stops without it (its worker may be calling
/// a Python protocol), then the objects go with it.
struct py_follow_me {
    py::object trigger, pool, route;
    std::unique_ptr<follow_me> loop;
    ~py_follow_me() {
        py::gil_scoped_release release;
        loop.reset();
    }
};

/// The C++ trigger behind a ManualTrigger or an SdnTrigger (and the SDN one, if it is).
std::pair<trigger*, sdn_trigger*> trigger_of(const py::handle& o) {
    if (py::isinstance<py_sdn_trigger>(o)) {
        auto* t = o.cast<py_sdn_trigger&>().trigger.get();
        return {t, t};
    }
    if (py::isinstance<manual_trigger>(o)) return {&o.cast<manual_trigger&>(), nullptr};
    if (auto* t = mec_trigger_of(o)) return {t, nullptr};
    raise(make_failure(error::invalid_argument, "FollowMe.trigger: expected a ManualTrigger, an SdnTrigger or a Mec*Trigger"));
}

/// A decision's dict: the trigger's JSON plus `at` as seconds on the monotonic clock.
py::object decision_to_python(const migration_decision& d) { return to_python(json(d)); }

migration_decision decision_from_python(const py::handle& o) {
    json j = dict_to_json(o, "MigrationDecision");
    migration_decision d;
    auto field = [&](const char* k, std::string& out) {
        if (auto it = j.find(k); it != j.end()) {
            if (!it->is_string())
                raise(make_failure(error::invalid_argument, fmt::format("MigrationDecision.{}: expected a string", k)));
            out = it->get<std::string>();
        }
    };
    field("subject", d.subject);
    field("from", d.from);
    field("to", d.to);
    field("reason", d.reason);
    if (auto it = j.find("evidence"); it != j.end()) d.evidence = *it;
    if (d.subject.empty() || d.to.empty())
        raise(make_failure(error::invalid_argument, "MigrationDecision: 'subject' and 'to' are required"));
    return d;
}

}  // namespace

void bind_sdn(py::module_& m) {
    py::class_<service_instance>(m, "ServiceInstance", "A service instance a route can lead to.")
        .def(py::init([](std::string host, std::string id, std::string address, std::uint16_t port) {
                 return service_instance{std::move(host), std::move(id), std::move(address), port};
             }),
             py::arg("host") = "", py::arg("id") = "", py::arg("address") = "", py::arg("port") = 0)
        .def_readwrite("host", &service_instance::host, "the edge host it runs on")
        .def_readwrite("id", &service_instance::id, "container name; '' = none")
        .def_readwrite("address", &service_instance::address, "its IPv4 address")
        .def_readwrite("port", &service_instance::port, "its service port (0 = any)")
        .def("to_dict", [](const service_instance& s) { return to_python(json(s)); })
        .def("__eq__", [](const service_instance& a, const service_instance& b) { return json(a) == json(b); })
        .def("__repr__", [](const service_instance& s) {
            return fmt::format("<ServiceInstance {} on {} at {}:{}>", s.id.empty() ? "-" : s.id, s.host, s.address, s.port);
        });

    py::class_<route_change>(m, "RouteChange",
                             "One subject's route moving from `source` to `target` (the C++ `from`/`to`). "
                             "`attachment` is where the subject reaches the network (OpenFlow: {'port': 2}); "
                             "`state` is the route switch's notes between its calls.")
        .def(py::init<>())
        .def_readwrite("subject", &route_change::subject)
        .def_readwrite("source", &route_change::from)
        .def_readwrite("target", &route_change::to)
        .def_property("attachment", [](const route_change& c) { return to_python(c.attachment); },
                      [](route_change& c, const py::object& o) { c.attachment = dict_to_json(o, "RouteChange.attachment"); })
        .def_property("state", [](const route_change& c) { return to_python(c.state); },
                      [](route_change& c, const py::object& o) { c.state = dict_to_json(o, "RouteChange.state"); })
        .def_readwrite("prepared", &route_change::prepared)
        .def_readwrite("committed", &route_change::committed)
        .def("to_dict", [](const route_change& c) { return to_python(json(c)); });

    py::class_<route_switch, py_route_switch, std::shared_ptr<route_switch>>(
        m, "RouteSwitch",
        "Moves a subject's traffic make-before-break: prepare(change), commit(change), rollback(change). "
        "Subclass it in Python (call RouteSwitch.__init__(self, name)) and implement the three methods; an "
        "exception fails the step. OpenFlowRouteSwitch is the SDK's own, on a real switch.")
        .def(py::init<std::string>(), py::arg("name"))
        .def_property_readonly("name", [](const route_switch& r) { return std::string(r.name()); })
        .def("prepare", [](route_switch& r, route_change& c) { nogil([&] { return r.prepare(c); }); }, py::arg("change"))
        .def("commit", [](route_switch& r, route_change& c) { nogil([&] { return r.commit(c); }); }, py::arg("change"))
        .def("rollback", [](route_switch& r, route_change& c) {
            py::gil_scoped_release release;
            r.rollback(c);
        }, py::arg("change"));

    py::class_<replica_protocol, py_replica_protocol, std::shared_ptr<replica_protocol>>(
        m, "ReplicaProtocol",
        "How a ReplicaPool talks to its instances; subclass it: wait_ready(instance, within_s) returns once the "
        "instance answers (raise if it does not), assign(instance, subject) makes it serve the subject (load its "
        "state), release(instance, subject) lets go. Called from the pool's threads with the GIL taken.")
        .def(py::init<>());

    py::class_<py_pool>(m, "ReplicaPool",
                        "Pre-warmed instances of a service on every host; moving a subject takes one on the target "
                        "(MIGRATE's Fig. 8 phases in the report). Options: image, cmd, env, network, service_port, "
                        "size (0 = cold), name_prefix, recycle, ready_timeout_ms.")
        .def(py::init([](const std::vector<edge_host>& hosts, const py::object& options, const py::object& protocol) {
                 if (!py::isinstance<replica_protocol>(protocol))
                     raise(make_failure(error::invalid_argument, "ReplicaPool.protocol: expected a ReplicaProtocol"));
                 auto o = unwrap(parse_options<replica_pool_options>(dict_to_json(options, "ReplicaPool.options")));
                 std::vector<edge_host> own = hosts;
                 for (auto& h : own) h.runtime = own_runtime(h.runtime);
                 auto proto = protocol.cast<std::shared_ptr<replica_protocol>>();
                 auto pool = nogil([&] { return replica_pool::make(std::move(own), std::move(o), proto); });
                 auto p = std::make_unique<py_pool>();
                 p->protocol = protocol;
                 p->pool = std::move(pool);
                 return p;
             }),
             py::arg("hosts"), py::arg("options"), py::arg("protocol"))
        .def("fill", [](py_pool& p) { nogil([&] { return p.pool->fill(); }); },
             "Starts instances until every host has `size` ready ones.")
        .def("assign",
             [](py_pool& p, const std::string& subject, const std::string& host, route_switch* route,
                const py::object& attachment) {
                 json a = attachment.is_none() ? json::object() : dict_to_json(attachment, "ReplicaPool.assign.attachment");
                 return nogil([&] { return p.pool->assign(subject, host, route, a); });
             },
             py::arg("subject"), py::arg("host"), py::arg("route") = nullptr, py::arg("attachment") = py::none(),
             "An instance on `host` for `subject` (pooled or cold), assigned; with `route`, its first route.")
        .def("migrate",
             [](py_pool& p, const std::string& subject, const std::string& host, route_switch& route,
                const py::object& attachment) {
                 json a = attachment.is_none() ? json::object() : dict_to_json(attachment, "ReplicaPool.migrate.attachment");
                 return nogil([&] { return p.pool->migrate(subject, host, route, a); });
             },
             py::arg("subject"), py::arg("host"), py::arg("route"), py::arg("attachment") = py::none(),
             "Moves `subject` to an instance on `host`; returns the MigrationReport (phases: backup route, "
             "instantiation, state load, new route, release).")
        .def("release", [](py_pool& p, const std::string& subject) { nogil([&] { return p.pool->release(subject); }); },
             py::arg("subject"))
        .def("instance_of", [](py_pool& p, const std::string& subject) { return p.pool->instance_of(subject); },
             py::arg("subject"))
        .def("route_of", [](py_pool& p, const std::string& subject) { return p.pool->route_of(subject); },
             py::arg("subject"))
        .def("status", [](py_pool& p) { return to_python(p.pool->status()); },
             "Per host: ready instances, starting count, assigned subjects, last error.")
        .def("wait_refilled",
             [](py_pool& p, double within_s) {
                 nogil([&] { return p.pool->wait_refilled(std::chrono::milliseconds(static_cast<long>(within_s * 1000))); });
             },
             py::arg("within_s") = 30.0)
        .def("shutdown", [](py_pool& p) { nogil([&] { return p.pool->shutdown(); }); },
             "Removes every instance the pool started.")
        .def_property_readonly("options", [](py_pool& p) { return to_python(json(p.pool->options())); });

    py::class_<manual_trigger, std::shared_ptr<manual_trigger>>(
        m, "ManualTrigger",
        "A trigger fired by hand: start(callback) then fire({'subject':..., 'to':..., 'from':..., 'reason':...}); "
        "the callback gets the decision as a dict, on the caller's thread.")
        .def(py::init<>())
        .def_property_readonly("name", [](const manual_trigger& t) { return std::string(t.name()); })
        .def("start",
             [](manual_trigger& t, py::function callback) {
                 unwrap(t.start([callback](const migration_decision& d) {
                     py::gil_scoped_acquire gil;
                     callback(decision_to_python(d));
                 }));
             },
             py::arg("callback"))
        .def("fire", [](manual_trigger& t, const py::object& decision) { unwrap(t.fire(decision_from_python(decision))); },
             py::arg("decision"))
        .def("stop", &manual_trigger::stop);

    py::class_<route::openflow_route_switch, route_switch, std::shared_ptr<route::openflow_route_switch>>(
        m, "OpenFlowRouteSwitch",
        "The SDK's route switch on a real OpenFlow 1.3 switch (docs/sdn.md): a device (RouteChange.subject = its "
        "MAC, attachment = {'port': its switch port}) talks to one virtual service address; the switch rewrites it "
        "to the instance serving the device, make-before-break. Options: service_address, service_mac, ip_proto, "
        "service_port, hosts {name: {port, mac}}, priority, cookie, drain_ms, barrier_timeout_ms.")
        .def(py::init([](const py::object& connection, const py::object& options) {
                 auto sw = switch_connection_of(connection, "OpenFlowRouteSwitch.connection");
                 auto o = unwrap(parse_options<route::openflow_route_options>(dict_to_json(options, "OpenFlowRouteSwitch.options")));
                 std::shared_ptr<route::openflow_route_switch> r = unwrap(route::openflow_route_switch::make(sw, std::move(o)));
                 return r;
             }),
             py::arg("connection"), py::arg("options"))
        .def("finish_cleanup",
             [](route::openflow_route_switch& r, const std::string& subject) {
                 py::gil_scoped_release release;
                 return r.finish_cleanup(subject);
             },
             py::arg("subject"),
             "Waits for the background removal of the subject's old rules; its error, or None.")
        .def_property_readonly("options", [](const route::openflow_route_switch& r) { return to_python(json(r.options())); });

    py::class_<py_sdn_trigger>(
        m, "SdnTrigger",
        "Decides moves from what reaches the controller (docs/sdn.md): a tracked device's MAC on a new switch port "
        "(layer 2) or its CoAP from a new source address (layer 3). Options: port_hosts {port: host}, subnet_hosts "
        "{cidr: host}, udp_port, install_table_miss, max_held_packets, barrier_timeout_ms. The callback gets each "
        "decision as a dict on the switch connection's thread: keep it short.")
        .def(py::init([](const py::object& connection, const py::object& options) {
                 auto sw = switch_connection_of(connection, "SdnTrigger.connection");
                 auto o = unwrap(parse_options<sdn_trigger_options>(dict_to_json(options, "SdnTrigger.options")));
                 auto t = std::make_unique<py_sdn_trigger>();
                 t->trigger = unwrap(sdn_trigger::make(sw, std::move(o)));
                 return t;
             }),
             py::arg("connection"), py::arg("options"))
        .def("start",
             [](py_sdn_trigger& t, py::object callback) {
                 auto fn = share(std::move(callback));
                 auto errors = t.errors;
                 nogil([&] {
                     return t.trigger->start([fn, errors](const migration_decision& d) {
                         py::gil_scoped_acquire gil;
                         try {
                             (*fn)(decision_to_python(d));
                         } catch (py::error_already_set& e) {
                             errors->record(e, "SdnTrigger callback");
                         }
                     });
                 });
             },
             py::arg("callback"), "Installs the table-miss rule and starts deciding.")
        .def("stop", [](py_sdn_trigger& t) {
            py::gil_scoped_release release;
            t.trigger->stop();
        })
        .def("track",
             [](py_sdn_trigger& t, const py::object& device) {
                 t.trigger->track(json_to<sdn_device>(dict_to_json(device, "SdnTrigger.track.device")));
             },
             py::arg("device"), "Follow a device: {'mac', 'port', 'address', 'host'}.")
        .def("forget", [](py_sdn_trigger& t, const std::string& mac) { t.trigger->forget(mac); }, py::arg("mac"))
        .def("device",
             [](py_sdn_trigger& t, const std::string& mac) -> py::object {
                 auto d = t.trigger->device(mac);
                 return d ? to_python(json(*d)) : py::object(py::none());
             },
             py::arg("mac"))
        .def("reinject_held",
             [](py_sdn_trigger& t, const std::string& mac) { return nogil([&] { return t.trigger->reinject_held(mac); }); },
             py::arg("mac"), "Sends the device's held packets back through the switch's table; how many.")
        .def("drop_held", [](py_sdn_trigger& t, const std::string& mac) { return t.trigger->drop_held(mac); }, py::arg("mac"))
        .def("stats", [](py_sdn_trigger& t) {
            auto c = t.trigger->stats();
            py::dict d;
            d["packet_ins"] = c.packet_ins;
            d["unknown"] = c.unknown;
            d["decisions"] = c.decisions;
            d["held"] = c.held;
            d["dropped"] = c.dropped;
            return d;
        })
        .def_property_readonly("callback_errors", [](py_sdn_trigger& t) { return t.errors->total(); });

    py::class_<py_follow_me>(
        m, "FollowMe",
        "The service follows its user: each decision of `trigger` moves the subject's instance through `pool` and "
        "`route` on a worker thread (with an SdnTrigger, its held packets are re-injected after the backup and the "
        "new route).")
        .def(py::init([](const py::object& trigger, const py::object& pool, const py::object& route) {
                 auto [t, held] = trigger_of(trigger);
                 if (!py::isinstance<py_pool>(pool)) raise(make_failure(error::invalid_argument, "FollowMe.pool: expected a ReplicaPool"));
                 if (!py::isinstance<route_switch>(route))
                     raise(make_failure(error::invalid_argument, "FollowMe.route: expected a RouteSwitch"));
                 auto p = std::make_unique<py_follow_me>();
                 p->trigger = trigger;
                 p->pool = pool;
                 p->route = route;
                 p->loop = std::make_unique<follow_me>(*t, *pool.cast<py_pool&>().pool, route.cast<route_switch&>(), held);
                 return p;
             }),
             py::arg("trigger"), py::arg("pool"), py::arg("route"))
        .def("start", [](py_follow_me& f) { nogil([&] { return f.loop->start(); }); })
        .def("stop", [](py_follow_me& f) {
            py::gil_scoped_release release;
            f.loop->stop();
        })
        .def("reports", [](py_follow_me& f) { return f.loop->reports(); }, "Every move so far (MigrationReports).")
        .def("wait_for_moves",
             [](py_follow_me& f, std::size_t n, double within_s) {
                 nogil([&] { return f.loop->wait_for_moves(n, std::chrono::milliseconds(static_cast<long>(within_s * 1000))); });
             },
             py::arg("n"), py::arg("within_s") = 30.0)
        .def("refused", [](py_follow_me& f) { return f.loop->refused(); },
             "Decisions that could not become a move, and why.");
}

}  // namespace migrate::python
