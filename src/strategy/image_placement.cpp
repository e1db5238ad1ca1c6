#include "image_placement.hpp"

#include <migrate/image_layers.hpp>

#include <fmt/format.h>

namespace migrate::detail {

result<void> place_image(prepared& p, const transfer_fn& transfer, std::stop_token stop) {
    auto& src = *p.request.source.runtime;
    auto& dst = *p.request.target.runtime;
    const std::string id = p.source.image_id;
    const std::string ref = p.source.spec.image;
    json d = {{"id", id}, {"reference", ref}};

    // The reference (a tag) names what the container runs only while it still points at
    // its image id; else everything goes by id.
    auto names_same = [&](container_runtime& rt) {
        auto i = rt.inspect_image(ref);
        return i && i->id == id;
    };

    // Memory: the target holds the exact image.
    auto have = dst.inspect_image(id);
    if (have) {
        if (!names_same(dst)) p.target_spec.image = id;
        d["case"] = to_string(image_case::memory);
        d["transfer"] = "none: the target holds the image";
        p.report.details["image_case"] = d["case"];
        p.report.details["image"] = d;
        return {};
    }
    if (have.error_code() != error::not_found) return have.error();

    auto info = src.inspect_image(id);
    if (!info) return info.error();
    auto check = check_layers(dst, info->layers);
    if (!check) return check.error();
    d["layers"] = *check;
    d["case"] = to_string(check->which);
    p.report.details["image_case"] = d["case"];

    std::string what = ref;
    if (!names_same(src)) {
        what = id;
        p.target_spec.image = id;
    }
    if (stop.stop_requested()) return make_failure(error::cancelled, "cancelled before moving the image");
    // Recorded first: a load that fails half way may still leave the image behind.
    p.target_images.push_back(id);
    auto skip = check->skip();
    if (!skip.empty()) {
        auto moved = transfer(fmt::format("image {} without the {} of its {} layers the target holds", what,
                                          skip.size(), info->layers.size()),
                              artifacts::images({what}, skip), artifacts::images({what}, skip));
        if (moved) {
            d["transfer"] = fmt::format("{} bytes, {} layer(s) left out", moved->bytes, skip.size());
            d["skipped_layers"] = skip;
            p.report.details["image"] = d;
            return {};
        }
        // Not done here (no layer filter) or the target lacked a layer after all: move it
        // whole rather than fail the migration for an optimisation.
        if (moved.error_code() != error::unsupported && moved.error_code() != error::not_found) return moved.error();
        d["skip_failed"] = moved.error().what();
    }
    auto moved = transfer(fmt::format("image {}", what), artifacts::images({what}), artifacts::images({what}));
    if (!moved) return moved.error();
    d["transfer"] = fmt::format("{} bytes, whole image{}", moved->bytes,
                                skip.empty() ? "" : " (leaving out the layers the target holds failed)");
    p.report.details["image"] = d;
    return {};
}

}  // namespace migrate::detail
