// The `mec_traffic_rule` route switch (route/mec_traffic_rule.hpp) as MecTrafficRuleRouteSwitch,
// a RouteSwitch usable wherever one is (RouteChange, ReplicaPool, FollowMe).
#include "common.hpp"

#include <migrate/route/mec_traffic_rule.hpp>

namespace migrate::python {

void bind_mec_route(py::module_& m) {
    py::class_<route::mec_traffic_rule_route_switch, route_switch, std::shared_ptr<route::mec_traffic_rule_route_switch>>(
        m, "MecTrafficRuleRouteSwitch",
        "The SDK's route switch on a MEC platform's ETSI MEC011 traffic rules (docs/mec.md): prepare reads the "
        "source's and target's rule (a platform answering 501, as AdvantEDGE does, raises MigrationError "
        "'unsupported' there, before anything moved: fall back to e.g. OpenFlowRouteSwitch); commit PUTs the "
        "target's rule ACTIVE, confirmed, then the source's INACTIVE; rollback restores what prepare read. Options: "
        "platform {base_url, sandbox, bearer_token, timeout_ms}, hosts {host: {app_instance_id, traffic_rule_id}}, "
        "subjects {subject: {host: {...}}}, traffic_rule_id (with the instance id as app instance id), confirm_by_get.")
        .def(py::init([](const py::object& options) {
                 auto o = unwrap(parse_options<route::mec_traffic_rule_options>(dict_to_json(options, "MecTrafficRuleRouteSwitch.options")));
                 std::shared_ptr<route::mec_traffic_rule_route_switch> r = unwrap(route::mec_traffic_rule_route_switch::make(std::move(o)));
                 return r;
             }),
             py::arg("options"))
        .def("rule_for",
             [](const route::mec_traffic_rule_route_switch& r, const std::string& subject, const service_instance& i) {
                 return to_python(json(unwrap(r.rule_for(subject, i))));
             },
             py::arg("subject"), py::arg("instance"),
             "The rule {app_instance_id, traffic_rule_id} that steers the subject's traffic to the instance.")
        .def_property_readonly("options", [](const route::mec_traffic_rule_route_switch& r) { return to_python(json(r.options())); });
}

}  // namespace migrate::python
