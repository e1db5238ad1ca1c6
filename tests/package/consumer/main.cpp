// A user's program: includes the umbrella header, builds a report, prints its JSON.
#include <migrate/migrate.hpp>

#include <iostream>

int main() {
    migrate::migration_report r;
    r.strategy = "checkpoint";
    r.state.push_back({"keys", 3, 3});
    migrate::json j = r;
    std::cout << j.dump() << "\n";
    return r.state_intact() ? 0 : 1;
}
