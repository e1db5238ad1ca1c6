// Peak RSS of streaming a big container export through docker::engine.
//
// Builds an image whose filesystem holds --mb MiB of generated data (streamed into
// `docker import`, never staged), exports a container of it into a file, and prints the
// process's peak RSS (getrusage ru_maxrss) over the export alone and over the whole run,
// plus the command that reproduces the figure. Needs a dockerd (e.g. host a of a testbed).
//
//   bench_export_rss --socket /run/migrate-testbed/mci/a/docker.sock [--mb 500] [--out FILE]
#include "../tests/integration/docker_export_rss.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
    std::string socket;
    std::uint64_t mb = 500;
    std::filesystem::path out = std::filesystem::path("/var/tmp") / ("migrate-export-rss-" + std::to_string(::getpid()) + ".tar");
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) { fmt::print(stderr, "{} needs a value\n", a); std::exit(2); }
            return argv[++i];
        };
        if (a == "--socket") socket = next();
        else if (a == "--mb") mb = std::stoull(next());
        else if (a == "--out") out = next();
        else {
            fmt::print(stderr, "usage: {} --socket PATH [--mb N] [--out FILE]\n", argv[0]);
            return 2;
        }
    }
    if (socket.empty()) {
        fmt::print(stderr, "usage: {} --socket PATH [--mb N] [--out FILE]\n", argv[0]);
        return 2;
    }
    auto eng = migrate::docker::engine::make({.socket = socket});
    if (!eng) { fmt::print(stderr, "{}\n", eng.error().what()); return 1; }
    auto f = migrate::test::measure_export_rss(**eng, mb << 20, out, "migrate-rss-bench:1");
    std::error_code ec;
    std::filesystem::remove(out, ec);
    if (!f) { fmt::print(stderr, "export_rss: {}\n", f.error().what()); return 1; }
    fmt::print("export_rss: {} MiB in the container's filesystem, exported {} bytes\n", mb, f->exported_bytes);
    fmt::print("  build + streamed import   {:8.2f} s   peak RSS so far {:7.1f} MiB\n", f->import_seconds,
               f->peak_rss_kb_import / 1024.0);
    fmt::print("  export to file            {:8.2f} s   peak RSS {:7.1f} MiB{}  ({:.0f} MiB/s)\n", f->export_seconds,
               f->peak_rss_kb_export / 1024.0, f->export_peak_isolated ? " (export alone)" : " (whole process)",
               f->exported_bytes / 1048576.0 / std::max(f->export_seconds, 1e-9));
    fmt::print("  chunk size {} KiB\n", (*eng)->options().chunk_size / 1024);
    fmt::print("reproduce: {} --socket {} --mb {}\n", argv[0], socket, mb);
    return 0;
}
