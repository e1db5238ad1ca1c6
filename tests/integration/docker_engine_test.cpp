// docker::engine against REAL dockerd: the two hosts (a, b) of the project testbed named by
// MIGRATE_TESTBED. Images are built here from host binaries (no registry).
#include "testbed_fixture.hpp"
#include "docker_export_rss.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/image/tar_writer.hpp>
#include <migrate/pipe.hpp>
#include <migrate/workload/memcached.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <optional>
#include <set>
#include <thread>
#include <unistd.h>

using namespace migrate;
using migrate::test::tb_host;
using migrate::test::engine_on;
using namespace std::chrono_literals;


namespace {


// Scratch files of this run; removed at exit.
std::filesystem::path work_dir() {
    struct scratch {
        std::filesystem::path dir = std::filesystem::path("/var/tmp") / ("migrate-docker-test-" + std::to_string(::getpid()));
        scratch() { std::filesystem::create_directories(dir); }
        ~scratch() { std::error_code ec; std::filesystem::remove_all(dir, ec); }
    };
    static scratch s;
    return s.dir;
}

const char* const busybox_ref = "migrate-test-busybox:1";
const char* const memcached_ref = "migrate-test-memcached:1";

// Builds and imports the image once per engine (socket) and test run.
void ensure_image(docker::engine& e, const image::image_recipe& recipe, const std::string& ref) {
    if (e.inspect_image(ref)) return;
    auto id = image::build_image(e, recipe.rootfs, ref, recipe.changes);
    INFO(ref << " on " << e.endpoint());
    REQUIRE_OK(id);
}

void ensure_busybox(docker::engine& e) { ensure_image(e, image::busybox_recipe(), busybox_ref); }

// Removes a container if it exists; errors are fine (it usually does not).
void discard(docker::engine& e, const std::string& name) { (void)e.remove(name, true); }

// A file of a container's filesystem, read through `docker export` (any state).
std::string read_container_file(docker::engine& e, std::string_view id, const std::string& path) {
    auto tar = work_dir() / "read.tar";
    {
        auto sink = file_sink(tar);
        auto r = e.export_container(id, *sink);
        REQUIRE_OK(r);
        REQUIRE_OK(sink->close());
    }
    auto content = detail::run({"tar", "-xOf", tar.string(), path});
    REQUIRE_OK(content);
    std::filesystem::remove(tar);
    return content->exit_code == 0 ? content->out : std::string{};
}

std::string tar_listing(const std::filesystem::path& tar) {
    auto l = detail::run_checked({"tar", "-tvf", tar.string()});
    REQUIRE_OK(l);
    return *l;
}

// A tar held in memory (small test payloads only).
struct memory_tar {
    std::string bytes;
    std::unique_ptr<byte_source> source() const {
        struct src final : byte_source {
            std::string d;
            std::size_t pos = 0;
            explicit src(std::string s) : d(std::move(s)) {}
            result<std::size_t> read(std::span<std::byte> b) override {
                auto n = std::min(b.size(), d.size() - pos);
                std::memcpy(b.data(), d.data() + pos, n);
                pos += n;
                return n;
            }
        };
        return std::make_unique<src>(bytes);
    }
};

std::size_t count_images(docker::engine& e) {
    auto l = e.list_images();
    REQUIRE_OK(l);
    return l->size();
}

int read_counter(docker::engine& e, std::string_view id) {
    // The shell rewrites the file (truncate, then write): a read in between finds it empty.
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto s = read_container_file(e, id, "tmp/count");
        if (!s.empty()) return std::stoi(s);
        std::this_thread::sleep_for(std::chrono::milliseconds{30});
    }
    return -1;
}

struct counter_container {
    container_spec spec;
    std::optional<std::string> id;  // as `create` returned it (REQUIRE_OK'd)
    int count = 0;                  // the counter when it had reached 5
};

// A busybox shell counting every `period`: the counter lives only in its memory, the file is
// just how we read it. A restart would count from 1 again; a restore continues.
counter_container start_counter(docker::engine& e, const std::string& name, std::chrono::milliseconds period) {
    counter_container c;
    c.spec = {.name = name, .image = busybox_ref,
              .cmd = {"/bin/sh", "-c",
                      fmt::format("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep {}; done",
                                  double(period.count()) / 1000.0)}};
    auto id = e.create(c.spec);
    REQUIRE_OK(id);
    c.id = *id;
    REQUIRE_OK(e.start(*id));
    for (int i = 0; i < 30 && c.count < 5; ++i) {
        std::this_thread::sleep_for(period);
        c.count = read_counter(e, *id);
    }
    REQUIRE(c.count >= 5);
    return c;
}

}  // namespace

TEST_CASE("engine reaches both testbed daemons", "[docker]") {
    for (auto* h : {"a", "b"}) {
        auto e = engine_on(h);
        REQUIRE_OK(e.ping());
        auto v = e.version();
        REQUIRE_OK(v);
        CHECK(v->api_version == "1.41");
        CHECK(v->experimental);
        CHECK(std::filesystem::is_directory(v->root_dir));
    }
}

TEST_CASE("busybox and memcached images are built from host binaries and imported", "[docker][image]") {
    auto a = engine_on("a");
    (void)a.remove_image(busybox_ref, true);
    ensure_busybox(a);
    auto bb = a.inspect_image(busybox_ref);
    REQUIRE_OK(bb);
    CHECK(bb->size > 1'000'000);
    CHECK(bb->size < 4'000'000);

    (void)a.remove_image(memcached_ref, true);
    ensure_image(a, image::memcached_recipe(), memcached_ref);
    auto mc = a.inspect_image(memcached_ref);
    REQUIRE_OK(mc);
    CHECK(mc->size > 5'000'000);
    CHECK(mc->size < 20'000'000);   // near 10 MB
    CHECK(std::find(mc->tags.begin(), mc->tags.end(), memcached_ref) != mc->tags.end());

    // memcached really runs from it (network none: nothing to reach, but it must stay up).
    discard(a, "mdt-mc-run");
    container_spec s{.name = "mdt-mc-run", .image = memcached_ref};
    auto id = a.create(s);
    REQUIRE_OK(id);
    REQUIRE_OK(a.start(*id));
    std::this_thread::sleep_for(1s);
    auto info = a.inspect(*id);
    REQUIRE_OK(info);
    CHECK(info->running);
    CHECK(info->spec.entrypoint == std::vector<std::string>{"/usr/bin/memcached", "-u", "root"});
    REQUIRE_OK(a.remove(*id, true));
}

TEST_CASE("container lifecycle: create, start, pause, unpause, stop, remove", "[docker]") {
    auto a = engine_on("a");
    ensure_busybox(a);
    discard(a, "mdt-life");
    auto id = a.create({.name = "mdt-life", .image = busybox_ref, .cmd = {"/bin/sh", "-c", "while true; do sleep 1; done"}});
    REQUIRE_OK(id);
    CHECK(a.inspect("mdt-life")->status == "created");
    REQUIRE_OK(a.start(*id));
    REQUIRE_OK(a.start(*id));                    // already running: success
    auto running = a.inspect(*id);
    REQUIRE_OK(running);
    CHECK(running->running);
    CHECK(running->pid > 0);
    REQUIRE_OK(a.pause(*id));
    CHECK(a.inspect(*id)->paused);
    auto again = a.pause(*id);                // pausing a paused container: the daemon's 409/500
    CHECK_FALSE(again);
    REQUIRE_OK(a.unpause(*id));
    CHECK_FALSE(a.inspect(*id)->paused);
    REQUIRE_OK(a.stop(*id, 1s));
    auto stopped = a.inspect(*id);
    REQUIRE_OK(stopped);
    CHECK_FALSE(stopped->running);
    CHECK(stopped->status == "exited");
    REQUIRE_OK(a.stop(*id, 1s));                 // already stopped: success
    REQUIRE_OK(a.remove(*id));
    auto gone = a.inspect(*id);
    REQUIRE_FALSE(gone);
    CHECK(gone.error_code() == error::not_found);
}

TEST_CASE("inspect -> spec -> create recreates the container on host b", "[docker]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    ensure_busybox(a);
    ensure_busybox(b);
    for (auto* e : {&a, &b}) {
        discard(*e, "mdt-spec");
        (void)e->remove_volume("mdt-spec-vol", true);
        REQUIRE_OK(e->create_volume("mdt-spec-vol"));
    }
    container_spec s;
    s.name = "mdt-spec";
    s.image = busybox_ref;
    s.cmd = {"/bin/sh", "-c", "echo $GREETING > /tmp/out; sleep 600"};
    s.env = {"GREETING=hello-from-a", "PATH=/bin"};
    s.working_dir = "/tmp";
    s.user = "nobody";
    s.labels = {{"app", "spec-test"}, {"org.migrate.test", "1"}};
    s.exposed_ports = {"8080/tcp"};
    s.network_mode = "none";
    s.mounts = {{mount_spec::kind::volume, "mdt-spec-vol", "/data", false},
                {mount_spec::kind::bind, "/etc/hostname", "/host-hostname", true}};
    s.extra_host_config = {{"CapDrop", {"NET_RAW"}}, {"Memory", 64 << 20}};
    auto id_a = a.create(s);
    REQUIRE_OK(id_a);
    auto info_a = a.inspect(*id_a);
    REQUIRE_OK(info_a);

    auto id_b = b.create(info_a->spec);
    REQUIRE_OK(id_b);
    auto info_b = b.inspect(*id_b);
    REQUIRE_OK(info_b);
    CHECK(info_b->name == "mdt-spec");
    const auto& sa = info_a->spec;
    const auto& sb = info_b->spec;
    CHECK(sb.image == busybox_ref);
    CHECK(sb.cmd == s.cmd);
    CHECK(sb.env == sa.env);
    CHECK(std::find(sb.env.begin(), sb.env.end(), "GREETING=hello-from-a") != sb.env.end());
    CHECK(sb.working_dir == "/tmp");
    CHECK(sb.user == "nobody");
    CHECK(sb.labels.at("app") == "spec-test");
    CHECK(sb.exposed_ports == std::vector<std::string>{"8080/tcp"});
    CHECK(sb.network_mode == "none");
    REQUIRE(sb.mounts.size() == 2);
    CHECK(json(sb.mounts) == json(sa.mounts));
    CHECK(sb.extra_host_config.at("CapDrop") == json::array({"NET_RAW"}));
    CHECK(sb.extra_host_config.at("Memory") == 64 << 20);
    CHECK(json(sb) == json(sa));

    // And it runs the same way there.
    REQUIRE_OK(b.start(*id_b));
    std::this_thread::sleep_for(1s);
    CHECK(read_container_file(b, *id_b, "tmp/out") == "hello-from-a\n");
    REQUIRE_OK(b.remove(*id_b, true));
    REQUIRE_OK(a.remove(*id_a, true));
    for (auto* e : {&a, &b}) REQUIRE_OK(e->remove_volume("mdt-spec-vol"));
}

TEST_CASE("export streams the container's filesystem as a tar", "[docker]") {
    auto a = engine_on("a");
    ensure_busybox(a);
    discard(a, "mdt-export");
    auto id = a.create({.name = "mdt-export", .image = busybox_ref, .cmd = {"/bin/sh", "-c", "echo exported > /tmp/mark; sleep 600"}});
    REQUIRE_OK(id);
    REQUIRE_OK(a.start(*id));
    std::this_thread::sleep_for(1s);
    auto tar = work_dir() / "export.tar";
    auto sink = file_sink(tar);
    counting_sink counted(*sink);
    REQUIRE_OK(a.export_container(*id, counted));
    REQUIRE_OK(counted.close());
    CHECK(counted.bytes() == std::filesystem::file_size(tar));
    auto list = tar_listing(tar);
    CHECK_THAT(list, Catch::Contains("bin/busybox") && Catch::Contains("bin/sh -> busybox") &&
                         Catch::Contains("etc/passwd") && Catch::Contains("tmp/mark"));
    auto mark = detail::run_checked({"tar", "-xOf", tar.string(), "tmp/mark"});
    REQUIRE_OK(mark);
    CHECK(*mark == "exported\n");
    std::filesystem::remove(tar);
    REQUIRE_OK(a.remove(*id, true));
}

TEST_CASE("commit on a, save on a, load on b: the committed change arrives", "[docker]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    ensure_busybox(a);
    const std::string ref = "migrate-test-committed:1";
    discard(a, "mdt-commit");
    discard(b, "mdt-commit-b");
    (void)b.remove_image(ref, true);
    auto id = a.create({.name = "mdt-commit", .image = busybox_ref, .cmd = {"/bin/sh", "-c", "echo state-42 > /tmp/state; sleep 600"}});
    REQUIRE_OK(id);
    REQUIRE_OK(a.start(*id));
    std::this_thread::sleep_for(1s);
    auto image_id = a.commit(*id, ref, true);
    REQUIRE_OK(image_id);
    CHECK(a.inspect(*id)->running);           // commit paused it only meanwhile
    auto img = a.inspect_image(ref);
    REQUIRE_OK(img);
    CHECK(img->id == *image_id);
    CHECK(img->layers.size() == 2);           // the import's layer + the commit's

    // Streamed host to host through a bounded pipe: save on a feeds load on b.
    std::vector<std::string> loaded;
    auto moved = stream_between([&](byte_sink& out) { return a.save_images({ref}, out); },
                                [&](byte_source& in) -> result<void> {
                                    auto r = b.load_images(in);
                                    if (!r) return r.error();
                                    loaded = *r;
                                    return {};
                                });
    REQUIRE_OK(moved);
    CHECK(moved->bytes > 1'000'000);
    CHECK(std::find(loaded.begin(), loaded.end(), ref) != loaded.end());
    auto img_b = b.inspect_image(ref);
    REQUIRE_OK(img_b);
    CHECK(img_b->id == img->id);
    auto on_b = b.create({.name = "mdt-commit-b", .image = ref, .cmd = {"/bin/sh"}});
    REQUIRE_OK(on_b);
    CHECK(read_container_file(b, *on_b, "tmp/state") == "state-42\n");
    REQUIRE_OK(b.remove(*on_b, true));
    REQUIRE_OK(a.remove(*id, true));
    REQUIRE_OK(a.remove_image(ref));
    REQUIRE_OK(b.remove_image(ref));
}

TEST_CASE("volumes: create, import, export on a, import on b, content intact, helpers gone", "[docker][volume]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    for (auto* e : {&a, &b}) (void)e->remove_volume("mdt-vol", true);
    auto va = a.create_volume("mdt-vol", {{"org.migrate.test", "volume"}});
    REQUIRE_OK(va);
    CHECK(va->name == "mdt-vol");
    CHECK(va->labels.at("org.migrate.test") == "volume");
    REQUIRE_OK(b.create_volume("mdt-vol"));

    memory_tar payload;
    {
        function_sink sink([&](std::span<const std::byte> c) -> result<void> {
            payload.bytes.append(reinterpret_cast<const char*>(c.data()), c.size());
            return {};
        });
        image::tar_writer w(sink);
        REQUIRE_OK(w.add_file("hello.txt", "hello volume\n"));
        REQUIRE_OK(w.add_directory("sub"));
        REQUIRE_OK(w.add_file("sub/deep.txt", std::string(200000, 'z')));
        REQUIRE_OK(w.add_symlink("link", "hello.txt"));
        REQUIRE_OK(w.finish());
    }
    auto src = payload.source();
    REQUIRE_OK(a.import_volume("mdt-vol", *src));

    auto moved = stream_between([&](byte_sink& out) { return a.export_volume("mdt-vol", out); },
                                [&](byte_source& in) { return b.import_volume("mdt-vol", in); });
    REQUIRE_OK(moved);

    auto tar = work_dir() / "vol.tar";
    {
        auto sink = file_sink(tar);
        REQUIRE_OK(b.export_volume("mdt-vol", *sink));
        REQUIRE_OK(sink->close());
    }
    auto list = tar_listing(tar);
    CHECK_THAT(list, Catch::Contains("./hello.txt") && Catch::Contains("./sub/deep.txt") &&
                         Catch::Contains("./link -> hello.txt"));
    CHECK_THAT(list, !Catch::Contains(" v/"));   // relative to the volume root
    auto hello = detail::run_checked({"tar", "-xOf", tar.string(), "./hello.txt"});
    REQUIRE_OK(hello);
    CHECK(*hello == "hello volume\n");
    auto deep = detail::run_checked({"tar", "-xOf", tar.string(), "./sub/deep.txt"});
    REQUIRE_OK(deep);
    CHECK(*deep == std::string(200000, 'z'));
    std::filesystem::remove(tar);

    // The daemon's own view of the volume on b agrees.
    auto vb = b.inspect_volume("mdt-vol");
    REQUIRE_OK(vb);
    std::ifstream f(vb->mountpoint / "hello.txt");
    std::string line;
    std::getline(f, line);
    CHECK(line == "hello volume");

    for (auto* e : {&a, &b}) {
        auto helpers = e->list_containers(true, "org.migrate.helper");
        REQUIRE_OK(helpers);
        CHECK(helpers->empty());
    }

    // Errors: a missing volume is not created implicitly; garbage changes nothing.
    null_sink drop;
    auto missing = a.export_volume("mdt-no-such-volume", drop);
    REQUIRE_FALSE(missing);
    CHECK(missing.error_code() == error::not_found);
    CHECK_THAT(missing.error().message, Catch::Contains("mdt-no-such-volume"));
    CHECK(a.inspect_volume("mdt-no-such-volume").error_code() == error::not_found);
    memory_tar junk{"definitely not a tar archive"};
    auto junk_src = junk.source();
    CHECK(a.import_volume("mdt-vol", *junk_src).error_code() == error::corrupt_artifact);

    REQUIRE_OK(a.remove_volume("mdt-vol"));
    REQUIRE_OK(b.remove_volume("mdt-vol"));
    CHECK(a.remove_volume("mdt-vol").error_code() == error::not_found);
}

TEST_CASE("checkpoint with exit on a, export, import and restore on b: the counter continues",
          "[docker][criu]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    ensure_busybox(a);
    ensure_busybox(b);
    discard(a, "mdt-ckpt");
    discard(b, "mdt-ckpt");
    auto [s, id_a, before] = start_counter(a, "mdt-ckpt", 1000ms);

    REQUIRE_OK(a.create_checkpoint(*id_a, {.name = "c1", .exit = true}));
    auto after = a.inspect(*id_a);
    REQUIRE_OK(after);
    CHECK_FALSE(after->running);              // Exit: the dump ended it (the downtime starts)
    auto listed = a.list_checkpoints(*id_a);
    REQUIRE_OK(listed);
    CHECK(std::find(listed->begin(), listed->end(), "c1") != listed->end());

    auto info_a = a.inspect(*id_a);
    REQUIRE_OK(info_a);
    auto id_b = b.create(info_a->spec);
    REQUIRE_OK(id_b);
    auto moved = stream_between([&](byte_sink& out) { return a.export_checkpoint(*id_a, "c1", out); },
                                [&](byte_source& in) { return b.import_checkpoint(*id_b, "c1", in); });
    REQUIRE_OK(moved);
    CHECK(moved->bytes > 10'000);
    auto on_b = b.list_checkpoints(*id_b);
    REQUIRE_OK(on_b);
    CHECK(std::find(on_b->begin(), on_b->end(), "c1") != on_b->end());
    REQUIRE_OK(b.start_from_checkpoint(*id_b, "c1"));
    std::this_thread::sleep_for(2500ms);
    auto restored = b.inspect(*id_b);
    REQUIRE_OK(restored);
    CHECK(restored->running);
    int continued = read_counter(b, *id_b);
    INFO("counter before checkpoint " << before << ", on b after restore " << continued);
    CHECK(continued > before);                // a fresh start would be at 2 or 3

    // Errors name the checkpoint and container.
    null_sink drop;
    auto missing = a.export_checkpoint(*id_a, "no-such-ckpt", drop);
    REQUIRE_FALSE(missing);
    CHECK(missing.error_code() == error::not_found);
    CHECK_THAT(missing.error().message, Catch::Contains("no-such-ckpt"));
    REQUIRE_OK(a.delete_checkpoint(*id_a, "c1"));
    CHECK(a.list_checkpoints(*id_a)->empty());
    REQUIRE_OK(b.remove(*id_b, true));
    REQUIRE_OK(a.remove(*id_a, true));
}

TEST_CASE("memcached keys survive checkpoint on a and restore on b", "[docker][criu]") {
    auto a = engine_on("a");
    auto b = engine_on("b");
    ensure_image(a, image::memcached_recipe(), memcached_ref);
    ensure_image(b, image::memcached_recipe(), memcached_ref);
    const std::uint16_t port = 11311;
    discard(a, "mdt-mc");
    discard(b, "mdt-mc");
    container_spec s{.name = "mdt-mc", .image = memcached_ref,
                     .cmd = {"-p", std::to_string(port), "-U", "0", "-m", "32"}, .network_mode = "host"};
    auto id_a = a.create(s);
    REQUIRE_OK(id_a);
    REQUIRE_OK(a.start(*id_a));
    workload::memcached_dataset ds{.prefix = "mdt", .items = 2000, .value_size = 256};
    {
        std::optional<workload::memcached_client> c;
        for (int i = 0; i < 50 && !c; ++i) {
            auto r = workload::memcached_client::connect(tb_host("a").address, port);
            if (r) c.emplace(std::move(*r));
            else std::this_thread::sleep_for(100ms);
        }
        REQUIRE(c);
        REQUIRE_OK(c->load(ds));
        auto n = c->count_intact(ds);
        REQUIRE_OK(n);
        REQUIRE(*n == ds.items);
    }   // the TCP connection is closed before the dump (CRIU would refuse an established one)
    std::this_thread::sleep_for(200ms);

    REQUIRE_OK(a.create_checkpoint(*id_a, {.name = "mc1", .exit = true}));
    auto info_a = a.inspect(*id_a);
    REQUIRE_OK(info_a);
    auto id_b = b.create(info_a->spec);
    REQUIRE_OK(id_b);
    auto moved = stream_between([&](byte_sink& out) { return a.export_checkpoint(*id_a, "mc1", out); },
                                [&](byte_source& in) { return b.import_checkpoint(*id_b, "mc1", in); });
    REQUIRE_OK(moved);
    REQUIRE_OK(b.start_from_checkpoint(*id_b, "mc1"));
    std::optional<workload::memcached_client> c;
    for (int i = 0; i < 50 && !c; ++i) {
        auto r = workload::memcached_client::connect(tb_host("b").address, port);
        if (r) c.emplace(std::move(*r));
        else std::this_thread::sleep_for(100ms);
    }
    REQUIRE(c);
    auto n = c->count_intact(ds);
    REQUIRE_OK(n);
    CHECK(*n == ds.items);
    c.reset();
    REQUIRE_OK(b.remove(*id_b, true));
    REQUIRE_OK(a.remove(*id_a, true));
}

TEST_CASE("bad input: unknown container, unreachable socket, not-a-tar for load and import", "[docker]") {
    auto a = engine_on("a");
    auto unknown = a.inspect("mdt-no-such-container");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error_code() == error::not_found);
    CHECK_THAT(unknown.error().message, Catch::Contains("container 'mdt-no-such-container' not found on unix://") &&
                                            Catch::Contains(tb_host("a").socket.string()) &&
                                            Catch::Contains("No such container"));
    CHECK(a.start("mdt-no-such-container").error_code() == error::not_found);
    CHECK(a.stop("mdt-no-such-container").error_code() == error::not_found);
    CHECK(a.remove("mdt-no-such-container").error_code() == error::not_found);
    null_sink drop;
    CHECK(a.export_container("mdt-no-such-container", drop).error_code() == error::not_found);
    CHECK(a.inspect_image("mdt-no-such-image:9").error_code() == error::not_found);
    auto no_image = a.create({.name = "mdt-noimg", .image = "mdt-no-such-image:9"});
    REQUIRE_FALSE(no_image);
    CHECK(no_image.error_code() == error::not_found);
    CHECK_THAT(no_image.error().message, Catch::Contains("mdt-no-such-image:9"));
    CHECK(a.save_images({"mdt-no-such-image:9"}, drop).error_code() == error::not_found);

    docker::engine gone({.socket = "/run/migrate-no-such-dockerd.sock"});
    auto p = gone.ping();
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::daemon_unreachable);
    CHECK_THAT(p.error().message, Catch::Contains("/run/migrate-no-such-dockerd.sock"));

    // Not a tar: random bytes, and text. Both refused as corrupt, and no image appears.
    auto before = count_images(a);
    std::string noise(4096, '\0');
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 7919) ^ (i >> 3));
    for (const std::string& bytes : {noise, std::string("hello, I am not an image\n")}) {
        memory_tar t{bytes};
        auto s1 = t.source();
        auto imported = a.import_image(*s1, "mdt-junk:1");
        REQUIRE_FALSE(imported);
        CHECK(imported.error_code() == error::corrupt_artifact);
        CHECK_THAT(imported.error().message, Catch::Contains("import_image('mdt-junk:1')"));
        auto s2 = t.source();
        auto loaded = a.load_images(*s2);
        REQUIRE_FALSE(loaded);
        CHECK(loaded.error_code() == error::corrupt_artifact);
        CHECK_THAT(loaded.error().message, Catch::Contains("load_images"));
    }
    // A real tar that is not a `docker save`: the daemon's errorDetail is caught.
    std::string rootfs_only;
    {
        function_sink sink([&](std::span<const std::byte> c) -> result<void> {
            rootfs_only.append(reinterpret_cast<const char*>(c.data()), c.size());
            return {};
        });
        image::tar_writer w(sink);
        REQUIRE_OK(w.add_file("etc/hostname", "x\n"));
        REQUIRE_OK(w.finish());
    }
    memory_tar t{rootfs_only};
    auto s3 = t.source();
    auto not_saved = a.load_images(*s3);
    REQUIRE_FALSE(not_saved);
    CHECK(not_saved.error_code() == error::corrupt_artifact);
    CHECK(count_images(a) == before);
    CHECK(a.inspect_image("mdt-junk:1").error_code() == error::not_found);
}

TEST_CASE("exporting a 500 MB container keeps peak RSS under 64 MB", "[docker][rss]") {
    auto a = engine_on("a");
    auto out = work_dir() / "rss-export.tar";
    auto f = test::measure_export_rss(a, 500ull << 20, out);
    REQUIRE_OK(f);
    std::filesystem::remove(out);
    INFO(fmt::format("exported {} bytes in {:.1f} s; peak RSS {} KiB (export alone{}), {} KiB after the import",
                     f->exported_bytes, f->export_seconds, f->peak_rss_kb_export,
                     f->export_peak_isolated ? "" : ": reset refused, process peak", f->peak_rss_kb_import));
    CHECK(f->exported_bytes > f->data_bytes);
    CHECK(f->peak_rss_kb_export < 64 * 1024);
    CHECK(f->peak_rss_kb_import < 64 * 1024);
    WARN(fmt::format("export of {} MiB: peak RSS {:.1f} MiB (import phase {:.1f} MiB), {:.1f} s",
                     f->data_bytes >> 20, f->peak_rss_kb_export / 1024.0, f->peak_rss_kb_import / 1024.0,
                     f->export_seconds));
}

TEST_CASE("runc dump: leave-running keeps the service counting, exit stops it, dockerd restores it and it "
          "continues; what it cannot dump is named",
          "[docker][criu][runc_dump]") {
    auto a = engine_on("a");
    ensure_busybox(a);
    discard(a, "mdt-runc");
    discard(a, "mdt-runc-restart");
    auto [s, id, before] = start_counter(a, "mdt-runc", 200ms);
    REQUIRE_OK(a.direct_checkpoint_support(*id));

    // Leave running: the images land where dockerd lists them, and the service (thawed after
    // our own freeze) counts on. Nothing went through containerd: a checkpoint through the
    // daemon leaves its images' blobs in containerd's content store for a while (what
    // create_checkpoint waits for, moby#42900); runc's leaves none.
    const auto blobs =
        tb_host("a").data_root / "containerd" / "daemon" / "io.containerd.content.v1.content" / "blobs" / "sha256";
    auto blob_names = [&] {
        std::set<std::string> names;
        std::error_code ec;
        for (auto it = std::filesystem::directory_iterator(blobs, ec); !ec && it != std::filesystem::directory_iterator();
             it.increment(ec))
            names.insert(it->path().filename().string());
        return names;
    };
    const auto blobs_before = blob_names();
    REQUIRE_OK(a.create_checkpoint(*id, {.name = "r1", .exit = false, .dumper = checkpoint_dumper::runc}));
    auto blobs_after = blob_names();
    std::erase_if(blobs_after, [&](const std::string& b) { return blobs_before.count(b) != 0; });
    CHECK(blobs_after.empty());
    auto listed = a.list_checkpoints(*id);
    REQUIRE_OK(listed);
    CHECK(std::find(listed->begin(), listed->end(), "r1") != listed->end());
    auto dir = a.checkpoint_directory(*id, "r1");
    REQUIRE_OK(dir);
    CHECK(std::filesystem::exists(*dir / "pages-1.img"));
    CHECK_FALSE(std::filesystem::exists(*dir / "dump.log"));  // CRIU's log went to its own work dir
    const int after_r1 = read_counter(a, *id);
    std::this_thread::sleep_for(1s);
    CHECK(read_counter(a, *id) > after_r1);
    auto twice = a.create_checkpoint(*id, {.name = "r1", .exit = false, .dumper = checkpoint_dumper::runc});
    REQUIRE_FALSE(twice);
    CHECK(twice.error_code() == error::already_exists);

    // Exit: the service stops (dockerd notices a moment later), dockerd restores it.
    const int at_exit = read_counter(a, *id);
    REQUIRE_OK(a.create_checkpoint(*id, {.name = "r2", .exit = true, .dumper = checkpoint_dumper::runc}));
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {
        auto now = a.inspect(*id);
        stopped = now && !now->running;
        if (!stopped) std::this_thread::sleep_for(50ms);
    }
    REQUIRE(stopped);
    auto not_running = a.direct_checkpoint_support(*id);
    REQUIRE_FALSE(not_running);
    CHECK(not_running.error_code() == error::unsupported);
    CHECK_THAT(not_running.error().message, Catch::Contains("not running"));
    REQUIRE_OK(a.start_from_checkpoint(*id, "r2"));
    std::this_thread::sleep_for(1500ms);
    int continued = read_counter(a, *id);
    INFO("counter at the exit dump " << at_exit << ", after dockerd's restore " << continued);
    CHECK(continued > at_exit);  // a fresh start would be at 7 or 8

    // A restart policy would have dockerd restart the dumped service: refused, named.
    container_spec r = s;
    r.name = "mdt-runc-restart";
    r.extra_host_config = {{"RestartPolicy", {{"Name", "unless-stopped"}}}};
    auto rid = a.create(r);
    REQUIRE_OK(rid);
    REQUIRE_OK(a.start(*rid));
    auto refused = a.direct_checkpoint_support(*rid);
    REQUIRE_FALSE(refused);
    CHECK(refused.error_code() == error::unsupported);
    CHECK_THAT(refused.error().message, Catch::Contains("restart policy 'unless-stopped'"));
    REQUIRE_OK(a.remove(*rid, true));

    // A container in its host's network namespace: CRIU's network lock would stay there.
    container_spec h = s;
    h.name = "mdt-runc-hostnet";
    h.network_mode = "host";
    discard(a, h.name);
    auto hid = a.create(h);
    REQUIRE_OK(hid);
    REQUIRE_OK(a.start(*hid));
    auto hostnet = a.direct_checkpoint_support(*hid);
    REQUIRE_FALSE(hostnet);
    CHECK(hostnet.error_code() == error::unsupported);
    CHECK_THAT(hostnet.error().message, Catch::Contains("network mode 'host'"));
    REQUIRE_OK(a.remove(*hid, true));
    REQUIRE_OK(a.remove(*id, true));
}
