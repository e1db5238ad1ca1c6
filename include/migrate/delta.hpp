// migrate/delta.hpp — block-level delta of a directory of image files against a base copy
// of the same directory that the receiver already holds.
//
// Used for CRIU checkpoints: a first checkpoint is taken (service left running) and moved
// during preparation; at relocation the final checkpoint differs from it only in the pages
// the service wrote since. Both sides hold the base, so the sender compares block by block
// locally (no rsync-style round trip) and streams only blocks that changed, plus whole files
// that are new; the receiver rebuilds the directory from its base and the blocks. A block
// found at another offset of the base file is sent as a reference, not as bytes: CRIU
// writes pages in address order, so one page that became present low in memory shifts all
// pages after it. Every rebuilt file is checked against the sender's SHA-256, so a base that
// differs on the two sides is caught (`corrupt_artifact`), never restored from.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/stream.hpp>

#include <cstdint>
#include <filesystem>

namespace migrate {

struct delta_stats {
    std::uint64_t full_bytes = 0;      ///< size of every file of the new directory
    std::uint64_t stream_bytes = 0;    ///< bytes of the delta stream (what crosses the link)
    std::uint64_t changed_blocks = 0;  ///< blocks sent
    std::uint64_t moved_blocks = 0;    ///< blocks found at another offset of the base file (sent as a reference)
    std::uint64_t total_blocks = 0;    ///< blocks in the new directory
    std::uint64_t files = 0;           ///< regular files in the new directory
    std::uint64_t new_files = 0;       ///< files without a counterpart in the base (sent whole)
    std::size_t block_size = 4096;
    /// full_bytes / stream_bytes (how many times smaller the transfer was).
    double ratio() const noexcept { return stream_bytes ? double(full_bytes) / double(stream_bytes) : 0.0; }
};
void to_json(json& j, const delta_stats& s);

/// Writes the delta of directory `current` against directory `base` into `out` (not closed).
/// Regular files and directories only (a checkpoint holds nothing else); anything else is
/// `unsupported` naming the path.
result<delta_stats> write_dir_delta(const std::filesystem::path& base, const std::filesystem::path& current,
                                    byte_sink& out, std::size_t block_size = 4096);
/// Rebuilds `out_dir` (created; replaced if present; removed again on failure) from `base`
/// and the delta read from `in`. `corrupt_artifact` when the stream is malformed or a
/// rebuilt file's SHA-256 differs from the sender's.
result<delta_stats> apply_dir_delta(const std::filesystem::path& base, const std::filesystem::path& out_dir,
                                    byte_source& in);

}  // namespace migrate
