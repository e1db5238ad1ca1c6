#include <migrate/artifact.hpp>
#include <migrate/delta.hpp>
#include <migrate/image_layers.hpp>

#include <fmt/format.h>

#include <array>

namespace migrate {

namespace {
constexpr std::array<std::string_view, 6> kind_names = {"container_fs", "images",     "volume",
                                                        "checkpoint",   "checkpoint_delta", "file"};

// A relative path that stays inside the work dir: no absolute path, no "..", not empty.
bool is_contained(std::string_view path) {
    if (path.empty() || path.front() == '/') return false;
    std::filesystem::path p{std::string(path)};
    for (auto& part : p)
        if (part == "..") return false;
    return true;
}
}  // namespace

std::string_view to_string(artifact_kind k) noexcept { return kind_names[static_cast<std::size_t>(k)]; }

void to_json(json& j, artifact_kind k) { j = std::string(to_string(k)); }
void from_json(const json& j, artifact_kind& k) {
    auto s = j.get<std::string>();
    for (std::size_t i = 0; i < kind_names.size(); ++i)
        if (kind_names[i] == s) { k = static_cast<artifact_kind>(i); return; }
    throw migration_error(make_failure(error::invalid_argument, fmt::format("artifact.kind: unknown kind '{}'", s)));
}

result<void> artifact_spec::validate() const {
    auto need = [&](bool ok, const char* field) -> result<void> {
        if (ok) return {};
        return make_failure(error::invalid_argument, fmt::format("artifact.{}: required for kind {}", field, to_string(kind)));
    };
    switch (kind) {
    case artifact_kind::container_fs: return need(!container.empty() || !reference.empty(), "container (produce) or reference (consume)");
    case artifact_kind::images: return {};
    case artifact_kind::volume: return need(!volume.empty(), "volume");
    case artifact_kind::checkpoint:
        MIGRATE_TRY(need(!container.empty(), "container"));
        return need(!checkpoint.empty(), "checkpoint");
    case artifact_kind::checkpoint_delta:
        MIGRATE_TRY(need(!container.empty(), "container"));
        MIGRATE_TRY(need(!checkpoint.empty(), "checkpoint"));
        MIGRATE_TRY(need(!base.empty(), "base"));
        if (block_size != 0 && (block_size < 512 || block_size > (1u << 20)))
            return make_failure(error::invalid_argument,
                                fmt::format("artifact.block_size: {} is outside 512 B .. 1 MiB", block_size));
        return {};
    case artifact_kind::file:
        if (!is_contained(path))
            return make_failure(error::invalid_argument,
                                fmt::format("artifact.path: '{}' must be relative and stay inside the work dir", path));
        return {};
    }
    return {};
}

std::string artifact_spec::describe() const {
    switch (kind) {
    case artifact_kind::container_fs:
        return container.empty() ? fmt::format("image '{}' from a filesystem export", reference)
                                 : fmt::format("filesystem of container '{}'", container);
    case artifact_kind::images: return fmt::format("images {}", fmt::join(images, ", "));
    case artifact_kind::volume: return fmt::format("volume '{}'", volume);
    case artifact_kind::checkpoint: return fmt::format("checkpoint '{}' of container '{}'", checkpoint, container);
    case artifact_kind::checkpoint_delta:
        return fmt::format("checkpoint '{}' of container '{}' as a delta against '{}'", checkpoint, container, base);
    case artifact_kind::file: return fmt::format("file '{}'", path);
    }
    return "?";
}

void to_json(json& j, const artifact_spec& a) {
    j = json{{"kind", a.kind}};
    if (!a.container.empty()) j["container"] = a.container;
    if (!a.images.empty()) j["images"] = a.images;
    if (!a.skip_layers.empty()) j["skip_layers"] = a.skip_layers;
    if (!a.volume.empty()) j["volume"] = a.volume;
    if (!a.checkpoint.empty()) j["checkpoint"] = a.checkpoint;
    if (!a.base.empty()) j["base"] = a.base;
    if (a.block_size != 0) j["block_size"] = a.block_size;
    if (!a.path.empty()) j["path"] = a.path;
    if (!a.reference.empty()) j["reference"] = a.reference;
    if (!a.changes.empty()) j["changes"] = a.changes;
}

void from_json(const json& j, artifact_spec& a) {
    constexpr const char* w = "artifact";
    if (!j.contains("kind")) throw migration_error(make_failure(error::invalid_argument, "artifact.kind: required"));
    detail::read_field(j, w, "kind", a.kind);
    detail::read_field(j, w, "container", a.container);
    detail::read_field(j, w, "images", a.images);
    detail::read_field(j, w, "skip_layers", a.skip_layers);
    detail::read_field(j, w, "volume", a.volume);
    detail::read_field(j, w, "checkpoint", a.checkpoint);
    detail::read_field(j, w, "base", a.base);
    detail::read_field(j, w, "block_size", a.block_size);
    detail::read_field(j, w, "path", a.path);
    detail::read_field(j, w, "reference", a.reference);
    detail::read_field(j, w, "changes", a.changes);
}

namespace artifacts {
artifact_spec container_fs(std::string container) {
    artifact_spec a;
    a.kind = artifact_kind::container_fs;
    a.container = std::move(container);
    return a;
}
artifact_spec image_from_fs(std::string reference, std::vector<std::string> changes) {
    artifact_spec a;
    a.kind = artifact_kind::container_fs;
    a.reference = std::move(reference);
    a.changes = std::move(changes);
    return a;
}
artifact_spec images(std::vector<std::string> refs, std::vector<std::string> skip_layers) {
    artifact_spec a;
    a.kind = artifact_kind::images;
    a.images = std::move(refs);
    a.skip_layers = std::move(skip_layers);
    return a;
}
artifact_spec volume(std::string name) {
    artifact_spec a;
    a.kind = artifact_kind::volume;
    a.volume = std::move(name);
    return a;
}
artifact_spec checkpoint(std::string container, std::string name) {
    artifact_spec a;
    a.kind = artifact_kind::checkpoint;
    a.container = std::move(container);
    a.checkpoint = std::move(name);
    return a;
}
artifact_spec checkpoint_delta(std::string container, std::string name, std::string base) {
    artifact_spec a = checkpoint(std::move(container), std::move(name));
    a.kind = artifact_kind::checkpoint_delta;
    a.base = std::move(base);
    return a;
}
artifact_spec file(std::string relative_path) {
    artifact_spec a;
    a.kind = artifact_kind::file;
    a.path = std::move(relative_path);
    return a;
}
}  // namespace artifacts

result<json> produce_artifact(container_runtime& rt, const std::filesystem::path& work_dir, const artifact_spec& a,
                              byte_sink& out) {
    MIGRATE_TRY(a.validate());
    json details = json::object();
    switch (a.kind) {
    case artifact_kind::container_fs:
        MIGRATE_TRY(rt.export_container(a.container, out));
        return details;
    case artifact_kind::images:
        if (!a.skip_layers.empty()) return save_images_without_layers(rt, a.images, a.skip_layers, work_dir, out);
        MIGRATE_TRY(rt.save_images(a.images, out));
        return details;
    case artifact_kind::volume:
        MIGRATE_TRY(rt.export_volume(a.volume, out));
        return details;
    case artifact_kind::checkpoint:
        MIGRATE_TRY(rt.export_checkpoint(a.container, a.checkpoint, out));
        return details;
    case artifact_kind::checkpoint_delta: {
        auto base = rt.checkpoint_directory(a.container, a.base);
        if (!base) return base.error();
        auto cur = rt.checkpoint_directory(a.container, a.checkpoint);
        if (!cur) return cur.error();
        auto st = write_dir_delta(*base, *cur, out, a.block_size ? a.block_size : 4096);
        if (!st) return st.error();
        return json{{"delta", *st}};
    }
    case artifact_kind::file: {
        auto src = file_source(work_dir / a.path);
        if (!src) return src.error();
        std::vector<std::byte> buf(256 * 1024);
        for (;;) {
            auto n = (*src)->read(buf);
            if (!n) return n.error();
            if (*n == 0) break;
            MIGRATE_TRY(out.write(std::span<const std::byte>(buf.data(), *n)));
        }
        return details;
    }
    }
    return make_failure(error::internal, "produce_artifact: unknown kind");
}

result<json> consume_artifact(container_runtime& rt, const std::filesystem::path& work_dir, const artifact_spec& a,
                              byte_source& in) {
    MIGRATE_TRY(a.validate());
    switch (a.kind) {
    case artifact_kind::container_fs: {
        if (a.reference.empty())
            return make_failure(error::invalid_argument, "artifact.reference: required to consume a filesystem export");
        auto id = rt.import_image(in, a.reference, a.changes);
        if (!id) return id.error();
        return json{{"image_id", *id}, {"reference", a.reference}};
    }
    case artifact_kind::images: {
        auto refs = rt.load_images(in);
        if (!refs && !a.skip_layers.empty()) {
            // The sender left out layers it was told this host holds (image_layers.hpp);
            // docker load then fails opening the missing layer.tar. Say which promise broke.
            auto f = refs.error();
            const bool missing_layer = f.message.find("layer.tar") != std::string::npos;
            f.message = fmt::format("{} on {}: the image tar left out {} layer(s) this host was said to hold (base "
                                    "first: {}){}; {}",
                                    missing_layer ? "a layer is missing" : "load failed", rt.endpoint(),
                                    a.skip_layers.size(), a.skip_layers.front(),
                                    missing_layer ? ", but it lacks at least one of them: send the image whole (no skip_layers)" : "",
                                    f.message);
            if (missing_layer) f.code = make_error_code(error::not_found);
            return f;
        }
        if (!refs) return refs.error();
        return json{{"loaded", *refs}};
    }
    case artifact_kind::volume:
        MIGRATE_TRY(rt.import_volume(a.volume, in));
        return json::object();
    case artifact_kind::checkpoint:
        MIGRATE_TRY(rt.import_checkpoint(a.container, a.checkpoint, in));
        return json::object();
    case artifact_kind::checkpoint_delta: {
        auto base = rt.checkpoint_directory(a.container, a.base);
        if (!base) return base.error();
        auto out_dir = rt.checkpoint_directory(a.container, a.checkpoint);
        if (!out_dir) return out_dir.error();
        auto st = apply_dir_delta(*base, *out_dir, in);
        if (!st) return st.error();
        return json{{"delta", *st}};
    }
    case artifact_kind::file: {
        std::error_code ec;
        auto path = work_dir / a.path;
        std::filesystem::create_directories(path.parent_path(), ec);
        auto sink = file_sink(path);
        std::vector<std::byte> buf(256 * 1024);
        std::uint64_t total = 0;
        for (;;) {
            auto n = in.read(buf);
            if (!n) {
                std::filesystem::remove(path, ec);
                return n.error();
            }
            if (*n == 0) break;
            total += *n;
            if (auto w = sink->write(std::span<const std::byte>(buf.data(), *n)); !w) {
                std::filesystem::remove(path, ec);
                return w.error();
            }
        }
        if (auto c = sink->close(); !c) {
            std::filesystem::remove(path, ec);
            return c.error();
        }
        return json{{"path", path.string()}, {"bytes", total}};
    }
    }
    return make_failure(error::internal, "consume_artifact: unknown kind");
}

}  // namespace migrate
