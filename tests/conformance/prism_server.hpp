// tests/conformance/prism_server.hpp — Prism (@stoplight/prism-cli) as a validating mock or
// proxy of one official OpenAPI spec, for the MEC conformance tests: what it said about each
// exchange is read from its log, so a test names the request, the path and the field.
//
// Prism serves a spec's paths at its root and ignores the base path of `servers` (by design,
// see its FAQ), while the SDK's clients put the API root ("/location/v2") in every URL. So
// Prism is given a copy of the spec whose paths carry that base path: a client then talks
// to Prism exactly as to a platform (base_url = Prism's URL, no sandbox prefix), and a
// client whose API root differs from the spec's server path gets "no path matched".
#pragma once

#include <migrate/result.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace migrate::test {

/// The Prism CLI this build was configured with (MIGRATE_PRISM_EXECUTABLE); `not_found`
/// saying how to install it when it is not there.
result<std::filesystem::path> prism_executable();

/// The path of `servers[0].url` in an OpenAPI YAML document ("/location/v2"; "" for none).
result<std::string> spec_base_path(const std::filesystem::path& spec);

/// Writes `spec` into `dir` (same file name) with `spec_base_path` prefixed to every key of
/// `paths`; returns the new file. Nothing else changes (callbacks' keys are not paths).
result<std::filesystem::path> spec_with_base_path(const std::filesystem::path& spec, const std::filesystem::path& dir);

/// What Prism said about the exchanges between two points of its log.
struct prism_verdict {
    std::vector<std::string> requests;   ///< "post /location/v2/subscriptions/zonalTraffic"
    /// "post /...: Violation: request.body.x.y must be string", "get /...: Request terminated
    /// with error: ...NO_PATH_MATCHED_ERROR..."
    std::vector<std::string> errors;
    /// The errors about what the server answered ("Violation: response.body...").
    std::vector<std::string> response_errors() const;
    /// The others: about what the client sent.
    std::vector<std::string> request_errors() const;
    std::vector<std::string> warnings;   ///< violations of severity warning, same form
};

class prism_server {
public:
    /// `prism mock`: answers from the spec's examples; an invalid request gets 400/422 (the
    /// spec's or Prism's) and its violations in the log.
    static result<std::unique_ptr<prism_server>> mock(const std::filesystem::path& spec);
    /// `prism proxy` in front of `upstream` ("http://127.0.0.1:PORT"): requests and the
    /// upstream's responses are validated and passed on, violations logged.
    static result<std::unique_ptr<prism_server>> proxy(const std::filesystem::path& spec, const std::string& upstream);

    ~prism_server();
    prism_server(const prism_server&) = delete;
    prism_server& operator=(const prism_server&) = delete;

    /// "http://127.0.0.1:PORT": a client's base_url.
    std::string url() const;
    /// The point in Prism's log after everything it has said so far.
    std::size_t mark();
    /// What Prism said since `from` (a `mark()`), once it has finished with every exchange
    /// made before this call (a marker request it cannot route closes the window).
    prism_verdict since(std::size_t from);
    /// The last lines of Prism's log (for a failure message).
    std::string log_tail(std::size_t lines = 30) const;

private:
    struct impl;
    explicit prism_server(std::unique_ptr<impl> p);
    static result<std::unique_ptr<prism_server>> start(std::vector<std::string> args, const std::filesystem::path& spec);
    std::unique_ptr<impl> p_;
};

}  // namespace migrate::test
