// Rootfs tars from host binaries. Why ldd paths are kept as printed (and symlinks
// dereferenced): the loader finds libraries in its built-in multiarch directories and the
// binary names its interpreter by the path ldd shows, so copying the file contents to those
// exact paths gives a working image without an ld.so.cache.
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/image/tar_writer.hpp>
#include <migrate/detail/process.hpp>
#include <migrate/pipe.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <unistd.h>
#include <variant>

namespace migrate::image {
namespace {

std::string clean(std::string_view p) {
    std::string s(p);
    while (!s.empty() && s.front() == '/') s.erase(0, 1);
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

result<std::filesystem::path> find_program(const std::filesystem::path& p) {
    if (p.is_absolute() || p.string().find('/') != std::string::npos) {
        if (::access(p.c_str(), X_OK) != 0) return make_failure(error::not_found, "program " + p.string() + " not found or not executable");
        return std::filesystem::absolute(p);
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    dirs += ":/usr/local/sbin:/usr/sbin:/sbin";
    std::stringstream ss(dirs);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        if (dir.empty()) continue;
        auto c = std::filesystem::path(dir) / p;
        if (::access(c.c_str(), X_OK) == 0) return c;
    }
    return make_failure(error::not_found, "program '" + p.string() + "' not found on PATH");
}

struct dir_entry { std::uint32_t mode; };
struct host_entry { std::filesystem::path host; std::optional<std::uint32_t> mode; };
struct content_entry { std::string content; std::uint32_t mode; };
struct link_entry { std::string target; };
struct generated_entry { const rootfs_generated* gen; };
using entry = std::variant<dir_entry, host_entry, content_entry, link_entry, generated_entry>;

class plan {
public:
    // Later additions of the same path win, except that a directory never replaces a file.
    void add(const std::string& path, entry e) {
        if (path.empty()) return;
        add_parents(path);
        if (std::holds_alternative<dir_entry>(e)) {
            auto it = entries_.find(path);
            if (it != entries_.end() && !std::holds_alternative<dir_entry>(it->second)) return;
        }
        entries_[path] = std::move(e);
    }
    const std::map<std::string, entry>& entries() const { return entries_; }
private:
    void add_parents(const std::string& path) {
        for (auto pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
            auto parent = path.substr(0, pos);
            if (!entries_.count(parent)) entries_[parent] = dir_entry{0755};
        }
    }
    std::map<std::string, entry> entries_;
};

result<void> add_copy(plan& p, const rootfs_copy& c) {
    std::error_code ec;
    auto st = std::filesystem::status(c.host, ec);
    if (ec || !std::filesystem::exists(st))
        return make_failure(error::not_found, "rootfs_spec.copies: " + c.host.string() + " does not exist");
    std::string base = clean(c.path);
    if (!std::filesystem::is_directory(st)) {
        p.add(base, host_entry{c.host, std::nullopt});
        return {};
    }
    p.add(base, dir_entry{static_cast<std::uint32_t>(st.permissions()) & 07777});
    for (auto it = std::filesystem::recursive_directory_iterator(c.host, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        auto rel = std::filesystem::relative(it->path(), c.host).string();
        auto dest = base.empty() ? rel : base + "/" + rel;
        auto ls = it->symlink_status();
        if (std::filesystem::is_symlink(ls)) p.add(dest, link_entry{std::filesystem::read_symlink(it->path()).string()});
        else if (std::filesystem::is_directory(ls)) p.add(dest, dir_entry{static_cast<std::uint32_t>(ls.permissions()) & 07777});
        else if (std::filesystem::is_regular_file(ls)) p.add(dest, host_entry{it->path(), std::nullopt});
        // sockets, fifos, devices: not image content
    }
    if (ec) return make_failure(error::io_error, "cannot walk " + c.host.string() + ": " + ec.message());
    return {};
}

}  // namespace

result<void> rootfs_spec::validate() const {
    auto bad = [](const std::string& field, const std::string& why) {
        return make_failure(error::invalid_argument, "rootfs_spec." + field + ": " + why);
    };
    if (binaries.empty() && !busybox && files.empty() && copies.empty() && generated.empty())
        return bad("binaries", "nothing to put in the image");
    for (std::size_t i = 0; i < files.size(); ++i)
        if (clean(files[i].path).empty()) return bad(fmt::format("files[{}].path", i), "must name a file");
    for (std::size_t i = 0; i < generated.size(); ++i) {
        if (clean(generated[i].path).empty()) return bad(fmt::format("generated[{}].path", i), "must name a file");
        if (!generated[i].open) return bad(fmt::format("generated[{}].open", i), "no producer given");
    }
    for (std::size_t i = 0; i < copies.size(); ++i)
        if (copies[i].host.empty()) return bad(fmt::format("copies[{}].host", i), "must not be empty");
    if (busybox && busybox_path.empty()) return bad("busybox_path", "must not be empty");
    return {};
}

result<std::vector<std::filesystem::path>> shared_libraries(const std::filesystem::path& binary) {
    auto r = detail::run({"ldd", binary.string()});
    if (!r) return r.error();
    std::vector<std::filesystem::path> libs;
    if (r->exit_code != 0) {
        // Static binaries: "not a dynamic executable" (exit 1). Anything else is a real error.
        if (r->out.find("not a dynamic executable") != std::string::npos ||
            r->err.find("not a dynamic executable") != std::string::npos)
            return libs;
        return make_failure(error::command_failed, "ldd " + binary.string() + " failed: " + r->err);
    }
    std::stringstream ss(r->out);
    std::string line;
    while (std::getline(ss, line)) {
        auto trim = [](std::string s) {
            auto b = s.find_first_not_of(" \t");
            return b == std::string::npos ? std::string{} : s.substr(b);
        };
        line = trim(line);
        if (line.find("statically linked") != std::string::npos) continue;
        std::string path;
        if (auto arrow = line.find("=>"); arrow != std::string::npos) {
            std::string rest = trim(line.substr(arrow + 2));
            if (rest.rfind("not found", 0) == 0)
                return make_failure(error::not_found, fmt::format("ldd {}: library {} not found", binary.string(),
                                                                  line.substr(0, arrow)));
            path = rest.substr(0, rest.find(" ("));
        } else if (!line.empty() && line.front() == '/') {
            path = line.substr(0, line.find(" ("));
        }
        if (!path.empty() && path.front() == '/') libs.emplace_back(path);  // vdso has no path
    }
    return libs;
}

result<rootfs_stats> build_rootfs(const rootfs_spec& spec, byte_sink& out) {
    MIGRATE_TRY(spec.validate());
    plan p;
    rootfs_stats stats;
    for (auto& d : spec.directories) p.add(clean(d.path), dir_entry{d.mode});
    for (auto& b : spec.binaries) {
        auto exe = find_program(b);
        if (!exe) return failure{exe.error().code, "rootfs_spec.binaries: " + exe.error().message};
        p.add(clean(exe->string()), host_entry{*exe, std::nullopt});
        auto libs = shared_libraries(*exe);
        if (!libs) return libs.error();
        for (auto& l : *libs) {
            p.add(clean(l.string()), host_entry{l, std::nullopt});
            if (std::find(stats.libraries.begin(), stats.libraries.end(), l.string()) == stats.libraries.end())
                stats.libraries.push_back(l.string());
        }
    }
    if (spec.busybox) {
        if (::access(spec.busybox_path.c_str(), X_OK) != 0)
            return make_failure(error::not_found, "rootfs_spec.busybox_path: " + spec.busybox_path.string() +
                                                      " not found (install busybox-static)");
        // A dynamically linked busybox would need its libraries too; take them along.
        auto libs = shared_libraries(spec.busybox_path);
        if (!libs) return libs.error();
        for (auto& l : *libs) p.add(clean(l.string()), host_entry{l, std::nullopt});
        p.add("bin/busybox", host_entry{spec.busybox_path, 0755});
        for (auto& a : spec.applets) p.add("bin/" + a, link_entry{"busybox"});
    }
    for (auto& c : spec.copies) MIGRATE_TRY(add_copy(p, c));
    for (auto& f : spec.files) p.add(clean(f.path), content_entry{f.content, f.mode});
    for (auto& g : spec.generated) p.add(clean(g.path), generated_entry{&g});

    tar_writer w(out);
    for (auto& [path, e] : p.entries()) {
        result<void> r;
        if (auto* d = std::get_if<dir_entry>(&e)) r = w.add_directory(path, {d->mode});
        else if (auto* h = std::get_if<host_entry>(&e)) r = w.add_host_file(path, h->host, h->mode);
        else if (auto* c = std::get_if<content_entry>(&e)) r = w.add_file(path, c->content, {c->mode});
        else if (auto* l = std::get_if<link_entry>(&e)) r = w.add_symlink(path, l->target);
        else if (auto* g = std::get_if<generated_entry>(&e)) {
            auto src = g->gen->open();
            if (!src) return make_failure(error::io_error, "rootfs_spec.generated '" + path + "': producer gave nothing");
            r = w.add_file(path, *src, g->gen->size, {g->gen->mode});
        }
        if (!r) return r.error();
        ++stats.entries;
    }
    MIGRATE_TRY(w.finish());
    stats.bytes = w.bytes_written();
    return stats;
}

result<rootfs_stats> build_rootfs_file(const rootfs_spec& spec, const std::filesystem::path& file) {
    auto sink = file_sink(file);
    auto r = build_rootfs(spec, *sink);
    auto closed = sink->close();
    std::error_code ec;
    if (!r) { std::filesystem::remove(file, ec); return r.error(); }
    if (!closed) { std::filesystem::remove(file, ec); return closed.error(); }
    return r;
}

result<std::string> build_image(container_runtime& runtime, const rootfs_spec& spec, std::string_view reference,
                                const std::vector<std::string>& changes) {
    MIGRATE_TRY(spec.validate());
    std::string id;
    auto piped = stream_between(
        [&](byte_sink& sink) -> result<void> {
            auto r = build_rootfs(spec, sink);
            if (!r) return r.error();
            return {};
        },
        [&](byte_source& source) -> result<void> {
            auto r = runtime.import_image(source, reference, changes);
            if (!r) return r.error();
            id = *r;
            return {};
        },
        1 << 20);
    if (!piped) return piped.error();
    return id;
}

image_recipe busybox_recipe() {
    image_recipe r;
    r.rootfs.files = {{"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
                      {"/etc/group", "root:x:0:\nnogroup:x:65534:\n"}};
    r.changes = {"CMD [\"/bin/sh\"]", "ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"};
    return r;
}

image_recipe memcached_recipe(std::uint16_t port, unsigned memory_mb) {
    image_recipe r = busybox_recipe();
    r.rootfs.binaries = {"memcached"};
    // Root, not nobody: CRIU here lacks CAP_SYS_RESOURCE and then cannot read the rlimits of
    // a task owned by another user ("Can't get rlimit"), so a non-root memcached cannot be
    // checkpointed. memcached refuses root unless told with -u.
    r.changes = {
        "ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "ENTRYPOINT [\"/usr/bin/memcached\", \"-u\", \"root\"]",
        fmt::format("CMD [\"-p\", \"{0}\", \"-U\", \"{0}\", \"-m\", \"{1}\"]", port, memory_mb),
        fmt::format("EXPOSE {0}/tcp {0}/udp", port),
    };
    return r;
}

}  // namespace migrate::image
