// What the three MEC triggers (mec_location, mec_rnis, mec_ams) share: a notification
// receiver (given, or of their own), the subscriptions they made on it, and the decision
// handler, called in order under one lock with the trigger's state.
#pragma once

#include <migrate/mec/notification_receiver.hpp>
#include <migrate/trigger.hpp>

#include <fmt/format.h>

#include <mutex>
#include <string>
#include <vector>

namespace migrate::detail {

class mec_subscriptions {
public:
    /// `given`, or a receiver of our own listening now.
    result<void> init(std::shared_ptr<mec::notification_receiver> given, const mec::notification_receiver_options& own) {
        if (given) {
            receiver_ = std::move(given);
            return {};
        }
        auto r = mec::notification_receiver::start(own);
        if (!r) return r.error();
        receiver_ = std::move(*r);
        return {};
    }

    /// Under `m`: sets the handler; `conflict` naming the trigger when started already.
    result<void> begin(std::string_view trigger_name, trigger::decision_handler h) {
        if (handler_) return make_failure(error::conflict, fmt::format("{} trigger: started already", trigger_name));
        handler_ = std::move(h);
        return {};
    }

    result<void> add(mec::subscription_spec spec) {
        auto id = receiver_->subscribe(std::move(spec));
        if (!id) return id.error();
        std::lock_guard lk(ids_m_);
        ids_.push_back(*id);
        return {};
    }

    /// Deletes our subscriptions (waiting for their running handlers). Call without `m`.
    void remove_all() noexcept {
        std::vector<std::string> ids;
        {
            std::lock_guard lk(ids_m_);
            ids.swap(ids_);
        }
        for (auto& id : ids) (void)receiver_->unsubscribe(id);
    }

    /// Under `m`: delivers when started.
    bool emit(const migration_decision& d) {
        if (!handler_) return false;
        handler_(d);
        return true;
    }
    /// Under `m`.
    void end() { handler_ = nullptr; }
    bool started() const { return static_cast<bool>(handler_); }

    const std::shared_ptr<mec::notification_receiver>& receiver() const { return receiver_; }

    /// The lock the trigger's state and its decisions share.
    mutable std::mutex m;

private:
    std::shared_ptr<mec::notification_receiver> receiver_;
    trigger::decision_handler handler_;
    std::mutex ids_m_;
    std::vector<std::string> ids_;
};

/// "acr:10.0.0.1" -> "10.0.0.1" (MEC013 addresses are URIs; subjects are plain addresses).
inline std::string plain_address(std::string_view a) {
    if (a.rfind("acr:", 0) == 0) a.remove_prefix(4);
    return std::string(a);
}

}  // namespace migrate::detail
