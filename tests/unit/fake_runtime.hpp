// fake_runtime — an IN-MEMORY FAKE of `container_runtime` for unit-testing sequencing and
// rollback logic only. It never stands in for dockerd in an integration test or benchmark.
// Each call is logged; `fail_next[method]` makes that method fail once.
#pragma once

#include <migrate/runtime.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace migrate::test {

class fake_runtime final : public container_runtime {
public:
    struct container {
        container_info info;
        std::map<std::string, std::string> checkpoints;   // name -> bytes
        std::string memory = "fresh";                      // what a "process" remembers
    };
    std::string name;
    std::map<std::string, container> containers;          // by id
    std::set<std::string> images;                         // ids and references
    std::vector<std::string> calls;
    std::map<std::string, failure> fail_next;
    int next_id = 1;

    explicit fake_runtime(std::string n) : name(std::move(n)) {}

    std::string add_running(const std::string& cname, const std::string& image, const std::string& memory) {
        container c;
        c.info.id = name + "-id" + std::to_string(next_id++);
        c.info.name = cname;
        c.info.image_id = "sha256:" + image;
        c.info.status = "running";
        c.info.running = true;
        c.info.spec.name = cname;
        c.info.spec.image = image;
        c.memory = memory;
        images.insert(image);
        images.insert("sha256:" + image);
        containers[c.info.id] = c;
        return c.info.id;
    }
    container* find(std::string_view key) {
        for (auto& [id, c] : containers)
            if (id == key || c.info.name == key) return &c;
        return nullptr;
    }

    std::string endpoint() const override { return "fake://" + name; }
    result<runtime_version> version() override { return runtime_version{"fake", "1.41", true, "/"}; }

    result<container_info> inspect(std::string_view id) override {
        MIGRATE_TRY(hit("inspect"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, "container '" + std::string(id) + "' on " + endpoint());
        return c->info;
    }
    result<std::string> create(const container_spec& spec) override {
        MIGRATE_TRY(hit("create"));
        if (!images.count(spec.image)) return make_failure(error::not_found, "image " + spec.image);
        container c;
        c.info.id = name + "-id" + std::to_string(next_id++);
        c.info.name = spec.name;
        c.info.spec = spec;
        c.info.image_id = "sha256:" + spec.image;
        c.info.status = "created";
        containers[c.info.id] = c;
        return c.info.id;
    }
    result<void> start(std::string_view id) override {
        MIGRATE_TRY(hit("start"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        c->info.running = true;
        c->info.status = "running";
        c->memory = "fresh";
        return {};
    }
    result<void> stop(std::string_view id, std::chrono::seconds) override {
        MIGRATE_TRY(hit("stop"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        c->info.running = false;
        c->info.status = "exited";
        return {};
    }
    result<void> pause(std::string_view) override { return hit("pause"); }
    result<void> unpause(std::string_view) override { return hit("unpause"); }
    result<void> remove(std::string_view id, bool) override {
        MIGRATE_TRY(hit("remove"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        containers.erase(c->info.id);
        return {};
    }
    result<void> export_container(std::string_view, byte_sink&) override { return hit("export_container"); }
    result<std::string> import_image(byte_source&, std::string_view ref, const std::vector<std::string>&) override {
        MIGRATE_TRY(hit("import_image"));
        images.insert(std::string(ref));
        return std::string(ref);
    }
    result<std::string> commit(std::string_view, std::string_view ref, bool) override {
        MIGRATE_TRY(hit("commit"));
        images.insert(std::string(ref));
        return std::string(ref);
    }
    result<void> save_images(const std::vector<std::string>& refs, byte_sink& out) override {
        MIGRATE_TRY(hit("save_images"));
        std::string body = "IMAGES:";
        for (auto& r : refs) body += r + ";";
        return out.write(std::as_bytes(std::span(body)));
    }
    result<std::vector<std::string>> load_images(byte_source& in) override {
        MIGRATE_TRY(hit("load_images"));
        std::string body = drain(in);
        if (body.rfind("IMAGES:", 0) != 0) return make_failure(error::corrupt_artifact, "not an image tar");
        std::vector<std::string> loaded;
        for (std::size_t p = 7; p < body.size();) {
            auto e = body.find(';', p);
            loaded.push_back(body.substr(p, e - p));
            p = e + 1;
        }
        for (auto& l : loaded) { images.insert(l); images.insert("sha256:" + l); }
        return loaded;
    }
    result<image_info> inspect_image(std::string_view ref) override {
        MIGRATE_TRY(hit("inspect_image"));
        if (!images.count(std::string(ref))) return make_failure(error::not_found, "image " + std::string(ref));
        return image_info{std::string(ref), {}, 0, {}};
    }
    result<void> remove_image(std::string_view ref, bool) override {
        MIGRATE_TRY(hit("remove_image"));
        images.erase(std::string(ref));
        return {};
    }
    result<volume_info> create_volume(std::string_view n, const std::map<std::string, std::string>&) override {
        MIGRATE_TRY(hit("create_volume"));
        return volume_info{std::string(n), "local", "/", {}};
    }
    result<volume_info> inspect_volume(std::string_view n) override {
        MIGRATE_TRY(hit("inspect_volume"));
        return volume_info{std::string(n), "local", "/", {}};
    }
    result<void> remove_volume(std::string_view, bool) override { return hit("remove_volume"); }
    result<void> export_volume(std::string_view, byte_sink&) override { return hit("export_volume"); }
    result<void> import_volume(std::string_view, byte_source&) override { return hit("import_volume"); }

    result<void> create_checkpoint(std::string_view id, const checkpoint_options& o) override {
        MIGRATE_TRY(hit("create_checkpoint"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        c->checkpoints[o.name] = "MEMORY:" + c->memory;
        if (o.exit) { c->info.running = false; c->info.status = "exited"; }
        return {};
    }
    result<std::vector<std::string>> list_checkpoints(std::string_view id) override {
        MIGRATE_TRY(hit("list_checkpoints"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        std::vector<std::string> names;
        for (auto& [n, _] : c->checkpoints) names.push_back(n);
        return names;
    }
    result<void> delete_checkpoint(std::string_view id, std::string_view n) override {
        MIGRATE_TRY(hit("delete_checkpoint"));
        if (auto* c = find(id)) c->checkpoints.erase(std::string(n));
        return {};
    }
    result<void> export_checkpoint(std::string_view id, std::string_view n, byte_sink& out) override {
        MIGRATE_TRY(hit("export_checkpoint"));
        auto* c = find(id);
        if (!c || !c->checkpoints.count(std::string(n))) return make_failure(error::not_found, "checkpoint");
        return out.write(std::as_bytes(std::span(c->checkpoints[std::string(n)])));
    }
    result<void> import_checkpoint(std::string_view id, std::string_view n, byte_source& in) override {
        MIGRATE_TRY(hit("import_checkpoint"));
        auto* c = find(id);
        if (!c) return make_failure(error::not_found, std::string(id));
        c->checkpoints[std::string(n)] = drain(in);
        return {};
    }
    result<void> start_from_checkpoint(std::string_view id, std::string_view n) override {
        MIGRATE_TRY(hit("start_from_checkpoint"));
        auto* c = find(id);
        if (!c || !c->checkpoints.count(std::string(n))) return make_failure(error::not_found, "checkpoint");
        c->memory = c->checkpoints[std::string(n)].substr(7);
        c->info.running = true;
        c->info.status = "running";
        return {};
    }

private:
    result<void> hit(const std::string& method) {
        calls.push_back(method);
        if (auto it = fail_next.find(method); it != fail_next.end()) {
            auto f = it->second;
            fail_next.erase(it);
            return f;
        }
        return {};
    }
    static std::string drain(byte_source& in) {
        std::string s;
        std::vector<std::byte> buf(4096);
        for (;;) {
            auto n = in.read(buf);
            if (!n || *n == 0) return s;
            s.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
    }
};

}  // namespace migrate::test
