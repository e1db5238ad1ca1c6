#include <migrate/mec/app_support.hpp>
#include <migrate/mec/user_context_endpoint.hpp>
#include <migrate/strategy/user_context_transfer.hpp>

#include "../net/http_call.hpp"

#include <fmt/format.h>

#include <mutex>

namespace migrate {

result<void> user_context_transfer_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("user_context_transfer_options.{}: {}", field, why));
    };
    if (auto v = platform.validate(); !v) return bad("platform", v.error().message);
    if (app_instance_id.empty()) return bad("app_instance_id", "must name the source app instance");
    if (app_mobility_service_id.empty())
        return bad("app_mobility_service_id", "must name the source's AMS registration (ams_client::register_app)");
    if (transfer_timeout.count() <= 0) return bad("transfer_timeout", "must be positive");
    return ok();
}

void to_json(json& j, const user_context_transfer_options& o) {
    j = json{{"platform", o.platform},
             {"app_instance_id", o.app_instance_id},
             {"app_mobility_service_id", o.app_mobility_service_id},
             {"service_name_prefix", o.service_name_prefix},
             {"transfer_timeout_ms", o.transfer_timeout.count()}};
}

void from_json(const json& j, user_context_transfer_options& o) {
    using migrate::detail::read_field;
    const char* w = "user_context_transfer_options";
    read_field(j, w, "platform", o.platform);
    read_field(j, w, "app_instance_id", o.app_instance_id);
    read_field(j, w, "app_mobility_service_id", o.app_mobility_service_id);
    read_field(j, w, "service_name_prefix", o.service_name_prefix);
    std::int64_t ms = o.transfer_timeout.count();
    read_field(j, w, "transfer_timeout_ms", ms);
    o.transfer_timeout = std::chrono::milliseconds(ms);
}

struct user_context_transfer::impl {
    user_context_transfer_options options;
    user_context_callbacks app;
    std::mutex busy;   // the clients keep one connection each: one transfer at a time

    migration_report run(const mec::associate_id& device, const std::string& target) {
        std::lock_guard lock(busy);
        migration_report rep;
        rep.strategy = "user_context_transfer";
        rep.subject = device.value;
        rep.source = options.app_instance_id;
        rep.target = target;
        rep.started_at = utc_now_iso8601();
        report_recorder recorder{rep};
        hooks h;
        h.on_event = [&](const phase_event& e) { recorder(e); };

        // Nothing moved yet: the source still holds the user, the AMS state is untouched.
        auto nothing_moved = [&](const failure& f, phase_scope& scope) {
            scope.finish(f.code);
            rep.success = false;
            rep.error = f.what();
            rep.rolled_back = true;
            return rep;
        };

        std::string target_url;
        {
            phase_scope s{h, phase::prepare, "look up the target's endpoint in the MEC011 service registry"};
            mec::app_support_client registry(options.platform, options.app_instance_id);
            auto name = mec::user_context_service_name(options.service_name_prefix, target);
            auto svc = registry.service(name);
            if (!svc) return nothing_moved(svc.error(), s);
            if (svc->uris.empty() && svc->addresses.empty())
                return nothing_moved(make_failure(error::protocol_error,
                                                  fmt::format("service '{}' in the registry has no endpoint", name)),
                                     s);
            target_url = !svc->uris.empty() ? svc->uris.front()
                                            : fmt::format("http://{}:{}/user-context", svc->addresses.front().host,
                                                          svc->addresses.front().port);
            rep.details["target_url"] = target_url;
            s.finish();
        }
        json context;
        {
            phase_scope s{h, phase::snapshot, "the app exports the user's context"};
            auto c = app.export_context(device);
            if (!c) return nothing_moved(c.error(), s);
            context = std::move(*c);
            s.finish();
        }
        {
            std::string url = target_url + "/users/" + mec::path_segment(device.value);
            json body{{"associateId", {{"type", device.type}, {"value", device.value}}},
                      {"sourceAppInstanceId", options.app_instance_id},
                      {"context", context}};
            std::string payload = body.dump();
            phase_scope s{h, phase::transfer, fmt::format("PUT the context to {}", url)};
            auto r = net::http_call("PUT", url, payload, options.transfer_timeout);
            if (!r) return nothing_moved(r.error(), s);
            if (r->status != 204 && r->status != 200) {
                std::string detail;
                auto problem = json::parse(r->body, nullptr, false);
                if (problem.is_object() && problem.contains("detail") && problem["detail"].is_string())
                    detail = problem["detail"].get<std::string>();
                return nothing_moved(make_failure(r->status >= 500 ? error::daemon_error : error::invalid_argument,
                                                  fmt::format("PUT {}: HTTP {}{}{}", url, r->status,
                                                              detail.empty() ? "" : ": ", detail)),
                                     s);
            }
            s.progress(payload.size());
            s.finish();
        }
        {
            phase_scope s{h, phase::verify, "AMS registration: USER_CONTEXT_TRANSFER_COMPLETED"};
            mec::ams_client ams(options.platform);
            auto updated = ams.set_context_transfer_state(options.app_mobility_service_id, device,
                                                          mec::context_transfer_state::user_context_transfer_completed);
            if (!updated) {
                // The target has the context; the source keeps its copy: nothing is lost.
                s.finish(updated.error().code);
                rep.success = false;
                rep.error = fmt::format("{} (the target {} holds the context; the source kept its copy)",
                                        updated.error().what(), target);
                return rep;
            }
            s.finish();
        }
        if (app.release_context) {
            phase_scope s{h, phase::cleanup, "the app releases the user at the source"};
            auto released = app.release_context(device);
            if (!released) rep.details["release_error"] = released.error().what();
            s.finish(released ? std::error_code{} : released.error().code);
        }
        rep.success = true;
        return rep;
    }
};

user_context_transfer::user_context_transfer(std::unique_ptr<impl> p) : p_(std::move(p)) {}
user_context_transfer::~user_context_transfer() = default;

result<std::unique_ptr<user_context_transfer>> user_context_transfer::create(const user_context_transfer_options& o,
                                                                             user_context_callbacks app) {
    if (auto v = o.validate(); !v) return v.error();
    if (!app.export_context)
        return make_failure(error::invalid_argument, "user_context_callbacks.export_context: must be set");
    auto p = std::make_unique<impl>();
    p->options = o;
    p->app = std::move(app);
    return std::unique_ptr<user_context_transfer>(new user_context_transfer(std::move(p)));
}

migration_report user_context_transfer::transfer(const mec::associate_id& device, const std::string& target) {
    if (device.value.empty() || target.empty()) {
        migration_report rep;
        rep.strategy = "user_context_transfer";
        rep.subject = device.value;
        rep.source = p_->options.app_instance_id;
        rep.target = target;
        rep.started_at = utc_now_iso8601();
        rep.error = make_failure(error::invalid_argument, device.value.empty() ? "no device named" : "no target app instance named")
                        .what();
        rep.rolled_back = true;
        return rep;
    }
    return p_->run(device, target);
}

std::vector<migration_report> user_context_transfer::on_notification(const mec::mobility_procedure_notification& n) {
    std::vector<migration_report> out;
    if (n.status != mec::mobility_status::interhost_moveout_triggered || !n.target) return out;
    for (const auto& d : n.devices) out.push_back(transfer(d, n.target->app_instance_id));
    return out;
}

migration_report user_context_transfer::on_decision(const migration_decision& d) {
    mec::associate_id device;
    device.value = d.subject;
    std::string target;
    if (d.evidence.is_object()) {
        if (auto t = d.evidence.find("target_app_instance_id"); t != d.evidence.end() && t->is_string())
            target = t->get<std::string>();
        if (auto a = d.evidence.find("associate_id"); a != d.evidence.end() && a->is_object() && a->contains("type") &&
                                                     (*a)["type"].is_string())
            device.type = (*a)["type"].get<std::string>();
    }
    return transfer(device, target);
}

const user_context_transfer_options& user_context_transfer::options() const noexcept { return p_->options; }

}  // namespace migrate
