// migrate/mec/user_context_endpoint.hpp — the receiving side of a user-context transfer
// (ETSI MEC021's "application self-controlled" relocation; AdvantEDGE's demo3): an app
// instance that keeps running serves one HTTP endpoint where another instance of the same
// app hands it a user's context, and offers that endpoint in the MEC011 service registry
// under a name derived from its app instance id, so that the sender finds it from nothing
// more than the AMS notification's `targetAppInfo.appInstanceId`.
//
// The wire (this SDK's own, both ends are ours):
//   PUT <uri>/users/<associateId.value>
//     {"associateId": {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"},
//      "sourceAppInstanceId": "app-a", "context": <the app's JSON>}
//   204 once the app's `on_context` stored it (the sender deletes nothing before that);
//   ProblemDetails 400 (malformed body, naming the field) or 500 (the app refused, its message).
// A repeated PUT of the same user replaces the context (the sender may retry).
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/ams.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace migrate::mec {

/// The registry name of `app_instance_id`'s endpoint: "<prefix><app_instance_id>".
std::string user_context_service_name(const std::string& prefix, const std::string& app_instance_id);

struct user_context_endpoint_options {
    client_options platform;                        ///< the MEC platform (MEC011 service registry)
    std::string app_instance_id;                    ///< this instance, as the platform allocated it
    std::string service_name_prefix = "user-context-";
    std::string listen_address = "127.0.0.1";       ///< IP literal to listen on
    std::uint16_t port = 0;                         ///< 0 = a free port
    /// The address other instances reach this one at, when it differs from `listen_address`
    /// (NAT, 0.0.0.0): "http://10.0.0.9:8080". Empty = the server's own URL.
    std::string advertised_url;
    bool register_service = true;                   ///< offer it in the registry (off: tests, no platform)

    /// `invalid_argument` naming the field.
    result<void> validate() const;
};
/// {"platform", "app_instance_id", "service_name_prefix", "listen_address", "port",
///  "advertised_url", "register_service"}
void to_json(json& j, const user_context_endpoint_options& o);
void from_json(const json& j, user_context_endpoint_options& o);

class user_context_endpoint {
public:
    /// Stores `context` for `device` (the app's own code). A failure is answered 500 with its
    /// message, and the sender keeps the context.
    using context_handler =
        std::function<result<void>(const associate_id& device, const json& context, const std::string& source_app)>;

    /// Listens, then (register_service) offers the endpoint in the registry. `invalid_argument`
    /// (options), `io_error` (cannot listen), the registry's failure naming the platform.
    static result<std::unique_ptr<user_context_endpoint>> start(const user_context_endpoint_options& o,
                                                                context_handler on_context);
    ~user_context_endpoint();
    user_context_endpoint(const user_context_endpoint&) = delete;
    user_context_endpoint& operator=(const user_context_endpoint&) = delete;

    /// Withdraws the service from the registry (best effort), stops the server; no handler
    /// runs afterwards. Idempotent.
    void stop() noexcept;

    /// "http://ADDRESS:PORT/user-context": what the registry says (`uris[0]`).
    std::string url() const;
    /// The registry's serInstanceId (empty when not registered).
    const std::string& service_instance_id() const noexcept;
    /// Contexts accepted so far.
    std::uint64_t received() const noexcept;

private:
    struct impl;
    explicit user_context_endpoint(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::mec
