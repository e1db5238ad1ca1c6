// JSON of the route-switch and trigger vocabulary (route_switch.hpp, trigger.hpp).
#include <migrate/route_switch.hpp>
#include <migrate/trigger.hpp>

namespace migrate {

void to_json(json& j, const service_instance& s) {
    j = json{{"host", s.host}, {"id", s.id}, {"address", s.address}, {"port", s.port}};
}

void from_json(const json& j, service_instance& s) {
    s.host = j.value("host", std::string{});
    s.id = j.value("id", std::string{});
    s.address = j.value("address", std::string{});
    s.port = j.value("port", std::uint16_t{0});
}

void to_json(json& j, const route_change& c) {
    j = json{{"subject", c.subject}, {"from", c.from}, {"to", c.to}, {"attachment", c.attachment},
             {"state", c.state}, {"prepared", c.prepared}, {"committed", c.committed}};
}

void to_json(json& j, const migration_decision& d) {
    j = json{{"subject", d.subject}, {"from", d.from}, {"to", d.to}, {"reason", d.reason},
             {"evidence", d.evidence}};
    if (d.deadline) {
        j["deadline_in_ms"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(*d.deadline - d.at).count();
    }
}

}  // namespace migrate
