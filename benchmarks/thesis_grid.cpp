// The 2021 thesis's comparison of Docker migration strategies for V2X apps, reproduced on a
// running testbed in one run (docs/thesis-grid.md has the whole story):
//
//   cells    strategy {export_import, commit_save_load, checkpoint, shared_fs}
//          x workload {a1 stateless poller, a2 zone counter (volume, /changePhase), a3 memcached}
//          x link {normal, congested}  x  --runs runs each
//   raw      for the same cells, the thesis's procedure with the docker CLI and a plain copy
//            across the testbed link: M1 export / copy / import + run, M2 commit / save / copy
//            / load + run, M3 checkpoint / copy the checkpoint / create + start --checkpoint
//
// Every run starts the workload afresh on host a and moves it a -> b (no move back: every
// run sees the same starting point). Downtime is what a client saw (A1: the location server's
// poll log; A2: UDP count every 10 ms; A3: UDP version every 5 ms), never a sum of timers.
// Outputs: a table on stdout, results.csv / results.json / table.md / PNG plots in --out.
#include "bench_support.hpp"

#include <migrate/probe.hpp>
#include <migrate/strategies.hpp>
#include <migrate/testbed/host_copy.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>
#include <migrate/workload/memcached.hpp>
#include <migrate/workload/service_locator.hpp>
#include <migrate/workload/zone_server.hpp>

#include <CLI/CLI.hpp>

#include <sys/utsname.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace migrate;
using namespace migrate::bench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> all_strategies = {"export_import", "commit_save_load", "checkpoint", "shared_fs"};
const std::vector<std::string> all_workloads = {"a1", "a2", "a3"};
const std::vector<std::string> all_links = {"normal", "congested"};

/// The thesis's raw procedure each strategy is compared with.
std::string raw_of(const std::string& strategy) {
    if (strategy == "export_import") return "raw-M1";
    if (strategy == "commit_save_load") return "raw-M2";
    return "raw-M3";   // checkpoint, shared_fs: both move the process with CRIU
}
bool is_raw(const std::string& method) { return method.rfind("raw-", 0) == 0; }

std::string workload_title(const std::string& w) {
    if (w == "a1") return "A1 stateless poller";
    if (w == "a2") return "A2 zone counter";
    return "A3 memcached";
}

struct grid_options {
    std::string testbed;
    int runs = 5;
    std::vector<std::string> strategies = all_strategies;
    std::vector<std::string> workloads = all_workloads;
    std::vector<std::string> links = all_links;
    std::uint64_t items = 20000;
    std::size_t value_size = 512;
    std::string out;
    bool no_raw = false;
    std::string transport = "agent";
    std::vector<std::string> option_args;   // strategy.key=value
    std::string options_file;
    std::string docker = fs::exists("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
    int a1_interval_ms = 200;
    std::string gnuplot = "gnuplot";
    bool verbose = false;
};

// One run of one cell.
struct run_record {
    std::string method, workload, link;
    int run = 0;
    bool ok = false;
    std::string error;
    std::string started_at;
    double downtime_ms = 0, probe_interval_ms = 0;
    std::uint64_t probes = 0, probe_failures = 0;
    double prepare_ms = 0, relocate_ms = 0, total_ms = 0;
    std::map<side, double> prep, reloc;   // source / transfer / target / other
    std::uint64_t prepare_bytes = 0, downtime_bytes = 0;
    double freeze_ms = 0;
    std::string state_what;
    std::uint64_t state_expected = 0, state_found = 0;
    bool state_preserved = false;
    double state_fraction = 0;
    double delta_ratio = 0;
    std::string image_case;
    std::string load;
    json steps = json::array();   // the report's phases (ours) or the procedure's steps (raw)
};

const char* side_name(side s) {
    switch (s) {
    case side::source: return "source";
    case side::transfer: return "transfer";
    case side::target: return "target";
    default: return "other";
    }
}

json to_json(const run_record& r) {
    json split_p, split_r;
    for (auto& [s, v] : r.prep) split_p[side_name(s)] = v;
    for (auto& [s, v] : r.reloc) split_r[side_name(s)] = v;
    return {{"method", r.method}, {"workload", r.workload}, {"link", r.link}, {"run", r.run}, {"ok", r.ok},
            {"error", r.error}, {"started_at", r.started_at}, {"downtime_ms", r.downtime_ms},
            {"probe_interval_ms", r.probe_interval_ms}, {"probes", r.probes}, {"probe_failures", r.probe_failures},
            {"prepare_ms", r.prepare_ms}, {"prepare_split_ms", split_p}, {"relocate_ms", r.relocate_ms},
            {"relocate_split_ms", split_r}, {"total_ms", r.total_ms}, {"prepare_bytes", r.prepare_bytes},
            {"downtime_bytes", r.downtime_bytes}, {"freeze_ms", r.freeze_ms}, {"state_what", r.state_what},
            {"state_expected", r.state_expected}, {"state_found", r.state_found},
            {"state_preserved", r.state_preserved}, {"state_fraction", r.state_fraction},
            {"delta_ratio", r.delta_ratio}, {"image_case", r.image_case}, {"loadavg", r.load}, {"steps", r.steps}};
}

// A run that cannot go on: caught by run_one, recorded as a failed run, the grid goes on.
struct run_failed {
    std::string what;
};
void check(bool cond, const std::string& what) {
    if (!cond) throw run_failed{what};
}
template <class T>
T check(result<T> r, std::string_view what) {
    if (!r) throw run_failed{fmt::format("{}: {}", what, r.error().what())};
    return std::move(*r);
}
void check(result<void> r, std::string_view what) {
    if (!r) throw run_failed{fmt::format("{}: {}", what, r.error().what())};
}

double ms_since(steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(steady_clock::now() - t).count();
}

// ---- the workloads --------------------------------------------------------------------------

struct images {
    std::string a1 = "tg-a1-poller:1", a2 = "tg-a2-counter:1", a3 = "tg-memcached:1";
    image::image_recipe r1, r2, r3;
};

// What a run needs from its workload once it is up on a.
struct instance {
    std::string workload;
    container_spec spec;              // as created on a
    std::vector<std::string> changes; // the image's Dockerfile changes (raw M1's docker import)
    std::string addr_a;
    std::uint64_t a2_before = 0;
    std::uint16_t port = 0;
};

const std::string a2_volume = "tg-a2-data";
const std::uint16_t a2_port = 8080, a3_port = 11211;

struct grid {
    grid_options o;
    bench_testbed& t;
    std::unique_ptr<workload::zone_server> zones;
    images img;
    workload::memcached_dataset ds;
    docker_cli cli_a, cli_b;
    json strategy_options = json::object();   // per strategy, from --option / --options-file
    std::uint64_t zone_seq = 1;

    std::string name_of(const std::string& w) const { return "tg-" + w; }
    fs::path a2_bind_dir() const { return t.shared_root() / "tg-a2-data"; }

    void discard_all() {
        for (auto* e : {t.a.get(), t.b.get()}) {
            for (auto& w : all_workloads) (void)e->remove(name_of(w), true);
            (void)e->remove_volume(a2_volume, true);
            remove_images_tagged(*e, "tg-ours/");
            remove_images_tagged(*e, "tg-raw/");
        }
        std::error_code ec;
        fs::remove_all(a2_bind_dir(), ec);
        for (auto& h : {t.ha, t.hb})
            for (auto& f : {"tg-raw-image.tar"}) fs::remove(h.work_dir / f, ec);
    }

    instance start(const std::string& w, const std::string& method) {
        instance in;
        in.workload = w;
        const auto& net = t.ha.service_network;
        if (w == "a1") {
            in.spec = workload::a1_poller_spec({.name = name_of(w), .image = img.a1, .url = zones->url("/location"),
                                                .network = net, .interval = std::chrono::milliseconds{o.a1_interval_ms}});
            in.changes = img.r1.changes;
        } else if (w == "a2") {
            in.spec = workload::a2_counter_spec({.name = name_of(w), .image = img.a2, .zone_url = zones->url("/zone"),
                                                 .network = net, .volume = a2_volume, .port = a2_port});
            in.changes = img.r2.changes;
            in.port = a2_port;
            if (method == "shared_fs") {
                // The strategy's premise: the state lives on a path both hosts see.
                fs::create_directories(a2_bind_dir());
                in.spec.mounts = {{mount_spec::kind::bind, a2_bind_dir().string(), "/data", false}};
            } else {
                check(t.a->create_volume(a2_volume), "volume on a");
            }
        } else {
            in.spec = container_spec{.name = name_of(w), .image = img.a3,
                                     .cmd = {"-p", std::to_string(a3_port), "-U", std::to_string(a3_port), "-m", "1024"},
                                     .network_mode = net};
            in.changes = img.r3.changes;
            in.port = a3_port;
        }
        zones->clear_records();
        auto id = check(t.a->create(in.spec), "create on a");
        check(t.a->start(id), "start on a");
        in.addr_a = address_of(*t.a, in.spec.name, net);
        if (w == "a1") {
            check(eventually([&] { return zones->records_from(t.ha.service_subnet).size() >= 2; }, 10s),
                  "A1 on a never polled");
        } else if (w == "a2") {
            check(eventually([&] {
                      auto s = workload::a2_get_state(in.addr_a, a2_port, 300ms);
                      return s && s->polls > 0;
                  }, 10s),
                  "A2 on a never polled");
            for (int k = 0; k < 2; ++k) {   // the user crosses two zones while A2 runs on a
                auto before = check(workload::a2_udp_count(in.addr_a, a2_port, 500ms), "A2 count on a");
                check(zones->set_zone(fmt::format("zone-{}", ++zone_seq)), "set zone");
                check(eventually([&] {
                          auto c = workload::a2_udp_count(in.addr_a, a2_port, 200ms);
                          return c && *c == before + 1;
                      }, 5s),
                      "A2 on a did not count a zone change");
            }
            in.a2_before = check(workload::a2_udp_count(in.addr_a, a2_port, 500ms), "A2 count on a");
        } else {
            std::optional<workload::memcached_client> c;
            eventually([&] {
                if (auto r = workload::memcached_client::connect(in.addr_a, a3_port, 300ms)) c.emplace(std::move(*r));
                return c.has_value();
            }, 10s);
            check(c.has_value(), "memcached on a does not answer");
            check(c->load(ds), "load the data set");
            check(c->wait_settled(60s), "memcached settling");
        }   // the TCP connection is closed here: CRIU cannot dump an established one
        return in;
    }

    // The client-side prober of A2 / A3 (A1's is the location server's log).
    std::unique_ptr<downtime_prober> prober_for(const instance& in) {
        const auto& net = t.ha.service_network;
        auto la = workload::container_address_locator(t.ha.socket, in.spec.name, net);
        auto lb = workload::container_address_locator(t.hb.socket, in.spec.name, net);
        if (in.workload == "a2")
            return std::make_unique<downtime_prober>(workload::a2_probe(la, lb, a2_port), 10ms,
                                                     "A2 UDP count every 10 ms from the client side");
        if (in.workload == "a3")
            return std::make_unique<downtime_prober>(
                workload::two_location_probe(la, lb,
                                             [](const std::string& addr) {
                                                 return workload::memcached_udp_version(addr, a3_port, 5ms);
                                             }),
                5ms, "memcached UDP version every 5 ms from the client side (any answer: b may start empty)");
        return nullptr;
    }

    // ---- ours ------------------------------------------------------------------------------

    json options_for(const std::string& strategy) const {
        json opts = json::object();
        if (strategy == "export_import") opts["image_prefix"] = "tg-ours/export";
        if (strategy == "commit_save_load") opts["image_prefix"] = "tg-ours/commit";
        if (strategy == "shared_fs") opts["shared_root"] = t.shared_root().string();
        if (strategy_options.contains(strategy)) opts.merge_patch(strategy_options[strategy]);
        return opts;
    }

    void ours(const std::string& strategy, const instance& in, run_record& rec) {
        auto m = check(make_migrator(strategy, options_for(strategy)), "strategy " + strategy);
        phase_timeline timeline;
        migration_request req;
        req.source = t.source();
        req.target = t.target();
        req.container = in.spec.name;
        req.transport = t.transport;
        if (in.workload == "a2")
            req.phase_hook = {.url = fmt::format("http://{}:{}/changePhase", in.addr_a, a2_port), .required = true};
        req.hooks.on_event = [&](const phase_event& e) { timeline(e); };
        auto rep = check(run_migration(*m, req), strategy);
        for (auto& p : rep.phases) {
            json j;
            migrate::to_json(j, p);
            rec.steps.push_back(j);
        }
        if (o.verbose) fmt::print(stderr, "{}\n{}\n", rep.to_text(), rep.details.dump(2));
        check(rep.success, fmt::format("{} failed: {}", strategy, rep.error));
        rec.prepare_ms = rep.total_ms(phase::prepare);
        rec.relocate_ms = rep.total_ms(phase::relocate);
        rec.prep = timeline.split(phase::prepare);
        rec.reloc = timeline.split(phase::relocate);
        rec.prepare_bytes = rep.total_bytes(phase::transfer, phase::prepare);
        rec.downtime_bytes = rep.total_bytes(phase::transfer, phase::relocate);
        // The service's first interruption, inside the preparation: the commit's pause or the
        // first checkpoint's freeze.
        rec.freeze_ms = rep.total_ms(phase::freeze, phase::prepare);
        auto& d = rep.details;
        if (d.contains("commit") && d["commit"].value("paused", false)) rec.freeze_ms = d["commit"].value("ms", rec.freeze_ms);
        if (d.contains("first_checkpoint") && d["first_checkpoint"].contains("freeze_ms"))
            rec.freeze_ms = d["first_checkpoint"]["freeze_ms"].get<double>();
        if (d.contains("delta") && d["delta"].contains("ratio")) rec.delta_ratio = d["delta"]["ratio"].get<double>();
        if (d.contains("image_case")) rec.image_case = d["image_case"].get<std::string>();
    }

    // ---- raw: the thesis's procedure with the docker CLI and a plain copy ----------------------

    struct procedure {
        run_record& rec;
        steady_clock::time_point stage_start{};
        enum phase stage = phase::prepare;

        template <class F>
        void step(side s, const std::string& what, F&& f) {
            auto t0 = steady_clock::now();
            std::uint64_t bytes = f();
            double ms = ms_since(t0);
            (stage == phase::prepare ? rec.prep : rec.reloc)[s] += ms;
            if (s == side::transfer) (stage == phase::prepare ? rec.prepare_bytes : rec.downtime_bytes) += bytes;
            rec.steps.push_back({{"stage", to_string(stage)}, {"side", side_name(s)}, {"what", what},
                                 {"duration_ms", ms}, {"bytes", bytes}});
        }
        void begin(enum phase p) {
            stage = p;
            stage_start = steady_clock::now();
        }
        void end() {
            double wall = ms_since(stage_start);
            auto& split = stage == phase::prepare ? rec.prep : rec.reloc;
            double steps = split[side::source] + split[side::transfer] + split[side::target];
            split[side::other] = std::max(0.0, wall - steps);
            (stage == phase::prepare ? rec.prepare_ms : rec.relocate_ms) = wall;
        }
    };

    // Streams `produce` from host a across the testbed link into `consume` on host b.
    std::uint64_t copy_across(const std::string& what, const std::function<result<void>(byte_sink&)>& produce,
                              const std::function<result<void>(byte_source&)>& consume) {
        return check(testbed::copy_between_hosts(t.ha, t.hb, produce, consume), what).bytes;
    }
    std::uint64_t copy_file(const fs::path& from, const fs::path& to) {
        return copy_across(
            "copy " + from.string() + " to b",
            [&](byte_sink& out) -> result<void> {
                auto src = file_source(from);
                if (!src) return src.error();
                std::vector<std::byte> buf(1 << 20);
                for (;;) {
                    auto n = (*src)->read(buf);
                    if (!n) return n.error();
                    if (*n == 0) return ok();
                    if (auto w = out.write(std::span(buf.data(), *n)); !w) return w;
                }
            },
            [&](byte_source& in) -> result<void> {
                auto sink = file_sink(to);
                std::vector<std::byte> buf(1 << 20);
                for (;;) {
                    auto n = in.read(buf);
                    if (!n) return n.error();
                    if (*n == 0) return sink->close();
                    if (auto w = sink->write(std::span(buf.data(), *n)); !w) return w;
                }
            });
    }
    // `tar -c -C from .` on a, across the link, `tar -x -C to` on b.
    std::uint64_t copy_dir(const fs::path& from, const fs::path& to) {
        fs::create_directories(to);
        return copy_across(
            "copy " + from.string() + " to b",
            [&](byte_sink& out) {
                return detail::run_to_sink({"tar", "-c", "-C", from.string(), "."}, out, {.timeout = 180s});
            },
            [&](byte_source& in) {
                return detail::run_from_source({"tar", "-x", "-C", to.string()}, in, {.timeout = 180s});
            });
    }

    void raw(const std::string& method, const instance& in, run_record& rec) {
        procedure p{rec};
        const auto name = in.spec.name;
        const bool a2 = in.workload == "a2";
        const auto hook = [&](const std::string& phase) {
            if (a2) check(workload::a2_change_phase(in.addr_a, a2_port, phase), "A2 /changePhase " + phase);
        };
        const auto volume_path = [&](docker_cli& cli) {
            return fs::path(check(cli({"volume", "inspect", "-f", "{{.Mountpoint}}", a2_volume}), "volume inspect"));
        };
        const fs::path tar_a = t.ha.work_dir / "tg-raw-image.tar", tar_b = t.hb.work_dir / "tg-raw-image.tar";
        const std::string ref = fmt::format("tg-raw/{}:{}", method == "raw-M1" ? "m1" : "m2", rec.run);

        if (method == "raw-M1" || method == "raw-M2") {
            p.begin(phase::prepare);
            hook("pre-relocation-start");
            if (method == "raw-M1") {
                p.step(side::source, "docker export", [&] {
                    check(cli_a({"export", "-o", tar_a.string(), name}), "docker export on a");
                    return std::uint64_t{0};
                });
            } else {
                p.step(side::source, "docker commit (pauses the container)", [&] {
                    auto t0 = steady_clock::now();
                    check(cli_a({"commit", name, ref}), "docker commit on a");
                    rec.freeze_ms = ms_since(t0);
                    return std::uint64_t{0};
                });
                p.step(side::source, "docker save", [&] {
                    check(cli_a({"save", "-o", tar_a.string(), ref}), "docker save on a");
                    return std::uint64_t{0};
                });
            }
            p.step(side::transfer, "copy the tar across the link", [&] { return copy_file(tar_a, tar_b); });
            p.step(side::target, method == "raw-M1" ? "docker import" : "docker load", [&] {
                if (method == "raw-M1") {
                    std::vector<std::string> args{"import"};
                    for (auto& c : in.changes) args.insert(args.end(), {"--change", c});
                    args.insert(args.end(), {tar_b.string(), ref});
                    check(cli_b(args), "docker import on b");
                } else {
                    check(cli_b({"load", "-i", tar_b.string()}), "docker load on b");
                }
                return std::uint64_t{0};
            });
            if (a2)
                p.step(side::target, "docker volume create", [&] {
                    check(cli_b({"volume", "create", a2_volume}), "docker volume create on b");
                    return std::uint64_t{0};
                });
            hook("pre-relocation-end");
            p.end();

            p.begin(phase::relocate);
            p.step(side::source, "docker stop", [&] {
                check(cli_a({"stop", "-t", "3", name}), "docker stop on a");
                return std::uint64_t{0};
            });
            if (a2) {
                auto from = volume_path(cli_a), to = volume_path(cli_b);
                p.step(side::transfer, "copy the volume across the link (tar)", [&] { return copy_dir(from, to); });
            }
            p.step(side::target, "docker run", [&] {
                auto args = docker_create_args(in.spec, ref);
                args.insert(args.begin(), {"run", "-d"});
                check(cli_b(args), "docker run on b");
                return std::uint64_t{0};
            });
            p.end();
        } else {   // raw-M3
            const std::string cp = "tg-cp";
            p.begin(phase::prepare);
            hook("pre-relocation-start");
            std::string id_b;
            p.step(side::target, "docker create", [&] {
                auto args = docker_create_args(in.spec, in.spec.image);
                args.insert(args.begin(), "create");
                id_b = check(cli_b(args), "docker create on b");
                return std::uint64_t{0};
            });
            hook("pre-relocation-end");
            p.end();
            const auto id_a = check(cli_a({"inspect", "-f", "{{.Id}}", name}), "docker inspect on a");

            p.begin(phase::relocate);
            p.step(side::source, "docker checkpoint create (exit)", [&] {
                // A TCP connection in flight makes CRIU refuse; the container runs on, so a
                // person tries again.
                result<std::string> r = cli_a({"checkpoint", "create", name, cp});
                for (int attempt = 1; !r && attempt <= 2; ++attempt) {
                    std::this_thread::sleep_for(100ms);
                    (void)cli_a({"checkpoint", "rm", name, cp});
                    r = cli_a({"checkpoint", "create", name, cp});
                }
                check(r, "docker checkpoint create on a");
                return std::uint64_t{0};
            });
            // Docker 20.10 refuses `start --checkpoint-dir` ("custom checkpointdir is not
            // supported"): the checkpoint goes where b's daemon keeps its own.
            const auto from = t.ha.data_root / "containers" / id_a / "checkpoints" / cp;
            const auto to = t.hb.data_root / "containers" / id_b / "checkpoints" / cp;
            p.step(side::transfer, "copy the checkpoint directory across the link (tar)",
                   [&] { return copy_dir(from, to); });
            if (a2) {
                auto vf = volume_path(cli_a), vt = volume_path(cli_b);
                p.step(side::transfer, "copy the volume across the link (tar)", [&] { return copy_dir(vf, vt); });
            }
            p.step(side::target, "docker start --checkpoint", [&] {
                check(cli_b({"start", "--checkpoint", cp, name}), "docker start --checkpoint on b");
                return std::uint64_t{0};
            });
            p.end();
        }
    }

    // ---- one run ---------------------------------------------------------------------------

    run_record run_one(const std::string& method, const std::string& w, const std::string& link, int run) {
        run_record rec{.method = method, .workload = w, .link = link, .run = run};
        rec.started_at = utc_now_iso8601();
        rec.load = loadavg();
        discard_all();
        try {
            auto in = start(w, method);
            auto prober = prober_for(in);
            if (prober) {
                prober->start();
                check(prober->wait_for_source(5s), "the prober never reached a");
            }
            if (is_raw(method)) raw(method, in, rec);
            else ours(method, in, rec);
            rec.total_ms = rec.prepare_ms + rec.relocate_ms;

            const auto& net = t.hb.service_network;
            if (prober) {
                bool arrived = prober->wait_for_target(30s);
                prober->stop();
                check(arrived && prober->result().has_value(), "the prober never reached b");
                auto m = *prober->result();
                rec.downtime_ms = m.downtime_ms;
                rec.probes = m.probes;
                rec.probe_failures = m.failures;
                rec.probe_interval_ms = m.probe_interval_ms;
            } else {
                check(eventually([&] { return zones->records_from(t.hb.service_subnet).size() >= 2; }, 15s),
                      "A1 never polled from b");
                auto m = check(workload::a1_downtime(zones->records(),
                                                     {.source = t.ha.service_subnet, .target = t.hb.service_subnet,
                                                      .interval = std::chrono::milliseconds{o.a1_interval_ms}}),
                               "A1 downtime");
                rec.downtime_ms = m.downtime_ms;
                rec.probes = m.probes;
                rec.probe_failures = m.failures;
                rec.probe_interval_ms = m.probe_interval_ms;
            }
            auto addr_b = address_of(*t.b, in.spec.name, net);
            if (w == "a1") {
                auto from_a = zones->records_from(t.ha.service_subnet);
                auto from_b = zones->records_from(t.hb.service_subnet);
                rec.state_what = "A1 poll seq continues (last from a + 1 <= first from b)";
                rec.state_expected = from_a.back().seq + 1;
                rec.state_found = from_b.front().seq;
                rec.state_preserved = from_b.front().seq > from_a.back().seq;
                rec.state_fraction = rec.state_preserved ? 1 : 0;
            } else if (w == "a2") {
                std::optional<workload::a2_state> st;
                eventually([&] {
                    auto s = workload::a2_get_state(addr_b, a2_port, 500ms);
                    if (s) st = *s;
                    return s && s->phase == "running" && !s->writes_held;
                }, 10s);
                check(st.has_value(), "A2 on b does not answer /state");
                auto c = workload::a2_counter_check(in.a2_before, *st);
                rec.state_what = fmt::format("A2 counter on b >= before (cold starts {})", st->starts);
                rec.state_expected = in.a2_before;
                rec.state_found = st->count;
                rec.state_preserved = st->count >= in.a2_before;
                rec.state_fraction = in.a2_before ? std::min(1.0, double(st->count) / double(in.a2_before)) : 1;
                (void)c;
            } else {
                std::optional<std::uint64_t> n;
                eventually([&] {
                    if (auto c = workload::memcached_client::connect(addr_b, a3_port, 500ms))
                        if (auto k = c->count_intact(ds)) n = *k;
                    return n.has_value();
                }, 10s, 100ms);
                check(n.has_value(), "memcached on b does not answer over TCP");
                rec.state_what = "A3 keys intact on b";
                rec.state_expected = ds.items;
                rec.state_found = *n;
                rec.state_fraction = double(*n) / double(ds.items);
                rec.state_preserved = *n == ds.items;
            }
            rec.ok = true;
        } catch (const run_failed& f) {
            rec.ok = false;
            rec.error = f.what;
        }
        discard_all();
        return rec;
    }
};

// ---- summaries ---------------------------------------------------------------------------------

struct cell_summary {
    std::string method, workload, link;
    int runs = 0, ok = 0, preserved = 0;
    double downtime = 0, downtime_p95 = 0, prepare = 0, relocate = 0, total = 0, freeze = 0;
    std::map<side, double> prep, reloc;
    double prepare_bytes = 0, downtime_bytes = 0, state_fraction = 0, delta = 0, delta_min = 0;
    std::string image_case;
    std::vector<std::string> errors;
};

cell_summary summarize(const std::vector<run_record>& all, const std::string& method, const std::string& w,
                       const std::string& link) {
    cell_summary c{.method = method, .workload = w, .link = link};
    std::vector<double> dt, pr, rl, tt, fr, pb, db, sf, dr;
    std::map<side, std::vector<double>> ps, rs;
    for (auto& r : all) {
        if (r.method != method || r.workload != w || r.link != link) continue;
        ++c.runs;
        if (!r.ok) {
            c.errors.push_back(r.error);
            continue;
        }
        ++c.ok;
        c.preserved += r.state_preserved;
        dt.push_back(r.downtime_ms);
        pr.push_back(r.prepare_ms);
        rl.push_back(r.relocate_ms);
        tt.push_back(r.total_ms);
        fr.push_back(r.freeze_ms);
        pb.push_back(double(r.prepare_bytes));
        db.push_back(double(r.downtime_bytes));
        sf.push_back(r.state_fraction);
        if (r.delta_ratio > 0) dr.push_back(r.delta_ratio);
        for (auto s : {side::source, side::transfer, side::target, side::other}) {
            ps[s].push_back(r.prep.count(s) ? r.prep.at(s) : 0);
            rs[s].push_back(r.reloc.count(s) ? r.reloc.at(s) : 0);
        }
        if (!r.image_case.empty()) c.image_case = r.image_case;
    }
    c.downtime = median(dt);
    c.downtime_p95 = p95(dt);
    c.prepare = median(pr);
    c.relocate = median(rl);
    c.total = median(tt);
    c.freeze = median(fr);
    c.prepare_bytes = median(pb);
    c.downtime_bytes = median(db);
    c.state_fraction = median(sf);
    c.delta = median(dr);
    c.delta_min = dr.empty() ? 0 : *std::min_element(dr.begin(), dr.end());
    for (auto& [s, v] : ps) c.prep[s] = median(v);
    for (auto& [s, v] : rs) c.reloc[s] = median(v);
    return c;
}

// Table 8.1's question: does the strategy keep what the workload needs, in every run?
//   A1 needs nothing kept: it must poll again from b.  A2: its counter (>= before).
//   A3: every key with its value.
bool needs_met(const cell_summary& c) {
    if (c.runs == 0 || c.ok != c.runs) return false;
    return c.workload == "a1" ? true : c.preserved == c.runs;
}

json to_json(const cell_summary& c) {
    json j = {{"method", c.method}, {"workload", c.workload}, {"link", c.link}, {"runs", c.runs}, {"ok", c.ok},
              {"state_preserved_runs", c.preserved}, {"downtime_ms", c.downtime}, {"downtime_p95_ms", c.downtime_p95},
              {"prepare_ms", c.prepare}, {"relocate_ms", c.relocate}, {"total_ms", c.total}, {"freeze_ms", c.freeze},
              {"prepare_bytes", c.prepare_bytes}, {"downtime_bytes", c.downtime_bytes},
              {"state_fraction", c.state_fraction}, {"delta_ratio", c.delta}, {"delta_ratio_min", c.delta_min},
              {"image_case", c.image_case}, {"needs_met", needs_met(c)}, {"errors", c.errors}};
    for (auto& [s, v] : c.prep) j["prepare_split_ms"][side_name(s)] = v;
    for (auto& [s, v] : c.reloc) j["relocate_split_ms"][side_name(s)] = v;
    return j;
}

std::string bytes_text(double b) {
    if (b <= 0) return "0";
    if (b < 1024 * 1024) return fmt::format("{:.0f} KB", b / 1024);
    return fmt::format("{:.1f} MB", b / 1048576);
}
std::string split_text(const std::map<side, double>& s) {
    auto g = [&](side x) { return s.count(x) ? s.at(x) : 0.0; };
    return fmt::format("{:.0f}/{:.0f}/{:.0f}", g(side::source), g(side::transfer), g(side::target));
}
std::string state_text(const cell_summary& c) {
    if (c.ok == 0) return "-";
    if (c.workload == "a3") return fmt::format("{:.0f}% keys", c.state_fraction * 100);
    if (c.workload == "a2") return fmt::format("{}/{} kept", c.preserved, c.ok);
    return fmt::format("seq {}/{}", c.preserved, c.ok);
}

std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char ch : s) o += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return o + "\"";
}

std::string now_stamp(const char* fmt_str) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, fmt_str, &tm);
    return buf;
}

std::string first_line(const std::vector<std::string>& argv) {
    auto r = detail::run(argv, {.timeout = 10s});
    if (!r) return "unknown (" + r.error().message + ")";
    auto s = r->out.empty() ? r->err : r->out;
    return s.substr(0, s.find('\n'));
}

// Sets `target[strategy][a][b]... = value` from "strategy.a.b=value" (value as JSON when it
// parses, else as a string).
void apply_option(json& target, const std::string& arg) {
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) die("--option " + arg + ": want strategy.key=value");
    std::vector<std::string> path;
    std::stringstream ss(arg.substr(0, eq));
    for (std::string part; std::getline(ss, part, '.');) path.push_back(part);
    if (path.size() < 2) die("--option " + arg + ": want strategy.key=value (e.g. checkpoint.delta=false)");
    if (std::find(all_strategies.begin(), all_strategies.end(), path[0]) == all_strategies.end())
        die("--option " + arg + ": unknown strategy '" + path[0] + "'");
    auto text = arg.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;
    json* at = &target;
    for (auto& p : path) at = &(*at)[p];
    *at = value;
}

}  // namespace

int main(int argc, char** argv) {
    program_name() = "bench_thesis_grid";
    grid_options o;
    if (const char* env = std::getenv("MIGRATE_TESTBED")) o.testbed = env;
    CLI::App app{"The thesis's comparison of Docker migration strategies (export_import, commit_save_load, checkpoint, "
                 "shared_fs) for the V2X workloads A1 (stateless poller), A2 (zone counter in a volume) and A3 "
                 "(memcached with a data set), on the normal and the congested link, side by side with the "
                 "thesis's raw docker-CLI procedures M1/M2/M3 in the same run. Every run starts the workload afresh "
                 "on host a and moves it to b; a client measures the downtime. Needs a testbed up with agents."};
    app.footer(R"(Examples:
  migrate-testbed up --name grid --agents
  bench_thesis_grid --testbed grid                       # the full grid, 5 runs per cell (~20 min)
  bench_thesis_grid --testbed grid --runs 1 --workloads a3 --strategies checkpoint --links normal
  bench_thesis_grid --testbed grid --option checkpoint.delta=false --no-raw
  bench_thesis_grid --testbed grid --options-file opts.json    # {"checkpoint": {"block_size": 8192}}
Outputs in --out: results.csv (one row per run), results.json (runs, medians, environment),
table.md (medians, ours/raw ratios, viability), downtime.png and prepare.png (gnuplot).
Progress goes to stderr, the table and the targets to stdout. docs/thesis-grid.md explains every column.)");
    app.add_option("--testbed", o.testbed, "testbed name (default: $MIGRATE_TESTBED)")->required(o.testbed.empty());
    app.add_option("--runs", o.runs, "runs per cell")->check(CLI::Range(1, 1000))->capture_default_str();
    app.add_option("--strategies", o.strategies, "strategies to run (ours)")
        ->delimiter(',')->check(CLI::IsMember(all_strategies))->capture_default_str();
    app.add_option("--workloads", o.workloads, "workloads: a1 poller, a2 counter, a3 memcached")
        ->delimiter(',')->check(CLI::IsMember(all_workloads))->capture_default_str();
    app.add_option("--links", o.links, "link profiles (testbed set_profile)")
        ->delimiter(',')->check(CLI::IsMember(all_links))->capture_default_str();
    app.add_option("--items", o.items, "A3: memcached keys")->check(CLI::Range(1, 10000000))->capture_default_str();
    app.add_option("--value-size", o.value_size, "A3: bytes per value")->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("--out", o.out, "output directory (default ./thesis-grid-<UTC timestamp>)");
    app.add_flag("--no-raw", o.no_raw, "skip the raw docker-CLI procedures (no ours/raw ratios)");
    app.add_option("--transport", o.transport, "how our strategies move artifacts: agent (across the link) or local "
                                               "(through this process)")
        ->check(CLI::IsMember({"agent", "local"}))->capture_default_str();
    app.add_option("--option", o.option_args, "a strategy option, strategy.key=value (JSON value or string), "
                                              "repeatable: --option checkpoint.delta=false");
    app.add_option("--options-file", o.options_file, "JSON {\"strategy\": {options}} merged under --option")
        ->check(CLI::ExistingFile);
    app.add_option("--docker", o.docker, "docker CLI for the raw procedures")->capture_default_str();
    app.add_option("--a1-interval-ms", o.a1_interval_ms, "A1's poll interval (the thesis: 200; the A1 downtime's "
                                                         "resolution)")
        ->check(CLI::Range(20, 5000))->capture_default_str();
    app.add_option("--gnuplot", o.gnuplot, "gnuplot binary for the PNG plots")->capture_default_str();
    app.add_flag("--verbose", o.verbose, "print each of our migrations' report");
    CLI11_PARSE(app, argc, argv);

    json strategy_options = json::object();
    if (!o.options_file.empty()) {
        std::ifstream f(o.options_file);
        auto j = json::parse(f, nullptr, false);
        if (j.is_discarded() || !j.is_object()) die("--options-file " + o.options_file + ": not a JSON object");
        for (auto& [k, v] : j.items())
            if (std::find(all_strategies.begin(), all_strategies.end(), k) == all_strategies.end() || !v.is_object())
                die("--options-file " + o.options_file + ": '" + k + "' is not a strategy with an options object");
        strategy_options = j;
    }
    for (auto& a : o.option_args) apply_option(strategy_options, a);
    // Unknown option names fail here, before anything runs (strategies refuse them).
    for (auto& s : o.strategies) {
        json opts = strategy_options.contains(s) ? strategy_options[s] : json::object();
        need(make_migrator(s, opts), "options of " + s);
    }
    if (o.out.empty()) o.out = "thesis-grid-" + now_stamp("%Y%m%d-%H%M%S");
    fs::create_directories(o.out);

    auto t = open_testbed(o.testbed, o.transport);
    grid g{.o = o, .t = t};
    g.strategy_options = strategy_options;
    g.ds = {.prefix = "tg", .items = o.items, .value_size = o.value_size};
    g.cli_a = {.binary = o.docker, .socket = t.ha.socket};
    g.cli_b = {.binary = o.docker, .socket = t.hb.socket};
    need(g.cli_a({"version", "--format", "{{.Server.Version}}"}), "the docker CLI (" + o.docker + ") against a");
    g.zones = need(workload::zone_server::start({.address = t.tb.client_address(), .zone = "zone-1"}), "zone server");

    // Images on both hosts (only the service moves; commit_save_load finds the base on b).
    fmt::print(stderr, "images: building / copying the workload images to both hosts\n");
    g.img.r1 = need(image::a1_poller_recipe(MIGRATE_A1_POLLER), "A1 recipe");
    g.img.r2 = need(image::a2_counter_recipe(MIGRATE_A2_COUNTER), "A2 recipe");
    g.img.r3 = image::memcached_recipe(a3_port);
    for (auto& w : o.workloads) {
        if (w == "a1") ensure_image_on_both(t, g.img.r1, g.img.a1);
        if (w == "a2") ensure_image_on_both(t, g.img.r2, g.img.a2);
        if (w == "a3") ensure_image_on_both(t, g.img.r3, g.img.a3);
    }

    std::vector<std::string> methods;
    for (auto& s : o.strategies) methods.push_back(s);
    if (!o.no_raw) {
        std::set<std::string> raws;
        for (auto& s : o.strategies) raws.insert(raw_of(s));
        for (auto& r : raws) methods.push_back(r);
    }

    json env = {{"started_at", utc_now_iso8601()}, {"loadavg_start", loadavg()},
                {"cpus", std::thread::hardware_concurrency()}, {"testbed", t.tb.status()},
                {"transport", o.transport}, {"strategy_options", strategy_options}};
    {
        utsname u{};
        ::uname(&u);
        env["kernel"] = std::string(u.sysname) + " " + u.release;
    }
    env["dockerd"] = first_line(g.cli_a.argv({"version", "--format", "{{.Server.Version}}"}));
    env["docker_cli"] = first_line({o.docker, "--version"});
    env["criu"] = first_line({"criu", "--version"});
    env["git"] = first_line({"git", "-C", MIGRATE_SOURCE_DIR, "rev-parse", "--short", "HEAD"});
    // The source tree is shared with other engineers' work in progress: say what was not committed.
    if (auto st = detail::run({"git", "-C", MIGRATE_SOURCE_DIR, "status", "--porcelain", "--untracked-files=no"},
                              {.timeout = 10s})) {
        json dirty = json::array();
        std::stringstream ss(st->out);
        for (std::string line; std::getline(ss, line);)
            if (line.size() > 3) dirty.push_back(line.substr(3));
        env["git_uncommitted_at_start"] = dirty;
    }
    env["a3_dataset"] = {{"items", o.items}, {"value_size", o.value_size}};
    env["a1_interval_ms"] = o.a1_interval_ms;

    const int total_runs = int(o.links.size() * o.workloads.size() * methods.size()) * o.runs;
    fmt::print(stderr, "grid: {} method(s) x {} workload(s) x {} link(s) x {} run(s) = {} migrations; transport {}; "
                       "load {}\n",
               methods.size(), o.workloads.size(), o.links.size(), o.runs, total_runs, o.transport, loadavg());
    const auto began = steady_clock::now();
    std::vector<run_record> records;
    int done = 0;
    for (auto& link : o.links) {
        need(t.tb.set_profile(link == "congested" ? testbed::link_profile::congested : testbed::link_profile::normal),
             "link profile " + link);
        // What the link carried, a's namespace to b's (the path the artifacts take).
        if (auto mbps = t.tb.measure_throughput_mbps(t.hb, 8ull << 20))
            env["links"][link] = {{"measured_mbps_root_to_b", *mbps}};
        // Round-robin: each round runs every cell once, so a noisy minute hits every cell alike.
        for (int run = 1; run <= o.runs; ++run)
            for (auto& w : o.workloads)
                for (auto& m : methods) {
                    auto rec = g.run_one(m, w, link, run);
                    ++done;
                    double el = ms_since(began) / 1000;
                    std::string state =
                        rec.ok ? fmt::format("{} {}/{}", rec.state_preserved ? "kept" : "lost", rec.state_found,
                                             rec.state_expected)
                               : "";
                    fmt::print(stderr,
                               "[{:3}/{} {:4.0f}s eta {:4.0f}s] {:<9} {} {:<16} run {}: {}\n", done, total_runs, el,
                               el / done * (total_runs - done), link, w, m, run,
                               rec.ok ? fmt::format("downtime {:7.1f} ms  prepare {:7.1f} ({})  relocate {:7.1f} ({})  "
                                                    "bytes {}/{}  freeze {:.0f} ms  state {}{}",
                                                    rec.downtime_ms, rec.prepare_ms, split_text(rec.prep),
                                                    rec.relocate_ms, split_text(rec.reloc), rec.prepare_bytes,
                                                    rec.downtime_bytes, rec.freeze_ms, state,
                                                    rec.delta_ratio > 0 ? fmt::format("  delta {:.1f}x", rec.delta_ratio)
                                                                        : "")
                                      : "FAILED: " + rec.error);
                    records.push_back(std::move(rec));
                }
    }
    (void)t.tb.set_profile(testbed::link_profile::normal);
    g.zones->stop();
    const double elapsed_s = ms_since(began) / 1000;
    env["elapsed_s"] = elapsed_s;
    env["loadavg_end"] = loadavg();

    // ---- summaries ----
    std::vector<cell_summary> cells;
    for (auto& link : o.links)
        for (auto& w : o.workloads)
            for (auto& m : methods) cells.push_back(summarize(records, m, w, link));
    auto find = [&](const std::string& m, const std::string& w, const std::string& link) -> const cell_summary* {
        for (auto& c : cells)
            if (c.method == m && c.workload == w && c.link == link && c.ok > 0) return &c;
        return nullptr;
    };
    auto ratio = [&](const cell_summary& c, bool total) -> std::optional<double> {
        if (is_raw(c.method) || c.ok == 0) return std::nullopt;
        auto r = find(raw_of(c.method), c.workload, c.link);
        if (!r) return std::nullopt;
        double den = total ? r->total : r->downtime;
        if (den <= 0) return std::nullopt;
        return (total ? c.total : c.downtime) / den;
    };
    auto ratio_text = [](std::optional<double> r) { return r ? fmt::format("{:.2f}", *r) : std::string("-"); };

    // stdout table + table.md
    std::ostringstream md;
    md << fmt::format("Medians of {} run(s) per cell; testbed {}, transport {}, A3 {} x {} B; {} migrations in {:.0f} s; "
                      "load {} -> {}.\n\n",
                      o.runs, o.testbed, o.transport, o.items, o.value_size, total_runs, elapsed_s,
                      env["loadavg_start"].get<std::string>(), env["loadavg_end"].get<std::string>());
    md << "Times in ms; splits are source/transfer/target; bytes moved before (prepare) and during the downtime; "
          "ratio = ours / raw (the thesis's procedure for the same cell).\n\n";
    md << "| link | workload | method | ok | downtime (p95) | pre-relocation | split | relocation | split | total | "
          "bytes prepare | bytes downtime | freeze | state | delta | downtime ours/raw | total ours/raw |\n";
    md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    fmt::print("thesis grid: medians of {} run(s), testbed {}, transport {}, A3 {} x {} B, {:.0f} s, load {} -> {}\n",
               o.runs, o.testbed, o.transport, o.items, o.value_size, elapsed_s, env["loadavg_start"].get<std::string>(),
               env["loadavg_end"].get<std::string>());
    fmt::print("  {:<9} {:<3} {:<16} {:>4} {:>16} {:>8} {:>15} {:>8} {:>15} {:>8} {:>9} {:>9} {:>7} {:>11} {:>7} "
               "{:>6} {:>6}\n",
               "link", "wl", "method", "ok", "downtime (p95)", "prepare", "src/xfer/tgt", "reloc", "src/xfer/tgt",
               "total", "B prep", "B down", "freeze", "state", "delta", "dt/raw", "tt/raw");
    for (auto& c : cells) {
        std::string dtext = c.ok ? fmt::format("{:.0f} ({:.0f})", c.downtime, c.downtime_p95) : "-";
        std::string delta = c.delta > 0 ? fmt::format("{:.1f}x", c.delta) : "-";
        fmt::print("  {:<9} {:<3} {:<16} {:>4} {:>16} {:>8.0f} {:>15} {:>8.0f} {:>15} {:>8.0f} {:>9} {:>9} {:>7.0f} "
                   "{:>11} {:>7} {:>6} {:>6}\n",
                   c.link, c.workload, c.method, fmt::format("{}/{}", c.ok, c.runs), dtext, c.prepare,
                   split_text(c.prep), c.relocate, split_text(c.reloc), c.total, bytes_text(c.prepare_bytes),
                   bytes_text(c.downtime_bytes), c.freeze, state_text(c), delta, ratio_text(ratio(c, false)),
                   ratio_text(ratio(c, true)));
        md << fmt::format("| {} | {} | {} | {}/{} | {} | {:.0f} | {} | {:.0f} | {} | {:.0f} | {} | {} | {:.0f} | {} | {} | "
                          "{} | {} |\n",
                          c.link, c.workload, c.method, c.ok, c.runs, dtext, c.prepare, split_text(c.prep), c.relocate,
                          split_text(c.reloc), c.total, bytes_text(c.prepare_bytes), bytes_text(c.downtime_bytes),
                          c.freeze, state_text(c), delta, ratio_text(ratio(c, false)), ratio_text(ratio(c, true)));
    }
    for (auto& c : cells)
        for (auto& e : c.errors) fmt::print("  failed: {} {} {}: {}\n", c.link, c.workload, c.method, e);

    // Viability (the thesis's Table 8.1): per workload, which strategies keep what it needs.
    md << "\n### Viability (Table 8.1): keeps what the workload needs in every run; median downtime normal / "
          "congested\n\n| workload | needs |";
    for (auto& m : methods) md << " " << m << " |";
    md << "\n|---|---|";
    for (std::size_t i = 0; i < methods.size(); ++i) md << "---|";
    md << "\n";
    fmt::print("viability (keeps what the workload needs in every run; median downtime per link):\n");
    for (auto& w : o.workloads) {
        const char* needs = w == "a1" ? "to poll again from b" : w == "a2" ? "its counter (volume)" : "every key (memory)";
        md << "| " << workload_title(w) << " | " << needs << " |";
        fmt::print("  {:<20}", workload_title(w));
        for (auto& m : methods) {
            std::string cell;
            bool all = true;
            std::vector<std::string> dts;
            for (auto& link : o.links) {
                auto c = std::find_if(cells.begin(), cells.end(), [&](const cell_summary& x) {
                    return x.method == m && x.workload == w && x.link == link;
                });
                all = all && c != cells.end() && needs_met(*c);
                dts.push_back(c != cells.end() && c->ok ? fmt::format("{:.0f}", c->downtime) : "-");
            }
            std::string joined;
            for (auto& d : dts) joined += (joined.empty() ? "" : " / ") + d;
            cell = fmt::format("{} {} ms", all ? "yes" : "no", joined);
            md << " " << cell << " |";
            fmt::print("  {}: {}", m, cell);
        }
        md << "\n";
        fmt::print("\n");
    }

    // The issue's targets, stated explicitly.
    std::vector<std::string> target_lines;
    if (auto c = find("checkpoint", "a3", "normal")) {
        if (auto r = find("raw-M3", "a3", "normal"))
            target_lines.push_back(fmt::format("target: checkpoint A3 normal downtime / raw M3 = {:.2f} ({:.0f} / {:.0f} "
                                               "ms; target <= 0.5): {}",
                                               c->downtime / r->downtime, c->downtime, r->downtime,
                                               c->downtime / r->downtime <= 0.5 ? "met" : "NOT met"));
        else target_lines.push_back("target: checkpoint A3 normal downtime / raw M3 = n/a (raw M3 not run)");
        target_lines.push_back(fmt::format("delta ratio of the final checkpoint = {:.1f}x (median of A3 normal; lowest "
                                           "{:.1f}x; target >= 4.5x): {}",
                                           c->delta, c->delta_min, c->delta_min >= 4.5 ? "met" : "NOT met"));
    } else {
        target_lines.push_back("target: checkpoint A3 normal downtime / raw M3 = n/a (checkpoint on A3 normal not run)");
    }
    md << "\n";
    for (auto& l : target_lines) {
        fmt::print("{}\n", l);
        md << l << "\n\n";
    }

    // ---- files ----
    {
        std::ofstream csv(fs::path(o.out) / "results.csv");
        csv << "method,workload,link,run,ok,error,started_at,downtime_ms,probe_interval_ms,probes,probe_failures,"
               "prepare_ms,prepare_source_ms,prepare_transfer_ms,prepare_target_ms,prepare_other_ms,relocate_ms,"
               "relocate_source_ms,relocate_transfer_ms,relocate_target_ms,relocate_other_ms,total_ms,prepare_bytes,"
               "downtime_bytes,freeze_ms,state_what,state_expected,state_found,state_preserved,state_fraction,"
               "delta_ratio,image_case,loadavg\n";
        for (auto& r : records) {
            auto g2 = [](const std::map<side, double>& m, side s) { return m.count(s) ? m.at(s) : 0.0; };
            csv << fmt::format("{},{},{},{},{},{},{},{:.1f},{:.0f},{},{},{:.1f},{:.1f},{:.1f},{:.1f},{:.1f},{:.1f},{:.1f},"
                               "{:.1f},{:.1f},{:.1f},{:.1f},{},{},{:.1f},{},{},{},{},{:.4f},{:.2f},{},{}\n",
                               r.method, r.workload, r.link, r.run, r.ok, csv_escape(r.error), r.started_at,
                               r.downtime_ms, r.probe_interval_ms, r.probes, r.probe_failures, r.prepare_ms,
                               g2(r.prep, side::source), g2(r.prep, side::transfer), g2(r.prep, side::target),
                               g2(r.prep, side::other), r.relocate_ms, g2(r.reloc, side::source),
                               g2(r.reloc, side::transfer), g2(r.reloc, side::target), g2(r.reloc, side::other),
                               r.total_ms, r.prepare_bytes, r.downtime_bytes, r.freeze_ms, csv_escape(r.state_what),
                               r.state_expected, r.state_found, r.state_preserved, r.state_fraction, r.delta_ratio,
                               r.image_case, r.load);
        }
    }
    std::string reproduce = fmt::format(
        "{} --testbed {} --runs {} --strategies {} --workloads {} --links {} --items {} --value-size {} --transport {} "
        "--a1-interval-ms {}{}{}{}",
        argv[0], o.testbed, o.runs, fmt::join(o.strategies, ","), fmt::join(o.workloads, ","), fmt::join(o.links, ","),
        o.items, o.value_size, o.transport, o.a1_interval_ms, o.no_raw ? " --no-raw" : "",
        o.options_file.empty() ? "" : " --options-file " + o.options_file,
        [&] {
            std::string s;
            for (auto& a : o.option_args) s += " --option " + a;
            return s;
        }());
    {
        json j = {{"environment", env}, {"reproduce", reproduce}, {"targets", target_lines}};
        j["runs"] = json::array();
        for (auto& r : records) j["runs"].push_back(to_json(r));
        j["medians"] = json::array();
        for (auto& c : cells) {
            auto cj = to_json(c);
            if (auto r = ratio(c, false)) cj["downtime_ours_over_raw"] = *r;
            if (auto r = ratio(c, true)) cj["total_ours_over_raw"] = *r;
            if (!is_raw(c.method)) cj["raw"] = raw_of(c.method);
            j["medians"].push_back(cj);
        }
        std::ofstream(fs::path(o.out) / "results.json") << j.dump(2) << "\n";
    }
    md << "Reproduce: `" << reproduce << "`\n";
    std::ofstream(fs::path(o.out) / "table.md") << md.str();

    // ---- plots: per workload, each strategy's bars (ours normal/congested, its raw normal/congested) ----
    auto value = [&](const std::string& m, const std::string& w, const std::string& link, bool prepare) {
        auto c = find(m, w, link);
        return c ? fmt::format("{:.1f}", prepare ? c->prepare : c->downtime) : std::string("?");
    };
    for (bool prepare : {false, true})
        for (auto& w : o.workloads) {
            std::ofstream d(fs::path(o.out) / fmt::format("{}_{}.dat", prepare ? "prepare" : "downtime", w));
            d << "# strategy ours_normal ours_congested raw_normal raw_congested (median ms; ? = not run)\n";
            for (auto& s : o.strategies)
                d << '"' << s << " vs " << raw_of(s) << "\" " << value(s, w, "normal", prepare) << " " << value(s, w, "congested", prepare) << " "
                  << value(raw_of(s), w, "normal", prepare) << " " << value(raw_of(s), w, "congested", prepare) << "\n";
        }
    {
        std::ofstream gp(fs::path(o.out) / "plots.gp");
        gp << "# gnuplot plots.gp (in this directory) makes downtime.png and prepare.png from the .dat files\n"
              "set terminal pngcairo size 1500,460 font 'sans,9' noenhanced\n"
              "set datafile missing '?'\n"
              "set style data histograms\nset style histogram clustered gap 1\n"
              "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset grid ytics\n"
              "set key top left font 'sans,8'\nset xtics rotate by -20 font 'sans,8'\nset yrange [0:*]\n";
        for (bool prepare : {false, true}) {
            const char* what = prepare ? "prepare" : "downtime";
            gp << fmt::format("set output '{}.png'\n", what);
            gp << fmt::format("set multiplot layout 1,{} title '{} (median of {} run(s) per bar; raw = the thesis procedure "
                              "with the docker CLI)'\n",
                              o.workloads.size(),
                              prepare ? "pre-relocation time, ms" : "downtime seen by the client, ms", o.runs);
            for (auto& w : o.workloads) {
                gp << fmt::format("set title '{}'\n", workload_title(w));
                gp << fmt::format("plot '{0}_{1}.dat' using 2:xtic(1) title 'ours normal' lc rgb '#1f77b4', "
                                  "'' using 3 title 'ours congested' lc rgb '#9ecae1', "
                                  "'' using 4 title 'raw normal' lc rgb '#d62728', "
                                  "'' using 5 title 'raw congested' lc rgb '#fcae91'\n",
                                  what, w);
            }
            gp << "unset multiplot\n";
        }
    }
    std::string plots;
    {
        auto r = detail::run({o.gnuplot, "plots.gp"}, {.timeout = 60s, .cwd = fs::path(o.out)});
        if (r && r->exit_code == 0) plots = "downtime.png, prepare.png";
        else
            plots = fmt::format("none ({}); the data is in *.dat: plot with `cd {} && gnuplot plots.gp` "
                                "(apt-get install gnuplot-nox)",
                                r ? r->err.substr(0, 200) : r.error().message, o.out);
    }
    fmt::print("files in {}: results.csv, results.json, table.md; plots: {}\n", o.out, plots);
    fmt::print("reproduce: {}\n", reproduce);
    return 0;
}
