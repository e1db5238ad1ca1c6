// src/openflow/message.cpp — the messages' validation, printing and JSON (the wire format
// is in codec.cpp, the error names in error_names.cpp).
#include <migrate/openflow/message.hpp>

#include "json_fields.hpp"

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

namespace migrate::openflow {

namespace {

constexpr std::array<std::string_view, 30> type_names{
    "OFPT_HELLO",
    "OFPT_ERROR",
    "OFPT_ECHO_REQUEST",
    "OFPT_ECHO_REPLY",
    "OFPT_EXPERIMENTER",
    "OFPT_FEATURES_REQUEST",
    "OFPT_FEATURES_REPLY",
    "OFPT_GET_CONFIG_REQUEST",
    "OFPT_GET_CONFIG_REPLY",
    "OFPT_SET_CONFIG",
    "OFPT_PACKET_IN",
    "OFPT_FLOW_REMOVED",
    "OFPT_PORT_STATUS",
    "OFPT_PACKET_OUT",
    "OFPT_FLOW_MOD",
    "OFPT_GROUP_MOD",
    "OFPT_PORT_MOD",
    "OFPT_TABLE_MOD",
    "OFPT_MULTIPART_REQUEST",
    "OFPT_MULTIPART_REPLY",
    "OFPT_BARRIER_REQUEST",
    "OFPT_BARRIER_REPLY",
    "OFPT_QUEUE_GET_CONFIG_REQUEST",
    "OFPT_QUEUE_GET_CONFIG_REPLY",
    "OFPT_ROLE_REQUEST",
    "OFPT_ROLE_REPLY",
    "OFPT_GET_ASYNC_REQUEST",
    "OFPT_GET_ASYNC_REPLY",
    "OFPT_SET_ASYNC",
    "OFPT_METER_MOD",
};

constexpr std::array<std::string_view, 5> command_names{"add", "modify", "modify_strict", "remove", "remove_strict"};

}  // namespace

std::string type_name(std::uint8_t type) {
    if (type < type_names.size()) return std::string(type_names[type]);
    return fmt::format("OFPT_{}", type);
}

std::string format_dpid(std::uint64_t dpid) { return fmt::format("0x{:016x}", dpid); }

void to_json(json& j, const switch_features& f) {
    j = {{"datapath_id", format_dpid(f.datapath_id)},
         {"n_buffers", f.n_buffers},
         {"n_tables", f.n_tables},
         {"auxiliary_id", f.auxiliary_id},
         {"capabilities", f.capabilities}};
}

std::string_view to_string(flow_command c) noexcept {
    auto i = static_cast<std::size_t>(c);
    return i < command_names.size() ? command_names[i] : std::string_view("unknown");
}

result<void> flow_mod::validate() const {
    auto where = [&](const failure& f) {
        return make_failure(error::invalid_argument, fmt::format("flow_mod ({}): {}", to_string(), f.message));
    };
    if (static_cast<std::uint8_t>(command) > static_cast<std::uint8_t>(flow_command::remove_strict))
        return make_failure(error::invalid_argument,
                            fmt::format("flow_mod: command {} is not add, modify, modify_strict, remove or remove_strict",
                                        static_cast<int>(command)));
    const bool removes = command == flow_command::remove || command == flow_command::remove_strict;
    if (table_id == table_all && !removes)
        return make_failure(error::invalid_argument,
                            fmt::format("flow_mod ({}): table_id 255 (all tables) is only valid for remove", to_string()));
    if (auto r = match.validate(); !r) return where(r.error());
    for (auto& a : actions) {
        if (auto r = openflow::validate(a); !r) return where(r.error());
        if (auto r = check_against(a, match); !r) return where(r.error());
    }
    return ok();
}

std::string flow_mod::to_string() const {
    auto text = fmt::format("{} table {} priority {} {}", openflow::to_string(command), table_id, priority, match);
    if (cookie != 0) text += fmt::format(" cookie 0x{:x}", cookie);
    const bool removes = command == flow_command::remove || command == flow_command::remove_strict;
    if (removes && out_port != port::any) text += " out_port " + port::name(out_port);
    if (!removes || !actions.empty()) {
        std::vector<std::string> parts;
        for (auto& a : actions) parts.push_back(openflow::to_string(a));
        text += " -> " + (parts.empty() ? std::string("drop") : fmt::format("{}", fmt::join(parts, ",")));
    }
    return text;
}

void to_json(json& j, const flow_mod& m) {
    j = {{"command", to_string(m.command)},
         {"table_id", m.table_id},
         {"priority", m.priority},
         {"cookie", m.cookie},
         {"cookie_mask", m.cookie_mask},
         {"idle_timeout", m.idle_timeout},
         {"hard_timeout", m.hard_timeout},
         {"flags", m.flags},
         {"buffer_id", m.buffer_id},
         {"out_port", m.out_port},
         {"out_group", m.out_group},
         {"match", m.match},
         {"actions", m.actions}};
}

void from_json(const json& j, flow_mod& m) {
    using namespace detail;
    require_object(j, "flow_mod");
    m = flow_mod{};
    for (auto& [key, v] : j.items()) {
        auto where = "flow_mod." + key;
        if (key == "command") {
            if (!v.is_string()) bad_field(where, "expected a string, got " + v.dump());
            auto name = v.get<std::string>();
            if (name == "delete") name = "remove";          // OpenFlow's own words
            if (name == "delete_strict") name = "remove_strict";
            bool found = false;
            for (std::size_t i = 0; i < command_names.size(); ++i)
                if (command_names[i] == name) {
                    m.command = static_cast<flow_command>(i);
                    found = true;
                }
            if (!found) bad_field(where, "'" + name + "' is not add, modify, modify_strict, remove or remove_strict");
        } else if (key == "table_id") m.table_id = read_uint<std::uint8_t>(v, where);
        else if (key == "priority") m.priority = read_uint<std::uint16_t>(v, where);
        else if (key == "cookie") m.cookie = read_uint<std::uint64_t>(v, where);
        else if (key == "cookie_mask") m.cookie_mask = read_uint<std::uint64_t>(v, where);
        else if (key == "idle_timeout") m.idle_timeout = read_uint<std::uint16_t>(v, where);
        else if (key == "hard_timeout") m.hard_timeout = read_uint<std::uint16_t>(v, where);
        else if (key == "flags") m.flags = read_uint<std::uint16_t>(v, where);
        else if (key == "buffer_id") m.buffer_id = read_uint<std::uint32_t>(v, where);
        else if (key == "out_port") m.out_port = read_port(v, where);
        else if (key == "out_group") m.out_group = read_uint<std::uint32_t>(v, where);
        else if (key == "match") m.match = v.get<match>();
        else if (key == "actions") {
            if (!v.is_array()) bad_field(where, "expected a list of actions, got " + v.dump());
            m.actions = v.get<std::vector<action>>();
        } else
            bad_field(where, "unknown key (known: command, table_id, priority, cookie, cookie_mask, idle_timeout, "
                             "hard_timeout, flags, buffer_id, out_port, out_group, match, actions)");
    }
}

std::string packet_in::reason_name() const {
    switch (reason) {
        case 0: return "no_match";
        case 1: return "action";
        case 2: return "invalid_ttl";
        default: return std::to_string(reason);
    }
}

result<void> packet_out::validate() const {
    for (auto& a : actions)
        if (auto r = openflow::validate(a); !r)
            return make_failure(error::invalid_argument, "packet_out: " + r.error().message);
    if (buffer_id == no_buffer && data.empty())
        return make_failure(error::invalid_argument, "packet_out: no frame in data and no switch buffer given");
    return ok();
}

}  // namespace migrate::openflow
