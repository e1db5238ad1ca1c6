#include "common.hpp"

#include <fmt/format.h>

#include <chrono>

namespace migrate::python {

void raise(const failure& f) {
    const bool ours = f.code.category() == error_category();
    py::object err = py::reinterpret_borrow<py::object>(migration_error_type)(f.what());
    err.attr("code") = ours ? std::string(to_string(static_cast<error>(f.code.value()))) : f.code.message();
    err.attr("condition") = ours ? std::string(to_string(condition_of(static_cast<error>(f.code.value())))) : "";
    err.attr("message") = f.message;
    err.attr("retryable") = is_retryable(f.code);
    PyErr_SetObject(migration_error_type, err.ptr());
    throw py::error_already_set();
}

py::object to_python(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
        case json::value_t::discarded: return py::none();
        case json::value_t::boolean: return py::bool_(j.get<bool>());
        case json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
        case json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
        case json::value_t::number_float: return py::float_(j.get<double>());
        case json::value_t::string: return py::str(j.get_ref<const std::string&>());
        case json::value_t::binary: {
            const auto& b = j.get_binary();
            return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
        }
        case json::value_t::array: {
            py::list l;
            for (const auto& x : j) l.append(to_python(x));
            return l;
        }
        case json::value_t::object: {
            py::dict d;
            for (const auto& [k, v] : j.items()) d[py::str(k)] = to_python(v);
            return d;
        }
    }
    return py::none();
}

json from_python(const py::handle& o, const std::string& where) {
    if (o.is_none()) return nullptr;
    if (PyBool_Check(o.ptr())) return o.cast<bool>();
    if (PyLong_Check(o.ptr())) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o.ptr(), &overflow);
        if (overflow == 0 && !(v == -1 && PyErr_Occurred())) return static_cast<std::int64_t>(v);
        PyErr_Clear();
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(o.ptr());
            if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) return static_cast<std::uint64_t>(u);
            PyErr_Clear();
        }
        raise(make_failure(error::invalid_argument, where + ": integer out of the 64-bit range"));
    }
    if (PyFloat_Check(o.ptr())) return o.cast<double>();
    if (PyUnicode_Check(o.ptr())) return o.cast<std::string>();
    if (PyDict_Check(o.ptr())) {
        json j = json::object();
        for (auto [k, v] : py::reinterpret_borrow<py::dict>(o)) {
            if (!PyUnicode_Check(k.ptr()))
                raise(make_failure(error::invalid_argument,
                                   fmt::format("{}: dict keys must be str, got {}", where,
                                               py::str(py::type::handle_of(k).attr("__name__")).cast<std::string>())));
            auto key = k.cast<std::string>();
            j[key] = from_python(v, where + "." + key);
        }
        return j;
    }
    if (PyList_Check(o.ptr()) || PyTuple_Check(o.ptr())) {
        json j = json::array();
        std::size_t i = 0;
        for (auto x : py::reinterpret_borrow<py::sequence>(o)) j.push_back(from_python(x, fmt::format("{}[{}]", where, i++)));
        return j;
    }
    if (py::hasattr(o, "to_dict")) return from_python(o.attr("to_dict")(), where);
    if (py::hasattr(o, "__fspath__")) return py::str(py::module_::import("os").attr("fspath")(o)).cast<std::string>();
    raise(make_failure(error::invalid_argument,
                       fmt::format("{}: cannot be given as {} (expected dict, list, str, number, bool or None)", where,
                                   py::str(py::type::handle_of(o).attr("__name__")).cast<std::string>())));
}

json dict_to_json(const py::handle& o, const char* what) {
    if (!PyDict_Check(o.ptr()))
        raise(make_failure(error::invalid_argument,
                           fmt::format("{}: expected a dict, got {}", what,
                                       py::str(py::type::handle_of(o).attr("__name__")).cast<std::string>())));
    return from_python(o, what);
}

json kwargs_json(const json& defaults, const char* callable,
                 std::initializer_list<std::pair<const char*, py::object>> args) {
    json j = json::object();
    for (const auto& [key, value] : args) {
        if (value.is_none()) continue;
        if (!defaults.contains(key))
            throw py::type_error(fmt::format("{}() got an unexpected keyword argument '{}'", callable, key));
        j[key] = from_python(value, key);
    }
    return j;
}

std::shared_ptr<container_runtime> own_runtime(const std::shared_ptr<container_runtime>& rt) {
    if (auto* e = dynamic_cast<docker::engine*>(rt.get())) return unwrap(docker::engine::make(e->options()));
    return rt;
}

shared_callable share(py::object fn) {
    return shared_callable(new py::object(std::move(fn)), [](py::object* p) {
        if (!Py_IsInitialized()) {   // at interpreter exit: leak rather than touch a dead runtime
            p->release();
            delete p;
            return;
        }
        py::gil_scoped_acquire gil;
        delete p;
    });
}

void callback_errors::record(py::error_already_set& e, const char* what) {
    {
        std::lock_guard lk(mu);
        if (count++ == 0) first = e.what();
    }
    e.discard_as_unraisable(what);
}

py::dict event_to_python(const phase_event& e) {
    static constexpr const char* kinds[] = {"begin", "progress", "end"};
    py::dict d;
    d["kind"] = kinds[static_cast<int>(e.what)];
    d["phase"] = std::string(to_string(e.phase));
    d["detail"] = e.detail;
    // steady_clock is CLOCK_MONOTONIC here: comparable with time.monotonic().
    d["at"] = std::chrono::duration<double>(e.at.time_since_epoch()).count();
    d["bytes"] = e.bytes;
    d["total_bytes"] = e.total_bytes;
    if (!e.error) d["error"] = py::none();
    else if (e.error.category() == error_category()) d["error"] = std::string(to_string(static_cast<error>(e.error.value())));
    else if (e.error == std::errc::operation_canceled) d["error"] = "cancelled";
    else d["error"] = e.error.message();
    return d;
}

hooks python_callbacks::make_hooks() {
    hooks h;
    auto call = [this](const py::object* fn, auto make_arg, const char* what) {
        py::gil_scoped_acquire gil;
        try {
            (*fn)(make_arg());
        } catch (py::error_already_set& e) {
            if (first_error.empty()) first_error = e.what();
            e.discard_as_unraisable(what);
        } catch (const std::exception& e) {
            if (first_error.empty()) first_error = e.what();
        }
    };
    if (on_event && !on_event->is_none())
        h.on_event = [this, call](const phase_event& e) {
            call(on_event, [&] { return event_to_python(e); }, "migrate on_event callback");
        };
    if (log && !log->is_none())
        h.log = [this, call](std::string_view s) {
            call(log, [&] { return py::str(s.data(), s.size()); }, "migrate log callback");
        };
    return h;
}

std::string py_engine::busy_message() const {
    return "the DockerEngine for " + engine->endpoint() +
           " is already in a call on this thread (a callback such as on_event using the engine it was "
           "called from?); use a second DockerEngine for the same socket";
}

}  // namespace migrate::python
