// testbed options: validation names the field; options, hosts, samples and the state
// document survive a JSON round trip. No root, no daemons.
#include <migrate/testbed/testbed.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::testbed;

namespace {
std::string message_of(const result<void>& r) { return r ? std::string{} : r.error().message; }
}  // namespace

TEST_CASE("testbed_options: defaults are valid", "[testbed]") {
    REQUIRE(testbed_options{}.validate().has_value());
}

TEST_CASE("testbed_options: name must be 1 to 6 of a-z and 0-9", "[testbed]") {
    for (const char* bad : {"", "ABC", "a-b", "toolong7", "a b", "mci_"}) {
        testbed_options o;
        o.name = bad;
        auto r = o.validate();
        INFO("name '" << bad << "'");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error_code() == make_error_code(error::invalid_argument));
        CHECK_THAT(message_of(r), Catch::Contains("testbed_options.name"));
    }
    for (const char* good : {"a", "mci", "x1y2z3", "123456"}) {
        testbed_options o;
        o.name = good;
        CHECK(o.validate().has_value());
    }
}

TEST_CASE("testbed_options: hosts must be 1..8", "[testbed]") {
    for (int n : {0, -1, 9, 100}) {
        testbed_options o;
        o.hosts = n;
        auto r = o.validate();
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error_code() == make_error_code(error::invalid_argument));
        CHECK_THAT(message_of(r), Catch::Contains("testbed_options.hosts"));
    }
    for (int n : {1, 2, 8}) {
        testbed_options o;
        o.hosts = n;
        CHECK(o.validate().has_value());
    }
}

TEST_CASE("testbed_options: subnet, roots and timeout are checked", "[testbed]") {
    testbed_options o;
    for (const char* bad : {"10.1.2.0", "10.1.2.0/16", "10.1.2.5/24", "300.1.2.0/24", "x/24"}) {
        o.subnet = bad;
        INFO("subnet '" << bad << "'");
        CHECK_THAT(message_of(o.validate()), Catch::Contains("testbed_options.subnet"));
    }
    o.subnet = "10.99.3.0/24";
    CHECK(o.validate().has_value());

    testbed_options rel;
    rel.state_root = "relative/dir";
    CHECK_THAT(message_of(rel.validate()), Catch::Contains("testbed_options.state_root"));

    testbed_options longroot;
    longroot.state_root = "/" + std::string(100, 'x');
    CHECK_THAT(message_of(longroot.validate()), Catch::Contains("100 characters"));

    testbed_options t;
    t.dockerd_start_timeout_ms = 0;
    CHECK_THAT(message_of(t.validate()), Catch::Contains("dockerd_start_timeout_ms"));
}

TEST_CASE("link_profile: names and JSON", "[testbed]") {
    CHECK(to_string(link_profile::normal) == "normal");
    CHECK(to_string(link_profile::congested) == "congested");
    json j = link_profile::congested;
    CHECK(j == "congested");
    CHECK(j.get<link_profile>() == link_profile::congested);
    CHECK_THROWS_AS(json("fast").get<link_profile>(), migration_error);
}

TEST_CASE("testbed_options: JSON round trip and field errors", "[testbed]") {
    testbed_options o;
    o.name = "rt1";
    o.hosts = 3;
    o.profile = link_profile::congested;
    o.state_root = "/run/x";
    o.data_root = "/var/lib/x";
    o.subnet = "10.70.1.0/24";
    o.dockerd_start_timeout_ms = 1234;
    json j = o;
    auto back = parse_options<testbed_options>(j);
    REQUIRE(back.has_value());
    CHECK(back->name == "rt1");
    CHECK(back->hosts == 3);
    CHECK(back->profile == link_profile::congested);
    CHECK(back->state_root == "/run/x");
    CHECK(back->data_root == "/var/lib/x");
    CHECK(back->subnet == "10.70.1.0/24");
    CHECK(back->dockerd_start_timeout_ms == 1234);

    // Missing fields keep their defaults.
    auto partial = parse_options<testbed_options>(json{{"name", "p"}});
    REQUIRE(partial.has_value());
    CHECK(partial->hosts == 2);
    CHECK(partial->state_root == "/run/migrate-testbed");

    auto wrong_type = parse_options<testbed_options>(json{{"hosts", "two"}});
    REQUIRE_FALSE(wrong_type.has_value());
    CHECK_THAT(wrong_type.error().message, Catch::Contains("testbed_options.hosts"));

    auto invalid = parse_options<testbed_options>(json{{"hosts", 12}});
    REQUIRE_FALSE(invalid.has_value());
    CHECK_THAT(invalid.error().message, Catch::Contains("testbed_options.hosts"));
}

TEST_CASE("host and throughput_sample: JSON round trip", "[testbed]") {
    host h;
    h.name = "b";
    h.netns = "mtb-b";
    h.address = "10.64.1.3";
    h.socket = "/run/migrate-testbed/mtb/b/docker.sock";
    h.data_root = "/var/lib/migrate-testbed/mtb/b/docker";
    h.exec_root = "/run/migrate-testbed/mtb/b/exec";
    h.work_dir = "/var/lib/migrate-testbed/mtb/b/work";
    h.dockerd_pid = 4242;
    h.service_network = "svc";
    h.service_subnet = "10.94.23.0/24";
    h.service_gateway = "10.94.23.1";
    json j = h;
    CHECK(j["endpoint"] == "unix:///run/migrate-testbed/mtb/b/docker.sock");
    auto back = j.get<host>();
    CHECK(back.name == h.name);
    CHECK(back.netns == h.netns);
    CHECK(back.address == h.address);
    CHECK(back.socket == h.socket);
    CHECK(back.data_root == h.data_root);
    CHECK(back.exec_root == h.exec_root);
    CHECK(back.work_dir == h.work_dir);
    CHECK(back.dockerd_pid == 4242);
    CHECK(back.service_network == "svc");
    CHECK(back.service_subnet == "10.94.23.0/24");
    CHECK(back.service_gateway == "10.94.23.1");
    // A state file written before service networks existed still reads (fields empty).
    j.erase("service_network");
    j.erase("service_subnet");
    j.erase("service_gateway");
    CHECK(j.get<host>().service_subnet.empty());

    throughput_sample s{link_profile::congested, 95.5, 8u << 20, 0.7};
    auto sb = json(s).get<throughput_sample>();
    CHECK(sb.profile == link_profile::congested);
    CHECK(sb.mbps == Approx(95.5));
    CHECK(sb.bytes == (8u << 20));
    CHECK(sb.seconds == Approx(0.7));
}

TEST_CASE("testbed: state document round trip", "[testbed]") {
    json doc = {{"version", 1},
                {"options", testbed_options{}},
                {"hosts", json::array({json(host{"a", "mtb-a", "10.64.9.2", "/run/s/a.sock", "/d/a", "/e/a", "/w/a", 7})})},
                {"bridge", "mtb-br"},
                {"client_address", "10.64.9.1"},
                {"subnet", "10.64.9.0/24"},
                {"measured", {{"a", throughput_sample{link_profile::normal, 20000, 1024, 0.001}}}}};
    auto t = doc.get<testbed::testbed>();
    CHECK(t.bridge() == "mtb-br");
    CHECK(t.client_address() == "10.64.9.1");
    CHECK(t.subnet() == "10.64.9.0/24");
    REQUIRE(t.hosts().size() == 1);
    CHECK(t.hosts()[0].dockerd_pid == 7);
    REQUIRE(t.find("a").has_value());
    CHECK(t.find("z").error_code() == make_error_code(error::not_found));
    CHECK(t.measurements().at("a").mbps == Approx(20000));
    json again = t;
    CHECK(again == doc);
}

TEST_CASE("default_subnet: stable, inside 10.64.0.0/10, distinct per name", "[testbed]") {
    auto s = default_subnet("mci");
    CHECK(s == default_subnet("mci"));
    CHECK(s.rfind("10.", 0) == 0);
    CHECK(s.size() > 5);
    CHECK(s.substr(s.size() - 5) == ".0/24");
    int second = std::stoi(s.substr(3, s.find('.', 3) - 3));
    CHECK(second >= 64);
    CHECK(second <= 127);
    CHECK(default_subnet("mci") != default_subnet("mlk"));
}
