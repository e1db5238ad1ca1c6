// migrate/trigger/sdn.hpp — the `sdn` trigger: the switch tells us where a device's packets
// arrive, and a device seen somewhere new is a decision to move its service, as in MIGRATE.
//
// The trigger installs a table-miss rule (priority 0, output:CONTROLLER), so any packet no
// device rule matches comes to us as a PACKET_IN. A known device's packet is then evidence:
//   layer 2  its MAC arrives on a switch port other than the one it was on, and that port
//            belongs to another edge host's domain (`port_hosts`);
//   layer 3  its UDP traffic to `udp_port` (CoAP, 5683) arrives from a new source address
//            in a subnet of another edge host (`subnet_hosts`).
// Further rules can be added (`add_rule`). After a decision the device's record follows it
// (port, address, host), so the packets that keep arriving until the route is prepared do
// not decide again; they are HELD (bounded) and `reinject_held` sends them back through the
// switch's table once the new rules are in, so none of them is lost.
#pragma once

#include <migrate/trigger.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace migrate::openflow {
class switch_connection;
struct packet_in;
struct frame_summary;
}  // namespace migrate::openflow

namespace migrate {

/// A device the trigger follows, and where it is now.
struct sdn_device {
    std::string mac;                 ///< "02:00:00:00:00:01" (the decisions' subject)
    std::uint32_t port = 0;          ///< switch port it is attached to; 0 = not seen yet
    std::string address;             ///< IPv4 source address; empty = not seen yet
    std::string host;                ///< edge host serving it now
};
void to_json(json& j, const sdn_device& d);
void from_json(const json& j, sdn_device& d);

struct sdn_trigger_options {
    std::map<std::uint32_t, std::string> port_hosts;   ///< attachment port -> its domain's edge host
    std::map<std::string, std::string> subnet_hosts;   ///< "10.250.1.0/24" -> edge host (layer 3)
    std::uint16_t udp_port = 5683;                     ///< layer 3 looks at UDP to this port; 0 = any
    bool install_table_miss = true;                    ///< priority-0 rule: unmatched packets to us
    std::size_t max_held_packets = 512;                ///< per device, oldest dropped beyond
    std::chrono::milliseconds barrier_timeout{2000};

    /// `invalid_argument` naming the field (a bad subnet, an empty host name).
    result<void> validate() const;
};
void to_json(json& j, const sdn_trigger_options& o);
void from_json(const json& j, sdn_trigger_options& o);

/// A further rule: given a known device's packet-in, decide (or not).
using sdn_rule = std::function<std::optional<migration_decision>(
    const openflow::packet_in&, const openflow::frame_summary&, const sdn_device&)>;

class sdn_trigger final : public trigger {
public:
    /// `invalid_argument` from `options.validate()`.
    static result<std::unique_ptr<sdn_trigger>> make(std::shared_ptr<openflow::switch_connection> sw,
                                                     sdn_trigger_options options);
    ~sdn_trigger() override;

    std::string_view name() const noexcept override { return "sdn"; }
    /// Installs the table-miss rule (confirmed by BARRIER) and starts reading packet-ins.
    result<void> start(decision_handler on_decision) override;
    void stop() noexcept override;

    /// Follow `d` (or update where it is). Thread-safe.
    void track(sdn_device d);
    void forget(std::string_view mac);
    std::optional<sdn_device> device(std::string_view mac) const;
    /// Rules run after the built-in layer-2 and layer-3 ones, in the order added.
    void add_rule(std::string name, sdn_rule rule);

    /// Sends the device's held packets back into the switch's table (PACKET_OUT to TABLE,
    /// with their original in_port), oldest first; returns how many. Call it once the
    /// route for the device's new attachment is prepared.
    result<std::size_t> reinject_held(std::string_view mac);
    /// Drops them instead (the device's move was abandoned). Returns how many.
    std::size_t drop_held(std::string_view mac);

    struct counters {
        std::uint64_t packet_ins = 0;    ///< all packet-ins read
        std::uint64_t unknown = 0;       ///< from MACs not tracked
        std::uint64_t decisions = 0;
        std::uint64_t held = 0;          ///< held in total
        std::uint64_t dropped = 0;       ///< dropped beyond max_held_packets
    };
    counters stats() const;

private:
    struct impl;
    explicit sdn_trigger(std::unique_ptr<impl> i);
    std::shared_ptr<impl> impl_;
};

}  // namespace migrate
