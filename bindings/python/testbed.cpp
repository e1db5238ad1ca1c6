// Testbed and TestbedHost: the multi-host edge testbed (network namespaces, one dockerd
// each) as Python objects. Needs root, like the C++ API.
#include "common.hpp"

#include <migrate/testbed/testbed.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

namespace migrate::python {
namespace {

namespace fs = std::filesystem;
namespace tb = migrate::testbed;

const char* const default_state_root = "/run/migrate-testbed";

tb::host host_from(const tb::testbed& t, const py::handle& h) {
    if (py::isinstance<tb::host>(h)) return h.cast<tb::host>();
    return unwrap(t.find(h.cast<std::string>()));
}

std::unique_ptr<py_engine> engine_for(const tb::host& h) {
    docker::engine_options o;
    o.socket = h.socket;
    auto pe = std::make_unique<py_engine>();
    pe->engine = unwrap(docker::engine::make(std::move(o)));
    return pe;
}

}  // namespace

void bind_testbed(py::module_& m) {
    py::class_<tb::host>(m, "TestbedHost", "One edge host of a testbed: a network namespace with its own dockerd.")
        .def_readonly("name", &tb::host::name, "'a', 'b', ...")
        .def_readonly("netns", &tb::host::netns, "network namespace, e.g. 'mtb-a'")
        .def_readonly("address", &tb::host::address, "the host's IPv4 address, reachable from the root namespace")
        .def_property_readonly("socket", [](const tb::host& h) { return h.socket.string(); }, "dockerd's unix socket")
        .def_property_readonly("endpoint", &tb::host::endpoint, "'unix://' + socket")
        .def_property_readonly("data_root", [](const tb::host& h) { return h.data_root.string(); })
        .def_property_readonly("exec_root", [](const tb::host& h) { return h.exec_root.string(); })
        .def_property_readonly("work_dir", [](const tb::host& h) { return h.work_dir.string(); },
                               "scratch space for artifacts of this host")
        .def_readonly("dockerd_pid", &tb::host::dockerd_pid)
        .def_readonly("agent", &tb::host::agent, "its migrate-agent 'address:port'; '' = none")
        .def_readonly("agent_pid", &tb::host::agent_pid)
        .def_readonly("service_network", &tb::host::service_network,
                      "docker network to run migratable services on (not 'host': a CRIU dump locks the whole "
                      "host's network); '' on testbeds without one")
        .def_readonly("service_subnet", &tb::host::service_subnet)
        .def_readonly("service_gateway", &tb::host::service_gateway)
        .def("to_dict", [](const tb::host& h) { return to_python(json(h)); })
        .def("__eq__", [](const tb::host& a, const tb::host& b) { return json(a) == json(b); })
        .def("__repr__", [](const tb::host& h) {
            return fmt::format("<TestbedHost {} {} {}>", h.name, h.address, h.endpoint());
        });

    py::class_<tb::testbed>(m, "Testbed",
                            "A real multi-host edge testbed on this machine: N hosts (network namespaces a, b, ..., "
                            "each with its own dockerd) on a bridge in the root namespace (the client side). "
                            "Needs root. Testbed.up / open / down are static; down takes the name.")
        .def_static("up", [](const std::string& name, int hosts, const std::string& profile, bool replace,
                             const py::object& subnet, const fs::path& state_root, const fs::path& data_root,
                             int dockerd_start_timeout_ms, const py::object& log, const fs::path& agent_binary,
                             int agent_port) {
            json j = {{"name", name}, {"hosts", hosts}, {"profile", profile}, {"state_root", state_root.string()},
                      {"data_root", data_root.string()}, {"dockerd_start_timeout_ms", dockerd_start_timeout_ms},
                      {"agent_binary", agent_binary.string()}, {"agent_port", agent_port}};
            if (!subnet.is_none()) j["subnet"] = subnet.cast<std::string>();
            auto opts = unwrap(parse_options<tb::testbed_options>(j));
            python_callbacks cb;
            cb.log = &log;
            auto h = cb.make_hooks();
            return nogil([&] { return tb::testbed::up(opts, h, replace); });
        }, py::arg("name") = "mtb", py::arg("hosts") = 2, py::arg("profile") = "normal", py::arg("replace") = false,
           py::arg("subnet") = py::none(), py::arg("state_root") = default_state_root,
           py::arg("data_root") = "/var/lib/migrate-testbed", py::arg("dockerd_start_timeout_ms") = 30000,
           py::arg("log") = py::none(), py::arg("agent_binary") = "", py::arg("agent_port") = 7070,
           "Brings a testbed up (takes a few seconds). A testbed of that name already up raises "
           "MigrationError(already_exists) unless `replace`. `profile`: 'normal' or 'congested' (HTB 100 Mbit). "
           "`log` is an optional callable receiving progress lines. `agent_binary` (absolute path of "
           "migrate-agent) starts an agent in every host at `agent_port`.")
        .def_static("open", [](const std::string& name, const fs::path& state_root) {
            return nogil([&] { return tb::testbed::open(name, state_root); });
        }, py::arg("name"), py::arg("state_root") = default_state_root,
           "Attaches to a running testbed; MigrationError(not_found) when it is not up.")
        .def_static("down", [](const std::string& name, const fs::path& state_root, const py::object& log) {
            python_callbacks cb;
            cb.log = &log;
            auto h = cb.make_hooks();
            nogil([&] { return tb::testbed::down(name, state_root, h); });
        }, py::arg("name"), py::arg("state_root") = default_state_root, py::arg("log") = py::none(),
           "Tears a testbed down (daemons, containers, namespaces, links, directories). Not there is fine.")
        .def_property_readonly("name", [](const tb::testbed& t) { return t.options().name; })
        .def_property_readonly("hosts", [](const tb::testbed& t) { return t.hosts(); }, "list of TestbedHost")
        .def("find", [](const tb::testbed& t, const std::string& name) { return unwrap(t.find(name)); },
             py::arg("name"), "The host of that name; MigrationError(not_found) otherwise.")
        .def("engine", [](const tb::testbed& t, const py::object& host) { return engine_for(host_from(t, host)); },
             py::arg("host"), "A DockerEngine for a host (TestbedHost or its name).")
        .def("edge_host", [](const tb::testbed& t, const py::object& host) {
            auto h = host_from(t, host);
            return edge_host_for(h.name, h.address, h.socket, h.work_dir, h.agent);
        }, py::arg("host"),
           "An EdgeHost for a host (TestbedHost or its name): its name, address, an engine on its socket, its "
           "work dir and its agent, ready for a MigrationRequest.")
        .def_property_readonly("agent_token_file", [](const tb::testbed& t) { return t.agent_token_file().string(); },
                               "where the agents' shared token is kept (0600)")
        .def("agent_token", [](const tb::testbed& t) { return unwrap(t.agent_token()); },
             "The agents' shared token (for agent_transport); MigrationError when the testbed runs no agents.")
        .def_property_readonly("subnet", &tb::testbed::subnet, "the /24 this testbed uses")
        .def_property_readonly("client_address", &tb::testbed::client_address,
                               "the bridge's address in the root namespace: where clients (and probes) come from")
        .def_property_readonly("bridge", &tb::testbed::bridge)
        .def_property_readonly("profile", [](const tb::testbed& t) { return std::string(tb::to_string(t.profile())); })
        .def("set_profile", [](tb::testbed& t, const std::string& profile) {
            auto p = json_to<tb::link_profile>(json(profile));
            nogil([&] { return t.set_profile(p); });
        }, py::arg("profile"), "Switches every link to 'normal' or 'congested' while running.")
        .def("measure_throughput_mbps", [](tb::testbed& t, const py::object& host, std::uint64_t bytes) {
            auto h = host_from(t, host);
            return nogil([&] { return t.measure_throughput_mbps(h, bytes); });
        }, py::arg("host"), py::arg("bytes") = 64ull << 20,
           "Real TCP rate (Mbit/s) from the root namespace to the host (TestbedHost or name), sending `bytes`.")
        .def_property_readonly("measurements", [](const tb::testbed& t) {
            py::dict d;
            for (auto& [name, s] : t.measurements()) d[py::str(name)] = to_python(json(s));
            return d;
        }, "the last throughput sample per host name")
        .def_property_readonly("options", [](const tb::testbed& t) { return to_python(json(t.options())); })
        .def("status", [](const tb::testbed& t) {
            auto s = [&] {
                py::gil_scoped_release release;
                return t.status();
            }();
            return to_python(s);
        }, "What `migrate-testbed status` prints, as a dict (pings every daemon).")
        .def("__repr__", [](const tb::testbed& t) {
            return fmt::format("<Testbed {} {} hosts {} {}>", t.options().name, t.hosts().size(), t.subnet(),
                               tb::to_string(t.profile()));
        });
}

}  // namespace migrate::python
