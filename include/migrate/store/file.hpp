// migrate/store/file.hpp — a state store in a directory (a local disk or a volume several
// hosts mount). One file per key, written atomically (a temporary file, fsync, rename, fsync
// of the directory), so a reader sees the old or the new value, never a torn one.
//
// Compare-and-set is safe between processes: every write holds an flock on `.lock`, which
// also keeps the store-wide version counter (a key erased and written again continues above
// its old version). Every write appends a record (with the value) to `.journal`; watches
// read that journal, so they see every change in the order applied, also the changes of
// other processes. They poll it (`poll_interval`) rather than use inotify: on a volume shared
// by several hosts (NFS, the shared_fs strategy's mounts) inotify does not report another
// host's writes, and a poll costs one read() per interval. The journal starts over after
// `journal_max_bytes` (the old one is kept as `.journal.old`); a watch that falls more than a
// whole journal behind misses the changes in between. Durability: with `durable`, a write
// that returned survives a crash of the machine; without it, only a crash of the process.
// Keys map to file names by escaping every byte outside [A-Za-z0-9_.-] as %XX (and a leading
// '.'); a name longer than 200 bytes becomes '~' + the SHA-256 of the key. Names starting
// with '.' are the store's own. Thread safety: every member may be called from several
// threads at once; several processes may open the same directory.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/state_store.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace migrate::store {

struct file_store_options {
    std::filesystem::path directory;                  ///< required; created if missing
    bool durable = true;                              ///< fsync files and the directory on every write
    std::chrono::milliseconds poll_interval{20};      ///< how often a watch looks at the journal
    std::uint64_t journal_max_bytes = 4 << 20;        ///< when the journal starts over

    /// `invalid_argument` naming the field ("file_store_options.directory: empty").
    result<void> validate() const;
};
void to_json(json& j, const file_store_options& o);
void from_json(const json& j, file_store_options& o);

/// Opens (creating it if missing) the directory. `invalid_argument` for bad options,
/// `io_error` naming the directory when it cannot be created or locked.
result<std::unique_ptr<state_store>> make_file_store(file_store_options opts);

}  // namespace migrate::store
