"""The shape of the package, checked from its source with `ast` (nothing is imported): no import
cycles between modules, imports at the top of modules only, and modules small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "embedrec"

# Imports inside a function body, each with its reason: (path relative to src/, module imported).
LAZY_IMPORTS = {
    ("embedrec/tuning.py", "optuna"): "optional dependency (embedrec[tune]), imported on use",
    ("embedrec/io.py", "matplotlib.figure"): "drawing is on request; the import costs ~0.5 s",
    ("embedrec/notebook.py", "IPython.display"): (
        "the one place Jupyter output is made: IPython is present wherever a kernel runs, and "
        "scripts and the CLI never pay for it"
    ),
}

# The one module that imports by name at run time (`importlib`): package `__getattr__`s built
# from their TYPE_CHECKING imports, and modules imported on first use, so `import embedrec` and
# `--help` load no torch, numba or pandas (tests/test_startup.py checks they do not).
LAZY_LOADER = "embedrec/lazy.py"

MAX_LINES = 400
# Modules allowed past MAX_LINES, each with its reason (path relative to src/): none now (the
# Recommender's scoring by index is `trained.py`, its file format `recommender_state.py`).
LONG_MODULES: dict[str, str] = {}


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__.py`)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported: outside any function or class
    body and outside `if TYPE_CHECKING:` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(tree.body)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph() -> dict[str, set[str]]:
    """module -> the embedrec modules it imports at module level. `from embedrec.pkg import
    name` is an edge to the submodule `embedrec.pkg.name` where that file exists, else to
    `embedrec.pkg`; the implicit import of parent packages' `__init__` is not an edge."""
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in module_level_imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(node, name, is_package)
                targets = []
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                # `import embedrec.a.b` names embedrec.a.b; keep the longest known prefix
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_the_package_as_written():
    graph = import_graph()
    assert "embedrec.models.base" in graph["embedrec.models.dot"]  # from embedrec.models.base
    assert "embedrec.io" in graph["embedrec.recommender"]  # from embedrec import io
    assert "embedrec.models" in graph["embedrec.trained"]  # from embedrec.models import X
    assert "embedrec" not in graph["embedrec.models.dot"]  # no edge to the parent __init__


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_only_at_module_level_except_the_allowed_lazy_ones():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or "." * node.level]
                else:
                    continue
                for imported in names:
                    found[(where, imported)] = f"line {node.lineno}, in {function.name}()"
    unexpected = {key: at for key, at in found.items() if key not in LAZY_IMPORTS}
    assert not unexpected, "imports inside functions (move them to the top, or allow-list): " + (
        "; ".join(f"{path}: {module} ({at})" for (path, module), at in sorted(unexpected.items()))
    )
    stale = set(LAZY_IMPORTS) - set(found)
    assert not stale, f"allow-listed lazy imports no longer there (remove them): {sorted(stale)}"


def test_only_the_lazy_loader_imports_by_name():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            named = (isinstance(node, ast.Name) and node.id in ("importlib", "__import__")) or (
                isinstance(node, ast.alias) and node.name.startswith("importlib")
            )
            if named and where != LAZY_LOADER:
                found.append(f"{where}:{getattr(node, 'lineno', '?')}")
    assert not found, f"imports by name outside {LAZY_LOADER}: {found}"


def test_no_module_is_longer_than_the_limit():
    lengths = {
        path.relative_to(SRC).as_posix(): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    too_long = {p: n for p, n in lengths.items() if n > MAX_LINES and p not in LONG_MODULES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them, or allow-list): " + (
        ", ".join(f"{p} ({n})" for p, n in sorted(too_long.items()))
    )
    back_in_limit = {p: lengths.get(p) for p in LONG_MODULES if lengths.get(p, 0) <= MAX_LINES}
    assert not back_in_limit, f"allow-listed modules now within the limit or gone: {back_in_limit}"


# ---- the faces (CLI, HTTP service) import the public package ---------------------------------
FACES = ("embedrec.cli", "embedrec.service")
# Light modules a face may import besides `embedrec`, each with its reason: exporting them from
# `embedrec` would load them through `embedrec.lazy`, which is what they exist to avoid.
LIGHT_MODULES = {
    "embedrec.lazy": "the on-first-use loader itself: a face names a module it runs on demand",
    "embedrec.models.declared": (
        "each kind's name, summary and options' defaults read from the kinds' source (ast), "
        "importing no kind, so that `train --help` shows them without torch"
    ),
    "embedrec.help_text": (
        "plain text for --help (split, protocol, model and engine words), importing nothing, "
        "so that `embedrec --help` loads no torch, numba or pandas (tests/test_startup.py)"
    ),
}
# The CLI starts the HTTP service (`serve`) and reads its feedback store (`train --feedback`):
# it may use the service's own public package, as it uses `embedrec`.
FACE_PACKAGES = {"embedrec.cli": {"embedrec.service"}, "embedrec.service": set()}
# What the faces import past the public API, to be emptied: (path, module) -> why.
KNOWN_FACE_IMPORTS: dict[tuple[str, str], str] = {}


def face_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every embedrec module `path` imports, anywhere in it (TYPE_CHECKING blocks too) or names
    to `lazy.module("...")`; `from embedrec import x` counts as embedrec.x where that is a
    module, else as `embedrec`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "module"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "lazy"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return {name for name in found if name == "embedrec" or name.startswith("embedrec.")}


def test_the_faces_import_only_the_public_package():
    """The CLI and the HTTP service are built on what a Python user can import: `embedrec`
    (plus the light modules above); a face reaching into `embedrec.training`, `.scoring` ...
    is a public API missing."""
    modules = module_files()
    found = {}
    for face in FACES:
        allowed = {"embedrec", *LIGHT_MODULES, *FACE_PACKAGES[face]}
        for name, path in modules.items():
            if name != face and not name.startswith(face + "."):
                continue
            where = path.relative_to(SRC).as_posix()
            for imported in face_imports(path, modules):
                own = imported == face or imported.startswith(face + ".")
                if not own and imported not in allowed:
                    found[(where, imported)] = imported
    unexpected = sorted(set(found) - set(KNOWN_FACE_IMPORTS))
    assert not unexpected, "a face imports past the public API (export it from embedrec): " + (
        "; ".join(f"{path}: {module}" for path, module in unexpected)
    )
    stale = sorted(set(KNOWN_FACE_IMPORTS) - set(found))
    assert not stale, f"known face imports no longer there (remove them): {stale}"


def test_the_face_import_check_sees_what_a_face_would_write(tmp_path):
    face = tmp_path / "face.py"
    face.write_text(
        "from typing import TYPE_CHECKING\nimport embedrec\nfrom embedrec import lazy\n"
        "if TYPE_CHECKING:\n    from embedrec.training import launch\n"
        "else:\n    launch = lazy.module('embedrec.training.launch')\n"
        "def f():\n    from embedrec.scoring import MIN_RATINGS\n"
    )
    assert face_imports(face, module_files()) == {
        "embedrec",
        "embedrec.lazy",
        "embedrec.training.launch",
        "embedrec.scoring",
    }


def test_evaluation_trains_nothing():
    """evaluation/ scores a Recommender and sits below learner.py (which validates with it);
    what trains and then scores (the protocols) lives above both."""
    graph = import_graph()
    reached = {name for name in graph if name.startswith("embedrec.evaluation")}
    frontier = set(reached)
    while frontier:  # everything evaluation/ imports, directly or not
        frontier = set().union(*(graph[name] for name in frontier)) - reached
        reached |= frontier
    assert not {"embedrec.learner", "embedrec.protocols"} & reached
    assert "embedrec.learner" in graph["embedrec.protocols"]


KINDS_PACKAGE = PACKAGE / "models"


def kind_classes() -> set[str]:
    """Names of the classes in `models/` that are model kinds: registered (`@register`) or
    subclasses of `Model`, however indirectly (`Model` itself, the contract, is not one)."""
    bases: dict[str, set[str]] = {}
    registered: set[str] = set()
    for path in sorted(KINDS_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {_last_name(base) for base in node.bases}
                if any(_last_name(d) == "register" for d in node.decorator_list):
                    registered.add(node.name)
    kinds = set(registered)
    grew = True
    while grew:
        found = {name for name, parents in bases.items() if parents & (kinds | {"Model"})}
        grew = not found <= kinds
        kinds |= found
    return kinds


def _last_name(node: ast.expr) -> str:
    """`Model` for `Model`, `base.Model` or `Model[...]`; "" for anything else."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def class_checks_of(tree: ast.AST, classes: set[str]) -> list[str]:
    """`isinstance`/`issubclass` calls in `tree` whose class (or one of a tuple's) is in
    `classes`, as `line N: isinstance(..., Name)`."""
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and _last_name(node.func) in ("isinstance", "issubclass")
            and len(node.args) == 2
        ):
            continue
        checked = node.args[1]
        names = checked.elts if isinstance(checked, ast.Tuple) else [checked]
        for name in (_last_name(n) for n in names):
            if name in classes:
                found.append(f"line {node.lineno}: {_last_name(node.func)}(..., {name})")
    return found


def test_the_kind_check_finder_sees_kinds_and_checks_of_them():
    kinds = kind_classes()
    assert {"DotProductKind", "IALSKind", "BayesianMFKind", "TorchModel"} <= kinds
    assert {"AverageKind", "ClosedFormModel", "EaseKind"} <= kinds
    assert "DotProduct" not in kinds and "Model" not in kinds  # a network; the contract
    snippet = ast.parse(
        "isinstance(m, IALSKind)\nissubclass(k, (int, models.TorchModel))\nisinstance(n, nn.Module)"
    )
    assert class_checks_of(snippet, kinds) == [
        "line 1: isinstance(..., IALSKind)",
        "line 2: issubclass(..., TorchModel)",
    ]


def test_no_kind_class_is_checked_outside_models():
    """Engines and the rest check what a model can do (`models/capabilities.py`), never which
    kind it is: a new kind with the capability then trains without editing them."""
    kinds = kind_classes()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if KINDS_PACKAGE in path.parents:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        found += [f"{path.relative_to(SRC).as_posix()} {c}" for c in class_checks_of(tree, kinds)]
    assert not found, "kind classes checked outside models/ (check a capability): " + "; ".join(
        found
    )


def test_a_kind_is_its_file_and_its_name_in_the_kind_list():
    """The README's "Adding a model": a kind's file plus its module's name in `KIND_MODULES`
    are all it needs. No other source file names bpr in code (an import, a name, an attribute
    or the string "bpr"); comments and help texts may mention it."""
    naming = set()
    for path in (SRC / "embedrec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            named = (
                (isinstance(node, ast.Constant) and node.value == "bpr")
                or (isinstance(node, ast.Name) and "bpr" in node.id.lower())
                or (isinstance(node, ast.Attribute) and "bpr" in node.attr.lower())
                or (isinstance(node, ast.ImportFrom) and "bpr" in (node.module or ""))
                or (isinstance(node, ast.alias) and "bpr" in node.name.lower())
            )
            if named:
                naming.add(path.relative_to(SRC).as_posix())
    assert naming == {"embedrec/models/bpr.py", "embedrec/models/__init__.py"}
