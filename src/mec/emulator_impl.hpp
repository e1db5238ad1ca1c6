// src-only: the state of the MEC platform emulator (mec/emulator.hpp) that its API files share.
// emulator.cpp runs the clock, the notifier and the control API (/sim/v1); each
// emulator_<api>.cpp serves one ETSI API over this state and reacts to UE moves for it:
// emulator_location.cpp (MEC013), emulator_app_support.cpp (MEC011 app support + service
// registry), emulator_ams.cpp (MEC021), emulator_rnis.cpp (MEC012). Every member is used
// with `m` held unless its comment says otherwise.
#pragma once

#include <migrate/mec/emulator.hpp>
#include <migrate/net/http_server.hpp>

#include "json_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace migrate::mec::detail {

/// A MEC TimeStamp of the wall clock now.
json timestamp_now();
/// Wall-clock seconds since the Unix epoch.
std::int64_t unix_now();
/// "acr:10.0.0.1" -> "10.0.0.1"
std::string strip_acr(std::string a);

/// Runs `read` (a `reader` walk over a request body); a complaint becomes a 400 naming the
/// field, as "<what> /filterCriteria/appInstanceId: missing".
template <class F>
std::optional<net::http_response> reject_body(F read, const std::string& what, const std::string& instance) {
    auto r = parse_guarded([&] {
        read();
        return true;
    });
    if (r) return std::nullopt;
    return net::http_response::problem(400, fmt::format("{} {}", what, r.error().message), instance);
}

/// `s` must be one of `allowed`, else a complaint naming the field.
void expect_one_of(const reader& r, const char* key, const std::vector<std::string_view>& allowed, bool required = true);

}  // namespace migrate::mec::detail

namespace migrate::mec {

struct emulator::impl {
    // -- MEC013 Location (emulator_location.cpp) --
    enum class location_kind { zonal_traffic, user_tracking };
    struct location_subscription {
        std::string id;
        location_kind kind;
        json body;                       ///< as stored and answered (resourceURL filled in)
        std::string notify_url;
        std::string callback_data;
        std::string zone;                ///< zonal traffic
        std::string address;             ///< user tracking
        std::vector<std::string> events; ///< empty = every event
        std::optional<std::chrono::steady_clock::time_point> expires;   ///< `duration` > 0
    };

    // -- MEC011 (emulator_app_support.cpp) --
    struct app_instance_record {
        app_instance declared;           ///< traffic rules as currently stored
        std::vector<json> rules;         ///< TrafficRule documents, declared order
        bool ready = false;
        std::string termination_confirmed;   ///< "" or the operationAction confirmed
    };
    struct app_termination_subscription_record {
        std::string id;
        std::string app_instance;
        json body;
    };
    struct service_record {
        std::string id;                  ///< serInstanceId
        std::string app_instance;        ///< the producer
        json body;                       ///< ServiceInfo as answered
    };

    // -- MEC021 AMS (emulator_ams.cpp) --
    struct ams_registration {
        std::string id;                  ///< appMobilityServiceId
        json body;                       ///< RegistrationInfo as answered
        std::optional<std::int64_t> expiry_s;   ///< expiryTime > 0: Unix seconds it ends
    };
    struct ams_subscription {
        std::string id;
        std::string type;                ///< MobilityProcedureSubscription / AdjacentAppInfoSubscription
        json body;
        std::optional<std::int64_t> expiry_s;   ///< expiryDeadline.seconds
    };

    // -- MEC012 RNIS (emulator_rnis.cpp) --
    struct rnis_subscription {
        std::string id;
        json body;
        std::optional<std::int64_t> expiry_s;
    };

    struct outgoing {
        std::string url;
        json body;
    };

    emulator_options options;
    scenario model;
    mutable std::mutex m;
    tracker track{model};
    double scale = 1.0;
    double base_t = 0;
    std::chrono::steady_clock::time_point base_real = std::chrono::steady_clock::now();
    std::uint64_t next_id = 1;

    std::vector<location_subscription> location_subs;
    std::vector<app_instance_record> apps;
    std::vector<app_termination_subscription_record> app_subs;
    std::vector<service_record> services;
    std::vector<ams_registration> ams_regs;
    std::vector<ams_subscription> ams_subs;
    std::vector<rnis_subscription> rnis_subs;

    std::unique_ptr<net::http_server> server;

    std::thread clock;
    std::thread notifier;
    std::condition_variable wake_clock;
    std::condition_variable wake_notifier;
    std::deque<outgoing> queue;
    bool stopping = false;
    std::atomic<std::size_t> sent{0}, failed{0};

    explicit impl(scenario s) : model(std::move(s)) {}

    double now_locked() const;
    /// The server's URL + `rest` ("/sbx/location/v2/...": `rest` carries base_path).
    std::string url_of(const std::string& rest) const { return fmt::format("{}{}", server ? server->url() : "", rest); }
    std::string api_root(std::string_view api) const { return fmt::format("{}/{}", options.base_path, api); }
    std::string new_id(std::string_view prefix) { return fmt::format("{}{}", prefix, next_id++); }
    void post_locked(std::string url, json body) { queue.push_back({std::move(url), std::move(body)}); }

    /// Every API's reaction to one UE move, then wakes the notifier.
    void notify_locked(const tracker::change& c);
    /// Queries answer the state at the time they are asked, not at the clock's last tick.
    void catch_up_locked();
    /// Drops subscriptions whose duration / expiryDeadline has passed.
    void expire_locked();
    void run_clock();
    void run_notifier();
    json sim_state() const;

    net::http_router routes();
    void add_sim_routes(net::http_router& r);
    /// GET and DELETE `<collection>/{subscriptionId}` for the subscriptions kept in `subs` (each
    /// with an `id` and the `body` it answers), under the lock, expired ones dropped first.
    template <class Subscription>
    void add_subscription_item_routes(net::http_router& r, const std::string& collection, std::vector<Subscription>& subs) {
        auto* list = &subs;
        auto find = [list](const net::http_request& q) {
            return std::find_if(list->begin(), list->end(), [&](const auto& s) { return s.id == q.param("subscriptionId"); });
        };
        auto missing = [](const net::http_request& q) {
            return net::http_response::problem(404, fmt::format("no subscription '{}'", q.param("subscriptionId")), q.path);
        };
        r.route("GET", collection + "/{subscriptionId}", [this, list, find, missing](const net::http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            auto it = find(q);
            return it == list->end() ? missing(q) : net::http_response::ok(it->body);
        });
        r.route("DELETE", collection + "/{subscriptionId}", [this, list, find, missing](const net::http_request& q) {
            std::lock_guard lock(m);
            expire_locked();
            auto it = find(q);
            if (it == list->end()) return missing(q);
            list->erase(it);
            return net::http_response::no_content();
        });
    }

    // MEC013
    void add_location_routes(net::http_router& r);
    void location_notify_locked(const tracker::change& c);
    net::http_response location_subscribe(const net::http_request& r, location_kind kind);
    std::string location_root() const { return api_root("location/v2"); }

    // MEC011
    void add_app_support_routes(net::http_router& r);
    /// `invalid_argument` naming the field; fills in the rule fields the caller left out.
    result<app_instance_record> make_app_instance_locked(const app_instance& a) const;
    const app_instance_record* find_app_locked(std::string_view id) const;
    app_instance_record* find_app_locked(std::string_view id) {
        return const_cast<app_instance_record*>(std::as_const(*this).find_app_locked(id));
    }
    json app_instance_json(const app_instance_record& a) const;
    result<void> terminate_locked(const std::string& app_instance, operation_action action, std::int64_t max_graceful_timeout_s);

    // MEC021
    void add_ams_routes(net::http_router& r);
    void ams_notify_locked(const tracker::change& c);
    /// Appends `rec` and tells the AdjacentAppInfo subscribers of its app's other instances.
    void app_added_locked(app_instance_record rec);

    // MEC012
    void add_rnis_routes(net::http_router& r);
    void rnis_notify_locked(const tracker::change& c);
};

}  // namespace migrate::mec
