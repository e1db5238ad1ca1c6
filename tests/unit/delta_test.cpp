// Block-level directory delta: real files in a scratch directory.
#include <migrate/delta.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace migrate;

namespace {

struct scratch {
    fs::path dir;
    scratch() {
        dir = fs::temp_directory_path() / ("migrate-delta-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(std::random_device{}()));
        fs::create_directories(dir);
    }
    ~scratch() { fs::remove_all(dir); }
};

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

void write(const fs::path& p, const std::string& data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("a directory delta sends only changed blocks and rebuilds the exact files", "[delta]") {
    scratch s;
    auto pages = random_bytes(1 << 20, 1);  // 256 blocks
    write(s.dir / "base" / "pages-1.img", pages);
    write(s.dir / "base" / "core.img", "core v1");
    // Sender's new state: 3 pages rewritten, a file grown, a new file and a sub directory.
    auto changed = pages;
    for (std::size_t blk : {3u, 100u, 255u}) changed.replace(blk * 4096 + 10, 5, "XXXXX");
    write(s.dir / "cur" / "pages-1.img", changed);
    write(s.dir / "cur" / "core.img", "core v2, longer");
    write(s.dir / "cur" / "sub" / "new.img", random_bytes(10000, 2));
    // Receiver holds the same base in its own place.
    fs::copy(s.dir / "base", s.dir / "rbase", fs::copy_options::recursive);

    string_sink out;
    auto st = write_dir_delta(s.dir / "base", s.dir / "cur", out);
    REQUIRE(st);
    CHECK(st->changed_blocks == 3 + 1 + 3);  // 3 pages, core.img's one block, new.img's 3 blocks
    CHECK(st->files == 3);
    CHECK(st->new_files == 1);
    CHECK(st->stream_bytes == out.data.size());
    CHECK(st->ratio() > 20);  // ~1 MiB of files, ~40 KiB sent

    string_source in(out.data);
    auto applied = apply_dir_delta(s.dir / "rbase", s.dir / "rebuilt", in);
    REQUIRE(applied);
    CHECK(read(s.dir / "rebuilt" / "pages-1.img") == changed);
    CHECK(read(s.dir / "rebuilt" / "core.img") == "core v2, longer");
    CHECK(read(s.dir / "rebuilt" / "sub" / "new.img") == read(s.dir / "cur" / "sub" / "new.img"));
    CHECK(applied->files == 3);
}

TEST_CASE("a delta applied to a different base is refused, and nothing is left behind", "[delta]") {
    scratch s;
    write(s.dir / "base" / "pages.img", random_bytes(64 * 1024, 3));
    write(s.dir / "cur" / "pages.img", random_bytes(64 * 1024, 3).replace(0, 4, "ABCD"));
    write(s.dir / "other" / "pages.img", random_bytes(64 * 1024, 4));  // not the sender's base
    string_sink out;
    REQUIRE(write_dir_delta(s.dir / "base", s.dir / "cur", out));
    string_source in(out.data);
    auto r = apply_dir_delta(s.dir / "other", s.dir / "rebuilt", in);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::corrupt_artifact);
    CHECK_THAT(r.error().message, Catch::Contains("pages.img"));
    CHECK_FALSE(fs::exists(s.dir / "rebuilt"));
    CHECK_FALSE(fs::exists(s.dir / "rebuilt.partial"));
}

TEST_CASE("truncated or foreign delta streams are rejected as corrupt", "[delta]") {
    scratch s;
    write(s.dir / "base" / "a.img", random_bytes(20000, 5));
    write(s.dir / "cur" / "a.img", random_bytes(20000, 6));
    string_sink out;
    REQUIRE(write_dir_delta(s.dir / "base", s.dir / "cur", out));
    for (std::size_t cut : {std::size_t{3}, std::size_t{20}, out.data.size() / 2, out.data.size() - 1}) {
        string_source in(out.data.substr(0, cut));
        auto r = apply_dir_delta(s.dir / "base", s.dir / "rebuilt", in);
        REQUIRE_FALSE(r);
        CHECK(r.error_code() == error::corrupt_artifact);
    }
    string_source junk(std::string(100, 'j'));
    auto r = apply_dir_delta(s.dir / "base", s.dir / "rebuilt", junk);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("magic"));
}

TEST_CASE("a delta stream cannot write outside the directory it rebuilds", "[delta]") {
    scratch s;
    fs::create_directories(s.dir / "base");
    // Hand-made stream: one file named "../escape".
    std::string st = "MGDELTA1";
    auto num = [&](std::uint64_t v, int n) { for (int i = 0; i < n; ++i) st += char(v >> (8 * i)); };
    num(4096, 4);
    st += 'F';
    std::string name = "../escape";
    num(name.size(), 2);
    st += name;
    string_source in(st + std::string(64, '\0'));
    auto r = apply_dir_delta(s.dir / "base", s.dir / "out", in);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::corrupt_artifact);
    CHECK_FALSE(fs::exists(s.dir / "escape"));
}

TEST_CASE("pages shifted by a page that appeared low in memory are sent as references, not resent", "[delta]") {
    // What CRIU does to pages-N.img when the process touched a new page at a low address
    // between the two dumps: every page after it moves one block further.
    scratch s;
    auto pages = random_bytes(1 << 20, 7);  // 256 blocks
    write(s.dir / "base" / "pages-1.img", pages);
    auto shifted = pages;
    shifted.insert(10 * 4096, random_bytes(4096, 8));            // a new page at block 10
    shifted.replace(200 * 4096 + 7, 3, "abc");                   // and one page rewritten
    write(s.dir / "cur" / "pages-1.img", shifted);
    fs::copy(s.dir / "base", s.dir / "rbase", fs::copy_options::recursive);

    string_sink out;
    auto st = write_dir_delta(s.dir / "base", s.dir / "cur", out);
    REQUIRE(st);
    CHECK(st->total_blocks == 257);
    CHECK(st->changed_blocks == 2);                 // the new page and the rewritten one
    CHECK(st->moved_blocks == 257 - 2 - 10);        // everything after the new page, but the rewritten one
    CHECK(st->ratio() > 100);                       // a same-offset comparison would resend 247 of 257 blocks
    json j = *st;
    CHECK(j["moved_blocks"] == st->moved_blocks);

    string_source in(out.data);
    auto applied = apply_dir_delta(s.dir / "rbase", s.dir / "rebuilt", in);
    REQUIRE(applied);
    CHECK(read(s.dir / "rebuilt" / "pages-1.img") == shifted);
    CHECK(applied->moved_blocks == st->moved_blocks);
    CHECK(applied->changed_blocks == 2);

    // A base with other contents at those offsets is caught by the SHA-256, not restored from.
    write(s.dir / "other" / "pages-1.img", random_bytes(1 << 20, 9));
    string_source again(out.data);
    auto refused = apply_dir_delta(s.dir / "other", s.dir / "rebuilt2", again);
    REQUIRE_FALSE(refused);
    CHECK(refused.error_code() == error::corrupt_artifact);
    CHECK_FALSE(fs::exists(s.dir / "rebuilt2"));
}

TEST_CASE("a version 1 delta stream (no copy runs) is still read", "[delta]") {
    scratch s;
    auto pages = random_bytes(64 * 1024, 10);
    write(s.dir / "base" / "a.img", pages);
    auto changed = pages;
    changed.replace(5 * 4096, 4, "WXYZ");
    write(s.dir / "cur" / "a.img", changed);
    string_sink out;
    auto st = write_dir_delta(s.dir / "base", s.dir / "cur", out);
    REQUIRE(st);
    REQUIRE(st->moved_blocks == 0);   // so the stream is the same in both versions but its magic
    REQUIRE(out.data.substr(0, 8) == "MGDELTA2");
    out.data[7] = '1';
    string_source in(out.data);
    auto applied = apply_dir_delta(s.dir / "base", s.dir / "rebuilt", in);
    REQUIRE(applied);
    CHECK(read(s.dir / "rebuilt" / "a.img") == changed);
}
