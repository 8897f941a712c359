"""Every third-party package that core/ and tui/ import is declared in pyproject.toml.

A package that only arrives as a dependency of a dependency (pydantic through mcp, rich through
textual) works until that dependency drops it; a fresh install then fails at import time.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"core", "tui"}


def _is_type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> set[str]:
    """Top-level module names imported when the code runs (imports only for the type checker excluded)."""
    names: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if _is_type_checking_block(node):
            assert isinstance(node, ast.If)
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        pending.extend(ast.iter_child_nodes(node))
    return names


def _third_party_imports() -> dict[str, set[str]]:
    """{module: files importing it} for every module that is neither stdlib nor Lookout's own."""
    found: dict[str, set[str]] = {}
    for package in sorted(FIRST_PARTY):
        for path in (ROOT / package).rglob("*.py"):
            for name in _runtime_imports(ast.parse(path.read_text(), filename=str(path))):
                if name not in sys.stdlib_module_names and name not in FIRST_PARTY and name != "__future__":
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normalized(re.split(r"[\s<>=!~;\[(]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def test_the_import_scan_sees_imports_at_any_depth_but_not_type_checking_ones() -> None:
    tree = ast.parse(
        "import yaml\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pydantic_core import ErrorDetails\n"
        "def f():\n    import uvicorn\n    from mcp.server import MCPServer\n"
    )
    assert _runtime_imports(tree) == {"yaml", "typing", "uvicorn", "mcp"}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if not {_normalized(dist) for dist in distributions.get(module, [module])} & declared
    }
    assert undeclared == {}
