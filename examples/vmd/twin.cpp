#include "twin.hpp"

#include "coap_glue.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <thread>

namespace migrate::vmd {

result<void> twin_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("twin_options.{}: {}", field, why));
    };
    if (auto a = glue::ipv4_address(address, port, "twin_options.address"); !a) return a.error();
    if (key_prefix.empty()) return bad("key_prefix", "must not be empty (the store's keys would be bare device ids)");
    if (max_cas_attempts == 0) return bad("max_cas_attempts", "must be at least 1");
    return ok();
}

void to_json(json& j, const twin_options& o) {
    j = json{{"address", o.address}, {"port", o.port}, {"name", o.name}, {"key_prefix", o.key_prefix},
             {"max_cas_attempts", o.max_cas_attempts}};
}

void from_json(const json& j, twin_options& o) {
    using migrate::detail::read_field;
    const char* w = "twin_options";
    read_field(j, w, "address", o.address);
    read_field(j, w, "port", o.port);
    read_field(j, w, "name", o.name);
    read_field(j, w, "key_prefix", o.key_prefix);
    read_field(j, w, "max_cas_attempts", o.max_cas_attempts);
}

struct twin::impl {
    twin_options options;
    twin_ledger ledger;
    glue::context_ptr ctx;
    std::uint16_t port = 0;
    std::atomic<bool> stopping{false};
    std::thread loop;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> bad_requests{0};

    impl(twin_options o, std::shared_ptr<state_store> store)
        : options(std::move(o)), ledger(std::move(store), options.key_prefix, options.max_cas_attempts) {}

    // ---- answers ----------------------------------------------------------------------------

    static void answer_json(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                            const coap_string_t* query, coap_pdu_t* response, int code, const json& body) {
        coap_pdu_set_code(response, glue::code_from_number(code));
        auto* text = new std::string(body.dump());
        // libcoap may need the body after the handler returned (Block2): it frees it then.
        coap_add_data_large_response(resource, session, request, response, query, COAP_MEDIATYPE_APPLICATION_JSON, -1, 0,
                                     text->size(), reinterpret_cast<const uint8_t*>(text->data()),
                                     [](coap_session_t*, void* p) { delete static_cast<std::string*>(p); }, text);
    }

    // 4.xx / 5.xx with a diagnostic payload (RFC 7252 §5.5.2: text for a human).
    void answer_error(coap_pdu_t* response, int code, const std::string& why, bool client_fault) {
        if (client_fault) ++bad_requests;
        coap_pdu_set_code(response, glue::code_from_number(code));
        glue::add_content_format(response, COAP_MEDIATYPE_TEXT_PLAIN);
        coap_add_data(response, why.size(), reinterpret_cast<const uint8_t*>(why.data()));
    }

    static std::string query_text(const coap_string_t* query) {
        return query ? std::string(reinterpret_cast<const char*>(query->s), query->length) : std::string{};
    }

    json state_document(const versioned_state& s) const {
        json j = s.state;
        j["version"] = s.version;
        j["twin"] = options.name;
        return j;
    }

    // The device named by a JSON body {"device": ID}; answers 4.00 itself when there is none.
    std::optional<std::string> device_of(const coap_pdu_t* request, coap_pdu_t* response) {
        auto j = json::parse(glue::body(request), nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("device") || !j["device"].is_string()) {
            answer_error(response, 400, R"(expected {"device": "<id>"})", true);
            return std::nullopt;
        }
        auto id = j["device"].get<std::string>();
        if (auto v = validate_device_id(id); !v) {
            answer_error(response, 400, v.error().message, true);
            return std::nullopt;
        }
        return id;
    }

    // ---- resources ------------------------------------------------------------------------

    static void post_telemetry(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                               const coap_string_t* query, coap_pdu_t* response) {
        auto& self = glue::app_data<impl>(session);
        auto t = parse_telemetry(glue::body(request));
        if (!t) return self.answer_error(response, 400, t.error().message, true);
        auto r = self.ledger.record(*t);
        if (!r) return self.answer_error(response, 503, r.error().what(), false);
        answer_json(resource, session, request, query, response, 204,
                    json{{"device", t->device},
                         {"seq", t->seq},
                         {"outcome", std::string(format_as(r->outcome))},
                         {"count", r->now.state.count}});
    }

    static void get_state(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                          const coap_string_t* query, coap_pdu_t* response) {
        auto& self = glue::app_data<impl>(session);
        auto device = glue::query_value(query_text(query), "device");
        if (auto v = validate_device_id(device, "query device"); !v)
            return self.answer_error(response, 400, v.error().message + " (GET /state?device=<id>)", true);
        // From the store, not the cache: another twin may serve the device now. A question
        // about a device does not make it ours.
        bool ours = self.ledger.holds(device);
        auto s = self.ledger.load(device);
        if (!ours) self.ledger.release(device);
        if (!s) return self.answer_error(response, 503, s.error().what(), false);
        if (!*s) return self.answer_error(response, 404, fmt::format("no state for device '{}'", device), false);
        answer_json(resource, session, request, query, response, 205, self.state_document(**s));
    }

    static void post_assign(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                            const coap_string_t* query, coap_pdu_t* response) {
        auto& self = glue::app_data<impl>(session);
        auto device = self.device_of(request, response);
        if (!device) return;
        auto s = self.ledger.load(*device);
        if (!s) {
            self.ledger.release(*device);
            return self.answer_error(response, 503, s.error().what(), false);
        }
        answer_json(resource, session, request, query, response, 204,
                    self.state_document(*s ? **s : unstored_state(*device)));
    }

    static void post_release(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                             const coap_string_t* query, coap_pdu_t* response) {
        auto& self = glue::app_data<impl>(session);
        auto device = self.device_of(request, response);
        if (!device) return;
        bool held = self.ledger.release(*device);
        answer_json(resource, session, request, query, response, 202, json{{"device", *device}, {"released", held}});
    }

    static void get_health(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                           const coap_string_t* query, coap_pdu_t* response) {
        answer_json(resource, session, request, query, response, 205, glue::app_data<impl>(session).health());
    }

    json health() const {
        json j = ledger.stats();
        j["status"] = "ok";
        j["twin"] = options.name;
        j["store"] = ledger.store()->location();
        j["devices"] = ledger.devices();
        j["bad_requests"] = bad_requests.load();
        j["uptime_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return j;
    }

    result<void> serve() {
        auto c = glue::make_context();
        if (!c) return c.error();
        ctx = std::move(*c);
        coap_set_app_data(ctx.get(), this);
        auto where = glue::ipv4_address(options.address, options.port, "twin_options.address");
        if (!where) return where.error();
        coap_endpoint_t* ep = coap_new_endpoint(ctx.get(), &*where, COAP_PROTO_UDP);
        if (!ep)
            return make_failure(error::io_error, fmt::format("twin: cannot listen on UDP {}:{} (in use?)", options.address,
                                                             options.port));
        port = options.port ? options.port : bound_port(ep);
        if (port == 0) return make_failure(error::internal, "twin: cannot learn the port libcoap bound");
        struct route {
            const char* path;
            coap_request_t method;
            coap_method_handler_t handler;
        };
        for (auto& r : {route{"telemetry", COAP_REQUEST_POST, post_telemetry}, route{"state", COAP_REQUEST_GET, get_state},
                        route{"assign", COAP_REQUEST_POST, post_assign}, route{"release", COAP_REQUEST_POST, post_release},
                        route{"health", COAP_REQUEST_GET, get_health}}) {
            coap_resource_t* res = coap_resource_init(coap_make_str_const(r.path), 0);
            coap_register_handler(res, r.method, r.handler);
            coap_add_resource(ctx.get(), res);
        }
        loop = std::thread([this] {
            while (!stopping) coap_io_process(ctx.get(), 100);
        });
        return ok();
    }

    // The endpoint's port when it was asked for any: libcoap prints the bound address.
    static std::uint16_t bound_port(const coap_endpoint_t* ep) {
        std::string_view text = coap_endpoint_str(ep);   // "0.0.0.0:41234 (UDP)"
        auto space = text.find(' ');
        auto colon = text.substr(0, space).rfind(':');
        if (colon == std::string_view::npos) return 0;
        unsigned v = 0;
        auto digits = text.substr(colon + 1, space == std::string_view::npos ? space : space - colon - 1);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), v).ec != std::errc{} || v > 65535) return 0;
        return static_cast<std::uint16_t>(v);
    }
};

result<std::unique_ptr<twin>> twin::start(const twin_options& o, std::shared_ptr<state_store> store) {
    if (auto v = o.validate(); !v) return v.error();
    if (!store) return make_failure(error::invalid_argument, "twin: no state store");
    auto opts = o;
    if (opts.name.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        opts.name = host;
    }
    auto p = std::make_unique<impl>(std::move(opts), std::move(store));
    if (auto s = p->serve(); !s) return s.error();
    return std::unique_ptr<twin>(new twin(std::move(p)));
}

twin::twin(std::unique_ptr<impl> p) : p_(std::move(p)) {}
twin::~twin() { stop(); }

void twin::stop() {
    if (!p_->loop.joinable()) return;
    p_->stopping = true;
    p_->loop.join();
    p_->ctx.reset();
}

std::uint16_t twin::port() const noexcept { return p_->port; }
const twin_options& twin::options() const noexcept { return p_->options; }
json twin::health() const { return p_->health(); }
twin_ledger& twin::ledger() noexcept { return p_->ledger; }

}  // namespace migrate::vmd
