// migrate-demo — the main job, end to end on this machine (needs root):
//
//   1. bring up a two-host edge testbed (network namespaces a and b, one dockerd each);
//   2. build a memcached image from the host's own binary on host a (no registry) and run it;
//   3. fill it with a data set over TCP;
//   4. move it to host b with CRIU stop-and-copy (`checkpoint_move`) while a client in the
//      root namespace probes it over UDP every few ms, at a's address and at b's;
//   5. count the keys on b, print the report (downtime as the client saw it), tear down.
//
// Exit codes: 0 moved with every key intact, 1 the move or the check failed, 2 usage error.
#include <migrate/checkpoint_move.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/probe.hpp>
#include <migrate/report.hpp>
#include <migrate/testbed/testbed.hpp>
#include <migrate/workload/memcached.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace tb = migrate::testbed;

namespace {

constexpr int exit_failure = 1;

struct demo_options {
    std::string testbed_name = "mdemo";
    std::uint64_t items = 20000;
    std::size_t value_size = 512;
    unsigned memory_mb = 256;
    std::uint16_t port = 11211;
    int probe_interval_ms = 5;
    bool congested = false;
    bool keep = false;
    std::string json_path;
};

void say(std::string_view s) { std::cerr << "[demo] " << s << "\n"; }

int fail(std::string_view what, const migrate::failure& f) {
    std::cerr << "migrate-demo: " << what << ": " << f.what() << "\n";
    return exit_failure;
}

// Live progress: one line per finished phase, on stderr (the report goes to stdout).
migrate::hooks progress_hooks() {
    migrate::hooks h;
    h.on_event = [](const migrate::phase_event& e) {
        if (e.what == migrate::phase_event::kind::begin)
            std::cerr << fmt::format("[demo]   {:<9} ... {}\n", to_string(e.phase), e.detail);
        else if (e.what == migrate::phase_event::kind::end)
            std::cerr << fmt::format("[demo]   {:<9} {}{}\n", to_string(e.phase), e.error ? "FAILED " : "done",
                                     e.bytes ? fmt::format(" ({} bytes)", e.bytes) : std::string{});
    };
    h.log = [](std::string_view s) { say(s); };
    return h;
}

// memcached needs a moment after `start` before it accepts connections.
migrate::result<migrate::workload::memcached_client> connect_when_ready(const std::string& addr, std::uint16_t port) {
    migrate::result<migrate::workload::memcached_client> c =
        migrate::workload::memcached_client::connect(addr, port, 500ms);
    for (int i = 0; i < 50 && !c; ++i) {
        std::this_thread::sleep_for(100ms);
        c = migrate::workload::memcached_client::connect(addr, port, 500ms);
    }
    return c;
}

// Tears the testbed down on every path out of `run` (unless --keep): a failed demo leaves
// nothing behind either.
struct testbed_teardown {
    const demo_options& o;
    ~testbed_teardown() {
        if (o.keep) {
            say(fmt::format("testbed kept; remove it with: migrate-testbed down --name {}", o.testbed_name));
            return;
        }
        say(fmt::format("tearing down testbed '{}'", o.testbed_name));
        if (auto r = tb::testbed::down(o.testbed_name); !r) fail("testbed down", r.error());
    }
};

int run(const demo_options& o) {
    auto hooks = progress_hooks();

    say(fmt::format("bringing up testbed '{}' with hosts a and b", o.testbed_name));
    tb::testbed_options tbo;
    tbo.name = o.testbed_name;
    tbo.hosts = 2;
    tbo.profile = o.congested ? tb::link_profile::congested : tb::link_profile::normal;
    auto bed = tb::testbed::up(tbo, {}, /*replace=*/true);
    if (!bed) return fail("testbed up", bed.error());
    testbed_teardown teardown{o};
    auto host_a = *bed->find("a");
    auto host_b = *bed->find("b");
    say(fmt::format("host a: {} ({}), host b: {} ({}), client side: {}", host_a.address, host_a.endpoint(),
                    host_b.address, host_b.endpoint(), bed->client_address()));

    migrate::docker::engine a{{.socket = host_a.socket}};
    migrate::docker::engine b{{.socket = host_b.socket}};

    const std::string image_ref = "migrate-demo/memcached:1";
    say("building the memcached image on host a from /usr/bin/memcached + its libraries + busybox");
    auto recipe = migrate::image::memcached_recipe(o.port, o.memory_mb);
    auto image_id = migrate::image::build_image(a, recipe.rootfs, image_ref, recipe.changes);
    if (!image_id) return fail("build image on a", image_id.error());

    const std::string name = "memcached";
    migrate::container_spec spec{.name = name, .image = image_ref,
                                 .cmd = {"-p", std::to_string(o.port), "-U", std::to_string(o.port), "-m",
                                         std::to_string(o.memory_mb)},
                                 .network_mode = "host"};  // the host's own namespace: a's address
    auto id = a.create(spec);
    if (!id) return fail("create memcached on a", id.error());
    if (auto r = a.start(*id); !r) return fail("start memcached on a", r.error());

    migrate::workload::memcached_dataset ds{.prefix = "map", .items = o.items, .value_size = o.value_size};
    say(fmt::format("loading {} items of {} bytes into memcached on a ({})", ds.items, ds.value_size, host_a.address));
    {
        auto client = connect_when_ready(host_a.address, o.port);
        if (!client) return fail("connect to memcached on a", client.error());
        if (auto r = client->load(ds); !r) return fail("load the data set", r.error());
        auto before = client->count_intact(ds);
        if (!before) return fail("count keys on a", before.error());
        say(fmt::format("memcached on a holds {} of {} items", *before, ds.items));
    }  // TCP connection closed: CRIU cannot dump an established TCP connection

    // The client side: a UDP get of one key every interval, at a (location 0) and at b (1).
    const auto probe_key = ds.key(0), probe_value = ds.value(0);
    const auto interval = std::chrono::milliseconds{o.probe_interval_ms};
    migrate::downtime_prober prober(
        [&](int location) {
            const auto& addr = location == 0 ? host_a.address : host_b.address;
            return migrate::workload::memcached_udp_get(addr, o.port, probe_key, probe_value, interval);
        },
        interval, fmt::format("memcached UDP get every {} ms from the client side", o.probe_interval_ms));
    prober.start();
    if (!prober.wait_for_source(5s)) {
        std::cerr << "migrate-demo: memcached on a does not answer the UDP probe\n";
        return exit_failure;
    }

    say("moving memcached a -> b (CRIU checkpoint, stream, restore)");
    migrate::checkpoint_move_options mo{.container = name, .source_label = "a", .target_label = "b"};
    auto report = checkpoint_move(a, b, mo, hooks);
    if (!report) return fail("checkpoint_move", report.error());
    if (report->success && !prober.wait_for_target(10s)) say("the target did not answer the probe within 10 s");
    prober.stop();
    report->downtime = prober.result();

    if (report->success) {
        auto client = connect_when_ready(host_b.address, o.port);
        std::uint64_t found = 0;
        if (client) {
            if (auto n = client->count_intact(ds)) found = *n;
        }
        report->state.push_back({"memcached keys on b", ds.items, found});
    } else {
        auto client = connect_when_ready(host_a.address, o.port);
        std::uint64_t found = 0;
        if (client) {
            if (auto n = client->count_intact(ds)) found = *n;
        }
        report->state.push_back({"memcached keys on a after rollback", ds.items, found});
    }
    report->details["testbed"] = {{"name", o.testbed_name},
                                  {"profile", to_string(bed->profile())},
                                  {"source_address", host_a.address},
                                  {"target_address", host_b.address}};
    report->details["data_set"] = {{"items", ds.items}, {"value_size", ds.value_size}, {"bytes", ds.bytes()}};

    std::cout << report->to_text();
    const bool intact = report->state_intact();
    std::cout << fmt::format("every key survived: {} ({} of {})\n", intact ? "yes" : "NO", report->state[0].found,
                             report->state[0].expected);
    std::cout << fmt::format("reproduce: scripts/demo --items {} --value-size {}{}\n", o.items, o.value_size,
                             o.congested ? " --congested" : "");
    if (!o.json_path.empty()) {
        std::ofstream(o.json_path) << migrate::json(*report).dump(2) << "\n";
        say("JSON report written to " + o.json_path);
    }

    return report->success && intact ? 0 : exit_failure;
}

}  // namespace

int main(int argc, char** argv) {
    demo_options o;
    CLI::App app{
        "migrate-demo: move a running memcached full of data between two edge hosts on this machine.\n"
        "Brings up a two-host testbed (network namespaces, one dockerd each), builds memcached's\n"
        "image from the host binary, loads a data set, moves the container a -> b with CRIU while a\n"
        "client probes it, then prints the report: phases, bytes, downtime as the client saw it, and\n"
        "how many keys are on b. Needs root. Usually run through scripts/demo, which sets up first.\n"
        "\n"
        "Examples:\n"
        "  migrate-demo                              # 20000 items of 512 B over an unshaped link\n"
        "  migrate-demo --items 100000 --congested   # 49 MB of data over HTB 100 Mbit links\n"
        "  migrate-demo --json report.json --keep    # keep the testbed to look around afterwards\n",
        "migrate-demo"};
    app.add_option("--items", o.items, "items in the data set")->capture_default_str()->check(CLI::Range(1, 10'000'000));
    app.add_option("--value-size", o.value_size, "bytes per value")->capture_default_str()->check(CLI::Range(1, 500'000));
    app.add_option("--memory-mb", o.memory_mb, "memcached -m (MB)")->capture_default_str()->check(CLI::Range(8, 4096));
    app.add_option("--port", o.port, "memcached TCP and UDP port")->capture_default_str();
    app.add_option("--probe-ms", o.probe_interval_ms, "probe interval (ms): the downtime's resolution")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("--testbed", o.testbed_name, "testbed name ([a-z0-9]{1,6}); replaced if it exists")->capture_default_str();
    app.add_flag("--congested", o.congested, "shape every link to 100 Mbit (HTB), as the thesis's congested network");
    app.add_flag("--keep", o.keep, "leave the testbed up afterwards");
    app.add_option("--json", o.json_path, "also write the report as JSON to this file");
    app.footer("Exit codes: 0 every key survived, 1 failure (message on stderr), 2 usage error.\n"
               "See docs/getting-started.md.");
    CLI11_PARSE(app, argc, argv);
    if (o.items * o.value_size > std::uint64_t{o.memory_mb} * 1024 * 1024 * 9 / 10) {
        std::cerr << "migrate-demo: --items x --value-size does not fit in --memory-mb; raise --memory-mb\n";
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "migrate-demo: " << e.what() << "\n";
        return exit_failure;
    }
}
