// migrate/pipe.hpp — connect a producer that writes to a `byte_sink` (e.g. `docker save`
// on host A) to a consumer that reads from a `byte_source` (e.g. `docker load` on host B),
// streaming through a small bounded buffer: gigabyte artifacts move host to host without
// touching disk or being held in memory.
#pragma once

#include <migrate/stream.hpp>

#include <functional>

namespace migrate {

struct pipe_stats {
    std::uint64_t bytes = 0;
};

/// Runs `produce(sink)` on a helper thread and `consume(source)` on the calling thread, the
/// sink feeding the source through at most `buffer_bytes` in flight. If either side fails,
/// the other is unblocked (its reads see the end / its writes fail with `cancelled`) and the
/// first failure is returned. `on_progress(bytes)` is called from the consumer's thread.
result<pipe_stats> stream_between(const std::function<result<void>(byte_sink&)>& produce,
                                  const std::function<result<void>(byte_source&)>& consume,
                                  std::size_t buffer_bytes = 4 << 20,
                                  const std::function<void(std::uint64_t)>& on_progress = {});

}  // namespace migrate
