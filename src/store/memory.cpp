#include <migrate/store/memory.hpp>

#include "store_detail.hpp"

#include <deque>
#include <map>
#include <mutex>

namespace migrate::store {

namespace {

constexpr std::string_view where = "memory state store";

/// One watch's queue: writers push under the store's lock (so the queue is in apply
/// order), the watch's thread pops and delivers.
struct memory_watcher : detail::wakeable {
    std::string prefix;
    std::deque<state_event> queue;

    void push(const state_event& e) {
        {
            std::lock_guard lk(mu);
            if (stopping) return;
            queue.push_back(e);
        }
        cv.notify_one();
    }

    void run(detail::watch_control& control) {
        std::unique_lock lk(mu);
        for (;;) {
            cv.wait(lk, [&] { return stopping || !queue.empty(); });
            if (stopping || control.cancelled()) return;
            auto e = std::move(queue.front());
            queue.pop_front();
            lk.unlock();
            control.deliver(e);
            lk.lock();
        }
    }
};

/// Shared by the store and its watches: a watch may outlive the store.
struct memory_state {
    std::mutex mu;
    std::map<std::string, state_entry, std::less<>> entries;
    std::int64_t counter = 0;
    std::vector<std::weak_ptr<memory_watcher>> watchers;

    // Under `mu`.
    void publish(const state_event& e) {
        std::erase_if(watchers, [&](const std::weak_ptr<memory_watcher>& w) {
            auto s = w.lock();
            if (!s) return true;
            if (detail::has_prefix(e.entry.key, s->prefix)) s->push(e);
            return false;
        });
    }

    std::int64_t write(std::string_view key, std::string_view value) {
        auto& e = entries[std::string(key)];
        e.key = key;
        e.value = value;
        e.version = ++counter;
        publish({state_event::kind::put, e});
        return e.version;
    }
};

class memory_store final : public state_store {
public:
    std::string_view backend() const noexcept override { return "memory"; }
    std::string location() const override { return "memory:"; }

    result<std::optional<state_entry>> get(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, where));
        std::lock_guard lk(s_->mu);
        auto it = s_->entries.find(key);
        if (it == s_->entries.end()) return std::optional<state_entry>{};
        return std::optional<state_entry>{it->second};
    }

    result<std::int64_t> put(std::string_view key, std::string_view value) override {
        MIGRATE_TRY(detail::check_key(key, where));
        std::lock_guard lk(s_->mu);
        return s_->write(key, value);
    }

    result<std::int64_t> compare_and_set(std::string_view key, std::string_view value, std::int64_t expected) override {
        MIGRATE_TRY(detail::check_key(key, where));
        MIGRATE_TRY(detail::check_expected_version(where, key, expected));
        std::lock_guard lk(s_->mu);
        auto it = s_->entries.find(key);
        std::int64_t current = it == s_->entries.end() ? 0 : it->second.version;
        if (current != expected) return detail::version_conflict(where, key, expected, current);
        return s_->write(key, value);
    }

    result<bool> erase(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, where));
        std::lock_guard lk(s_->mu);
        auto it = s_->entries.find(key);
        if (it == s_->entries.end()) return false;
        state_event e{state_event::kind::erase, {it->second.key, {}, ++s_->counter}};
        s_->entries.erase(it);
        s_->publish(e);
        return true;
    }

    result<std::vector<state_entry>> list(std::string_view prefix) override {
        MIGRATE_TRY(detail::check_prefix(prefix, where));
        std::vector<state_entry> out;
        std::lock_guard lk(s_->mu);
        for (auto it = s_->entries.lower_bound(prefix); it != s_->entries.end() && detail::has_prefix(it->first, prefix); ++it)
            out.push_back(it->second);
        return out;
    }

    result<std::unique_ptr<state_watch>> watch(std::string_view prefix,
                                               std::function<void(const state_event&)> on_event) override {
        MIGRATE_TRY(detail::check_prefix(prefix, where));
        auto w = std::make_shared<memory_watcher>();
        w->prefix = prefix;
        {
            std::lock_guard lk(s_->mu);
            s_->watchers.push_back(w);
        }
        return detail::start_watch_thread(std::move(w), std::move(on_event));
    }

private:
    std::shared_ptr<memory_state> s_ = std::make_shared<memory_state>();
};

}  // namespace

std::unique_ptr<state_store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace migrate::store
