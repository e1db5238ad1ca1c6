// The Linux plumbing under the testbed; see system.hpp.
#include "system.hpp"

#include <migrate/detail/process.hpp>
#include <migrate/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace migrate::testbed::sys {

// ---- names and addresses --------------------------------------------------------------------

result<void> validate_name(std::string_view name) {
    bool good = !name.empty() && name.size() <= 6 &&
                std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                });
    if (!good)
        return make_failure(error::invalid_argument,
                            "testbed_options.name: '" + std::string(name) +
                                "' must be 1 to 6 characters of [a-z0-9] (it prefixes namespaces, links and cgroups)");
    return ok();
}

std::string host_name(int index) { return std::string(1, static_cast<char>('a' + index)); }

bool is_host_object(std::string_view object, std::string_view name) {
    return object.size() == name.size() + 2 && object.substr(0, name.size()) == name &&
           object[name.size()] == '-' && object.back() >= 'a' && object.back() <= 'h';
}

std::optional<cidr> parse_cidr(std::string_view s) {
    cidr c;
    auto slash = s.find('/');
    std::string ip(s.substr(0, slash));
    if (slash != std::string_view::npos) {
        try {
            std::size_t used = 0;
            std::string p(s.substr(slash + 1));
            c.prefix = std::stoi(p, &used);
            if (used != p.size() || c.prefix < 0 || c.prefix > 32) return std::nullopt;
        } catch (...) {
            return std::nullopt;
        }
    }
    in_addr a{};
    if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
    c.addr = ntohl(a.s_addr);
    return c;
}

std::optional<std::uint32_t> parse_subnet24(std::string_view s) {
    auto c = parse_cidr(s);
    if (!c || c->prefix != 24 || (c->addr & 0xff) != 0 || s.find('/') == std::string_view::npos) return std::nullopt;
    return c->addr;
}

bool overlaps(const cidr& a, const cidr& b) {
    int p = std::min(a.prefix, b.prefix);
    std::uint32_t mask = p == 0 ? 0 : ~std::uint32_t{0} << (32 - p);
    return (a.addr & mask) == (b.addr & mask);
}

std::string ip_to_string(std::uint32_t addr) {
    return fmt::format("{}.{}.{}.{}", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

std::uint32_t name_hash(std::string_view name) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : name) {
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

std::string subnet_for_index(std::uint32_t index) {
    // 10.64.0.0/10 = 16384 /24s; common defaults (docker's 172.17/16, 10.0.x, 10.1.x,
    // 192.168.x) stay outside it.
    std::uint32_t n = index % 16384;
    std::uint32_t addr = (10u << 24) | ((64u + (n >> 8)) << 16) | ((n & 0xff) << 8);
    return ip_to_string(addr) + "/24";
}

result<std::vector<cidr>> used_networks() {
    std::vector<cidr> used;
    auto addrs = migrate::detail::run_checked({"ip", "-j", "-4", "addr", "show"});
    if (!addrs) return addrs.error();
    auto routes = migrate::detail::run_checked({"ip", "-j", "-4", "route", "show", "table", "all"});
    if (!routes) return routes.error();
    try {
        for (auto& link : json::parse(*addrs))
            for (auto& a : link.value("addr_info", json::array()))
                if (a.contains("local") && a.contains("prefixlen"))
                    if (auto c = parse_cidr(a["local"].get<std::string>() + "/" + std::to_string(a["prefixlen"].get<int>())))
                        used.push_back(*c);
        for (auto& r : json::parse(*routes)) {
            auto dst = r.value("dst", std::string{});
            if (dst.empty() || dst == "default") continue;
            if (auto c = parse_cidr(dst)) used.push_back(*c);
        }
    } catch (const json::exception& e) {
        return make_failure(error::protocol_error, std::string("cannot parse `ip -j` output: ") + e.what());
    }
    return used;
}

// ---- kernel objects --------------------------------------------------------------------------

std::vector<std::string> list_netns() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator("/run/netns", ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

result<std::vector<std::string>> list_links() {
    auto r = migrate::detail::run_checked({"ip", "-j", "link", "show"});
    if (!r) return r.error();
    std::vector<std::string> out;
    try {
        for (auto& l : json::parse(*r)) out.push_back(l.value("ifname", std::string{}));
    } catch (const json::exception& e) {
        return make_failure(error::protocol_error, std::string("cannot parse `ip -j link` output: ") + e.what());
    }
    return out;
}

bool link_exists(std::string_view name) {
    return fs::exists(fs::path("/sys/class/net") / std::string(name));
}

migrate::detail::run_options timeout_opts(std::chrono::milliseconds t) {
    migrate::detail::run_options o;
    o.timeout = t;
    return o;
}

result<void> run_ok(const std::vector<std::string>& argv) {
    auto r = migrate::detail::run_checked(argv, timeout_opts(std::chrono::seconds(30)));
    if (!r) return r.error();
    return ok();
}

std::vector<process_info> list_processes() {
    std::vector<process_info> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator("/proc", ec)) {
        auto name = e.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (raw.empty()) continue;
        process_info p;
        p.pid = std::stoi(name);
        std::size_t start = 0;
        while (start < raw.size()) {
            auto end = raw.find('\0', start);
            if (end == std::string::npos) end = raw.size();
            p.argv.push_back(raw.substr(start, end - start));
            start = end + 1;
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<int> netns_pids(std::string_view netns) {
    std::vector<int> out;
    if (!fs::exists(fs::path("/run/netns") / std::string(netns))) return out;
    auto r = migrate::detail::run({"ip", "netns", "pids", std::string(netns)}, timeout_opts(std::chrono::seconds(10)));
    if (!r || r->exit_code != 0) return out;
    std::istringstream in(r->out);
    int pid;
    while (in >> pid) out.push_back(pid);
    return out;
}

void kill_all(const std::vector<int>& pids, std::chrono::milliseconds wait) {
    std::set<int> live;
    for (int pid : pids)
        if (pid > 1 && pid != ::getpid()) live.insert(pid);
    for (int pid : live) ::kill(pid, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (!live.empty() && std::chrono::steady_clock::now() < deadline) {
        for (auto it = live.begin(); it != live.end();)
            it = migrate::detail::process_alive(*it) ? std::next(it) : live.erase(it);
        if (!live.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

namespace {
std::string unescape_mount(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            auto oct = s.substr(i + 1, 3);
            if (oct.size() == 3 && std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
                out += static_cast<char>(std::stoi(oct, nullptr, 8));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}
}  // namespace

std::vector<mount_entry> read_mounts() {
    std::vector<mount_entry> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // id parent major:minor root mount_point options [optional...] - fstype source super
        std::istringstream ls(line);
        std::string id, parent, dev, root, mp, tok;
        ls >> id >> parent >> dev >> root >> mp;
        std::string fstype;
        while (ls >> tok)
            if (tok == "-") { ls >> fstype; break; }
        out.push_back({unescape_mount(mp), fstype});
    }
    return out;
}

bool is_under(const fs::path& p, const fs::path& root) {
    auto pn = p.lexically_normal().string();
    auto rn = root.lexically_normal().string();
    while (rn.size() > 1 && rn.back() == '/') rn.pop_back();
    while (pn.size() > 1 && pn.back() == '/') pn.pop_back();
    return pn == rn || (pn.size() > rn.size() && pn.compare(0, rn.size(), rn) == 0 && pn[rn.size()] == '/');
}

std::vector<fs::path> unmount_under(const std::vector<fs::path>& roots) {
    auto targets = [&] {
        std::vector<fs::path> t;
        for (auto& m : read_mounts())
            for (auto& r : roots)
                if (is_under(m.mount_point, r)) { t.push_back(m.mount_point); break; }
        return t;
    };
    // Several passes: stacked mounts show one layer at a time, and lazy unmounts of a parent
    // release its children.
    for (int pass = 0; pass < 5; ++pass) {
        auto t = targets();
        if (t.empty()) return {};
        // Deepest first; for equal depth, the later (upper) mount first.
        std::stable_sort(t.begin(), t.end(), [](const fs::path& a, const fs::path& b) {
            return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
        });
        for (auto& p : t) {
            if (::umount2(p.c_str(), 0) != 0 && (errno == EBUSY || errno == EINVAL)) ::umount2(p.c_str(), MNT_DETACH);
        }
    }
    return targets();
}

std::vector<fs::path> cgroup_roots() {
    std::vector<fs::path> out;
    for (auto& m : read_mounts())
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") out.push_back(m.mount_point);
    return out;
}

std::vector<int> cgroup_pids(const fs::path& dir) {
    std::vector<int> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    auto read_procs = [&](const fs::path& d) {
        std::ifstream in(d / "cgroup.procs");
        int pid;
        while (in >> pid) out.push_back(pid);
    };
    read_procs(dir);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec)) read_procs(it->path());
    return out;
}

bool remove_cgroup_tree(const fs::path& dir, std::string& why) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return true;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
        return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    dirs.push_back(dir);
    // A just-killed task leaves its cgroup a moment later: retry briefly.
    for (int attempt = 0; attempt < 50; ++attempt) {
        bool all = true;
        for (auto& d : dirs)
            if (::rmdir(d.c_str()) != 0 && errno != ENOENT) {
                all = false;
                why = fmt::format("cannot remove cgroup {}: {}", d.string(), std::strerror(errno));
            }
        if (all) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

// ---- files and dockerd -------------------------------------------------------------------------

result<void> write_file_atomic(const fs::path& path, const std::string& content) {
    auto tmp = path;
    tmp += fmt::format(".tmp.{}", ::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return make_failure(error::io_error, fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    std::size_t off = 0;
    while (off < content.size()) {
        auto n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_failure(error::io_error, fmt::format("cannot write {}: {}", tmp.string(), std::strerror(e)));
        }
        off += static_cast<std::size_t>(n);
    }
    ::fsync(fd);
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto e = errno;
        ::unlink(tmp.c_str());
        return make_failure(error::io_error, fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), std::strerror(e)));
    }
    return ok();
}

result<std::string> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_failure(error::not_found, "cannot open " + path.string());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool docker_ping(const fs::path& socket, std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct closer { int fd; ~closer() { ::close(fd); } } guard{fd};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    auto s = socket.string();
    if (s.size() >= sizeof(addr.sun_path)) return false;
    std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    // HTTP/1.0: the daemon closes after answering, so reading to EOF is enough.
    const std::string req = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return false;
    std::string resp;
    char buf[512];
    while (resp.size() < 4096) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        resp.append(buf, static_cast<std::size_t>(n));
        if (resp.find("\r\n\r\n") != std::string::npos && resp.find("OK", resp.find("\r\n\r\n")) != std::string::npos) break;
    }
    return resp.rfind("HTTP/1.", 0) == 0 && resp.find(" 200 ") != std::string::npos;
}

std::string file_tail(const fs::path& path, std::size_t n) {
    auto r = read_file(path);
    if (!r) return "(no log at " + path.string() + ")";
    auto s = r->size() > n ? "..." + r->substr(r->size() - n) : *r;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace migrate::testbed::sys
