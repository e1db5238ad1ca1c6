// migrate/agent/transport.hpp — `migrate::transport` through the host agents: the source
// host's agent produces the artifact on its engine and streams it straight to the target
// host's agent (`agent_client::relay`), so the bytes cross the real link between the two
// hosts and never pass through the driver. Each `edge_host` names its agent in
// `edge_host::agent` ("10.1.2.3:7070"); the agents share one token.
//
// Errors name both hosts and their agents: "filesystem of container 'x' from a
// (10.1.2.2:7070) to b (10.1.2.3:7070) as image 'y': ...". A link that stops moving bytes
// fails the transfer after `stall_timeout` (the target agent removes its partial output on
// its own when its read stalls as long). A stop request closes the driver's connection; the
// source agent then aborts its push and the target cleans up. Thread safety: `transfer` may
// be called from several threads at once.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/transport.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace migrate::agent {

struct agent_transport_options {
    std::string token;                               ///< the agents' shared token (required)
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds stall_timeout{10000};  ///< no byte moved for this long = the link is down
    std::chrono::milliseconds reply_timeout{120000}; ///< for the target's engine after the stream ended
    std::chrono::milliseconds progress_interval{250};

    /// `invalid_argument` naming the field ("agent_transport_options.token: empty").
    result<void> validate() const;
};
/// The token is never written out ("<set>").
void to_json(json& j, const agent_transport_options& o);
void from_json(const json& j, agent_transport_options& o);

/// `invalid_argument` when the options are invalid. Transfers fail with `invalid_argument`
/// naming the host when an `edge_host` has no `agent`.
result<std::shared_ptr<transport>> make_agent_transport(agent_transport_options opts);

}  // namespace migrate::agent
