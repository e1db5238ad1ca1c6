// src/openflow/codec.cpp — OpenFlow 1.3 wire encoding and bounds-checked decoding.
//
// Layouts are those of the OpenFlow Switch Specification 1.3.5, section 7 (all integers
// big-endian). Decoding reads through `reader`, which checks every length against what is
// left before touching a byte and throws `decode_error`; `decode` turns that into a
// `protocol_error` naming the message and the part that was wrong.
#include <migrate/openflow/message.hpp>

#include "fields.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

namespace migrate::openflow {

namespace {

// ---- constants of the 1.3 wire format that callers never name ----------------------------

constexpr std::uint16_t match_type_oxm = 1;             // OFPMT_OXM
constexpr std::uint16_t oxm_class_basic = 0x8000;       // OFPXMC_OPENFLOW_BASIC
constexpr std::uint16_t instruction_apply_actions = 4;  // OFPIT_APPLY_ACTIONS
constexpr std::uint16_t action_output = 0;              // OFPAT_OUTPUT
constexpr std::uint16_t action_set_field = 25;          // OFPAT_SET_FIELD
constexpr std::uint16_t hello_elem_versionbitmap = 1;   // OFPHET_VERSIONBITMAP
constexpr std::size_t max_message = 0xffff;            // ofp_header.length is 16 bits

std::size_t padded8(std::size_t n) { return (n + 7) / 8 * 8; }

// ---- writing ----------------------------------------------------------------------------

class writer {
public:
    explicit writer(std::vector<std::uint8_t>& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
    std::size_t size() const { return out_.size(); }
    void patch16(std::size_t at, std::uint16_t v) {
        out_[at] = static_cast<std::uint8_t>(v >> 8);
        out_[at + 1] = static_cast<std::uint8_t>(v);
    }

private:
    std::vector<std::uint8_t>& out_;
};

template <class T>
void put_value(writer& w, const T& v) {
    if constexpr (std::is_same_v<T, mac_address>) w.bytes(v.bytes);
    else if constexpr (std::is_same_v<T, ipv4_address>) w.u32(v.value);
    else if constexpr (sizeof(T) == 4) w.u32(v);
    else if constexpr (sizeof(T) == 2) w.u16(v);
    else w.u8(v);
}

// Every field that is set as an OXM TLV (class, field << 1 without mask, length, value), in
// prerequisite order.
template <class S>
void put_oxms(writer& w, const S& s) {
    detail::for_each_field(s, [&](field f, const auto& v) {
        if (!v) return;
        using T = std::decay_t<decltype(*v)>;
        w.u16(oxm_class_basic);
        w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(f) << 1));
        w.u8(static_cast<std::uint8_t>(detail::wire_size<T>()));
        put_value(w, *v);
    });
}

// ofp_match: type, length (without padding), the OXMs, zeros to 8.
void put_match(writer& w, const match& m) {
    const std::size_t start = w.size();
    w.u16(match_type_oxm);
    w.u16(0);
    put_oxms(w, m);
    const std::size_t length = w.size() - start;
    w.patch16(start + 2, static_cast<std::uint16_t>(length));
    w.zeros(padded8(length) - length);
}

void put_action(writer& w, const action& a) {
    if (auto* o = std::get_if<output>(&a)) {
        w.u16(action_output);   // ofp_action_output: type, len 16, port, max_len, pad[6]
        w.u16(16);
        w.u32(o->port);
        w.u16(o->max_len);
        w.zeros(6);
        return;
    }
    const std::size_t start = w.size();  // ofp_action_set_field: type, len, one OXM, zeros to 8
    w.u16(action_set_field);
    w.u16(0);
    put_oxms(w, std::get<set_field>(a));
    const std::size_t length = padded8(w.size() - start);
    w.zeros(length - (w.size() - start));
    w.patch16(start + 2, static_cast<std::uint16_t>(length));
}

void put_actions(writer& w, const std::vector<action>& actions) {
    for (auto& a : actions) put_action(w, a);
}

[[noreturn]] void refuse(const failure& f) { throw migration_error(f); }

void put_body(writer& w, const hello& m) {
    if (m.version_bitmap == 0) return;
    w.u16(hello_elem_versionbitmap);  // ofp_hello_elem_versionbitmap: type, length 8, bitmaps[1]
    w.u16(8);
    w.u32(m.version_bitmap);
}
void put_body(writer& w, const error_message& m) {
    w.u16(m.type);
    w.u16(m.code);
    w.bytes(m.data);
}
void put_body(writer& w, const echo_request& m) { w.bytes(m.data); }
void put_body(writer& w, const echo_reply& m) { w.bytes(m.data); }
void put_body(writer&, const features_request&) {}
void put_body(writer&, const barrier_request&) {}
void put_body(writer&, const barrier_reply&) {}
void put_body(writer& w, const switch_features& m) {
    w.u64(m.datapath_id);
    w.u32(m.n_buffers);
    w.u8(m.n_tables);
    w.u8(m.auxiliary_id);
    w.zeros(2);
    w.u32(m.capabilities);
    w.u32(0);  // reserved
}
void put_body(writer& w, const flow_mod& m) {
    if (auto r = m.validate(); !r) refuse(r.error());
    w.u64(m.cookie);
    w.u64(m.cookie_mask);
    w.u8(m.table_id);
    w.u8(static_cast<std::uint8_t>(m.command));
    w.u16(m.idle_timeout);
    w.u16(m.hard_timeout);
    w.u16(m.priority);
    w.u32(m.buffer_id);
    w.u32(m.out_port);
    w.u32(m.out_group);
    w.u16(m.flags);
    w.zeros(2);
    put_match(w, m.match);
    if (m.actions.empty()) return;
    const std::size_t start = w.size();  // ofp_instruction_actions: type, len, pad[4], actions
    w.u16(instruction_apply_actions);
    w.u16(0);
    w.zeros(4);
    put_actions(w, m.actions);
    w.patch16(start + 2, static_cast<std::uint16_t>(std::min(w.size() - start, max_message)));
}
void put_body(writer& w, const packet_in& m) {
    w.u32(m.buffer_id);
    w.u16(m.total_len);
    w.u8(m.reason);
    w.u8(m.table_id);
    w.u64(m.cookie);
    put_match(w, m.match);
    w.zeros(2);  // so that the IP header after the Ethernet header is 32-bit aligned
    w.bytes(m.data);
}
void put_body(writer& w, const packet_out& m) {
    if (auto r = m.validate(); !r) refuse(r.error());
    w.u32(m.buffer_id);
    w.u32(m.in_port);
    const std::size_t len_at = w.size();
    w.u16(0);
    w.zeros(6);
    const std::size_t actions_at = w.size();
    put_actions(w, m.actions);
    w.patch16(len_at, static_cast<std::uint16_t>(std::min(w.size() - actions_at, max_message)));
    w.bytes(m.data);
}
void put_body(writer& w, const unknown_message& m) { w.bytes(m.body); }

std::uint8_t header_version(const message& m) {
    if (auto* h = std::get_if<hello>(&m)) return h->version;
    return protocol_version;
}

// ---- reading ----------------------------------------------------------------------------

struct decode_error {
    std::string what;
};

class reader {
public:
    reader(std::span<const std::uint8_t> bytes, std::size_t base) : b_(bytes), base_(base) {}

    std::size_t left() const { return b_.size() - pos_; }
    std::size_t offset() const { return base_ + pos_; }
    bool done() const { return pos_ == b_.size(); }

    void need(std::size_t n, std::string_view what) const {
        if (left() < n)
            throw decode_error{fmt::format("{} truncated at offset {}: needs {} bytes, {} left", what, offset(), n, left())};
    }
    std::uint8_t u8(std::string_view what) {
        need(1, what);
        return b_[pos_++];
    }
    std::uint16_t u16(std::string_view what) {
        need(2, what);
        auto v = static_cast<std::uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    std::uint32_t u32(std::string_view what) {
        need(4, what);
        auto v = std::uint32_t(b_[pos_]) << 24 | std::uint32_t(b_[pos_ + 1]) << 16 | std::uint32_t(b_[pos_ + 2]) << 8 |
                 b_[pos_ + 3];
        pos_ += 4;
        return v;
    }
    std::uint64_t u64(std::string_view what) {
        std::uint64_t hi = u32(what);
        return hi << 32 | u32(what);
    }
    std::span<const std::uint8_t> bytes(std::size_t n, std::string_view what) {
        need(n, what);
        auto s = b_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    std::vector<std::uint8_t> rest() {
        auto s = b_.subspan(pos_);
        pos_ = b_.size();
        return {s.begin(), s.end()};
    }
    void skip(std::size_t n, std::string_view what) { (void)bytes(n, what); }
    /// A reader over the next `n` bytes; this one moves past them.
    reader sub(std::size_t n, std::string_view what) {
        const std::size_t at = offset();
        return reader(bytes(n, what), at);
    }

private:
    std::span<const std::uint8_t> b_;
    std::size_t pos_ = 0;
    std::size_t base_ = 0;
};

[[noreturn]] void bad(std::string what) { throw decode_error{std::move(what)}; }

enum class unknown_fields { skip, refuse };

struct oxm_tlv {
    std::uint16_t oxm_class = 0;
    std::uint8_t field = 0;
    bool has_mask = false;
    reader value;
};

oxm_tlv read_oxm(reader& r) {
    auto cls = r.u16("OXM header");
    auto field_and_mask = r.u8("OXM header");
    auto length = r.u8("OXM header");
    return {cls, static_cast<std::uint8_t>(field_and_mask >> 1), (field_and_mask & 1) != 0, r.sub(length, "OXM value")};
}

mac_address read_mac(reader& r) {
    mac_address m;
    auto b = r.bytes(6, "MAC address");
    std::copy(b.begin(), b.end(), m.bytes.begin());
    return m;
}

template <class T>
T read_value(reader& r, std::string_view what) {
    if constexpr (std::is_same_v<T, mac_address>) return read_mac(r);
    else if constexpr (std::is_same_v<T, ipv4_address>) return ipv4_address{r.u32(what)};
    else if constexpr (sizeof(T) == 4) return r.u32(what);
    else if constexpr (sizeof(T) == 2) return r.u16(what);
    else return r.u8(what);
}

// Puts a basic-class OXM into the member of `s` it names, checking it is unmasked, of the
// right length and not there already; false when `s` has no such field.
template <class S>
bool read_oxm_into(S& s, const oxm_tlv& t) {
    bool found = false;
    detail::for_each_field(s, [&](field f, auto& slot) {
        if (found || static_cast<std::uint8_t>(f) != t.field) return;
        found = true;
        using T = typename std::decay_t<decltype(slot)>::value_type;
        if (t.has_mask) bad(fmt::format("OXM {} is masked; only exact matches are supported", to_string(f)));
        if (t.value.left() != detail::wire_size<T>())
            bad(fmt::format("OXM {} has a {}-byte value, expected {}", to_string(f), t.value.left(),
                            detail::wire_size<T>()));
        if (slot) bad(fmt::format("OXM {} appears twice in one match", to_string(f)));
        auto value = t.value;
        slot = read_value<T>(value, to_string(f));
    });
    return found;
}

void read_oxms(reader r, match& m, unknown_fields policy) {
    while (!r.done()) {
        auto t = read_oxm(r);
        if (t.oxm_class == oxm_class_basic && read_oxm_into(m, t)) continue;
        if (policy == unknown_fields::refuse)
            bad(fmt::format("OXM class 0x{:04x} field {} is not supported", t.oxm_class, t.field));
    }
}

match read_match(reader& r, unknown_fields policy) {
    const auto type = r.u16("ofp_match");
    const auto length = r.u16("ofp_match");
    if (type != match_type_oxm) bad(fmt::format("ofp_match type {} is not OXM (1)", type));
    if (length < 4) bad(fmt::format("ofp_match length {} is below its 4-byte header", length));
    match m;
    read_oxms(r.sub(length - 4u, "ofp_match OXM fields"), m, policy);
    r.skip(padded8(length) - length, "ofp_match padding");
    return m;
}

set_field read_set_field(reader& r) {
    auto t = read_oxm(r);
    set_field s;
    if (t.oxm_class != oxm_class_basic || !read_oxm_into(s, t))
        bad(fmt::format("set_field of OXM class 0x{:04x} field {} is not supported", t.oxm_class, t.field));
    return s;
}

std::vector<action> read_actions(reader r) {
    std::vector<action> out;
    while (!r.done()) {
        const auto type = r.u16("action header");
        const auto length = r.u16("action header");
        if (length < 8 || length % 8 != 0)
            bad(fmt::format("action type {} has length {} (must be a multiple of 8, at least 8)", type, length));
        auto body = r.sub(length - 4u, "action");
        if (type == action_output) {
            if (length != 16) bad(fmt::format("output action has length {}, expected 16", length));
            output o;
            o.port = body.u32("output.port");
            o.max_len = body.u16("output.max_len");
            out.push_back(o);
        } else if (type == action_set_field) {
            out.push_back(read_set_field(body));
        } else {
            bad(fmt::format("action type {} is not supported (only OUTPUT and SET_FIELD)", type));
        }
    }
    return out;
}

std::vector<action> read_instructions(reader r) {
    std::vector<action> out;
    bool seen_apply = false;
    while (!r.done()) {
        const auto type = r.u16("instruction header");
        const auto length = r.u16("instruction header");
        if (length < 8 || length % 8 != 0)
            bad(fmt::format("instruction type {} has length {} (must be a multiple of 8, at least 8)", type, length));
        auto body = r.sub(length - 4u, "instruction");
        if (type != instruction_apply_actions)
            bad(fmt::format("instruction type {} is not supported (only APPLY_ACTIONS)", type));
        if (seen_apply) bad("APPLY_ACTIONS appears twice");
        seen_apply = true;
        body.skip(4, "instruction padding");
        out = read_actions(body.sub(body.left(), "actions"));
    }
    return out;
}

void expect_end(const reader& r, std::string_view what) {
    if (!r.done()) bad(fmt::format("{} has {} unexpected bytes at offset {}", what, r.left(), r.offset()));
}

message read_body(const header& h, reader& r) {
    switch (h.type) {
        case msg_type::hello: {
            hello m{h.version, 0};
            // Elements: type, length (without padding), padded to 8. Unknown ones are skipped,
            // as the specification asks; the first 32 bits of a bitmap cover versions 0..31.
            while (r.left() >= 4) {
                const auto type = r.u16("hello element");
                const auto length = r.u16("hello element");
                if (length < 4) bad(fmt::format("hello element length {} is below its 4-byte header", length));
                auto body = r.sub(length - 4u, "hello element");
                r.skip(std::min(padded8(length) - length, r.left()), "hello element padding");
                if (type == hello_elem_versionbitmap && body.left() >= 4) m.version_bitmap = body.u32("version bitmap");
            }
            return m;
        }
        case msg_type::error: {
            error_message m;
            m.type = r.u16("error type");
            m.code = r.u16("error code");
            m.data = r.rest();
            return m;
        }
        case msg_type::echo_request: return echo_request{r.rest()};
        case msg_type::echo_reply: return echo_reply{r.rest()};
        case msg_type::features_request: expect_end(r, "OFPT_FEATURES_REQUEST"); return features_request{};
        case msg_type::barrier_request: expect_end(r, "OFPT_BARRIER_REQUEST"); return barrier_request{};
        case msg_type::barrier_reply: expect_end(r, "OFPT_BARRIER_REPLY"); return barrier_reply{};
        case msg_type::features_reply: {
            switch_features m;
            m.datapath_id = r.u64("datapath_id");
            m.n_buffers = r.u32("n_buffers");
            m.n_tables = r.u8("n_tables");
            m.auxiliary_id = r.u8("auxiliary_id");
            r.skip(2, "padding");
            m.capabilities = r.u32("capabilities");
            r.skip(4, "reserved");
            expect_end(r, "OFPT_FEATURES_REPLY");
            return m;
        }
        case msg_type::flow_mod: {
            flow_mod m;
            m.cookie = r.u64("cookie");
            m.cookie_mask = r.u64("cookie_mask");
            m.table_id = r.u8("table_id");
            const auto command = r.u8("command");
            if (command > static_cast<std::uint8_t>(flow_command::remove_strict))
                bad(fmt::format("flow_mod command {} is not one of OFPFC_ADD..OFPFC_DELETE_STRICT", command));
            m.command = static_cast<flow_command>(command);
            m.idle_timeout = r.u16("idle_timeout");
            m.hard_timeout = r.u16("hard_timeout");
            m.priority = r.u16("priority");
            m.buffer_id = r.u32("buffer_id");
            m.out_port = r.u32("out_port");
            m.out_group = r.u32("out_group");
            m.flags = r.u16("flags");
            r.skip(2, "padding");
            m.match = read_match(r, unknown_fields::refuse);
            m.actions = read_instructions(r.sub(r.left(), "instructions"));
            return m;
        }
        case msg_type::packet_in: {
            packet_in m;
            m.buffer_id = r.u32("buffer_id");
            m.total_len = r.u16("total_len");
            m.reason = r.u8("reason");
            m.table_id = r.u8("table_id");
            m.cookie = r.u64("cookie");
            m.match = read_match(r, unknown_fields::skip);
            r.skip(2, "padding before the frame");
            m.data = r.rest();
            return m;
        }
        case msg_type::packet_out: {
            packet_out m;
            m.buffer_id = r.u32("buffer_id");
            m.in_port = r.u32("in_port");
            const auto actions_len = r.u16("actions_len");
            r.skip(6, "padding");
            m.actions = read_actions(r.sub(actions_len, "actions"));
            m.data = r.rest();
            return m;
        }
        default: return unknown_message{h.type, r.rest()};
    }
}

}  // namespace

std::uint8_t type_of(const message& m) noexcept {
    return std::visit(
        [](const auto& v) -> std::uint8_t {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, hello>) return msg_type::hello;
            else if constexpr (std::is_same_v<T, error_message>) return msg_type::error;
            else if constexpr (std::is_same_v<T, echo_request>) return msg_type::echo_request;
            else if constexpr (std::is_same_v<T, echo_reply>) return msg_type::echo_reply;
            else if constexpr (std::is_same_v<T, features_request>) return msg_type::features_request;
            else if constexpr (std::is_same_v<T, switch_features>) return msg_type::features_reply;
            else if constexpr (std::is_same_v<T, flow_mod>) return msg_type::flow_mod;
            else if constexpr (std::is_same_v<T, packet_in>) return msg_type::packet_in;
            else if constexpr (std::is_same_v<T, packet_out>) return msg_type::packet_out;
            else if constexpr (std::is_same_v<T, barrier_request>) return msg_type::barrier_request;
            else if constexpr (std::is_same_v<T, barrier_reply>) return msg_type::barrier_reply;
            else return v.type;
        },
        m);
}

void encode_to(std::vector<std::uint8_t>& out, const message& m, std::uint32_t xid) {
    const std::size_t start = out.size();
    writer w(out);
    w.u8(header_version(m));
    w.u8(type_of(m));
    w.u16(0);
    w.u32(xid);
    try {
        std::visit([&](const auto& v) { put_body(w, v); }, m);
    } catch (...) {
        out.resize(start);
        throw;
    }
    const std::size_t length = out.size() - start;
    if (length > max_message) {
        out.resize(start);
        refuse(make_failure(error::invalid_argument,
                            fmt::format("{} would be {} bytes, more than OpenFlow's 65535", type_name(type_of(m)), length)));
    }
    w.patch16(start + 2, static_cast<std::uint16_t>(length));
}

std::vector<std::uint8_t> encode(const message& m, std::uint32_t xid) {
    std::vector<std::uint8_t> out;
    encode_to(out, m, xid);
    return out;
}

result<header> peek_header(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < header_size)
        return make_failure(error::protocol_error,
                            fmt::format("OpenFlow header truncated: needs 8 bytes, has {}", bytes.size()));
    header h;
    h.version = bytes[0];
    h.type = bytes[1];
    h.length = static_cast<std::uint16_t>(bytes[2] << 8 | bytes[3]);
    h.xid = std::uint32_t(bytes[4]) << 24 | std::uint32_t(bytes[5]) << 16 | std::uint32_t(bytes[6]) << 8 | bytes[7];
    if (h.length < header_size)
        return make_failure(error::protocol_error,
                            fmt::format("{} (xid {}) has length {}, below the 8-byte header", type_name(h.type), h.xid,
                                        h.length));
    return h;
}

result<message> decode(std::span<const std::uint8_t> bytes) {
    auto h = peek_header(bytes);
    if (!h) return h.error();
    const auto name = type_name(h->type);
    if (bytes.size() != h->length)
        return make_failure(error::protocol_error, fmt::format("{} (xid {}) says {} bytes but {} were given", name,
                                                               h->xid, h->length, bytes.size()));
    if (h->version != protocol_version && h->type != msg_type::hello && h->type != msg_type::error)
        return make_failure(error::protocol_error, fmt::format("{} (xid {}) has version 0x{:02x}, not 1.3 (0x04)", name,
                                                               h->xid, h->version));
    try {
        reader r(bytes.subspan(header_size), header_size);
        return read_body(*h, r);
    } catch (const decode_error& e) {
        return make_failure(error::protocol_error, fmt::format("{} (xid {}): {}", name, h->xid, e.what));
    }
}

}  // namespace migrate::openflow
