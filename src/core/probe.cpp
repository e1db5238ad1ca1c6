#include <migrate/probe.hpp>

#include <condition_variable>

namespace migrate {

void downtime_prober::start() {
    if (running_.exchange(true)) return;
    thread_ = std::thread([this] { loop(); });
}

void downtime_prober::stop() {
    if (!running_.exchange(false)) return;
    if (thread_.joinable()) thread_.join();
}

void downtime_prober::loop() {
    auto next = steady_clock::now();
    while (running_) {
        bool target_seen;
        {
            std::lock_guard lk(mu_);
            target_seen = first_target_ok_.has_value();
        }
        // Until the target answered, the client's service lives at the source: ask both
        // (the source for "still up", the target for "already up"). Afterwards the
        // measurement is complete; keep counting target answers for the failure tally.
        if (!target_seen) {
            bool src_ok = probe_(0);
            auto t_src = steady_clock::now();
            bool dst_ok = probe_(1);
            auto t_dst = steady_clock::now();
            std::lock_guard lk(mu_);
            probes_ += 2;
            if (src_ok) last_source_ok_ = t_src;
            if (dst_ok && last_source_ok_) first_target_ok_ = t_dst;
            // A client sees a failure when neither location answered.
            if (!src_ok && !dst_ok && last_source_ok_) ++failures_;
        } else {
            bool dst_ok = probe_(1);
            std::lock_guard lk(mu_);
            ++probes_;
            if (!dst_ok) ++failures_;
        }
        cv_.notify_all();
        next += interval_;
        auto now = steady_clock::now();
        if (next > now) std::this_thread::sleep_until(next);
        else next = now;
    }
    cv_.notify_all();
}

bool downtime_prober::wait_for_target(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return first_target_ok_.has_value() || !running_; }) &&
           first_target_ok_.has_value();
}

bool downtime_prober::wait_for_source(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return last_source_ok_.has_value() || !running_; }) &&
           last_source_ok_.has_value();
}

std::optional<downtime_measurement> downtime_prober::result() const {
    std::lock_guard lk(mu_);
    if (!last_source_ok_ || !first_target_ok_) return std::nullopt;
    downtime_measurement m;
    m.downtime_ms = std::chrono::duration<double, std::milli>(*first_target_ok_ - *last_source_ok_).count();
    m.probe_interval_ms = static_cast<double>(interval_.count());
    m.probes = probes_;
    m.failures = failures_;
    m.method = method_;
    return m;
}

}  // namespace migrate
