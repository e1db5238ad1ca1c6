// migrate/store/memory.hpp — the embedded state store: a map in this process, the default
// when no store is configured and the store of unit tests.
//
// Linearizable (one mutex); versions come from one counter for the whole store, so a key
// erased and written again continues above its old version. Watches see every change in
// the order applied (each watch has its own delivery thread and queue, so a slow callback
// delays only its own watch). Nothing survives the process. Thread safety: every member may
// be called from several threads at once.
#pragma once

#include <migrate/state_store.hpp>

#include <memory>

namespace migrate::store {

/// A new, empty in-process store ("memory:").
std::unique_ptr<state_store> make_memory_store();

}  // namespace migrate::store
