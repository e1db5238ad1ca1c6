// src/openflow/action.cpp — action validation, printing and JSON.
#include <migrate/openflow/action.hpp>

#include "json_fields.hpp"

#include <fmt/format.h>

#include <string>

namespace migrate::openflow {

namespace {

int fields_set(const set_field& s) {
    return int(s.eth_src.has_value()) + int(s.eth_dst.has_value()) + int(s.ipv4_src.has_value()) +
           int(s.ipv4_dst.has_value()) + int(s.udp_src.has_value()) + int(s.udp_dst.has_value()) +
           int(s.tcp_src.has_value()) + int(s.tcp_dst.has_value());
}

// The value of the one field that is set, as ovs-ofctl prints it.
std::string value_text(const set_field& s) {
    if (s.eth_src) return s.eth_src->to_string();
    if (s.eth_dst) return s.eth_dst->to_string();
    if (s.ipv4_src) return s.ipv4_src->to_string();
    if (s.ipv4_dst) return s.ipv4_dst->to_string();
    if (s.udp_src) return std::to_string(*s.udp_src);
    if (s.udp_dst) return std::to_string(*s.udp_dst);
    if (s.tcp_src) return std::to_string(*s.tcp_src);
    if (s.tcp_dst) return std::to_string(*s.tcp_dst);
    return "?";
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
    if (eth_src) return field::eth_src;
    if (eth_dst) return field::eth_dst;
    if (ipv4_src) return field::ipv4_src;
    if (ipv4_dst) return field::ipv4_dst;
    if (udp_src) return field::udp_src;
    if (udp_dst) return field::udp_dst;
    if (tcp_src) return field::tcp_src;
    return field::tcp_dst;
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
    return fmt::format("set_field:{}->{}", value_text(s), to_string(s.which()));
}

void to_json(json& j, const action& a) {
    if (auto* o = std::get_if<output>(&a)) {
        if (o->max_len == max_len_no_buffer) j = {{"output", o->port}};
        else j = {{"output", {{"port", o->port}, {"max_len", o->max_len}}}};
        return;
    }
    const auto& s = std::get<set_field>(a);
    json f = json::object();
    if (s.eth_src) f["eth_src"] = *s.eth_src;
    if (s.eth_dst) f["eth_dst"] = *s.eth_dst;
    if (s.ipv4_src) f["ipv4_src"] = *s.ipv4_src;
    if (s.ipv4_dst) f["ipv4_dst"] = *s.ipv4_dst;
    if (s.udp_src) f["udp_src"] = *s.udp_src;
    if (s.udp_dst) f["udp_dst"] = *s.udp_dst;
    if (s.tcp_src) f["tcp_src"] = *s.tcp_src;
    if (s.tcp_dst) f["tcp_dst"] = *s.tcp_dst;
    j = {{"set_field", std::move(f)}};
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
        for (auto& [k, x] : v.items()) {
            auto where = "action.set_field." + k;
            if (k == "eth_src") s.eth_src = read_address<mac_address>(x, where);
            else if (k == "eth_dst") s.eth_dst = read_address<mac_address>(x, where);
            else if (k == "ipv4_src") s.ipv4_src = read_address<ipv4_address>(x, where);
            else if (k == "ipv4_dst") s.ipv4_dst = read_address<ipv4_address>(x, where);
            else if (k == "udp_src") s.udp_src = read_uint<std::uint16_t>(x, where);
            else if (k == "udp_dst") s.udp_dst = read_uint<std::uint16_t>(x, where);
            else if (k == "tcp_src") s.tcp_src = read_uint<std::uint16_t>(x, where);
            else if (k == "tcp_dst") s.tcp_dst = read_uint<std::uint16_t>(x, where);
            else
                bad_field(where, "not a field set_field can rewrite (eth_src, eth_dst, ipv4_src, ipv4_dst, udp_src, "
                                 "udp_dst, tcp_src, tcp_dst)");
        }
        if (auto r = s.validate(); !r) bad_field("action.set_field", r.error().message);
        a = s;
    } else {
        bad_field("action." + key, "unknown action (known: output, set_field)");
    }
}

}  // namespace migrate::openflow
