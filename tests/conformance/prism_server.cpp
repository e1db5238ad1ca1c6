#include "prism_server.hpp"

#include "../unit/workload_test_util.hpp"

#include <migrate/detail/process.hpp>

#include <fmt/format.h>

#include <cstring>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <stdlib.h>

namespace migrate::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

result<fs::path> prism_executable() {
    const fs::path p = MIGRATE_PRISM_EXECUTABLE;
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
    return make_failure(error::not_found,
                        fmt::format("Prism not found at {}: run scripts/bootstrap (it installs @stoplight/prism-cli "
                                    "into .cache/prism of the checkout), or configure with "
                                    "-DMIGRATE_PRISM_EXECUTABLE=/path/to/prism",
                                    p.string()));
}

namespace {

result<std::vector<std::string>> read_lines(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return make_failure(error::io_error, fmt::format("cannot read {}", file.string()));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::size_t indent_of(const std::string& line) {
    auto n = line.find_first_not_of(' ');
    return n == std::string::npos ? line.size() : n;
}

bool top_level_key(const std::string& line) {
    return !line.empty() && line[0] != ' ' && line[0] != '#' && line[0] != '-';
}

}  // namespace

result<std::string> spec_base_path(const fs::path& spec) {
    auto lines = read_lines(spec);
    if (!lines) return lines.error();
    static const std::regex url_line(R"re(^\s*-?\s*url:\s*['"]?[a-z]+://[^/'"\s]+([^'"\s]*)['"]?\s*$)re");
    bool in_servers = false;
    for (auto& line : *lines) {
        if (top_level_key(line)) in_servers = line.rfind("servers:", 0) == 0;
        std::smatch m;
        if (in_servers && std::regex_match(line, m, url_line)) {
            auto path = m[1].str();
            while (!path.empty() && path.back() == '/') path.pop_back();
            return path;
        }
    }
    return std::string{};
}

result<fs::path> spec_with_base_path(const fs::path& spec, const fs::path& dir) {
    auto base = spec_base_path(spec);
    if (!base) return base.error();
    auto lines = read_lines(spec);
    if (!lines) return lines.error();
    bool in_paths = false;
    std::size_t key_indent = 0;
    std::size_t rewritten = 0;
    for (auto& line : *lines) {
        if (top_level_key(line)) {
            in_paths = line.rfind("paths:", 0) == 0;
            key_indent = 0;
            continue;
        }
        if (!in_paths) continue;
        const auto at = indent_of(line);
        if (at == line.size() || line[at] == '#') continue;
        if (key_indent == 0) key_indent = at;   // the first key sets the indentation of path keys
        if (at != key_indent) continue;
        const bool quoted = line[at] == '\'' || line[at] == '"';
        const auto slash = at + (quoted ? 1 : 0);
        if (slash < line.size() && line[slash] == '/') {
            line.insert(slash, *base);
            ++rewritten;
        }
    }
    if (rewritten == 0) return make_failure(error::invalid_argument, fmt::format("{}: no paths found", spec.string()));
    std::error_code ec;
    fs::create_directories(dir, ec);
    const auto out_path = dir / spec.filename();
    std::ofstream out(out_path);
    for (auto& line : *lines) out << line << '\n';
    if (!out) return make_failure(error::io_error, fmt::format("cannot write {}", out_path.string()));
    return out_path;
}

struct prism_server::impl {
    fs::path dir;
    fs::path log;
    int pid = -1;
    std::uint16_t port = 0;
    int markers = 0;

    ~impl() {
        if (pid > 0) detail::kill_and_wait(pid, 5s);
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }

    std::string text_from(std::size_t from) const {
        std::ifstream in(log, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(from));
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
    std::size_t size() const {
        std::error_code ec;
        auto n = fs::file_size(log, ec);
        return ec ? 0 : static_cast<std::size_t>(n);
    }
};

namespace {
bool about_response(const std::string& e) { return e.find("Violation: response.") != std::string::npos; }
}  // namespace

std::vector<std::string> prism_verdict::response_errors() const {
    std::vector<std::string> out;
    std::copy_if(errors.begin(), errors.end(), std::back_inserter(out), about_response);
    return out;
}

std::vector<std::string> prism_verdict::request_errors() const {
    std::vector<std::string> out;
    std::copy_if(errors.begin(), errors.end(), std::back_inserter(out), [](auto& e) { return !about_response(e); });
    return out;
}

prism_server::prism_server(std::unique_ptr<impl> p) : p_(std::move(p)) {}
prism_server::~prism_server() = default;

result<std::unique_ptr<prism_server>> prism_server::mock(const fs::path& spec) { return start({"mock"}, spec); }

result<std::unique_ptr<prism_server>> prism_server::proxy(const fs::path& spec, const std::string& upstream) {
    return start({"proxy", "", upstream}, spec);   // "" is replaced by the served spec
}

result<std::unique_ptr<prism_server>> prism_server::start(std::vector<std::string> args, const fs::path& spec) {
    auto prism = prism_executable();
    if (!prism) return prism.error();
    std::string templ = (fs::temp_directory_path() / "migrate-prism-XXXXXX").string();
    if (!::mkdtemp(templ.data())) return make_failure(error::io_error, "mkdtemp failed for " + templ);
    auto p = std::make_unique<impl>();
    p->dir = templ;
    auto served = spec_with_base_path(spec, p->dir);
    if (!served) return served.error();
    if (args.size() > 1) args[1] = served->string();
    else args.push_back(served->string());

    // Prism takes no port 0: a port free a moment ago, another one if it was taken meanwhile.
    for (int attempt = 1; attempt <= 3; ++attempt) {
        p->port = free_port();
        p->log = p->dir / fmt::format("prism-{}.log", attempt);
        std::vector<std::string> argv{prism->string()};
        argv.insert(argv.end(), args.begin(), args.end());
        // No --errors: with it, Prism replaces a response that violates the spec by a 500 whose
    // body alone names the field; without it, it passes the response on and logs each
    // violation with its location ("Violation: response.body.x.y ..."), which `since` reads.
    for (const char* a : {"-h", "127.0.0.1", "-p"}) argv.emplace_back(a);
        argv.push_back(std::to_string(p->port));
        auto pid = detail::spawn_daemon(argv, p->log);
        if (!pid) return pid.error();
        p->pid = *pid;
        // Node and Prism's spec resolution take seconds on a loaded machine.
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        bool listening = false, in_use = false;
        while (std::chrono::steady_clock::now() < deadline) {
            auto text = p->text_from(0);
            if (text.find("Prism is listening on") != std::string::npos) { listening = true; break; }
            if (text.find("EADDRINUSE") != std::string::npos) { in_use = true; break; }
            if (!detail::process_alive(p->pid)) break;
            std::this_thread::sleep_for(100ms);
        }
        if (listening) return std::unique_ptr<prism_server>(new prism_server(std::move(p)));
        detail::kill_and_wait(p->pid, 2s);
        p->pid = -1;
        if (in_use) continue;
        std::unique_ptr<prism_server> failed(new prism_server(std::move(p)));
        return make_failure(error::command_failed,
                            fmt::format("{} did not start listening:\n{}", detail::describe(argv), failed->log_tail()));
    }
    return make_failure(error::io_error, "Prism: no free port after 3 attempts");
}

std::string prism_server::url() const { return fmt::format("http://127.0.0.1:{}", p_->port); }

std::size_t prism_server::mark() { return p_->size(); }

std::string prism_server::log_tail(std::size_t lines) const {
    std::vector<std::string> all;
    std::istringstream in(p_->text_from(0));
    for (std::string l; std::getline(in, l);) all.push_back(l);
    std::string out;
    for (auto i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
    return out;
}

namespace {

// A log line reads "[4:14:12 PM] › [VALIDATOR] ✖  error     Violation: request.body.x ...",
// "[4:14:12 PM] › [HTTP SERVER] post /queries/zones ℹ  info      Request received".
std::string after_level(const std::string& line, const char* level) {
    auto at = line.find(level);
    if (at == std::string::npos) return line;
    auto rest = line.substr(at + std::strlen(level));
    auto b = rest.find_first_not_of(' ');
    return b == std::string::npos ? std::string{} : rest.substr(b);
}

std::string request_of(const std::string& line) {
    static const std::string tag = "[HTTP SERVER] ";
    auto at = line.find(tag);
    if (at == std::string::npos) return {};
    auto rest = line.substr(at + tag.size());
    // method and path, then a space and the level's symbol
    auto sp = rest.find(' ');
    if (sp == std::string::npos) return rest;
    auto end = rest.find(' ', sp + 1);
    return rest.substr(0, end);
}

}  // namespace

prism_verdict prism_server::since(std::size_t from) {
    // The marker: a path no spec has. Once Prism has logged its end, everything it had to say
    // about the requests before it is in the log (one event loop, one ordered log stream).
    const auto marker = fmt::format("/prism-conformance-mark/{}", ++p_->markers);
    raw_http("127.0.0.1", p_->port, "GET " + marker);
    const auto marker_request = "get " + marker;
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        text = p_->text_from(from);
        // A mock ends it with "Request terminated ... NO_PATH_MATCHED"; a proxy forwards it
        // and logs the upstream's 404.
        auto at = text.find(marker_request + " ");
        if (at != std::string::npos && (text.find("Request terminated", at) != std::string::npos ||
                                        text.find("upstream call to " + marker + " has returned", at) != std::string::npos))
            break;
        std::this_thread::sleep_for(20ms);
    }

    prism_verdict v;
    std::string current;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.find("[HTTP SERVER] " + marker_request + " ") != std::string::npos) break;
        if (line.find("Request received") != std::string::npos && line.find("[HTTP SERVER]") != std::string::npos) {
            current = request_of(line);
            v.requests.push_back(current);
            continue;
        }
        // Prism's mock also POSTs the spec's callbacks to the subscriber's URL; their
        // delivery is not the client's request.
        if (line.find("[CALLBACK]") != std::string::npos) continue;
        const bool violation = line.find("Violation:") != std::string::npos;
        if (line.find("\u2716  error") != std::string::npos) {
            v.errors.push_back(current + ": " + after_level(line, "error"));
        } else if (line.find("\u26A0  warning") != std::string::npos && violation) {
            v.warnings.push_back(current + ": " + after_level(line, "warning"));
        }
    }
    // The validator says each error twice when Prism still answers (as it finds it, then as
    // "Violation: <where> <what>", which names the field): keep the second.
    std::vector<std::string> named;
    for (auto& e : v.errors) {
        const bool repeated = std::any_of(v.errors.begin(), v.errors.end(), [&](const std::string& o) {
            auto m = e.substr(e.find(": ") + 2);
            return &o != &e && o.find("Violation:") != std::string::npos && o.size() > m.size() &&
                   o.compare(o.size() - m.size(), m.size(), m) == 0;
        });
        if (!repeated) named.push_back(e);
    }
    v.errors = std::move(named);
    if (text.find(marker_request + " ") == std::string::npos)
        v.errors.push_back("Prism did not answer the marker request " + marker + " within 10 s");
    return v;
}

}  // namespace migrate::test
