// agent_server and agent_client for real, over loopback TCP, with `file` artifacts (the one
// kind that needs no container engine: the engine socket given to the servers does not
// exist). Hand-written frames check what a misbehaving peer gets: garbage, truncation, a
// digest that does not match, a stall, a bad token, paths leaving the work dir.
#include <migrate/agent/client.hpp>
#include <migrate/agent/protocol.hpp>
#include <migrate/agent/server.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace migrate;
using namespace migrate::agent;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string token = "unit-test-token-0123456789abcdef";

template <class R>
std::string why(const R& r) { return r ? std::string{} : r.error().what(); }

struct scratch {
    fs::path dir;
    scratch() {
        static std::atomic<int> n{0};
        dir = fs::temp_directory_path() / fmt::format("migrate-agent-unit-{}-{}", ::getpid(), n++);
        fs::create_directories(dir);
    }
    ~scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

std::unique_ptr<agent_server> start_server(const fs::path& work, const std::string& name, server_limits limits = {}) {
    fs::create_directories(work);
    server_options o;
    o.port = 0;
    o.token = token;
    o.work_dir = work;
    o.docker_socket = "/nonexistent/migrate-agent-unit/docker.sock";
    o.name = name;
    o.limits = limits;
    auto s = agent_server::start(o);
    INFO(why(s));
    REQUIRE(s);
    return std::move(*s);
}

agent_client client_for(const agent_server& s, client_options o = {}) {
    if (o.token.empty()) o.token = token;
    auto c = agent_client::make(s.local_endpoint().to_string(), o);
    REQUIRE(c);
    return *c;
}

std::string pattern(std::size_t n, unsigned seed = 7) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 13);
    return s;
}

std::string sha_hex(std::string_view s) {
    stream_hash h;
    h.update(std::as_bytes(std::span(s.data(), s.size())));
    return to_hex(h.finish());
}

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds limit = 3000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (p()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return p();
}

// A plain blocking socket to the server, for hand-written frames.
struct raw_conn {
    int fd = -1;
    explicit raw_conn(std::uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~raw_conn() { close(); }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void send(std::string_view bytes) {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    }
    // Everything until the server closes (or 5 s pass).
    std::string receive_all() {
        std::string out;
        char buf[65536];
        for (;;) {
            auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
};

struct parsed_frame {
    frame_type type;
    std::string payload;
};

std::vector<parsed_frame> parse_frames(const std::string& bytes) {
    std::vector<parsed_frame> out;
    std::size_t pos = 0;
    while (pos + frame_header_bytes <= bytes.size()) {
        std::array<std::byte, frame_header_bytes> h{};
        std::memcpy(h.data(), bytes.data() + pos, h.size());
        auto d = decode_frame_header(h);
        REQUIRE(d);
        REQUIRE(pos + frame_header_bytes + d->length <= bytes.size());
        out.push_back({d->type, bytes.substr(pos + frame_header_bytes, d->length)});
        pos += frame_header_bytes + d->length;
    }
    return out;
}

// The one reply frame the server sent back, as JSON.
json reply_of(const std::string& bytes) {
    auto frames = parse_frames(bytes);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].type == frame_type::reply);
    return json::parse(frames[0].payload);
}

std::string consume_request(const std::string& path, const std::string& tok = token, std::uint32_t stall_ms = 0) {
    request r;
    r.op = operation::consume;
    r.token = tok;
    r.artifact = artifacts::file(path);
    r.from = "unit";
    r.stall_timeout_ms = stall_ms;
    return encode_frame(frame_type::request, json(r).dump());
}

std::string end_frame(std::string_view content) {
    stream_hash h;
    h.update(std::as_bytes(std::span(content.data(), content.size())));
    return encode_frame(frame_type::end, encode_end({content.size(), h.finish()}));
}

// A producer that writes `chunk` bytes every `every` until stopped by its sink failing.
agent_client::produce_fn slow_producer(std::size_t chunk, std::chrono::milliseconds every) {
    return [=](byte_sink& out) -> result<json> {
        std::string c = pattern(chunk);
        for (;;) {
            MIGRATE_TRY(out.write(std::as_bytes(std::span(c.data(), c.size()))));
            std::this_thread::sleep_for(every);
        }
    };
}

}  // namespace

TEST_CASE("agent server: ping answers with its name and a wrong token is refused", "[agent]") {
    scratch s;
    auto srv = start_server(s.dir / "a", "a");
    auto pong = client_for(*srv).ping();
    INFO(why(pong));
    REQUIRE(pong);
    CHECK((*pong)["name"] == "a");
    CHECK((*pong)["protocol"] == protocol_version);
    CHECK((*pong)["docker"]["answering"] == false);  // the unit servers have no engine

    auto bad = client_for(*srv, {.token = "not-the-token"}).ping();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == make_error_code(error::permission_denied));
    CHECK_THAT(bad.error().message, Catch::Contains("token is missing or wrong"));
    CHECK(bad.error().message.find("not-the-token") == std::string::npos);
    CHECK(srv->stats()["refused"] == 1);
}

TEST_CASE("agent server: push, fetch and relay of a file, checked by SHA-256", "[agent]") {
    scratch s;
    auto a = start_server(s.dir / "a", "a");
    auto b = start_server(s.dir / "b", "b");
    const auto data = pattern(3 * 1024 * 1024 + 17);
    const auto digest = sha_hex(data);

    SECTION("push: this process produces, the agent consumes") {
        std::vector<std::uint64_t> seen;
        auto st = client_for(*a).push(
            artifacts::file("in/data.bin"),
            [&](byte_sink& out) -> result<json> {
                for (std::size_t off = 0; off < data.size(); off += 100000) {
                    auto n = std::min<std::size_t>(100000, data.size() - off);
                    MIGRATE_TRY(out.write(std::as_bytes(std::span(data.data() + off, n))));
                }
                return json{{"made", "here"}};
            },
            [&](std::uint64_t b) { seen.push_back(b); });
        INFO(why(st));
        REQUIRE(st);
        CHECK(st->bytes == data.size());
        CHECK(st->sha256 == digest);
        CHECK(st->produced["made"] == "here");
        CHECK(st->consumed["bytes"] == data.size());
        CHECK(read_file(s.dir / "a" / "in/data.bin") == data);
        REQUIRE_FALSE(seen.empty());
        CHECK(std::is_sorted(seen.begin(), seen.end()));
        CHECK(seen.back() == data.size());
    }
    SECTION("fetch: the agent produces, this process consumes") {
        write_file(s.dir / "a" / "out.bin", data);
        string_sink got;
        auto st = client_for(*a).fetch(artifacts::file("out.bin"), got);
        INFO(why(st));
        REQUIRE(st);
        CHECK(got.data == data);
        CHECK(st->sha256 == digest);
        auto missing = client_for(*a).fetch(artifacts::file("nope.bin"), got);
        REQUIRE_FALSE(missing);
        CHECK_THAT(missing.error().message, Catch::Contains("nope.bin"));
    }
    SECTION("relay: agent a pushes straight to agent b") {
        write_file(s.dir / "a" / "src.bin", data);
        auto st = client_for(*a).relay(artifacts::file("src.bin"), b->local_endpoint().to_string(),
                                       artifacts::file("dst/copy.bin"));
        INFO(why(st));
        REQUIRE(st);
        CHECK(st->bytes == data.size());
        CHECK(st->sha256 == digest);
        CHECK(st->seconds > 0);
        CHECK(read_file(s.dir / "b" / "dst/copy.bin") == data);
        CHECK(b->stats()["bytes_in"] == data.size());
        CHECK(a->stats()["bytes_out"] == data.size());
    }
    SECTION("relay: the target's refusal comes back to the driver") {
        write_file(s.dir / "a" / "src.bin", data);
        fs::create_directories(s.dir / "outside");
        fs::create_directory_symlink(s.dir / "outside", s.dir / "b" / "link");
        auto st = client_for(*a).relay(artifacts::file("src.bin"), b->local_endpoint().to_string(),
                                       artifacts::file("link/copy.bin"));
        REQUIRE_FALSE(st);
        CHECK(st.error().code == make_error_code(error::invalid_argument));
        CHECK_THAT(st.error().message, Catch::Contains("outside the agent's work dir"));
        CHECK_THAT(st.error().message, Catch::Contains("agent a: relaying file 'src.bin'"));
        CHECK_FALSE(fs::exists(s.dir / "outside" / "copy.bin"));
    }
    SECTION("relay to an address where no agent listens fails fast, naming it") {
        write_file(s.dir / "a" / "src.bin", data);
        auto gone = b->local_endpoint().to_string();
        b->stop();
        auto t0 = std::chrono::steady_clock::now();
        auto st = client_for(*a).relay(artifacts::file("src.bin"), gone, artifacts::file("x"));
        REQUIRE_FALSE(st);
        CHECK(st.error().code == make_error_code(error::daemon_unreachable));
        CHECK_THAT(st.error().message, Catch::Contains(gone));
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    }
}

TEST_CASE("agent server: malformed input gets a clear error, the connection is closed, nothing is done", "[agent]") {
    scratch s;
    auto srv = start_server(s.dir / "w", "w");
    const auto port = srv->local_endpoint().port;
    auto refused_with = [&](std::string_view bytes, error code, std::string_view says) {
        raw_conn c(port);
        c.send(bytes);
        auto r = reply_of(c.receive_all());
        INFO(r.dump());
        CHECK(r["ok"] == false);
        CHECK(r["error"] == std::string(to_string(code)));
        CHECK_THAT(r["message"].get<std::string>(), Catch::Contains(std::string(says)));
    };

    SECTION("an HTTP request") {
        refused_with("GET / HTTP/1.1\r\nHost: agent\r\n\r\n", error::protocol_error, "unknown frame type 'G'");
    }
    SECTION("data before the request") {
        refused_with(encode_frame(frame_type::data, "xx"), error::protocol_error, "expected a request frame first");
    }
    SECTION("a 100 MB request header (refused before allocating)") {
        auto h = encode_frame_header(frame_type::request, 100u << 20);
        refused_with(std::string(reinterpret_cast<const char*>(h.data()), h.size()), error::protocol_error,
                     "exceeds the limit");
    }
    SECTION("a request that is not JSON") {
        refused_with(encode_frame(frame_type::request, "{not json"), error::protocol_error, "does not hold a JSON object");
    }
    SECTION("a wrong token: refused before the request is even looked at") {
        refused_with(consume_request("../../escape.txt", "wrong-token"), error::permission_denied, "token is missing or wrong");
    }
    SECTION("a path leaving the work dir") {
        refused_with(consume_request("../escape.txt"), error::invalid_argument,
                     "request.artifact.path: '../escape.txt' must be relative and stay inside the work dir");
        CHECK_FALSE(fs::exists(s.dir / "escape.txt"));
    }
    SECTION("a symlink leaving the work dir") {
        fs::create_directories(s.dir / "outside");
        fs::create_directory_symlink(s.dir / "outside", s.dir / "w" / "link");
        refused_with(consume_request("link/x.txt"), error::invalid_argument, "outside the agent's work dir");
        CHECK_FALSE(fs::exists(s.dir / "outside" / "x.txt"));
    }
    SECTION("an unknown operation") {
        refused_with(encode_frame(frame_type::request, json{{"v", 1}, {"op", "shell"}, {"token", token}}.dump()),
                     error::invalid_argument, "request.op: unknown operation 'shell'");
    }
    // Whatever came before, the server still serves.
    CHECK(client_for(*srv).ping());
    CHECK(srv->stats()["refused"] == 1);
    CHECK(srv->stats()["succeeded"] == 1);
}

TEST_CASE("agent server: a stream that is truncated, corrupt, aborted or stalls leaves no file", "[agent]") {
    scratch s;
    auto srv = start_server(s.dir / "w", "w");
    const auto port = srv->local_endpoint().port;
    const auto staged = s.dir / "w" / "staged.bin";
    const std::string content = pattern(200000);

    SECTION("the digest differs from the trailer: corrupt_artifact") {
        raw_conn c(port);
        std::string flipped = content;
        flipped[123456] ^= 0x20;  // one bit flipped in transit
        c.send(consume_request("staged.bin"));
        c.send(encode_frame(frame_type::data, flipped));
        c.send(end_frame(content));  // the sender's digest is of what it meant to send
        auto r = reply_of(c.receive_all());
        CHECK(r["error"] == "corrupt_artifact");
        CHECK_THAT(r["message"].get<std::string>(), Catch::Contains("does not match its trailer"));
        CHECK_FALSE(fs::exists(staged));
    }
    SECTION("the byte count differs from the trailer") {
        raw_conn c(port);
        c.send(consume_request("staged.bin"));
        c.send(encode_frame(frame_type::data, content.substr(0, 1000)));
        c.send(end_frame(content.substr(0, 1001)));
        auto r = reply_of(c.receive_all());
        CHECK(r["error"] == "corrupt_artifact");
        CHECK_FALSE(fs::exists(staged));
    }
    SECTION("the sender aborts") {
        raw_conn c(port);
        c.send(consume_request("staged.bin"));
        c.send(encode_frame(frame_type::data, content));
        c.send(encode_frame(frame_type::abort, error_reply(make_failure(error::io_error, "source disk died")).dump()));
        auto r = reply_of(c.receive_all());
        CHECK(r["error"] == "io_error");
        CHECK_THAT(r["message"].get<std::string>(), Catch::Contains("aborted the stream after 200000 bytes: source disk died"));
        CHECK_FALSE(fs::exists(staged));
    }
    SECTION("the connection ends in the middle of a frame") {
        {
            raw_conn c(port);
            c.send(consume_request("staged.bin"));
            c.send(encode_frame(frame_type::data, content).substr(0, 5000));
        }  // closed
        REQUIRE(wait_until([&] { return srv->stats()["failed"] == 1; }));
        CHECK_FALSE(fs::exists(staged));
    }
    SECTION("the sender stalls: timeout after the requested stall limit") {
        raw_conn c(port);
        auto t0 = std::chrono::steady_clock::now();
        c.send(consume_request("staged.bin", token, 300));
        c.send(encode_frame(frame_type::data, content));
        auto r = reply_of(c.receive_all());  // nothing more sent, connection kept open
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(r["error"] == "timeout");
        CHECK_THAT(r["message"].get<std::string>(), Catch::Contains("nothing moved for 0.3 s"));
        CHECK(took >= 300ms);
        CHECK(took < 3s);
        CHECK_FALSE(fs::exists(staged));
    }
    CHECK(client_for(*srv).ping());
}

TEST_CASE("agent server: cancellation and stop abort a stream and clean up", "[agent]") {
    scratch s;
    auto srv = start_server(s.dir / "w", "w");
    const auto staged = s.dir / "w" / "slow.bin";

    SECTION("the driver's stop_token") {
        std::stop_source stop;
        std::thread canceller([&] {
            std::this_thread::sleep_for(300ms);
            stop.request_stop();
        });
        auto t0 = std::chrono::steady_clock::now();
        auto st = client_for(*srv).push(artifacts::file("slow.bin"), slow_producer(64 * 1024, 20ms), {}, stop.get_token());
        auto took = std::chrono::steady_clock::now() - t0;
        canceller.join();
        REQUIRE_FALSE(st);
        CHECK(st.error().code == make_error_code(error::cancelled));
        CHECK(took < 1500ms);
        CHECK(wait_until([&] { return !fs::exists(staged) && srv->stats()["failed"] == 1; }));
    }
    SECTION("the server stopping") {
        std::thread stopper([&] {
            std::this_thread::sleep_for(300ms);
            srv->stop();
        });
        auto t0 = std::chrono::steady_clock::now();
        auto st = client_for(*srv).push(artifacts::file("slow.bin"), slow_producer(64 * 1024, 20ms));
        stopper.join();
        REQUIRE_FALSE(st);
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
        CHECK_FALSE(fs::exists(staged));
    }
}

TEST_CASE("agent server: more connections than allowed are answered busy", "[agent]") {
    scratch s;
    server_limits l;
    l.max_connections = 1;
    l.request_timeout = 2000ms;
    auto srv = start_server(s.dir / "w", "w", l);
    raw_conn idle(srv->local_endpoint().port);  // holds the only slot: says nothing
    REQUIRE(wait_until([&] { return srv->stats()["accepted"] == 1; }));
    auto busy = client_for(*srv).ping();
    REQUIRE_FALSE(busy);
    CHECK(busy.error().code == make_error_code(error::daemon_unreachable));
    CHECK_THAT(busy.error().message, Catch::Contains("is busy"));
    idle.close();
    CHECK(wait_until([&] { return client_for(*srv).ping().has_value(); }));
}
