// src-only: the Ecgi document {cellId, plmn {mcc, mnc}} read and written (MEC012, MEC030).
#pragma once

#include <migrate/mec/ecgi.hpp>

#include "json_reader.hpp"

namespace migrate::mec::detail {

inline ecgi read_ecgi(const reader& r) {
    ecgi e;
    e.cell_id = r.str("cellId");
    auto plmn = r.object("plmn");
    e.mcc = plmn.str("mcc");
    e.mnc = plmn.str("mnc");
    return e;
}

inline json ecgi_json(const ecgi& e) { return json{{"cellId", e.cell_id}, {"plmn", {{"mcc", e.mcc}, {"mnc", e.mnc}}}}; }

}  // namespace migrate::mec::detail
