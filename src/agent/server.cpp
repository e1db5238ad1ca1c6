// The host agent: accepts one request per connection, checks it, and runs produce /
// consume / relay on the local engine (see include/migrate/agent/server.hpp).
#include <migrate/agent/client.hpp>
#include <migrate/agent/server.hpp>
#include <migrate/docker/engine.hpp>
#include <migrate/version.hpp>

#include "channel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace migrate::agent {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using detail::channel;
using detail::ms;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// ---- options ------------------------------------------------------------------------------

namespace {
void read_millis(const json& j, const char* where, const char* key, std::chrono::milliseconds& out) {
    std::int64_t v = out.count();
    migrate::detail::read_field(j, where, key, v);
    out = std::chrono::milliseconds(v);
}
}  // namespace

result<void> server_limits::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "server_limits." + msg); };
    if (max_connections < 1 || max_connections > 1024)
        return bad(fmt::format("max_connections: {} is out of range (1..1024)", max_connections));
    if (request_timeout < 100ms) return bad(fmt::format("request_timeout: {} ms must be >= 100", request_timeout.count()));
    if (stall_timeout < 100ms) return bad(fmt::format("stall_timeout: {} ms must be >= 100", stall_timeout.count()));
    if (max_stall_timeout < stall_timeout)
        return bad(fmt::format("max_stall_timeout: {} ms is below stall_timeout ({} ms)", max_stall_timeout.count(),
                               stall_timeout.count()));
    if (reply_timeout < 100ms) return bad(fmt::format("reply_timeout: {} ms must be >= 100", reply_timeout.count()));
    if (progress_interval < 20ms)
        return bad(fmt::format("progress_interval: {} ms must be >= 20", progress_interval.count()));
    if (frames.max_json_bytes < 1024) return bad(fmt::format("frames.max_json_bytes: {} must be >= 1024", frames.max_json_bytes));
    if (frames.max_data_bytes < 4096) return bad(fmt::format("frames.max_data_bytes: {} must be >= 4096", frames.max_data_bytes));
    if (chunk_bytes == 0 || chunk_bytes > frames.max_data_bytes)
        return bad(fmt::format("chunk_bytes: {} must be in 1..{} (frames.max_data_bytes)", chunk_bytes, frames.max_data_bytes));
    return {};
}

void to_json(json& j, const server_limits& l) {
    j = json{{"max_connections", l.max_connections},
             {"request_timeout_ms", l.request_timeout.count()},
             {"stall_timeout_ms", l.stall_timeout.count()},
             {"max_stall_timeout_ms", l.max_stall_timeout.count()},
             {"reply_timeout_ms", l.reply_timeout.count()},
             {"progress_interval_ms", l.progress_interval.count()},
             {"chunk_bytes", l.chunk_bytes},
             {"max_json_bytes", l.frames.max_json_bytes},
             {"max_data_bytes", l.frames.max_data_bytes}};
}

void from_json(const json& j, server_limits& l) {
    const char* w = "server_limits";
    migrate::detail::read_field(j, w, "max_connections", l.max_connections);
    read_millis(j, w, "request_timeout_ms", l.request_timeout);
    read_millis(j, w, "stall_timeout_ms", l.stall_timeout);
    read_millis(j, w, "max_stall_timeout_ms", l.max_stall_timeout);
    read_millis(j, w, "reply_timeout_ms", l.reply_timeout);
    read_millis(j, w, "progress_interval_ms", l.progress_interval);
    migrate::detail::read_field(j, w, "chunk_bytes", l.chunk_bytes);
    migrate::detail::read_field(j, w, "max_json_bytes", l.frames.max_json_bytes);
    migrate::detail::read_field(j, w, "max_data_bytes", l.frames.max_data_bytes);
}

result<void> server_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "server_options." + msg); };
    boost::system::error_code ec;
    asio::ip::make_address(bind_address, ec);
    if (ec) return bad(fmt::format("bind_address: '{}' is not an IP address", bind_address));
    if (token.size() < 16)
        return bad(fmt::format("token: {} characters; at least 16 are required (use a random one)", token.size()));
    if (work_dir.empty() || !work_dir.is_absolute())
        return bad(fmt::format("work_dir: '{}' must be an absolute path", work_dir.string()));
    std::error_code fec;
    if (!fs::is_directory(work_dir, fec)) return bad(fmt::format("work_dir: '{}' is not a directory", work_dir.string()));
    if (docker_socket.empty()) return bad("docker_socket: empty");
    return limits.validate();
}

void to_json(json& j, const server_options& o) {
    j = json{{"bind_address", o.bind_address}, {"port", o.port},
             {"token", o.token.empty() ? "" : "<set>"}, {"work_dir", o.work_dir.string()},
             {"docker_socket", o.docker_socket.string()}, {"name", o.name}, {"limits", o.limits}};
}

void from_json(const json& j, server_options& o) {
    const char* w = "server_options";
    migrate::detail::read_field(j, w, "bind_address", o.bind_address);
    migrate::detail::read_field(j, w, "port", o.port);
    std::string token;
    migrate::detail::read_field(j, w, "token", token);
    if (token != "<set>") o.token = token;
    std::string s;
    migrate::detail::read_field(j, w, "work_dir", s);
    if (!s.empty()) o.work_dir = s;
    s.clear();
    migrate::detail::read_field(j, w, "docker_socket", s);
    if (!s.empty()) o.docker_socket = s;
    migrate::detail::read_field(j, w, "name", o.name);
    migrate::detail::read_field(j, w, "limits", o.limits);
}

// ---- helpers ------------------------------------------------------------------------------

namespace {

double secs_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

std::string rate(std::uint64_t bytes, double seconds) {
    if (seconds <= 0) return "-";
    return fmt::format("{:.1f} MB in {:.2f} s ({:.1f} Mbit/s)", double(bytes) / 1e6, seconds, double(bytes) * 8 / seconds / 1e6);
}

ms clamp_ms(std::uint32_t asked, ms dflt, ms lo, ms hi) {
    if (asked == 0) return dflt;
    return std::clamp(ms(asked), lo, hi);
}

// A `file` artifact must stay inside the work dir also after symlinks are resolved (the spec's
// own check is lexical: no "..", not absolute).
result<void> check_inside(const fs::path& work_dir, const artifact_spec& a, std::string_view field) {
    if (a.kind != artifact_kind::file) return {};
    std::error_code ec;
    auto root = fs::weakly_canonical(work_dir, ec);
    auto p = fs::weakly_canonical(work_dir / a.path, ec);
    if (ec) return make_failure(error::invalid_argument, fmt::format("{}.path: '{}': {}", field, a.path, ec.message()));
    auto rel = p.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..")
        return make_failure(error::invalid_argument,
                            fmt::format("{}.path: '{}' resolves to {}, outside the agent's work dir {}", field, a.path,
                                        p.string(), root.string()));
    return {};
}

// What a consume may leave behind, noted before it starts, so that a failed or unverified
// stream removes exactly what it made.
struct undo_plan {
    bool existed = false;  // the image reference / volume / checkpoint / file was there before

    static undo_plan before(container_runtime& rt, const fs::path& work_dir, const artifact_spec& a) {
        undo_plan u;
        switch (a.kind) {
        case artifact_kind::container_fs: u.existed = static_cast<bool>(rt.inspect_image(a.reference)); break;
        case artifact_kind::volume: u.existed = static_cast<bool>(rt.inspect_volume(a.volume)); break;
        case artifact_kind::checkpoint:
        case artifact_kind::checkpoint_delta: {
            auto l = rt.list_checkpoints(a.container);
            u.existed = l && std::find(l->begin(), l->end(), a.checkpoint) != l->end();
            break;
        }
        case artifact_kind::file: {
            std::error_code ec;
            u.existed = fs::exists(work_dir / a.path, ec);
            break;
        }
        case artifact_kind::images: break;
        }
        return u;
    }

    // Returns what was done, for the reply and the log.
    json run(container_runtime& rt, const fs::path& work_dir, const artifact_spec& a, const json* consumed) const {
        json done = json::array();
        auto note = [&](std::string what, const result<void>& r) {
            done.push_back(r ? what : what + " failed: " + r.error().what());
        };
        switch (a.kind) {
        case artifact_kind::container_fs:
            if (!existed && rt.inspect_image(a.reference)) note("removed image " + a.reference, rt.remove_image(a.reference, true));
            else if (existed) done.push_back("image " + a.reference + " existed before; left as it is");
            break;
        case artifact_kind::images:
            // A verified-failed load may have re-pointed tags at unverified content: drop them.
            if (consumed && consumed->contains("loaded"))
                for (auto& ref : (*consumed)["loaded"])
                    if (ref.is_string()) note("removed image " + ref.get<std::string>(), rt.remove_image(ref.get<std::string>(), false));
            break;
        case artifact_kind::volume:
            if (!existed && rt.inspect_volume(a.volume)) note("removed volume " + a.volume, rt.remove_volume(a.volume, true));
            else if (existed) done.push_back("volume " + a.volume + " existed before; its content may be partial");
            break;
        case artifact_kind::checkpoint:
        case artifact_kind::checkpoint_delta: {
            auto l = rt.list_checkpoints(a.container);
            bool now = l && std::find(l->begin(), l->end(), a.checkpoint) != l->end();
            if (now && !existed) note("deleted checkpoint " + a.checkpoint, rt.delete_checkpoint(a.container, a.checkpoint));
            if (!now) {
                // A checkpoint directory that the engine does not list (half-written) goes too.
                auto dir = rt.checkpoint_directory(a.container, a.checkpoint);
                std::error_code ec;
                if (dir && fs::exists(*dir, ec) && !existed) {
                    fs::remove_all(*dir, ec);
                    done.push_back("removed " + dir->string() + (ec ? " failed: " + ec.message() : ""));
                }
            }
            break;
        }
        case artifact_kind::file: {
            // Whatever is there now was (over)written by this stream and is unverified.
            std::error_code ec;
            auto p = work_dir / a.path;
            if (fs::exists(p, ec)) {
                fs::remove(p, ec);
                done.push_back("removed " + p.string() + (ec ? " failed: " + ec.message() : ""));
            }
            break;
        }
        }
        return done;
    }
};

json transfer_json(const transfer_stats& s) {
    json j = s;
    return j;
}

}  // namespace

// ---- the server ---------------------------------------------------------------------------

struct agent_server::impl {
    server_options opts;
    hooks h;
    runtime_factory make_rt;
    std::string me;  // our name in messages: "a" or the bind address

    asio::io_context accept_ctx;
    tcp::acceptor acceptor{accept_ctx};
    std::thread accept_thread;
    std::stop_source stopping;

    std::mutex m;
    std::condition_variable cv;
    bool stopped = false;
    bool joined = false;
    struct connection {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::list<connection> connections;

    std::atomic<std::uint64_t> next_id{1}, accepted{0}, refused{0}, succeeded{0}, failed{0}, bytes_in{0}, bytes_out{0};

    void log(std::string_view s) const { h.info(s); }

    void accept_next() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping.stop_requested()) return;
                log(fmt::format("agent {}: accept failed: {}", me, ec.message()));
                std::this_thread::sleep_for(50ms);  // e.g. out of descriptors: do not spin
                accept_next();
                return;
            }
            on_accept(std::move(s));
            accept_next();
        });
    }

    void reap() {
        for (auto it = connections.begin(); it != connections.end();) {
            if (it->done->load()) {
                it->thread.join();
                it = connections.erase(it);
            } else {
                ++it;
            }
        }
    }

    void on_accept(tcp::socket s) {
        ++accepted;
        std::lock_guard lock(m);
        reap();
        if (stopped) return;
        if (static_cast<int>(connections.size()) >= opts.limits.max_connections) {
            ++refused;
            // A fresh socket's send buffer is empty: this small write does not block.
            auto f = make_failure(error::daemon_unreachable,
                                  fmt::format("agent {} is busy ({} requests in progress); retry later", me, connections.size()));
            boost::system::error_code ec;
            s.non_blocking(true, ec);
            asio::write(s, asio::buffer(encode_frame(frame_type::reply, error_reply(f).dump())), ec);
            s.shutdown(tcp::socket::shutdown_both, ec);
            s.close(ec);
            log(fmt::format("agent {}: refused a connection: busy", me));
            return;
        }
        int fd = s.release();
        auto done = std::make_shared<std::atomic<bool>>(false);
        auto id = next_id++;
        connections.push_back({std::thread([this, fd, id, done] {
                                   try {
                                       serve(fd, id);
                                   } catch (const std::exception& e) {
                                       log(fmt::format("agent {}: #{}: internal error: {}", me, id, e.what()));
                                   }
                                   done->store(true);
                               }),
                               done});
    }

    // ---- one connection ----------------------------------------------------------------------

    void refuse(channel& ch, std::uint64_t id, const failure& f) {
        ++refused;
        log(fmt::format("agent {}: #{} {}: refused: {}", me, id, ch.peer(), f.what()));
        (void)ch.write_frame(frame_type::reply, error_reply(f).dump(), 2000ms, {});
        ch.linger_close(1000ms);
    }

    void finish(channel& ch, std::uint64_t id, const request& req, const result<json>& outcome, clock::time_point t0) {
        if (outcome) {
            ++succeeded;
            (void)ch.write_frame(frame_type::reply, outcome->dump(), 5000ms, stopping.get_token());
            log(fmt::format("agent {}: #{} {}: {}: ok{} ({:.2f} s)", me, id, ch.peer(), req.describe(),
                            outcome->contains("summary") ? ", " + (*outcome)["summary"].get<std::string>() : "",
                            secs_since(t0)));
            ch.close();
            return;
        }
        ++failed;
        log(fmt::format("agent {}: #{} {}: {}: FAILED: {} ({:.2f} s)", me, id, ch.peer(), req.describe(), outcome.error().what(),
                        secs_since(t0)));
        (void)ch.write_frame(frame_type::reply, error_reply(outcome.error()).dump(), 2000ms, {});
        ch.linger_close(1000ms);
    }

    void serve(int fd, std::uint64_t id) {
        channel ch(fd);
        auto stop = stopping.get_token();
        const auto& L = opts.limits;
        bool clean_eof = false;
        auto fr = ch.read_frame(L.frames, L.request_timeout, stop, &clean_eof);
        if (!fr) {
            if (!clean_eof) refuse(ch, id, fr.error());  // a bare connect-and-close (a port probe) gets no answer
            return;
        }
        if (fr->type != frame_type::request)
            return refuse(ch, id, make_failure(error::protocol_error,
                                               fmt::format("expected a request frame first, got a {} frame", to_string(fr->type))));
        // The token first: an unauthenticated caller learns nothing about what else is wrong.
        json raw = json::parse(fr->payload, nullptr, false);
        if (raw.is_discarded() || !raw.is_object())
            return refuse(ch, id, make_failure(error::protocol_error, "the request frame does not hold a JSON object"));
        auto tok = raw.find("token");
        if (tok == raw.end() || !tok->is_string() || !token_matches(opts.token, tok->get_ref<const std::string&>()))
            return refuse(ch, id, make_failure(error::permission_denied,
                                               fmt::format("agent {}: the request's token is missing or wrong; nothing was done", me)));
        auto req = parse_request(fr->payload);
        if (!req) return refuse(ch, id, req.error());
        if (req->op == operation::relay || req->op == operation::produce) {
            if (auto r = check_inside(opts.work_dir, req->artifact, req->op == operation::relay ? "request.produce" : "request.artifact"); !r)
                return refuse(ch, id, r.error());
        }
        if (req->op == operation::consume)
            if (auto r = check_inside(opts.work_dir, req->artifact, "request.artifact"); !r) return refuse(ch, id, r.error());

        const auto t0 = clock::now();
        switch (req->op) {
        case operation::ping: return finish(ch, id, *req, do_ping(), t0);
        case operation::produce: return do_produce(ch, id, *req, t0);
        case operation::consume: return finish(ch, id, *req, do_consume(ch, *req), t0);
        case operation::relay: return finish(ch, id, *req, do_relay(ch, *req), t0);
        }
    }

    ms stall_of(const request& r) const {
        return clamp_ms(r.stall_timeout_ms, opts.limits.stall_timeout, 100ms, opts.limits.max_stall_timeout);
    }
    ms reply_of(const request& r) const {
        return clamp_ms(r.reply_timeout_ms, opts.limits.reply_timeout, 100ms, std::max(opts.limits.reply_timeout, opts.limits.max_stall_timeout));
    }

    result<json> do_ping() {
        auto rt = make_rt();
        json docker;
        if (auto v = rt->version()) docker = json{{"answering", true}, {"version", v->version}, {"api_version", v->api_version},
                                                  {"experimental", v->experimental}};
        else docker = json{{"answering", false}, {"error", v.error().what()}};
        return json{{"ok", true},
                    {"agent", {{"name", opts.name}, {"version", migrate::version_string}, {"protocol", protocol_version},
                               {"work_dir", opts.work_dir.string()}, {"docker_socket", opts.docker_socket.string()},
                               {"docker", docker}, {"stats", stats()}}}};
    }

    void do_produce(channel& ch, std::uint64_t id, const request& req, clock::time_point t0) {
        auto rt = make_rt();
        auto stop = stopping.get_token();
        detail::frame_sink sink(ch, opts.limits.chunk_bytes, stall_of(req), stop);
        // The receiver says nothing while we stream: input means it closed (gave up).
        sink.check = [&]() -> result<void> {
            if (ch.input_pending())
                return make_failure(error::cancelled, fmt::format("{} closed the connection mid-stream", ch.peer()));
            return {};
        };
        auto produced = produce_artifact(*rt, opts.work_dir, req.artifact, sink);
        if (!produced) {
            ++failed;
            log(fmt::format("agent {}: #{} {}: {}: FAILED: {} ({:.2f} s)", me, id, ch.peer(), req.describe(),
                            produced.error().what(), secs_since(t0)));
            sink.abort(produced.error());
            ch.linger_close(1000ms);
            return;
        }
        auto end = sink.finish();
        bytes_out += sink.bytes();
        if (!end) {
            ++failed;
            log(fmt::format("agent {}: #{} {}: {}: FAILED: {} ({:.2f} s)", me, id, ch.peer(), req.describe(), end.error().what(),
                            secs_since(t0)));
            ch.close();
            return;
        }
        auto secs = secs_since(t0);
        finish(ch, id, req,
               json{{"ok", true}, {"produced", *produced}, {"bytes", end->bytes}, {"sha256", to_hex(end->sha256)},
                    {"seconds", secs}, {"summary", rate(end->bytes, secs)}},
               t0);
    }

    result<json> do_consume(channel& ch, const request& req) {
        auto rt = make_rt();
        auto stop = stopping.get_token();
        const auto& a = req.artifact;
        auto undo = undo_plan::before(*rt, opts.work_dir, a);
        std::string sender = req.from.empty() ? ch.peer() : fmt::format("{} ({})", req.from, ch.peer());
        detail::frame_source src(ch, opts.limits.frames, stall_of(req), stop, sender);
        const auto t0 = clock::now();
        auto consumed = consume_artifact(*rt, opts.work_dir, a, src);
        result<void> verdict = consumed ? src.drain() : result<void>{consumed.error()};
        bytes_in += src.bytes();
        if (!consumed || !verdict) {
            // The stream's own failure (stall, abort, digest) is the cause; the consumer's
            // error is its consequence.
            failure f = src.failed() ? *src.failed() : (!consumed ? consumed.error() : verdict.error());
            auto undone = undo.run(*rt, opts.work_dir, a, consumed ? &*consumed : nullptr);
            f.message = fmt::format("agent {}: consuming {} from {}: {}", me, a.describe(), sender, f.message);
            if (!undone.empty()) {
                std::string list;
                for (auto& u : undone) list += (list.empty() ? "" : "; ") + u.get<std::string>();
                f.message += " [cleanup: " + list + "]";
            }
            return f;
        }
        auto secs = std::chrono::duration<double>(clock::now() - t0).count();
        return json{{"ok", true},           {"bytes", src.bytes()}, {"sha256", src.sha256()}, {"seconds", secs},
                    {"consumed", *consumed}, {"summary", rate(src.bytes(), secs)}};
    }

    result<json> do_relay(channel& ch, const request& req) {
        client_options co;
        co.token = opts.token;
        co.name = me;
        co.stall_timeout = stall_of(req);
        co.connect_timeout = std::min<ms>(5000ms, std::max<ms>(co.stall_timeout, 1000ms));
        co.reply_timeout = reply_of(req);
        co.chunk_bytes = opts.limits.chunk_bytes;
        co.limits = opts.limits.frames;
        auto peer = agent_client::make(req.to, co);
        if (!peer) return peer.error();
        const ms interval = clamp_ms(req.progress_interval_ms, opts.limits.progress_interval, 20ms, 10000ms);

        std::stop_source cancel;
        std::stop_callback on_shutdown(stopping.get_token(), [&] { cancel.request_stop(); });
        std::atomic<std::uint64_t> sent{0};
        std::mutex mx;
        std::condition_variable done_cv;
        bool done = false;
        result<transfer_stats> outcome = make_failure(error::internal, "relay did not run");

        std::thread worker([&] {
            result<transfer_stats> r = make_failure(error::internal, "relay worker failed");
            try {
                auto rt = make_rt();
                r = peer->push(
                    req.consume,
                    [&](byte_sink& s) -> result<json> { return produce_artifact(*rt, opts.work_dir, req.artifact, s); },
                    [&](std::uint64_t b) { sent = b; }, cancel.get_token());
            } catch (const std::exception& e) {
                r = make_failure(error::internal, e.what());
            }
            std::lock_guard lock(mx);
            outcome = std::move(r);
            done = true;
            done_cv.notify_all();
        });

        // Heartbeat to the driver; a driver that closes the connection cancels the relay.
        bool driver_gone = false;
        for (;;) {
            std::unique_lock lock(mx);
            if (done_cv.wait_for(lock, interval, [&] { return done; })) break;
            lock.unlock();
            if (driver_gone) continue;
            if (ch.input_pending() ||
                !ch.write_frame(frame_type::progress, json{{"bytes", sent.load()}}.dump(), stall_of(req), stopping.get_token())) {
                driver_gone = true;
                cancel.request_stop();
            }
        }
        worker.join();
        bytes_out += sent.load();
        if (!outcome) {
            auto f = outcome.error();
            f.message = fmt::format("agent {}: relaying {} to the agent at {}: {}{}", me, req.artifact.describe(), req.to,
                                    f.message, driver_gone ? " (the driver went away)" : "");
            return f;
        }
        return json{{"ok", true}, {"stats", transfer_json(*outcome)}, {"summary", rate(outcome->bytes, outcome->seconds)}};
    }

    json stats() const {
        return json{{"accepted", accepted.load()}, {"refused", refused.load()},   {"succeeded", succeeded.load()},
                    {"failed", failed.load()},     {"bytes_in", bytes_in.load()}, {"bytes_out", bytes_out.load()}};
    }
};

agent_server::agent_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

agent_server::~agent_server() { stop(); }

result<std::unique_ptr<agent_server>> agent_server::start(server_options opts, hooks h, runtime_factory rt) {
    MIGRATE_TRY(opts.validate());
    auto p = std::make_unique<impl>();
    std::error_code fec;
    opts.work_dir = fs::canonical(opts.work_dir, fec);
    p->opts = std::move(opts);
    p->h = std::move(h);
    p->me = p->opts.name.empty() ? p->opts.bind_address : p->opts.name;
    if (rt) {
        p->make_rt = std::move(rt);
    } else {
        auto socket = p->opts.docker_socket;
        p->make_rt = [socket] {
            docker::engine_options eo;
            eo.socket = socket;
            return std::static_pointer_cast<container_runtime>(std::make_shared<docker::engine>(eo));
        };
    }
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(p->opts.bind_address), p->opts.port);
    auto& acc = p->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_failure(error::io_error, fmt::format("agent {}: cannot listen on {}: {}", p->me,
                                                         endpoint{p->opts.bind_address, p->opts.port}.to_string(), ec.message()));
    p->accept_next();
    auto* raw = p.get();
    p->accept_thread = std::thread([raw] { raw->accept_ctx.run(); });
    auto le = endpoint{p->opts.bind_address, acc.local_endpoint().port()};
    p->log(fmt::format("agent {}: listening on {} (work dir {}, engine {})", p->me, le.to_string(), p->opts.work_dir.string(),
                       p->opts.docker_socket.string()));
    return std::unique_ptr<agent_server>(new agent_server(std::move(p)));
}

endpoint agent_server::local_endpoint() const {
    boost::system::error_code ec;
    auto ep = impl_->acceptor.local_endpoint(ec);
    return endpoint{impl_->opts.bind_address, ec ? impl_->opts.port : ep.port()};
}

const server_options& agent_server::options() const noexcept { return impl_->opts; }

void agent_server::stop() noexcept {
    if (!impl_) return;
    {
        std::lock_guard lock(impl_->m);
        if (impl_->stopped) return;
        impl_->stopped = true;
    }
    impl_->stopping.request_stop();
    asio::post(impl_->accept_ctx, [p = impl_.get()] {
        boost::system::error_code ec;
        p->acceptor.close(ec);
    });
    if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
    std::list<impl::connection> left;
    {
        std::lock_guard lock(impl_->m);
        left.swap(impl_->connections);
    }
    for (auto& c : left) c.thread.join();
    {
        std::lock_guard lock(impl_->m);
        impl_->joined = true;
    }
    impl_->cv.notify_all();
    impl_->log(fmt::format("agent {}: stopped", impl_->me));
}

void agent_server::wait() {
    std::unique_lock lock(impl_->m);
    impl_->cv.wait(lock, [&] { return impl_->joined; });
}

json agent_server::stats() const { return impl_->stats(); }

}  // namespace migrate::agent
