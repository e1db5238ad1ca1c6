// tests/integration/criu_strategy_scene.hpp — what the checkpoint and shared_fs strategy
// tests share: a memcached (thesis A3) on testbed host a with a data set, a busybox counter
// whose state lives on disk, a UDP downtime prober, and `faulty_engine`.
//
// `faulty_engine` is a FAULT-INJECTING WRAPPER around the real engine of a testbed host (not
// a mock): every call goes to that host's dockerd, except the one step a test breaks:
// `refuse_restore` fails the CRIU restore; `unreachable` sends every call to a real engine
// whose socket has no daemon behind it, so the errors are the engine's own
// `daemon_unreachable`.
#pragma once

#include "testbed_fixture.hpp"

#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/migrator.hpp>
#include <migrate/pipe.hpp>
#include <migrate/probe.hpp>
#include <migrate/workload/memcached.hpp>
#include <migrate/workload/service_locator.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>


#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace migrate::test::criu_scene {

using namespace std::chrono_literals;

// FAULT-INJECTING WRAPPER (see the file comment).
class faulty_engine final : public container_runtime {
public:
    explicit faulty_engine(std::shared_ptr<docker::engine> real)
        : real_(std::move(real)),
          dead_(std::make_shared<docker::engine>(docker::engine_options{
              .socket = "/run/migrate-testbed/no-daemon-here.sock", .connect_timeout = 1000ms})) {}

    std::atomic<bool> refuse_restore{false};
    std::atomic<bool> unreachable{false};
    /// An exit checkpoint is taken for real (the service stops), then its files are deleted
    /// and the call fails: what dockerd does when containerd fails after the dump.
    std::atomic<bool> lose_exit_checkpoint{false};
    std::atomic<int> restores_refused{0};

    std::string endpoint() const override { return rt().endpoint(); }
    result<runtime_version> version() override { return rt().version(); }
    result<container_info> inspect(std::string_view id) override { return rt().inspect(id); }
    result<std::string> create(const container_spec& s) override { return rt().create(s); }
    result<void> start(std::string_view id) override { return rt().start(id); }
    result<void> stop(std::string_view id, std::chrono::seconds g) override { return rt().stop(id, g); }
    result<void> pause(std::string_view id) override { return rt().pause(id); }
    result<void> unpause(std::string_view id) override { return rt().unpause(id); }
    result<void> remove(std::string_view id, bool force) override { return rt().remove(id, force); }
    result<void> export_container(std::string_view id, byte_sink& out) override { return rt().export_container(id, out); }
    result<std::string> import_image(byte_source& t, std::string_view ref, const std::vector<std::string>& ch) override {
        return rt().import_image(t, ref, ch);
    }
    result<std::string> commit(std::string_view id, std::string_view ref, bool p) override { return rt().commit(id, ref, p); }
    result<void> save_images(const std::vector<std::string>& refs, byte_sink& out) override { return rt().save_images(refs, out); }
    result<std::vector<std::string>> load_images(byte_source& tar) override { return rt().load_images(tar); }
    result<image_info> inspect_image(std::string_view ref) override { return rt().inspect_image(ref); }
    result<void> remove_image(std::string_view ref, bool force) override { return rt().remove_image(ref, force); }
    result<std::vector<image_info>> list_images() override { return rt().list_images(); }
    result<volume_info> create_volume(std::string_view n, const std::map<std::string, std::string>& l) override {
        return rt().create_volume(n, l);
    }
    result<volume_info> inspect_volume(std::string_view n) override { return rt().inspect_volume(n); }
    result<void> remove_volume(std::string_view n, bool force) override { return rt().remove_volume(n, force); }
    result<void> export_volume(std::string_view n, byte_sink& out) override { return rt().export_volume(n, out); }
    result<void> import_volume(std::string_view n, byte_source& tar) override { return rt().import_volume(n, tar); }
    result<void> create_checkpoint(std::string_view id, const checkpoint_options& o) override {
        if (lose_exit_checkpoint && o.exit) {
            MIGRATE_TRY(rt().create_checkpoint(id, o));
            MIGRATE_TRY(rt().delete_checkpoint(id, o.name));
            return make_failure(error::daemon_error,
                                fmt::format("injected by faulty_engine: checkpoint '{}' of '{}' dumped, then lost on {}",
                                            o.name, id, endpoint()));
        }
        return rt().create_checkpoint(id, o);
    }
    result<std::vector<std::string>> list_checkpoints(std::string_view id) override { return rt().list_checkpoints(id); }
    result<void> delete_checkpoint(std::string_view id, std::string_view n) override { return rt().delete_checkpoint(id, n); }
    result<void> export_checkpoint(std::string_view id, std::string_view n, byte_sink& out) override {
        return rt().export_checkpoint(id, n, out);
    }
    result<void> import_checkpoint(std::string_view id, std::string_view n, byte_source& tar) override {
        return rt().import_checkpoint(id, n, tar);
    }
    result<void> start_from_checkpoint(std::string_view id, std::string_view n) override {
        if (refuse_restore) {
            ++restores_refused;
            return make_failure(error::daemon_error,
                                fmt::format("injected by faulty_engine: restore of '{}' from checkpoint '{}' refused on {}",
                                            id, n, endpoint()));
        }
        return rt().start_from_checkpoint(id, n);
    }
    result<std::filesystem::path> checkpoint_directory(std::string_view id, std::string_view n) override {
        return rt().checkpoint_directory(id, n);
    }

private:
    container_runtime& rt() const { return unreachable ? *dead_ : *real_; }
    std::shared_ptr<docker::engine> real_;
    std::shared_ptr<docker::engine> dead_;
};

inline std::shared_ptr<docker::engine> shared_engine_on(std::string_view host) {
    return std::make_shared<docker::engine>(docker::engine_options{.socket = tb_host(host).socket});
}

inline bool has_image(container_runtime& e, const std::string& ref) { return static_cast<bool>(e.inspect_image(ref)); }

/// The image `ref` built from `recipe` on `e`, once per testbed; returns its id.
inline std::string ensure_image(container_runtime& e, const std::string& ref, const image::image_recipe& recipe) {
    if (auto have = e.inspect_image(ref)) return have->id;
    auto id = image::build_image(e, recipe.rootfs, ref, recipe.changes);
    INFO(ref << " on " << e.endpoint());
    REQUIRE_OK(id);
    return *id;
}

/// Copies image `ref` from `from` to `to` (docker save | docker load), as a host that
/// already ran this service would hold it.
inline void copy_image(container_runtime& from, container_runtime& to, const std::string& ref) {
    auto moved = stream_between([&](byte_sink& out) { return from.save_images({ref}, out); },
                                [&](byte_source& in) -> result<void> {
                                    auto r = to.load_images(in);
                                    if (!r) return r.error();
                                    return {};
                                });
    INFO("copy image " << ref << " from " << from.endpoint() << " to " << to.endpoint());
    REQUIRE_OK(moved);
}

/// Connects (retrying while the server comes up) and counts the intact items.
inline std::optional<std::uint64_t> count_intact(const workload::memcached_dataset& ds, const std::string& host,
                                                 std::uint16_t port, std::chrono::milliseconds patience = 5s) {
    auto until = steady_clock::now() + patience;
    while (true) {
        if (auto c = workload::memcached_client::connect(host, port, 1s)) {
            auto n = c->count_intact(ds);
            if (n) return *n;
        }
        if (steady_clock::now() > until) return std::nullopt;
        std::this_thread::sleep_for(100ms);
    }
}

/// Loads `ds` into the memcached at host:port over TCP (retrying while it starts). The
/// client is closed before returning: CRIU cannot dump an established TCP connection.
inline void load_dataset(const workload::memcached_dataset& ds, const std::string& host, std::uint16_t port) {
    std::optional<workload::memcached_client> c;
    for (int i = 0; i < 50 && !c; ++i) {
        auto r = workload::memcached_client::connect(host, port);
        if (r) c.emplace(std::move(*r));
        else std::this_thread::sleep_for(100ms);
    }
    REQUIRE(c);
    REQUIRE_OK(c->load(ds));
    auto n = c->count_intact(ds);
    REQUIRE_OK(n);
    REQUIRE(*n == ds.items);
}

/// Waits until the data set in the memcached at host:port is static page for page
/// (`memcached_client::wait_settled`: its LRU maintainer re-links freshly stored items for
/// about a second after a bulk load). The connection is closed before returning (CRIU
/// cannot dump an established TCP connection).
inline bool wait_memcached_settled(const std::string& host, std::uint16_t port) {
    auto c = workload::memcached_client::connect(host, port);
    if (!c) return false;
    auto r = c->wait_settled();
    INFO(why(r));
    return r.has_value();
}

inline bool has_phase(const migration_report& rep, phase p, std::optional<phase> stage = std::nullopt) {
    return std::any_of(rep.phases.begin(), rep.phases.end(),
                       [&](const phase_timing& t) { return t.phase == p && (!stage || t.stage == stage); });
}

inline const phase_timing* find_phase(const migration_report& rep, phase p, std::optional<phase> stage = std::nullopt) {
    for (auto& t : rep.phases)
        if (t.phase == p && (!stage || t.stage == stage)) return &t;
    return nullptr;
}

/// The testbed's service network (same name on every host; each host its own subnet), where
/// migratable services run in their own network namespace: a CRIU dump then locks only the
/// container's network, not the whole edge host's (docs/testbed.md).
inline const std::string& service_network() {
    const auto& h = tb_host("a");
    if (h.service_network.empty())
        FAIL("testbed host a has no service network: bring the testbed up again with this build");
    return h.service_network;
}

/// The address of `container` on the service network of the host of `e`, once it has one.
inline std::string service_address(docker::engine& e, const std::string& container,
                                   std::chrono::milliseconds patience = 10s) {
    auto until = steady_clock::now() + patience;
    while (true) {
        auto a = e.container_address(container, service_network());
        if (a) return *a;
        if (steady_clock::now() > until) {
            INFO("container " << container << " on " << e.endpoint() << ": " << a.error().what());
            FAIL("no address on the service network");
        }
        std::this_thread::sleep_for(20ms);
    }
}

/// A UDP-get prober of one memcached key from the client side, every 5 ms, at the
/// container's address on a's and on b's service network (b's looked up while probing: it
/// exists only once b's dockerd attached the restored container).
struct memcached_prober {
    std::string key, value;
    std::uint16_t port;
    downtime_prober prober;
    memcached_prober(const workload::memcached_dataset& ds, const std::string& container, std::uint16_t p)
        : key(ds.key(0)), value(ds.value(0)), port(p),
          prober(workload::two_location_probe(
                     workload::container_address_locator(tb_host("a").socket, container, service_network()),
                     workload::container_address_locator(tb_host("b").socket, container, service_network()),
                     [this](const std::string& addr) { return workload::memcached_udp_get(addr, port, key, value, 5ms); }),
                 5ms, "memcached UDP get every 5 ms from the client side") {}
};

/// The counter a busybox loop keeps in the file `n` of its state directory: "<boot id> <n>".
/// The boot id is drawn when the shell starts, so a restarted process shows a new one, a
/// restored one the old one.
inline const char* const counter_script =
    "boot=$RANDOM$RANDOM; n=0; while true; do n=$((n+1)); echo \"$boot $n\" > /data/n; sleep 0.05; done";

struct counter_state {
    std::string boot;
    long n = -1;
};

/// Reads "<boot> <n>" from `file` (retrying over a write in progress).
inline std::optional<counter_state> read_counter(const std::filesystem::path& file, std::chrono::milliseconds patience = 2s) {
    auto until = steady_clock::now() + patience;
    while (true) {
        std::ifstream in(file);
        counter_state c;
        if (in >> c.boot >> c.n && c.n > 0) return c;
        if (steady_clock::now() > until) return std::nullopt;
        std::this_thread::sleep_for(20ms);
    }
}

}  // namespace migrate::test::criu_scene
