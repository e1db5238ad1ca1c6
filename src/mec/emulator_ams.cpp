// The emulator's MEC021 Application Mobility Service.
#include "emulator_impl.hpp"

namespace migrate::mec {

void emulator::impl::add_ams_routes(net::http_router&) {}
void emulator::impl::ams_notify_locked(const tracker::change&) {}

}  // namespace migrate::mec
