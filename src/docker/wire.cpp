// Docker Engine API v1.41 JSON <-> SDK vocabulary. Field names follow
// /work/shared/reference/docker/engine-api-v1.41.yaml (ContainerConfig, HostConfig,
// MountPoint, ImageInspect, Volume).
#include <migrate/docker/wire.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::docker::wire {
namespace {

// Docker's "strslice": null, a string, or an array of strings.
std::vector<std::string> str_slice(const json& j) {
    std::vector<std::string> out;
    if (j.is_string()) out.push_back(j.get<std::string>());
    else if (j.is_array())
        for (auto& e : j) if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
}

std::string str(const json& obj, const char* key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// Non-default: not null, not false, not 0, not empty.
bool meaningful(const json& v) {
    if (v.is_null()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v != 0;
    if (v.is_string()) return !v.get_ref<const std::string&>().empty();
    if (v.is_array() || v.is_object()) return !v.empty();
    return true;
}

std::string daemon_message(std::string_view body) {
    auto j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    std::string s(body.substr(0, 500));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s.empty() ? std::string("(empty answer)") : s;
}

}  // namespace

json create_body(const container_spec& spec) {
    json body = json::object();
    body["Image"] = spec.image;
    if (!spec.cmd.empty()) body["Cmd"] = spec.cmd;
    if (!spec.entrypoint.empty()) body["Entrypoint"] = spec.entrypoint;
    body["Env"] = spec.env;
    body["WorkingDir"] = spec.working_dir;
    body["User"] = spec.user;
    body["Labels"] = json::object();
    for (auto& [k, v] : spec.labels) body["Labels"][k] = v;
    json ports = json::object();
    for (auto& p : spec.exposed_ports) ports[p] = json::object();
    body["ExposedPorts"] = ports;
    // No attached or tty stdio: the container's stdio are pipes, which CRIU can dump.
    body["AttachStdin"] = false;
    body["AttachStdout"] = false;
    body["AttachStderr"] = false;
    body["OpenStdin"] = false;
    body["Tty"] = false;

    json host = json::object();
    host["NetworkMode"] = spec.network_mode.empty() ? std::string("none") : spec.network_mode;
    json mounts = json::array();
    for (auto& m : spec.mounts) {
        json jm = {{"Target", m.target}, {"ReadOnly", m.read_only}};
        switch (m.type) {
            case mount_spec::kind::volume: jm["Type"] = "volume"; jm["Source"] = m.source; break;
            case mount_spec::kind::bind: jm["Type"] = "bind"; jm["Source"] = m.source; break;
            case mount_spec::kind::tmpfs: jm["Type"] = "tmpfs"; break;
        }
        mounts.push_back(std::move(jm));
    }
    host["Mounts"] = mounts;
    if (spec.extra_host_config.is_object())
        for (auto& [k, v] : spec.extra_host_config.items()) host[k] = v;
    body["HostConfig"] = std::move(host);
    return body;
}

result<container_info> container_from_inspect(const json& doc) {
    if (!doc.is_object() || !doc.contains("Id") || !doc["Id"].is_string() || !doc.contains("Config") ||
        !doc["Config"].is_object() || !doc.contains("State") || !doc["State"].is_object())
        return make_failure(error::protocol_error, "container inspect answer lacks Id, Config or State");
    container_info c;
    c.id = doc["Id"].get<std::string>();
    c.name = str(doc, "Name");
    if (!c.name.empty() && c.name.front() == '/') c.name.erase(0, 1);
    c.image_id = str(doc, "Image");
    const json& st = doc["State"];
    c.status = str(st, "Status");
    c.running = st.value("Running", false);
    c.paused = st.value("Paused", false);
    c.pid = st.value("Pid", 0);
    c.exit_code = st.value("ExitCode", 0);

    const json& cfg = doc["Config"];
    container_spec& s = c.spec;
    s.name = c.name;
    s.image = str(cfg, "Image");
    if (s.image.empty()) s.image = c.image_id;
    if (cfg.contains("Cmd")) s.cmd = str_slice(cfg["Cmd"]);
    if (cfg.contains("Entrypoint")) s.entrypoint = str_slice(cfg["Entrypoint"]);
    if (cfg.contains("Env")) s.env = str_slice(cfg["Env"]);
    s.working_dir = str(cfg, "WorkingDir");
    s.user = str(cfg, "User");
    if (auto it = cfg.find("Labels"); it != cfg.end() && it->is_object())
        for (auto& [k, v] : it->items()) if (v.is_string()) s.labels[k] = v.get<std::string>();
    if (auto it = cfg.find("ExposedPorts"); it != cfg.end() && it->is_object())
        for (auto& [k, v] : it->items()) s.exposed_ports.push_back(k);

    json host = doc.value("HostConfig", json::object());
    if (!host.is_object()) host = json::object();
    s.network_mode = str(host, "NetworkMode");
    if (s.network_mode.empty() || s.network_mode == "default") s.network_mode = "none";

    if (auto it = doc.find("Mounts"); it != doc.end() && it->is_array()) {
        for (auto& m : *it) {
            std::string type = str(m, "Type");
            mount_spec ms;
            ms.target = str(m, "Destination");
            ms.read_only = !m.value("RW", true);
            if (type == "volume") { ms.type = mount_spec::kind::volume; ms.source = str(m, "Name"); }
            else if (type == "bind") { ms.type = mount_spec::kind::bind; ms.source = str(m, "Source"); }
            else if (type == "tmpfs") { ms.type = mount_spec::kind::tmpfs; }
            else continue;  // npipe, cluster: not portable
            if (!ms.target.empty()) s.mounts.push_back(std::move(ms));
        }
        // The daemon lists mounts in map order, which differs between daemons: sort by target
        // so equal containers give equal specs.
        std::sort(s.mounts.begin(), s.mounts.end(),
                  [](const mount_spec& x, const mount_spec& y) { return x.target < y.target; });
    }
    // Settings that mean the same on any daemon; host-specific ones (cgroup parent, devices,
    // log paths, ipc/pid modes naming other containers) are deliberately left behind.
    static const char* const portable[] = {
        "RestartPolicy", "CapAdd", "CapDrop", "Privileged", "PortBindings", "Memory", "MemorySwap",
        "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod", "CpusetCpus", "PidsLimit",
        "SecurityOpt", "ShmSize", "Tmpfs", "Init", "ReadonlyRootfs", "Sysctls", "Ulimits", "Dns",
        "DnsSearch", "DnsOptions", "ExtraHosts", "GroupAdd", "OomKillDisable", "OomScoreAdj"};
    for (const char* key : portable) {
        auto it = host.find(key);
        if (it == host.end() || !meaningful(*it)) continue;
        if (std::string_view(key) == "ShmSize" && *it == 67108864) continue;  // the daemon's default
        if (std::string_view(key) == "RestartPolicy" && (str(*it, "Name").empty() || str(*it, "Name") == "no"))
            continue;
        s.extra_host_config[key] = *it;
    }
    return c;
}

result<image_info> image_from_inspect(const json& doc) {
    if (!doc.is_object() || !doc.contains("Id") || !doc["Id"].is_string())
        return make_failure(error::protocol_error, "image inspect answer lacks Id");
    image_info i;
    i.id = doc["Id"].get<std::string>();
    if (doc.contains("RepoTags")) i.tags = str_slice(doc["RepoTags"]);
    if (auto it = doc.find("Size"); it != doc.end() && it->is_number()) i.size = it->get<std::uint64_t>();
    if (auto it = doc.find("RootFS"); it != doc.end() && it->is_object() && it->contains("Layers"))
        i.layers = str_slice((*it)["Layers"]);
    return i;
}

result<volume_info> volume_from_json(const json& doc) {
    if (!doc.is_object() || !doc.contains("Name") || !doc["Name"].is_string())
        return make_failure(error::protocol_error, "volume answer lacks Name");
    volume_info v;
    v.name = doc["Name"].get<std::string>();
    v.driver = str(doc, "Driver");
    v.mountpoint = str(doc, "Mountpoint");
    if (auto it = doc.find("Labels"); it != doc.end() && it->is_object())
        for (auto& [k, val] : it->items()) if (val.is_string()) v.labels[k] = val.get<std::string>();
    return v;
}

failure status_failure(long status, std::string_view body, std::string_view what, std::string_view endpoint) {
    std::string msg = daemon_message(body);
    if (status == 404) return make_failure(error::not_found, fmt::format("{} not found on {}: {}", what, endpoint, msg));
    error e = error::protocol_error;
    if (status == 409) e = error::conflict;
    else if (status == 400) e = error::invalid_argument;
    else if (status == 401 || status == 403) e = error::permission_denied;
    else if (status >= 500) e = error::daemon_error;
    return make_failure(e, fmt::format("{} on {}: HTTP {}: {}", what, endpoint, status, msg));
}

std::pair<std::string, std::string> split_reference(std::string_view reference) {
    auto at = reference.find('@');
    if (at != std::string_view::npos) return {std::string(reference.substr(0, at)), {}};
    auto colon = reference.rfind(':');
    auto slash = reference.rfind('/');
    if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash))
        return {std::string(reference), {}};
    return {std::string(reference.substr(0, colon)), std::string(reference.substr(colon + 1))};
}

result<void> json_lines::feed(std::string_view chunk) {
    while (!chunk.empty()) {
        auto nl = chunk.find('\n');
        if (nl == std::string_view::npos) {
            if (partial_.size() + chunk.size() > (1u << 20))
                return make_failure(error::protocol_error, "daemon answer line longer than 1 MiB");
            partial_.append(chunk);
            return {};
        }
        if (partial_.empty()) {
            MIGRATE_TRY(line(chunk.substr(0, nl)));
        } else {
            partial_.append(chunk.substr(0, nl));
            std::string l = std::move(partial_);
            partial_.clear();
            MIGRATE_TRY(line(l));
        }
        chunk.remove_prefix(nl + 1);
    }
    return {};
}

result<void> json_lines::finish() {
    std::string l = std::move(partial_);
    partial_.clear();
    return line(l);
}

result<void> json_lines::line(std::string_view l) {
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
    if (l.empty()) return {};
    auto j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return make_failure(error::protocol_error, "daemon answered a line that is not a JSON object: " +
                                                       std::string(l.substr(0, 200)));
    if (!error_) {
        if (auto it = j.find("errorDetail"); it != j.end() && it->is_object() && it->contains("message"))
            error_ = (*it)["message"].is_string() ? (*it)["message"].get<std::string>() : it->dump();
        else if (auto e = j.find("error"); e != j.end() && e->is_string())
            error_ = e->get<std::string>();
    }
    if (auto it = j.find("status"); it != j.end() && it->is_string()) last_status_ = it->get<std::string>();
    if (auto it = j.find("stream"); it != j.end() && it->is_string() && streams_.size() < 10000)
        streams_.push_back(it->get<std::string>());
    return {};
}

std::vector<std::string> loaded_images(const std::vector<std::string>& streams) {
    std::vector<std::string> out;
    for (auto s : streams) {
        for (std::string_view prefix : {"Loaded image ID: ", "Loaded image: "}) {
            if (s.rfind(prefix, 0) == 0) {
                std::string v = s.substr(prefix.size());
                while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
                if (!v.empty()) out.push_back(v);
                break;
            }
        }
    }
    return out;
}

}  // namespace migrate::docker::wire
