// benchmarks/bench_support.hpp — what the benchmarks share: statistics, failing loudly,
// opening a running testbed (hosts, engines, transport), workload images on both hosts, the
// docker CLI spawned with an argument vector, and the phase timeline that splits a
// migration's stages into source / transfer / target time.
//
// Benchmarks only (not installed, not part of the SDK's interface): a benchmark dies on the
// first thing it cannot do, with a message naming what, so a number it prints always comes
// from a run that did what it says.
#pragma once

#include <migrate/agent/transport.hpp>
#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/edge_host.hpp>
#include <migrate/events.hpp>
#include <migrate/image/rootfs_builder.hpp>
#include <migrate/pipe.hpp>
#include <migrate/testbed/testbed.hpp>
#include <migrate/transport.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace migrate::bench {

// ---- failing loudly ------------------------------------------------------------------------

/// The name the benchmark's messages start with ("bench_thesis_grid").
inline std::string& program_name() {
    static std::string name = "bench";
    return name;
}

[[noreturn]] inline void die(const std::string& what) {
    fmt::print(stderr, "{}: {}\n", program_name(), what);
    std::exit(1);
}

template <class T>
T need(result<T> r, std::string_view what) {
    if (!r) die(fmt::format("{}: {}", what, r.error().what()));
    return std::move(*r);
}
inline void need(result<void> r, std::string_view what) {
    if (!r) die(fmt::format("{}: {}", what, r.error().what()));
}

// ---- statistics ----------------------------------------------------------------------------

/// The `p`-th percentile (0..100) by linear interpolation between the closest ranks; 0 for
/// no values. `percentile(v, 50)` is the median.
inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(rank));
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (rank - double(lo));
}
inline double median(std::vector<double> v) { return percentile(std::move(v), 50); }
inline double p95(std::vector<double> v) { return percentile(std::move(v), 95); }

/// Waits until `pred()` or `timeout`; the last answer.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds{50}) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

/// "0.52 0.61 0.70" (1, 5, 15 minutes) from /proc/loadavg: how busy the shared machine was.
inline std::string loadavg() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

// ---- the testbed ---------------------------------------------------------------------------

/// A running testbed's hosts a and b as a benchmark drives them.
struct bench_testbed {
    testbed::testbed tb;
    testbed::host ha, hb;
    std::shared_ptr<docker::engine> a, b;
    std::shared_ptr<migrate::transport> transport;   ///< local or through the hosts' agents
    std::string transport_kind;                      ///< "local" | "agent"

    edge_host source() const { return {"a", ha.address, a, ha.work_dir, ha.agent}; }
    edge_host target() const { return {"b", hb.address, b, hb.work_dir, hb.agent}; }
    /// A directory both hosts see, under the testbed's data directory (the shared_fs
    /// strategy's shared root here; NFS or CephFS between real hosts). Created.
    std::filesystem::path shared_root() const {
        auto root = tb.options().data_root / tb.options().name / "shared";
        std::filesystem::create_directories(root);
        return root;
    }
};

/// Opens testbed `name` (it must be up) with its hosts a and b; `transport_kind` "agent"
/// needs the testbed's agents (`migrate-testbed up --agents`) and uses their token.
inline bench_testbed open_testbed(const std::string& name, const std::string& transport_kind) {
    bench_testbed t;
    t.tb = need(testbed::testbed::open(name), "testbed " + name + " (bring it up with `migrate-testbed up --name " +
                                                  name + " --agents`)");
    t.ha = need(t.tb.find("a"), "host a");
    t.hb = need(t.tb.find("b"), "host b");
    if (t.ha.service_network.empty()) die("the testbed has no service network: bring it up again with this build");
    t.a = std::make_shared<docker::engine>(docker::engine_options{.socket = t.ha.socket});
    t.b = std::make_shared<docker::engine>(docker::engine_options{.socket = t.hb.socket});
    t.transport_kind = transport_kind;
    if (transport_kind == "agent") {
        if (t.ha.agent.empty() || t.hb.agent.empty())
            die("testbed " + name + " runs no agents: bring it up with --agents, or use --transport local");
        t.transport = need(agent::make_agent_transport({.token = need(t.tb.agent_token(), "agent token")}),
                           "agent transport");
    } else if (transport_kind == "local") {
        t.transport = make_local_transport();
    } else {
        die("transport '" + transport_kind + "': want agent or local");
    }
    return t;
}

/// Builds `ref` from `recipe` on a when a lacks it, then gives b the same image (same id) by
/// `docker save` on a streamed into `docker load` on b, unless b holds it already. Returns
/// the image id.
inline std::string ensure_image_on_both(bench_testbed& t, const image::image_recipe& recipe, const std::string& ref) {
    if (!t.a->inspect_image(ref)) need(image::build_image(*t.a, recipe.rootfs, ref, recipe.changes), "build " + ref);
    auto id = need(t.a->inspect_image(ref), ref + " on a").id;
    if (auto on_b = t.b->inspect_image(ref); !on_b || on_b->id != id)
        need(stream_between([&](byte_sink& out) { return t.a->save_images({ref}, out); },
                            [&](byte_source& in) -> result<void> {
                                auto r = t.b->load_images(in);
                                if (!r) return r.error();
                                return {};
                            }),
             "copy " + ref + " to b");
    return id;
}

/// The container's address on `network` once it has one; dies after `timeout`.
inline std::string address_of(docker::engine& e, const std::string& name, const std::string& network,
                              std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    std::string addr;
    if (!eventually([&] {
            auto r = e.container_address(name, network);
            if (r) addr = *r;
            return r.has_value();
        }, timeout, std::chrono::milliseconds{20}))
        die(fmt::format("container {} has no address on {} of {}", name, network, e.endpoint()));
    return addr;
}

/// Removes every image with a tag starting with `prefix` ("tg-raw/"); errors are fine.
inline void remove_images_tagged(docker::engine& e, std::string_view prefix) {
    if (auto imgs = e.list_images())
        for (auto& i : *imgs)
            for (auto& tag : i.tags)
                if (tag.rfind(prefix, 0) == 0) (void)e.remove_image(tag, true);
}

// ---- the docker CLI ------------------------------------------------------------------------

/// The docker CLI against one host's daemon: `docker -H unix://<socket> args...`, spawned
/// with an argument vector. Returns stdout with the trailing newline cut; a non-zero exit is
/// `command_failed` quoting docker's stderr.
struct docker_cli {
    std::string binary = "docker";
    std::filesystem::path socket;
    std::chrono::milliseconds timeout{180000};

    std::vector<std::string> argv(const std::vector<std::string>& args) const {
        std::vector<std::string> v{binary, "-H", "unix://" + socket.string()};
        v.insert(v.end(), args.begin(), args.end());
        return v;
    }
    result<std::string> operator()(const std::vector<std::string>& args) const {
        auto out = detail::run_checked(argv(args), {.timeout = timeout});
        if (!out) return out.error();
        auto s = std::move(*out);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        return s;
    }
};

/// `docker run`/`docker create` arguments that make `spec` (without the verb and `-d`):
/// name, network, env, workdir, user, mounts, entrypoint, image, cmd.
inline std::vector<std::string> docker_create_args(const container_spec& spec, const std::string& image) {
    std::vector<std::string> v{"--name", spec.name};
    if (!spec.network_mode.empty()) v.insert(v.end(), {"--network", spec.network_mode});
    for (auto& e : spec.env) v.insert(v.end(), {"-e", e});
    if (!spec.working_dir.empty()) v.insert(v.end(), {"-w", spec.working_dir});
    if (!spec.user.empty()) v.insert(v.end(), {"-u", spec.user});
    for (auto& m : spec.mounts) {
        if (m.type == mount_spec::kind::tmpfs) v.insert(v.end(), {"--tmpfs", m.target});
        else v.insert(v.end(), {"-v", m.source + ":" + m.target + (m.read_only ? ":ro" : "")});
    }
    std::vector<std::string> cmd;
    if (!spec.entrypoint.empty()) {
        v.insert(v.end(), {"--entrypoint", spec.entrypoint.front()});
        cmd.assign(spec.entrypoint.begin() + 1, spec.entrypoint.end());
    }
    cmd.insert(cmd.end(), spec.cmd.begin(), spec.cmd.end());
    v.push_back(image);
    v.insert(v.end(), cmd.begin(), cmd.end());
    return v;
}

// ---- splitting a stage into source / transfer / target ------------------------------------

/// Which side of a move a nested phase's time belongs to.
enum class side { source, transfer, target, other };

/// Records the phase events of one migration (attach with `hooks.on_event`) and splits the
/// time of a stage (`prepare` or `relocate`) into source work (snapshot, freeze), transfer
/// and target work (restore, resume, verify, route switch), by the union of the phases'
/// intervals, so nested phases (a commit's pause inside the commit) count once; time in two
/// sides counts for the transfer first, then the source. What no nested phase covers
/// (inspecting, checks, hooks) is `other`.
class phase_timeline {
public:
    void operator()(const phase_event& e) {
        if (e.what == phase_event::kind::begin) open_.push_back(e);
        if (e.what != phase_event::kind::end) return;
        for (auto it = open_.rbegin(); it != open_.rend(); ++it)
            if (it->phase == e.phase && it->detail == e.detail) {
                spans_.push_back({e.phase, it->at, e.at});
                open_.erase(std::next(it).base());
                return;
            }
    }

    /// Milliseconds of `stage` spent on each side.
    std::map<side, double> split(enum phase stage) const {
        std::map<side, double> out{{side::source, 0}, {side::transfer, 0}, {side::target, 0}, {side::other, 0}};
        for (auto& s : spans_) {
            if (s.p != stage) continue;
            intervals src, xfer, tgt;
            for (auto& n : spans_) {
                if (n.p == stage || n.from < s.from || n.to > s.to) continue;
                clip_add(side_of(n.p) == side::source ? src : side_of(n.p) == side::transfer ? xfer : tgt, n, s);
            }
            auto x = merged(xfer), sr = merged(src), tg = merged(tgt);
            const double xfer_ms = length(x);
            const double src_ms = length(sr) - overlap(sr, x);
            auto xs = merged(concat(x, sr));
            const double tgt_ms = length(tg) - overlap(tg, xs);
            out[side::transfer] += xfer_ms;
            out[side::source] += src_ms;
            out[side::target] += tgt_ms;
            out[side::other] += std::max(0.0, ms(s.to - s.from) - xfer_ms - src_ms - tgt_ms);
        }
        return out;
    }

    static side side_of(enum phase p) {
        switch (p) {
        case phase::snapshot:
        case phase::freeze: return side::source;
        case phase::transfer: return side::transfer;
        case phase::restore:
        case phase::resume:
        case phase::verify:
        case phase::route_switch: return side::target;
        default: return side::other;
        }
    }

private:
    struct span {
        enum phase p;
        steady_clock::time_point from, to;
    };
    using intervals = std::vector<std::pair<double, double>>;   // ms since the stage began
    static double ms(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
    static void clip_add(intervals& v, const span& n, const span& stage) {
        if (side_of(n.p) == side::other) return;
        v.emplace_back(ms(n.from - stage.from), ms(n.to - stage.from));
    }
    static intervals concat(intervals a, const intervals& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    }
    static intervals merged(intervals v) {
        std::sort(v.begin(), v.end());
        intervals out;
        for (auto& i : v) {
            if (!out.empty() && i.first <= out.back().second) out.back().second = std::max(out.back().second, i.second);
            else out.push_back(i);
        }
        return out;
    }
    static double length(const intervals& v) {
        double t = 0;
        for (auto& i : v) t += i.second - i.first;
        return t;
    }
    /// Length of the intersection of two merged interval lists.
    static double overlap(const intervals& a, const intervals& b) {
        double t = 0;
        std::size_t i = 0, j = 0;
        while (i < a.size() && j < b.size()) {
            t += std::max(0.0, std::min(a[i].second, b[j].second) - std::max(a[i].first, b[j].first));
            if (a[i].second < b[j].second) ++i;
            else ++j;
        }
        return t;
    }

    std::vector<phase_event> open_;
    std::vector<span> spans_;
};

}  // namespace migrate::bench
