// migrate/sha256.hpp — SHA-256 of a stream, fed chunk by chunk: the integrity check of
// every artifact the agents move and of every file a checkpoint delta rebuilds. OpenSSL's
// EVP does the work (SHA-NI where the CPU has it); it stays out of this header.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace migrate {

class sha256 {
public:
    using digest = std::array<unsigned char, 32>;
    sha256();
    ~sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;
    void update(std::span<const std::byte> chunk) noexcept;
    void update(const void* data, std::size_t size) noexcept {
        update(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    }
    /// The digest of everything fed so far; the hash cannot be fed afterwards.
    digest finish() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Lower-case hex.
std::string to_hex(const sha256::digest& d);

}  // namespace migrate
