// migrate/testbed/host_copy.hpp — a plain byte copy from one testbed host to another, over
// the testbed's link between them.
//
// What a person with two shells and `nc` does (`tar c . | nc b 9000` on a, `nc -l -p 9000 |
// tar x` on b), without a shell: a TCP socket made inside the source host's network
// namespace connects to a listener made inside the target host's namespace at the target's
// address, so the bytes leave through the source's veth, cross the bridge and enter the
// target's veth: the same path (and the same HTB shaping when the testbed is congested) as
// the agents' relay. The benchmarks' "raw" procedures copy their artifacts this way.
//
// Why sockets made on throwaway threads and not `nsenter ... nc` children: a socket belongs
// to the namespace it was made in, whichever thread uses it later, so the copy needs no
// helper process, no port guessing and no race between the listener being ready and the
// sender connecting; the caller's threads never change namespace.
//
// Needs root (setns) for hosts with a namespace. Thread safety: reentrant.
#pragma once

#include <migrate/result.hpp>
#include <migrate/stream.hpp>
#include <migrate/testbed/testbed.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace migrate::testbed {

struct host_copy_options {
    /// No connection, or no byte moved for this long, fails the copy with `timeout`.
    std::chrono::milliseconds stall_timeout{30000};
};

/// What one copy moved.
struct host_copy_stats {
    std::uint64_t bytes = 0;   ///< bytes the target side received
    double seconds = 0;        ///< from the listener being ready to the end of `consume`
};

/// Streams what `produce` writes (on a helper thread, from a socket in `from.netns`) to a
/// listener in `to.netns` bound to `to.address`, and hands it to `consume` (on the calling
/// thread) as a `byte_source`. An empty `netns` means the caller's own namespace (tests on
/// loopback). The first failure is returned: the producer's (the consumer then reads a
/// reset connection, never a clean end), the consumer's (the producer's writes then fail),
/// `not_found`/`permission_denied` naming the namespace when it cannot be entered, `io_error`
/// naming both hosts when the connection fails, `timeout` after `stall_timeout` without
/// progress.
result<host_copy_stats> copy_between_hosts(const host& from, const host& to,
                                           const std::function<result<void>(byte_sink&)>& produce,
                                           const std::function<result<void>(byte_source&)>& consume,
                                           const host_copy_options& opts = {});

}  // namespace migrate::testbed
