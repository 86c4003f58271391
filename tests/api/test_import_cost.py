"""Cold start: importing a function's module imports only what that route needs.

Each function of serverless.yml is imported in a fresh interpreter (as Lambda does) with
no settings in the environment, and the modules it pulled in are checked: no AWS SDK in
functions without AWS permissions in serverless.yml, no PDF or spreadsheet library but in
the few functions that make documents, no
`supabase` umbrella (postgrest alone serves), nothing from the development tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.functions import ROOT, FunctionSpec, load_functions

# A fresh interpreter for each function of serverless.yml (one per area, and the routes
# and jobs with settings of their own): a few seconds.
pytestmark = pytest.mark.slow

FUNCTIONS = load_functions()

# Top-level packages no API route may import.
PDF = {"reportlab", "fpdf", "PIL", "weasyprint", "uharfbuzz", "fontTools"}
PDF |= {"bidi", "arabic_reshaper"}  # shared.pdf's right-to-left text
SPREADSHEET = {"openpyxl", "xlsxwriter"}
# The only functions that render documents (a PDF) or write spreadsheets.
MAKES_DOCUMENTS = {
    "invoicesPdf",
    "invoicesSend",
    "invoicesBulkActions",
    "jobsBulkWorker",
    "jobsReminders",
    "reportsExport",
    "quotesPdf",
    "quotesSend",
    "creditNotesPdf",
    "creditNotesSend",
    "portalPdf",
    "invoicesEinvoice",  # Factur-X: our PDF with the XML embedded
    "creditNotesEinvoice",
    "portalEinvoice",
}
# No document, but Pillow: the check and re-encoding of logos and avatars.
PROCESSES_IMAGES = {"uploadsWorker"}
MAKES_SPREADSHEETS = {"reportsExport"}
NEVER = {
    "supabase",  # the umbrella: postgrest (and supabase_auth for auth) serve
    "realtime",
    "storage3",
    "supabase_functions",
    "devstack",
    "tests",
    "bench",
    "psycopg",
    "moto",
    "uvicorn",
    "pytest",
}
AWS = {"boto3", "botocore", "s3transfer"}
AUTH_CLIENT = {"supabase_auth"}
# Modules kept out of the functions that do not need them (cold start): the clients
# routes' models (every other area's model takes its contact fields from
# shared.models.contact); jinja2 but where e-mails are sent (the portal's page imports it
# when it first renders, shared.portal.environment); python-stdnum but in the e-invoices
# (the payables' IBAN checks import it when they first run, shared.payables.accounts).
SENDS_EMAIL = {
    "invoicesSend",
    "invoicesBulkActions",
    "jobsBulkWorker",
    "quotesSend",
    "creditNotesSend",
    "jobsNotifications",
    "jobsReminders",
    "jobsSummaries",
}
ONLY_IN = {
    "shared.models.clients": {"clientsApi"},
    "jinja2": SENDS_EMAIL,
    "stdnum": {"invoicesEinvoice", "creditNotesEinvoice", "portalEinvoice"},
}

_PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
assert callable(getattr(module, sys.argv[2]))
print(json.dumps(sorted(sys.modules)))
"""


def _imported(spec: FunctionSpec) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, spec.module, spec.attribute],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{spec.name} does not import cleanly:\n{done.stderr}"
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([s.name for s in FUNCTIONS], pool.map(_imported, FUNCTIONS), strict=True))


def test_every_function_module_exists() -> None:
    missing = [spec.name for spec in FUNCTIONS if not spec.source.is_file()]
    assert not missing, f"serverless.yml names functions without a module: {missing}"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[s.name for s in FUNCTIONS])
def test_function_imports_only_what_it_needs(
    spec: FunctionSpec, imports: dict[str, set[str]]
) -> None:
    modules = imports[spec.name]
    loaded = {name.split(".")[0] for name in modules}
    for module, functions in ONLY_IN.items():
        if spec.name not in functions:
            assert module not in modules, f"{spec.name} imports {module}"
    assert not loaded & NEVER, f"{spec.name} imports {sorted(loaded & NEVER)}"
    assert "shared" in loaded
    if spec.routes:  # an HTTP function: its FastAPI router behind Mangum
        assert "mangum" in loaded, f"{spec.name} is a route without Mangum"
    if spec.name in PROCESSES_IMAGES:
        assert not (loaded & PDF) - {"PIL"}, f"{spec.name} imports {loaded & PDF}"
    elif spec.name not in MAKES_DOCUMENTS:
        assert not loaded & PDF, f"{spec.name} renders no document but imports {loaded & PDF}"
    if spec.name not in MAKES_SPREADSHEETS:
        assert not loaded & SPREADSHEET, f"{spec.name} imports {loaded & SPREADSHEET}"
    if not spec.uses_aws:
        assert not loaded & AWS, f"{spec.name} has no AWS permissions but imports {loaded & AWS}"
    if not spec.module.startswith("functions.auth."):
        assert not loaded & AUTH_CLIENT, f"{spec.name} imports the Auth client it does not use"


_GROUPED_PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
app = getattr(module, sys.argv[2]).app
included = [getattr(entry, "original_router", None) for entry in app.router.routes]
print(json.dumps({"area": any(r is module.router for r in included), "routers": len(included)}))
"""
AREAS = [spec for spec in FUNCTIONS if len(spec.routes) > 1]


@pytest.mark.parametrize("spec", AREAS, ids=[s.name for s in AREAS])
def test_area_function_includes_its_route_modules_straight(spec: FunctionSpec) -> None:
    """An area's function (functions/<area>/api.py: a router that only groups its route
    modules' routers) has the app include the route modules' routers themselves, not the
    area's router: included whole, FastAPI builds each route's context once more at import
    (its dependant and response model, ~2 ms a route; 45 of the 470 ms of the 22-route
    reconciliation function) only to check that no path is empty. Which routes each
    function serves is tests/api/test_openapi.py's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-c", _GROUPED_PROBE, spec.module, spec.attribute],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert not found["area"], f"{spec.name}'s app includes its area's router whole"
    assert found["routers"] >= 1


def test_a_router_that_adds_to_what_it_includes_is_included_whole() -> None:
    """The app takes a route module's router straight only from an area's router that adds
    nothing: one that includes with a prefix, tags or a dependency keeps them."""
    from fastapi import APIRouter, Depends  # noqa: PLC0415

    from shared.api import _route_modules, create_app  # noqa: PLC0415

    def routes() -> APIRouter:
        module = APIRouter()

        @module.get("/a", name="a")
        async def a() -> dict[str, str]:
            return {}

        return module

    async def nothing() -> None:
        return None

    plain, first, second = APIRouter(), routes(), routes()
    plain.include_router(first)
    plain.include_router(second)
    assert _route_modules(plain) == [first, second]
    for keeps in ({"prefix": "/x"}, {"tags": ["t"]}, {"dependencies": [Depends(nothing)]}):
        area = APIRouter()
        area.include_router(routes(), **keeps)
        assert _route_modules(area) == [area], keeps
    prefixed = APIRouter()
    prefixed.include_router(routes(), prefix="/x")
    assert create_app(prefixed).url_path_for("a") == "/x/a"
    empty = APIRouter()
    assert _route_modules(empty) == [empty]
