// Real state-store servers for tests: a redis-server or a single-node etcd on 127.0.0.1 with
// free ports and a scratch directory, started through the SDK's process helper, waited for
// until they answer, and stopped (directory removed) when the object goes, also when a test
// failed. `shared_*_server()` is one server per test binary, stopped at exit.
#pragma once

#include "unit/workload_test_util.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>

#include <signal.h>

namespace migrate::test {

class store_server {
public:
    virtual ~store_server() { stop(); }
    std::uint16_t port() const noexcept { return port_; }
    std::string address() const { return fmt::format("{}:{}", bind_, port_); }
    bool running() const noexcept { return proc_ != nullptr; }

    /// Starts the server (again, on the same port and directory) and waits until it answers.
    void start() {
        REQUIRE_FALSE(proc_);
        proc_ = std::make_unique<program>(argv(), dir_.path / "server.log");
        bool up = eventually([&] { return answers(); }, std::chrono::seconds(20));
        INFO(read_text(dir_.path / "server.log"));
        REQUIRE(up);
    }
    /// SIGKILL when `hard` (a crash), else SIGTERM.
    void stop(bool hard = false) {
        if (!proc_) return;
        if (hard) {
            ::kill(proc_->pid, SIGKILL);
            detail::kill_and_wait(proc_->pid, std::chrono::milliseconds(2000));
            proc_->pid = 0;
        }
        proc_.reset();
    }

protected:
    store_server(const std::string& tag, std::string bind) : dir_(tag), port_(free_port()), bind_(std::move(bind)) {}
    virtual std::vector<std::string> argv() const = 0;
    virtual bool answers() const = 0;

    scratch_dir dir_;
    std::uint16_t port_;
    std::string bind_;
    std::unique_ptr<program> proc_;
};

class redis_server final : public store_server {
public:
    /// On `bind` (default loopback; a testbed's client address lets its containers in).
    explicit redis_server(std::string bind = "127.0.0.1") : store_server("migrate-redis", std::move(bind)) { start(); }
    ~redis_server() override { stop(); }

private:
    std::vector<std::string> argv() const override {
        return {"redis-server", "--port", std::to_string(port_), "--bind", bind_, "--protected-mode", "no", "--save", "", "--appendonly",
                "no", "--dir", dir_.path.string()};
    }
    bool answers() const override {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port_);
        ::inet_pton(AF_INET, bind_.c_str(), &sa.sin_addr);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        if (ok) {
            timeval tv{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ok = ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6;
            char buf[8] = {};
            ok = ok && ::recv(fd, buf, 7, 0) >= 5 && std::string(buf, 5) == "+PONG";
        }
        ::close(fd);
        return ok;
    }
};

class etcd_server final : public store_server {
public:
    etcd_server() : store_server("migrate-etcd", "127.0.0.1"), peer_port_(free_port()) { start(); }
    ~etcd_server() override { stop(); }

private:
    std::vector<std::string> argv() const override {
        auto client = fmt::format("http://127.0.0.1:{}", port_), peer = fmt::format("http://127.0.0.1:{}", peer_port_);
        return {"etcd", "--name", "test", "--data-dir", (dir_.path / "data").string(), "--listen-client-urls", client,
                "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer, "--log-level", "warn"};
    }
    bool answers() const override { return raw_http("127.0.0.1", port_, "GET /health").status == 200; }

    std::uint16_t peer_port_;
};

inline redis_server& shared_redis_server() {
    static redis_server s;
    return s;
}

inline etcd_server& shared_etcd_server() {
    static etcd_server s;
    return s;
}

}  // namespace migrate::test
