// examples/vmd/md_sim.hpp — the mobile device (MD) of MIGRATE: a car that sends its telemetry
// to its twin as confirmable CoAP `POST /telemetry` at a set rate, and counts what came back.
//
// Every record is one CON message; libcoap retransmits it after ACK_TIMEOUT (randomised by
// 1.5, doubled each time) up to MAX_RETRANSMIT times (RFC 7252 §4.2). Counted per record:
//   acked      a 2.xx response came (the twin's "outcome" says counted / late / duplicate)
//   rejected   a 4.xx/5.xx response came (bad record, the twin's store failed)
//   lost       no response after the last retransmission (or the network said unreachable)
// plus the round-trip time of each acked record, from its first transmission to the response
// (a retransmitted record's RTT includes its retransmission timeouts: that is the time the
// device waited). Many records are in flight at once (NSTART, default 64, not RFC 7252's 1):
// a 100 Hz stream with one outstanding message would stall behind every loss.
//
// The device sends to one address and takes answers only from it (a connected UDP socket):
// a virtual service address behind an OpenFlow switch that rewrites addresses both ways works
// as long as the switch also rewrites the answers' source.
//
// Sequence numbers continue the twin's: before sending, the simulator asks GET /state and
// starts after the stored last_seq (a device resuming after a restart), so a run's records
// are never taken for duplicates of an earlier run's. `verify_with_twin` afterwards checks the
// twin's state against what was acked.
//
// With an MD manager (md_manager.hpp) the device learns its twin by registering (POST
// /devices) instead of being given an address, heartbeats while it runs (a third of the
// manager's timeout apart), and registers again when no answer came for `reregister_after`
// while records were waiting (its twin vanished) or when a heartbeat is refused (the manager
// released it). The manager then gives it a new twin, which has loaded the device's state from
// the store: the device sends the records still waiting to the new twin (their RTT counts
// from their first transmission) and goes on, so a twin's death costs time, not records.
#pragma once

#include "device_state.hpp"
#include "telemetry.hpp"

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/route_switch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace migrate::vmd {

struct md_sim_options {
    std::string address;                          ///< the twin's (or the service's virtual) IPv4; empty with `manager`
    std::uint16_t port = 5683;
    std::string manager;                          ///< the MD manager, "http://ADDR:PORT": it names the twin
    std::string host;                             ///< with `manager`: ask for a twin on this host (default: its choice)
    std::chrono::milliseconds reregister_after{3000};   ///< with `manager`: no answer this long -> register again
    std::chrono::milliseconds heartbeat{0};       ///< with `manager`: 0 = a third of the manager's timeout
    std::chrono::milliseconds manager_timeout{20'000};  ///< one call to the manager (a twin may start cold)
    std::string bind;                             ///< local IPv4 or interface; empty = any
    std::string device = "car-1";
    engine_type engine = engine_type::gasoline;
    double rate_hz = 100;                         ///< records per second
    std::uint64_t count = 0;                      ///< records to send; 0 = for `duration`
    std::chrono::milliseconds duration{10'000};   ///< when `count` is 0
    std::optional<std::uint64_t> first_seq;       ///< default: the twin's last_seq + 1 (1 if new)
    std::uint64_t seed = 1;                       ///< the generator's (telemetry.hpp)
    std::chrono::milliseconds ack_timeout{2000};  ///< RFC 7252 ACK_TIMEOUT
    unsigned max_retransmit = 4;                  ///< RFC 7252 MAX_RETRANSMIT
    unsigned nstart = 64;                         ///< CON messages in flight at once
    /// How long to wait for the last answers after the last send; 0 = as long as the
    /// retransmission schedule can take (ACK_TIMEOUT * 1.5 * (2^(MAX_RETRANSMIT+1) - 1)).
    std::chrono::milliseconds drain{0};
    std::chrono::milliseconds setup_timeout{3000};   ///< the initial GET /state

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const md_sim_options& o);

/// Round-trip times of the acked records, ms.
struct rtt_stats {
    std::size_t samples = 0;
    double min = 0, mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

/// What a run did.
struct md_sim_summary {
    std::string target;                 ///< "10.0.0.5:5683"
    std::string device;
    std::uint64_t first_seq = 0;
    std::uint64_t sent = 0;             ///< records sent (each once; retransmissions not counted)
    std::uint64_t acked = 0;            ///< 2.xx responses
    std::uint64_t rejected = 0;         ///< 4.xx / 5.xx responses
    std::uint64_t lost = 0;             ///< no response after the last retransmission
    std::uint64_t unanswered = 0;       ///< still waiting when the drain ended (also in `lost`)
    std::uint64_t counted = 0;          ///< acked with outcome "counted" (newest)
    std::uint64_t late = 0;             ///< acked with outcome "late" (filled a gap)
    std::uint64_t duplicates = 0;       ///< acked with outcome "duplicate" (the twin had it)
    std::uint64_t retransmitted = 0;    ///< acked after more than ACK_TIMEOUT (a retransmission got through)
    std::uint64_t icmp_errors = 0;      ///< ICMP unreachable reports on in-flight records (they go on being retransmitted)
    double elapsed_s = 0;               ///< first send to last answer
    double send_rate_hz = 0;            ///< records per second actually sent
    rtt_stats rtt;
    std::uint64_t twin_count_before = 0;   ///< the twin's count for the device before the run
    std::optional<telemetry> last_acked;   ///< the acked record with the highest seq
    std::string last_rejection;            ///< the last 4.xx/5.xx diagnostic
    std::string manager;                   ///< the MD manager's URL; empty without one
    std::vector<service_instance> twins;   ///< with a manager: the twins the device had, in order
    std::uint64_t reregistrations = 0;     ///< registrations after the first that gave a new twin
    std::uint64_t heartbeats = 0;          ///< heartbeats the manager took
    std::uint64_t manager_errors = 0;      ///< calls to the manager that failed (unreachable, no twin, ...)
    std::string last_manager_error;
};
void to_json(json& j, const md_sim_summary& s);
/// Lines for a human.
std::string to_text(const md_sim_summary& s);

/// Called with (seq, outcome) for every answered record, from the run's thread.
using answer_hook = std::function<void(std::uint64_t seq, std::string_view outcome)>;

/// Runs the device until `count` records (or `duration`) have been sent and answered or
/// given up, or `stop` is requested (then sending stops and the drain runs). Fails with
/// `invalid_argument` (options), `timeout`/`daemon_unreachable` when the twin does not answer
/// the initial GET /state (only needed when `first_seq` is not given); with a manager, with
/// its failure when the first registration fails (later ones are counted, and retried).
result<md_sim_summary> run_md_sim(const md_sim_options& o, std::stop_token stop = {}, answer_hook on_answer = {});

/// The twin's verdict on a run.
struct verify_result {
    bool ok = false;
    std::string detail;                 ///< what matched or what did not
    std::optional<device_state> state;  ///< as the twin answered GET /state
};
void to_json(json& j, const verify_result& v);

/// GET /state (of the last twin in `s.twins` when there are any) and compare: the twin
/// counted exactly one record per distinct acked seq since the run began (count -
/// twin_count_before == acked; with records lost, between acked and acked + lost, since a
/// lost record's ack may be what was lost), and its latest record is the acked one with the
/// highest seq (or a lost one above it).
result<verify_result> verify_with_twin(const md_sim_options& o, const md_sim_summary& s);

}  // namespace migrate::vmd
