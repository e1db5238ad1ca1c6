// The `mec_rnis` trigger (include/migrate/trigger/mec_rnis.hpp).
#include <migrate/trigger/mec_rnis.hpp>

#include "mec_subscriptions.hpp"

#include <fmt/format.h>

namespace migrate {

namespace {
constexpr const char* where = "mec_rnis_trigger";

result<void> bad(const char* field, const std::string& why) {
    return make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why));
}

[[noreturn]] void throw_bad(const std::string& field, const std::string& why) {
    throw migration_error(make_failure(error::invalid_argument, fmt::format("{}.{}: {}", where, field, why)));
}
}  // namespace

result<void> mec_rnis_trigger_options::validate() const {
    MIGRATE_TRY(platform.validate());
    MIGRATE_TRY(receiver.validate());
    if (app_instance_id.empty()) return bad("app_instance_id", "required (MEC012 filterCriteriaAssocHo.appInstanceId)");
    if (cell_hosts.empty()) return bad("cell_hosts", "no cell maps to an edge host");
    for (auto& [c, h] : cell_hosts)
        if (c.empty() || h.empty()) return bad("cell_hosts", fmt::format("'{}' -> '{}': empty cell or host", c, h));
    for (auto& d : devices)
        if (d.value.empty()) return bad("devices", "an AssociateId with an empty value");
    if (lifetime && lifetime->count() <= 0) return bad("lifetime_s", "must be positive");
    return {};
}

void to_json(json& j, const mec_rnis_trigger_options& o) {
    json devices = json::array();
    for (auto& d : o.devices) devices.push_back({{"type", d.type}, {"value", d.value}});
    json cells = json::array();
    for (auto& c : o.cells) cells.push_back({{"cellId", c.cell_id}, {"mcc", c.mcc}, {"mnc", c.mnc}});
    j = json{{"platform", o.platform}, {"app_instance_id", o.app_instance_id}, {"devices", devices}, {"cells", cells},
             {"cell_hosts", o.cell_hosts}, {"initial_query", o.initial_query}, {"receiver", o.receiver}};
    if (o.lifetime) j["lifetime_s"] = o.lifetime->count();
}

void from_json(const json& j, mec_rnis_trigger_options& o) {
    if (!j.is_object()) throw_bad("", "expected an object");
    detail::read_field(j, where, "platform", o.platform);
    detail::read_field(j, where, "app_instance_id", o.app_instance_id);
    if (auto it = j.find("devices"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) throw_bad("devices", "expected a list");
        for (auto& d : *it) {
            // "10.100.0.1" (UE_IPv4_ADDRESS) or {"type": 1, "value": "10.100.0.1"}
            if (d.is_string()) o.devices.push_back({1, d.get<std::string>()});
            else if (d.is_object() && d.contains("value") && d["value"].is_string())
                o.devices.push_back({d.value("type", std::int64_t{1}), d["value"].get<std::string>()});
            else throw_bad("devices", "expected \"address\" or {\"type\": 1, \"value\": \"address\"}");
        }
    }
    if (auto it = j.find("cells"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) throw_bad("cells", "expected a list");
        for (auto& c : *it) {
            if (!c.is_object() || !c.contains("cellId")) throw_bad("cells", "expected {\"cellId\", \"mcc\", \"mnc\"}");
            o.cells.push_back({c["cellId"].get<std::string>(), c.value("mcc", ""), c.value("mnc", "")});
        }
    }
    detail::read_field(j, where, "cell_hosts", o.cell_hosts);
    if (auto it = j.find("lifetime_s"); it != j.end() && !it->is_null()) {
        std::int64_t s = 0;
        detail::read_field(j, where, "lifetime_s", s);
        o.lifetime = std::chrono::seconds(s);
    }
    detail::read_field(j, where, "initial_query", o.initial_query);
    detail::read_field(j, where, "receiver", o.receiver);
}

struct mec_rnis_trigger::impl {
    struct ue {
        std::string host;
        bool pending = false;          // decided early, not completed yet
        std::string pending_source, pending_target;
    };
    mec_rnis_trigger_options options;
    detail::mec_subscriptions subs;
    std::map<std::string, ue> ues;
    counters stats;

    std::string host_of_cell(const std::string& cell) const {
        auto it = options.cell_hosts.find(cell);
        return it == options.cell_hosts.end() ? std::string{} : it->second;
    }

    void decide(const std::string& subject, const std::string& from, const std::string& to, std::string reason,
                const mec::cell_change_notification& n, const json& body) {
        migration_decision d;
        d.subject = subject;
        d.from = from;
        d.to = to;
        d.reason = std::move(reason);
        json targets = json::array();
        for (auto& t : n.targets) targets.push_back(t.cell_id);
        d.evidence = json{{"ho_status", mec::to_string(n.status)},
                          {"source_cell", n.source.cell_id},
                          {"target_cells", targets},
                          {"notification", body}};
        if (subs.emit(d)) ++stats.decisions;
    }

    result<void> on_notification(const mec::cell_change_notification& n, const json& body) {
        std::lock_guard lk(subs.m);
        ++stats.notifications;
        std::string target_cell, to;
        for (auto& t : n.targets)
            if (auto h = host_of_cell(t.cell_id); !h.empty()) {
                target_cell = t.cell_id;
                to = h;
                break;
            }
        auto source_host = host_of_cell(n.source.cell_id);
        for (auto& dev : n.devices) {
            auto& st = ues[dev.value];
            if (st.host.empty()) st.host = source_host;
            switch (n.status) {
                case mec::ho_status::in_preparation:
                case mec::ho_status::in_execution:
                case mec::ho_status::completed: {
                    bool early = n.status != mec::ho_status::completed;
                    if (to.empty()) {
                        ++stats.ignored;
                        break;
                    }
                    if (st.pending && st.pending_target == to && st.host == to) {
                        ++stats.confirmed;   // the same handover, decided already
                        if (!early) st.pending = false;
                        break;
                    }
                    if (to == st.host) {
                        ++stats.ignored;
                        break;
                    }
                    auto from = st.host;
                    st.pending = early;
                    st.pending_source = from;
                    st.pending_target = to;
                    st.host = to;
                    if (early) ++stats.early;
                    decide(dev.value, from, to,
                           fmt::format("{}: handover from cell {} to cell {} {}{} (host {} -> {})", dev.value, n.source.cell_id,
                                       target_cell, mec::to_string(n.status),
                                       early ? ", early warning: not on the new cell yet" : "", from.empty() ? "?" : from, to),
                           n, body);
                    break;
                }
                case mec::ho_status::rejected:
                case mec::ho_status::cancelled: {
                    if (!st.pending || st.pending_source.empty()) {
                        st.pending = false;
                        ++stats.ignored;
                        break;
                    }
                    auto back = st.pending_source, from = st.host;
                    st.pending = false;
                    st.host = back;
                    ++stats.undone;
                    decide(dev.value, from, back,
                           fmt::format("{}: handover to cell {} {} after its early warning; back to host {}", dev.value,
                                       n.targets.empty() ? std::string("?") : n.targets.front().cell_id, mec::to_string(n.status), back),
                           n, body);
                    break;
                }
            }
        }
        return {};
    }

    result<void> initial_positions() {
        mec::rnis_client client(options.platform);
        auto rab = client.rab(options.app_instance_id);
        if (!rab) {
            // Not every platform serves rab_info; the notifications' source cells tell then.
            if (rab.error_code() == make_error_code(error::not_found) || rab.error_code() == make_error_code(error::unsupported)) return {};
            return failure{rab.error().code, fmt::format("mec_rnis: where are the UEs (rab_info for '{}'): {}", options.app_instance_id, rab.error().message)};
        }
        std::lock_guard lk(subs.m);
        for (auto& u : rab->users)
            for (auto& d : u.devices)
                if (auto& st = ues[d.value]; st.host.empty()) st.host = host_of_cell(u.cell.cell_id);
        return {};
    }
};

mec_rnis_trigger::mec_rnis_trigger(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

mec_rnis_trigger::~mec_rnis_trigger() { stop(); }

result<std::unique_ptr<mec_rnis_trigger>> mec_rnis_trigger::make(mec_rnis_trigger_options options,
                                                                 std::shared_ptr<mec::notification_receiver> receiver) {
    MIGRATE_TRY(options.validate());
    auto i = std::make_unique<impl>();
    i->options = std::move(options);
    MIGRATE_TRY(i->subs.init(std::move(receiver), i->options.receiver));
    return std::unique_ptr<mec_rnis_trigger>(new mec_rnis_trigger(std::move(i)));
}

result<void> mec_rnis_trigger::start(decision_handler on_decision) {
    {
        std::lock_guard lk(impl_->subs.m);
        MIGRATE_TRY(impl_->subs.begin(name(), std::move(on_decision)));
    }
    mec::cell_change_subscription s;
    s.app_instance_id = impl_->options.app_instance_id;
    s.devices = impl_->options.devices;
    s.cells = impl_->options.cells;
    // Every status, asked for explicitly: without a hoStatus filter a platform may send
    // COMPLETED only (the emulator does, reading the spec's default so), and the early
    // warning would never come.
    s.statuses = {mec::ho_status::in_preparation, mec::ho_status::in_execution, mec::ho_status::completed,
                  mec::ho_status::rejected, mec::ho_status::cancelled};
    auto* i = impl_.get();
    auto r = impl_->subs.add(mec::cell_change_subscription_spec(
        impl_->options.platform, s, impl_->options.lifetime,
        [i](const mec::cell_change_notification& n, const json& body) { return i->on_notification(n, body); }));
    if (r && impl_->options.initial_query) r = impl_->initial_positions();
    if (!r) {
        stop();
        return r;
    }
    return {};
}

void mec_rnis_trigger::stop() noexcept {
    impl_->subs.remove_all();
    std::lock_guard lk(impl_->subs.m);
    impl_->subs.end();
}

std::optional<std::string> mec_rnis_trigger::host_of(std::string_view ue) const {
    std::lock_guard lk(impl_->subs.m);
    auto it = impl_->ues.find(std::string(ue));
    if (it == impl_->ues.end() || it->second.host.empty()) return std::nullopt;
    return it->second.host;
}

std::shared_ptr<mec::notification_receiver> mec_rnis_trigger::receiver() const { return impl_->subs.receiver(); }

mec_rnis_trigger::counters mec_rnis_trigger::stats() const {
    std::lock_guard lk(impl_->subs.m);
    return impl_->stats;
}

}  // namespace migrate
