// migrate/workload/memcached.hpp — the memcached workload (thesis A3): a deterministic data
// set, a text-protocol client to load and verify it over TCP, and a one-datagram UDP get
// used as the downtime probe.
//
// Why UDP for probing: CRIU cannot dump a process holding an established TCP connection
// without --tcp-established (which `docker checkpoint` does not pass), so a TCP prober
// could make the dump fail whenever a probe happens to be in flight. A UDP get is a real
// memcached request with no connection state.
#pragma once

#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace migrate::workload {

/// N keys with values derived from their index, so verification checks content, not just
/// presence. Same parameters -> same data on any machine.
struct memcached_dataset {
    std::string prefix = "key";
    std::uint64_t items = 1000;
    std::size_t value_size = 512;

    std::string key(std::uint64_t i) const;
    std::string value(std::uint64_t i) const;
    std::uint64_t bytes() const { return items * value_size; }
};

/// A blocking memcached text-protocol client over TCP. Not thread safe.
class memcached_client {
public:
    /// Connects to host:port within `timeout`; `daemon_unreachable` naming the address on failure.
    static result<memcached_client> connect(const std::string& host, std::uint16_t port,
                                            std::chrono::milliseconds timeout = std::chrono::seconds{3});
    memcached_client(memcached_client&&) noexcept;
    memcached_client& operator=(memcached_client&&) noexcept;
    ~memcached_client();

    result<void> set(const std::string& key, const std::string& value);
    /// The value, or empty when the key is absent.
    result<std::optional<std::string>> get(const std::string& key);
    /// Stores every item of the data set (pipelined in batches).
    result<void> load(const memcached_dataset& ds);
    /// How many items of the data set are present with the right value.
    result<std::uint64_t> count_intact(const memcached_dataset& ds);
    /// `stats` (or `stats <group>`, e.g. "items"): every numeric statistic by name
    /// ("items:9:number_hot" -> 0).
    result<std::map<std::string, std::uint64_t>> stats(const std::string& group = {});
    /// Waits until memcached's LRU maintainer is done with freshly stored items: none left in
    /// the HOT segment (`items:N:number_hot`) and no move (`items:N:moves_*`) for `quiet`.
    /// Why: after a bulk load it re-links the new items HOT -> COLD for about a second
    /// (measured here: 80% at once, the last 20% a second later), rewriting their headers on
    /// every slab page; the data set is static, page for page, only from then on (which is
    /// what a checkpoint delta measured against an earlier checkpoint sees). `timeout` when
    /// it has not settled within `patience`.
    result<void> wait_settled(std::chrono::milliseconds patience = std::chrono::seconds{15},
                              std::chrono::milliseconds quiet = std::chrono::milliseconds{200});

private:
    struct impl;
    explicit memcached_client(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

/// One memcached get over UDP (memcached must run with -U PORT): true when the server
/// answered with `expected_value` for `key` within `timeout`.
bool memcached_udp_get(const std::string& host, std::uint16_t port, const std::string& key,
                       const std::string& expected_value, std::chrono::milliseconds timeout);

/// One memcached UDP `version` request: true when the server answered it within `timeout`.
/// The downtime probe for strategies that restart memcached empty on the target (an empty
/// cache that answers is up; what it lost is counted separately with `count_intact`).
bool memcached_udp_version(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace migrate::workload
