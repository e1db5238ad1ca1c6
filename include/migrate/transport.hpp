// migrate/transport.hpp — moving an artifact from one edge host to another.
//
// `transfer(from, produce, to, consume)` streams the artifact `produce` out of `from` and
// into `to` as `consume` (see artifact.hpp), end to end, with an integrity check, and says
// how many bytes moved how fast. Two implementations:
//   - `local_transport` (here): both engines are reachable from this process; the bytes
//     pass through a bounded in-memory pipe in it. Simple, and right for one machine.
//   - the agent transport (migrate/agent/): the source host's agent streams straight to the
//     target host's agent over TCP, so the bytes cross the real link between the hosts.
#pragma once

#include <migrate/artifact.hpp>
#include <migrate/edge_host.hpp>
#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace migrate {

struct transfer_stats {
    std::uint64_t bytes = 0;     ///< bytes of the stream as it crossed
    double seconds = 0;          ///< first byte produced to last byte consumed
    std::string sha256;          ///< of the stream, as both ends computed it (agent transport)
    json produced = json::object();  ///< what the producing side reported (e.g. delta stats)
    json consumed = json::object();  ///< what the consuming side reported (e.g. image id)
    double mbps() const noexcept { return seconds > 0 ? double(bytes) * 8 / seconds / 1e6 : 0; }
};
void to_json(json& j, const transfer_stats& s);

class transport {
public:
    using progress_fn = std::function<void(std::uint64_t bytes_so_far)>;
    virtual ~transport() = default;
    virtual std::string_view name() const noexcept = 0;
    /// Moves one artifact. On failure nothing is left half-consumed on `to` where the
    /// consumer can avoid it (see each consumer), and the error names both ends.
    /// Cancellation: a stop request aborts the stream (`cancelled`).
    virtual result<transfer_stats> transfer(edge_host& from, const artifact_spec& produce, edge_host& to,
                                            const artifact_spec& consume, const progress_fn& progress = {},
                                            std::stop_token stop = {}) = 0;
};

/// Both hosts' engines are reachable from this process (the testbed, one machine).
std::shared_ptr<transport> make_local_transport(std::size_t buffer_bytes = 4 << 20);

}  // namespace migrate
