// tests/integration/noise_source.hpp — `n` bytes that compress badly and are the same on every
// run: image layers the testbed link must carry for a while, with a checksum known in advance.
#pragma once

#include <migrate/stream.hpp>

#include <algorithm>
#include <cstdint>

namespace migrate::test {

class noise_source final : public byte_source {
public:
    explicit noise_source(std::uint64_t n) : left_(n) {}
    result<std::size_t> read(std::span<std::byte> b) override {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, b.size()));
        for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(((pos_ + i) * 2654435761u) >> 13);
        pos_ += n;
        left_ -= n;
        return n;
    }

private:
    std::uint64_t left_, pos_ = 0;
};

}  // namespace migrate::test
