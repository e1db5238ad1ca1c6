// migrate/probe.hpp — downtime measured from outside, by a client probing the service.
//
// The prober asks the service at its source and at its target location every `interval`
// (a real request, e.g. a memcached get) and reports downtime as the time from the LAST
// successful answer at the source to the FIRST successful answer at the target. It never
// adds up the SDK's own phase timers.
#pragma once

#include <migrate/report.hpp>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace migrate {

class downtime_prober {
public:
    /// One request to the service at `location` (0 = source, 1 = target); true when the
    /// service answered correctly. Must return within about one interval (use a timeout).
    using probe_fn = std::function<bool(int location)>;

    downtime_prober(probe_fn probe, std::chrono::milliseconds interval, std::string method)
        : probe_(std::move(probe)), interval_(interval), method_(std::move(method)) {}
    downtime_prober(const downtime_prober&) = delete;
    downtime_prober& operator=(const downtime_prober&) = delete;
    ~downtime_prober() { stop(); }

    /// Starts probing on a background thread.
    void start();
    /// Stops probing (idempotent) and joins the thread.
    void stop();
    /// Blocks until the target answered or `timeout` passed; true if it answered.
    bool wait_for_target(std::chrono::milliseconds timeout);
    /// Blocks until the source answered at least once or `timeout` passed.
    bool wait_for_source(std::chrono::milliseconds timeout);

    /// The measurement; empty until the source answered once and then the target answered.
    std::optional<downtime_measurement> result() const;

private:
    void loop();

    probe_fn probe_;
    std::chrono::milliseconds interval_;
    std::string method_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::optional<steady_clock::time_point> last_source_ok_, first_target_ok_;
    std::uint64_t probes_ = 0, failures_ = 0;
};

}  // namespace migrate
