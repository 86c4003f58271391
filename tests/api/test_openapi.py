"""The OpenAPI document is generated from the routes, lists every HTTP function of
serverless.yml, and docs/openapi.json is the current one (regenerate it with
`.venv/bin/python -m devstack.openapi`). The emulator serves it and a docs page."""

from __future__ import annotations

import json
from http.client import responses as reason_phrases

import httpx
from fastapi import APIRouter
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from devstack.functions import http_routes, load_functions
from devstack.openapi import OPENAPI_JSON, _import_on_a_worker, build_openapi, is_public, render
from shared.query import declared


def test_docs_openapi_json_is_current() -> None:
    assert OPENAPI_JSON.is_file(), "run: .venv/bin/python -m devstack.openapi"
    assert json.loads(OPENAPI_JSON.read_text()) == json.loads(render()), (
        "docs/openapi.json is stale: run .venv/bin/python -m devstack.openapi"
    )


def test_every_http_function_is_documented_once() -> None:
    document = build_openapi()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    declared = {(s.method, s.path) for s in http_routes()}
    assert documented == declared


def _routes(router: APIRouter) -> list[RouteContext]:
    """A router's routes, those of the routers it includes among them (an area's function
    includes each route module's router), in the order the app tries them."""
    return [c for c in iter_route_contexts(router.routes) if isinstance(c.original_route, APIRoute)]


def test_each_function_serves_exactly_the_routes_serverless_yml_gives_it() -> None:
    """A function's router (its module's, several route modules' when it serves several
    routes) holds the routes of its httpApi events, no more: API Gateway sends a function
    only those, and a route the router has but serverless.yml does not give it would be
    documented yet unreachable. No route shadows another of the same function: inside one
    app FastAPI takes the first match, so ``/x/{id}`` before ``/x/latest`` would answer for
    it, where API Gateway picks the literal route."""
    specs = [s for s in load_functions() if s.routes]
    modules = _import_on_a_worker([s.module for s in specs])
    for spec, module in zip(specs, modules, strict=True):
        routes = _routes(module.router)
        served = [(method, r.path) for r in routes for method in sorted(r.methods or ())]
        assert sorted(served) == sorted(spec.routes), spec.name
        for index, route in enumerate(routes):
            for earlier in routes[:index]:
                methods = (earlier.methods or set()) & (route.methods or set())
                shadowed = methods and earlier.path_regex.match(route.path)
                assert not shadowed, f"{spec.name}: {earlier.path} shadows {route.path}"


def test_operations_say_how_to_authenticate_and_how_they_fail() -> None:
    document = build_openapi()
    assert document["openapi"].startswith("3.")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            public = is_public(path, method)
            assert operation["security"] == ([] if public else [{"bearer": []}]), (method, path)
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert "422" in operation["responses"], (method, path)


def test_the_routes_without_login_ask_for_no_token() -> None:
    """What the security matrix calls public (tests/api/test_security.py: PUBLIC and the
    NO_LOGIN areas) is documented as `security: []`, and nothing else is."""
    from tests.api.test_security import NO_LOGIN, PUBLIC  # noqa: PLC0415

    document = build_openapi()
    for spec in http_routes():
        path, method = str(spec.path), str(spec.method).lower()
        without_login = (spec.method, spec.path) in PUBLIC or path.startswith(NO_LOGIN)
        assert (document["paths"][path][method]["security"] == []) == without_login, (
            method,
            path,
        )
    assert document["paths"]["/p/{token}"]["get"]["security"] == []
    assert document["paths"]["/api/webhooks/stripe/{endpoint}"]["post"]["security"] == []
    assert document["paths"]["/api/invitations/{token}"]["get"]["security"] == []


def test_every_error_a_route_names_says_what_it_means_in_its_domain() -> None:
    """A route names its error statuses through its domain's shared.errors.ErrorResponses:
    a bare ``{401: {"model": ErrorBody}}`` would document HTTP's reason phrase
    ("Unauthorized") instead of what the status means there."""
    phrases = set(reason_phrases.values())
    bare = sorted(
        f"{method.upper()} {path} {code}: {response['description']}"
        for path, operations in build_openapi()["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
        if code[0] in "45" and response["description"] in phrases
    )
    assert bare == []


def test_the_query_parameters_documented_are_those_the_api_takes() -> None:
    """The check that refuses unknown query parameters (shared.query) and the document
    read the same routes: each operation lists exactly the names it accepts, and every
    operation documents the 400 it answers for any other."""
    document = build_openapi()
    assert "unknown_parameter" in document["info"]["description"]
    specs = http_routes()
    modules = _import_on_a_worker([s.module for s in specs])
    for spec, module in zip(specs, modules, strict=True):
        route = next(
            r.original_route
            for r in _routes(module.router)
            if r.path == spec.path and spec.method in (r.methods or ())
        )
        assert isinstance(route, APIRoute)
        operation = document["paths"][spec.path][(spec.method or "").lower()]
        listed = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert listed == declared(route).names, spec.route_key
        assert "unknown_parameter" in operation["responses"]["400"]["description"]


def test_emulator_serves_the_document_and_docs_page(emulator: str) -> None:
    document = httpx.get(emulator + "/api/openapi.json").json()
    assert document == build_openapi()
    page = httpx.get(emulator + "/api/docs")
    assert page.status_code == 200
    assert "/api/openapi.json" in page.text


def test_emulator_answers_unknown_routes_in_the_error_shape(emulator: str) -> None:
    missing = httpx.get(emulator + "/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = httpx.patch(emulator + "/api/clients")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
