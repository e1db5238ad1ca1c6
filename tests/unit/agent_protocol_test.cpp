// The agent wire format without sockets: frame headers, the end trailer, SHA-256, endpoints,
// requests as JSON (validation names the field; paths must stay inside the work dir), the
// token comparison, error replies, and the options of server, client, transport and testbed.
#include <migrate/agent/client.hpp>
#include <migrate/agent/protocol.hpp>
#include <migrate/agent/server.hpp>
#include <migrate/agent/transport.hpp>
#include <migrate/testbed/testbed.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace migrate;
using namespace migrate::agent;

namespace {

std::array<std::byte, frame_header_bytes> header_bytes(std::string_view five) {
    std::array<std::byte, frame_header_bytes> b{};
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>(five[i]);
    return b;
}

std::string message_of(const result<void>& r) { return r ? std::string{} : r.error().message; }
template <class T>
std::string message_of(const result<T>& r) { return r ? std::string{} : r.error().message; }

}  // namespace

TEST_CASE("agent protocol: frame headers round trip for every type", "[agent]") {
    frame_limits limits;
    for (auto [t, len] : std::vector<std::pair<frame_type, std::uint32_t>>{{frame_type::request, 300},
                                                                           {frame_type::data, 1},
                                                                           {frame_type::data, limits.max_data_bytes},
                                                                           {frame_type::end, 40},
                                                                           {frame_type::abort, 0},
                                                                           {frame_type::progress, 12},
                                                                           {frame_type::reply, limits.max_json_bytes}}) {
        auto h = encode_frame_header(t, len);
        auto d = decode_frame_header(h, limits);
        INFO(to_string(t) << " " << len << ": " << message_of(d));
        REQUIRE(d);
        CHECK(d->type == t);
        CHECK(d->length == len);
    }
    auto whole = encode_frame(frame_type::reply, "{\"ok\":true}");
    REQUIRE(whole.size() == frame_header_bytes + 11);
    CHECK(whole[0] == 'R');
    CHECK(whole.substr(5) == "{\"ok\":true}");
    CHECK(static_cast<unsigned char>(whole[4]) == 11);
}

TEST_CASE("agent protocol: garbage and oversized frame headers are rejected before any allocation", "[agent]") {
    frame_limits limits;
    SECTION("an HTTP request is not a frame") {
        auto d = decode_frame_header(header_bytes("GET /"));
        REQUIRE_FALSE(d);
        CHECK(d.error().code == make_error_code(error::protocol_error));
        CHECK_THAT(d.error().message, Catch::Contains("unknown frame type 'G'"));
    }
    SECTION("a binary type byte is named in hex") {
        auto d = decode_frame_header(header_bytes(std::string("\x01\0\0\0\x05", 5)));
        REQUIRE_FALSE(d);
        CHECK_THAT(d.error().message, Catch::Contains("0x01"));
    }
    SECTION("a request frame larger than the JSON limit") {
        auto d = decode_frame_header(encode_frame_header(frame_type::request, 100u << 20), limits);
        REQUIRE_FALSE(d);
        CHECK_THAT(d.error().message, Catch::Contains("exceeds the limit of 65536 bytes"));
    }
    SECTION("a data frame larger than the data limit, and an empty one") {
        CHECK_FALSE(decode_frame_header(encode_frame_header(frame_type::data, limits.max_data_bytes + 1), limits));
        auto d = decode_frame_header(encode_frame_header(frame_type::data, 0), limits);
        REQUIRE_FALSE(d);
        CHECK_THAT(d.error().message, Catch::Contains("empty data frame"));
    }
    SECTION("an end frame of the wrong size") {
        auto d = decode_frame_header(encode_frame_header(frame_type::end, 32), limits);
        REQUIRE_FALSE(d);
        CHECK_THAT(d.error().message, Catch::Contains("must be 40"));
    }
}

TEST_CASE("agent protocol: SHA-256 of a stream and the end trailer", "[agent]") {
    stream_hash h;
    std::string abc = "abc";
    h.update(std::as_bytes(std::span(abc.data(), 1)));
    h.update(std::as_bytes(std::span(abc.data() + 1, 2)));  // in pieces: same digest
    auto d = h.finish();
    CHECK(to_hex(d) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    end_trailer e{0x0102030405060708ull, d};
    auto p = encode_end(e);
    REQUIRE(p.size() == end_payload_bytes);
    auto back = decode_end(p);
    REQUIRE(back);
    CHECK(back->bytes == e.bytes);
    CHECK(back->sha256 == d);
    CHECK_FALSE(decode_end(p.substr(1)));
}

TEST_CASE("agent protocol: endpoints", "[agent]") {
    auto e = parse_endpoint("10.82.56.2:7070");
    REQUIRE(e);
    CHECK(e->host == "10.82.56.2");
    CHECK(e->port == 7070);
    CHECK(e->to_string() == "10.82.56.2:7070");
    auto v6 = parse_endpoint("[::1]:80");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->to_string() == "[::1]:80");
    CHECK(parse_endpoint("localhost:1"));
    for (auto bad : {"10.1.2.3", "10.1.2.3:", ":7070", "10.1.2.3:0", "10.1.2.3:70000", "10.1.2.3:x", "::1:80",
                     "a b:80", "[::1:80"}) {
        auto r = parse_endpoint(bad, "edge_host.agent");
        INFO(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == make_error_code(error::invalid_argument));
        CHECK_THAT(r.error().message, Catch::StartsWith("edge_host.agent: '"));
    }
}

TEST_CASE("agent protocol: requests round trip through JSON", "[agent]") {
    request r;
    r.op = operation::relay;
    r.token = "secret-secret-secret";
    r.artifact = artifacts::container_fs("web");
    r.consume = artifacts::image_from_fs("moved/web:1", {"CMD [\"/bin/sh\"]"});
    r.to = "10.0.0.3:7070";
    r.stall_timeout_ms = 3000;
    auto text = json(r).dump();
    auto back = parse_request(text);
    REQUIRE(back);
    CHECK(back->op == operation::relay);
    CHECK(back->token == r.token);
    CHECK(back->artifact.container == "web");
    CHECK(back->consume.reference == "moved/web:1");
    CHECK(back->consume.changes == r.consume.changes);
    CHECK(back->to == r.to);
    CHECK(back->stall_timeout_ms == 3000);
    CHECK_THAT(back->describe(), Catch::Contains("-> 10.0.0.3:7070"));

    request c;
    c.op = operation::consume;
    c.token = "t";
    c.artifact = artifacts::file("stage/x.tar");
    c.from = "a";
    auto cb = parse_request(json(c).dump());
    REQUIRE(cb);
    CHECK(cb->artifact.path == "stage/x.tar");
    CHECK(cb->from == "a");
}

TEST_CASE("agent protocol: malformed requests name what is wrong", "[agent]") {
    auto expect = [](std::string_view text, error code, std::string_view says) {
        auto r = parse_request(text);
        INFO(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == make_error_code(code));
        CHECK_THAT(r.error().message, Catch::Contains(std::string(says)));
    };
    expect("not json", error::protocol_error, "does not hold a JSON object");
    expect("[1,2]", error::protocol_error, "does not hold a JSON object");
    expect(R"({"v":1,"token":"t"})", error::invalid_argument, "request.op: required");
    expect(R"({"v":1,"op":"format-disk","token":"t"})", error::invalid_argument, "request.op: unknown operation 'format-disk'");
    expect(R"({"v":2,"op":"ping","token":"t"})", error::invalid_argument, "request.v: protocol version 2");
    expect(R"({"v":1,"op":"consume","token":"t"})", error::invalid_argument, "request.artifact: required");
    expect(R"({"v":1,"op":"consume","token":"t","artifact":{"kind":"file","path":"../../etc/passwd"}})",
           error::invalid_argument, "request.artifact.path: '../../etc/passwd' must be relative and stay inside the work dir");
    expect(R"({"v":1,"op":"produce","token":"t","artifact":{"kind":"file","path":"/etc/shadow"}})",
           error::invalid_argument, "request.artifact.path: '/etc/shadow'");
    expect(R"({"v":1,"op":"relay","token":"t","produce":{"kind":"volume"},"consume":{"kind":"volume","volume":"v"},"to":"h:1"})",
           error::invalid_argument, "request.produce.volume: required");
    expect(R"({"v":1,"op":"relay","token":"t","produce":{"kind":"volume","volume":"v"},"consume":{"kind":"volume","volume":"v"},"to":"nowhere"})",
           error::invalid_argument, "request.to: 'nowhere'");
    expect(R"({"v":1,"op":"consume","token":"t","artifact":{"kind":"teleport"}})", error::invalid_argument,
           "unknown kind 'teleport'");
    expect(R"({"v":1,"op":"ping","token":42})", error::invalid_argument, "request.token");
}

TEST_CASE("agent protocol: the token comparison", "[agent]") {
    const std::string t = "0123456789abcdef0123456789abcdef";
    CHECK(token_matches(t, t));
    CHECK_FALSE(token_matches(t, t.substr(0, 31)));
    CHECK_FALSE(token_matches(t, t + "0"));
    CHECK_FALSE(token_matches(t, "1" + t.substr(1)));
    CHECK_FALSE(token_matches(t, ""));
    CHECK_FALSE(token_matches("", ""));  // an agent without a token accepts nothing
}

TEST_CASE("agent protocol: error replies carry the code and message both ways", "[agent]") {
    auto j = error_reply(make_failure(error::corrupt_artifact, "digest differs"));
    CHECK(j["ok"] == false);
    CHECK(j["error"] == "corrupt_artifact");
    auto f = failure_from_reply(j, "agent b");
    CHECK(f.code == make_error_code(error::corrupt_artifact));
    CHECK(f.message == "agent b: digest differs");
    auto odd = failure_from_reply(json{{"ok", false}, {"error", "martian"}, {"message", "?"}}, "x");
    CHECK(odd.code == make_error_code(error::protocol_error));
    CHECK_THAT(odd.message, Catch::Contains("unrecognised error 'martian'"));
    auto weird = failure_from_reply(json{{"ok", false}, {"error", 5}, {"message", json::array()}}, "x");
    CHECK(weird.code == make_error_code(error::protocol_error));
    CHECK(error_from_string("timeout") == error::timeout);
}

TEST_CASE("agent options: validation names the field, JSON round trips never carry the token", "[agent]") {
    SECTION("server") {
        server_options o;
        o.token = "short";
        o.work_dir = std::filesystem::temp_directory_path();
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("server_options.token: 5 characters"));
        o.token = std::string(32, 'k');
        CHECK(o.validate());
        o.work_dir = "relative/dir";
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("server_options.work_dir"));
        o.work_dir = "/nonexistent/migrate-agent-test";
        CHECK_THAT(message_of(o.validate()), Catch::Contains("is not a directory"));
        o.work_dir = std::filesystem::temp_directory_path();
        o.bind_address = "not-an-ip";
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("server_options.bind_address"));
        o.bind_address = "127.0.0.1";
        o.limits.chunk_bytes = o.limits.frames.max_data_bytes + 1;
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("server_limits.chunk_bytes"));
        o.limits.chunk_bytes = 65536;
        o.limits.stall_timeout = std::chrono::milliseconds(1234);
        json j = o;
        CHECK(j["token"] == "<set>");
        CHECK(j.dump().find(o.token) == std::string::npos);
        auto back = j.get<server_options>();
        CHECK(back.token.empty());
        CHECK(back.limits.stall_timeout.count() == 1234);
        CHECK(back.limits.chunk_bytes == 65536);
        CHECK(back.work_dir == o.work_dir);
    }
    SECTION("client") {
        client_options o;
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("client_options.token: empty"));
        o.token = "x";
        o.stall_timeout = std::chrono::milliseconds(5);
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("client_options.stall_timeout"));
        CHECK_THAT(message_of(agent_client::make("10.0.0.1", {.token = "x"})), Catch::StartsWith("agent address: '10.0.0.1'"));
    }
    SECTION("transport") {
        agent_transport_options o;
        CHECK_THAT(message_of(make_agent_transport(o)), Catch::StartsWith("agent_transport_options.token: empty"));
        o.token = "tok";
        o.stall_timeout = std::chrono::milliseconds(2500);
        json j = o;
        CHECK(j["token"] == "<set>");
        auto back = j.get<agent_transport_options>();
        CHECK(back.stall_timeout.count() == 2500);
        CHECK(back.token.empty());
        back.token = "tok";
        auto t = make_agent_transport(back);
        REQUIRE(t);
        CHECK((*t)->name() == "agent");
    }
    SECTION("transport refuses hosts without an agent, naming the host") {
        auto t = make_agent_transport({.token = "tok"});
        REQUIRE(t);
        edge_host a{.name = "a", .agent = "127.0.0.1:1"}, b{.name = "b"};
        auto r = (*t)->transfer(a, artifacts::file("x"), b, artifacts::file("y"));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == make_error_code(error::invalid_argument));
        CHECK_THAT(r.error().message, Catch::Contains("edge host 'b' has no agent"));
    }
    SECTION("testbed") {
        testbed::testbed_options o;
        o.name = "x";
        o.agent_binary = "migrate-agent";
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("testbed_options.agent_binary: 'migrate-agent'"));
        o.agent_binary = "/bin/true";
        o.agent_port = 0;
        CHECK_THAT(message_of(o.validate()), Catch::StartsWith("testbed_options.agent_port: 0"));
        o.agent_port = 7171;
        CHECK(o.validate());
        json j = o;
        auto back = j.get<testbed::testbed_options>();
        CHECK(back.agent_binary == "/bin/true");
        CHECK(back.agent_port == 7171);
        testbed::host h;
        h.agent = "10.0.0.2:7171";
        h.agent_pid = 42;
        json hj = h;
        auto hb = hj.get<testbed::host>();
        CHECK(hb.agent == h.agent);
        CHECK(hb.agent_pid == 42);
    }
}
