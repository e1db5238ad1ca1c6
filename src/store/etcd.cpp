#include <migrate/agent/protocol.hpp>
#include <migrate/store/etcd.hpp>

#include "../net/http_call.hpp"
#include "store_detail.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <charconv>
#include <condition_variable>
#include <mutex>

namespace migrate::store {

using namespace std::chrono_literals;

result<void> etcd_store_options::validate() const {
    auto bad = [](std::string msg) { return make_failure(error::invalid_argument, "etcd_store_options." + msg); };
    MIGRATE_TRY(agent::parse_endpoint(address, "etcd_store_options.address"));
    MIGRATE_TRY(detail::check_store_prefix(prefix, "etcd_store_options.prefix"));
    if (connect_timeout <= 0ms) return bad(fmt::format("connect_timeout: {} ms must be > 0", connect_timeout.count()));
    if (request_timeout <= 0ms) return bad(fmt::format("request_timeout: {} ms must be > 0", request_timeout.count()));
    if (list_page_size < 1 || list_page_size > 100000)
        return bad(fmt::format("list_page_size: {} is out of range [1, 100000]", list_page_size));
    if (watch_retry < 10ms) return bad(fmt::format("watch_retry: {} ms must be >= 10", watch_retry.count()));
    return {};
}

void to_json(json& j, const etcd_store_options& o) {
    j = json{{"address", o.address},
             {"prefix", o.prefix},
             {"connect_timeout_ms", o.connect_timeout.count()},
             {"request_timeout_ms", o.request_timeout.count()},
             {"list_page_size", o.list_page_size},
             {"watch_retry_ms", o.watch_retry.count()}};
}

void from_json(const json& j, etcd_store_options& o) {
    const char* w = "etcd_store_options";
    migrate::detail::read_field(j, w, "address", o.address);
    migrate::detail::read_field(j, w, "prefix", o.prefix);
    detail::read_millis(j, w, "connect_timeout_ms", o.connect_timeout);
    detail::read_millis(j, w, "request_timeout_ms", o.request_timeout);
    migrate::detail::read_field(j, w, "list_page_size", o.list_page_size);
    detail::read_millis(j, w, "watch_retry_ms", o.watch_retry);
}

namespace {

/// What the gateway sent that is not what etcd's API says; caught per operation.
struct bad_answer {
    std::string what;
};

/// The gateway writes int64 fields as JSON strings and leaves out zero values.
std::int64_t int_field(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    std::int64_t v = 0;
    if (it->is_string()) {
        auto& s = it->get_ref<const std::string&>();
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc{} && p == s.data() + s.size()) return v;
    }
    throw bad_answer{fmt::format("'{}' is not an integer: {}", key, it->dump())};
}

/// A bytes field (base64), "" when left out.
std::string bytes_field(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string()) throw bad_answer{fmt::format("'{}' is not a string", key)};
    auto v = detail::base64_decode(it->get_ref<const std::string&>());
    if (!v) throw bad_answer{fmt::format("'{}' is not base64", key)};
    return *v;
}

/// A nested object or array, empty when left out.
const json& nested_field(const json& j, const char* key, json::value_t type) {
    static const json empty_object = json::object(), empty_array = json::array();
    auto it = j.find(key);
    bool object = type == json::value_t::object;
    if (it == j.end() || it->is_null()) return object ? empty_object : empty_array;
    if (it->type() != type) throw bad_answer{fmt::format("'{}' is not an {}", key, object ? "object" : "array")};
    return *it;
}
const json& object_field(const json& j, const char* key) { return nested_field(j, key, json::value_t::object); }
const json& array_field(const json& j, const char* key) { return nested_field(j, key, json::value_t::array); }

/// The end of the range of keys starting with `p`: `p` with its last byte below 0xff
/// increased (and what follows dropped); "\0" (= to the end) when there is none.
std::string range_end_of(std::string p) {
    while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
    if (p.empty()) return std::string(1, '\0');
    p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
    return p;
}

/// The options, the URLs and the connection pool: shared by the store and its watches (a
/// watch may outlive the store).
class etcd_client {
public:
    etcd_client(etcd_store_options o, const agent::endpoint& ep)
        : opts_(std::move(o)), address_(ep.to_string()), base_url_("http://" + address_) {}

    const etcd_store_options& options() const { return opts_; }
    const std::string& base_url() const { return base_url_; }
    std::string location() const { return fmt::format("etcd://{}/{}", address_, opts_.prefix); }
    std::string where() const { return "etcd state store " + location(); }
    std::string wire_key(std::string_view key) const { return detail::base64_encode(opts_.prefix + std::string(key)); }
    /// The user's key of a key etcd returned; `bad_answer` when it is not under our prefix.
    std::string user_key(const json& kv) const {
        auto k = bytes_field(kv, "key");
        if (!detail::has_prefix(k, opts_.prefix)) throw bad_answer{"a key outside the store's prefix"};
        return k.substr(opts_.prefix.size());
    }

    /// POSTs `body` to `path` ("/v3/kv/put") and returns the answer; `parse` reads it (it
    /// may throw `bad_answer` or json errors: `protocol_error`).
    template <class T, class Parse>
    result<T> call(const char* path, const json& body, Parse&& parse, std::chrono::milliseconds timeout) {
        auto answer = post(path, body, timeout);
        if (!answer) return answer.error();
        try {
            return parse(*answer);
        } catch (const bad_answer& e) {
            return unexpected(path, e.what);
        } catch (const json::exception& e) {
            return unexpected(path, e.what());
        }
    }
    template <class T, class Parse>
    result<T> call(const char* path, const json& body, Parse&& parse) {
        return call<T>(path, body, std::forward<Parse>(parse), opts_.request_timeout);
    }

private:
    failure unexpected(const char* path, const std::string& what) const {
        return make_failure(error::protocol_error, fmt::format("{}: unexpected answer to {}: {}", where(), path, what));
    }

    result<json> post(const char* path, const json& body, std::chrono::milliseconds timeout) {
        auto conn = acquire();
        auto r = conn->request("POST", base_url_ + path, body.dump(), timeout);
        if (!r) {
            auto f = r.error();
            // A connection that broke mid-request is as good as an unreachable server.
            if (f.code == make_error_code(error::io_error)) f.code = make_error_code(error::daemon_unreachable);
            f.message = fmt::format("{}: {}", where(), f.message);
            return f;
        }
        release(std::move(conn));
        json answer = json::parse(r->body, nullptr, false);
        if (answer.is_discarded() || !answer.is_object())
            return unexpected(path, fmt::format("HTTP {} with a body that is not a JSON object: '{}'", r->status,
                                                r->body.substr(0, 120)));
        if (r->status != 200) {
            auto message = answer.value("message", answer.value("error", std::string("no message")));
            return make_failure(error::daemon_error, fmt::format("{}: {} answered HTTP {}: {}", where(), path, r->status, message));
        }
        return answer;
    }

    std::unique_ptr<net::http_connection> acquire() {
        std::lock_guard lk(mu_);
        if (idle_.empty()) return std::make_unique<net::http_connection>();
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
    }
    void release(std::unique_ptr<net::http_connection> c) {
        std::lock_guard lk(mu_);
        if (idle_.size() < 8) idle_.push_back(std::move(c));
    }

    etcd_store_options opts_;
    std::string address_;
    std::string base_url_;
    std::mutex mu_;
    std::vector<std::unique_ptr<net::http_connection>> idle_;
};

state_entry entry_of(const etcd_client& c, const json& kv) {
    return {c.user_key(kv), bytes_field(kv, "value"), int_field(kv, "mod_revision")};
}

/// A watch: one /v3/watch stream at a time, driven by a curl multi handle on the watch's
/// thread (curl_multi_wakeup makes cancel prompt).
class etcd_watcher : public detail::wakeable {
public:
    etcd_watcher(std::shared_ptr<etcd_client> client, std::string prefix)
        : client_(std::move(client)), prefix_(std::move(prefix)), multi_(curl_multi_init()) {}
    ~etcd_watcher() { curl_multi_cleanup(multi_); }

    void interrupt() {
        wakeable::interrupt();
        curl_multi_wakeup(multi_);
    }

    /// Waits until the first stream is created (or failed).
    result<void> wait_created() {
        std::unique_lock lk(mu);
        auto limit = client_->options().connect_timeout + client_->options().request_timeout;
        if (!cv.wait_for(lk, limit, [&] { return state_ != stream_state::pending; }))
            return make_failure(error::daemon_unreachable,
                                fmt::format("{}: no watch created within {} ms", client_->where(), limit.count()));
        if (state_ == stream_state::failed) return first_failure_;
        return {};
    }

    void run(detail::watch_control& control) {
        for (;;) {
            auto f = stream(control);
            if (control.cancelled()) return;
            {
                std::unique_lock lk(mu);
                if (state_ == stream_state::pending) {   // the first stream never got going: watch() fails
                    first_failure_ = f;
                    state_ = stream_state::failed;
                    cv.notify_all();
                    return;
                }
                if (cv.wait_for(lk, client_->options().watch_retry, [&] { return stopping; })) return;
            }
        }
    }

private:
    enum class stream_state { pending, created, failed };

    static size_t on_data(char* data, size_t size, size_t n, void* self) {
        auto* w = static_cast<etcd_watcher*>(self);
        w->buf_.append(data, size * n);
        return w->take_lines() ? size * n : 0;   // 0 aborts the transfer
    }

    /// Handles the complete lines (one JSON message each) in `buf_`; false to abort.
    bool take_lines() {
        for (auto nl = buf_.find('\n'); nl != std::string::npos; nl = buf_.find('\n')) {
            auto line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            if (!on_message(line)) return false;
        }
        return true;
    }

    bool on_message(const std::string& line) {
        try {
            auto j = json::parse(line);
            if (!j.contains("result")) {
                stream_error_ = fmt::format("the watch stream said: {}", line.substr(0, 200));
                return false;
            }
            auto& r = object_field(j, "result");
            auto header_rev = int_field(object_field(r, "header"), "revision");
            if (r.value("created", false)) {
                if (next_revision_ == 0) next_revision_ = header_rev + 1;
                std::lock_guard lk(mu);
                if (state_ == stream_state::pending) state_ = stream_state::created;
                cv.notify_all();
            }
            if (auto compacted = int_field(r, "compact_revision"); compacted > 0) {
                // History before `compacted` is gone: continue from there (what was between is missed).
                next_revision_ = compacted;
                stream_error_ = fmt::format("etcd compacted the history to revision {}", compacted);
                return false;
            }
            if (r.value("canceled", false)) {
                stream_error_ = "etcd cancelled the watch: " + r.value("cancel_reason", std::string("no reason"));
                return false;
            }
            for (auto& ev : array_field(r, "events")) {
                state_event e;
                e.what = ev.value("type", std::string("PUT")) == "DELETE" ? state_event::kind::erase : state_event::kind::put;
                e.entry = entry_of(*client_, object_field(ev, "kv"));
                next_revision_ = e.entry.version + 1;
                if (detail::has_prefix(e.entry.key, prefix_)) control_->deliver(e);
            }
            return true;
        } catch (const json::exception& e) {
            stream_error_ = fmt::format("a watch message that is not etcd's: {}", e.what());
        } catch (const bad_answer& e) {
            stream_error_ = "a watch message that is not etcd's: " + e.what;
        }
        return false;
    }

    /// One stream from `next_revision_` (0 = from now) until it ends, fails or is cancelled.
    failure stream(detail::watch_control& control) {
        control_ = &control;
        buf_.clear();
        stream_error_.clear();
        auto p = client_->options().prefix + prefix_;
        json create{{"key", detail::base64_encode(p)}, {"range_end", detail::base64_encode(range_end_of(p))}};
        if (next_revision_ > 0) create["start_revision"] = std::to_string(next_revision_);
        auto body = json{{"create_request", create}}.dump();
        auto url = client_->base_url() + "/v3/watch";

        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
        CURL* c = easy.get();
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(client_->options().connect_timeout.count()));
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &etcd_watcher::on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
        curl_multi_add_handle(multi_, c);
        int running = 1;
        CURLcode rc = CURLE_OK;
        while (running && !control.cancelled()) {
            curl_multi_perform(multi_, &running);
            int left = 0;
            while (CURLMsg* m = curl_multi_info_read(multi_, &left))
                if (m->msg == CURLMSG_DONE) rc = m->data.result;
            if (running) curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
        }
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(multi_, c);
        auto what = !stream_error_.empty()  ? stream_error_
                    : rc != CURLE_OK         ? std::string(curl_easy_strerror(rc))
                    : status != 200          ? fmt::format("HTTP {}", status)
                                             : std::string("the server ended the stream");
        return make_failure(error::daemon_unreachable, fmt::format("{}: watch {}: {}", client_->where(), url, what));
    }

    std::shared_ptr<etcd_client> client_;
    std::string prefix_;
    CURLM* multi_;
    stream_state state_ = stream_state::pending;
    failure first_failure_;
    // The watch thread's own.
    detail::watch_control* control_ = nullptr;
    std::string buf_;
    std::string stream_error_;
    std::int64_t next_revision_ = 0;
};

class etcd_store final : public state_store {
public:
    explicit etcd_store(std::shared_ptr<etcd_client> c) : c_(std::move(c)) {}

    std::string_view backend() const noexcept override { return "etcd"; }
    std::string location() const override { return c_->location(); }

    result<std::optional<state_entry>> get(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        return c_->call<std::optional<state_entry>>("/v3/kv/range", json{{"key", c_->wire_key(key)}}, [&](const json& a) {
            auto& kvs = array_field(a, "kvs");
            if (kvs.empty()) return std::optional<state_entry>{};
            return std::optional<state_entry>{entry_of(*c_, kvs.at(0))};
        });
    }

    result<std::int64_t> put(std::string_view key, std::string_view value) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        return c_->call<std::int64_t>("/v3/kv/put", json{{"key", c_->wire_key(key)}, {"value", detail::base64_encode(value)}},
                                      [](const json& a) { return int_field(object_field(a, "header"), "revision"); });
    }

    result<std::int64_t> compare_and_set(std::string_view key, std::string_view value, std::int64_t expected) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        MIGRATE_TRY(detail::check_expected_version(c_->where(), key, expected));
        auto k = c_->wire_key(key);
        json compare = expected == 0
            ? json{{"target", "CREATE"}, {"key", k}, {"create_revision", "0"}, {"result", "EQUAL"}}
            : json{{"target", "MOD"}, {"key", k}, {"mod_revision", std::to_string(expected)}, {"result", "EQUAL"}};
        json txn{{"compare", json::array({compare})},
                 {"success", json::array({json{{"request_put", {{"key", k}, {"value", detail::base64_encode(value)}}}}})},
                 {"failure", json::array({json{{"request_range", {{"key", k}}}}})}};
        // {revision, true} or {version found, false}
        auto r = c_->call<std::pair<std::int64_t, bool>>("/v3/kv/txn", txn, [&](const json& a) {
            if (a.value("succeeded", false)) return std::pair{int_field(object_field(a, "header"), "revision"), true};
            auto& responses = array_field(a, "responses");
            if (responses.empty()) throw bad_answer{"a failed transaction without the range it asked for"};
            auto& kvs = array_field(object_field(responses.at(0), "response_range"), "kvs");
            return std::pair{kvs.empty() ? std::int64_t{0} : int_field(kvs.at(0), "mod_revision"), false};
        });
        if (!r) return r.error();
        if (!r->second) return detail::version_conflict(c_->where(), key, expected, r->first);
        return r->first;
    }

    result<bool> erase(std::string_view key) override {
        MIGRATE_TRY(detail::check_key(key, c_->where()));
        return c_->call<bool>("/v3/kv/deleterange", json{{"key", c_->wire_key(key)}},
                              [](const json& a) { return int_field(a, "deleted") > 0; });
    }

    result<std::vector<state_entry>> list(std::string_view prefix) override {
        MIGRATE_TRY(detail::check_prefix(prefix, c_->where()));
        auto p = c_->options().prefix + std::string(prefix);
        json range{{"key", detail::base64_encode(p.empty() ? std::string(1, '\0') : p)},
                   {"range_end", detail::base64_encode(range_end_of(p))},
                   {"limit", std::to_string(c_->options().list_page_size)}};
        std::vector<state_entry> out;
        for (bool more = true; more;) {
            // Every page at the first page's revision: one snapshot.
            auto page = c_->call<bool>("/v3/kv/range", range, [&](const json& a) {
                for (auto& kv : array_field(a, "kvs")) out.push_back(entry_of(*c_, kv));
                if (!range.contains("revision"))
                    range["revision"] = std::to_string(int_field(object_field(a, "header"), "revision"));
                return a.value("more", false);
            });
            if (!page) return page.error();
            more = *page && !out.empty();
            if (more) range["key"] = detail::base64_encode(c_->options().prefix + out.back().key + std::string(1, '\0'));
        }
        return out;
    }

    result<std::unique_ptr<state_watch>> watch(std::string_view prefix,
                                               std::function<void(const state_event&)> on_event) override {
        MIGRATE_TRY(detail::check_prefix(prefix, c_->where()));
        auto w = std::make_shared<etcd_watcher>(c_, std::string(prefix));
        auto handle = detail::start_watch_thread(w, std::move(on_event));
        MIGRATE_TRY(w->wait_created());
        return handle;
    }

private:
    std::shared_ptr<etcd_client> c_;
};

}  // namespace

result<std::unique_ptr<state_store>> make_etcd_store(etcd_store_options opts) {
    MIGRATE_TRY(opts.validate());
    auto ep = agent::parse_endpoint(opts.address, "etcd_store_options.address");
    auto client = std::make_shared<etcd_client>(std::move(opts), *ep);
    auto probe = client->call<bool>("/v3/kv/range", json{{"key", client->wire_key("probe")}, {"count_only", true}},
                                    [](const json&) { return true; }, client->options().connect_timeout);
    if (!probe) {
        auto f = probe.error();
        if (f.code == make_error_code(error::timeout)) f.code = make_error_code(error::daemon_unreachable);
        return f;
    }
    return std::unique_ptr<state_store>(std::make_unique<etcd_store>(std::move(client)));
}

}  // namespace migrate::store
