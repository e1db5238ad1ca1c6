#include "store_detail.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace migrate::store::detail {

bool valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
        static constexpr std::uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

std::string printable(std::string_view s) {
    bool utf8 = valid_utf8(s);
    std::string out = "'";
    std::size_t shown = 0;
    for (char ch : s) {
        if (++shown > 80) { out += "..."; break; }
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8) || c == '\'' || c == '\\')
            out += fmt::format("\\x{:02x}", c);
        else
            out += ch;
    }
    return out + "'";
}

namespace {
result<void> check_name(std::string_view s, std::string_view what, std::string_view where, bool empty_ok) {
    auto bad = [&](std::string_view why) {
        return make_failure(error::invalid_argument, fmt::format("{}: {} {} {}", where, what, printable(s), why));
    };
    if (s.empty() && !empty_ok) return bad("is empty");
    if (s.size() > max_key_bytes) return bad(fmt::format("is {} bytes long (at most {})", s.size(), max_key_bytes));
    if (s.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
    if (!valid_utf8(s)) return bad("is not valid UTF-8");
    return {};
}
}  // namespace

result<void> check_key(std::string_view key, std::string_view where) { return check_name(key, "key", where, false); }

result<void> check_prefix(std::string_view prefix, std::string_view where) {
    return check_name(prefix, "prefix", where, true);
}

result<void> check_store_prefix(std::string_view prefix, std::string_view field) {
    if (prefix.size() > 256)
        return make_failure(error::invalid_argument, fmt::format("{}: {} bytes (at most 256)", field, prefix.size()));
    if (prefix.find('\0') != std::string_view::npos)
        return make_failure(error::invalid_argument, fmt::format("{}: contains a NUL byte", field));
    return {};
}

void read_millis(const json& j, const char* where, const char* key, std::chrono::milliseconds& out) {
    std::int64_t v = out.count();
    migrate::detail::read_field(j, where, key, v);
    out = std::chrono::milliseconds(v);
}

failure version_conflict(std::string_view where, std::string_view key, std::int64_t expected, std::int64_t current) {
    auto want = expected == 0 ? std::string("to be absent") : fmt::format("at version {}", expected);
    auto have = current == 0 ? std::string("it does not exist") : fmt::format("it is at version {}", current);
    return make_failure(error::conflict, fmt::format("{}: compare-and-set of key {} expected it {}, but {}", where,
                                                     printable(key), want, have));
}

result<void> check_expected_version(std::string_view where, std::string_view key, std::int64_t expected) {
    if (expected >= 0) return {};
    return make_failure(error::invalid_argument, fmt::format("{}: compare-and-set of key {}: expected version {} is "
                                                             "negative (0 = the key must not exist)",
                                                             where, printable(key), expected));
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * (text.size() / 4), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes; drop them.
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

void watch_control::deliver(const state_event& e) noexcept {
    if (cancelled()) return;
    try {
        on_event_(e);
    } catch (...) {
    }
}

watch_thread::watch_thread(std::shared_ptr<watch_control> control, std::function<void(watch_control&)> loop)
    : control_(std::move(control)) {
    // The thread owns a reference to the control, so a callback may destroy this handle.
    thread_ = std::thread([c = control_, loop = std::move(loop)] { loop(*c); });
}

void watch_thread::cancel() noexcept {
    std::call_once(once_, [&] {
        control_->cancelled_ = true;
        if (control_->interrupt) control_->interrupt();
        if (!thread_.joinable()) return;
        if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
        else thread_.join();
    });
}

}  // namespace migrate::store::detail
