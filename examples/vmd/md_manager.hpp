// examples/vmd/md_manager.hpp — the MD manager of MIGRATE: a REST service that registers mobile
// devices and hands each its twin from the replica pool (twin_supply.hpp).
//
//   POST   /devices                  {"device": ID, "host": NAME?} -> 201 {"device", "twin":
//                                    {host, id, address, port}, "timeout_ms"}; without "host"
//                                    the default host, else the one serving fewest devices.
//                                    409 when registered and its twin answers (the body says
//                                    which twin, and the timeout); 400 naming the bad field;
//                                    503 saying why no twin could be had.
//   GET    /devices                  {"devices": [assignment, ...]}
//   GET    /devices/{id}             the assignment: {device, twin, registered_at,
//                                    last_heard_ms, heartbeats, registrations}; 404
//   DELETE /devices/{id}             200 {"device", "released": twin}: the twin lets go
//   POST   /devices/{id}/heartbeat   204; 404 when not registered (any more)
//   GET    /pool                     the pool's status per host
//
// A device not heard from (registration or heartbeat) within `timeout` is released: its twin
// lets go and leaves, its state stays in the store. When it comes back it registers again
// and gets a twin, which loads that state. A device that registers while registered is
// asking because its twin stopped answering (the simulator does this when its records stop
// being acknowledged): the manager asks the twin; a twin that answers within
// `probe_timeout` keeps the device (409), one that does not is released as gone and the
// device gets a new twin (201, with "replaced": the old twin).
//
// Thread safety: `handle` and the operations may be called from any thread at once; one
// operation at a time per device (another one meanwhile gets 409 "busy").
#pragma once

#include "twin_supply.hpp"

#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/net/http_server.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::vmd {

using net::http_request;
using net::http_response;

struct md_manager_options {
    std::chrono::milliseconds timeout{10'000};        ///< silence after which a device is released
    std::string default_host;                         ///< for registrations naming none; empty = least loaded
    std::chrono::milliseconds probe_timeout{1000};    ///< a registered device's twin, when it registers again
    std::chrono::milliseconds sweep_interval{0};      ///< how often timeouts are looked for; 0 = timeout / 10 (50 ms .. 1 s)

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const md_manager_options& o);

// ---- the REST layer's parsing, separate so it is tested without a pool ---------------------

/// The body of POST /devices.
struct registration {
    std::string device;
    std::string host;   ///< empty = the manager chooses
};
/// `invalid_argument` naming the field: "body: not JSON ...", "device: missing",
/// "host: must be a string", "colour: unknown field (known: device, host)".
result<registration> parse_registration(std::string_view body);

/// What a request's target names.
enum class md_resource {
    devices,     ///< /devices
    device,      ///< /devices/{id}
    heartbeat,   ///< /devices/{id}/heartbeat
    pool,        ///< /pool
    none,        ///< anything else
};
std::string_view format_as(md_resource r) noexcept;
struct md_target {
    md_resource resource = md_resource::none;
    std::string device;   ///< for device, heartbeat (not validated yet)
};
/// The resource of `target` ("/devices/car-1?x=y": the query is ignored; one trailing '/'
/// is allowed).
md_target parse_target(std::string_view target);
/// The methods a resource takes, for 405's Allow header ("GET, POST").
std::string_view allowed_methods(md_resource r) noexcept;

// ---- the manager ---------------------------------------------------------------------------

/// One device's assignment.
struct assignment {
    std::string device;
    service_instance twin;
    std::string registered_at;                        ///< UTC, ISO 8601
    std::chrono::steady_clock::time_point last_heard;
    std::uint64_t heartbeats = 0;
    std::uint64_t registrations = 1;                  ///< twins this device has had since the manager started
};
/// {device, twin, registered_at, last_heard_ms (ago), heartbeats, registrations}.
json to_json(const assignment& a, std::chrono::steady_clock::time_point now);

/// What a release did.
struct released {
    service_instance twin;
    std::string twin_error;   ///< what the twin answered when asked to let go, if that failed
};

/// What a registration did.
struct registered {
    assignment now;
    std::optional<service_instance> replaced;   ///< the twin that no longer answered
};

class md_manager {
public:
    /// `invalid_argument` (options, no supply, a default host the supply lacks). Starts the
    /// thread that releases timed-out devices. `h.log` gets a line per registration, release
    /// and timeout.
    static result<std::unique_ptr<md_manager>> make(md_manager_options o, std::shared_ptr<twin_supply> supply,
                                                    hooks h = {});
    /// Stops the timeout thread; registered devices keep their twins.
    ~md_manager();
    md_manager(const md_manager&) = delete;
    md_manager& operator=(const md_manager&) = delete;

    /// The REST API (the file comment): what a `net::http_server` calls.
    http_response handle(const http_request& r);

    /// POST /devices: `invalid_argument` (bad device, unknown host), `already_exists` (its
    /// twin answers, or another operation on the device is running: the message says which),
    /// `unavailable`-class codes when no twin could be had.
    result<registered> register_device(const registration& r);
    /// DELETE /devices/{id}: `not_found`, `already_exists` when busy. The device is released
    /// even when its twin failed to let go (`twin_error` says how).
    result<released> release_device(std::string_view device);
    /// POST /devices/{id}/heartbeat: `not_found` (saying when and why it was released).
    result<void> heartbeat(std::string_view device);
    std::optional<assignment> find(std::string_view device) const;
    std::vector<assignment> devices() const;
    /// Releases every device not heard from within `timeout` now; returns them. (The
    /// manager's thread calls this every `sweep_interval`.)
    std::vector<std::string> release_timed_out();

    const md_manager_options& options() const noexcept;

private:
    struct impl;
    explicit md_manager(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::vmd
