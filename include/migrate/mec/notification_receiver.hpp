// migrate/mec/notification_receiver.hpp — where a MEC platform's notifications arrive, and
// the subscriptions that make it send them, kept alive for as long as they are wanted.
//
// The receiver serves one callback path per subscription (`<advertised_url><path_prefix>/<id>`)
// on the SDK's net::http_server. The URL the platform is told is built from `advertised_url`,
// not from the address the server listens on: a remote platform (the ETSI MEC Sandbox)
// reaches us through a public address, a NAT or a tunnel that we cannot see from here.
//
// Lifetime: a subscription is created through the typed MEC clients (location.hpp, rnis.hpp,
// ams.hpp; see the `*_subscription_spec` helpers below). When the platform says when it ends
// (MEC013 `duration`, MEC012/MEC021 `expiryDeadline`), the receiver creates a new one on the
// same callback path before then (`renew_before`, or half the lifetime when that is shorter)
// and deletes the old one; an ExpiryNotification (MEC012: a body with `expiryDeadline` and
// no event) renews at once, and so does a platform that answers 404 for one when asked
// (`check_every`). `unsubscribe` and `stop` delete at the platform and return
// once no handler of theirs runs any more, so nothing is delivered after them.
#pragma once

#include <migrate/json.hpp>
#include <migrate/mec/ams.hpp>
#include <migrate/mec/client.hpp>
#include <migrate/mec/location.hpp>
#include <migrate/mec/rnis.hpp>
#include <migrate/net/http_server.hpp>
#include <migrate/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace migrate::mec {

struct notification_receiver_options {
    net::http_server_options server;         ///< where to listen (address 0.0.0.0 for a remote platform)
    /// "http://203.0.113.7:8080": what the platform must reach (scheme://host[:port], no path).
    /// Empty = the server's own URL, right only when the platform runs on this machine.
    std::string advertised_url;
    std::string path_prefix = "/mec/notify";        ///< callback paths are <prefix>/<id>
    std::chrono::seconds renew_before{30};           ///< re-subscribe this long before expiry
    std::chrono::milliseconds retry_after{2000};     ///< after a failed renewal
    /// Ask the platform this often whether each subscription still exists, and re-create one
    /// it answers 404 for (a platform restarted, or dropped it without an ExpiryNotification,
    /// so no notification would come again). 0 = never.
    std::chrono::seconds check_every{0};

    /// `invalid_argument` naming the field ("notification_receiver.advertised_url: ...").
    result<void> validate() const;
};
void to_json(json& j, const notification_receiver_options& o);
void from_json(const json& j, notification_receiver_options& o);

/// What a create returned: how to delete it, and until when it lives.
struct subscription_lease {
    std::string resource_url;   ///< the platform's resourceURL / _links.self.href
    std::optional<std::chrono::system_clock::time_point> expires;   ///< none = until deleted
};

/// One subscription, independent of its API: how to create and delete it, and what to do with
/// its notifications. `create` and `remove` are called from the caller's thread (subscribe,
/// unsubscribe, stop) and from the renewal thread, never at the same time.
struct subscription_spec {
    std::string name;   ///< "location zonalTraffic zone01": errors and status name it
    std::function<result<subscription_lease>(const std::string& callback_url)> create;
    std::function<result<void>(const std::string& resource_url)> remove;
    /// A notification's body (on a server thread). Its failure is answered 400 with the
    /// message as ProblemDetails, so a platform (and its logs) see what was wrong.
    std::function<result<void>(const json& body)> on_notification;
    /// Optional: whether the subscription at `resource_url` still exists (`not_found` if not);
    /// used with `check_every`.
    std::function<result<void>(const std::string& resource_url)> check;
};

struct subscription_status {
    std::string id;             ///< the receiver's, the last segment of the callback path
    std::string name;
    std::string callback_url;
    std::string resource_url;   ///< the current one at the platform
    std::optional<std::chrono::system_clock::time_point> expires;
    std::uint64_t renewals = 0;        ///< re-created (expiry, ExpiryNotification, or found gone)
    std::uint64_t notifications = 0;   ///< delivered to on_notification
    std::uint64_t rejected = 0;        ///< on_notification failed
    std::string last_error;            ///< of the last failed renewal or notification
};

class notification_receiver {
public:
    /// Listens. `invalid_argument` (options), `io_error` (cannot listen).
    static result<std::unique_ptr<notification_receiver>> start(notification_receiver_options o);
    ~notification_receiver();   ///< stop()
    notification_receiver(const notification_receiver&) = delete;
    notification_receiver& operator=(const notification_receiver&) = delete;

    /// Creates the subscription with its callback URL; its id. A failed create is returned
    /// naming the subscription and the callback URL, and nothing is kept.
    result<std::string> subscribe(subscription_spec spec);
    /// Deletes it at the platform (a failure is returned naming it, but it is dropped here
    /// anyway) and waits for its running handler. `not_found` for an unknown id. Must not be
    /// called from that subscription's own handler.
    result<void> unsubscribe(const std::string& id);
    /// Deletes every subscription, stops the server. Idempotent; not from a handler.
    void stop() noexcept;

    /// <advertised_url><path_prefix>: callback URLs start with it.
    std::string callback_base() const;
    /// The server's own URL (what it listens on).
    std::string local_url() const;
    std::vector<subscription_status> subscriptions() const;

private:
    struct impl;
    explicit notification_receiver(std::shared_ptr<impl> p);
    std::shared_ptr<impl> p_;
};

/// MEC TimeStamp -> system clock.
std::chrono::system_clock::time_point to_time_point(const time_stamp& t);
time_stamp to_time_stamp(std::chrono::system_clock::time_point t);

// Typed specs: each owns its own client (clients serve one thread at a time, and the renewal
// thread is not the caller's). `s.callback_url` is filled in by the receiver.
subscription_spec zonal_traffic_subscription_spec(client_options platform, location_flavour flavour,
                                                  zonal_traffic_subscription s,
                                                  std::function<result<void>(const zonal_presence_notification&, const json&)> on);
subscription_spec user_tracking_subscription_spec(client_options platform, location_flavour flavour,
                                                  user_tracking_subscription s,
                                                  std::function<result<void>(const zonal_presence_notification&, const json&)> on);
/// `lifetime`, when set, asks for an expiryDeadline that far from each (re)creation.
subscription_spec cell_change_subscription_spec(client_options platform, cell_change_subscription s,
                                                std::optional<std::chrono::seconds> lifetime,
                                                std::function<result<void>(const cell_change_notification&, const json&)> on);
subscription_spec mobility_procedure_subscription_spec(client_options platform, mobility_procedure_subscription s,
                                                       std::optional<std::chrono::seconds> lifetime,
                                                       std::function<result<void>(const mobility_procedure_notification&, const json&)> on);

}  // namespace migrate::mec
