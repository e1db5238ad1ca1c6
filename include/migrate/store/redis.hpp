// migrate/store/redis.hpp — a state store in a real redis-server (RESP2 over TCP; our own
// small client on Boost.Asio, no hiredis).
//
// Each key is a hash (`v` = value, `ver` = version) at redis key `prefix + key`; versions
// come from one counter per prefix (`prefix + "\0version"`), so a key erased and written
// again continues above its old version; an index (`prefix + "\0keys"`, a sorted set) makes
// `list` one lexical range. put, compare-and-set, erase and list are Lua scripts (EVALSHA):
// each is atomic, so compare-and-set is linearizable, and each write PUBLISHes the change
// on the prefix's channel (`prefix + "\0events"`) from inside the script, so watches (each
// a SUBSCRIBE connection on its own thread) see changes in the order redis applied them.
// Pub/sub keeps no backlog: a watch whose connection drops reconnects and then delivers, as
// puts, the entries under its prefix written above the last version it saw; erases in
// that gap are not seen. Durability is the server's (RDB/AOF settings). Connections come
// from a small pool; a pooled connection the server closed (restart) is noticed before use
// and replaced. Stores whose prefixes nest ("a/" and "a/b/") share keys: don't.
// Thread safety: every member may be called from several threads at once.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/state_store.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace migrate::store {

struct redis_store_options {
    std::string address = "127.0.0.1:6379";             ///< HOST:PORT ([::1]:PORT for IPv6)
    std::string prefix = "migrate/";                    ///< prepended to every key (may be empty)
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{2000};    ///< one command's round trip
    std::size_t pool_size = 4;                          ///< idle connections kept for reuse
    std::chrono::milliseconds watch_retry{250};         ///< a watch's wait between reconnects

    /// `invalid_argument` naming the field ("redis_store_options.address: ...").
    result<void> validate() const;
};
void to_json(json& j, const redis_store_options& o);
void from_json(const json& j, redis_store_options& o);

/// Connects (and PINGs) once to check the server: `daemon_unreachable` naming the address
/// when it does not answer within `connect_timeout`.
result<std::unique_ptr<state_store>> make_redis_store(redis_store_options opts);

}  // namespace migrate::store
