// The etcd state store against a real single-node etcd started by the test (no testbed
// needed): the conformance suite, what etcdctl sees, a list longer than one page, a server
// that is down, and a watch that outlives a restart of the server without missing a change.
#include "../store_conformance.hpp"
#include "../store_servers.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/store/etcd.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

using namespace migrate;
using namespace std::chrono_literals;

namespace {
std::unique_ptr<state_store> open_etcd(store::etcd_store_options o) {
    auto s = store::make_etcd_store(std::move(o));
    REQUIRE_OK(s);
    return std::move(*s);
}
}  // namespace

TEST_CASE("etcd state store: conformance", "[state_store][etcd]") {
    auto& server = test::shared_etcd_server();
    static int n = 0;
    test::check_state_store_conformance([&] {
        auto s = open_state_store(fmt::format("etcd://{}/conf-{}/", server.address(), n++));
        REQUIRE_OK(s);
        return std::move(*s);
    });
}

TEST_CASE("etcd state store: keys are prefix + key, versions are etcd's mod_revision", "[state_store][etcd]") {
    auto& server = test::shared_etcd_server();
    auto s = open_etcd({.address = server.address(), .prefix = "layout/"});
    auto v = s->put("twin/1", "state");
    REQUIRE_OK(v);
    auto out = detail::run_checked({"etcdctl", "--endpoints", server.address(), "get", "layout/twin/1", "-w", "json"});
    REQUIRE_OK(out);
    auto j = json::parse(*out);
    CHECK(j["kvs"][0]["mod_revision"].get<std::int64_t>() == *v);
    REQUIRE_OK(detail::run_checked({"etcdctl", "--endpoints", server.address(), "put", "layout/twin/1", "edited"}));
    auto got = s->get("twin/1");
    REQUIRE_OK(got);
    CHECK((*got)->value == "edited");
    CHECK((*got)->version > *v);
}

TEST_CASE("etcd state store: list reads every page of one snapshot", "[state_store][etcd]") {
    auto& server = test::shared_etcd_server();
    auto s = open_etcd({.address = server.address(), .prefix = "pages/", .list_page_size = 3});
    for (int i = 0; i < 10; ++i) REQUIRE_OK(s->put(fmt::format("k{:02}", i), std::to_string(i)));
    REQUIRE_OK(s->put("other", "x"));
    auto all = s->list("k");
    REQUIRE_OK(all);
    REQUIRE(all->size() == 10);
    for (int i = 0; i < 10; ++i) CHECK((*all)[i].key == fmt::format("k{:02}", i));
}

TEST_CASE("etcd state store: a server that is down is daemon_unreachable naming its address", "[state_store][etcd]") {
    auto address = fmt::format("127.0.0.1:{}", test::free_port());
    auto r = open_state_store(fmt::format("etcd://{}/x/", address), 500ms);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::daemon_unreachable);
    CHECK_THAT(r.error().message, Catch::Contains(address));

    test::etcd_server server;
    auto s = open_etcd({.address = server.address(), .prefix = "down/", .request_timeout = 2000ms});
    REQUIRE_OK(s->put("k", "v"));
    server.stop();
    auto p = s->put("k", "w");
    REQUIRE_FALSE(p);
    CHECK(p.error_code() == error::daemon_unreachable);
    CHECK_THAT(p.error().message, Catch::Contains(server.address()));
    auto w = s->watch("", [](const state_event&) {});
    CHECK(w.error_code() == error::daemon_unreachable);
}

TEST_CASE("etcd state store: a watch resumes after a restart without missing a change", "[state_store][etcd]") {
    test::etcd_server server;
    auto s = open_etcd({.address = server.address(), .prefix = "restart/"});
    test::event_recorder rec;
    auto w = s->watch("", rec.callback());
    REQUIRE_OK(w);
    REQUIRE_OK(s->put("before", "1"));
    REQUIRE(rec.wait_for(1).size() == 1);
    server.stop();
    server.start();   // same data directory: etcd keeps its history
    REQUIRE_OK(s->put("after", "2"));
    REQUIRE_OK(s->erase("before"));
    auto events = rec.wait_for(3, 15s);
    REQUIRE(events.size() == 3);
    CHECK(events[1].entry.key == "after");
    CHECK(events[2].what == state_event::kind::erase);
    CHECK(events[2].entry.key == "before");
}
