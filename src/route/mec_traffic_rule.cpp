// The `mec_traffic_rule` route switch (include/migrate/route/mec_traffic_rule.hpp), on the
// SDK's MEC011 client (mec/app_support.hpp).
#include <migrate/mec/app_support.hpp>
#include <migrate/route/mec_traffic_rule.hpp>

#include <fmt/format.h>

namespace migrate::route {

namespace {
constexpr const char* where = "mec_traffic_rule";
}  // namespace

void to_json(json& j, const mec_traffic_rule_ref& r) {
    j = json{{"app_instance_id", r.app_instance_id}, {"traffic_rule_id", r.traffic_rule_id}};
}

void from_json(const json& j, mec_traffic_rule_ref& r) {
    if (!j.is_object())
        throw migration_error(make_failure(error::invalid_argument,
                                           "mec_traffic_rule: a rule must be {app_instance_id, traffic_rule_id}, got " + j.dump()));
    // The spec's own names are accepted too (appInstanceId, trafficRuleId).
    detail::read_field(j, "mec_traffic_rule.rule", "appInstanceId", r.app_instance_id);
    detail::read_field(j, "mec_traffic_rule.rule", "trafficRuleId", r.traffic_rule_id);
    detail::read_field(j, "mec_traffic_rule.rule", "app_instance_id", r.app_instance_id);
    detail::read_field(j, "mec_traffic_rule.rule", "traffic_rule_id", r.traffic_rule_id);
}

void to_json(json& j, const mec_traffic_rule_options& o) {
    json platform;
    mec::to_json(platform, o.platform);
    j = json{{"platform", platform},
             {"hosts", o.hosts},
             {"subjects", o.subjects},
             {"traffic_rule_id", o.traffic_rule_id},
             {"confirm_by_get", o.confirm_by_get}};
}

void from_json(const json& j, mec_traffic_rule_options& o) {
    if (!j.is_object()) throw migration_error(make_failure(error::invalid_argument, "mec_traffic_rule: expected an object"));
    detail::read_field(j, where, "platform", o.platform);
    detail::read_field(j, where, "hosts", o.hosts);
    detail::read_field(j, where, "subjects", o.subjects);
    detail::read_field(j, where, "traffic_rule_id", o.traffic_rule_id);
    detail::read_field(j, where, "confirm_by_get", o.confirm_by_get);
}

namespace {
result<void> check_ref(const mec_traffic_rule_ref& r, const std::string& field) {
    if (r.app_instance_id.empty())
        return make_failure(error::invalid_argument, fmt::format("mec_traffic_rule.{}.app_instance_id: empty", field));
    if (r.traffic_rule_id.empty())
        return make_failure(error::invalid_argument, fmt::format("mec_traffic_rule.{}.traffic_rule_id: empty", field));
    return {};
}
}  // namespace

result<void> mec_traffic_rule_options::validate() const {
    if (auto v = platform.validate(); !v)
        return make_failure(error::invalid_argument, fmt::format("mec_traffic_rule.platform: {}", v.error().message));
    if (hosts.empty() && subjects.empty() && traffic_rule_id.empty())
        return make_failure(error::invalid_argument,
                            "mec_traffic_rule.hosts: no rule given (hosts, subjects or traffic_rule_id)");
    for (auto& [host, ref] : hosts) {
        if (host.empty()) return make_failure(error::invalid_argument, "mec_traffic_rule.hosts: an empty host name");
        MIGRATE_TRY(check_ref(ref, "hosts." + host));
    }
    for (auto& [subject, per_host] : subjects) {
        if (subject.empty()) return make_failure(error::invalid_argument, "mec_traffic_rule.subjects: an empty subject");
        for (auto& [host, ref] : per_host) {
            if (host.empty())
                return make_failure(error::invalid_argument,
                                    fmt::format("mec_traffic_rule.subjects.{}: an empty host name", subject));
            MIGRATE_TRY(check_ref(ref, fmt::format("subjects.{}.{}", subject, host)));
        }
    }
    return {};
}

result<std::unique_ptr<mec_traffic_rule_route_switch>> mec_traffic_rule_route_switch::make(mec_traffic_rule_options options) {
    if (auto v = options.validate(); !v) return v.error();
    return std::unique_ptr<mec_traffic_rule_route_switch>(new mec_traffic_rule_route_switch(std::move(options)));
}

result<mec_traffic_rule_ref> mec_traffic_rule_route_switch::rule_for(const std::string& subject, const service_instance& i) const {
    if (auto s = options_.subjects.find(subject); s != options_.subjects.end())
        if (auto h = s->second.find(i.host); h != s->second.end()) return h->second;
    if (auto h = options_.hosts.find(i.host); h != options_.hosts.end()) return h->second;
    if (!options_.traffic_rule_id.empty() && !i.id.empty()) return mec_traffic_rule_ref{i.id, options_.traffic_rule_id};
    return make_failure(error::invalid_argument,
                        fmt::format("mec_traffic_rule: no traffic rule known for instance '{}' on host '{}' (options.hosts has no "
                                    "'{}'{})",
                                    i.id, i.host, i.host,
                                    options_.traffic_rule_id.empty() ? ", and no traffic_rule_id to use with the instance id" : ""));
}

namespace {

// "source" / "target" in c.state["rules"].
struct rule_role {
    const char* name;
    service_instance route_change::*instance;
};
constexpr rule_role source_role{"source", &route_change::from};
constexpr rule_role target_role{"target", &route_change::to};

// Names the rule a failure is about, and what to do about a 501.
failure about(const failure& f, const route_change& c, const rule_role& role, const mec_traffic_rule_ref& ref,
              std::string_view doing) {
    const service_instance& i = c.*role.instance;
    std::string msg = fmt::format("mec_traffic_rule: {} {}'s {} rule '{}' of app instance '{}' (instance '{}' on host '{}'): {}", doing,
                                  c.subject, role.name, ref.traffic_rule_id, ref.app_instance_id, i.id, i.host, f.message);
    if (f.code == error::unsupported)
        msg += "; nothing was changed: fall back to another route switch, e.g. openflow (docs/mec.md)";
    return failure{f.code, std::move(msg)};
}

mec_traffic_rule_ref ref_of(const json& rule) {
    return {rule.at("app_instance_id").get<std::string>(), rule.at("traffic_rule_id").get<std::string>()};
}

// The rule as the platform has it, noted in c.state["rules"][role] (with the document, for
// the PUTs and for rollback).
result<void> read_rule(const mec_traffic_rule_options& o, route_change& c, const rule_role& role, const mec_traffic_rule_ref& ref) {
    mec::app_support_client client(o.platform, ref.app_instance_id);
    auto r = client.traffic_rule_by_id(ref.traffic_rule_id);
    if (!r) return about(r.error(), c, role, ref, "reading");
    if (r->id != ref.traffic_rule_id)
        return about(make_failure(error::protocol_error, fmt::format("the platform answered with rule '{}'", r->id)), c, role, ref,
                     "reading");
    c.state["rules"][role.name] = json{{"host", (c.*role.instance).host},
                                       {"app_instance_id", ref.app_instance_id},
                                       {"traffic_rule_id", ref.traffic_rule_id},
                                       {"state_before", std::string(mec::to_string(r->state))},
                                       {"document", mec::to_json(*r)}};
    return {};
}

// PUTs `document` (a rule as read) with `state`; confirmed by the answer and, if asked, a GET.
result<void> put_rule(const mec_traffic_rule_options& o, const json& noted, mec::traffic_rule_state state, json& step) {
    auto ref = ref_of(noted);
    auto rule = mec::parse_traffic_rule(noted.at("document"));
    if (!rule) return rule.error();
    rule->state = state;
    step = json{{"rule", ref.traffic_rule_id}, {"app_instance_id", ref.app_instance_id},
                {"state", std::string(mec::to_string(state))}, {"confirmed", false}};
    mec::app_support_client client(o.platform, ref.app_instance_id);
    auto answer = client.update_traffic_rule(*rule);
    if (!answer) return answer.error();
    if (answer->state != state)
        return make_failure(error::daemon_error, fmt::format("the platform answered the PUT of state {} with state {}",
                                                             mec::to_string(state), mec::to_string(answer->state)));
    if (o.confirm_by_get) {
        auto now = client.traffic_rule_by_id(ref.traffic_rule_id);
        if (!now) return now.error();
        if (now->state != state)
            return make_failure(error::daemon_error,
                                fmt::format("the platform accepted the PUT of state {} but a GET then reads state {}",
                                            mec::to_string(state), mec::to_string(now->state)));
    }
    step["confirmed"] = true;
    return {};
}

bool has_rule(const route_change& c, const rule_role& role) {
    auto r = c.state.find("rules");
    return r != c.state.end() && r->is_object() && r->contains(role.name);
}

}  // namespace

result<void> mec_traffic_rule_route_switch::prepare(route_change& c) {
    if (!c.state.is_object()) c.state = json::object();
    c.state.erase("rules");
    c.state.erase("steps");
    c.state.erase("sent");
    c.state.erase("same_rule");
    c.state.erase("rollback_errors");
    c.state.erase("restored");
    // Resolve both first: a bad configuration is named before any request.
    std::optional<mec_traffic_rule_ref> from, to;
    if (!c.from.empty()) {
        auto r = rule_for(c.subject, c.from);
        if (!r) return r.error();
        from = *r;
    }
    if (!c.to.empty()) {
        auto r = rule_for(c.subject, c.to);
        if (!r) return r.error();
        to = *r;
    }
    // The target's first: it is the one that must exist for the move, and a 501 shows on it.
    if (to) MIGRATE_TRY(read_rule(options_, c, target_role, *to));
    if (from) {
        if (to && from->app_instance_id == to->app_instance_id && from->traffic_rule_id == to->traffic_rule_id)
            c.state["same_rule"] = true;
        else
            MIGRATE_TRY(read_rule(options_, c, source_role, *from));
    }
    c.prepared = true;
    return {};
}

result<void> mec_traffic_rule_route_switch::commit(route_change& c) {
    if (c.to.empty())
        return make_failure(error::invalid_argument, "mec_traffic_rule: commit without a target instance (route_change.to)");
    if (!c.state.is_object()) c.state = json::object();
    // The target was not known at prepare (a replica pool picks it later): read it now,
    // before anything is sent.
    if (!has_rule(c, target_role)) {
        auto to = rule_for(c.subject, c.to);
        if (!to) return to.error();
        MIGRATE_TRY(read_rule(options_, c, target_role, *to));
        c.state.erase("same_rule");
        if (!c.from.empty()) {
            auto from = rule_for(c.subject, c.from);
            if (!from) return from.error();
            if (from->app_instance_id == to->app_instance_id && from->traffic_rule_id == to->traffic_rule_id) {
                c.state["same_rule"] = true;
                c.state["rules"].erase("source");
            } else if (!has_rule(c, source_role)) {
                MIGRATE_TRY(read_rule(options_, c, source_role, *from));
            }
        }
    }
    c.state["steps"] = json::array();
    c.state["sent"] = json::array();
    auto put = [&](const rule_role& role, mec::traffic_rule_state s) -> result<void> {
        const json& noted = c.state["rules"][role.name];
        c.state["sent"].push_back(role.name);   // before the PUT: a timeout may still have applied it
        json step;
        auto r = put_rule(options_, noted, s, step);
        step["role"] = role.name;
        c.state["steps"].push_back(step);
        if (!r) return about(r.error(), c, role, ref_of(noted), fmt::format("switching {}", mec::to_string(s)));
        return {};
    };
    // Make: the target's rule steers the traffic to the new instance, confirmed ...
    MIGRATE_TRY(put(target_role, mec::traffic_rule_state::active));
    // ... before break: the source's rule stops steering it to the old one.
    if (has_rule(c, source_role)) MIGRATE_TRY(put(source_role, mec::traffic_rule_state::inactive));
    c.committed = true;
    return {};
}

void mec_traffic_rule_route_switch::rollback(route_change& c) noexcept {
    try {
        if (!c.state.is_object()) return;
        auto sent = c.state.find("sent");
        if (sent == c.state.end() || !sent->is_array() || sent->empty()) {
            c.committed = false;   // nothing was sent: the rules are as prepare read them
            return;
        }
        json errors = json::array();
        json restored = json::array();
        auto was_sent = [&](const char* role) {
            for (auto& s : *sent)
                if (s == role) return true;
            return false;
        };
        // The source serves again before the target's rule is withdrawn.
        for (const rule_role* role : {&source_role, &target_role}) {
            if (!was_sent(role->name) || !has_rule(c, *role)) continue;
            const json& noted = c.state["rules"][role->name];
            try {
                auto before = noted.at("state_before").get<std::string>() == "ACTIVE" ? mec::traffic_rule_state::active
                                                                                    : mec::traffic_rule_state::inactive;
                json step;
                if (auto r = put_rule(options_, noted, before, step); !r)
                    errors.push_back(about(r.error(), c, *role, ref_of(noted), "restoring").what());
                step["role"] = role->name;
                restored.push_back(step);
            } catch (const std::exception& e) {
                errors.push_back(fmt::format("mec_traffic_rule: restoring the {} rule: {}", role->name, e.what()));
            }
        }
        c.state["restored"] = restored;
        c.state.erase("sent");
        c.committed = false;
        if (!errors.empty()) c.state["rollback_errors"] = errors;
    } catch (const std::exception& e) {
        try {
            c.state["rollback_errors"].push_back(e.what());
        } catch (...) {
        }
    }
}

}  // namespace migrate::route
