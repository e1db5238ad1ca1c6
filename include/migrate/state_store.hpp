// migrate/state_store.hpp — where a service's state lives when it must not travel with the
// service: a versioned key-value store with compare-and-set and watches.
//
// The replica pool (strategy/replica_pool.hpp) keeps each device's digital-twin state here,
// so that moving a twin moves no bytes: the instance on the target loads the state, and
// every write is a compare-and-set on the version it last saw, so two instances that
// overlap during a route switch cannot overwrite each other's updates (the loser reloads
// and retries). Backends (include/migrate/store/): memory (embedded default), file (a
// directory or volume), redis (a real redis-server), etcd (a real etcd, v3 JSON gateway).
// Each backend documents its consistency in docs/state-stores.md.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate {

/// One key's value and its version. Versions are > 0 and strictly increase with every
/// write of the key (a key erased and written again continues above its old version in
/// backends that can, and starts again at a version > 0 otherwise: compare only versions
/// read from the same store).
struct state_entry {
    std::string key;
    std::string value;              ///< opaque bytes (twins store JSON)
    std::int64_t version = 0;
};
void to_json(json& j, const state_entry& e);

/// A change seen by a watch.
struct state_event {
    enum class kind { put, erase };
    kind what = kind::put;
    state_entry entry;              ///< for `erase`, the key and the version of the erase
};

/// Stops its watch when destroyed (or on `cancel()`); after it returns no callback runs.
class state_watch {
public:
    virtual ~state_watch() = default;
    virtual void cancel() noexcept = 0;
};

/// The interface every backend implements. Keys are non-empty UTF-8 strings up to 1024
/// bytes without NUL; a bad key fails with `invalid_argument` naming it. Unreachable
/// servers fail with `daemon_unreachable` naming the address. Thread safety: all member
/// functions may be called from several threads at once.
class state_store {
public:
    virtual ~state_store() = default;

    /// "memory", "file", "redis", "etcd".
    virtual std::string_view backend() const noexcept = 0;
    /// Where it lives, for messages and reports ("redis://127.0.0.1:6379/migrate/").
    virtual std::string location() const = 0;

    /// The key's entry, or `nullopt` when it does not exist.
    virtual result<std::optional<state_entry>> get(std::string_view key) = 0;
    /// Writes unconditionally; returns the new version.
    virtual result<std::int64_t> put(std::string_view key, std::string_view value) = 0;
    /// Writes only if the key's current version is `expected_version` (0 = the key must
    /// not exist). Returns the new version; `conflict` when the version differed (the
    /// message says which version is there now, so the caller can reload and retry).
    virtual result<std::int64_t> compare_and_set(std::string_view key, std::string_view value,
                                                 std::int64_t expected_version) = 0;
    /// Removes the key; `false` when it did not exist.
    virtual result<bool> erase(std::string_view key) = 0;
    /// Every entry whose key starts with `prefix`, sorted by key.
    virtual result<std::vector<state_entry>> list(std::string_view prefix) = 0;
    /// Calls `on_event` for every later change of a key starting with `prefix`, in the
    /// order the store applied them, on a thread of the store's own (keep it quick).
    /// Returns once the watch is established: a write that returns after `watch` returned
    /// is seen.
    virtual result<std::unique_ptr<state_watch>> watch(std::string_view prefix,
                                                       std::function<void(const state_event&)> on_event) = 0;
};

/// Opens a store by URI:
///   memory:                          a new empty in-process store
///   file:/var/lib/twins              a directory (created if missing)
///   redis://127.0.0.1:6379[/prefix]  a redis-server (keys are prefixed)
///   etcd://127.0.0.1:2379[/prefix]   an etcd v3 server through its JSON gateway
/// `invalid_argument` for an unknown scheme or malformed URI; `daemon_unreachable` when the
/// server does not answer within `connect_timeout`.
result<std::unique_ptr<state_store>> open_state_store(std::string_view uri,
                                                      std::chrono::milliseconds connect_timeout = std::chrono::milliseconds{2000});

}  // namespace migrate
