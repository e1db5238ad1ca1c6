// The `openflow` route switch (include/migrate/route/openflow.hpp).
#include <migrate/openflow/connection.hpp>
#include <migrate/openflow/message.hpp>
#include <migrate/route/openflow.hpp>

#include <fmt/format.h>

#include <thread>

namespace migrate::route {

namespace of = migrate::openflow;

namespace {
constexpr const char* where = "openflow_route";

}  // namespace

void to_json(json& j, const openflow_host_link& l) { j = json{{"port", l.port}, {"mac", l.mac}}; }

void from_json(const json& j, openflow_host_link& l) {
    detail::read_field(j, "openflow_route.hosts[]", "port", l.port);
    detail::read_field(j, "openflow_route.hosts[]", "mac", l.mac);
}

void to_json(json& j, const openflow_route_options& o) {
    j = json{{"service_address", o.service_address},
             {"service_mac", o.service_mac},
             {"ip_proto", o.ip_proto},
             {"service_port", o.service_port},
             {"hosts", o.hosts},
             {"priority", o.priority},
             {"cookie", o.cookie},
             {"drain_ms", o.drain.count()},
             {"barrier_timeout_ms", o.barrier_timeout.count()}};
}

void from_json(const json& j, openflow_route_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "openflow_route: expected an object"));
    detail::read_field(j, where, "service_address", o.service_address);
    detail::read_field(j, where, "service_mac", o.service_mac);
    detail::read_field(j, where, "ip_proto", o.ip_proto);
    detail::read_field(j, where, "service_port", o.service_port);
    detail::read_field(j, where, "hosts", o.hosts);
    detail::read_field(j, where, "priority", o.priority);
    detail::read_field(j, where, "cookie", o.cookie);
    std::int64_t drain = o.drain.count(), barrier = o.barrier_timeout.count();
    detail::read_field(j, where, "drain_ms", drain);
    detail::read_field(j, where, "barrier_timeout_ms", barrier);
    o.drain = std::chrono::milliseconds{drain};
    o.barrier_timeout = std::chrono::milliseconds{barrier};
}

result<void> openflow_route_options::validate() const {
    if (auto a = of::ipv4_address::parse(service_address); !a)
        return make_failure(error::invalid_argument, fmt::format("openflow_route.service_address: {}", a.error().message));
    if (auto m = of::mac_address::parse(service_mac); !m)
        return make_failure(error::invalid_argument, fmt::format("openflow_route.service_mac: {}", m.error().message));
    if (ip_proto != 0 && ip_proto != of::ip_proto::udp && ip_proto != of::ip_proto::tcp && service_port != 0)
        return make_failure(error::invalid_argument,
                            fmt::format("openflow_route.service_port: a port needs ip_proto 17 (UDP) or 6 (TCP), not {}", ip_proto));
    if (service_port != 0 && ip_proto == 0)
        return make_failure(error::invalid_argument, "openflow_route.service_port: a port needs ip_proto 17 (UDP) or 6 (TCP)");
    if (hosts.empty()) return make_failure(error::invalid_argument, "openflow_route.hosts: no edge host given");
    for (auto& [name, link] : hosts) {
        if (name.empty()) return make_failure(error::invalid_argument, "openflow_route.hosts: an empty host name");
        if (link.port == 0 || link.port > of::port::max)
            return make_failure(error::invalid_argument,
                                fmt::format("openflow_route.hosts.{}.port: {} is not a switch port", name, link.port));
        if (auto m = of::mac_address::parse(link.mac); !m)
            return make_failure(error::invalid_argument, fmt::format("openflow_route.hosts.{}.mac: {}", name, m.error().message));
    }
    if (priority == 0) return make_failure(error::invalid_argument, "openflow_route.priority: 0 is the table-miss's");
    if (barrier_timeout.count() <= 0) return make_failure(error::invalid_argument, "openflow_route.barrier_timeout_ms: must be positive");
    if (drain.count() < 0) return make_failure(error::invalid_argument, "openflow_route.drain_ms: must not be negative");
    return {};
}

openflow_route_switch::openflow_route_switch(std::shared_ptr<of::switch_connection> sw, openflow_route_options o)
    : sw_(std::move(sw)), options_(std::move(o)) {}

result<std::unique_ptr<openflow_route_switch>> openflow_route_switch::make(std::shared_ptr<of::switch_connection> sw,
                                                                           openflow_route_options options) {
    if (!sw) return make_failure(error::invalid_argument, "openflow_route: no switch connection");
    if (auto v = options.validate(); !v) return v.error();
    return std::unique_ptr<openflow_route_switch>(new openflow_route_switch(std::move(sw), std::move(options)));
}

namespace {

// A set_field action rewriting `Field` (designated initialisers would name the other,
// absent fields too, to please -Wextra).
template <auto Field, class V>
of::set_field rewrite(V value) {
    of::set_field f;
    f.*Field = value;
    return f;
}

// The rules of one device, built from the options and the route change.
class rule_maker {
public:
    rule_maker(const openflow_route_options& o, const std::string& device) : o_(o) {
        service_address_ = of::ipv4_address::parse(o.service_address).value();
        service_mac_ = of::mac_address::parse(o.service_mac).value();
        auto d = of::mac_address::parse(device);
        if (d) device_ = *d;
        else device_error_ = d.error().message;
    }
    result<void> check_device() const {
        if (device_error_.empty()) return {};
        return make_failure(error::invalid_argument, fmt::format("openflow_route: route_change.subject must be the device's MAC: {}",
                                                                 device_error_));
    }

    result<const openflow_host_link*> link(const service_instance& i) const {
        auto it = o_.hosts.find(i.host);
        if (it == o_.hosts.end())
            return make_failure(error::invalid_argument,
                                fmt::format("openflow_route: instance '{}' is on host '{}', which the switch has no link to", i.id,
                                            i.host));
        return &it->second;
    }

    // Device -> instance, from the device's port.
    result<of::flow_mod> uplink(std::uint32_t device_port, const service_instance& to, of::flow_command cmd) const {
        auto l = link(to);
        if (!l) return l.error();
        auto addr = of::ipv4_address::parse(to.address);
        if (!addr)
            return make_failure(error::invalid_argument, fmt::format("openflow_route: instance '{}' address: {}", to.id, addr.error().message));
        of::flow_mod m = base(cmd);
        m.match.in_port = device_port;
        m.match.eth_src = device_;
        m.match.eth_type = of::eth_type::ipv4;
        m.match.ipv4_dst = service_address_;
        protocol_match(m.match, /*destination=*/true);
        m.actions.push_back(rewrite<&of::set_field::eth_dst>(of::mac_address::parse((*l)->mac).value()));
        m.actions.push_back(rewrite<&of::set_field::ipv4_dst>(*addr));
        if (o_.service_port != 0 && to.port != 0 && to.port != o_.service_port) port_rewrite(m, to.port, /*destination=*/true);
        m.actions.push_back(of::output{(*l)->port});
        return m;
    }
    // Only the match of the uplink (for removes).
    of::flow_mod uplink_match(std::uint32_t device_port, of::flow_command cmd) const {
        of::flow_mod m = base(cmd);
        m.match.in_port = device_port;
        m.match.eth_src = device_;
        m.match.eth_type = of::eth_type::ipv4;
        m.match.ipv4_dst = service_address_;
        protocol_match(m.match, true);
        return m;
    }

    // Instance -> device, out of the device's port.
    result<of::flow_mod> downlink(const service_instance& from, std::uint32_t device_port, of::flow_command cmd) const {
        auto m = downlink_match(from, cmd);
        if (!m) return m;
        m->actions.push_back(rewrite<&of::set_field::eth_src>(service_mac_));
        m->actions.push_back(rewrite<&of::set_field::ipv4_src>(service_address_));
        if (o_.service_port != 0 && from.port != 0 && from.port != o_.service_port) port_rewrite(*m, o_.service_port, false);
        m->actions.push_back(of::output{device_port});
        return m;
    }
    result<of::flow_mod> downlink_match(const service_instance& from, of::flow_command cmd) const {
        auto l = link(from);
        if (!l) return l.error();
        auto addr = of::ipv4_address::parse(from.address);
        if (!addr)
            return make_failure(error::invalid_argument,
                                fmt::format("openflow_route: instance '{}' address: {}", from.id, addr.error().message));
        of::flow_mod m = base(cmd);
        m.match.in_port = (*l)->port;
        m.match.eth_dst = device_;
        m.match.eth_type = of::eth_type::ipv4;
        m.match.ipv4_src = *addr;
        if (o_.ip_proto != 0) {
            m.match.ip_proto = o_.ip_proto;
            std::uint16_t p = from.port != 0 ? from.port : o_.service_port;
            if (p != 0) {
                if (o_.ip_proto == of::ip_proto::udp) m.match.udp_src = p;
                else m.match.tcp_src = p;
            }
        }
        return m;
    }

private:
    of::flow_mod base(of::flow_command cmd) const {
        of::flow_mod m;
        m.command = cmd;
        m.priority = o_.priority;
        m.cookie = o_.cookie;
        return m;
    }
    void protocol_match(of::match& m, bool destination) const {
        if (o_.ip_proto == 0) return;
        m.ip_proto = o_.ip_proto;
        if (o_.service_port == 0) return;
        bool udp = o_.ip_proto == of::ip_proto::udp;
        if (destination) (udp ? m.udp_dst : m.tcp_dst) = o_.service_port;
        else (udp ? m.udp_src : m.tcp_src) = o_.service_port;
    }
    void port_rewrite(of::flow_mod& m, std::uint16_t port, bool destination) const {
        bool udp = o_.ip_proto == of::ip_proto::udp;
        of::set_field f;
        if (destination) (udp ? f.udp_dst : f.tcp_dst) = port;
        else (udp ? f.udp_src : f.tcp_src) = port;
        m.actions.push_back(f);
    }

    const openflow_route_options& o_;
    of::ipv4_address service_address_;
    of::mac_address service_mac_;
    of::mac_address device_;
    std::string device_error_;
};

result<std::uint32_t> attachment_port(const route_change& c, const char* key) {
    auto it = c.attachment.find(key);
    // Any integer: JSON from Python stores its ints signed.
    if (it == c.attachment.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0 ||
        it->get<std::int64_t>() > of::port::max)
        return make_failure(error::invalid_argument,
                            fmt::format("openflow_route: route_change.attachment.{} must be the device's switch port, got {}", key,
                                        it == c.attachment.end() ? std::string("nothing") : it->dump()));
    return it->get<std::uint32_t>();
}

// The port the device was on before this change: the one our last commit left in `state`,
// else `attachment.previous_port`, else the new port (the device did not move).
std::uint32_t previous_port(const route_change& c, std::uint32_t now) {
    if (auto it = c.state.find("port"); it != c.state.end() && it->is_number_integer()) return it->get<std::uint32_t>();
    if (auto it = c.attachment.find("previous_port"); it != c.attachment.end() && it->is_number_integer())
        return it->get<std::uint32_t>();
    return now;
}

template <class T>
result<void> collect(std::vector<of::flow_mod>& out, result<T>&& m) {
    if (!m) return m.error();
    out.push_back(std::move(*m));
    return {};
}

}  // namespace

result<void> openflow_route_switch::prepare(route_change& c) {
    if (auto e = finish_cleanup(c.subject)) c.state["cleanup_error"] = *e;
    rule_maker rules{options_, c.subject};
    MIGRATE_TRY(rules.check_device());
    auto now = attachment_port(c, "port");
    if (!now) return now.error();
    std::uint32_t before = previous_port(c, *now);
    c.state["previous_port"] = before;
    c.state["port"] = before;   // until commit: the old port's uplink is still ours to remove
    if (c.from.empty() || before == *now) {
        c.prepared = true;      // nothing to bridge: a first route, or the device did not move
        return {};
    }
    // The bridge: the device's new port to the OLD instance, and its replies out of the new port.
    std::vector<of::flow_mod> mods;
    MIGRATE_TRY(collect(mods, rules.uplink(*now, c.from, of::flow_command::add)));
    MIGRATE_TRY(collect(mods, rules.downlink(c.from, *now, of::flow_command::add)));
    if (auto r = sw_->apply(mods, options_.barrier_timeout); !r)
        return make_failure(static_cast<error>(r.error_code().value()),
                            fmt::format("openflow_route: backup route for {} (port {} -> instance {}): {}", c.subject, *now,
                                        c.from.id, r.error().message));
    c.state["bridge"] = true;
    c.prepared = true;
    return {};
}

result<void> openflow_route_switch::commit(route_change& c) {
    if (auto e = finish_cleanup(c.subject)) c.state["cleanup_error"] = *e;
    rule_maker rules{options_, c.subject};
    MIGRATE_TRY(rules.check_device());
    auto now = attachment_port(c, "port");
    if (!now) return now.error();
    if (c.to.empty()) return make_failure(error::invalid_argument, "openflow_route: commit without a target instance (route_change.to)");
    std::uint32_t before = c.state.contains("previous_port") ? c.state["previous_port"].get<std::uint32_t>()
                                                              : previous_port(c, *now);
    // Make: the new instance's replies first, then the device's packets to it. `add` on an
    // existing identical match replaces its actions (OpenFlow 1.3 6.4), so one command
    // serves a first route, a bridged port and a device that did not move.
    std::vector<of::flow_mod> make;
    MIGRATE_TRY(collect(make, rules.downlink(c.to, *now, of::flow_command::add)));
    MIGRATE_TRY(collect(make, rules.uplink(*now, c.to, of::flow_command::add)));
    if (auto r = sw_->apply(make, options_.barrier_timeout); !r)
        return make_failure(static_cast<error>(r.error_code().value()),
                            fmt::format("openflow_route: new route for {} (port {} -> instance {} on {}): {}", c.subject, *now,
                                        c.to.id, c.to.host, r.error().message));
    c.committed = true;
    c.state["port"] = *now;
    // Break: what led to the old instance, once the replies it still owes had time to pass.
    std::vector<of::flow_mod> brk;
    if (!c.from.empty() && !(c.from.host == c.to.host && c.from.address == c.to.address)) {
        MIGRATE_TRY(collect(brk, rules.downlink_match(c.from, of::flow_command::remove_strict)));
    }
    if (before != *now) brk.push_back(rules.uplink_match(before, of::flow_command::remove_strict));
    if (!brk.empty()) {
        // The break, off the caller's path: it waits `drain` for the replies the old
        // instance still owes. A failure only leaves stale rules toward an instance that
        // no longer serves (table space); it is reported at the subject's next call.
        std::lock_guard lk(cleanup_mu_);
        cleanups_[c.subject] = std::jthread([this, subject = c.subject, brk = std::move(brk)] {
            if (options_.drain.count() > 0) std::this_thread::sleep_for(options_.drain);
            if (auto r = sw_->apply(brk, options_.barrier_timeout); !r) {
                std::lock_guard lk2(cleanup_mu_);
                cleanup_errors_[subject] = r.error().what();
            }
        });
    }
    return {};
}

std::optional<std::string> openflow_route_switch::finish_cleanup(const std::string& subject) {
    std::jthread pending;
    {
        std::lock_guard lk(cleanup_mu_);
        auto it = cleanups_.find(subject);
        if (it != cleanups_.end()) {
            pending = std::move(it->second);
            cleanups_.erase(it);
        }
    }
    if (pending.joinable()) pending.join();
    std::lock_guard lk(cleanup_mu_);
    auto e = cleanup_errors_.find(subject);
    if (e == cleanup_errors_.end()) return std::nullopt;
    auto msg = std::move(e->second);
    cleanup_errors_.erase(e);
    return msg;
}

openflow_route_switch::~openflow_route_switch() {
    std::map<std::string, std::jthread> pending;
    {
        std::lock_guard lk(cleanup_mu_);
        pending.swap(cleanups_);
    }
    // jthreads join as `pending` goes.
}

void openflow_route_switch::rollback(route_change& c) noexcept {
    try {
        if (auto e = finish_cleanup(c.subject)) c.state["cleanup_error"] = *e;
        rule_maker rules{options_, c.subject};
        if (!rules.check_device()) return;
        auto now = attachment_port(c, "port");
        if (!now || c.from.empty()) return;
        json errors = json::array();
        std::vector<of::flow_mod> mods;
        // The old instance serves the device where it is now (the bridge, or its old route).
        if (auto d = rules.downlink(c.from, *now, of::flow_command::add)) mods.push_back(std::move(*d));
        if (auto u = rules.uplink(*now, c.from, of::flow_command::add)) mods.push_back(std::move(*u));
        if (!c.to.empty() && !(c.from.host == c.to.host && c.from.address == c.to.address))
            if (auto d = rules.downlink_match(c.to, of::flow_command::remove_strict)) mods.push_back(std::move(*d));
        if (auto r = sw_->apply(mods, options_.barrier_timeout); !r) errors.push_back(r.error().what());
        c.state["port"] = *now;
        c.committed = false;
        if (!errors.empty()) c.state["rollback_errors"] = errors;
    } catch (const std::exception& e) {
        c.state["rollback_errors"].push_back(e.what());
    }
}

}  // namespace migrate::route
