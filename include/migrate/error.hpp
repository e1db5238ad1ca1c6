// migrate/error.hpp — the SDK's error codes and the portable conditions they map to.
//
// Modelled on Boost.Beast's error/condition pair and Abseil's canonical codes: every
// `migrate::error` belongs to one `migrate::condition`, and each condition documents what
// a caller should do about it (retry the call, retry the whole migration, fix state).
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace migrate {

/// Specific failures the SDK reports. Compare against `condition` for portable handling.
enum class error {
    ok = 0,
    invalid_argument,      ///< a value given by the caller is malformed (names the field)
    not_found,             ///< container, image, volume, checkpoint, host... does not exist
    already_exists,        ///< a name already in use (container, testbed prefix, ...)
    daemon_unreachable,    ///< the engine's socket cannot be connected to
    daemon_error,          ///< the engine answered 5xx; its message is in the result
    conflict,              ///< the engine answered 409 (e.g. container running / not running)
    protocol_error,        ///< an answer we could not parse (bad JSON, bad framing)
    corrupt_artifact,      ///< an archive/image/checkpoint that is not what it claims
    io_error,              ///< local file or stream I/O failed
    timeout,               ///< a deadline passed
    cancelled,             ///< the caller's stop_token was triggered, or a sink aborted
    unsupported,           ///< the kernel/engine lacks a feature (e.g. soft-dirty tracking)
    command_failed,        ///< a spawned program exited non-zero (its stderr is in the result)
    permission_denied,     ///< the operation needs privileges we do not have
    state_lost,            ///< verification found state missing after a move
    internal,              ///< a bug in migrate
};

/// Portable groups with written retry guidance (Abseil's canonical codes).
enum class condition {
    ok = 0,
    invalid_argument,    ///< caller error; do not retry until the input is fixed
    not_found,           ///< does not exist; do not retry unchanged
    already_exists,      ///< pick another name or remove the old one
    failed_precondition, ///< state must be fixed first (e.g. container not running); then retry
    unavailable,         ///< transient: retry the same call, with backoff
    aborted,             ///< retry the whole operation (migration) from the start
    deadline_exceeded,   ///< retry with a longer deadline if the operation is idempotent
    cancelled,           ///< the caller asked for it; do not retry automatically
    unimplemented,       ///< the platform lacks it; choose another strategy
    data_loss,           ///< state was lost or corrupted; needs a human
    internal,            ///< bug; report it
};

/// The `std::error_category` of `migrate::error`.
const std::error_category& error_category() noexcept;
/// The `std::error_category` of `migrate::condition`.
const std::error_category& condition_category() noexcept;

inline std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), error_category()}; }
inline std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

/// Short stable name, e.g. "daemon_unreachable" (used in JSON reports).
std::string_view to_string(error e) noexcept;
std::string_view to_string(condition c) noexcept;
/// The condition a specific error belongs to.
condition condition_of(error e) noexcept;
/// What the caller should do about errors of this condition, in one sentence.
std::string_view retry_advice(condition c) noexcept;
/// True when retrying the same call unchanged may succeed (unavailable, deadline_exceeded).
bool is_retryable(std::error_code ec) noexcept;

inline std::string_view format_as(error e) noexcept { return to_string(e); }
inline std::string_view format_as(condition c) noexcept { return to_string(c); }

}  // namespace migrate

template <> struct std::is_error_code_enum<migrate::error> : std::true_type {};
template <> struct std::is_error_condition_enum<migrate::condition> : std::true_type {};
