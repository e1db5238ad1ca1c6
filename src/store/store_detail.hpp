// src/store/store_detail.hpp — what the state-store backends share (private to src/store):
// key checks, messages, base64, and the thread behind every watch, which gives all four
// backends the same cancel contract (after `cancel()` returns no callback runs, also when a
// callback cancels its own watch).
#pragma once

#include <migrate/json.hpp>
#include <migrate/state_store.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace migrate::store::detail {

inline constexpr std::size_t max_key_bytes = 1024;

bool valid_utf8(std::string_view s) noexcept;
/// The key for messages: quoted, control and non-UTF-8 bytes as \xNN, cut after 80 bytes.
std::string printable(std::string_view s);
/// `invalid_argument` naming the key and `where` unless it is non-empty UTF-8 of at most
/// 1024 bytes without NUL.
result<void> check_key(std::string_view key, std::string_view where);
/// Like `check_key`, but an empty prefix (= every key) is fine.
result<void> check_prefix(std::string_view prefix, std::string_view where);

/// A server backend's key prefix option (`field` names it): at most 256 bytes, no NUL.
result<void> check_store_prefix(std::string_view prefix, std::string_view field);
/// `j[key]` in milliseconds into `out` when present (`read_field`'s errors).
void read_millis(const json& j, const char* where, const char* key, std::chrono::milliseconds& out);

/// `conflict` for a compare-and-set that found `current` (0 = no such key).
failure version_conflict(std::string_view where, std::string_view key, std::int64_t expected, std::int64_t current);
/// `invalid_argument` for a negative expected version.
result<void> check_expected_version(std::string_view where, std::string_view key, std::int64_t expected);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

/// True when `key` starts with `prefix`.
inline bool has_prefix(std::string_view key, std::string_view prefix) noexcept {
    return key.substr(0, prefix.size()) == prefix;
}

/// What a watch's thread and its handle share. The thread's loop calls `deliver` and checks
/// `cancelled()` between blocking steps; `interrupt` (set by the backend before the thread
/// starts, thread-safe) wakes a blocking step so that cancel is prompt.
class watch_control {
public:
    explicit watch_control(std::function<void(const state_event&)> on_event) : on_event_(std::move(on_event)) {}

    bool cancelled() const noexcept { return cancelled_.load(); }
    /// Calls the user's callback unless cancelled; its exceptions are dropped (a watch
    /// thread has no caller to give them to).
    void deliver(const state_event& e) noexcept;

    std::function<void()> interrupt;

private:
    friend class watch_thread;
    std::atomic<bool> cancelled_{false};
    std::function<void(const state_event&)> on_event_;
};

/// The `state_watch` every backend returns: runs `loop(control)` on its own thread until
/// cancelled. `cancel` sets the flag, interrupts, and joins (or, when called from the
/// watch's own thread by a callback, lets the thread end on its own after that callback).
class watch_thread final : public state_watch {
public:
    watch_thread(std::shared_ptr<watch_control> control, std::function<void(watch_control&)> loop);
    ~watch_thread() override { cancel(); }
    void cancel() noexcept override;

private:
    std::shared_ptr<watch_control> control_;
    std::thread thread_;
    std::once_flag once_;
};

/// Starts `body->run(control)` on a watch's thread; `body->interrupt()` wakes it for cancel.
template <class Body>
std::unique_ptr<state_watch> start_watch_thread(std::shared_ptr<Body> body,
                                                std::function<void(const state_event&)> on_event) {
    auto control = std::make_shared<watch_control>(std::move(on_event));
    control->interrupt = [body] { body->interrupt(); };
    return std::make_unique<watch_thread>(control, [body](watch_control& c) { body->run(c); });
}

/// A watch body that sleeps on a condition variable between steps; `interrupt` ends it.
struct wakeable {
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;   ///< under `mu`

    void interrupt() {
        {
            std::lock_guard lk(mu);
            stopping = true;
        }
        cv.notify_all();
    }
};

}  // namespace migrate::store::detail
