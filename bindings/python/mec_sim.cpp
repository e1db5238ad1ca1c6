// The MEC platform emulator and its scenario model (mec/scenario.hpp, mec/emulator.hpp):
// MecScenario (load an AdvantEDGE scenario, list it, replay its mobility) and MecEmulator
// (serve the MEC013 Location API for it, force moves, change the time scale). The emulator
// runs on threads of its own; none of them calls into Python.
#include "common.hpp"

#include <migrate/mec/emulator.hpp>
#include <migrate/mec/scenario.hpp>

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
                              "Serves the MEC013 Location API (v2) for a scenario; see docs/mec-sim.md.")
        .def(py::init([](const mec::scenario& s, const std::string& address, std::uint16_t port, const std::string& base_path,
                         double time_scale, double step_s) {
                 mec::emulator_options o;
                 o.address = address;
                 o.port = port;
                 o.base_path = base_path;
                 o.time_scale = time_scale;
                 o.step_s = step_s;
                 return unwrap(mec::emulator::start(s, o));
             }),
             py::arg("scenario"), py::arg("address") = "127.0.0.1", py::arg("port") = 0, py::arg("base_path") = "",
             py::arg("time_scale") = 1.0, py::arg("step_s") = 1.0)
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
