"""Which functions get the e-invoice layer: exactly those whose imports can reach its packages.

The Python packages are in two layers: the base layer (deploy/requirements.txt) that every
function gets, and the e-invoice layer (deploy/requirements-einvoice.txt: Saxon, factur-x,
lxml, pypdf and what only they pull in; 94 MB of Saxon's native libraries alone) that only
the functions importing them get, so the others neither fetch nor unpack it on a cold start.
A function given too little fails in Lambda at its first import of a missing package, which
no local test sees (the virtualenv has everything); given too much, it carries 130 MB for
nothing. So the import graph decides, statically: from a function's handler module, every
import anywhere in a module (the lazy ones inside functions too: shared/sending.py imports
shared.einvoice only when a format is chosen), not under ``if TYPE_CHECKING:``, following
``shared`` and ``functions`` modules (and their packages' ``__init__``). No packaging here:
serverless.yml and the two lock files are read; test_package.py checks the built template
and zips against the same graph.
"""

from __future__ import annotations

import ast
import functools
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.test_dependencies import canonical, is_type_checking

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"shared", "functions"}
BASE_LOCK = ROOT / "deploy" / "requirements.txt"
EINVOICE_LOCK = ROOT / "deploy" / "requirements-einvoice.txt"
BASE_LAYER = {"Ref": "PythonRequirementsLambdaLayer"}
EINVOICE_LAYER = {"Ref": "EinvoiceLambdaLayer"}


def locked(path: Path) -> dict[str, str]:
    """A lock file's distributions (canonical names) and versions."""
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.split()[0].partition("==")
            pins[canonical(name)] = version
    return pins


def einvoice_modules() -> set[str]:
    """The top-level modules the e-invoice layer's distributions install."""
    distributions = set(locked(EINVOICE_LOCK))
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if {canonical(owner) for owner in owners} & distributions
    }


def _module_file(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def _imports_of(path: Path) -> frozenset[str]:
    """Every absolute import of a module, wherever it runs (not the type-checking ones);
    for ``from a.b import c`` both ``a.b`` and ``a.b.c`` (c may be a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return frozenset(found)


def reached_packages(module: str) -> set[str]:
    """The top-level third-party (and stdlib) modules importing ``module`` can reach."""
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top not in FIRST_PARTY:
            outside.add(top)
            continue
        parts = name.split(".")
        todo += [".".join(parts[:index]) for index in range(1, len(parts))]
        path = _module_file(name)
        if path is not None:
            todo += _imports_of(path)
    return outside


def handler_module(function: dict[str, Any]) -> str:
    return str(function["handler"]).rpartition(".")[0].replace("/", ".")


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "serverless.yml").read_text())
    return loaded


def needs_einvoice_layer() -> dict[str, set[str]]:
    """Function -> the e-invoice layer's modules its imports reach (functions reaching none
    left out)."""
    modules = einvoice_modules()
    needs = {}
    for name, function in config()["functions"].items():
        reached = reached_packages(handler_module(function)) & modules
        if reached:
            needs[name] = reached
    return needs


def function_layers(function: dict[str, Any], provider: dict[str, Any]) -> list[Any]:
    """A function's own `layers` replace the provider's (the framework does not merge)."""
    layers: list[Any] = function.get("layers", provider.get("layers", []))
    return layers


# --- the graph itself ------------------------------------------------------------------


def test_the_graph_follows_lazy_imports_and_stops_at_unrelated_areas() -> None:
    modules = einvoice_modules()
    assert {"saxonche", "facturx", "lxml", "pypdf"} <= modules
    # shared/sending.py imports shared.einvoice inside a function, only for a chosen format
    assert {"saxonche", "lxml"} <= reached_packages("functions.invoices.send")
    # the invoices area (CRUD) never touches XML, nor the clients area
    assert not reached_packages("functions.invoices.api") & modules
    assert not reached_packages("functions.clients.api") & modules
    assert "fastapi" in reached_packages("functions.clients.api")


# --- the lock files --------------------------------------------------------------------


def test_the_base_lock_holds_none_of_the_einvoice_layer() -> None:
    base = locked(BASE_LOCK)
    einvoice = locked(EINVOICE_LOCK)
    assert {"saxonche", "factur-x", "lxml", "pypdf"} <= set(einvoice)
    assert not set(base) & set(einvoice), sorted(set(base) & set(einvoice))
    # what the base functions import themselves stays in the base layer
    assert {"python-stdnum", "requests", "fastapi", "pydantic-core"} <= set(base)


def test_no_function_without_the_einvoice_layer_imports_its_packages() -> None:
    """The base layer must serve every function that has only it: no module of the
    e-invoice layer within reach of its imports."""
    base_modules = set()
    for module, owners in metadata.packages_distributions().items():
        if {canonical(o) for o in owners} & set(locked(BASE_LOCK)):
            base_modules.add(module)
    assert not base_modules & einvoice_modules()


# --- serverless.yml --------------------------------------------------------------------


def test_exactly_the_functions_reaching_einvoice_packages_have_the_einvoice_layer() -> None:
    loaded = config()
    provider = loaded["provider"]
    assert provider["layers"] == [BASE_LAYER], "every function gets the base layer, only it"
    needs = needs_einvoice_layer()
    assert {"invoicesEinvoice", "creditNotesEinvoice", "portalEinvoice", "jobsEmailIntake"} <= set(
        needs
    ), "the graph misses the e-invoice routes: it sees nothing"
    wrong = {}
    for name, function in loaded["functions"].items():
        layers = function_layers(function, provider)
        assert BASE_LAYER in layers, f"{name} lacks the base layer"
        if (EINVOICE_LAYER in layers) != (name in needs):
            wrong[name] = sorted(needs.get(name, ())) or "reaches none of its packages"
        assert len(layers) == len({str(layer) for layer in layers}), name
    assert not wrong, f"the einvoice layer where the import graph says otherwise: {wrong}"


def test_the_einvoice_layer_is_built_from_its_lock() -> None:
    loaded = config()
    layer = loaded["layers"]["einvoice"]
    assert loaded["custom"]["pythonLayers"]["einvoice"]["fileName"] == (
        EINVOICE_LOCK.relative_to(ROOT).as_posix()
    )
    assert layer["compatibleArchitectures"] == [loaded["provider"]["architecture"]]
    assert layer["compatibleRuntimes"] == [loaded["provider"]["runtime"]]
    assert re.fullmatch(r"\.serverless/einvoice\.zip", layer["package"]["artifact"])
    assert "./deploy/python-layers.js" in loaded["plugins"]


# --- deploy/build_layer.py (the e-invoice layer's zip) -----------------------------------


def _build_layer_module() -> Any:
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(
        "deploy_build_layer", ROOT / "deploy" / "build_layer.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layer_zip_is_slim_reproducible_and_under_python(tmp_path: Path) -> None:
    """Without pip: a tree as pip leaves it, slimmed and zipped twice, a second apart."""
    import time  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    build = _build_layer_module()
    tree = tmp_path / "python"
    files = {
        "pkg/__init__.py": "x = 1\n",
        "pkg/_native.cpython-311-aarch64-linux-gnu.so": "\x7fELF",
        "pkg/_native.cpp": "// generated",
        "pkg/includes/tree.h": "/* */",
        "pkg/etree.pyx": "#",
        "pkg/__pycache__/__init__.cpython-311.pyc": "",
        "pkg/data/rules.xslt": "<xsl/>",
        "pkg-1.0.dist-info/METADATA": "Name: pkg\n",
        "bin/pkg-cli": "#!/work/main/.venv/bin/python\n",
    }
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    (tree / "pkg/_native.cpython-311-aarch64-linux-gnu.so").chmod(0o755)
    build.slim(tree)
    build.write_zip(tree, tmp_path / "one.zip")
    time.sleep(1.1)
    build.write_zip(tree, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert sorted(archive.namelist()) == [
            "python/pkg-1.0.dist-info/METADATA",
            "python/pkg/__init__.py",
            "python/pkg/_native.cpython-311-aarch64-linux-gnu.so",
            "python/pkg/data/rules.xslt",
        ]
        native = archive.getinfo("python/pkg/_native.cpython-311-aarch64-linux-gnu.so")
        assert (native.external_attr >> 16) & 0o777 == 0o755
