// src/openflow/action.cpp — action validation, printing and JSON.
#include <migrate/openflow/action.hpp>

#include "fields.hpp"

#include <fmt/format.h>

#include <string>

namespace migrate::openflow {

namespace {

int fields_set(const set_field& s) {
    int n = 0;
    detail::for_each_field(s, [&](field, const auto& v) { n += v.has_value(); });
    return n;
}

}  // namespace

result<void> set_field::validate() const {
    int n = fields_set(*this);
    if (n != 1)
        return make_failure(error::invalid_argument,
                            fmt::format("set_field: exactly one field must be set, {} are", n));
    return ok();
}

field set_field::which() const {
    std::optional<field> set;
    detail::for_each_field(*this, [&](field f, const auto& v) {
        if (v && !set) set = f;
    });
    return set.value_or(field::eth_src);
}

result<void> validate(const action& a) {
    if (auto* s = std::get_if<set_field>(&a)) return s->validate();
    const auto& o = std::get<output>(a);
    if (o.port == 0 || (o.port > port::max && o.port < port::in_port))
        return make_failure(error::invalid_argument, fmt::format("output: {} is not a port", o.port));
    if (o.port == port::any) return make_failure(error::invalid_argument, "output: ANY is not a port to send to");
    return ok();
}

result<void> check_against(const action& a, const match& m) {
    auto* s = std::get_if<set_field>(&a);
    if (!s || !s->validate()) return ok();
    auto f = s->which();
    auto needs = [&](const char* what) {
        return make_failure(error::invalid_argument,
                            fmt::format("set_field {} needs {} in the flow's match", to_string(f), what));
    };
    switch (f) {
        case field::ipv4_src:
        case field::ipv4_dst:
            if (m.eth_type != eth_type::ipv4) return needs("eth_type=0x0800");
            break;
        case field::udp_src:
        case field::udp_dst:
            if (m.ip_proto != ip_proto::udp) return needs("ip_proto=17");
            break;
        case field::tcp_src:
        case field::tcp_dst:
            if (m.ip_proto != ip_proto::tcp) return needs("ip_proto=6");
            break;
        default: break;
    }
    return ok();
}

std::string to_string(const action& a) {
    if (auto* o = std::get_if<output>(&a)) {
        if (o->port == port::controller && o->max_len != max_len_no_buffer)
            return fmt::format("output:CONTROLLER:{}", o->max_len);
        return "output:" + port::name(o->port);
    }
    const auto& s = std::get<set_field>(a);
    if (!s.validate()) return "set_field:invalid";
    std::string value;
    detail::for_each_field(s, [&](field f, const auto& v) {
        if (v) value = detail::value_text(f, *v);
    });
    return fmt::format("set_field:{}->{}", value, to_string(s.which()));
}

void to_json(json& j, const action& a) {
    if (auto* o = std::get_if<output>(&a)) {
        if (o->max_len == max_len_no_buffer) j = {{"output", o->port}};
        else j = {{"output", {{"port", o->port}, {"max_len", o->max_len}}}};
        return;
    }
    j = {{"set_field", detail::fields_to_json(std::get<set_field>(a))}};
}

void from_json(const json& j, action& a) {
    using namespace detail;
    require_object(j, "action");
    if (j.size() != 1) bad_field("action", "expected one key, output or set_field, got " + j.dump());
    const std::string key = j.begin().key();
    const json& v = j.begin().value();
    if (key == "output") {
        output o;
        if (v.is_object()) {
            for (auto& [k, x] : v.items()) {
                if (k == "port") o.port = read_port(x, "action.output.port");
                else if (k == "max_len") o.max_len = read_uint<std::uint16_t>(x, "action.output.max_len");
                else bad_field("action.output." + k, "unknown key (known: port, max_len)");
            }
            if (!v.contains("port")) bad_field("action.output", "port is missing");
        } else {
            o.port = read_port(v, "action.output");
        }
        a = o;
    } else if (key == "set_field") {
        require_object(v, "action.set_field");
        set_field s;
        for (auto& [k, x] : v.items())
            if (!read_named_field(s, k, x, "action.set_field." + k))
                bad_field("action.set_field." + k, "not a field set_field can rewrite (eth_src, eth_dst, ipv4_src, "
                                                   "ipv4_dst, udp_src, udp_dst, tcp_src, tcp_dst)");
        if (auto r = s.validate(); !r) bad_field("action.set_field", r.error().message);
        a = s;
    } else {
        bad_field("action." + key, "unknown action (known: output, set_field)");
    }
}

}  // namespace migrate::openflow
