"""The API Gateway (HTTP API) emulator: serverless.yml's routes served on one port by
building HTTP API v2 events and calling each function's real ``handler(event, context)``.
A function may serve several routes (several ``httpApi`` events): each request's event
names the route it came by (``routeKey``), as API Gateway's does.

Like Lambda, each function is imported once and then kept warm; invocations run on
worker threads that each own an event loop (Mangum needs one per thread). It also
serves the OpenAPI document at ``/api/openapi.json`` and a docs page at ``/api/docs``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from shared import auth_client
from shared import db as shared_db
from shared.settings import function_environment

ROOT = Path(__file__).resolve().parent.parent
# Held while a function's module is imported, by the emulator and the OpenAPI build alike:
# an import builds the routes' models, and FastAPI silences pydantic's warnings there with
# warnings.catch_warnings(), which is not thread-safe; two imports at once could restore
# each other's filters out of order and leave one's warning an error (under pytest's
# filterwarnings = error: "UnsupportedFieldAttributeWarning" from the OpenAPI warm-up).
IMPORT_LOCK = threading.RLock()
SERVERLESS_YML = ROOT / "serverless.yml"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")


@dataclass(frozen=True)
class FunctionSpec:
    """A function of serverless.yml. ``routes`` are all its HTTP routes (``httpApi``
    events); ``method`` and ``path`` name ONE of them, and are set only on a route's view
    of the function (`at`, `http_routes`, `FunctionHost.match`): a function serving several
    routes has no single method. Enumerate routes with `http_routes`, not functions."""

    name: str
    module: str  # e.g. functions.clients.api
    attribute: str  # e.g. handler
    method: str | None  # the route this view is of; None on a function's own spec
    path: str | None
    timeout: int
    uses_aws: bool = False  # it has IAM statements (serverless-iam-roles-per-function)
    schedules: tuple[dict[str, Any], ...] = ()  # the `input` of each schedule event
    queue: bool = False  # an SQS event source
    # The SQS event source: the queue (its CloudFormation logical id, or its name when the
    # ARN is written out), the batch size, and whether the function reports item failures.
    queue_resource: str | None = None
    batch_size: int = 10
    reports_item_failures: bool = False
    # An S3 event source: the bucket (serverless.yml's key under provider.s3, or a bucket
    # name), the event pattern and the key suffix its rules ask for.
    s3_bucket: str | None = None
    s3_event: str = "s3:ObjectCreated:*"
    s3_suffix: str = ""
    s3_prefix: str = ""
    # The function's own environment (serverless.yml), literal values only: references
    # (${self:...}, ${ssm:...}) name what the local stack provides to every function.
    environment: tuple[tuple[str, str], ...] = ()
    # Every (method, path) of its httpApi events, in serverless.yml's order.
    routes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # A spec written for one route (tests, probes) serves that route.
        if self.method and self.path and not self.routes:
            object.__setattr__(self, "routes", ((self.method, self.path),))

    @property
    def route_key(self) -> str:
        """API Gateway's ``routeKey`` of the route this view is of."""
        if not (self.method and self.path):
            raise ValueError(f"{self.name}: a function's spec names no route; use at()")
        return f"{self.method} {self.path}"

    def at(self, method: str, path: str) -> FunctionSpec:
        """This function as reached by one of its routes."""
        if (method, path) not in self.routes:
            raise ValueError(f"{self.name} does not serve {method} {path}")
        return replace(self, method=method, path=path)

    @property
    def source(self) -> Path:
        return ROOT / (self.module.replace(".", "/") + ".py")


def load_functions(path: Path = SERVERLESS_YML) -> list[FunctionSpec]:
    """Every function serverless.yml declares, with its HTTP routes (``routes``)."""
    document = yaml.safe_load(path.read_text())
    default_timeout = int(document.get("provider", {}).get("timeout", 10))
    specs = []
    for name, function in (document.get("functions") or {}).items():
        module_path, _, attribute = function["handler"].rpartition(".")
        routes: list[tuple[str, str]] = []
        schedules: list[dict[str, Any]] = []
        queue = False
        queue_resource: str | None = None
        batch_size = 10
        item_failures = False
        s3_source: dict[str, Any] = {}
        for event in function.get("events") or []:
            if "httpApi" in event:
                route = (str(event["httpApi"]["method"]).upper(), str(event["httpApi"]["path"]))
                if route in routes:
                    raise ValueError(f"{name} declares {route[0]} {route[1]} twice")
                routes.append(route)
            elif "schedule" in event:
                schedule = event["schedule"]
                schedules.append(schedule.get("input", {}) if isinstance(schedule, dict) else {})
            elif "sqs" in event:
                queue = True
                source = event["sqs"] if isinstance(event["sqs"], dict) else {"arn": event["sqs"]}
                queue_resource = _queue_resource(source.get("arn"))
                batch_size = int(source.get("batchSize", 10))
                item_failures = source.get("functionResponseType") == "ReportBatchItemFailures"
            elif "s3" in event:
                s3_source = (
                    event["s3"] if isinstance(event["s3"], dict) else {"bucket": event["s3"]}
                )
        specs.append(
            FunctionSpec(
                name=name,
                module=module_path.replace("/", "."),
                attribute=attribute,
                method=None,
                path=None,
                timeout=int(function.get("timeout", default_timeout)),
                uses_aws=bool(function.get("iamRoleStatements")),
                schedules=tuple(schedules),
                queue=queue,
                queue_resource=queue_resource,
                batch_size=batch_size,
                reports_item_failures=item_failures,
                s3_bucket=str(s3_source["bucket"]) if s3_source.get("bucket") else None,
                s3_event=str(s3_source.get("event", "s3:ObjectCreated:*")),
                s3_suffix="".join(
                    str(rule.get("suffix", ""))
                    for rule in s3_source.get("rules") or []
                    if isinstance(rule, dict)
                ),
                s3_prefix="".join(
                    str(rule.get("prefix", ""))
                    for rule in s3_source.get("rules") or []
                    if isinstance(rule, dict)
                ),
                environment=tuple(
                    (str(key), str(value))
                    for key, value in (function.get("environment") or {}).items()
                    if "${" not in str(value)
                ),
                routes=tuple(routes),
            )
        )
    taken: dict[tuple[str, str], str] = {}
    for spec in specs:
        for route in spec.routes:
            if route in taken:
                raise ValueError(f"{route[0]} {route[1]}: both {taken[route]} and {spec.name}")
            taken[route] = spec.name
    return specs


def http_routes(specs: list[FunctionSpec] | None = None) -> list[FunctionSpec]:
    """Every HTTP route of serverless.yml (or of ``specs``), each as its function's view
    of it (`FunctionSpec.at`): what the security matrix, the query-parameter check and
    the OpenAPI document enumerate."""
    return [
        spec.at(method, path)
        for spec in (load_functions() if specs is None else specs)
        for method, path in spec.routes
    ]


def http_route(method: str, path: str, specs: list[FunctionSpec] | None = None) -> FunctionSpec:
    """The function serving ``method path`` (serverless.yml's path, ``{id}`` as written),
    as reached by that route."""
    for route in http_routes(specs):
        if (route.method, route.path) == (method, path):
            return route
    raise LookupError(f"no function serves {method} {path}")


def _queue_resource(arn: Any) -> str | None:
    """``{"Fn::GetAtt": [BulkQueue, Arn]}`` -> ``BulkQueue``; ``arn:aws:sqs:...:name`` ->
    ``name``."""
    if isinstance(arn, dict):
        target = arn.get("Fn::GetAtt")
        if isinstance(target, list) and target:
            return str(target[0])
        return None
    if isinstance(arn, str) and arn.startswith("arn:"):
        return arn.rsplit(":", 1)[-1]
    return None


class LambdaContext:
    """What Lambda passes as ``context`` (the attributes handlers and Mangum read)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{spec.name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_event(  # noqa: PLR0917  (the parts of a request, in the order they appear)
    spec: FunctionSpec,
    method: str,
    raw_path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event, as AWS builds it."""
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in (headers or {}).items():
        if key.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        elif key.lower() in lowered:
            lowered[key.lower()] += "," + value
        else:
            lowered[key.lower()] = value
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    now = time.time()
    text_types = ("application/json", "text/", "application/x-www-form-urlencoded")
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(text_types)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": spec.route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": spec.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        try:
            event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
        except UnicodeDecodeError:  # a "text" body that is not UTF-8 arrives base64-encoded
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def scheduled_event(spec: FunctionSpec, when: float | None = None) -> dict[str, Any]:
    """What EventBridge delivers to a scheduled function: the schedule's ``input`` when
    serverless.yml gives one, else the "Scheduled Event" envelope."""
    if spec.schedules and spec.schedules[0]:
        return dict(spec.schedules[0])
    moment = time.gmtime(when if when is not None else time.time())
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{spec.name}"],
        "detail": {},
    }


def _specificity(path: str) -> tuple[int, ...]:
    """API Gateway prefers the most specific route: a literal segment before a path
    variable at the same place, a greedy variable (``{proxy+}``) last."""
    return tuple(
        2 if segment.endswith("+}") else 1 if segment.startswith("{") else 0
        for segment in path.split("/")
    )


def _route_pattern(path: str) -> re.Pattern[str]:
    pattern = ""
    last = 0
    for match in _PARAM.finditer(path):
        pattern += re.escape(path[last : match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    return re.compile("^" + pattern + re.escape(path[last:]) + "$")


class FunctionHost:
    """Imports functions on first use and invokes them on event-loop-owning threads."""

    def __init__(self, specs: list[FunctionSpec], workers: int = 8) -> None:
        self.by_name = {s.name: s for s in specs}
        # One view per route (a function serving several routes has several).
        self.specs = http_routes(specs)
        self._routes = [
            (spec, _route_pattern(spec.path or ""))
            for spec in sorted(self.specs, key=lambda s: _specificity(s.path or ""))
        ]
        self._handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="lambda", initializer=self._new_loop
        )

    def _new_loop(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._lock:
            self._loops.append(loop)

    def match(self, method: str, path: str) -> tuple[FunctionSpec | None, dict[str, str], bool]:
        """The function for ``method path`` as reached by the route that matched (its
        ``route_key``), its path parameters, and whether the path exists under another
        method."""
        path_known = False
        for spec, pattern in self._routes:
            found = pattern.match(path)
            if found:
                path_known = True
                if spec.method == method:
                    return spec, found.groupdict(), True
        return None, {}, path_known

    def handler(self, spec: FunctionSpec) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        with self._lock:
            handler = self._handlers.get(spec.name)
            if handler is None:
                with IMPORT_LOCK:
                    module = importlib.import_module(spec.module)
                handler = getattr(module, spec.attribute)
                self._handlers[spec.name] = handler
            return handler

    def invoke_by_name(self, name: str, event: dict[str, Any]) -> Any:
        """Any function (a scheduled job, a queue worker) with the event given."""
        return self.submit(self.by_name[name], event).result()

    def _invoke_here(self, spec: FunctionSpec, event: dict[str, Any], context: Any = None) -> Any:
        # Imported on a worker: Mangum adopts the importing thread's event loop.
        handler = self.handler(spec)
        context = LambdaContext(spec) if context is None else context
        if not spec.environment:
            return handler(event, context)
        # As if in the function's own Lambda environment (shared.settings).
        token = function_environment.set(spec.environment)
        try:
            return handler(event, context)
        finally:
            function_environment.reset(token)

    def submit(self, spec: FunctionSpec, event: dict[str, Any], context: Any = None) -> Future[Any]:
        """The invocation on a worker; ``context`` is the Lambda context to pass (default
        a fresh `LambdaContext` with the function's timeout; tests pass one running out)."""
        return self._pool.submit(self._invoke_here, spec, event, context)

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
        """An HTTP function's proxy result."""
        result: dict[str, Any] = self.submit(spec, event).result()
        return result

    def close(self) -> None:
        """Stops the workers and closes what the functions keep between invocations."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for loop in self._loops:
            loop.close()
        self._loops.clear()
        shared_db.close()  # what the functions keep between invocations
        auth_client.close()


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": None, "request_id": None}}
    return JSONResponse(body, status_code=status)


_DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>InvoiceFlow API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});</script>
<noscript>The OpenAPI document is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
</body></html>
"""


class _AnyPath(Convertor[str]):
    """Every path, newlines (%0A) included: Starlette's ``path`` convertor (``.*``) stops at
    a newline and left such paths to a plain-text 404, where API Gateway routes them."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any_path", _AnyPath())


def create_app(host: FunctionHost, openapi: Callable[[], dict[str, Any]]) -> Starlette:
    async def openapi_document(request: Request) -> Response:
        return JSONResponse(openapi())

    async def docs(request: Request) -> Response:
        return HTMLResponse(_DOCS_PAGE)

    async def dispatch(request: Request) -> Response:
        spec, params, path_known = host.match(request.method, request.url.path)
        if spec is None:
            if path_known:
                return _error(405, "method_not_allowed", "method not allowed on this path")
            return _error(404, "not_found", "no route for this path")
        body = await request.body()
        headers = dict(request.headers.items())
        event = http_event(
            spec,
            request.method,
            request.url.path,
            request.url.query,
            headers,
            body,
            params,
            request.client.host if request.client else "127.0.0.1",
        )
        try:
            result = await asyncio.wrap_future(host.submit(spec, event))
        except Exception as exc:  # the function crashed: Lambda answers 502
            return _error(502, "function_error", f"{spec.name} failed: {type(exc).__name__}")
        return _response(result)

    async def invoke(request: Request) -> Response:
        """Lambda's Invoke API (``POST /2015-03-31/functions/{name}/invocations``), so
        ``boto3.client("lambda", endpoint_url=API_URL).invoke(...)`` and
        ``python -m devstack.invoke <name>`` run any function by name, jobs included."""
        name = request.path_params["name"]
        spec = host.by_name.get(name)
        if spec is None:
            return JSONResponse(
                {"Type": "User", "message": f"Function not found: {name}"}, status_code=404
            )
        raw = await request.body()
        event = json.loads(raw) if raw.strip() else scheduled_event(spec)
        try:
            result = await asyncio.wrap_future(host.submit(spec, event))
        except Exception as exc:
            return JSONResponse(
                {"errorMessage": str(exc), "errorType": type(exc).__name__},
                headers={"X-Amz-Function-Error": "Unhandled"},
            )
        return JSONResponse(result)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            Route("/2015-03-31/functions/{name}/invocations", invoke, methods=["POST"]),
            Route("/api/openapi.json", openapi_document, methods=["GET"]),
            Route("/api/docs", docs, methods=["GET"]),
            Route("/{path:any_path}", dispatch, methods=methods),
        ]
    )


def _response(result: dict[str, Any]) -> Response:
    """A Lambda proxy result (payload 2.0) as an HTTP response."""
    status = int(result.get("statusCode", 200))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    response = Response(content=body, status_code=status)
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.append(key, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response
