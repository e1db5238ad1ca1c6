// The embedded state stores (memory, file) through the shared conformance suite, what only
// the file store promises (several instances and processes on one directory, the journal
// starting over, durable files), and the URIs of open_state_store.
#include "../store_conformance.hpp"
#include "workload_test_util.hpp"

#include <migrate/state_store.hpp>
#include <migrate/store/etcd.hpp>
#include <migrate/store/file.hpp>
#include <migrate/store/memory.hpp>
#include <migrate/store/redis.hpp>
#include <migrate/store/uri.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fstream>

#include <sys/wait.h>
#include <unistd.h>

using namespace migrate;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
std::unique_ptr<state_store> open_file_store(const fs::path& dir, std::uint64_t journal_max = 4 << 20) {
    auto s = store::make_file_store({.directory = dir, .journal_max_bytes = journal_max});
    REQUIRE_OK(s);
    return std::move(*s);
}
}  // namespace

TEST_CASE("memory state store: conformance", "[state_store][memory]") {
    test::check_state_store_conformance([] { return store::make_memory_store(); });
}

TEST_CASE("file state store: conformance", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    int n = 0;
    test::check_state_store_conformance([&] { return open_file_store(dir.path / std::to_string(n++)); });
}

TEST_CASE("file state store: two instances on one directory share versions, CAS and watches", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    auto a = open_file_store(dir.path);
    auto b = open_file_store(dir.path);
    test::event_recorder rec;
    auto w = b->watch("", rec.callback());
    REQUIRE_OK(w);
    auto v1 = a->put("k", "from a");
    REQUIRE_OK(v1);
    CHECK(b->get("k")->value().value == "from a");
    auto stale = b->compare_and_set("k", "from b", *v1 - 1);
    CHECK(stale.error_code() == error::conflict);
    auto v2 = b->compare_and_set("k", "from b", *v1);
    REQUIRE_OK(v2);
    CHECK(a->get("k")->value().version == *v2);
    auto events = rec.wait_for(2);
    REQUIRE(events.size() == 2);
    CHECK(events[0].entry.value == "from a");
    CHECK(events[1].entry.value == "from b");
}

TEST_CASE("file state store: compare-and-set from two processes loses no update", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    constexpr int per_process = 100;
    {
        auto s = open_file_store(dir.path);
        REQUIRE_OK(s->put("counter", "0"));
    }
    auto increment = [&](int times) {
        auto s = store::make_file_store({.directory = dir.path});
        if (!s) return false;
        for (int i = 0; i < times;) {
            auto cur = (*s)->get("counter");
            if (!cur || !cur->has_value()) return false;
            auto r = (*s)->compare_and_set("counter", std::to_string(std::stoi((*cur)->value) + 1), (*cur)->version);
            if (r) ++i;
            else if (r.error_code() != error::conflict) return false;
        }
        return true;
    };
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(increment(per_process) ? 0 : 1);
    bool mine = increment(per_process);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(mine);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    auto s = open_file_store(dir.path);
    CHECK(s->get("counter")->value().value == std::to_string(2 * per_process));
}

TEST_CASE("file state store: a watch follows the journal when it starts over", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    auto s = open_file_store(dir.path, 4096);
    test::event_recorder rec;
    auto w = s->watch("j/", rec.callback());
    REQUIRE_OK(w);
    const std::string value(1000, 'v');
    constexpr int writes = 40;   // ~10 journals of 4 KiB
    for (int i = 0; i < writes; ++i) {
        REQUIRE_OK(s->put(fmt::format("j/{:02}", i), value));
        if (i % 4 == 0) std::this_thread::sleep_for(30ms);   // let the watch keep up, as a live one does
    }
    auto events = rec.wait_for(writes);
    REQUIRE(events.size() == writes);
    for (int i = 0; i < writes; ++i) CHECK(events[i].entry.key == fmt::format("j/{:02}", i));
    CHECK(fs::exists(dir.path / ".journal.old"));
    CHECK(fs::file_size(dir.path / ".journal.old") <= 4096 + 1100);
}

TEST_CASE("file state store: one file per key, atomically replaced, names escaped", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    auto s = open_file_store(dir.path);
    REQUIRE_OK(s->put("twin/device 1", "state"));
    REQUIRE_OK(s->put(".dot", "x"));
    REQUIRE_OK(s->put(std::string(300, 'k'), "long"));
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(dir.path))
        if (e.path().filename().string()[0] != '.') names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    REQUIRE(names.size() == 3);
    CHECK(names[0] == "%2Edot");
    CHECK(names[1] == "twin%2Fdevice%201");
    CHECK(names[2].size() == 65);
    CHECK(names[2][0] == '~');
    CHECK_THAT(test::read_text(dir.path / names[1]), Catch::EndsWith("twin/device 1state"));
    // Nothing but the keys, the lock and the journal: no temporary file left behind.
    std::size_t own = 0;
    for (auto& e : fs::directory_iterator(dir.path)) own += e.path().filename().string()[0] == '.';
    CHECK(own == 2);
}

TEST_CASE("file state store: a file that is not a state file is reported, not read as a value", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    auto s = open_file_store(dir.path);
    std::ofstream(dir.path / "broken") << "not a state file";
    auto g = s->get("broken");
    REQUIRE_FALSE(g);
    CHECK(g.error_code() == error::corrupt_artifact);
    CHECK_THAT(g.error().message, Catch::Contains("'broken'") && Catch::Contains(dir.path.string()));
}

TEST_CASE("file state store: what else a volume holds (lost+found, other files) is not listed", "[state_store][file]") {
    test::scratch_dir dir("migrate-file-store");
    auto s = open_file_store(dir.path);
    fs::create_directory(dir.path / "lost+found");
    fs::create_directory(dir.path / "subdir");
    std::ofstream(dir.path / "notes+todo.txt") << "not ours";
    REQUIRE_OK(s->put("k", "v"));
    auto all = s->list("");
    REQUIRE_OK(all);
    CHECK(test::keys_of(*all) == std::vector<std::string>{"k"});
}

TEST_CASE("file state store options are validated naming the field", "[state_store][file]") {
    CHECK_THAT(store::file_store_options{}.validate().error().message, Catch::Contains("directory"));
    store::file_store_options o{.directory = "/tmp/x", .poll_interval = 0ms};
    CHECK_THAT(o.validate().error().message, Catch::Contains("poll_interval"));
    o = {.directory = "/tmp/x", .journal_max_bytes = 10};
    CHECK_THAT(o.validate().error().message, Catch::Contains("journal_max_bytes"));
    auto parsed = parse_options<store::file_store_options>(json{{"directory", "/d"}, {"poll_interval_ms", 50}});
    REQUIRE_OK(parsed);
    CHECK(parsed->poll_interval == 50ms);
    CHECK(json(*parsed)["directory"] == "/d");
    auto wrong = parse_options<store::file_store_options>(json{{"directory", 5}});
    CHECK_THAT(wrong.error().message, Catch::Contains("file_store_options.directory"));
    auto unwritable = store::make_file_store({.directory = "/proc/migrate-no"});
    CHECK(unwritable.error_code() == error::io_error);
    CHECK_THAT(unwritable.error().message, Catch::Contains("/proc/migrate-no"));
}

TEST_CASE("state store URIs are taken apart; bad ones name the bad part", "[state_store][uri]") {
    auto u = store::parse_state_store_uri("redis://127.0.0.1:7000/twins/");
    REQUIRE_OK(u);
    CHECK(u->scheme == "redis");
    CHECK(u->address == "127.0.0.1:7000");
    CHECK(u->prefix == "twins/");
    u = store::parse_state_store_uri("etcd://localhost");
    REQUIRE_OK(u);
    CHECK(u->address == "localhost:2379");
    CHECK_FALSE(u->prefix.has_value());
    u = store::parse_state_store_uri("redis://[::1]:6390/");
    REQUIRE_OK(u);
    CHECK(u->address == "[::1]:6390");
    CHECK(u->prefix == "");
    u = store::parse_state_store_uri("file:///var/lib/twins");
    REQUIRE_OK(u);
    CHECK(u->path == "/var/lib/twins");
    CHECK(store::parse_state_store_uri("file:/var/lib/twins")->path == "/var/lib/twins");
    CHECK(store::parse_state_store_uri("memory:")->scheme == "memory");

    struct bad_case {
        const char* uri;
        const char* names;
    };
    for (auto [uri, names] : {bad_case{"", "empty"}, bad_case{"nothing", "no scheme"}, bad_case{"mongo://x", "'mongo'"},
                              bad_case{"redis://127.0.0.1:http", "port 'http'"}, bad_case{"redis://:6379", "no host"},
                              bad_case{"redis:127.0.0.1", "redis://HOST"}, bad_case{"etcd://h:0", "port '0'"},
                              bad_case{"etcd://", "no server address"}, bad_case{"redis://[::1/x", "unclosed"},
                              bad_case{"redis://::1:6379", "[brackets]"}, bad_case{"file:", "no directory"},
                              bad_case{"file://host/dir", "'host'"}, bad_case{"memory:x", "'x'"},
                              bad_case{"redis://h:1?db=2", "'?db=2'"}, bad_case{"redis://h/bad\xff", "UTF-8"},
                              bad_case{"redis://us@h", "user"}}) {
        INFO(uri);
        auto r = open_state_store(uri);
        REQUIRE_FALSE(r);
        CHECK(r.error_code() == error::invalid_argument);
        CHECK_THAT(r.error().message, Catch::Contains(names));
    }
}

TEST_CASE("open_state_store opens memory and file stores", "[state_store][uri]") {
    auto m = open_state_store("memory:");
    REQUIRE_OK(m);
    CHECK((*m)->backend() == "memory");
    test::scratch_dir dir("migrate-file-store");
    auto f = open_state_store("file:" + (dir.path / "sub").string());
    REQUIRE_OK(f);
    CHECK((*f)->backend() == "file");
    CHECK((*f)->location() == "file:" + (dir.path / "sub").string());
    REQUIRE_OK((*f)->put("k", "v"));
    CHECK(fs::exists(dir.path / "sub" / "k"));
}

TEST_CASE("a state entry's JSON carries bytes that are not UTF-8 as base64", "[state_store]") {
    CHECK(json(state_entry{"k", "text", 3}) == json{{"key", "k"}, {"value", "text"}, {"version", 3}});
    auto j = json(state_entry{"k", std::string("\0\xff", 2), 4});
    CHECK(j["value_base64"] == "AP8=");
    CHECK_FALSE(j.contains("value"));
}

TEST_CASE("redis state store options are validated naming the field", "[state_store][uri]") {
    CHECK(store::redis_store_options{}.validate());
    auto field = [](store::redis_store_options o) { return o.validate().error().message; };
    CHECK_THAT(field({.address = "nohost"}), Catch::Contains("redis_store_options.address"));
    CHECK_THAT(field({.prefix = std::string("a\0b", 3)}), Catch::Contains("prefix"));
    CHECK_THAT(field({.connect_timeout = 0ms}), Catch::Contains("connect_timeout"));
    CHECK_THAT(field({.command_timeout = -1ms}), Catch::Contains("command_timeout"));
    CHECK_THAT(field({.watch_retry = 1ms}), Catch::Contains("watch_retry"));
    auto parsed = parse_options<store::redis_store_options>(json{{"address", "[::1]:7000"}, {"prefix", ""}});
    REQUIRE_OK(parsed);
    CHECK(parsed->address == "[::1]:7000");
    CHECK(json(*parsed)["prefix"] == "");
}

TEST_CASE("etcd state store options are validated naming the field", "[state_store][uri]") {
    CHECK(store::etcd_store_options{}.validate());
    auto field = [](store::etcd_store_options o) { return o.validate().error().message; };
    CHECK_THAT(field({.address = "h:99999"}), Catch::Contains("etcd_store_options.address"));
    CHECK_THAT(field({.prefix = std::string(300, 'p')}), Catch::Contains("etcd_store_options.prefix"));
    CHECK_THAT(field({.request_timeout = 0ms}), Catch::Contains("request_timeout"));
    CHECK_THAT(field({.list_page_size = 0}), Catch::Contains("list_page_size"));
    auto parsed = parse_options<store::etcd_store_options>(json{{"list_page_size", 10}, {"request_timeout_ms", 900}});
    REQUIRE_OK(parsed);
    CHECK(parsed->list_page_size == 10);
    CHECK(json(*parsed)["request_timeout_ms"] == 900);
}
