// src/openflow/types.cpp — addresses and port names: parsing, printing, JSON.
#include <migrate/openflow/types.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cctype>
#include <string>
#include <utility>

namespace migrate::openflow {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reserved ports by the names ovs-ofctl prints.
constexpr std::array<std::pair<std::uint32_t, std::string_view>, 8> reserved_ports{{
    {port::in_port, "IN_PORT"},
    {port::table, "TABLE"},
    {port::normal, "NORMAL"},
    {port::flood, "FLOOD"},
    {port::all, "ALL"},
    {port::controller, "CONTROLLER"},
    {port::local, "LOCAL"},
    {port::any, "ANY"},
}};

}  // namespace

result<mac_address> mac_address::parse(std::string_view text) {
    auto bad = [&] {
        return make_failure(error::invalid_argument,
                            fmt::format("'{}' is not a MAC address (expected six hex pairs like 02:00:00:00:00:01)", text));
    };
    if (text.size() != 17) return bad();
    mac_address m;
    for (std::size_t i = 0; i < 6; ++i) {
        int hi = hex_digit(text[i * 3]);
        int lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return bad();
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return bad();
        m.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return m;
}

std::string mac_address::to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                       bytes[5]);
}

result<ipv4_address> ipv4_address::parse(std::string_view text) {
    auto bad = [&] {
        return make_failure(error::invalid_argument,
                            fmt::format("'{}' is not an IPv4 address (expected a dotted quad like 10.0.0.1)", text));
    };
    std::uint32_t value = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (p == end || *p != '.') return bad();
            ++p;
        }
        if (p == end || !std::isdigit(static_cast<unsigned char>(*p))) return bad();
        unsigned n = 0;
        auto [next, ec] = std::from_chars(p, end, n);
        if (ec != std::errc{} || n > 255 || next - p > 3) return bad();
        value = (value << 8) | n;
        p = next;
    }
    if (p != end) return bad();
    return ipv4_address{value};
}

std::string ipv4_address::to_string() const {
    return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
}

void to_json(json& j, const mac_address& m) { j = m.to_string(); }
void to_json(json& j, const ipv4_address& a) { j = a.to_string(); }

void from_json(const json& j, mac_address& m) {
    if (!j.is_string()) throw migration_error(make_failure(error::invalid_argument, "a MAC address must be a string, got " + j.dump()));
    m = mac_address::parse(j.get<std::string>()).value();
}

void from_json(const json& j, ipv4_address& a) {
    if (!j.is_string())
        throw migration_error(make_failure(error::invalid_argument, "an IPv4 address must be a string, got " + j.dump()));
    a = ipv4_address::parse(j.get<std::string>()).value();
}

namespace port {

std::string name(std::uint32_t p) {
    for (auto& [number, text] : reserved_ports)
        if (number == p) return std::string(text);
    return std::to_string(p);
}

result<std::uint32_t> parse(std::string_view text) {
    std::string upper(text);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (auto& [number, name] : reserved_ports)
        if (upper == name) return number;
    std::uint32_t n = 0;
    auto [next, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || next != text.data() + text.size())
        return make_failure(error::invalid_argument,
                            fmt::format("'{}' is not a port (a number, or controller, in_port, table, normal, flood, "
                                        "all, local, any)",
                                        text));
    return n;
}

}  // namespace port

}  // namespace migrate::openflow
