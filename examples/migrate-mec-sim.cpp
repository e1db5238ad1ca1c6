// migrate-mec-sim — a MEC platform emulator driven by an ETSI MEC Sandbox (AdvantEDGE)
// scenario: serves the MEC013 Location API (v2) with the scenario's zones, access points and
// moving UEs, and POSTs zonal presence notifications to subscribers. For researchers without a
// sandbox account, and for the SDK's tests and benchmarks.
//
//   migrate-mec-sim --scenario tests/data/mec/monaco-dual-mep-short-path.json --port 8090
//   migrate-mec-sim --scenario ... --base-path /sbx1/mep1 --time-scale 10 --watch
#include <migrate/mec/emulator.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <thread>

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }

void list(const migrate::mec::scenario& s) {
    fmt::print("scenario {}: {} zones, {} access points, {} edge hosts, {} UEs\n", s.name(), s.zones().size(),
               s.access_points().size(), s.edge_hosts().size(), s.ues().size());
    for (auto& z : s.zones()) {
        fmt::print("  {}{}\n", z.name, z.edge_hosts.empty() ? "" : fmt::format("  (edge hosts: {})", fmt::join(z.edge_hosts, ", ")));
        for (auto& name : z.access_points) {
            auto* a = s.find_access_point(name);
            fmt::print("    {:<18} {:<8} r={:>4.0f} m  [{:.6f}, {:.6f}]\n", a->name, to_string(a->type), a->radius_m,
                       a->position.longitude, a->position.latitude);
        }
    }
    for (auto& u : s.ues())
        fmt::print("  UE {:<12} {}\n", u.name,
                   u.moving() ? fmt::format("{:.0f} m/s, {} points, {:.0f} m, {}", u.velocity_mps, u.path.size(), u.path_length_m(),
                                            u.eop == migrate::mec::end_of_path::loop ? "LOOP" : "REVERSE")
                              : std::string("stationary"));
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "MEC platform emulator: serves the ETSI MEC013 Location API (v2) for a mobility scenario of the ETSI MEC Sandbox\n"
        "(AdvantEDGE scenario JSON). UEs move along their paths at their velocities (LOOP or REVERSE at the end); each is\n"
        "served by the access point the sandbox would pick (stays on its access point while in range, unless a more\n"
        "localized radio type - WiFi, then 5G, then 4G - is in range: then the closest of that type), hence its zone.\n"
        "Subscribers to zonal traffic / user tracking get zonalPresenceNotification POSTs (Entering, Leaving, Transferring)."};
    std::string scenario_file;
    migrate::mec::emulator_options o;
    o.port = 8090;
    bool show = false, watch = false;
    app.add_option("--scenario", scenario_file, "AdvantEDGE scenario JSON, e.g. tests/data/mec/monaco-4g-5g-wifi-macro.json")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--address", o.address, "IP to listen on")->capture_default_str();
    app.add_option("--port", o.port, "TCP port (0 = any free one, printed)")->capture_default_str();
    app.add_option("--base-path", o.base_path,
                   "prefix of every route, as the sandbox's '/<sandbox>/mep1' (then /sbx/mep1/location/v2/...)");
    app.add_option("--time-scale", o.time_scale, "scenario seconds per real second: 10 replays ten times faster, 0 pauses")
        ->capture_default_str();
    app.add_option("--step", o.step_s, "mobility step in scenario seconds (the sandbox updates once a second)")->capture_default_str();
    app.add_flag("--list", show, "print the scenario's zones, access points and UEs, and exit");
    app.add_flag("--watch", watch, "print every change of access point / zone as it happens");
    app.footer(
        "Served (prefix --base-path):\n"
        "  GET  /location/v2/queries/users?address=10.100.0.1      GET /location/v2/queries/zones[/{zoneId}[/accessPoints[/{apId}]]]\n"
        "  POST /location/v2/subscriptions/zonalTraffic            {\"zonalTrafficSubscription\": {\"callbackReference\": {\"notifyURL\": ...}, \"zoneId\": \"zone01\"}}\n"
        "  POST /location/v2/subscriptions/userTracking            {\"userTrackingSubscription\": {\"callbackReference\": {...}, \"address\": \"10.100.0.1\"}}\n"
        "  GET|DELETE /location/v2/subscriptions/{zonalTraffic|userTracking}/{id}\n"
        "Control (not ETSI):\n"
        "  GET  /sim/v1/state                      POST /sim/v1/ues/{ue}/accessPoint {\"accessPointId\": \"w1\"} (null releases)\n"
        "  PUT  /sim/v1/timeScale {\"timeScale\": 10}\n"
        "Not served yet: RNIS (MEC012), AMS (MEC021), MEC011.\n"
        "Example: migrate-mec-sim --scenario tests/data/mec/monaco-dual-mep-short-path.json --time-scale 10 --watch");
    CLI11_PARSE(app, argc, argv);

    auto s = migrate::mec::scenario::load(scenario_file);
    if (!s) {
        std::cerr << "migrate-mec-sim: " << s.error().what() << '\n';
        return 1;
    }
    if (show) {
        list(*s);
        return 0;
    }
    auto emu = migrate::mec::emulator::start(std::move(*s), o);
    if (!emu) {
        std::cerr << "migrate-mec-sim: " << emu.error().what() << '\n';
        return 1;
    }
    auto& e = **emu;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    fmt::print("migrate-mec-sim: scenario {} ({} UEs, {} zones) at time scale {}\n", e.model().name(), e.model().ues().size(),
               e.model().zones().size(), o.time_scale);
    fmt::print("  Location API: {}/location/v2/queries/zones\n", e.url());
    fmt::print("  control:      {}/sim/v1/state\n", e.url());
    std::fflush(stdout);

    std::map<std::string, std::string> last;   // UE -> access point
    for (auto& st : e.states()) last[st.ue] = st.access_point;
    while (!stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!watch) continue;
        for (auto& st : e.states()) {
            auto& before = last[st.ue];
            if (before == st.access_point) continue;
            fmt::print("{:9.1f} s  {:<12} {:<18} -> {:<18} {}\n", e.now(), st.ue, before.empty() ? "-" : before,
                       st.access_point.empty() ? "-" : st.access_point, st.zone);
            before = st.access_point;
        }
        std::fflush(stdout);
    }
    e.stop();
    fmt::print("migrate-mec-sim: stopped; {} notifications sent, {} failed\n", e.notifications_sent(), e.notifications_failed());
    return 0;
}
