// Images of the thesis workloads A1 and A2 (programs in examples/workloads/) and of the
// vehicular example's twin (examples/vmd/).
#include <migrate/image/rootfs_builder.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace migrate::image {
namespace {

// busybox + the program at /usr/local/bin/<name> (+ its libraries when it is dynamic).
result<image_recipe> program_recipe(const std::filesystem::path& binary, const std::string& name, const char* field) {
    std::error_code ec;
    if (binary.empty() || !std::filesystem::is_regular_file(binary, ec))
        return make_failure(error::not_found, fmt::format("{}: '{}' is not a program file (build the {} target)", field,
                                                          binary.string(), name));
    image_recipe r = busybox_recipe();
    auto libs = shared_libraries(binary);   // empty for the static build
    if (!libs) return failure{libs.error().code, std::string(field) + ": " + libs.error().message};
    for (auto& lib : *libs) r.rootfs.copies.push_back({lib, lib.string()});
    auto path = "/usr/local/bin/" + name;
    r.rootfs.copies.push_back({binary, path});
    // Root on purpose: without CAP_SYS_RESOURCE (these hosts) CRIU cannot dump a task of
    // another user.
    r.changes = {"ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", fmt::format("ENTRYPOINT [\"{}\"]", path),
                 "CMD [\"--help\"]", "WORKDIR /"};
    return r;
}

}  // namespace

result<image_recipe> a1_poller_recipe(const std::filesystem::path& binary) {
    return program_recipe(binary, "migrate-a1-poller", "a1_poller_recipe.binary");
}

result<image_recipe> a2_counter_recipe(const std::filesystem::path& binary) {
    auto r = program_recipe(binary, "migrate-a2-counter", "a2_counter_recipe.binary");
    if (!r) return r;
    r->rootfs.directories.push_back({"/data", 0755});
    return r;
}

result<image_recipe> vmd_twin_recipe(const std::filesystem::path& binary) {
    auto r = program_recipe(binary, "migrate-vmd-twin", "vmd_twin_recipe.binary");
    if (!r) return r;
    r->rootfs.directories.push_back({"/data", 0755});
    r->changes.push_back("EXPOSE 5683/udp");
    std::replace(r->changes.begin(), r->changes.end(), std::string("CMD [\"--help\"]"),
                 std::string("CMD [\"--store\", \"file:/data/store\"]"));
    return r;
}

}  // namespace migrate::image
