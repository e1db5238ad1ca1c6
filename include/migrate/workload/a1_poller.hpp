// migrate/workload/a1_poller.hpp — the thesis workload A1 (stateless poller), client side.
//
// The program (examples/workloads/a1_poller.cpp, image::a1_poller_recipe) polls
// `GET /location?seq=N` on a `zone_server` every 200 ms and logs the answers. It keeps no
// state worth moving, so what a migration costs it is the gap in its polls, and that is
// measured OUTSIDE it, by the location server: each poll is recorded with the poller's
// source address, which on the testbed's service networks lies in its host's subnet. The
// downtime is the time from the last poll from the source host to the first poll from the
// target host (`a1_downtime`), at the resolution of the poll interval.
#pragma once

#include <migrate/json.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/workload/zone_server.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace migrate::workload {

/// How to run the poller in a container.
struct a1_poller_config {
    std::string name = "a1-poller";                 ///< container name
    std::string image = "migrate-a1-poller:1";      ///< built with image::a1_poller_recipe
    std::string url;                                ///< zone_server::url("/location")
    std::string network;                            ///< the host's service_network
    std::chrono::milliseconds interval{200};        ///< the thesis's 200 ms
    std::chrono::milliseconds timeout{150};         ///< per poll

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const a1_poller_config& c);
void from_json(const json& j, a1_poller_config& c);

/// The container spec for `docker::engine::create` (the image's entrypoint is the poller;
/// cmd carries url/interval/timeout).
container_spec a1_poller_spec(const a1_poller_config& c);

/// Which polls belong to which location.
struct a1_downtime_options {
    std::string source;                             ///< the source host's service subnet, or one address
    std::string target;                             ///< the target's
    std::chrono::milliseconds interval{200};        ///< the poller's interval (the resolution)
    std::string path = "/location";                 ///< only polls of this path count

    /// `invalid_argument` naming the field (malformed or overlapping networks).
    result<void> validate() const;
};

/// Downtime from the location server's log: last poll from `source` before the first poll
/// from `target`, to that first poll. `probes` = polls from either location in the log,
/// `failures` = poll slots missed in the gap (gap / interval - 1, rounded). Fails with
/// `not_found` when there is no poll from the source, or none from the target after one
/// from the source (the message says how many polls came from where).
result<downtime_measurement> a1_downtime(const std::vector<poll_record>& polls, const a1_downtime_options& opts);

}  // namespace migrate::workload
