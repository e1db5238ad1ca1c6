// bindings/python/openflow.cpp — the OpenFlow 1.3 speaker (include/migrate/openflow/) and
// the Open vSwitch lab it is tested against (include/migrate/testbed/ovs.hpp).
//
// OpenFlowListener (the switch dials us) and connect_to_switch (we dial it) give a
// SwitchConnection: apply(flow mods as dicts) + barrier, packet_out, and a packet-in callback
// receiving a dict. Flow mods, matches and actions are the same JSON documents as in C++
// (from_json of flow_mod). Blocking calls release the GIL. Callbacks run on the connection's
// io thread with the GIL taken for the call; their exceptions go to sys.unraisablehook and
// are counted. Everything that may join the io thread (close, deallocation) releases the GIL
// first, so a callback waiting for the GIL cannot deadlock it.
#include "common.hpp"

#include <migrate/openflow/connection.hpp>
#include <migrate/testbed/ovs.hpp>

#include <pybind11/stl.h>

#include <fmt/format.h>

#include <chrono>

namespace migrate::python {
namespace {

using namespace migrate::openflow;
namespace ovs = migrate::testbed::ovs;

std::chrono::milliseconds seconds_to_ms(double s, const char* what) {
    if (!(s > 0)) raise(make_failure(error::invalid_argument, fmt::format("{}: must be positive, got {}", what, s)));
    return std::chrono::milliseconds(static_cast<long>(s * 1000));
}

connection_options connection_options_from(const py::object& o) {
    if (o.is_none()) return {};
    auto opts = json_to<connection_options>(dict_to_json(o, "connection options"));
    unwrap(opts.validate());
    return opts;
}

py::dict packet_in_to_python(const packet_in& p) {
    py::dict d;
    d["in_port"] = p.in_port();
    d["reason"] = p.reason_name();
    d["table_id"] = p.table_id;
    d["cookie"] = p.cookie;
    d["buffer_id"] = p.buffer_id;
    d["total_len"] = p.total_len;
    d["match"] = to_python(json(p.match));
    d["data"] = py::bytes(reinterpret_cast<const char*>(p.data.data()), p.data.size());
    if (auto f = p.frame()) {
        json j = {{"eth_src", f->eth_src}, {"eth_dst", f->eth_dst}, {"eth_type", f->eth_type}};
        if (f->vlan_id) j["vlan_id"] = *f->vlan_id;
        if (f->ipv4_src) j["ipv4_src"] = *f->ipv4_src;
        if (f->ipv4_dst) j["ipv4_dst"] = *f->ipv4_dst;
        if (f->ip_proto) j["ip_proto"] = *f->ip_proto;
        if (f->l4_src) j["l4_src"] = *f->l4_src;
        if (f->l4_dst) j["l4_dst"] = *f->l4_dst;
        if (f->payload_offset) j["payload_offset"] = *f->payload_offset;
        d["frame"] = to_python(j);
    } else {
        d["frame"] = py::none();
    }
    return d;
}

json stats_to_json(const connection_stats& s) {
    json j = {{"messages_in", s.messages_in},
              {"messages_out", s.messages_out},
              {"packet_ins", s.packet_ins},
              {"echo_requests_answered", s.echo_requests_answered},
              {"echo_replies", s.echo_replies},
              {"decode_errors", s.decode_errors},
              {"last_decode_error", s.last_decode_error},
              {"callback_errors", s.callback_errors}};
    j["last_echo_rtt_us"] = s.last_echo_rtt ? json(s.last_echo_rtt->count()) : json(nullptr);
    return j;
}

/// A session as Python holds it, with the errors of its Python callbacks.
struct py_switch {
    std::shared_ptr<switch_connection> conn;
    std::shared_ptr<callback_errors> errors = std::make_shared<callback_errors>();

    void close() {
        py::gil_scoped_release release;
        conn->close();
    }
};
using switch_holder = std::unique_ptr<py_switch, release_gil_delete>;

switch_holder hold(std::shared_ptr<switch_connection> c) {
    switch_holder h(new py_switch);
    h->conn = std::move(c);
    return h;
}

/// A listener as Python holds it (closing may join the io thread).
struct py_listener {
    std::unique_ptr<controller_listener> listener;
    void close() {
        py::gil_scoped_release release;
        listener->close();
    }
};
using listener_holder = std::unique_ptr<py_listener, release_gil_delete>;

/// An ovs_lab as Python holds it.
struct py_lab {
    std::optional<ovs::ovs_lab> lab;
    ovs::ovs_lab& get() {
        if (!lab) raise(make_failure(error::invalid_argument, "OvsLab: already down"));
        return *lab;
    }
};

json ns_port_to_json(const ovs::ns_port& p) {
    return {{"bridge", p.bridge}, {"ovs_side", p.ovs_side}, {"ns_side", p.ns_side}, {"netns", p.netns},
            {"address", p.address}, {"mac", p.mac}, {"ofport", p.ofport}};
}

json flow_to_json(const ovs::flow_entry& f) {
    return {{"cookie", f.cookie},   {"table", f.table},           {"priority", f.priority},
            {"match", f.match},     {"match_fields", f.match_fields()}, {"actions", f.actions},
            {"n_packets", f.n_packets}, {"n_bytes", f.n_bytes},   {"idle_timeout", f.idle_timeout},
            {"hard_timeout", f.hard_timeout}, {"flags", f.flags}, {"line", f.line}};
}

template <class T>
T from_dict(const py::handle& d, const char* what) {
    return json_to<T>(dict_to_json(d, what));
}

}  // namespace

std::shared_ptr<openflow::switch_connection> switch_connection_of(const py::handle& o, const char* where) {
    if (!py::isinstance<py_switch>(o))
        raise(make_failure(error::invalid_argument, fmt::format("{}: expected a SwitchConnection (from "
                                                                "OpenFlowListener.wait_for_switch or connect_to_switch)",
                                                                where)));
    return o.cast<py_switch&>().conn;
}

void bind_openflow(py::module_& m) {
    py::class_<py_switch, switch_holder>(
        m, "SwitchConnection",
        "One OpenFlow 1.3 session with a switch (docs/openflow.md). Flow mods are dicts: {'command': 'add', "
        "'table_id': 0, 'priority': 100, 'match': {'in_port': 1, 'eth_type': 2048, 'ipv4_dst': '10.0.0.2'}, "
        "'actions': [{'set_field': {'ipv4_dst': '10.0.0.3'}}, {'output': 2}]}.")
        .def_property_readonly("datapath_id", [](const py_switch& s) { return s.conn->datapath_id(); })
        .def_property_readonly("features", [](const py_switch& s) { return to_python(json(s.conn->features())); })
        .def_property_readonly("peer", [](const py_switch& s) { return s.conn->peer(); })
        .def_property_readonly("is_open", [](const py_switch& s) { return s.conn->is_open(); })
        .def(
            "apply",
            [](py_switch& s, const py::list& flow_mods, double timeout) {
                std::vector<flow_mod> mods;
                for (auto& d : flow_mods) mods.push_back(from_dict<flow_mod>(d, "flow_mod"));
                auto t = seconds_to_ms(timeout, "SwitchConnection.apply timeout");
                nogil([&] { return s.conn->apply(mods, t); });
            },
            py::arg("flow_mods"), py::arg("timeout") = 1.0,
            "Sends the flow mods and one barrier in one write; returns once the switch applied them all. "
            "MigrationError 'daemon_error' naming the mod the switch refused, with its ERROR in words.")
        .def(
            "barrier",
            [](py_switch& s, double timeout) {
                auto t = seconds_to_ms(timeout, "SwitchConnection.barrier timeout");
                nogil([&] { return s.conn->barrier(t); });
            },
            py::arg("timeout") = 1.0, "Returns once the switch processed everything sent before.")
        .def(
            "packet_out",
            [](py_switch& s, const py::bytes& data, const py::list& actions, const py::object& in_port) {
                packet_out p;
                auto bytes = data.cast<std::string>();
                p.data.assign(bytes.begin(), bytes.end());
                for (auto& a : actions) p.actions.push_back(json_to<action>(from_python(a, "action")));
                if (!in_port.is_none()) {
                    auto a = json_to<action>(json{{"output", from_python(in_port, "in_port")}});
                    p.in_port = std::get<output>(a).port;
                }
                nogil([&] { return s.conn->send(p); });
            },
            py::arg("data"), py::arg("actions"), py::arg("in_port") = py::none(),
            "Sends a frame through actions (e.g. [{'output': 2}]) as if it came from in_port (default CONTROLLER).")
        .def(
            "on_packet_in",
            [](py_switch& s, const py::object& callback) {
                if (callback.is_none()) {
                    py::gil_scoped_release release;
                    s.conn->on_packet_in(nullptr);
                    return;
                }
                if (!PyCallable_Check(callback.ptr()))
                    raise(make_failure(error::invalid_argument, "on_packet_in: callback must be callable(dict)"));
                auto fn = share(callback);
                std::weak_ptr<callback_errors> errors = s.errors;
                py::gil_scoped_release release;
                s.conn->on_packet_in([fn, errors](const packet_in& p) {
                    if (!Py_IsInitialized()) return;
                    py::gil_scoped_acquire gil;
                    try {
                        (*fn)(packet_in_to_python(p));
                    } catch (py::error_already_set& e) {
                        if (auto errs = errors.lock()) errs->record(e, "migrate OpenFlow packet-in callback");
                    }
                });
            },
            py::arg("callback"),
            "callback(dict) for every PACKET_IN, on the connection's thread: in_port, reason, table_id, cookie, "
            "buffer_id, total_len, match, data (bytes) and frame (eth_src, eth_dst, eth_type, ipv4_src, ipv4_dst, "
            "ip_proto, l4_src, l4_dst, payload_offset; None when the frame is unreadable). None removes it.")
        .def_property_readonly("closed_reason", [](const py_switch& s) -> py::object {
            auto f = s.conn->closed_reason();
            return f ? py::object(py::str(f->what())) : py::object(py::none());
        }, "Why the session ended ('daemon_unreachable: switch ... disconnected'); None while open.")
        .def("stats", [](const py_switch& s) { return to_python(stats_to_json(s.conn->stats())); },
             "Counters: messages_in/out, packet_ins, echo_requests_answered, echo_replies, last_echo_rtt_us, "
             "decode_errors, last_decode_error, callback_errors.")
        .def_property_readonly("callback_errors", [](const py_switch& s) { return s.errors->total(); })
        .def_property_readonly("callback_error", [](const py_switch& s) { return s.errors->first_error(); })
        .def("close", &py_switch::close)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](py_switch& s, py::args) { s.close(); })
        .def("__repr__", [](const py_switch& s) {
            return fmt::format("<SwitchConnection {} at {}{}>", format_dpid(s.conn->datapath_id()), s.conn->peer(),
                               s.conn->is_open() ? "" : " closed");
        });

    py::class_<py_listener, listener_holder>(
        m, "OpenFlowListener",
        "Listens for switches dialing in (OVS: set-controller BR <target>). port=0 picks a free port.")
        .def(py::init([](const std::string& address, std::uint16_t port, const py::object& options) {
                 listener_options o{.address = address, .port = port, .connection = connection_options_from(options)};
                 listener_holder h(new py_listener);
                 h->listener = nogil([&] { return controller_listener::listen(o); });
                 return h;
             }),
             py::arg("address") = "127.0.0.1", py::arg("port") = 6653, py::arg("options") = py::none(),
             "options: {'handshake_timeout_ms', 'echo_interval_ms', 'echo_misses'} for every session.")
        .def_property_readonly("port", [](const py_listener& l) { return l.listener->port(); })
        .def_property_readonly("target", [](const py_listener& l) { return l.listener->target(); })
        .def(
            "wait_for_switch",
            [](py_listener& l, std::optional<std::uint64_t> datapath_id, double timeout) {
                auto t = seconds_to_ms(timeout, "OpenFlowListener.wait_for_switch timeout");
                return hold(nogil([&] { return l.listener->wait_for_switch(datapath_id, t); }));
            },
            py::arg("datapath_id") = py::none(), py::arg("timeout") = 10.0,
            "The session of the switch with this datapath id (any when None), waiting for its handshake.")
        .def("switches",
             [](py_listener& l) {
                 std::vector<switch_holder> out;
                 for (auto& c : l.listener->switches()) out.push_back(hold(c));
                 return out;
             })
        .def("close", &py_listener::close)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](py_listener& l, py::args) { l.close(); })
        .def("__repr__", [](const py_listener& l) { return "<OpenFlowListener " + l.listener->target() + ">"; });

    m.def(
        "connect_to_switch",
        [](const std::string& host, std::uint16_t port, const py::object& options, double timeout) {
            auto o = connection_options_from(options);
            auto t = seconds_to_ms(timeout, "connect_to_switch timeout");
            return hold(nogil([&] { return openflow::connect_to_switch(host, port, o, t); }));
        },
        py::arg("host"), py::arg("port"), py::arg("options") = py::none(), py::arg("timeout") = 5.0,
        "Dials a switch's passive port (OVS: set-controller BR ptcp:PORT) and completes the handshake.");

    py::class_<py_lab>(
        m, "OvsLab",
        "Open vSwitch bridges (userspace datapath) and namespace ports for tests, every name starting with "
        "'<prefix>-o'; down() (or leaving the `with` block) removes all it made (needs root).")
        .def(py::init([](const std::string& prefix) {
                 auto lab = std::make_unique<py_lab>();
                 ovs::lab_options o;
                 o.prefix = prefix;
                 lab->lab.emplace(nogil([&] { return ovs::ovs_lab::open(o); }));
                 return lab;
             }),
             py::arg("prefix") = "mofpy")
        .def(
            "add_bridge",
            [](py_lab& l, const std::string& name, std::optional<std::uint64_t> datapath_id,
               std::vector<std::string> controllers) {
                ovs::bridge_options b;
                b.name = name;
                b.datapath_id = datapath_id;
                b.controllers = std::move(controllers);
                auto& lab = l.get();
                return nogil([&] { return lab.add_bridge(b); });
            },
            py::arg("name") = "br", py::arg("datapath_id") = py::none(),
            py::arg("controllers") = std::vector<std::string>{},
            "A netdev bridge '<prefix>-o<name>' (OpenFlow13, fail_mode secure); returns its name.")
        .def(
            "add_namespace_port",
            [](py_lab& l, const std::string& bridge, const std::string& name, const std::string& address,
               const std::string& mac, std::optional<std::uint32_t> ofport) {
                ovs::ns_port_options p;
                p.name = name;
                p.address = address;
                p.mac = mac;
                p.ofport = ofport;
                auto& lab = l.get();
                return to_python(ns_port_to_json(nogil([&] { return lab.add_namespace_port(bridge, p); })));
            },
            py::arg("bridge"), py::arg("name"), py::arg("address") = "", py::arg("mac") = "",
            py::arg("ofport") = py::none(),
            "A veth: one end on the bridge, the other in namespace '<prefix>-o<name>'; returns a dict (netns, "
            "ns_side, ovs_side, address, mac, ofport).")
        .def(
            "dump_flows",
            [](py_lab& l, const std::string& bridge) {
                auto& lab = l.get();
                auto flows = nogil([&] { return lab.dump_flows(bridge); });
                py::list out;
                for (auto& f : flows) out.append(to_python(flow_to_json(f)));
                return out;
            },
            py::arg("bridge"), "ovs-ofctl dump-flows as dicts (priority, match, match_fields, actions, n_packets...).")
        .def(
            "delete_bridge",
            [](py_lab& l, const std::string& bridge) {
                auto& lab = l.get();
                nogil([&] { return lab.delete_bridge(bridge); });
            },
            py::arg("bridge"))
        .def("down", [](py_lab& l) {
            if (!l.lab) return;
            auto r = [&] {
                py::gil_scoped_release release;
                auto result = l.lab->down();
                l.lab.reset();
                return result;
            }();
            unwrap(std::move(r));
        })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](py_lab& l, py::args) {
            py::gil_scoped_release release;
            if (l.lab) (void)l.lab->down();
            l.lab.reset();
        });
}

}  // namespace migrate::python
