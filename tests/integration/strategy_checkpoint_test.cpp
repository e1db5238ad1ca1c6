// The checkpoint strategy (thesis M3, Addad) against REAL dockerd + CRIU on the two hosts
// (a, b) of the testbed named by MIGRATE_TESTBED: memcached (A3) with a data set moved a -> b
// while a client probes it over UDP, a busybox counter whose state is in a volume, Addad's
// three image cases, and the rollback cases. Failures are injected by `faulty_engine`, a
// fault-injecting wrapper around the real engine of b (criu_strategy_scene.hpp); the corrupt
// base is real corruption of b's copy of the first checkpoint on disk.
#include "criu_strategy_scene.hpp"
#include "workload_fixture.hpp"

#include <migrate/strategies.hpp>
#include <migrate/strategy/checkpoint.hpp>
#include <migrate/workload/a1_poller.hpp>
#include <migrate/workload/a2_counter.hpp>

#include <mutex>
#include <unistd.h>

using namespace migrate;
using namespace migrate::test::criu_scene;
using migrate::test::tb_host;
using namespace std::chrono_literals;

namespace {

// memcached's image, made for this test process on host a with one extra file, so that no
// host holds its layer beforehand (images of other tests share memcached_recipe()'s layer
// byte for byte; Addad's check would rightly find it on b). Removed from both hosts at exit.
const std::string& unique_memcached_image() {
    static const std::string ref = fmt::format("ckt-memcached:{}", ::getpid());
    static std::once_flag once;
    std::call_once(once, [] {
        auto a = shared_engine_on("a");
        auto recipe = image::memcached_recipe();
        recipe.rootfs.files.push_back(
            {"/etc/migrate-test-run", fmt::format("{} {}\n", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count())});
        auto id = image::build_image(*a, recipe.rootfs, ref, recipe.changes);
        if (!id) throw std::runtime_error("cannot build " + ref + " on host a: " + id.error().what());
        static struct remover {
            std::string id;
            ~remover() {
                for (auto* h : {"a", "b"}) {
                    docker::engine e({.socket = tb_host(h).socket});
                    (void)e.remove_image(id, true);
                }
            }
        } r{*id};
    });
    return ref;
}
const workload::memcached_dataset dataset{.prefix = "ckt", .items = 3000, .value_size = 512};

// One service on host a named `name`; everything of that name (and the image copies a case
// made on b) is removed from both hosts before and after.
struct scene {
    std::string name;
    std::uint16_t port;
    const std::string memcached_ref = unique_memcached_image();
    std::shared_ptr<docker::engine> a = shared_engine_on("a");
    std::shared_ptr<docker::engine> b = shared_engine_on("b");
    std::vector<std::string> images_on_b;   // removed from b by clean()
    std::vector<std::string> images_on_a;   // extra images made on a, removed by clean()
    std::vector<std::string> volumes;       // removed from a and b by clean()
    std::string image_id;
    std::string source_id;

    scene(std::string n, std::uint16_t p) : name(std::move(n)), port(p) {
        clean();
        auto img = a->inspect_image(memcached_ref);
        REQUIRE_OK(img);
        image_id = img->id;
        images_on_b = {memcached_ref, image_id};
        clean();
    }
    ~scene() { clean(); }
    scene(const scene&) = delete;
    scene& operator=(const scene&) = delete;

    void clean() {
        (void)a->remove(name, true);
        (void)b->remove(name, true);
        for (auto& i : images_on_b) (void)b->remove_image(i, true);
        for (auto& i : images_on_a) (void)a->remove_image(i, true);
        for (auto& v : volumes) {
            (void)a->remove_volume(v, true);
            (void)b->remove_volume(v, true);
        }
    }

    // The service's address on a's / b's service network (a's may change when a rollback
    // restores it: looked up each time).
    std::string svc_a() { return service_address(*a, name); }
    std::string svc_b() { return service_address(*b, name); }

    container_spec memcached_spec(const std::string& image) const {
        return {.name = name, .image = image,
                .cmd = {"-p", std::to_string(port), "-U", std::to_string(port), "-m", "64"},
                .network_mode = service_network()};
    }

    // Starts memcached on a from `image` and fills it with the data set.
    void start_memcached(std::string image = {}, std::vector<std::string> entrypoint = {}) {
        auto spec = memcached_spec(image.empty() ? memcached_ref : image);
        spec.entrypoint = std::move(entrypoint);
        auto id = a->create(spec);
        REQUIRE_OK(id);
        source_id = *id;
        REQUIRE_OK(a->start(source_id));
        load_dataset(dataset, svc_a(), port);
    }

    migration_request request(std::shared_ptr<container_runtime> target = nullptr,
                              std::shared_ptr<container_runtime> source = nullptr) {
        migration_request r;
        r.source = {"a", tb_host("a").address, source ? source : a, tb_host("a").work_dir};
        r.target = {"b", tb_host("b").address, target ? target : b, tb_host("b").work_dir};
        r.container = name;
        return r;
    }

    // The promise of a rollback: the same source container serves every key again, nothing
    // of the move is left on b, and the move's checkpoints are gone from a (a retry can
    // take new ones).
    void check_source_kept_everything(const migration_report& rep, bool target_reachable = true) {
        INFO(rep.to_text() << rep.details.dump(2));
        CHECK_FALSE(rep.success);
        CHECK(rep.rolled_back);
        auto src = a->inspect(name);
        REQUIRE_OK(src);
        CHECK(src->running);
        CHECK(src->id == source_id);
        auto n = count_intact(dataset, svc_a(), port);
        REQUIRE(n);
        CHECK(*n == dataset.items);
        if (target_reachable) {
            CHECK(b->inspect(name).error_code() == error::not_found);
            CHECK_FALSE(has_image(*b, image_id));
        }
        auto rb = find_phase(rep, phase::rollback);
        REQUIRE(rb);
        CHECK(rb->ok);
        auto cps = a->list_checkpoints(source_id);
        REQUIRE_OK(cps);
        CHECK(cps->empty());
    }
};

}  // namespace

TEST_CASE("checkpoint: memcached moves a -> b with every key and in the downtime only the changed blocks move",
          "[strategy][checkpoint][docker][criu]") {
    scene s{"ckt-move", 11511};
    s.start_memcached();
    REQUIRE_FALSE(has_image(*s.b, s.image_id));
    // A static data set: for about a second after a bulk load memcached re-links the items it
    // just stored (LRU HOT -> COLD), rewriting their headers all over the slab pages. Measured
    // here: a first checkpoint taken during that differs from the final one in up to 40% of
    // its blocks (2.5x-6.9x); once settled, in about 3% (40x-50x).
    REQUIRE(wait_memcached_settled(s.svc_a(), s.port));

    memcached_prober mp(dataset, s.name, s.port);
    mp.prober.start();
    REQUIRE(mp.prober.wait_for_source(2s));

    strategy::checkpoint m;
    auto t0 = steady_clock::now();
    auto p = m.prepare(s.request());
    REQUIRE_OK(p);
    // Prepare left the service running on a (the first checkpoint did not stop it) ...
    auto still = s.a->inspect(s.name);
    REQUIRE_OK(still);
    CHECK(still->running);
    CHECK(workload::memcached_udp_get(s.svc_a(), s.port, mp.key, mp.value, 200ms));
    // ... with the container made on b, not started, holding the first checkpoint.
    auto on_b = s.b->inspect(s.name);
    REQUIRE_OK(on_b);
    CHECK_FALSE(on_b->running);
    auto first = p->state["first_checkpoint"].get<std::string>();
    auto held = s.b->list_checkpoints(on_b->id);
    REQUIRE_OK(held);
    CHECK(*held == std::vector<std::string>{first});

    auto rep = m.relocate(*p);
    auto move_ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    REQUIRE_OK(rep);
    CHECK(mp.prober.wait_for_target(5s));
    mp.prober.stop();
    rep->downtime = mp.prober.result();
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    CHECK_FALSE(rep->rolled_back);
    CHECK(rep->strategy == "checkpoint");

    // Addad's check: b had nothing of the image, so all of it moved, in prepare.
    CHECK(rep->details["image_case"] == "full");
    auto image_xfer = find_phase(*rep, phase::transfer, phase::prepare);
    REQUIRE(image_xfer);
    CHECK_THAT(image_xfer->detail, Catch::Contains(s.memcached_ref));
    CHECK(image_xfer->bytes > 5'000'000);

    // Pre-dump: what CRIU says about this kernel, and the delta path instead.
    const auto& dt = strategy::criu_dirty_tracking();
    CHECK(rep->details["pre_dump"]["available"] == dt.available);
    CHECK(rep->details["pre_dump"]["used"] == false);
    CHECK_THAT(rep->details["pre_dump"]["reason"].get<std::string>(), Catch::Contains("mem_dirty_track"));

    // The first checkpoint froze the service inside prepare; the final one in relocate.
    auto freeze = find_phase(*rep, phase::freeze, phase::prepare);
    REQUIRE(freeze);
    CHECK(freeze->ok);
    CHECK_THAT(freeze->detail, Catch::Contains("left running"));
    CHECK(rep->details["first_checkpoint"]["freeze_ms"].get<double>() > 0);
    CHECK(rep->details["first_checkpoint"]["bytes"].get<std::uint64_t>() > 0);
    CHECK(has_phase(*rep, phase::snapshot, phase::relocate));
    CHECK(has_phase(*rep, phase::restore, phase::relocate));
    CHECK_FALSE(has_phase(*rep, phase::rollback));

    // The delta: what crossed in the downtime against the whole final checkpoint.
    const auto& d = rep->details["delta"];
    REQUIRE(d["used"] == true);
    auto full = d["full_bytes"].get<std::uint64_t>(), sent = d["sent_bytes"].get<std::uint64_t>();
    CHECK(full > 1'000'000);   // memcached's pages with 1.5 MB of values
    CHECK(sent > 0);
    auto cp_xfer = find_phase(*rep, phase::transfer, phase::relocate);
    REQUIRE(cp_xfer);
    CHECK(cp_xfer->bytes == sent);
    // The target for A3 with a static data set: at least 4.5x smaller.
    CHECK(d["ratio"].get<double>() >= 4.5);
    CHECK(double(full) / double(sent) >= 4.5);

    // Downtime as the client saw it.
    REQUIRE(rep->downtime);
    CHECK(rep->downtime->downtime_ms > 0);
    CHECK(rep->downtime->downtime_ms < move_ms);

    // The service runs on b with every key; a's container is gone; b's checkpoints deleted.
    CHECK(s.a->inspect(s.name).error_code() == error::not_found);
    auto now_b = s.b->inspect(s.name);
    REQUIRE_OK(now_b);
    CHECK(now_b->running);
    CHECK(now_b->image_id == s.image_id);
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
    auto left = s.b->list_checkpoints(now_b->id);
    REQUIRE_OK(left);
    CHECK(left->empty());

    WARN(fmt::format("checkpoint strategy, memcached {} x {} B: {:.0f} ms in all; prepare {:.0f} ms (image {} B, "
                     "first checkpoint freeze {:.0f} ms, {} B); relocate {:.0f} ms (final dump {:.0f} ms, delta {} of {} B "
                     "= {:.2f}x in {:.0f} ms, restore {:.0f} ms); downtime seen by the client {:.1f} ms ({} probes)",
                     dataset.items, dataset.value_size, move_ms, rep->total_ms(phase::prepare), image_xfer->bytes,
                     freeze->duration_ms, rep->details["first_checkpoint"]["bytes"].get<std::uint64_t>(),
                     rep->total_ms(phase::relocate), rep->total_ms(phase::snapshot), sent, full, double(full) / double(sent),
                     cp_xfer->duration_ms, rep->total_ms(phase::restore), rep->downtime->downtime_ms, rep->downtime->probes));
}

TEST_CASE("checkpoint: a target holding the image (memory case) gets only the checkpoints",
          "[strategy][checkpoint][docker][criu]") {
    scene s{"ckt-memory", 11512};
    copy_image(*s.a, *s.b, s.memcached_ref);
    s.start_memcached();
    strategy::checkpoint m;
    auto rep = run_migration(m, s.request());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    CHECK(rep->details["image_case"] == "memory");
    // The one transfer of prepare is the first checkpoint.
    std::vector<std::string> prepared;
    for (auto& t : rep->phases)
        if (t.phase == phase::transfer && t.stage == phase::prepare) prepared.push_back(t.detail);
    REQUIRE(prepared.size() == 1);
    CHECK_THAT(prepared[0], Catch::Contains("first checkpoint"));
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}

TEST_CASE("checkpoint: a target holding the base layers (partial case) gets the rest of the image",
          "[strategy][checkpoint][docker][criu]") {
    scene s{"ckt-partial", 11513};
    const std::string layered = "ckt-memcached-layered:1";
    s.images_on_a.push_back(layered);
    s.images_on_b.push_back(layered);
    s.clean();
    // b holds the base image; a runs an image with one more layer on top of it.
    copy_image(*s.a, *s.b, s.memcached_ref);
    {
        container_spec mk{.name = s.name + "-mk", .image = s.memcached_ref,
                          .entrypoint = {"/bin/sh", "-c", "echo layered > /etc/migrate-layer"}};
        (void)s.a->remove(mk.name, true);
        auto id = s.a->create(mk);
        REQUIRE_OK(id);
        REQUIRE_OK(s.a->start(*id));
        for (int i = 0; i < 100; ++i) {
            auto st = s.a->inspect(*id);
            REQUIRE_OK(st);
            if (!st->running) break;
            std::this_thread::sleep_for(50ms);
        }
        REQUIRE_OK(s.a->commit(*id, layered, false));
        REQUIRE_OK(s.a->remove(*id, true));
    }
    auto img = s.a->inspect_image(layered);
    REQUIRE_OK(img);
    auto base = s.a->inspect_image(s.memcached_ref);
    REQUIRE_OK(base);
    REQUIRE(img->layers.size() == base->layers.size() + 1);
    s.images_on_b.push_back(img->id);

    s.start_memcached(layered, {"/usr/bin/memcached", "-u", "root"});
    strategy::checkpoint m;
    auto rep = run_migration(m, s.request());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    CHECK(rep->details["image_case"] == "partial");
    const auto& d = rep->details["image"];
    CHECK(d["layers"]["held"] == base->layers.size());
    CHECK(d["layers"]["layers"] == img->layers.size());
    // Either only the top layer moved, or (if leaving layers out failed) the whole image,
    // and the report says which.
    CHECK((d.contains("skipped_layers") || d.contains("skip_failed")));
    if (d.contains("skipped_layers")) CHECK(d["skipped_layers"] == json(base->layers));
    auto on_b = s.b->inspect(s.name);
    REQUIRE_OK(on_b);
    CHECK(on_b->image_id == img->id);
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}

TEST_CASE("checkpoint: a busybox counter keeping its state in a volume resumes on b, not restarts",
          "[strategy][checkpoint][docker][criu]") {
    scene s{"ckt-counter", 0};
    const std::string busybox_ref = "ckt-busybox:1";
    const std::string volume = "ckt-counter-data";
    s.volumes.push_back(volume);
    s.clean();
    auto bb = ensure_image(*s.a, busybox_ref, image::busybox_recipe());
    s.images_on_b.push_back(busybox_ref);
    s.images_on_b.push_back(bb);
    REQUIRE_OK(s.a->create_volume(volume));
    container_spec spec{.name = s.name, .image = busybox_ref, .cmd = {"/bin/sh", "-c", counter_script}};
    spec.mounts.push_back({mount_spec::kind::volume, volume, "/data", false});
    auto id = s.a->create(spec);
    REQUIRE_OK(id);
    REQUIRE_OK(s.a->start(*id));
    auto vol_a = s.a->inspect_volume(volume);
    REQUIRE_OK(vol_a);
    std::this_thread::sleep_for(300ms);
    auto before = read_counter(vol_a->mountpoint / "n");
    REQUIRE(before);

    strategy::checkpoint m;
    auto rep = run_migration(m, s.request());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    // The volume moved in the downtime, after the final dump.
    auto vol_xfer = std::find_if(rep->phases.begin(), rep->phases.end(), [&](const phase_timing& t) {
        return t.phase == phase::transfer && t.stage == phase::relocate && t.detail.find(volume) != std::string::npos;
    });
    CHECK(vol_xfer != rep->phases.end());
    auto vol_b = s.b->inspect_volume(volume);
    REQUIRE_OK(vol_b);
    auto at_move = read_counter(vol_b->mountpoint / "n");
    REQUIRE(at_move);
    std::this_thread::sleep_for(400ms);
    auto after = read_counter(vol_b->mountpoint / "n");
    REQUIRE(after);
    INFO("before " << before->boot << " " << before->n << ", on b " << after->boot << " " << after->n);
    // The same process (its boot id drawn at start), counting on from where it was.
    CHECK(after->boot == before->boot);
    CHECK(after->n > before->n);
    CHECK(after->n > at_move->n);
}

TEST_CASE("checkpoint: a restore refused on b brings the source back from its final checkpoint, every key intact",
          "[strategy][checkpoint][docker][criu][rollback]") {
    scene s{"ckt-norestore", 11514};
    s.start_memcached();
    auto b = std::make_shared<faulty_engine>(s.b);
    b->refuse_restore = true;
    strategy::checkpoint m;
    auto rep = run_migration(m, s.request(b));
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK(b->restores_refused == 1);
    CHECK(has_phase(*rep, phase::snapshot, phase::relocate));   // the source had stopped at its final dump
    CHECK(rep->details["delta"]["used"] == true);               // and the delta had arrived
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_error") && Catch::Contains("injected by faulty_engine"));
    const auto final_name = rep->details["final_checkpoint"]["name"].get<std::string>();
    CHECK_THAT(rep->details["rollback"].dump(),
               Catch::Contains("restore source from checkpoint '" + final_name + "': ok"));
    s.check_source_kept_everything(*rep);

    // The rolled-back source moves on a retry, with every key.
    auto retry = run_migration(m, s.request());
    REQUIRE_OK(retry);
    INFO(retry->to_text() << retry->details.dump(2));
    CHECK(retry->success);
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}

TEST_CASE("checkpoint: a target daemon unreachable at relocation leaves the source serving, never frozen",
          "[strategy][checkpoint][docker][criu][rollback]") {
    scene s{"ckt-unreach", 11515};
    s.start_memcached();
    auto b = std::make_shared<faulty_engine>(s.b);
    strategy::checkpoint m;
    auto p = m.prepare(s.request(b));
    REQUIRE_OK(p);
    auto before = s.a->inspect(s.name);
    REQUIRE_OK(before);
    b->unreachable = true;   // b's dockerd gone between the two stages
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_unreachable") && Catch::Contains("no-daemon-here.sock"));
    CHECK_FALSE(has_phase(*rep, phase::snapshot, phase::relocate));   // found out before the final dump
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("source still running"));
    auto after = s.a->inspect(s.name);
    REQUIRE_OK(after);
    CHECK(after->pid == before->pid);   // the same process, never stopped
    // b could not be cleaned while unreachable: the rollback says so and keeps the list ...
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("remove target container: daemon_unreachable"));
    CHECK(rep->details["left_on_target"]["container"] == p->target_id);
    CHECK(rep->details["left_on_target"]["images"] == json::array({s.image_id}));
    // ... so a second rollback, once b answers again, finishes the job.
    b->unreachable = false;
    m.rollback(*p);
    INFO(p->report.details.dump(2));
    CHECK_FALSE(p->report.details.contains("left_on_target"));
    s.check_source_kept_everything(p->report);
}

TEST_CASE("checkpoint: a corrupt copy of the first checkpoint on b is caught before any restore and the source serves again",
          "[strategy][checkpoint][docker][criu][rollback]") {
    scene s{"ckt-corrupt", 11516};
    s.start_memcached();
    strategy::checkpoint m;
    auto p = m.prepare(s.request());
    REQUIRE_OK(p);
    // Damage b's copy of the first checkpoint: every page image filled with 0xEE.
    auto first = p->state["first_checkpoint"].get<std::string>();
    auto dir = tb_host("b").data_root / "containers" / p->target_id / "checkpoints" / first;
    int damaged = 0;
    for (auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().rfind("pages-", 0) != 0) continue;
        auto size = std::filesystem::file_size(e.path());
        std::ofstream out(e.path(), std::ios::binary | std::ios::trunc);
        out << std::string(size, '\xEE');
        ++damaged;
    }
    REQUIRE(damaged > 0);
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_THAT(rep->error, Catch::StartsWith("corrupt_artifact") && Catch::Contains("SHA-256"));
    CHECK(has_phase(*rep, phase::snapshot, phase::relocate));
    CHECK_FALSE(has_phase(*rep, phase::restore));   // nothing was restored from a bad rebuild
    s.check_source_kept_everything(*rep);
}

TEST_CASE("checkpoint: a final dump that stopped the service and lost its images is rolled back from the first checkpoint",
          "[strategy][checkpoint][docker][criu][rollback]") {
    scene s{"ckt-lostdump", 11519};
    s.start_memcached();
    auto a = std::make_shared<faulty_engine>(s.a);
    a->lose_exit_checkpoint = true;
    strategy::checkpoint m;
    auto rep = run_migration(m, s.request(nullptr, a));
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_error") && Catch::Contains("injected by faulty_engine"));
    const auto first = rep->details["first_checkpoint"]["name"].get<std::string>();
    CHECK_THAT(rep->details["final_checkpoint"]["fallback"].get<std::string>(), Catch::Contains(first));
    // Not started cold: restored from the first checkpoint, so the (static) data set is all there.
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("restore source from checkpoint '" + first + "': ok"));
    s.check_source_kept_everything(*rep);
}

TEST_CASE("checkpoint: when b lost the first checkpoint, the final one moves whole and the report says why",
          "[strategy][checkpoint][docker][criu]") {
    scene s{"ckt-nobase", 11517};
    s.start_memcached();
    strategy::checkpoint m;
    auto p = m.prepare(s.request());
    REQUIRE_OK(p);
    auto first = p->state["first_checkpoint"].get<std::string>();
    REQUIRE_OK(s.b->delete_checkpoint(p->target_id, first));
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    CHECK(rep->details["delta"]["used"] == false);
    CHECK_THAT(rep->details["delta"]["reason"].get<std::string>(), Catch::Contains("no longer holds the first checkpoint"));
    auto cp_xfer = find_phase(*rep, phase::transfer, phase::relocate);
    REQUIRE(cp_xfer);
    CHECK(cp_xfer->bytes == rep->details["delta"]["sent_bytes"].get<std::uint64_t>());
    CHECK_THAT(cp_xfer->detail, Catch::Contains("whole"));
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}

TEST_CASE("checkpoint: pre_dump required on a kernel without dirty-memory tracking fails before touching anything",
          "[strategy][checkpoint][docker][criu]") {
    if (strategy::criu_dirty_tracking().available) {
        WARN("this kernel tracks dirty memory; the case is about kernels that do not");
        return;
    }
    scene s{"ckt-predump", 11518};
    s.start_memcached();
    auto m = make_migrator("checkpoint", {{"pre_dump", {{"mode", "required"}}}});
    REQUIRE_OK(m);
    auto rep = run_migration(**m, s.request());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_FALSE(rep->success);
    CHECK_THAT(rep->error, Catch::StartsWith("unsupported") && Catch::Contains("mem_dirty_track"));
    CHECK(s.b->inspect(s.name).error_code() == error::not_found);
    CHECK_FALSE(has_image(*s.b, s.image_id));
    auto cps = s.a->list_checkpoints(s.source_id);
    REQUIRE_OK(cps);
    CHECK(cps->empty());
}

TEST_CASE("checkpoint: A2 (migration aware, its counter in a volume) moves with its phase hook and counts on at b",
          "[strategy][checkpoint][docker][criu][a2]") {
    auto a = shared_engine_on("a");
    auto b = shared_engine_on("b");
    test::wl::ensure_workload_images(*a);
    auto zones = test::wl::client_side_zone_server();
    workload::a2_counter_config cfg{.name = "ckt-a2", .image = test::wl::a2_image, .zone_url = zones->url("/zone"),
                                    .network = service_network(), .volume = "ckt-a2-data", .port = 8080};
    auto discard = [&] {
        test::wl::discard(*a, cfg.name, cfg.volume);
        test::wl::discard(*b, cfg.name, cfg.volume);
    };
    discard();
    REQUIRE_OK(a->create_volume(cfg.volume));
    auto id = a->create(workload::a2_counter_spec(cfg));
    REQUIRE_OK(id);
    REQUIRE_OK(a->start(*id));
    auto addr_a = test::wl::address_of(*a, cfg.name, cfg.network);
    REQUIRE(test::wl::eventually([&] { return workload::a2_udp_count(addr_a, cfg.port, 200ms).has_value(); }, 10s));
    // The user crosses three zones while A2 runs on a.
    auto drive = [&](const std::string& addr, int from, int n) {
        for (int z = from; z < from + n; ++z) {
            auto before = workload::a2_udp_count(addr, cfg.port, 500ms);
            REQUIRE_OK(before);
            REQUIRE_OK(zones->set_zone("zone-" + std::to_string(z)));
            REQUIRE(test::wl::eventually([&] {
                auto c = workload::a2_udp_count(addr, cfg.port, 200ms);
                return c && *c == *before + 1;
            }, 5s));
        }
    };
    drive(addr_a, 2, 3);
    auto before = workload::a2_udp_count(addr_a, cfg.port);
    REQUIRE_OK(before);
    REQUIRE(*before == 3);

    downtime_prober prober(
        workload::a2_probe(workload::container_address_locator(tb_host("a").socket, cfg.name, cfg.network),
                           workload::container_address_locator(tb_host("b").socket, cfg.name, cfg.network), cfg.port),
        10ms, "A2 UDP count every 10 ms from the client side");
    prober.start();
    REQUIRE(prober.wait_for_source(5s));
    migration_request req;
    req.source = {"a", tb_host("a").address, a, tb_host("a").work_dir};
    req.target = {"b", tb_host("b").address, b, tb_host("b").work_dir};
    req.container = cfg.name;
    // Migration aware: told when preparation starts and ends; at the end it flushes and
    // holds, so no zone poll is in flight when the final dump freezes it.
    req.phase_hook = {.url = fmt::format("http://{}:{}/changePhase", addr_a, cfg.port), .required = true};
    strategy::checkpoint m;
    auto rep = run_migration(m, req);
    REQUIRE_OK(rep);
    CHECK(prober.wait_for_target(10s));
    prober.stop();
    rep->downtime = prober.result();
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    REQUIRE(rep->details["phase_hook"].size() == 2);
    for (auto& call : rep->details["phase_hook"]) CHECK(call["outcome"] == "HTTP 200");

    auto addr_b = test::wl::address_of(*b, cfg.name, cfg.network);
    CHECK(workload::in_network(addr_b, tb_host("b").service_subnet));
    REQUIRE(test::wl::eventually([&] {
        auto st = workload::a2_get_state(addr_b, cfg.port);
        return st && !st->writes_held && st->phase == "running";
    }, 5s));
    auto after = workload::a2_get_state(addr_b, cfg.port);
    REQUIRE_OK(after);
    rep->state.push_back(workload::a2_counter_check(*before, *after));
    CHECK(rep->state_intact());
    CHECK(after->count == *before);
    CHECK(after->starts == 1);   // restored, not started again
    // The volume came along too (moved in the downtime, after the final dump).
    auto vol = b->inspect_volume(cfg.volume);
    REQUIRE_OK(vol);
    std::ifstream counter(vol->mountpoint / "counter");
    std::string line;
    std::getline(counter, line);
    CHECK(line == "count=3");
    drive(addr_b, 5, 2);
    CHECK(*workload::a2_udp_count(addr_b, cfg.port) == 5);
    REQUIRE(rep->downtime);
    WARN(fmt::format("checkpoint strategy, A2: downtime seen by the client {:.1f} ms ({} probes); delta {}",
                     rep->downtime->downtime_ms, rep->downtime->probes, rep->details["delta"].dump()));
    discard();
}

TEST_CASE("checkpoint: A1 (stateless poller) moves and its poll sequence continues from b",
          "[strategy][checkpoint][docker][criu][a1]") {
    auto a = shared_engine_on("a");
    auto b = shared_engine_on("b");
    test::wl::ensure_workload_images(*a);
    auto zones = test::wl::client_side_zone_server();
    workload::a1_poller_config cfg{.name = "ckt-a1", .image = test::wl::a1_image, .url = zones->url("/location"),
                                   .network = service_network()};
    test::wl::discard(*a, cfg.name);
    test::wl::discard(*b, cfg.name);
    auto id = a->create(workload::a1_poller_spec(cfg));
    REQUIRE_OK(id);
    REQUIRE_OK(a->start(*id));
    const auto& subnet_a = tb_host("a").service_subnet;
    const auto& subnet_b = tb_host("b").service_subnet;
    REQUIRE(test::wl::eventually([&] { return zones->records_from(subnet_a).size() >= 3; }, 10s));

    migration_request req;
    req.source = {"a", tb_host("a").address, a, tb_host("a").work_dir};
    req.target = {"b", tb_host("b").address, b, tb_host("b").work_dir};
    req.container = cfg.name;
    strategy::checkpoint m;
    auto rep = run_migration(m, req);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    REQUIRE(test::wl::eventually([&] { return zones->records_from(subnet_b).size() >= 3; }, 10s));
    auto downtime = workload::a1_downtime(zones->records(), {.source = subnet_a, .target = subnet_b});
    REQUIRE_OK(downtime);
    rep->downtime = *downtime;
    // Its memory (the poll sequence number) came along: the first poll from b goes on from
    // the last one from a, where a restart would begin at 1.
    auto last_a = zones->records_from(subnet_a).back();
    auto first_b = zones->records_from(subnet_b).front();
    CHECK(first_b.seq > last_a.seq);
    CHECK(first_b.seq <= last_a.seq + 2);   // at most the poll in flight at the freeze
    CHECK(first_b.peer == test::wl::address_of(*b, cfg.name, cfg.network));
    CHECK(rep->details["delta"]["used"] == true);
    WARN(fmt::format("checkpoint strategy, A1: downtime {:.0f} ms ({}); delta {} of {} B",
                     downtime->downtime_ms, downtime->method, rep->details["delta"]["sent_bytes"].get<std::uint64_t>(),
                     rep->details["delta"]["full_bytes"].get<std::uint64_t>()));
    test::wl::discard(*b, cfg.name);
}
