"""The routes a browser opens without login answer their refusals as an HTML page, and a
frontend's (Accept: application/json) as the error body: the OpenAPI document says both
(found by reliability/test_fuzz.py: a 404 page's text/html was undocumented)."""

from __future__ import annotations

import json

from fastapi import FastAPI

from devstack.openapi import OPENAPI_JSON
from functions.portal import einvoice, logo, page, pdf
from functions.stripe import checkout

BROWSER_ROUTES = [
    ("/p/{token}", "get"),
    ("/p/{token}/pdf", "get"),
    ("/p/{token}/einvoice", "get"),
    ("/p/{token}/logo", "get"),
    ("/p/{token}/accept", "post"),
    ("/p/{token}/decline", "post"),
    ("/p/{token}/pay", "post"),
]


def test_a_browsers_refusals_are_documented_as_html_and_json() -> None:
    app = FastAPI()
    for module in (page, pdf, logo, checkout, einvoice):
        app.include_router(module.router)
    document = app.openapi()
    for path, method in BROWSER_ROUTES:
        responses = document["paths"][path][method]["responses"]
        for status in ("404", "422", "429"):
            content = responses[status]["content"]
            assert set(content) == {"application/json", "text/html"}, (path, status)
            assert content["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }


def test_the_document_says_so_too() -> None:
    """docs/openapi.json (kept equal to what the generator builds by
    tests/api/test_openapi.py) keeps the HTML beside the error body."""
    document = json.loads(OPENAPI_JSON.read_text())
    for path, method in BROWSER_ROUTES:
        responses = document["paths"][path][method]["responses"]
        for status in ("404", "422", "429"):
            assert set(responses[status]["content"]) == {"application/json", "text/html"}, (
                path,
                status,
            )
