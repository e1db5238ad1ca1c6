// The MEC platform emulator and its scenario model (mec/scenario.hpp, mec/emulator.hpp):
// MecScenario (load an AdvantEDGE scenario, list it, replay its mobility) and MecEmulator
// (serve MEC013 Location, MEC011 app support / service registry / traffic rules, MEC021 AMS
// and MEC012 RNIS for it, force moves, change the time scale, declare app instances and read
// their traffic rule states). The emulator runs on threads of its own; none of them calls
// into Python.
#include "common.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/mec/scenario.hpp>

#include <fmt/format.h>

#include <pybind11/stl.h>

namespace migrate::python {
namespace {

py::dict state_dict(const mec::ue_state& s) {
    py::dict d;
    d["ue"] = s.ue;
    d["access_point"] = s.access_point;
    d["zone"] = s.zone;
    d["longitude"] = s.position.longitude;
    d["latitude"] = s.position.latitude;
    return d;
}

/// {"id", "edge_host", "app_name"?, "traffic_rules"?: [TrafficRule dict], "endpoints"?: [(host, port)]}.
/// A rule dict needs "trafficRuleId"; the emulator fills the spec's other required fields.
mec::app_instance app_instance_of(const py::handle& o) {
    json j = dict_to_json(o, "app instance");
    mec::app_instance a;
    try {
        a.id = j.at("id").get<std::string>();
        a.edge_host = j.at("edge_host").get<std::string>();
        a.app_name = j.value("app_name", "");
        for (auto& r : j.value("traffic_rules", json::array())) {
            mec::traffic_rule rule;
            rule.id = r.at("trafficRuleId").get<std::string>();
            rule.filter_type = r.value("filterType", "");
            rule.priority = r.value("priority", std::int64_t{0});
            rule.action = r.value("action", "");
            rule.state = r.value("state", "ACTIVE") == "INACTIVE" ? mec::traffic_rule_state::inactive : mec::traffic_rule_state::active;
            rule.document = r;
            a.traffic_rules.push_back(std::move(rule));
        }
        for (auto& e : j.value("endpoints", json::array())) a.endpoints.push_back({e.at(0).get<std::string>(), e.at(1).get<std::int64_t>()});
    } catch (const json::exception& e) {
        throw migration_error(make_failure(error::invalid_argument, fmt::format("app instance {}: {}", j.dump(), e.what())));
    }
    return a;
}

py::list rules_list(const std::vector<mec::traffic_rule>& rules) {
    py::list out;
    for (auto& r : rules) out.append(to_python(mec::to_json(r)));
    return out;
}

py::dict app_status_dict(const mec::app_instance_status& s) {
    py::dict d;
    d["id"] = s.declared.id;
    d["edge_host"] = s.declared.edge_host;
    d["app_name"] = s.declared.app_name;
    d["ready"] = s.ready;
    d["termination_confirmed"] = s.termination_confirmed;
    d["traffic_rules"] = rules_list(s.declared.traffic_rules);
    py::list eps;
    for (auto& e : s.declared.endpoints) eps.append(py::make_tuple(e.host, e.port));
    d["endpoints"] = eps;
    return d;
}

}  // namespace

void bind_mec_sim(py::module_& m) {
    py::class_<mec::scenario>(m, "MecScenario",
                              "An ETSI MEC Sandbox (AdvantEDGE) scenario: zones, access points, edge hosts, moving UEs.")
        .def_static("load", [](const std::string& path) { return unwrap(mec::scenario::load(path)); }, py::arg("path"),
                    "Reads an AdvantEDGE scenario JSON; ValueError naming the field when malformed.")
        .def_property_readonly("name", &mec::scenario::name)
        .def_property_readonly("zones", [](const mec::scenario& s) {
            py::list out;
            for (auto& z : s.zones()) {
                py::dict d;
                d["name"] = z.name;
                d["access_points"] = z.access_points;
                d["edge_hosts"] = z.edge_hosts;
                out.append(d);
            }
            return out;
        })
        .def_property_readonly("access_points", [](const mec::scenario& s) {
            py::list out;
            for (auto& a : s.access_points()) {
                py::dict d;
                d["name"] = a.name;
                d["zone"] = a.zone;
                d["type"] = std::string(mec::to_string(a.type));
                d["longitude"] = a.position.longitude;
                d["latitude"] = a.position.latitude;
                d["radius_m"] = a.radius_m;
                out.append(d);
            }
            return out;
        })
        .def_property_readonly("ues", [](const mec::scenario& s) {
            py::list out;
            for (auto& u : s.ues()) {
                py::dict d;
                d["name"] = u.name;
                d["moving"] = u.moving();
                d["velocity_mps"] = u.velocity_mps;
                d["eop"] = u.eop == mec::end_of_path::loop ? "LOOP" : "REVERSE";
                d["path_length_m"] = u.path_length_m();
                out.append(d);
            }
            return out;
        })
        .def(
            "replay",
            [](const mec::scenario& s, double until_s, double step_s) {
                mec::tracker t(s);
                py::list out;
                for (auto& c : t.advance(until_s, step_s)) {
                    py::dict d;
                    d["t"] = c.t_s;
                    d["ue"] = c.after.ue;
                    d["from_access_point"] = c.before.access_point;
                    d["to_access_point"] = c.after.access_point;
                    d["from_zone"] = c.before.zone;
                    d["to_zone"] = c.after.zone;
                    out.append(d);
                }
                return out;
            },
            py::arg("until_s"), py::arg("step_s") = 1.0,
            "Every access point / zone change of every UE from 0 to until_s scenario seconds, in time order.");

    py::class_<mec::emulator>(m, "MecEmulator",
                              "Serves MEC013 Location v2, MEC011, MEC021 AMS and MEC012 RNIS for a scenario; see docs/mec-sim.md.")
        .def(py::init([](const mec::scenario& s, const std::string& address, std::uint16_t port, const std::string& base_path,
                         double time_scale, double step_s, const py::list& app_instances, bool serve_traffic_rules) {
                 mec::emulator_options o;
                 o.address = address;
                 o.port = port;
                 o.base_path = base_path;
                 o.time_scale = time_scale;
                 o.step_s = step_s;
                 for (auto a : app_instances) o.app_instances.push_back(app_instance_of(a));
                 o.serve_traffic_rules = serve_traffic_rules;
                 return unwrap(mec::emulator::start(s, o));
             }),
             py::arg("scenario"), py::arg("address") = "127.0.0.1", py::arg("port") = 0, py::arg("base_path") = "",
             py::arg("time_scale") = 1.0, py::arg("step_s") = 1.0, py::arg("app_instances") = py::list(),
             py::arg("serve_traffic_rules") = true,
             "app_instances: [{'id', 'edge_host', 'app_name'?, 'traffic_rules'?: [TrafficRule dict], 'endpoints'?: [(host, port)]}];\n"
             "serve_traffic_rules=False answers 501 to the MEC011 traffic_rules routes, as AdvantEDGE does.")
        .def_property_readonly("url", &mec::emulator::url)
        .def_property_readonly("port", &mec::emulator::port)
        .def("now", &mec::emulator::now, "Scenario seconds since start.")
        .def("set_time_scale", [](mec::emulator& e, double scale) { unwrap(e.set_time_scale(scale)); }, py::arg("scale"))
        .def(
            "force",
            [](mec::emulator& e, const std::string& ue, const std::string& access_point) {
                return state_dict(unwrap(e.force(ue, access_point)));
            },
            py::arg("ue"), py::arg("access_point"), "Pins the UE to the access point (\"\" releases it) and notifies.")
        .def("add_app_instance", [](mec::emulator& e, const py::dict& a) { unwrap(e.add_app_instance(app_instance_of(a))); },
             py::arg("app_instance"), "Declares another app instance (same dict as in the constructor).")
        .def("app_instances", [](const mec::emulator& e) {
            py::list out;
            for (auto& a : e.app_instances()) out.append(app_status_dict(a));
            return out;
        }, "Every app instance: id, edge_host, app_name, ready, termination_confirmed, traffic_rules (as now), endpoints.")
        .def("traffic_rules", [](const mec::emulator& e, const std::string& app_instance) {
            return rules_list(unwrap(e.traffic_rules(app_instance)));
        }, py::arg("app_instance"), "The app instance's TrafficRule documents as they are now (after PUTs).")
        .def("terminate", [](mec::emulator& e, const std::string& app_instance, const std::string& action, std::int64_t timeout) {
            if (action != "TERMINATING" && action != "STOPPING")
                throw migration_error(make_failure(error::invalid_argument, fmt::format("action '{}': TERMINATING or STOPPING", action)));
            unwrap(e.terminate(app_instance, action == "STOPPING" ? mec::operation_action::stopping : mec::operation_action::terminating, timeout));
        }, py::arg("app_instance"), py::arg("action") = "TERMINATING", py::arg("max_graceful_timeout_s") = 10,
           "POSTs an AppTerminationNotification to the app instance's MEC011 subscribers.")
        .def("states", [](const mec::emulator& e) {
            py::list out;
            for (auto& s : e.states()) out.append(state_dict(s));
            return out;
        })
        .def_property_readonly("notifications_sent", &mec::emulator::notifications_sent)
        .def_property_readonly("notifications_failed", &mec::emulator::notifications_failed)
        .def("stop", [](mec::emulator& e) { py::gil_scoped_release release; e.stop(); })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](mec::emulator& e, const py::args&) {
            py::gil_scoped_release release;
            e.stop();
        });
}

}  // namespace migrate::python
