// Layer skipping on synthetic `docker save` archives (written with image::tar_writer in the
// layout dockerd 20.10 writes: one directory per layer named by a v1 id, in lexical order,
// the config among them, manifest.json and repositories last). The real daemon's side, that
// `docker load` accepts the result, is in tests/integration/image_layers_test.cpp.
#include "fake_runtime.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/image/tar_writer.hpp>
#include <migrate/image_layers.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

using namespace migrate;
namespace fs = std::filesystem;

namespace {

fs::path scratch() {
    struct dir {
        fs::path p = fs::temp_directory_path() / fmt::format("migrate-image-layers-test-{}", ::getpid());
        dir() { fs::create_directories(p); }
        ~dir() { std::error_code ec; fs::remove_all(p, ec); }
    };
    static dir d;
    return d.p;
}

std::string diff(char c) { return "sha256:" + std::string(64, c); }

struct layer {
    std::string dir;      // v1 id directory
    std::string diff_id;
    std::string payload;  // layer.tar content ("" with link = a symlink to link)
    std::string link;
};

struct image_desc {
    std::string config;   // "<hex>.json"
    std::string tag;
    std::vector<const layer*> layers;  // base first
};

// Writes a save archive: members sorted by name as docker's archive.Tar walks the directory.
fs::path write_save(const std::string& file, const std::vector<layer>& layers, const std::vector<image_desc>& images) {
    struct member {
        std::string name;
        std::string content;
        char kind;  // 'd' dir, 'f' file, 'l' link
    };
    std::vector<member> m;
    for (auto& l : layers) {
        m.push_back({l.dir, "", 'd'});
        m.push_back({l.dir + "/VERSION", "1.0", 'f'});
        m.push_back({l.dir + "/json", fmt::format("{{\"id\":\"{}\"}}", l.dir), 'f'});
        if (l.link.empty()) m.push_back({l.dir + "/layer.tar", l.payload, 'f'});
        else m.push_back({l.dir + "/layer.tar", l.link, 'l'});
    }
    json manifest = json::array();
    for (auto& img : images) {
        json diff_ids = json::array(), paths = json::array();
        for (auto* l : img.layers) {
            diff_ids.push_back(l->diff_id);
            paths.push_back(l->dir + "/layer.tar");
        }
        m.push_back({img.config, json{{"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}.dump(), 'f'});
        manifest.push_back({{"Config", img.config}, {"RepoTags", {img.tag}}, {"Layers", paths}});
    }
    m.push_back({"manifest.json", manifest.dump(), 'f'});
    m.push_back({"repositories", "{}", 'f'});
    std::sort(m.begin(), m.end(), [](auto& a, auto& b) { return a.name < b.name; });
    auto path = scratch() / file;
    auto sink = file_sink(path);
    image::tar_writer w(*sink);
    for (auto& x : m) {
        if (x.kind == 'd') REQUIRE(w.add_directory(x.name));
        else if (x.kind == 'l') REQUIRE(w.add_symlink(x.name, x.content));
        else REQUIRE(w.add_file(x.name, x.content));
    }
    REQUIRE(w.finish());
    REQUIRE(sink->close());
    return path;
}

struct filtered {
    layer_filter_stats stats;
    fs::path file;
    std::vector<std::string> names;  // as `tar -t` lists them
    bool has(const std::string& n) const { return std::find(names.begin(), names.end(), n) != names.end(); }
};

filtered filter(const fs::path& archive, const std::vector<std::string>& skip) {
    filtered f;
    f.file = archive.string() + ".out";
    auto sink = file_sink(f.file);
    auto st = filter_saved_images(archive, skip, *sink);
    INFO((st ? "" : st.error().what()));
    REQUIRE(st);
    REQUIRE(sink->close());
    f.stats = *st;
    CHECK(f.stats.sent_bytes == fs::file_size(f.file));
    // GNU tar reads the result back: a valid archive, member by member.
    auto list = detail::run_checked({"tar", "-tf", f.file.string()});
    INFO((list ? "" : list.error().what()));
    REQUIRE(list);
    std::string line;
    for (char c : *list) {
        if (c == '\n') { f.names.push_back(line); line.clear(); }
        else line += c;
    }
    return f;
}

std::string member(const fs::path& archive, const std::string& name) {
    auto r = detail::run_checked({"tar", "-xOf", archive.string(), name});
    REQUIRE(r);
    return *r;
}

// Three layers whose directories sort differently from their rootfs order.
const std::vector<layer> three = {
    {"c3c3", diff('1'), std::string(3000, 'a'), ""},
    {"a1a1", diff('2'), std::string(5000, 'b'), ""},
    {"b2b2", diff('3'), std::string(700, 'c'), ""},
};

}  // namespace

TEST_CASE("a save archive loses exactly the layer.tar of the skipped base layers", "[image_layers]") {
    auto archive = write_save("three.tar", three, {{"f00d.json", "app:1", {&three[0], &three[1], &three[2]}}});
    auto f = filter(archive, {diff('1'), diff('2')});
    CHECK_FALSE(f.has("c3c3/layer.tar"));
    CHECK_FALSE(f.has("a1a1/layer.tar"));
    CHECK(f.has("b2b2/layer.tar"));
    // Everything else stays: the layer directories' metadata, the config, the manifest.
    for (auto* n : {"c3c3/", "c3c3/VERSION", "c3c3/json", "a1a1/json", "b2b2/VERSION", "f00d.json", "manifest.json", "repositories"})
        CHECK(f.has(n));
    CHECK(member(f.file, "b2b2/layer.tar") == std::string(700, 'c'));
    CHECK(member(f.file, "manifest.json") == member(archive, "manifest.json"));
    CHECK(f.stats.layers_skipped == std::vector<std::string>{diff('1'), diff('2')});
    CHECK(f.stats.layers_sent == std::vector<std::string>{diff('3')});
    CHECK(f.stats.archive_bytes == fs::file_size(archive));
    // Saved: both payloads with their headers and padding (3000 -> 3072 + 512, 5000 -> 5120 + 512).
    CHECK(f.stats.bytes_saved() == 3072 + 512 + 5120 + 512);
    json j = f.stats;
    CHECK(j.at("bytes_saved") == f.stats.bytes_saved());
}

TEST_CASE("only a base-first run is skipped: a layer above a missing one must travel", "[image_layers]") {
    auto archive = write_save("gap.tar", three, {{"f00d.json", "app:1", {&three[0], &three[1], &three[2]}}});
    // The receiver has layer 2 and 3 but not the base: their chain ids differ, send all.
    auto none = filter(archive, {diff('2'), diff('3')});
    CHECK(none.has("c3c3/layer.tar"));
    CHECK(none.has("a1a1/layer.tar"));
    CHECK(none.has("b2b2/layer.tar"));
    CHECK(none.stats.layers_skipped.empty());
    // Base and top, not the middle: only the base is skipped.
    auto base = filter(archive, {diff('1'), diff('3')});
    CHECK_FALSE(base.has("c3c3/layer.tar"));
    CHECK(base.has("a1a1/layer.tar"));
    CHECK(base.has("b2b2/layer.tar"));
    CHECK(base.stats.layers_skipped == std::vector<std::string>{diff('1')});
    // Nothing to skip: the archive comes out byte for byte (but for the trailer).
    auto all = filter(archive, {});
    CHECK(all.stats.layers_skipped.empty());
    CHECK(all.stats.layers_sent.size() == 3);
    CHECK(member(all.file, "c3c3/layer.tar") == std::string(3000, 'a'));
}

TEST_CASE("a layer.tar a kept layer links to stays (save links repeated diff ids)", "[image_layers]") {
    // Layers 0 and 2 share a diff id: save wrote the second as a symlink to the first.
    const std::vector<layer> ls = {
        {"d0d0", diff('1'), std::string(1000, 'x'), ""},
        {"e1e1", diff('2'), std::string(600, 'y'), ""},
        {"0a2a", diff('1'), "", "../d0d0/layer.tar"},
    };
    auto archive = write_save("linked.tar", ls, {{"beef.json", "linked:1", {&ls[0], &ls[1], &ls[2]}}});
    auto f = filter(archive, {diff('1')});
    CHECK(f.has("d0d0/layer.tar"));   // needed by 0a2a/layer.tar
    CHECK(f.has("0a2a/layer.tar"));
    CHECK(f.stats.layers_skipped.empty());
    CHECK(member(f.file, "d0d0/layer.tar") == std::string(1000, 'x'));   // what the link resolves to
}

TEST_CASE("two images sharing a base: the shared layer goes only when both may skip it", "[image_layers]") {
    const std::vector<layer> ls = {
        {"9999", diff('1'), std::string(800, 'b'), ""},
        {"1111", diff('2'), std::string(900, 'p'), ""},
        {"5555", diff('3'), std::string(100, 'q'), ""},
    };
    auto archive = write_save("two.tar", ls,
                              {{"aaaa.json", "one:1", {&ls[0], &ls[1]}}, {"bbbb.json", "two:1", {&ls[0], &ls[2]}}});
    auto f = filter(archive, {diff('1')});
    CHECK_FALSE(f.has("9999/layer.tar"));
    CHECK(f.has("1111/layer.tar"));
    CHECK(f.has("5555/layer.tar"));
    CHECK(f.stats.layers_skipped == std::vector<std::string>{diff('1')});
}

TEST_CASE("long layer paths (pax headers) are filtered like short ones", "[image_layers]") {
    const std::string longdir = std::string(120, 'f');
    const std::vector<layer> ls = {{longdir, diff('1'), std::string(2000, 'l'), ""}, {"abcd", diff('2'), "top", ""}};
    auto archive = write_save("long.tar", ls, {{"cafe.json", "long:1", {&ls[0], &ls[1]}}});
    auto f = filter(archive, {diff('1')});
    CHECK_FALSE(f.has(longdir + "/layer.tar"));
    CHECK(f.has(longdir + "/json"));
    CHECK(f.has("abcd/layer.tar"));
}

TEST_CASE("what is not a save archive is refused as corrupt, naming the file", "[image_layers]") {
    null_sink drop;
    auto junk = scratch() / "junk.tar";
    {
        auto s = file_sink(junk);
        std::string text(2048, 'z');
        REQUIRE(s->write(std::as_bytes(std::span(text))));
        REQUIRE(s->close());
    }
    auto r = filter_saved_images(junk, {diff('1')}, drop);
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::corrupt_artifact);
    CHECK_THAT(r.error().message, Catch::Contains(junk.string()));

    // A tar without manifest.json (a rootfs, say).
    auto rootfs = scratch() / "rootfs.tar";
    {
        auto s = file_sink(rootfs);
        image::tar_writer w(*s);
        REQUIRE(w.add_file("etc/hostname", "x\n"));
        REQUIRE(w.finish());
        REQUIRE(s->close());
    }
    auto m = filter_saved_images(rootfs, {diff('1')}, drop);
    REQUIRE_FALSE(m);
    CHECK(m.error_code() == error::corrupt_artifact);
    CHECK_THAT(m.error().message, Catch::Contains("manifest.json"));

    // A manifest naming a layer the archive lacks.
    const std::vector<layer> one = {{"aaaa", diff('1'), "x", ""}};
    layer ghost{"ffff", diff('2'), "", ""};
    auto broken = write_save("broken.tar", one, {{"c0de.json", "b:1", {&one[0], &ghost}}});
    auto g = filter_saved_images(broken, {}, drop);
    REQUIRE_FALSE(g);
    CHECK(g.error_code() == error::corrupt_artifact);
    CHECK_THAT(g.error().message, Catch::Contains("ffff/layer.tar"));

    auto missing = filter_saved_images(scratch() / "no-such.tar", {}, drop);
    REQUIRE_FALSE(missing);
    CHECK(missing.error_code() == error::io_error);
}

TEST_CASE("common base layers, image cases and a receiver that cannot list its images", "[image_layers]") {
    using v = std::vector<std::string>;
    CHECK(common_base_layers({"a", "b", "c"}, {"a", "b", "x"}) == 2);
    CHECK(common_base_layers({"a", "b"}, {"a", "b", "c"}) == 2);
    CHECK(common_base_layers({"a", "b"}, {"b", "a"}) == 0);
    CHECK(common_base_layers({}, {"a"}) == 0);

    layer_check c;
    c.layers = v{"a", "b", "c"};
    c.held = 2;
    CHECK(c.skip() == v{"a", "b"});
    json j = c;
    CHECK(j.at("held") == 2);
    CHECK(j.at("case") == "full");
    for (auto k : {image_case::memory, image_case::partial, image_case::full}) {
        json x = k;
        CHECK(x.get<image_case>() == k);
    }
    CHECK_THROWS_AS(json("most").get<image_case>(), migration_error);

    // The fake runtime (an IN-MEMORY FAKE) cannot list images: the answer is "send it all".
    test::fake_runtime rt("b");
    auto r = check_layers(rt, {"a", "b"});
    REQUIRE(r);
    CHECK(r->which == image_case::full);
    CHECK(r->held == 0);
    CHECK_THAT(r->note, Catch::Contains("cannot list"));
}
