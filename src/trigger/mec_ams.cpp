// The `mec_ams` trigger (include/migrate/trigger/mec_ams.hpp).
#include <migrate/trigger/mec_ams.hpp>

#include "mec_subscriptions.hpp"

#include <fmt/format.h>

namespace migrate {

namespace {
constexpr const char* where = "mec_ams_trigger";

result<void> bad(const char* field, const std::string& why) {
    return make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why));
}
}  // namespace

result<void> mec_ams_trigger_options::validate() const {
    MIGRATE_TRY(platform.validate());
    MIGRATE_TRY(receiver.validate());
    if (app_instance_id.empty()) return bad("app_instance_id", "required: the source app instance whose UEs move out");
    if (app_instance_hosts.empty()) return bad("app_instance_hosts", "no app instance maps to an edge host");
    for (auto& [a, h] : app_instance_hosts)
        if (a.empty() || h.empty()) return bad("app_instance_hosts", fmt::format("'{}' -> '{}': empty app instance or host", a, h));
    for (auto& d : devices)
        if (d.value.empty()) return bad("devices", "an AssociateId with an empty value");
    if (lifetime && lifetime->count() <= 0) return bad("lifetime_s", "must be positive");
    if (register_devices && devices.empty()) return bad("devices", "register_devices needs the devices to register");
    return {};
}

void to_json(json& j, const mec_ams_trigger_options& o) {
    json devices = json::array();
    for (auto& d : o.devices) devices.push_back({{"type", d.type}, {"value", d.value}});
    j = json{{"platform", o.platform}, {"app_instance_id", o.app_instance_id}, {"devices", devices},
             {"app_instance_hosts", o.app_instance_hosts}, {"register_devices", o.register_devices}, {"receiver", o.receiver}};
    if (o.lifetime) j["lifetime_s"] = o.lifetime->count();
}

void from_json(const json& j, mec_ams_trigger_options& o) {
    auto fail = [](const std::string& field, const std::string& why) {
        throw migration_error(make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why)));
    };
    if (!j.is_object()) fail("", "expected an object");
    detail::read_field(j, where, "platform", o.platform);
    detail::read_field(j, where, "app_instance_id", o.app_instance_id);
    if (auto it = j.find("devices"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) fail("devices", "expected a list");
        for (auto& d : *it) {
            // "10.100.0.1" (UE_IPv4_ADDRESS) or {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}
            if (d.is_string()) o.devices.push_back({"UE_IPv4_ADDRESS", d.get<std::string>()});
            else if (d.is_object() && d.contains("value") && d["value"].is_string())
                o.devices.push_back({d.value("type", std::string("UE_IPv4_ADDRESS")), d["value"].get<std::string>()});
            else fail("devices", "expected \"address\" or {\"type\": \"UE_IPv4_ADDRESS\", \"value\": \"address\"}");
        }
    }
    detail::read_field(j, where, "app_instance_hosts", o.app_instance_hosts);
    if (auto it = j.find("lifetime_s"); it != j.end() && !it->is_null()) {
        std::int64_t s = 0;
        detail::read_field(j, where, "lifetime_s", s);
        o.lifetime = std::chrono::seconds(s);
    }
    detail::read_field(j, where, "register_devices", o.register_devices);
    detail::read_field(j, where, "receiver", o.receiver);
}

struct mec_ams_trigger::impl {
    mec_ams_trigger_options options;
    detail::mec_subscriptions subs;
    std::map<std::string, std::string> hosts;   // UE -> host after our last decision
    counters stats;
    std::string registration_id;                // ours, when register_devices

    result<void> register_devices() {
        mec::ams_client ams(options.platform);
        mec::registration_info r;
        r.app_instance_id = options.app_instance_id;
        for (auto& d : options.devices)
            r.devices.push_back({d, mec::app_mobility_service_level::with_confirmation, mec::context_transfer_state::not_transferred});
        auto got = ams.register_app(r);
        if (!got) return failure{got.error().code, fmt::format("mec_ams: registering app instance '{}' with its {} device(s) at {}: {}",
                                                               options.app_instance_id, options.devices.size(),
                                                               ams.api().url("/app_mobility_services"), got.error().message)};
        registration_id = got->app_mobility_service_id;
        return {};
    }

    void deregister() noexcept {
        if (registration_id.empty()) return;
        mec::ams_client ams(options.platform);
        (void)ams.deregister(registration_id);
        registration_id.clear();
    }

    std::string host_of_instance(const std::string& id) const {
        auto it = options.app_instance_hosts.find(id);
        return it == options.app_instance_hosts.end() ? std::string{} : it->second;
    }

    result<void> on_notification(const mec::mobility_procedure_notification& n, const json& body) {
        std::lock_guard lk(subs.m);
        ++stats.notifications;
        if (n.status == mec::mobility_status::interhost_moveout_completed) {
            ++stats.completed;
            return {};
        }
        if (n.status == mec::mobility_status::interhost_moveout_failed) {
            ++stats.failed;
            return {};
        }
        if (!n.target) {
            // TRIGGERED without targetAppInfo: the spec makes it optional, we cannot tell where to.
            ++stats.ignored;
            return {};
        }
        auto to = host_of_instance(n.target->app_instance_id);
        for (auto& dev : n.devices) {
            auto& now = hosts[dev.value];
            if (now.empty()) now = host_of_instance(options.app_instance_id);
            if (to.empty() || to == now) {
                ++stats.ignored;
                continue;
            }
            migration_decision d;
            d.subject = dev.value;
            d.from = now;
            d.to = to;
            d.reason = fmt::format("{}: the AMS moves it out of app instance {} to {} (host {} -> {})", dev.value,
                                   options.app_instance_id, n.target->app_instance_id, now.empty() ? "?" : now, to);
            json endpoints = json::array();
            for (auto& e : n.target->endpoints) endpoints.push_back({{"host", e.host}, {"port", e.port}});
            d.evidence = json{{"mobility_status", mec::to_string(n.status)},
                              {"associate_id", {{"type", dev.type}, {"value", dev.value}}},
                              {"target_app_instance_id", n.target->app_instance_id},
                              {"target_endpoints", endpoints},
                              {"notification", body}};
            now = to;
            if (subs.emit(d)) ++stats.decisions;
        }
        return {};
    }
};

mec_ams_trigger::mec_ams_trigger(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

mec_ams_trigger::~mec_ams_trigger() { stop(); }

result<std::unique_ptr<mec_ams_trigger>> mec_ams_trigger::make(mec_ams_trigger_options options,
                                                               std::shared_ptr<mec::notification_receiver> receiver) {
    MIGRATE_TRY(options.validate());
    auto i = std::make_unique<impl>();
    i->options = std::move(options);
    MIGRATE_TRY(i->subs.init(std::move(receiver), i->options.receiver));
    return std::unique_ptr<mec_ams_trigger>(new mec_ams_trigger(std::move(i)));
}

result<void> mec_ams_trigger::start(decision_handler on_decision) {
    {
        std::lock_guard lk(impl_->subs.m);
        MIGRATE_TRY(impl_->subs.begin(name(), std::move(on_decision)));
    }
    mec::mobility_procedure_subscription s;
    s.app_instance_id = impl_->options.app_instance_id;
    s.devices = impl_->options.devices;
    s.statuses = {mec::mobility_status::interhost_moveout_triggered, mec::mobility_status::interhost_moveout_completed,
                  mec::mobility_status::interhost_moveout_failed};
    auto* i = impl_.get();
    result<void> r;
    if (impl_->options.register_devices) r = impl_->register_devices();
    if (r) r = impl_->subs.add(mec::mobility_procedure_subscription_spec(
        impl_->options.platform, s, impl_->options.lifetime,
        [i](const mec::mobility_procedure_notification& n, const json& body) { return i->on_notification(n, body); }));
    if (!r) {
        stop();
        return r;
    }
    return {};
}

void mec_ams_trigger::stop() noexcept {
    impl_->subs.remove_all();
    impl_->deregister();
    std::lock_guard lk(impl_->subs.m);
    impl_->subs.end();
}

std::optional<std::string> mec_ams_trigger::host_of(std::string_view ue) const {
    std::lock_guard lk(impl_->subs.m);
    auto it = impl_->hosts.find(std::string(ue));
    if (it == impl_->hosts.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

std::shared_ptr<mec::notification_receiver> mec_ams_trigger::receiver() const { return impl_->subs.receiver(); }

mec_ams_trigger::counters mec_ams_trigger::stats() const {
    std::lock_guard lk(impl_->subs.m);
    return impl_->stats;
}

}  // namespace migrate
