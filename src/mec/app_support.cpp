#include <migrate/mec/app_support.hpp>

#include "json_reader.hpp"

#include <fmt/format.h>

namespace migrate::mec {

using detail::bad_field;
using detail::parse_guarded;
using detail::reader;
using detail::reply_as;
using detail::subscription_id;

std::string_view to_string(operation_action a) { return a == operation_action::stopping ? "STOPPING" : "TERMINATING"; }
std::string_view to_string(traffic_rule_state s) { return s == traffic_rule_state::active ? "ACTIVE" : "INACTIVE"; }

namespace {

traffic_rule read_rule(const reader& r) {
    traffic_rule t;
    t.id = r.str("trafficRuleId");
    t.filter_type = r.opt_str("filterType").value_or("");
    t.priority = r.opt_integer("priority").value_or(0);
    t.action = r.opt_str("action").value_or("");
    auto state = r.str("state");
    if (state == "ACTIVE") t.state = traffic_rule_state::active;
    else if (state == "INACTIVE") t.state = traffic_rule_state::inactive;
    else bad_field(r.at_ptr("state"), fmt::format("'{}' is not ACTIVE or INACTIVE", state));
    t.document = r.raw();
    return t;
}

service_info read_service(const reader& r) {
    service_info s;
    s.ser_instance_id = r.opt_str("serInstanceId").value_or("");
    s.ser_name = r.str("serName");
    s.state = r.opt_str("state").value_or("");
    s.version = r.opt_str("version").value_or("");
    if (auto ti = r.opt_object("transportInfo")) {
        if (auto ep = ti->opt_object("endpoint")) {
            s.uris = ep->strings("uris");
            s.addresses = ep->objects("addresses", [](const reader& a) { return endpoint{a.str("host"), a.integer("port")}; });
        }
    }
    return s;
}

/// `_links` per the specs, `links` in some AdvantEDGE examples.
std::optional<reader> links_of(const reader& r) {
    if (auto l = r.opt_object("_links")) return l;
    return r.opt_object("links");
}

std::string href(const std::optional<reader>& links, const char* rel) {
    if (!links) return {};
    auto l = links->opt_object(rel);
    return l ? l->str("href") : std::string{};
}

/// A 501 from a traffic rules route says what to do about it.
template <class T>
result<T> explain_unsupported(result<T> r) {
    if (!r && r.error_code() == error::unsupported)
        return make_failure(error::unsupported,
            r.error().message + " (the platform does not implement MEC011 traffic rules, as AdvantEDGE does not; "
                                "use another route switch)");
    return r;
}

}  // namespace

result<traffic_rule> parse_traffic_rule(const json& body) {
    return parse_guarded([&] { return read_rule(reader(body, "")); });
}

result<std::vector<traffic_rule>> parse_traffic_rules(const json& body) {
    return parse_guarded([&] {
        if (!body.is_array()) bad_field("", std::string("expected array, got ") + body.type_name());
        std::vector<traffic_rule> out;
        for (std::size_t i = 0; i < body.size(); ++i) out.push_back(read_rule(reader(body[i], "/" + std::to_string(i))));
        return out;
    });
}

result<service_info> parse_service_info(const json& body) {
    return parse_guarded([&] { return read_service(reader(body, "")); });
}

result<std::vector<service_info>> parse_service_list(const json& body) {
    return parse_guarded([&] {
        if (!body.is_array()) bad_field("", std::string("expected array, got ") + body.type_name());
        std::vector<service_info> out;
        for (std::size_t i = 0; i < body.size(); ++i) out.push_back(read_service(reader(body[i], "/" + std::to_string(i))));
        return out;
    });
}

result<app_termination_subscription> parse_app_termination_subscription(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        app_termination_subscription s;
        s.callback_url = r.str("callbackReference");
        s.app_instance_id = r.opt_str("appInstanceId").value_or("");
        s.self_url = href(links_of(r), "self");
        return s;
    });
}

result<app_termination_notification> parse_app_termination_notification(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        app_termination_notification n;
        auto action = r.str("operationAction");
        if (action == "TERMINATING") n.action = operation_action::terminating;
        else if (action == "STOPPING") n.action = operation_action::stopping;
        else bad_field(r.at_ptr("operationAction"), fmt::format("'{}' is not STOPPING or TERMINATING", action));
        n.max_graceful_timeout_s = r.integer("maxGracefulTimeout");
        auto links = links_of(r);
        n.subscription_url = href(links, "subscription");
        n.confirm_termination_url = href(links, "confirmTermination");
        return n;
    });
}

json to_json(const traffic_rule& r) {
    json j = r.document.is_object() ? r.document : json::object();
    j["trafficRuleId"] = r.id;
    if (!r.filter_type.empty()) j["filterType"] = r.filter_type;
    j["priority"] = r.priority;
    if (!r.action.empty()) j["action"] = r.action;
    j["state"] = std::string(to_string(r.state));
    return j;
}

json to_json(const service_info& s) {
    json endpoint_info;
    if (!s.uris.empty() || s.addresses.empty()) {
        endpoint_info["uris"] = s.uris;
    } else {
        json addresses = json::array();
        for (const auto& a : s.addresses) addresses.push_back({{"host", a.host}, {"port", a.port}});
        endpoint_info["addresses"] = addresses;
    }
    json j{{"serName", s.ser_name},
           {"version", s.version.empty() ? std::string("1.0") : s.version},
           {"state", s.state.empty() ? std::string("ACTIVE") : s.state},
           {"serializer", "JSON"},
           {"transportInfo", {{"id", s.ser_name + "-rest"},
                              {"name", "REST"},
                              {"type", "REST_HTTP"},
                              {"protocol", "HTTP"},
                              {"version", "2.0"},
                              {"endpoint", endpoint_info},
                              {"security", json::object()}}}};
    if (!s.ser_instance_id.empty()) j["serInstanceId"] = s.ser_instance_id;
    return j;
}

app_support_client::app_support_client(client_options opts, std::string app_instance_id)
    : app_instance_id_(std::move(app_instance_id)),
      app_path_("/applications/" + path_segment(app_instance_id_)),
      app_support_(opts, "mec_app_support/v1"),
      service_mgmt_(opts, "mec_service_mgmt/v1") {}

result<void> app_support_client::confirm_ready() {
    auto r = app_support_.call("POST", app_path_ + "/confirm_ready", json{{"indication", "READY"}});
    if (!r) return r.error();
    return {};
}

result<void> app_support_client::confirm_termination(operation_action action) {
    auto r = app_support_.call("POST", app_path_ + "/confirm_termination", json{{"operationAction", std::string(to_string(action))}});
    if (!r) return r.error();
    return {};
}

result<app_termination_subscription> app_support_client::subscribe_termination(const std::string& callback_url) {
    const std::string p = app_path_ + "/subscriptions";
    json body{{"subscriptionType", "AppTerminationNotificationSubscription"},
              {"callbackReference", callback_url},
              {"appInstanceId", app_instance_id_}};
    return reply_as<app_termination_subscription>(app_support_, "POST", p, app_support_.call("POST", p, body),
                                                  parse_app_termination_subscription);
}

result<void> app_support_client::unsubscribe(const std::string& self_url_or_id) {
    auto r = app_support_.call("DELETE", app_path_ + "/subscriptions/" + path_segment(subscription_id(self_url_or_id)));
    if (!r) return r.error();
    return {};
}

result<service_info> app_support_client::register_service(const service_info& s) {
    const std::string p = app_path_ + "/services";
    return reply_as<service_info>(service_mgmt_, "POST", p, service_mgmt_.call("POST", p, to_json(s)), parse_service_info);
}

result<void> app_support_client::deregister_service(const std::string& ser_instance_id) {
    auto r = service_mgmt_.call("DELETE", app_path_ + "/services/" + path_segment(ser_instance_id));
    if (!r) return r.error();
    return {};
}

result<std::vector<service_info>> app_support_client::services(const std::string& ser_name) {
    const std::string p = "/services" + (ser_name.empty() ? std::string{} : "?ser_name=" + path_segment(ser_name));
    return reply_as<std::vector<service_info>>(service_mgmt_, "GET", p, service_mgmt_.call("GET", p), parse_service_list);
}

result<service_info> app_support_client::service(const std::string& ser_name) {
    auto all = services(ser_name);
    if (!all) return all.error();
    for (auto& s : *all)
        if (s.ser_name == ser_name) return s;
    return make_failure(error::not_found, fmt::format("service '{}': the registry at {} lists no such service", ser_name,
                                                      service_mgmt_.url("/services")));
}

result<std::vector<traffic_rule>> app_support_client::traffic_rules() {
    const std::string p = app_path_ + "/traffic_rules";
    return explain_unsupported(
        reply_as<std::vector<traffic_rule>>(app_support_, "GET", p, app_support_.call("GET", p), parse_traffic_rules));
}

result<traffic_rule> app_support_client::traffic_rule_by_id(const std::string& rule_id) {
    const std::string p = app_path_ + "/traffic_rules/" + path_segment(rule_id);
    return explain_unsupported(reply_as<traffic_rule>(app_support_, "GET", p, app_support_.call("GET", p), parse_traffic_rule));
}

result<traffic_rule> app_support_client::update_traffic_rule(const traffic_rule& r) {
    const std::string p = app_path_ + "/traffic_rules/" + path_segment(r.id);
    return explain_unsupported(
        reply_as<traffic_rule>(app_support_, "PUT", p, app_support_.call("PUT", p, to_json(r)), parse_traffic_rule));
}

result<traffic_rule> app_support_client::set_traffic_rule_state(const std::string& rule_id, traffic_rule_state state) {
    auto rule = traffic_rule_by_id(rule_id);
    if (!rule) return rule.error();
    rule->state = state;
    return update_traffic_rule(*rule);
}

}  // namespace migrate::mec
