#include <migrate/workload/service_locator.hpp>

#include <migrate/docker/engine.hpp>

#include <memory>
#include <mutex>

namespace migrate::workload {

address_locator fixed_address(std::string address) {
    return [a = std::move(address)]() -> std::optional<std::string> { return a; };
}

address_locator container_address_locator(std::filesystem::path socket, std::string container, std::string network,
                                          std::chrono::milliseconds min_interval) {
    struct state {
        std::mutex mu;
        std::unique_ptr<docker::engine> engine;
        std::optional<std::string> found;
        std::chrono::steady_clock::time_point last_lookup{};
    };
    auto st = std::make_shared<state>();
    // Short timeouts: a probe must return within about one interval.
    docker::engine_options o;
    o.socket = std::move(socket);
    o.connect_timeout = std::chrono::milliseconds(500);
    o.request_timeout = std::chrono::milliseconds(1000);
    auto e = docker::engine::make(o);
    if (e) st->engine = std::move(*e);
    return [st, container = std::move(container), network = std::move(network),
            min_interval]() -> std::optional<std::string> {
        std::lock_guard lk(st->mu);
        if (!st->engine) return std::nullopt;
        // Looked up often until found, then about once a second: a container restored on
        // its own host (a rolled-back move) may come back with another address.
        auto now = std::chrono::steady_clock::now();
        auto wait = st->found ? std::max<std::chrono::milliseconds>(min_interval, std::chrono::milliseconds(1000))
                              : min_interval;
        if (now - st->last_lookup < wait) return st->found;
        st->last_lookup = now;
        auto n = st->engine->inspect_network(network);
        if (!n) return st->found;   // the daemon did not answer: keep what we knew
        auto it = n->containers.find(container);
        if (it == n->containers.end() || it->second.empty()) st->found.reset();
        else st->found = it->second;
        return st->found;
    };
}

downtime_prober::probe_fn two_location_probe(address_locator source, address_locator target,
                                             std::function<bool(const std::string& address)> ask) {
    return [source = std::move(source), target = std::move(target), ask = std::move(ask)](int location) {
        auto address = location == 0 ? source() : target();
        return address && ask(*address);
    };
}

}  // namespace migrate::workload
