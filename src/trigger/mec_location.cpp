// The `mec_location` trigger (include/migrate/trigger/mec_location.hpp).
#include <migrate/trigger/mec_location.hpp>

#include "mec_subscriptions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace migrate {

namespace {
constexpr const char* where = "mec_location_trigger";

result<void> bad(const char* field, const std::string& why) {
    return make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why));
}
}  // namespace

std::string_view to_string(location_watch w) { return w == location_watch::zonal_traffic ? "zonal_traffic" : "user_tracking"; }

result<void> mec_location_trigger_options::validate() const {
    MIGRATE_TRY(platform.validate());
    MIGRATE_TRY(receiver.validate());
    if (zone_hosts.empty() && access_point_hosts.empty())
        return bad("zone_hosts", "no zone_hosts and no access_point_hosts: no position maps to an edge host");
    for (auto& [z, h] : zone_hosts)
        if (z.empty() || h.empty()) return bad("zone_hosts", fmt::format("'{}' -> '{}': empty zone or host", z, h));
    for (auto& [a, h] : access_point_hosts)
        if (a.empty() || h.empty()) return bad("access_point_hosts", fmt::format("'{}' -> '{}': empty access point or host", a, h));
    if (watch == location_watch::user_tracking && users.empty())
        return bad("users", "user tracking follows the UEs listed here: give at least one address");
    for (auto& u : users)
        if (u.empty()) return bad("users", "an empty address");
    if (duration_s && *duration_s < 0) return bad("duration_s", "must not be negative");
    return {};
}

void to_json(json& j, const mec_location_trigger_options& o) {
    j = json{{"platform", o.platform},
             {"flavour", mec::to_string(o.flavour)},
             {"watch", to_string(o.watch)},
             {"zones", o.zones},
             {"users", o.users},
             {"zone_hosts", o.zone_hosts},
             {"access_point_hosts", o.access_point_hosts},
             {"receiver", o.receiver}};
    if (o.duration_s) j["duration_s"] = *o.duration_s;
}

void from_json(const json& j, mec_location_trigger_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "mec_location_trigger: expected an object"));
    detail::read_field(j, where, "platform", o.platform);
    std::string flavour(mec::to_string(o.flavour));
    detail::read_field(j, where, "flavour", flavour);
    if (flavour == "v2") o.flavour = mec::location_flavour::v2;
    else if (flavour == "v3") o.flavour = mec::location_flavour::v3;
    else throw migration_error(make_failure(error::invalid_argument, fmt::format("{}.flavour: '{}' is not v2 or v3", where, flavour)));
    std::string watch(to_string(o.watch));
    detail::read_field(j, where, "watch", watch);
    if (watch == "zonal_traffic") o.watch = location_watch::zonal_traffic;
    else if (watch == "user_tracking") o.watch = location_watch::user_tracking;
    else throw migration_error(make_failure(error::invalid_argument, fmt::format("{}.watch: '{}' is not zonal_traffic or user_tracking", where, watch)));
    detail::read_field(j, where, "zones", o.zones);
    detail::read_field(j, where, "users", o.users);
    detail::read_field(j, where, "zone_hosts", o.zone_hosts);
    detail::read_field(j, where, "access_point_hosts", o.access_point_hosts);
    if (auto it = j.find("duration_s"); it != j.end() && !it->is_null()) {
        std::int64_t d = 0;
        detail::read_field(j, where, "duration_s", d);
        o.duration_s = d;
    }
    detail::read_field(j, where, "receiver", o.receiver);
}

struct mec_location_trigger::impl {
    mec_location_trigger_options options;
    detail::mec_subscriptions subs;
    std::set<std::string> followed;              // plain addresses; empty = all
    std::map<std::string, std::string> hosts;    // UE -> host (guarded by subs.m)
    counters stats;

    std::string host_at(const std::string& ap, const std::string& zone, bool zone_counts) const {
        if (auto it = options.access_point_hosts.find(ap); it != options.access_point_hosts.end()) return it->second;
        if (!zone_counts) return {};
        if (auto it = options.zone_hosts.find(zone); it != options.zone_hosts.end()) return it->second;
        return {};
    }

    result<void> on_notification(const mec::zonal_presence_notification& n, const json& body, const std::string& subscription) {
        std::lock_guard lk(subs.m);
        ++stats.notifications;
        auto ue = detail::plain_address(n.address);
        if (!followed.empty() && !followed.count(ue)) {
            ++stats.ignored;
            return {};
        }
        bool leaving = n.event == mec::user_event_type::leaving;
        auto to = host_at(n.current_access_point_id, n.zone_id, !leaving);
        auto& now = hosts[ue];
        if (to.empty() || to == now) {
            ++stats.ignored;
            return {};
        }
        migration_decision d;
        d.subject = ue;
        d.from = now.empty() ? host_at(n.previous_access_point_id, {}, false) : now;
        d.to = to;
        d.reason = fmt::format("{} {} {} at access point {} (host {} -> {})", ue,
                               leaving ? "left" : (n.event == mec::user_event_type::entering ? "entered" : "moved within"),
                               n.zone_id, n.current_access_point_id, d.from.empty() ? "?" : d.from, to);
        d.evidence = json{{"zone", n.zone_id},
                          {"access_point", n.current_access_point_id},
                          {"previous_access_point", n.previous_access_point_id},
                          {"event", mec::to_string(n.event)},
                          {"address", n.address},
                          {"subscription", subscription},
                          {"notification", body}};
        now = to;
        if (subs.emit(d)) ++stats.decisions;
        return {};
    }

    /// Where the followed UEs are now; a UE already placed by a notification keeps that.
    result<void> initial_positions(mec::location_client& client, const std::vector<std::string>& zones) {
        std::vector<mec::user_info> found;
        if (!options.users.empty()) {
            // One query for all; matched without the "acr:" scheme, which platforms add or drop.
            // A UE out of coverage is not listed: its host stays unknown.
            mec::user_query q;
            q.addresses = options.users;
            auto r = client.users(q);
            if (!r && r.error_code() == make_error_code(error::not_found)) return {};   // none of them listed
            if (!r) return failure{r.error().code, fmt::format("mec_location: where are the UEs {}: {}", json(options.users).dump(), r.error().message)};
            for (auto& u : *r)
                if (followed.count(detail::plain_address(u.address))) found.push_back(u);
        } else {
            mec::user_query q;
            q.zone_ids = zones;
            auto r = client.users(q);
            if (!r && r.error_code() == make_error_code(error::not_found)) return {};   // nobody listed
            if (!r) return failure{r.error().code, fmt::format("mec_location: users in the watched zones: {}", r.error().message)};
            found = std::move(*r);
        }
        std::lock_guard lk(subs.m);
        for (auto& u : found) {
            auto h = host_at(u.access_point_id, u.zone_id, true);
            auto& now = hosts[detail::plain_address(u.address)];
            if (now.empty()) now = h;
        }
        return {};
    }

    result<void> subscribe_all(mec::location_client& client, std::vector<std::string>& zones) {
        auto on = [this](std::string name) {
            return [this, name](const mec::zonal_presence_notification& n, const json& body) { return on_notification(n, body, name); };
        };
        if (options.watch == location_watch::user_tracking) {
            for (auto& u : options.users) {
                mec::user_tracking_subscription s;
                s.address = u;
                s.client_correlator = "migrate";
                auto name = fmt::format("location {} userTracking {}", mec::to_string(options.flavour), u);
                auto spec = mec::user_tracking_subscription_spec(options.platform, options.flavour, s, on(name));
                MIGRATE_TRY(subs.add(std::move(spec)));
            }
            return {};
        }
        if (zones.empty()) {
            for (auto& [z, h] : options.zone_hosts) zones.push_back(z);
        }
        if (zones.empty()) {
            auto all = client.zones();
            if (!all) return failure{all.error().code, fmt::format("mec_location: listing the platform's zones: {}", all.error().message)};
            for (auto& z : *all) zones.push_back(z.zone_id);
            if (zones.empty()) return make_failure(error::not_found, fmt::format("mec_location: the platform at {} lists no zones", client.api().url("/queries/zones")));
        }
        for (auto& z : zones) {
            mec::zonal_traffic_subscription s;
            s.zone_id = z;
            s.duration_s = options.duration_s;
            s.client_correlator = "migrate";
            auto name = fmt::format("location {} zonalTraffic {}", mec::to_string(options.flavour), z);
            MIGRATE_TRY(subs.add(mec::zonal_traffic_subscription_spec(options.platform, options.flavour, s, on(name))));
        }
        return {};
    }
};

mec_location_trigger::mec_location_trigger(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

mec_location_trigger::~mec_location_trigger() { stop(); }

result<std::unique_ptr<mec_location_trigger>> mec_location_trigger::make(mec_location_trigger_options options,
                                                                         std::shared_ptr<mec::notification_receiver> receiver) {
    MIGRATE_TRY(options.validate());
    auto i = std::make_unique<impl>();
    i->options = std::move(options);
    for (auto& u : i->options.users) i->followed.insert(detail::plain_address(u));
    MIGRATE_TRY(i->subs.init(std::move(receiver), i->options.receiver));
    return std::unique_ptr<mec_location_trigger>(new mec_location_trigger(std::move(i)));
}

result<void> mec_location_trigger::start(decision_handler on_decision) {
    {
        std::lock_guard lk(impl_->subs.m);
        MIGRATE_TRY(impl_->subs.begin(name(), std::move(on_decision)));
    }
    mec::location_client client(impl_->options.platform, impl_->options.flavour);
    std::vector<std::string> zones = impl_->options.zones;
    // Subscribed first, then asked: a move in between is told by a notification, and the
    // answer does not overwrite what a notification said.
    auto r = impl_->subscribe_all(client, zones);
    if (r) r = impl_->initial_positions(client, zones);
    if (!r) {
        stop();
        return r;
    }
    return {};
}

void mec_location_trigger::stop() noexcept {
    impl_->subs.remove_all();
    std::lock_guard lk(impl_->subs.m);
    impl_->subs.end();
}

std::optional<std::string> mec_location_trigger::host_of(std::string_view ue) const {
    std::lock_guard lk(impl_->subs.m);
    auto it = impl_->hosts.find(detail::plain_address(ue));
    if (it == impl_->hosts.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

const mec_location_trigger_options& mec_location_trigger::options() const noexcept { return impl_->options; }

std::shared_ptr<mec::notification_receiver> mec_location_trigger::receiver() const { return impl_->subs.receiver(); }

mec_location_trigger::counters mec_location_trigger::stats() const {
    std::lock_guard lk(impl_->subs.m);
    return impl_->stats;
}

}  // namespace migrate
