// Shared by the `[docker][rss]` integration test and benchmarks/export_rss.cpp: builds an
// image whose filesystem holds `data_bytes` of generated data (streamed, never on disk or in
// memory on our side), exports a container of it through `docker::engine` into a file, and
// measures this process's peak RSS (getrusage ru_maxrss) around the export.
#pragma once

#include <migrate/docker/engine.hpp>
#include <migrate/image/rootfs_builder.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace migrate::test {

struct export_rss_figures {
    std::uint64_t data_bytes = 0;        ///< generated file in the image
    std::uint64_t exported_bytes = 0;    ///< tar bytes written by the export
    double import_seconds = 0;           ///< build + streamed import of the image
    double export_seconds = 0;
    long peak_rss_kb_import = 0;         ///< ru_maxrss after the build/import (process peak so far)
    long peak_rss_kb_export = 0;         ///< ru_maxrss over the export alone (peak reset first)
    bool export_peak_isolated = false;   ///< false when the kernel refused the peak reset
};

/// A deterministic, cheap stream of `n` bytes (not zeros, so nothing can sparsify it).
class pattern_source final : public byte_source {
public:
    explicit pattern_source(std::uint64_t n) : left_(n) {}
    result<std::size_t> read(std::span<std::byte> b) override {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, b.size()));
        for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((pos_ + i) * 2654435761u >> 13);
        pos_ += n;
        left_ -= n;
        return n;
    }
    std::uint64_t size_hint() const noexcept override { return left_; }
private:
    std::uint64_t left_;
    std::uint64_t pos_ = 0;
};

inline long peak_rss_kb() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/// Resets the kernel's peak-RSS mark (VmHWM, which ru_maxrss reports) so the next reading
/// covers only what follows. False when not permitted.
inline bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

/// Runs the measurement against `eng`; removes the container and image it made.
inline result<export_rss_figures> measure_export_rss(docker::engine& eng, std::uint64_t data_bytes,
                                                     const std::filesystem::path& out_file,
                                                     const std::string& tag = "migrate-rss-test:1") {
    using clock = std::chrono::steady_clock;
    export_rss_figures f;
    f.data_bytes = data_bytes;
    const std::string name = "migrate-rss-test";
    (void)eng.remove(name, true);
    (void)eng.remove_image(tag, true);

    image::rootfs_spec spec;   // busybox only, plus the data
    spec.generated.push_back({"/data/blob", data_bytes,
                              [data_bytes] { return std::make_unique<pattern_source>(data_bytes); }});
    auto t0 = clock::now();
    auto id = image::build_image(eng, spec, tag, {"CMD [\"/bin/sh\"]"});
    if (!id) return id.error();
    f.import_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    f.peak_rss_kb_import = peak_rss_kb();

    container_spec cs;
    cs.name = name;
    cs.image = tag;
    auto cid = eng.create(cs);
    if (!cid) { (void)eng.remove_image(tag, true); return cid.error(); }

    f.export_peak_isolated = reset_peak_rss();
    auto sink = file_sink(out_file);
    counting_sink counted(*sink);
    auto t1 = clock::now();
    auto exported = eng.export_container(*cid, counted);
    auto closed = counted.close();
    f.export_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    f.peak_rss_kb_export = peak_rss_kb();
    f.exported_bytes = counted.bytes();

    (void)eng.remove(*cid, true);
    (void)eng.remove_image(tag, true);
    if (!exported) return exported.error();
    if (!closed) return closed.error();
    return f;
}

}  // namespace migrate::test
