// The emulator's MEC012 Radio Network Information Service: rab_info queries and cell change
// subscriptions with CellChangeNotification on every access point change (see emulator.hpp
// for the cell id mapping and the hoStatus sequence).
#include "emulator_impl.hpp"

namespace migrate::mec {

using detail::bad_field;
using detail::expect_one_of;
using detail::reader;
using detail::reject_body;
using net::http_request;
using net::http_response;

namespace {

/// The test PLMN, which the Monaco scenarios' cellularDomainConfig also uses (001/001).
const json plmn{{"mcc", "001"}, {"mnc", "001"}};

/// ECGI cellId of an access point: its scenario cellId (poa4GConfig / poa5GConfig), or its
/// name when it has none (WiFi).
std::string cell_of(const access_point& a) { return a.cell_id.empty() ? a.name : a.cell_id; }

json cell_ecgi(const access_point& a) { return {{"cellId", cell_of(a)}, {"plmn", plmn}}; }

void check_associate(const reader& a) {
    auto t = a.integer("type");
    if (t < 0 || t > 4) bad_field(a.at_ptr("type"), fmt::format("{} is not an AssociateId type (0..4)", t));
    a.str("value");
}

/// CellChangeSubscription per MEC012 v2.1.1.
void check_cell_change_subscription(const reader& r) {
    expect_one_of(r, "subscriptionType", {"CellChangeSubscription"});
    r.str("callbackReference");
    auto f = r.object("filterCriteriaAssocHo");
    f.opt_str("appInstanceId");
    f.objects("associateId", [](const reader& a) { check_associate(a); return 0; });
    f.objects("ecgi", [](const reader& e) {
        e.str("cellId");
        auto p = e.object("plmn");
        p.str("mcc");
        p.str("mnc");
        return 0;
    });
    if (f.has("hoStatus")) {
        const json& hs = f.raw().at("hoStatus");
        if (!hs.is_array()) bad_field(f.at_ptr("hoStatus"), "expected array");
        for (std::size_t i = 0; i < hs.size(); ++i)
            if (!hs[i].is_number_integer() || hs[i].get<int>() < 1 || hs[i].get<int>() > 5)
                bad_field(fmt::format("{}/{}", f.at_ptr("hoStatus"), i), fmt::format("{} is not a HoStatus (1..5)", hs[i].dump()));
    }
    if (auto t = r.opt_object("expiryDeadline")) {
        if (t->integer("seconds") < 0) bad_field(t->at_ptr("seconds"), "must be >= 0");
        t->opt_integer("nanoSeconds");
    }
}

bool listed(const json& filter, const char* key, const char* field, const std::string& v) {
    auto it = filter.find(key);
    if (it == filter.end() || !it->is_array() || it->empty()) return true;
    return std::any_of(it->begin(), it->end(), [&](const json& e) { return e.value(field, "") == v; });
}

}  // namespace

void emulator::impl::rnis_notify_locked(const tracker::change& c) {
    if (c.before.access_point == c.after.access_point || c.before.access_point.empty() || c.after.access_point.empty()) return;
    auto* src = model.find_access_point(c.before.access_point);
    auto* trg = model.find_access_point(c.after.access_point);
    if (!src || !trg) return;
    for (auto& s : rnis_subs) {
        const json& filter = s.body["filterCriteriaAssocHo"];
        if (!listed(filter, "associateId", "value", c.after.ue)) continue;
        if (!listed(filter, "ecgi", "cellId", cell_of(*src)) && !listed(filter, "ecgi", "cellId", cell_of(*trg))) continue;
        for (int status : {1, 3}) {   // IN_PREPARATION, then COMPLETED
            auto wanted = filter.at("hoStatus");
            if (std::find(wanted.begin(), wanted.end(), status) == wanted.end()) continue;
            post_locked(s.body["callbackReference"].get<std::string>(),
                        {{"notificationType", "CellChangeNotification"},
                         {"timeStamp", detail::timestamp_now()},
                         {"associateId", json::array({{{"type", 1}, {"value", c.after.ue}}})},
                         {"hoStatus", status},
                         {"srcEcgi", cell_ecgi(*src)},
                         {"trgEcgi", json::array({cell_ecgi(*trg)})}});
        }
    }
}

void emulator::impl::add_rnis_routes(net::http_router& r) {
    const std::string b = api_root("rni/v2");
    r.route("GET", b + "/queries/rab_info", [this](const http_request& q) {
        auto cells = q.query_values("cell_id");
        auto ues = q.query_values("ue_ipv4_address");
        for (auto& u : ues) u = detail::strip_acr(u);
        auto has = [](const std::vector<std::string>& list, const std::string& v) {
            return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
        };
        std::lock_guard lock(m);
        catch_up_locked();
        json cell_users = json::array();
        for (auto& a : model.access_points()) {
            if (a.type == poa_type::wifi || !has(cells, cell_of(a))) continue;
            json ue_info = json::array();
            for (std::size_t i = 0; i < track.states().size(); ++i) {
                auto& st = track.states()[i];
                if (st.access_point != a.name || !has(ues, st.ue)) continue;
                // One default bearer per UE, numbered by the UE's place in the scenario.
                ue_info.push_back({{"associateId", json::array({{{"type", 1}, {"value", st.ue}}})},
                                   {"erabInfo", json::array({{{"erabId", static_cast<int>(i) + 1},
                                                              {"erabQosParameters", {{"qci", 9}}}}})}});
            }
            if (!ue_info.empty()) cell_users.push_back({{"ecgi", cell_ecgi(a)}, {"ueInfo", std::move(ue_info)}});
        }
        return http_response::ok({{"appInstanceId", q.query_value("app_ins_id").value_or("")},
                                  {"requestId", new_id("rab")},
                                  {"cellUserInfo", std::move(cell_users)},
                                  {"timeStamp", detail::timestamp_now()}});
    });
    r.route("POST", b + "/subscriptions", [this, b](const http_request& q) {
        auto doc = q.json_body();
        if (!doc) return http_response::problem(400, doc.error().message, q.path);
        if (auto bad = reject_body([&] { check_cell_change_subscription(reader(*doc, "")); },
                                   "CellChangeSubscription (the one subscription type the emulator serves)", q.path))
            return *bad;
        std::lock_guard lock(m);
        rnis_subscription s{new_id("sub"), *doc, std::nullopt};
        // "In case hoStatus is not included in the subscription request, the default value
        // 3 = COMPLETED shall be used and included in the response."
        auto& filter = s.body["filterCriteriaAssocHo"];
        if (!filter.contains("hoStatus") || filter["hoStatus"].empty()) filter["hoStatus"] = json::array({3});
        if (auto t = doc->find("expiryDeadline"); t != doc->end()) s.expiry_s = t->at("seconds").get<std::int64_t>();
        auto self = url_of(fmt::format("{}/subscriptions/{}", b, s.id));
        s.body["_links"] = {{"self", {{"href", self}}}};
        rnis_subs.push_back(s);
        return http_response::created(s.body, self);
    });
    r.route("GET", b + "/subscriptions", [this](const http_request& q) {
        auto type = q.query_value("subscription_type");
        std::lock_guard lock(m);
        expire_locked();
        json links = json::array();
        if (!type || *type == "cell_change")
            for (auto& s : rnis_subs) links.push_back({{"href", s.body["_links"]["self"]["href"]}, {"subscriptionType", "CellChangeSubscription"}});
        return http_response::ok({{"_links", {{"self", {{"href", url_of(q.target)}}}, {"subscription", std::move(links)}}}});
    });
    add_subscription_item_routes(r, b + "/subscriptions", rnis_subs);
}

}  // namespace migrate::mec
