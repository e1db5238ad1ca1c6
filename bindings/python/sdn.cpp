// bindings/python/sdn.cpp — see module.cpp for the parts of the extension.
#include "common.hpp"

namespace migrate::python {

void bind_sdn(py::module_& m) {
    (void)m;
}

}  // namespace migrate::python
