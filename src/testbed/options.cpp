// Testbed vocabulary: link profiles, options (validation names the field), hosts, samples
// and the state document, all as JSON.
#include <migrate/testbed/testbed.hpp>

#include "system.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace migrate::testbed {
namespace {

// Paths travel as strings; an absent or null field keeps the default.
void read_path(const json& j, const char* where, const char* key, std::filesystem::path& out) {
    std::string s;
    migrate::detail::read_field(j, where, key, s);
    if (!s.empty()) out = s;
}

}  // namespace

std::string_view to_string(link_profile p) noexcept {
    switch (p) {
        case link_profile::normal: return "normal";
        case link_profile::congested: return "congested";
    }
    return "unknown";
}

void to_json(json& j, link_profile p) { j = std::string(to_string(p)); }

void from_json(const json& j, link_profile& p) {
    auto s = j.get<std::string>();
    if (s == "normal") p = link_profile::normal;
    else if (s == "congested") p = link_profile::congested;
    else
        throw migration_error(make_failure(error::invalid_argument,
            "profile: '" + s + "' is not a link profile (normal, congested)"));
}

result<void> testbed_options::validate() const {
    if (auto v = sys::validate_name(name); !v) return v;
    if (hosts < 1 || hosts > 8)
        return make_failure(error::invalid_argument,
                            fmt::format("testbed_options.hosts: {} is out of range (1..8)", hosts));
    if (!subnet.empty() && !sys::parse_subnet24(subnet))
        return make_failure(error::invalid_argument,
                            "testbed_options.subnet: '" + subnet + "' is not an IPv4 /24 like 10.93.17.0/24");
    if (state_root.empty() || !state_root.is_absolute())
        return make_failure(error::invalid_argument,
                            "testbed_options.state_root: '" + state_root.string() + "' must be an absolute path");
    if (data_root.empty() || !data_root.is_absolute())
        return make_failure(error::invalid_argument,
                            "testbed_options.data_root: '" + data_root.string() + "' must be an absolute path");
    // unix socket paths are limited to 108 bytes (sun_path); keep a margin for "/a/docker.sock".
    auto sock = state_root / name / "a" / "docker.sock";
    if (sock.string().size() >= 100)
        return make_failure(error::invalid_argument,
                            "testbed_options.state_root: socket path " + sock.string() + " would be >= 100 characters");
    if (dockerd_start_timeout_ms <= 0)
        return make_failure(error::invalid_argument,
                            fmt::format("testbed_options.dockerd_start_timeout_ms: {} must be > 0", dockerd_start_timeout_ms));
    if (!agent_binary.empty()) {
        std::error_code ec;
        if (!agent_binary.is_absolute() || !std::filesystem::is_regular_file(agent_binary, ec))
            return make_failure(error::invalid_argument, "testbed_options.agent_binary: '" + agent_binary.string() +
                                                             "' is not an absolute path to a program");
    }
    if (agent_port < 1 || agent_port > 65535)
        return make_failure(error::invalid_argument,
                            fmt::format("testbed_options.agent_port: {} is out of range (1..65535)", agent_port));
    return ok();
}

void to_json(json& j, const testbed_options& o) {
    j = json{{"name", o.name},
             {"hosts", o.hosts},
             {"profile", o.profile},
             {"state_root", o.state_root.string()},
             {"data_root", o.data_root.string()},
             {"subnet", o.subnet},
             {"dockerd_start_timeout_ms", o.dockerd_start_timeout_ms},
             {"agent_binary", o.agent_binary.string()},
             {"agent_port", o.agent_port}};
}

void from_json(const json& j, testbed_options& o) {
    using migrate::detail::read_field;
    const char* w = "testbed_options";
    read_field(j, w, "name", o.name);
    read_field(j, w, "hosts", o.hosts);
    read_field(j, w, "profile", o.profile);
    read_path(j, w, "state_root", o.state_root);
    read_path(j, w, "data_root", o.data_root);
    read_field(j, w, "subnet", o.subnet);
    read_field(j, w, "dockerd_start_timeout_ms", o.dockerd_start_timeout_ms);
    read_path(j, w, "agent_binary", o.agent_binary);
    read_field(j, w, "agent_port", o.agent_port);
}

void to_json(json& j, const host& h) {
    j = json{{"name", h.name},
             {"netns", h.netns},
             {"address", h.address},
             {"socket", h.socket.string()},
             {"endpoint", h.endpoint()},
             {"data_root", h.data_root.string()},
             {"exec_root", h.exec_root.string()},
             {"work_dir", h.work_dir.string()},
             {"dockerd_pid", h.dockerd_pid},
             {"agent", h.agent},
             {"agent_pid", h.agent_pid},
             {"service_network", h.service_network},
             {"service_subnet", h.service_subnet},
             {"service_gateway", h.service_gateway}};
}

void from_json(const json& j, host& h) {
    using migrate::detail::read_field;
    const char* w = "host";
    read_field(j, w, "name", h.name);
    read_field(j, w, "netns", h.netns);
    read_field(j, w, "address", h.address);
    read_path(j, w, "socket", h.socket);
    read_path(j, w, "data_root", h.data_root);
    read_path(j, w, "exec_root", h.exec_root);
    read_path(j, w, "work_dir", h.work_dir);
    read_field(j, w, "dockerd_pid", h.dockerd_pid);
    read_field(j, w, "agent", h.agent);
    read_field(j, w, "agent_pid", h.agent_pid);
    read_field(j, w, "service_network", h.service_network);
    read_field(j, w, "service_subnet", h.service_subnet);
    read_field(j, w, "service_gateway", h.service_gateway);
}

void to_json(json& j, const throughput_sample& s) {
    j = json{{"profile", s.profile}, {"mbps", s.mbps}, {"bytes", s.bytes}, {"seconds", s.seconds}};
}

void from_json(const json& j, throughput_sample& s) {
    using migrate::detail::read_field;
    const char* w = "throughput_sample";
    read_field(j, w, "profile", s.profile);
    read_field(j, w, "mbps", s.mbps);
    read_field(j, w, "bytes", s.bytes);
    read_field(j, w, "seconds", s.seconds);
}

void to_json(json& j, const testbed& t) {
    j = json{{"version", 1},
             {"options", t.opts_},
             {"hosts", t.hosts_},
             {"bridge", t.bridge_},
             {"client_address", t.client_address_},
             {"subnet", t.subnet_},
             {"measured", t.measured_}};
}

void from_json(const json& j, testbed& t) {
    using migrate::detail::read_field;
    const char* w = "testbed";
    read_field(j, w, "options", t.opts_);
    read_field(j, w, "hosts", t.hosts_);
    read_field(j, w, "bridge", t.bridge_);
    read_field(j, w, "client_address", t.client_address_);
    read_field(j, w, "subnet", t.subnet_);
    read_field(j, w, "measured", t.measured_);
}

std::string default_subnet(std::string_view name) {
    auto s = sys::subnet_for_index(sys::name_hash(name));
    return s;
}

}  // namespace migrate::testbed
