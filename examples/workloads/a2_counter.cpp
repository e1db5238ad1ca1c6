// migrate-a2-counter — the thesis's workload A2: user state in a volume, migration aware.
// Every 200 ms it asks the client side's zone server which zone the user is in
// (`GET /zone?seq=N`) and counts the zone CHANGES. The counter is the user's state: it
// lives in a file in a volume (`/data/counter`, replaced atomically: temp file, fsync,
// rename, fsync of the directory), so a strategy that carries volumes carries it, and a
// migration must make it continue on the target, not restart at 0.
//
// Served on one port, TCP and UDP:
//   GET  /count            "N\n"
//   GET  /state            {"count","zone","phase","writes_held","address","polls",
//                           "poll_errors","starts","persisted"}
//   POST /changePhase      {"phase": "pre-relocation-start" | "pre-relocation-end" | "running"}
//   UDP  "count"           "count N\n"   (the downtime probe: no connection, see below)
//   UDP  "state"           the /state document
//
// Migration awareness (the thesis's changePhase), what it does here:
//   pre-relocation-start  records the phase and flushes the counter to the volume.
//   pre-relocation-end    flushes the counter, then HOLDS: no zone polls and no file writes
//                         until it runs again after the relocation. The volume stays
//                         exactly as flushed while a strategy copies it, and no outgoing
//                         TCP connection can be open when CRIU freezes the process (a dump
//                         refuses an established connection).
//   running               ends a hold (also sent by hand after a cancelled move).
//   The hold ends by itself when the process finds itself on another host (its own address
//   changed: a CRIU restore on the target's service network) or after --hold-max-ms (the
//   move was abandoned and the source carries on). A cold start on the target (export or
//   commit strategies) starts in `running` with the counter read from the volume.
//   A zone change that happens during the hold is counted at the first poll after it (if
//   the zone differs from the last one seen); A -> B -> A inside the hold is not seen.
//
// Why UDP for probing: a client connecting over TCP while CRIU dumps the process leaves a
// connection in the listening socket's queue, and the dump fails ("In-flight connection");
// measured on this testbed, every dump under a 25 ms TCP prober failed. A datagram leaves
// nothing behind.
//
// CRIU-friendly otherwise too: every connection is short-lived, stdout is the container's
// pipe, SIGTERM flushes the counter and ends it (it is PID 1). Built static (no resolver:
// the zone URL takes an IPv4 address).
//
// The zone can also come from an ETSI MEC Location API (MEC013 v2 or v3): with
// `--zone-format mec-location` the zone URL is a users query naming the user
// (`.../location/v2/queries/users?address=10.100.0.1`) and the zone is the first user's
// `zoneId`; a user out of coverage (empty list) is no change.
//
//   migrate-a2-counter --zone-url http://10.82.56.1:8000/zone [--port 8080] [--data /data]
//                      [--interval-ms 200] [--hold-max-ms 30000] [--zone-format text|mec-location]
//   (or A2_ZONE_URL, A2_PORT, A2_DATA, A2_INTERVAL_MS, A2_HOLD_MAX_MS, A2_ZONE_FORMAT)
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "workload_net.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
using workload_net::env_or;
using workload_net::parse_url;
using workload_net::url;
using workload_net::utc_now;
using workload_net::wait_fd;
using std::chrono::milliseconds;
std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

// ---- small helpers ----------------------------------------------------------------------------

template <class... A>
void log(const char* fmt, A... a) {
    std::printf("%s ", utc_now().c_str());
    std::printf(fmt, a...);
    std::printf("\n");
}

std::string json_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
        else o += c;
    }
    return o;
}

void abortive_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

// One HTTP/1.0 GET on a fresh connection, closed before returning. Body on 200, else nullopt
// with `why`.
std::optional<std::string> http_get(const url& u, const std::string& path, milliseconds timeout, std::string& why) {
    auto deadline = clock_type::now() + timeout;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = std::string("socket: ") + std::strerror(errno);
        return std::nullopt;
    }
    auto fail = [&](std::string w) -> std::optional<std::string> {
        abortive_close(fd);
        why = std::move(w);
        return std::nullopt;
    };
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(u.port));
    ::inet_pton(AF_INET, u.host.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
        return fail(std::string("connect: ") + std::strerror(errno));
    if (!wait_fd(fd, POLLOUT, deadline)) return fail("connect: timed out");
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) return fail(std::string("connect: ") + std::strerror(soerr));
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + u.host + "\r\nUser-Agent: migrate-a2-counter\r\n\r\n";
    std::size_t sent = 0;
    while (sent < req.size()) {
        ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(std::string("send: ") + std::strerror(errno));
        if (!wait_fd(fd, POLLOUT, deadline)) return fail("send: timed out");
    }
    std::string in;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            in.append(buf, static_cast<std::size_t>(n));
            if (in.size() > 65536) return fail("reply larger than 64 KiB");
            continue;
        }
        if (n == 0) break;
        if (errno != EAGAIN && errno != EINTR) return fail(std::string("recv: ") + std::strerror(errno));
        if (!wait_fd(fd, POLLIN, deadline)) return fail("recv: timed out");
    }
    ::close(fd);
    if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) {
        why = "not an HTTP reply";
        return std::nullopt;
    }
    int status = std::atoi(in.c_str() + 9);
    if (status != 200) {
        why = "HTTP " + std::to_string(status);
        return std::nullopt;
    }
    auto hdr_end = in.find("\r\n\r\n");
    std::string body = hdr_end == std::string::npos ? std::string{} : in.substr(hdr_end + 4);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.pop_back();
    return body;
}

// The zone in a MEC013 users answer: v2 wraps the list (`{"userList": {"user": [...]}}`),
// v3 does not (`{"user": [...]}`). "" when the user is out of coverage (no user, or no
// zoneId); nullopt with `why` for a document that is not a user list.
std::optional<std::string> zone_of_mec_users(const std::string& body, std::string& why) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        why = "users answer is not a JSON object";
        return std::nullopt;
    }
    const auto& list = doc.contains("userList") ? doc["userList"] : doc;
    if (!list.is_object()) {
        why = "users answer: /userList is not an object";
        return std::nullopt;
    }
    auto users = list.find("user");
    if (users == list.end() || (users->is_array() && users->empty())) return std::string{};
    if (!users->is_array() || !(*users)[0].is_object()) {
        why = "users answer: /userList/user is not a list of users";
        return std::nullopt;
    }
    auto zone = (*users)[0].find("zoneId");
    if (zone == (*users)[0].end()) return std::string{};
    if (!zone->is_string()) {
        why = "users answer: /userList/user/0/zoneId is not a string";
        return std::nullopt;
    }
    return zone->get<std::string>();
}

// The address this process would use to reach `peer`: a UDP connect sends nothing, it only
// picks the route and source address. On the service network that is the container's
// address, which changes when the process is restored on another host.
std::string local_address_towards(const std::string& peer, int port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, peer.c_str(), &sa.sin_addr);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        sockaddr_in local{};
        socklen_t len = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
            char buf[INET_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf);
            out = buf;
        }
    }
    ::close(fd);
    return out;
}

// ---- the counter and its file -------------------------------------------------------------------

struct state {
    unsigned long long count = 0;
    std::string zone;                 // last zone seen ("" before the first answer)
    unsigned long long starts = 0;    // cold starts with this volume (a CRIU restore is not one)
    std::string phase = "running";
    bool writes_held = false;
    clock_type::time_point held_since{};
    std::string held_address;         // own address when the hold began
    std::string address;              // own address now
    unsigned long long polls = 0, poll_errors = 0, persisted = 0;
};

struct store {
    std::string dir;
    std::string file() const { return dir + "/counter"; }

    // "count=N\nzone=Z\nstarts=S\n". Missing file: fresh state. A file that does not parse
    // is refused (the program exits naming it) rather than silently counting from 0.
    bool load(state& s, std::string& why) const {
        std::ifstream in(file());
        if (!in) return true;
        std::string line;
        bool have_count = false;
        while (std::getline(in, line)) {
            auto eq = line.find('=');
            if (eq == std::string::npos) continue;
            auto k = line.substr(0, eq), v = line.substr(eq + 1);
            char* end = nullptr;
            if (k == "count") {
                s.count = std::strtoull(v.c_str(), &end, 10);
                if (v.empty() || *end != '\0') {
                    why = file() + ": count '" + v + "' is not a number";
                    return false;
                }
                have_count = true;
            } else if (k == "zone") {
                s.zone = v;
            } else if (k == "starts") {
                s.starts = std::strtoull(v.c_str(), &end, 10);
            }
        }
        if (!have_count) {
            why = file() + ": no count= line";
            return false;
        }
        return true;
    }

    bool save(const state& s, std::string& why) const {
        std::string tmp = dir + "/.counter.tmp";
        std::string content = "count=" + std::to_string(s.count) + "\nzone=" + s.zone + "\nstarts=" +
                              std::to_string(s.starts) + "\n";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            why = "open " + tmp + ": " + std::strerror(errno);
            return false;
        }
        bool okw = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
        okw = ::fsync(fd) == 0 && okw;
        okw = ::close(fd) == 0 && okw;
        if (!okw || ::rename(tmp.c_str(), file().c_str()) != 0) {
            why = "write " + file() + ": " + std::strerror(errno);
            return false;
        }
        int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);
            ::close(dfd);
        }
        return true;
    }
};

struct app {
    url zone;
    bool mec_location = false;       // the zone URL is a MEC013 users query, not a zone server
    store files;
    milliseconds interval{200};
    milliseconds hold_max{30000};
    state st;

    void persist(const char* why_now) {
        if (st.writes_held) return;
        std::string why;
        if (!files.save(st, why)) {
            log("error persisting counter (%s): %s", why_now, why.c_str());
            return;
        }
        ++st.persisted;
    }

    // Flush, ignoring a hold (phase changes and SIGTERM must reach the volume).
    void flush(const char* why_now) {
        bool held = st.writes_held;
        st.writes_held = false;
        persist(why_now);
        st.writes_held = held;
    }

    void hold() {
        flush("pre-relocation-end");
        st.writes_held = true;
        st.held_since = clock_type::now();
        st.held_address = st.address;
        log("hold: counter %llu flushed to %s; zone polls and writes paused until running again (address %s)",
            st.count, files.file().c_str(), st.held_address.c_str());
    }

    void resume(const char* why_now) {
        if (!st.writes_held && st.phase == "running") return;
        st.writes_held = false;
        st.phase = "running";
        persist(why_now);
        log("running (%s): counter %llu, address %s", why_now, st.count, st.address.c_str());
    }

    std::string state_json() const {
        std::ostringstream o;
        o << "{\"count\":" << st.count << ",\"zone\":\"" << json_escape(st.zone) << "\",\"phase\":\""
          << json_escape(st.phase) << "\",\"writes_held\":" << (st.writes_held ? "true" : "false")
          << ",\"address\":\"" << st.address << "\",\"polls\":" << st.polls << ",\"poll_errors\":" << st.poll_errors
          << ",\"starts\":" << st.starts << ",\"persisted\":" << st.persisted << "}";
        return o.str();
    }

    void poll_zone(unsigned long long seq) {
        std::string why;
        auto z = http_get(zone, zone.path + (zone.path.find('?') == std::string::npos ? "?" : "&") + "seq=" +
                                    std::to_string(seq),
                          std::min(interval, milliseconds(500)), why);
        ++st.polls;
        if (z && mec_location) z = zone_of_mec_users(*z, why);
        if (!z) {
            ++st.poll_errors;
            if (st.poll_errors <= 5 || st.poll_errors % 50 == 0)
                log("zone poll %llu failed: %s (%llu failures)", seq, why.c_str(), st.poll_errors);
            return;
        }
        if (z->empty() || *z == st.zone) return;
        bool change = !st.zone.empty();
        std::string from = st.zone;
        st.zone = *z;
        if (change) {
            ++st.count;
            log("zone %s -> %s: count %llu", from.c_str(), st.zone.c_str(), st.count);
        } else {
            log("first zone %s (count %llu)", st.zone.c_str(), st.count);
        }
        persist("zone change");
    }

    // One HTTP request on an accepted connection: method, path, body -> status, body.
    std::pair<int, std::string> handle(const std::string& method, const std::string& path, const std::string& body) {
        auto q = path.find('?');
        auto p = path.substr(0, q);
        if (method == "GET" && p == "/count") return {200, std::to_string(st.count) + "\n"};
        if (method == "GET" && (p == "/state" || p == "/")) return {200, state_json() + "\n"};
        if (method == "POST" && p == "/changePhase") {
            // {"phase": "..."}: the value of the first "phase" key; no JSON library needed.
            auto k = body.find("\"phase\"");
            std::string phase;
            if (k != std::string::npos) {
                auto a = body.find('"', body.find(':', k) + 1);
                auto b = a == std::string::npos ? a : body.find('"', a + 1);
                if (b != std::string::npos) phase = body.substr(a + 1, b - a - 1);
            }
            if (phase == "pre-relocation-start") {
                st.phase = phase;
                flush("pre-relocation-start");
                log("phase %s: counter %llu flushed", phase.c_str(), st.count);
            } else if (phase == "pre-relocation-end") {
                st.phase = phase;
                hold();
            } else if (phase == "running") {
                resume("told so");
            } else {
                return {400, "{\"error\":\"changePhase: phase '" + json_escape(phase) +
                                 "' is not one of pre-relocation-start, pre-relocation-end, running\"}\n"};
            }
            return {200, "{\"phase\":\"" + json_escape(st.phase) + "\",\"count\":" + std::to_string(st.count) + "}\n"};
        }
        return {404, "{\"error\":\"no route " + json_escape(method + " " + p) + "\"}\n"};
    }

    // Reads one request (up to 16 KiB, 500 ms), answers, closes. Requests are tiny and
    // come from the client side or the migrator; one at a time is plenty.
    void serve_connection(int fd) {
        auto deadline = clock_type::now() + milliseconds(500);
        std::string in;
        char buf[4096];
        std::size_t need = std::string::npos;
        for (;;) {
            auto hdr_end = in.find("\r\n\r\n");
            if (hdr_end != std::string::npos && need == std::string::npos) {
                std::size_t len = 0;
                auto cl = in.find("Content-Length:");
                if (cl == std::string::npos) cl = in.find("content-length:");
                if (cl != std::string::npos && cl < hdr_end) len = std::strtoul(in.c_str() + cl + 15, nullptr, 10);
                need = hdr_end + 4 + len;
            }
            if (need != std::string::npos && in.size() >= need) break;
            if (in.size() > 16384 || !wait_fd(fd, POLLIN, deadline)) {
                abortive_close(fd);
                return;
            }
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                abortive_close(fd);
                return;
            }
            in.append(buf, static_cast<std::size_t>(n));
        }
        auto sp1 = in.find(' ');
        auto sp2 = in.find(' ', sp1 + 1);
        std::string method = in.substr(0, sp1);
        std::string path = sp1 == std::string::npos ? "/" : in.substr(sp1 + 1, sp2 - sp1 - 1);
        auto hdr_end = in.find("\r\n\r\n");
        auto [status, body] = handle(method, path, in.substr(hdr_end + 4));
        const char* reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Not Found";
        std::string out = "HTTP/1.0 " + std::to_string(status) + " " + reason +
                          "\r\nContent-Type: " + (body.size() && body[0] == '{' ? "application/json" : "text/plain") +
                          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        std::size_t sent = 0;
        while (sent < out.size()) {
            ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<std::size_t>(n);
            else if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLOUT, deadline)) continue;
            else break;
        }
        // Orderly close (the reply must not be cut by a reset): FIN, then wait briefly for
        // the client's FIN, so no connection stays open once we return.
        ::shutdown(fd, SHUT_WR);
        auto fin_deadline = clock_type::now() + milliseconds(200);
        while (wait_fd(fd, POLLIN, fin_deadline)) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0 && !(n < 0 && errno == EINTR)) break;
        }
        ::close(fd);
    }

    void serve_datagram(int fd) {
        char buf[512];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(fd, buf, sizeof buf - 1, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n <= 0) return;
        std::string req(buf, static_cast<std::size_t>(n));
        while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
        std::string answer;
        if (req == "count") answer = "count " + std::to_string(st.count) + "\n";
        else if (req == "state") answer = state_json() + "\n";
        else answer = "error unknown request (count, state)\n";
        ::sendto(fd, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
};

int usage(const std::string& why) {
    std::fprintf(stderr,
                 "migrate-a2-counter: %s\n"
                 "usage: migrate-a2-counter --zone-url http://IPv4:PORT/PATH [--port 8080] [--data /data]\n"
                 "                          [--interval-ms 200] [--hold-max-ms 30000]\n"
                 "                          [--zone-format text|mec-location]\n"
                 "       (or A2_ZONE_URL, A2_PORT, A2_DATA, A2_INTERVAL_MS, A2_HOLD_MAX_MS, A2_ZONE_FORMAT)\n"
                 "  text: the zone URL answers the zone as one line (migrate-zone-server)\n"
                 "  mec-location: it is an ETSI MEC013 users query (.../location/v2/queries/users?address=UE)\n",
                 why.c_str());
    return 2;
}

int bind_socket(int type, int port, std::string& why) {
    int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = std::strerror(errno);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);   // any address: the restored process has a new one
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (type == SOCK_STREAM && ::listen(fd, 16) != 0)) {
        why = std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::string zone_url = env_or("A2_ZONE_URL", "");
    long port = std::atol(env_or("A2_PORT", "8080"));
    std::string data = env_or("A2_DATA", "/data");
    long interval_ms = std::atol(env_or("A2_INTERVAL_MS", "200"));
    long hold_max_ms = std::atol(env_or("A2_HOLD_MAX_MS", "30000"));
    std::string zone_format = env_or("A2_ZONE_FORMAT", "text");
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (a == "--zone-url" && (v = value())) zone_url = v;
        else if (a == "--port" && (v = value())) port = std::atol(v);
        else if (a == "--data" && (v = value())) data = v;
        else if (a == "--interval-ms" && (v = value())) interval_ms = std::atol(v);
        else if (a == "--hold-max-ms" && (v = value())) hold_max_ms = std::atol(v);
        else if (a == "--zone-format" && (v = value())) zone_format = v;
        else if (a == "--help" || a == "-h") {
            usage("help");
            return 0;
        } else
            return usage("unknown or incomplete argument '" + a + "'");
    }
    if (zone_url.empty()) return usage("--zone-url (or A2_ZONE_URL) is required");
    std::string why;
    auto zu = parse_url(zone_url, why);
    if (!zu) return usage("--zone-url '" + zone_url + "': " + why);
    if (port < 1 || port > 65535) return usage("--port must be in 1..65535");
    if (interval_ms < 10 || interval_ms > 3600000) return usage("--interval-ms must be in 10..3600000");
    if (hold_max_ms < 0) return usage("--hold-max-ms must be >= 0");
    if (data.empty() || data[0] != '/') return usage("--data must be an absolute directory");
    if (zone_format != "text" && zone_format != "mec-location")
        return usage("--zone-format '" + zone_format + "': must be text or mec-location");

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    app a;
    a.zone = *zu;
    a.mec_location = zone_format == "mec-location";
    a.files.dir = data;
    a.interval = milliseconds(interval_ms);
    a.hold_max = milliseconds(hold_max_ms);
    ::mkdir(data.c_str(), 0755);
    if (!a.files.load(a.st, why)) {
        std::fprintf(stderr, "migrate-a2-counter: refusing to start: %s\n", why.c_str());
        return 1;
    }
    ++a.st.starts;
    a.persist("start");
    a.st.address = local_address_towards(zu->host, zu->port);

    int tcp = bind_socket(SOCK_STREAM, static_cast<int>(port), why);
    if (tcp < 0) {
        std::fprintf(stderr, "migrate-a2-counter: cannot listen on TCP port %ld: %s\n", port, why.c_str());
        return 1;
    }
    int udp = bind_socket(SOCK_DGRAM, static_cast<int>(port), why);
    if (udp < 0) {
        std::fprintf(stderr, "migrate-a2-counter: cannot bind UDP port %ld: %s\n", port, why.c_str());
        return 1;
    }
    log("a2-counter start: count %llu zone '%s' (start %llu with %s), port %ld tcp+udp, zone %s, address %s",
        a.st.count, a.st.zone.c_str(), a.st.starts, a.files.file().c_str(), port, zone_url.c_str(),
        a.st.address.c_str());

    auto next_poll = clock_type::now();
    unsigned long long seq = 0;
    while (!stop_requested) {
        auto now = clock_type::now();
        if (now >= next_poll) {
            a.st.address = local_address_towards(zu->host, zu->port);
            if (a.st.writes_held) {
                // Restored elsewhere (new address), or the move was abandoned (too long).
                if (!a.st.address.empty() && a.st.address != a.st.held_address) a.resume("address changed: on the target");
                else if (now - a.st.held_since > a.hold_max) a.resume("hold expired: still on the source");
            }
            if (!a.st.writes_held) a.poll_zone(++seq);
            next_poll += a.interval;
            if (next_poll < clock_type::now()) next_poll = clock_type::now();
        }
        auto wait = std::chrono::duration_cast<milliseconds>(next_poll - clock_type::now()).count();
        pollfd fds[2] = {{tcp, POLLIN, 0}, {udp, POLLIN, 0}};
        int r = ::poll(fds, 2, static_cast<int>(std::max<long long>(0, std::min<long long>(wait, 100))));
        if (r <= 0) continue;
        if (fds[1].revents & POLLIN) a.serve_datagram(udp);
        if (fds[0].revents & POLLIN) {
            int c = ::accept4(tcp, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c >= 0) a.serve_connection(c);
        }
    }
    a.flush("stop");
    log("a2-counter stop: count %llu persisted to %s", a.st.count, a.files.file().c_str());
    return 0;
}
