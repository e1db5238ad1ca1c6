// examples/vmd/twin.hpp — the vMD digital twin of MIGRATE: a CoAP server (libcoap, UDP)
// that keeps the latest telemetry of the devices it serves and writes every device's state
// to a `migrate::state_store` before it acknowledges a record.
//
//   POST /telemetry        a telemetry record (JSON, telemetry.hpp) -> 2.04 Changed
//                          {"device","seq","outcome":"counted"|"late"|"duplicate","count"}
//                          once the store has it; 4.00 naming the bad field; 5.03 when the
//                          store failed (nothing acknowledged: the device retransmits).
//   GET  /state?device=ID  the device's state from the store (device_state.hpp + "version",
//                          "twin"): what the edge answers for a device it cannot reach.
//                          4.04 for a device the store does not know.
//   POST /assign           {"device": ID}: load the device's state now (a pooled twin is
//                          assigned when its device arrives) -> 2.04 with the state.
//   POST /release          {"device": ID}: forget it (the store keeps it) -> 2.02 Deleted.
//   GET  /health           {"status":"ok","twin","store","devices",...counters}.
//
// A twin also takes records of devices it was never assigned (a route switch may send a
// device's traffic before its assignment arrives): the first record loads the device's state.
// It answers on whatever address a request came to (the endpoint listens on `address`,
// 0.0.0.0 by default, and libcoap replies from the request's destination address).
//
// Thread safety: `start` runs the server on a thread of its own; all members may be called
// from any thread.
#pragma once

#include "twin_ledger.hpp"

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/state_store.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace migrate::vmd {

struct twin_options {
    std::string address = "0.0.0.0";   ///< IPv4 to listen on
    std::uint16_t port = 5683;          ///< UDP; 0 = a free port (see `twin::port()`)
    std::string name;                   ///< reported in /health and /state; default: the host name
    std::string key_prefix = "vmd/";    ///< store keys are key_prefix + device id
    unsigned max_cas_attempts = 32;     ///< compare-and-set retries per record

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
void to_json(json& j, const twin_options& o);
void from_json(const json& j, twin_options& o);

class twin {
public:
    /// Binds and serves on a thread of its own. `invalid_argument` (options), `io_error`
    /// naming the address when it cannot bind.
    static result<std::unique_ptr<twin>> start(const twin_options& o, std::shared_ptr<state_store> store);
    ~twin();
    twin(const twin&) = delete;
    twin& operator=(const twin&) = delete;

    /// Stops serving and joins the thread (idempotent; takes up to 100 ms).
    void stop();
    std::uint16_t port() const noexcept;
    const twin_options& options() const noexcept;
    /// The devices and counters; what GET /health answers.
    json health() const;
    twin_ledger& ledger() noexcept;

private:
    struct impl;
    explicit twin(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::vmd
