// The MEC triggers (trigger/mec_location.hpp, trigger/mec_rnis.hpp, trigger/mec_ams.hpp):
// MecLocationTrigger, MecRnisTrigger, MecAmsTrigger. Each takes its options as a dict (the
// C++ options' JSON: platform {base_url, sandbox, bearer_token, timeout_ms}, the host maps,
// receiver {address, port, advertised_url, path_prefix, renew_before_s, retry_after_ms}), starts
// with a Python callback that gets each decision as a dict on the receiver's thread (GIL taken;
// its exceptions are counted in `callback_errors`), and can drive a FollowMe.
#include "common.hpp"

#include <migrate/trigger/mec_ams.hpp>
#include <migrate/trigger/mec_location.hpp>
#include <migrate/trigger/mec_rnis.hpp>

#include <pybind11/stl.h>

#include <fmt/format.h>

namespace migrate::python {
namespace {

/// A MEC trigger as Python holds it; dropped with the GIL released, as stopping waits for a
/// decision in delivery, which may wait for the GIL.
template <class T>
struct py_mec_trigger {
    std::shared_ptr<T> trigger;
    std::shared_ptr<callback_errors> errors = std::make_shared<callback_errors>();
    ~py_mec_trigger() {
        py::gil_scoped_release release;
        trigger.reset();
    }
};

py::object subscriptions_to_python(const mec::notification_receiver& rx) {
    std::vector<mec::subscription_status> all;
    {
        py::gil_scoped_release release;
        all = rx.subscriptions();
    }
    py::list out;
    for (auto& s : all) {
        json j{{"id", s.id}, {"name", s.name}, {"callback_url", s.callback_url}, {"resource_url", s.resource_url},
               {"renewals", s.renewals}, {"notifications", s.notifications}, {"rejected", s.rejected},
               {"last_error", s.last_error}};
        if (s.expires)
            j["expires_unix_s"] = std::chrono::duration<double>(s.expires->time_since_epoch()).count();
        out.append(to_python(j));
    }
    return out;
}

template <class T, class Options>
void bind_one(py::module_& m, const char* name, const char* doc, py::dict (*stats)(const typename T::counters&)) {
    using holder = py_mec_trigger<T>;
    py::class_<holder>(m, name, doc)
        .def(py::init([name](const py::object& options) {
                 auto o = unwrap(parse_options<Options>(dict_to_json(options, name)));
                 auto h = std::make_unique<holder>();
                 h->trigger = nogil([&] { return T::make(std::move(o)); });
                 return h;
             }),
             py::arg("options"))
        .def("start",
             [name](holder& t, py::object callback) {
                 auto fn = share(std::move(callback));
                 auto errors = t.errors;
                 std::string what = fmt::format("{} callback", name);
                 nogil([&] {
                     return t.trigger->start([fn, errors, what](const migration_decision& d) {
                         py::gil_scoped_acquire gil;
                         try {
                             (*fn)(to_python(json(d)));
                         } catch (py::error_already_set& e) {
                             errors->record(e, what.c_str());
                         }
                     });
                 });
             },
             py::arg("callback"), "Subscribes (and asks where the UEs are); returns once subscribed.")
        .def("stop",
             [](holder& t) {
                 py::gil_scoped_release release;
                 t.trigger->stop();
             },
             "Deletes the subscriptions; no callback runs once it returns.")
        // These take the trigger's lock, which a decision in delivery holds while it waits for
        // the GIL: asked without the GIL.
        .def("host_of",
             [](holder& t, const std::string& ue) -> py::object {
                 std::optional<std::string> h;
                 {
                     py::gil_scoped_release release;
                     h = t.trigger->host_of(ue);
                 }
                 return h ? py::object(py::str(*h)) : py::object(py::none());
             },
             py::arg("ue"), "The edge host the trigger believes serves `ue` now, or None.")
        .def("stats",
             [stats](holder& t) {
                 typename T::counters c;
                 {
                     py::gil_scoped_release release;
                     c = t.trigger->stats();
                 }
                 return stats(c);
             })
        .def("subscriptions", [](holder& t) { return subscriptions_to_python(*t.trigger->receiver()); },
             "The receiver's subscriptions: id, name, callback_url, resource_url, renewals, notifications, ...")
        .def_property_readonly("callback_base", [](holder& t) { return t.trigger->receiver()->callback_base(); },
                               "What the platform is told to POST to (advertised_url + path_prefix).")
        .def_property_readonly("callback_errors", [](holder& t) { return t.errors->total(); })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](holder& t, const py::args&) {
            py::gil_scoped_release release;
            t.trigger->stop();
        });
}

py::dict location_stats(const mec_location_trigger::counters& c) {
    py::dict d;
    d["notifications"] = c.notifications;
    d["decisions"] = c.decisions;
    d["ignored"] = c.ignored;
    return d;
}

py::dict rnis_stats(const mec_rnis_trigger::counters& c) {
    py::dict d;
    d["notifications"] = c.notifications;
    d["decisions"] = c.decisions;
    d["early"] = c.early;
    d["confirmed"] = c.confirmed;
    d["undone"] = c.undone;
    d["ignored"] = c.ignored;
    return d;
}

py::dict ams_stats(const mec_ams_trigger::counters& c) {
    py::dict d;
    d["notifications"] = c.notifications;
    d["decisions"] = c.decisions;
    d["completed"] = c.completed;
    d["failed"] = c.failed;
    d["ignored"] = c.ignored;
    return d;
}

}  // namespace

trigger* mec_trigger_of(const py::handle& o) {
    if (py::isinstance<py_mec_trigger<mec_location_trigger>>(o)) return o.cast<py_mec_trigger<mec_location_trigger>&>().trigger.get();
    if (py::isinstance<py_mec_trigger<mec_rnis_trigger>>(o)) return o.cast<py_mec_trigger<mec_rnis_trigger>&>().trigger.get();
    if (py::isinstance<py_mec_trigger<mec_ams_trigger>>(o)) return o.cast<py_mec_trigger<mec_ams_trigger>&>().trigger.get();
    return nullptr;
}

void bind_mec_triggers(py::module_& m) {
    bind_one<mec_location_trigger, mec_location_trigger_options>(
        m, "MecLocationTrigger",
        "Decides moves from MEC013 Location notifications (docs/mec.md, Triggers): a UE whose zone / access point "
        "maps to another edge host. Options: platform {base_url, sandbox, bearer_token, timeout_ms}, flavour "
        "('v2'|'v3'), watch ('zonal_traffic'|'user_tracking'), zones, users, zone_hosts {zone: host}, "
        "access_point_hosts {ap: host}, duration_s, receiver {address, port, advertised_url, path_prefix, "
        "renew_before_s, retry_after_ms}.",
        &location_stats);
    bind_one<mec_rnis_trigger, mec_rnis_trigger_options>(
        m, "MecRnisTrigger",
        "Decides moves from MEC012 cell change notifications: the first status of a handover to another host's cell "
        "decides (IN_PREPARATION = early warning), later ones confirm; CANCELLED/REJECTED after an early decision "
        "moves back. Options: platform, app_instance_id, devices, cells, cell_hosts {cellId: host}, lifetime_s, "
        "initial_query, receiver.",
        &rnis_stats);
    bind_one<mec_ams_trigger, mec_ams_trigger_options>(
        m, "MecAmsTrigger",
        "Decides moves from MEC021 INTERHOST_MOVEOUT_TRIGGERED notifications: to the host of targetAppInfo's app "
        "instance. Options: platform, app_instance_id (the source instance), devices, app_instance_hosts "
        "{appInstanceId: host}, lifetime_s, register_devices (register app_instance_id with the devices at start, "
        "deregister at stop), receiver.",
        &ams_stats);
}

}  // namespace migrate::python
