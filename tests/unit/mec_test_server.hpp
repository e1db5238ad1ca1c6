// A minimal HTTP/1.1 server on loopback (Boost.Beast) for the MEC client tests: it records
// every request (method, target, headers, body) and answers with what the test's handler
// returns. A thread per connection, keep-alive honoured (a client holding one connection
// open must not block another client's).
#pragma once

#include <migrate/mec/client.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace migrate::test {

struct recorded_request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;   // lower-case names
    std::string body;
};

struct canned_reply {
    unsigned status = 200;
    std::string body;   // sent as application/json when not empty
};

class mec_test_server {
public:
    using handler = std::function<canned_reply(const recorded_request&)>;

    explicit mec_test_server(handler h)
        : handler_(std::move(h)), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this] { serve(); });
    }
    ~mec_test_server() {
        stopping_ = true;
        boost::system::error_code ec;
        // Wake the blocking accept/read with a connection of our own, then join.
        boost::asio::io_context wake;
        boost::asio::ip::tcp::socket s(wake);
        s.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ec);
        s.close(ec);
        thread_.join();
        std::vector<std::thread> conns;
        {
            std::lock_guard lock(mutex_);
            for (auto& c : sockets_) c->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
            conns.swap(connections_);
        }
        for (auto& t : conns) t.join();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

    std::vector<recorded_request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void serve() {
        while (!stopping_) {
            auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
            boost::system::error_code ec;
            acceptor_.accept(*socket, ec);
            if (ec || stopping_) return;
            std::lock_guard lock(mutex_);
            sockets_.push_back(socket);
            connections_.emplace_back([this, socket] { converse(*socket); });
        }
    }

    void converse(boost::asio::ip::tcp::socket& socket) {
        namespace http = boost::beast::http;
        boost::system::error_code ec;
        boost::beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            http::read(socket, buffer, req, ec);
            if (ec) break;
            recorded_request r{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
            for (auto& f : req) {
                std::string name(f.name_string());
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                r.headers[name] = std::string(f.value());
            }
            canned_reply c;
            {
                std::lock_guard lock(mutex_);   // the handler sees the requests in order
                requests_.push_back(r);
                c = handler_(r);
            }
            http::response<http::string_body> res{static_cast<http::status>(c.status), req.version()};
            if (!c.body.empty()) res.set(http::field::content_type, "application/json");
            res.body() = c.body;
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            http::write(socket, res, ec);
            if (ec || !req.keep_alive()) break;
        }
        socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    }

    handler handler_;
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<recorded_request> requests_;
    std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
    std::vector<std::thread> connections_;
    std::thread thread_;
};

/// A client of `srv` under sandbox "sbx1" with token "t0k3n" (what the tests check for).
inline mec::client_options options_for(const mec_test_server& srv) {
    mec::client_options o;
    o.base_url = srv.base_url();
    o.sandbox = "sbx1";
    o.bearer_token = "t0k3n";
    return o;
}

}  // namespace migrate::test
