// The host agents against the REAL testbed: one migrate-agent per host, started by
// `migrate-testbed up --agents` inside the host's network namespace next to its dockerd.
// Artifacts move a -> b agent to agent over the veth link (HTB shaping applies), with real
// container exports and image imports, volumes, images and CRIU checkpoints. Whole file:
// 33-37 s (two transfers on the 100 Mbit link, two link cuts, a testbed of its own).
#include "noise_source.hpp"
#include "testbed_fixture.hpp"

#include <migrate/agent/client.hpp>
#include <migrate/agent/protocol.hpp>
#include <migrate/agent/transport.hpp>
#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/strategies.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

using namespace migrate;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

template <class R>
std::string failure_text(const R& r) { return r ? std::string{} : r.error().what(); }

#define AGT_REQUIRE_OK(expr)                     \
    do {                                         \
        const auto& agt_r_ = (expr);             \
        INFO(failure_text(agt_r_));              \
        REQUIRE(agt_r_.has_value());             \
    } while (0)

using clock_type = std::chrono::steady_clock;
double secs_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

const testbed::host& host_named(std::string_view name) {
    for (auto& h : test::shared_testbed().hosts())
        if (h.name == name) return h;
    FAIL("the shared testbed has no host " << name);
    throw std::logic_error("unreachable");
}

std::string token() {
    auto t = test::shared_testbed().agent_token();
    if (!t)
        FAIL("the shared testbed runs no agents (" << t.error().what() << "); bring it up with `migrate-testbed up --name "
                                                   << test::shared_testbed_name() << " --hosts 2 --replace --agents`");
    return *t;
}

edge_host edge(const testbed::host& h) {
    edge_host e;
    e.name = h.name;
    e.address = h.address;
    e.runtime = std::make_shared<docker::engine>(docker::engine_options{.socket = h.socket});
    e.work_dir = h.work_dir;
    e.agent = h.agent;
    return e;
}

std::shared_ptr<transport> agent_transport(std::chrono::milliseconds stall = 10s) {
    agent::agent_transport_options o;
    o.token = token();
    o.stall_timeout = stall;
    o.progress_interval = 100ms;
    auto t = agent::make_agent_transport(o);
    AGT_REQUIRE_OK(t);
    return *t;
}

docker::engine engine_of(std::string_view host) { return docker::engine({.socket = host_named(host).socket}); }

// The test data: a deterministic blob (not zeros), so its SHA-256 can be checked inside a
// container on the target.
constexpr std::uint64_t blob_bytes = 48ull << 20;
const char* const src_image = "agt-test/blob:1";
const char* const src_container = "agt-src";
const char* const marker = "moved by the agents";


std::string blob_sha256() {
    test::noise_source src(blob_bytes);
    agent::stream_hash h;
    std::vector<std::byte> buf(1 << 20);
    for (;;) {
        auto n = src.read(buf);
        if (!n || *n == 0) break;
        h.update(std::span<const std::byte>(buf.data(), *n));
    }
    return agent::to_hex(h.finish());
}

// Container `agt-src` on host a (created, not started) from an image holding busybox, a
// marker file and the 48 MiB blob: its filesystem export is ~50 MB.
void ensure_source_container() {
    auto a = engine_of("a");
    if (a.inspect(src_container)) return;
    if (!a.inspect_image(src_image)) {
        auto recipe = image::busybox_recipe();
        recipe.rootfs.files.push_back({"/etc/agent-marker", std::string(marker) + "\n"});
        recipe.rootfs.generated.push_back({"/data/blob", blob_bytes, [] { return std::make_unique<test::noise_source>(blob_bytes); }});
        AGT_REQUIRE_OK(image::build_image(a, recipe.rootfs, src_image, recipe.changes));
    }
    AGT_REQUIRE_OK(a.create({.name = src_container, .image = src_image, .cmd = {"/bin/sh"}}));
}

void remove_image_everywhere(const std::string& ref) {
    for (auto h : {"a", "b"}) {
        auto e = engine_of(h);
        (void)e.remove("agt-check", true);
        (void)e.remove_image(ref, true);
    }
}

// Runs a container of `image` on host b whose command checks the marker and the blob's
// SHA-256 and exits 42 when both are right.
int check_image_on_b(const std::string& image) {
    auto b = engine_of("b");
    (void)b.remove("agt-check", true);
    auto script = fmt::format("grep -qx '{}' /etc/agent-marker && /bin/busybox sha256sum /data/blob | grep -q '^{} ' && exit 42; exit 3",
                              marker, blob_sha256());
    auto id = b.create({.name = "agt-check", .image = image, .cmd = {"/bin/sh", "-c", script}});
    AGT_REQUIRE_OK(id);
    AGT_REQUIRE_OK(b.start(*id));
    for (int i = 0; i < 200; ++i) {
        auto info = b.inspect(*id);
        AGT_REQUIRE_OK(info);
        if (!info->running && info->status == "exited") {
            (void)b.remove(*id, true);
            return info->exit_code;
        }
        std::this_thread::sleep_for(50ms);
    }
    FAIL("the check container on b did not exit within 10 s");
    return -1;
}

// Restores the link and the profile whatever happens in a test.
struct link_guard {
    std::string veth;
    bool congested = false;
    ~link_guard() {
        if (!veth.empty()) (void)detail::run({"ip", "link", "set", veth, "up"});
        if (congested) {
            auto tb = testbed::testbed::open(test::shared_testbed_name());
            if (tb) (void)tb->set_profile(testbed::link_profile::normal);
        }
    }
};

void set_profile(testbed::link_profile p) {
    auto tb = testbed::testbed::open(test::shared_testbed_name());
    AGT_REQUIRE_OK(tb);
    AGT_REQUIRE_OK(tb->set_profile(p));
}

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds limit) {
    auto until = clock_type::now() + limit;
    while (clock_type::now() < until) {
        if (p()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return p();
}

// A man in the middle on the client side of the testbed: forwards one agent connection to
// the real target agent, parsing the frames, and flips one bit in the middle of the stream,
// as a faulty link or middlebox would.
class flipping_proxy {
public:
    flipping_proxy(const std::string& bind_address, const agent::endpoint& target) : target_(target) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        ::inet_pton(AF_INET, bind_address.c_str(), &a.sin_addr);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listen_fd_, 1) == 0);
        socklen_t len = sizeof a;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
        address_ = fmt::format("{}:{}", bind_address, ntohs(a.sin_port));
        thread_ = std::thread([this] { run(); });
    }
    ~flipping_proxy() {
        ::shutdown(listen_fd_, SHUT_RDWR);
        for (int fd : {in_fd_.load(), out_fd_.load()})
            if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        for (int fd : {listen_fd_, in_fd_.load(), out_fd_.load()})
            if (fd >= 0) ::close(fd);
    }
    const std::string& address() const { return address_; }
    bool flipped() const { return flipped_; }

private:
    static bool read_n(int fd, char* p, std::size_t n) {
        while (n) {
            auto k = ::recv(fd, p, n, 0);
            if (k <= 0) return false;
            p += k;
            n -= static_cast<std::size_t>(k);
        }
        return true;
    }
    static bool write_n(int fd, const char* p, std::size_t n) {
        while (n) {
            auto k = ::send(fd, p, n, MSG_NOSIGNAL);
            if (k <= 0) return false;
            p += k;
            n -= static_cast<std::size_t>(k);
        }
        return true;
    }
    void run() {
        int in = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (in < 0) return;
        in_fd_ = in;
        int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        out_fd_ = out;
        sockaddr_in t{};
        t.sin_family = AF_INET;
        t.sin_port = htons(target_.port);
        ::inet_pton(AF_INET, target_.host.c_str(), &t.sin_addr);
        if (::connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) != 0) return;
        // Replies flow back untouched.
        std::thread back([in, out] {
            char buf[65536];
            for (;;) {
                auto k = ::recv(out, buf, sizeof buf, 0);
                if (k <= 0 || !write_n(in, buf, static_cast<std::size_t>(k))) break;
            }
            ::shutdown(in, SHUT_WR);
        });
        std::uint64_t seen = 0;
        for (;;) {
            std::array<std::byte, agent::frame_header_bytes> h{};
            if (!read_n(in, reinterpret_cast<char*>(h.data()), h.size())) break;
            auto d = agent::decode_frame_header(h);
            if (!d) break;
            std::string payload(d->length, '\0');
            if (!read_n(in, payload.data(), payload.size())) break;
            if (d->type == agent::frame_type::data) {
                // One bit, about 20 MB into the stream: inside the blob's file content, which
                // no tar or image format checks.
                if (!flipped_ && seen + payload.size() > (20u << 20)) {
                    payload[payload.size() / 2] ^= 0x01;
                    flipped_ = true;
                }
                seen += payload.size();
            }
            if (!write_n(out, reinterpret_cast<const char*>(h.data()), h.size()) || !write_n(out, payload.data(), payload.size()))
                break;
        }
        ::shutdown(out, SHUT_WR);
        back.join();
    }

    agent::endpoint target_;
    int listen_fd_ = -1;
    std::atomic<int> in_fd_{-1}, out_fd_{-1};
    std::string address_;
    std::atomic<bool> flipped_{false};
    std::thread thread_;
};

// Prints a measured figure for docs/agent.md (ctest -V shows it).
void figure(const std::string& what) { std::cout << "[agent figure] " << what << std::endl; }

}  // namespace

TEST_CASE("agent: every testbed host runs an agent that answers with the token", "[agent]") {
    auto& tb = test::shared_testbed();
    auto tok = token();
    struct stat st {};
    REQUIRE(::stat(tb.agent_token_file().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    for (auto& h : tb.hosts()) {
        INFO("host " << h.name);
        REQUIRE_FALSE(h.agent.empty());
        auto c = agent::agent_client::make(h.agent, {.token = tok});
        AGT_REQUIRE_OK(c);
        auto pong = c->ping();
        AGT_REQUIRE_OK(pong);
        CHECK((*pong)["name"] == h.name);
        CHECK((*pong)["work_dir"] == h.work_dir.string());
        CHECK((*pong)["docker"]["answering"] == true);
    }
    auto status = tb.status();
    CHECK(status["agent_token_file"] == tb.agent_token_file().string());
    for (auto& h : status["hosts"]) {
        CHECK(h["agent_alive"] == true);
        CHECK(h["agent_answering"] == true);
    }
    CHECK(status.dump().find(tok) == std::string::npos);
}

TEST_CASE("agent: a real container export relayed from a's dockerd into an image on b works there", "[agent][docker]") {
    ensure_source_container();
    const std::string agent_ref = "agt-test/moved:1", local_ref = "agt-test/moved-local:1";
    remove_image_everywhere(agent_ref);
    remove_image_everywhere(local_ref);
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    auto produce = artifacts::container_fs(src_container);

    std::vector<std::uint64_t> progress;
    auto st = agent_transport()->transfer(a, produce, b, artifacts::image_from_fs(agent_ref, {"CMD [\"/bin/sh\"]"}),
                                          [&](std::uint64_t n) { progress.push_back(n); });
    AGT_REQUIRE_OK(st);
    CHECK(st->bytes > blob_bytes);
    CHECK(st->sha256.size() == 64);
    CHECK_THAT(st->consumed.value("image_id", std::string{}), Catch::StartsWith("sha256:"));
    CHECK(std::is_sorted(progress.begin(), progress.end()));
    auto img = b.runtime->inspect_image(agent_ref);
    AGT_REQUIRE_OK(img);
    CHECK(img->id == st->consumed["image_id"]);
    CHECK(check_image_on_b(agent_ref) == 42);  // the marker and the blob's SHA-256, inside a container on b

    // The same export through the in-process transport, in the same run, for comparison.
    auto lt = make_local_transport()->transfer(a, produce, b, artifacts::image_from_fs(local_ref, {"CMD [\"/bin/sh\"]"}));
    AGT_REQUIRE_OK(lt);
    CHECK(lt->bytes == st->bytes);
    figure(fmt::format("container export {:.1f} MB a -> b image import, normal link: agent relay {:.2f} s ({:.0f} Mbit/s), "
                       "local transport {:.2f} s ({:.0f} Mbit/s)",
                       st->bytes / 1e6, st->seconds, st->mbps(), lt->seconds, lt->mbps()));
    remove_image_everywhere(agent_ref);
    remove_image_everywhere(local_ref);
}

TEST_CASE("agent: a stream corrupted in transit between two agents is refused and leaves no image", "[agent][docker]") {
    ensure_source_container();
    const std::string ref = "agt-test/corrupt:1";
    remove_image_everywhere(ref);
    auto& tb = test::shared_testbed();
    auto target = agent::parse_endpoint(host_named("b").agent);
    AGT_REQUIRE_OK(target);
    flipping_proxy proxy(tb.client_address(), *target);

    auto c = agent::agent_client::make(host_named("a").agent, {.token = token()});
    AGT_REQUIRE_OK(c);
    auto st = c->relay(artifacts::container_fs(src_container), proxy.address(), artifacts::image_from_fs(ref));
    CHECK(proxy.flipped());
    REQUIRE_FALSE(st);
    INFO(st.error().what());
    CHECK(st.error().code == make_error_code(error::corrupt_artifact));
    CHECK_THAT(st.error().message, Catch::Contains("does not match its trailer"));
    CHECK_FALSE(engine_of("b").inspect_image(ref));
}

TEST_CASE("agent: a wrong token is refused by a real agent and nothing is done", "[agent][docker]") {
    ensure_source_container();
    const std::string ref = "agt-test/badtoken:1";
    remove_image_everywhere(ref);
    auto c = agent::agent_client::make(host_named("a").agent, {.token = "0000000000000000-not-the-token"});
    AGT_REQUIRE_OK(c);
    auto st = c->relay(artifacts::container_fs(src_container), host_named("b").agent, artifacts::image_from_fs(ref));
    REQUIRE_FALSE(st);
    CHECK(st.error().code == make_error_code(error::permission_denied));
    CHECK_THAT(st.error().message, Catch::Contains("token is missing or wrong; nothing was done"));
    CHECK_FALSE(engine_of("b").inspect_image(ref));
    // And the transport with a wrong token says which hosts it was moving between.
    auto t = agent::make_agent_transport({.token = "0000000000000000-not-the-token"});
    AGT_REQUIRE_OK(t);
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    auto r = (*t)->transfer(a, artifacts::container_fs(src_container), b, artifacts::image_from_fs(ref));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("from a (" + a.agent + ") to b (" + b.agent + ")"));
}

TEST_CASE("agent: rate of a ~50 MB export relayed a -> b, congested vs normal link", "[agent][docker]") {
    ensure_source_container();
    link_guard guard;
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    const std::string staged = "agt-rate/export.tar";
    auto run = [&] {
        auto st = agent_transport()->transfer(a, artifacts::container_fs(src_container), b, artifacts::file(staged));
        AGT_REQUIRE_OK(st);
        CHECK(fs::file_size(b.work_dir / staged) == st->bytes);
        fs::remove_all(b.work_dir / "agt-rate");
        return *st;
    };
    auto normal = run();
    set_profile(testbed::link_profile::congested);
    guard.congested = true;
    auto congested = run();
    figure(fmt::format("container export {:.1f} MB a -> b staged as a file: normal {:.2f} s = {:.0f} Mbit/s, "
                       "congested {:.2f} s = {:.1f} Mbit/s",
                       normal.bytes / 1e6, normal.seconds, normal.mbps(), congested.seconds, congested.mbps()));
    CHECK(congested.bytes > 45'000'000);
    CHECK(congested.mbps() > 80);    // HTB 100 Mbit on the link; TCP/IP headers take ~4 %
    CHECK(congested.mbps() < 101);
    CHECK(normal.mbps() > 3 * congested.mbps());
}

TEST_CASE("agent: the target's link going down mid-transfer fails in bounded time and leaves nothing on b", "[agent][docker]") {
    ensure_source_container();
    link_guard guard;
    set_profile(testbed::link_profile::congested);  // ~4.5 s for the export: time to cut it
    guard.congested = true;
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    const std::string veth = host_named("b").netns;  // the root-side end of b's link
    const auto stall = 2000ms;
    bool cut_ok = false;

    auto cut_after = [&](std::uint64_t bytes, std::atomic<bool>& cut, std::atomic<std::int64_t>& cut_at) {
        return [&, bytes](std::uint64_t n) {
            if (n >= bytes && !cut.exchange(true)) {
                guard.veth = veth;
                cut_ok = detail::run_checked({"ip", "link", "set", veth, "down"}).has_value();
                cut_at = clock_type::now().time_since_epoch().count();
            }
        };
    };
    auto check_failure = [&](const result<transfer_stats>& st, std::atomic<std::int64_t>& cut_at) {
        auto failed_after = secs_since(clock_type::time_point(clock_type::duration(cut_at.load())));
        REQUIRE_FALSE(st);
        INFO(st.error().what());
        CHECK(st.error().code == make_error_code(error::timeout));
        CHECK_THAT(st.error().message, Catch::Contains("from a (" + a.agent + ") to b (" + b.agent + ")"));
        CHECK(failed_after < 2.0 + 3.0);  // the stall limit plus the heartbeat and slack
        figure(fmt::format("link to b cut mid-transfer: the transfer failed {:.1f} s later (stall limit 2 s)", failed_after));
    };

    SECTION("staged as a file: the partial file is removed") {
        const std::string staged = "agt-cut/export.tar";
        fs::remove_all(b.work_dir / "agt-cut");
        std::atomic<bool> cut{false};
        std::atomic<std::int64_t> cut_at{0};
        auto st = agent_transport(stall)->transfer(a, artifacts::container_fs(src_container), b, artifacts::file(staged),
                                                   cut_after(10u << 20, cut, cut_at));
        REQUIRE(cut);
        REQUIRE(cut_ok);
        check_failure(st, cut_at);
        // b's agent notices on its own (its read stalls as long) and removes the partial file.
        CHECK(wait_until([&] { return !fs::exists(b.work_dir / staged); }, 5s));
    }
    SECTION("imported as an image: no image appears on b") {
        const std::string ref = "agt-test/cut:1";
        remove_image_everywhere(ref);
        std::atomic<bool> cut{false};
        std::atomic<std::int64_t> cut_at{0};
        auto st = agent_transport(stall)->transfer(a, artifacts::container_fs(src_container), b, artifacts::image_from_fs(ref),
                                                   cut_after(10u << 20, cut, cut_at));
        REQUIRE(cut);
        REQUIRE(cut_ok);
        check_failure(st, cut_at);
        REQUIRE(detail::run_checked({"ip", "link", "set", veth, "up"}));
        std::this_thread::sleep_for(3s);  // longer than b's own stall limit: it has given up
        CHECK_FALSE(engine_of("b").inspect_image(ref));
    }
    // The link comes back and both agents serve again.
    REQUIRE(detail::run_checked({"ip", "link", "set", veth, "up"}));
    for (auto h : {"a", "b"}) {
        auto c = agent::agent_client::make(host_named(h).agent, {.token = token()});
        AGT_REQUIRE_OK(c);
        INFO("host " << h);
        CHECK(wait_until([&] { return c->ping().has_value(); }, 5s));
    }
}

TEST_CASE("agent: a driver's stop cancels a relay and b removes the partial file", "[agent][docker]") {
    ensure_source_container();
    link_guard guard;
    set_profile(testbed::link_profile::congested);
    guard.congested = true;
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    const std::string staged = "agt-stop/export.tar";
    fs::remove_all(b.work_dir / "agt-stop");
    std::stop_source stop;
    clock_type::time_point stopped_at{};
    auto st = agent_transport()->transfer(a, artifacts::container_fs(src_container), b, artifacts::file(staged),
                                          [&](std::uint64_t n) {
                                              if (n >= (8u << 20) && !stop.stop_requested()) {
                                                  stopped_at = clock_type::now();
                                                  stop.request_stop();
                                              }
                                          },
                                          stop.get_token());
    REQUIRE(stop.stop_requested());
    REQUIRE_FALSE(st);
    CHECK(st.error().code == make_error_code(error::cancelled));
    CHECK(secs_since(stopped_at) < 1.0);
    CHECK(wait_until([&] { return !fs::exists(b.work_dir / staged); }, 3s));
}

TEST_CASE("agent: a testbed with agents comes down without leaving an agent behind, also without its state file", "[agent][testbed]") {
    const std::string name = "magt";
    (void)testbed::testbed::down(name);
    struct down_at_exit {
        std::string name;
        ~down_at_exit() { (void)testbed::testbed::down(name); }
    } guard{name};
    testbed::testbed_options o;
    o.name = name;
    o.hosts = 2;
    o.agent_binary = MIGRATE_AGENT_TOOL;
    o.agent_port = 7171;
    const auto state_dir = o.state_root / name;
    auto agents_running = [&] {
        int n = 0;
        std::error_code ec;
        for (auto& e : fs::directory_iterator("/proc", ec)) {
            std::ifstream in(e.path() / "cmdline");
            std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (cmd.find((state_dir / "agent.token").string()) != std::string::npos) ++n;
        }
        return n;
    };

    for (bool lose_state : {false, true}) {
        INFO("state file lost: " << lose_state);
        auto tb = testbed::testbed::up(o);
        AGT_REQUIRE_OK(tb);
        CHECK(agents_running() == 2);
        for (auto& h : tb->hosts()) {
            CHECK(h.agent == h.address + ":7171");
            auto c = agent::agent_client::make(h.agent, {.token = *tb->agent_token()});
            AGT_REQUIRE_OK(c);
            CHECK(c->ping());
        }
        if (lose_state) fs::remove(state_dir / "state.json");  // as after a crash
        AGT_REQUIRE_OK(testbed::testbed::down(name));
        CHECK(agents_running() == 0);
        CHECK_FALSE(fs::exists(state_dir));
    }
}

TEST_CASE("agent: the export_import strategy moves a container with a volume a -> b through the agents", "[agent][docker]") {
    auto ea = engine_of("a"), eb = engine_of("b");
    if (!ea.inspect_image("agt-test/busybox:1")) {
        auto r = image::busybox_recipe();
        AGT_REQUIRE_OK(image::build_image(ea, r.rootfs, "agt-test/busybox:1", r.changes));
    }
    for (auto* e : {&ea, &eb}) {
        (void)e->remove("agt-mover", true);
        (void)e->remove_volume("agt-mover-data", true);
    }
    AGT_REQUIRE_OK(ea.create_volume("agt-mover-data", {}));
    container_spec spec{.name = "agt-mover",
                        .image = "agt-test/busybox:1",
                        .cmd = {"/bin/sh", "-c", "echo moved-by-agents > /fs-mark; echo 17 > /data/count; exec sleep 3600"}};
    spec.mounts.push_back({mount_spec::kind::volume, "agt-mover-data", "/data"});
    auto id = ea.create(spec);
    AGT_REQUIRE_OK(id);
    AGT_REQUIRE_OK(ea.start(*id));
    std::this_thread::sleep_for(500ms);

    auto m = make_migrator("export_import");
    AGT_REQUIRE_OK(m);
    migration_request req;
    req.source = edge(host_named("a"));
    req.target = edge(host_named("b"));
    req.container = "agt-mover";
    req.transport = agent_transport();
    auto p = (*m)->prepare(req);
    AGT_REQUIRE_OK(p);
    auto rep = (*m)->relocate(*p);
    AGT_REQUIRE_OK(rep);
    INFO(rep->to_text());
    REQUIRE(rep->success);
    CHECK(rep->details["transport"] == "agent");
    REQUIRE(rep->details["transfers"].size() >= 2);  // the filesystem and the volume
    for (auto& t : rep->details["transfers"]) CHECK(t["stats"]["sha256"].get<std::string>().size() == 64);

    auto moved = eb.inspect("agt-mover");
    AGT_REQUIRE_OK(moved);
    CHECK(moved->running);
    // The filesystem write and the volume's content arrived on b.
    const auto scratch = fs::path("/var/tmp") / fmt::format("migrate-agent-test-{}", ::getpid());
    fs::create_directories(scratch);
    {
        auto sink = file_sink(scratch / "fs.tar");
        AGT_REQUIRE_OK(eb.export_container("agt-mover", *sink));
        AGT_REQUIRE_OK(sink->close());
        auto vsink = file_sink(scratch / "vol.tar");
        AGT_REQUIRE_OK(eb.export_volume("agt-mover-data", *vsink));
        AGT_REQUIRE_OK(vsink->close());
    }
    auto mark = detail::run_checked({"tar", "-xOf", (scratch / "fs.tar").string(), "fs-mark"});
    auto count = detail::run_checked({"tar", "-xOf", (scratch / "vol.tar").string(), "./count"});
    fs::remove_all(scratch);
    AGT_REQUIRE_OK(mark);
    CHECK(*mark == "moved-by-agents\n");
    AGT_REQUIRE_OK(count);
    CHECK(*count == "17\n");
    for (auto* e : {&ea, &eb}) {
        (void)e->remove("agt-mover", true);
        (void)e->remove_volume("agt-mover-data", true);
    }
}

namespace {
// /tmp/n of a container, read through `docker export` (any state).
int read_counter(docker::engine& e, const std::string& container, const fs::path& scratch) {
    auto tar = scratch / (container + ".tar");
    {
        auto sink = file_sink(tar);
        AGT_REQUIRE_OK(e.export_container(container, *sink));
        AGT_REQUIRE_OK(sink->close());
    }
    auto n = detail::run_checked({"tar", "-xOf", tar.string(), "tmp/n"});
    fs::remove(tar);
    AGT_REQUIRE_OK(n);
    return std::stoi(*n);
}
}  // namespace

TEST_CASE("agent: an image and a CRIU checkpoint move a -> b through the agents and the process resumes on b", "[agent][criu]") {
    auto ea = engine_of("a"), eb = engine_of("b");
    const std::string img = "agt-test/counter:1", name = "agt-counter", ck = "agt-ck";
    if (!ea.inspect_image(img)) {
        auto r = image::busybox_recipe();
        AGT_REQUIRE_OK(image::build_image(ea, r.rootfs, img, r.changes));
    }
    (void)ea.remove(name, true);
    (void)eb.remove(name, true);
    (void)eb.remove_image(img, true);
    container_spec spec{.name = name,
                        .image = img,
                        .cmd = {"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"}};
    auto id = ea.create(spec);
    AGT_REQUIRE_OK(id);
    AGT_REQUIRE_OK(ea.start(*id));
    std::this_thread::sleep_for(1500ms);
    auto a = edge(host_named("a")), b = edge(host_named("b"));
    auto t = agent_transport();

    // The image, as `docker save` -> `docker load`, agent to agent.
    auto im = t->transfer(a, artifacts::images({img}), b, artifacts::images({}));
    AGT_REQUIRE_OK(im);
    CHECK(im->consumed["loaded"].dump().find(img) != std::string::npos);
    AGT_REQUIRE_OK(eb.inspect_image(img));
    auto bid = eb.create(spec);
    AGT_REQUIRE_OK(bid);

    // The checkpoint (the dump stops the process on a), agent to agent, then restore on b.
    AGT_REQUIRE_OK(ea.create_checkpoint(*id, {ck, true}));
    const auto scratch = fs::path("/var/tmp") / fmt::format("migrate-agent-criu-{}", ::getpid());
    fs::create_directories(scratch);
    const int at_dump = read_counter(ea, name, scratch);
    auto cp = t->transfer(a, artifacts::checkpoint(name, ck), b, artifacts::checkpoint(name, ck));
    AGT_REQUIRE_OK(cp);
    CHECK(cp->bytes > 0);
    auto listed = eb.list_checkpoints(*bid);
    AGT_REQUIRE_OK(listed);
    CHECK(std::find(listed->begin(), listed->end(), ck) != listed->end());
    AGT_REQUIRE_OK(eb.start_from_checkpoint(*bid, ck));
    std::this_thread::sleep_for(300ms);
    auto now = eb.inspect(*bid);
    AGT_REQUIRE_OK(now);
    CHECK(now->running);
    // The shell's counter continues from where it was dumped (a fresh start would be at ~6).
    const int on_b = read_counter(eb, name, scratch);
    fs::remove_all(scratch);
    INFO("counter at the dump " << at_dump << ", on b 300 ms after the restore " << on_b);
    CHECK(at_dump >= 15);
    CHECK(on_b > at_dump);
    (void)ea.remove(name, true);
    (void)eb.remove(name, true);
}
