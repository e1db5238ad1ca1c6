#include <migrate/detail/process.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/docker/runc_dump.hpp>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <cerrno>
#include <cstring>

#include <stdlib.h>

namespace migrate::docker {
namespace fs = std::filesystem;

namespace {

// The parent of `pid` (PPid in /proc/<pid>/status), or -1.
int parent_pid(int pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("PPid:", 0) == 0) return std::atoi(line.c_str() + 5);
    return -1;
}

std::vector<std::string> cmdline(int pid) {
    std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
    std::vector<std::string> args;
    for (std::string a; std::getline(in, a, '\0');) args.push_back(a);
    return args;
}

std::string flag_value(const std::vector<std::string>& args, std::string_view flag) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == flag || args[i] == fmt::format("-{}", flag)) return args[i + 1];
    return {};
}

// The last lines of CRIU's log that say what went wrong.
std::string log_tail(const fs::path& log, std::size_t lines = 4) {
    std::ifstream in(log);
    std::vector<std::string> errors, all;
    for (std::string line; std::getline(in, line);) {
        if (line.find("Error") != std::string::npos || line.find("error") != std::string::npos) errors.push_back(line);
        all.push_back(line);
    }
    auto& pick = errors.empty() ? all : errors;
    std::string out;
    for (std::size_t i = pick.size() > lines ? pick.size() - lines : 0; i < pick.size(); ++i)
        out += (out.empty() ? "" : " | ") + pick[i];
    return out;
}

bool has_restart_policy(const container_info& c) {
    const auto& h = c.spec.extra_host_config;
    if (!h.is_object() || !h.contains("RestartPolicy")) return false;
    auto name = h["RestartPolicy"].value("Name", std::string{});
    return !name.empty() && name != "no";
}

// The freezer of a container's cgroup, frozen by us before CRIU runs. Why: CRIU freezes the
// cgroup itself but then polls its state in steps of 100 ms (criu/seize.c), so every dump
// costs at least 100 ms of freeze waiting though the kernel freezes a few tasks in well under
// a millisecond. A cgroup found frozen is taken as it is; CRIU leaves it frozen after the
// dump, so we thaw it (a leave-running dump resumes the service, killed tasks of an exit
// dump can only die once thawed).
class cgroup_freeze {
public:
    explicit cgroup_freeze(int pid) {
        std::ifstream in(fmt::format("/proc/{}/cgroup", pid));
        std::string v1, v2;
        for (std::string line; std::getline(in, line);) {
            if (line.find(":freezer:") != std::string::npos) v1 = line.substr(line.find(":freezer:") + 9);
            if (line.rfind("0::", 0) == 0) v2 = line.substr(3);
        }
        std::error_code ec;
        if (!v1.empty() && fs::exists("/sys/fs/cgroup/freezer" + v1 + "/freezer.state", ec)) {
            state_ = "/sys/fs/cgroup/freezer" + v1 + "/freezer.state";
            freeze_v1();
        } else if (!v2.empty()) {
            for (auto base : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
                if (fs::exists(fs::path(base + v2) / "cgroup.freeze", ec)) {
                    v2_dir_ = fs::path(base + v2);
                    break;
                }
            if (!v2_dir_.empty()) freeze_v2();
        }
    }
    cgroup_freeze(const cgroup_freeze&) = delete;
    cgroup_freeze& operator=(const cgroup_freeze&) = delete;
    ~cgroup_freeze() {
        if (!touched_) return;
        if (!state_.empty()) write(state_, "THAWED");
        else write(v2_dir_ / "cgroup.freeze", "0");
    }

private:
    static bool write(const fs::path& p, std::string_view v) {
        std::ofstream out(p);
        out << v;
        out.flush();
        return static_cast<bool>(out);
    }
    static std::string read(const fs::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    // Waits up to 2 s in steps of 1 ms; a cgroup still freezing then is left to CRIU's own wait.
    static void wait_until(auto done) {
        for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    void freeze_v1() {
        if (read(state_).rfind("THAWED", 0) != 0) return;  // someone else's freeze: leave it to CRIU
        touched_ = write(state_, "FROZEN");
        if (touched_) wait_until([&] { return read(state_).rfind("FROZEN", 0) == 0; });
    }
    void freeze_v2() {
        if (read(v2_dir_ / "cgroup.freeze").rfind("0", 0) != 0) return;
        touched_ = write(v2_dir_ / "cgroup.freeze", "1");
        if (touched_) wait_until([&] { return read(v2_dir_ / "cgroup.events").find("frozen 1") != std::string::npos; });
    }

    fs::path state_, v2_dir_;
    bool touched_ = false;
};

}  // namespace

result<fs::path> runc_state_root(const container_info& c) {
    if (!c.running || c.pid <= 0)
        return make_failure(error::unsupported, fmt::format("container '{}' is not running: runc has no state to dump", c.name));
    const int shim = parent_pid(c.pid);
    if (shim <= 0)
        return make_failure(error::unsupported,
                            fmt::format("the process {} of container '{}' is not visible here (/proc/{}): the runc "
                                        "dumper needs the SDK on the daemon's machine",
                                        c.pid, c.name, c.pid));
    auto args = cmdline(shim);
    if (args.empty() || fs::path(args[0]).filename().string().rfind("containerd-shim-runc", 0) != 0)
        return make_failure(error::unsupported,
                            fmt::format("the parent of container '{}' (pid {}) is not a containerd runc shim ({})", c.name,
                                        shim, args.empty() ? "gone" : args[0]));
    auto address = flag_value(args, "-address"), ns = flag_value(args, "-namespace");
    if (address.empty() || ns.empty() || ns.find('/') != std::string::npos)
        return make_failure(error::unsupported,
                            fmt::format("the shim of container '{}' (pid {}) names no containerd address or namespace",
                                        c.name, shim));
    // <exec-root>/containerd/containerd.sock -> <exec-root>/runtime-runc/<ns>
    auto root = fs::path(address).parent_path().parent_path() / "runtime-runc" / ns;
    std::error_code ec;
    if (!fs::exists(root / c.id / "state.json", ec))
        return make_failure(error::unsupported, fmt::format("no runc state for container '{}' at {}", c.name,
                                                            (root / c.id / "state.json").string()));
    return root;
}

result<void> runc_dump_support(engine& e, std::string_view id) {
    auto c = e.inspect(id);
    if (!c) return c.error();
    if (has_restart_policy(*c))
        return make_failure(error::unsupported,
                            fmt::format("container '{}' has restart policy '{}': after a runc dump dockerd would restart it",
                                        c->name, c->spec.extra_host_config["RestartPolicy"].value("Name", "")));
    // CRIU locks the network of the dumped namespace (iptables chain CRIU) and, after a dump
    // with exit, leaves the lock for the restore to lift. In a namespace of the container's
    // own that goes with the container; in a shared one (the host's, another container's)
    // it stays and cuts that host off (seen: `--network host`). The daemon's path does not
    // leave it, so such containers go that way.
    const auto& mode = c->spec.network_mode;
    if (mode == "host" || mode.rfind("container:", 0) == 0)
        return make_failure(error::unsupported,
                            fmt::format("container '{}' shares a network namespace (network mode '{}'): CRIU's network "
                                        "lock would stay there after a runc dump",
                                        c->name, mode));
    MIGRATE_TRY(runc_state_root(*c));
    if (auto dir = e.checkpoint_directory(c->id, "probe"); !dir) return dir.error();
    detail::run_options quick;
    quick.timeout = std::chrono::milliseconds{5000};
    auto v = detail::run({"runc", "--version"}, quick);
    if (!v || v->exit_code != 0)
        return make_failure(error::unsupported,
                            fmt::format("runc is not runnable here ({})", v ? v->err : v.error().what()));
    return {};
}

result<void> runc_checkpoint(engine& e, std::string_view id, const checkpoint_options& opts) {
    if (opts.name.empty()) return make_failure(error::invalid_argument, "checkpoint_options.name: must not be empty");
    auto c = e.inspect(id);
    if (!c) return c.error();
    auto root = runc_state_root(*c);
    if (!root) return root.error();
    auto dir = e.checkpoint_directory(c->id, opts.name);
    if (!dir) return dir.error();
    std::error_code ec;
    if (fs::exists(*dir, ec))
        return make_failure(error::already_exists, fmt::format("checkpoint '{}' of container '{}' already exists on {}",
                                                               opts.name, c->name, e.endpoint()));
    fs::create_directories(dir->parent_path(), ec);
    // CRIU's log and stats go to a work directory of their own: the image directory is
    // what dockerd lists and restores, and must hold only the images.
    std::string tmpl = (fs::temp_directory_path() / "migrate-runc-dump-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
        return make_failure(error::io_error, fmt::format("cannot create a work directory {}: {}", tmpl, std::strerror(errno)));
    const fs::path work = tmpl;
    struct cleanup {
        fs::path p;
        ~cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } work_guard{work};

    std::vector<std::string> argv = {"runc", "--root", root->string(), "checkpoint", "--image-path", dir->string(),
                                     "--work-path", work.string()};
    if (!opts.exit) argv.push_back("--leave-running");
    argv.push_back(c->id);
    detail::run_options ro;
    ro.timeout = std::chrono::milliseconds{120000};
    auto r = [&] {
        cgroup_freeze freeze{c->pid};  // thawed on return: a leave-running service resumes, an exit dump's tasks die
        return detail::run(argv, ro);
    }();
    if (!r || r->exit_code != 0) {
        auto why = !r ? r.error().what() : fmt::format("exit code {}: {}", r->exit_code, log_tail(work / "dump.log"));
        fs::remove_all(*dir, ec);  // a partial image must not be restored from
        return make_failure(!r && r.error_code() == error::not_found ? error::unsupported : error::daemon_error,
                            fmt::format("runc checkpoint '{}' of container '{}' on {} failed: {}", opts.name, c->name,
                                        e.endpoint(), why));
    }
    return {};
}

}  // namespace migrate::docker
