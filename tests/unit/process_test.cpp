#include <migrate/detail/process.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace migrate;

TEST_CASE("run captures stdout, stderr and the exit code", "[process]") {
    auto r = detail::run({"ls", "-d", "/", "/definitely/not/here"});
    REQUIRE(r);
    CHECK(r->out == "/\n");
    CHECK_THAT(r->err, Catch::Contains("/definitely/not/here"));
    CHECK(r->exit_code == 2);
}

TEST_CASE("run_checked names the command and quotes stderr on failure", "[process]") {
    auto r = detail::run_checked({"ls", "/definitely/not/here"});
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == error::command_failed);
    CHECK_THAT(r.error().message, Catch::Contains("ls /definitely/not/here") && Catch::Contains("No such file"));
}

TEST_CASE("a missing program is not_found, not a crash", "[process]") {
    auto r = detail::run({"no-such-program-xyz"});
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == condition::not_found);
}

TEST_CASE("a program that overruns its timeout is killed", "[process]") {
    auto t0 = std::chrono::steady_clock::now();
    auto r = detail::run({"sleep", "10"}, {.timeout = std::chrono::milliseconds(200)});
    REQUIRE_FALSE(r);
    CHECK(r.error_code() == condition::deadline_exceeded);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("stdin data reaches the program", "[process]") {
    auto r = detail::run_checked({"cat"}, {.stdin_data = "hello"});
    REQUIRE(r);
    CHECK(*r == "hello");
}

TEST_CASE("run_to_sink and run_from_source stream through pipes", "[process][stream]") {
    std::string got;
    function_sink sink{[&](std::span<const std::byte> c) -> result<void> {
        got.append(reinterpret_cast<const char*>(c.data()), c.size());
        return {};
    }};
    REQUIRE(detail::run_to_sink({"head", "-c", "300000", "/dev/zero"}, sink));
    CHECK(got.size() == 300000);

    struct string_source : byte_source {
        std::string data; std::size_t pos = 0;
        result<std::size_t> read(std::span<std::byte> b) override {
            auto n = std::min(b.size(), data.size() - pos);
            std::memcpy(b.data(), data.data() + pos, n);
            pos += n;
            return n;
        }
    } src;
    src.data = std::string(200000, 'x');
    REQUIRE(detail::run_from_source({"dd", "of=/dev/null", "status=none"}, src));
    CHECK(src.pos == src.data.size());
    src.pos = 0;
    // Not a tar: tar says so and the failure quotes it.
    auto bad = detail::run_from_source({"tar", "-t"}, src);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("tar -t exited with 2") && Catch::Contains("tar archive"));
}

TEST_CASE("children inherit no descriptor above stderr", "[process]") {
    // A pipe made without O_CLOEXEC, as Boost.Process's own pipes are: a child that inherited
    // the pipes of a sibling being spawned on another thread would hold that sibling's stdout
    // open, and neither would ever see its end of stream.
    int made[2];
    REQUIRE(::pipe(made) == 0);
    // Numbers far from the few ls opens itself (it reads /proc/self/fd through one).
    int fds[2] = {::fcntl(made[0], F_DUPFD, 200), ::fcntl(made[1], F_DUPFD, 200)};
    ::close(made[0]);
    ::close(made[1]);
    REQUIRE(fds[0] >= 200);
    REQUIRE(fds[1] >= 200);
    auto listed = detail::run({"ls", "/proc/self/fd"});
    ::close(fds[0]);
    ::close(fds[1]);
    REQUIRE(listed);
    std::vector<int> open;
    std::stringstream ss(listed->out);
    for (int fd; ss >> fd;) open.push_back(fd);
    INFO("descriptors of ls: " << listed->out);
    CHECK(std::find(open.begin(), open.end(), fds[0]) == open.end());
    CHECK(std::find(open.begin(), open.end(), fds[1]) == open.end());
    CHECK(std::find(open.begin(), open.end(), 0) != open.end());   // stdio is still there
}
