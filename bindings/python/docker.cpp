// DockerEngine and the runtime vocabulary (ContainerSpec, ContainerInfo, MountSpec,
// ImageInfo, VolumeInfo). Artifact bodies go to and come from files through the SDK's
// file_sink/file_source: Python never holds them.
#include "common.hpp"

#include <migrate/docker/engine.hpp>
#include <migrate/stream.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

#include <filesystem>
#include <functional>

namespace migrate::python {
namespace {

namespace fs = std::filesystem;

// Streams `produce` into a file; returns the bytes written. The file is created or
// truncated; on failure it is removed again (a partial tar must not look like a good one).
result<std::uint64_t> to_file(const fs::path& path, const std::function<result<void>(byte_sink&)>& produce) {
    auto sink = file_sink(path);
    // An empty write reports an open failure before anything asks a daemon (and before we
    // could remove a file we did not create).
    if (auto w = sink->write({}); !w) return w.error();
    counting_sink counted{*sink};
    auto r = produce(counted);
    auto c = sink->close();
    if (!r || !c) {
        std::error_code ec;
        fs::remove(path, ec);
        return !r ? r.error() : c.error();
    }
    return counted.bytes();
}

template <class F>
auto from_file(const fs::path& path, F&& consume) -> decltype(consume(std::declval<byte_source&>())) {
    auto src = file_source(path);
    if (!src) return src.error();
    return consume(**src);
}

// A str or a sequence of str (a bare str is one item, not its characters).
std::vector<std::string> str_list(const py::handle& o) {
    if (py::isinstance<py::str>(o)) return {o.cast<std::string>()};
    return o.cast<std::vector<std::string>>();
}

std::string type_name(mount_spec::kind k) {
    mount_spec m;
    m.type = k;
    return json(m).at("type").get<std::string>();
}

template <class T>
std::string repr_of(const char* cls, const T& v) {
    return fmt::format("{}({})", cls, json(v).dump());
}

container_spec spec_from(const py::handle& o) {
    if (py::isinstance<container_spec>(o)) return o.cast<container_spec>();
    return json_to<container_spec>(dict_to_json(o, "container_spec"));
}

}  // namespace

void bind_docker(py::module_& m) {
    // --- vocabulary -------------------------------------------------------------------------
    py::class_<mount_spec>(m, "MountSpec", "A mount of a container: a named volume, a host path (bind) or a tmpfs.")
        .def(py::init([](std::string source, std::string target, const std::string& type, bool read_only) {
            mount_spec ms = json_to<mount_spec>(json{{"type", type}});
            ms.source = std::move(source);
            ms.target = std::move(target);
            ms.read_only = read_only;
            return ms;
        }), py::arg("source") = "", py::arg("target") = "", py::arg("type") = "volume", py::arg("read_only") = false)
        .def_static("from_dict", [](const py::dict& d) { return json_to<mount_spec>(dict_to_json(d, "mount")); },
                    py::arg("d"))
        .def("to_dict", [](const mount_spec& s) { return to_python(json(s)); })
        .def_property("type", [](const mount_spec& s) { return type_name(s.type); },
                      [](mount_spec& s, const std::string& t) { s.type = json_to<mount_spec>(json{{"type", t}}).type; },
                      "'volume', 'bind' or 'tmpfs'")
        .def_readwrite("source", &mount_spec::source, "volume name or host path (empty for tmpfs)")
        .def_readwrite("target", &mount_spec::target, "path inside the container")
        .def_readwrite("read_only", &mount_spec::read_only)
        .def("__eq__", [](const mount_spec& a, const mount_spec& b) { return json(a) == json(b); })
        .def("__repr__", [](const mount_spec& s) { return repr_of("MountSpec", s); });

    py::class_<container_spec>(m, "ContainerSpec",
                               "Everything needed to create the same container on another engine. List and dict "
                               "attributes are copies: assign them, do not mutate them in place.")
        .def(py::init([](py::object name, py::object image, py::object cmd, py::object entrypoint, py::object env,
                         py::object working_dir, py::object user, py::object labels, py::object exposed_ports,
                         py::object network_mode, py::object mounts, py::object extra_host_config) {
            json j = kwargs_json(json(container_spec{}), "ContainerSpec",
                                 {{"name", name}, {"image", image}, {"cmd", cmd}, {"entrypoint", entrypoint},
                                  {"env", env}, {"working_dir", working_dir}, {"user", user}, {"labels", labels},
                                  {"exposed_ports", exposed_ports}, {"network_mode", network_mode},
                                  {"mounts", mounts}, {"extra_host_config", extra_host_config}});
            return json_to<container_spec>(j);
        }), py::arg("name") = py::none(), py::arg("image") = py::none(), py::arg("cmd") = py::none(),
            py::arg("entrypoint") = py::none(), py::arg("env") = py::none(), py::arg("working_dir") = py::none(),
            py::arg("user") = py::none(), py::arg("labels") = py::none(), py::arg("exposed_ports") = py::none(),
            py::arg("network_mode") = py::none(), py::arg("mounts") = py::none(),
            py::arg("extra_host_config") = py::none())
        .def_static("from_dict", [](const py::dict& d) { return spec_from(d); }, py::arg("d"),
                    "From the JSON form (what to_dict() gives); a wrong type names the field.")
        .def("to_dict", [](const container_spec& s) { return to_python(json(s)); })
        .def_readwrite("name", &container_spec::name, "container name (no leading '/')")
        .def_readwrite("image", &container_spec::image, "image reference")
        .def_readwrite("cmd", &container_spec::cmd)
        .def_readwrite("entrypoint", &container_spec::entrypoint)
        .def_readwrite("env", &container_spec::env, "'KEY=value' strings")
        .def_readwrite("working_dir", &container_spec::working_dir)
        .def_readwrite("user", &container_spec::user)
        .def_readwrite("labels", &container_spec::labels)
        .def_readwrite("exposed_ports", &container_spec::exposed_ports, "'11211/tcp' strings")
        .def_readwrite("network_mode", &container_spec::network_mode, "'none', 'host', 'container:x' or a network")
        .def_property("mounts", [](const container_spec& s) { return s.mounts; },
                      [](container_spec& s, const py::object& v) {
                          s.mounts = json_to<std::vector<mount_spec>>(from_python(v, "container_spec.mounts"));
                      }, "list of MountSpec (a copy: assign to change); dicts are accepted when assigning")
        .def_property("extra_host_config", [](const container_spec& s) { return to_python(s.extra_host_config); },
                      [](container_spec& s, const py::object& v) {
                          s.extra_host_config = dict_to_json(v, "container_spec.extra_host_config");
                      }, "further Docker HostConfig fields, passed verbatim (a dict copy: assign to change)")
        .def("__eq__", [](const container_spec& a, const container_spec& b) { return json(a) == json(b); })
        .def("__repr__", [](const container_spec& s) { return repr_of("ContainerSpec", s); });

    py::class_<container_info>(m, "ContainerInfo", "A container as its engine reports it.")
        .def_readonly("id", &container_info::id)
        .def_readonly("name", &container_info::name)
        .def_readonly("image_id", &container_info::image_id)
        .def_readonly("status", &container_info::status, "'created', 'running', 'paused', 'exited', ...")
        .def_readonly("running", &container_info::running)
        .def_readonly("paused", &container_info::paused)
        .def_readonly("pid", &container_info::pid, "host pid of the init process when running")
        .def_readonly("exit_code", &container_info::exit_code)
        .def_property_readonly("spec", [](const container_info& c) { return c.spec; },
                               "the captured config (a ContainerSpec copy), ready for create() elsewhere")
        .def("to_dict", [](const container_info& c) { return to_python(json(c)); })
        .def("__repr__", [](const container_info& c) {
            return fmt::format("<ContainerInfo {} {} {}>", c.name, c.id.substr(0, 12), c.status);
        });

    py::class_<image_info>(m, "ImageInfo", "An image as its engine reports it.")
        .def_readonly("id", &image_info::id, "'sha256:...'")
        .def_readonly("tags", &image_info::tags)
        .def_readonly("size", &image_info::size)
        .def_readonly("layers", &image_info::layers, "RootFS diff ids, base first (inspect_image only)")
        .def("to_dict", [](const image_info& i) { return to_python(json(i)); })
        .def("__repr__", [](const image_info& i) {
            return fmt::format("<ImageInfo {} {}>", i.id.substr(0, 19), json(i.tags).dump());
        });

    py::class_<volume_info>(m, "VolumeInfo", "A named volume as its engine reports it.")
        .def_readonly("name", &volume_info::name)
        .def_readonly("driver", &volume_info::driver)
        .def_property_readonly("mountpoint", [](const volume_info& v) { return v.mountpoint.string(); })
        .def_readonly("labels", &volume_info::labels)
        .def("to_dict", [](const volume_info& v) { return to_python(json(v)); })
        .def("__repr__", [](const volume_info& v) { return fmt::format("<VolumeInfo {} {}>", v.name, v.driver); });

    // --- the engine ---------------------------------------------------------------------------
    py::class_<py_engine>(m, "DockerEngine",
                          "A Docker Engine (API v1.41) reached over its unix socket. Keyword arguments are the "
                          "fields of the engine_options JSON document. Every call blocks without the GIL; Python "
                          "threads may share one engine (calls are serialised).")
        .def(py::init([](py::object socket, py::object api_version, py::object connect_timeout_ms,
                         py::object request_timeout_ms, py::object stall_timeout_ms, py::object chunk_size,
                         py::object helper_image) {
            json j = kwargs_json(json(docker::engine_options{}), "DockerEngine",
                                 {{"socket", socket}, {"api_version", api_version},
                                  {"connect_timeout_ms", connect_timeout_ms}, {"request_timeout_ms", request_timeout_ms},
                                  {"stall_timeout_ms", stall_timeout_ms}, {"chunk_size", chunk_size},
                                  {"helper_image", helper_image}});
            auto opts = unwrap(parse_options<docker::engine_options>(j));
            auto pe = std::make_unique<py_engine>();
            pe->engine = unwrap(docker::engine::make(std::move(opts)));
            return pe;
        }), py::arg("socket") = py::none(), py::arg("api_version") = py::none(),
            py::arg("connect_timeout_ms") = py::none(), py::arg("request_timeout_ms") = py::none(),
            py::arg("stall_timeout_ms") = py::none(), py::arg("chunk_size") = py::none(),
            py::arg("helper_image") = py::none(),
            "Does not connect: the first call does (ping() checks the daemon). Invalid options raise "
            "MigrationError(invalid_argument) naming the field.")
        .def_static("from_dict", [](const py::dict& d) {
            auto opts = unwrap(parse_options<docker::engine_options>(dict_to_json(d, "engine_options")));
            auto pe = std::make_unique<py_engine>();
            pe->engine = unwrap(docker::engine::make(std::move(opts)));
            return pe;
        }, py::arg("options"), "From an engine_options document.")
        .def_property_readonly("options", [](py_engine& e) { return to_python(json(e.engine->options())); })
        .def_property_readonly("endpoint", [](py_engine& e) { return e.engine->endpoint(); },
                               "'unix:///path/to/docker.sock'")
        .def_property_readonly("socket", [](py_engine& e) { return e.engine->options().socket.string(); })
        .def("ping", [](py_engine& e) { engine_call(e, [](docker::engine& x) { return x.ping(); }); },
             "Ok when the daemon answers; MigrationError(daemon_unreachable) naming the socket otherwise.")
        .def("version", [](py_engine& e) {
            auto v = engine_call(e, [](docker::engine& x) { return x.version(); });
            py::dict d;
            d["version"] = v.version;
            d["api_version"] = v.api_version;
            d["experimental"] = v.experimental;
            d["root_dir"] = v.root_dir.string();
            return d;
        }, "{'version', 'api_version', 'experimental', 'root_dir'}")

        // containers
        .def("inspect", [](py_engine& e, const std::string& id) {
            return engine_call(e, [&](docker::engine& x) { return x.inspect(id); });
        }, py::arg("name_or_id"))
        .def("create", [](py_engine& e, const py::object& spec) {
            auto s = spec_from(spec);
            return engine_call(e, [&](docker::engine& x) { return x.create(s); });
        }, py::arg("spec"), "Creates (does not start) a container from a ContainerSpec or its dict; returns the id.")
        .def("start", [](py_engine& e, const std::string& id) {
            engine_call(e, [&](docker::engine& x) { return x.start(id); });
        }, py::arg("id"), "Already running is fine.")
        .def("stop", [](py_engine& e, const std::string& id, int grace) {
            engine_call(e, [&](docker::engine& x) { return x.stop(id, std::chrono::seconds{grace}); });
        }, py::arg("id"), py::arg("grace") = 10, "SIGTERM, then SIGKILL after `grace` seconds. Already stopped is fine.")
        .def("pause", [](py_engine& e, const std::string& id) {
            engine_call(e, [&](docker::engine& x) { return x.pause(id); });
        }, py::arg("id"))
        .def("unpause", [](py_engine& e, const std::string& id) {
            engine_call(e, [&](docker::engine& x) { return x.unpause(id); });
        }, py::arg("id"))
        .def("remove", [](py_engine& e, const std::string& id, bool force) {
            engine_call(e, [&](docker::engine& x) { return x.remove(id, force); });
        }, py::arg("id"), py::arg("force") = false, "Named volumes are kept.")
        .def("list_containers", [](py_engine& e, bool all, const std::string& label) {
            return engine_call(e, [&](docker::engine& x) { return x.list_containers(all, label); });
        }, py::arg("all") = true, py::arg("label") = "",
           "Summary ContainerInfos (id, name, image_id, status, running, paused, spec.image, spec.labels), "
           "optionally only those with `label` ('key' or 'key=value').")
        .def("commit", [](py_engine& e, const std::string& id, const std::string& reference, bool pause) {
            return engine_call(e, [&](docker::engine& x) { return x.commit(id, reference, pause); });
        }, py::arg("id"), py::arg("reference"), py::arg("pause") = true, "docker commit; returns the image id.")

        // filesystem and images, through files
        .def("export_container", [](py_engine& e, const std::string& id, const fs::path& path) {
            return engine_call(e, [&](docker::engine& x) {
                return to_file(path, [&](byte_sink& out) { return x.export_container(id, out); });
            });
        }, py::arg("id"), py::arg("path"),
           "Streams the container's flattened filesystem (docker export) into a tar file; returns its size in "
           "bytes. A failed export leaves no file.")
        .def("import_image", [](py_engine& e, const fs::path& path, const std::string& reference,
                                const py::object& changes) {
            auto ch = changes.is_none() ? std::vector<std::string>{} : str_list(changes);
            return engine_call(e, [&](docker::engine& x) {
                return from_file(path, [&](byte_source& in) { return x.import_image(in, reference, ch); });
            });
        }, py::arg("path"), py::arg("reference"), py::arg("changes") = py::none(),
           "docker import of a rootfs tar file; `changes` are Dockerfile instructions. Returns the image id.")
        .def("save_images", [](py_engine& e, const py::object& references, const fs::path& path) {
            auto refs = str_list(references);
            return engine_call(e, [&](docker::engine& x) {
                return to_file(path, [&](byte_sink& out) { return x.save_images(refs, out); });
            });
        }, py::arg("references"), py::arg("path"),
           "docker save of one reference or a list into a tar file; returns its size in bytes.")
        .def("load_images", [](py_engine& e, const fs::path& path) {
            return engine_call(e, [&](docker::engine& x) {
                return from_file(path, [&](byte_source& in) { return x.load_images(in); });
            });
        }, py::arg("path"), "docker load of a tar file; returns the loaded references as the daemon names them.")
        .def("list_images", [](py_engine& e) {
            return engine_call(e, [](docker::engine& x) { return x.list_images(); });
        })
        .def("inspect_image", [](py_engine& e, const std::string& ref) {
            return engine_call(e, [&](docker::engine& x) { return x.inspect_image(ref); });
        }, py::arg("reference"))
        .def("remove_image", [](py_engine& e, const std::string& ref, bool force) {
            engine_call(e, [&](docker::engine& x) { return x.remove_image(ref, force); });
        }, py::arg("reference"), py::arg("force") = false)

        // volumes
        .def("create_volume", [](py_engine& e, const std::string& name, const std::map<std::string, std::string>& labels) {
            return engine_call(e, [&](docker::engine& x) { return x.create_volume(name, labels); });
        }, py::arg("name"), py::arg("labels") = std::map<std::string, std::string>{})
        .def("inspect_volume", [](py_engine& e, const std::string& name) {
            return engine_call(e, [&](docker::engine& x) { return x.inspect_volume(name); });
        }, py::arg("name"))
        .def("remove_volume", [](py_engine& e, const std::string& name, bool force) {
            engine_call(e, [&](docker::engine& x) { return x.remove_volume(name, force); });
        }, py::arg("name"), py::arg("force") = false)
        .def("export_volume", [](py_engine& e, const std::string& name, const fs::path& path) {
            return engine_call(e, [&](docker::engine& x) {
                return to_file(path, [&](byte_sink& out) { return x.export_volume(name, out); });
            });
        }, py::arg("name"), py::arg("path"), "The volume's contents as a tar file; returns its size in bytes.")
        .def("import_volume", [](py_engine& e, const std::string& name, const fs::path& path) {
            engine_call(e, [&](docker::engine& x) {
                return from_file(path, [&](byte_source& in) { return x.import_volume(name, in); });
            });
        }, py::arg("name"), py::arg("path"), "Unpacks a tar made by export_volume into the existing volume.")

        // checkpoints
        .def("create_checkpoint", [](py_engine& e, const std::string& id, const std::string& name, bool exit) {
            engine_call(e, [&](docker::engine& x) { return x.create_checkpoint(id, {name, exit}); });
        }, py::arg("id"), py::arg("name"), py::arg("exit") = true,
           "CRIU checkpoint; `exit` stops the container after the dump. Needs an --experimental daemon.")
        .def("list_checkpoints", [](py_engine& e, const std::string& id) {
            return engine_call(e, [&](docker::engine& x) { return x.list_checkpoints(id); });
        }, py::arg("id"))
        .def("delete_checkpoint", [](py_engine& e, const std::string& id, const std::string& name) {
            engine_call(e, [&](docker::engine& x) { return x.delete_checkpoint(id, name); });
        }, py::arg("id"), py::arg("name"))
        .def("export_checkpoint", [](py_engine& e, const std::string& id, const std::string& name, const fs::path& path) {
            return engine_call(e, [&](docker::engine& x) {
                return to_file(path, [&](byte_sink& out) { return x.export_checkpoint(id, name, out); });
            });
        }, py::arg("id"), py::arg("name"), py::arg("path"),
           "A checkpoint's image files as a tar file (same machine as the daemon, as root); returns the size.")
        .def("import_checkpoint", [](py_engine& e, const std::string& id, const std::string& name, const fs::path& path) {
            engine_call(e, [&](docker::engine& x) {
                return from_file(path, [&](byte_source& in) { return x.import_checkpoint(id, name, in); });
            });
        }, py::arg("id"), py::arg("name"), py::arg("path"))
        .def("start_from_checkpoint", [](py_engine& e, const std::string& id, const std::string& name) {
            engine_call(e, [&](docker::engine& x) { return x.start_from_checkpoint(id, name); });
        }, py::arg("id"), py::arg("name"), "Starts a created container from a checkpoint (CRIU restore).")
        .def("__repr__", [](py_engine& e) { return "<DockerEngine " + e.engine->endpoint() + ">"; });
}

}  // namespace migrate::python
