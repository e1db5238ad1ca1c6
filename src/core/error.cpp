#include <migrate/error.hpp>

namespace migrate {
namespace {

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "migrate"; }
    std::string message(int ev) const override { return std::string(to_string(static_cast<error>(ev))); }
    std::error_condition default_error_condition(int ev) const noexcept override {
        return make_error_condition(condition_of(static_cast<error>(ev)));
    }
};

class condition_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "migrate.condition"; }
    std::string message(int ev) const override { return std::string(to_string(static_cast<condition>(ev))); }
    bool equivalent(const std::error_code& code, int cond) const noexcept override {
        if (code.category() == migrate::error_category())
            return condition_of(static_cast<error>(code.value())) == static_cast<condition>(cond);
        // Portable mapping of a few generic errors, so std::errc from sockets/files group too.
        if (code == std::errc::timed_out) return cond == static_cast<int>(condition::deadline_exceeded);
        if (code == std::errc::operation_canceled) return cond == static_cast<int>(condition::cancelled);
        if (code == std::errc::connection_refused || code == std::errc::connection_reset ||
            code == std::errc::host_unreachable || code == std::errc::network_unreachable)
            return cond == static_cast<int>(condition::unavailable);
        if (code == std::errc::no_such_file_or_directory) return cond == static_cast<int>(condition::not_found);
        return false;
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const error_category_impl c;
    return c;
}
const std::error_category& condition_category() noexcept {
    static const condition_category_impl c;
    return c;
}

std::string_view to_string(error e) noexcept {
    switch (e) {
        case error::ok: return "ok";
        case error::invalid_argument: return "invalid_argument";
        case error::not_found: return "not_found";
        case error::already_exists: return "already_exists";
        case error::daemon_unreachable: return "daemon_unreachable";
        case error::daemon_error: return "daemon_error";
        case error::conflict: return "conflict";
        case error::protocol_error: return "protocol_error";
        case error::corrupt_artifact: return "corrupt_artifact";
        case error::io_error: return "io_error";
        case error::timeout: return "timeout";
        case error::cancelled: return "cancelled";
        case error::unsupported: return "unsupported";
        case error::command_failed: return "command_failed";
        case error::permission_denied: return "permission_denied";
        case error::state_lost: return "state_lost";
        case error::internal: return "internal";
    }
    return "unknown";
}

std::string_view to_string(condition c) noexcept {
    switch (c) {
        case condition::ok: return "ok";
        case condition::invalid_argument: return "invalid_argument";
        case condition::not_found: return "not_found";
        case condition::already_exists: return "already_exists";
        case condition::failed_precondition: return "failed_precondition";
        case condition::unavailable: return "unavailable";
        case condition::aborted: return "aborted";
        case condition::deadline_exceeded: return "deadline_exceeded";
        case condition::cancelled: return "cancelled";
        case condition::unimplemented: return "unimplemented";
        case condition::data_loss: return "data_loss";
        case condition::internal: return "internal";
    }
    return "unknown";
}

condition condition_of(error e) noexcept {
    switch (e) {
        case error::ok: return condition::ok;
        case error::invalid_argument: return condition::invalid_argument;
        case error::not_found: return condition::not_found;
        case error::already_exists: return condition::already_exists;
        case error::daemon_unreachable: return condition::unavailable;
        case error::daemon_error: return condition::aborted;
        case error::conflict: return condition::failed_precondition;
        case error::protocol_error: return condition::internal;
        case error::corrupt_artifact: return condition::data_loss;
        case error::io_error: return condition::aborted;
        case error::timeout: return condition::deadline_exceeded;
        case error::cancelled: return condition::cancelled;
        case error::unsupported: return condition::unimplemented;
        case error::command_failed: return condition::aborted;
        case error::permission_denied: return condition::failed_precondition;
        case error::state_lost: return condition::data_loss;
        case error::internal: return condition::internal;
    }
    return condition::internal;
}

std::string_view retry_advice(condition c) noexcept {
    switch (c) {
        case condition::ok: return "nothing to do";
        case condition::invalid_argument: return "fix the input named in the message; retrying unchanged fails again";
        case condition::not_found: return "check the name and the host; retrying unchanged fails again";
        case condition::already_exists: return "choose another name or remove the existing one";
        case condition::failed_precondition: return "bring the system into the required state first, then retry";
        case condition::unavailable: return "transient: retry the same call with backoff";
        case condition::aborted: return "retry the whole migration from the start";
        case condition::deadline_exceeded: return "retry with a longer deadline if the operation is idempotent";
        case condition::cancelled: return "cancelled by the caller; do not retry automatically";
        case condition::unimplemented: return "this platform lacks the feature; choose another strategy";
        case condition::data_loss: return "state may be lost or corrupt; needs a human before retrying";
        case condition::internal: return "a bug in migrate; please report it with the report's details";
    }
    return "";
}

bool is_retryable(std::error_code ec) noexcept {
    return ec == condition::unavailable || ec == condition::deadline_exceeded;
}

}  // namespace migrate
