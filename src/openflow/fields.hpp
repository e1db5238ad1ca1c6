// src/openflow/fields.hpp — one walk over the OXM fields of a `match` or a `set_field` (private
// to src/openflow), so printing, JSON and the wire code of both are written once.
#pragma once

#include <migrate/openflow/action.hpp>
#include <migrate/openflow/match.hpp>

#include "json_fields.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

namespace migrate::openflow::detail {

/// Calls `f(field, member)` for each field member `s` has (a match: all of them; a set_field:
/// the rewritable ones), in the order they go on the wire: prerequisites first.
template <class S, class F>
void for_each_field(S& s, F&& f) {
    if constexpr (requires { s.in_port; }) f(field::in_port, s.in_port);
    f(field::eth_dst, s.eth_dst);
    f(field::eth_src, s.eth_src);
    if constexpr (requires { s.eth_type; }) f(field::eth_type, s.eth_type);
    if constexpr (requires { s.ip_proto; }) f(field::ip_proto, s.ip_proto);
    f(field::ipv4_src, s.ipv4_src);
    f(field::ipv4_dst, s.ipv4_dst);
    f(field::tcp_src, s.tcp_src);
    f(field::tcp_dst, s.tcp_dst);
    f(field::udp_src, s.udp_src);
    f(field::udp_dst, s.udp_dst);
}

/// Bytes of a field's value on the wire.
template <class T>
constexpr std::size_t wire_size() {
    if constexpr (std::is_same_v<T, mac_address>) return 6;
    else if constexpr (std::is_same_v<T, ipv4_address>) return 4;
    else return sizeof(T);
}

/// "1", "CONTROLLER", "0x0800", "02:00:00:00:00:01", "10.0.0.1".
template <class T>
std::string value_text(field f, const T& v) {
    if constexpr (std::is_same_v<T, mac_address> || std::is_same_v<T, ipv4_address>) return v.to_string();
    else if constexpr (std::is_same_v<T, std::uint32_t>) return port::name(v);   // in_port, the only 32-bit one
    else if (f == field::eth_type) return fmt::format("0x{:04x}", v);
    else return std::to_string(v);
}

/// Reads a field's value from JSON: addresses as text, in_port as a number or port name,
/// the others as numbers (or "0x..." strings).
template <class T>
void read_value(const json& j, const std::string& where, std::optional<T>& out) {
    if constexpr (std::is_same_v<T, mac_address> || std::is_same_v<T, ipv4_address>) out = read_address<T>(j, where);
    else if constexpr (std::is_same_v<T, std::uint32_t>) out = read_port(j, where);   // in_port
    else out = read_uint<T>(j, where);
}

/// The fields that are set, as a JSON object by name.
template <class S>
json fields_to_json(const S& s) {
    json j = json::object();
    for_each_field(s, [&](field f, const auto& v) {
        if (v) j[std::string(to_string(f))] = *v;
    });
    return j;
}

/// Sets the field named `key`; false when `s` has no such field.
template <class S>
bool read_named_field(S& s, const std::string& key, const json& v, const std::string& where) {
    bool known = false;
    for_each_field(s, [&](field f, auto& slot) {
        if (!known && to_string(f) == key) {
            read_value(v, where, slot);
            known = true;
        }
    });
    return known;
}

}  // namespace migrate::openflow::detail
