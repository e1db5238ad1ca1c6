// migrate/detail/process.hpp — spawning programs with an argument vector (never a shell
// string), through Boost.Process. Not for users: the SDK's own helper for ip, tc, nsenter,
// dockerd, tar, criu. Errors name the program and carry the tail of its stderr.
#pragma once

#include <migrate/result.hpp>
#include <migrate/stream.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace migrate::detail {

struct command_output {
    int exit_code = 0;
    std::string out;
    std::string err;
};

struct run_options {
    std::chrono::milliseconds timeout{0};          ///< 0 = none; on expiry the child is killed
    std::string stdin_data;                        ///< fed to the child's stdin (else /dev/null)
    std::filesystem::path cwd;                     ///< empty = inherit
};

/// "ip netns add x" — for messages only; never executed through a shell.
std::string describe(const std::vector<std::string>& argv);

/// Runs a program to completion and captures its output, whatever its exit code.
/// Fails (`not_found`) if the program does not exist, (`timeout`) if it overran.
result<command_output> run(const std::vector<std::string>& argv, const run_options& opts = {});

/// Like `run`, but a non-zero exit is a `command_failed` failure naming the command and
/// quoting its stderr. Returns stdout.
result<std::string> run_checked(const std::vector<std::string>& argv, const run_options& opts = {});

/// Runs a program and streams its stdout into `out` (e.g. `tar -c`), chunk by chunk.
result<void> run_to_sink(const std::vector<std::string>& argv, byte_sink& out, const run_options& opts = {});

/// Runs a program and streams `in` into its stdin (e.g. `tar -x`), chunk by chunk.
result<void> run_from_source(const std::vector<std::string>& argv, byte_source& in, const run_options& opts = {});

/// Starts a long-running program detached from us (own session), stdout+stderr appended to
/// `log_file`. Returns its pid. The caller stops it (`kill_and_wait`).
result<int> spawn_daemon(const std::vector<std::string>& argv, const std::filesystem::path& log_file);

/// SIGTERM, wait up to `grace`, then SIGKILL. True if the process is gone.
bool kill_and_wait(int pid, std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

/// True if a process with this pid exists (and is not a zombie).
bool process_alive(int pid);

}  // namespace migrate::detail
