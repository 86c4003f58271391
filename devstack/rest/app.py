"""A PostgREST-compatible server (PostgREST v12-v14 behaviour) over PostgreSQL.

Mounted by the gateway at ``/rest/v1``. Per request, as PostgREST does: verify the
bearer token, then on one pooled ``authenticator`` connection run — in one pipeline —
``BEGIN [READ ONLY]``, one statement setting ``search_path``, ``role``,
``request.jwt.claims``, ``request.method``, ``request.path``, ``request.headers``,
``request.cookies`` (then the impersonated role's own settings, e.g. ``statement_timeout``,
and for an RPC the function's hoisted ones) with ``set_config(..., true)``, then the
request's single statement, then ``COMMIT`` (or ``ROLLBACK`` when the response is an
error, e.g. a singular response with 0 or 2 rows).

Routes: ``/<table or view>`` (GET, HEAD, POST, PATCH, DELETE) and ``/rpc/<function>``
(GET, HEAD, POST). See devstack/rest/query.py for how each request becomes SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import psycopg
from psycopg import sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.config import StackConfig
from devstack.rest import schema as schema_module
from devstack.rest.errors import ApiError, from_database
from devstack.rest.jwt import Authenticator, Identity
from devstack.rest.parse import (
    SelectItem,
    Star,
    parse_columns,
    parse_filter,
    parse_int,
    parse_logic,
    parse_order,
    parse_select,
)
from devstack.rest.pool import AcquireTimeout, Pool, is_connection_error
from devstack.rest.query import (
    Builder,
    Node,
    Options,
    function_call,
    mutation_statement,
    payload_json,
    read_statement,
)
from devstack.rest.schema import SCHEMA, Function, SchemaCache, Table

EXPOSED_SCHEMAS = (SCHEMA,)
SEARCH_PATH = '"public", "extensions"'
_SET_CONFIG = (
    b"SELECT pg_catalog.set_config(k, v, true) FROM unnest(%s::text[], %s::text[]) AS t(k, v)"
)
_RESERVED = {"select", "columns", "on_conflict", "order", "limit", "offset", "and", "or"}
_JSON = "application/json; charset=utf-8"
_OBJECT = "application/vnd.pgrst.object+json; charset=utf-8"
_CSV = "text/csv; charset=utf-8"


# ----------------------------------------------------------------------------- request


@dataclass
class Query:
    """A request's query string, parsed."""

    select: list[SelectItem] = field(default_factory=lambda: [Star()])
    columns: list[str] | None = None
    on_conflict: list[str] | None = None
    options: dict[tuple[str, ...], Options] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)

    def level(self, path: tuple[str, ...]) -> Options:
        return self.options.setdefault(path, Options())


def _split_key(key: str) -> tuple[tuple[str, ...], str]:
    for suffix in ("not.or", "not.and"):
        if key == suffix:
            return (), key
        if key.endswith("." + suffix):
            return tuple(key[: -len(suffix) - 1].split(".")), suffix
    head, arrow, rest = key.partition("->")
    parts = head.split(".")
    return tuple(parts[:-1]), parts[-1] + arrow + rest


def parse_query(
    items: list[tuple[str, str]], function: Function | None = None, rpc_get: bool = False
) -> Query:
    query = Query()
    arg_names = {p.name for p in function.params} if function else set()
    for key, value in items:
        if key == "apikey":
            continue
        if key == "select":
            query.select = parse_select(value) if value else [Star()]
            continue
        if key == "columns":
            query.columns = parse_columns(value)
            continue
        if key == "on_conflict":
            query.on_conflict = parse_columns(value)
            continue
        if rpc_get and key in arg_names:
            query.args[key] = value
            continue
        path, last = _split_key(key)
        level = query.level(path)
        if last == "order":
            level.order.extend(parse_order(value))
        elif last == "limit":
            level.limit = parse_int("limit", value)
        elif last == "offset":
            level.offset = parse_int("offset", value)
        elif last in {"or", "and", "not.or", "not.and"}:
            negate = last.startswith("not.")
            level.conditions.append(parse_logic(last.removeprefix("not."), value, negate))
        elif value == "":
            continue
        else:
            level.conditions.append(parse_filter(last, value))
    return query


@dataclass
class Prefer:
    representation: str | None = None  # representation | minimal | headers-only
    count: str | None = None
    resolution: str | None = None
    missing_default: bool = False
    strict: bool = False
    max_affected: int | None = None
    applied: list[str] = field(default_factory=list)


def parse_prefer(values: list[str]) -> Prefer:
    prefer = Prefer()
    for value in values:
        for raw in value.split(","):
            item = raw.strip()
            key, _, val = item.partition("=")
            key, val = key.strip(), val.strip()
            if key == "return" and val in {"representation", "minimal", "headers-only"}:
                prefer.representation = val
            elif key == "count" and val in {"exact", "planned", "estimated"}:
                prefer.count = val
            elif key == "resolution" and val in {"merge-duplicates", "ignore-duplicates"}:
                prefer.resolution = val
            elif key == "missing" and val in {"default", "null"}:
                prefer.missing_default = val == "default"
            elif key == "handling" and val in {"strict", "lenient"}:
                prefer.strict = val == "strict"
            elif key == "max-affected" and val.isdigit():
                prefer.max_affected = int(val)
            else:
                continue
            prefer.applied.append(f"{key}={val}")
    return prefer


def negotiate(accept: str | None) -> str:
    """The response format: json, stripped, object, object-stripped or csv (PGRST107)."""
    if not accept:
        return "json"
    for raw in accept.split(","):
        parts = [p.strip().lower() for p in raw.split(";")]
        media = parts[0]
        stripped = "nulls=stripped" in parts[1:]
        if media in {"application/json", "*/*", "application/*", ""}:
            return "json"
        if media == "application/vnd.pgrst.array+json":
            return "stripped" if stripped else "json"
        if media in {"application/vnd.pgrst.object+json", "application/vnd.pgrst.object"}:
            return "object-stripped" if stripped else "object"
        if media in {"text/csv", "text/*"}:
            return "csv"
    raise ApiError(406, "PGRST107", f"None of these media types are available: {accept}")


_RANGE = re.compile(r"^\s*(?:items=)?(\d+)-(\d*)\s*$")


# ----------------------------------------------------------------------------- the app


class RestServer:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.auth = Authenticator(config)
        self.pool: Pool | None = None
        self.cache = SchemaCache()
        self._listener: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()

    # -- lifecycle
    async def start(self) -> None:
        self.pool = Pool(
            self.config.authenticator_url,
            max_size=self.config.db_pool_size,
            kwargs={"autocommit": True},
        )
        await self.pool.open(timeout=30)
        await self.reload_schema_cache()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self.pool is not None:
            await self.pool.close()

    async def reload_schema_cache(self) -> None:
        """Reload the schema cache from the catalog (PostgREST's NOTIFY pgrst)."""
        assert self.pool is not None
        async with self._reload_lock, self.pool.connection() as conn:
            self.cache = await schema_module.load(conn)

    async def _listen(self) -> None:
        """LISTEN pgrst: 'reload schema', 'reload config' (the role settings are read with
        the cache) or an empty payload reloads the cache. Like
        PostgREST, the cache is reloaded too when the listener reconnects after losing
        the database (what changed while it was away is not missed)."""
        reconnecting = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.config.authenticator_url, autocommit=True
                )
                async with conn:
                    await conn.execute("LISTEN pgrst")
                    if reconnecting:
                        await self.reload_schema_cache()
                    reconnecting = True
                    async for notify in conn.notifies():
                        if notify.payload in {"reload schema", "reload config", ""}:
                            await self.reload_schema_cache()
            except asyncio.CancelledError:
                raise
            except Exception:  # the listener must outlive a restarted database
                reconnecting = True
                await asyncio.sleep(1)

    # -- the per-request transaction
    async def run(
        self,
        request: Request,
        identity: Identity,
        *,
        read_only: bool,
        statement: sql.Composed,
        params: dict[str, Any],
        decide: Callable[[tuple[Any, ...]], ApiError | None] | None = None,
        hoisted: list[tuple[str, str]] | None = None,
    ) -> tuple[Any, ...]:
        """Run ``statement`` in the request's transaction; return its one row.

        ``decide`` sees the row before the transaction ends: an error it returns rolls
        the transaction back and is raised."""
        keys, values = self._settings(request, identity)
        for key, value in hoisted or []:
            keys.append(key)
            values.append(value)
        conn = await self._acquire()
        try:
            try:
                async with conn.pipeline() as pipeline:
                    await conn.execute(b"BEGIN READ ONLY" if read_only else b"BEGIN")
                    await conn.execute(_SET_CONFIG, (keys, values))
                    cur = await conn.execute(statement, params)
                    if read_only and decide is None:
                        await conn.execute(b"COMMIT")
                    await pipeline.sync()
                    row = await cur.fetchone()
            except psycopg.Error as exc:
                raise await self._failed(conn, exc, identity) from exc
            assert row is not None
            result: tuple[Any, ...] = tuple(row)
            if read_only and decide is None:
                return result
            problem = decide(result) if decide is not None else None
            try:
                await conn.execute(b"ROLLBACK" if problem is not None else b"COMMIT")
            except psycopg.Error as exc:  # deferred constraints fail at COMMIT
                raise await self._failed(conn, exc, identity) from exc
            if problem is not None:
                raise problem
            return result
        finally:
            await self._release(conn)

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        """A pooled connection, or PostgREST's answer when none can be had: 503 PGRST000
        while the database cannot be reached, 504 PGRST003 when the pool stays full."""
        assert self.pool is not None
        try:
            return await self.pool.acquire()
        except AcquireTimeout as exc:
            raise ApiError(504, "PGRST003", str(exc)) from exc
        except psycopg.OperationalError as exc:
            raise ApiError(
                503, "PGRST000", "Database connection error. Retrying the connection.", str(exc)
            ) from exc

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        assert self.pool is not None
        await self.pool.release(conn)

    async def _failed(
        self, conn: psycopg.AsyncConnection[Any], exc: psycopg.Error, identity: Identity
    ) -> ApiError:
        """The answer for a statement (or its COMMIT) that failed. A lost connection (no
        SQLSTATE: the database went away mid-request, the outcome of a COMMIT unknown) is
        503 PGRST001, as PostgREST's client error; it and the server's shutdown (57P01,
        503) drop the pool's idle connections, which went with the database."""
        await _rollback(conn)
        if isinstance(exc, psycopg.DataError) and exc.sqlstate is None:
            # psycopg refuses a NUL in a text parameter before sending it; PostgreSQL,
            # which PostgREST hands the text to, refuses it as 22021 (400).
            return ApiError(400, "22021", 'invalid byte sequence for encoding "UTF8": 0x00')
        if is_connection_error(exc):
            assert self.pool is not None
            await self.pool.flush()
            if exc.sqlstate is None:
                return ApiError(
                    503, "PGRST001", "Database client error. Retrying the connection.", str(exc)
                )
        return from_database(exc, identity.anonymous)

    def _settings(self, request: Request, identity: Identity) -> tuple[list[str], list[str]]:
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        for raw_key, raw_value in request.headers.raw:
            key = raw_key.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if key == "cookie":
                jar: SimpleCookie = SimpleCookie()
                with contextlib.suppress(Exception):
                    jar.load(value)
                cookies.update({k: m.value for k, m in jar.items()})
                continue
            headers[key] = value
        path = request.scope.get("path", "/")
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        keys = [
            "search_path",
            "role",
            "request.jwt.claims",
            "request.method",
            "request.path",
            "request.headers",
            "request.cookies",
        ]
        values = [
            SEARCH_PATH,
            identity.role,
            identity.claims_json,
            request.method,
            path or "/",
            json.dumps(headers),
            json.dumps(cookies),
        ]
        for key, value in self.cache.role_settings.get(identity.role, []):
            keys.append(key)
            values.append(value)
        return keys, values


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.execute(b"ROLLBACK")


# ----------------------------------------------------------------------------- handlers


def _check_profile(request: Request, write: bool) -> None:
    header = "content-profile" if write else "accept-profile"
    profile = request.headers.get(header)
    if profile is not None and profile not in EXPOSED_SCHEMAS:
        raise ApiError(
            406,
            "PGRST106",
            f"Invalid schema: {profile}",
            None,
            "Only the following schemas are exposed: " + ", ".join(EXPOSED_SCHEMAS),
        )


def _table(cache: SchemaCache, name: str) -> Table:
    table = cache.tables.get(name)
    if table is None:
        close = _closest(name, list(cache.tables))
        raise ApiError(
            404,
            "PGRST205",
            f"Could not find the table '{SCHEMA}.{name}' in the schema cache",
            None,
            f"Perhaps you meant the table '{SCHEMA}.{close}'" if close else None,
        )
    return table


def _closest(name: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def _content_range(offset: int, count: int, total: int | None) -> str:
    total_text = "*" if total is None else str(total)
    if count <= 0:
        return f"*/{total_text}"
    return f"{offset}-{offset + count - 1}/{total_text}"


def _json_response(
    status: int,
    body: str | None,
    mode: str,
    headers: dict[str, str],
    head: bool = False,
) -> Response:
    if mode == "csv":
        media = _CSV
    elif mode.startswith("object"):
        media = _OBJECT
    else:
        media = _JSON
    content = b"" if head or body is None else body.encode()
    response = Response(content, status_code=status, headers=headers, media_type=media)
    if head:
        response.headers["content-length"] = str(len(body.encode()) if body else 0)
    return response


def _singular(count: int, body: str | None) -> tuple[str, ApiError | None]:
    if count != 1:
        return "", ApiError(
            406,
            "PGRST116",
            "Cannot coerce the result to a single JSON object",
            f"The result contains {count} rows",
        )
    text = body or "[]"
    return text.strip()[1:-1].strip(), None


def _body_mode(mode: str) -> str:
    return "stripped" if mode.endswith("stripped") else ("csv" if mode == "csv" else "json")


def _error_response(error: ApiError) -> Response:
    return Response(
        json.dumps(error.body()).encode(),
        status_code=error.status,
        headers=error.headers,
        media_type=_JSON,
    )


def _range(request: Request, top: Options, max_rows: int | None) -> tuple[int, int | None]:
    """(offset, limit) from ``offset``/``limit`` and a ``Range`` header, capped at max rows."""
    offset, limit = top.offset, top.limit
    header = request.headers.get("range")
    if header and request.method in {"GET", "HEAD"}:
        match = _RANGE.match(header)
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else None
            if high is not None and high < low:
                raise ApiError(
                    416,
                    "PGRST103",
                    "Requested range not satisfiable",
                    None,
                )
            upper = None if limit is None else offset + limit - 1
            new_low = max(low, offset)
            new_high = high if upper is None else (upper if high is None else min(high, upper))
            offset = new_low
            limit = None if new_high is None else max(new_high - new_low + 1, 0)
    if max_rows is not None:
        limit = max_rows if limit is None else min(limit, max_rows)
    return offset, limit


def _read_body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "PGRST102", "Empty or invalid json") from None


@dataclass
class Ctx:
    """One request being served: who asks, how the answer should look."""

    request: Request
    identity: Identity
    builder: Builder
    mode: str
    prefer: Prefer
    # the called function's hoisted settings (an RPC), applied after the role's
    hoisted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def representation(self) -> bool:
        return self.prefer.representation == "representation"


def _where(builder: Builder, node: Node) -> sql.Composable:
    conds = builder.where(node)
    return sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conds)) if conds else sql.SQL("")


def _returning(ctx: Ctx) -> sql.Composable:
    if ctx.representation:
        return sql.SQL(" RETURNING {}.*").format(Builder.qualified(ctx.builder.target))
    return sql.SQL(" RETURNING 1")


def _insert_sql(
    builder: Builder, table: Table, rows: list[dict[str, Any]], columns: list[str], prefer: Prefer
) -> sql.Composable:
    target = Builder.qualified(table.name)
    data = builder.bind(payload_json(rows))
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if not columns:
        return sql.SQL("INSERT INTO {t} SELECT FROM json_array_elements({d}::json)").format(
            t=target, d=data
        )
    if not prefer.missing_default:
        return sql.SQL(
            "INSERT INTO {t} ({cols}) SELECT {cols} "
            "FROM json_populate_recordset(NULL::{t}, {d}::json) AS _"
        ).format(t=target, cols=cols, d=data)
    # missing=default: a key absent from a row takes the column's DEFAULT (from the catalog)
    exprs = []
    for c in columns:
        column = table.columns[c]
        default = sql.SQL(column.default) if column.default else sql.SQL("NULL")
        exprs.append(
            sql.SQL("CASE WHEN _j.j::jsonb ? {k} THEN _r.{c} ELSE {d} END").format(
                k=sql.Literal(c), c=sql.Identifier(c), d=default
            )
        )
    return sql.SQL(
        "INSERT INTO {t} ({cols}) SELECT {exprs} FROM json_array_elements({d}::json) "
        "WITH ORDINALITY AS _j(j, i) CROSS JOIN LATERAL "
        "json_populate_record(NULL::{t}, _j.j) AS _r ORDER BY _j.i"
    ).format(t=target, cols=cols, exprs=sql.SQL(", ").join(exprs), d=data)


def _on_conflict(
    table: Table, columns: list[str], conflict: list[str], prefer: Prefer
) -> sql.Composable:
    for col in conflict:
        if col not in table.columns:
            raise _unknown_column(col, table)
    if not conflict:
        return sql.SQL("")
    target_cols = sql.SQL(", ").join(sql.Identifier(c) for c in conflict)
    action: sql.Composable
    if prefer.resolution == "ignore-duplicates" or not columns:
        action = sql.SQL("DO NOTHING")
    else:
        action = sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns
            )
        )
    return sql.SQL(" ON CONFLICT ({}) {}").format(target_cols, action)


def _insert_rows(
    payload: Any, table: Table, columns_param: list[str] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    if isinstance(payload, dict):
        rows = [payload]
    elif isinstance(payload, list) and all(isinstance(r, dict) for r in payload):
        rows = payload
    else:
        raise ApiError(400, "PGRST102", "Empty or invalid json")
    if columns_param is not None:
        columns = columns_param
    else:
        columns = list(rows[0]) if rows else []
        first = set(columns)
        if any(set(r) != first for r in rows[1:]):
            raise ApiError(400, "PGRST102", "All object keys must match")
    for col in columns:
        if col not in table.columns:
            raise _unknown_column(col, table)
    return rows, columns


class Handlers:
    def __init__(self, server: RestServer) -> None:
        self.server = server

    async def table(self, request: Request) -> Response:
        try:
            return await self._table(request)
        except ApiError as error:
            return _error_response(error)

    async def rpc(self, request: Request) -> Response:
        try:
            return await self._rpc(request)
        except ApiError as error:
            return _error_response(error)

    async def root(self, request: Request) -> Response:
        try:
            self.server.auth.authenticate(request.headers.get("authorization"))
        except ApiError as error:
            return _error_response(error)
        cache = self.server.cache
        paths: dict[str, dict[str, Any]] = {f"/{name}": {} for name in sorted(cache.tables)}
        paths.update({f"/rpc/{name}": {} for name in sorted(cache.functions)})
        doc = {
            "swagger": "2.0",
            "info": {"title": "PostgREST API", "version": "12.2.0 (devstack)"},
            "basePath": "/",
            "paths": paths,
        }
        return Response(json.dumps(doc), media_type="application/openapi+json; charset=utf-8")

    @staticmethod
    def options() -> Response:
        return Response(b"", headers={"Allow": "OPTIONS,GET,HEAD,POST,PATCH,DELETE"})

    def _context(self, request: Request, write: bool) -> Ctx:
        identity = self.server.auth.authenticate(request.headers.get("authorization"))
        _check_profile(request, write)
        return Ctx(
            request,
            identity,
            Builder(self.server.cache),
            negotiate(request.headers.get("accept")),
            parse_prefer(request.headers.getlist("prefer")),
        )

    # -- tables and views
    async def _table(self, request: Request) -> Response:
        method = request.method
        if method == "OPTIONS":
            return self.options()
        if method not in {"GET", "HEAD", "POST", "PATCH", "DELETE"}:
            raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        ctx = self._context(request, method not in {"GET", "HEAD"})
        table = _table(self.server.cache, request.path_params["name"])
        query = parse_query(list(request.query_params.multi_items()))
        ctx.builder.target = table.name
        node = ctx.builder.plan(
            table.name, table=table, alias=table.name, items=query.select, options=query.options
        )
        if method in {"GET", "HEAD"}:
            return await self._read(ctx, node)
        if method == "POST":
            return await self._insert(ctx, node, table, query)
        if method == "PATCH":
            return await self._update(ctx, node, table)
        delete = sql.SQL("DELETE FROM {t}{w}").format(
            t=Builder.qualified(table.name), w=_where(ctx.builder, node)
        )
        return await self._finish_write(ctx, node, delete)

    async def _read(self, ctx: Ctx, node: Node, source: sql.Composable | None = None) -> Response:
        top = node.options
        offset, limit = _range(ctx.request, top, self.server.config.db_max_rows)
        top.offset = offset
        statement = read_statement(
            ctx.builder,
            node,
            ctx.prefer.count is not None,
            _body_mode(ctx.mode),
            limit,
            source=source,
        )
        row = await self.server.run(
            ctx.request,
            ctx.identity,
            read_only=True,
            statement=statement,
            params=ctx.builder.params,
        )
        return self._read_response(ctx, offset, row[0], int(row[1]), row[2])

    @staticmethod
    def _read_response(
        ctx: Ctx, offset: int, total: int | None, count: int, body: str | None
    ) -> Response:
        headers = {"Content-Range": _content_range(offset, count, total)}
        if ctx.prefer.count:
            headers["Preference-Applied"] = f"count={ctx.prefer.count}"
        status = 200
        if total is not None:
            if offset > total or (offset > 0 and offset == total and count == 0):
                raise ApiError(
                    416,
                    "PGRST103",
                    "Requested range not satisfiable",
                    f"An offset of {offset} was requested, but there are only {total} rows.",
                    None,
                    {"Content-Range": f"*/{total}"},
                )
            if count < total:
                status = 206
        if ctx.mode.startswith("object"):
            body, problem = _singular(count, body)
            if problem is not None:
                raise problem
        return _json_response(status, body, ctx.mode, headers, head=ctx.request.method == "HEAD")

    async def _insert(self, ctx: Ctx, node: Node, table: Table, query: Query) -> Response:
        payload = _read_body(await ctx.request.body())
        rows, columns = _insert_rows(payload, table, query.columns)
        insert = _insert_sql(ctx.builder, table, rows, columns, ctx.prefer)
        if ctx.prefer.resolution is not None:
            conflict = query.on_conflict or table.primary_key
            insert = sql.Composed([insert, _on_conflict(table, columns, conflict, ctx.prefer)])
        count, body = await self._run_write(ctx, node, insert)
        headers = {"Content-Range": "*/" + (str(count) if ctx.prefer.count else "*")}
        if ctx.prefer.applied:
            headers["Preference-Applied"] = ", ".join(ctx.prefer.applied)
        if not ctx.representation:
            return Response(b"", status_code=201, headers=headers)
        if ctx.mode.startswith("object"):
            body, _ = _singular(count, body)
        return _json_response(201, body, ctx.mode, headers)

    async def _update(self, ctx: Ctx, node: Node, table: Table) -> Response:
        payload = _read_body(await ctx.request.body())
        if not isinstance(payload, dict):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        for col in payload:
            if col not in table.columns:
                raise _unknown_column(col, table)
        if not payload:
            # An empty body changes nothing: answered as an update of zero rows.
            headers = {"Content-Range": "*/*"}
            if ctx.representation:
                return _json_response(200, "[]", _body_mode(ctx.mode), headers)
            return Response(b"", status_code=204, headers=headers)
        target = Builder.qualified(table.name)
        data = ctx.builder.bind(json.dumps(payload, ensure_ascii=False))
        assignments = sql.SQL(", ").join(
            sql.SQL("{c} = pgrst_body.{c}").format(c=sql.Identifier(c)) for c in payload
        )
        update = sql.SQL(
            "UPDATE {t} SET {a} FROM (SELECT * FROM json_populate_record(NULL::{t}, {d}::json)) "
            "AS pgrst_body{w}"
        ).format(t=target, a=assignments, d=data, w=_where(ctx.builder, node))
        return await self._finish_write(ctx, node, update)

    async def _run_write(self, ctx: Ctx, node: Node, mutation: sql.Composable) -> tuple[int, Any]:
        """Runs an INSERT/UPDATE/DELETE with its RETURNING; the affected count and body."""
        statement = mutation_statement(
            ctx.builder,
            sql.Composed([mutation, _returning(ctx)]),
            node,
            ctx.representation,
            _body_mode(ctx.mode),
        )
        row = await self.server.run(
            ctx.request,
            ctx.identity,
            read_only=False,
            statement=statement,
            params=ctx.builder.params,
            decide=_decider(ctx.mode, ctx.prefer),
        )
        return int(row[1]), row[2]

    async def _finish_write(self, ctx: Ctx, node: Node, mutation: sql.Composable) -> Response:
        count, body = await self._run_write(ctx, node, mutation)
        total = str(count) if ctx.prefer.count else "*"
        headers = {"Content-Range": f"0-{count - 1}/{total}" if count > 0 else f"*/{total}"}
        if ctx.prefer.applied:
            headers["Preference-Applied"] = ", ".join(ctx.prefer.applied)
        if not ctx.representation:
            return Response(b"", status_code=204, headers=headers)
        if ctx.mode.startswith("object"):
            body, _ = _singular(count, body)
        return _json_response(200, body, ctx.mode, headers)

    # -- functions
    async def _rpc(self, request: Request) -> Response:
        method = request.method
        if method == "OPTIONS":
            return self.options()
        if method not in {"GET", "HEAD", "POST"}:
            raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        read_request = method in {"GET", "HEAD"}
        ctx = self._context(request, not read_request)
        cache = self.server.cache
        name = request.path_params["name"]
        items = list(request.query_params.multi_items())
        raw: Any = None
        args: dict[str, Any] | None
        if read_request:
            names = {p.name for fn in cache.functions.get(name, []) for p in fn.params}
            provided = {k: v for k, v in items if k in names and k not in _RESERVED}
            fn = _find_function(cache, name, set(provided))
            query = parse_query(items, fn, rpc_get=True)
            args = dict(query.args)
        else:
            raw = _read_body(await request.body())
            fn = _find_function(cache, name, set(raw) if isinstance(raw, dict) else set())
            query = parse_query(items)
            args = None if fn.single_json_param else (raw if isinstance(raw, dict) else {})
        call = function_call(ctx.builder, fn, args, raw)
        ctx.hoisted = fn.hoisted
        read_only = read_request or fn.read_only
        if fn.shape == "void":
            statement = sql.SQL("SELECT NULL::bigint, 0, NULL::text FROM (SELECT {}) AS _").format(
                call
            )
            await self._call(ctx, read_only, statement)
            return Response(b"", status_code=204)
        if fn.shape == "scalar" and not fn.returns_set:
            statement = sql.SQL("SELECT NULL::bigint, 1, to_json({})::text").format(call)
            row = await self._call(ctx, read_only, statement)
            if ctx.mode == "csv":
                return _json_response(200, row[2] or "", "csv", {}, head=method == "HEAD")
            body = row[2] if row[2] is not None else "null"
            return _json_response(200, body, "json", {}, head=method == "HEAD")
        if fn.shape == "scalar":
            return await self._rpc_scalar_set(ctx, call, read_only, query)
        return await self._rpc_rows(ctx, fn, call, read_only, query)

    async def _call(self, ctx: Ctx, read_only: bool, statement: sql.Composed) -> tuple[Any, ...]:
        # A read-write call still commits through ``decide`` so errors at COMMIT surface.
        decide = None if read_only else _commit
        return await self.server.run(
            ctx.request,
            ctx.identity,
            read_only=read_only,
            statement=statement,
            params=ctx.builder.params,
            decide=decide,
            hoisted=ctx.hoisted,
        )

    async def _rpc_scalar_set(
        self, ctx: Ctx, call: sql.Composable, read_only: bool, query: Query
    ) -> Response:
        offset, limit = _range(ctx.request, query.level(()), self.server.config.db_max_rows)
        scalar = sql.Identifier("pgrst_scalar")
        inner = sql.SQL("SELECT {s} FROM {c} AS pgrst_fn({s}){p}").format(
            s=scalar, c=call, p=ctx.builder.paging(limit, offset)
        )
        statement = sql.SQL(
            "WITH pgrst_source AS ({}) SELECT NULL::bigint, pg_catalog.count(*), "
            "coalesce(json_agg(_postgrest_t.pgrst_scalar), '[]')::text "
            "FROM pgrst_source AS _postgrest_t"
        ).format(inner)
        row = await self._call(ctx, read_only, statement)
        ctx.mode = "json"
        return self._read_response(ctx, offset, None, int(row[1]), row[2])

    async def _rpc_rows(
        self, ctx: Ctx, fn: Function, call: sql.Composable, read_only: bool, query: Query
    ) -> Response:
        cache = self.server.cache
        table = cache.tables.get(fn.table) if fn.table else None
        node = ctx.builder.plan(
            fn.name, table=table, alias=fn.name, items=query.select, options=query.options
        )
        source = sql.SQL("{} AS {}").format(call, sql.Identifier(fn.name))
        top = node.options
        offset, limit = _range(ctx.request, top, self.server.config.db_max_rows)
        top.offset = offset
        statement = read_statement(
            ctx.builder,
            node,
            ctx.prefer.count is not None,
            _body_mode(ctx.mode),
            limit,
            source=source,
        )
        row = await self._call(ctx, read_only, statement)
        total, count, body = row[0], int(row[1]), row[2]
        if not fn.returns_set and ctx.mode != "csv":
            # one composite value → the object itself (null when filtered away)
            text = body.strip()[1:-1].strip() if count == 1 and body else "null"
            return _json_response(200, text, "json", {}, head=ctx.request.method == "HEAD")
        return self._read_response(ctx, offset, total, count, body)


def _commit(_: tuple[Any, ...]) -> ApiError | None:
    return None


def _decider(mode: str, prefer: Prefer) -> Callable[[tuple[Any, ...]], ApiError | None]:
    def decide(row: tuple[Any, ...]) -> ApiError | None:
        count = int(row[1])
        if prefer.strict and prefer.max_affected is not None and count > prefer.max_affected:
            return ApiError(
                400,
                "PGRST124",
                "Query result exceeds max-affected preference constraint",
                f"The query affects {count} rows",
            )
        if mode.startswith("object") and count != 1:
            return _singular(count, None)[1]
        return None

    return decide


def _unknown_column(col: str, table: Table) -> ApiError:
    return ApiError(
        400,
        "PGRST204",
        f"Could not find the '{col}' column of '{table.name}' in the schema cache",
    )


def _find_function(cache: SchemaCache, name: str, keys: set[str]) -> Function:
    """The overload whose named parameters match ``keys`` (PGRST202/PGRST203)."""
    candidates = cache.functions.get(name, [])
    named = [
        fn
        for fn in candidates
        if all(p.name for p in fn.params)
        and keys <= {p.name for p in fn.params}
        and {p.name for p in fn.params if not p.has_default} <= keys
    ]
    if not named:
        named = [fn for fn in candidates if fn.single_json_param]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        sigs = ", ".join(
            f"{SCHEMA}.{fn.name}(" + ", ".join(f"{p.name} => {p.type}" for p in fn.params) + ")"
            for fn in named
        )
        raise ApiError(
            300,
            "PGRST203",
            f"Could not choose the best candidate function between: {sigs}",
            None,
            "Try renaming the parameters or the function itself in the database so "
            "function overloading can be resolved",
        )
    ordered = sorted(keys)
    if ordered:
        listed = ", ".join(ordered)
        message = f"Could not find the function {SCHEMA}.{name}({listed}) in the schema cache"
        details = (
            f"Searched for the function {SCHEMA}.{name} with parameters {listed} or with a "
            "single unnamed json/jsonb parameter, but no matches were found in the schema cache."
        )
    else:
        message = (
            f"Could not find the function {SCHEMA}.{name} without parameters in the schema cache"
        )
        details = (
            f"Searched for the function {SCHEMA}.{name} without parameters or with a single "
            "unnamed json/jsonb parameter, but no matches were found in the schema cache."
        )
    close = _closest(name, list(cache.functions))
    hint = f"Perhaps you meant to call the function {SCHEMA}.{close}" if close else None
    raise ApiError(404, "PGRST202", message, details, hint)


def create_app(config: StackConfig) -> Starlette:
    """The REST server as a Starlette app; its lifespan opens and closes the pool."""
    server = RestServer(config)
    handlers = Handlers(server)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    methods = ["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/", handlers.root, methods=["GET", "HEAD"]),
            Route("/rpc/{name}", handlers.rpc, methods=methods),
            Route("/{name}", handlers.table, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.rest = server
    reload: Callable[[], Awaitable[None]] = server.reload_schema_cache
    app.state.reload_schema_cache = reload
    return app
