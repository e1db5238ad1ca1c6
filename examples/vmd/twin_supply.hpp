// examples/vmd/twin_supply.hpp — where the MD manager (md_manager.hpp) gets its twins: the
// part of a replica pool it needs, as an interface so its REST logic is tested without Docker,
// and `pooled_twins`, that interface over a real `replica_pool` of twin containers.
//
// `pooled_twins` adds what the pool does not do itself: knowing that a twin is gone. When a
// device comes back because its twin stopped answering, asking the dead twin to let go (the
// pool's `release` always asks) would cost the whole CoAP timeout on the device's way back;
// a twin released as gone is not asked (its protocol answers for it at once) and the pool
// removes its container as it does for any twin that failed to let go.
#pragma once

#include "twin_protocol.hpp"

#include <migrate/edge_host.hpp>
#include <migrate/strategy/replica_pool.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::vmd {

class twin_supply {
public:
    virtual ~twin_supply() = default;
    /// The hosts twins come from, in the order a tie between them is broken.
    virtual std::vector<std::string> hosts() const = 0;
    /// A twin on `host` serving `device` (it has loaded the device's state from the store).
    /// `not_found` for an unknown host, `already_exists` when the device has a twin, other
    /// codes when no twin could be had (the host cannot start one, the twin did not answer).
    virtual result<service_instance> assign(std::string_view device, std::string_view host) = 0;
    /// The device's twin lets go of it and leaves. With `twin_gone` the twin is known dead
    /// and is not asked. A failure says what the twin answered; the device is released anyway.
    virtual result<void> release(std::string_view device, bool twin_gone) = 0;
    /// True when `twin` answers within `within`.
    virtual bool answers(const service_instance& twin, std::chrono::milliseconds within) = 0;
    /// What the supply holds, per host (GET /pool).
    virtual json status() const = 0;
};

/// A `twin_supply` over a replica pool of twin containers (strategy/replica_pool.hpp,
/// twin_protocol.hpp). Thread safety: every member may be called from any thread.
class pooled_twins final : public twin_supply {
public:
    /// The pool over `hosts` (Docker engines) with `options`; nothing is started yet
    /// (`pool().fill()` does). `call_timeout`: one CoAP exchange with a twin.
    static result<std::unique_ptr<pooled_twins>> make(std::vector<edge_host> hosts, replica_pool_options options,
                                                      hooks h = {},
                                                      std::chrono::milliseconds call_timeout = std::chrono::milliseconds{2000});
    ~pooled_twins() override;

    std::vector<std::string> hosts() const override;
    result<service_instance> assign(std::string_view device, std::string_view host) override;
    result<void> release(std::string_view device, bool twin_gone) override;
    bool answers(const service_instance& twin, std::chrono::milliseconds within) override;
    json status() const override;

    replica_pool& pool() noexcept;

private:
    class gone_aware_protocol;
    pooled_twins(std::vector<std::string> hosts, std::shared_ptr<gone_aware_protocol> protocol,
                 std::unique_ptr<replica_pool> pool);
    std::vector<std::string> hosts_;
    std::shared_ptr<gone_aware_protocol> protocol_;
    std::unique_ptr<replica_pool> pool_;
};

}  // namespace migrate::vmd
