// examples/vmd/twin_ledger.hpp — a twin's devices: each one's state cached in memory and
// written through to a `migrate::state_store` before a record is acknowledged.
//
// Why compare-and-set: during a route switch two twins (old and new) serve the same device
// at once — the old one still answers what was in flight, the new one what the switch sends
// it. Each write is `compare_and_set` on the version this twin last read; when the other
// twin wrote in between it fails with `conflict`, and the ledger reloads the stored state,
// applies the record again and retries. Neither twin can overwrite the other's update, and a
// record both received is counted once (device_state.hpp).
//
// Thread safety: all members may be called from several threads (one mutex; a store call
// is made with it held, so one twin writes one record at a time).
#pragma once

#include "device_state.hpp"
#include "telemetry.hpp"

#include <migrate/result.hpp>
#include <migrate/state_store.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::vmd {

/// A device's state with the store version it was read or written at (0 = not stored).
struct versioned_state {
    device_state state;
    std::int64_t version = 0;
};

/// The state of a device nothing is stored for yet.
versioned_state unstored_state(std::string_view device);

/// What recording one record did.
struct record_result {
    record_outcome outcome = record_outcome::counted;
    versioned_state now;        ///< the state after it (as stored)
    unsigned conflicts = 0;     ///< compare-and-set conflicts on the way (another twin wrote)
};

/// Counters since the ledger was made.
struct ledger_stats {
    std::uint64_t counted = 0;
    std::uint64_t late = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t conflicts = 0;        ///< compare-and-set retries
    std::uint64_t store_errors = 0;     ///< records not acknowledged because the store failed
};
void to_json(json& j, const ledger_stats& s);

class twin_ledger {
public:
    /// Keys are `key_prefix + device`. `max_attempts` bounds the compare-and-set retries of
    /// one record (two twins overlap briefly; endless conflicts mean something else is wrong).
    twin_ledger(std::shared_ptr<state_store> store, std::string key_prefix = "vmd/", unsigned max_attempts = 32);

    /// Applies `t` (validated) to its device's state and writes the result to the store
    /// (a duplicate writes nothing). Returns only once the store has it. Errors: the store's
    /// (`daemon_unreachable`, ...), `conflict` after `max_attempts` lost races,
    /// `invalid_argument` when the stored document is not a device state (names the key).
    result<record_result> record(const telemetry& t);

    /// The device's state read from the store now (the cache is refreshed); `nullopt` when
    /// the store has none. Makes the device one of this twin's (`devices()`).
    result<std::optional<versioned_state>> load(std::string_view device);
    /// Forgets the device (its stored state stays). `false` when it was not one of ours.
    bool release(std::string_view device);
    /// True when the device is one of this twin's.
    bool holds(std::string_view device) const;
    /// The devices this twin holds (assigned, or sent a record), sorted.
    std::vector<std::string> devices() const;

    ledger_stats stats() const;
    const std::shared_ptr<state_store>& store() const noexcept { return store_; }
    std::string key(std::string_view device) const;

private:
    result<std::optional<versioned_state>> read_locked(std::string_view device);

    std::shared_ptr<state_store> store_;
    std::string prefix_;
    unsigned max_attempts_;
    mutable std::mutex mutex_;
    std::map<std::string, versioned_state, std::less<>> cache_;
    ledger_stats stats_;
};

}  // namespace migrate::vmd
