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
#include <migrate/agent/transport.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/image_layers.hpp>
#include <migrate/probe.hpp>
#include <migrate/strategies.hpp>
#include <migrate/testbed/testbed.hpp>
#include <migrate/workload/memcached.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace migrate;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void die(const std::string& what) {
    fmt::print(stderr, "bench_image_strategies: {}\n", what);
    std::exit(1);
}
template <class T>
T need(result<T> r, std::string_view what) {
    if (!r) die(fmt::format("{}: {}", what, r.error().what()));
    return std::move(*r);
}
void need(result<void> r, std::string_view what) {
    if (!r) die(fmt::format("{}: {}", what, r.error().what()));
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One memcached UDP `version` request: true when the server answered at all. Why not a get
// of a stored key: these strategies restart memcached empty on b, and an empty cache that
// answers is up (its lost keys are counted separately).
bool memcached_udp_answers(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct closer { int fd; ~closer() { ::close(fd); } } guard{fd};
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &to.sin_addr) != 1) return false;
    static std::uint16_t next_id = 1;
    const std::uint16_t id = next_id++;
    std::string req{static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 0, 0, 0, 1, 0, 0};
    req += "version\r\n";
    if (::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char buf[512];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    return n > 8 && std::string_view(buf + 8, static_cast<std::size_t>(n - 8)).rfind("VERSION ", 0) == 0;
}

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
    std::string tb_name,
        variants_arg = "export_import,commit_save_load,commit_save_load-full,commit_save_load-nocheck,commit_save_load-downtime";
    std::uint64_t items = 2000;
    std::uint64_t volume_mb = 8;
    int runs = 3;
    bool verbose = false;
    std::string transport_kind = "local";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                fmt::print(stderr, "{} needs a value\n", a);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--testbed") tb_name = next();
        else if (a == "--items") items = std::stoull(next());
        else if (a == "--volume-mb") volume_mb = std::stoull(next());
        else if (a == "--runs") runs = std::stoi(next());
        else if (a == "--variants") variants_arg = next();
        else if (a == "--verbose") verbose = true;
        else if (a == "--transport") transport_kind = next();
        else {
            runs = 0;  // unknown argument: print the usage
            break;
        }
    }
    if (tb_name.empty() || runs < 1 || (transport_kind != "local" && transport_kind != "agent")) {
        fmt::print(stderr,
                   "usage: {} --testbed NAME [--runs R] [--items N] [--volume-mb M] [--transport local|agent] "
                   "[--variants {}] [--verbose]\n",
                   argv[0], variants_arg);
        return 2;
    }
    std::vector<std::string> variants;
    {
        const std::vector<std::string> known = {"export_import", "commit_save_load", "commit_save_load-full",
                                                "commit_save_load-nocheck", "commit_save_load-downtime"};
        std::stringstream ss(variants_arg);
        for (std::string v; std::getline(ss, v, ',');) {
            if (std::find(known.begin(), known.end(), v) == known.end()) die("unknown variant " + v);
            variants.push_back(v);
        }
    }

    auto tb = need(testbed::testbed::open(tb_name), "testbed " + tb_name);
    auto ha = need(tb.find("a"), "host a"), hb = need(tb.find("b"), "host b");
    auto a = std::make_shared<docker::engine>(docker::engine_options{.socket = ha.socket});
    auto b = std::make_shared<docker::engine>(docker::engine_options{.socket = hb.socket});
    // local: the bytes pass through this process (never over the testbed's links); agent:
    // a's agent streams to b's over the link between them (shaped when congested).
    std::shared_ptr<transport> tp = make_local_transport();
    if (transport_kind == "agent") {
        if (ha.agent.empty() || hb.agent.empty()) die("the testbed runs no agents (bring it up with --agents)");
        tp = need(agent::make_agent_transport({.token = need(tb.agent_token(), "agent token")}), "agent transport");
    }

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
                                   : memcached_udp_answers(hb.address, port, 5ms);
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
               tb_name, runs, items, volume_mb, transport_kind, variants_arg);
    return 0;
}
