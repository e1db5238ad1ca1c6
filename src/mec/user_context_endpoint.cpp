#include <migrate/mec/app_support.hpp>
#include <migrate/mec/user_context_endpoint.hpp>
#include <migrate/net/http_server.hpp>

#include <fmt/format.h>

#include <atomic>
#include <mutex>

namespace migrate::mec {

std::string user_context_service_name(const std::string& prefix, const std::string& app_instance_id) {
    return prefix + app_instance_id;
}

result<void> user_context_endpoint_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("user_context_endpoint_options.{}: {}", field, why));
    };
    if (app_instance_id.empty()) return bad("app_instance_id", "must name this app instance");
    if (register_service) {
        if (auto v = platform.validate(); !v) return bad("platform", v.error().message);
    }
    if (!advertised_url.empty() && advertised_url.rfind("http://", 0) != 0 && advertised_url.rfind("https://", 0) != 0)
        return bad("advertised_url", fmt::format("'{}' must be http://HOST:PORT", advertised_url));
    net::http_server_options probe;
    probe.address = listen_address;
    if (auto v = probe.validate(); !v) return bad("listen_address", v.error().message);
    return ok();
}

void to_json(json& j, const user_context_endpoint_options& o) {
    j = json{{"platform", o.platform},          {"app_instance_id", o.app_instance_id},
             {"service_name_prefix", o.service_name_prefix}, {"listen_address", o.listen_address},
             {"port", o.port},                  {"advertised_url", o.advertised_url},
             {"register_service", o.register_service}};
}

void from_json(const json& j, user_context_endpoint_options& o) {
    using migrate::detail::read_field;
    const char* w = "user_context_endpoint_options";
    read_field(j, w, "platform", o.platform);
    read_field(j, w, "app_instance_id", o.app_instance_id);
    read_field(j, w, "service_name_prefix", o.service_name_prefix);
    read_field(j, w, "listen_address", o.listen_address);
    read_field(j, w, "port", o.port);
    read_field(j, w, "advertised_url", o.advertised_url);
    read_field(j, w, "register_service", o.register_service);
}

struct user_context_endpoint::impl {
    user_context_endpoint_options options;
    context_handler on_context;
    std::unique_ptr<net::http_server> server;
    std::string url;
    std::string service_instance_id;
    std::atomic<std::uint64_t> received{0};
    std::mutex stop_mutex;
    bool stopped = false;

    net::http_response put_context(const net::http_request& q) {
        auto body = q.json_body();
        if (!body) return net::http_response::problem(400, body.error().message, q.path);
        if (!body->is_object()) return net::http_response::problem(400, "body: expected an object", q.path);
        associate_id device;
        device.value = q.param("device");
        auto aid = body->find("associateId");
        if (aid != body->end()) {
            if (!aid->is_object() || !aid->contains("value") || !(*aid)["value"].is_string())
                return net::http_response::problem(400, "/associateId/value: missing or not a string", q.path);
            if ((*aid)["value"].get<std::string>() != device.value)
                return net::http_response::problem(
                    400, fmt::format("/associateId/value: '{}' but the path names '{}'", (*aid)["value"].get<std::string>(),
                                     device.value),
                    q.path);
            if (aid->contains("type") && (*aid)["type"].is_string()) device.type = (*aid)["type"].get<std::string>();
        }
        auto context = body->find("context");
        if (context == body->end()) return net::http_response::problem(400, "/context: missing", q.path);
        std::string source;
        if (auto s = body->find("sourceAppInstanceId"); s != body->end() && s->is_string()) source = s->get<std::string>();
        auto stored = on_context(device, *context, source);
        if (!stored)
            return net::http_response::problem(
                500, fmt::format("app instance '{}' did not store the context of {}: {}", options.app_instance_id,
                                 device.value, stored.error().what()),
                q.path);
        ++received;
        return net::http_response::no_content();
    }
};

user_context_endpoint::user_context_endpoint(std::unique_ptr<impl> p) : p_(std::move(p)) {}
user_context_endpoint::~user_context_endpoint() { stop(); }

result<std::unique_ptr<user_context_endpoint>> user_context_endpoint::start(const user_context_endpoint_options& o,
                                                                            context_handler on_context) {
    if (auto v = o.validate(); !v) return v.error();
    if (!on_context) return make_failure(error::invalid_argument, "user_context_endpoint: no context handler");
    auto p = std::make_unique<impl>();
    p->options = o;
    p->on_context = std::move(on_context);
    auto* raw = p.get();
    net::http_router routes;
    routes.route("PUT", "/user-context/users/{device}", [raw](const net::http_request& q) { return raw->put_context(q); });
    net::http_server_options so;
    so.address = o.listen_address;
    so.port = o.port;
    auto server = net::http_server::start(so, std::move(routes));
    if (!server) return server.error();
    p->server = std::move(*server);
    p->url = (o.advertised_url.empty() ? p->server->url() : o.advertised_url) + "/user-context";
    if (o.register_service) {
        app_support_client registry(o.platform, o.app_instance_id);
        service_info s;
        s.ser_name = user_context_service_name(o.service_name_prefix, o.app_instance_id);
        s.uris = {p->url};
        auto offered = registry.register_service(s);
        if (!offered) {
            p->server->stop();
            return failure{offered.error().code,
                                fmt::format("user_context_endpoint '{}': cannot offer '{}' in the service registry: {}",
                                            o.app_instance_id, s.ser_name, offered.error().message)};
        }
        p->service_instance_id = offered->ser_instance_id;
    }
    return std::unique_ptr<user_context_endpoint>(new user_context_endpoint(std::move(p)));
}

void user_context_endpoint::stop() noexcept {
    if (!p_) return;
    std::lock_guard lock(p_->stop_mutex);
    if (p_->stopped) return;
    p_->stopped = true;
    if (!p_->service_instance_id.empty()) {
        try {
            app_support_client registry(p_->options.platform, p_->options.app_instance_id);
            (void)registry.deregister_service(p_->service_instance_id);   // best effort: the platform may be gone
        } catch (...) {
        }
    }
    if (p_->server) p_->server->stop();
}

std::string user_context_endpoint::url() const { return p_->url; }
const std::string& user_context_endpoint::service_instance_id() const noexcept { return p_->service_instance_id; }
std::uint64_t user_context_endpoint::received() const noexcept { return p_->received.load(); }

}  // namespace migrate::mec
