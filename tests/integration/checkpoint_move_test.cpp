// checkpoint_move against REAL dockerd + CRIU: the two hosts (a, b) of the project testbed
// named by MIGRATE_TESTBED. memcached runs with `--network host` inside host a's namespace,
// holds a data set, and is moved to b while a client probes it over UDP.
//
// No mocks. Failures are injected by `failing_target`, a FAULT-INJECTING WRAPPER around the
// real engine of host b: it forwards every call to dockerd and breaks exactly one chosen step
// (the restore, or the checkpoint stream after some bytes). Everything else is the real
// daemon, the real CRIU dump and the real rollback on host a.
#include "testbed_fixture.hpp"

#include <migrate/checkpoint_move.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace migrate;
using migrate::test::tb_host;
using migrate::test::engine_on;
using namespace std::chrono_literals;


namespace {


// Only on host a: every move has to stream it to b in its prepare phase.
const char* const memcached_ref = "cmt-memcached:1";

// The data set every case loads into the source and expects back, all of it.
const workload::memcached_dataset dataset{.prefix = "cmt", .items = 3000, .value_size = 512};

// The image id of memcached_ref on a (built once per testbed).
std::string ensure_memcached_on_a(docker::engine& a) {
    if (auto have = a.inspect_image(memcached_ref)) return have->id;
    auto recipe = image::memcached_recipe();
    auto id = image::build_image(a, recipe.rootfs, memcached_ref, recipe.changes);
    INFO(memcached_ref << " on " << a.endpoint());
    REQUIRE_OK(id);
    return *id;
}

// Connects (retrying while the server comes up) and counts the intact items.
std::optional<std::uint64_t> count_intact(const std::string& host, std::uint16_t port,
                                          std::chrono::milliseconds patience = 5s) {
    auto until = steady_clock::now() + patience;
    while (true) {
        if (auto c = workload::memcached_client::connect(host, port, 1s)) {
            auto n = c->count_intact(dataset);
            if (n) return *n;
        }
        if (steady_clock::now() > until) return std::nullopt;
        std::this_thread::sleep_for(100ms);
    }
}

bool has_image(docker::engine& e, const std::string& ref) { return static_cast<bool>(e.inspect_image(ref)); }

// One memcached on host a named `name`, listening on `port` (TCP and UDP) in a's network
// namespace. Removes every container of that name on a and b, and the image on b, before
// and after (the testbed is shared with other tests).
struct scene {
    std::string name;
    std::uint16_t port;
    docker::engine a = engine_on("a");
    docker::engine b = engine_on("b");
    std::string image_id;
    std::string source_id;

    scene(std::string n, std::uint16_t p) : name(std::move(n)), port(p) {
        clean();
        image_id = ensure_memcached_on_a(a);
        // b must lack the image, so the move streams it and a rollback must take it away.
        REQUIRE_FALSE(has_image(b, memcached_ref));
        REQUIRE_FALSE(has_image(b, image_id));
    }
    ~scene() { clean(); }
    scene(const scene&) = delete;
    scene& operator=(const scene&) = delete;

    void clean() {
        (void)a.remove(name, true);
        (void)b.remove(name, true);
        (void)b.remove_image(memcached_ref, true);
        if (!image_id.empty()) (void)b.remove_image(image_id, true);
    }

    const std::string& addr_a() const { return tb_host("a").address; }
    const std::string& addr_b() const { return tb_host("b").address; }

    // Starts memcached on a and fills it over TCP. The client is closed before returning:
    // CRIU cannot dump an established TCP connection.
    void start_source() {
        container_spec s{.name = name, .image = memcached_ref,
                         .cmd = {"-p", std::to_string(port), "-U", std::to_string(port), "-m", "64"},
                         .network_mode = "host"};
        auto id = a.create(s);
        REQUIRE_OK(id);
        source_id = *id;
        REQUIRE_OK(a.start(source_id));
        std::optional<workload::memcached_client> c;
        for (int i = 0; i < 50 && !c; ++i) {
            auto r = workload::memcached_client::connect(addr_a(), port);
            if (r) c.emplace(std::move(*r));
            else std::this_thread::sleep_for(100ms);
        }
        REQUIRE(c);
        REQUIRE_OK(c->load(dataset));
        auto n = c->count_intact(dataset);
        REQUIRE_OK(n);
        REQUIRE(*n == dataset.items);
    }

    checkpoint_move_options options() const {
        return {.container = name, .source_label = "a", .target_label = "b"};
    }

    // The promise of a rollback: the source (again) serves every key, nothing of the move
    // is left on b (no container, not the image it loaded).
    void check_source_kept_everything(const migration_report& rep) {
        INFO(rep.to_text() << rep.details.dump(2));
        CHECK_FALSE(rep.success);
        CHECK(rep.rolled_back);
        auto src = a.inspect(name);
        REQUIRE_OK(src);
        CHECK(src->running);
        CHECK(src->id == source_id);
        auto n = count_intact(addr_a(), port);
        REQUIRE(n);
        CHECK(*n == dataset.items);
        auto left = b.inspect(name);
        REQUIRE_FALSE(left);
        CHECK(left.error_code() == error::not_found);
        CHECK_FALSE(has_image(b, memcached_ref));
        CHECK_FALSE(has_image(b, image_id));
        if (rep.details.contains("target_container")) {   // ... nor its files (the imported checkpoint)
            auto dir = tb_host("b").data_root / "containers" / rep.details["target_container"].get<std::string>();
            INFO(dir);
            CHECK_FALSE(std::filesystem::exists(dir));
        }
        auto rb = std::find_if(rep.phases.begin(), rep.phases.end(),
                               [](const phase_timing& p) { return p.phase == phase::rollback; });
        REQUIRE(rb != rep.phases.end());
        CHECK(rb->ok);
        // The move's checkpoint does not outlive the rollback (a retry could not take one).
        auto cps = a.list_checkpoints(source_id);
        REQUIRE_OK(cps);
        CHECK(cps->empty());
    }
};

bool has_phase(const migration_report& rep, phase p) {
    return std::any_of(rep.phases.begin(), rep.phases.end(), [&](const phase_timing& t) { return t.phase == p; });
}

// A byte_source that passes `limit` bytes through and then fails, as a link that drops.
class cut_source final : public byte_source {
public:
    cut_source(byte_source& in, std::uint64_t limit) : in_(in), limit_(limit) {}
    result<std::size_t> read(std::span<std::byte> buf) override {
        if (passed_ >= limit_)
            return make_failure(error::io_error,
                                fmt::format("injected by failing_target: checkpoint stream cut after {} bytes", passed_));
        auto n = in_.read(buf.first(std::min<std::uint64_t>(buf.size(), limit_ - passed_)));
        if (n) passed_ += *n;
        return n;
    }
    std::uint64_t passed() const noexcept { return passed_; }
private:
    byte_source& in_;
    std::uint64_t limit_;
    std::uint64_t passed_ = 0;
};

// FAULT-INJECTING WRAPPER (not a mock): every call goes to the real engine of host b; only
// the step chosen below is broken.
class failing_target final : public container_runtime {
public:
    explicit failing_target(docker::engine& real) : real_(real) {}

    bool refuse_restore = false;                     ///< start_from_checkpoint fails (after import worked)
    std::optional<std::uint64_t> cut_import_after;   ///< import_checkpoint's stream fails after N bytes

    bool imported = false;                           ///< the real import_checkpoint succeeded
    std::uint64_t import_bytes_passed = 0;           ///< bytes the cut stream let through

    std::string endpoint() const override { return real_.endpoint(); }
    result<runtime_version> version() override { return real_.version(); }
    result<container_info> inspect(std::string_view id) override { return real_.inspect(id); }
    result<std::string> create(const container_spec& s) override { return real_.create(s); }
    result<void> start(std::string_view id) override { return real_.start(id); }
    result<void> stop(std::string_view id, std::chrono::seconds g) override { return real_.stop(id, g); }
    result<void> pause(std::string_view id) override { return real_.pause(id); }
    result<void> unpause(std::string_view id) override { return real_.unpause(id); }
    result<void> remove(std::string_view id, bool force) override { return real_.remove(id, force); }
    result<void> export_container(std::string_view id, byte_sink& out) override { return real_.export_container(id, out); }
    result<std::string> import_image(byte_source& t, std::string_view ref, const std::vector<std::string>& ch) override {
        return real_.import_image(t, ref, ch);
    }
    result<std::string> commit(std::string_view id, std::string_view ref, bool p) override { return real_.commit(id, ref, p); }
    result<void> save_images(const std::vector<std::string>& refs, byte_sink& out) override { return real_.save_images(refs, out); }
    result<std::vector<std::string>> load_images(byte_source& tar) override { return real_.load_images(tar); }
    result<image_info> inspect_image(std::string_view ref) override { return real_.inspect_image(ref); }
    result<void> remove_image(std::string_view ref, bool force) override { return real_.remove_image(ref, force); }
    result<volume_info> create_volume(std::string_view n, const std::map<std::string, std::string>& l) override {
        return real_.create_volume(n, l);
    }
    result<volume_info> inspect_volume(std::string_view n) override { return real_.inspect_volume(n); }
    result<void> remove_volume(std::string_view n, bool force) override { return real_.remove_volume(n, force); }
    result<void> export_volume(std::string_view n, byte_sink& out) override { return real_.export_volume(n, out); }
    result<void> import_volume(std::string_view n, byte_source& tar) override { return real_.import_volume(n, tar); }
    result<void> create_checkpoint(std::string_view id, const checkpoint_options& o) override {
        return real_.create_checkpoint(id, o);
    }
    result<std::vector<std::string>> list_checkpoints(std::string_view id) override { return real_.list_checkpoints(id); }
    result<void> delete_checkpoint(std::string_view id, std::string_view n) override { return real_.delete_checkpoint(id, n); }
    result<void> export_checkpoint(std::string_view id, std::string_view n, byte_sink& out) override {
        return real_.export_checkpoint(id, n, out);
    }
    result<void> import_checkpoint(std::string_view id, std::string_view n, byte_source& tar) override {
        if (!cut_import_after) {
            auto r = real_.import_checkpoint(id, n, tar);
            imported = static_cast<bool>(r);
            return r;
        }
        // The real tar -x on b unpacks what arrives, then sees the stream fail.
        cut_source cut(tar, *cut_import_after);
        auto r = real_.import_checkpoint(id, n, cut);
        import_bytes_passed = cut.passed();
        return r;
    }
    result<std::filesystem::path> checkpoint_directory(std::string_view id, std::string_view n) override {
        return real_.checkpoint_directory(id, n);
    }
    result<void> start_from_checkpoint(std::string_view id, std::string_view n) override {
        if (refuse_restore)
            return make_failure(error::daemon_error,
                                fmt::format("injected by failing_target: restore of '{}' from checkpoint '{}' refused on {}",
                                            id, n, endpoint()));
        return real_.start_from_checkpoint(id, n);
    }

private:
    docker::engine& real_;
};

}  // namespace

TEST_CASE("checkpoint_move: memcached moves from a to b with every key, the source is removed",
          "[checkpoint_move][docker][criu]") {
    scene s{"cmt-move", 11411};
    s.start_source();

    // The prober thread touches only these copies.
    const auto key = dataset.key(0), value = dataset.value(0);
    const std::string addr[2] = {s.addr_a(), s.addr_b()};
    const std::uint16_t port = s.port;
    downtime_prober prober(
        [&](int location) { return workload::memcached_udp_get(addr[location], port, key, value, 5ms); },
        5ms, "memcached UDP get every 5 ms from the client side");
    prober.start();
    REQUIRE(prober.wait_for_source(2s));

    std::vector<phase_event> ends;
    hooks h;
    h.on_event = [&](const phase_event& e) { if (e.what == phase_event::kind::end) ends.push_back(e); };
    auto t0 = steady_clock::now();
    auto moved = checkpoint_move(s.a, s.b, s.options(), h);
    auto move_ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    REQUIRE_OK(moved);
    CHECK(prober.wait_for_target(5s));
    prober.stop();
    moved->downtime = prober.result();
    INFO(moved->to_text() << moved->details.dump(2));

    CHECK(moved->success);
    CHECK_FALSE(moved->rolled_back);
    CHECK(moved->error.empty());
    CHECK(moved->subject == "cmt-move");
    CHECK(moved->source == "a");
    CHECK(moved->target == "b");
    CHECK(moved->details["source_endpoint"] == s.a.endpoint());
    CHECK(moved->details["target_endpoint"] == s.b.endpoint());

    // The phases the implementation records, in order of their end, all ok; the caller's
    // hook saw the same ends.
    std::vector<phase> order;
    for (auto& p : moved->phases) {
        order.push_back(p.phase);
        CHECK(p.ok);
        CHECK(p.duration_ms >= 0);
    }
    CHECK(order == std::vector<phase>{phase::transfer, phase::prepare, phase::snapshot, phase::transfer,
                                      phase::restore, phase::relocate, phase::cleanup});
    CHECK(ends.size() == moved->phases.size());
    CHECK_FALSE(has_phase(*moved, phase::rollback));
    // b lacked the image: prepare streamed it (near 10 MB) ...
    const auto& image_xfer = moved->phases[0];
    CHECK_THAT(image_xfer.detail, Catch::Contains(memcached_ref));
    CHECK(image_xfer.bytes > 5'000'000);
    CHECK(moved->details["image_transfer"] == fmt::format("{} bytes", image_xfer.bytes));
    // ... and the relocation streamed the checkpoint.
    const auto& cp_xfer = moved->phases[3];
    CHECK(cp_xfer.bytes > 0);
    CHECK(moved->details["checkpoint_bytes"] == cp_xfer.bytes);
    CHECK(moved->total_ms(phase::relocate) >= moved->total_ms(phase::snapshot) + moved->total_ms(phase::restore));

    // Downtime as the client saw it.
    REQUIRE(moved->downtime);
    CHECK(moved->downtime->downtime_ms > 0);
    CHECK(moved->downtime->downtime_ms < move_ms + 100);
    CHECK(moved->downtime->failures > 0);

    // The source is gone on a, the service runs on b with every key.
    auto gone = s.a.inspect("cmt-move");
    REQUIRE_FALSE(gone);
    CHECK(gone.error_code() == error::not_found);
    CHECK_FALSE(workload::memcached_udp_get(s.addr_a(), s.port, key, value, 100ms));
    auto on_b = s.b.inspect("cmt-move");
    REQUIRE_OK(on_b);
    CHECK(on_b->running);
    CHECK(on_b->id == moved->details["target_container"]);
    CHECK(on_b->image_id == s.image_id);
    CHECK(on_b->spec.network_mode == "host");
    // Where the rollback cases look for leftovers: the container's directory in b's data root.
    CHECK(std::filesystem::is_directory(tb_host("b").data_root / "containers" / on_b->id / "checkpoints" / "migrate"));
    auto n = count_intact(s.addr_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);

    WARN(fmt::format("checkpoint_move of memcached ({} x {} B): {:.0f} ms in all; image {:.0f} ms ({} B), "
                     "snapshot {:.0f} ms, checkpoint transfer {:.0f} ms ({} B), restore {:.0f} ms; "
                     "downtime seen by the client {:.1f} ms ({} probes, {} failed)",
                     dataset.items, dataset.value_size, move_ms, image_xfer.duration_ms, image_xfer.bytes,
                     moved->total_ms(phase::snapshot), cp_xfer.duration_ms, cp_xfer.bytes,
                     moved->total_ms(phase::restore), moved->downtime->downtime_ms, moved->downtime->probes,
                     moved->downtime->failures));
}

TEST_CASE("checkpoint_move: an unreachable target daemon leaves the source untouched",
          "[checkpoint_move][docker][rollback]") {
    scene s{"cmt-unreach", 11412};
    s.start_source();
    auto before = s.a.inspect(s.name);
    REQUIRE_OK(before);

    const std::string bogus = "/run/migrate-testbed/cmt-no-such-dockerd.sock";
    docker::engine nowhere({.socket = bogus, .connect_timeout = 1000ms});
    auto t0 = steady_clock::now();
    auto rep = checkpoint_move(s.a, nowhere, s.options());
    auto ms = std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_unreachable") && Catch::Contains(bogus));
    CHECK_FALSE(has_phase(*rep, phase::transfer));       // found out before streaming the image
    CHECK(rep->details["target_endpoint"] == "unix://" + bogus);
    CHECK(ms < 5000);
    // Prepare failed before any freeze: no checkpoint was taken, the same process still runs.
    CHECK_FALSE(has_phase(*rep, phase::snapshot));
    CHECK_FALSE(has_phase(*rep, phase::relocate));
    auto cps = s.a.list_checkpoints(s.source_id);
    REQUIRE_OK(cps);
    CHECK(cps->empty());
    auto after = s.a.inspect(s.name);
    REQUIRE_OK(after);
    CHECK(after->pid == before->pid);
    s.check_source_kept_everything(*rep);
}

TEST_CASE("checkpoint_move: a restore refused on b brings the source back from its checkpoint, memory intact",
          "[checkpoint_move][docker][criu][rollback]") {
    scene s{"cmt-norestore", 11413};
    s.start_source();
    failing_target b{s.b};
    b.refuse_restore = true;
    auto rep = checkpoint_move(s.a, b, s.options());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK(b.imported);                                   // it really got as far as the restore
    CHECK(has_phase(*rep, phase::snapshot));             // the source was frozen by CRIU ...
    CHECK_THAT(rep->error, Catch::StartsWith("daemon_error") && Catch::Contains("injected by failing_target") &&
                               Catch::Contains("refused"));
    // ... and restored from its own checkpoint, not started cold.
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("restore source from its checkpoint: ok") &&
                                                   Catch::Contains("delete the checkpoint on the source: ok") &&
                                                   Catch::Contains("remove target container: ok") &&
                                                   Catch::Contains("remove loaded image from target: ok"));
    s.check_source_kept_everything(*rep);

    // The rolled-back source can be moved again: the retry succeeds with every key.
    auto retry = checkpoint_move(s.a, s.b, s.options());
    REQUIRE_OK(retry);
    INFO(retry->to_text() << retry->details.dump(2));
    CHECK(retry->success);
    auto n = count_intact(s.addr_b(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}

TEST_CASE("checkpoint_move: a checkpoint stream cut on its way to b rolls back, memory intact",
          "[checkpoint_move][docker][criu][rollback]") {
    scene s{"cmt-cut", 11414};
    s.start_source();
    failing_target b{s.b};
    b.cut_import_after = 64 * 1024;
    auto rep = checkpoint_move(s.a, b, s.options());
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK(b.import_bytes_passed == 64 * 1024);          // part of the checkpoint did arrive
    CHECK(has_phase(*rep, phase::snapshot));
    CHECK_FALSE(has_phase(*rep, phase::restore));
    CHECK_FALSE(rep->details.contains("checkpoint_bytes"));
    CHECK_THAT(rep->error, Catch::StartsWith("io_error") && Catch::Contains("checkpoint stream cut after 65536 bytes"));
    CHECK_THAT(rep->details["rollback"].dump(), Catch::Contains("restore source from its checkpoint: ok"));
    s.check_source_kept_everything(*rep);
}

TEST_CASE("checkpoint_move: an unknown source container is named with its endpoint, nothing made on b",
          "[checkpoint_move][docker]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    const std::string name = "cmt-no-such-container";
    (void)a.remove(name, true);
    (void)b.remove(name, true);
    auto images_before = b.list_images();
    REQUIRE_OK(images_before);
    auto rep = checkpoint_move(a, b, {.container = name, .source_label = "a", .target_label = "b"});
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    CHECK_FALSE(rep->success);
    CHECK_FALSE(rep->rolled_back);                       // nothing was touched, nothing to undo
    CHECK_THAT(rep->error, Catch::StartsWith("not_found") && Catch::Contains("'" + name + "'") &&
                               Catch::Contains(a.endpoint()));
    CHECK_FALSE(has_phase(*rep, phase::transfer));
    CHECK_FALSE(has_phase(*rep, phase::snapshot));
    CHECK(b.inspect(name).error_code() == error::not_found);
    auto images_after = b.list_images();
    REQUIRE_OK(images_after);
    CHECK(images_after->size() == images_before->size());
}

TEST_CASE("checkpoint_move: the rollback's restore right after the checkpoint on the same host works every time",
          "[checkpoint_move][docker][criu][rollback]") {
    // moby/moby#42900: restoring at once on the daemon that just took the checkpoint failed
    // in about 6 of 10 tries here ("failed to upload checkpoint to containerd: commit failed:
    // content sha256:...: already exists"), so a rollback lost the memory state now and then.
    scene s{"cmt-again", 11415};
    s.start_source();
    const auto dir = tb_host("a").data_root / "containers" / s.source_id / "checkpoints";
    for (int i = 0; i < 5; ++i) {
        const auto cp = fmt::format("again{}", i);
        REQUIRE_OK(s.a.create_checkpoint(s.source_id, {.name = cp, .exit = true}));
        REQUIRE_OK(s.a.start_from_checkpoint(s.source_id, cp));
        CHECK_FALSE(std::filesystem::exists(dir / cp / ".migrate-restore-nonce"));
        REQUIRE(std::filesystem::exists(dir / cp / "inventory.img"));
    }
    auto n = count_intact(s.addr_a(), s.port);
    REQUIRE(n);
    CHECK(*n == dataset.items);
}
