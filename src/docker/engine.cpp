// Docker Engine API v1.41 over a unix socket. Routes used: see docs/docker-engine.md.
#include <migrate/docker/engine.hpp>
#include <migrate/docker/runc_dump.hpp>
#include <migrate/docker/wire.hpp>
#include <migrate/detail/process.hpp>
#include <migrate/image/tar_writer.hpp>

#include "http.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace migrate::docker {

using detail::http_client;
using detail::http_request;
using detail::http_response;

namespace {

std::string q(std::string_view s) { return http_client::escape(s); }
std::string seg(std::string_view s) { return http_client::escape(s); }
std::string image_seg(std::string_view s) { return http_client::escape(s, true); }

std::string quoted(std::string_view kind, std::string_view name) { return fmt::format("{} '{}'", kind, name); }

// Replays the bytes already read for sniffing, then the rest of the source.
class prefixed_source final : public byte_source {
public:
    prefixed_source(std::vector<std::byte> head, byte_source& rest) : head_(std::move(head)), rest_(rest) {}
    result<std::size_t> read(std::span<std::byte> buf) override {
        if (pos_ < head_.size()) {
            std::size_t n = std::min(buf.size(), head_.size() - pos_);
            std::memcpy(buf.data(), head_.data() + pos_, n);
            pos_ += n;
            return n;
        }
        return rest_.read(buf);
    }
private:
    std::vector<std::byte> head_;
    std::size_t pos_ = 0;
    byte_source& rest_;
};

result<std::vector<std::byte>> read_head(byte_source& src, std::size_t want) {
    std::vector<std::byte> head(want);
    std::size_t got = 0;
    while (got < want) {
        auto n = src.read(std::span(head).subspan(got));
        if (!n) return n.error();
        if (*n == 0) break;
        got += *n;
    }
    head.resize(got);
    return head;
}

std::string hex_preview(const std::vector<std::byte>& b) {
    std::string s;
    for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i)
        s += fmt::format("{:02x}", static_cast<unsigned>(b[i]));
    return s.empty() ? "none" : s;
}

// Whether a daemon complaint about an uploaded archive is about the archive itself.
bool archive_complaint(std::string_view msg) {
    for (std::string_view k : {"tar", "EOF", "manifest", "json", "no such file", "invalid", "gzip", "archive"})
        if (msg.find(k) != std::string_view::npos) return true;
    return false;
}

// Feeds a JSON-lines answer into the parser as it arrives.
class json_lines_sink final : public byte_sink {
public:
    wire::json_lines parser;
    result<void> write(std::span<const std::byte> c) override {
        return parser.feed({reinterpret_cast<const char*>(c.data()), c.size()});
    }
};

}  // namespace

struct engine::impl {
    engine_options opts;
    http_client http;
    std::optional<std::filesystem::path> root_dir;
    /// Blobs a leave-running checkpoint made in containerd's content store, per container:
    /// the next checkpoint of that container waits until they are collected (create_checkpoint).
    std::map<std::string, std::set<std::string>, std::less<>> pending_blobs;

    explicit impl(engine_options o)
        : opts(std::move(o)), http(opts.socket, opts.api_version, opts.connect_timeout, opts.stall_timeout,
                                   opts.chunk_size) {}

    std::string endpoint() const { return http.endpoint(); }

    http_request small(const char* method, std::string target) const {
        http_request r;
        r.method = method;
        r.target = std::move(target);
        r.timeout = opts.request_timeout;
        return r;
    }
    http_request with_json(const char* method, std::string target, const json& body) const {
        auto r = small(method, std::move(target));
        r.json_body = body.dump();
        r.has_json = true;
        return r;
    }

    /// Sends; a non-2xx status (304 counts as success: the state already holds) becomes the
    /// mapped failure naming `what`.
    result<http_response> call(const http_request& req, std::string_view what) {
        auto r = http.send(req);
        if (!r) return r.error();
        if ((r->status >= 200 && r->status < 300) || r->status == 304) return r;
        return wire::status_failure(r->status, r->body, what, endpoint());
    }

    result<json> call_json(const http_request& req, std::string_view what) {
        auto r = call(req, what);
        if (!r) return r.error();
        auto j = json::parse(r->body, nullptr, false);
        if (j.is_discarded())
            return make_failure(error::protocol_error, fmt::format("{} {} on {}: answer is not JSON: {}", req.method,
                                                                   req.target, endpoint(), r->body.substr(0, 200)));
        return j;
    }

    // Data roots already learnt in this process, by endpoint. `GET /info` is dockerd's
    // slowest small call (it gathers the whole daemon state: tens of ms under load), and an
    // agent makes an engine per request, so every checkpoint or delta transfer paid it on
    // both sides (about 90 ms of fixed cost per transfer, docs/thesis-grid.md). A daemon
    // keeps its data root until it restarts; one restarted on the same socket with another
    // root shows as a container directory missing under the cached root, and
    // `checkpoint_dir` then forgets the root and asks again.
    static std::mutex& roots_mutex() {
        static std::mutex m;
        return m;
    }
    static std::map<std::string, std::filesystem::path>& known_roots() {
        static std::map<std::string, std::filesystem::path> m;
        return m;
    }

    result<std::filesystem::path> docker_root() {
        if (root_dir) return *root_dir;
        {
            std::lock_guard lk(roots_mutex());
            if (auto it = known_roots().find(endpoint()); it != known_roots().end()) return *(root_dir = it->second);
        }
        auto info = call_json(small("GET", "/info"), "daemon info");
        if (!info) return info.error();
        auto it = info->find("DockerRootDir");
        if (it == info->end() || !it->is_string())
            return make_failure(error::protocol_error, "GET /info on " + endpoint() + " lacks DockerRootDir");
        root_dir = std::filesystem::path(it->get<std::string>());
        std::lock_guard lk(roots_mutex());
        known_roots()[endpoint()] = *root_dir;
        return *root_dir;
    }
    void forget_root() {
        root_dir.reset();
        std::lock_guard lk(roots_mutex());
        known_roots().erase(endpoint());
    }

    /// Streams `src` (checked to look like an archive first) as the body of `target`,
    /// collecting the JSON-lines answer. `input` names the input in messages.
    result<wire::json_lines> upload_archive(const char* method, const std::string& target, byte_source& src,
                                            std::string_view input, std::string_view what) {
        auto head = read_head(src, 512);
        if (!head) return head.error();
        if (!image::looks_like_archive(*head))
            return make_failure(error::corrupt_artifact,
                fmt::format("{} is not a tar archive ({} bytes read, first bytes {}); nothing was sent to {}", input,
                            head->size(), hex_preview(*head), endpoint()));
        prefixed_source body(std::move(*head), src);
        json_lines_sink answer;
        http_request req;
        req.method = method;
        req.target = target;
        req.upload = &body;
        req.download = &answer;
        auto r = http.send(req);
        if (!r) return r.error();
        if (r->status < 200 || r->status >= 300) {
            auto f = wire::status_failure(r->status, r->body, what, endpoint());
            if (r->status >= 500 && archive_complaint(f.message))
                return make_failure(error::corrupt_artifact, fmt::format("{} was rejected: {}", input, f.message));
            return f;
        }
        MIGRATE_TRY(answer.parser.finish());
        if (auto& e = answer.parser.error())
            return make_failure(archive_complaint(*e) ? error::corrupt_artifact : error::daemon_error,
                                fmt::format("{} was rejected by {}: {}", input, endpoint(), *e));
        return std::move(answer.parser);
    }

    result<void> ensure_helper_image(engine& self) {
        auto existing = self.inspect_image(opts.helper_image);
        if (existing) return {};
        if (existing.error_code() != error::not_found) return existing.error();
        // A rootfs with just the mount point: never started, so it needs no program.
        string_sink tar;
        image::tar_writer w(tar);
        MIGRATE_TRY(w.add_directory("v", {0755}));
        MIGRATE_TRY(w.add_directory("tmp", {01777}));
        MIGRATE_TRY(w.finish());
        string_source src(std::move(tar.data));
        auto id = self.import_image(src, opts.helper_image,
                                    {"LABEL org.migrate.helper=volume", "CMD [\"/migrate-helper-never-started\"]"});
        if (!id) return id.error();
        return {};
    }

    /// A never-started container with `volume` at /v; removed by the returned guard.
    struct helper_guard {
        engine* self = nullptr;
        std::string id;
        helper_guard() = default;
        helper_guard(const helper_guard&) = delete;
        helper_guard& operator=(const helper_guard&) = delete;
        helper_guard(helper_guard&& o) noexcept : self(o.self), id(std::move(o.id)) { o.self = nullptr; }
        ~helper_guard() { if (self && !id.empty()) (void)self->remove(id, true); }
    };

    /// The directory holding a plain local volume's files when it is visible from this
    /// process (the SDK or the agent on the daemon's machine): `tar` there skips the helper
    /// container and the daemon's archive endpoint (about 150 ms per volume measured in
    /// docs/thesis-grid.md, against 4-5 ms for the raw tar copy). Empty for any other
    /// driver, for a local volume with driver options (an NFS or tmpfs mount that exists
    /// only while a container uses it) and when not visible. `not_found` for no volume.
    result<std::optional<std::filesystem::path>> local_volume_dir(std::string_view volume) {
        auto j = call_json(small("GET", "/volumes/" + seg(volume)), fmt::format("volume '{}'", volume));
        if (!j) return j.error();
        auto opts = j->find("Options");
        const bool plain = j->value("Driver", std::string{}) == "local" &&
                           (opts == j->end() || opts->is_null() || (opts->is_object() && opts->empty()));
        std::filesystem::path dir = j->value("Mountpoint", std::string{});
        std::error_code ec;
        if (!plain || dir.empty() || !std::filesystem::is_directory(dir, ec)) return std::optional<std::filesystem::path>{};
        return std::optional<std::filesystem::path>{dir};
    }

    result<void> make_helper(engine& self, std::string_view volume, helper_guard& guard) {
        // Without this check, creating the helper would silently create the volume.
        auto v = self.inspect_volume(volume);
        if (!v) return v.error();
        MIGRATE_TRY(ensure_helper_image(self));
        static thread_local std::mt19937_64 rng{std::random_device{}()};
        container_spec spec;
        spec.name = fmt::format("migrate-helper-{:x}", rng() & 0xffffffffffull);
        spec.image = opts.helper_image;
        spec.cmd = {"/migrate-helper-never-started"};
        spec.labels["org.migrate.helper"] = "volume";
        spec.network_mode = "none";
        spec.mounts.push_back({mount_spec::kind::volume, std::string(volume), "/v", false});
        auto id = self.create(spec);
        if (!id) return id.error();
        guard.self = &self;
        guard.id = *id;
        return {};
    }

    result<std::filesystem::path> checkpoint_dir(engine& self, std::string_view id, std::string_view name) {
        if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
            return make_failure(error::invalid_argument, fmt::format("checkpoint name '{}' is not a plain name", name));
        // A full id names the directory already. Not asking dockerd matters right after a
        // dump with exit: dockerd holds the container while it handles the exit (about
        // 0.1 s here), and an inspect then waits inside the downtime.
        std::string full(id);
        const bool is_full_id = full.size() == 64 && full.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!is_full_id) {
            auto c = self.inspect(id);
            if (!c) return c.error();
            full = c->id;
        }
        auto root = docker_root();
        if (!root) return root.error();
        auto container_dir = *root / "containers" / full;
        std::error_code ec;
        if (!std::filesystem::is_directory(container_dir, ec)) {  // a stale cached root?
            forget_root();
            root = docker_root();
            if (!root) return root.error();
            container_dir = *root / "containers" / full;
        }
        if (!std::filesystem::is_directory(container_dir, ec)) {
            if (is_full_id)  // no such container is `not_found`, not a visibility problem
                if (auto c = self.inspect(id); !c) return c.error();
            return make_failure(error::unsupported,
                fmt::format("{} is not visible here: checkpoint files of {} are read and written in the daemon's "
                            "data root, so this needs the SDK on the same machine as the daemon",
                            container_dir.string(), endpoint()));
        }
        return container_dir / "checkpoints" / std::string(name);
    }
};

engine::engine(engine_options opts) {
    if (auto v = opts.validate(); !v) throw migration_error(v.error());
    impl_ = std::make_unique<impl>(std::move(opts));
}

result<std::unique_ptr<engine>> engine::make(engine_options opts) {
    if (auto v = opts.validate(); !v) return v.error();
    return std::make_unique<engine>(std::move(opts));
}

engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

const engine_options& engine::options() const noexcept { return impl_->opts; }
std::string engine::endpoint() const { return impl_->endpoint(); }

result<void> engine::ping() {
    auto r = impl_->call(impl_->small("GET", "/_ping"), "ping");
    if (!r) return r.error();
    return {};
}

result<std::vector<container_info>> engine::list_containers(bool all, std::string_view label) {
    std::string target = fmt::format("/containers/json?all={}", all ? 1 : 0);
    if (!label.empty()) target += "&filters=" + q(json{{"label", json::array({label})}}.dump());
    auto j = impl_->call_json(impl_->small("GET", target), "container list");
    if (!j) return j.error();
    if (!j->is_array()) return make_failure(error::protocol_error, "GET /containers/json on " + endpoint() + " is not a list");
    std::vector<container_info> out;
    for (auto& c : *j) {
        if (!c.is_object()) continue;
        container_info i;
        i.id = c.value("Id", "");
        if (auto n = c.find("Names"); n != c.end() && n->is_array() && !n->empty() && (*n)[0].is_string()) {
            i.name = (*n)[0].get<std::string>();
            if (!i.name.empty() && i.name.front() == '/') i.name.erase(0, 1);
        }
        i.image_id = c.value("ImageID", "");
        i.status = c.value("State", "");
        i.running = i.status == "running" || i.status == "paused";
        i.paused = i.status == "paused";
        i.spec.name = i.name;
        i.spec.image = c.value("Image", "");
        if (auto l = c.find("Labels"); l != c.end() && l->is_object())
            for (auto& [k, v] : l->items()) if (v.is_string()) i.spec.labels[k] = v.get<std::string>();
        out.push_back(std::move(i));
    }
    return out;
}

result<std::vector<image_info>> engine::list_images() {
    auto j = impl_->call_json(impl_->small("GET", "/images/json"), "image list");
    if (!j) return j.error();
    if (!j->is_array()) return make_failure(error::protocol_error, "GET /images/json on " + endpoint() + " is not a list");
    std::vector<image_info> out;
    for (auto& i : *j) {
        if (!i.is_object()) continue;
        image_info info;
        info.id = i.value("Id", "");
        if (auto t = i.find("RepoTags"); t != i.end() && t->is_array())
            for (auto& x : *t) if (x.is_string()) info.tags.push_back(x.get<std::string>());
        if (auto sz = i.find("Size"); sz != i.end() && sz->is_number_unsigned()) info.size = sz->get<std::uint64_t>();
        out.push_back(std::move(info));
    }
    return out;
}

result<runtime_version> engine::version() {
    auto v = impl_->call_json(impl_->small("GET", "/version"), "daemon version");
    if (!v) return v.error();
    auto info = impl_->call_json(impl_->small("GET", "/info"), "daemon info");
    if (!info) return info.error();
    runtime_version out;
    out.version = v->value("Version", "");
    out.api_version = v->value("ApiVersion", "");
    out.experimental = info->value("ExperimentalBuild", false);
    out.root_dir = info->value("DockerRootDir", "");
    if (!out.root_dir.empty()) impl_->root_dir = out.root_dir;
    if (out.version.empty())
        return make_failure(error::protocol_error, "GET /version on " + endpoint() + " lacks Version");
    return out;
}

// --- containers ----------------------------------------------------------------------------

result<container_info> engine::inspect(std::string_view name_or_id) {
    auto j = impl_->call_json(impl_->small("GET", "/containers/" + seg(name_or_id) + "/json"),
                              quoted("container", name_or_id));
    if (!j) return j.error();
    return wire::container_from_inspect(*j);
}

result<std::string> engine::create(const container_spec& spec) {
    if (spec.image.empty())
        return make_failure(error::invalid_argument, "container_spec.image: must not be empty");
    std::string target = "/containers/create";
    if (!spec.name.empty()) target += "?name=" + q(spec.name);
    auto what = fmt::format("container '{}' (image '{}')", spec.name, spec.image);
    auto j = impl_->call_json(impl_->with_json("POST", target, wire::create_body(spec)), what);
    if (!j) return j.error();
    auto it = j->find("Id");
    if (it == j->end() || !it->is_string())
        return make_failure(error::protocol_error, "create answer on " + endpoint() + " lacks Id");
    return it->get<std::string>();
}

result<void> engine::start(std::string_view id) {
    auto r = impl_->call(impl_->small("POST", "/containers/" + seg(id) + "/start"), quoted("container", id));
    if (!r) return r.error();
    return {};
}

result<void> engine::stop(std::string_view id, std::chrono::seconds grace) {
    auto req = impl_->small("POST", fmt::format("/containers/{}/stop?t={}", seg(id), grace.count()));
    req.timeout += std::chrono::duration_cast<std::chrono::milliseconds>(grace);
    auto r = impl_->call(req, quoted("container", id));
    if (!r) return r.error();
    return {};
}

result<void> engine::pause(std::string_view id) {
    auto r = impl_->call(impl_->small("POST", "/containers/" + seg(id) + "/pause"), quoted("container", id));
    if (!r) return r.error();
    return {};
}

result<void> engine::unpause(std::string_view id) {
    auto r = impl_->call(impl_->small("POST", "/containers/" + seg(id) + "/unpause"), quoted("container", id));
    if (!r) return r.error();
    return {};
}

result<void> engine::remove(std::string_view id, bool force) {
    auto r = impl_->call(impl_->small("DELETE", fmt::format("/containers/{}?force={}&v=0", seg(id), force ? 1 : 0)),
                         quoted("container", id));
    if (!r) return r.error();
    return {};
}

// --- filesystem and images -----------------------------------------------------------------

result<void> engine::export_container(std::string_view id, byte_sink& out) {
    http_request req;
    req.target = "/containers/" + seg(id) + "/export";
    req.download = &out;
    auto r = impl_->call(req, quoted("container", id));
    if (!r) return r.error();
    return {};
}

result<std::string> engine::import_image(byte_source& rootfs_tar, std::string_view reference,
                                         const std::vector<std::string>& changes) {
    auto [repo, tag] = wire::split_reference(reference);
    std::string target = "/images/create?fromSrc=-";
    if (!repo.empty()) target += "&repo=" + q(repo);
    if (!tag.empty()) target += "&tag=" + q(tag);
    for (auto& c : changes) target += "&changes=" + q(c);
    auto answer = impl_->upload_archive("POST", target, rootfs_tar,
                                        fmt::format("the rootfs tar given to import_image('{}')", reference),
                                        quoted("import of image", reference));
    if (!answer) return answer.error();
    const auto& id = answer->last_status();
    if (id.rfind("sha256:", 0) != 0)
        return make_failure(error::protocol_error,
                            fmt::format("import of '{}' on {} answered no image id (last status '{}')", reference,
                                        endpoint(), id));
    return id;
}

result<std::string> engine::commit(std::string_view id, std::string_view reference, bool pause) {
    auto [repo, tag] = wire::split_reference(reference);
    std::string target = "/commit?container=" + q(id) + "&pause=" + (pause ? "1" : "0");
    if (!repo.empty()) target += "&repo=" + q(repo);
    if (!tag.empty()) target += "&tag=" + q(tag);
    auto j = impl_->call_json(impl_->with_json("POST", target, json::object()), quoted("container", id));
    if (!j) return j.error();
    auto it = j->find("Id");
    if (it == j->end() || !it->is_string())
        return make_failure(error::protocol_error, "commit answer on " + endpoint() + " lacks Id");
    return it->get<std::string>();
}

result<void> engine::save_images(const std::vector<std::string>& references, byte_sink& out) {
    if (references.empty()) return make_failure(error::invalid_argument, "save_images: no image references given");
    std::string target = "/images/get?";
    std::string names;
    for (auto& r : references) {
        target += (target.back() == '?' ? "names=" : "&names=") + q(r);
        names += (names.empty() ? "" : ", ") + r;
    }
    http_request req;
    req.target = target;
    req.download = &out;
    auto r = impl_->call(req, fmt::format("image(s) {}", names));
    if (!r) return r.error();
    return {};
}

result<std::vector<std::string>> engine::load_images(byte_source& tar) {
    auto answer = impl_->upload_archive("POST", "/images/load?quiet=1", tar, "the image tar given to load_images",
                                        "image load");
    if (!answer) return answer.error();
    auto loaded = wire::loaded_images(answer->streams());
    if (loaded.empty())
        return make_failure(error::corrupt_artifact, "the image tar given to load_images held no image (" +
                                                         endpoint() + " loaded nothing)");
    return loaded;
}

result<image_info> engine::inspect_image(std::string_view reference) {
    auto j = impl_->call_json(impl_->small("GET", "/images/" + image_seg(reference) + "/json"),
                              quoted("image", reference));
    if (!j) return j.error();
    return wire::image_from_inspect(*j);
}

result<void> engine::remove_image(std::string_view reference, bool force) {
    auto r = impl_->call(impl_->small("DELETE", fmt::format("/images/{}?force={}", image_seg(reference), force ? 1 : 0)),
                         quoted("image", reference));
    if (!r) return r.error();
    return {};
}

// --- volumes -------------------------------------------------------------------------------

result<volume_info> engine::create_volume(std::string_view name, const std::map<std::string, std::string>& labels) {
    json body = {{"Name", name}, {"Labels", json::object()}};
    for (auto& [k, v] : labels) body["Labels"][k] = v;
    auto j = impl_->call_json(impl_->with_json("POST", "/volumes/create", body), quoted("volume", name));
    if (!j) return j.error();
    return wire::volume_from_json(*j);
}

result<volume_info> engine::inspect_volume(std::string_view name) {
    auto j = impl_->call_json(impl_->small("GET", "/volumes/" + seg(name)), quoted("volume", name));
    if (!j) return j.error();
    return wire::volume_from_json(*j);
}

result<void> engine::remove_volume(std::string_view name, bool force) {
    auto r = impl_->call(impl_->small("DELETE", fmt::format("/volumes/{}?force={}", seg(name), force ? 1 : 0)),
                         quoted("volume", name));
    if (!r) return r.error();
    return {};
}

result<void> engine::export_volume(std::string_view name, byte_sink& out) {
    auto dir = impl_->local_volume_dir(name);
    if (!dir) return dir.error();
    if (*dir)  // "." makes the archive's paths relative to the volume root, as below
        return migrate::detail::run_to_sink({"tar", "--numeric-owner", "-C", (*dir)->string(), "-cf", "-", "."}, out);
    impl::helper_guard helper;
    MIGRATE_TRY(impl_->make_helper(*this, name, helper));
    http_request req;
    // "/v/." makes the archive's paths relative to the volume root ("./a.txt").
    req.target = "/containers/" + seg(helper.id) + "/archive?path=" + q("/v/.");
    req.download = &out;
    auto r = impl_->call(req, quoted("volume", name));
    if (!r) return r.error();
    return {};
}

result<void> engine::import_volume(std::string_view name, byte_source& tar) {
    // Check the archive before making a helper: garbage changes nothing.
    auto head = read_head(tar, 512);
    if (!head) return head.error();
    if (!image::looks_like_archive(*head))
        return make_failure(error::corrupt_artifact,
                            fmt::format("the tar given to import_volume('{}') is not a tar archive ({} bytes read, "
                                        "first bytes {}); volume unchanged", name, head->size(), hex_preview(*head)));
    prefixed_source body(std::move(*head), tar);
    auto dir = impl_->local_volume_dir(name);
    if (!dir) return dir.error();
    if (*dir) {
        auto r = migrate::detail::run_from_source(
            {"tar", "--numeric-owner", "--same-permissions", "-C", (*dir)->string(), "-xf", "-"}, body);
        if (!r) {
            // tar refusing the stream means the archive is bad; anything else keeps its code.
            auto f = r.error();
            if (f.code == make_error_code(error::command_failed)) f.code = make_error_code(error::corrupt_artifact);
            f.message = fmt::format("volume '{}' on {}: unpacking into {}: {}", name, endpoint(), (*dir)->string(),
                                    f.message);
            return f;
        }
        return {};
    }
    impl::helper_guard helper;
    MIGRATE_TRY(impl_->make_helper(*this, name, helper));
    http_request req;
    req.method = "PUT";
    req.target = "/containers/" + seg(helper.id) + "/archive?path=" + q("/v");
    req.upload = &body;
    auto r = impl_->call(req, quoted("volume", name));
    if (!r) return r.error();
    return {};
}

// --- networks ------------------------------------------------------------------------------

namespace {

std::map<std::string, std::string> string_map(const json& doc, const char* key) {
    std::map<std::string, std::string> out;
    if (auto it = doc.find(key); it != doc.end() && it->is_object())
        for (auto& [k, v] : it->items())
            if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

result<network_info> network_from_json(const json& doc, std::string_view endpoint) {
    if (!doc.is_object() || !doc.contains("Id") || !doc["Id"].is_string())
        return make_failure(error::protocol_error, fmt::format("network document from {} lacks Id", endpoint));
    network_info n;
    n.id = doc["Id"].get<std::string>();
    n.name = doc.value("Name", std::string{});
    n.driver = doc.value("Driver", std::string{});
    if (auto ipam = doc.find("IPAM"); ipam != doc.end() && ipam->is_object())
        if (auto cfg = ipam->find("Config"); cfg != ipam->end() && cfg->is_array() && !cfg->empty()) {
            n.subnet = (*cfg)[0].value("Subnet", std::string{});
            n.gateway = (*cfg)[0].value("Gateway", std::string{});
        }
    n.options = string_map(doc, "Options");
    n.labels = string_map(doc, "Labels");
    if (auto cs = doc.find("Containers"); cs != doc.end() && cs->is_object())
        for (auto& [id, c] : cs->items()) {
            if (!c.is_object()) continue;
            auto ip = c.value("IPv4Address", std::string{});
            if (auto slash = ip.find('/'); slash != std::string::npos) ip.resize(slash);
            n.containers[c.value("Name", id)] = ip;
        }
    return n;
}

}  // namespace

void to_json(json& j, const network_info& n) {
    j = json{{"id", n.id},           {"name", n.name},       {"driver", n.driver}, {"subnet", n.subnet},
             {"gateway", n.gateway}, {"options", n.options}, {"labels", n.labels}, {"containers", n.containers}};
}

result<network_info> engine::create_network(const network_spec& spec) {
    if (spec.name.empty()) return make_failure(error::invalid_argument, "network_spec.name: must not be empty");
    json body = {{"Name", spec.name},
                 {"Driver", spec.driver.empty() ? std::string("bridge") : spec.driver},
                 {"CheckDuplicate", true},
                 {"Options", spec.options},
                 {"Labels", spec.labels}};
    if (!spec.subnet.empty() || !spec.gateway.empty()) {
        json cfg = json::object();
        if (!spec.subnet.empty()) cfg["Subnet"] = spec.subnet;
        if (!spec.gateway.empty()) cfg["Gateway"] = spec.gateway;
        body["IPAM"] = {{"Driver", "default"}, {"Config", json::array({cfg})}};
    }
    auto j = impl_->call_json(impl_->with_json("POST", "/networks/create", body), quoted("network", spec.name));
    if (!j) return j.error();
    auto id = j->find("Id");
    if (id == j->end() || !id->is_string())
        return make_failure(error::protocol_error, "network create answer on " + endpoint() + " lacks Id");
    return inspect_network(id->get<std::string>());
}

result<network_info> engine::inspect_network(std::string_view name_or_id) {
    auto j = impl_->call_json(impl_->small("GET", "/networks/" + seg(name_or_id)), quoted("network", name_or_id));
    if (!j) return j.error();
    return network_from_json(*j, endpoint());
}

result<void> engine::remove_network(std::string_view name_or_id) {
    auto r = impl_->call(impl_->small("DELETE", "/networks/" + seg(name_or_id)), quoted("network", name_or_id));
    if (!r) return r.error();
    return {};
}

result<std::string> engine::container_address(std::string_view id, std::string_view network) {
    auto j = impl_->call_json(impl_->small("GET", "/containers/" + seg(id) + "/json"), quoted("container", id));
    if (!j) return j.error();
    const json* nets = nullptr;
    if (auto ns = j->find("NetworkSettings"); ns != j->end() && ns->is_object())
        if (auto n = ns->find("Networks"); n != ns->end() && n->is_object()) nets = &*n;
    if (nets)
        for (auto& [name, ep] : nets->items()) {
            if (!network.empty() && name != network) continue;
            auto ip = ep.is_object() ? ep.value("IPAddress", std::string{}) : std::string{};
            if (!ip.empty()) return ip;
        }
    return make_failure(error::not_found,
                        fmt::format("container '{}' on {} has no address{} (not running, or not attached)", id,
                                    endpoint(), network.empty() ? std::string{} : " on network '" + std::string(network) + "'"));
}

// --- checkpoints ---------------------------------------------------------------------------

namespace {
// The blobs of containerd's content store under the daemon's data root ("" when not visible).
std::set<std::string> content_blobs(const std::filesystem::path& blobs) {
    std::set<std::string> names;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(blobs, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
        names.insert(it->path().filename().string());
    return names;
}
}  // namespace

result<void> engine::direct_checkpoint_support(std::string_view id) { return runc_dump_support(*this, id); }

result<void> engine::create_checkpoint(std::string_view id, const checkpoint_options& opts) {
    if (opts.name.empty()) return make_failure(error::invalid_argument, "checkpoint_options.name: must not be empty");
    if (opts.dumper == checkpoint_dumper::runc) return runc_checkpoint(*this, id, opts);
    // moby/moby#42900, on the checkpoint side: containerd stores each checkpoint (the CRIU
    // images and the container's runtime spec) as blobs in its content store, and dockerd
    // deletes them again; the next checkpoint of the same container writes the identical spec
    // blob and fails ("content sha256:...: already exists") while containerd has not yet
    // collected the first. Seen here once in about 40 pairs: an exit dump failing that way
    // has already stopped the process and its images are gone, the memory state is lost. So
    // a checkpoint notes the blobs it made, and the next checkpoint of that container first
    // waits until containerd collected them (about 0.2 s after the first here, so usually
    // already done; at most 10 s). Waiting then, not right after the first, keeps the wait
    // out of the service's freeze.
    std::filesystem::path blobs;
    if (auto root = impl_->docker_root())
        blobs = *root / "containerd" / "daemon" / "io.containerd.content.v1.content" / "blobs" / "sha256";
    if (auto it = impl_->pending_blobs.find(id); it != impl_->pending_blobs.end()) {
        auto& left = it->second;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        for (;;) {
            std::error_code ec;
            std::erase_if(left, [&](const std::string& b) { return !std::filesystem::exists(blobs / b, ec); });
            if (left.empty() || std::chrono::steady_clock::now() >= until) break;
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
        impl_->pending_blobs.erase(it);
    }
    std::set<std::string> before;
    if (!blobs.empty()) before = content_blobs(blobs);
    json body = {{"CheckpointID", opts.name}, {"Exit", opts.exit}};
    auto r = impl_->call(impl_->with_json("POST", "/containers/" + seg(id) + "/checkpoints", body),
                         fmt::format("checkpoint '{}' of container '{}'", opts.name, id));
    if (!r) return r.error();
    // Also after a checkpoint with exit: a rollback restores the container at once and may
    // checkpoint it again soon after (seen: the loop in checkpoint_move_test, once the
    // restore got faster, hit "already exists" on the third round).
    if (!blobs.empty()) {
        auto made = content_blobs(blobs);
        std::erase_if(made, [&](const std::string& b) { return before.count(b) != 0; });
        if (!made.empty()) impl_->pending_blobs[std::string(id)] = std::move(made);
    }
    return {};
}

result<std::vector<std::string>> engine::list_checkpoints(std::string_view id) {
    auto j = impl_->call_json(impl_->small("GET", "/containers/" + seg(id) + "/checkpoints"),
                              quoted("container", id));
    if (!j) return j.error();
    std::vector<std::string> names;
    if (j->is_array())
        for (auto& c : *j)
            if (c.is_object() && c.contains("Name") && c["Name"].is_string()) names.push_back(c["Name"].get<std::string>());
    return names;
}

result<void> engine::delete_checkpoint(std::string_view id, std::string_view name) {
    auto r = impl_->call(impl_->small("DELETE", "/containers/" + seg(id) + "/checkpoints/" + seg(name)),
                         fmt::format("checkpoint '{}' of container '{}'", name, id));
    if (!r) return r.error();
    return {};
}

result<void> engine::export_checkpoint(std::string_view id, std::string_view name, byte_sink& out) {
    auto dir = impl_->checkpoint_dir(*this, id, name);
    if (!dir) return dir.error();
    std::error_code ec;
    if (!std::filesystem::is_directory(*dir, ec))
        return make_failure(error::not_found, fmt::format("checkpoint '{}' of container '{}' not found on {} (no {})",
                                                          name, id, endpoint(), dir->string()));
    return migrate::detail::run_to_sink({"tar", "-C", dir->string(), "-cf", "-", "."}, out);
}

result<void> engine::import_checkpoint(std::string_view id, std::string_view name, byte_source& tar) {
    auto dir = impl_->checkpoint_dir(*this, id, name);
    if (!dir) return dir.error();
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
    std::filesystem::create_directories(*dir, ec);
    if (ec)
        return make_failure(error::io_error, fmt::format("cannot create {}: {}", dir->string(), ec.message()));
    auto r = migrate::detail::run_from_source({"tar", "-C", dir->string(), "-xf", "-"}, tar);
    if (!r) {
        std::filesystem::remove_all(*dir, ec);  // a half-unpacked checkpoint must not be restored from
        if (r.error_code() != error::command_failed) return r.error();
        return make_failure(error::corrupt_artifact,
                            fmt::format("checkpoint '{}' for container '{}' on {}: {}", name, id, endpoint(),
                                        r.error().message));
    }
    return {};
}

result<std::filesystem::path> engine::checkpoint_directory(std::string_view id, std::string_view name) {
    return impl_->checkpoint_dir(*this, id, name);
}

namespace {
// True when `path` lies on a mount with shared propagation (per /proc/self/mountinfo).
std::optional<bool> on_shared_mount(const std::filesystem::path& path) {
    std::ifstream in("/proc/self/mountinfo");
    if (!in) return std::nullopt;
    std::string line, best_point, best_opts;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, dev, root, point, opts, field, optional;
        ls >> id >> parent >> dev >> root >> point >> opts;
        while (ls >> field && field != "-") optional += field + " ";
        auto p = path.string();
        bool prefix = point == "/" || p == point || p.rfind(point + "/", 0) == 0;
        if (prefix && point.size() >= best_point.size()) { best_point = point; best_opts = optional; }
    }
    if (best_point.empty()) return std::nullopt;
    return best_opts.find("shared:") != std::string::npos;
}

// moby/moby#42900: dockerd uploads the checkpoint directory to containerd as a tar. Right after
// `checkpoint create` on the same daemon, containerd may still hold the identical blob it made
// while dumping (deleted, not yet garbage-collected), and the upload fails with "commit failed:
// content sha256:...: already exists". Seen here in 6 of 10 restores made at once on the same
// host, i.e. a rollback that brings a source back from its own checkpoint.
bool stale_checkpoint_blob(const failure& f) {
    return f.message.find("failed to upload checkpoint to containerd") != std::string::npos &&
           f.message.find("already exists") != std::string::npos;
}
}  // namespace

result<void> engine::start_from_checkpoint(std::string_view id, std::string_view name) {
    auto start = [&] {
        return impl_->call(impl_->small("POST", fmt::format("/containers/{}/start?checkpoint={}", seg(id), q(name))),
                           fmt::format("restore of container '{}' from checkpoint '{}'", id, name));
    };
    auto r = start();
    if (!r && stale_checkpoint_blob(r.error())) {
        // Make the directory's tar differ with a marker file CRIU does not read, and retry;
        // the marker goes again afterwards.
        if (auto dir = impl_->checkpoint_dir(*this, id, name)) {
            auto marker = *dir / ".migrate-restore-nonce";
            for (int attempt = 1; !r && attempt <= 3 && stale_checkpoint_blob(r.error()); ++attempt) {
                std::ofstream(marker) << attempt << ' ' << std::chrono::system_clock::now().time_since_epoch().count()
                                      << '\n';
                r = start();
            }
            std::error_code ec;
            std::filesystem::remove(marker, ec);
        }
    }
    if (!r) {
        // Seen here: a checkpoint from another daemon fails to restore ("mnt-v2: Failed to copy
        // sharing") when this daemon's data root is not on a shared mount. Say so.
        auto f = r.error();
        if (f.message.find("restore") != std::string::npos) {
            std::error_code ec;
            if (auto root = impl_->docker_root(); root && std::filesystem::exists(*root, ec))
                if (auto shared = on_shared_mount(*root); shared && !*shared)
                    f.message += fmt::format(" (hint: {0} is not on a shared mount; CRIU restores a checkpoint taken "
                                             "on another daemon only when it is: `mount --bind {0} {0}; mount "
                                             "--make-shared {0}` before starting dockerd)", root->string());
        }
        return f;
    }
    return {};
}

}  // namespace migrate::docker
