#include <migrate/workload/a2_counter.hpp>

#include "../net/http_call.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::workload {

result<void> a2_counter_config::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("a2_counter_config.{}: {}", field, why));
    };
    if (name.empty()) return bad("name", "must not be empty");
    if (image.empty()) return bad("image", "must not be empty");
    if (zone_url.rfind("http://", 0) != 0)
        return bad("zone_url", "'" + zone_url + "' must be http://IPv4:PORT/PATH (zone_server::url)");
    if (volume.empty()) return bad("volume", "must name a volume (the counter lives there)");
    if (port == 0) return bad("port", "must be in 1..65535");
    if (interval < std::chrono::milliseconds(10)) return bad("interval", "must be at least 10 ms");
    if (hold_max < std::chrono::milliseconds(0)) return bad("hold_max", "must not be negative");
    return ok();
}

void to_json(json& j, const a2_counter_config& c) {
    j = json{{"name", c.name},       {"image", c.image},   {"zone_url", c.zone_url},
             {"zone_format", c.zone_format == a2_zone_format::mec_location ? "mec-location" : "text"},
             {"network", c.network}, {"volume", c.volume}, {"port", c.port},
             {"interval_ms", c.interval.count()}, {"hold_max_ms", c.hold_max.count()}};
}

void from_json(const json& j, a2_counter_config& c) {
    using migrate::detail::read_field;
    const char* w = "a2_counter_config";
    read_field(j, w, "name", c.name);
    read_field(j, w, "image", c.image);
    read_field(j, w, "zone_url", c.zone_url);
    std::string format = c.zone_format == a2_zone_format::mec_location ? "mec-location" : "text";
    read_field(j, w, "zone_format", format);
    if (format != "text" && format != "mec-location")
        throw migration_error(make_failure(error::invalid_argument,
            fmt::format("{}.zone_format: '{}' must be text or mec-location", w, format)));
    c.zone_format = format == "mec-location" ? a2_zone_format::mec_location : a2_zone_format::text;
    read_field(j, w, "network", c.network);
    read_field(j, w, "volume", c.volume);
    read_field(j, w, "port", c.port);
    std::int64_t ms = c.interval.count();
    read_field(j, w, "interval_ms", ms);
    c.interval = std::chrono::milliseconds(ms);
    ms = c.hold_max.count();
    read_field(j, w, "hold_max_ms", ms);
    c.hold_max = std::chrono::milliseconds(ms);
}

container_spec a2_counter_spec(const a2_counter_config& c) {
    container_spec s;
    s.name = c.name;
    s.image = c.image;
    s.cmd = {"--zone-url",    c.zone_url,
             "--port",        std::to_string(c.port),
             "--data",        "/data",
             "--interval-ms", std::to_string(c.interval.count()),
             "--hold-max-ms", std::to_string(c.hold_max.count()),
             "--zone-format", c.zone_format == a2_zone_format::mec_location ? "mec-location" : "text"};
    s.network_mode = c.network.empty() ? "none" : c.network;
    s.exposed_ports = {std::to_string(c.port) + "/tcp", std::to_string(c.port) + "/udp"};
    s.mounts.push_back({mount_spec::kind::volume, c.volume, "/data", false});
    s.labels["org.migrate.workload"] = "a2";
    return s;
}

void to_json(json& j, const a2_state& s) {
    j = json{{"count", s.count},     {"zone", s.zone},
             {"phase", s.phase},     {"writes_held", s.writes_held},
             {"address", s.address}, {"polls", s.polls},
             {"poll_errors", s.poll_errors}, {"starts", s.starts},
             {"persisted", s.persisted}};
}

void from_json(const json& j, a2_state& s) {
    using migrate::detail::read_field;
    const char* w = "a2_state";
    read_field(j, w, "count", s.count);
    read_field(j, w, "zone", s.zone);
    read_field(j, w, "phase", s.phase);
    read_field(j, w, "writes_held", s.writes_held);
    read_field(j, w, "address", s.address);
    read_field(j, w, "polls", s.polls);
    read_field(j, w, "poll_errors", s.poll_errors);
    read_field(j, w, "starts", s.starts);
    read_field(j, w, "persisted", s.persisted);
}

namespace {

std::string base_url(const std::string& address, std::uint16_t port) { return fmt::format("http://{}:{}", address, port); }

result<std::string> get_ok(const std::string& url, std::chrono::milliseconds timeout) {
    auto r = net::http_call("GET", url, "", timeout);
    if (!r) return r.error();
    if (r->status != 200)
        return make_failure(error::protocol_error, fmt::format("GET {}: HTTP {}: {}", url, r->status, r->body.substr(0, 200)));
    return std::move(r->body);
}

std::optional<std::uint64_t> parse_count(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

}  // namespace

result<a2_state> a2_get_state(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout) {
    auto url = base_url(address, port) + "/state";
    auto body = get_ok(url, timeout);
    if (!body) return body.error();
    auto j = json::parse(*body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("count"))
        return make_failure(error::protocol_error, fmt::format("GET {}: not the A2 state document: {}", url, body->substr(0, 200)));
    try {
        return j.get<a2_state>();
    } catch (const migration_error& e) {
        return make_failure(error::protocol_error, fmt::format("GET {}: {}", url, e.details().message));
    }
}

result<std::uint64_t> a2_get_count(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout) {
    auto url = base_url(address, port) + "/count";
    auto body = get_ok(url, timeout);
    if (!body) return body.error();
    auto v = parse_count(*body);
    if (!v) return make_failure(error::protocol_error, fmt::format("GET {}: '{}' is not a count", url, body->substr(0, 40)));
    return *v;
}

result<std::uint64_t> a2_udp_count(const std::string& address, std::uint16_t port, std::chrono::milliseconds timeout) {
    auto where = fmt::format("A2 at udp://{}:{}", address, port);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
        return make_failure(error::invalid_argument, fmt::format("{}: '{}' is not an IPv4 address", where, address));
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_failure(error::io_error, fmt::format("{}: socket: {}", where, std::strerror(errno)));
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    // Connected: only the service's answer is received, and an ICMP "port unreachable"
    // (nothing listening, e.g. mid-restore) ends the wait at once.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::send(fd, "count", 5, 0) != 5)
        return make_failure(error::daemon_unreachable, fmt::format("{}: {}", where, std::strerror(errno)));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[256];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return make_failure(error::timeout, fmt::format("{}: no answer within {} ms", where, timeout.count()));
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return make_failure(error::timeout, fmt::format("{}: no answer within {} ms", where, timeout.count()));
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) return make_failure(error::daemon_unreachable, fmt::format("{}: {}", where, std::strerror(errno)));
        std::string_view answer(buf, static_cast<std::size_t>(n));
        if (answer.rfind("count ", 0) != 0)
            return make_failure(error::protocol_error, fmt::format("{}: unexpected answer '{}'", where, answer.substr(0, 40)));
        auto v = parse_count(answer.substr(6));
        if (!v) return make_failure(error::protocol_error, fmt::format("{}: unexpected answer '{}'", where, answer.substr(0, 40)));
        return *v;
    }
}

result<void> a2_change_phase(const std::string& address, std::uint16_t port, const std::string& phase,
                             std::chrono::milliseconds timeout) {
    auto url = base_url(address, port) + "/changePhase";
    auto r = net::http_call("POST", url, json{{"phase", phase}}.dump(), timeout);
    if (!r) return r.error();
    if (r->status == 400)
        return make_failure(error::invalid_argument, fmt::format("POST {}: refused: {}", url, r->body.substr(0, 200)));
    if (r->status != 200)
        return make_failure(error::protocol_error, fmt::format("POST {}: HTTP {}: {}", url, r->status, r->body.substr(0, 200)));
    return ok();
}

downtime_prober::probe_fn a2_probe(address_locator source, address_locator target, std::uint16_t port,
                                   std::chrono::milliseconds timeout) {
    return two_location_probe(std::move(source), std::move(target),
                              [port, timeout](const std::string& address) { return a2_udp_count(address, port, timeout).has_value(); });
}

state_check a2_counter_check(std::uint64_t before, const a2_state& after) {
    state_check c;
    c.what = fmt::format("A2 zone-change counter continues from {} (not restarted)", before);
    c.expected = before;
    c.found = after.count >= before ? before : after.count;
    return c;
}

}  // namespace migrate::workload
