// migrate/mec/ecgi.hpp — the E-UTRAN cell global id (PLMN + cell id) that MEC012 RNIS and
// MEC030 V2X name cells by.
#pragma once

#include <string>

namespace migrate::mec {

struct ecgi {
    std::string cell_id;     ///< cellId (28 bits, as the platform writes it)
    std::string mcc;         ///< plmn.mcc
    std::string mnc;         ///< plmn.mnc
    friend bool operator==(const ecgi&, const ecgi&) = default;
};

}  // namespace migrate::mec
