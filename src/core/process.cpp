// Program spawning with Boost.Process v1 (Boost 1.74): argument vectors only, no shell.
#include <migrate/detail/process.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include <array>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace bp = boost::process;
namespace asio = boost::asio;

namespace migrate::detail {
namespace {

constexpr std::size_t chunk_size = 64 * 1024;

result<boost::filesystem::path> resolve(const std::vector<std::string>& argv) {
    if (argv.empty()) return make_failure(error::invalid_argument, "empty command");
    const auto& exe = argv.front();
    if (exe.find('/') != std::string::npos) {
        if (::access(exe.c_str(), X_OK) != 0)
            return make_failure(error::not_found, "program " + exe + " not found or not executable");
        return boost::filesystem::path(exe);
    }
    auto p = bp::search_path(exe);
    if (p.empty()) {
        // sbin directories are not always on a non-login PATH.
        for (const char* dir : {"/usr/local/sbin", "/usr/sbin", "/sbin"}) {
            boost::filesystem::path c = boost::filesystem::path(dir) / exe;
            if (::access(c.c_str(), X_OK) == 0) return c;
        }
        return make_failure(error::not_found, "program '" + exe + "' not found on PATH");
    }
    return p;
}

std::string tail(const std::string& s, std::size_t n = 2000) {
    std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
}

std::vector<std::string> args_of(const std::vector<std::string>& argv) {
    return {argv.begin() + 1, argv.end()};
}

// In the child, before exec: every descriptor above stderr closes at exec. Why: pipes and
// sockets the parent made without O_CLOEXEC (Boost.Process's pipes, other threads' sockets)
// would otherwise leak into every child. Two children streaming at once (`tar -c` on one
// thread feeding `tar -x` on another) then hold each other's pipe ends: neither sees its end
// of stream and both wait forever (seen with bench_thesis_grid's raw checkpoint copy).
// Marked close-on-exec rather than closed, so Boost's own exec-error pipe keeps working; the
// stdio pipes are dup2'ed onto 0-2, which clears the flag there. Async-signal-safe (one
// syscall). Kernels before 5.11 lack the flag: the call fails and nothing changes.
void cloexec_above_stderr() {
#ifdef SYS_close_range
    (void)::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif
}
const auto no_inherited_fds = bp::extend::on_exec_setup = [](auto&) { cloexec_above_stderr(); };

// Collects a pipe into a string asynchronously.
void read_all(bp::async_pipe& pipe, std::string& into, std::array<char, 4096>& buf) {
    pipe.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& ec, std::size_t n) {
        if (n) into.append(buf.data(), n);
        if (!ec) read_all(pipe, into, buf);
    });
}

}  // namespace

std::string describe(const std::vector<std::string>& argv) {
    std::string s;
    for (auto& a : argv) {
        if (!s.empty()) s += ' ';
        s += a.find_first_of(" \t\"'") == std::string::npos ? a : "'" + a + "'";
    }
    return s;
}

result<command_output> run(const std::vector<std::string>& argv, const run_options& opts) {
    auto exe = resolve(argv);
    if (!exe) return exe.error();
    asio::io_context ioc;
    bp::async_pipe out_pipe(ioc), err_pipe(ioc), in_pipe(ioc);
    command_output res;
    std::array<char, 4096> obuf{}, ebuf{};
    std::error_code spawn_ec;
    bp::child child;
    try {
        auto cwd = opts.cwd.empty() ? boost::filesystem::current_path() : boost::filesystem::path(opts.cwd.string());
        child = bp::child(bp::exe = *exe, bp::args = args_of(argv), bp::std_out > out_pipe,
                          bp::std_err > err_pipe, bp::std_in < in_pipe, bp::start_dir = cwd, no_inherited_fds);
    } catch (const bp::process_error& e) {
        return make_failure(error::command_failed, "cannot start " + describe(argv) + ": " + e.what());
    }
    read_all(out_pipe, res.out, obuf);
    read_all(err_pipe, res.err, ebuf);
    if (!opts.stdin_data.empty()) {
        asio::async_write(in_pipe, asio::buffer(opts.stdin_data),
                          [&](const boost::system::error_code&, std::size_t) { in_pipe.close(); });
    } else {
        in_pipe.close();
    }
    bool timed_out = false;
    if (opts.timeout.count() > 0) {
        ioc.run_for(opts.timeout);
        if (!ioc.stopped()) {
            timed_out = true;
            std::error_code ec;
            child.terminate(ec);
            ioc.run_for(std::chrono::seconds(1));
        }
    } else {
        ioc.run();
    }
    std::error_code wait_ec;
    child.wait(wait_ec);
    if (timed_out)
        return make_failure(error::timeout, describe(argv) + " did not finish within " +
                                                std::to_string(opts.timeout.count()) + " ms");
    res.exit_code = child.exit_code();
    return res;
}

result<std::string> run_checked(const std::vector<std::string>& argv, const run_options& opts) {
    auto r = run(argv, opts);
    if (!r) return r.error();
    if (r->exit_code != 0)
        return make_failure(error::command_failed, describe(argv) + " exited with " + std::to_string(r->exit_code) +
                                                       (r->err.empty() ? std::string{} : ": " + tail(r->err)));
    return std::move(r->out);
}

result<void> run_to_sink(const std::vector<std::string>& argv, byte_sink& out, const run_options& opts) {
    auto exe = resolve(argv);
    if (!exe) return exe.error();
    asio::io_context ioc;
    bp::async_pipe out_pipe(ioc), err_pipe(ioc);
    std::string err;
    std::array<char, 4096> ebuf{};
    std::vector<std::byte> buf(chunk_size);
    std::optional<failure> sink_failure;
    bp::child child;
    try {
        child = bp::child(bp::exe = *exe, bp::args = args_of(argv), bp::std_out > out_pipe,
                          bp::std_err > err_pipe, bp::std_in < bp::null, no_inherited_fds);
    } catch (const bp::process_error& e) {
        return make_failure(error::command_failed, "cannot start " + describe(argv) + ": " + e.what());
    }
    read_all(err_pipe, err, ebuf);
    std::function<void()> pump = [&] {
        out_pipe.async_read_some(asio::buffer(buf.data(), buf.size()),
                                 [&](const boost::system::error_code& ec, std::size_t n) {
            if (n && !sink_failure) {
                if (auto w = out.write({buf.data(), n}); !w) {
                    sink_failure = w.error();
                    std::error_code ignored;
                    child.terminate(ignored);
                }
            }
            if (!ec) pump();
        });
    };
    pump();
    if (opts.timeout.count() > 0) {
        ioc.run_for(opts.timeout);
        if (!ioc.stopped()) {
            std::error_code ignored;
            child.terminate(ignored);
            child.wait(ignored);
            return make_failure(error::timeout, describe(argv) + " did not finish in time");
        }
    } else {
        ioc.run();
    }
    std::error_code wait_ec;
    child.wait(wait_ec);
    if (sink_failure) return *sink_failure;
    if (child.exit_code() != 0)
        return make_failure(error::command_failed, describe(argv) + " exited with " +
                                                       std::to_string(child.exit_code()) + ": " + tail(err));
    return {};
}

result<void> run_from_source(const std::vector<std::string>& argv, byte_source& in, const run_options& opts) {
    auto exe = resolve(argv);
    if (!exe) return exe.error();
    asio::io_context ioc;
    bp::async_pipe in_pipe(ioc), out_pipe(ioc), err_pipe(ioc);
    std::string out, err;
    std::array<char, 4096> obuf{}, ebuf{};
    std::vector<std::byte> buf(chunk_size);
    std::optional<failure> source_failure;
    bp::child child;
    try {
        child = bp::child(bp::exe = *exe, bp::args = args_of(argv), bp::std_in < in_pipe,
                          bp::std_out > out_pipe, bp::std_err > err_pipe, no_inherited_fds);
    } catch (const bp::process_error& e) {
        return make_failure(error::command_failed, "cannot start " + describe(argv) + ": " + e.what());
    }
    read_all(out_pipe, out, obuf);
    read_all(err_pipe, err, ebuf);
    std::function<void()> pump = [&] {
        auto n = in.read(buf);
        if (!n) { source_failure = n.error(); in_pipe.close(); return; }
        if (*n == 0) { in_pipe.close(); return; }
        asio::async_write(in_pipe, asio::buffer(buf.data(), *n),
                          [&](const boost::system::error_code& ec, std::size_t) {
            if (ec) { in_pipe.close(); return; }   // the child stopped reading; its exit says why
            pump();
        });
    };
    pump();
    if (opts.timeout.count() > 0) {
        ioc.run_for(opts.timeout);
        if (!ioc.stopped()) {
            std::error_code ignored;
            child.terminate(ignored);
            child.wait(ignored);
            return make_failure(error::timeout, describe(argv) + " did not finish in time");
        }
    } else {
        ioc.run();
    }
    std::error_code wait_ec;
    child.wait(wait_ec);
    if (source_failure) return *source_failure;
    if (child.exit_code() != 0)
        return make_failure(error::command_failed, describe(argv) + " exited with " +
                                                       std::to_string(child.exit_code()) + ": " + tail(err));
    return {};
}

result<int> spawn_daemon(const std::vector<std::string>& argv, const std::filesystem::path& log_file) {
    auto exe = resolve(argv);
    if (!exe) return exe.error();
    try {
        // A new session so the daemon outlives us and is not hit by our terminal's signals;
        // detach so Boost does not kill it when the child object goes away.
        bp::child c(bp::exe = *exe, bp::args = args_of(argv), bp::std_in < bp::null,
                    (bp::std_out & bp::std_err) > boost::filesystem::path(log_file.string()),
                    bp::extend::on_exec_setup = [](auto&) {
                        ::setsid();
                        cloexec_above_stderr();
                    });
        int pid = c.id();
        c.detach();
        return pid;
    } catch (const bp::process_error& e) {
        return make_failure(error::command_failed, "cannot start " + describe(argv) + ": " + e.what());
    }
}

bool process_alive(int pid) {
    if (pid <= 0) return false;
    // Reap it if it is our child and has exited.
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    if (::kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto rp = line.rfind(')');
    return !(rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] == 'Z');
}

bool kill_and_wait(int pid, std::chrono::milliseconds grace) {
    if (!process_alive(pid)) return true;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!process_alive(pid)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 40; ++i) {
        if (!process_alive(pid)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return !process_alive(pid);
}

}  // namespace migrate::detail
