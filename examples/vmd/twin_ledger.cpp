#include "twin_ledger.hpp"

#include <fmt/format.h>

namespace migrate::vmd {

void to_json(json& j, const ledger_stats& s) {
    j = json{{"counted", s.counted},     {"late", s.late},
             {"duplicates", s.duplicates}, {"conflicts", s.conflicts},
             {"store_errors", s.store_errors}};
}

versioned_state unstored_state(std::string_view device) {
    versioned_state s;
    s.state.device = std::string(device);
    return s;
}

twin_ledger::twin_ledger(std::shared_ptr<state_store> store, std::string key_prefix, unsigned max_attempts)
    : store_(std::move(store)), prefix_(std::move(key_prefix)), max_attempts_(max_attempts ? max_attempts : 1) {}

std::string twin_ledger::key(std::string_view device) const { return prefix_ + std::string(device); }

result<std::optional<versioned_state>> twin_ledger::read_locked(std::string_view device) {
    auto k = key(device);
    auto e = store_->get(k);
    if (!e) return e.error();
    if (!*e) return std::optional<versioned_state>{};
    auto s = parse_device_state((*e)->value);
    if (!s) return make_failure(error::invalid_argument, fmt::format("{} in {}: {}", k, store_->location(), s.error().message));
    if (s->device != device)
        return make_failure(error::invalid_argument,
                            fmt::format("{} in {} holds device '{}'", k, store_->location(), s->device));
    return std::optional<versioned_state>{versioned_state{std::move(*s), (*e)->version}};
}

result<record_result> twin_ledger::record(const telemetry& t) {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(t.device);
    if (it == cache_.end()) {
        auto loaded = read_locked(t.device);
        if (!loaded) {
            ++stats_.store_errors;
            return loaded.error();
        }
        it = cache_.emplace(t.device, *loaded ? std::move(**loaded) : unstored_state(t.device)).first;
    }
    record_result r;
    for (unsigned attempt = 1;; ++attempt) {
        // A stale cache never takes a new record for a duplicate: the stored state only ever
        // gains records, so whatever the cache has seen, the store has too.
        device_state next = it->second.state;
        r.outcome = apply_record(next, t);
        if (r.outcome == record_outcome::duplicate) {
            ++stats_.duplicates;
            r.now = it->second;
            return r;
        }
        auto v = store_->compare_and_set(key(t.device), json(next).dump(), it->second.version);
        if (v) {
            it->second = {std::move(next), *v};
            ++(r.outcome == record_outcome::counted ? stats_.counted : stats_.late);
            r.now = it->second;
            return r;
        }
        if (v.error().code != make_error_code(error::conflict) || attempt >= max_attempts_) {
            ++stats_.store_errors;
            if (v.error().code == make_error_code(error::conflict))
                return make_failure(error::conflict, fmt::format("{}: {} compare-and-set attempts lost, the last: {}",
                                                                 key(t.device), attempt, v.error().message));
            return v.error();
        }
        // Another twin wrote the device: take its state and apply the record to that.
        ++r.conflicts;
        ++stats_.conflicts;
        auto reloaded = read_locked(t.device);
        if (!reloaded) {
            ++stats_.store_errors;
            return reloaded.error();
        }
        it->second = *reloaded ? std::move(**reloaded) : unstored_state(t.device);
    }
}

result<std::optional<versioned_state>> twin_ledger::load(std::string_view device) {
    std::lock_guard lock(mutex_);
    auto loaded = read_locked(device);
    if (!loaded) return loaded;
    auto& slot = cache_[std::string(device)];
    slot = *loaded ? **loaded : unstored_state(device);
    return loaded;
}

bool twin_ledger::release(std::string_view device) {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(device);
    if (it == cache_.end()) return false;
    cache_.erase(it);
    return true;
}

bool twin_ledger::holds(std::string_view device) const {
    std::lock_guard lock(mutex_);
    return cache_.find(device) != cache_.end();
}

std::vector<std::string> twin_ledger::devices() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (auto& [d, s] : cache_) out.push_back(d);
    return out;
}

ledger_stats twin_ledger::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace migrate::vmd
