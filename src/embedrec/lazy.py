"""The one place embedrec imports on demand, so that `import embedrec` and `embedrec --help`
cost milliseconds and a command pays for torch, numba or pandas only when it uses them.

Two tools, both checked by tests/test_architecture.py (nothing else may import inside a
function or call `importlib`):

- `attach(__name__, __file__)` gives a package a PEP 562 `__getattr__` and `__dir__` built from
  its own `if TYPE_CHECKING:` block: the names imported there (what type checkers and readers
  see) are imported from their module on first use, and kept.
- `module("embedrec.x.y")` stands for a module imported on its first attribute, so a command
  that needs it can name it at the top of its file and import it only when it runs.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def exports(source: str | Path) -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) for each `from module import attribute [as name]` in the
    `if TYPE_CHECKING:` blocks at the top level of a module's source."""
    tree = ast.parse(Path(source).read_text(), filename=str(source))
    table: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                for alias in statement.names:
                    table[alias.asname or alias.name] = (statement.module, alias.name)
    return table


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def attach(package: str, source: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose names are those `source`'s
    TYPE_CHECKING block imports."""
    table = exports(source)

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where, attribute = table[name]
        value = getattr(importlib.import_module(where), attribute)
        setattr(sys.modules[package], name, value)  # later lookups are plain attributes
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__


class LazyModule(ModuleType):
    """A module imported when one of its attributes is first read."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


def module(name: str) -> Any:
    """`name`, imported on first use (typed `Any`: name the real module under TYPE_CHECKING)."""
    return LazyModule(name)


def imported(name: str) -> ModuleType:
    """The module `name`, imported now (a registry that fills itself as its modules load)."""
    return importlib.import_module(name)
