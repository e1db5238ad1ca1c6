#include <migrate/workload/a1_poller.hpp>

#include <fmt/format.h>

#include <cmath>

namespace migrate::workload {

result<void> a1_poller_config::validate() const {
    if (name.empty()) return make_failure(error::invalid_argument, "a1_poller_config.name: must not be empty");
    if (image.empty()) return make_failure(error::invalid_argument, "a1_poller_config.image: must not be empty");
    if (url.rfind("http://", 0) != 0)
        return make_failure(error::invalid_argument,
                            "a1_poller_config.url: '" + url + "' must be http://IPv4:PORT/PATH (zone_server::url)");
    if (interval < std::chrono::milliseconds(10))
        return make_failure(error::invalid_argument, "a1_poller_config.interval: must be at least 10 ms");
    if (timeout <= std::chrono::milliseconds(0) || timeout > interval)
        return make_failure(error::invalid_argument,
                            "a1_poller_config.timeout: must be positive and at most the interval");
    return ok();
}

void to_json(json& j, const a1_poller_config& c) {
    j = json{{"name", c.name},       {"image", c.image},
             {"url", c.url},         {"network", c.network},
             {"interval_ms", c.interval.count()}, {"timeout_ms", c.timeout.count()}};
}

void from_json(const json& j, a1_poller_config& c) {
    using migrate::detail::read_field;
    const char* w = "a1_poller_config";
    read_field(j, w, "name", c.name);
    read_field(j, w, "image", c.image);
    read_field(j, w, "url", c.url);
    read_field(j, w, "network", c.network);
    std::int64_t ms = c.interval.count();
    read_field(j, w, "interval_ms", ms);
    c.interval = std::chrono::milliseconds(ms);
    ms = c.timeout.count();
    read_field(j, w, "timeout_ms", ms);
    c.timeout = std::chrono::milliseconds(ms);
}

container_spec a1_poller_spec(const a1_poller_config& c) {
    container_spec s;
    s.name = c.name;
    s.image = c.image;
    s.cmd = {"--url", c.url, "--interval-ms", std::to_string(c.interval.count()), "--timeout-ms",
             std::to_string(c.timeout.count())};
    s.network_mode = c.network.empty() ? "none" : c.network;
    s.labels["org.migrate.workload"] = "a1";
    return s;
}

result<void> a1_downtime_options::validate() const {
    MIGRATE_TRY(validate_network(source, "a1_downtime_options.source"));
    MIGRATE_TRY(validate_network(target, "a1_downtime_options.target"));
    // Overlap: either network's base address lies in the other.
    auto base = [](const std::string& n) { return n.substr(0, n.find('/')); };
    if (in_network(base(source), target) || in_network(base(target), source))
        return make_failure(error::invalid_argument,
                            fmt::format("a1_downtime_options: source {} and target {} overlap; the polls could not "
                                        "be told apart",
                                        source, target));
    if (interval <= std::chrono::milliseconds(0))
        return make_failure(error::invalid_argument, "a1_downtime_options.interval: must be positive");
    return ok();
}

result<downtime_measurement> a1_downtime(const std::vector<poll_record>& polls, const a1_downtime_options& opts) {
    MIGRATE_TRY(opts.validate());
    std::optional<std::chrono::steady_clock::time_point> last_source, first_target;
    std::uint64_t from_source = 0, from_target = 0, target_before_source = 0;
    for (auto& p : polls) {
        if (!opts.path.empty() && p.path != opts.path) continue;
        if (in_network(p.peer, opts.source)) {
            ++from_source;
            if (!first_target) last_source = p.at;
        } else if (in_network(p.peer, opts.target)) {
            ++from_target;
            if (!last_source) ++target_before_source;
            else if (!first_target) first_target = p.at;
        }
    }
    if (!last_source)
        return make_failure(error::not_found,
                            fmt::format("A1 downtime: no poll of {} from the source {} in {} record(s) ({} from the "
                                        "target {})",
                                        opts.path, opts.source, polls.size(), from_target, opts.target));
    if (!first_target)
        return make_failure(error::not_found,
                            fmt::format("A1 downtime: no poll from the target {} after the source's ({} poll(s) from "
                                        "the source {}, {} from the target, {} of them before the source's)",
                                        opts.target, from_source, opts.source, from_target, target_before_source));
    downtime_measurement m;
    m.downtime_ms = std::chrono::duration<double, std::milli>(*first_target - *last_source).count();
    m.probe_interval_ms = static_cast<double>(opts.interval.count());
    m.probes = from_source + from_target;
    auto slots = std::llround(m.downtime_ms / m.probe_interval_ms) - 1;
    m.failures = slots > 0 ? static_cast<std::uint64_t>(slots) : 0;
    m.method = fmt::format("A1 polls (GET {} every {} ms) seen by the location server: last from {} to first from {}",
                           opts.path, opts.interval.count(), opts.source, opts.target);
    return m;
}

}  // namespace migrate::workload
