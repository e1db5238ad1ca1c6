// migrate/stream.hpp — byte streams: how gigabyte artifacts (exports, image tars,
// checkpoints) move through the SDK without ever being held whole in memory.
#pragma once

#include <migrate/result.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace migrate {

/// Receives a stream chunk by chunk. A failure aborts the transfer that feeds it.
class byte_sink {
public:
    virtual ~byte_sink() = default;
    virtual result<void> write(std::span<const std::byte> chunk) = 0;
    /// Called once after the last chunk; flushes and reports late errors.
    virtual result<void> close() { return {}; }
};

/// Produces a stream chunk by chunk; `read` returns 0 at the end.
class byte_source {
public:
    virtual ~byte_source() = default;
    virtual result<std::size_t> read(std::span<std::byte> buffer) = 0;
    /// Total size when known up front (for progress), else 0.
    virtual std::uint64_t size_hint() const noexcept { return 0; }
};

/// Writes to a file (created or truncated). Errors name the path.
std::unique_ptr<byte_sink> file_sink(const std::filesystem::path& path);
/// Reads a file. Errors name the path.
result<std::unique_ptr<byte_source>> file_source(const std::filesystem::path& path);

/// Adapts a callable `result<void>(std::span<const std::byte>)` into a sink.
class function_sink final : public byte_sink {
public:
    using fn = std::function<result<void>(std::span<const std::byte>)>;
    explicit function_sink(fn f) : f_(std::move(f)) {}
    result<void> write(std::span<const std::byte> chunk) override { return f_(chunk); }
private:
    fn f_;
};

/// Counts bytes passing through to another sink (for progress and reports).
class counting_sink final : public byte_sink {
public:
    explicit counting_sink(byte_sink& next) : next_(next) {}
    result<void> write(std::span<const std::byte> chunk) override {
        count_ += chunk.size();
        return next_.write(chunk);
    }
    result<void> close() override { return next_.close(); }
    std::uint64_t bytes() const noexcept { return count_; }
private:
    byte_sink& next_;
    std::uint64_t count_ = 0;
};

/// Collects a (small) stream in memory: JSON answers, tests. Not for artifacts.
class string_sink final : public byte_sink {
public:
    std::string data;
    result<void> write(std::span<const std::byte> c) override {
        data.append(reinterpret_cast<const char*>(c.data()), c.size());
        return {};
    }
};

/// Reads a string held in memory (small bodies, tests).
class string_source final : public byte_source {
public:
    explicit string_source(std::string d) : data_(std::move(d)) {}
    result<std::size_t> read(std::span<std::byte> b) override {
        std::size_t n = std::min(b.size(), data_.size() - pos_);
        std::memcpy(b.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    std::uint64_t size_hint() const noexcept override { return data_.size(); }

private:
    std::string data_;
    std::size_t pos_ = 0;
};

/// A sink that drops everything (measuring, draining).
class null_sink final : public byte_sink {
public:
    result<void> write(std::span<const std::byte>) override { return {}; }
};

}  // namespace migrate
