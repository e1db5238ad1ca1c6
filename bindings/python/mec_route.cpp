// Filled in by the change that adds its C++ side (issue 5).
#include "common.hpp"

namespace migrate::python {
void bind_mec_route(py::module_&) {}
}  // namespace migrate::python
