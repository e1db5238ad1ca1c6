// The shared_fs strategy (Addad's unknown-path variant) against REAL dockerd + CRIU on the
// testbed named by MIGRATE_TESTBED. The shared path is a directory of the testbed's own data
// directory (removed by `migrate-testbed down`), bind-mounted into containers on both hosts,
// as NFS or CephFS would be on separate machines. Failures are injected by `faulty_engine`,
// a fault-injecting wrapper around the real engine of b (criu_strategy_scene.hpp).
#include "criu_strategy_scene.hpp"

#include <migrate/strategies.hpp>
#include <migrate/strategy/shared_fs.hpp>

using namespace migrate;
using namespace migrate::test::criu_scene;
using migrate::test::tb_host;
using namespace std::chrono_literals;

namespace {

const std::string memcached_ref = "sft-memcached:1";
const std::string busybox_ref = "sft-busybox:1";
const workload::memcached_dataset dataset{.prefix = "sft", .items = 3000, .value_size = 512};

std::filesystem::path shared_root() {
    auto& tb = test::shared_testbed();
    auto root = tb.options().data_root / tb.options().name / "shared";
    std::filesystem::create_directories(root);
    return root;
}

// One service on host a named `name`; the image is on both hosts (the premise of the
// strategy: only the process moves). Everything of that name is removed before and after.
struct scene {
    std::string name;
    std::uint16_t port;
    std::shared_ptr<docker::engine> a = shared_engine_on("a");
    std::shared_ptr<docker::engine> b = shared_engine_on("b");
    std::filesystem::path root = shared_root();
    std::string source_id;

    scene(std::string n, std::uint16_t p) : name(std::move(n)), port(p) { clean(); }
    ~scene() { clean(); }
    scene(const scene&) = delete;
    scene& operator=(const scene&) = delete;

    void clean() {
        (void)a->remove(name, true);
        (void)b->remove(name, true);
        std::error_code ec;
        std::filesystem::remove_all(root / name, ec);
    }

    // The service's address on a's / b's service network (a's may change when a rollback
    // restores it: looked up each time).
    std::string svc_a() { return service_address(*a, name); }
    std::string svc_b() { return service_address(*b, name); }

    void image_on_both(const std::string& ref, const image::image_recipe& recipe) {
        auto id = ensure_image(*a, ref, recipe);
        auto on_b = b->inspect_image(ref);
        if (!on_b || on_b->id != id) copy_image(*a, *b, ref);
    }

    std::string start(const container_spec& spec) {
        auto id = a->create(spec);
        REQUIRE_OK(id);
        source_id = *id;
        REQUIRE_OK(a->start(source_id));
        return source_id;
    }

    migration_request request(std::shared_ptr<container_runtime> target = nullptr) {
        migration_request r;
        r.source = {"a", tb_host("a").address, a, tb_host("a").work_dir};
        r.target = {"b", tb_host("b").address, target ? target : b, tb_host("b").work_dir};
        r.container = name;
        return r;
    }

    strategy::shared_fs migrator() const { return strategy::shared_fs({.shared_root = root}); }
};

// The strategy's report: no transfer crossed the transport (nothing in `transfers`), the
// checkpoint went through the shared path, which is empty again after the move.
void check_only_the_shared_path_was_used(const migration_report& rep, const std::filesystem::path& root) {
    CHECK_FALSE(rep.details.contains("transfers"));
    CHECK(rep.details["image_case"] == "memory");
    const auto& cp = rep.details["checkpoint"];
    CHECK(cp["network_copy"] == false);
    CHECK(cp["bytes"].get<std::uint64_t>() > 0);
    auto staged = std::filesystem::path(cp["shared_path"].get<std::string>());
    CHECK(staged.parent_path() == root / ".migrate-checkpoints");
    CHECK_FALSE(std::filesystem::exists(staged));   // cleaned up after success
}

}  // namespace

TEST_CASE("shared_fs: memcached moves a -> b with every key, its checkpoint through the shared path",
          "[strategy][shared_fs][docker][criu]") {
    scene s{"sft-move", 11611};
    s.image_on_both(memcached_ref, image::memcached_recipe());
    s.start({.name = s.name, .image = memcached_ref,
             .cmd = {"-p", std::to_string(s.port), "-U", std::to_string(s.port), "-m", "64"},
             .network_mode = service_network(),
             .extra_host_config = {{"ReadonlyRootfs", true}}});
    load_dataset(dataset, s.svc_a(), s.port);

    memcached_prober mp(dataset, s.name, s.port);
    mp.prober.start();
    REQUIRE(mp.prober.wait_for_source(2s));
    auto m = s.migrator();
    auto t0 = steady_clock::now();
    auto rep = run_migration(m, s.request());
    auto move_ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    REQUIRE_OK(rep);
    CHECK(mp.prober.wait_for_target(5s));
    mp.prober.stop();
    rep->downtime = mp.prober.result();
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    CHECK(rep->strategy == "shared_fs");
    check_only_the_shared_path_was_used(*rep, s.root);
    CHECK_FALSE(rep->details.contains("warnings"));   // read-only root filesystem
    auto xfer = find_phase(*rep, phase::transfer, phase::relocate);
    REQUIRE(xfer);
    CHECK(xfer->bytes == rep->details["checkpoint"]["bytes"].get<std::uint64_t>());
    CHECK_THAT(xfer->detail, Catch::Contains("shared path"));
    CHECK_FALSE(has_phase(*rep, phase::transfer, phase::prepare));   // the image was there already

    auto on_b = s.b->inspect(s.name);
    REQUIRE_OK(on_b);
    CHECK(on_b->running);
    auto left = s.b->list_checkpoints(on_b->id);
    REQUIRE_OK(left);
    CHECK(left->empty());
    CHECK(s.a->inspect(s.name).error_code() == error::not_found);
    auto n = count_intact(dataset, s.svc_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
    REQUIRE(rep->downtime);
    CHECK(rep->downtime->downtime_ms > 0);

    WARN(fmt::format("shared_fs strategy, memcached {} x {} B: {:.0f} ms in all; relocate {:.0f} ms (dump {:.0f} ms, "
                     "checkpoint {} B through the shared path: write {:.1f} ms + read {:.1f} ms, restore {:.0f} ms); "
                     "downtime seen by the client {:.1f} ms ({} probes)",
                     dataset.items, dataset.value_size, move_ms, rep->total_ms(phase::relocate),
                     rep->total_ms(phase::snapshot), rep->details["checkpoint"]["bytes"].get<std::uint64_t>(),
                     rep->details["checkpoint"]["write_ms"].get<double>(), rep->details["checkpoint"]["read_ms"].get<double>(),
                     rep->total_ms(phase::restore), rep->downtime->downtime_ms, rep->downtime->probes));
}

TEST_CASE("shared_fs: a counter whose state is on the shared path resumes on b, not restarts",
          "[strategy][shared_fs][docker][criu]") {
    scene s{"sft-counter", 0};
    s.image_on_both(busybox_ref, image::busybox_recipe());
    auto dir = s.root / s.name;
    std::filesystem::create_directories(dir);
    container_spec spec{.name = s.name, .image = busybox_ref, .cmd = {"/bin/sh", "-c", counter_script}};
    spec.mounts.push_back({mount_spec::kind::bind, dir.string(), "/data", false});
    s.start(spec);
    std::this_thread::sleep_for(300ms);
    auto before = read_counter(dir / "n");
    REQUIRE(before);

    auto m = s.migrator();
    auto rep = run_migration(m, s.request());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);
    check_only_the_shared_path_was_used(*rep, s.root);
    CHECK(rep->details["mounts"][0]["how"] == "shared");
    CHECK(rep->details.contains("warnings"));   // its root filesystem is writable: said so
    auto at_move = read_counter(dir / "n");
    REQUIRE(at_move);
    std::this_thread::sleep_for(400ms);
    auto after = read_counter(dir / "n");
    REQUIRE(after);
    INFO("before " << before->boot << " " << before->n << ", on b " << after->boot << " " << after->n);
    CHECK(after->boot == before->boot);   // the same process ...
    CHECK(after->n > at_move->n);         // ... counting on, on b
    CHECK(after->n > before->n);
    auto on_b = s.b->inspect(s.name);
    REQUIRE_OK(on_b);
    CHECK(on_b->running);
}

TEST_CASE("shared_fs: a mount outside the shared root is refused in prepare naming it and the source is untouched",
          "[strategy][shared_fs][docker]") {
    scene s{"sft-outside", 0};
    s.image_on_both(busybox_ref, image::busybox_recipe());
    const std::string volume = "sft-outside-data";
    (void)s.a->remove_volume(volume, true);
    REQUIRE_OK(s.a->create_volume(volume));
    auto outside = tb_host("a").work_dir / "sft-outside";
    std::filesystem::create_directories(outside);

    struct variant {
        mount_spec mount;
        std::string says;
    };
    const variant variants[] = {
        {{mount_spec::kind::bind, outside.string(), "/data", false}, "binds " + outside.string() + " at /data"},
        {{mount_spec::kind::volume, volume, "/data", false}, "named volume '" + volume + "' at /data"},
    };
    for (auto& v : variants) {
        INFO(v.says);
        (void)s.a->remove(s.name, true);
        container_spec spec{.name = s.name, .image = busybox_ref, .cmd = {"/bin/sh", "-c", counter_script}};
        spec.mounts.push_back(v.mount);
        s.start(spec);
        auto before = s.a->inspect(s.name);
        REQUIRE_OK(before);
        auto m = s.migrator();
        auto rep = run_migration(m, s.request());
        REQUIRE_OK(rep);
        INFO(rep->to_text());
        CHECK_FALSE(rep->success);
        CHECK_THAT(rep->error, Catch::StartsWith("conflict") && Catch::Contains(v.says) &&
                                   Catch::Contains(s.root.string()) && Catch::Contains("'" + s.name + "'"));
        auto after = s.a->inspect(s.name);
        REQUIRE_OK(after);
        CHECK(after->running);
        CHECK(after->pid == before->pid);
        CHECK(s.b->inspect(s.name).error_code() == error::not_found);
        auto cps = s.a->list_checkpoints(s.source_id);
        REQUIRE_OK(cps);
        CHECK(cps->empty());
    }
    (void)s.a->remove(s.name, true);
    (void)s.a->remove_volume(volume, true);
    std::error_code ec;
    std::filesystem::remove_all(outside, ec);
}

TEST_CASE("shared_fs: a restore refused on b brings the source back from its checkpoint with every key",
          "[strategy][shared_fs][docker][criu][rollback]") {
    scene s{"sft-norestore", 11612};
    s.image_on_both(memcached_ref, image::memcached_recipe());
    s.start({.name = s.name, .image = memcached_ref,
             .cmd = {"-p", std::to_string(s.port), "-U", std::to_string(s.port), "-m", "64"},
             .network_mode = service_network()});
    load_dataset(dataset, s.svc_a(), s.port);
    auto b = std::make_shared<faulty_engine>(s.b);
    b->refuse_restore = true;
    auto m = s.migrator();
    auto rep = run_migration(m, s.request(b));
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_FALSE(rep->success);
    CHECK(rep->rolled_back);
    CHECK(b->restores_refused == 1);
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_error") && Catch::Contains("injected by faulty_engine"));
    const auto staged = std::filesystem::path(rep->details["checkpoint"]["shared_path"].get<std::string>());
    CHECK_FALSE(std::filesystem::exists(staged));   // the staged copy is gone with the rollback
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("restore source from checkpoint") &&
                                                   Catch::Contains("': ok") && Catch::Contains("remove target container: ok"));
    auto src = s.a->inspect(s.name);
    REQUIRE_OK(src);
    CHECK(src->running);
    CHECK(src->id == s.source_id);
    auto n = count_intact(dataset, s.svc_a(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
    CHECK(s.b->inspect(s.name).error_code() == error::not_found);
    auto cps = s.a->list_checkpoints(s.source_id);
    REQUIRE_OK(cps);
    CHECK(cps->empty());
}
