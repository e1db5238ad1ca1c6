// migrate/edge_host.hpp — one edge host as the migration driver sees it: a name, the
// address its services answer on, its container engine, its scratch directory, and where
// its host agent listens (for the agent transport, migrate/agent/transport.hpp).
#pragma once

#include <migrate/runtime.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace migrate {

struct edge_host {
    std::string name;                            ///< "a", "rsu-17", ... (reports, messages)
    std::string address;                         ///< where its services answer (probes, hooks)
    std::shared_ptr<container_runtime> runtime;  ///< its engine (local socket or through its agent)
    std::filesystem::path work_dir;              ///< scratch space on the host for staged artifacts
    std::string agent;                           ///< its migrate-agent, "10.1.2.3:7070"; empty = no agent
};

}  // namespace migrate
