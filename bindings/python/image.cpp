// Images without a registry: ImageRecipe (a rootfs spec plus Dockerfile changes), the
// busybox and memcached presets, build_image and build_rootfs.
#include "common.hpp"

#include <migrate/image/rootfs_builder.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

namespace migrate::python {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> path_strings(const std::vector<fs::path>& v) {
    std::vector<std::string> out;
    for (auto& p : v) out.push_back(p.string());
    return out;
}

json recipe_json(const image::image_recipe& r) {
    json files = json::array(), dirs = json::array(), copies = json::array();
    for (auto& f : r.rootfs.files) files.push_back({{"path", f.path}, {"content", f.content}, {"mode", f.mode}});
    for (auto& d : r.rootfs.directories) dirs.push_back({{"path", d.path}, {"mode", d.mode}});
    for (auto& c : r.rootfs.copies) copies.push_back({{"host", c.host.string()}, {"path", c.path}});
    return {{"binaries", path_strings(r.rootfs.binaries)}, {"busybox", r.rootfs.busybox},
            {"busybox_path", r.rootfs.busybox_path.string()}, {"applets", r.rootfs.applets},
            {"directories", dirs}, {"files", files}, {"copies", copies}, {"changes", r.changes}};
}

image::image_recipe recipe_named(const std::string& name) {
    if (name == "busybox") return image::busybox_recipe();
    if (name == "memcached") return image::memcached_recipe();
    raise(make_failure(error::invalid_argument,
                       "recipe: '" + name + "' is not a preset (busybox, memcached); pass an ImageRecipe"));
}

image::image_recipe recipe_from(const py::handle& o) {
    if (py::isinstance<py::str>(o)) return recipe_named(o.cast<std::string>());
    return o.cast<image::image_recipe>();
}

}  // namespace

void bind_image(py::module_& m) {
    using image::image_recipe;
    py::class_<image_recipe>(m, "ImageRecipe",
                             "What goes into an image built from this machine's own binaries (no registry): host "
                             "programs with their ldd libraries, busybox with applets, directories, inline files, "
                             "host copies, plus Dockerfile `changes` (CMD, ENTRYPOINT, ENV, EXPOSE, ...). List "
                             "attributes are copies: assign them, or use the add_* methods.")
        .def(py::init([](std::vector<fs::path> binaries, std::vector<std::string> changes, bool busybox) {
            image_recipe r;
            r.rootfs.binaries = std::move(binaries);
            r.changes = std::move(changes);
            r.rootfs.busybox = busybox;
            return r;
        }), py::arg("binaries") = std::vector<fs::path>{}, py::arg("changes") = std::vector<std::string>{},
            py::arg("busybox") = true,
            "An empty recipe: busybox and the usual directories; add binaries, files and changes.")
        .def_property("binaries", [](const image_recipe& r) { return path_strings(r.rootfs.binaries); },
                      [](image_recipe& r, std::vector<fs::path> v) { r.rootfs.binaries = std::move(v); },
                      "host programs (absolute or on PATH), placed at their host path with their libraries")
        .def_property("changes", [](const image_recipe& r) { return r.changes; },
                      [](image_recipe& r, std::vector<std::string> v) { r.changes = std::move(v); },
                      "Dockerfile instructions applied by docker import")
        .def_property("busybox", [](const image_recipe& r) { return r.rootfs.busybox; },
                      [](image_recipe& r, bool b) { r.rootfs.busybox = b; })
        .def_property("applets", [](const image_recipe& r) { return r.rootfs.applets; },
                      [](image_recipe& r, std::vector<std::string> v) { r.rootfs.applets = std::move(v); },
                      "busybox applets linked in /bin")
        .def("add_file", [](image_recipe& r, std::string path, std::string content, std::uint32_t mode) {
            r.rootfs.files.push_back({std::move(path), std::move(content), mode});
        }, py::arg("path"), py::arg("content"), py::arg("mode") = 0644, "A file with inline content.")
        .def("add_directory", [](image_recipe& r, std::string path, std::uint32_t mode) {
            r.rootfs.directories.push_back({std::move(path), mode});
        }, py::arg("path"), py::arg("mode") = 0755)
        .def("add_copy", [](image_recipe& r, fs::path host, std::string path) {
            r.rootfs.copies.push_back({std::move(host), std::move(path)});
        }, py::arg("host"), py::arg("path"), "A host file, or a host directory copied recursively, placed at `path`.")
        .def("validate", [](const image_recipe& r) { unwrap(r.rootfs.validate()); },
             "Raises MigrationError(invalid_argument) naming the bad field.")
        .def("to_dict", [](const image_recipe& r) { return to_python(recipe_json(r)); },
             "A description (not read back: recipes are built in code).")
        .def("__repr__", [](const image_recipe& r) {
            return fmt::format("<ImageRecipe binaries={} changes={}>", json(path_strings(r.rootfs.binaries)).dump(),
                               json(r.changes).dump());
        });

    m.def("busybox_recipe", &image::busybox_recipe, "busybox alone (~2 MB): CMD [\"/bin/sh\"].");
    m.def("memcached_recipe", &image::memcached_recipe, py::arg("port") = 11211, py::arg("memory_mb") = 64,
          "memcached (run as root, so CRIU can dump it) + its libraries + busybox: ENTRYPOINT memcached -u root, "
          "CMD -p PORT -U PORT -m MB (UDP on the same port for the downtime probe).");

    m.def("build_image", [](py_engine& e, const py::object& recipe, const std::string& reference,
                            const py::object& changes) {
        auto r = recipe_from(recipe);
        if (!changes.is_none()) r.changes = changes.cast<std::vector<std::string>>();
        return engine_call(e, [&](docker::engine& x) {
            return image::build_image(x, r.rootfs, reference, r.changes);
        });
    }, py::arg("engine"), py::arg("recipe"), py::arg("reference"), py::arg("changes") = py::none(),
       "Builds the rootfs of `recipe` (an ImageRecipe, or 'busybox' / 'memcached' for the presets with their "
       "defaults) and streams it into engine.import_image as `reference`; returns the image id. `changes` "
       "replaces the recipe's.");

    m.def("build_rootfs", [](const py::object& recipe, const fs::path& path) {
        auto r = recipe_from(recipe);
        auto stats = nogil([&] { return image::build_rootfs_file(r.rootfs, path); });
        py::dict d;
        d["bytes"] = stats.bytes;
        d["entries"] = stats.entries;
        d["libraries"] = stats.libraries;
        return d;
    }, py::arg("recipe"), py::arg("path"),
       "Writes the recipe's rootfs tar to a file (removed again on failure); returns {'bytes', 'entries', "
       "'libraries'}. The recipe's changes are not part of a rootfs: pass them to import_image.");
}

}  // namespace migrate::python
