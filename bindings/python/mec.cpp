// The ETSI MEC API clients (mec/location.hpp, mec/ams.hpp, mec/app_support.hpp):
// LocationClient, AmsClient, AppSupportClient, RnisClient, V2xClient, and the notification parsers a Python
// callback receiver needs. Results are dicts with snake_case keys; every call runs without
// the GIL and raises MigrationError naming method, URL, status / the field at fault.
#include "common.hpp"
#include "mec_common.hpp"

#include <migrate/mec/ams.hpp>
#include <migrate/mec/app_support.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/rnis.hpp>
#include <migrate/mec/v2x.hpp>

#include <fmt/format.h>
#include <pybind11/stl.h>

namespace migrate::python {

py::dict associate_py(const mec::associate_id& a) {
    py::dict d;
    d["type"] = a.type;
    d["value"] = a.value;
    return d;
}

mec::associate_id associate_from(const py::handle& o) {
    if (py::isinstance<py::str>(o)) return mec::associate_id{"UE_IPv4_ADDRESS", o.cast<std::string>()};
    json j = dict_to_json(o, "associate_id");
    mec::associate_id a;
    if (j.contains("type")) a.type = json_to<std::string>(j["type"]);
    if (!j.contains("value")) raise(make_failure(error::invalid_argument, "associate_id.value: missing"));
    a.value = json_to<std::string>(j["value"]);
    return a;
}

namespace {

mec::client_options options(const std::string& base_url, const std::string& sandbox, const std::string& token,
                            long long timeout_ms) {
    mec::client_options o;
    o.base_url = base_url;
    o.sandbox = sandbox;
    o.bearer_token = token;
    o.timeout = std::chrono::milliseconds(timeout_ms);
    unwrap(o.validate());
    return o;
}

#define MIGRATE_MEC_CLIENT_ARGS \
    py::arg("base_url"), py::arg("sandbox") = "", py::arg("bearer_token") = "", py::arg("timeout_ms") = 5000

py::object time_py(const std::optional<mec::time_stamp>& t) {
    if (!t) return py::none();
    return py::make_tuple(t->seconds, t->nanoseconds);
}

py::dict user_py(const mec::user_info& u) {
    py::dict d;
    d["address"] = u.address;
    d["access_point_id"] = u.access_point_id;
    d["zone_id"] = u.zone_id;
    d["resource_url"] = u.resource_url;
    d["timestamp"] = time_py(u.timestamp);
    d["latitude"] = u.latitude;
    d["longitude"] = u.longitude;
    return d;
}

py::dict zone_py(const mec::zone_info& z) {
    py::dict d;
    d["zone_id"] = z.zone_id;
    d["number_of_access_points"] = z.number_of_access_points;
    d["number_of_unserviceable_access_points"] = z.number_of_unserviceable_access_points;
    d["number_of_users"] = z.number_of_users;
    d["resource_url"] = z.resource_url;
    return d;
}

py::dict access_point_py(const mec::access_point_info& a) {
    py::dict d;
    d["access_point_id"] = a.access_point_id;
    d["connection_type"] = a.connection_type;
    d["operation_status"] = a.operation_status;
    d["number_of_users"] = a.number_of_users;
    d["resource_url"] = a.resource_url;
    d["latitude"] = a.latitude;
    d["longitude"] = a.longitude;
    return d;
}

std::vector<mec::user_event_type> events_from(const std::vector<std::string>& names) {
    std::vector<mec::user_event_type> out;
    for (auto& n : names) {
        bool ok = false;
        for (auto e : {mec::user_event_type::entering, mec::user_event_type::leaving, mec::user_event_type::transferring})
            if (n == mec::to_string(e)) { out.push_back(e); ok = true; }
        if (!ok) raise(make_failure(error::invalid_argument,
                                    fmt::format("user_event_criteria: '{}' is not Entering, Leaving or Transferring", n)));
    }
    return out;
}

std::vector<std::string> event_names(const std::vector<mec::user_event_type>& es) {
    std::vector<std::string> out;
    for (auto e : es) out.emplace_back(mec::to_string(e));
    return out;
}

py::dict zonal_sub_py(const mec::zonal_traffic_subscription& s) {
    py::dict d;
    d["callback_url"] = s.callback_url;
    d["zone_id"] = s.zone_id;
    d["user_event_criteria"] = event_names(s.user_event_criteria);
    d["client_correlator"] = s.client_correlator;
    d["resource_url"] = s.resource_url;
    return d;
}

py::dict tracking_sub_py(const mec::user_tracking_subscription& s) {
    py::dict d;
    d["callback_url"] = s.callback_url;
    d["address"] = s.address;
    d["user_event_criteria"] = event_names(s.user_event_criteria);
    d["client_correlator"] = s.client_correlator;
    d["resource_url"] = s.resource_url;
    return d;
}

py::dict registration_py(const mec::registration_info& r) {
    py::dict d;
    d["app_mobility_service_id"] = r.app_mobility_service_id;
    d["app_instance_id"] = r.app_instance_id;
    d["mep_id"] = r.mep_id;
    py::list devices;
    for (auto& dev : r.devices) {
        py::dict x = associate_py(dev.device);
        x["service_level"] = dev.service_level ? py::object(py::str(std::string(mec::to_string(*dev.service_level)))) : py::none();
        x["transfer_state"] = dev.transfer_state ? py::object(py::str(std::string(mec::to_string(*dev.transfer_state)))) : py::none();
        devices.append(x);
    }
    d["devices"] = devices;
    return d;
}

mec::context_transfer_state transfer_state_from(const std::string& s) {
    if (s == "NOT_TRANSFERRED") return mec::context_transfer_state::not_transferred;
    if (s == "USER_CONTEXT_TRANSFER_COMPLETED") return mec::context_transfer_state::user_context_transfer_completed;
    raise(make_failure(error::invalid_argument,
                       fmt::format("state: '{}' is not NOT_TRANSFERRED or USER_CONTEXT_TRANSFER_COMPLETED", s)));
}

py::dict endpoints_py(const mec::app_instance_endpoints& a) {
    py::dict d;
    d["app_instance_id"] = a.app_instance_id;
    py::list eps;
    for (auto& e : a.endpoints) eps.append(py::make_tuple(e.host, e.port));
    d["endpoints"] = eps;
    return d;
}

py::dict rule_py(const mec::traffic_rule& r) {
    py::dict d;
    d["id"] = r.id;
    d["filter_type"] = r.filter_type;
    d["priority"] = r.priority;
    d["action"] = r.action;
    d["state"] = std::string(mec::to_string(r.state));
    d["document"] = to_python(r.document);
    return d;
}

py::dict service_py(const mec::service_info& s) {
    py::dict d;
    d["ser_instance_id"] = s.ser_instance_id;
    d["ser_name"] = s.ser_name;
    d["state"] = s.state;
    d["version"] = s.version;
    d["uris"] = s.uris;
    py::list addrs;
    for (auto& e : s.addresses) addrs.append(py::make_tuple(e.host, e.port));
    d["addresses"] = addrs;
    return d;
}

template <class T, class F>
py::list list_py(const std::vector<T>& v, F f) {
    py::list out;
    for (auto& x : v) out.append(f(x));
    return out;
}

py::dict ecgi_py(const mec::ecgi& e) {
    py::dict d;
    d["cell_id"] = e.cell_id;
    d["mcc"] = e.mcc;
    d["mnc"] = e.mnc;
    return d;
}

py::dict rni_associate_py(const mec::rni_associate_id& a) {
    py::dict d;
    d["type"] = a.type;
    d["value"] = a.value;
    return d;
}

}  // namespace

void bind_mec(py::module_& m) {
    py::class_<mec::location_client>(m, "LocationClient", "ETSI MEC013 Location API client (v2 wrapped bodies, v3 unwrapped).")
        .def(py::init([](const std::string& base_url, const std::string& sandbox, const std::string& token,
                         long long timeout_ms, const std::string& flavour) {
                 if (flavour != "v2" && flavour != "v3")
                     raise(make_failure(error::invalid_argument, fmt::format("flavour: '{}' is not v2 or v3", flavour)));
                 return mec::location_client(options(base_url, sandbox, token, timeout_ms),
                                             flavour == "v2" ? mec::location_flavour::v2 : mec::location_flavour::v3);
             }),
             MIGRATE_MEC_CLIENT_ARGS, py::arg("flavour") = "v2")
        .def("users", [](mec::location_client& c, std::vector<std::string> zone_ids, std::vector<std::string> access_point_ids,
                         std::vector<std::string> addresses) {
                 auto us = nogil([&] { return c.users({zone_ids, access_point_ids, addresses}); });
                 return list_py(us, user_py);
             },
             py::arg("zone_ids") = std::vector<std::string>{}, py::arg("access_point_ids") = std::vector<std::string>{},
             py::arg("addresses") = std::vector<std::string>{})
        .def("user", [](mec::location_client& c, const std::string& a) { return user_py(nogil([&] { return c.user(a); })); },
             py::arg("address"))
        .def("zones", [](mec::location_client& c) { return list_py(nogil([&] { return c.zones(); }), zone_py); })
        .def("zone", [](mec::location_client& c, const std::string& z) { return zone_py(nogil([&] { return c.zone(z); })); },
             py::arg("zone_id"))
        .def("access_points", [](mec::location_client& c, const std::string& z) {
                 return list_py(nogil([&] { return c.access_points(z); }), access_point_py);
             }, py::arg("zone_id"))
        .def("subscribe_zonal_traffic", [](mec::location_client& c, const std::string& callback_url, const std::string& zone_id,
                                           const std::vector<std::string>& criteria, const std::string& correlator) {
                 mec::zonal_traffic_subscription s;
                 s.callback_url = callback_url;
                 s.zone_id = zone_id;
                 s.user_event_criteria = events_from(criteria);
                 s.client_correlator = correlator;
                 return zonal_sub_py(nogil([&] { return c.subscribe_zonal_traffic(s); }));
             },
             py::arg("callback_url"), py::arg("zone_id"),
             py::arg("user_event_criteria") = std::vector<std::string>{}, py::arg("client_correlator") = "")
        .def("subscribe_user_tracking", [](mec::location_client& c, const std::string& callback_url, const std::string& address,
                                           const std::vector<std::string>& criteria, const std::string& correlator) {
                 mec::user_tracking_subscription s;
                 s.callback_url = callback_url;
                 s.address = address;
                 s.user_event_criteria = events_from(criteria);
                 s.client_correlator = correlator;
                 return tracking_sub_py(nogil([&] { return c.subscribe_user_tracking(s); }));
             },
             py::arg("callback_url"), py::arg("address"),
             py::arg("user_event_criteria") = std::vector<std::string>{}, py::arg("client_correlator") = "")
        .def("unsubscribe_zonal_traffic", [](mec::location_client& c, const std::string& u) {
                 nogil([&] { return c.unsubscribe_zonal_traffic(u); });
             }, py::arg("resource_url"))
        .def("unsubscribe_user_tracking", [](mec::location_client& c, const std::string& u) {
                 nogil([&] { return c.unsubscribe_user_tracking(u); });
             }, py::arg("resource_url"));

    m.def("parse_zonal_presence_notification", [](const py::dict& body) {
        auto n = unwrap(mec::parse_zonal_presence_notification(dict_to_json(body, "body")));
        py::dict d;
        d["zone_id"] = n.zone_id;
        d["address"] = n.address;
        d["event"] = std::string(mec::to_string(n.event));
        d["current_access_point_id"] = n.current_access_point_id;
        d["previous_access_point_id"] = n.previous_access_point_id;
        d["timestamp"] = py::make_tuple(n.timestamp.seconds, n.timestamp.nanoseconds);
        d["client_correlator"] = n.client_correlator;
        d["links"] = n.links;
        return d;
    }, py::arg("body"), "A MEC013 ZonalPresenceNotification (v2 wrapped or v3) as a dict; MigrationError naming the field.");

    py::class_<mec::ams_client>(m, "AmsClient", "ETSI MEC021 Application Mobility Service client.")
        .def(py::init([](const std::string& base_url, const std::string& sandbox, const std::string& token, long long timeout_ms) {
                 return mec::ams_client(options(base_url, sandbox, token, timeout_ms));
             }),
             MIGRATE_MEC_CLIENT_ARGS)
        .def("register_app", [](mec::ams_client& c, const std::string& app_instance_id, const std::vector<py::dict>& devices) {
                 mec::registration_info r;
                 r.app_instance_id = app_instance_id;
                 for (auto& d : devices)
                     r.devices.push_back({associate_from(d), std::nullopt, mec::context_transfer_state::not_transferred});
                 return registration_py(nogil([&] { return c.register_app(r); }));
             }, py::arg("app_instance_id"), py::arg("devices"),
             "devices: [{'type': 'UE_IPv4_ADDRESS', 'value': '10.100.0.1'}], registered NOT_TRANSFERRED.")
        .def("registration", [](mec::ams_client& c, const std::string& id) {
                 return registration_py(nogil([&] { return c.registration(id); }));
             }, py::arg("app_mobility_service_id"))
        .def("deregister", [](mec::ams_client& c, const std::string& id) { nogil([&] { return c.deregister(id); }); },
             py::arg("app_mobility_service_id"))
        .def("set_context_transfer_state", [](mec::ams_client& c, const std::string& id, const py::dict& device,
                                              const std::string& state) {
                 auto a = associate_from(device);
                 auto s = transfer_state_from(state);
                 return registration_py(nogil([&] { return c.set_context_transfer_state(id, a, s); }));
             }, py::arg("app_mobility_service_id"), py::arg("device"), py::arg("state"))
        .def("subscribe_mobility_procedure", [](mec::ams_client& c, const std::string& callback_url,
                                                const std::string& app_instance_id, const std::vector<py::dict>& devices) {
                 mec::mobility_procedure_subscription s;
                 s.callback_url = callback_url;
                 s.app_instance_id = app_instance_id;
                 for (auto& d : devices) s.devices.push_back(associate_from(d));
                 auto r = nogil([&] { return c.subscribe_mobility_procedure(s); });
                 py::dict d;
                 d["callback_url"] = r.callback_url;
                 d["app_instance_id"] = r.app_instance_id;
                 d["self_url"] = r.self_url;
                 return d;
             }, py::arg("callback_url"), py::arg("app_instance_id") = "",
             py::arg("devices") = std::vector<py::dict>{})
        .def("unsubscribe", [](mec::ams_client& c, const std::string& u) { nogil([&] { return c.unsubscribe(u); }); },
             py::arg("self_url"));

    m.def("parse_mobility_procedure_notification", [](const py::dict& body) {
        auto n = unwrap(mec::parse_mobility_procedure_notification(dict_to_json(body, "body")));
        py::dict d;
        d["status"] = std::string(mec::to_string(n.status));
        d["devices"] = list_py(n.devices, associate_py);
        d["target"] = n.target ? py::object(endpoints_py(*n.target)) : py::none();
        d["timestamp"] = time_py(n.timestamp);
        d["subscription_url"] = n.subscription_url;
        return d;
    }, py::arg("body"), "A MEC021 MobilityProcedureNotification as a dict; MigrationError naming the field.");

    py::class_<mec::app_support_client>(m, "AppSupportClient", "ETSI MEC011 app support + service registry for one app instance.")
        .def(py::init([](const std::string& app_instance_id, const std::string& base_url, const std::string& sandbox,
                         const std::string& token, long long timeout_ms) {
                 return mec::app_support_client(options(base_url, sandbox, token, timeout_ms), app_instance_id);
             }),
             py::arg("app_instance_id"), MIGRATE_MEC_CLIENT_ARGS)
        .def("confirm_ready", [](mec::app_support_client& c) { nogil([&] { return c.confirm_ready(); }); })
        .def("confirm_termination", [](mec::app_support_client& c) { nogil([&] { return c.confirm_termination(); }); })
        .def("service", [](mec::app_support_client& c, const std::string& name) {
                 return service_py(nogil([&] { return c.service(name); }));
             }, py::arg("ser_name"))
        .def("traffic_rules", [](mec::app_support_client& c) { return list_py(nogil([&] { return c.traffic_rules(); }), rule_py); })
        .def("set_traffic_rule_state", [](mec::app_support_client& c, const std::string& rule_id, const std::string& state) {
                 if (state != "ACTIVE" && state != "INACTIVE")
                     raise(make_failure(error::invalid_argument, fmt::format("state: '{}' is not ACTIVE or INACTIVE", state)));
                 auto s = state == "ACTIVE" ? mec::traffic_rule_state::active : mec::traffic_rule_state::inactive;
                 return rule_py(nogil([&] { return c.set_traffic_rule_state(rule_id, s); }));
             }, py::arg("rule_id"), py::arg("state"),
             "GET the rule, PUT it back with `state`; MigrationError(unsupported) on a platform answering 501 (AdvantEDGE).");

    py::class_<mec::rnis_client>(m, "RnisClient", "ETSI MEC012 Radio Network Information client (rab_info, cell change).")
        .def(py::init([](const std::string& base_url, const std::string& sandbox, const std::string& token, long long timeout_ms) {
                 return mec::rnis_client(options(base_url, sandbox, token, timeout_ms));
             }),
             MIGRATE_MEC_CLIENT_ARGS)
        .def("subscribe_cell_change", [](mec::rnis_client& c, const std::string& callback_url, const std::string& app_instance_id,
                                         const std::vector<std::string>& addresses, const std::vector<int>& ho_statuses) {
                 mec::cell_change_subscription s;
                 s.callback_url = callback_url;
                 s.app_instance_id = app_instance_id;
                 for (auto& a : addresses) s.devices.push_back({1, a});
                 for (int h : ho_statuses) {
                     if (h < 1 || h > 5) raise(make_failure(error::invalid_argument, fmt::format("ho_statuses: {} is not 1..5", h)));
                     s.statuses.push_back(static_cast<mec::ho_status>(h));
                 }
                 auto r = nogil([&] { return c.subscribe_cell_change(s); });
                 py::dict d;
                 d["callback_url"] = r.callback_url;
                 d["self_url"] = r.self_url;
                 return d;
             }, py::arg("callback_url"), py::arg("app_instance_id") = "", py::arg("addresses") = std::vector<std::string>{},
             py::arg("ho_statuses") = std::vector<int>{}, "addresses: UE IPv4 addresses (AssociateId type 1).")
        .def("unsubscribe", [](mec::rnis_client& c, const std::string& u) { nogil([&] { return c.unsubscribe(u); }); },
             py::arg("self_url"));

    m.def("parse_cell_change_notification", [](const py::dict& body) {
        auto n = unwrap(mec::parse_cell_change_notification(dict_to_json(body, "body")));
        py::dict d;
        d["status"] = std::string(mec::to_string(n.status));
        d["devices"] = list_py(n.devices, rni_associate_py);
        d["source"] = ecgi_py(n.source);
        d["targets"] = list_py(n.targets, ecgi_py);
        d["timestamp"] = time_py(n.timestamp);
        return d;
    }, py::arg("body"), "A MEC012 CellChangeNotification as a dict (status IN_PREPARATION ... CANCELLED).");

    py::class_<mec::v2x_client>(m, "V2xClient",
                                "ETSI MEC030 V2X Information Service client: predicted QoS along a vehicle's routes. "
                                "flavour 'etsi' (vis/v1, routeinfo) or 'advantedge' (vis/v2, routeInfo).")
        .def(py::init([](const std::string& base_url, const std::string& sandbox, const std::string& token,
                         long long timeout_ms, const std::string& flavour) {
                 if (flavour != "etsi" && flavour != "advantedge")
                     raise(make_failure(error::invalid_argument,
                                        fmt::format("V2xClient.flavour: '{}' must be 'etsi' or 'advantedge'", flavour)));
                 return mec::v2x_client(options(base_url, sandbox, token, timeout_ms),
                                        flavour == "etsi" ? mec::v2x_flavour::etsi : mec::v2x_flavour::advantedge);
             }),
             MIGRATE_MEC_CLIENT_ARGS, py::arg("flavour") = "etsi")
        .def("provide_predicted_qos",
             [](mec::v2x_client& c, const std::vector<std::vector<py::dict>>& routes, const std::string& location_granularity,
                py::object time_granularity_s) {
                 // Points in, points out: {latitude, longitude, cell {cell_id, mcc, mnc}, time (s, ns)}.
                 mec::predicted_qos q;
                 q.location_granularity = location_granularity;
                 if (!time_granularity_s.is_none()) q.time_granularity = mec::time_stamp{time_granularity_s.cast<std::int64_t>(), 0};
                 for (std::size_t i = 0; i < routes.size(); ++i) {
                     std::vector<mec::route_point> points;
                     for (std::size_t k = 0; k < routes[i].size(); ++k) {
                         json j = dict_to_json(routes[i][k], "route point");
                         auto where = fmt::format("routes[{}][{}]", i, k);
                         mec::route_point p;
                         try {
                             if (j.contains("latitude")) p.latitude = j.at("latitude").get<double>();
                             if (j.contains("longitude")) p.longitude = j.at("longitude").get<double>();
                             if (j.contains("cell"))
                                 p.cell = mec::ecgi{j["cell"].at("cell_id").get<std::string>(), j["cell"].at("mcc").get<std::string>(),
                                                    j["cell"].at("mnc").get<std::string>()};
                             if (j.contains("time"))
                                 p.time = mec::time_stamp{j["time"].at(0).get<std::int64_t>(), j["time"].at(1).get<std::int64_t>()};
                         } catch (const json::exception& e) {
                             raise(make_failure(error::invalid_argument, fmt::format("{}: {}", where, e.what())));
                         }
                         points.push_back(std::move(p));
                     }
                     q.routes.push_back(std::move(points));
                 }
                 auto answer = nogil([&] { return c.provide_predicted_qos(q); });
                 py::list out;
                 for (auto& route : answer.routes) {
                     py::list points;
                     for (auto& p : route) {
                         py::dict d;
                         d["latitude"] = p.latitude ? py::object(py::float_(*p.latitude)) : py::none();
                         d["longitude"] = p.longitude ? py::object(py::float_(*p.longitude)) : py::none();
                         d["cell"] = p.cell ? py::object(ecgi_py(*p.cell)) : py::none();
                         d["time"] = time_py(p.time);
                         d["rsrp"] = p.rsrp ? py::object(py::int_(*p.rsrp)) : py::none();
                         d["rsrq"] = p.rsrq ? py::object(py::int_(*p.rsrq)) : py::none();
                         points.append(d);
                     }
                     out.append(points);
                 }
                 return out;
             },
             py::arg("routes"), py::arg("location_granularity") = "30", py::arg("time_granularity_s") = py::none(),
             "routes: [[{'latitude', 'longitude', 'cell': {'cell_id', 'mcc', 'mnc'}, 'time': (s, ns)}, ...], ...]; "
             "the same points with the platform's predicted 'rsrp' and 'rsrq'.");
}

}  // namespace migrate::python
