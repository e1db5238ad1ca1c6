// migrate/docker/wire.hpp — the Docker Engine API's JSON shapes mapped to the SDK's
// vocabulary, and the daemon's answers mapped to `migrate::error`. Pure functions, no I/O:
// `engine` uses them, and the unit tests check them against recorded daemon documents.
#pragma once

#include <migrate/json.hpp>
#include <migrate/result.hpp>
#include <migrate/runtime.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace migrate::docker::wire {

/// The body of `POST /containers/create` for `spec`: Config fields, `HostConfig.NetworkMode`,
/// `HostConfig.Mounts`, then `spec.extra_host_config` merged over HostConfig verbatim.
/// Empty cmd/entrypoint are omitted (the image's defaults apply). stdio is not attached, so
/// the container's stdio are pipes, which CRIU can dump.
json create_body(const container_spec& spec);

/// `container_info` from a `GET /containers/{id}/json` document; `spec` is filled from
/// Config, HostConfig and Mounts so that `create_body(spec)` recreates the container on
/// another daemon. Portable HostConfig fields (restart policy, capabilities, port bindings,
/// resource limits, ...) go to `spec.extra_host_config`. `protocol_error` when the document
/// lacks `Id`, `Config` or `State`.
result<container_info> container_from_inspect(const json& doc);

/// `image_info` from `GET /images/{name}/json`.
result<image_info> image_from_inspect(const json& doc);

/// `volume_info` from `GET /volumes/{name}` or `POST /volumes/create`.
result<volume_info> volume_from_json(const json& doc);

/// The failure for a non-2xx answer. `what` names the object ("container 'web'"),
/// `endpoint` the daemon ("unix:///run/docker.sock"); the daemon's `message` (or its raw
/// body) is quoted. 404 -> not_found, 409 -> conflict, 400 -> invalid_argument,
/// 401/403 -> permission_denied, 5xx -> daemon_error, anything else -> protocol_error.
failure status_failure(long status, std::string_view body, std::string_view what, std::string_view endpoint);

/// "repo:tag" split the Docker way (a ':' after the last '/' starts the tag); the tag is
/// empty when absent. "localhost:5000/x" -> {"localhost:5000/x", ""}.
std::pair<std::string, std::string> split_reference(std::string_view reference);

/// Incremental parser of the JSON-lines answers of `images/create` and `images/load`:
/// feeds arbitrary chunks, keeps only what matters (last status, `stream` texts, the first
/// `error`/`errorDetail`), so a long progress stream never accumulates in memory.
class json_lines {
public:
    /// `protocol_error` for a line that is not JSON or longer than 1 MiB.
    result<void> feed(std::string_view chunk);
    /// Parses a last line without a newline.
    result<void> finish();

    const std::optional<std::string>& error() const noexcept { return error_; }
    const std::string& last_status() const noexcept { return last_status_; }
    /// `stream` texts, e.g. "Loaded image: memcached:1\n".
    const std::vector<std::string>& streams() const noexcept { return streams_; }

private:
    result<void> line(std::string_view l);
    std::string partial_;
    std::optional<std::string> error_;
    std::string last_status_;
    std::vector<std::string> streams_;
};

/// The references/ids reported by `images/load` stream texts ("Loaded image: x:1",
/// "Loaded image ID: sha256:...").
std::vector<std::string> loaded_images(const std::vector<std::string>& streams);

}  // namespace migrate::docker::wire
