#include <migrate/sha256.hpp>

#include <openssl/evp.h>

namespace migrate {

struct sha256::impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    impl() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
    ~impl() { EVP_MD_CTX_free(ctx); }
};

sha256::sha256() : impl_(std::make_unique<impl>()) {}
sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(std::span<const std::byte> chunk) noexcept {
    EVP_DigestUpdate(impl_->ctx, chunk.data(), chunk.size());
}

sha256::digest sha256::finish() noexcept {
    digest d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, d.data(), &len);
    return d;
}

std::string to_hex(const sha256::digest& d) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(64);
    for (auto c : d) {
        s.push_back(hex[c >> 4]);
        s.push_back(hex[c & 15]);
    }
    return s;
}

}  // namespace migrate
