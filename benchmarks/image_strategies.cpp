// The image strategies (thesis M1 export_import, M2 commit_save_load) moving memcached (A3)
// with a named volume of `--volume-mb` between testbed hosts a and b, as a client sees it:
//   export_import              docker export the running container, import on b (prepare);
//                              stop, move the volume, start (downtime)
//   commit_save_load           docker commit (pauses it), save only the layers b lacks (b
//                              holds the base image: Addad's "partial" case), load (prepare);
//                              stop, move the volume, start (downtime)
//   commit_save_load-full      the same, b holding nothing of the image ("full")
//   commit_save_load-nocheck   b holds the base, but skip_present_layers = false (the
//                              thesis's M2: the whole image crosses)
//   commit_save_load-downtime  commit_in_downtime: the base's missing layers early, the
//                              commit and the container's own layer in the downtime
// Downtime: last answer from a to first answer from b of a UDP request every 5 ms from the
// client side (memcached in host networking on each host's address; on a a get of a stored
// key, on b any answer, since b's memcached starts empty). State: the volume's bytes are
// compared on b; memcached's keys are counted on b (these strategies do not carry memory:
// expect none). Needs the testbed up.
//
//   bench_image_strategies --testbed NAME [--runs 3] [--items 2000] [--volume-mb 8]
//                          [--transport local|agent] [--variants export_import,commit_save_load,...]
//                          [--verbose]
// With `--transport agent` (testbed up with `--agents`) the bytes cross the link between
// the hosts, so `migrate-testbed profile NAME congested` shapes them; with `local` they pass
// through this process and no link is involved.
#include "bench_support.hpp"

#include <migrate/image_layers.hpp>
#include <migrate/probe.hpp>
#include <migrate/strategies.hpp>
#include <migrate/workload/memcached.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace migrate;
using namespace migrate::bench;
using namespace std::chrono_literals;

namespace {

// The volume's file: byte i is a function of i, so b can check it without a copy.
char pattern(std::uint64_t i) { return static_cast<char>('a' + (i * 7 + i / 4096) % 26); }

struct sample {
    double downtime_ms = 0, prepare_ms = 0, freeze_prepare_ms = 0, relocate_ms = 0;
    std::uint64_t prepare_bytes = 0, relocate_bytes = 0;
    std::string image_case = "-";
    std::uint64_t keys = 0;
    bool volume_ok = false;
};

}  // namespace

int main(int argc, char** argv) {
    program_name() = "bench_image_strategies";
    const std::vector<std::string> known = {"export_import", "commit_save_load", "commit_save_load-full",
                                            "commit_save_load-nocheck", "commit_save_load-downtime"};
    std::string tb_name;
    std::vector<std::string> variants = known;
    std::uint64_t items = 2000;
    std::uint64_t volume_mb = 8;
    int runs = 3;
    bool verbose = false;
    std::string transport_kind = "local";
    if (const char* env = std::getenv("MIGRATE_TESTBED")) tb_name = env;
    CLI::App app{"The image strategies (thesis M1 export_import, M2 commit_save_load and its variants) moving memcached "
                 "with a named volume from testbed host a to b: client-seen downtime, prepare time and bytes, the "
                 "commit's pause, the image case, the volume checked byte for byte on b."};
    app.footer("Example: bench_image_strategies --testbed csl --runs 3 --transport agent\n"
               "(--transport agent needs `migrate-testbed up --agents`; `migrate-testbed profile NAME congested` "
               "shapes the link)");
    app.add_option("--testbed", tb_name, "testbed name (default: $MIGRATE_TESTBED)")->required(tb_name.empty());
    app.add_option("--runs", runs, "runs per variant")->check(CLI::Range(1, 1000))->capture_default_str();
    app.add_option("--items", items, "memcached keys (counted on b: none survive)")->capture_default_str();
    app.add_option("--volume-mb", volume_mb, "size of the named volume's file")->capture_default_str();
    app.add_option("--transport", transport_kind, "local (through this process) or agent (across the link)")
        ->check(CLI::IsMember({"local", "agent"}))->capture_default_str();
    app.add_option("--variants", variants, "variants to run")->delimiter(',')->check(CLI::IsMember(known))
        ->capture_default_str();
    app.add_flag("--verbose", verbose, "print each run's report");
    CLI11_PARSE(app, argc, argv);

    auto bt = open_testbed(tb_name, transport_kind);
    auto& tb = bt.tb;
    auto &ha = bt.ha, &hb = bt.hb;
    auto a = bt.a;
    auto b = bt.b;
    // local: the bytes pass through this process (never over the testbed's links); agent:
    // a's agent streams to b's over the link between them (shaped when congested).
    std::shared_ptr<transport> tp = bt.transport;

    // memcached's image on a; on b only as each variant wants it.
    const std::string ref = "bench-img-memcached:1";
    if (!a->inspect_image(ref)) {
        auto r = image::memcached_recipe();
        need(image::build_image(*a, r.rootfs, ref, r.changes), "build " + ref);
    }
    const auto base = need(a->inspect_image(ref), "image on a");
    auto b_holds_base = [&](bool want) {
        (void)b->remove_image(ref, true);
        (void)b->remove_image(base.id, true);
        if (!want) {
            if (need(check_layers(*b, base.layers), "ask b").held != 0) die("b still holds memcached's layers");
            return;
        }
        auto spec = artifacts::images({base.id});
        edge_host from{.name = "a", .address = ha.address, .runtime = a, .work_dir = ha.work_dir, .agent = ha.agent};
        edge_host to{.name = "b", .address = hb.address, .runtime = b, .work_dir = hb.work_dir, .agent = hb.agent};
        need(tp->transfer(from, spec, to, spec), "base image to b");
    };
    const std::string prefix = "bench-img";
    auto remove_moved_images = [&](docker::engine& e) {
        if (auto imgs = e.list_images())
            for (auto& i : *imgs)
                for (auto& t : i.tags)
                    if (t.rfind(prefix + "/", 0) == 0) (void)e.remove_image(t, true);
    };

    const std::string name = "bench-img-mc", volume = "bench-img-data";
    const std::uint16_t port = 11511;
    const workload::memcached_dataset ds{.prefix = "bimg", .items = items, .value_size = 512};
    const std::uint64_t volume_bytes = volume_mb << 20;
    std::map<std::string, std::vector<sample>> results;
    fmt::print(stderr, "memcached + a {} MiB volume, {} key(s), {} run(s), profile {}, transport {}\n", volume_mb, items,
               runs, testbed::to_string(tb.profile()), transport_kind);

    for (int run = 0; run < runs; ++run) {
        for (auto& variant : variants) {
            for (auto* e : {a.get(), b.get()}) {
                (void)e->remove(name, true);
                (void)e->remove_volume(volume, true);
                remove_moved_images(*e);
            }
            b_holds_base(variant != "commit_save_load-full" && variant != "export_import");
            need(a->create_volume(volume), "volume on a");
            {
                std::ofstream f(need(a->inspect_volume(volume), "volume").mountpoint / "state.bin", std::ios::binary);
                std::vector<char> buf(1 << 20);
                for (std::uint64_t off = 0; off < volume_bytes; off += buf.size()) {
                    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern(off + i);
                    f.write(buf.data(), static_cast<std::streamsize>(buf.size()));
                }
            }
            container_spec spec{.name = name, .image = ref,
                                .cmd = {"-p", std::to_string(port), "-U", std::to_string(port), "-m", "256"},
                                .network_mode = "host",
                                .mounts = {{mount_spec::kind::volume, volume, "/data", false}}};
            need(a->start(need(a->create(spec), "create on a")), "start on a");
            {
                std::optional<workload::memcached_client> c;
                for (int i = 0; i < 100 && !c; ++i) {
                    if (auto r = workload::memcached_client::connect(ha.address, port)) c.emplace(std::move(*r));
                    else std::this_thread::sleep_for(50ms);
                }
                if (!c) die("memcached on a does not answer");
                need(c->load(ds), "load the data set");
            }
            const auto key = ds.key(0), value = ds.value(0);
            downtime_prober prober(
                [&](int at) {
                    return at == 0 ? workload::memcached_udp_get(ha.address, port, key, value, 5ms)
                                   : workload::memcached_udp_version(hb.address, port, 5ms);
                },
                5ms, "memcached UDP request every 5 ms from the client side (a: get of a stored key, b: any answer)");
            // Before the move only a serves; b's answers count only as the target's.
            prober.start();
            if (!prober.wait_for_source(5s)) die("the prober never reached a");

            json opts = json::object();
            std::string strategy = "export_import";
            if (variant == "export_import") opts = {{"image_prefix", prefix}};
            else {
                strategy = "commit_save_load";
                opts = {{"image_prefix", prefix},
                        {"skip_present_layers", variant != "commit_save_load-nocheck"},
                        {"commit_in_downtime", variant == "commit_save_load-downtime"}};
            }
            auto m = need(make_migrator(strategy, opts), strategy);
            migration_request req;
            req.source = {.name = "a", .address = ha.address, .runtime = a, .work_dir = ha.work_dir, .agent = ha.agent};
            req.target = {.name = "b", .address = hb.address, .runtime = b, .work_dir = hb.work_dir, .agent = hb.agent};
            req.container = name;
            req.transport = tp;
            auto rep = need(run_migration(*m, req), variant);
            bool arrived = rep.success && prober.wait_for_target(20s);
            prober.stop();
            if (!rep.success) die(fmt::format("{} run {} failed: {}", variant, run + 1, rep.error));
            if (!arrived || !prober.result()) die(fmt::format("{} run {}: the prober never reached b", variant, run + 1));

            if (verbose) fmt::print(stderr, "{}\n", rep.to_text());
            sample s;
            s.downtime_ms = prober.result()->downtime_ms;
            s.prepare_ms = rep.total_ms(phase::prepare);
            s.freeze_prepare_ms = rep.total_ms(phase::freeze, phase::prepare);
            s.relocate_ms = rep.total_ms(phase::relocate);
            s.prepare_bytes = rep.total_bytes(phase::transfer, phase::prepare);
            s.relocate_bytes = rep.total_bytes(phase::transfer, phase::relocate);
            if (rep.details.contains("image_case")) s.image_case = rep.details["image_case"].get<std::string>();
            if (auto c = workload::memcached_client::connect(hb.address, port))
                if (auto k = c->count_intact(ds)) s.keys = *k;
            {
                std::ifstream f(need(b->inspect_volume(volume), "volume on b").mountpoint / "state.bin", std::ios::binary);
                std::vector<char> buf(1 << 20);
                std::uint64_t off = 0;
                bool same = true;
                while (same && f.read(buf.data(), static_cast<std::streamsize>(buf.size())).gcount() > 0) {
                    for (std::streamsize i = 0; i < f.gcount(); ++i) same = same && buf[i] == pattern(off + i);
                    off += static_cast<std::uint64_t>(f.gcount());
                }
                s.volume_ok = same && off == volume_bytes;
            }
            fmt::print(stderr,
                       "  run {} {:<26} downtime {:7.1f} ms  prepare {:7.1f} ms ({:>9} B{}{})  relocate {:7.1f} ms ({:>9} B)  "
                       "volume {}  keys {} of {}\n",
                       run + 1, variant, s.downtime_ms, s.prepare_ms, s.prepare_bytes,
                       s.image_case == "-" ? "" : ", " + s.image_case,
                       s.freeze_prepare_ms > 0 ? fmt::format(", commit froze {:.1f} ms", s.freeze_prepare_ms) : "",
                       s.relocate_ms, s.relocate_bytes, s.volume_ok ? "intact" : "DAMAGED", s.keys, items);
            results[variant].push_back(s);
            for (auto* e : {a.get(), b.get()}) {
                (void)e->remove(name, true);
                (void)e->remove_volume(volume, true);
                remove_moved_images(*e);
            }
            if (!s.volume_ok) die("the volume did not arrive intact");
        }
    }
    (void)b->remove_image(base.id, true);

    fmt::print("image strategies, memcached ({} keys) with a {} MiB volume, profile {}, transport {}, medians of {} "
               "run(s):\n",
               items, volume_mb, testbed::to_string(tb.profile()), transport_kind, runs);
    fmt::print("  {:<26} {:>11} {:>10} {:>12} {:>13} {:>11} {:>13} {:>8} {:>6}\n", "variant", "downtime ms", "prepare ms",
               "commit pause", "prepare bytes", "relocate ms", "downtime bytes", "case", "keys");
    for (auto& v : variants) {
        auto& r = results[v];
        auto med = [&](auto f) {
            std::vector<double> x;
            for (auto& s : r) x.push_back(f(s));
            return median(x);
        };
        fmt::print("  {:<26} {:>11.1f} {:>10.1f} {:>12} {:>13.0f} {:>11.1f} {:>13.0f} {:>8} {:>6}\n", v,
                   med([](const sample& s) { return s.downtime_ms; }), med([](const sample& s) { return s.prepare_ms; }),
                   v == "export_import" || v == "commit_save_load-downtime"
                       ? std::string("-")
                       : fmt::format("{:.1f} ms", med([](const sample& s) { return s.freeze_prepare_ms; })),
                   med([](const sample& s) { return double(s.prepare_bytes); }),
                   med([](const sample& s) { return s.relocate_ms; }),
                   med([](const sample& s) { return double(s.relocate_bytes); }), r.front().image_case,
                   fmt::format("{}", r.front().keys));
    }
    fmt::print("the volume arrived intact on b after every move: yes; memcached's keys on b: none carried (no memory)\n");
    fmt::print("reproduce: {} --testbed {} --runs {} --items {} --volume-mb {} --transport {} --variants {}\n", argv[0],
               tb_name, runs, items, volume_mb, transport_kind, fmt::join(variants, ","));
    return 0;
}
