// open_state_store, the URI parser, and the JSON of an entry.
#include <migrate/state_store.hpp>
#include <migrate/store/etcd.hpp>
#include <migrate/store/file.hpp>
#include <migrate/store/memory.hpp>
#include <migrate/store/redis.hpp>
#include <migrate/store/uri.hpp>

#include "store_detail.hpp"

#include <fmt/format.h>

#include <charconv>

namespace migrate {

void to_json(json& j, const state_entry& e) {
    j = json{{"key", e.key}, {"version", e.version}};
    // JSON strings are UTF-8: other bytes go as base64, under a name that says so.
    if (store::detail::valid_utf8(e.value)) j["value"] = e.value;
    else j["value_base64"] = store::detail::base64_encode(e.value);
}

namespace store {

namespace {

constexpr std::string_view known_schemes = "memory:, file:, redis://, etcd://";

result<std::string> parse_address(std::string_view uri, std::string_view authority, std::uint16_t default_port) {
    auto bad = [&](std::string why) {
        return make_failure(error::invalid_argument, fmt::format("state store URI '{}': {}", uri, why));
    };
    if (authority.empty()) return bad("no server address after '//' (expected HOST[:PORT], e.g. 127.0.0.1:6379)");
    if (authority.find('@') != std::string_view::npos) return bad("user information ('...@') is not supported");
    std::string_view host = authority, port;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return bad(fmt::format("address '{}' has an unclosed '['", authority));
        host = authority.substr(0, close + 1);
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad(fmt::format("address '{}': expected ':PORT' after ']'", authority));
            port = rest.substr(1);
        }
        if (host.size() <= 2) return bad(fmt::format("address '{}' has an empty IPv6 address", authority));
    } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.find(':') != std::string_view::npos)
            return bad(fmt::format("address '{}': an IPv6 address needs [brackets]", authority));
    }
    if (host.empty()) return bad(fmt::format("address '{}' has no host", authority));
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' ||
              c == ']'))
            return bad(fmt::format("host '{}' has a character not allowed in a host name or address", host));
    unsigned value = default_port;
    if (authority.back() == ':' || !port.empty()) {
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535)
            return bad(fmt::format("port '{}' is not a number in 1..65535", port));
    }
    return fmt::format("{}:{}", host, value);
}

}  // namespace

result<state_store_uri> parse_state_store_uri(std::string_view uri) {
    auto bad = [&](std::string why) {
        return make_failure(error::invalid_argument, fmt::format("state store URI '{}': {}", uri, why));
    };
    auto colon = uri.find(':');
    if (uri.empty()) return bad(fmt::format("empty (expected one of {})", known_schemes));
    if (colon == std::string_view::npos)
        return bad(fmt::format("no scheme (expected one of {})", known_schemes));
    state_store_uri out;
    out.scheme = uri.substr(0, colon);
    auto rest = uri.substr(colon + 1);
    if (out.scheme == "memory") {
        if (!rest.empty()) return bad(fmt::format("'memory:' takes nothing after the colon, got '{}'", rest));
        return out;
    }
    if (out.scheme == "file") {
        if (rest.starts_with("//")) {   // file:///dir; a host part (file://host/dir) is not local
            rest.remove_prefix(2);
            if (!rest.starts_with("/"))
                return bad(fmt::format("file URIs name a local directory: 'file:///DIR' or 'file:/DIR', not a host "
                                       "('{}')", rest.substr(0, rest.find('/'))));
        }
        if (rest.empty()) return bad("no directory after 'file:'");
        if (rest.find('\0') != std::string_view::npos) return bad("the directory contains a NUL byte");
        out.path = rest;
        return out;
    }
    std::uint16_t default_port = out.scheme == "redis" ? 6379 : out.scheme == "etcd" ? 2379 : 0;
    if (!default_port) return bad(fmt::format("unknown scheme '{}' (expected one of {})", out.scheme, known_schemes));
    if (!rest.starts_with("//")) return bad(fmt::format("expected '{}://HOST[:PORT][/PREFIX]'", out.scheme));
    rest.remove_prefix(2);
    auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (auto q = authority.find_first_of("?#"); q != std::string_view::npos)
        return bad(fmt::format("queries and fragments ('{}') are not supported", authority.substr(q)));
    auto address = parse_address(uri, authority, default_port);
    if (!address) return address.error();
    out.address = std::move(*address);
    if (slash != std::string_view::npos) {
        auto prefix = rest.substr(slash + 1);
        if (auto v = detail::check_prefix(prefix, fmt::format("state store URI '{}'", uri)); !v) return v.error();
        out.prefix = std::string(prefix);
    }
    return out;
}

}  // namespace store

result<std::unique_ptr<state_store>> open_state_store(std::string_view uri, std::chrono::milliseconds connect_timeout) {
    auto u = store::parse_state_store_uri(uri);
    if (!u) return u.error();
    if (connect_timeout <= std::chrono::milliseconds::zero())
        return make_failure(error::invalid_argument,
                            fmt::format("open_state_store '{}': connect_timeout {} ms must be > 0", uri, connect_timeout.count()));
    if (u->scheme == "memory") return store::make_memory_store();
    if (u->scheme == "file") return store::make_file_store({.directory = u->path});
    if (u->scheme == "redis") {
        store::redis_store_options o{.address = u->address, .connect_timeout = connect_timeout};
        if (u->prefix) o.prefix = *u->prefix;
        return store::make_redis_store(std::move(o));
    }
    store::etcd_store_options o{.address = u->address, .connect_timeout = connect_timeout};
    if (u->prefix) o.prefix = *u->prefix;
    return store::make_etcd_store(std::move(o));
}

}  // namespace migrate
