// migrate/mec/endpoint.hpp — a host and port where a MEC app instance or service listens
// (MEC021 CommunicationInterface.ipAddresses, MEC011 EndPointInfo.Address).
#pragma once

#include <cstdint>
#include <string>

namespace migrate::mec {

struct endpoint {
    std::string host;
    std::int64_t port = 0;
};

}  // namespace migrate::mec
