// bindings/python/state_store.cpp — see module.cpp for the parts of the extension.
#include "common.hpp"

namespace migrate::python {

void bind_state_store(py::module_& m) {
    (void)m;
}

}  // namespace migrate::python
