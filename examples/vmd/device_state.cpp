#include "device_state.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace migrate::vmd {

std::string_view format_as(record_outcome o) noexcept {
    switch (o) {
    case record_outcome::counted: return "counted";
    case record_outcome::late: return "late";
    case record_outcome::duplicate: return "duplicate";
    }
    return "unknown";
}

record_outcome apply_record(device_state& s, const telemetry& t) {
    if (t.seq > s.last_seq) {
        if (t.seq > s.last_seq + 1) {
            s.gaps.push_back({s.last_seq + 1, t.seq - 1});
            if (s.gaps.size() > device_state::max_gaps)
                s.gaps.erase(s.gaps.begin(), s.gaps.end() - device_state::max_gaps);
        }
        s.last_seq = t.seq;
        s.latest = t;
        ++s.count;
        return record_outcome::counted;
    }
    auto it = std::find_if(s.gaps.begin(), s.gaps.end(), [&](const seq_range& r) { return t.seq >= r.first && t.seq <= r.last; });
    if (it == s.gaps.end()) return record_outcome::duplicate;
    ++s.count;
    seq_range r = *it;
    if (r.first == r.last) s.gaps.erase(it);
    else if (t.seq == r.first) it->first = t.seq + 1;
    else if (t.seq == r.last) it->last = t.seq - 1;
    else {
        it->last = t.seq - 1;
        s.gaps.insert(it + 1, seq_range{t.seq + 1, r.last});
    }
    return record_outcome::late;
}

void to_json(json& j, const device_state& s) {
    json gaps = json::array();
    for (auto& g : s.gaps) gaps.push_back(json::array({g.first, g.last}));
    j = json{{"device", s.device}, {"count", s.count}, {"last_seq", s.last_seq}, {"gaps", std::move(gaps)}};
    j["latest"] = s.latest ? json(*s.latest) : json(nullptr);
}

result<device_state> device_state_from_json(const json& j) {
    auto bad = [](std::string_view field, const std::string& why) {
        return make_failure(error::invalid_argument, fmt::format("device_state.{}: {}", field, why));
    };
    if (!j.is_object()) return bad("", fmt::format("expected an object, got {}", j.type_name()));
    device_state s;
    for (const char* f : {"device", "count", "last_seq", "gaps", "latest"})
        if (!j.contains(f)) return bad(f, "missing");
    if (!j["device"].is_string()) return bad("device", "expected a string");
    s.device = j["device"].get<std::string>();
    if (auto v = validate_device_id(s.device, "device_state.device"); !v) return v.error();
    if (!j["count"].is_number_unsigned()) return bad("count", "expected a non-negative integer");
    if (!j["last_seq"].is_number_unsigned()) return bad("last_seq", "expected a non-negative integer");
    s.count = j["count"].get<std::uint64_t>();
    s.last_seq = j["last_seq"].get<std::uint64_t>();
    if (!j["gaps"].is_array()) return bad("gaps", "expected an array of [first, last]");
    std::uint64_t previous = 0;
    for (auto& g : j["gaps"]) {
        if (!g.is_array() || g.size() != 2 || !g[0].is_number_unsigned() || !g[1].is_number_unsigned())
            return bad("gaps", fmt::format("{} is not [first, last]", g.dump()));
        seq_range r{g[0].get<std::uint64_t>(), g[1].get<std::uint64_t>()};
        if (r.first == 0 || r.first > r.last || r.last >= s.last_seq || r.first <= previous)
            return bad("gaps", fmt::format("[{}, {}] is not an ascending range below last_seq {}", r.first, r.last, s.last_seq));
        previous = r.last;
        s.gaps.push_back(r);
    }
    if (!j["latest"].is_null()) {
        auto t = telemetry_from_json(j["latest"]);
        if (!t) return bad("latest", t.error().message);
        if (t->device != s.device || t->seq != s.last_seq)
            return bad("latest", fmt::format("record {} #{} is not the latest of {} (#{})", t->device, t->seq, s.device, s.last_seq));
        s.latest = std::move(*t);
    } else if (s.last_seq != 0) {
        return bad("latest", fmt::format("null, but last_seq is {}", s.last_seq));
    }
    return s;
}

result<device_state> parse_device_state(std::string_view text) {
    auto j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded())
        return make_failure(error::invalid_argument, fmt::format("device_state: not JSON: '{}'", text.substr(0, 80)));
    return device_state_from_json(j);
}

}  // namespace migrate::vmd
