// tests/conformance/prism_check.hpp — one client call through Prism, checked: what Prism
// found wrong with the side judged (a request or response violation, a path the spec does
// not have) fails the test, quoting Prism ("post /location/v2/subscriptions/zonalTraffic:
// Violation: request.body.zonalTrafficSubscription.zoneId ..."), and the call must have
// reached Prism at all.
#pragma once

#include "../require_ok.hpp"
#include "prism_server.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

namespace migrate::test {

inline std::string spec_path(const char* file) { return std::string(MIGRATE_MEC_SPECS_DIR) + "/" + file; }

/// Starts Prism (mock, or proxy in front of `upstream`) on the spec `file` of tests/data/mec/specs,
/// REQUIREing that it starts.
inline std::unique_ptr<prism_server> start_prism(const char* file, const std::string& upstream = {}) {
    auto p = upstream.empty() ? prism_server::mock(spec_path(file)) : prism_server::proxy(spec_path(file), upstream);
    REQUIRE_OK(p);
    return std::move(*p);
}

/// The same violation at every index of an array is said once, with how many more there are.
inline std::vector<std::string> collapse_indices(const std::vector<std::string>& errors) {
    static const std::regex index(R"(\.\d+(\.|\s))");
    std::vector<std::string> out;
    std::vector<std::string> shapes;
    std::vector<std::size_t> more;
    for (auto& e : errors) {
        auto shape = std::regex_replace(e, index, ".#$1");
        auto at = std::find(shapes.begin(), shapes.end(), shape);
        if (at != shapes.end()) {
            ++more[static_cast<std::size_t>(at - shapes.begin())];
            continue;
        }
        shapes.push_back(shape);
        out.push_back(e);
        more.push_back(0);
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        if (more[i] > 0) out[i] += fmt::format(" (and {} more like it at other indices)", more[i]);
    return out;
}

/// Which side of the exchange a test judges.
enum class judged { requests, requests_and_responses };

/// `call()` through `prism`: CHECKs that Prism found nothing wrong with the side(s) judged
/// (what it found about the other side is a WARN); returns the call's result.
template <class F>
auto through_prism(prism_server& prism, judged side, const std::string& what, F&& call) {
    const auto from = prism.mark();
    auto r = call();
    const auto said = prism.since(from);
    for (auto& w : said.warnings) WARN(what << ": Prism warns: " << w);
    auto failing = side == judged::requests ? said.request_errors() : said.errors;
    if (side == judged::requests)
        for (auto& e : said.response_errors()) WARN(what << ": the spec's own example violates the spec: " << e);
    if (!failing.empty()) FAIL_CHECK(what << ": Prism found\n  " << fmt::format("{}", fmt::join(collapse_indices(failing), "\n  ")));
    INFO(what << ": the call never reached Prism (" << why(r) << ")");
    CHECK_FALSE(said.requests.empty());
    return r;
}

}  // namespace migrate::test
