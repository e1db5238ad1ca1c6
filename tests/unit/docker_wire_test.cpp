// Docker Engine wire mapping, checked against documents recorded from dockerd 20.10.24
// (trimmed to the fields that matter). No daemon needed.
#include <migrate/docker/wire.hpp>

#include <catch2/catch.hpp>

using namespace migrate;
using namespace migrate::docker;

namespace {

// GET /containers/mc1/json from dockerd 20.10.24 (volume + bind mount, host network).
const char* const inspect_doc = R"({
  "Id": "9603698a7e8ba6ab49eb29f5011d9376d6ff10bf198610008a21e1dbf82269cc",
  "Created": "2026-11-22T19:58:56.1Z",
  "Path": "/usr/bin/memcached",
  "Args": ["-p", "11211"],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false, "Pid": 4242, "ExitCode": 0, "Error": ""},
  "Image": "sha256:3b7db52d260b351a6a430ad7d45f7e05ef2d51862283c42869c1dddbbe87c576",
  "Name": "/mc1",
  "HostConfig": {
    "Binds": ["/srv/conf:/conf:ro"],
    "NetworkMode": "host",
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "CapAdd": ["NET_ADMIN"],
    "CapDrop": null,
    "CgroupParent": "",
    "Privileged": false,
    "ShmSize": 67108864,
    "Memory": 134217728,
    "CpusetCpus": "",
    "PortBindings": {},
    "Mounts": [{"Type": "volume", "Source": "mcdata", "Target": "/data"}]
  },
  "Mounts": [
    {"Type": "volume", "Name": "mcdata", "Source": "/var/lib/docker/volumes/mcdata/_data",
     "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""},
    {"Type": "bind", "Source": "/srv/conf", "Destination": "/conf", "Mode": "ro", "RW": false,
     "Propagation": "rprivate"}
  ],
  "Config": {
    "Hostname": "edge-a", "User": "nobody", "AttachStdin": false, "Tty": false,
    "ExposedPorts": {"11211/tcp": {}, "11211/udp": {}},
    "Env": ["PATH=/usr/bin:/bin", "MC_MODE=edge"],
    "Cmd": ["-p", "11211", "-U", "11211"],
    "Image": "mc:1",
    "WorkingDir": "/data",
    "Entrypoint": ["/usr/bin/memcached"],
    "Labels": {"app": "memcached", "tier": "edge"}
  }
})";

}  // namespace

TEST_CASE("inspect JSON becomes a container_info with a portable spec", "[docker][wire]") {
    auto c = wire::container_from_inspect(json::parse(inspect_doc));
    REQUIRE(c);
    CHECK(c->id == "9603698a7e8ba6ab49eb29f5011d9376d6ff10bf198610008a21e1dbf82269cc");
    CHECK(c->name == "mc1");
    CHECK(c->status == "running");
    CHECK(c->running);
    CHECK_FALSE(c->paused);
    CHECK(c->pid == 4242);
    const auto& s = c->spec;
    CHECK(s.name == "mc1");
    CHECK(s.image == "mc:1");
    CHECK(s.cmd == std::vector<std::string>{"-p", "11211", "-U", "11211"});
    CHECK(s.entrypoint == std::vector<std::string>{"/usr/bin/memcached"});
    CHECK(s.env == std::vector<std::string>{"PATH=/usr/bin:/bin", "MC_MODE=edge"});
    CHECK(s.working_dir == "/data");
    CHECK(s.user == "nobody");
    CHECK(s.labels.at("tier") == "edge");
    CHECK(s.exposed_ports == std::vector<std::string>{"11211/tcp", "11211/udp"});
    CHECK(s.network_mode == "host");
    REQUIRE(s.mounts.size() == 2);   // sorted by target
    CHECK(s.mounts[1].type == mount_spec::kind::volume);
    CHECK(s.mounts[1].source == "mcdata");          // the volume's name, not its host path
    CHECK(s.mounts[1].target == "/data");
    CHECK_FALSE(s.mounts[1].read_only);
    CHECK(s.mounts[0].type == mount_spec::kind::bind);
    CHECK(s.mounts[0].source == "/srv/conf");
    CHECK(s.mounts[0].read_only);
    // Portable, non-default HostConfig fields are carried; defaults and host-specific ones not.
    CHECK(s.extra_host_config.at("CapAdd") == json::array({"NET_ADMIN"}));
    CHECK(s.extra_host_config.at("Memory") == 134217728);
    CHECK_FALSE(s.extra_host_config.contains("RestartPolicy"));
    CHECK_FALSE(s.extra_host_config.contains("ShmSize"));
    CHECK_FALSE(s.extra_host_config.contains("CpusetCpus"));
    CHECK_FALSE(s.extra_host_config.contains("CgroupParent"));
    CHECK_FALSE(s.extra_host_config.contains("Privileged"));
}

TEST_CASE("create body from a spec recreates what inspect saw", "[docker][wire]") {
    auto c = wire::container_from_inspect(json::parse(inspect_doc));
    REQUIRE(c);
    json body = wire::create_body(c->spec);
    CHECK(body["Image"] == "mc:1");
    CHECK(body["Cmd"] == json::array({"-p", "11211", "-U", "11211"}));
    CHECK(body["Entrypoint"] == json::array({"/usr/bin/memcached"}));
    CHECK(body["Env"] == json::array({"PATH=/usr/bin:/bin", "MC_MODE=edge"}));
    CHECK(body["WorkingDir"] == "/data");
    CHECK(body["User"] == "nobody");
    CHECK(body["Labels"]["app"] == "memcached");
    CHECK(body["ExposedPorts"].contains("11211/udp"));
    CHECK(body["Tty"] == false);
    CHECK(body["AttachStdout"] == false);
    const json& host = body["HostConfig"];
    CHECK(host["NetworkMode"] == "host");
    REQUIRE(host["Mounts"].size() == 2);
    CHECK(host["Mounts"][1] == json({{"Type", "volume"}, {"Source", "mcdata"}, {"Target", "/data"}, {"ReadOnly", false}}));
    CHECK(host["Mounts"][0] == json({{"Type", "bind"}, {"Source", "/srv/conf"}, {"Target", "/conf"}, {"ReadOnly", true}}));
    CHECK(host["CapAdd"] == json::array({"NET_ADMIN"}));
    CHECK(host["Memory"] == 134217728);

    // Round trip: the body, seen back through a (synthetic) inspect, gives the same spec.
    json again = json::parse(inspect_doc);
    again["Config"]["Cmd"] = body["Cmd"];
    auto c2 = wire::container_from_inspect(again);
    REQUIRE(c2);
    CHECK(json(c2->spec) == json(c->spec));
}

TEST_CASE("create body: empty cmd/entrypoint keep the image defaults; extra HostConfig is merged verbatim",
          "[docker][wire]") {
    container_spec s;
    s.image = "busybox:1";
    s.extra_host_config = {{"NetworkMode", "container:peer"}, {"Init", true}, {"Tmpfs", {{"/run", "size=1m"}}}};
    s.mounts.push_back({mount_spec::kind::tmpfs, "", "/scratch", false});
    json body = wire::create_body(s);
    CHECK_FALSE(body.contains("Cmd"));
    CHECK_FALSE(body.contains("Entrypoint"));
    CHECK(body["HostConfig"]["NetworkMode"] == "container:peer");   // extra wins, verbatim
    CHECK(body["HostConfig"]["Init"] == true);
    CHECK(body["HostConfig"]["Tmpfs"]["/run"] == "size=1m");
    CHECK(body["HostConfig"]["Mounts"][0] == json({{"Type", "tmpfs"}, {"Target", "/scratch"}, {"ReadOnly", false}}));
    s.extra_host_config = json::object();
    CHECK(wire::create_body(s)["HostConfig"]["NetworkMode"] == "none");
}

TEST_CASE("inspect without Id/Config/State is a protocol error", "[docker][wire]") {
    CHECK(wire::container_from_inspect(json::parse(R"({"message":"x"})")).error_code() == error::protocol_error);
    CHECK(wire::container_from_inspect(json::array()).error_code() == error::protocol_error);
    CHECK(wire::image_from_inspect(json::object()).error_code() == error::protocol_error);
    CHECK(wire::volume_from_json(json::object()).error_code() == error::protocol_error);
}

TEST_CASE("image and volume documents", "[docker][wire]") {
    auto i = wire::image_from_inspect(json::parse(R"({"Id":"sha256:abc","RepoTags":["mc:1","mc:latest"],
        "Size":10264287,"RootFS":{"Type":"layers","Layers":["sha256:l1","sha256:l2"]}})"));
    REQUIRE(i);
    CHECK(i->id == "sha256:abc");
    CHECK(i->tags.size() == 2);
    CHECK(i->size == 10264287);
    CHECK(i->layers == std::vector<std::string>{"sha256:l1", "sha256:l2"});
    auto v = wire::volume_from_json(json::parse(R"({"CreatedAt":"2026-11-22T19:58:56Z","Driver":"local",
        "Labels":{"k":"v"},"Mountpoint":"/var/lib/docker/volumes/tv/_data","Name":"tv","Options":null,"Scope":"local"})"));
    REQUIRE(v);
    CHECK(v->name == "tv");
    CHECK(v->driver == "local");
    CHECK(v->mountpoint == "/var/lib/docker/volumes/tv/_data");
    CHECK(v->labels.at("k") == "v");
}

TEST_CASE("HTTP status maps to errors that name the object, the endpoint and quote the daemon", "[docker][wire]") {
    const std::string ep = "unix:///run/docker-a.sock";
    auto nf = wire::status_failure(404, R"({"message":"No such container: x"})", "container 'x'", ep);
    CHECK(nf.code == error::not_found);
    CHECK(nf.message == "container 'x' not found on unix:///run/docker-a.sock: No such container: x");
    auto cf = wire::status_failure(409, R"({"message":"Container abc is not running"})", "container 'abc'", ep);
    CHECK(cf.code == error::conflict);
    CHECK_THAT(cf.message, Catch::Contains("container 'abc'") && Catch::Contains(ep) &&
                               Catch::Contains("Container abc is not running"));
    auto de = wire::status_failure(500, R"({"message":"criu failed: type NOTIFY errno 0"})", "checkpoint 'c1'", ep);
    CHECK(de.code == error::daemon_error);
    CHECK_THAT(de.message, Catch::Contains("criu failed"));
    CHECK(wire::status_failure(503, "", "x", ep).code == error::daemon_error);
    CHECK(wire::status_failure(400, R"({"message":"bad parameter"})", "x", ep).code == error::invalid_argument);
    CHECK(wire::status_failure(403, "{}", "x", ep).code == error::permission_denied);
    auto raw = wire::status_failure(502, "upstream broke\n", "x", ep);
    CHECK_THAT(raw.message, Catch::EndsWith("upstream broke"));   // non-JSON bodies are quoted raw
    CHECK(wire::status_failure(418, "", "x", ep).code == error::protocol_error);
}

TEST_CASE("image references split the Docker way", "[docker][wire]") {
    using p = std::pair<std::string, std::string>;
    CHECK(wire::split_reference("mc:1") == p{"mc", "1"});
    CHECK(wire::split_reference("mc") == p{"mc", ""});
    CHECK(wire::split_reference("localhost:5000/team/mc") == p{"localhost:5000/team/mc", ""});
    CHECK(wire::split_reference("localhost:5000/team/mc:2") == p{"localhost:5000/team/mc", "2"});
}

TEST_CASE("JSON-lines answers: status, stream texts and errorDetail, fed in arbitrary chunks", "[docker][wire]") {
    std::string answer =
        "{\"status\":\"Importing\",\"progressDetail\":{\"current\":512}}\r\n"
        "{\"stream\":\"Loaded image: mc:1\\n\"}\n"
        "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\n"
        "{\"status\":\"sha256:3b7db52d\"}";
    for (std::size_t step : {1u, 3u, 7u, 1000u}) {
        wire::json_lines jl;
        for (std::size_t i = 0; i < answer.size(); i += step)
            REQUIRE(jl.feed(std::string_view(answer).substr(i, step)));
        REQUIRE(jl.finish());
        CHECK(jl.last_status() == "sha256:3b7db52d");
        CHECK_FALSE(jl.error());
        CHECK(wire::loaded_images(jl.streams()) == std::vector<std::string>{"mc:1", "sha256:abc"});
    }
    wire::json_lines bad;
    REQUIRE(bad.feed(R"({"errorDetail":{"message":"archive/tar: invalid tar header"},"error":"archive/tar: invalid tar header"})"
                     "\n"));
    REQUIRE(bad.error());
    CHECK(*bad.error() == "archive/tar: invalid tar header");
    wire::json_lines garbage;
    CHECK(garbage.feed("<html>\n").error_code() == error::protocol_error);
}
