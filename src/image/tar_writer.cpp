// ustar + pax writer. Why write tar ourselves: the image builder and the volume helper
// need archives with entries from several sources (host files at other paths, generated
// content, symlinks) streamed straight into an HTTP upload, with no staging directory.
#include <migrate/image/tar_writer.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace migrate::image {
namespace {

constexpr std::size_t block = 512;

std::string normalize(std::string_view path) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    return std::string(path);
}

// Octal, NUL-terminated, right-aligned in `width` bytes. False when it does not fit.
bool put_octal(char* field, std::size_t width, std::uint64_t v) {
    std::string s;
    do { s.insert(s.begin(), char('0' + (v & 7))); v >>= 3; } while (v);
    if (s.size() > width - 1) return false;
    std::memset(field, '0', width - 1);
    std::memcpy(field + (width - 1 - s.size()), s.data(), s.size());
    field[width - 1] = '\0';
    return true;
}

std::string pax_record(std::string_view key, std::string_view value) {
    // "LEN key=value\n" where LEN counts itself.
    std::size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
    std::size_t len = body + 1;
    while (std::to_string(len).size() + body != len) ++len;
    return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

}  // namespace

tar_writer::tar_writer(byte_sink& out, std::size_t chunk_size)
    : out_(out), chunk_size_(chunk_size < block ? block : chunk_size) {}

result<void> tar_writer::put(std::span<const std::byte> b) {
    written_ += b.size();
    return out_.write(b);
}

result<void> tar_writer::pad(std::uint64_t size) {
    static const std::array<std::byte, block> zeros{};
    auto rest = size % block;
    if (rest == 0) return {};
    return put(std::span(zeros).first(block - rest));
}

result<void> tar_writer::header(std::string_view path_in, char type, std::uint64_t size, std::string_view link,
                                const tar_entry_meta& meta) {
    std::string path = normalize(path_in);
    if (type == '5' && (path.empty() || path.back() != '/')) path += '/';
    if (path.empty() || path == "/") path = "./";

    std::string pax;
    if (path.size() > 99) pax += pax_record("path", path);
    if (link.size() > 99) pax += pax_record("linkpath", link);
    if (size > 077777777777ull) pax += pax_record("size", std::to_string(size));
    if (!pax.empty()) {
        std::string xname = "PaxHeaders/" + path.substr(0, 80);
        MIGRATE_TRY(header(xname, 'x', pax.size(), {}, tar_entry_meta{0644}));
        MIGRATE_TRY(put(std::as_bytes(std::span(pax.data(), pax.size()))));
        MIGRATE_TRY(pad(pax.size()));
    }

    std::array<char, block> h{};
    std::memcpy(h.data(), path.data(), std::min<std::size_t>(path.size(), 99));
    put_octal(&h[100], 8, meta.mode & 07777);
    put_octal(&h[108], 8, meta.uid);
    put_octal(&h[116], 8, meta.gid);
    if (!put_octal(&h[124], 12, size)) put_octal(&h[124], 12, 0);  // real size is in the pax header
    put_octal(&h[136], 12, static_cast<std::uint64_t>(meta.mtime < 0 ? 0 : meta.mtime));
    h[156] = type;
    std::memcpy(&h[157], link.data(), std::min<std::size_t>(link.size(), 99));
    std::memcpy(&h[257], "ustar", 6);
    h[263] = '0';
    h[264] = '0';
    const char* owner = meta.uid == 0 ? "root" : "";
    std::memcpy(&h[265], owner, std::strlen(owner));
    std::memcpy(&h[297], owner, std::strlen(owner));
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    put_octal(&h[148], 7, sum);
    h[155] = ' ';
    return put(std::as_bytes(std::span(h)));
}

result<void> tar_writer::add_directory(std::string_view path, tar_entry_meta meta) {
    return header(path, '5', 0, {}, meta);
}

result<void> tar_writer::add_file(std::string_view path, std::string_view content, tar_entry_meta meta) {
    MIGRATE_TRY(header(path, '0', content.size(), {}, meta));
    MIGRATE_TRY(put(std::as_bytes(std::span(content.data(), content.size()))));
    return pad(content.size());
}

result<void> tar_writer::add_file(std::string_view path, byte_source& content, std::uint64_t size,
                                  tar_entry_meta meta) {
    MIGRATE_TRY(header(path, '0', size, {}, meta));
    std::vector<std::byte> buf(chunk_size_);
    std::uint64_t left = size;
    while (left > 0) {
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
        auto n = content.read(std::span(buf).first(want));
        if (!n) return n.error();
        if (*n == 0)
            return make_failure(error::io_error, "tar entry '" + normalize(path) + "': source ended " +
                                                     std::to_string(left) + " bytes short of " + std::to_string(size));
        MIGRATE_TRY(put(std::span(buf).first(*n)));
        left -= *n;
    }
    // A longer source would silently lose data: refuse it.
    std::byte extra[1];
    if (auto n = content.read(extra); n && *n != 0)
        return make_failure(error::io_error, "tar entry '" + normalize(path) + "': source is longer than " +
                                                 std::to_string(size) + " bytes");
    return pad(size);
}

result<void> tar_writer::add_host_file(std::string_view path, const std::filesystem::path& host_file,
                                       std::optional<std::uint32_t> mode) {
    int fd = ::open(host_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return make_failure(errno == ENOENT ? error::not_found : error::io_error,
                            "cannot open " + host_file.string() + ": " + std::strerror(errno));
    struct closer { int fd; ~closer() { ::close(fd); } } guard{fd};
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return make_failure(error::io_error, host_file.string() + " is not a regular file");
    struct fd_source final : byte_source {
        int fd;
        const std::filesystem::path& p;
        fd_source(int f, const std::filesystem::path& path) : fd(f), p(path) {}
        result<std::size_t> read(std::span<std::byte> b) override {
            for (;;) {
                auto n = ::read(fd, b.data(), b.size());
                if (n >= 0) return static_cast<std::size_t>(n);
                if (errno != EINTR) return make_failure(error::io_error, "cannot read " + p.string() + ": " + std::strerror(errno));
            }
        }
    } src{fd, host_file};
    tar_entry_meta meta{mode.value_or(st.st_mode & 07777), 0, 0, 0};
    return add_file(path, src, static_cast<std::uint64_t>(st.st_size), meta);
}

result<void> tar_writer::add_symlink(std::string_view path, std::string_view target, tar_entry_meta meta) {
    return header(path, '2', 0, target, meta);
}

result<void> tar_writer::finish() {
    static const std::array<std::byte, 2 * block> zeros{};
    return put(zeros);
}

bool looks_like_archive(std::span<const std::byte> first) noexcept {
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(first[i]); };
    auto starts = [&](std::initializer_list<unsigned char> magic) {
        if (first.size() < magic.size()) return false;
        std::size_t i = 0;
        for (auto m : magic) if (at(i++) != m) return false;
        return true;
    };
    if (starts({0x1f, 0x8b}) || starts({'B', 'Z', 'h'}) || starts({0xfd, '7', 'z', 'X', 'Z', 0x00}) ||
        starts({0x28, 0xb5, 0x2f, 0xfd}))
        return true;
    if (first.size() < block) return false;
    bool all_zero = true;
    unsigned sum = 0;
    for (std::size_t i = 0; i < block; ++i) {
        if (at(i)) all_zero = false;
        sum += (i >= 148 && i < 156) ? ' ' : at(i);
    }
    if (all_zero) return true;
    // The stored checksum: octal digits, padded with spaces/NULs.
    unsigned stored = 0;
    bool digits = false;
    for (std::size_t i = 148; i < 156; ++i) {
        unsigned char c = at(i);
        if (c >= '0' && c <= '7') { stored = stored * 8 + (c - '0'); digits = true; }
        else if (c == ' ' || c == 0) { if (digits) break; }
        else return false;
    }
    return digits && stored == sum;
}

}  // namespace migrate::image
