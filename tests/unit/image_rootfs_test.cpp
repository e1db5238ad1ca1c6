// tar_writer and rootfs_builder, checked with GNU tar (the reference reader). No daemon.
#include <migrate/detail/process.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/image/tar_writer.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace migrate;
using namespace migrate::image;

namespace {

std::filesystem::path scratch(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("migrate-image-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

// Produces `size` bytes of a repeating pattern without holding them.
struct pattern_source final : byte_source {
    std::uint64_t left;
    explicit pattern_source(std::uint64_t n) : left(n) {}
    result<std::size_t> read(std::span<std::byte> b) override {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, b.size()));
        for (std::size_t i = 0; i < n; ++i) b[i] = std::byte('a' + (i % 26));
        left -= n;
        return n;
    }
};

}  // namespace

TEST_CASE("tar_writer output is read back by GNU tar, long names included", "[image][tar]") {
    auto path = scratch("w.tar");
    std::string long_name = "deep/" + std::string(120, 'x') + "/file.txt";
    {
        auto sink = file_sink(path);
        tar_writer w(*sink);
        REQUIRE(w.add_directory("/etc"));
        REQUIRE(w.add_file("/etc/hello", "hello\n", {0600}));
        REQUIRE(w.add_symlink("bin/sh", "busybox"));
        REQUIRE(w.add_directory("tmp", {01777}));
        pattern_source src(100000);
        REQUIRE(w.add_file(long_name, src, 100000));
        REQUIRE(w.finish());
        CHECK(w.bytes_written() % 512 == 0);
        REQUIRE(sink->close());
    }
    auto list = detail::run_checked({"tar", "-tvf", path.string()});
    REQUIRE(list);
    CHECK_THAT(*list, Catch::Contains("drwxr-xr-x root/root") && Catch::Contains("etc/"));
    CHECK_THAT(*list, Catch::Contains("-rw------- root/root         6") && Catch::Contains("etc/hello"));
    CHECK_THAT(*list, Catch::Contains("bin/sh -> busybox"));
    CHECK_THAT(*list, Catch::Contains("drwxrwxrwt") && Catch::Contains("tmp/"));
    CHECK_THAT(*list, Catch::Contains(long_name));
    auto content = detail::run_checked({"tar", "-xOf", path.string(), "etc/hello"});
    REQUIRE(content);
    CHECK(*content == "hello\n");
    auto big = detail::run_checked({"tar", "-xOf", path.string(), long_name});
    REQUIRE(big);
    CHECK(big->size() == 100000);
    CHECK(big->substr(0, 3) == "abc");
    std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("tar_writer refuses a source shorter or longer than announced", "[image][tar]") {
    null_sink sink;
    tar_writer w(sink);
    pattern_source shorter(10);
    auto r = w.add_file("f", shorter, 11);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::io_error);
    CHECK_THAT(r.error().message, Catch::Contains("'f'") && Catch::Contains("short"));
    pattern_source longer(12);
    CHECK(w.add_file("g", longer, 11).error_code() == error::io_error);
}

TEST_CASE("looks_like_archive accepts tar and compressed tar, refuses text", "[image][tar]") {
    std::string tar;
    function_sink sink([&](std::span<const std::byte> c) -> result<void> {
        tar.append(reinterpret_cast<const char*>(c.data()), c.size());
        return {};
    });
    tar_writer w(sink);
    REQUIRE(w.add_file("a", "x"));
    REQUIRE(w.finish());
    auto bytes = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
    CHECK(looks_like_archive(bytes(tar)));
    CHECK(looks_like_archive(bytes(std::string(1024, '\0'))));          // an empty tar
    CHECK(looks_like_archive(bytes(std::string("\x1f\x8b\x08\x00", 4))));  // gzip
    CHECK_FALSE(looks_like_archive(bytes(std::string(600, 'x'))));
    CHECK_FALSE(looks_like_archive(bytes("hello\n")));
    CHECK_FALSE(looks_like_archive({}));
    std::string broken = tar;
    broken[10] ^= 0x55;                                                     // checksum no longer matches
    CHECK_FALSE(looks_like_archive(bytes(broken)));
}

TEST_CASE("shared_libraries lists memcached's libraries and the loader", "[image]") {
    auto libs = shared_libraries("/usr/bin/memcached");
    REQUIRE(libs);
    auto has = [&](std::string_view needle) {
        for (auto& l : *libs) if (l.string().find(needle) != std::string::npos) return true;
        return false;
    };
    CHECK(has("libevent"));
    CHECK(has("libc.so"));
    CHECK(has("ld-linux"));
    auto none = shared_libraries("/bin/busybox");   // static
    REQUIRE(none);
    CHECK(none->empty());
}

TEST_CASE("memcached rootfs: binary, libraries, loader, busybox links, passwd; about 10 MB", "[image]") {
    auto path = scratch("mc.tar");
    auto recipe = memcached_recipe();
    auto st = build_rootfs_file(recipe.rootfs, path);
    REQUIRE(st);
    CHECK(st->bytes > 5'000'000);
    CHECK(st->bytes < 20'000'000);
    CHECK(st->libraries.size() >= 4);
    auto list = detail::run_checked({"tar", "-tvf", path.string()});
    REQUIRE(list);
    for (auto* p : {"usr/bin/memcached", "lib64/ld-linux-x86-64.so.2", "bin/busybox", "bin/sh -> busybox", "tmp/",
                    "etc/passwd", "etc/group"})
        CHECK_THAT(*list, Catch::Contains(p));
    CHECK_THAT(*list, Catch::Contains("drwxrwxrwt") && Catch::Contains("libevent"));
    auto passwd = detail::run_checked({"tar", "-xOf", path.string(), "etc/passwd"});
    REQUIRE(passwd);
    CHECK_THAT(*passwd, Catch::Contains("nobody:x:65534"));
    CHECK(std::find(recipe.changes.begin(), recipe.changes.end(),
                    "ENTRYPOINT [\"/usr/bin/memcached\", \"-u\", \"root\"]") != recipe.changes.end());
    std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("rootfs_spec validation and missing inputs name the field", "[image]") {
    rootfs_spec empty;
    empty.busybox = false;
    auto v = empty.validate();
    REQUIRE_FALSE(v);
    CHECK_THAT(v.error().message, Catch::Contains("rootfs_spec.binaries"));

    rootfs_spec gen;
    gen.generated.push_back({"/data/blob", 10, nullptr});
    CHECK_THAT(gen.validate().error().message, Catch::Contains("rootfs_spec.generated[0].open"));

    rootfs_spec missing;
    missing.binaries = {"no-such-program-xyz"};
    null_sink sink;
    auto r = build_rootfs(missing, sink);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::not_found);
    CHECK_THAT(r.error().message, Catch::Contains("no-such-program-xyz"));
}

TEST_CASE("generated files are streamed into the rootfs at their exact size", "[image]") {
    rootfs_spec s;
    s.busybox = false;
    s.directories.clear();
    s.generated.push_back({"/data/blob", 3'000'000, [] { return std::make_unique<pattern_source>(3'000'000); }});
    s.files.push_back({"/data/readme", "hi"});
    null_sink drop;
    counting_sink count(drop);
    auto st = build_rootfs(s, count);
    REQUIRE(st);
    CHECK(st->bytes == count.bytes());
    CHECK(st->entries == 3);   // data/, data/blob, data/readme
    CHECK(count.bytes() >= 3'000'000 + 3 * 512 + 1024);
}
