"""A function of serverless.yml with several ``httpApi`` events serves every one of them
through the API Gateway emulator, each request's event naming the route it came by (as
API Gateway's payload 2.0 does), with the function imported once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from devstack.functions import (
    FunctionHost,
    create_app,
    http_route,
    http_routes,
    load_functions,
)
from devstack.postgres import free_port
from devstack.stack import AppServer

SERVERLESS = """
service: probe
provider: {name: aws, timeout: 7}
functions:
  probeApi:
    handler: tests/devstack/routes_probe.handler
    events:
      - httpApi: {method: GET, path: /api/probes}
      - httpApi: {method: POST, path: /api/probes}
      - httpApi: {method: GET, path: "/api/probes/{id}"}
      - httpApi: {method: GET, path: /api/probes/latest}
  probeJob:
    handler: tests/devstack/routes_probe.handler
    events:
      - schedule: rate(1 hour)
"""


@pytest.fixture
def serverless_yml(tmp_path: Path) -> Path:
    path = tmp_path / "serverless.yml"
    path.write_text(textwrap.dedent(SERVERLESS))
    return path


def test_a_function_lists_all_its_routes(serverless_yml: Path) -> None:
    api, job = load_functions(serverless_yml)
    assert api.routes == (
        ("GET", "/api/probes"),
        ("POST", "/api/probes"),
        ("GET", "/api/probes/{id}"),
        ("GET", "/api/probes/latest"),
    )
    assert (api.method, api.path) == (None, None)  # a function has no single route
    assert job.routes == ()
    routes = http_routes(load_functions(serverless_yml))
    assert [r.route_key for r in routes] == [
        "GET /api/probes",
        "POST /api/probes",
        "GET /api/probes/{id}",
        "GET /api/probes/latest",
    ]
    assert {r.name for r in routes} == {"probeApi"}
    assert http_route("POST", "/api/probes", load_functions(serverless_yml)).route_key == (
        "POST /api/probes"
    )


def test_a_route_declared_by_two_functions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "serverless.yml"
    path.write_text(
        textwrap.dedent(SERVERLESS)
        + "  probeAgain:\n"
        + "    handler: tests/devstack/routes_probe.handler\n"
        + "    events:\n"
        + "      - httpApi: {method: POST, path: /api/probes}\n"
    )
    with pytest.raises(ValueError, match="POST /api/probes: both probeApi and probeAgain"):
        load_functions(path)


def test_the_emulator_serves_every_route_of_a_function(serverless_yml: Path) -> None:
    host = FunctionHost(load_functions(serverless_yml), workers=2)
    server = AppServer(create_app(host, dict), free_port(), "functions").start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}")
    try:
        seen = {}
        for method, path, key in (
            ("GET", "/api/probes", "GET /api/probes"),
            ("POST", "/api/probes", "POST /api/probes"),
            ("GET", "/api/probes/7e57", "GET /api/probes/{id}"),
            # API Gateway prefers the literal route to the path variable.
            ("GET", "/api/probes/latest", "GET /api/probes/latest"),
        ):
            reply = client.request(method, path)
            assert reply.status_code == 200, (method, path, reply.text)
            seen[key] = reply.json()
            assert seen[key]["routeKey"] == key
            assert seen[key]["requestContextRouteKey"] == key
            assert seen[key]["method"] == method
            assert seen[key]["rawPath"] == path
            assert seen[key]["function"] == "probeApi"
        assert seen["GET /api/probes/{id}"]["pathParameters"] == {"id": "7e57"}
        assert seen["GET /api/probes"]["pathParameters"] is None
        # One function, imported once: the four routes share its warm module.
        assert {s["imports"] for s in seen.values()} == {1}
        # A path it serves under another method is a 405, an unknown one a 404.
        assert client.request("DELETE", "/api/probes").status_code == 405
        assert client.request("GET", "/api/nothing").status_code == 404
    finally:
        client.close()
        server.stop()
        host.close()
