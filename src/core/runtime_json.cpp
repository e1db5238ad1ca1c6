// JSON forms of the runtime vocabulary (reports, the CLI, Python all use them).
#include <migrate/runtime.hpp>

namespace migrate {

namespace {
std::string_view kind_name(mount_spec::kind k) {
    switch (k) {
        case mount_spec::kind::volume: return "volume";
        case mount_spec::kind::bind: return "bind";
        case mount_spec::kind::tmpfs: return "tmpfs";
    }
    return "volume";
}
}  // namespace

std::string_view to_string(checkpoint_dumper d) noexcept { return d == checkpoint_dumper::runc ? "runc" : "daemon"; }

void to_json(json& j, const mount_spec& m) {
    j = json{{"type", kind_name(m.type)}, {"source", m.source}, {"target", m.target}, {"read_only", m.read_only}};
}

void from_json(const json& j, mount_spec& m) {
    std::string type = "volume";
    detail::read_field(j, "mount", "type", type);
    if (type == "volume") m.type = mount_spec::kind::volume;
    else if (type == "bind") m.type = mount_spec::kind::bind;
    else if (type == "tmpfs") m.type = mount_spec::kind::tmpfs;
    else throw migration_error(make_failure(error::invalid_argument,
             "mount.type: expected volume, bind or tmpfs, got '" + type + "'"));
    detail::read_field(j, "mount", "source", m.source);
    detail::read_field(j, "mount", "target", m.target);
    detail::read_field(j, "mount", "read_only", m.read_only);
}

void to_json(json& j, const container_spec& s) {
    j = json{{"name", s.name}, {"image", s.image}, {"cmd", s.cmd}, {"entrypoint", s.entrypoint},
             {"env", s.env}, {"working_dir", s.working_dir}, {"user", s.user}, {"labels", s.labels},
             {"exposed_ports", s.exposed_ports}, {"network_mode", s.network_mode}, {"mounts", s.mounts},
             {"extra_host_config", s.extra_host_config}};
}

void from_json(const json& j, container_spec& s) {
    constexpr const char* w = "container_spec";
    detail::read_field(j, w, "name", s.name);
    detail::read_field(j, w, "image", s.image);
    detail::read_field(j, w, "cmd", s.cmd);
    detail::read_field(j, w, "entrypoint", s.entrypoint);
    detail::read_field(j, w, "env", s.env);
    detail::read_field(j, w, "working_dir", s.working_dir);
    detail::read_field(j, w, "user", s.user);
    detail::read_field(j, w, "labels", s.labels);
    detail::read_field(j, w, "exposed_ports", s.exposed_ports);
    detail::read_field(j, w, "network_mode", s.network_mode);
    detail::read_field(j, w, "mounts", s.mounts);
    detail::read_field(j, w, "extra_host_config", s.extra_host_config);
}

void to_json(json& j, const container_info& c) {
    j = json{{"id", c.id}, {"name", c.name}, {"image_id", c.image_id}, {"status", c.status},
             {"running", c.running}, {"paused", c.paused}, {"pid", c.pid}, {"exit_code", c.exit_code},
             {"spec", c.spec}};
}

void to_json(json& j, const image_info& i) {
    j = json{{"id", i.id}, {"tags", i.tags}, {"size", i.size}, {"layers", i.layers}};
}

void to_json(json& j, const volume_info& v) {
    j = json{{"name", v.name}, {"driver", v.driver}, {"mountpoint", v.mountpoint.string()}, {"labels", v.labels}};
}

}  // namespace migrate
