// fake_route_switch — an IN-MEMORY FAKE of `route_switch` that records its calls, for
// unit-testing the sequencing and rollback of whoever drives a route switch (the replica
// pool). The real one (route/openflow.hpp) is tested against OVS.
#pragma once

#include <migrate/route_switch.hpp>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace migrate::test {

class fake_route_switch final : public route_switch {
public:
    std::vector<std::string> calls;                 // "prepare <subject> <from>-><to>", ...
    std::map<std::string, failure> fail_next;       // "prepare" / "commit": fail once
    std::map<std::string, std::string> serving;     // subject -> instance id the traffic goes to

    std::string_view name() const noexcept override { return "fake"; }
    result<void> prepare(route_change& c) override {
        std::lock_guard lk(mu_);
        calls.push_back("prepare " + c.subject + " " + c.from.id + "->" + c.to.id);
        if (auto f = take("prepare")) return *f;
        c.prepared = true;
        return {};
    }
    result<void> commit(route_change& c) override {
        std::lock_guard lk(mu_);
        calls.push_back("commit " + c.subject + " " + c.from.id + "->" + c.to.id);
        if (auto f = take("commit")) return *f;
        c.committed = true;
        serving[c.subject] = c.to.id;
        return {};
    }
    void rollback(route_change& c) noexcept override {
        std::lock_guard lk(mu_);
        calls.push_back("rollback " + c.subject + " " + c.from.id + "->" + c.to.id);
        serving[c.subject] = c.from.id;
    }

private:
    std::optional<failure> take(const std::string& what) {
        auto it = fail_next.find(what);
        if (it == fail_next.end()) return std::nullopt;
        auto f = it->second;
        fail_next.erase(it);
        return f;
    }
    std::mutex mu_;
};

}  // namespace migrate::test
