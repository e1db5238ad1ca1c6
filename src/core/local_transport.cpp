#include <migrate/pipe.hpp>
#include <migrate/transport.hpp>

#include <fmt/format.h>

#include <chrono>

namespace migrate {

void to_json(json& j, const transfer_stats& s) {
    j = json{{"bytes", s.bytes}, {"seconds", s.seconds}, {"mbps", s.mbps()}, {"sha256", s.sha256},
             {"produced", s.produced}, {"consumed", s.consumed}};
}

namespace {

// Both engines are reachable from this process: produce on one, consume on the other,
// through a bounded in-memory pipe.
class local_transport final : public transport {
public:
    explicit local_transport(std::size_t buffer) : buffer_(buffer) {}
    std::string_view name() const noexcept override { return "local"; }

    result<transfer_stats> transfer(edge_host& from, const artifact_spec& produce, edge_host& to,
                                    const artifact_spec& consume, const progress_fn& progress,
                                    std::stop_token stop) override {
        MIGRATE_TRY(produce.validate());
        MIGRATE_TRY(consume.validate());
        if (!from.runtime || !to.runtime) return make_failure(error::invalid_argument, "transfer: a host without a runtime");
        transfer_stats st;
        const auto t0 = std::chrono::steady_clock::now();
        auto moved = stream_between(
            [&](byte_sink& out) -> result<void> {
                auto d = produce_artifact(*from.runtime, from.work_dir, produce, out);
                if (!d) return d.error();
                st.produced = *d;
                return {};
            },
            [&](byte_source& in) -> result<void> {
                auto d = consume_artifact(*to.runtime, to.work_dir, consume, in);
                if (!d) return d.error();
                st.consumed = *d;
                return {};
            },
            buffer_,
            [&](std::uint64_t b) {
                if (progress) progress(b);
            });
        if (!moved) {
            auto f = moved.error();
            f.message = fmt::format("{} from {} to {} as {}: {}", produce.describe(), from.name, to.name, consume.describe(),
                                    f.message);
            return f;
        }
        if (stop.stop_requested())
            return make_failure(error::cancelled, fmt::format("{} from {} to {}: cancelled", produce.describe(), from.name, to.name));
        st.bytes = moved->bytes;
        st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return st;
    }

private:
    std::size_t buffer_;
};

}  // namespace

std::shared_ptr<transport> make_local_transport(std::size_t buffer_bytes) {
    return std::make_shared<local_transport>(buffer_bytes);
}

}  // namespace migrate
