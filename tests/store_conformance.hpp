// The state-store conformance suite: what every backend of migrate::state_store must do,
// run against each of them (memory and file in tests/unit, a real redis-server and etcd in
// tests/integration). `make` returns a new store that starts empty (a fresh directory or key
// prefix) every time it is called; every SECTION calls it.
#pragma once

#include "require_ok.hpp"

#include <migrate/state_store.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace migrate::test {

/// Collects a watch's events; `wait_for(n)` blocks until n arrived (or the time is up).
class event_recorder {
public:
    std::function<void(const state_event&)> callback() {
        return [this](const state_event& e) {
            {
                std::lock_guard lk(mu_);
                events_.push_back(e);
            }
            cv_.notify_all();
        };
    }
    std::vector<state_event> wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, timeout, [&] { return events_.size() >= n; });
        return events_;
    }
    std::vector<state_event> events() {
        std::lock_guard lk(mu_);
        return events_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<state_event> events_;
};

inline std::vector<std::string> keys_of(const std::vector<state_entry>& es) {
    std::vector<std::string> out;
    for (auto& e : es) out.push_back(e.key);
    return out;
}

inline void check_state_store_conformance(const std::function<std::unique_ptr<state_store>()>& make) {
    using namespace std::chrono_literals;
    using kind = state_event::kind;
    auto store = make();
    REQUIRE(store);
    INFO("backend " << store->backend() << " at " << store->location());

    SECTION("get of a missing key is empty; put returns increasing versions") {
        auto missing = store->get("twin/1");
        REQUIRE_OK(missing);
        CHECK_FALSE(missing->has_value());
        auto v1 = store->put("twin/1", "one");
        REQUIRE_OK(v1);
        CHECK(*v1 > 0);
        auto got = store->get("twin/1");
        REQUIRE_OK(got);
        REQUIRE(got->has_value());
        CHECK((*got)->key == "twin/1");
        CHECK((*got)->value == "one");
        CHECK((*got)->version == *v1);
        auto v2 = store->put("twin/1", "two");
        REQUIRE_OK(v2);
        CHECK(*v2 > *v1);
        CHECK(store->get("twin/1")->value().value == "two");
        auto other = store->put("twin/2", "x");
        REQUIRE_OK(other);
        CHECK(store->get("twin/1")->value().version == *v2);   // another key's write leaves it alone
    }

    SECTION("compare-and-set: create if absent, succeed on the version read, conflict otherwise") {
        auto created = store->compare_and_set("cas", "a", 0);
        REQUIRE_OK(created);
        auto again = store->compare_and_set("cas", "b", 0);
        REQUIRE_FALSE(again);
        CHECK(again.error_code() == error::conflict);
        CHECK_THAT(again.error().message, Catch::Contains(std::to_string(*created)));
        auto next = store->compare_and_set("cas", "b", *created);
        REQUIRE_OK(next);
        CHECK(*next > *created);
        auto stale = store->compare_and_set("cas", "c", *created);
        REQUIRE_FALSE(stale);
        CHECK(stale.error_code() == error::conflict);
        CHECK_THAT(stale.error().message, Catch::Contains("version " + std::to_string(*next)));
        CHECK(store->get("cas")->value().value == "b");
        auto absent = store->compare_and_set("nobody", "x", 5);
        REQUIRE_FALSE(absent);
        CHECK(absent.error_code() == error::conflict);
        CHECK_THAT(absent.error().message, Catch::Contains("does not exist"));
        CHECK_FALSE(store->get("nobody")->has_value());
        auto negative = store->compare_and_set("cas", "x", -1);
        CHECK(negative.error_code() == error::invalid_argument);
    }

    SECTION("erase removes the key, says whether it existed, and a rewrite continues above") {
        auto v1 = store->put("gone", "x");
        REQUIRE_OK(v1);
        auto erased = store->erase("gone");
        REQUIRE_OK(erased);
        CHECK(*erased);
        CHECK_FALSE(store->get("gone")->has_value());
        auto twice = store->erase("gone");
        REQUIRE_OK(twice);
        CHECK_FALSE(*twice);
        auto v2 = store->compare_and_set("gone", "back", 0);
        REQUIRE_OK(v2);
        CHECK(*v2 > *v1);
    }

    SECTION("list returns the keys under a prefix, sorted") {
        for (auto k : {"b/2", "a/1", "b/1", "b/10", "c", "b"}) REQUIRE_OK(store->put(k, std::string("v-") + k));
        auto b = store->list("b/");
        REQUIRE_OK(b);
        CHECK(keys_of(*b) == std::vector<std::string>{"b/1", "b/10", "b/2"});
        CHECK((*b)[1].value == "v-b/10");
        CHECK((*b)[1].version == store->get("b/10")->value().version);
        auto all = store->list("");
        REQUIRE_OK(all);
        CHECK(keys_of(*all) == std::vector<std::string>{"a/1", "b", "b/1", "b/10", "b/2", "c"});
        auto none = store->list("zzz");
        REQUIRE_OK(none);
        CHECK(none->empty());
    }

    SECTION("a watch sees puts and erases under its prefix in order, and nothing after cancel") {
        event_recorder rec;
        auto w = store->watch("w/", rec.callback());
        REQUIRE_OK(w);
        auto v1 = store->put("w/a", "1").value();
        auto v2 = store->put("w/b", std::string("\0two\xff", 5)).value();
        REQUIRE_OK(store->put("x/not-watched", "no"));
        REQUIRE(store->erase("w/a").value());
        auto v4 = store->compare_and_set("w/a", "again", 0).value();
        auto events = rec.wait_for(4);
        REQUIRE(events.size() == 4);
        CHECK(events[0].what == kind::put);
        CHECK(events[0].entry.key == "w/a");
        CHECK(events[0].entry.value == "1");
        CHECK(events[0].entry.version == v1);
        CHECK(events[1].entry.key == "w/b");
        CHECK(events[1].entry.value == std::string("\0two\xff", 5));
        CHECK(events[1].entry.version == v2);
        CHECK(events[2].what == kind::erase);
        CHECK(events[2].entry.key == "w/a");
        CHECK(events[2].entry.version > v2);
        CHECK(events[3].what == kind::put);
        CHECK(events[3].entry.value == "again");
        CHECK(events[3].entry.version == v4);
        (*w)->cancel();
        REQUIRE_OK(store->put("w/after-cancel", "x"));
        std::this_thread::sleep_for(300ms);
        CHECK(rec.events().size() == 4);
    }

    SECTION("a callback may cancel its own watch") {
        std::unique_ptr<state_watch> w;
        std::atomic<int> calls{0};
        std::mutex mu;
        auto r = store->watch("self/", [&](const state_event&) {
            ++calls;
            std::lock_guard lk(mu);
            w.reset();
        });
        REQUIRE_OK(r);
        {
            std::lock_guard lk(mu);
            w = std::move(*r);
        }
        REQUIRE_OK(store->put("self/1", "x"));
        for (int i = 0; i < 100 && calls == 0; ++i) std::this_thread::sleep_for(20ms);
        REQUIRE_OK(store->put("self/2", "x"));
        std::this_thread::sleep_for(200ms);
        CHECK(calls == 1);
    }

    SECTION("concurrent compare-and-set increments lose no update") {
        constexpr int threads = 4, increments = 25;
        REQUIRE_OK(store->put("counter", "0"));
        std::atomic<int> conflicts{0}, failures{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (int i = 0; i < increments;) {
                    auto cur = store->get("counter");
                    if (!cur || !cur->has_value()) { ++failures; return; }
                    auto next = std::to_string(std::stoi((*cur)->value) + 1);
                    auto r = store->compare_and_set("counter", next, (*cur)->version);
                    if (r) ++i;
                    else if (r.error_code() == error::conflict) ++conflicts;
                    else { ++failures; return; }
                }
            });
        for (auto& t : pool) t.join();
        CHECK(failures == 0);
        CHECK(store->get("counter")->value().value == std::to_string(threads * increments));
        INFO("conflicts retried: " << conflicts);
    }

    SECTION("keys with odd characters round-trip through get, list and erase") {
        std::vector<std::string> odd = {"a b/ü/%2F/../x",  ".hidden",      "..",     "/leading/slash", "~tilde",
                                        "new\nline\ttab",  "日本/キー",     "*?[glob]", "quote'\"\\",
                                        std::string(1024, 'k'), std::string(300, '/')};
        for (auto& k : odd) {
            INFO("key " << k);
            REQUIRE_OK(store->put(k, "v:" + k));
            auto got = store->get(k);
            REQUIRE_OK(got);
            REQUIRE(got->has_value());
            CHECK((*got)->value == "v:" + k);
        }
        auto all = store->list("");
        REQUIRE_OK(all);
        auto sorted = odd;
        std::sort(sorted.begin(), sorted.end());
        CHECK(keys_of(*all) == sorted);
        auto under = store->list("日本/");
        REQUIRE_OK(under);
        CHECK(keys_of(*under) == std::vector<std::string>{"日本/キー"});
        for (auto& k : odd) CHECK(store->erase(k).value());
        CHECK(store->list("")->empty());
    }

    SECTION("bad keys are rejected naming the key") {
        std::vector<std::string> bad = {"", std::string("nul\0inside", 10), std::string(1025, 'k'), "bad\xff utf8",
                                        "\xc0\xaf overlong"};
        for (auto& k : bad) {
            INFO("key of " << k.size() << " bytes");
            auto p = store->put(k, "x");
            REQUIRE_FALSE(p);
            CHECK(p.error_code() == error::invalid_argument);
            CHECK_THAT(p.error().message, Catch::Contains("key"));
            CHECK(store->get(k).error_code() == error::invalid_argument);
            CHECK(store->compare_and_set(k, "x", 0).error_code() == error::invalid_argument);
            CHECK(store->erase(k).error_code() == error::invalid_argument);
        }
        CHECK_THAT(store->put("", "x").error().message, Catch::Contains("empty"));
        CHECK(store->list(std::string("p\0", 2)).error_code() == error::invalid_argument);
        CHECK(store->list("")->empty());
    }

    SECTION("values are bytes: NUL, 0xff and the empty value round-trip") {
        std::string binary;
        for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
        binary += std::string("\0\0\xff\xfe", 4);
        REQUIRE_OK(store->put("bin", binary));
        CHECK(store->get("bin")->value().value == binary);
        REQUIRE_OK(store->put("empty", ""));
        auto empty = store->get("empty");
        REQUIRE_OK(empty);
        REQUIRE(empty->has_value());
        CHECK((*empty)->value.empty());
        auto all = store->list("");
        REQUIRE_OK(all);
        REQUIRE(all->size() == 2);
        CHECK((*all)[0].value == binary);
        CHECK((*all)[1].value.empty());
    }
}

}  // namespace migrate::test
