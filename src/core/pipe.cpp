#include <migrate/pipe.hpp>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace migrate {
namespace {

// A bounded queue of chunks shared by the two ends.
struct channel {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<std::byte>> chunks;
    std::size_t queued = 0;
    std::size_t capacity;
    bool writer_done = false;   // producer finished (ok or not)
    bool reader_gone = false;   // consumer stopped reading
    std::uint64_t total = 0;

    explicit channel(std::size_t cap) : capacity(cap) {}
};

class channel_sink final : public byte_sink {
public:
    explicit channel_sink(channel& c) : c_(c) {}
    result<void> write(std::span<const std::byte> chunk) override {
        if (chunk.empty()) return {};
        std::unique_lock lk(c_.mu);
        c_.cv.wait(lk, [&] { return c_.reader_gone || c_.queued < c_.capacity; });
        if (c_.reader_gone) return make_failure(error::cancelled, "the receiving side stopped reading");
        c_.chunks.emplace_back(chunk.begin(), chunk.end());
        c_.queued += chunk.size();
        c_.cv.notify_all();
        return {};
    }
private:
    channel& c_;
};

class channel_source final : public byte_source {
public:
    explicit channel_source(channel& c) : c_(c) {}
    result<std::size_t> read(std::span<std::byte> buffer) override {
        std::unique_lock lk(c_.mu);
        c_.cv.wait(lk, [&] { return !c_.chunks.empty() || c_.writer_done; });
        if (c_.chunks.empty()) return std::size_t{0};
        auto& front = c_.chunks.front();
        std::size_t n = std::min(buffer.size(), front.size() - offset_);
        std::memcpy(buffer.data(), front.data() + offset_, n);
        offset_ += n;
        c_.queued -= n;
        c_.total += n;
        if (offset_ == front.size()) {
            c_.chunks.pop_front();
            offset_ = 0;
        }
        c_.cv.notify_all();
        return n;
    }
private:
    channel& c_;
    std::size_t offset_ = 0;
};

}  // namespace

result<pipe_stats> stream_between(const std::function<result<void>(byte_sink&)>& produce,
                                  const std::function<result<void>(byte_source&)>& consume,
                                  std::size_t buffer_bytes,
                                  const std::function<void(std::uint64_t)>& on_progress) {
    channel ch{buffer_bytes};
    std::optional<failure> producer_failure;
    std::thread producer([&] {
        channel_sink sink{ch};
        auto r = produce(sink);
        if (r) r = sink.close();
        std::lock_guard lk(ch.mu);
        if (!r) producer_failure = r.error();
        ch.writer_done = true;
        ch.cv.notify_all();
    });

    struct progress_source final : byte_source {
        channel_source inner;
        const std::function<void(std::uint64_t)>& cb;
        std::uint64_t seen = 0;
        progress_source(channel& c, const std::function<void(std::uint64_t)>& f) : inner(c), cb(f) {}
        result<std::size_t> read(std::span<std::byte> b) override {
            auto n = inner.read(b);
            if (n && *n && cb) cb(seen += *n);
            return n;
        }
    } source{ch, on_progress};

    auto consumed = consume(source);
    {
        std::lock_guard lk(ch.mu);
        ch.reader_gone = true;
        ch.cv.notify_all();
    }
    producer.join();
    // The producer's failure is the cause when both failed (the consumer saw a short stream).
    if (producer_failure && producer_failure->code != error::cancelled) return *producer_failure;
    if (!consumed) return consumed.error();
    if (producer_failure) return *producer_failure;
    return pipe_stats{ch.total};
}

}  // namespace migrate
