#include <migrate/agent/client.hpp>

#include "channel.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

namespace migrate::agent {

using detail::channel;
using detail::field_or;
using detail::ms;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- options ------------------------------------------------------------------------------

result<void> client_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "client_options." + msg); };
    if (token.empty()) return bad("token: empty (the agents' shared token is required)");
    if (connect_timeout <= 0ms) return bad(fmt::format("connect_timeout: {} ms must be > 0", connect_timeout.count()));
    if (stall_timeout < 100ms) return bad(fmt::format("stall_timeout: {} ms must be >= 100", stall_timeout.count()));
    if (reply_timeout < 100ms) return bad(fmt::format("reply_timeout: {} ms must be >= 100", reply_timeout.count()));
    if (progress_interval < 20ms)
        return bad(fmt::format("progress_interval: {} ms must be >= 20", progress_interval.count()));
    if (chunk_bytes == 0 || chunk_bytes > limits.max_data_bytes)
        return bad(fmt::format("chunk_bytes: {} must be in 1..{} (limits.max_data_bytes)", chunk_bytes, limits.max_data_bytes));
    return {};
}

void to_json(json& j, const client_options& o) {
    j = json{{"token", o.token.empty() ? "" : "<set>"},
             {"name", o.name},
             {"connect_timeout_ms", o.connect_timeout.count()},
             {"stall_timeout_ms", o.stall_timeout.count()},
             {"reply_timeout_ms", o.reply_timeout.count()},
             {"progress_interval_ms", o.progress_interval.count()},
             {"chunk_bytes", o.chunk_bytes},
             {"max_json_bytes", o.limits.max_json_bytes},
             {"max_data_bytes", o.limits.max_data_bytes}};
}

void from_json(const json& j, client_options& o) {
    const char* w = "client_options";
    auto millis = [&](const char* key, std::chrono::milliseconds& out) {
        std::int64_t v = out.count();
        migrate::detail::read_field(j, w, key, v);
        out = std::chrono::milliseconds(v);
    };
    std::string token;
    migrate::detail::read_field(j, w, "token", token);
    if (token != "<set>") o.token = token;  // a dumped document does not carry the secret
    migrate::detail::read_field(j, w, "name", o.name);
    millis("connect_timeout_ms", o.connect_timeout);
    millis("stall_timeout_ms", o.stall_timeout);
    millis("reply_timeout_ms", o.reply_timeout);
    millis("progress_interval_ms", o.progress_interval);
    migrate::detail::read_field(j, w, "chunk_bytes", o.chunk_bytes);
    migrate::detail::read_field(j, w, "max_json_bytes", o.limits.max_json_bytes);
    migrate::detail::read_field(j, w, "max_data_bytes", o.limits.max_data_bytes);
}

// ---- helpers ------------------------------------------------------------------------------

namespace {

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

// The JSON of a reply frame; `protocol_error` for anything else.
result<json> expect_reply(const result<detail::frame>& fr, std::string_view context) {
    if (!fr) return fr.error();
    if (fr->type != frame_type::reply)
        return make_failure(error::protocol_error, fmt::format("{}: expected a reply frame, got a {} frame", context, to_string(fr->type)));
    json j = json::parse(fr->payload, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return make_failure(error::protocol_error, fmt::format("{}: the reply is not a JSON object", context));
    if (!field_or(j, "ok", false)) return failure_from_reply(j, context);
    return j;
}

// After our write failed or the peer spoke early: the peer's reply, if one is waiting.
std::optional<failure> pending_reply_failure(channel& ch, const frame_limits& limits, std::string_view context) {
    auto fr = ch.read_frame(limits, 1000ms, {});
    if (!fr || fr->type != frame_type::reply) return std::nullopt;
    auto j = expect_reply(fr, context);
    if (j) return make_failure(error::protocol_error, fmt::format("{}: answered before the stream ended", context));
    return j.error();
}

failure with_context(failure f, std::string_view context) {
    if (f.message.rfind(context, 0) != 0) f.message = fmt::format("{}: {}", context, f.message);
    return f;
}

}  // namespace

result<agent_client> agent_client::make(std::string_view address, client_options opts) {
    auto e = parse_endpoint(address, "agent address");
    if (!e) return e.error();
    MIGRATE_TRY(opts.validate());
    return agent_client(std::move(*e), std::move(opts));
}

// ---- calls --------------------------------------------------------------------------------

namespace {

result<void> send_request(channel& ch, const endpoint& peer, const client_options& o, const request& r,
                          std::stop_token stop) {
    MIGRATE_TRY(ch.connect(peer, o.connect_timeout, stop));
    return ch.write_frame(frame_type::request, json(r).dump(), o.stall_timeout, stop);
}

request base_request(const client_options& o, operation op) {
    request r;
    r.op = op;
    r.token = o.token;
    r.stall_timeout_ms = static_cast<std::uint32_t>(o.stall_timeout.count());
    r.reply_timeout_ms = static_cast<std::uint32_t>(o.reply_timeout.count());
    r.progress_interval_ms = static_cast<std::uint32_t>(o.progress_interval.count());
    return r;
}

}  // namespace

result<json> agent_client::ping(std::stop_token stop) const {
    auto context = fmt::format("agent at {}", peer_.to_string());
    channel ch;
    if (auto s = send_request(ch, peer_, opts_, base_request(opts_, operation::ping), stop); !s)
        return with_context(s.error(), context);
    auto j = expect_reply(ch.read_frame(opts_.limits, opts_.reply_timeout, stop), context);
    if (!j) return with_context(j.error(), context);
    return field_or(*j, "agent", json::object());
}

result<transfer_stats> agent_client::push(const artifact_spec& consume, const produce_fn& produce,
                                          const progress_fn& progress, std::stop_token stop) const {
    auto context = fmt::format("agent at {}", peer_.to_string());
    auto r = base_request(opts_, operation::consume);
    r.artifact = consume;
    r.from = opts_.name;
    MIGRATE_TRY(r.validate());
    channel ch;
    const auto t0 = clock::now();
    if (auto s = send_request(ch, peer_, opts_, r, stop); !s) return with_context(s.error(), context);

    detail::frame_sink sink(ch, opts_.chunk_bytes, opts_.stall_timeout, stop);
    std::optional<failure> early;  // the agent answered (with an error) before the stream ended
    sink.check = [&]() -> result<void> {
        if (!ch.input_pending()) return {};
        early = pending_reply_failure(ch, opts_.limits, context);
        if (!early) early = make_failure(error::io_error, fmt::format("{}: the connection was closed mid-stream", context));
        return *early;
    };
    if (progress) sink.on_progress = progress;

    auto produced = produce(sink);
    if (!produced) {
        if (early) return *early;
        const auto& f = produced.error();
        // A stalled link carries nothing more: fail now (the agent gives up on its own when
        // its read stalls as long).
        if (f.code == make_error_code(error::timeout)) return f;
        // Otherwise tell the agent why the stream ends; when our write failed because it had
        // already answered, its answer is the better explanation.
        sink.abort(f);
        if (f.code == make_error_code(error::io_error))
            if (auto pf = pending_reply_failure(ch, opts_.limits, context)) return *pf;
        return f;
    }
    auto end = sink.finish();
    if (!end) {
        if (early) return *early;
        if (end.error().code != make_error_code(error::timeout))
            if (auto pf = pending_reply_failure(ch, opts_.limits, context)) return *pf;
        return with_context(end.error(), context);
    }
    auto reply = expect_reply(ch.read_frame(opts_.limits, opts_.reply_timeout, stop), context);
    if (!reply) return with_context(reply.error(), context);

    transfer_stats st;
    st.bytes = end->bytes;
    st.seconds = seconds_since(t0);
    st.sha256 = to_hex(end->sha256);
    st.produced = *produced;
    st.consumed = field_or(*reply, "consumed", json::object());
    auto confirmed = field_or(*reply, "sha256", std::string{});
    if (confirmed != st.sha256)
        return make_failure(error::corrupt_artifact,
                            fmt::format("{}: confirmed SHA-256 {} but {} was sent", context, confirmed, st.sha256));
    return st;
}

result<transfer_stats> agent_client::fetch(const artifact_spec& produce, byte_sink& out, const progress_fn& progress,
                                           std::stop_token stop) const {
    auto context = fmt::format("agent at {}", peer_.to_string());
    auto r = base_request(opts_, operation::produce);
    r.artifact = produce;
    MIGRATE_TRY(r.validate());
    channel ch;
    const auto t0 = clock::now();
    if (auto s = send_request(ch, peer_, opts_, r, stop); !s) return with_context(s.error(), context);
    detail::frame_source src(ch, opts_.limits, opts_.stall_timeout, stop, context);
    if (progress) src.on_progress = progress;
    std::vector<std::byte> buf(256 * 1024);
    for (;;) {
        auto n = src.read(buf);
        if (!n) {
            // An error before the first data frame comes as a reply (e.g. a refused request).
            if (src.bytes() == 0 && n.error().code == make_error_code(error::protocol_error))
                if (auto f = pending_reply_failure(ch, opts_.limits, context)) return *f;
            return with_context(n.error(), context);
        }
        if (*n == 0) break;
        MIGRATE_TRY(out.write(std::span<const std::byte>(buf.data(), *n)));
    }
    auto reply = expect_reply(ch.read_frame(opts_.limits, opts_.reply_timeout, stop), context);
    if (!reply) return with_context(reply.error(), context);
    transfer_stats st;
    st.bytes = src.bytes();
    st.seconds = seconds_since(t0);
    st.sha256 = src.sha256();
    st.produced = field_or(*reply, "produced", json::object());
    return st;
}

result<transfer_stats> agent_client::relay(const artifact_spec& produce, std::string_view to, const artifact_spec& consume,
                                           const progress_fn& progress, std::stop_token stop) const {
    auto context = fmt::format("agent at {}", peer_.to_string());
    auto r = base_request(opts_, operation::relay);
    r.artifact = produce;
    r.consume = consume;
    r.to = std::string(to);
    MIGRATE_TRY(r.validate());
    channel ch;
    if (auto s = send_request(ch, peer_, opts_, r, stop); !s) return with_context(s.error(), context);
    // The relaying agent sends a progress frame every progress_interval, also while its push
    // is stalled, so silence for longer than this means the agent or our link to it is gone.
    const ms silence = opts_.progress_interval * 4 + 2000ms;
    for (;;) {
        auto fr = ch.read_frame(opts_.limits, std::max(silence, opts_.connect_timeout + 1000ms), stop);
        if (!fr) return with_context(fr.error(), context);
        if (fr->type == frame_type::progress) {
            json j = json::parse(fr->payload, nullptr, false);
            if (progress) progress(field_or(j, "bytes", std::uint64_t{0}));
            continue;
        }
        auto reply = expect_reply(fr, context);
        if (!reply) return reply.error();
        transfer_stats st;
        const json s = field_or(*reply, "stats", json::object());
        st.bytes = field_or(s, "bytes", std::uint64_t{0});
        st.seconds = field_or(s, "seconds", 0.0);
        st.sha256 = field_or(s, "sha256", std::string{});
        st.produced = field_or(s, "produced", json::object());
        st.consumed = field_or(s, "consumed", json::object());
        return st;
    }
}

}  // namespace migrate::agent
