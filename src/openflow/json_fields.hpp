// src/openflow/json_fields.hpp — reading the numbers and names of OpenFlow JSON documents
// (private to src/openflow): every error is `invalid_argument` naming the field.
#pragma once

#include <migrate/json.hpp>
#include <migrate/openflow/types.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace migrate::openflow::detail {

[[noreturn]] inline void bad_field(std::string_view where, const std::string& why) {
    throw migration_error(make_failure(error::invalid_argument, fmt::format("{}: {}", where, why)));
}

/// An unsigned integer of type T: a JSON number, or a string in decimal or 0x-hex ("0x0800").
template <class T>
T read_uint(const json& j, std::string_view where) {
    std::uint64_t v = 0;
    if (j.is_number_unsigned()) {
        v = j.get<std::uint64_t>();
    } else if (j.is_number_integer()) {   // a signed integer (what Python ints become)
        if (j.get<std::int64_t>() < 0) bad_field(where, "must not be negative, got " + j.dump());
        v = static_cast<std::uint64_t>(j.get<std::int64_t>());
    } else if (j.is_string()) {
        auto s = j.get<std::string>();
        int base = 10;
        std::string_view digits = s;
        if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
            base = 16;
            digits.remove_prefix(2);
        }
        auto [next, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (digits.empty() || ec != std::errc{} || next != digits.data() + digits.size())
            bad_field(where, "expected a number, got '" + s + "'");
    } else {
        bad_field(where, "expected a number, got " + j.dump());
    }
    if (v > std::numeric_limits<T>::max())
        bad_field(where, fmt::format("{} is out of range (at most {})", v, std::numeric_limits<T>::max()));
    return static_cast<T>(v);
}

/// A port: a number or a reserved name ("controller", "in_port", ...).
inline std::uint32_t read_port(const json& j, std::string_view where) {
    if (j.is_string()) {
        auto p = port::parse(j.get<std::string>());
        if (!p) bad_field(where, p.error().message);
        return *p;
    }
    return read_uint<std::uint32_t>(j, where);
}

/// A MAC or IPv4 address from its text.
template <class Address>
Address read_address(const json& j, std::string_view where) {
    if (!j.is_string()) bad_field(where, "expected an address as a string, got " + j.dump());
    auto a = Address::parse(j.get<std::string>());
    if (!a) bad_field(where, a.error().message);
    return *a;
}

/// The document must be an object.
inline void require_object(const json& j, std::string_view where) {
    if (!j.is_object()) bad_field(where, "expected an object, got " + j.dump());
}

}  // namespace migrate::openflow::detail
