// examples/vmd/twin_protocol.hpp — how a replica pool (strategy/replica_pool.hpp) talks to
// vMD twins, over the twins' own CoAP admin resources: ready = GET /health answers 2.05,
// assign = POST /assign {"device": id} (the twin loads the device's state from the store),
// release = POST /release {"device": id}.
#pragma once

#include <migrate/strategy/replica_pool.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace migrate::vmd {

/// The twin's device id for a pool subject: the SDN side names a device by its MAC
/// ("02:00:00:00:0d:01"), device ids take no ':' ("02-00-00-00-0d-01").
std::string device_id_of(std::string_view subject);

class twin_protocol final : public replica_protocol {
public:
    /// `call_timeout`: one CoAP exchange, retransmissions included.
    explicit twin_protocol(std::chrono::milliseconds call_timeout = std::chrono::milliseconds{2000})
        : call_timeout_(call_timeout) {}
    result<void> wait_ready(const service_instance& i, std::chrono::milliseconds within) override;
    result<void> assign(const service_instance& i, std::string_view subject) override;
    result<void> release(const service_instance& i, std::string_view subject) override;

private:
    std::chrono::milliseconds call_timeout_;
};

}  // namespace migrate::vmd
