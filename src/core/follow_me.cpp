// The follow-me loop (include/migrate/follow_me.hpp).
#include <migrate/follow_me.hpp>
#include <migrate/trigger/sdn.hpp>

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace migrate {

namespace {

// The route switch as the pool drives it, plus the release of the packets the SDN trigger
// held while the device's new port had no route: after the backup route (they reach the old
// instance) and after the new route (stragglers reach the new one).
class releasing_route final : public route_switch {
public:
    releasing_route(route_switch& inner, sdn_trigger* held) : inner_(inner), held_(held) {}
    std::string_view name() const noexcept override { return inner_.name(); }
    result<void> prepare(route_change& c) override {
        MIGRATE_TRY(inner_.prepare(c));
        release(c);
        return {};
    }
    result<void> commit(route_change& c) override {
        MIGRATE_TRY(inner_.commit(c));
        release(c);
        return {};
    }
    void rollback(route_change& c) noexcept override {
        inner_.rollback(c);
        release(c);
    }

private:
    void release(route_change& c) {
        if (!held_) return;
        auto n = held_->reinject_held(c.subject);
        std::size_t before = c.state.value("reinjected", std::size_t{0});
        if (n) c.state["reinjected"] = before + *n;
        else c.state["reinject_error"] = n.error().what();
    }
    route_switch& inner_;
    sdn_trigger* held_;
};

}  // namespace

struct follow_me::impl {
    trigger& t;
    replica_pool& pool;
    route_switch& route;
    sdn_trigger* held;
    releasing_route releasing{route, held};

    mutable std::mutex mu;
    mutable std::condition_variable cv;
    std::deque<migration_decision> queue;
    std::vector<migration_report> done;
    std::vector<std::string> refused;
    std::function<void(const migration_decision&, const migration_report&)> on_report;
    std::jthread worker;

    impl(trigger& t_, replica_pool& p, route_switch& r, sdn_trigger* h) : t(t_), pool(p), route(r), held(h) {}

    void run(std::stop_token stop) {
        while (true) {
            migration_decision d;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return stop.stop_requested() || !queue.empty(); });
                if (stop.stop_requested()) return;
                d = std::move(queue.front());
                queue.pop_front();
            }
            auto r = pool.migrate(d.subject, d.to, releasing, d.evidence);
            std::lock_guard lk(mu);
            if (!r) {
                refused.push_back(fmt::format("{} -> {}: {}", d.subject, d.to, r.error().what()));
                if (held) held->drop_held(d.subject);
            } else {
                r->details["decision"] = d;
                if (on_report) on_report(d, *r);
                done.push_back(std::move(*r));
            }
            cv.notify_all();
        }
    }
};

follow_me::follow_me(trigger& t, replica_pool& pool, route_switch& route, sdn_trigger* held)
    : impl_(std::make_unique<impl>(t, pool, route, held)) {}

follow_me::~follow_me() { stop(); }

result<void> follow_me::start() {
    auto* i = impl_.get();
    i->worker = std::jthread([i](std::stop_token st) { i->run(st); });
    return i->t.start([i](const migration_decision& d) {
        std::lock_guard lk(i->mu);
        i->queue.push_back(d);
        i->cv.notify_all();
    });
}

void follow_me::stop() noexcept {
    if (!impl_) return;
    impl_->t.stop();
    if (impl_->worker.joinable()) {
        impl_->worker.request_stop();
        {
            std::lock_guard lk(impl_->mu);
            impl_->cv.notify_all();
        }
        impl_->worker.join();
    }
}

void follow_me::on_report(std::function<void(const migration_decision&, const migration_report&)> callback) {
    std::lock_guard lk(impl_->mu);
    impl_->on_report = std::move(callback);
}

std::vector<migration_report> follow_me::reports() const {
    std::lock_guard lk(impl_->mu);
    return impl_->done;
}

std::vector<std::string> follow_me::refused() const {
    std::lock_guard lk(impl_->mu);
    return impl_->refused;
}

result<void> follow_me::wait_for_moves(std::size_t n, std::chrono::milliseconds within) const {
    std::unique_lock lk(impl_->mu);
    if (impl_->cv.wait_for(lk, within, [&] { return impl_->done.size() >= n; })) return {};
    return make_failure(error::timeout, fmt::format("follow_me: {} of {} moves done within {} ms ({} refused)",
                                                    impl_->done.size(), n, within.count(), impl_->refused.size()));
}

}  // namespace migrate
