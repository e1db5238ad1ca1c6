// migrate-mec-sim — a MEC platform emulator driven by an ETSI MEC Sandbox (AdvantEDGE)
// scenario: serves MEC013 Location (v2), MEC011 App Support + Service Management, MEC021 AMS
// and MEC012 RNIS with the scenario's zones, access points, edge hosts and moving UEs, and
// POSTs notifications to subscribers. For researchers without a sandbox account, and for the
// SDK's tests and benchmarks.
//
//   migrate-mec-sim --scenario tests/data/mec/monaco-dual-mep-short-path.json --port 8090
//   migrate-mec-sim --scenario ... --base-path /sbx1/mep1 --time-scale 10 --watch
//   migrate-mec-sim --scenario ... --app-instance a1=mep1,app=counter,rule=r1,endpoint=10.2.0.10:8080 --no-traffic-rules
#include <migrate/mec/emulator.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }

/// "a1=mep1[,app=NAME][,rule=RULE_ID]...[,endpoint=HOST:PORT]..." -> an app instance with
/// ACTIVE FLOW rules. Throws CLI::ValidationError naming the part at fault.
migrate::mec::app_instance parse_app_instance(const std::string& spec) {
    auto bad = [&](const std::string& why) { return CLI::ValidationError("--app-instance", fmt::format("'{}': {}", spec, why)); };
    migrate::mec::app_instance a;
    std::size_t start = 0;
    bool first = true;
    while (true) {
        auto end = spec.find(',', start);
        auto part = spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
        auto eq = part.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) throw bad(fmt::format("'{}' is not KEY=VALUE", part));
        auto key = part.substr(0, eq), value = part.substr(eq + 1);
        if (first) {
            a.id = key;
            a.edge_host = value;
            first = false;
        } else if (key == "app") {
            a.app_name = value;
        } else if (key == "rule") {
            migrate::mec::traffic_rule r;
            r.id = value;
            a.traffic_rules.push_back(r);
        } else if (key == "endpoint") {
            auto colon = value.rfind(':');
            int port = 0;
            try {
                port = colon == std::string::npos ? 0 : std::stoi(value.substr(colon + 1));
            } catch (const std::exception&) {
            }
            if (port <= 0 || port > 65535) throw bad(fmt::format("endpoint '{}' is not HOST:PORT", value));
            a.endpoints.push_back({value.substr(0, colon), port});
        } else {
            throw bad(fmt::format("unknown key '{}' (app, rule, endpoint)", key));
        }
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return a;
}

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
        "Subscribers to zonal traffic / user tracking get zonalPresenceNotification POSTs (Entering, Leaving, Transferring);\n"
        "AMS subscribers get INTERHOST_MOVEOUT_TRIGGERED, RNIS subscribers CellChangeNotification (see docs/mec-sim.md)."};
    std::string scenario_file;
    migrate::mec::emulator_options o;
    o.port = 8090;
    bool show = false, watch = false, no_traffic_rules = false;
    std::vector<std::string> app_specs;
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
    app.add_option("--app-instance", app_specs,
                   "an app instance the platform runs (MEC011/MEC021): ID=EDGE_HOST[,app=NAME][,rule=RULE_ID]...[,endpoint=HOST:PORT]...;\n"
                   "rules are ACTIVE FLOW rules; instances with the same app name are the AMS's move targets");
    app.add_flag("--no-traffic-rules", no_traffic_rules, "answer 501 to the MEC011 traffic_rules routes, as AdvantEDGE does");
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
        "  PUT  /sim/v1/timeScale {\"timeScale\": 10}       POST /sim/v1/appInstances {\"appInstanceId\", \"edgeHost\", ...}\n"
        "  POST /sim/v1/appInstances/{id}/terminate\n"
        "Also: /mec_app_support/v1/applications/{id}/{confirm_ready|confirm_termination|subscriptions|traffic_rules},\n"
        "  /mec_service_mgmt/v1/{services|applications/{id}/services}, /amsi/v1/{app_mobility_services|subscriptions},\n"
        "  /rni/v2/{queries/rab_info|subscriptions}: the routes are listed in include/migrate/mec/emulator.hpp.\n"
        "Example: migrate-mec-sim --scenario tests/data/mec/monaco-dual-mep-short-path.json --time-scale 10 --watch");
    CLI11_PARSE(app, argc, argv);
    try {
        for (auto& spec : app_specs) o.app_instances.push_back(parse_app_instance(spec));
    } catch (const CLI::ValidationError& e) {
        return app.exit(e);
    }
    o.serve_traffic_rules = !no_traffic_rules;

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
    for (auto& a : e.app_instances())
        fmt::print("  app instance: {} on {}{} ({} traffic rules{})\n", a.declared.id, a.declared.edge_host,
                   a.declared.app_name.empty() ? "" : ", app " + a.declared.app_name, a.declared.traffic_rules.size(),
                   o.serve_traffic_rules ? "" : "; traffic_rules routes answer 501");
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
