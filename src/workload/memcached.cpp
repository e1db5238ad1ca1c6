#include <migrate/workload/memcached.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace migrate::workload {

std::string memcached_dataset::key(std::uint64_t i) const { return fmt::format("{}:{:08}", prefix, i); }

std::string memcached_dataset::value(std::uint64_t i) const {
    // Deterministic pseudo-random printable bytes seeded by the index.
    std::string v(value_size, 'x');
    std::uint64_t s = i * 0x9E3779B97F4A7C15ull + 0x1234567ull;
    for (auto& c : v) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        c = static_cast<char>('a' + (s % 26));
    }
    return v;
}

struct memcached_client::impl {
    asio::io_context ioc;
    tcp::socket sock{ioc};
    asio::streambuf in;
    std::string where;
    std::chrono::milliseconds timeout{3000};

    // Runs the io_context until the operation completes or the timeout passes.
    result<void> run(boost::system::error_code& ec, const char* what) {
        ioc.restart();
        ioc.run_for(timeout);
        if (!ioc.stopped()) {
            sock.close();
            ioc.run();
            return make_failure(error::timeout, fmt::format("memcached {}: {} timed out", where, what));
        }
        if (ec) return make_failure(error::io_error, fmt::format("memcached {}: {}: {}", where, what, ec.message()));
        return {};
    }
    result<void> write(const std::string& data) {
        boost::system::error_code ec;
        asio::async_write(sock, asio::buffer(data), [&](auto e, std::size_t) { ec = e; });
        return run(ec, "write");
    }
    result<std::string> read_line() {
        boost::system::error_code ec;
        std::size_t n = 0;
        asio::async_read_until(sock, in, "\r\n", [&](auto e, std::size_t k) { ec = e; n = k; });
        MIGRATE_TRY(run(ec, "read"));
        std::string line(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n - 2);
        in.consume(n);
        return line;
    }
    result<std::string> read_exact(std::size_t len) {
        boost::system::error_code ec;
        if (in.size() < len) {
            asio::async_read(sock, in, asio::transfer_exactly(len - in.size()), [&](auto e, std::size_t) { ec = e; });
            MIGRATE_TRY(run(ec, "read"));
        }
        std::string data(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + len);
        in.consume(len);
        return data;
    }
    // Reads one get response: VALUE lines until END; calls on_value(key, data).
    template <class F>
    result<void> read_values(F&& on_value) {
        for (;;) {
            auto line = read_line();
            if (!line) return line.error();
            if (*line == "END") return {};
            if (line->rfind("VALUE ", 0) != 0)
                return make_failure(error::protocol_error, fmt::format("memcached {}: unexpected '{}'", where, *line));
            // VALUE <key> <flags> <bytes>
            std::size_t k0 = 6, k1 = line->find(' ', k0);
            auto b0 = line->rfind(' ');
            std::string key = line->substr(k0, k1 - k0);
            std::size_t len = std::stoul(line->substr(b0 + 1));
            auto data = read_exact(len + 2);
            if (!data) return data.error();
            data->resize(len);
            on_value(key, *data);
        }
    }
};

memcached_client::memcached_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
memcached_client::memcached_client(memcached_client&&) noexcept = default;
memcached_client& memcached_client::operator=(memcached_client&&) noexcept = default;
memcached_client::~memcached_client() = default;

result<memcached_client> memcached_client::connect(const std::string& host, std::uint16_t port,
                                                   std::chrono::milliseconds timeout) {
    auto p = std::make_unique<impl>();
    p->where = fmt::format("{}:{}", host, port);
    p->timeout = timeout;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return make_failure(error::invalid_argument, fmt::format("memcached address '{}' is not an IP address", host));
    p->sock.async_connect(tcp::endpoint(addr, port), [&](auto e) { ec = e; });
    if (auto r = p->run(ec, "connect"); !r)
        return make_failure(error::daemon_unreachable, r.error().message);
    p->sock.set_option(tcp::no_delay(true));
    return memcached_client(std::move(p));
}

result<void> memcached_client::set(const std::string& key, const std::string& value) {
    MIGRATE_TRY(impl_->write(fmt::format("set {} 0 0 {}\r\n{}\r\n", key, value.size(), value)));
    auto line = impl_->read_line();
    if (!line) return line.error();
    if (*line != "STORED")
        return make_failure(error::protocol_error, fmt::format("memcached {}: set {}: {}", impl_->where, key, *line));
    return {};
}

result<std::optional<std::string>> memcached_client::get(const std::string& key) {
    MIGRATE_TRY(impl_->write(fmt::format("get {}\r\n", key)));
    std::optional<std::string> out;
    MIGRATE_TRY(impl_->read_values([&](const std::string&, const std::string& v) { out = v; }));
    return out;
}

result<void> memcached_client::load(const memcached_dataset& ds) {
    constexpr std::uint64_t batch = 200;
    for (std::uint64_t b = 0; b < ds.items; b += batch) {
        std::string req;
        auto end = std::min(ds.items, b + batch);
        for (auto i = b; i < end; ++i) {
            auto v = ds.value(i);
            req += fmt::format("set {} 0 0 {}\r\n", ds.key(i), v.size());
            req += v;
            req += "\r\n";
        }
        MIGRATE_TRY(impl_->write(req));
        for (auto i = b; i < end; ++i) {
            auto line = impl_->read_line();
            if (!line) return line.error();
            if (*line != "STORED")
                return make_failure(error::protocol_error,
                                    fmt::format("memcached {}: set {}: {}", impl_->where, ds.key(i), *line));
        }
    }
    return {};
}

result<std::uint64_t> memcached_client::count_intact(const memcached_dataset& ds) {
    constexpr std::uint64_t batch = 100;
    std::uint64_t intact = 0;
    for (std::uint64_t b = 0; b < ds.items; b += batch) {
        auto end = std::min(ds.items, b + batch);
        std::string req = "get";
        for (auto i = b; i < end; ++i) req += " " + ds.key(i);
        req += "\r\n";
        MIGRATE_TRY(impl_->write(req));
        auto r = impl_->read_values([&](const std::string& key, const std::string& v) {
            // Keys are prefix:NNNNNNNN, so the index is the number after the last ':'.
            auto i = std::stoull(key.substr(key.rfind(':') + 1));
            if (v == ds.value(i)) ++intact;
        });
        if (!r) return r.error();
    }
    return intact;
}

result<std::map<std::string, std::uint64_t>> memcached_client::stats(const std::string& group) {
    MIGRATE_TRY(impl_->write(group.empty() ? std::string("stats\r\n") : fmt::format("stats {}\r\n", group)));
    std::map<std::string, std::uint64_t> out;
    for (;;) {
        auto line = impl_->read_line();
        if (!line) return line.error();
        if (*line == "END") return out;
        // STAT <name> <value>; only the numeric ones are kept.
        auto sp = line->find(' ', 5);
        if (line->rfind("STAT ", 0) != 0 || sp == std::string::npos)
            return make_failure(error::protocol_error, fmt::format("memcached {}: stats: unexpected '{}'", impl_->where, *line));
        std::uint64_t v = 0;
        auto value = std::string_view(*line).substr(sp + 1);
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec == std::errc{} && end == value.data() + value.size()) out[line->substr(5, sp - 5)] = v;
    }
}

result<void> memcached_client::wait_settled(std::chrono::milliseconds patience, std::chrono::milliseconds quiet) {
    const auto until = std::chrono::steady_clock::now() + patience;
    auto since = std::chrono::steady_clock::now();
    std::uint64_t last_moves = 0, hot = 0;
    bool first = true;
    while (std::chrono::steady_clock::now() < until) {
        auto st = stats("items");
        if (!st) return st.error();
        std::uint64_t moves = 0;
        hot = 0;
        for (auto& [k, v] : *st) {
            if (k.find(":moves_") != std::string::npos) moves += v;
            if (k.size() > 11 && k.compare(k.size() - 11, 11, ":number_hot") == 0) hot += v;
        }
        if (first || hot != 0 || moves != last_moves) {
            first = false;
            last_moves = moves;
            since = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - since >= quiet) {
            return {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return make_failure(error::timeout, fmt::format("memcached {}: still {} item(s) in the HOT LRU or moving after {} ms",
                                                    impl_->where, hot, patience.count()));
}

namespace {

// One request datagram out, the matching answer's body back (empty when none came within
// `timeout` or it did not match the request id).
std::optional<std::string> udp_request(const std::string& host, std::uint16_t port, const std::string& command,
                                       std::chrono::milliseconds timeout) {
    asio::io_context ioc;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    udp::socket sock(ioc);
    sock.open(udp::v4(), ec);
    if (ec) return std::nullopt;
    // memcached's UDP frame header: request id, sequence number, datagram count, reserved.
    static std::atomic<std::uint16_t> next_id{1};
    std::uint16_t id = next_id++;
    std::string req{static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 0, 0, 0, 1, 0, 0};
    req += command + "\r\n";
    sock.send_to(asio::buffer(req), udp::endpoint(addr, port), 0, ec);
    if (ec) return std::nullopt;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    bool done = false;
    udp::endpoint from;
    sock.async_receive_from(asio::buffer(buf), from, [&](auto e, std::size_t k) { ec = e; n = k; done = true; });
    ioc.run_for(timeout);
    if (!done || ec || n < 8) return std::nullopt;
    if ((static_cast<unsigned char>(buf[0]) << 8 | static_cast<unsigned char>(buf[1])) != id) return std::nullopt;
    return std::string(buf.data() + 8, n - 8);
}

}  // namespace

bool memcached_udp_version(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    auto body = udp_request(host, port, "version", timeout);
    return body && body->rfind("VERSION ", 0) == 0;
}

bool memcached_udp_get(const std::string& host, std::uint16_t port, const std::string& key,
                       const std::string& expected_value, std::chrono::milliseconds timeout) {
    auto body = udp_request(host, port, "get " + key, timeout);
    if (!body) return false;
    auto header = "VALUE " + key + " ";
    if (body->rfind(header, 0) != 0) return false;
    auto nl = body->find("\r\n");
    if (nl == std::string::npos) return false;
    return std::string_view(*body).substr(nl + 2, expected_value.size()) == expected_value;
}

}  // namespace migrate::workload
