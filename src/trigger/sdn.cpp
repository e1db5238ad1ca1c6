// The `sdn` trigger (include/migrate/trigger/sdn.hpp).
#include <migrate/openflow/connection.hpp>
#include <migrate/openflow/message.hpp>
#include <migrate/trigger/sdn.hpp>

#include <fmt/format.h>

#include <deque>

namespace migrate {

namespace of = migrate::openflow;

namespace {

constexpr const char* where = "sdn_trigger";

struct subnet {
    std::uint32_t network = 0;
    std::uint32_t mask = 0;
    std::string host;
    bool contains(of::ipv4_address a) const noexcept { return (a.value & mask) == network; }
};

result<subnet> parse_subnet(const std::string& cidr, const std::string& host) {
    auto bad = [&](std::string why) {
        return make_failure(error::invalid_argument, fmt::format("sdn_trigger.subnet_hosts.{}: {}", cidr, why));
    };
    auto slash = cidr.find('/');
    if (slash == std::string::npos) return bad("expected a.b.c.d/len");
    auto addr = of::ipv4_address::parse(cidr.substr(0, slash));
    if (!addr) return bad(addr.error().message);
    int len = -1;
    try {
        std::size_t used = 0;
        len = std::stoi(cidr.substr(slash + 1), &used);
        if (used != cidr.size() - slash - 1) len = -1;
    } catch (const std::exception&) {
        len = -1;
    }
    if (len < 0 || len > 32) return bad("the prefix length must be 0..32");
    if (host.empty()) return bad("empty host name");
    std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    return subnet{addr->value & mask, mask, host};
}

}  // namespace

void to_json(json& j, const sdn_device& d) {
    j = json{{"mac", d.mac}, {"port", d.port}, {"address", d.address}, {"host", d.host}};
}

void from_json(const json& j, sdn_device& d) {
    detail::read_field(j, "sdn_device", "mac", d.mac);
    detail::read_field(j, "sdn_device", "port", d.port);
    detail::read_field(j, "sdn_device", "address", d.address);
    detail::read_field(j, "sdn_device", "host", d.host);
}

void to_json(json& j, const sdn_trigger_options& o) {
    json ports = json::object();
    for (auto& [p, h] : o.port_hosts) ports[std::to_string(p)] = h;
    j = json{{"port_hosts", ports},
             {"subnet_hosts", o.subnet_hosts},
             {"udp_port", o.udp_port},
             {"install_table_miss", o.install_table_miss},
             {"max_held_packets", o.max_held_packets},
             {"barrier_timeout_ms", o.barrier_timeout.count()}};
}

void from_json(const json& j, sdn_trigger_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "sdn_trigger: expected an object"));
    std::map<std::string, std::string> ports;
    detail::read_field(j, where, "port_hosts", ports);
    for (auto& [p, h] : ports) {
        try {
            std::size_t used = 0;
            unsigned long n = std::stoul(p, &used);
            if (used != p.size() || n == 0 || n > of::port::max) throw std::out_of_range(p);
            o.port_hosts[static_cast<std::uint32_t>(n)] = h;
        } catch (const std::exception&) {
            throw migration_error(make_failure(error::invalid_argument,
                                               fmt::format("sdn_trigger.port_hosts: '{}' is not a switch port number", p)));
        }
    }
    detail::read_field(j, where, "subnet_hosts", o.subnet_hosts);
    detail::read_field(j, where, "udp_port", o.udp_port);
    detail::read_field(j, where, "install_table_miss", o.install_table_miss);
    detail::read_field(j, where, "max_held_packets", o.max_held_packets);
    std::int64_t ms = o.barrier_timeout.count();
    detail::read_field(j, where, "barrier_timeout_ms", ms);
    o.barrier_timeout = std::chrono::milliseconds{ms};
}

result<void> sdn_trigger_options::validate() const {
    for (auto& [p, h] : port_hosts) {
        if (p == 0 || p > of::port::max)
            return make_failure(error::invalid_argument, fmt::format("sdn_trigger.port_hosts: {} is not a switch port", p));
        if (h.empty()) return make_failure(error::invalid_argument, fmt::format("sdn_trigger.port_hosts.{}: empty host name", p));
    }
    for (auto& [cidr, h] : subnet_hosts)
        if (auto s = parse_subnet(cidr, h); !s) return s.error();
    if (max_held_packets == 0) return make_failure(error::invalid_argument, "sdn_trigger.max_held_packets: must be positive");
    if (barrier_timeout.count() <= 0) return make_failure(error::invalid_argument, "sdn_trigger.barrier_timeout_ms: must be positive");
    return {};
}

struct sdn_trigger::impl {
    std::shared_ptr<of::switch_connection> sw;
    sdn_trigger_options options;
    std::vector<subnet> subnets;

    mutable std::mutex mu;
    std::map<std::string, sdn_device, std::less<>> devices;
    std::vector<std::pair<std::string, sdn_rule>> rules;
    std::map<std::string, std::deque<of::packet_in>, std::less<>> held;
    counters stats;
    decision_handler handler;
    std::mutex handler_mu;   // held while a decision is delivered: stop() waits for it

    // The built-in rules; under `mu`. `dev` is the device's record before this packet.
    std::optional<migration_decision> layer2(const of::packet_in& pi, const sdn_device& dev) const {
        std::uint32_t port = pi.in_port();
        if (dev.port == 0 || port == 0 || port == dev.port) return std::nullopt;
        auto it = options.port_hosts.find(port);
        // A port of no edge host's domain, or of the domain that serves the device already:
        // the route must follow, the service need not move.
        std::string to = it == options.port_hosts.end() ? dev.host : it->second;
        migration_decision d;
        d.subject = dev.mac;
        d.from = dev.host;
        d.to = to;
        d.reason = fmt::format("{} seen on switch port {} (was {})", dev.mac, port, dev.port);
        d.evidence = {{"layer", 2}, {"port", port}, {"previous_port", dev.port}};
        return d;
    }

    std::optional<migration_decision> layer3(const of::frame_summary& f, const of::packet_in& pi, const sdn_device& dev) const {
        if (!f.ipv4_src || dev.address.empty()) return std::nullopt;
        if (options.udp_port != 0 && !(f.ip_proto == of::ip_proto::udp && f.l4_dst == options.udp_port)) return std::nullopt;
        std::string src = f.ipv4_src->to_string();
        if (src == dev.address) return std::nullopt;
        std::string to = dev.host;
        for (auto& s : subnets)
            if (s.contains(*f.ipv4_src)) {
                to = s.host;
                break;
            }
        migration_decision d;
        d.subject = dev.mac;
        d.from = dev.host;
        d.to = to;
        d.reason = fmt::format("{} sends from {} (was {})", dev.mac, src, dev.address);
        d.evidence = {{"layer", 3}, {"address", src}, {"previous_address", dev.address}, {"port", pi.in_port()}};
        if (dev.port != 0) d.evidence["previous_port"] = dev.port;
        return d;
    }

    void on_packet_in(const of::packet_in& pi) {
        auto frame = pi.frame();
        std::optional<migration_decision> decision;
        decision_handler deliver;
        {
            std::lock_guard lk(mu);
            ++stats.packet_ins;
            if (!frame) return;
            auto mac = frame->eth_src.to_string();
            auto it = devices.find(mac);
            if (it == devices.end()) {
                ++stats.unknown;
                return;
            }
            auto& q = held[mac];
            q.push_back(pi);
            ++stats.held;
            if (q.size() > options.max_held_packets) {
                q.pop_front();
                ++stats.dropped;
            }
            sdn_device& dev = it->second;
            if (dev.port == 0) {   // first sight: where it is, nothing to decide
                dev.port = pi.in_port();
                if (frame->ipv4_src) dev.address = frame->ipv4_src->to_string();
                return;
            }
            decision = layer2(pi, dev);
            if (!decision) decision = layer3(*frame, pi, dev);
            for (auto& [name, rule] : rules) {
                if (decision) break;
                decision = rule(pi, *frame, dev);
                if (decision) decision->evidence["rule"] = name;
            }
            if (!decision) return;
            // The record follows the device now: its next packets on the new port wait here
            // for the route instead of deciding again.
            if (pi.in_port() != 0) dev.port = pi.in_port();
            if (frame->ipv4_src) dev.address = frame->ipv4_src->to_string();
            dev.host = decision->to;
            ++stats.decisions;
        }
        std::lock_guard hk(handler_mu);
        if (handler) handler(*decision);
    }
};

sdn_trigger::sdn_trigger(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

sdn_trigger::~sdn_trigger() { stop(); }

result<std::unique_ptr<sdn_trigger>> sdn_trigger::make(std::shared_ptr<of::switch_connection> sw, sdn_trigger_options options) {
    if (!sw) return make_failure(error::invalid_argument, "sdn_trigger: no switch connection");
    if (auto v = options.validate(); !v) return v.error();
    auto i = std::make_unique<impl>();
    i->sw = std::move(sw);
    for (auto& [cidr, host] : options.subnet_hosts) i->subnets.push_back(parse_subnet(cidr, host).value());
    // Longest prefix first, so a /28 inside a /24 wins.
    std::sort(i->subnets.begin(), i->subnets.end(), [](auto& a, auto& b) { return a.mask > b.mask; });
    i->options = std::move(options);
    return std::unique_ptr<sdn_trigger>(new sdn_trigger(std::move(i)));
}

result<void> sdn_trigger::start(decision_handler on_decision) {
    auto& i = *impl_;
    {
        std::lock_guard hk(i.handler_mu);
        i.handler = std::move(on_decision);
    }
    std::weak_ptr<impl> weak = impl_;
    i.sw->on_packet_in([weak](const of::packet_in& pi) {
        if (auto self = weak.lock()) self->on_packet_in(pi);
    });
    if (i.options.install_table_miss) {
        of::flow_mod miss;
        miss.priority = 0;
        miss.actions.push_back(of::output{of::port::controller, of::max_len_no_buffer});
        if (auto r = i.sw->apply({miss}, i.options.barrier_timeout); !r)
            return make_failure(static_cast<error>(r.error_code().value()),
                                fmt::format("sdn_trigger: installing the table-miss rule: {}", r.error().message));
    }
    return {};
}

void sdn_trigger::stop() noexcept {
    if (!impl_) return;
    std::lock_guard hk(impl_->handler_mu);
    impl_->handler = nullptr;
}

void sdn_trigger::track(sdn_device d) {
    std::lock_guard lk(impl_->mu);
    auto mac = of::mac_address::parse(d.mac);
    if (mac) d.mac = mac->to_string();   // one spelling, the one frames are compared in
    impl_->devices[d.mac] = std::move(d);
}

void sdn_trigger::forget(std::string_view mac) {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->devices.find(mac);
    if (it != impl_->devices.end()) impl_->devices.erase(it);
    auto h = impl_->held.find(mac);
    if (h != impl_->held.end()) impl_->held.erase(h);
}

std::optional<sdn_device> sdn_trigger::device(std::string_view mac) const {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->devices.find(mac);
    if (it == impl_->devices.end()) return std::nullopt;
    return it->second;
}

void sdn_trigger::add_rule(std::string name, sdn_rule rule) {
    std::lock_guard lk(impl_->mu);
    impl_->rules.emplace_back(std::move(name), std::move(rule));
}

result<std::size_t> sdn_trigger::reinject_held(std::string_view mac) {
    std::deque<of::packet_in> q;
    {
        std::lock_guard lk(impl_->mu);
        auto it = impl_->held.find(mac);
        if (it == impl_->held.end()) return std::size_t{0};
        q.swap(it->second);
    }
    std::size_t n = 0;
    for (auto& pi : q) {
        of::packet_out po;
        po.in_port = pi.in_port() != 0 ? pi.in_port() : of::port::controller;
        po.actions.push_back(of::output{of::port::table});
        po.data = pi.data;
        if (auto r = impl_->sw->send(po); !r)
            return make_failure(static_cast<error>(r.error_code().value()),
                                fmt::format("sdn_trigger: re-injecting {}'s packet {} of {}: {}", mac, n + 1, q.size(),
                                            r.error().message));
        ++n;
    }
    return n;
}

std::size_t sdn_trigger::drop_held(std::string_view mac) {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->held.find(mac);
    if (it == impl_->held.end()) return 0;
    std::size_t n = it->second.size();
    impl_->held.erase(it);
    return n;
}

sdn_trigger::counters sdn_trigger::stats() const {
    std::lock_guard lk(impl_->mu);
    return impl_->stats;
}

}  // namespace migrate
