// migrate/trigger/manual.hpp — a trigger a person or a script fires: `fire(decision)`.
// For CLI tools, experiments driven by a schedule, and tests of whatever consumes decisions.
#pragma once

#include <migrate/trigger.hpp>

#include <mutex>

namespace migrate {

class manual_trigger final : public trigger {
public:
    std::string_view name() const noexcept override { return "manual"; }
    result<void> start(decision_handler on_decision) override {
        std::lock_guard lk(mu_);
        handler_ = std::move(on_decision);
        return {};
    }
    void stop() noexcept override {
        std::lock_guard lk(mu_);
        handler_ = nullptr;
    }
    /// Delivers `d` on the caller's thread; `failed_precondition`-like `conflict` when the
    /// trigger is not started.
    result<void> fire(const migration_decision& d) {
        std::lock_guard lk(mu_);
        if (!handler_) return {error::conflict, "manual trigger: fire() before start() (or after stop())"};
        handler_(d);
        return {};
    }

private:
    std::mutex mu_;
    decision_handler handler_;
};

}  // namespace migrate
