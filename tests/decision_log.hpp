// The decisions a trigger delivered (on its own thread), for the test's thread to wait on.
#pragma once

#include <migrate/trigger.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace migrate::test {

class decision_log {
public:
    trigger::decision_handler handler() {
        return [this](const migration_decision& d) {
            std::lock_guard lk(mu_);
            seen_.push_back(d);
            cv_.notify_all();
        };
    }
    /// Whether `n` decisions (in all) have come within `within`.
    bool wait_for(std::size_t n, std::chrono::milliseconds within = std::chrono::seconds{5}) {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, within, [&] { return seen_.size() >= n; });
    }
    std::size_t size() {
        std::lock_guard lk(mu_);
        return seen_.size();
    }
    /// The `i`-th decision (from 0); throws std::out_of_range when there is none.
    migration_decision at(std::size_t i) {
        std::lock_guard lk(mu_);
        return seen_.at(i);
    }
    std::vector<migration_decision> decisions() {
        std::lock_guard lk(mu_);
        return seen_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<migration_decision> seen_;
};

}  // namespace migrate::test
