// The strategy x workload and strategy x failure matrices of the thesis, on the REAL testbed
// named by MIGRATE_TESTBED (its two hosts' dockerd + CRIU, and their agents): every move here
// goes through the agent transport, so the bytes cross the link between a and b.
//
// Moves (strategy x workload; the outcome checked is the thesis's):
//   A1 (stateless poller)   polls continue from b after the last one from a; with a strategy
//                           that keeps memory, its poll sequence number goes on too.
//   A2 (zone counter, count in a volume, migration aware: the phase hook is required)
//                           the counter on b continues from its value before the move (not
//                           from 0) and counts on at b; restarted (a second start logged) or
//                           restored (still one) as the strategy's caps say.
//   A3 (memcached, a data set)
//                           shared_fs / checkpoint: every key on b; export_import /
//                           commit_save_load: memcached answers on b, empty, and the report
//                           says memory was not kept.
// shared_fs moves only what is under its shared root: A2's /data is bound from there instead
// of a named volume (a named volume is refused, tested in strategy_shared_fs_test.cpp).
//
// Rollbacks (strategy x failure point), each checking that the source service answers again
// with its state (A2's counter, at least its value before) and that nothing of the move is
// left on b:
//   link down   b's link is taken down in the middle of a transfer through the agents (as in
//               agent_test.cpp: the root-side end of b's veth), on the congested profile so a
//               few MiB take long enough to be cut: in the downtime for the strategies that
//               move a volume there (the source had stopped), in the preparation for shared_fs
//               (its only network transfer is the image; its checkpoint goes through the
//               shared path, which a link does not carry);
//   unreachable b's real dockerd reached through a relay that is cut when relocate begins.
//
// The cells not here are in the strategies' own files (all on the same real daemons):
//   checkpoint x A1 / A2 / A3            strategy_checkpoint_test.cpp ("A1 ...", "A2 ...", "memcached ...")
//   shared_fs x A3                       strategy_shared_fs_test.cpp ("memcached moves ...")
//   export_import, commit_save_load x start refused / unreachable / volume import refused
//                                        strategy_export_import_test.cpp, strategy_commit_save_load_test.cpp
//   checkpoint x restore refused / unreachable / corrupt base / lost dump
//                                        strategy_checkpoint_test.cpp
//   shared_fs x restore refused          strategy_shared_fs_test.cpp
// Whole file: about 2 minutes here.
#include "noise_source.hpp"
#include "criu_strategy_scene.hpp"
#include "strategy_fixture.hpp"
#include "workload_fixture.hpp"

#include <migrate/agent/client.hpp>
#include <migrate/agent/transport.hpp>
#include <migrate/strategies.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <unistd.h>

using namespace migrate;
using namespace std::chrono_literals;
using migrate::test::tb_host;
namespace fs = std::filesystem;
namespace wl = migrate::test::wl;
namespace cs = migrate::test::criu_scene;

namespace {

enum class workload_kind { a1, a2, a3 };
const char* to_string(workload_kind w) { return w == workload_kind::a1 ? "A1" : w == workload_kind::a2 ? "A2" : "A3"; }

const workload::memcached_dataset dataset{.prefix = "smx", .items = 800, .value_size = 256};
constexpr std::uint16_t memcached_port = 11711;
constexpr std::uint16_t a2_port = 8080;

// ---- the agents ------------------------------------------------------------------------------

std::string agent_token() {
    auto t = test::shared_testbed().agent_token();
    if (!t)
        FAIL("the testbed runs no agents (" << t.error().what() << "); bring it up with `migrate-testbed up --name "
                                            << test::shared_testbed_name() << " --hosts 2 --replace --agents`");
    return *t;
}

std::shared_ptr<transport> agent_transport(std::chrono::milliseconds stall = 10s) {
    agent::agent_transport_options o;
    o.token = agent_token();
    o.stall_timeout = stall;
    o.progress_interval = 50ms;
    auto t = agent::make_agent_transport(o);
    REQUIRE_OK(t);
    return *t;
}

bool agent_answers(const char* host) {
    auto c = agent::agent_client::make(tb_host(host).agent, {.token = agent_token()});
    return c && c->ping().has_value();
}

edge_host edge(const char* which, std::shared_ptr<container_runtime> rt) {
    auto& h = tb_host(which);
    return edge_host{.name = which, .address = h.address, .runtime = std::move(rt), .work_dir = h.work_dir, .agent = h.agent};
}

// ---- the images ------------------------------------------------------------------------------


// The workload's image, made on host a for this test process with one file of its own (and
// `padding` bytes of noise), so that host b never holds it beforehand: every move carries it
// over the link. Removed from both hosts at exit.
const std::string& unique_image(workload_kind w, std::uint64_t padding = 0) {
    static std::mutex mu;
    static std::map<std::pair<workload_kind, std::uint64_t>, std::string> made;
    static struct remover {
        std::vector<std::string> ids;
        ~remover() {
            for (auto* h : {"a", "b"})
                for (auto& id : ids) (void)test::engine_on(h).remove_image(id, true);
        }
    } r;
    std::lock_guard lock(mu);
    auto& ref = made[{w, padding}];
    if (!ref.empty()) return ref;
    image::image_recipe recipe;
    switch (w) {
    case workload_kind::a1: {
        auto rc = image::a1_poller_recipe(MIGRATE_A1_POLLER);
        REQUIRE_OK(rc);
        recipe = *rc;
        break;
    }
    case workload_kind::a2: {
        auto rc = image::a2_counter_recipe(MIGRATE_A2_COUNTER);
        REQUIRE_OK(rc);
        recipe = *rc;
        break;
    }
    case workload_kind::a3: recipe = image::memcached_recipe(); break;
    }
    recipe.rootfs.files.push_back(
        {"/etc/migrate-test-run", fmt::format("{} {}\n", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count())});
    if (padding)
        recipe.rootfs.generated.push_back({"/opt/padding", padding, [padding] { return std::make_unique<test::noise_source>(padding); }});
    auto name = fmt::format("smx-{}{}:{}", w == workload_kind::a1 ? "a1" : w == workload_kind::a2 ? "a2" : "memcached",
                            padding ? "-padded" : "", ::getpid());
    auto a = test::engine_on("a");
    auto id = image::build_image(a, recipe.rootfs, name, recipe.changes);
    INFO("building " << name << " on host a");
    REQUIRE_OK(id);
    r.ids.push_back(*id);
    ref = name;
    return ref;
}

// ---- the link --------------------------------------------------------------------------------

// Takes b's link down (the root-side end of its veth, as agent_test.cpp does) and brings it
// back, with the normal profile, whatever happens in the test.
struct link_cutter {
    const std::string veth = tb_host("b").netns;
    std::atomic<bool> cut{false};
    std::atomic<bool> cut_ok{false};
    bool congested = false;

    void congest() {
        auto tb = testbed::testbed::open(test::shared_testbed_name());
        REQUIRE_OK(tb);
        REQUIRE_OK(tb->set_profile(testbed::link_profile::congested));
        congested = true;
    }
    void cut_now() {
        if (cut.exchange(true)) return;
        cut_ok = detail::run_checked({"ip", "link", "set", veth, "down"}).has_value();
    }
    void restore() {
        if (cut) (void)detail::run({"ip", "link", "set", veth, "up"});
        if (congested) {
            if (auto tb = testbed::testbed::open(test::shared_testbed_name())) (void)tb->set_profile(testbed::link_profile::normal);
            congested = false;
        }
    }
    ~link_cutter() { restore(); }
};

// ---- one service on host a -------------------------------------------------------------------

// One workload on host a, moved (or not) by one strategy through the agents. Everything of
// its name, and every container and image that appeared on b while it lived, is removed from
// both hosts at the end.
struct scene {
    std::string strategy;
    workload_kind kind;
    std::string name;
    std::shared_ptr<docker::engine> a = cs::shared_engine_on("a");
    std::shared_ptr<docker::engine> b = cs::shared_engine_on("b");
    test::host_inventory b_before;
    std::unique_ptr<workload::zone_server> zones;
    fs::path shared_root;   // shared_fs only
    std::string volume;     // A2 with a named volume
    fs::path shared_dir;    // A2 under the shared root (shared_fs)
    std::string source_id;
    std::uint64_t count_before = 0;   // A2's counter right before the move
    int next_zone = 10;               // the next zone the user enters after a rollback

    scene(std::string strat, workload_kind k, std::string suffix = {})
        : strategy(std::move(strat)), kind(k),
          name(fmt::format("smx-{}-{}{}", strategy == "export_import"      ? "ei"
                                          : strategy == "commit_save_load" ? "csl"
                                          : strategy == "checkpoint"       ? "ckp"
                                                                           : "sfs",
                           to_string(k), suffix)) {
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto& tb = test::shared_testbed();
        shared_root = tb.options().data_root / tb.options().name / "shared";
        fs::create_directories(shared_root);
        clean();
        b_before = test::inventory(*b);
    }
    ~scene() {
        clean();
        // What the move made on b (its container, the imported, committed or loaded image).
        if (auto now = b->list_containers(true))
            for (auto& c : *now)
                if (!b_before.containers.count(c.id)) (void)b->remove(c.id, true);
        if (auto imgs = b->list_images())
            for (auto& i : *imgs)
                if (!b_before.images.count(i.id) &&
                    std::find(i.tags.begin(), i.tags.end(), b->options().helper_image) == i.tags.end())
                    (void)b->remove_image(i.id, true);
    }
    scene(const scene&) = delete;
    scene& operator=(const scene&) = delete;

    void clean() {
        for (auto* e : {a.get(), b.get()}) {
            (void)e->remove(name, true);
            (void)e->remove_volume(name + "-data", true);
        }
        std::error_code ec;
        fs::remove_all(shared_root / name, ec);
    }

    bool keeps_memory() const { return strategy == "checkpoint" || strategy == "shared_fs"; }

    std::unique_ptr<migrator> make_migrator() const {
        json o = json::object();
        if (strategy == "shared_fs") o["shared_root"] = shared_root.string();
        if (strategy == "export_import") o["image_prefix"] = "smx/export";
        if (strategy == "commit_save_load") o["image_prefix"] = "smx/commit";
        auto m = migrate::make_migrator(strategy, o);
        REQUIRE_OK(m);
        return std::move(*m);
    }

    migration_request request(std::shared_ptr<transport> t, std::shared_ptr<container_runtime> target = nullptr) const {
        migration_request r;
        r.source = edge("a", a);
        r.target = edge("b", target ? std::move(target) : b);
        r.container = name;
        r.transport = std::move(t);
        r.stop_timeout = 2s;
        if (kind == workload_kind::a2)
            r.phase_hook = {.url = fmt::format("http://{}:{}/changePhase", addr_a(), a2_port), .required = true};
        return r;
    }

    std::string addr_a() const { return wl::address_of(*a, name, wl::service_network("a")); }
    std::string addr_b() const { return wl::address_of(*b, name, wl::service_network("b")); }

    // ---- starting the workload on a ---------------------------------------------------------

    void start(std::string image = {}) {
        if (image.empty()) image = unique_image(kind);
        container_spec spec;
        switch (kind) {
        case workload_kind::a1: {
            zones = wl::client_side_zone_server();
            spec = workload::a1_poller_spec(
                {.name = name, .image = image, .url = zones->url("/location"), .network = wl::service_network("a")});
            break;
        }
        case workload_kind::a2: {
            zones = wl::client_side_zone_server();
            workload::a2_counter_config cfg{.name = name, .image = image, .zone_url = zones->url("/zone"),
                                            .network = wl::service_network("a"), .volume = name + "-data",
                                            .port = a2_port};
            spec = workload::a2_counter_spec(cfg);
            if (strategy == "shared_fs") {
                shared_dir = shared_root / name;
                fs::create_directories(shared_dir);
                spec.mounts = {{mount_spec::kind::bind, shared_dir.string(), "/data", false}};
            } else {
                volume = cfg.volume;
                REQUIRE_OK(a->create_volume(volume));
            }
            break;
        }
        case workload_kind::a3:
            spec = {.name = name, .image = image,
                    .cmd = {"-p", std::to_string(memcached_port), "-U", std::to_string(memcached_port), "-m", "64"},
                    .network_mode = wl::service_network("a")};
            break;
        }
        auto id = a->create(spec);
        REQUIRE_OK(id);
        source_id = *id;
        REQUIRE_OK(a->start(source_id));
        switch (kind) {
        case workload_kind::a1:
            REQUIRE(wl::eventually([&] { return zones->records_from(tb_host("a").service_subnet).size() >= 3; }, 10s));
            break;
        case workload_kind::a2: {
            auto addr = addr_a();
            REQUIRE(wl::eventually([&] { return workload::a2_udp_count(addr, a2_port, 200ms).has_value(); }, 10s));
            drive(addr, 2, 3);   // the user crosses three zones while A2 runs on a
            auto c = workload::a2_udp_count(addr, a2_port);
            REQUIRE_OK(c);
            REQUIRE(*c == 3);
            count_before = *c;
            break;
        }
        case workload_kind::a3:
            cs::load_dataset(dataset, addr_a(), memcached_port);
            // Checkpoints of a static data set only: memcached re-links fresh items for a second.
            if (keeps_memory()) REQUIRE(cs::wait_memcached_settled(addr_a(), memcached_port));
            break;
        }
    }

    // Moves the user through zones `from` .. `from + n - 1`, each counted once by A2 at `addr`.
    void drive(const std::string& addr, int from, int n) {
        for (int z = from; z < from + n; ++z) {
            auto before = workload::a2_udp_count(addr, a2_port, 500ms);
            REQUIRE_OK(before);
            REQUIRE_OK(zones->set_zone("zone-" + std::to_string(z)));
            INFO("A2 at " << addr << " counting zone-" << z << " after " << *before);
            REQUIRE(wl::eventually([&] {
                auto c = workload::a2_udp_count(addr, a2_port, 200ms);
                return c && *c == *before + 1;
            }, 5s));
        }
    }
    // A2 at `addr` runs (not holding after the phase hook) and answers with its state.
    workload::a2_state a2_running_at(const std::string& addr) {
        std::optional<workload::a2_state> st;
        bool running = wl::eventually([&] {
            auto s = workload::a2_get_state(addr, a2_port, 500ms);
            if (s) st = *s;
            return s && s->phase == "running" && !s->writes_held;
        }, 8s);
        INFO("A2 at " << addr << ": " << (st ? json(*st).dump() : std::string("no answer")));
        REQUIRE(running);
        return *st;
    }

    // ---- after a move -------------------------------------------------------------------------

    void check_moved(migration_report& rep) {
        INFO(rep.to_text() << rep.details.dump(2));
        REQUIRE(rep.success);
        CHECK_FALSE(rep.rolled_back);
        CHECK(rep.strategy == strategy);
        // The agents carried it: over the link, each stream checked end to end.
        CHECK(rep.details["transport"] == "agent");
        REQUIRE(rep.details.contains("transfers"));
        for (auto& t : rep.details["transfers"]) CHECK(t["stats"]["sha256"].get<std::string>().size() == 64);
        CHECK(rep.total_bytes(phase::transfer) > 0);
        CHECK(rep.details["keeps"]["memory"] == keeps_memory());
        CHECK(a->inspect(name).error_code() == error::not_found);   // the source went, after b confirmed
        auto on_b = b->inspect(name);
        REQUIRE_OK(on_b);
        CHECK(on_b->running);

        switch (kind) {
        case workload_kind::a1: check_a1_moved(rep); break;
        case workload_kind::a2: check_a2_moved(rep); break;
        case workload_kind::a3: check_a3_moved(rep); break;
        }
    }

    void check_a1_moved(migration_report& rep) {
        const auto& subnet_a = tb_host("a").service_subnet;
        const auto& subnet_b = tb_host("b").service_subnet;
        REQUIRE(wl::eventually([&] { return zones->records_from(subnet_b).size() >= 3; }, 10s));
        auto from_a = zones->records_from(subnet_a);
        auto from_b = zones->records_from(subnet_b);
        REQUIRE_FALSE(from_a.empty());
        const auto& last_a = from_a.back();
        const auto& first_b = from_b.front();
        CHECK(first_b.at > last_a.at);                // the polls continue from b, after a's
        CHECK(first_b.peer == addr_b());
        if (keeps_memory()) {
            CHECK(first_b.seq > last_a.seq);          // its memory came along: the sequence goes on
            CHECK(first_b.seq <= last_a.seq + 2);
        } else {
            CHECK(first_b.seq < last_a.seq);          // a new process: it counts from the start again
        }
        auto d = workload::a1_downtime(zones->records(), {.source = subnet_a, .target = subnet_b});
        REQUIRE_OK(d);
        rep.downtime = *d;
        WARN(fmt::format("{} x A1 through the agents: downtime {:.0f} ms ({}), {} B over the link", strategy,
                         d->downtime_ms, d->method, rep.total_bytes(phase::transfer)));
    }

    void check_a2_moved(migration_report& rep) {
        REQUIRE(rep.details["phase_hook"].size() == 2);
        for (auto& call : rep.details["phase_hook"]) CHECK(call["outcome"] == "HTTP 200");
        auto at_b = addr_b();
        CHECK(workload::in_network(at_b, tb_host("b").service_subnet));
        auto after = a2_running_at(at_b);
        rep.state.push_back(workload::a2_counter_check(count_before, after));
        CHECK(rep.state_intact());
        CHECK(after.count >= count_before);           // resumed, not restarted from 0
        CHECK(after.count == count_before);           // no zone changed during the move
        // Restored with its memory (no new start), or started afresh from the volume.
        CHECK(after.starts == (keeps_memory() ? 1u : 2u));
        drive(at_b, 5, 2);                            // and it counts on at b
        auto now = workload::a2_udp_count(at_b, a2_port);
        REQUIRE_OK(now);
        CHECK(*now == count_before + 2);
        if (!volume.empty()) {
            auto v = b->inspect_volume(volume);
            REQUIRE_OK(v);
            CHECK_THAT(test::slurp(v->mountpoint / "counter"), Catch::StartsWith("count=" + std::to_string(*now)));
        } else {
            CHECK_THAT(test::slurp(shared_dir / "counter"), Catch::StartsWith("count=" + std::to_string(*now)));
        }
        WARN(fmt::format("{} x A2 through the agents: counter {} before, {} on b after two more zones; {} B over the link",
                         strategy, count_before, *now, rep.total_bytes(phase::transfer)));
    }

    void check_a3_moved(migration_report& rep) {
        auto at_b = addr_b();
        auto n = cs::count_intact(dataset, at_b, memcached_port);
        INFO("memcached on b at " << at_b);
        REQUIRE(n);                                   // it answers on b
        if (keeps_memory()) {
            CHECK(*n == dataset.items);
        } else {
            // Restarted on b: empty, and the report says the memory was not kept.
            CHECK(*n == 0);
            CHECK(rep.details["keeps"]["memory"] == false);
            CHECK_THAT(rep.to_text(), Catch::Contains("not kept: memory"));
        }
        rep.state.push_back({"memcached keys on b", dataset.items, *n});
        WARN(fmt::format("{} x A3 through the agents: {} of {} keys on b; {} B over the link", strategy, *n,
                         dataset.items, rep.total_bytes(phase::transfer)));
    }

    // ---- after a rollback ---------------------------------------------------------------------

    // A2 serves from a again with its counter (at least its value before: never from 0), is
    // not left holding by the phase hook, and counts the user's next zone.
    void check_a2_serves_on_a(bool restarted) {
        auto src = a->inspect(name);
        REQUIRE_OK(src);
        CHECK(src->id == source_id);
        CHECK(src->running);
        auto at_a = addr_a();
        auto st = a2_running_at(at_a);
        CHECK(st.count >= count_before);
        CHECK(st.count == count_before);
        CHECK(st.starts == (restarted ? 2u : 1u));
        drive(at_a, next_zone++, 1);
        count_before = st.count + 1;   // what a later check starts from
    }

    // Nothing of the move on b: no container of the name, no volume, no image or container
    // that was not there before. b's agent may still be giving up on a stream the link cut:
    // given a few seconds.
    void check_nothing_left_on_b() {
        bool clean = wl::eventually([&] { return test::inventory(*b) == b_before; }, 10s, 200ms);
        CHECK(clean);
        CHECK(b->inspect(name).error_code() == error::not_found);
        CHECK(b->inspect_volume(name + "-data").error_code() == error::not_found);
        auto now = test::inventory(*b);
        CHECK(now.containers == b_before.containers);
        CHECK(now.images == b_before.images);
    }
};

// ---- the tables -----------------------------------------------------------------------------

struct move_cell {
    const char* strategy;
    workload_kind workload;
};
constexpr std::array move_cells{
    move_cell{"export_import", workload_kind::a1},    move_cell{"export_import", workload_kind::a2},
    move_cell{"export_import", workload_kind::a3},    move_cell{"commit_save_load", workload_kind::a1},
    move_cell{"commit_save_load", workload_kind::a2}, move_cell{"commit_save_load", workload_kind::a3},
    move_cell{"shared_fs", workload_kind::a1},        move_cell{"shared_fs", workload_kind::a2},
};

const std::array link_down_strategies{"export_import", "commit_save_load", "checkpoint", "shared_fs"};

}  // namespace

TEST_CASE("matrix: each strategy moves the thesis workloads a -> b through the agents, outcome checked",
          "[strategy][matrix][docker][criu][agent]") {
    const auto cell = move_cells[GENERATE(range(std::size_t{0}, move_cells.size()))];
    DYNAMIC_SECTION(cell.strategy << " x " << to_string(cell.workload)) {
        scene s{cell.strategy, cell.workload};
        s.start();
        REQUIRE_FALSE(cs::has_image(*s.b, unique_image(cell.workload)));   // so the move carries it
        auto m = s.make_migrator();
        auto rep = run_migration(*m, s.request(agent_transport()));
        REQUIRE_OK(rep);
        s.check_moved(*rep);
    }
}

TEST_CASE("matrix: b's link going down in the middle of a transfer rolls back; the source serves with its state, "
          "nothing on b",
          "[strategy][rollback][matrix][docker][criu][agent]") {
    const std::string strategy = link_down_strategies[GENERATE(range(std::size_t{0}, link_down_strategies.size()))];
    DYNAMIC_SECTION(strategy << " x link down") {
        const bool in_prepare = strategy == "shared_fs";
        // shared_fs carries only its image over the link: a padded one, to be cut mid-way.
        scene s{strategy, workload_kind::a2, "-cut"};
        s.start(in_prepare ? unique_image(workload_kind::a2, 4u << 20) : std::string{});
        if (!in_prepare) {
            // A volume of a few MiB: its transfer in the downtime is what the cut hits.
            auto v = s.a->inspect_volume(s.volume);
            REQUIRE_OK(v);
            std::ofstream(v->mountpoint / "blob", std::ios::binary) << std::string(6u << 20, 'v');
        }
        link_cutter link;
        link.congest();   // 100 Mbit: the transfer takes long enough to be cut in the middle
        auto req = s.request(agent_transport(2s));
        bool relocating = false;
        std::string cut_in;
        req.hooks.on_event = [&](const phase_event& e) {
            if (e.phase == phase::relocate && e.what == phase_event::kind::begin) relocating = true;
            if (e.phase != phase::transfer || e.what != phase_event::kind::progress || e.bytes < (256u << 10)) return;
            bool hit = in_prepare ? !relocating && e.detail.find("image") != std::string::npos
                                  : relocating && e.detail.rfind("volume ", 0) == 0;
            if (hit && !link.cut) {
                cut_in = e.detail;
                link.cut_now();
            }
        };
        auto m = s.make_migrator();
        auto p = m->prepare(req);
        migration_report rep;
        if (in_prepare) {
            REQUIRE_FALSE(p);
            INFO(p.error().what());
            CHECK(p.error_code() == error::timeout);
            CHECK_THAT(p.error().message, Catch::Contains("from a (") && Catch::Contains("to b ("));
        } else {
            REQUIRE_OK(p);
            auto r = m->relocate(*p);
            REQUIRE_OK(r);
            rep = *r;
            INFO(rep.to_text() << rep.details.dump(2));
            CHECK_FALSE(rep.success);
            CHECK(rep.rolled_back);
            CHECK_THAT(rep.error, Catch::StartsWith("timeout") && Catch::Contains("volume"));
            CHECK_FALSE(rep.details.contains("left_on_target"));   // b's daemon answered the rollback
        }
        INFO("cut during: " << cut_in);
        REQUIRE(link.cut);
        REQUIRE(link.cut_ok);
        link.restore();
        REQUIRE(wl::eventually([] { return agent_answers("b"); }, 10s, 200ms));

        INFO(rep.to_text() << rep.details.dump(2));
        // export_import / commit_save_load had stopped the source: it starts again from its
        // volume. checkpoint had dumped it: restored from that checkpoint (no new start).
        // shared_fs was still preparing: the source never stopped.
        const bool restarted = strategy == "export_import" || strategy == "commit_save_load";
        s.check_a2_serves_on_a(restarted);
        if (strategy == "checkpoint")
            CHECK_THAT(rep.details["rollback"].dump(), Catch::Contains("restore source from checkpoint"));
        s.check_nothing_left_on_b();
        WARN(fmt::format("{} x link down during '{}': {}{}", strategy, cut_in,
                         in_prepare ? "prepare failed, the source never stopped"
                                    : fmt::format("relocate failed after {:.0f} ms", rep.total_ms(phase::relocate)),
                         in_prepare ? "" : fmt::format(", rollback {:.0f} ms: {}", rep.total_ms(phase::rollback),
                                                       rep.details["rollback"].dump())));
    }
}

TEST_CASE("matrix: shared_fs with b's daemon unreachable when relocation begins keeps the source serving, "
          "a second rollback cleans b",
          "[strategy][rollback][matrix][docker][criu][agent]") {
    scene s{"shared_fs", workload_kind::a2, "-unreach"};
    s.start();
    test::unix_socket_relay relay(tb_host("b").socket, test::strategy_scratch() / (s.name + ".sock"));
    auto via_relay = std::make_shared<docker::engine>(docker::engine_options{.socket = relay.path()});
    REQUIRE_OK(via_relay->ping());
    auto req = s.request(agent_transport(), via_relay);
    req.hooks.on_event = [&](const phase_event& e) {
        if (e.what == phase_event::kind::begin && e.phase == phase::relocate) relay.cut();
    };
    auto m = s.make_migrator();
    auto p = m->prepare(req);
    REQUIRE_OK(p);
    const auto pid_before = s.a->inspect(s.name)->pid;
    auto rep = m->relocate(*p);
    REQUIRE_OK(rep);
    {
        INFO(rep->to_text() << rep->details.dump(2));
        CHECK_FALSE(rep->success);
        CHECK(rep->rolled_back);
        CHECK_THAT(rep->error, Catch::StartsWith("daemon_unreachable") && Catch::Contains(relay.path().string()));
        CHECK_FALSE(cs::has_phase(*rep, phase::snapshot, phase::relocate));   // found before the dump
        CHECK(s.a->inspect(s.name)->pid == pid_before);                      // the same process, never stopped
        // b could not be cleaned: the report says what is left there.
        REQUIRE(rep->details.contains("left_on_target"));
        CHECK(rep->details["left_on_target"]["container"] == p->target_id);
        CHECK(s.b->inspect(s.name));
    }
    s.check_a2_serves_on_a(false);

    relay.restore();
    m->rollback(*p);
    INFO(p->report.details.dump(2));
    CHECK_FALSE(p->report.details.contains("left_on_target"));
    CHECK(p->report.rolled_back);
    s.check_nothing_left_on_b();
    s.check_a2_serves_on_a(false);
}
