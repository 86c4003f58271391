"""The OpenAPI document of every HTTP function in serverless.yml, generated from the
routes themselves (their FastAPI routers), so it cannot drift from the code.

``python -m devstack.openapi`` writes docs/openapi.json; a test checks it is current.
"""

from __future__ import annotations

import importlib
import json
import sys
from functools import cache
from typing import Any

from devstack.functions import ROOT, load_functions
from shared.api import create_app

OPENAPI_JSON = ROOT / "docs" / "openapi.json"

_DESCRIPTION = """\
The InvoiceFlow HTTP API. Conventions (authentication, organizations, errors, lists,
money) are in docs/api.md. Every route but signup and login needs
`Authorization: Bearer <Supabase access token>`; members of several organizations
name one with `X-Organization-Id`. Money is sent and returned as decimal strings.
"""


@cache
def build_openapi() -> dict[str, Any]:
    routers = []
    for spec in load_functions():
        if spec.method is None:
            continue
        module = importlib.import_module(spec.module)
        routers.append(module.router)
    app = create_app(*routers, docs=True)
    app.title = "InvoiceFlow API"
    app.version = "1.0.0"
    app.description = _DESCRIPTION
    document: dict[str, Any] = app.openapi()
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Supabase Auth access token.",
    }
    public = {("/api/auth/signup", "post"), ("/api/auth/login", "post")}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if (path, method) not in public:
                operation["security"] = [{"bearer": []}]
    return document


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OPENAPI_JSON.parent.mkdir(exist_ok=True)
    OPENAPI_JSON.write_text(render())
    print(f"wrote {OPENAPI_JSON.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
