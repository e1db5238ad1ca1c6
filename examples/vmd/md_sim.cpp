#include "md_sim.hpp"

#include "coap_call.hpp"
#include "coap_glue.hpp"
#include "http_call.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace migrate::vmd {
namespace {

using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

rtt_stats summarise(std::vector<double> v) {
    rtt_stats r;
    r.samples = v.size();
    if (v.empty()) return r;
    std::sort(v.begin(), v.end());
    auto rank = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(p * v.size())) - 1)]; };
    r.min = v.front();
    r.max = v.back();
    double sum = 0;
    for (double x : v) sum += x;
    r.mean = sum / static_cast<double>(v.size());
    r.p50 = rank(0.50);
    r.p95 = rank(0.95);
    r.p99 = rank(0.99);
    return r;
}

coap_fixed_point_t fixed_seconds(std::chrono::milliseconds ms) {
    return {static_cast<uint16_t>(ms.count() / 1000), static_cast<uint16_t>(ms.count() % 1000)};
}

// One run's bookkeeping; libcoap's handlers reach it through the context's app data.
struct run_state {
    const md_sim_options& o;
    answer_hook on_answer;
    md_sim_summary summary;
    struct in_flight {
        clock_type::time_point sent;
        telemetry record;
    };
    std::map<std::uint64_t, in_flight> waiting;   // by seq
    std::vector<double> rtts;
    clock_type::time_point last_answer{};
    clock_type::time_point last_progress{};   // the last answer, or the last switch to a new twin
    coap_session_t* current = nullptr;        // the session to the twin the device sends to now

    void answered(std::uint64_t seq, int code, const std::string& body) {
        auto it = waiting.find(seq);
        if (it == waiting.end()) return;   // a second answer to a retransmission: already taken
        auto now = clock_type::now();
        last_answer = now;
        last_progress = now;
        std::string outcome;
        if (code >= 200 && code < 300) {
            ++summary.acked;
            double rtt = ms_between(it->second.sent, now);
            rtts.push_back(rtt);
            if (rtt > static_cast<double>(o.ack_timeout.count())) ++summary.retransmitted;
            auto j = json::parse(body, nullptr, false);
            if (!j.is_discarded() && j.is_object() && j.contains("outcome") && j["outcome"].is_string())
                outcome = j["outcome"].get<std::string>();
            if (outcome == "counted") ++summary.counted;
            else if (outcome == "late") ++summary.late;
            else if (outcome == "duplicate") ++summary.duplicates;
            if (!summary.last_acked || seq > summary.last_acked->seq) summary.last_acked = std::move(it->second.record);
        } else {
            ++summary.rejected;
            outcome = "rejected " + format_coap_code(code);
            summary.last_rejection = fmt::format("#{}: {} {}", seq, format_coap_code(code), body);
        }
        waiting.erase(it);
        if (on_answer) on_answer(seq, outcome);
    }

    void given_up(std::uint64_t seq) {
        auto it = waiting.find(seq);
        if (it == waiting.end()) return;
        waiting.erase(it);
        ++summary.lost;
        last_answer = clock_type::now();
        if (on_answer) on_answer(seq, "lost");
    }
};

coap_response_t on_response(coap_session_t* session, const coap_pdu_t*, const coap_pdu_t* received, const coap_mid_t) {
    glue::app_data<run_state>(session).answered(glue::seq_of(received), glue::code_number(coap_pdu_get_code(received)),
                                                glue::body(received));
    return COAP_RESPONSE_OK;
}

void on_nack(coap_session_t* session, const coap_pdu_t* sent, const coap_nack_reason_t reason, const coap_mid_t) {
    auto& rs = glue::app_data<run_state>(session);
    // A session to a twin the device left: what it still had in flight was sent again to the
    // new twin, whose session reports on those records.
    if (session != rs.current) return;
    // libcoap reports an ICMP error (port or host unreachable: the twin is restarting or moving)
    // for every message in flight and keeps retransmitting them: not an end.
    if (reason == COAP_NACK_ICMP_ISSUE) {
        ++rs.summary.icmp_errors;
        return;
    }
    if (sent) rs.given_up(glue::seq_of(sent));
}

// The twin the manager names for the device: a new one (201) or the one it has (409).
struct twin_answer {
    service_instance twin;
    bool is_new = false;
    std::chrono::milliseconds timeout{10'000};   // the manager's, for the heartbeat interval
};

result<twin_answer> register_with_manager(const md_sim_options& o) {
    json body{{"device", o.device}};
    if (!o.host.empty()) body["host"] = o.host;
    auto r = http_call({.url = o.manager, .method = "POST", .target = "/devices", .body = body.dump(), .timeout = o.manager_timeout});
    if (!r) return r.error();
    auto refused = [&](error e) {
        return make_failure(e, fmt::format("POST {}/devices: {} {}", o.manager, r->status, r->error_text()));
    };
    if (r->status != 201 && r->status != 409) return refused(r->status == 400 ? error::invalid_argument : error::daemon_error);
    auto j = r->json_body();
    if (!j) return j.error();
    if (!j->is_object() || !j->contains("twin")) return refused(error::conflict);   // 409 busy: no twin named
    twin_answer a;
    try {
        a.twin = (*j)["twin"].get<service_instance>();
        a.timeout = std::chrono::milliseconds{j->value("timeout_ms", std::int64_t{10'000})};
    } catch (const std::exception& e) {
        return make_failure(error::protocol_error, fmt::format("POST {}/devices: the twin in {}: {}", o.manager, j->dump(), e.what()));
    }
    a.is_new = r->status == 201;
    return a;
}

// Heartbeats to the manager on a thread of their own (an HTTP call must not hold up the
// 100 Hz stream); a refused one (404: the manager released the device) raises `forgotten`.
class heartbeat_thread {
public:
    heartbeat_thread(const md_sim_options& o, std::chrono::milliseconds interval)
        : thread_([this, &o, interval](std::stop_token st) { loop(o, interval, st); }) {}
    std::atomic<bool> forgotten{false};
    std::atomic<std::uint64_t> taken{0}, failed{0};
    std::string last_error() const {
        std::lock_guard lk(mu_);
        return last_error_;
    }

private:
    void loop(const md_sim_options& o, std::chrono::milliseconds interval, std::stop_token st) {
        const auto target = fmt::format("/devices/{}/heartbeat", o.device);
        while (true) {
            {
                std::unique_lock lk(mu_);
                wake_.wait_for(lk, st, interval, [] { return false; });
                if (st.stop_requested()) return;
            }
            auto r = http_call({.url = o.manager, .method = "POST", .target = target, .body = {},
                                .timeout = std::min(interval, std::chrono::milliseconds{2000})});
            if (r && r->status == 204) {
                ++taken;
                continue;
            }
            if (r && r->status == 404) forgotten = true;
            ++failed;
            std::lock_guard lk(mu_);
            last_error_ = r ? fmt::format("POST {}{}: {} {}", o.manager, target, r->status, r->error_text()) : r.error().what();
        }
    }
    mutable std::mutex mu_;
    std::condition_variable_any wake_;
    std::string last_error_;
    std::jthread thread_;   // last: stopped and joined before the members it uses go
};

// The twin's state for the device: nullopt when it has none (4.04).
result<std::optional<device_state>> twin_state(const md_sim_options& o, std::chrono::milliseconds timeout) {
    auto r = coap_call({.address = o.address, .port = o.port, .method = "GET", .path = "state",
                        .query = "device=" + o.device, .payload = {}, .bind = o.bind, .timeout = timeout});
    if (!r) return r.error();
    if (r->code == 404) return std::optional<device_state>{};
    if (r->code != 205)
        return make_failure(error::protocol_error,
                            fmt::format("GET /state?device={} at {}:{}: {} {}", o.device, o.address, o.port,
                                        format_coap_code(r->code), r->payload));
    auto s = parse_device_state(r->payload);
    if (!s) return make_failure(error::protocol_error, fmt::format("GET /state at {}:{}: {}", o.address, o.port, s.error().message));
    return std::optional<device_state>{std::move(*s)};
}

}  // namespace

result<void> md_sim_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("md_sim_options.{}: {}", field, why));
    };
    if (manager.empty()) {
        if (auto a = glue::ipv4_address(address, port, "md_sim_options.address"); !a) return a.error();
        if (port == 0) return bad("port", "must be in 1..65535");
    } else {
        if (!address.empty()) return bad("address", "give an address or a manager (which names the twin), not both");
        if (auto m = parse_http_url(manager, "md_sim_options.manager"); !m) return m.error();
        if (reregister_after.count() < 100)
            return bad("reregister_after", fmt::format("{} ms is under 100 ms", reregister_after.count()));
        if (heartbeat.count() < 0) return bad("heartbeat", "must not be negative");
        if (manager_timeout.count() <= 0) return bad("manager_timeout", "must be positive");
    }
    if (auto v = validate_device_id(device, "md_sim_options.device"); !v) return v;
    if (!(rate_hz > 0 && rate_hz <= 10'000)) return bad("rate_hz", fmt::format("{} must be in (0, 10000]", rate_hz));
    if (count == 0 && duration.count() <= 0) return bad("duration", "must be positive when count is 0");
    if (first_seq && *first_seq == 0) return bad("first_seq", "must be >= 1");
    if (ack_timeout.count() < 10 || ack_timeout.count() > 60'000)
        return bad("ack_timeout", fmt::format("{} ms must be in 10..60000", ack_timeout.count()));
    if (max_retransmit > 20) return bad("max_retransmit", fmt::format("{} must be at most 20", max_retransmit));
    if (nstart == 0 || nstart > 65535) return bad("nstart", "must be in 1..65535");
    if (drain.count() < 0) return bad("drain", "must not be negative");
    return ok();
}

void to_json(json& j, const md_sim_options& o) {
    j = json{{"address", o.address},
             {"port", o.port},
             {"bind", o.bind},
             {"device", o.device},
             {"engine_type", std::string(format_as(o.engine))},
             {"rate_hz", o.rate_hz},
             {"count", o.count},
             {"duration_ms", o.duration.count()},
             {"first_seq", o.first_seq ? json(*o.first_seq) : json(nullptr)},
             {"seed", o.seed},
             {"ack_timeout_ms", o.ack_timeout.count()},
             {"max_retransmit", o.max_retransmit},
             {"nstart", o.nstart},
             {"drain_ms", o.drain.count()},
             {"manager", o.manager},
             {"host", o.host},
             {"reregister_after_ms", o.reregister_after.count()},
             {"heartbeat_ms", o.heartbeat.count()},
             {"manager_timeout_ms", o.manager_timeout.count()}};
}

void to_json(json& j, const md_sim_summary& s) {
    j = json{{"target", s.target},
             {"device", s.device},
             {"first_seq", s.first_seq},
             {"sent", s.sent},
             {"acked", s.acked},
             {"rejected", s.rejected},
             {"lost", s.lost},
             {"unanswered", s.unanswered},
             {"counted", s.counted},
             {"late", s.late},
             {"duplicates", s.duplicates},
             {"retransmitted", s.retransmitted},
             {"icmp_errors", s.icmp_errors},
             {"elapsed_s", s.elapsed_s},
             {"send_rate_hz", s.send_rate_hz},
             {"rtt_ms",
              {{"samples", s.rtt.samples},
               {"min", s.rtt.min},
               {"mean", s.rtt.mean},
               {"p50", s.rtt.p50},
               {"p95", s.rtt.p95},
               {"p99", s.rtt.p99},
               {"max", s.rtt.max}}},
             {"twin_count_before", s.twin_count_before},
             {"last_acked", s.last_acked ? json(*s.last_acked) : json(nullptr)},
             {"last_rejection", s.last_rejection},
             {"manager", s.manager},
             {"twins", s.twins},
             {"reregistrations", s.reregistrations},
             {"heartbeats", s.heartbeats},
             {"manager_errors", s.manager_errors},
             {"last_manager_error", s.last_manager_error}};
}

std::string to_text(const md_sim_summary& s) {
    std::string out = fmt::format("device {} -> coap://{}/telemetry, seq {}..{}\n", s.device, s.target, s.first_seq,
                                  s.sent ? s.first_seq + s.sent - 1 : s.first_seq);
    out += fmt::format("  sent {} in {:.2f} s ({:.1f} /s)\n", s.sent, s.elapsed_s, s.send_rate_hz);
    out += fmt::format("  acked {} (counted {}, late {}, duplicate {}; {} after a retransmission)\n", s.acked, s.counted,
                       s.late, s.duplicates, s.retransmitted);
    out += fmt::format("  lost {}{}, rejected {}{}\n", s.lost,
                       s.unanswered ? fmt::format(" ({} unanswered at the end)", s.unanswered) : "", s.rejected,
                       s.icmp_errors ? fmt::format("; {} ICMP unreachable reports on the way", s.icmp_errors) : "");
    if (!s.last_rejection.empty()) out += fmt::format("  last rejection: {}\n", s.last_rejection);
    out += fmt::format("  rtt ms: min {:.3f}  p50 {:.3f}  p95 {:.3f}  p99 {:.3f}  max {:.3f}  mean {:.3f} ({} samples)\n",
                       s.rtt.min, s.rtt.p50, s.rtt.p95, s.rtt.p99, s.rtt.max, s.rtt.mean, s.rtt.samples);
    if (!s.manager.empty()) {
        std::vector<std::string> twins;
        for (auto& t : s.twins) twins.push_back(fmt::format("{} on {} at {}:{}", t.id, t.host, t.address, t.port));
        out += fmt::format("  manager {}: re-registered {} time{}, {} heartbeats, {} failed calls{}\n", s.manager,
                           s.reregistrations, s.reregistrations == 1 ? "" : "s", s.heartbeats, s.manager_errors,
                           s.last_manager_error.empty() ? std::string{} : " (last: " + s.last_manager_error + ")");
        out += fmt::format("  twins: {}\n", fmt::join(twins, " -> "));
    }
    return out;
}

void to_json(json& j, const verify_result& v) {
    j = json{{"ok", v.ok}, {"detail", v.detail}, {"state", v.state ? json(*v.state) : json(nullptr)}};
}

result<md_sim_summary> run_md_sim(const md_sim_options& o, std::stop_token stop, answer_hook on_answer) {
    if (auto v = o.validate(); !v) return v.error();
    run_state rs{o, std::move(on_answer), {}, {}, {}, {}, {}, nullptr};
    auto& sum = rs.summary;
    sum.device = o.device;
    sum.manager = o.manager;

    // Where the records go: the given address, or the twin the manager names.
    md_sim_options at = o;
    std::optional<twin_answer> first_twin;
    if (!o.manager.empty()) {
        auto a = register_with_manager(o);
        if (!a) return a.error();
        at.address = a->twin.address;
        at.port = a->twin.port;
        sum.twins.push_back(a->twin);
        first_twin = std::move(*a);
    }
    auto server = glue::ipv4_address(at.address, at.port, o.manager.empty() ? "md_sim_options.address" : "the manager's twin");
    if (!server) return server.error();
    sum.target = glue::to_string(*server);
    auto before = twin_state(at, o.setup_timeout);
    if (!before) return before.error();
    sum.twin_count_before = *before ? (*before)->count : 0;
    sum.first_seq = o.first_seq ? *o.first_seq : (*before ? (*before)->last_seq + 1 : 1);

    auto ctx = glue::make_context();
    if (!ctx) return ctx.error();
    coap_set_app_data(ctx->get(), &rs);
    coap_register_response_handler(ctx->get(), on_response);
    coap_register_nack_handler(ctx->get(), on_nack);
    auto open_session = [&](const coap_address_t& to) -> result<glue::session_ptr> {
        auto s = glue::client_session(ctx->get(), o.bind, to, "md_sim_options.bind");
        if (!s) return s.error();
        coap_session_set_ack_timeout(s->get(), fixed_seconds(o.ack_timeout));
        coap_session_set_max_retransmit(s->get(), static_cast<uint16_t>(o.max_retransmit));
        coap_session_set_nstart(s->get(), static_cast<uint16_t>(o.nstart));
        return s;
    };
    auto opened = open_session(*server);
    if (!opened) return opened.error();
    glue::session_ptr session = std::move(*opened);
    rs.current = session.get();

    const double period_ms = 1000.0 / o.rate_hz;
    auto gen = telemetry_generator::make(
        {.device = o.device,
         .engine = o.engine,
         .first_seq = sum.first_seq,
         .start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
         .period_ms = period_ms,
         .seed = o.seed});
    if (!gen) return gen.error();
    const std::uint64_t total =
        o.count ? o.count : static_cast<std::uint64_t>(std::llround(static_cast<double>(o.duration.count()) * o.rate_hz / 1000.0));

    // One CON message of a record that waits in `rs.waiting`.
    auto transmit = [&](const telemetry& t) -> result<void> {
        auto text = to_json_text(t);
        coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(session.get()),
                                        coap_session_max_pdu_size(session.get()));
        if (!pdu) return make_failure(error::internal, "libcoap: coap_pdu_init failed");
        glue::add_seq_token(pdu, t.seq);
        glue::add_path_and_query(pdu, "telemetry", "");
        glue::add_content_format(pdu, COAP_MEDIATYPE_APPLICATION_JSON);
        if (!coap_add_data(pdu, text.size(), reinterpret_cast<const uint8_t*>(text.data()))) {
            coap_delete_pdu(pdu);
            return make_failure(error::internal, fmt::format("record #{} ({} bytes) does not fit a CoAP message", t.seq, text.size()));
        }
        if (coap_send(session.get(), pdu) == COAP_INVALID_MID) rs.given_up(t.seq);
        return ok();
    };
    auto send_one = [&]() -> result<void> {
        telemetry t = gen->next();
        auto seq = t.seq;
        auto& waiting = rs.waiting.emplace(seq, run_state::in_flight{clock_type::now(), std::move(t)}).first->second;
        ++sum.sent;
        return transmit(waiting.record);
    };

    // With a manager: heartbeats, and a new twin when the one in use stopped answering.
    std::optional<heartbeat_thread> beats;
    if (first_twin)
        beats.emplace(o, o.heartbeat.count() > 0 ? o.heartbeat
                                                 : std::max(first_twin->timeout / 3, std::chrono::milliseconds{100}));
    auto last_registration = clock_type::now();
    auto last_switch = clock_type::time_point{};
    auto switch_to = [&](const service_instance& twin) -> result<void> {
        auto to = glue::ipv4_address(twin.address, twin.port, "the manager's twin");
        if (!to) return to.error();
        auto fresh = open_session(*to);
        if (!fresh) return fresh.error();
        // The old session gives up its retransmissions at the next timeout (its reports are
        // ignored: the records go to the new twin).
        coap_session_set_max_retransmit(session.get(), 0);
        session = std::move(*fresh);
        rs.current = session.get();
        sum.target = glue::to_string(*to);
        sum.twins.push_back(twin);
        last_switch = rs.last_progress = clock_type::now();
        std::vector<std::uint64_t> again;
        for (auto& [seq, f] : rs.waiting) again.push_back(seq);
        for (auto seq : again)
            if (auto it = rs.waiting.find(seq); it != rs.waiting.end()) MIGRATE_TRY(transmit(it->second.record));
        return ok();
    };
    auto follow_manager = [&]() -> result<void> {
        if (!beats) return ok();
        auto now = clock_type::now();
        bool silent = !rs.waiting.empty() &&
                      now - std::max(rs.last_progress, rs.waiting.begin()->second.sent) >= o.reregister_after &&
                      now - last_registration >= o.reregister_after;
        if (!beats->forgotten.exchange(false) && !silent) return ok();
        last_registration = now;
        auto a = register_with_manager(o);
        if (!a) {
            ++sum.manager_errors;
            sum.last_manager_error = a.error().what();
            return ok();   // tried again after another `reregister_after`
        }
        if (!a->is_new && a->twin.id == sum.twins.back().id) return ok();   // the manager says it answers: wait
        if (a->is_new) ++sum.reregistrations;
        return switch_to(a->twin);
    };

    rs.last_progress = clock_type::now();
    const auto t0 = clock_type::now();
    auto next_send = t0;
    while (sum.sent < total && !stop.stop_requested()) {
        auto now = clock_type::now();
        if (now >= next_send) {
            if (auto s = send_one(); !s) return s.error();
            next_send += std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double, std::milli>(period_ms));
            coap_io_process(ctx->get(), COAP_IO_NO_WAIT);
            continue;
        }
        MIGRATE_TRY(follow_manager());
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_send - now).count();
        coap_io_process(ctx->get(), static_cast<uint32_t>(std::max<long long>(1, wait)));
    }
    const auto last_send = clock_type::now();
    // RFC 7252 §4.8.2 MAX_TRANSMIT_SPAN + one more ACK_TIMEOUT for the last answer; counted
    // again from a switch to a new twin (the records waiting were sent again then).
    auto drain = o.drain.count() > 0
                     ? o.drain
                     : std::chrono::milliseconds(static_cast<long long>(
                           static_cast<double>(o.ack_timeout.count()) * (1.5 * ((1u << (o.max_retransmit + 1)) - 1) + 1)));
    while (!rs.waiting.empty() && clock_type::now() - std::max(last_send, last_switch) < drain) {
        MIGRATE_TRY(follow_manager());
        coap_io_process(ctx->get(), 20);
    }

    if (beats) {
        sum.heartbeats = beats->taken;
        sum.manager_errors += beats->failed;
        if (auto e = beats->last_error(); !e.empty() && sum.last_manager_error.empty()) sum.last_manager_error = e;
    }
    sum.unanswered = rs.waiting.size();
    sum.lost += sum.unanswered;
    auto end = std::max(last_send, rs.last_answer);
    sum.elapsed_s = std::chrono::duration<double>(end - t0).count();
    double send_span = std::chrono::duration<double>(last_send - t0).count();
    sum.send_rate_hz = sum.sent > 1 && send_span > 0 ? static_cast<double>(sum.sent - 1) / send_span : 0;
    sum.rtt = summarise(std::move(rs.rtts));
    return sum;
}

result<verify_result> verify_with_twin(const md_sim_options& o, const md_sim_summary& s) {
    md_sim_options at = o;
    if (!s.twins.empty()) {
        at.address = s.twins.back().address;
        at.port = s.twins.back().port;
    }
    auto st = twin_state(at, o.setup_timeout);
    if (!st) return st.error();
    verify_result v;
    v.state = *st;
    if (!*st) {
        v.ok = s.acked == 0;
        v.detail = fmt::format("the twin has no state for {} ({} records acked)", o.device, s.acked);
        return v;
    }
    const auto& state = **st;
    std::uint64_t counted = state.count - std::min(state.count, s.twin_count_before);
    std::vector<std::string> wrong;
    if (s.lost == 0 ? counted != s.acked : (counted < s.acked || counted > s.acked + s.lost))
        wrong.push_back(s.lost == 0 ? fmt::format("the twin counted {} records of this run, {} were acked", counted, s.acked)
                                    : fmt::format("the twin counted {} records of this run, outside acked {} .. acked + lost {}",
                                                  counted, s.acked, s.acked + s.lost));
    if (s.last_acked) {
        bool same = state.latest && *state.latest == *s.last_acked;
        bool newer_lost = state.latest && state.latest->seq > s.last_acked->seq && s.lost > 0 &&
                          state.latest->seq < s.first_seq + s.sent;
        if (!same && !newer_lost)
            wrong.push_back(fmt::format("the twin's latest record is #{}, the last acked is #{}{}",
                                        state.latest ? state.latest->seq : 0, s.last_acked->seq,
                                        state.latest && state.latest->seq == s.last_acked->seq ? " with other values" : ""));
    }
    v.ok = wrong.empty();
    v.detail = v.ok ? fmt::format("the twin counted {} records of this run (acked {}), latest #{} as acked", counted, s.acked,
                                  state.latest ? state.latest->seq : 0)
                    : fmt::format("{}", fmt::join(wrong, "; "));
    return v;
}

}  // namespace migrate::vmd
