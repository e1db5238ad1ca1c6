// bindings/python/openflow.cpp — see module.cpp for the parts of the extension.
#include "common.hpp"

namespace migrate::python {

void bind_openflow(py::module_& m) {
    (void)m;
}

}  // namespace migrate::python
