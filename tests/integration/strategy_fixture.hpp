// tests/integration/strategy_fixture.hpp — what the strategy integration tests share: a
// stateful container on testbed host a, and the ways a target fails.
//
// The service (`counter_scene`): a busybox shell on a registry-less base image made for
// this test process (so host b has never seen its layers), counting every 100 ms into a
// named volume (`/data/count`) and logging each start with the value it resumed from
// (`/data/starts`: "start 0", then "start 57" after a move that carried the volume). A file
// it writes into its own filesystem on first start (`/root/fs-marker`, naming the host it
// first ran on) shows whether the container's filesystem moved or was made afresh.
//
// How targets fail, all on the REAL daemon of host b:
//   - `fault_injecting_runtime`: a FAULT-INJECTING WRAPPER around the real engine that
//     forwards every call and breaks the ones named (the start, say);
//   - `unix_socket_relay`: the target's engine talks to dockerd through this relay; cutting
//     it makes the real daemon unreachable (connections dropped, socket gone) until restored;
//   - a target volume too small for the data (tmpfs, 64 KiB): the real import fails.
#pragma once

#include "testbed_fixture.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/image_layers.hpp>
#include <migrate/migrator.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace migrate::test {

using namespace std::chrono_literals;

// ---- failing targets --------------------------------------------------------------------------

/// FAULT-INJECTING WRAPPER around a real runtime: every call goes to the real engine except
/// the methods named in `fail`, which return that failure (every time) without reaching it.
class fault_injecting_runtime final : public container_runtime {
public:
    explicit fault_injecting_runtime(std::shared_ptr<container_runtime> real) : real_(std::move(real)) {}
    std::map<std::string, failure> fail;   ///< method name -> the failure it returns
    std::vector<std::string> injected;     ///< the calls that were broken, in order

    std::string endpoint() const override { return real_->endpoint(); }
    result<runtime_version> version() override { return real_->version(); }
    result<container_info> inspect(std::string_view id) override { MIGRATE_TRY(hit("inspect")); return real_->inspect(id); }
    result<std::string> create(const container_spec& s) override { MIGRATE_TRY(hit("create")); return real_->create(s); }
    result<void> start(std::string_view id) override { MIGRATE_TRY(hit("start")); return real_->start(id); }
    result<void> stop(std::string_view id, std::chrono::seconds g) override { MIGRATE_TRY(hit("stop")); return real_->stop(id, g); }
    result<void> pause(std::string_view id) override { MIGRATE_TRY(hit("pause")); return real_->pause(id); }
    result<void> unpause(std::string_view id) override { MIGRATE_TRY(hit("unpause")); return real_->unpause(id); }
    result<void> remove(std::string_view id, bool f) override { MIGRATE_TRY(hit("remove")); return real_->remove(id, f); }
    result<void> export_container(std::string_view id, byte_sink& o) override {
        MIGRATE_TRY(hit("export_container"));
        return real_->export_container(id, o);
    }
    result<std::string> import_image(byte_source& t, std::string_view r, const std::vector<std::string>& c) override {
        MIGRATE_TRY(hit("import_image"));
        return real_->import_image(t, r, c);
    }
    result<std::string> commit(std::string_view id, std::string_view r, bool p) override {
        MIGRATE_TRY(hit("commit"));
        return real_->commit(id, r, p);
    }
    result<void> save_images(const std::vector<std::string>& r, byte_sink& o) override {
        MIGRATE_TRY(hit("save_images"));
        return real_->save_images(r, o);
    }
    result<std::vector<std::string>> load_images(byte_source& t) override {
        MIGRATE_TRY(hit("load_images"));
        return real_->load_images(t);
    }
    result<image_info> inspect_image(std::string_view r) override { MIGRATE_TRY(hit("inspect_image")); return real_->inspect_image(r); }
    result<void> remove_image(std::string_view r, bool f) override { MIGRATE_TRY(hit("remove_image")); return real_->remove_image(r, f); }
    result<std::vector<image_info>> list_images() override { MIGRATE_TRY(hit("list_images")); return real_->list_images(); }
    result<volume_info> create_volume(std::string_view n, const std::map<std::string, std::string>& l) override {
        MIGRATE_TRY(hit("create_volume"));
        return real_->create_volume(n, l);
    }
    result<volume_info> inspect_volume(std::string_view n) override { MIGRATE_TRY(hit("inspect_volume")); return real_->inspect_volume(n); }
    result<void> remove_volume(std::string_view n, bool f) override { MIGRATE_TRY(hit("remove_volume")); return real_->remove_volume(n, f); }
    result<void> export_volume(std::string_view n, byte_sink& o) override { MIGRATE_TRY(hit("export_volume")); return real_->export_volume(n, o); }
    result<void> import_volume(std::string_view n, byte_source& t) override { MIGRATE_TRY(hit("import_volume")); return real_->import_volume(n, t); }
    result<void> create_checkpoint(std::string_view id, const checkpoint_options& o) override {
        MIGRATE_TRY(hit("create_checkpoint"));
        return real_->create_checkpoint(id, o);
    }
    result<std::vector<std::string>> list_checkpoints(std::string_view id) override {
        MIGRATE_TRY(hit("list_checkpoints"));
        return real_->list_checkpoints(id);
    }
    result<void> delete_checkpoint(std::string_view id, std::string_view n) override {
        MIGRATE_TRY(hit("delete_checkpoint"));
        return real_->delete_checkpoint(id, n);
    }
    result<void> export_checkpoint(std::string_view id, std::string_view n, byte_sink& o) override {
        MIGRATE_TRY(hit("export_checkpoint"));
        return real_->export_checkpoint(id, n, o);
    }
    result<void> import_checkpoint(std::string_view id, std::string_view n, byte_source& t) override {
        MIGRATE_TRY(hit("import_checkpoint"));
        return real_->import_checkpoint(id, n, t);
    }
    result<void> start_from_checkpoint(std::string_view id, std::string_view n) override {
        MIGRATE_TRY(hit("start_from_checkpoint"));
        return real_->start_from_checkpoint(id, n);
    }
    result<std::filesystem::path> checkpoint_directory(std::string_view id, std::string_view n) override {
        return real_->checkpoint_directory(id, n);
    }

private:
    result<void> hit(const char* method) {
        auto it = fail.find(method);
        if (it == fail.end()) return {};
        injected.emplace_back(method);
        return it->second;
    }
    std::shared_ptr<container_runtime> real_;
};

/// A relay between a client and a real daemon's unix socket that the test can cut: `cut()`
/// drops every connection and removes the socket (the daemon is then really unreachable
/// through it: connections fail, kept-alive ones die), `restore()` listens again.
class unix_socket_relay {
public:
    unix_socket_relay(std::filesystem::path upstream, std::filesystem::path path)
        : upstream_(std::move(upstream)), path_(std::move(path)) {
        restore();
    }
    ~unix_socket_relay() { cut(); }
    unix_socket_relay(const unix_socket_relay&) = delete;
    unix_socket_relay& operator=(const unix_socket_relay&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

    void restore() {
        std::lock_guard lock(mutex_);
        if (listening_) return;
        std::error_code ec;
        std::filesystem::remove(path_, ec);
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = address(path_);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0)
            throw std::runtime_error("relay: cannot listen on " + path_.string() + ": " + std::strerror(errno));
        listening_ = true;
        acceptor_ = std::thread([this, fd = listen_fd_] { accept_loop(fd); });
    }

    void cut() {
        std::thread acceptor;
        std::vector<std::thread> pumps;
        {
            std::lock_guard lock(mutex_);
            if (!listening_) return;
            listening_ = false;
            ::shutdown(listen_fd_, SHUT_RDWR);
            for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
            acceptor = std::move(acceptor_);
            pumps = std::move(pumps_);
        }
        acceptor.join();
        for (auto& t : pumps) t.join();
        std::lock_guard lock(mutex_);
        ::close(listen_fd_);
        for (int fd : connections_) ::close(fd);
        connections_.clear();
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }

private:
    static sockaddr_un address(const std::filesystem::path& p) {
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, p.c_str(), sizeof a.sun_path - 1);
        return a;
    }
    static void pump(int from, int to) {
        std::vector<char> buf(64 * 1024);
        for (;;) {
            auto n = ::read(from, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
                auto w = ::send(to, buf.data() + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return;
                off += w;
            }
        }
        ::shutdown(to, SHUT_WR);
    }
    void accept_loop(int listen_fd) {
        for (;;) {
            int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) {
                if (errno == EINTR) continue;
                return;  // shut down by cut()
            }
            int up = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            auto addr = address(upstream_);
            if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(client);
                ::close(up);
                continue;
            }
            std::lock_guard lock(mutex_);
            if (!listening_) {
                ::close(client);
                ::close(up);
                return;
            }
            connections_.push_back(client);
            connections_.push_back(up);
            pumps_.emplace_back([client, up] { pump(client, up); });
            pumps_.emplace_back([client, up] { pump(up, client); });
        }
    }

    std::filesystem::path upstream_, path_;
    std::mutex mutex_;
    bool listening_ = false;
    int listen_fd_ = -1;
    std::thread acceptor_;
    std::vector<std::thread> pumps_;
    std::vector<int> connections_;
};

// ---- the service ------------------------------------------------------------------------------

/// The image prefix the strategies are given in these tests (what cleanup looks for).
inline const std::string strategy_image_prefix = "cslt";

/// Scratch space of this test process (removed at exit).
inline const std::filesystem::path& strategy_scratch() {
    struct dir {
        std::filesystem::path p = std::filesystem::path("/var/tmp") / fmt::format("migrate-strategy-test-{}", ::getpid());
        dir() { std::filesystem::create_directories(p); }
        ~dir() { std::error_code ec; std::filesystem::remove_all(p, ec); }
    };
    static dir d;
    return d.p;
}

/// The base image of the counter, made on host a once per test process. Its extra file makes
/// its layer new to every host (host b never holds it before a test moves it there).
inline const std::string& counter_base_image() {
    static const std::string ref = fmt::format("cslt-base:{}", ::getpid());
    static std::once_flag once;
    std::call_once(once, [] {
        auto a = engine_on("a");
        auto recipe = image::busybox_recipe();
        recipe.rootfs.files.push_back(
            {"/etc/migrate-test-run", fmt::format("{} {}\n", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count())});
        auto id = image::build_image(a, recipe.rootfs, ref, recipe.changes);
        if (!id) throw std::runtime_error("cannot build " + ref + " on host a: " + id.error().what());
        // Removed again at exit, from both hosts (a move may have carried it to b untagged).
        static struct remover {
            std::string image_id;
            ~remover() {
                for (auto* h : {"a", "b"}) {
                    auto e = engine_on(h);
                    (void)e.remove_image(ref, true);
                    (void)e.remove_image(image_id, true);
                }
            }
        } r{*id};
    });
    return ref;
}

/// Reads a whole file ("" when it does not exist).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

/// What a host holds that a migration might leave behind: images (but the engine's own
/// volume helper) and containers.
struct host_inventory {
    std::set<std::string> images, containers;
    bool operator==(const host_inventory&) const = default;
};
inline host_inventory inventory(docker::engine& e) {
    host_inventory inv;
    auto imgs = e.list_images();
    REQUIRE_OK(imgs);
    for (auto& i : *imgs) {
        if (std::find(i.tags.begin(), i.tags.end(), e.options().helper_image) != i.tags.end()) continue;
        inv.images.insert(i.id);
    }
    auto cs = e.list_containers(true);
    REQUIRE_OK(cs);
    for (auto& c : *cs) inv.containers.insert(c.id);
    return inv;
}

/// The counter container on host a, named `name`, with the volume `<name>-data`; removed
/// with everything a move made of it, on both hosts, before and after.
struct counter_scene {
    std::string name;
    std::string volume;
    std::shared_ptr<docker::engine> a = std::make_shared<docker::engine>(engine_on("a"));
    std::shared_ptr<docker::engine> b = std::make_shared<docker::engine>(engine_on("b"));
    std::string source_id;
    container_spec spec;

    explicit counter_scene(std::string n) : name(std::move(n)), volume(name + "-data") {
        clean();
        spec.name = name;
        spec.image = counter_base_image();
        // trap: the stop is answered at once (a shell as pid 1 ignores SIGTERM otherwise).
        spec.cmd = {"/bin/sh", "-c",
                    "trap 'exit 0' TERM; "
                    "[ -f /root/fs-marker ] || echo \"first ran on $(hostname) as $GREETING\" > /root/fs-marker; "
                    "c=$(cat /data/count 2>/dev/null || echo 0); echo \"start $c\" >> /data/starts; "
                    "while true; do c=$((c+1)); echo $c > /data/count.new; mv /data/count.new /data/count; "
                    "sleep 0.1; done"};
        spec.env = {"GREETING=hello-from-a", "COUNTER_STEP=1"};
        spec.working_dir = "/data";
        spec.labels = {{"app", "counter"}, {"org.migrate.test", name}};
        spec.mounts = {{mount_spec::kind::volume, volume, "/data", false}};
        REQUIRE_OK(a->create_volume(volume, {{"org.migrate.test", name}}));
        auto id = a->create(spec);
        REQUIRE_OK(id);
        source_id = *id;
        REQUIRE_OK(a->start(source_id));
        wait_count_at_least(*a, 10);
        REQUIRE_FALSE(fs_marker(*a).empty());
    }
    ~counter_scene() { clean(); }
    counter_scene(const counter_scene&) = delete;
    counter_scene& operator=(const counter_scene&) = delete;

    void clean() {
        for (auto* e : {a.get(), b.get()}) {
            (void)e->remove(name, true);
            (void)e->remove_volume(volume, true);
            if (auto imgs = e->list_images())
                for (auto& i : *imgs)
                    for (auto& t : i.tags)
                        if (t.rfind(strategy_image_prefix + "/" + name + ":", 0) == 0) (void)e->remove_image(t, true);
        }
    }

    edge_host host(const char* which, std::shared_ptr<container_runtime> rt) const {
        auto& h = tb_host(which);
        return edge_host{.name = which, .address = h.address, .runtime = std::move(rt), .work_dir = h.work_dir};
    }
    /// a -> b, with the target's runtime replaced when given (a fault-injecting wrapper, an
    /// engine behind a relay).
    migration_request request(std::shared_ptr<container_runtime> target = nullptr) const {
        migration_request r;
        r.source = host("a", a);
        r.target = host("b", target ? std::move(target) : b);
        r.container = name;
        return r;
    }

    std::filesystem::path volume_dir(docker::engine& e) const {
        auto v = e.inspect_volume(volume);
        REQUIRE_OK(v);
        return v->mountpoint;
    }
    int count(docker::engine& e) const {
        auto s = slurp(volume_dir(e) / "count");
        return s.empty() ? -1 : std::stoi(s);
    }
    /// The values each start resumed from, in order.
    std::vector<int> starts(docker::engine& e) const {
        std::vector<int> out;
        std::istringstream in(slurp(volume_dir(e) / "starts"));
        std::string word;
        int n = 0;
        while (in >> word >> n) out.push_back(n);
        return out;
    }
    /// The starts logged so far, once there are `n` (a just-started shell needs a moment).
    std::vector<int> wait_starts(docker::engine& e, std::size_t n) const {
        auto s = starts(e);
        for (int i = 0; i < 100 && s.size() < n; ++i) {
            std::this_thread::sleep_for(50ms);
            s = starts(e);
        }
        return s;
    }
    void wait_count_at_least(docker::engine& e, int n) const {
        for (int i = 0; i < 100 && count(e) < n; ++i) std::this_thread::sleep_for(100ms);
        REQUIRE(count(e) >= n);
    }
    /// /root/fs-marker as the running container sees it ("" when absent or not running).
    std::string fs_marker(docker::engine& e) const {
        auto c = e.inspect(name);
        if (!c || !c->running || c->pid <= 0) return {};
        return slurp(fmt::format("/proc/{}/root/root/fs-marker", c->pid));
    }
    /// Every path of the container's filesystem, through `docker export`.
    std::set<std::string> listing(docker::engine& e) const {
        auto tar = strategy_scratch() / fmt::format("{}-{}.tar", name, e.endpoint().size());
        {
            auto sink = file_sink(tar);
            REQUIRE_OK(e.export_container(name, *sink));
            REQUIRE_OK(sink->close());
        }
        auto l = detail::run_checked({"tar", "-tf", tar.string()});
        REQUIRE_OK(l);
        std::filesystem::remove(tar);
        std::set<std::string> out;
        std::istringstream in(*l);
        for (std::string line; std::getline(in, line);) out.insert(line);
        return out;
    }

    /// A rollback's promise: the report says so, the very same source container runs again
    /// and resumes the counter from its volume (value at least `count_before`), the volume's
    /// other contents are intact.
    void check_source_serves_again(const migration_report& rep, int count_before,
                                   const std::string& blob_before = {}) const {
        INFO(rep.to_text() << rep.details.dump(2));
        CHECK_FALSE(rep.success);
        CHECK(rep.rolled_back);
        auto src = a->inspect(name);
        REQUIRE_OK(src);
        CHECK(src->id == source_id);
        CHECK(src->running);
        auto s = wait_starts(*a, 2);
        REQUIRE(s.size() == 2);            // its first start, and the restart by the rollback
        CHECK(s.front() == 0);
        CHECK(s.back() >= count_before);   // resumed from the volume, not from 0
        wait_count_at_least(*a, s.back() + 3);
        if (!blob_before.empty()) CHECK(slurp(volume_dir(*a) / "blob") == blob_before);
    }
    /// Nothing of the move on b: no container of that name, no volume this migration made,
    /// no image or container that was not there before.
    void check_nothing_left_on_b(const host_inventory& before, bool volume_was_there = false) const {
        CHECK(b->inspect(name).error_code() == error::not_found);
        if (!volume_was_there) CHECK(b->inspect_volume(volume).error_code() == error::not_found);
        auto now = inventory(*b);
        CHECK(now.containers == before.containers);
        CHECK(now.images == before.images);
    }
};

// ---- the cases every strategy that carries volumes must pass --------------------------------

/// Moves the counter a -> b: the container's files, its volume and its config arrive, the
/// counter resumes, the image on b lacks nothing, the source goes only after success.
inline migration_report check_moves_counter(migrator& m, counter_scene& sc) {
    auto req = sc.request();
    std::vector<std::pair<phase, phase_event::kind>> events;
    req.hooks.on_event = [&](const phase_event& e) {
        if (e.what != phase_event::kind::progress) events.emplace_back(e.phase, e.what);
    };
    const auto marker = sc.fs_marker(*sc.a);
    CHECK_THAT(marker, Catch::Contains("hello-from-a"));
    auto p = m.prepare(req);
    REQUIRE_OK(p);
    auto still = sc.a->inspect(sc.name);
    REQUIRE_OK(still);
    CHECK(still->running);                       // prepare leaves the service running
    const auto files = sc.listing(*sc.a);
    const int count_before = sc.count(*sc.a);
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    INFO(rep->to_text() << rep->details.dump(2));
    REQUIRE(rep->success);

    // The source went, and only after the target confirmed (cleanup after relocate ended).
    CHECK(sc.a->inspect(sc.name).error_code() == error::not_found);
    auto at = [&](phase ph, phase_event::kind k) {
        return std::find(events.begin(), events.end(), std::pair{ph, k}) - events.begin();
    };
    CHECK(at(phase::relocate, phase_event::kind::end) < at(phase::cleanup, phase_event::kind::begin));
    CHECK(at(phase::cleanup, phase_event::kind::begin) < static_cast<std::ptrdiff_t>(events.size()));

    auto t = sc.b->inspect(sc.name);
    REQUIRE_OK(t);
    CHECK(t->running);
    // Config carried.
    CHECK(t->spec.cmd == sc.spec.cmd);
    for (auto& e : sc.spec.env) CHECK(std::find(t->spec.env.begin(), t->spec.env.end(), e) != t->spec.env.end());
    CHECK(t->spec.working_dir == "/data");
    CHECK(t->spec.labels.at("app") == "counter");
    CHECK(t->spec.labels.at("org.migrate.test") == sc.name);
    REQUIRE(t->spec.mounts.size() == 1);
    CHECK(t->spec.mounts[0].source == sc.volume);
    // The volume came along and the counter resumed from it (a fresh start would log 0).
    auto s = sc.wait_starts(*sc.b, 2);
    REQUIRE(s.size() == 2);
    CHECK(s[0] == 0);
    CHECK(s[1] >= count_before);
    sc.wait_count_at_least(*sc.b, s[1] + 3);
    // The file the container wrote into its own filesystem on a is there, unchanged.
    CHECK(sc.fs_marker(*sc.b) == marker);
    // Nothing of the source's filesystem is missing on b.
    auto moved = sc.listing(*sc.b);
    std::vector<std::string> missing;
    for (auto& f : files)
        if (!moved.count(f)) missing.push_back(f);
    INFO("missing on b: " << fmt::format("{}", fmt::join(missing, ", ")));
    CHECK(missing.empty());
    return *rep;
}

/// The target refuses the start (fault injected into b's real engine).
inline void check_rollback_start_refused(migrator& m, counter_scene& sc) {
    const auto before = inventory(*sc.b);
    auto wrapper = std::make_shared<fault_injecting_runtime>(sc.b);
    wrapper->fail["start"] = make_failure(error::daemon_error, "start refused (fault injected on b)");
    auto p = m.prepare(sc.request(wrapper));
    REQUIRE_OK(p);
    const int count_before = sc.count(*sc.a);
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    CHECK_THAT(rep->error, Catch::Contains("fault injected"));
    CHECK(wrapper->injected == std::vector<std::string>{"start"});
    sc.check_source_serves_again(*rep, count_before);
    sc.check_nothing_left_on_b(before);
}

/// b's daemon becomes unreachable: first from the start (prepare fails, the source never
/// notices), then at the beginning of the downtime (rollback brings the source back, reports
/// what it could not remove from b, and removes it when called again once b is back).
inline void check_rollback_target_unreachable(migrator& m, counter_scene& sc) {
    const auto before = inventory(*sc.b);
    unix_socket_relay relay(tb_host("b").socket, strategy_scratch() / (sc.name + ".sock"));
    auto via_relay = std::make_shared<docker::engine>(docker::engine_options{.socket = relay.path()});
    REQUIRE_OK(via_relay->ping());

    relay.cut();
    auto early = m.prepare(sc.request(via_relay));
    REQUIRE_FALSE(early);
    CHECK(early.error_code() == error::daemon_unreachable);
    CHECK_THAT(early.error().message, Catch::Contains(relay.path().string()));
    CHECK(sc.a->inspect(sc.name)->running);
    CHECK(sc.starts(*sc.a).size() == 1);         // never stopped
    relay.restore();

    auto req = sc.request(via_relay);
    req.hooks.on_event = [&](const phase_event& e) {
        if (e.what == phase_event::kind::begin && e.phase == phase::relocate) relay.cut();
    };
    auto p = m.prepare(req);
    REQUIRE_OK(p);
    const int count_before = sc.count(*sc.a);
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    CHECK_THAT(rep->error, Catch::Contains("daemon_unreachable"));
    sc.check_source_serves_again(*rep, count_before);
    // What was made on b is still there (b could not be reached) and the report says so.
    REQUIRE(rep->details.contains("left_on_target"));
    CHECK_FALSE(rep->details["left_on_target"]["container"].get<std::string>().empty());
    CHECK(sc.b->inspect(sc.name));

    relay.restore();
    m.rollback(*p);
    INFO(p->report.details.dump(2));
    CHECK_FALSE(p->report.details.contains("left_on_target"));
    CHECK(p->report.rolled_back);
    sc.check_nothing_left_on_b(before);
    CHECK(sc.a->inspect(sc.name)->running);
}

/// b cannot hold the volume's data (a 64 KiB tmpfs volume of that name was there already):
/// the real import fails in the downtime.
inline void check_rollback_volume_import_fails(migrator& m, counter_scene& sc) {
    const std::string blob(256 * 1024, 'v');
    { std::ofstream(sc.volume_dir(*sc.a) / "blob") << blob; }
    auto made = detail::run_checked({"docker", "-H", tb_host("b").endpoint(), "volume", "create", "--driver", "local",
                                     "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=64k", sc.volume});
    REQUIRE_OK(made);
    const auto before = inventory(*sc.b);
    auto p = m.prepare(sc.request());
    REQUIRE_OK(p);
    CHECK(p->target_volumes.empty());            // b had it: not this migration's to remove
    const int count_before = sc.count(*sc.a);
    auto rep = m.relocate(*p);
    REQUIRE_OK(rep);
    CHECK_THAT(rep->error, Catch::Contains("no space left on device"));
    sc.check_source_serves_again(*rep, count_before, blob);
    sc.check_nothing_left_on_b(before, true);
    CHECK(sc.b->inspect_volume(sc.volume));      // b's own volume stays
}

}  // namespace migrate::test
