#include <migrate/stream.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace migrate {
namespace {

std::string errno_text(const char* what, const std::filesystem::path& p) {
    return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

class fd_file_sink final : public byte_sink {
public:
    explicit fd_file_sink(std::filesystem::path p) : path_(std::move(p)) {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) open_error_ = errno_text("cannot create", path_);
    }
    ~fd_file_sink() override { if (fd_ >= 0) ::close(fd_); }
    result<void> write(std::span<const std::byte> chunk) override {
        if (fd_ < 0) return make_failure(error::io_error, open_error_);
        const auto* p = reinterpret_cast<const char*>(chunk.data());
        std::size_t left = chunk.size();
        while (left > 0) {
            ssize_t n = ::write(fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                return make_failure(error::io_error, errno_text("cannot write", path_));
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
        return {};
    }
    result<void> close() override {
        if (fd_ < 0) return make_failure(error::io_error, open_error_);
        int rc = ::close(fd_);
        fd_ = -1;
        if (rc != 0) return make_failure(error::io_error, errno_text("cannot close", path_));
        return {};
    }
private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::string open_error_;
};

class fd_file_source final : public byte_source {
public:
    fd_file_source(std::filesystem::path p, int fd, std::uint64_t size) : path_(std::move(p)), fd_(fd), size_(size) {}
    ~fd_file_source() override { ::close(fd_); }
    result<std::size_t> read(std::span<std::byte> buffer) override {
        for (;;) {
            ssize_t n = ::read(fd_, buffer.data(), buffer.size());
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) return make_failure(error::io_error, errno_text("cannot read", path_));
        }
    }
    std::uint64_t size_hint() const noexcept override { return size_; }
private:
    std::filesystem::path path_;
    int fd_;
    std::uint64_t size_;
};

}  // namespace

std::unique_ptr<byte_sink> file_sink(const std::filesystem::path& path) {
    return std::make_unique<fd_file_sink>(path);
}

result<std::unique_ptr<byte_source>> file_source(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return make_failure(errno == ENOENT ? error::not_found : error::io_error, errno_text("cannot open", path));
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    return std::unique_ptr<byte_source>(std::make_unique<fd_file_source>(path, fd, ec ? 0 : size));
}

}  // namespace migrate
