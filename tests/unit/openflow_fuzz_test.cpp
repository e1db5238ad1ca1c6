// Fuzzing the decoder: 200,000 inputs made from valid messages (truncated, bit-flipped,
// bytes overwritten, length fields rewritten, spliced) and plain noise. Every decode must
// return, a value or a `protocol_error`; each input sits in a buffer of exactly its size, so
// an AddressSanitizer build (docs/openflow.md) catches any read past it. The seed is fixed
// (and printed on failure) so a failing input can be replayed.
#include <migrate/openflow/message.hpp>

#include "../require_ok.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <random>
#include <vector>

using namespace migrate;
using namespace migrate::openflow;

namespace {

std::vector<std::vector<std::uint8_t>> valid_messages() {
    auto ip = [](const char* s) { return ipv4_address::parse(s).value(); };
    auto mac = [](const char* s) { return mac_address::parse(s).value(); };
    flow_mod full;
    full.match = {.in_port = 1,
                  .eth_src = mac("02:00:00:00:00:01"),
                  .eth_dst = mac("02:00:00:00:00:02"),
                  .eth_type = eth_type::ipv4,
                  .ipv4_src = ip("10.0.0.1"),
                  .ipv4_dst = ip("10.0.0.2"),
                  .ip_proto = ip_proto::udp,
                  .udp_src = 1,
                  .udp_dst = 5683};
    full.actions = {set_field{.eth_dst = mac("02:00:00:00:00:03")}, set_field{.ipv4_dst = ip("10.0.0.3")},
                    set_field{.udp_dst = 5684}, output{2}, output{port::controller, 64}};
    flow_mod tcp;
    tcp.command = flow_command::remove_strict;
    tcp.match = {.eth_type = eth_type::ipv4, .ip_proto = ip_proto::tcp, .tcp_src = 1, .tcp_dst = 2};
    packet_in pin;
    pin.match.in_port = 3;
    pin.data = make_udp_frame({.eth_src = mac("02:00:00:00:00:01"),
                               .eth_dst = mac("02:00:00:00:00:02"),
                               .ipv4_src = ip("10.0.0.1"),
                               .ipv4_dst = ip("10.0.0.2"),
                               .udp_src = 1,
                               .udp_dst = 5683,
                               .payload = {1, 2, 3, 4, 5}});
    pin.total_len = static_cast<std::uint16_t>(pin.data.size());
    error_message err{2, 4, encode(full, 1)};
    err.data.resize(64);

    std::vector<message> all{hello{},
                             hello{0x06, 0x52},
                             err,
                             echo_request{{1, 2, 3}},
                             features_request{},
                             switch_features{1, 2, 3, 4, 5},
                             full,
                             tcp,
                             flow_mod{},
                             pin,
                             packet_out{no_buffer, port::controller, {output{1}, set_field{.eth_src = mac("02:00:00:00:00:09")}}, {1, 2, 3}},
                             barrier_reply{},
                             unknown_message{msg_type::port_status, std::vector<std::uint8_t>(72, 1)}};
    std::vector<std::vector<std::uint8_t>> out;
    for (auto& m : all) out.push_back(encode(m, 7));
    return out;
}

void set_length(std::vector<std::uint8_t>& b) {
    if (b.size() >= 4) {
        b[2] = static_cast<std::uint8_t>(b.size() >> 8);
        b[3] = static_cast<std::uint8_t>(b.size());
    }
}

}  // namespace

TEST_CASE("decode survives 200k truncated, bit-flipped and random inputs", "[openflow][fuzz]") {
    const std::uint32_t seed = 20240604;
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    const auto corpus = valid_messages();
    for (auto& m : corpus) REQUIRE_OK(decode(m));

    std::size_t decoded = 0, refused = 0, frames = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 200000; ++i) {
        std::vector<std::uint8_t> b = corpus[pick(corpus.size())];
        switch (i % 6) {
            case 0:  // truncate, sometimes with the header's length telling the truth
                b.resize(pick(b.size() + 1));
                if (rng() & 1) set_length(b);
                break;
            case 1:  // flip 1..8 bits
                for (std::size_t k = 0, n = 1 + pick(8); k < n; ++k) b[pick(b.size())] ^= std::uint8_t(1u << pick(8));
                break;
            case 2:  // overwrite bytes past the header (lengths and types inside) with extremes
                for (std::size_t k = 0, n = 1 + pick(4); k < n && b.size() > 8; ++k)
                    b[8 + pick(b.size() - 8)] = std::array<std::uint8_t, 5>{0x00, 0xff, 0x01, 0x07, 0x80}[pick(5)];
                break;
            case 3:  // random bytes appended or cut, length fixed up
                if (rng() & 1) b.resize(b.size() + 1 + pick(16), std::uint8_t(rng()));
                else b.resize(8 + pick(b.size() - 7));
                set_length(b);
                break;
            case 4: {  // splice two messages
                const auto& other = corpus[pick(corpus.size())];
                b.resize(8 + pick(b.size() - 7));
                b.insert(b.end(), other.begin() + static_cast<long>(pick(other.size())), other.end());
                set_length(b);
                break;
            }
            default:  // noise with a plausible header
                b.resize(pick(96));
                for (auto& x : b) x = std::uint8_t(rng());
                if (b.size() >= 2) b[0] = protocol_version;
                set_length(b);
        }
        // Exactly-sized heap copy: a read past the end is an ASan error.
        auto exact = std::make_unique<std::uint8_t[]>(b.size());
        std::copy(b.begin(), b.end(), exact.get());
        auto r = decode(std::span<const std::uint8_t>(exact.get(), b.size()));
        if (r) {
            ++decoded;
            if (auto* p = std::get_if<packet_in>(&*r)) {
                (void)p->frame();
                ++frames;
            }
        } else {
            ++refused;
            REQUIRE(r.error_code() == error::protocol_error);
            REQUIRE_FALSE(r.error().message.empty());
        }
    }
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN("fuzz: " << decoded << " decoded, " << refused << " refused, " << frames << " frames summarised in " << seconds
                  << " s");
    CHECK(decoded > 1000);
    CHECK(refused > 1000);
}

TEST_CASE("summarize_frame survives 100k mutated frames", "[openflow][fuzz]") {
    std::mt19937 rng(7);
    auto base = make_udp_frame({.udp_src = 1, .udp_dst = 2, .payload = {1, 2, 3}});
    for (int i = 0; i < 100000; ++i) {
        auto f = base;
        for (std::size_t k = 0, n = 1 + rng() % 6; k < n; ++k) f[rng() % f.size()] = std::uint8_t(rng());
        f.resize(rng() % (f.size() + 1));
        auto exact = std::make_unique<std::uint8_t[]>(f.size());
        std::copy(f.begin(), f.end(), exact.get());
        auto s = summarize_frame(std::span<const std::uint8_t>(exact.get(), f.size()));
        if (s && s->payload_offset) REQUIRE(*s->payload_offset <= f.size());
    }
}
