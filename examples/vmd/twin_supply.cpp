#include "twin_supply.hpp"

#include <fmt/format.h>

#include <mutex>
#include <set>

namespace migrate::vmd {

// The twins' own protocol, except that a twin marked gone is not asked to let go.
class pooled_twins::gone_aware_protocol final : public replica_protocol {
public:
    explicit gone_aware_protocol(std::chrono::milliseconds call_timeout) : inner_(call_timeout) {}

    result<void> wait_ready(const service_instance& i, std::chrono::milliseconds within) override {
        return inner_.wait_ready(i, within);
    }
    result<void> assign(const service_instance& i, std::string_view subject) override { return inner_.assign(i, subject); }
    result<void> release(const service_instance& i, std::string_view subject) override {
        {
            std::lock_guard lk(mu_);
            if (gone_.erase(i.id))
                return make_failure(error::daemon_unreachable,
                                    fmt::format("twin {} at {} is gone; not asked to let go of {}", i.id, i.address, subject));
        }
        return inner_.release(i, subject);
    }
    void mark_gone(const std::string& id) {
        std::lock_guard lk(mu_);
        gone_.insert(id);
    }

private:
    twin_protocol inner_;
    std::mutex mu_;
    std::set<std::string> gone_;
};

pooled_twins::pooled_twins(std::vector<std::string> hosts, std::shared_ptr<gone_aware_protocol> protocol,
                           std::unique_ptr<replica_pool> pool)
    : hosts_(std::move(hosts)), protocol_(std::move(protocol)), pool_(std::move(pool)) {}

pooled_twins::~pooled_twins() = default;

result<std::unique_ptr<pooled_twins>> pooled_twins::make(std::vector<edge_host> hosts, replica_pool_options options,
                                                         hooks h, std::chrono::milliseconds call_timeout) {
    std::vector<std::string> names;
    for (auto& eh : hosts) names.push_back(eh.name);
    auto protocol = std::make_shared<gone_aware_protocol>(call_timeout);
    auto pool = replica_pool::make(std::move(hosts), std::move(options), protocol, std::move(h));
    if (!pool) return pool.error();
    return std::unique_ptr<pooled_twins>(new pooled_twins(std::move(names), std::move(protocol), std::move(*pool)));
}

std::vector<std::string> pooled_twins::hosts() const { return hosts_; }

result<service_instance> pooled_twins::assign(std::string_view device, std::string_view host) {
    return pool_->assign(device, host);
}

result<void> pooled_twins::release(std::string_view device, bool twin_gone) {
    if (twin_gone) {
        auto twin = pool_->instance_of(device);
        if (!twin) return pool_->release(device);   // the pool's not_found
        protocol_->mark_gone(twin->id);
        (void)pool_->release(device);   // the protocol's "gone" is expected: the pool removes the container
        return ok();
    }
    return pool_->release(device);
}

bool pooled_twins::answers(const service_instance& twin, std::chrono::milliseconds within) {
    return static_cast<bool>(protocol_->wait_ready(twin, within));
}

json pooled_twins::status() const { return pool_->status(); }

replica_pool& pooled_twins::pool() noexcept { return *pool_; }

}  // namespace migrate::vmd
