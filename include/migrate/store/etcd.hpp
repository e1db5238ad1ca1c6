// migrate/store/etcd.hpp — a state store in a real etcd v3 (3.4+), through its JSON
// gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/deleterange`, `/v3/kv/txn`, `/v3/watch`)
// with libcurl: no gRPC stack needed.
//
// Keys are `prefix + key` (base64 on the wire, as the gateway wants bytes); an entry's
// version is its `mod_revision`, etcd's cluster-wide revision, so versions only grow, also
// across erase and re-create. Every operation is linearizable (etcd's Raft; reads are
// linearizable ranges); compare-and-set is one transaction comparing `mod_revision` (or
// `create_revision == 0` for "must not exist"). `list` reads all pages at one revision (a
// consistent snapshot). Watches are `/v3/watch` streams, one per watch with its own thread:
// events come in revision order; a stream that drops is reopened from the revision after
// the last one seen, so nothing is missed unless etcd compacted that history meanwhile (then
// the watch continues from the compaction point). Durability is etcd's (fsync'd WAL).
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

struct etcd_store_options {
    std::string address = "127.0.0.1:2379";             ///< the client URL's HOST:PORT (plain HTTP)
    std::string prefix = "migrate/";                    ///< prepended to every key (may be empty)
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{5000};    ///< one request's round trip
    std::size_t list_page_size = 1000;                  ///< entries per range request of `list`
    std::chrono::milliseconds watch_retry{250};         ///< a watch's wait between reconnects

    /// `invalid_argument` naming the field ("etcd_store_options.address: ...").
    result<void> validate() const;
};
void to_json(json& j, const etcd_store_options& o);
void from_json(const json& j, etcd_store_options& o);

/// Asks the server once (a range request) to check it: `daemon_unreachable` naming the
/// address when it does not answer within `connect_timeout`.
result<std::unique_ptr<state_store>> make_etcd_store(etcd_store_options opts);

}  // namespace migrate::store
