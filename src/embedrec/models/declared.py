"""The model kinds as their files declare them, read from the source without importing it, so
that `--help` lists every kind with its summary, its defaults and its options (each Field's
default and description) while loading no torch (tests/test_startup.py).

Why read the source: a kind is one class in one file, and most kinds' files import torch at the
top (their networks are `nn.Module`s); a second, torch-free declaration per kind would be the
copy that drifts, and help text written by hand is the copy that drifted. The kind's class stays
the one declaration: its `name`, `summary`, `defaults`, `adapts`, `by_name`, `predicts_ratings` are
literals, its `Options` a pydantic model of `Field(default, description=...)` literals, and this
module evaluates those literals (`ast.literal_eval`, no code runs), following the class's bases
through the kind modules, `base.py` and `torch_model.py`. tests/test_registry.py checks that what
is read here is what the imported classes hold, so a kind declared in a way this reader cannot
follow fails a test, not a user's `--help`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from embedrec.models import KIND_MODULES

# the modules that hold the classes kinds derive from
BASE_MODULES = ("base", "torch_model")
HERE = Path(__file__).parent
# the class attributes `--help` reads, as declared on `Model` (a kind that leaves one out
# inherits it)
ATTRIBUTES = ("name", "summary", "defaults", "adapts", "by_name", "predicts_ratings")


@dataclass(frozen=True)
class DeclaredOption:
    default: Any
    description: str = ""
    flag: str | None = None  # a CLI flag of its own (`--layers`), from json_schema_extra


@dataclass(frozen=True)
class DeclaredKind:
    """One kind's declaration, as its class holds it."""

    name: str
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    adapts: dict[str, str] = field(default_factory=dict)
    options: dict[str, DeclaredOption] = field(default_factory=dict)
    by_name: bool = True
    predicts_ratings: bool = True

    def options_help(self) -> str:
        """`name=default` for each option (as `Model.options_help` writes it)."""
        return ", ".join(f"{k}={option.default}" for k, option in self.options.items())


@dataclass
class _Class:
    bases: list[str]
    values: dict[str, Any]  # literal class attributes, and `Options` by class name
    fields: dict[str, DeclaredOption]  # an Options class's fields
    registered: bool


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Field":
        default = node.args[0] if node.args else _keyword(node, "default")
        extra = _literal(_keyword(node, "json_schema_extra")) or {}
        description = _literal(_keyword(node, "description")) or ""
        return DeclaredOption(_literal(default), description, extra.get("flag"))
    try:
        return ast.literal_eval(node)
    except ValueError:  # not a literal (a class, a call): only `Options = SomeOptions` is read
        return node.id if isinstance(node, ast.Name) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _read_class(node: ast.ClassDef) -> _Class:
    values: dict[str, Any] = {}
    fields: dict[str, DeclaredOption] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            target, value = statement.target.id, statement.value
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            target, value = statement.targets[0].id, statement.value
        else:
            continue
        if target == "model_config" or value is None:
            continue
        read = _literal(value)
        values[target] = read
        fields[target] = read if isinstance(read, DeclaredOption) else DeclaredOption(read)
    bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
    registered = any(getattr(d, "id", None) == "register" for d in node.decorator_list)
    return _Class(bases, values, fields, registered)


@cache
def _classes() -> tuple[dict[str, _Class], list[str]]:
    """Every class of the kind and base modules by name, and the registered kinds in order."""
    classes: dict[str, _Class] = {}
    kinds: list[str] = []
    for module in BASE_MODULES + KIND_MODULES:
        tree = ast.parse((HERE / f"{module}.py").read_text(), filename=f"{module}.py")
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = _read_class(node)
                if module in KIND_MODULES and classes[node.name].registered:
                    kinds.append(node.name)
    return classes, kinds


def _lookup(classes: dict[str, _Class], name: str, attribute: str) -> Any:
    """`attribute` of class `name`, through its bases as Python finds it (first base first)."""
    found = classes.get(name)
    if found is None:
        raise LookupError(f"{name} (a base of a kind) is not in {BASE_MODULES + KIND_MODULES}")
    if attribute in found.values:
        return found.values[attribute]
    for base in found.bases:
        if base in classes:
            try:
                return _lookup(classes, base, attribute)
            except KeyError:
                continue
    raise KeyError(attribute)


def _options(classes: dict[str, _Class], name: str) -> dict[str, DeclaredOption]:
    """An Options class's fields, its bases' first (pydantic's order)."""
    found = classes[name]
    inherited: dict[str, DeclaredOption] = {}
    for base in found.bases:
        if base in classes:
            inherited.update(_options(classes, base))
    return {**inherited, **found.fields}


def declared_kinds() -> list[DeclaredKind]:
    """Every registered kind as declared, in `--help`'s order."""
    classes, kinds = _classes()
    declared = []
    for name in kinds:
        values = {a: _lookup(classes, name, a) for a in ATTRIBUTES}
        options = _options(classes, _lookup(classes, name, "Options"))
        declared.append(DeclaredKind(**values, options=options))
    return declared


def models_help() -> str:
    """Every kind a user can name with its one-line summary (and its own options)."""
    return "; ".join(
        help_line(kind.name, kind.summary, kind.options_help())
        for kind in declared_kinds()
        if kind.by_name
    )


def help_line(name: str, summary: str, options: str) -> str:
    """One kind in `--help`'s list (and `embedrec.models_help()`, which adds kinds registered
    at run time): its name, summary and options with their defaults."""
    return f"{name}: {summary}" + (f" (--option {options})" if options else "")


def defaults_help(setting: str, fallback: str) -> str:
    """`--help`'s default for a shared setting: each kind's (its `defaults`), grouped by value,
    '[default: the model's: 5e-3 for dot, dot-bias, nn; 1e-2 for bpr]', then the kinds that
    adapt it to the data (their `adapts`) in parentheses; '[default: fallback]' where no kind
    sets it. (`defaults["options"]` is a kind's own options' defaults, listed under --model.)"""
    groups: dict[str, list[str]] = {}
    adapted = []
    for kind in declared_kinds():
        if not kind.by_name or setting == "options":
            continue
        if setting in kind.defaults:
            groups.setdefault(_number(kind.defaults[setting]), []).append(kind.name)
        if setting in kind.adapts:
            adapted.append(f"{kind.name}: {kind.adapts[setting]}")
    said = "; ".join(f"{value} for {', '.join(names)}" for value, names in groups.items())
    text = f"[default: the model's: {said}]" if said else f"[default: {fallback}]"
    return text + (f" ({'; '.join(adapted)})" if adapted else "")


def _number(value: Any) -> str:
    """5e-3 as '5e-3', 64 as '64' (as the papers and fastai write them)."""
    if isinstance(value, float) and value < 0.1:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{value:g}" if isinstance(value, float) else str(value)
