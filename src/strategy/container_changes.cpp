#include "container_changes.hpp"

#include <migrate/json.hpp>

#include <cctype>

namespace migrate::detail {

std::vector<std::string> dockerfile_changes(const container_spec& spec) {
    std::vector<std::string> c;
    // JSON array form: no shell in between, arguments kept exactly.
    if (!spec.entrypoint.empty()) c.push_back("ENTRYPOINT " + json(spec.entrypoint).dump());
    if (!spec.cmd.empty()) c.push_back("CMD " + json(spec.cmd).dump());
    for (auto& e : spec.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        c.push_back("ENV " + e.substr(0, eq) + "=" + json(e.substr(eq + 1)).dump());
    }
    if (!spec.working_dir.empty()) c.push_back("WORKDIR " + spec.working_dir);
    if (!spec.user.empty()) c.push_back("USER " + spec.user);
    for (auto& p : spec.exposed_ports) c.push_back("EXPOSE " + p);
    for (auto& [k, v] : spec.labels) c.push_back("LABEL " + json(k).dump() + "=" + json(v).dump());
    return c;
}

std::string reference_safe(const std::string& name) {
    std::string s;
    for (char ch : name) {
        auto u = static_cast<unsigned char>(ch);
        s += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : (ch == '.' || ch == '-' || ch == '_') ? ch : '-';
    }
    while (!s.empty() && !std::isalnum(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    return s.empty() ? "container" : s;
}

}  // namespace migrate::detail
