// migrate/image/tar_writer.hpp — writes a POSIX (ustar + pax) tar stream into a `byte_sink`,
// entry by entry, so a rootfs of any size is produced without staging it on disk or in
// memory. Also the cheap "is this a tar at all?" check used before handing a stream to a
// daemon (so garbage is refused before anything is changed).
#pragma once

#include <migrate/result.hpp>
#include <migrate/stream.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace migrate::image {

/// Ownership, permissions and time of one tar entry.
struct tar_entry_meta {
    std::uint32_t mode = 0644;     ///< permission bits (incl. setuid/sticky), not the type
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::int64_t mtime = 0;        ///< seconds since the epoch; 0 keeps builds reproducible
};

/// Streams a tar archive. Paths are written relative ("usr/bin/x"; a leading '/' is
/// dropped); names longer than ustar allows get a pax extended header, as do sizes above
/// 8 GiB. The writer never closes the sink: the caller does, after `finish()`.
///
/// Errors: the sink's failure, or `io_error` naming the host file being copied.
/// Thread safety: not thread safe; one writer per stream.
class tar_writer {
public:
    explicit tar_writer(byte_sink& out, std::size_t chunk_size = 64 * 1024);

    /// A directory entry ("tmp/" with mode 01777, say).
    result<void> add_directory(std::string_view path, tar_entry_meta meta = {0755});
    /// A regular file with the given contents.
    result<void> add_file(std::string_view path, std::string_view content, tar_entry_meta meta = {});
    /// A regular file of exactly `size` bytes read from `content` (a shorter or longer source
    /// is an `io_error`: the archive would be corrupt).
    result<void> add_file(std::string_view path, byte_source& content, std::uint64_t size, tar_entry_meta meta = {});
    /// A regular file copied from the host, following symlinks; mode taken from the host
    /// file unless `mode` is given.
    result<void> add_host_file(std::string_view path, const std::filesystem::path& host_file,
                               std::optional<std::uint32_t> mode = std::nullopt);
    /// A symbolic link `path` -> `target`.
    result<void> add_symlink(std::string_view path, std::string_view target, tar_entry_meta meta = {0777});
    /// Writes the two zero blocks that end an archive. Call once, last.
    result<void> finish();

    /// Bytes written to the sink so far.
    std::uint64_t bytes_written() const noexcept { return written_; }

private:
    result<void> header(std::string_view path, char type, std::uint64_t size, std::string_view link,
                        const tar_entry_meta& meta);
    result<void> put(std::span<const std::byte> b);
    result<void> pad(std::uint64_t size);

    byte_sink& out_;
    std::size_t chunk_size_;
    std::uint64_t written_ = 0;
};

/// True when `first` (the first bytes of a stream, ideally 512) starts like something
/// `docker import`/`docker load` accept: a tar header with a valid checksum, an all-zero
/// block (empty tar), or gzip/bzip2/xz/zstd magic.
bool looks_like_archive(std::span<const std::byte> first) noexcept;

}  // namespace migrate::image
