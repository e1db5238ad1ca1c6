// migrate/workload/a2_counter.hpp — the thesis workload A2 (user state in a volume,
// migration aware), client side.
//
// The program (examples/workloads/a2_counter.cpp, image::a2_counter_recipe) polls
// `GET /zone` on a `zone_server` every 200 ms, counts zone changes and keeps the counter in
// `/data/counter` on a volume (replaced atomically). It serves, on one port:
//   TCP  GET /count, GET /state, POST /changePhase {"phase": ...}
//   UDP  "count" -> "count N", "state" -> the /state document
// `pre-relocation-end` makes it flush and hold (no zone polls, no writes) until it runs
// again: on another host (its address changed), when told `running`, or after its hold
// limit (docs/workloads.md has the whole story).
//
// Probing: the downtime probe is the UDP count. A TCP client connecting while CRIU dumps
// the process leaves an "in-flight connection" that makes the dump fail; measured on this
// testbed, every checkpoint under a TCP prober (one connection per 25 ms) failed. Use the
// HTTP calls for state checks and phase changes, outside the dump.
#pragma once

#include <migrate/json.hpp>
#include <migrate/probe.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/workload/service_locator.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace migrate::workload {

/// What the zone URL answers: a zone server's one line, or an ETSI MEC013 users query
/// (`<location api>/queries/users?address=UE`, v2 or v3) whose first user's zoneId is the zone.
enum class a2_zone_format { text, mec_location };

/// How to run the counter in a container.
struct a2_counter_config {
    std::string name = "a2-counter";                ///< container name
    std::string image = "migrate-a2-counter:1";     ///< built with image::a2_counter_recipe
    std::string zone_url;                           ///< zone_server::url("/zone"), or a MEC013 users query
    a2_zone_format zone_format = a2_zone_format::text;
    std::string network;                            ///< the host's service_network
    std::string volume = "a2-data";                 ///< named volume mounted at /data (the state)
    std::uint16_t port = 8080;                      ///< TCP (HTTP) and UDP (probe)
    std::chrono::milliseconds interval{200};        ///< zone polls
    std::chrono::milliseconds hold_max{30000};      ///< longest hold after pre-relocation-end

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const a2_counter_config& c);
void from_json(const json& j, a2_counter_config& c);

/// The container spec for `docker::engine::create`: volume at /data, cmd with the zone
/// URL, port, interval and hold limit. The volume must exist (create_volume) or docker
/// creates it empty.
container_spec a2_counter_spec(const a2_counter_config& c);

/// What `GET /state` (or the UDP "state") reports.
struct a2_state {
    std::uint64_t count = 0;          ///< zone changes counted
    std::string zone;                 ///< last zone seen
    std::string phase;                ///< "running", "pre-relocation-start", "pre-relocation-end"
    bool writes_held = false;         ///< holding after pre-relocation-end
    std::string address;              ///< its own address (its host's service subnet)
    std::uint64_t polls = 0;          ///< zone polls since this process started
    std::uint64_t poll_errors = 0;
    std::uint64_t starts = 0;         ///< cold starts with this volume (a CRIU restore is none)
    std::uint64_t persisted = 0;      ///< counter writes since this process started
};
void to_json(json& j, const a2_state& s);
void from_json(const json& j, a2_state& s);

/// `GET /state` over HTTP. `daemon_unreachable`/`timeout` naming the URL when it does not
/// answer, `protocol_error` for an answer that is not the state document.
result<a2_state> a2_get_state(const std::string& address, std::uint16_t port,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds{2000});
/// `GET /count` over HTTP.
result<std::uint64_t> a2_get_count(const std::string& address, std::uint16_t port,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds{2000});
/// The counter over UDP (one datagram each way, no connection): `timeout` when nothing
/// came back, `protocol_error` for a malformed answer.
result<std::uint64_t> a2_udp_count(const std::string& address, std::uint16_t port,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds{200});
/// `POST /changePhase {"phase": phase}`; `invalid_argument` when the app refuses the phase.
result<void> a2_change_phase(const std::string& address, std::uint16_t port, const std::string& phase,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds{2000});

/// The downtime probe: the UDP count at the source (location 0) or target (location 1);
/// success = a well-formed answer within `timeout`.
downtime_prober::probe_fn a2_probe(address_locator source, address_locator target, std::uint16_t port = 8080,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds{50});

/// The state check after a move: the counter on the target continues from `before` (the
/// value read on the source before the move), i.e. `after.count >= before`; a restart
/// from the beginning shows as found < expected. A migration that carries no volume and no
/// memory fails it.
state_check a2_counter_check(std::uint64_t before, const a2_state& after);

}  // namespace migrate::workload
