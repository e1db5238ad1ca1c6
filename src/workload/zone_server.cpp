// The zone/location server of workloads A1 and A2: plain sockets, one thread, one request
// per connection. Requests are a few hundred bytes from two or three pollers every 200 ms,
// so answering them one by one on the server thread is plenty, and it keeps the record
// order the order of arrival.
#include <migrate/workload/zone_server.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace migrate::workload {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct cidr {
    std::uint32_t addr = 0;
    int prefix = 32;
};

std::optional<cidr> parse_network(std::string_view s) {
    cidr c;
    auto slash = s.find('/');
    std::string ip(s.substr(0, slash));
    if (slash != std::string_view::npos) {
        auto p = s.substr(slash + 1);
        if (p.empty() || p.size() > 2) return std::nullopt;
        int v = 0;
        for (char ch : p) {
            if (ch < '0' || ch > '9') return std::nullopt;
            v = v * 10 + (ch - '0');
        }
        if (v > 32) return std::nullopt;
        c.prefix = v;
    }
    in_addr a{};
    if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
    c.addr = ntohl(a.s_addr);
    return c;
}

std::uint64_t seq_of(std::string_view query) {
    // "...seq=N..." in the query string.
    for (std::size_t pos = 0; pos < query.size();) {
        auto amp = query.find('&', pos);
        auto part = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        if (part.rfind("seq=", 0) == 0) {
            std::uint64_t v = 0;
            for (char ch : part.substr(4)) {
                if (ch < '0' || ch > '9') return 0;
                v = v * 10 + static_cast<std::uint64_t>(ch - '0');
            }
            return v;
        }
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return 0;
}

bool wait_fd(int fd, short events, clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r > 0) return true;
        if (r == 0 || errno != EINTR) return false;
    }
}

}  // namespace

bool in_network(std::string_view address, std::string_view network) {
    auto a = parse_network(address);
    auto n = parse_network(network);
    if (!a || !n || a->prefix != 32) return false;
    std::uint32_t mask = n->prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - n->prefix);
    return (a->addr & mask) == (n->addr & mask);
}

result<void> validate_network(std::string_view network, std::string_view field) {
    if (!parse_network(network))
        return make_failure(error::invalid_argument,
                            fmt::format("{}: '{}' is not an IPv4 address or network like 10.70.3.0/24", field, network));
    return ok();
}

result<void> zone_server_options::validate() const {
    in_addr a{};
    if (::inet_pton(AF_INET, address.c_str(), &a) != 1)
        return make_failure(error::invalid_argument,
                            "zone_server_options.address: '" + address + "' is not an IPv4 address");
    if (zone.empty() || zone.find_first_of("\r\n") != std::string::npos)
        return make_failure(error::invalid_argument, "zone_server_options.zone: must be one non-empty line");
    if (max_records == 0) return make_failure(error::invalid_argument, "zone_server_options.max_records: must be > 0");
    return ok();
}

void to_json(json& j, const zone_server_options& o) {
    j = json{{"address", o.address}, {"port", o.port}, {"zone", o.zone}, {"max_records", o.max_records}};
}

void from_json(const json& j, zone_server_options& o) {
    using migrate::detail::read_field;
    const char* w = "zone_server_options";
    read_field(j, w, "address", o.address);
    read_field(j, w, "port", o.port);
    read_field(j, w, "zone", o.zone);
    read_field(j, w, "max_records", o.max_records);
}

struct zone_server::impl {
    zone_server_options opts;
    std::string address;
    std::uint16_t port = 0;
    int listen_fd = -1;
    int wake[2] = {-1, -1};   // a byte in wake[1] ends the loop
    std::thread thread;
    std::atomic<bool> running{false};

    mutable std::mutex mu;
    std::string zone;
    std::deque<poll_record> records;
    std::uint64_t answered = 0, refused = 0;

    ~impl() {
        for (int fd : {listen_fd, wake[0], wake[1]})
            if (fd >= 0) ::close(fd);
    }

    void loop() {
        while (running) {
            pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
            int r = ::poll(fds, 2, 1000);
            if (r < 0 && errno != EINTR) break;
            if (fds[1].revents) break;
            if (!(fds[0].revents & POLLIN)) continue;
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            int c = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) continue;
            char buf[INET_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
            serve(c, buf);
        }
    }

    void serve(int fd, const std::string& peer) {
        auto deadline = clock::now() + 1s;
        std::string in;
        char buf[2048];
        while (in.find("\r\n\r\n") == std::string::npos && in.size() < 8192) {
            if (!wait_fd(fd, POLLIN, deadline)) break;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
        }
        auto at = clock::now();
        // "GET /zone?seq=3 HTTP/1.0"
        std::string method, target;
        if (auto sp1 = in.find(' '); sp1 != std::string::npos) {
            method = in.substr(0, sp1);
            auto sp2 = in.find(' ', sp1 + 1);
            if (sp2 != std::string::npos) target = in.substr(sp1 + 1, sp2 - sp1 - 1);
        }
        auto q = target.find('?');
        std::string path = target.substr(0, q);
        std::string query = q == std::string::npos ? std::string{} : target.substr(q + 1);
        int status = 200;
        std::string body;
        bool known = method == "GET" && (path == "/zone" || path == "/location");
        {
            std::lock_guard lk(mu);
            if (known) {
                body = zone + "\n";
                ++answered;
                records.push_back({at, peer, path, seq_of(query), zone});
                while (records.size() > opts.max_records) records.pop_front();
            } else {
                ++refused;
                status = method.empty() ? 400 : 404;
                body = method.empty() ? "bad request\n" : "no such resource: " + method + " " + path + "\n";
            }
        }
        std::string out = fmt::format("HTTP/1.0 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                                      "Connection: close\r\n\r\n{}",
                                      status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request",
                                      body.size(), body);
        std::size_t sent = 0;
        while (sent < out.size()) {
            ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<std::size_t>(n);
            else if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLOUT, deadline)) continue;
            else break;
        }
        ::close(fd);   // the server closes first: the TIME_WAIT is ours, not the workload's
    }
};

zone_server::zone_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

zone_server::~zone_server() { stop(); }

result<std::unique_ptr<zone_server>> zone_server::start(const zone_server_options& opts) {
    MIGRATE_TRY(opts.validate());
    auto p = std::make_unique<impl>();
    p->opts = opts;
    p->address = opts.address;
    p->zone = opts.zone;
    auto where = fmt::format("{}:{}", opts.address, opts.port);
    p->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0) return make_failure(error::io_error, fmt::format("zone server {}: socket: {}", where, std::strerror(errno)));
    int one = 1;
    ::setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(opts.port);
    ::inet_pton(AF_INET, opts.address.c_str(), &sa.sin_addr);
    if (::bind(p->listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(p->listen_fd, 64) != 0)
        return make_failure(error::io_error, fmt::format("zone server: cannot listen on {}: {}", where, std::strerror(errno)));
    socklen_t len = sizeof sa;
    ::getsockname(p->listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
    p->port = ntohs(sa.sin_port);
    if (::pipe2(p->wake, O_CLOEXEC) != 0)
        return make_failure(error::io_error, fmt::format("zone server {}: pipe: {}", where, std::strerror(errno)));
    p->running = true;
    auto* raw = p.get();
    p->thread = std::thread([raw] { raw->loop(); });
    return std::unique_ptr<zone_server>(new zone_server(std::move(p)));
}

void zone_server::stop() {
    if (!impl_ || !impl_->running.exchange(false)) return;
    char b = 1;
    (void)!::write(impl_->wake[1], &b, 1);
    if (impl_->thread.joinable()) impl_->thread.join();
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
}

const std::string& zone_server::address() const noexcept { return impl_->address; }
std::uint16_t zone_server::port() const noexcept { return impl_->port; }

std::string zone_server::url(std::string_view path) const {
    return fmt::format("http://{}:{}{}", impl_->address, impl_->port, path);
}

result<void> zone_server::set_zone(std::string zone) {
    if (zone.empty() || zone.find_first_of("\r\n") != std::string::npos)
        return make_failure(error::invalid_argument, "zone_server::set_zone: the zone must be one non-empty line");
    std::lock_guard lk(impl_->mu);
    impl_->zone = std::move(zone);
    return ok();
}

std::string zone_server::zone() const {
    std::lock_guard lk(impl_->mu);
    return impl_->zone;
}

std::vector<poll_record> zone_server::records() const {
    std::lock_guard lk(impl_->mu);
    return {impl_->records.begin(), impl_->records.end()};
}

std::vector<poll_record> zone_server::records_from(std::string_view network) const {
    std::vector<poll_record> out;
    std::lock_guard lk(impl_->mu);
    for (auto& r : impl_->records)
        if (in_network(r.peer, network)) out.push_back(r);
    return out;
}

void zone_server::clear_records() {
    std::lock_guard lk(impl_->mu);
    impl_->records.clear();
}

std::uint64_t zone_server::answered() const {
    std::lock_guard lk(impl_->mu);
    return impl_->answered;
}

std::uint64_t zone_server::refused() const {
    std::lock_guard lk(impl_->mu);
    return impl_->refused;
}

}  // namespace migrate::workload
