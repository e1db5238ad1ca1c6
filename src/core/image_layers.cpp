// Addad's check (which layers does the receiver hold?) and `docker save` archives without
// those layers. See migrate/image_layers.hpp for why docker load accepts the result.
#include <migrate/image_layers.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

namespace migrate {

// ---- image_case / layer_check -----------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, 3> case_names = {"memory", "partial", "full"};
}

std::string_view to_string(image_case c) noexcept { return case_names[static_cast<std::size_t>(c)]; }
void to_json(json& j, image_case c) { j = std::string(to_string(c)); }
void from_json(const json& j, image_case& c) {
    auto s = j.get<std::string>();
    for (std::size_t i = 0; i < case_names.size(); ++i)
        if (case_names[i] == s) { c = static_cast<image_case>(i); return; }
    throw migration_error(make_failure(error::invalid_argument, fmt::format("image_case: unknown case '{}'", s)));
}

std::vector<std::string> layer_check::skip() const {
    return {layers.begin(), layers.begin() + static_cast<std::ptrdiff_t>(std::min(held, layers.size()))};
}

void to_json(json& j, const layer_check& c) {
    j = json{{"case", c.which}, {"layers", c.layers.size()}, {"held", c.held}, {"held_by", c.held_by}};
    if (!c.note.empty()) j["note"] = c.note;
}

std::size_t common_base_layers(const std::vector<std::string>& layers, const std::vector<std::string>& held) noexcept {
    std::size_t n = 0;
    while (n < layers.size() && n < held.size() && layers[n] == held[n]) ++n;
    return n;
}

result<layer_check> check_layers(container_runtime& receiver, const std::vector<std::string>& layers) {
    layer_check c;
    c.layers = layers;
    auto images = receiver.list_images();
    if (!images) {
        if (images.error_code() != error::unsupported) return images.error();
        c.note = images.error().message;
        return c;
    }
    for (auto& img : *images) {
        auto held = img.layers;
        if (held.empty()) {
            // The list does not carry layers on every engine; an image removed meanwhile is
            // simply not there any more.
            auto full = receiver.inspect_image(img.id);
            if (!full) {
                if (full.error_code() == error::not_found) continue;
                return full.error();
            }
            held = full->layers;
        }
        auto n = common_base_layers(layers, held);
        if (n > c.held) {
            c.held = n;
            c.held_by = img.id;
        }
        if (c.held == layers.size()) break;
    }
    c.which = layers.empty() || c.held == 0 ? image_case::full
              : c.held == layers.size()     ? image_case::memory
                                            : image_case::partial;
    return c;
}

void to_json(json& j, const layer_filter_stats& s) {
    j = json{{"layers_sent", s.layers_sent},
             {"layers_skipped", s.layers_skipped},
             {"archive_bytes", s.archive_bytes},
             {"sent_bytes", s.sent_bytes},
             {"bytes_saved", s.bytes_saved()}};
}

// ---- reading a save archive -------------------------------------------------------------------

namespace {

constexpr std::size_t block = 512;

// One member of the archive: [begin, end) covers its extended headers (pax, GNU long
// names), its header, its data and the padding, so copying that range copies the member.
struct tar_member {
    std::string name;        // normalised: no leading "./" or "/", no trailing "/"
    char type = '0';
    std::string link;        // symlink/hardlink target as stored
    std::uint64_t begin = 0, data = 0, size = 0, end = 0;
};

std::string normalise(std::string_view p) {
    while (p.starts_with("./")) p.remove_prefix(2);
    while (p.starts_with('/')) p.remove_prefix(1);
    while (p.size() > 1 && p.ends_with('/')) p.remove_suffix(1);
    return std::string(p == "." ? std::string_view{} : p);
}

std::string field(const char* f, std::size_t width) { return std::string(f, strnlen(f, width)); }

// Octal, space/NUL padded; or GNU base-256 when the top bit of the first byte is set.
std::optional<std::uint64_t> number(const char* f, std::size_t width) {
    auto u = [&](std::size_t i) { return static_cast<unsigned char>(f[i]); };
    if (u(0) & 0x80) {
        std::uint64_t v = u(0) & 0x7f;
        for (std::size_t i = 1; i < width; ++i) v = (v << 8) | u(i);
        return v;
    }
    std::uint64_t v = 0;
    std::size_t i = 0;
    while (i < width && (f[i] == ' ' || f[i] == '\0')) ++i;
    bool digits = false;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; ++i) {
        v = v * 8 + static_cast<std::uint64_t>(f[i] - '0');
        digits = true;
    }
    for (; i < width; ++i)
        if (f[i] != ' ' && f[i] != '\0') return std::nullopt;
    return digits ? std::optional<std::uint64_t>(v) : std::optional<std::uint64_t>(0);
}

bool checksum_ok(const std::array<char, block>& h) {
    auto stored = number(&h[148], 8);
    if (!stored) return false;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < block; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    return sum == *stored;
}

std::uint64_t padded(std::uint64_t n) { return (n + block - 1) / block * block; }

// pax records "LEN key=value\n"; only path, linkpath and size matter here.
void read_pax(std::string_view rec, std::map<std::string, std::string>& out) {
    while (!rec.empty()) {
        auto sp = rec.find(' ');
        if (sp == std::string_view::npos) return;
        std::size_t len = 0;
        for (char c : rec.substr(0, sp)) {
            if (c < '0' || c > '9') return;
            len = len * 10 + static_cast<std::size_t>(c - '0');
        }
        if (len <= sp + 1 || len > rec.size()) return;
        auto kv = rec.substr(sp + 1, len - sp - 2);  // without the trailing '\n'
        auto eq = kv.find('=');
        if (eq != std::string_view::npos) out[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
        rec.remove_prefix(len);
    }
}

class archive_reader {
public:
    explicit archive_reader(std::filesystem::path p) : path_(std::move(p)), in_(path_, std::ios::binary) {}

    failure corrupt(std::string what) const {
        return make_failure(error::corrupt_artifact, fmt::format("{}: {}", path_.string(), what));
    }

    result<std::string> read(std::uint64_t at, std::uint64_t n) {
        std::string s(n, '\0');
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(at));
        in_.read(s.data(), static_cast<std::streamsize>(n));
        if (static_cast<std::uint64_t>(in_.gcount()) != n)
            return corrupt(fmt::format("ends inside a member ({} bytes wanted at offset {})", n, at));
        return s;
    }

    // Every member, in archive order.
    result<std::vector<tar_member>> index() {
        if (!in_) return make_failure(error::io_error, fmt::format("cannot open {}", path_.string()));
        std::error_code ec;
        auto total = std::filesystem::file_size(path_, ec);
        if (ec) return make_failure(error::io_error, fmt::format("cannot stat {}: {}", path_.string(), ec.message()));
        std::vector<tar_member> out;
        std::uint64_t at = 0;
        std::uint64_t member_begin = 0;  // where the current member's first (extended) header is
        bool in_member = false;
        std::map<std::string, std::string> pax;
        std::string long_name, long_link;
        while (at + block <= total) {
            std::array<char, block> h{};
            in_.clear();
            in_.seekg(static_cast<std::streamoff>(at));
            in_.read(h.data(), block);
            if (in_.gcount() != static_cast<std::streamsize>(block)) break;
            if (std::all_of(h.begin(), h.end(), [](char c) { return c == 0; })) break;  // end of archive
            if (!checksum_ok(h)) return corrupt(fmt::format("no tar header at offset {} (checksum mismatch)", at));
            auto size = number(&h[124], 12);
            if (!size) return corrupt(fmt::format("bad size field in the header at offset {}", at));
            const char type = h[156] == '\0' ? '0' : h[156];
            if (!in_member) {
                member_begin = at;
                in_member = true;
            }
            const std::uint64_t data = at + block;
            std::uint64_t real_size = *size;
            if (type == 'x' || type == 'L' || type == 'K') {
                if (*size > (16u << 20)) return corrupt(fmt::format("extended header of {} bytes at offset {}", *size, at));
                auto body = read(data, *size);
                if (!body) return body.error();
                if (type == 'x') read_pax(*body, pax);
                else (type == 'L' ? long_name : long_link) = field(body->data(), body->size());
                at = data + padded(*size);
                continue;
            }
            tar_member m;
            m.type = type;
            std::string name = field(&h[0], 100);
            if (std::memcmp(&h[257], "ustar", 5) == 0) {
                auto prefix = field(&h[345], 155);
                if (!prefix.empty()) name = prefix + "/" + name;
            }
            m.link = field(&h[157], 100);
            if (!long_name.empty()) name = long_name;
            if (!long_link.empty()) m.link = long_link;
            if (auto it = pax.find("path"); it != pax.end()) name = it->second;
            if (auto it = pax.find("linkpath"); it != pax.end()) m.link = it->second;
            if (auto it = pax.find("size"); it != pax.end()) real_size = std::strtoull(it->second.c_str(), nullptr, 10);
            // Links and directories carry no data whatever the size field says.
            if (type == '1' || type == '2' || type == '5') real_size = 0;
            m.name = normalise(name);
            m.begin = member_begin;
            m.data = data;
            m.size = real_size;
            m.end = data + padded(real_size);
            if (m.end > total) return corrupt(fmt::format("member '{}' runs past the end of the archive", m.name));
            out.push_back(std::move(m));
            at = out.back().end;
            in_member = false;
            pax.clear();
            long_name.clear();
            long_link.clear();
        }
        return out;
    }

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    std::ifstream in_;
};

// A symlink's or hardlink's target as an archive path ("" when it leaves the archive).
std::string link_target(const tar_member& m) {
    if (m.type == '1') return normalise(m.link);
    std::filesystem::path p = std::filesystem::path(m.name).parent_path() / m.link;
    auto s = p.lexically_normal().generic_string();
    if (s.starts_with("..") || s.starts_with('/')) return {};
    return normalise(s);
}

struct saved_image {
    std::string config;
    std::vector<std::string> layer_paths;  // normalised, base first
    std::vector<std::string> diff_ids;     // from the config's rootfs, base first
};

}  // namespace

result<layer_filter_stats> filter_saved_images(const std::filesystem::path& archive, const std::vector<std::string>& skip,
                                               byte_sink& out) {
    archive_reader in(archive);
    auto members = in.index();
    if (!members) return members.error();
    std::map<std::string, std::size_t> by_name;
    for (std::size_t i = 0; i < members->size(); ++i) by_name[(*members)[i].name] = i;

    auto small_file = [&](const std::string& name, const char* what) -> result<json> {
        auto it = by_name.find(normalise(name));
        if (it == by_name.end()) return in.corrupt(fmt::format("no {} '{}' in the archive", what, name));
        const auto& m = (*members)[it->second];
        if (m.size > (64u << 20)) return in.corrupt(fmt::format("{} '{}' is {} bytes", what, name, m.size));
        auto text = in.read(m.data, m.size);
        if (!text) return text.error();
        try {
            return json::parse(*text);
        } catch (const json::exception& e) {
            return in.corrupt(fmt::format("{} '{}' is not JSON: {}", what, name, e.what()));
        }
    };

    auto manifest = small_file("manifest.json", "manifest");
    if (!manifest) return manifest.error();
    if (!manifest->is_array()) return in.corrupt("manifest.json is not a list");
    std::vector<saved_image> images;
    try {
        for (auto& item : *manifest) {
            saved_image img;
            img.config = item.at("Config").get<std::string>();
            for (auto& l : item.at("Layers")) img.layer_paths.push_back(normalise(l.get<std::string>()));
            auto config = small_file(img.config, "image config");
            if (!config) return config.error();
            for (auto& d : config->at("rootfs").at("diff_ids")) img.diff_ids.push_back(d.get<std::string>());
            if (img.diff_ids.size() != img.layer_paths.size())
                return in.corrupt(fmt::format("manifest lists {} layers for {}, its config {} diff ids", img.layer_paths.size(),
                                              img.config, img.diff_ids.size()));
            images.push_back(std::move(img));
        }
    } catch (const json::exception& e) {
        return in.corrupt(fmt::format("manifest.json or an image config lacks what docker save writes: {}", e.what()));
    }

    // Left out: a layer.tar in the base-first run of skipped diff ids of every image naming
    // it; kept: anything a kept layer needs (itself, or the file its link points to).
    const std::set<std::string> skip_set(skip.begin(), skip.end());
    std::set<std::string> droppable, needed;
    layer_filter_stats st;
    for (auto& img : images) {
        std::size_t run = 0;
        while (run < img.diff_ids.size() && skip_set.count(img.diff_ids[run])) ++run;
        for (std::size_t i = 0; i < img.layer_paths.size(); ++i) {
            if (!by_name.count(img.layer_paths[i]))
                return in.corrupt(fmt::format("the layer '{}' named by the manifest is missing", img.layer_paths[i]));
            (i < run ? droppable : needed).insert(img.layer_paths[i]);
            auto& list = i < run ? st.layers_skipped : st.layers_sent;
            if (std::find(list.begin(), list.end(), img.diff_ids[i]) == list.end()) list.push_back(img.diff_ids[i]);
        }
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (auto& path : std::vector<std::string>(needed.begin(), needed.end())) {
            const auto& m = (*members)[by_name[path]];
            if (m.type != '1' && m.type != '2') continue;
            auto target = link_target(m);
            if (!target.empty() && by_name.count(target) && needed.insert(target).second) changed = true;
        }
    }
    std::set<std::string> dropped;
    for (auto& p : droppable)
        if (!needed.count(p)) dropped.insert(p);
    // A diff id whose file had to stay (a kept layer links to it) did cross after all.
    for (auto it = st.layers_skipped.begin(); it != st.layers_skipped.end();) {
        bool crossed = false;
        for (auto& img : images)
            for (std::size_t i = 0; i < img.diff_ids.size(); ++i)
                if (img.diff_ids[i] == *it && !dropped.count(img.layer_paths[i])) crossed = true;
        if (crossed) {
            if (std::find(st.layers_sent.begin(), st.layers_sent.end(), *it) == st.layers_sent.end())
                st.layers_sent.push_back(*it);
            it = st.layers_skipped.erase(it);
        } else {
            ++it;
        }
    }

    // Copy every member but the dropped ones, contiguous runs at a time, then the trailer.
    std::error_code ec;
    st.archive_bytes = std::filesystem::file_size(archive, ec);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (auto& m : *members) {
        if (dropped.count(m.name)) continue;
        if (!ranges.empty() && ranges.back().second == m.begin) ranges.back().second = m.end;
        else ranges.emplace_back(m.begin, m.end);
    }
    std::ifstream f(archive, std::ios::binary);
    if (!f) return make_failure(error::io_error, fmt::format("cannot open {}", archive.string()));
    std::vector<char> buf(256 * 1024);
    for (auto [from, to] : ranges) {
        f.clear();
        f.seekg(static_cast<std::streamoff>(from));
        for (std::uint64_t left = to - from; left > 0;) {
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
            f.read(buf.data(), static_cast<std::streamsize>(n));
            if (static_cast<std::size_t>(f.gcount()) != n)
                return make_failure(error::io_error, fmt::format("{}: short read at offset {}", archive.string(), to - left));
            MIGRATE_TRY(out.write(std::as_bytes(std::span(buf.data(), n))));
            st.sent_bytes += n;
            left -= n;
        }
    }
    static const std::array<std::byte, 2 * block> trailer{};
    MIGRATE_TRY(out.write(trailer));
    st.sent_bytes += trailer.size();
    return st;
}

result<json> save_images_without_layers(container_runtime& rt, const std::vector<std::string>& refs,
                                        const std::vector<std::string>& skip, const std::filesystem::path& work_dir,
                                        byte_sink& out) {
    if (work_dir.empty())
        return make_failure(error::invalid_argument,
                            fmt::format("saving {} without layers needs the host's work dir to stage the save", fmt::join(refs, ", ")));
    std::error_code ec;
    std::filesystem::create_directories(work_dir, ec);
    if (ec)
        return make_failure(error::io_error, fmt::format("cannot create the work dir {}: {}", work_dir.string(), ec.message()));
    static std::atomic<unsigned> serial{0};
    const auto staging = work_dir / fmt::format(".save-{}-{}.tar", ::getpid(), serial++);
    struct remover {
        std::filesystem::path p;
        ~remover() { std::error_code e; std::filesystem::remove(p, e); }
    } guard{staging};
    {
        auto file = file_sink(staging);
        MIGRATE_TRY(rt.save_images(refs, *file));
        MIGRATE_TRY(file->close());
    }
    auto st = filter_saved_images(staging, skip, out);
    if (!st) return st.error();
    json j = *st;
    j["staged_in"] = work_dir.string();
    return j;
}

}  // namespace migrate
