"""The .pyi stubs declare what the extension has: every class, function, method and
property, with the extension's parameter names (read from pybind11's signatures)."""
import ast
import inspect
import pathlib

import migrate
from migrate import _migrate

STUB = pathlib.Path(migrate.__file__).with_name("_migrate.pyi")


def _stub():
    tree = ast.parse(STUB.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = {}
            for n in node.body:
                if isinstance(n, ast.FunctionDef):
                    members[n.name] = n
                elif isinstance(n, ast.AnnAssign):
                    members[n.target.id] = n
            out[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = node
    return out


def _param_names(doc_line):
    """Parameter names of a pybind11 signature line 'f(self: X, a: List[int] = [1, 2]) -> R'."""
    inner = doc_line[doc_line.index("(") + 1: doc_line.rindex(") ->")]
    names, depth, part = [], 0, ""
    for ch in inner + ",":
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            if part.strip():
                names.append(part.split(":")[0].strip().lstrip("*"))
            part = ""
        else:
            part += ch
    return [n for n in names if n != "self"]


def _stub_params(fn):
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args if x.arg != "self"]
    names += [a.vararg.arg] if a.vararg else []
    return names + [x.arg for x in a.kwonlyargs]


def _public(obj):
    return {n for n in vars(obj) if not n.startswith("_")} | ({"__enter__", "__exit__", "__call__"} & set(vars(obj)))


def test_stub_file_is_installed_next_to_the_extension():
    assert STUB.exists(), STUB
    assert STUB.with_name("py.typed").exists()


def test_every_name_of_the_extension_is_in_the_stub():
    stub = _stub()
    names = {n for n in vars(_migrate) if not n.startswith("_")}
    assert names - set(stub) == set()
    assert set(stub) - names - {"PathLike", "Json", "PhaseEvent", "Caps"} == set()


def test_every_member_and_parameter_matches():
    stub = _stub()
    for name, obj in vars(_migrate).items():
        if name.startswith("_") or name == "MigrationError":
            continue
        if inspect.isclass(obj):
            members = _public(obj)
            assert members == set(stub[name]) - {"__init__"}, name
            for m in members | ({"__init__"} & set(stub[name])):
                attr = inspect.getattr_static(obj, m)
                fn = getattr(attr, "__func__", attr)
                if isinstance(stub[name][m], ast.FunctionDef) and callable(fn) and not isinstance(attr, property):
                    first = (fn.__doc__ or "").lstrip().splitlines()[0]
                    if first.startswith("__init__") or first.startswith(m + "("):
                        assert _param_names(first) == _stub_params(stub[name][m]), f"{name}.{m}: {first}"
        elif callable(obj):
            first = obj.__doc__.lstrip().splitlines()[0]
            assert _param_names(first) == _stub_params(stub[name]), f"{name}: {first}"
