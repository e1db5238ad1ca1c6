// migrate/migrate.hpp — the umbrella header: everything a user of the SDK needs.
#pragma once

#include <migrate/error.hpp>
#include <migrate/events.hpp>
#include <migrate/json.hpp>
#include <migrate/report.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>
#include <migrate/stream.hpp>
#include <migrate/version.hpp>
