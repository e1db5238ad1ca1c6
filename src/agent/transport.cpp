#include <migrate/agent/client.hpp>
#include <migrate/agent/transport.hpp>

#include <fmt/format.h>

namespace migrate::agent {

using namespace std::chrono_literals;

result<void> agent_transport_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "agent_transport_options." + msg); };
    if (token.empty()) return bad("token: empty (the agents' shared token is required)");
    if (connect_timeout <= 0ms) return bad(fmt::format("connect_timeout: {} ms must be > 0", connect_timeout.count()));
    if (stall_timeout < 100ms) return bad(fmt::format("stall_timeout: {} ms must be >= 100", stall_timeout.count()));
    if (reply_timeout < 100ms) return bad(fmt::format("reply_timeout: {} ms must be >= 100", reply_timeout.count()));
    if (progress_interval < 20ms) return bad(fmt::format("progress_interval: {} ms must be >= 20", progress_interval.count()));
    return {};
}

void to_json(json& j, const agent_transport_options& o) {
    j = json{{"token", o.token.empty() ? "" : "<set>"},
             {"connect_timeout_ms", o.connect_timeout.count()},
             {"stall_timeout_ms", o.stall_timeout.count()},
             {"reply_timeout_ms", o.reply_timeout.count()},
             {"progress_interval_ms", o.progress_interval.count()}};
}

void from_json(const json& j, agent_transport_options& o) {
    const char* w = "agent_transport_options";
    auto millis = [&](const char* key, std::chrono::milliseconds& out) {
        std::int64_t v = out.count();
        migrate::detail::read_field(j, w, key, v);
        out = std::chrono::milliseconds(v);
    };
    std::string token;
    migrate::detail::read_field(j, w, "token", token);
    if (token != "<set>") o.token = token;
    millis("connect_timeout_ms", o.connect_timeout);
    millis("stall_timeout_ms", o.stall_timeout);
    millis("reply_timeout_ms", o.reply_timeout);
    millis("progress_interval_ms", o.progress_interval);
}

namespace {

class agent_transport final : public transport {
public:
    explicit agent_transport(agent_transport_options o) : opts_(std::move(o)) {}
    std::string_view name() const noexcept override { return "agent"; }

    result<transfer_stats> transfer(edge_host& from, const artifact_spec& produce, edge_host& to, const artifact_spec& consume,
                                    const progress_fn& progress, std::stop_token stop) override {
        auto context = fmt::format("{} from {} ({}) to {} ({}) as {}", produce.describe(), from.name, from.agent, to.name,
                                   to.agent, consume.describe());
        auto prefix = [&](failure f) {
            f.message = context + ": " + f.message;
            return f;
        };
        for (auto* h : {&from, &to})
            if (h->agent.empty())
                return make_failure(error::invalid_argument,
                                    fmt::format("{}: edge host '{}' has no agent (edge_host.agent is empty)", context, h->name));
        MIGRATE_TRY(produce.validate());
        MIGRATE_TRY(consume.validate());
        client_options co;
        co.token = opts_.token;
        co.name = "driver";
        co.connect_timeout = opts_.connect_timeout;
        co.stall_timeout = opts_.stall_timeout;
        co.reply_timeout = opts_.reply_timeout;
        co.progress_interval = opts_.progress_interval;
        auto client = agent_client::make(from.agent, co);
        if (!client) return prefix(client.error());
        if (auto e = parse_endpoint(to.agent, fmt::format("edge_host '{}'.agent", to.name)); !e) return prefix(e.error());
        auto r = client->relay(produce, to.agent, consume, progress, stop);
        if (!r) return prefix(r.error());
        return r;
    }

private:
    agent_transport_options opts_;
};

}  // namespace

result<std::shared_ptr<transport>> make_agent_transport(agent_transport_options opts) {
    MIGRATE_TRY(opts.validate());
    return std::static_pointer_cast<transport>(std::make_shared<agent_transport>(std::move(opts)));
}

}  // namespace migrate::agent
