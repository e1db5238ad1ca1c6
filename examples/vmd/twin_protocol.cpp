// The replica pool's protocol for vMD twins (twin_protocol.hpp).
#include "twin_protocol.hpp"

#include "coap_call.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace migrate::vmd {

std::string device_id_of(std::string_view subject) {
    std::string id(subject);
    std::replace(id.begin(), id.end(), ':', '-');
    return id;
}

namespace {

result<coap_reply> call(const service_instance& i, const char* method, const char* path, std::string payload,
                        std::chrono::milliseconds timeout) {
    coap_call_options o;
    o.address = i.address;
    o.port = i.port != 0 ? i.port : 5683;
    o.method = method;
    o.path = path;
    o.payload = std::move(payload);
    o.timeout = timeout;
    auto r = coap_call(o);
    if (!r) return r;
    if (!r->success())
        return make_failure(error::daemon_error, fmt::format("twin {} at {}:{}: {} /{} answered {} {}", i.id, i.address, o.port,
                                                             method, path, format_coap_code(r->code), r->payload));
    return r;
}

}  // namespace

result<void> twin_protocol::wait_ready(const service_instance& i, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    failure last = make_failure(error::timeout, "no answer yet");
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        // Short exchanges: a twin that is still starting drops the first requests.
        auto r = call(i, "GET", "health", {}, std::clamp(left, std::chrono::milliseconds{1}, std::chrono::milliseconds{300}));
        if (r) return {};
        last = r.error();
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return make_failure(error::timeout, fmt::format("twin {} at {} not ready within {} ms: {}", i.id, i.address,
                                                    within.count(), last.what()));
}

result<void> twin_protocol::assign(const service_instance& i, std::string_view subject) {
    auto r = call(i, "POST", "assign", json{{"device", device_id_of(subject)}}.dump(), call_timeout_);
    if (!r) return r.error();
    return {};
}

result<void> twin_protocol::release(const service_instance& i, std::string_view subject) {
    auto r = call(i, "POST", "release", json{{"device", device_id_of(subject)}}.dump(), call_timeout_);
    if (!r) return r.error();
    return {};
}

}  // namespace migrate::vmd
