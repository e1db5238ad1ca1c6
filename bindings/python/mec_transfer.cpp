// The user-context transfer (strategy/user_context_transfer.hpp) and its receiving endpoint
// (mec/user_context_endpoint.hpp): UserContextTransfer runs the MEC021 demo3 sequence at the
// source; UserContextEndpoint receives contexts at the target. Options are dicts in the C++
// options' JSON. The endpoint's on_context runs on the server's thread with the GIL taken;
// transfer() releases the GIL while it runs, so that an endpoint in the same process can
// answer it; its export/release callbacks take the GIL again.
#include "common.hpp"
#include "mec_common.hpp"

#include <migrate/mec/user_context_endpoint.hpp>
#include <migrate/strategy/user_context_transfer.hpp>

#include <fmt/format.h>
#include <pybind11/stl.h>

namespace migrate::python {
namespace {

/// A Python exception from an app callback becomes the SDK's failure, naming the callback.
failure callback_failure(py::error_already_set& e, const char* what) {
    return make_failure(error::internal, fmt::format("{} raised {}", what, e.what()));
}

struct py_endpoint {
    std::unique_ptr<mec::user_context_endpoint> endpoint;
    void stop() {
        py::gil_scoped_release release;   // a running on_context may be waiting for the GIL
        if (endpoint) endpoint->stop();
    }
};

}  // namespace

void bind_mec_transfer(py::module_& m) {
    py::class_<py_endpoint, std::unique_ptr<py_endpoint, release_gil_delete>>(
        m, "UserContextEndpoint",
        "The target side of a user-context transfer (docs/mec.md): serves PUT <url>/users/<device> and offers "
        "itself in the MEC011 service registry as service_name_prefix + app_instance_id. on_context(device, "
        "context, source_app_instance_id) stores the user's context (device: {'type', 'value'}); raising "
        "refuses it (the sender keeps it). Options: platform {base_url, sandbox, bearer_token, timeout_ms}, "
        "app_instance_id, service_name_prefix, listen_address, port, advertised_url, register_service.")
        .def(py::init([](const py::dict& options, py::object on_context) {
                 auto o = json_to<mec::user_context_endpoint_options>(dict_to_json(options, "options"));
                 auto fn = share(std::move(on_context));
                 auto handler = [fn](const mec::associate_id& d, const json& ctx, const std::string& src) -> result<void> {
                     py::gil_scoped_acquire gil;
                     try {
                         (*fn)(associate_py(d), to_python(ctx), src);
                         return {};
                     } catch (py::error_already_set& e) {
                         return callback_failure(e, "on_context");
                     }
                 };
                 auto p = std::unique_ptr<py_endpoint, release_gil_delete>(new py_endpoint);
                 p->endpoint = nogil([&] { return mec::user_context_endpoint::start(o, handler); });
                 return p;
             }),
             py::arg("options"), py::arg("on_context"))
        .def_property_readonly("url", [](const py_endpoint& e) { return e.endpoint->url(); },
                               "What the registry says: http://ADDRESS:PORT/user-context")
        .def_property_readonly("service_instance_id", [](const py_endpoint& e) { return e.endpoint->service_instance_id(); })
        .def_property_readonly("received", [](const py_endpoint& e) { return e.endpoint->received(); },
                               "contexts accepted so far")
        .def("stop", &py_endpoint::stop, "Withdraws the service from the registry and stops serving. Idempotent.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](py_endpoint& e, py::args) { e.stop(); });

    py::class_<user_context_transfer, std::unique_ptr<user_context_transfer, release_gil_delete>>(
        m, "UserContextTransfer",
        "The source side of a user-context transfer (MEC021, AdvantEDGE demo3): registry lookup of the target's "
        "endpoint, export_context(device) -> JSON-able, PUT to the target, the AMS registration marked "
        "USER_CONTEXT_TRANSFER_COMPLETED, then release_context(device). Failures come back in the "
        "MigrationReport (success False, error, rolled_back True when nothing moved). Options: platform, "
        "app_instance_id, app_mobility_service_id, service_name_prefix, transfer_timeout_ms.")
        .def(py::init([](const py::dict& options, py::object export_context, py::object release_context) {
                 auto o = json_to<user_context_transfer_options>(dict_to_json(options, "options"));
                 user_context_callbacks app;
                 auto ex = share(std::move(export_context));
                 app.export_context = [ex](const mec::associate_id& d) -> result<json> {
                     py::gil_scoped_acquire gil;
                     try {
                         return from_python((*ex)(associate_py(d)), "export_context's answer");
                     } catch (py::error_already_set& e) {
                         return callback_failure(e, "export_context");
                     } catch (const migration_error& e) {
                         return e.details();
                     }
                 };
                 if (!release_context.is_none()) {
                     auto rel = share(std::move(release_context));
                     app.release_context = [rel](const mec::associate_id& d) -> result<void> {
                         py::gil_scoped_acquire gil;
                         try {
                             (*rel)(associate_py(d));
                             return {};
                         } catch (py::error_already_set& e) {
                             return callback_failure(e, "release_context");
                         }
                     };
                 }
                 return std::unique_ptr<user_context_transfer, release_gil_delete>(
                     unwrap(user_context_transfer::create(o, std::move(app))).release());
             }),
             py::arg("options"), py::arg("export_context"), py::arg("release_context") = py::none())
        .def("transfer",
             [](user_context_transfer& t, const py::handle& device, const std::string& target) {
                 auto d = associate_from(device);
                 py::gil_scoped_release release;
                 return t.transfer(d, target);
             },
             py::arg("device"), py::arg("target_app_instance_id"),
             "device: '10.100.0.1' or {'type': 'UE_IPv4_ADDRESS', 'value': ...}. A MigrationReport.")
        .def("on_notification",
             [](user_context_transfer& t, const py::dict& body) {
                 auto n = unwrap(mec::parse_mobility_procedure_notification(dict_to_json(body, "notification")));
                 py::gil_scoped_release release;
                 return t.on_notification(n);
             },
             py::arg("body"),
             "A MobilityProcedureNotification's JSON body: one MigrationReport per device when "
             "INTERHOST_MOVEOUT_TRIGGERED with a targetAppInfo, else [].")
        .def("on_decision",
             [](user_context_transfer& t, const py::dict& decision) {
                 json j = dict_to_json(decision, "decision");
                 migration_decision d;
                 if (j.contains("subject") && j["subject"].is_string()) d.subject = j["subject"];
                 if (j.contains("evidence")) d.evidence = j["evidence"];
                 py::gil_scoped_release release;
                 return t.on_decision(d);
             },
             py::arg("decision"), "A mec_ams trigger's decision dict (subject, evidence.target_app_instance_id).")
        .def_property_readonly("options", [](const user_context_transfer& t) { return to_python(json(t.options())); });
}

}  // namespace migrate::python
