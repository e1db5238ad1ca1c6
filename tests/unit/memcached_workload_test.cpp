// Runs a real memcached on loopback (from Debian's package) to check the workload client.
#include <migrate/detail/process.hpp>
#include <migrate/workload/memcached.hpp>

#include <catch2/catch.hpp>

#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace migrate;
using namespace std::chrono_literals;

namespace {
struct local_memcached {
    int pid = 0;
    std::uint16_t port;
    explicit local_memcached(std::uint16_t p) : port(p) {
        auto r = detail::spawn_daemon({"memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", std::to_string(p),
                                       "-U", std::to_string(p), "-m", "64"},
                                      "/tmp/migrate-unit-memcached.log");
        REQUIRE(r);
        pid = *r;
        for (int i = 0; i < 100; ++i) {
            if (workload::memcached_client::connect("127.0.0.1", port, 200ms)) return;
            std::this_thread::sleep_for(20ms);
        }
        FAIL("memcached did not start on 127.0.0.1:" << port);
    }
    ~local_memcached() { detail::kill_and_wait(pid); }
};
}  // namespace

TEST_CASE("the data set is deterministic and distinct per key", "[memcached]") {
    workload::memcached_dataset ds{.prefix = "k", .items = 10, .value_size = 64};
    CHECK(ds.key(3) == "k:00000003");
    CHECK(ds.value(3) == ds.value(3));
    CHECK(ds.value(3) != ds.value(4));
    CHECK(ds.value(3).size() == 64);
}

TEST_CASE("load and verify a data set against a real memcached", "[memcached]") {
    local_memcached mc{21911};
    auto c = workload::memcached_client::connect("127.0.0.1", mc.port);
    REQUIRE(c);
    workload::memcached_dataset ds{.prefix = "unit", .items = 1500, .value_size = 300};
    REQUIRE(c->load(ds));
    auto n = c->count_intact(ds);
    REQUIRE(n);
    CHECK(*n == 1500);

    // A changed value is not counted as intact.
    REQUIRE(c->set(ds.key(7), "tampered"));
    CHECK(*c->count_intact(ds) == 1499);
    auto v = c->get(ds.key(8));
    REQUIRE(v);
    CHECK(v->value() == ds.value(8));
    CHECK_FALSE(c->get("absent-key")->has_value());

    // The UDP probe sees the right value, and not a wrong one.
    CHECK(workload::memcached_udp_get("127.0.0.1", mc.port, ds.key(8), ds.value(8), 500ms));
    CHECK_FALSE(workload::memcached_udp_get("127.0.0.1", mc.port, ds.key(8), "nope", 500ms));
}

TEST_CASE("the UDP version probe: an empty memcached answers, nothing or another server does not", "[memcached]") {
    local_memcached mc{21913};
    CHECK(workload::memcached_udp_version("127.0.0.1", mc.port, 500ms));   // holds no key at all
    CHECK_FALSE(workload::memcached_udp_version("127.0.0.1", 1, 100ms));
    CHECK_FALSE(workload::memcached_udp_version("not-an-address", mc.port, 100ms));

    // A UDP server that answers with the right request id but not a version line.
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
    socklen_t len = sizeof at;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &len) == 0);
    std::thread other([fd] {
        char buf[512];
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        auto n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n < 8) return;
        std::string answer(buf, 8);
        answer += "ERROR\r\n";
        ::sendto(fd, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    });
    CHECK_FALSE(workload::memcached_udp_version("127.0.0.1", ntohs(at.sin_port), 1000ms));
    other.join();
    ::close(fd);
}

TEST_CASE("connecting to nothing says where", "[memcached]") {
    auto c = workload::memcached_client::connect("127.0.0.1", 1, 500ms);
    REQUIRE_FALSE(c);
    CHECK(c.error_code() == condition::unavailable);
    CHECK_THAT(c.error().message, Catch::Contains("127.0.0.1:1"));
    CHECK_FALSE(workload::memcached_udp_get("127.0.0.1", 1, "k", "v", 100ms));
}

TEST_CASE("stats and wait_settled: a freshly loaded data set is static once the LRU maintainer is done",
          "[memcached]") {
    local_memcached mc{21913};
    auto c = workload::memcached_client::connect("127.0.0.1", mc.port);
    REQUIRE(c);
    workload::memcached_dataset ds{.prefix = "settle", .items = 3000, .value_size = 512};
    REQUIRE(c->load(ds));
    auto t0 = std::chrono::steady_clock::now();
    auto settled = c->wait_settled(10s);
    INFO((settled ? std::string{} : settled.error().what()));
    REQUIRE(settled);
    auto st = c->stats("items");
    REQUIRE(st);
    std::uint64_t items = 0, hot = 0;
    for (auto& [k, v] : *st) {
        if (k.size() > 7 && k.compare(k.size() - 7, 7, ":number") == 0) items += v;
        if (k.find(":number_hot") != std::string::npos) hot += v;
    }
    CHECK(items == 3000);
    CHECK(hot == 0);   // every item left the HOT segment
    CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);   // at least the quiet period
    auto general = c->stats();
    REQUIRE(general);
    CHECK(general->at("curr_items") == 3000);
    CHECK_FALSE(general->count("version"));   // not numeric: left out
}
