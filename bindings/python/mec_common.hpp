// What the MEC binding parts share (defined in mec.cpp): a MEC021 AssociateId to and from Python.
#pragma once

#include "common.hpp"

#include <migrate/mec/ams.hpp>

namespace migrate::python {

/// {"type": "UE_IPv4_ADDRESS", "value": "10.100.0.1"}
py::dict associate_py(const mec::associate_id& a);
/// Such a dict, or a plain address string (type UE_IPv4_ADDRESS); MigrationError naming the field.
mec::associate_id associate_from(const py::handle& o);

}  // namespace migrate::python
