// The edge testbed against the real kernel and real dockerd: every case brings up its OWN
// small testbed (not the shared one), checks it, takes it down and proves nothing is left.
// Needs root. Whole file: about 15 s.
#include <migrate/detail/process.hpp>
#include <migrate/testbed/testbed.hpp>

#include <catch2/catch.hpp>

#include "../require_ok.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <csignal>

using namespace migrate;
using namespace migrate::testbed;
namespace fs = std::filesystem;

namespace {

testbed_options small(const std::string& name, int hosts = 2) {
    testbed_options o;
    o.name = name;
    o.hosts = hosts;
    return o;
}

// Takes the testbed down at scope exit, so a failed REQUIRE leaves nothing behind.
struct down_at_exit {
    std::string name;
    ~down_at_exit() { (void)testbed::testbed::down(name); }
};

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ICMP echo with busybox from the root namespace (netns empty) or from inside a host.
bool ping(const std::string& netns, const std::string& address) {
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"nsenter", "--net=/run/netns/" + netns};
    argv.insert(argv.end(), {"/bin/busybox", "ping", "-c1", "-W2", address});
    auto r = detail::run(argv, {std::chrono::seconds(5), {}, {}});
    return r && r->exit_code == 0;
}

// Everything of testbed `name` still on the machine, one line each (empty = clean).
std::vector<std::string> leftovers(const std::string& name) {
    testbed_options d;
    const std::string state_dir = (d.state_root / name).string();
    const std::string data_dir = (d.data_root / name).string();
    auto ours = [&](const std::string& obj) {
        return obj.size() == name.size() + 2 && obj.rfind(name + "-", 0) == 0;
    };
    std::vector<std::string> left;
    std::error_code ec;
    for (auto& e : fs::directory_iterator("/run/netns", ec))
        if (ours(e.path().filename().string()) || e.path().filename().string() == name + "-br")
            left.push_back("namespace " + e.path().filename().string());
    for (auto& e : fs::directory_iterator("/sys/class/net", ec))
        if (ours(e.path().filename().string()))
            left.push_back("link " + e.path().filename().string());
    for (auto& e : fs::directory_iterator("/proc", ec)) {
        auto cmd = read_text(e.path() / "cmdline");
        std::replace(cmd.begin(), cmd.end(), '\0', ' ');
        if (cmd.find(state_dir + "/") != std::string::npos || cmd.find(data_dir + "/") != std::string::npos ||
            cmd.find("--cgroup-parent=/" + name + "-") != std::string::npos)
            left.push_back("process " + e.path().filename().string() + ": " + cmd.substr(0, 120));
    }
    std::istringstream mounts(read_text("/proc/self/mountinfo"));
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream ls(line);
        std::string id, parent, dev, root, mp;
        ls >> id >> parent >> dev >> root >> mp;
        if (mp.rfind(state_dir, 0) == 0 || mp.rfind(data_dir, 0) == 0) left.push_back("mount " + mp);
    }
    for (auto& ctrl : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        std::error_code ec2;
        for (auto& e : fs::directory_iterator(ctrl.path(), ec2))
            if (e.is_directory(ec2) && ours(e.path().filename().string())) left.push_back("cgroup " + e.path().string());
    }
    for (auto& dir : {state_dir, data_dir})
        if (fs::exists(dir)) left.push_back("directory " + dir);
    return left;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += x + "\n";
    return s;
}

#define REQUIRE_CLEAN(name)                  \
    do {                                     \
        auto left_ = leftovers(name);        \
        INFO("left behind:\n" << join(left_)); \
        REQUIRE(left_.empty());              \
    } while (0)

}  // namespace

TEST_CASE("testbed: up, reach, down leaves nothing behind", "[testbed]") {
    const std::string name = "mlk";
    REQUIRE_OK(testbed::testbed::down(name));
    down_at_exit guard{name};
    auto t0 = std::chrono::steady_clock::now();
    auto tb = testbed::testbed::up(small(name));
    REQUIRE_OK(tb);
    auto up_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN("up of 2 hosts: " << up_s << " s");

    auto st = tb->status();
    INFO(st.dump(2));
    CHECK(st["up"] == true);
    REQUIRE(st["hosts"].size() == 2);
    for (auto& h : st["hosts"]) {
        CHECK(h["daemon_answering"] == true);
        CHECK(h["dockerd_alive"] == true);
    }
    auto a = tb->find("a");
    auto b = tb->find("b");
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    CHECK(ping("", a->address));                       // root ns -> host
    CHECK(ping(a->netns, b->address));                 // host -> host, across the bridge
    CHECK(ping(b->netns, tb->client_address()));       // host -> root ns
    CHECK(fs::exists(a->socket));
    CHECK(fs::is_directory(a->work_dir));
    // Each host's service network: its own /24, its gateway reached from the root namespace
    // through the route via the host's address.
    std::vector<std::string> service_subnets;
    for (auto& h : tb->hosts()) {
        INFO("host " << h.name);
        CHECK(h.service_network == "svc");
        REQUIRE_FALSE(h.service_subnet.empty());
        service_subnets.push_back(h.service_subnet);
        CHECK(ping("", h.service_gateway));
    }
    CHECK(service_subnets[0] != service_subnets[1]);
    CHECK(ping(a->netns, b->service_gateway));         // host -> other host's service network

    // A stray process in a host's namespace must go too.
    auto stray = detail::spawn_daemon({"nsenter", "--net=/run/netns/" + a->netns, "/bin/busybox", "sleep", "300"},
                                      "/dev/null");
    REQUIRE_OK(stray);

    t0 = std::chrono::steady_clock::now();
    REQUIRE_OK(testbed::testbed::down(name));
    WARN("down of 2 hosts: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    CHECK_FALSE(detail::process_alive(*stray));
    REQUIRE_CLEAN(name);
    for (auto& subnet : service_subnets) {              // the routes went with the bridge
        auto routes = detail::run({"ip", "-4", "route", "show", subnet}, {std::chrono::seconds(5), {}, {}});
        REQUIRE_OK(routes);
        CHECK(routes->out.empty());
    }
    // Idempotent: down of an absent testbed succeeds.
    REQUIRE_OK(testbed::testbed::down(name));
    CHECK(testbed::testbed::open(name).error_code() == make_error_code(error::not_found));
}

TEST_CASE("testbed: up with a name in use fails and touches nothing", "[testbed]") {
    const std::string name = "mex";
    REQUIRE_OK(testbed::testbed::down(name));
    down_at_exit guard{name};
    auto tb = testbed::testbed::up(small(name, 1));
    REQUIRE_OK(tb);
    auto state_file = tb->options().state_root / name / "state.json";
    auto before = read_text(state_file);
    int pid = tb->hosts()[0].dockerd_pid;

    auto again = testbed::testbed::up(small(name, 2));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error_code() == make_error_code(error::already_exists));
    CHECK_THAT(again.error().message, Catch::Contains("'mex' is already up"));

    CHECK(read_text(state_file) == before);
    CHECK(detail::process_alive(pid));
    CHECK(tb->status()["up"] == true);
    CHECK_FALSE(fs::exists("/run/netns/mex-b"));
    auto reopened = testbed::testbed::open(name);
    REQUIRE_OK(reopened);
    CHECK(reopened->hosts().size() == 1);

    // replace = true takes the old one down first.
    auto replaced = testbed::testbed::up(small(name, 2), {}, true);
    REQUIRE_OK(replaced);
    CHECK(replaced->hosts().size() == 2);
    CHECK_FALSE(detail::process_alive(pid));
    CHECK(replaced->status()["up"] == true);

    REQUIRE_OK(testbed::testbed::down(name));
    REQUIRE_CLEAN(name);
}

TEST_CASE("testbed: down after a crash cleans up from the name alone", "[testbed]") {
    const std::string name = "mcr";
    REQUIRE_OK(testbed::testbed::down(name));
    down_at_exit guard{name};
    auto tb = testbed::testbed::up(small(name));
    REQUIRE_OK(tb);
    // The crash: daemons die hard (their containerd stays), the state file is lost.
    for (auto& h : tb->hosts()) ::kill(h.dockerd_pid, SIGKILL);
    fs::remove(tb->options().state_root / name / "state.json");
    CHECK(testbed::testbed::open(name).error_code() == make_error_code(error::not_found));
    auto again = testbed::testbed::up(small(name));
    CHECK(again.error_code() == make_error_code(error::already_exists));  // namespaces still there

    REQUIRE_OK(testbed::testbed::down(name));
    REQUIRE_CLEAN(name);
}

TEST_CASE("testbed: congested profile measures ~100 Mbit/s, normal much more", "[testbed]") {
    const std::string name = "mpf";
    REQUIRE_OK(testbed::testbed::down(name));
    down_at_exit guard{name};
    auto o = small(name, 1);
    o.profile = link_profile::congested;
    auto tb = testbed::testbed::up(o);
    REQUIRE_OK(tb);
    auto a = tb->hosts()[0];

    auto congested = tb->measure_throughput_mbps(a, 6u << 20);
    REQUIRE_OK(congested);
    WARN("congested: " << *congested << " Mbit/s");
    CHECK(*congested >= 80);
    CHECK(*congested <= 110);
    auto qd = detail::run_checked({"tc", "qdisc", "show", "dev", a.netns});
    REQUIRE_OK(qd);
    CHECK_THAT(*qd, Catch::Contains("htb"));
    auto qd_in = detail::run_checked({"tc", "-n", a.netns, "qdisc", "show", "dev", "eth0"});
    REQUIRE_OK(qd_in);
    CHECK_THAT(*qd_in, Catch::Contains("htb"));

    REQUIRE_OK(tb->set_profile(link_profile::normal));
    auto normal = tb->measure_throughput_mbps(a, 32u << 20);
    REQUIRE_OK(normal);
    WARN("normal: " << *normal << " Mbit/s");
    CHECK(*normal > 200);
    qd = detail::run_checked({"tc", "qdisc", "show", "dev", a.netns});
    REQUIRE_OK(qd);
    CHECK_THAT(*qd, !Catch::Contains("htb"));

    // The switch and the sample are in the state file, for other processes.
    auto reopened = testbed::testbed::open(name);
    REQUIRE_OK(reopened);
    CHECK(reopened->profile() == link_profile::normal);
    REQUIRE(reopened->measurements().count("a") == 1);
    CHECK(reopened->measurements().at("a").profile == link_profile::normal);
    CHECK(reopened->status()["hosts"][0]["measured"]["mbps"].get<double>() > 200);

    REQUIRE_OK(testbed::testbed::down(name));
    REQUIRE_CLEAN(name);
}

TEST_CASE("testbed: two testbeds at once do not collide", "[testbed]") {
    down_at_exit g1{"mt1"}, g2{"mt2"};
    REQUIRE_OK(testbed::testbed::down("mt1"));
    REQUIRE_OK(testbed::testbed::down("mt2"));
    auto t1 = testbed::testbed::up(small("mt1", 1));
    REQUIRE_OK(t1);
    // Ask for t1's subnet: refused, it is in use.
    auto clash = small("mt2", 1);
    clash.subnet = t1->subnet();
    auto refused = testbed::testbed::up(clash);
    CHECK(refused.error_code() == make_error_code(error::already_exists));
    CHECK_FALSE(fs::exists("/run/netns/mt2-a"));

    auto t2 = testbed::testbed::up(small("mt2", 1));
    REQUIRE_OK(t2);
    CHECK(t1->subnet() != t2->subnet());
    CHECK(t1->hosts()[0].socket != t2->hosts()[0].socket);
    CHECK(t1->status()["up"] == true);
    CHECK(t2->status()["up"] == true);
    CHECK(ping("", t1->hosts()[0].address));
    CHECK(ping("", t2->hosts()[0].address));

    REQUIRE_OK(testbed::testbed::down("mt1"));
    CHECK(t2->status()["up"] == true);  // the other one is untouched
    CHECK(ping("", t2->hosts()[0].address));
    REQUIRE_OK(testbed::testbed::down("mt2"));
    REQUIRE_CLEAN("mt1");
    REQUIRE_CLEAN("mt2");
}
