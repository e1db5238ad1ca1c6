#include <migrate/agent/protocol.hpp>
#include <migrate/store/redis.hpp>

#include "resp.hpp"
#include "store_detail.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>

namespace migrate::store {

using namespace std::chrono_literals;
using detail::resp_connection;
using detail::resp_value;

result<void> redis_store_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "redis_store_options." + msg); };
    MIGRATE_TRY(agent::parse_endpoint(address, "redis_store_options.address"));
    MIGRATE_TRY(detail::check_store_prefix(prefix, "redis_store_options.prefix"));
    if (connect_timeout <= 0ms) return bad(fmt::format("connect_timeout: {} ms must be > 0", connect_timeout.count()));
    if (command_timeout <= 0ms) return bad(fmt::format("command_timeout: {} ms must be > 0", command_timeout.count()));
    if (pool_size > 256) return bad(fmt::format("pool_size: {} is more than 256", pool_size));
    if (watch_retry < 10ms) return bad(fmt::format("watch_retry: {} ms must be >= 10", watch_retry.count()));
    return {};
}

void to_json(json& j, const redis_store_options& o) {
    j = json{{"address", o.address},
             {"prefix", o.prefix},
             {"connect_timeout_ms", o.connect_timeout.count()},
             {"command_timeout_ms", o.command_timeout.count()},
             {"pool_size", o.pool_size},
             {"watch_retry_ms", o.watch_retry.count()}};
}

void from_json(const json& j, redis_store_options& o) {
    const char* w = "redis_store_options";
    migrate::detail::read_field(j, w, "address", o.address);
    migrate::detail::read_field(j, w, "prefix", o.prefix);
    detail::read_millis(j, w, "connect_timeout_ms", o.connect_timeout);
    detail::read_millis(j, w, "command_timeout_ms", o.command_timeout);
    migrate::detail::read_field(j, w, "pool_size", o.pool_size);
    detail::read_millis(j, w, "watch_retry_ms", o.watch_retry);
}

namespace {

/// A Lua script run with EVALSHA (EVAL once when the server does not have it yet).
struct lua_script {
    std::string source;
    std::string sha1;

    explicit lua_script(std::string s) : source(std::move(s)) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_Digest(source.data(), source.size(), md, &len, EVP_sha1(), nullptr);
        for (unsigned i = 0; i < len; ++i) sha1 += fmt::format("{:02x}", md[i]);
    }
};

// KEYS: data hash, version counter, key index, epoch. ARGV: key, value, channel, expected
// version ('' = write unconditionally), this client's token. Returns {1, new version} or {0,
// version found}. The epoch (set by the first write) tells a watch that reconnects whether
// the server lost the store's data (restarted empty) since it last looked: the server's
// clock makes a new one differ from the old even when the same client sets it.
const lua_script write_script{R"lua(
if ARGV[4] ~= '' then
  local cur = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
  if cur ~= tonumber(ARGV[4]) then return {0, cur} end
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[4], ARGV[5] .. '-' .. t[1] .. '.' .. t[2])
end
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'ver', v)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', ARGV[3], 'P' .. v .. ':' .. #ARGV[1] .. ':' .. ARGV[1] .. ARGV[2])
return {1, v}
)lua"};

// KEYS: data hash, version counter, key index. ARGV: key, channel. Returns the erase's
// version, 0 when the key did not exist.
const lua_script erase_script{R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local v = redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'E' .. v .. ':' .. #ARGV[1] .. ':' .. ARGV[1])
return v
)lua"};

// KEYS: key index. ARGV: prefix of the keys, the store's prefix. One snapshot of
// {key, value, version, ...} sorted by key (keys are UTF-8, so no key has a 0xff byte).
const lua_script list_script{R"lua(
local keys
if ARGV[1] == '' then keys = redis.call('ZRANGE', KEYS[1], 0, -1)
else keys = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1], '[' .. ARGV[1] .. '\255') end
local out = {}
for _, k in ipairs(keys) do
  local h = redis.call('HMGET', ARGV[2] .. k, 'v', 'ver')
  if h[1] then out[#out + 1] = k; out[#out + 1] = h[1]; out[#out + 1] = h[2] end
end
return out
)lua"};

std::optional<std::int64_t> to_int(const resp_value& v) {
    if (v.kind == resp_value::type::integer) return v.integer;
    if (v.kind != resp_value::type::bulk) return std::nullopt;
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), n);
    if (ec != std::errc{} || p != v.text.data() + v.text.size()) return std::nullopt;
    return n;
}

/// A published change: "P<version>:<key length>:<key><value>" or "E<version>:<key length>:<key>".
std::optional<state_event> decode_change(std::string_view m) {
    if (m.empty() || (m[0] != 'P' && m[0] != 'E')) return std::nullopt;
    state_event e;
    e.what = m[0] == 'P' ? state_event::kind::put : state_event::kind::erase;
    std::size_t key_len = 0;
    const char* end = m.data() + m.size();
    auto r1 = std::from_chars(m.data() + 1, end, e.entry.version);
    if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ':') return std::nullopt;
    auto r2 = std::from_chars(r1.ptr + 1, end, key_len);
    if (r2.ec != std::errc{} || r2.ptr == end || *r2.ptr != ':') return std::nullopt;
    std::string_view rest(r2.ptr + 1, static_cast<std::size_t>(end - r2.ptr - 1));
    if (rest.size() < key_len) return std::nullopt;
    e.entry.key = rest.substr(0, key_len);
    e.entry.value = rest.substr(key_len);
    return e;
}

/// The connection pool, the names and the scripts: shared by the store and its watches (a
/// watch may outlive the store).
class redis_client {
public:
    redis_client(redis_store_options o, agent::endpoint ep)
        : opts_(std::move(o)), ep_(std::move(ep)), counter_key_(opts_.prefix + std::string("\0version", 8)),
          index_key_(opts_.prefix + std::string("\0keys", 5)), epoch_key_(opts_.prefix + std::string("\0epoch", 6)),
          channel_(opts_.prefix + std::string("\0events", 7)) {
        std::random_device rd;
        epoch_ = fmt::format("{:08x}{:08x}", rd(), rd());
    }

    const redis_store_options& options() const { return opts_; }
    std::string location() const { return fmt::format("redis://{}/{}", ep_.to_string(), opts_.prefix); }
    std::string where() const { return "redis state store " + location(); }
    const std::string& channel() const { return channel_; }
    const std::string& counter_key() const { return counter_key_; }
    const std::string& index_key() const { return index_key_; }
    const std::string& epoch_key() const { return epoch_key_; }
    const std::string& epoch() const { return epoch_; }
    std::string data_key(std::string_view key) const { return opts_.prefix + std::string(key); }

    result<std::unique_ptr<resp_connection>> connect() {
        auto c = std::make_unique<resp_connection>(ep_.host, ep_.port, ep_.to_string());
        MIGRATE_TRY(c->connect(opts_.connect_timeout));
        return c;
    }

    /// One command on a pooled connection. A reply that is an error is `daemon_error`.
    /// `idempotent` commands are tried once more on a new connection when the first one is
    /// lost; others are not (the server may have applied them).
    result<resp_value> command(const std::vector<std::string_view>& args, bool idempotent) {
        auto r = command_once(args);
        if (!r && idempotent && r.error_code() == error::daemon_unreachable) r = command_once(args);
        if (r && r->is_error()) return server_error(*r);
        return r;
    }

    result<resp_value> eval(const lua_script& s, const std::vector<std::string_view>& keys,
                            const std::vector<std::string_view>& args, bool idempotent) {
        auto numkeys = std::to_string(keys.size());
        std::vector<std::string_view> cmd{"EVALSHA", s.sha1, numkeys};
        cmd.insert(cmd.end(), keys.begin(), keys.end());
        cmd.insert(cmd.end(), args.begin(), args.end());
        auto r = command_once(cmd);
        if (!r && idempotent && r.error_code() == error::daemon_unreachable) r = command_once(cmd);
        // A server that does not know the script (new, restarted, flushed) ran nothing.
        if (r && r->is_error() && r->text.starts_with("NOSCRIPT")) {
            cmd[0] = "EVAL";
            cmd[1] = s.source;
            r = command_once(cmd);
        }
        if (r && r->is_error()) return server_error(*r);
        return r;
    }

    result<std::vector<state_entry>> list(std::string_view prefix) {
        auto r = eval(list_script, {index_key_}, {prefix, opts_.prefix}, true);
        if (!r) return r.error();
        if (r->kind != resp_value::type::array || r->items.size() % 3 != 0) return unexpected("a list", *r);
        std::vector<state_entry> out;
        out.reserve(r->items.size() / 3);
        for (std::size_t i = 0; i < r->items.size(); i += 3) {
            auto version = to_int(r->items[i + 2]);
            if (!version) return unexpected("a list's version", r->items[i + 2]);
            out.push_back({std::move(r->items[i].text), std::move(r->items[i + 1].text), *version});
        }
        return out;
    }

    failure unexpected(std::string_view what, const resp_value& v) const {
        return make_failure(error::protocol_error,
                            fmt::format("{}: unexpected reply to {} (type {}, '{}')", where(), what,
                                        static_cast<int>(v.kind), v.text.substr(0, 80)));
    }

private:
    failure server_error(const resp_value& v) const {
        return make_failure(error::daemon_error, fmt::format("{}: the server answered: {}", where(), v.text));
    }

    result<resp_value> command_once(const std::vector<std::string_view>& args) {
        auto c = acquire();
        if (!c) return c.error();
        auto r = (*c)->call(args, opts_.command_timeout);
        if (r) release(std::move(*c));
        return r;
    }

    result<std::unique_ptr<resp_connection>> acquire() {
        {
            std::lock_guard lk(mu_);
            while (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                if (c->reusable()) return c;
            }
        }
        return connect();
    }

    void release(std::unique_ptr<resp_connection> c) {
        std::lock_guard lk(mu_);
        if (idle_.size() < opts_.pool_size) idle_.push_back(std::move(c));
    }

    redis_store_options opts_;
    agent::endpoint ep_;
    std::string counter_key_, index_key_, epoch_key_, channel_, epoch_;
    std::mutex mu_;
    std::vector<std::unique_ptr<resp_connection>> idle_;
};

/// A watch: a SUBSCRIBE connection read on the watch's thread.
class redis_watcher : public detail::wakeable {
public:
    redis_watcher(std::shared_ptr<redis_client> client, std::string prefix)
        : client_(std::move(client)), prefix_(std::move(prefix)) {}

    /// Subscribes and learns where the store's versions are; after it returns, every write
    /// is seen.
    result<void> start() {
        auto c = subscribe();
        if (!c) return c.error();
        auto where = read_position();
        if (!where) return where.error();
        std::tie(last_version_, epoch_) = *where;
        std::lock_guard lk(mu);
        conn_ = std::move(*c);
        return {};
    }

    void interrupt() {
        wakeable::interrupt();
        std::lock_guard lk(mu);
        if (conn_) conn_->interrupt();
    }

    void run(detail::watch_control& control) {
        while (!control.cancelled()) {
            auto m = conn_->read(resp_connection::clock::time_point::max());
            if (m) {
                on_message(*m, control);
                continue;
            }
            if (control.cancelled()) return;
            reconnect(control);
        }
    }

private:
    result<std::unique_ptr<resp_connection>> subscribe() {
        auto c = client_->connect();
        if (!c) return c.error();
        auto r = (*c)->call({"SUBSCRIBE", client_->channel()}, client_->options().command_timeout);
        if (!r) return r.error();
        if (r->kind != resp_value::type::array || r->items.size() != 3 || r->items[0].text != "subscribe")
            return client_->unexpected("SUBSCRIBE", *r);
        return c;
    }

    /// The store's version counter and epoch now.
    result<std::pair<std::int64_t, std::string>> read_position() {
        auto r = client_->command({"MGET", client_->counter_key(), client_->epoch_key()}, true);
        if (!r) return r.error();
        if (r->kind != resp_value::type::array || r->items.size() != 2) return client_->unexpected("MGET", *r);
        if (r->items[0].kind == resp_value::type::nil) return std::pair{std::int64_t{0}, r->items[1].text};
        auto v = to_int(r->items[0]);
        if (!v) return client_->unexpected("the version counter", r->items[0]);
        return std::pair{*v, r->items[1].text};
    }

    void on_message(const resp_value& m, detail::watch_control& control) {
        if (m.kind != resp_value::type::array || m.items.size() != 3 || m.items[0].text != "message") return;
        auto e = decode_change(m.items[2].text);
        if (!e) return;
        last_version_ = std::max(last_version_, e->entry.version);
        if (!detail::has_prefix(e->entry.key, prefix_)) return;
        // Already delivered by the catch-up after a reconnect.
        if (e->what == state_event::kind::put && resynced_.erase({e->entry.key, e->entry.version})) return;
        control.deliver(*e);
    }

    /// Pub/sub has no backlog: after reconnecting, deliver what was written meanwhile (as
    /// puts, by version); erases in the gap are lost.
    void reconnect(detail::watch_control& control) {
        {
            std::lock_guard lk(mu);
            conn_.reset();
        }
        while (!control.cancelled()) {
            {
                std::unique_lock lk(mu);
                if (cv.wait_for(lk, client_->options().watch_retry, [&] { return stopping; })) return;
            }
            auto c = subscribe();
            if (!c) continue;
            auto where = read_position();
            auto entries = client_->list(prefix_);
            if (!where || !entries) continue;
            {
                std::lock_guard lk(mu);
                if (stopping) return;
                conn_ = std::move(*c);
            }
            // The server lost the store's data (restarted empty, flushed): every entry is new.
            if ((!epoch_.empty() && where->second != epoch_) || where->first < last_version_) last_version_ = 0;
            epoch_ = where->second;
            std::erase_if(*entries, [&](const state_entry& e) { return e.version <= last_version_; });
            std::sort(entries->begin(), entries->end(), [](auto& a, auto& b) { return a.version < b.version; });
            resynced_.clear();
            for (auto& e : *entries) {
                resynced_.insert({e.key, e.version});
                last_version_ = std::max(last_version_, e.version);
                control.deliver({state_event::kind::put, std::move(e)});
            }
            return;
        }
    }

    std::shared_ptr<redis_client> client_;
    std::string prefix_;
    std::unique_ptr<resp_connection> conn_;   // under `mu`: interrupt() reaches it
    std::int64_t last_version_ = 0;
    std::string epoch_;
    std::set<std::pair<std::string, std::int64_t>> resynced_;
};

class redis_store final : public state_store {
public:
    explicit redis_store(std::shared_ptr<redis_client> c) : c_(std::move(c)) {}

    std::string_view backend() const noexcept override { return "redis"; }
    std::string location() const override { return c_->location(); }

    result<std::optional<state_entry>> get(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        auto r = c_->command({"HMGET", c_->data_key(key), "v", "ver"}, true);
        if (!r) return r.error();
        if (r->kind != resp_value::type::array || r->items.size() != 2) return c_->unexpected("HMGET", *r);
        if (r->items[0].kind == resp_value::type::nil) return std::optional<state_entry>{};
        auto version = to_int(r->items[1]);
        if (!version) return c_->unexpected("HMGET's version", r->items[1]);
        return std::optional<state_entry>{state_entry{std::string(key), std::move(r->items[0].text), *version}};
    }

    result<std::int64_t> put(std::string_view key, std::string_view value) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        return write(key, value, "");
    }

    result<std::int64_t> compare_and_set(std::string_view key, std::string_view value, std::int64_t expected) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        MIGRATE_TRY(detail::check_expected_version(c_->where(), key, expected));
        return write(key, value, std::to_string(expected));
    }

    result<bool> erase(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        auto r = c_->eval(erase_script, {c_->data_key(key), c_->counter_key(), c_->index_key()}, {key, c_->channel()}, false);
        if (!r) return r.error();
        if (r->kind != resp_value::type::integer) return c_->unexpected("the erase script", *r);
        return r->integer > 0;
    }

    result<std::vector<state_entry>> list(std::string_view prefix) override {
        MIGRATE_TRY(detail::check_prefix(prefix, c_->where()));
        return c_->list(prefix);
    }

    result<std::unique_ptr<state_watch>> watch(std::string_view prefix,
                                               std::function<void(const state_event&)> on_event) override {
        MIGRATE_TRY(detail::check_prefix(prefix, c_->where()));
        auto w = std::make_shared<redis_watcher>(c_, std::string(prefix));
        MIGRATE_TRY(w->start());
        return detail::start_watch_thread(std::move(w), std::move(on_event));
    }

private:
    result<std::int64_t> write(std::string_view key, std::string_view value, const std::string& expected) {
        auto r = c_->eval(write_script, {c_->data_key(key), c_->counter_key(), c_->index_key(), c_->epoch_key()},
                          {key, value, c_->channel(), expected, c_->epoch()}, false);
        if (!r) return r.error();
        if (r->kind != resp_value::type::array || r->items.size() != 2 || r->items[0].kind != resp_value::type::integer ||
            r->items[1].kind != resp_value::type::integer)
            return c_->unexpected("the write script", *r);
        if (r->items[0].integer == 0)
            return detail::version_conflict(c_->where(), key, std::stoll(expected), r->items[1].integer);
        return r->items[1].integer;
    }

    std::shared_ptr<redis_client> c_;
};

}  // namespace

result<std::unique_ptr<state_store>> make_redis_store(redis_store_options opts) {
    MIGRATE_TRY(opts.validate());
    auto ep = agent::parse_endpoint(opts.address, "redis_store_options.address");
    auto client = std::make_shared<redis_client>(std::move(opts), std::move(*ep));
    // Also checks that the server answers.
    auto epoch = client->command({"SETNX", client->epoch_key(), client->epoch()}, false);
    if (!epoch) return epoch.error();
    return std::unique_ptr<state_store>(std::make_unique<redis_store>(std::move(client)));
}

}  // namespace migrate::store
