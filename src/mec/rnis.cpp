#include <migrate/mec/rnis.hpp>

#include "ecgi_json.hpp"
#include "json_reader.hpp"

#include <fmt/format.h>

namespace migrate::mec {

using detail::bad_field;
using detail::expect_type;
using detail::parse_guarded;
using detail::read_ecgi;
using detail::ecgi_json;
using detail::read_time;
using detail::reader;
using detail::reply_as;
using detail::subscription_id;
using detail::time_json;

std::string_view to_string(ho_status s) {
    switch (s) {
        case ho_status::in_preparation: return "IN_PREPARATION";
        case ho_status::in_execution: return "IN_EXECUTION";
        case ho_status::completed: return "COMPLETED";
        case ho_status::rejected: return "REJECTED";
        case ho_status::cancelled: return "CANCELLED";
    }
    return "?";
}

namespace {

ho_status status_from(std::int64_t v, const std::string& pointer) {
    if (v < 1 || v > 5) bad_field(pointer, fmt::format("{} is not a HoStatus (1..5)", v));
    return static_cast<ho_status>(v);
}

rni_associate_id read_associate(const reader& r) { return {r.integer("type"), r.str("value")}; }



}  // namespace

result<cell_change_notification> parse_cell_change_notification(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "notificationType", "CellChangeNotification");
        cell_change_notification n;
        n.status = status_from(r.integer("hoStatus"), r.at_ptr("hoStatus"));
        n.devices = r.objects("associateId", read_associate);
        n.source = read_ecgi(r.object("srcEcgi"));
        if (!r.has("trgEcgi")) bad_field(r.at_ptr("trgEcgi"), "missing");
        n.targets = r.objects("trgEcgi", read_ecgi);
        if (auto t = r.opt_object("timeStamp")) n.timestamp = read_time(*t);
        return n;
    });
}

result<cell_change_subscription> parse_cell_change_subscription(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        expect_type(r, "subscriptionType", "CellChangeSubscription");
        cell_change_subscription s;
        s.callback_url = r.str("callbackReference");
        if (auto f = r.opt_object("filterCriteriaAssocHo")) {
            s.app_instance_id = f->opt_str("appInstanceId").value_or("");
            s.devices = f->objects("associateId", read_associate);
            s.cells = f->objects("ecgi", read_ecgi);
            if (f->has("hoStatus")) {
                const json& hs = f->raw().at("hoStatus");
                if (!hs.is_array()) bad_field(f->at_ptr("hoStatus"), std::string("expected array, got ") + hs.type_name());
                for (std::size_t i = 0; i < hs.size(); ++i) {
                    std::string p = f->at_ptr("hoStatus") + "/" + std::to_string(i);
                    if (!hs[i].is_number_integer()) bad_field(p, std::string("expected integer, got ") + hs[i].type_name());
                    s.statuses.push_back(status_from(hs[i].get<std::int64_t>(), p));
                }
            }
        }
        if (auto t = r.opt_object("expiryDeadline")) s.expiry_deadline = read_time(*t);
        if (auto l = r.opt_object("_links"))
            if (auto self = l->opt_object("self")) s.self_url = self->str("href");
        return s;
    });
}

result<rab_info> parse_rab_info(const json& body) {
    return parse_guarded([&] {
        reader r(body, "");
        rab_info info;
        info.app_instance_id = r.str("appInstanceId");
        info.request_id = r.opt_str("requestId").value_or("");
        for (auto& cell_users : r.objects("cellUserInfo", [](const reader& c) {
                 ecgi cell = read_ecgi(c.object("ecgi"));
                 return c.objects("ueInfo", [&](const reader& u) {
                     rab_user ru;
                     ru.cell = cell;
                     ru.devices = u.objects("associateId", read_associate);
                     ru.erab_ids = u.objects("erabInfo", [](const reader& e) { return e.integer("erabId"); });
                     return ru;
                 });
             }))
            info.users.insert(info.users.end(), cell_users.begin(), cell_users.end());
        if (auto t = r.opt_object("timeStamp")) info.timestamp = read_time(*t);
        return info;
    });
}

json to_json(const cell_change_subscription& s) {
    json filter = json::object();
    if (!s.app_instance_id.empty()) filter["appInstanceId"] = s.app_instance_id;
    if (!s.devices.empty()) {
        filter["associateId"] = json::array();
        for (auto& a : s.devices) filter["associateId"].push_back({{"type", a.type}, {"value", a.value}});
    }
    if (!s.cells.empty()) {
        filter["ecgi"] = json::array();
        for (auto& c : s.cells) filter["ecgi"].push_back(ecgi_json(c));
    }
    if (!s.statuses.empty()) {
        filter["hoStatus"] = json::array();
        for (auto st : s.statuses) filter["hoStatus"].push_back(static_cast<int>(st));
    }
    json j{{"subscriptionType", "CellChangeSubscription"}, {"callbackReference", s.callback_url},
           {"filterCriteriaAssocHo", std::move(filter)}};
    if (s.expiry_deadline) j["expiryDeadline"] = time_json(*s.expiry_deadline);
    return j;
}

rnis_client::rnis_client(client_options opts) : api_(std::move(opts), "rni/v2") {}

result<rab_info> rnis_client::rab(const std::string& app_instance_id, const std::vector<std::string>& cell_ids) {
    std::string p = "/queries/rab_info?app_ins_id=" + path_segment(app_instance_id);
    for (auto& c : cell_ids) p += "&cell_id=" + path_segment(c);
    return reply_as<rab_info>(api_, "GET", p, api_.call("GET", p), parse_rab_info);
}

result<cell_change_subscription> rnis_client::subscribe_cell_change(const cell_change_subscription& s) {
    const std::string p = "/subscriptions";
    return reply_as<cell_change_subscription>(api_, "POST", p, api_.call("POST", p, to_json(s)), parse_cell_change_subscription);
}

result<void> rnis_client::unsubscribe(const std::string& self_url_or_id) {
    auto r = api_.call("DELETE", "/subscriptions/" + path_segment(subscription_id(self_url_or_id)));
    if (!r) return r.error();
    return {};
}

}  // namespace migrate::mec
