// Block-level directory delta. Wire format (little endian):
//   "MGDELTA2" u32 block_size            ("MGDELTA1" streams, without copy runs, are read too)
//   records, each starting with one type byte:
//     'D' u16 name_len, name, u32 mode                      a directory (relative name)
//     'F' u16 name_len, name, u32 mode, u64 size, u8 from_base
//         runs, each starting with u64 first_block:
//           data run  first_block < 2^63: u32 count, then the blocks' bytes (the last
//                     block of the file may be short)
//           copy run  first_block | 2^63: u32 count, u64 source_block: the blocks
//                     [source_block, +count) of the base file of the same name, which the
//                     receiver holds (full blocks only)
//           end       first_block == UINT64_MAX
//         32 bytes: SHA-256 of the whole new file
//     'E' end of stream
// A file's blocks not sent are taken from the base file of the same name at the same
// offset (from_base = 1). Copy runs exist because CRIU writes a process's pages in address
// order: one page that became present low in memory shifts every page after it by a block,
// and a same-offset comparison would then resend the whole file (seen with memcached: 1.0x
// where the content-matched delta is 60x).
#include <migrate/delta.hpp>
#include <migrate/sha256.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace fs = std::filesystem;

namespace migrate {

void to_json(json& j, const delta_stats& s) {
    j = json{{"full_bytes", s.full_bytes},     {"stream_bytes", s.stream_bytes}, {"changed_blocks", s.changed_blocks},
             {"moved_blocks", s.moved_blocks}, {"total_blocks", s.total_blocks}, {"files", s.files},
             {"new_files", s.new_files},       {"block_size", s.block_size},     {"ratio", s.ratio()}};
}

namespace {

constexpr char magic[8] = {'M', 'G', 'D', 'E', 'L', 'T', 'A', '2'};
constexpr char magic_v1[8] = {'M', 'G', 'D', 'E', 'L', 'T', 'A', '1'};
constexpr std::uint64_t end_of_runs = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t copy_flag = std::uint64_t{1} << 63;
constexpr std::size_t max_run_blocks = 64;
constexpr std::uint32_t max_copy_blocks = 1u << 24;

using sha256_digest = sha256::digest;

// ---- writing --------------------------------------------------------------------------------

class writer {
public:
    explicit writer(byte_sink& out) : out_(out) {}
    result<void> bytes(const void* p, std::size_t n) {
        count_ += n;
        return out_.write(std::span<const std::byte>(static_cast<const std::byte*>(p), n));
    }
    template <class T>
    result<void> num(T v) {
        unsigned char b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(std::uint64_t(v) >> (8 * i));
        return bytes(b, sizeof b);
    }
    result<void> name(const std::string& s) {
        MIGRATE_TRY(num<std::uint16_t>(static_cast<std::uint16_t>(s.size())));
        return bytes(s.data(), s.size());
    }
    std::uint64_t count() const { return count_; }

private:
    byte_sink& out_;
    std::uint64_t count_ = 0;
};

failure io_fail(const fs::path& p, std::string_view what) {
    return make_failure(error::io_error, fmt::format("{} {}: {}", what, p.string(), std::strerror(errno)));
}

// Reads up to n bytes (fewer only at the end of the file).
std::size_t read_some(std::ifstream& in, char* p, std::size_t n) {
    in.read(p, static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(in.gcount());
}

// A fast 64-bit hash of a block, to find candidates; a match is always confirmed byte for
// byte before it is used.
std::uint64_t block_hash(const char* p, std::size_t n) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ull;
    return h;
}

// The base file of the same name, indexed: the hash of each of its full blocks, and for
// each hash the first block holding it.
class base_index {
public:
    ~base_index() {
        if (fd_ >= 0) ::close(fd_);
    }
    result<void> open(const fs::path& file, std::size_t block) {
        block_ = block;
        fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) return io_fail(file, "cannot open");
        path_ = file;
        std::vector<char> buf(block);
        for (std::uint64_t idx = 0;; ++idx) {
            auto n = read_at(idx, buf.data());
            if (!n) return n.error();
            if (*n < block) break;  // a short last block is only ever compared in place
            auto h = block_hash(buf.data(), block);
            hashes_.push_back(h);
            first_.emplace(h, idx);
        }
        return {};
    }
    std::uint64_t full_blocks() const { return hashes_.size(); }
    // Block `idx` of the base equals `data` (a full block whose hash is `h`).
    result<bool> same_at(std::uint64_t idx, std::uint64_t h, const char* data) {
        if (idx >= hashes_.size() || hashes_[idx] != h) return false;
        return confirm(idx, data);
    }
    // A block of the base that equals `data`, if any.
    result<std::optional<std::uint64_t>> find(std::uint64_t h, const char* data) {
        auto it = first_.find(h);
        if (it == first_.end()) return std::optional<std::uint64_t>{};
        auto ok = confirm(it->second, data);
        if (!ok) return ok.error();
        return *ok ? std::optional<std::uint64_t>{it->second} : std::optional<std::uint64_t>{};
    }
    // Reads block `idx` (fewer bytes at the end of the file).
    result<std::size_t> read_at(std::uint64_t idx, char* out) {
        std::size_t got = 0;
        while (got < block_) {
            auto n = ::pread(fd_, out + got, block_ - got, static_cast<off_t>(idx * block_ + got));
            if (n < 0) {
                if (errno == EINTR) continue;
                return io_fail(path_, "cannot read");
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    }

private:
    result<bool> confirm(std::uint64_t idx, const char* data) {
        scratch_.resize(block_);
        auto n = read_at(idx, scratch_.data());
        if (!n) return n.error();
        return *n == block_ && std::memcmp(scratch_.data(), data, block_) == 0;
    }
    int fd_ = -1;
    fs::path path_;
    std::size_t block_ = 4096;
    std::vector<std::uint64_t> hashes_;
    std::unordered_map<std::uint64_t, std::uint64_t> first_;
    std::vector<char> scratch_;
};

result<void> write_file(writer& w, const fs::path& base_file, const fs::path& file, const std::string& rel,
                        std::size_t block, delta_stats& st) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return make_failure(error::io_error, fmt::format("size of {}: {}", file.string(), ec.message()));
    std::ifstream cur(file, std::ios::binary);
    if (!cur) return io_fail(file, "cannot open");
    base_index base;
    const bool from_base = fs::is_regular_file(base_file, ec);
    if (from_base) MIGRATE_TRY(base.open(base_file, block));
    auto perms = static_cast<std::uint32_t>(fs::status(file, ec).permissions());
    MIGRATE_TRY(w.bytes("F", 1));
    MIGRATE_TRY(w.name(rel));
    MIGRATE_TRY(w.num<std::uint32_t>(perms));
    MIGRATE_TRY(w.num<std::uint64_t>(size));
    MIGRATE_TRY(w.num<std::uint8_t>(from_base ? 1 : 0));
    ++st.files;
    if (!from_base) ++st.new_files;
    st.full_bytes += size;

    sha256 hash;
    std::vector<char> cb(block), tail(block);
    // At most one run is pending: changed blocks to send, or blocks found elsewhere in the base.
    std::vector<char> run;
    std::uint64_t run_first = 0, run_count = 0;
    std::uint64_t copy_first = 0, copy_count = 0, copy_source = 0;
    auto flush_data = [&]() -> result<void> {
        if (run_count == 0) return {};
        MIGRATE_TRY(w.num<std::uint64_t>(run_first));
        MIGRATE_TRY(w.num<std::uint32_t>(static_cast<std::uint32_t>(run_count)));
        MIGRATE_TRY(w.bytes(run.data(), run.size()));
        run.clear();
        run_count = 0;
        return {};
    };
    auto flush_copy = [&]() -> result<void> {
        if (copy_count == 0) return {};
        MIGRATE_TRY(w.num<std::uint64_t>(copy_first | copy_flag));
        MIGRATE_TRY(w.num<std::uint32_t>(static_cast<std::uint32_t>(copy_count)));
        MIGRATE_TRY(w.num<std::uint64_t>(copy_source));
        copy_count = 0;
        return {};
    };
    for (std::uint64_t idx = 0;; ++idx) {
        auto n = read_some(cur, cb.data(), block);
        if (n == 0) break;
        hash.update(cb.data(), n);
        ++st.total_blocks;
        if (from_base) {
            // 1. the same block at the same offset: nothing to send.
            bool same = false;
            if (n == block) {
                auto h = block_hash(cb.data(), n);
                auto r = base.same_at(idx, h, cb.data());
                if (!r) return r.error();
                same = *r;
                // 2. the same block elsewhere in the base: send where it is.
                if (!same) {
                    auto at = base.find(h, cb.data());
                    if (!at) return at.error();
                    if (*at) {
                        MIGRATE_TRY(flush_data());
                        ++st.moved_blocks;
                        if (copy_count > 0 && copy_first + copy_count == idx && copy_source + copy_count == **at &&
                            copy_count < max_copy_blocks) {
                            ++copy_count;
                        } else {
                            MIGRATE_TRY(flush_copy());
                            copy_first = idx;
                            copy_source = **at;
                            copy_count = 1;
                        }
                        continue;
                    }
                }
            } else {
                auto m = base.read_at(idx, tail.data());
                if (!m) return m.error();
                same = *m == n && std::memcmp(cb.data(), tail.data(), n) == 0;
            }
            if (same) {
                MIGRATE_TRY(flush_data());
                MIGRATE_TRY(flush_copy());
                continue;
            }
        }
        // 3. a block the receiver does not have: send it.
        MIGRATE_TRY(flush_copy());
        ++st.changed_blocks;
        if (run_count == 0) run_first = idx;
        run.insert(run.end(), cb.data(), cb.data() + n);
        if (++run_count == max_run_blocks) MIGRATE_TRY(flush_data());
        if (n < block) break;
    }
    if (cur.bad()) return io_fail(file, "cannot read");
    MIGRATE_TRY(flush_data());
    MIGRATE_TRY(flush_copy());
    MIGRATE_TRY(w.num<std::uint64_t>(end_of_runs));
    auto digest = hash.finish();
    return w.bytes(digest.data(), digest.size());
}

// ---- reading --------------------------------------------------------------------------------

class reader {
public:
    explicit reader(byte_source& in) : in_(in) {}
    result<void> exact(void* p, std::size_t n) {
        auto* dst = static_cast<std::byte*>(p);
        while (n > 0) {
            auto r = in_.read(std::span<std::byte>(dst, n));
            if (!r) return r.error();
            if (*r == 0) return make_failure(error::corrupt_artifact, "delta stream: truncated");
            dst += *r;
            n -= *r;
            count_ += *r;
        }
        return {};
    }
    template <class T>
    result<T> num() {
        unsigned char b[sizeof(T)];
        MIGRATE_TRY(exact(b, sizeof b));
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t(b[i]) << (8 * i);
        return static_cast<T>(v);
    }
    result<std::string> name() {
        auto len = num<std::uint16_t>();
        if (!len) return len.error();
        std::string s(*len, '\0');
        MIGRATE_TRY(exact(s.data(), s.size()));
        // Names stay inside the directory being rebuilt.
        if (s.empty() || s.front() == '/')
            return make_failure(error::corrupt_artifact, fmt::format("delta stream: bad name '{}'", s));
        for (auto& part : fs::path(s))
            if (part == "..") return make_failure(error::corrupt_artifact, fmt::format("delta stream: name '{}' leaves the directory", s));
        return s;
    }
    std::uint64_t count() const { return count_; }

private:
    byte_source& in_;
    std::uint64_t count_ = 0;
};

result<void> copy_base(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return make_failure(error::io_error, fmt::format("copy {} to {}: {}", from.string(), to.string(), ec.message()));
    return {};
}

result<void> read_file(reader& r, const fs::path& base, const fs::path& out_dir, std::size_t block, bool copy_runs,
                       delta_stats& st) {
    auto rel = r.name();
    if (!rel) return rel.error();
    auto mode = r.num<std::uint32_t>();
    if (!mode) return mode.error();
    auto size = r.num<std::uint64_t>();
    if (!size) return size.error();
    auto from_base = r.num<std::uint8_t>();
    if (!from_base) return from_base.error();
    const auto path = out_dir / *rel;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (*from_base) {
        if (!fs::is_regular_file(base / *rel, ec))
            return make_failure(error::corrupt_artifact,
                                fmt::format("delta for '{}' needs base file {}, which is missing", *rel, (base / *rel).string()));
        MIGRATE_TRY(copy_base(base / *rel, path));
    } else {
        std::ofstream(path, std::ios::binary | std::ios::trunc);
        ++st.new_files;
    }
    fs::resize_file(path, *size, ec);
    if (ec) return make_failure(error::io_error, fmt::format("resize {}: {}", path.string(), ec.message()));
    {
        std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
        if (!f) return io_fail(path, "cannot open");
        std::vector<char> buf;
        std::ifstream base_in;
        for (;;) {
            auto first = r.num<std::uint64_t>();
            if (!first) return first.error();
            if (*first == end_of_runs) break;
            auto count = r.num<std::uint32_t>();
            if (!count) return count.error();
            if (*first & copy_flag) {
                // Blocks the receiver's base holds at another offset.
                const std::uint64_t at = *first & ~copy_flag;
                auto source = r.num<std::uint64_t>();
                if (!source) return source.error();
                const std::uint64_t base_size = *from_base ? fs::file_size(base / *rel, ec) : 0;
                if (!copy_runs || !*from_base || ec || *count == 0 || *count > max_copy_blocks ||
                    at + *count > *size / block || *source + *count > base_size / block)
                    return make_failure(error::corrupt_artifact,
                                        fmt::format("delta for '{}': bad copy run at block {} from block {}", *rel, at, *source));
                if (!base_in.is_open()) {
                    base_in.open(base / *rel, std::ios::binary);
                    if (!base_in) return io_fail(base / *rel, "cannot open");
                }
                std::uint64_t done = 0;
                while (done < *count) {
                    const std::uint64_t n = std::min<std::uint64_t>(*count - done, max_run_blocks);
                    buf.resize(n * block);
                    base_in.seekg(static_cast<std::streamoff>((*source + done) * block));
                    base_in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
                    if (!base_in) return io_fail(base / *rel, "cannot read");
                    f.seekp(static_cast<std::streamoff>((at + done) * block));
                    f.write(buf.data(), static_cast<std::streamsize>(buf.size()));
                    if (!f) return io_fail(path, "cannot write");
                    done += n;
                }
                st.moved_blocks += *count;
                continue;
            }
            if (*count == 0 || *count > max_run_blocks || *first > *size / block)
                return make_failure(error::corrupt_artifact, fmt::format("delta for '{}': bad run at block {}", *rel, *first));
            const std::uint64_t off = *first * block;
            const std::uint64_t len = std::min<std::uint64_t>(std::uint64_t(*count) * block, *size - off);
            buf.resize(len);
            MIGRATE_TRY(r.exact(buf.data(), len));
            f.seekp(static_cast<std::streamoff>(off));
            f.write(buf.data(), static_cast<std::streamsize>(len));
            if (!f) return io_fail(path, "cannot write");
            st.changed_blocks += *count;
        }
    }
    sha256_digest want{};
    MIGRATE_TRY(r.exact(want.data(), want.size()));
    // Check what was rebuilt, not what was received: a base that differs on the two sides
    // shows up here.
    sha256 hash;
    std::ifstream f(path, std::ios::binary);
    std::vector<char> buf(1 << 20);
    for (;;) {
        auto n = read_some(f, buf.data(), buf.size());
        if (n == 0) break;
        hash.update(buf.data(), n);
    }
    if (hash.finish() != want)
        return make_failure(error::corrupt_artifact,
                            fmt::format("rebuilt '{}' does not match the sender's SHA-256: the base copies differ", *rel));
    fs::permissions(path, static_cast<fs::perms>(*mode & 07777), ec);
    ++st.files;
    st.full_bytes += *size;
    st.total_blocks += (*size + block - 1) / block;
    return {};
}

}  // namespace

result<delta_stats> write_dir_delta(const fs::path& base, const fs::path& current, byte_sink& out, std::size_t block_size) {
    if (block_size < 512 || block_size > (1u << 20))
        return make_failure(error::invalid_argument, "write_dir_delta: block_size must be within 512 B .. 1 MiB");
    std::error_code ec;
    if (!fs::is_directory(current, ec))
        return make_failure(error::not_found, fmt::format("{} is not a directory", current.string()));
    if (!fs::is_directory(base, ec))
        return make_failure(error::not_found, fmt::format("base {} is not a directory", base.string()));
    std::vector<fs::path> entries;
    for (auto it = fs::recursive_directory_iterator(current, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        entries.push_back(it->path());
    if (ec) return make_failure(error::io_error, fmt::format("listing {}: {}", current.string(), ec.message()));
    std::sort(entries.begin(), entries.end());

    delta_stats st;
    st.block_size = block_size;
    writer w{out};
    MIGRATE_TRY(w.bytes(magic, sizeof magic));
    MIGRATE_TRY(w.num<std::uint32_t>(static_cast<std::uint32_t>(block_size)));
    for (auto& e : entries) {
        auto rel = fs::relative(e, current).string();
        auto s = fs::symlink_status(e, ec);
        if (fs::is_directory(s)) {
            MIGRATE_TRY(w.bytes("D", 1));
            MIGRATE_TRY(w.name(rel));
            MIGRATE_TRY(w.num<std::uint32_t>(static_cast<std::uint32_t>(s.permissions())));
        } else if (fs::is_regular_file(s)) {
            MIGRATE_TRY(write_file(w, base / rel, e, rel, block_size, st));
        } else {
            return make_failure(error::unsupported, fmt::format("{}: only files and directories can be sent as a delta", e.string()));
        }
    }
    MIGRATE_TRY(w.bytes("E", 1));
    st.stream_bytes = w.count();
    return st;
}

result<delta_stats> apply_dir_delta(const fs::path& base, const fs::path& out_dir, byte_source& in) {
    std::error_code ec;
    const fs::path partial = out_dir.string() + ".partial";
    fs::remove_all(partial, ec);
    fs::create_directories(partial, ec);
    if (ec) return make_failure(error::io_error, fmt::format("cannot create {}: {}", partial.string(), ec.message()));
    auto fail = [&](failure f) -> result<delta_stats> {
        fs::remove_all(partial, ec);
        return f;
    };

    reader r{in};
    char m[sizeof magic];
    if (auto x = r.exact(m, sizeof m); !x) return fail(x.error());
    const bool v2 = std::memcmp(m, magic, sizeof magic) == 0;
    if (!v2 && std::memcmp(m, magic_v1, sizeof magic_v1) != 0)
        return fail(make_failure(error::corrupt_artifact, "not a migrate delta stream (bad magic)"));
    auto block = r.num<std::uint32_t>();
    if (!block) return fail(block.error());
    if (*block < 512 || *block > (1u << 20))
        return fail(make_failure(error::corrupt_artifact, fmt::format("delta stream: bad block size {}", *block)));
    delta_stats st;
    st.block_size = *block;
    for (;;) {
        char type = 0;
        if (auto x = r.exact(&type, 1); !x) return fail(x.error());
        if (type == 'E') break;
        if (type == 'D') {
            auto rel = r.name();
            if (!rel) return fail(rel.error());
            auto mode = r.num<std::uint32_t>();
            if (!mode) return fail(mode.error());
            fs::create_directories(partial / *rel, ec);
            fs::permissions(partial / *rel, static_cast<fs::perms>(*mode & 07777), ec);
        } else if (type == 'F') {
            if (auto x = read_file(r, base, partial, *block, v2, st); !x) return fail(x.error());
        } else {
            return fail(make_failure(error::corrupt_artifact, fmt::format("delta stream: unknown record type {}", int(type))));
        }
    }
    st.stream_bytes = r.count();
    fs::remove_all(out_dir, ec);
    fs::rename(partial, out_dir, ec);
    if (ec) return fail(make_failure(error::io_error, fmt::format("rename to {}: {}", out_dir.string(), ec.message())));
    return st;
}

}  // namespace migrate
