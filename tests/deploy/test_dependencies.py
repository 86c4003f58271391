"""The runtime dependencies are what the functions import, and the layer ships only those.

pyproject.toml's ``[project.dependencies]`` names exactly the distributions whose modules
``functions/`` and ``shared/`` import (statically, anywhere in a module, but not under
``if TYPE_CHECKING:``); the lock (deploy/requirements.txt, what the Lambda layer installs)
is their closure at the virtualenv's versions (with deploy/requirements-einvoice.txt, the
e-invoice layer's part of it), so a module imported but not declared would
be missing in Lambda, and a dependency declared but not imported (the ``supabase``
umbrella: realtime, storage3, functions, websockets) would ship for nothing. No network:
the hashes are deploy/lock.py's own business (``deploy/lock.py --check`` in CI); the layer
itself is checked in test_package.py.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"shared", "functions"}
# The supabase umbrella and what only it pulls in: never imported by a function.
UMBRELLA = {"supabase", "realtime", "storage3", "supabase-functions", "websockets"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_lock", ROOT / "deploy" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(Requirement(spec).name) for spec in project["dependencies"]}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.AST) -> set[str]:
    """Top-level names of the absolute imports that run (not the type-checking ones)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def third_party_imports() -> dict[str, set[str]]:
    """Imported module -> the files importing it, for functions/ and shared/."""
    imports: dict[str, set[str]] = {}
    for directory in sorted(FIRST_PARTY):
        for path in sorted((ROOT / directory).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for module in imported_modules(tree):
                if module in sys.stdlib_module_names or module in FIRST_PARTY:
                    continue
                if module == "__future__":
                    continue
                imports.setdefault(module, set()).add(path.relative_to(ROOT).as_posix())
    return imports


def test_the_import_scan_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    tree = ast.parse(
        "import a.b\nfrom c.d import e\nfrom . import f\n"
        "def g():\n    import h\n"
        "if TYPE_CHECKING:\n    import i\nelse:\n    import j\n"
        "if typing.TYPE_CHECKING:\n    import k\n"
    )
    assert imported_modules(tree) == {"a", "c", "h", "j"}


def test_every_imported_module_is_a_declared_runtime_dependency() -> None:
    distributions = metadata.packages_distributions()
    declared = runtime_dependencies()
    undeclared = {}
    for module, files in third_party_imports().items():
        owners = {canonical(d) for d in distributions.get(module, [])}
        if not owners & declared:
            undeclared[module] = (sorted(owners), sorted(files)[:3])
    assert not undeclared, (
        "imported by the functions but not in pyproject.toml's [project.dependencies] "
        f"(so possibly not in the Lambda layer): {undeclared}"
    )


def test_every_runtime_dependency_is_imported_by_a_function() -> None:
    distributions = metadata.packages_distributions()
    imported = {
        canonical(owner) for module in third_party_imports() for owner in distributions[module]
    }
    unused = runtime_dependencies() - imported
    assert not unused, (
        f"runtime dependencies no function imports: {sorted(unused)}; "
        "move them to the dev extra (the layer ships every runtime dependency)"
    )
    assert not runtime_dependencies() & UMBRELLA


def test_the_lock_is_the_closure_of_the_runtime_dependencies_without_the_umbrella() -> None:
    lock = lock_module()
    expected = {
        name: lock.OVERRIDES.get(name, version)
        for name, version in lock.closure().items()
        if name not in lock.RUNTIME_PROVIDED
    }
    # The two layers' locks (deploy/requirements.txt, deploy/requirements-einvoice.txt),
    # each distribution in one of them only (tests/deploy/test_layers.py says which).
    locked: dict[str, str] = {}
    for file in ("requirements.txt", "requirements-einvoice.txt"):
        for line in (ROOT / "deploy" / file).read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, version = line.split()[0].partition("==")
                assert canonical(name) not in locked, f"{name} is in both layers"
                locked[canonical(name)] = version
    stale = "deploy/requirements*.txt are stale: run .venv/bin/python deploy/lock.py"
    assert locked == expected, stale
    assert lock.layers()["einvoice"] == {
        n: v for n, v in locked.items() if n not in lock.layers()["base"]
    }, stale
    assert not set(locked) & UMBRELLA, sorted(set(locked) & UMBRELLA)
    assert {"postgrest", "supabase-auth"} <= set(locked)
