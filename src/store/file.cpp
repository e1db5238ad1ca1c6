#include <migrate/store/file.hpp>

#include <migrate/sha256.hpp>

#include "store_detail.hpp"

#include <fmt/format.h>
#include <fmt/std.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace migrate::store {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

result<void> file_store_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "file_store_options." + msg); };
    if (directory.empty()) return bad("directory: empty (the store's directory is required)");
    if (poll_interval < 1ms || poll_interval > 10s)
        return bad(fmt::format("poll_interval: {} ms is out of range [1, 10000]", poll_interval.count()));
    if (journal_max_bytes < 4096) return bad(fmt::format("journal_max_bytes: {} must be >= 4096", journal_max_bytes));
    return {};
}

void to_json(json& j, const file_store_options& o) {
    j = json{{"directory", o.directory.string()},
             {"durable", o.durable},
             {"poll_interval_ms", o.poll_interval.count()},
             {"journal_max_bytes", o.journal_max_bytes}};
}

void from_json(const json& j, file_store_options& o) {
    const char* w = "file_store_options";
    std::string dir = o.directory.string();
    migrate::detail::read_field(j, w, "directory", dir);
    o.directory = dir;
    migrate::detail::read_field(j, w, "durable", o.durable);
    std::int64_t poll = o.poll_interval.count();
    migrate::detail::read_field(j, w, "poll_interval_ms", poll);
    o.poll_interval = std::chrono::milliseconds(poll);
    migrate::detail::read_field(j, w, "journal_max_bytes", o.journal_max_bytes);
}

namespace {

constexpr std::string_view file_magic = "MIGRATE-STATE 1 ";
constexpr std::size_t max_plain_name = 200;
constexpr std::size_t journal_header_bytes = 17;   // version (8), kind (1), key length (4), value length (4)

/// An owned file descriptor.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) { reset(); fd_ = std::exchange(o.fd_, -1); }
        return *this;
    }
    ~unique_fd() { reset(); }
    void reset() noexcept { if (fd_ >= 0) ::close(fd_); fd_ = -1; }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

int open_retry(const std::string& path, int flags, mode_t mode = 0644) {
    int fd;
    do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// Appends what can be read from `fd` now to `out`; false on a read error.
bool read_available(int fd, std::string& out) {
    char buf[65536];
    for (;;) {
        auto n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
    return v;
}

bool plain_name_byte(char c, bool first) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x80 && std::isalnum(u)) || c == '_' || c == '-' || (c == '.' && !first);
}

/// The file name of a key: never starts with '.', never contains '/', at most 200 bytes.
std::string file_name_of(std::string_view key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (plain_name_byte(key[i], i == 0)) out.push_back(key[i]);
        else out += fmt::format("%{:02X}", static_cast<unsigned char>(key[i]));
    }
    if (out.size() <= max_plain_name) return out;
    sha256 h;
    h.update(key.data(), key.size());
    return "~" + to_hex(h.finish());
}

/// The key of an escaped (not hashed) file name; nullopt when it is not one of ours.
std::optional<std::string> key_of_file_name(std::string_view name) {
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] != '%') { out.push_back(name[i]); continue; }
        unsigned v = 0;
        if (i + 2 >= name.size()) return std::nullopt;
        auto [p, ec] = std::from_chars(name.data() + i + 1, name.data() + i + 3, v, 16);
        if (ec != std::errc{} || p != name.data() + i + 3) return std::nullopt;
        out.push_back(static_cast<char>(v));
        i += 2;
    }
    return out;
}

std::string encode_file(std::string_view key, std::string_view value, std::int64_t version) {
    auto out = fmt::format("{}{} {}\n", file_magic, version, key.size());
    out.reserve(out.size() + key.size() + value.size());
    out += key;
    out += value;
    return out;
}

std::optional<state_entry> decode_file(std::string_view data) {
    if (data.substr(0, file_magic.size()) != file_magic) return std::nullopt;
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    auto header = data.substr(file_magic.size(), nl - file_magic.size());
    auto sp = header.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    std::int64_t version = 0;
    std::size_t key_len = 0;
    auto r1 = std::from_chars(header.data(), header.data() + sp, version);
    auto r2 = std::from_chars(header.data() + sp + 1, header.data() + header.size(), key_len);
    if (r1.ec != std::errc{} || r2.ec != std::errc{} || version <= 0) return std::nullopt;
    auto body = data.substr(nl + 1);
    if (body.size() < key_len) return std::nullopt;
    return state_entry{std::string(body.substr(0, key_len)), std::string(body.substr(key_len)), version};
}

std::string encode_record(state_event::kind k, std::string_view key, std::string_view value, std::int64_t version) {
    std::string out;
    out.reserve(journal_header_bytes + key.size() + value.size());
    put_le(out, static_cast<std::uint64_t>(version), 8);
    out.push_back(k == state_event::kind::put ? 'P' : 'E');
    put_le(out, key.size(), 4);
    put_le(out, value.size(), 4);
    out += key;
    out += value;
    return out;
}

/// Takes the complete records off the front of `buf`; false when it holds something that is
/// not a record (the journal is corrupt; the watch stops reading it).
bool take_records(std::string& buf, const std::function<void(state_event)>& on) {
    std::size_t at = 0;
    while (buf.size() - at >= journal_header_bytes) {
        auto version = static_cast<std::int64_t>(get_le(buf, at, 8));
        char kind = buf[at + 8];
        auto key_len = get_le(buf, at + 9, 4), value_len = get_le(buf, at + 13, 4);
        if (kind != 'P' && kind != 'E') return false;
        if (buf.size() - at - journal_header_bytes < key_len + value_len) break;
        state_event e;
        e.what = kind == 'P' ? state_event::kind::put : state_event::kind::erase;
        e.entry.key = buf.substr(at + journal_header_bytes, key_len);
        e.entry.value = buf.substr(at + journal_header_bytes + key_len, value_len);
        e.entry.version = version;
        at += journal_header_bytes + key_len + value_len;
        on(std::move(e));
    }
    buf.erase(0, at);
    return true;
}

/// A watch's reader of the journal; follows it when a writer starts it over.
struct journal_follower : detail::wakeable {
    std::string path;
    std::string prefix;
    std::chrono::milliseconds poll_interval;
    unique_fd fd;
    ino_t inode = 0;
    std::string buf;
    bool broken = false;

    void drain(detail::watch_control& c) {
        if (broken || !read_available(fd.get(), buf)) return;
        broken = !take_records(buf, [&](state_event e) {
            if (detail::has_prefix(e.entry.key, prefix)) c.deliver(e);
        });
    }

    void follow_rotation(detail::watch_control& c) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || st.st_ino == inode) return;
        drain(c);   // what was appended to the old journal before it was renamed
        unique_fd next(open_retry(path, O_RDONLY));
        if (!next) return;
        struct stat nst {};
        if (::fstat(next.get(), &nst) != 0) return;
        fd = std::move(next);
        inode = nst.st_ino;
        buf.clear();
        broken = false;
    }

    void run(detail::watch_control& c) {
        std::unique_lock lk(mu);
        while (!stopping && !c.cancelled()) {
            lk.unlock();
            drain(c);
            follow_rotation(c);
            drain(c);
            lk.lock();
            cv.wait_for(lk, poll_interval, [&] { return stopping; });
        }
    }
};

class file_store final : public state_store {
public:
    explicit file_store(file_store_options o) : opts_(std::move(o)) {}

    result<void> open() {
        std::error_code ec;
        fs::create_directories(opts_.directory, ec);
        if (ec) return io_failure(fmt::format("cannot create the directory: {}", ec.message()));
        dir_ = opts_.directory.string();
        dir_fd_ = unique_fd(open_retry(dir_, O_RDONLY | O_DIRECTORY));
        if (!dir_fd_) return io_failure(fmt::format("cannot open the directory: {}", std::strerror(errno)));
        lock_fd_ = unique_fd(open_retry(path_of(".lock"), O_RDWR | O_CREAT));
        if (!lock_fd_) return io_failure(fmt::format("cannot open .lock: {}", std::strerror(errno)));
        return {};
    }

    std::string_view backend() const noexcept override { return "file"; }
    std::string location() const override { return "file:" + dir_; }

    result<std::optional<state_entry>> get(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, where()));
        return read_entry(key);
    }

    result<std::int64_t> put(std::string_view key, std::string_view value) override {
        MIGRATE_TRY(detail::check_key(key, where()));
        return write(key, value, std::nullopt);
    }

    result<std::int64_t> compare_and_set(std::string_view key, std::string_view value, std::int64_t expected) override {
        MIGRATE_TRY(detail::check_key(key, where()));
        MIGRATE_TRY(detail::check_expected_version(where(), key, expected));
        return write(key, value, expected);
    }

    result<bool> erase(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, where()));
        auto v = write(key, std::nullopt, std::nullopt);
        if (!v) return v.error();
        return *v > 0;
    }

    result<std::vector<state_entry>> list(std::string_view prefix) override {
        MIGRATE_TRY(detail::check_prefix(prefix, where()));
        std::vector<state_entry> out;
        std::error_code ec;
        for (fs::directory_iterator it(opts_.directory, ec), end; !ec && it != end; it.increment(ec)) {
            auto name = it->path().filename().string();
            // Ours are regular files named as file_name_of names them; a volume may hold
            // others (lost+found).
            std::error_code type_ec;
            if (name.empty() || name[0] == '.' || !it->is_regular_file(type_ec)) continue;
            if (name[0] == '~') {
                if (name.size() != 65 || name.find_first_not_of("0123456789abcdef", 1) != std::string::npos) continue;
            } else {   // an escaped name says its key: skip other prefixes unread
                auto key = key_of_file_name(name);
                if (!key || file_name_of(*key) != name || !detail::has_prefix(*key, prefix)) continue;
            }
            auto e = read_file(name);
            if (!e) return e.error();
            if (*e && detail::has_prefix((*e)->key, prefix)) out.push_back(std::move(**e));
        }
        if (ec) return io_failure(fmt::format("cannot list the directory: {}", ec.message()));
        std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
        return out;
    }

    result<std::unique_ptr<state_watch>> watch(std::string_view prefix,
                                               std::function<void(const state_event&)> on_event) override {
        MIGRATE_TRY(detail::check_prefix(prefix, where()));
        auto f = std::make_shared<journal_follower>();
        f->path = path_of(".journal");
        f->prefix = prefix;
        f->poll_interval = opts_.poll_interval;
        {
            // Under the lock no writer is half-way through a record: start at its end.
            auto lk = lock();
            if (!lk) return lk.error();
            f->fd = unique_fd(open_retry(f->path, O_RDONLY | O_CREAT));
            struct stat st {};
            if (!f->fd || ::fstat(f->fd.get(), &st) != 0 || ::lseek(f->fd.get(), 0, SEEK_END) < 0)
                return io_failure(fmt::format("cannot open .journal: {}", std::strerror(errno)));
            f->inode = st.st_ino;
        }
        return detail::start_watch_thread(std::move(f), std::move(on_event));
    }

private:
    /// The store's mutex (threads) and flock (processes), released together.
    class held_lock {
    public:
        held_lock(std::unique_lock<std::mutex> lk, int fd) : lk_(std::move(lk)), fd_(fd) {}
        held_lock(held_lock&& o) noexcept : lk_(std::move(o.lk_)), fd_(std::exchange(o.fd_, -1)) {}
        held_lock& operator=(held_lock&&) = delete;
        ~held_lock() { if (fd_ >= 0) ::flock(fd_, LOCK_UN); }

    private:
        std::unique_lock<std::mutex> lk_;
        int fd_;
    };

    std::string where() const { return "file state store " + dir_; }
    std::string path_of(std::string_view name) const { return dir_ + "/" + std::string(name); }

    failure io_failure(std::string what) const {
        return make_failure(error::io_error, fmt::format("file state store {}: {}", opts_.directory, what));
    }

    result<held_lock> lock() {
        std::unique_lock lk(mu_);
        int rc;
        do rc = ::flock(lock_fd_.get(), LOCK_EX);
        while (rc != 0 && errno == EINTR);
        if (rc != 0) return io_failure(fmt::format("cannot lock .lock: {}", std::strerror(errno)));
        return held_lock(std::move(lk), lock_fd_.get());
    }

    result<std::optional<state_entry>> read_file(const std::string& name) const {
        unique_fd fd(open_retry(path_of(name), O_RDONLY));
        if (!fd) {
            if (errno == ENOENT) return std::optional<state_entry>{};
            return io_failure(fmt::format("cannot open '{}': {}", name, std::strerror(errno)));
        }
        std::string data;
        if (!read_available(fd.get(), data))
            return io_failure(fmt::format("cannot read '{}': {}", name, std::strerror(errno)));
        auto e = decode_file(data);
        if (!e)
            return make_failure(error::corrupt_artifact,
                                fmt::format("file state store {}: '{}' is not a state file (no valid '{}' header)",
                                            opts_.directory, name, file_magic.substr(0, file_magic.size() - 1)));
        return e;
    }

    result<std::optional<state_entry>> read_entry(std::string_view key) const {
        auto e = read_file(file_name_of(key));
        if (e && *e && (*e)->key != key) return std::optional<state_entry>{};   // another key's hashed name
        return e;
    }

    result<std::int64_t> read_counter() {
        char buf[32] = {};
        auto n = ::pread(lock_fd_.get(), buf, sizeof buf - 1, 0);
        if (n < 0) return io_failure(fmt::format("cannot read .lock: {}", std::strerror(errno)));
        std::int64_t v = 0;
        std::from_chars(buf, buf + n, v);
        return v;
    }

    result<void> write_counter(std::int64_t v) {
        // Fixed width, one pwrite: never shorter than what it replaces.
        auto text = fmt::format("{:<20}\n", v);
        if (::pwrite(lock_fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
            return io_failure(fmt::format("cannot write .lock: {}", std::strerror(errno)));
        if (opts_.durable && ::fdatasync(lock_fd_.get()) != 0)
            return io_failure(fmt::format("cannot sync .lock: {}", std::strerror(errno)));
        return {};
    }

    result<void> sync_dir() {
        if (opts_.durable && ::fsync(dir_fd_.get()) != 0)
            return io_failure(fmt::format("cannot sync the directory: {}", std::strerror(errno)));
        return {};
    }

    result<void> replace_file(const std::string& name, const std::string& data) {
        auto tmp = path_of(fmt::format(".tmp-{}-{}", ::getpid(), ++tmp_counter_));
        unique_fd fd(open_retry(tmp, O_WRONLY | O_CREAT | O_TRUNC));
        if (!fd) return io_failure(fmt::format("cannot create a temporary file: {}", std::strerror(errno)));
        bool ok = write_all(fd.get(), data) && (!opts_.durable || ::fsync(fd.get()) == 0);
        int err = errno;
        fd.reset();
        if (!ok || ::rename(tmp.c_str(), path_of(name).c_str()) != 0) {
            if (ok) err = errno;
            ::unlink(tmp.c_str());
            return io_failure(fmt::format("cannot write '{}': {}", name, std::strerror(err)));
        }
        return sync_dir();
    }

    result<void> append_journal(const std::string& record) {
        auto path = path_of(".journal");
        unique_fd fd(open_retry(path, O_WRONLY | O_APPEND | O_CREAT));
        struct stat st {};
        if (!fd || !write_all(fd.get(), record) || ::fstat(fd.get(), &st) != 0)
            return io_failure(fmt::format("cannot append to .journal: {}", std::strerror(errno)));
        if (static_cast<std::uint64_t>(st.st_size) > opts_.journal_max_bytes &&
            ::rename(path.c_str(), path_of(".journal.old").c_str()) != 0)
            return io_failure(fmt::format("cannot start .journal over: {}", std::strerror(errno)));
        return {};
    }

    /// put (`value`), compare-and-set (`value` and `expected`) or erase (neither). Returns
    /// the new version; for an erase of a missing key, 0.
    result<std::int64_t> write(std::string_view key, std::optional<std::string_view> value,
                               std::optional<std::int64_t> expected) {
        auto lk = lock();
        if (!lk) return lk.error();
        auto cur = read_entry(key);
        if (!cur) return cur.error();
        std::int64_t current = *cur ? (*cur)->version : 0;
        if (expected && current != *expected) return detail::version_conflict(where(), key, *expected, current);
        if (!value && !*cur) return std::int64_t{0};
        auto counter = read_counter();
        if (!counter) return counter.error();
        // Above the counter and the key's own version, so a lost .lock cannot take a key back.
        std::int64_t version = std::max(*counter, current) + 1;
        MIGRATE_TRY(write_counter(version));
        auto name = file_name_of(key);
        if (value) {
            MIGRATE_TRY(replace_file(name, encode_file(key, *value, version)));
        } else {
            if (::unlink(path_of(name).c_str()) != 0 && errno != ENOENT)
                return io_failure(fmt::format("cannot remove '{}': {}", name, std::strerror(errno)));
            MIGRATE_TRY(sync_dir());
        }
        MIGRATE_TRY(append_journal(
            encode_record(value ? state_event::kind::put : state_event::kind::erase, key, value.value_or(""), version)));
        return version;
    }

    file_store_options opts_;
    std::string dir_;
    unique_fd dir_fd_;
    unique_fd lock_fd_;
    std::mutex mu_;
    std::atomic<std::uint64_t> tmp_counter_{0};
};

}  // namespace

result<std::unique_ptr<state_store>> make_file_store(file_store_options opts) {
    MIGRATE_TRY(opts.validate());
    auto s = std::make_unique<file_store>(std::move(opts));
    MIGRATE_TRY(s->open());
    return std::unique_ptr<state_store>(std::move(s));
}

}  // namespace migrate::store
