// examples/vmd/device_state.hpp — what a digital twin keeps of its device in the state store:
// the latest record, how many distinct records arrived, the highest sequence number, and the
// sequence numbers below it that have not arrived yet.
//
// Why the gaps: a device retransmits a confirmable message it got no ack for (CoAP, RFC 7252
// §4.2), so during a route switch the same record can reach both the old and the new twin
// (a DUPLICATE: acked, not counted again), and a record retransmitted after an outage
// arrives after newer ones (LATE: counted, but it does not replace the latest). A record is a
// duplicate exactly when its seq is <= the highest seen and not in a gap. The gaps are kept
// as at most `max_gaps` ranges; when more open, the oldest are given up (a record from one of
// them then counts as a duplicate).
#pragma once

#include "telemetry.hpp"

#include <migrate/json.hpp>
#include <migrate/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::vmd {

/// Sequence numbers first..last (inclusive).
struct seq_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool operator==(const seq_range&) const = default;
};

/// One device's state, as stored (JSON: device, count, last_seq, latest, gaps [[a,b],...]).
struct device_state {
    static constexpr std::size_t max_gaps = 64;

    std::string device;
    std::uint64_t count = 0;             ///< distinct records counted
    std::uint64_t last_seq = 0;          ///< highest seq counted; 0 = none yet
    std::optional<telemetry> latest;     ///< the record whose seq is `last_seq`
    std::vector<seq_range> gaps;         ///< seqs below last_seq not seen yet, ascending

    bool operator==(const device_state&) const = default;
};

/// What a record did to a state.
enum class record_outcome {
    counted,     ///< newer than every record before: counted, and it is the latest now
    late,        ///< filled a gap: counted; the latest stays
    duplicate,   ///< seen before (or given up): not counted, state unchanged
};
std::string_view format_as(record_outcome o) noexcept;

/// Applies `t` (a valid record of `s.device`) to `s`.
record_outcome apply_record(device_state& s, const telemetry& t);

void to_json(json& j, const device_state& s);
/// `invalid_argument` naming the field (the stored document of another program, a
/// corrupted file) — "device_state.count: missing".
result<device_state> device_state_from_json(const json& j);
result<device_state> parse_device_state(std::string_view text);

}  // namespace migrate::vmd
