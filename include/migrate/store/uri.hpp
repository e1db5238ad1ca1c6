// migrate/store/uri.hpp — the state-store URIs `open_state_store` takes, taken apart:
//   memory:                          file:/var/lib/twins (or file:///var/lib/twins)
//   redis://127.0.0.1:6379[/prefix]  etcd://127.0.0.1:2379[/prefix]  ([::1]:P for IPv6)
// For redis and etcd the path after the first '/' is the key prefix, byte for byte
// ("/migrate/" -> "migrate/", "/" -> no prefix); without a path the backend's default
// prefix applies; a missing port is the server's usual one (6379, 2379).
#pragma once

#include <migrate/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace migrate::store {

struct state_store_uri {
    std::string scheme;                 ///< "memory", "file", "redis", "etcd"
    std::string path;                   ///< file: the directory
    std::string address;                ///< redis, etcd: "host:port" (port filled in)
    std::optional<std::string> prefix;  ///< redis, etcd: from the path; nullopt = the default
};

/// `invalid_argument` naming the bad part ("state store URI 'redis://h:x': port 'x' ...").
result<state_store_uri> parse_state_store_uri(std::string_view uri);

}  // namespace migrate::store
