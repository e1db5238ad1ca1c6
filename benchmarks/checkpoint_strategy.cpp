// Downtime of the CRIU strategies for memcached (thesis A3) on a running testbed, as a client
// sees it, side by side:
//   checkpoint        the checkpoint strategy: first checkpoint moved in prepare, in the
//                     downtime only the blocks of the final one that changed (delta)
//   checkpoint-whole  the same with delta = false: the final checkpoint moves whole
//   stop-and-copy     checkpoint_move (the foundation's path: dump with exit, stream the
//                     whole checkpoint, restore); local transport only
//   shared-fs         the shared_fs strategy with the testbed's data directory as the shared
//                     root: the checkpoint goes through that path (no transport)
// memcached runs on host a's service network with `--items` keys, settled (its LRU
// maintainer done) before each move; the image is on both hosts, so only the service moves.
// Downtime: last answer from a to first answer from b of a UDP get every 5 ms from the
// client side. Every key is checked on b after each move. Needs the testbed up (with
// `--agents` for `--transport agent`, where the bytes cross the testbed's links).
//
//   bench_checkpoint_strategy --testbed ckp [--items 20000] [--value-size 512] [--runs 3]
//                             [--transport local|agent] [--variants checkpoint,checkpoint-whole,stop-and-copy,shared-fs]
//                             [--keep]   (checkpoint variants: keep both checkpoints and the stopped
//                                         source of each run, renamed bench-ckpt-mc-<run>, to look at)
#include "bench_support.hpp"

#include <migrate/checkpoint_move.hpp>
#include <migrate/probe.hpp>
#include <migrate/strategies.hpp>
#include <migrate/workload/memcached.hpp>
#include <migrate/workload/service_locator.hpp>

#include <CLI/CLI.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace migrate;
using namespace migrate::bench;
using namespace std::chrono_literals;

namespace {

struct sample {
    double downtime_ms = 0;
    double relocate_ms = 0;
    double snapshot_ms = 0;
    double restore_ms = 0;
    std::uint64_t relocate_bytes = 0;   // what crossed in the downtime
    double ratio = 0;                   // delta ratio (checkpoint only)
    bool keys_ok = false;
};

const std::vector<std::string> known_variants = {"checkpoint", "checkpoint-whole", "stop-and-copy", "shared-fs"};

}  // namespace

int main(int argc, char** argv) {
    program_name() = "bench_checkpoint_strategy";
    std::string tb_name, transport_kind = "local";
    std::vector<std::string> variants_arg = known_variants;
    std::uint64_t items = 20000;
    std::size_t value_size = 512;
    int runs = 3;
    bool keep = false;
    if (const char* env = std::getenv("MIGRATE_TESTBED")) tb_name = env;
    CLI::App app{"Client-seen downtime of the CRIU strategies moving memcached (A3) from testbed host a to b, side by "
                 "side: checkpoint (delta), checkpoint-whole, stop-and-copy (checkpoint_move; local transport only), "
                 "shared-fs (the testbed's data directory as the shared root; no transport)."};
    app.footer("Example: bench_checkpoint_strategy --testbed ckp --items 20000 --runs 3 --transport agent\n"
               "(--transport agent needs `migrate-testbed up --agents`; the bytes then cross the testbed's links)");
    app.add_option("--testbed", tb_name, "testbed name (default: $MIGRATE_TESTBED)")->required(tb_name.empty());
    app.add_option("--items", items, "memcached keys")->capture_default_str();
    app.add_option("--value-size", value_size, "bytes per value")->capture_default_str();
    app.add_option("--runs", runs, "runs per variant")->check(CLI::Range(1, 1000))->capture_default_str();
    app.add_option("--transport", transport_kind, "local or agent")->check(CLI::IsMember({"local", "agent"}))
        ->capture_default_str();
    app.add_option("--variants", variants_arg, "variants to run")->delimiter(',')->check(CLI::IsMember(known_variants))
        ->capture_default_str();
    app.add_flag("--keep", keep, "checkpoint variants: keep both checkpoints and the stopped source of each run, "
                                 "renamed bench-ckpt-mc-<variant>-<run>, to look at");
    CLI11_PARSE(app, argc, argv);
    std::vector<std::string> variants;
    for (auto& v : variants_arg)
        if (!((v == "stop-and-copy" || v == "shared-fs") && transport_kind == "agent")) variants.push_back(v);  // no transport

    auto bt = open_testbed(tb_name, transport_kind);
    auto &ha = bt.ha, &hb = bt.hb;
    const std::string network = ha.service_network;
    auto a = bt.a;
    auto b = bt.b;
    std::shared_ptr<transport> tp = bt.transport;

    // The image on both hosts: only the service moves.
    const std::string ref = "bench-ckpt-memcached:1";
    ensure_image_on_both(bt, image::memcached_recipe(), ref);

    const std::string base_name = "bench-ckpt-mc";
    const std::uint16_t port = 11211;
    const workload::memcached_dataset ds{.prefix = "bench", .items = items, .value_size = value_size};
    std::map<std::string, std::vector<sample>> results;
    fmt::print(stderr, "memcached {} x {} B, {} run(s), transport {}\n", items, value_size, runs, transport_kind);

    for (int run = 0; run < runs; ++run) {
        for (auto& variant : variants) {
            const std::string name = keep ? fmt::format("{}-{}-{}", base_name, variant, run + 1) : base_name;
            (void)a->remove(name, true);
            (void)b->remove(name, true);
            container_spec spec{.name = name, .image = ref,
                                .cmd = {"-p", std::to_string(port), "-U", std::to_string(port), "-m", "1024"},
                                .network_mode = network};
            auto cid = need(a->create(spec), "create on a");
            need(a->start(cid), "start on a");
            auto addr_a = address_of(*a, name, network);
            {
                std::optional<workload::memcached_client> c;
                for (int i = 0; i < 100 && !c; ++i) {
                    if (auto r = workload::memcached_client::connect(addr_a, port)) c.emplace(std::move(*r));
                    else std::this_thread::sleep_for(50ms);
                }
                if (!c) die("memcached on a does not answer");
                need(c->load(ds), "load the data set");
                need(c->wait_settled(std::chrono::seconds{60}), "settle");
            }  // closed: CRIU cannot dump an established TCP connection

            const auto key = ds.key(0), value = ds.value(0);
            downtime_prober prober(workload::two_location_probe(
                                       workload::container_address_locator(ha.socket, name, network),
                                       workload::container_address_locator(hb.socket, name, network),
                                       [&](const std::string& addr) {
                                           return workload::memcached_udp_get(addr, port, key, value, 5ms);
                                       }),
                                   5ms, "memcached UDP get every 5 ms from the client side");
            prober.start();
            if (!prober.wait_for_source(5s)) die("the prober never reached a");

            migration_report rep;
            if (variant == "stop-and-copy") {
                rep = need(checkpoint_move(*a, *b, {.container = name, .source_label = "a", .target_label = "b"}),
                           "checkpoint_move");
            } else {
                json opts = {{"delta", variant == "checkpoint"}, {"keep_checkpoints", keep}};
                if (variant == "shared-fs") opts = {{"shared_root", bt.shared_root().string()}, {"keep_checkpoints", keep}};
                auto m = need(make_migrator(variant == "shared-fs" ? "shared_fs" : "checkpoint", opts), variant);
                migration_request req;
                req.source = {"a", ha.address, a, ha.work_dir, ha.agent};
                req.target = {"b", hb.address, b, hb.work_dir, hb.agent};
                req.container = name;
                req.transport = tp;
                req.remove_source = !keep;
                rep = need(run_migration(*m, req), "checkpoint strategy");
            }
            bool arrived = prober.wait_for_target(20s);
            prober.stop();
            if (!rep.success) die(fmt::format("{} run {} failed: {}", variant, run + 1, rep.error));
            if (!arrived || !prober.result()) die(fmt::format("{} run {}: the prober never reached b", variant, run + 1));
            sample s;
            s.downtime_ms = prober.result()->downtime_ms;
            s.relocate_ms = rep.total_ms(phase::relocate);
            s.snapshot_ms = rep.total_ms(phase::snapshot);
            s.restore_ms = rep.total_ms(phase::restore);
            s.relocate_bytes = variant == "stop-and-copy" ? rep.total_bytes(phase::transfer)
                                                          : rep.total_bytes(phase::transfer, phase::relocate);
            // (shared-fs: the bytes written to and read from the shared path, no network copy)
            if (rep.details.contains("delta")) s.ratio = rep.details["delta"].value("ratio", 0.0);
            auto addr_b = address_of(*b, name, network);
            std::optional<std::uint64_t> n;
            for (int i = 0; i < 50 && !n; ++i) {
                if (auto c = workload::memcached_client::connect(addr_b, port))
                    if (auto k = c->count_intact(ds)) n = *k;
                if (!n) std::this_thread::sleep_for(100ms);
            }
            s.keys_ok = n && *n == items;
            fmt::print(stderr, "  run {} {:<17} downtime {:7.1f} ms  relocate {:7.1f} ms (dump {:6.1f}, restore {:6.1f})  "
                               "{:>10} B in the downtime{}  keys {}\n",
                       run + 1, variant, s.downtime_ms, s.relocate_ms, s.snapshot_ms, s.restore_ms, s.relocate_bytes,
                       s.ratio > 0 ? fmt::format(" (delta {:.1f}x)", s.ratio) : std::string{},
                       s.keys_ok ? "all" : fmt::format("{} of {}", n.value_or(0), items));
            results[variant].push_back(s);
            (void)b->remove(name, true);
            if (keep && variant != "stop-and-copy" && variant != "shared-fs")
                fmt::print(stderr, "  kept the source {} ({}) with its checkpoints\n", name, cid);
            else
                (void)a->remove(name, true);
            if (!s.keys_ok) die("keys lost");
        }
    }

    fmt::print("checkpoint strategies, memcached {} x {} B ({:.1f} MiB of values), transport {}, medians of {} run(s):\n",
               items, value_size, double(items * value_size) / 1048576.0, transport_kind, runs);
    fmt::print("  {:<17} {:>12} {:>12} {:>9} {:>9} {:>14} {:>8}\n", "variant", "downtime ms", "relocate ms", "dump ms",
               "restore ms", "downtime bytes", "delta");
    for (auto& v : variants) {
        auto& r = results[v];
        auto med = [&](auto f) {
            std::vector<double> x;
            for (auto& s : r) x.push_back(f(s));
            return median(x);
        };
        fmt::print("  {:<17} {:>12.1f} {:>12.1f} {:>9.1f} {:>9.1f} {:>14.0f} {:>8}\n", v,
                   med([](const sample& s) { return s.downtime_ms; }), med([](const sample& s) { return s.relocate_ms; }),
                   med([](const sample& s) { return s.snapshot_ms; }), med([](const sample& s) { return s.restore_ms; }),
                   med([](const sample& s) { return double(s.relocate_bytes); }),
                   v == "checkpoint" ? fmt::format("{:.1f}x", med([](const sample& s) { return s.ratio; })) : "-");
    }
    fmt::print("every key present on b after every move: yes\n");
    fmt::print("reproduce: {} --testbed {} --items {} --value-size {} --runs {} --transport {} --variants {}\n", argv[0],
               tb_name, items, value_size, runs, transport_kind, fmt::join(variants_arg, ","));
    return 0;
}
