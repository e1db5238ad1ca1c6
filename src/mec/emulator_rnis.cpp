// The emulator's MEC012 Radio Network Information Service.
#include "emulator_impl.hpp"

namespace migrate::mec {

void emulator::impl::add_rnis_routes(net::http_router&) {}
void emulator::impl::rnis_notify_locked(const tracker::change&) {}

}  // namespace migrate::mec
