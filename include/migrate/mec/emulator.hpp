// migrate/mec/emulator.hpp — a MEC platform emulator driven by a mobility scenario: serves the
// MEC013 Location API (v2) subset the SDK uses over its own HTTP server, moves the scenario's
// UEs as time passes (scaled for fast replay) and POSTs zonal presence notifications to
// subscribers when a UE enters or leaves a zone or changes access point. What
// `migrate-mec-sim` runs; researchers use it instead of an ETSI MEC Sandbox account.
//
// Served under `base_path` (the sandbox's "/<sandbox>/mep1", or empty):
//   GET  /location/v2/queries/users[?address=&zoneId=&accessPointId=]   {"userList": ...}
//   GET  /location/v2/queries/zones                                      {"zoneList": ...}
//   GET  /location/v2/queries/zones/{zoneId}                             {"zoneInfo": ...}
//   GET  /location/v2/queries/zones/{zoneId}/accessPoints                {"accessPointList": ...}
//   GET  /location/v2/queries/zones/{zoneId}/accessPoints/{apId}         {"accessPointInfo": ...}
//   GET|POST /location/v2/subscriptions/zonalTraffic, GET|DELETE .../{subscriptionId}
//   GET|POST /location/v2/subscriptions/userTracking, GET|DELETE .../{subscriptionId}
// and the emulator's own control API (not ETSI):
//   GET  /sim/v1/state                       scenario time, time scale, every UE's state
//   POST /sim/v1/ues/{ue}/accessPoint        {"accessPointId": "w1"}; null releases the UE
//   PUT  /sim/v1/timeScale                   {"timeScale": 10}; 0 pauses the clock
// Every query answers the state at the time it is asked (the clock catches up first).
// UE addresses are the scenario's UE names ("10.100.0.1"); a query may prefix them "acr:".
// Not yet served: RNIS (MEC012), AMS (MEC021), MEC011, subscription `duration` expiry.
#pragma once

#include <migrate/mec/scenario.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace migrate::mec {

struct emulator_options {
    std::string address = "127.0.0.1";   ///< IP literal to listen on
    std::uint16_t port = 0;              ///< 0 = a free port (see `emulator::port`)
    std::string base_path;               ///< "" or "/sbx1/mep1": prefixed to every route
    double time_scale = 1.0;             ///< scenario seconds per real second; 0 = paused
    double step_s = 1.0;                 ///< mobility step, scenario seconds (the sandbox's GIS: 1 s)
    std::chrono::milliseconds tick{100};             ///< how often the clock advances, real time
    std::chrono::milliseconds notify_timeout{2000};  ///< per notification POST

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};

class emulator {
public:
    /// Serves `s` and starts its clock. `invalid_argument` (options), `io_error` (cannot listen).
    static result<std::unique_ptr<emulator>> start(scenario s, const emulator_options& o);
    ~emulator();
    emulator(const emulator&) = delete;
    emulator& operator=(const emulator&) = delete;

    /// Stops the clock, the server and the notifier (pending notifications are dropped).
    /// Idempotent.
    void stop();

    std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:PORT" + base_path: prefix "/location/v2/..." to it.
    std::string url() const;
    const scenario& model() const noexcept;

    /// Scenario seconds since start.
    double now() const;
    /// Changes the clock's speed from now on; `invalid_argument` when negative.
    result<void> set_time_scale(double scale);
    /// As the control endpoint: pins `ue` to `access_point` (empty: releases it) and notifies.
    result<ue_state> force(const std::string& ue, const std::string& access_point);
    /// Every UE's state now (the clock catches up first, notifying as it goes).
    std::vector<ue_state> states() const;
    /// Notifications POSTed so far (answered 2xx), and failed.
    std::size_t notifications_sent() const noexcept;
    std::size_t notifications_failed() const noexcept;

private:
    struct impl;
    explicit emulator(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::mec
