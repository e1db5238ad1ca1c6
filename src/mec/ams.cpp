#include <migrate/mec/ams.hpp>

#include "json_reader.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace migrate::mec {

using detail::bad_field;
using detail::expect_type;
using detail::parse_guarded;
using detail::read_time;
using detail::reader;
using detail::reply_as;
using detail::subscription_id;
using detail::time_json;

namespace {
constexpr std::array<std::pair<context_transfer_state, std::string_view>, 2> transfer_names{{
    {context_transfer_state::not_transferred, "NOT_TRANSFERRED"},
    {context_transfer_state::user_context_transfer_completed, "USER_CONTEXT_TRANSFER_COMPLETED"},
}};
constexpr std::array<std::pair<app_mobility_service_level, std::string_view>, 3> level_names{{
    {app_mobility_service_level::not_allowed, "APP_MOBILITY_NOT_ALLOWED"},
    {app_mobility_service_level::with_confirmation, "APP_MOBILITY_WITH_CONFIRMATION"},
    {app_mobility_service_level::without_confirmation, "APP_MOBILITY_WITHOUT_CONFIRMATION"},
}};
constexpr std::array<std::pair<mobility_status, std::string_view>, 3> status_names{{
    {mobility_status::interhost_moveout_triggered, "INTERHOST_MOVEOUT_TRIGGERED"},
    {mobility_status::interhost_moveout_completed, "INTERHOST_MOVEOUT_COMPLETED"},
    {mobility_status::interhost_moveout_failed, "INTERHOST_MOVEOUT_FAILED"},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E e) {
    for (auto& [v, n] : names)
        if (v == e) return n;
    return "?";
}

template <class E, std::size_t N>
E enum_from(const std::array<std::pair<E, std::string_view>, N>& names, const std::string& s, const std::string& pointer) {
    for (auto& [v, n] : names)
        if (n == s) return v;
    std::string allowed;
    for (auto& [v, n] : names) allowed += (allowed.empty() ? "" : ", ") + std::string(n);
    bad_field(pointer, fmt::format("'{}' is not one of {}", s, allowed));
}

associate_id read_associate(const reader& r) { return {r.str("type"), r.str("value")}; }

json associate_json(const associate_id& a) { return json{{"type", a.type}, {"value", a.value}}; }

/// AssociateId is one object in RegistrationInfo and an array in notifications and filters;
/// either is accepted everywhere.
std::vector<associate_id> read_associates(const reader& r, const char* key) { return r.objects(key, read_associate); }

std::vector<endpoint> read_comm_interfaces(const reader& r, const char* key) {
    std::vector<endpoint> out;
    for (auto& eps : r.objects(key, [](const reader& ci) {
             return ci.objects("ipAddresses", [](const reader& ip) { return endpoint{ip.str("host"), ip.integer("port")}; });
         }))
        out.insert(out.end(), eps.begin(), eps.end());
    return out;
}

std::string read_links(const reader& r, const char* rel) {
    auto links = r.opt_object("_links");
    if (!links) return {};
    auto l = links->opt_object(rel);
    return l ? l->str("href") : std::string{};
}

}  // namespace

std::string_view to_string(context_transfer_state s) { return name_of(transfer_names, s); }
std::string_view to_string(app_mobility_service_level l) { return name_of(level_names, l); }
std::string_view to_string(mobility_status s) { return name_of(status_names, s); }

namespace {
registration_info read_registration(const reader& r) {
    registration_info out;
    out.app_mobility_service_id = r.opt_str("appMobilityServiceId").value_or("");
    auto consumer = r.object("serviceConsumerId");
    out.app_instance_id = consumer.opt_str("appInstanceId").value_or("");
    out.mep_id = consumer.opt_str("mepId").value_or("");
    out.devices = r.objects("deviceInformation", [](const reader& d) {
        device_information di;
        auto ids = read_associates(d, "associateId");
        if (ids.empty()) bad_field(d.at_ptr("associateId"), "missing");
        di.device = ids.front();
        if (auto l = d.opt_str("appMobilityServiceLevel"))
            di.service_level = enum_from(level_names, *l, d.at_ptr("appMobilityServiceLevel"));
        if (auto s = d.opt_str("contextTransferState"))
            di.transfer_state = enum_from(transfer_names, *s, d.at_ptr("contextTransferState"));
        return di;
    });
    out.expiry_time_s = r.opt_integer("expiryTime");
    return out;
}

mobility_procedure_subscription read_mobility_sub(const reader& r) {
    mobility_procedure_subscription s;
    s.callback_url = r.str("callbackReference");
    if (auto f = r.opt_object("filterCriteria")) {
        s.app_instance_id = f->opt_str("appInstanceId").value_or("");
        s.devices = read_associates(*f, "associateId");
        auto names = f->strings("mobilityStatus");
        for (std::size_t i = 0; i < names.size(); ++i)
            s.statuses.push_back(enum_from(status_names, names[i], f->at_ptr("mobilityStatus") + "/" + std::to_string(i)));
    }
    if (auto t = r.opt_object("expiryDeadline")) s.expiry_deadline = read_time(*t);
    s.self_url = read_links(r, "self");
    return s;
}

adjacent_app_info_subscription read_adjacent_sub(const reader& r) {
    adjacent_app_info_subscription s;
    s.callback_url = r.str("callbackReference");
    if (auto f = r.opt_object("filterCriteria")) s.app_instance_id = f->opt_str("appInstanceId").value_or("");
    if (auto t = r.opt_object("expiryDeadline")) s.expiry_deadline = read_time(*t);
    s.self_url = read_links(r, "self");
    return s;
}

}  // namespace

result<registration_info> parse_registration_info(const json& body) {
    return parse_guarded([&] { return read_registration(reader(body, "")); });
}

result<mobility_procedure_subscription> parse_mobility_procedure_subscription(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "subscriptionType", "MobilityProcedureSubscription");
        return read_mobility_sub(r);
    });
}

result<adjacent_app_info_subscription> parse_adjacent_app_info_subscription(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "subscriptionType", "AdjacentAppInfoSubscription");
        return read_adjacent_sub(r);
    });
}

result<mobility_procedure_notification> parse_mobility_procedure_notification(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "notificationType", "MobilityProcedureNotification");
        mobility_procedure_notification n;
        n.status = enum_from(status_names, r.str("mobilityStatus"), r.at_ptr("mobilityStatus"));
        n.devices = read_associates(r, "associateId");
        if (auto t = r.opt_object("targetAppInfo"))
            n.target = app_instance_endpoints{t->str("appInstanceId"), read_comm_interfaces(*t, "commInterface")};
        if (auto t = r.opt_object("timeStamp")) n.timestamp = read_time(*t);
        n.subscription_url = read_links(r, "subscription");
        return n;
    });
}

result<adjacent_app_info_notification> parse_adjacent_app_info_notification(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "notificationType", "AdjacentAppInfoNotification");
        adjacent_app_info_notification n;
        n.devices = read_associates(r, "associateId");
        n.adjacent = r.objects("adjacentAppInfo", [](const reader& a) {
            return app_instance_endpoints{a.str("appInstanceId"), read_comm_interfaces(a, "commInterface")};
        });
        if (auto t = r.opt_object("timeStamp")) n.timestamp = read_time(*t);
        n.subscription_url = read_links(r, "subscription");
        return n;
    });
}

json to_json(const registration_info& r) {
    json consumer = json::object();
    if (!r.app_instance_id.empty()) consumer["appInstanceId"] = r.app_instance_id;
    if (!r.mep_id.empty()) consumer["mepId"] = r.mep_id;
    json devices = json::array();
    for (auto& d : r.devices) {
        json dj{{"associateId", associate_json(d.device)}};
        if (d.service_level) dj["appMobilityServiceLevel"] = std::string(to_string(*d.service_level));
        if (d.transfer_state) dj["contextTransferState"] = std::string(to_string(*d.transfer_state));
        devices.push_back(std::move(dj));
    }
    json j{{"serviceConsumerId", std::move(consumer)}, {"deviceInformation", std::move(devices)}};
    if (!r.app_mobility_service_id.empty()) j["appMobilityServiceId"] = r.app_mobility_service_id;
    if (r.expiry_time_s) j["expiryTime"] = *r.expiry_time_s;
    return j;
}

json to_json(const mobility_procedure_subscription& s) {
    json filter = json::object();
    if (!s.app_instance_id.empty()) filter["appInstanceId"] = s.app_instance_id;
    if (!s.devices.empty()) {
        filter["associateId"] = json::array();
        for (auto& a : s.devices) filter["associateId"].push_back(associate_json(a));
    }
    if (!s.statuses.empty()) {
        filter["mobilityStatus"] = json::array();
        for (auto st : s.statuses) filter["mobilityStatus"].push_back(std::string(to_string(st)));
    }
    json j{{"subscriptionType", "MobilityProcedureSubscription"}, {"callbackReference", s.callback_url},
           {"filterCriteria", std::move(filter)}};
    if (s.expiry_deadline) j["expiryDeadline"] = time_json(*s.expiry_deadline);
    return j;
}

json to_json(const adjacent_app_info_subscription& s) {
    json filter = json::object();
    if (!s.app_instance_id.empty()) filter["appInstanceId"] = s.app_instance_id;
    json j{{"subscriptionType", "AdjacentAppInfoSubscription"}, {"callbackReference", s.callback_url},
           {"filterCriteria", std::move(filter)}};
    if (s.expiry_deadline) j["expiryDeadline"] = time_json(*s.expiry_deadline);
    return j;
}

ams_client::ams_client(client_options opts) : api_(std::move(opts), "amsi/v1") {}

result<registration_info> ams_client::register_app(const registration_info& r) {
    const std::string p = "/app_mobility_services";
    return reply_as<registration_info>(api_, "POST", p, api_.call("POST", p, to_json(r)), parse_registration_info);
}

result<registration_info> ams_client::registration(const std::string& id) {
    const std::string p = "/app_mobility_services/" + path_segment(id);
    return reply_as<registration_info>(api_, "GET", p, api_.call("GET", p), parse_registration_info);
}

result<registration_info> ams_client::update_registration(const registration_info& r) {
    if (r.app_mobility_service_id.empty())
        return make_failure(error::invalid_argument, "registration_info.app_mobility_service_id: empty; register first");
    const std::string p = "/app_mobility_services/" + path_segment(r.app_mobility_service_id);
    return reply_as<registration_info>(api_, "PUT", p, api_.call("PUT", p, to_json(r)), parse_registration_info);
}

result<void> ams_client::deregister(const std::string& id) {
    auto r = api_.call("DELETE", "/app_mobility_services/" + path_segment(id));
    if (!r) return r.error();
    return {};
}

result<registration_info> ams_client::set_context_transfer_state(const std::string& id, const associate_id& device,
                                                                 context_transfer_state state) {
    auto reg = registration(id);
    if (!reg) return reg.error();
    bool found = false;
    for (auto& d : reg->devices)
        if (d.device == device) { d.transfer_state = state; found = true; }
    if (!found) reg->devices.push_back(device_information{device, std::nullopt, state});
    if (reg->app_mobility_service_id.empty()) reg->app_mobility_service_id = id;
    return update_registration(*reg);
}

result<mobility_procedure_subscription> ams_client::subscribe_mobility_procedure(const mobility_procedure_subscription& s) {
    const std::string p = "/subscriptions";
    return reply_as<mobility_procedure_subscription>(api_, "POST", p, api_.call("POST", p, to_json(s)),
                                                     parse_mobility_procedure_subscription);
}

result<adjacent_app_info_subscription> ams_client::subscribe_adjacent_app_info(const adjacent_app_info_subscription& s) {
    const std::string p = "/subscriptions";
    return reply_as<adjacent_app_info_subscription>(api_, "POST", p, api_.call("POST", p, to_json(s)),
                                                    parse_adjacent_app_info_subscription);
}

result<void> ams_client::unsubscribe(const std::string& self_url_or_id) {
    auto r = api_.call("DELETE", "/subscriptions/" + path_segment(subscription_id(self_url_or_id)));
    if (!r) return r.error();
    return {};
}

}  // namespace migrate::mec
