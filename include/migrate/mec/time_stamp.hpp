// migrate/mec/time_stamp.hpp — the ETSI MEC APIs' TimeStamp (Unix time, seconds + nanoseconds).
#pragma once

#include <cstdint>

namespace migrate::mec {

struct time_stamp {
    std::int64_t seconds = 0;
    std::int64_t nanoseconds = 0;
};

}  // namespace migrate::mec
