// src/openflow/error_names.cpp — OFPT_ERROR types and codes in words (OpenFlow 1.3.5,
// section 7.4.4), so a refused flow_mod reads "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT
// (problem validating output port)" rather than "error 2/4".
#include <migrate/openflow/message.hpp>

#include <fmt/format.h>

#include <span>
#include <string>
#include <string_view>

namespace migrate::openflow {

namespace {

struct code_text {
    std::string_view name;
    std::string_view meaning;
};

constexpr code_text hello_failed[] = {
    {"OFPHFC_INCOMPATIBLE", "no compatible version"},
    {"OFPHFC_EPERM", "permissions error"},
};
constexpr code_text bad_request[] = {
    {"OFPBRC_BAD_VERSION", "version not supported"},
    {"OFPBRC_BAD_TYPE", "message type not supported"},
    {"OFPBRC_BAD_MULTIPART", "multipart type not supported"},
    {"OFPBRC_BAD_EXPERIMENTER", "experimenter id not supported"},
    {"OFPBRC_BAD_EXP_TYPE", "experimenter type not supported"},
    {"OFPBRC_EPERM", "permissions error"},
    {"OFPBRC_BAD_LEN", "wrong request length for its type"},
    {"OFPBRC_BUFFER_EMPTY", "buffer already used"},
    {"OFPBRC_BUFFER_UNKNOWN", "buffer does not exist"},
    {"OFPBRC_BAD_TABLE_ID", "table id invalid or does not exist"},
    {"OFPBRC_IS_SLAVE", "denied because the controller is slave"},
    {"OFPBRC_BAD_PORT", "invalid port"},
    {"OFPBRC_BAD_PACKET", "invalid packet in packet-out"},
    {"OFPBRC_MULTIPART_BUFFER_OVERFLOW", "multipart request overflowed the buffer"},
};
constexpr code_text bad_action[] = {
    {"OFPBAC_BAD_TYPE", "unknown action type"},
    {"OFPBAC_BAD_LEN", "length problem in actions"},
    {"OFPBAC_BAD_EXPERIMENTER", "unknown experimenter id"},
    {"OFPBAC_BAD_EXP_TYPE", "unknown action for the experimenter id"},
    {"OFPBAC_BAD_OUT_PORT", "problem validating output port"},
    {"OFPBAC_BAD_ARGUMENT", "bad action argument"},
    {"OFPBAC_EPERM", "permissions error"},
    {"OFPBAC_TOO_MANY", "too many actions"},
    {"OFPBAC_BAD_QUEUE", "problem validating output queue"},
    {"OFPBAC_BAD_OUT_GROUP", "invalid group id in forward action"},
    {"OFPBAC_MATCH_INCONSISTENT", "action cannot apply for this match, or set-field missing its prerequisite"},
    {"OFPBAC_UNSUPPORTED_ORDER", "action order unsupported for the apply-actions list"},
    {"OFPBAC_BAD_TAG", "unsupported tag or encapsulation"},
    {"OFPBAC_BAD_SET_TYPE", "unsupported type in set-field"},
    {"OFPBAC_BAD_SET_LEN", "length problem in set-field"},
    {"OFPBAC_BAD_SET_ARGUMENT", "bad argument in set-field"},
};
constexpr code_text bad_instruction[] = {
    {"OFPBIC_UNKNOWN_INST", "unknown instruction"},
    {"OFPBIC_UNSUP_INST", "instruction not supported by the switch or table"},
    {"OFPBIC_BAD_TABLE_ID", "invalid table id"},
    {"OFPBIC_UNSUP_METADATA", "metadata value unsupported"},
    {"OFPBIC_UNSUP_METADATA_MASK", "metadata mask unsupported"},
    {"OFPBIC_BAD_EXPERIMENTER", "unknown experimenter id"},
    {"OFPBIC_BAD_EXP_TYPE", "unknown instruction for the experimenter id"},
    {"OFPBIC_BAD_LEN", "length problem in instructions"},
    {"OFPBIC_EPERM", "permissions error"},
};
constexpr code_text bad_match[] = {
    {"OFPBMC_BAD_TYPE", "unsupported match type"},
    {"OFPBMC_BAD_LEN", "length problem in match"},
    {"OFPBMC_BAD_TAG", "unsupported tag or encapsulation"},
    {"OFPBMC_BAD_DL_ADDR_MASK", "unsupported datalink address mask"},
    {"OFPBMC_BAD_NW_ADDR_MASK", "unsupported network address mask"},
    {"OFPBMC_BAD_WILDCARDS", "unsupported combination of fields masked or omitted"},
    {"OFPBMC_BAD_FIELD", "unsupported field type in the match"},
    {"OFPBMC_BAD_VALUE", "unsupported value in a match field"},
    {"OFPBMC_BAD_MASK", "unsupported mask"},
    {"OFPBMC_BAD_PREREQ", "a prerequisite was not met"},
    {"OFPBMC_DUP_FIELD", "a field type was duplicated"},
    {"OFPBMC_EPERM", "permissions error"},
};
constexpr code_text flow_mod_failed[] = {
    {"OFPFMFC_UNKNOWN", "unspecified error"},
    {"OFPFMFC_TABLE_FULL", "table full"},
    {"OFPFMFC_BAD_TABLE_ID", "table does not exist"},
    {"OFPFMFC_OVERLAP", "overlapping flow with CHECK_OVERLAP set"},
    {"OFPFMFC_EPERM", "permissions error"},
    {"OFPFMFC_BAD_TIMEOUT", "unsupported idle or hard timeout"},
    {"OFPFMFC_BAD_COMMAND", "unsupported or unknown command"},
    {"OFPFMFC_BAD_FLAGS", "unsupported or unknown flags"},
};
constexpr code_text group_mod_failed[] = {
    {"OFPGMFC_GROUP_EXISTS", "group already exists"},
    {"OFPGMFC_INVALID_GROUP", "invalid group"},
    {"OFPGMFC_WEIGHT_UNSUPPORTED", "weights unsupported"},
    {"OFPGMFC_OUT_OF_GROUPS", "group table full"},
    {"OFPGMFC_OUT_OF_BUCKETS", "too many buckets"},
    {"OFPGMFC_CHAINING_UNSUPPORTED", "groups forwarding to groups unsupported"},
    {"OFPGMFC_WATCH_UNSUPPORTED", "cannot watch that port or group"},
    {"OFPGMFC_LOOP", "group would loop"},
    {"OFPGMFC_UNKNOWN_GROUP", "group does not exist"},
    {"OFPGMFC_CHAINED_GROUP", "another group forwards to it"},
    {"OFPGMFC_BAD_TYPE", "unsupported group type"},
    {"OFPGMFC_BAD_COMMAND", "unsupported command"},
    {"OFPGMFC_BAD_BUCKET", "error in bucket"},
    {"OFPGMFC_BAD_WATCH", "error in watch port or group"},
    {"OFPGMFC_EPERM", "permissions error"},
};
constexpr code_text port_mod_failed[] = {
    {"OFPPMFC_BAD_PORT", "port does not exist"},
    {"OFPPMFC_BAD_HW_ADDR", "hardware address does not match the port"},
    {"OFPPMFC_BAD_CONFIG", "invalid config"},
    {"OFPPMFC_BAD_ADVERTISE", "invalid advertise"},
    {"OFPPMFC_EPERM", "permissions error"},
};
constexpr code_text table_mod_failed[] = {
    {"OFPTMFC_BAD_TABLE", "table does not exist"},
    {"OFPTMFC_BAD_CONFIG", "invalid config"},
    {"OFPTMFC_EPERM", "permissions error"},
};
constexpr code_text queue_op_failed[] = {
    {"OFPQOFC_BAD_PORT", "invalid port"},
    {"OFPQOFC_BAD_QUEUE", "queue does not exist"},
    {"OFPQOFC_EPERM", "permissions error"},
};
constexpr code_text switch_config_failed[] = {
    {"OFPSCFC_BAD_FLAGS", "invalid flags"},
    {"OFPSCFC_BAD_LEN", "invalid miss_send_len"},
    {"OFPSCFC_EPERM", "permissions error"},
};
constexpr code_text role_request_failed[] = {
    {"OFPRRFC_STALE", "stale generation id"},
    {"OFPRRFC_UNSUP", "role change unsupported"},
    {"OFPRRFC_BAD_ROLE", "invalid role"},
};
constexpr code_text meter_mod_failed[] = {
    {"OFPMMFC_UNKNOWN", "unspecified error"},
    {"OFPMMFC_METER_EXISTS", "meter already exists"},
    {"OFPMMFC_INVALID_METER", "invalid meter"},
    {"OFPMMFC_UNKNOWN_METER", "meter does not exist"},
    {"OFPMMFC_BAD_COMMAND", "unsupported command"},
    {"OFPMMFC_BAD_FLAGS", "unsupported flags"},
    {"OFPMMFC_BAD_RATE", "unsupported rate"},
    {"OFPMMFC_BAD_BURST", "unsupported burst size"},
    {"OFPMMFC_BAD_BAND", "unsupported band"},
    {"OFPMMFC_BAD_BAND_VALUE", "unsupported band value"},
    {"OFPMMFC_OUT_OF_METERS", "no more meters"},
    {"OFPMMFC_OUT_OF_BANDS", "too many bands"},
};
constexpr code_text table_features_failed[] = {
    {"OFPTFFC_BAD_TABLE", "table does not exist"},
    {"OFPTFFC_BAD_METADATA", "invalid metadata mask"},
    {"OFPTFFC_BAD_TYPE", "unknown property type"},
    {"OFPTFFC_BAD_LEN", "length problem in properties"},
    {"OFPTFFC_BAD_ARGUMENT", "unsupported property value"},
    {"OFPTFFC_EPERM", "permissions error"},
};

struct type_text {
    std::string_view name;
    std::span<const code_text> codes;
};

constexpr type_text error_types[] = {
    {"OFPET_HELLO_FAILED", hello_failed},
    {"OFPET_BAD_REQUEST", bad_request},
    {"OFPET_BAD_ACTION", bad_action},
    {"OFPET_BAD_INSTRUCTION", bad_instruction},
    {"OFPET_BAD_MATCH", bad_match},
    {"OFPET_FLOW_MOD_FAILED", flow_mod_failed},
    {"OFPET_GROUP_MOD_FAILED", group_mod_failed},
    {"OFPET_PORT_MOD_FAILED", port_mod_failed},
    {"OFPET_TABLE_MOD_FAILED", table_mod_failed},
    {"OFPET_QUEUE_OP_FAILED", queue_op_failed},
    {"OFPET_SWITCH_CONFIG_FAILED", switch_config_failed},
    {"OFPET_ROLE_REQUEST_FAILED", role_request_failed},
    {"OFPET_METER_MOD_FAILED", meter_mod_failed},
    {"OFPET_TABLE_FEATURES_FAILED", table_features_failed},
};

constexpr std::uint16_t type_hello_failed = 0;
constexpr std::uint16_t type_experimenter = 0xffff;

const code_text* find_code(std::uint16_t type, std::uint16_t code) {
    if (type >= std::size(error_types)) return nullptr;
    auto codes = error_types[type].codes;
    return code < codes.size() ? &codes[code] : nullptr;
}

// HELLO_FAILED data is ASCII text for humans; keep the printable part.
std::string printable(std::span<const std::uint8_t> data, std::size_t limit) {
    std::string s;
    for (auto b : data) {
        if (s.size() >= limit) break;
        if (b == 0) break;
        s += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '?';
    }
    return s;
}

}  // namespace

std::string error_message::type_name() const {
    if (type < std::size(error_types)) return std::string(error_types[type].name);
    if (type == type_experimenter) return "OFPET_EXPERIMENTER";
    return fmt::format("OFPET_{}", type);
}

std::string error_message::code_name() const {
    if (auto* c = find_code(type, code)) return std::string(c->name);
    return std::to_string(code);
}

std::optional<std::uint8_t> error_message::failed_request_type() const {
    if (type == type_hello_failed || type == type_experimenter || data.size() < 2) return std::nullopt;
    return data[1];
}

std::string error_message::describe() const {
    if (type == type_experimenter) {
        // ofp_error_experimenter_msg: exp_type in the code's place, then a 32-bit experimenter id.
        std::uint32_t experimenter = 0;
        if (data.size() >= 4)
            experimenter = std::uint32_t(data[0]) << 24 | std::uint32_t(data[1]) << 16 | std::uint32_t(data[2]) << 8 | data[3];
        return fmt::format("OFPET_EXPERIMENTER (experimenter 0x{:08x}{}, exp_type {})", experimenter,
                           experimenter == 0x00002320 ? " Nicira" : "", code);
    }
    auto text = type_name() + "/" + code_name();
    if (auto* c = find_code(type, code)) text += fmt::format(" ({})", c->meaning);
    if (type == type_hello_failed) {
        auto why = printable(data, 200);
        if (!why.empty()) text += ": " + why;
    } else if (auto t = failed_request_type()) {
        text += " answering " + openflow::type_name(*t);
    }
    return text;
}

}  // namespace migrate::openflow
