#include <migrate/docker/engine.hpp>

#include <regex>

namespace migrate::docker {

result<void> engine_options::validate() const {
    auto bad = [](const char* field, const std::string& why) {
        return make_failure(error::invalid_argument, std::string("engine_options.") + field + ": " + why);
    };
    if (socket.empty()) return bad("socket", "must not be empty");
    if (!socket.is_absolute()) return bad("socket", "must be an absolute path, got '" + socket.string() + "'");
    if (!std::regex_match(api_version, std::regex(R"(v1\.[0-9]{1,3})")))
        return bad("api_version", "expected \"v1.NN\" (e.g. \"v1.41\"), got '" + api_version + "'");
    if (connect_timeout.count() <= 0) return bad("connect_timeout_ms", "must be positive");
    if (request_timeout.count() <= 0) return bad("request_timeout_ms", "must be positive");
    if (stall_timeout.count() < 1000) return bad("stall_timeout_ms", "must be at least 1000 ms");
    if (chunk_size < 16 * 1024 || chunk_size > 2 * 1024 * 1024)
        return bad("chunk_size", "must be between 16384 and 2097152 bytes, got " + std::to_string(chunk_size));
    if (helper_image.empty()) return bad("helper_image", "must not be empty");
    return {};
}

void to_json(json& j, const engine_options& o) {
    j = json{{"socket", o.socket.string()},
             {"api_version", o.api_version},
             {"connect_timeout_ms", o.connect_timeout.count()},
             {"request_timeout_ms", o.request_timeout.count()},
             {"stall_timeout_ms", o.stall_timeout.count()},
             {"chunk_size", o.chunk_size},
             {"helper_image", o.helper_image}};
}

void from_json(const json& j, engine_options& o) {
    constexpr const char* w = "engine_options";
    std::string socket = o.socket.string();
    detail::read_field(j, w, "socket", socket);
    o.socket = socket;
    detail::read_field(j, w, "api_version", o.api_version);
    auto ms = [&](const char* key, std::chrono::milliseconds& out) {
        std::int64_t v = out.count();
        detail::read_field(j, w, key, v);
        out = std::chrono::milliseconds{v};
    };
    ms("connect_timeout_ms", o.connect_timeout);
    ms("request_timeout_ms", o.request_timeout);
    ms("stall_timeout_ms", o.stall_timeout);
    detail::read_field(j, w, "chunk_size", o.chunk_size);
    detail::read_field(j, w, "helper_image", o.helper_image);
}

}  // namespace migrate::docker
