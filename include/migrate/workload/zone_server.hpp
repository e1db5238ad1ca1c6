// migrate/workload/zone_server.hpp — the client side of the thesis workloads A1 and A2: a
// tiny HTTP server in the root namespace (on the testbed's bridge address) that tells the
// workloads where "the user" is, and records who asked when.
//
//   GET /location   (A1 polls this)   -> "<zone>\n"
//   GET /zone       (A2 polls this)   -> "<zone>\n"
//
// A test or benchmark moves the user with `set_zone`. Every answered poll is recorded with
// the poller's source address: workloads on the testbed's service networks have an
// address in their host's subnet, so the record says on which host the poll came from, and
// the A1 downtime is read from it (a1_poller.hpp). The optional `seq` query parameter the
// workloads send is kept too (a CRIU move continues it, a cold restart starts at 1).
//
// Every connection is answered and closed at once (HTTP/1.0, `Connection: close`): the
// pollers hold no connection that a CRIU dump would have to carry.
//
// Thread safety: all members may be called from any thread while the server runs.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::workload {

/// One answered poll.
struct poll_record {
    std::chrono::steady_clock::time_point at;   ///< when the request had been read
    std::string peer;                           ///< the poller's IPv4 source address
    std::string path;                           ///< "/location" or "/zone" (no query)
    std::uint64_t seq = 0;                      ///< the `seq` query parameter; 0 when absent
    std::string zone;                           ///< the zone it was told
};

struct zone_server_options {
    std::string address = "127.0.0.1";   ///< IPv4 to listen on; on a testbed its client_address()
    std::uint16_t port = 0;               ///< 0 = a free port (see `port()`)
    std::string zone = "zone-1";          ///< the user's zone at start
    std::size_t max_records = 1'000'000;  ///< the oldest records are dropped beyond this

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const zone_server_options& o);
void from_json(const json& j, zone_server_options& o);

/// True when `address` ("10.70.3.2") lies in `network` ("10.70.3.0/24", or one address
/// "10.70.3.2" = /32). False for anything malformed.
bool in_network(std::string_view address, std::string_view network);
/// `invalid_argument` naming `field` when `network` is not "a.b.c.d" or "a.b.c.d/n".
result<void> validate_network(std::string_view network, std::string_view field);

class zone_server {
public:
    /// Binds and starts serving on a thread of its own. Fails with `invalid_argument`
    /// (options) or `io_error` naming the address when it cannot bind.
    static result<std::unique_ptr<zone_server>> start(const zone_server_options& opts);
    ~zone_server();
    zone_server(const zone_server&) = delete;
    zone_server& operator=(const zone_server&) = delete;

    /// Stops serving and joins the thread (idempotent; the records stay readable).
    void stop();

    const std::string& address() const noexcept;
    std::uint16_t port() const noexcept;
    /// "http://<address>:<port><path>", what the workloads are given.
    std::string url(std::string_view path = "/zone") const;

    /// Moves the user: every poll from now on is answered with `zone`. `invalid_argument`
    /// for an empty zone or one with a line break (it is sent as one line).
    result<void> set_zone(std::string zone);
    std::string zone() const;

    /// Every answered poll so far, oldest first.
    std::vector<poll_record> records() const;
    /// Those whose peer lies in `network` (see `in_network`).
    std::vector<poll_record> records_from(std::string_view network) const;
    void clear_records();
    /// Requests answered so far (also those beyond `max_records`), and those refused
    /// (unknown path, bad request).
    std::uint64_t answered() const;
    std::uint64_t refused() const;

private:
    struct impl;
    explicit zone_server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace migrate::workload
