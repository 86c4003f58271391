"""postgres_changes and broadcasts from the database, read from PostgreSQL's logical
decoding as Supabase Realtime reads them.

One temporary slot (``pgoutput``, publications ``supabase_realtime`` and, once
``realtime.messages`` exists, ``supabase_realtime_messages_publication``, which Realtime
makes itself) is polled by one connection. A row change goes to the subscriptions on its
table and event whose filters its values pass (compared as the column's type, as
``realtime.check_equality_op`` does), and, when the table has RLS enabled, only to those
whose claims may select the row: as ``realtime.apply_rls`` does, once per distinct claims,
the role and ``request.jwt.claims`` are set and the row is selected by its primary key.
A DELETE cannot be checked (the row is gone): it goes to every subscription whose filters
the old values pass, with the primary key alone when RLS is enabled, as on Supabase.
An insert into ``realtime.messages`` is a broadcast from the database.

The slot is temporary, as Realtime's: when PostgreSQL restarts, the feed makes a new one;
what was committed meanwhile is not delivered, and subscribers are told (system messages).
A subscription counts as live (its "Subscribed to PostgreSQL") only once a poll of the slot
begun after it was registered has succeeded: the slot that decodes the changes committed
from then on exists, and the subscription is there when they are dispatched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from devstack.realtime.pgoutput import UNCHANGED, Change, Decoder

log = logging.getLogger("devstack.realtime")

PUBLICATION = "supabase_realtime"
MESSAGES_PUBLICATION = "supabase_realtime_messages_publication"
# realtime.check_equality_op's operators (is and isdistinct are written out in SQL).
OPERATORS = {
    "eq": "=",
    "neq": "!=",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "in": "= any",
    "like": "LIKE",
    "ilike": "ILIKE",
    "match": "~",
    "imatch": "~*",
    "is": "IS",
    "isdistinct": "IS DISTINCT FROM",
}
IS_VALUES = ("null", "true", "false", "unknown")
ACTIONS = ("INSERT", "UPDATE", "DELETE")


class SubscriptionError(Exception):
    """postgres_changes parameters Realtime refuses (the system message's text)."""


@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # a key of OPERATORS
    value: str  # for `in`, a PostgreSQL array literal: {a,b}
    negate: bool = False  # the `not.` prefix

    def log(self) -> str:
        return f'{{"{self.column}", "{self.op}", "{self.value}", {str(self.negate).lower()}}}'


def params_id(params: dict[str, Any]) -> int:
    """A stable id for one postgres_changes entry (Realtime's :erlang.phash2, 27 bits)."""
    return zlib.crc32(json.dumps(params, sort_keys=True).encode()) & 0x7FFFFFF


def parse_params(params: Any) -> tuple[str, str, str, list[Filter]]:
    """(event, schema, table, filters) as Realtime's parse_subscription_params."""
    if not isinstance(params, dict):
        params = {}
    event = params.get("event")
    action = event.upper() if isinstance(event, str) and event.upper() in ACTIONS else "*"
    schema, table, filt = params.get("schema"), params.get("table"), params.get("filter")
    if isinstance(schema, str) and isinstance(table, str) and isinstance(filt, str):
        return action, schema, table, parse_filters(filt)
    if isinstance(schema, str) and isinstance(table, str) and "filter" not in params:
        return action, schema, table, []
    if isinstance(schema, str) and "table" not in params and "filter" not in params:
        return action, schema, "*", []
    if isinstance(table, str) and "schema" not in params and "filter" not in params:
        return action, "public", table, []
    shown = {k: v for k, v in params.items() if k not in ("user_token", "auth_token")}
    raise SubscriptionError(
        "No subscription params provided. Please provide at least a `schema` or `table`"
        f" to subscribe to: {_elixir_map(shown)}"
    )


def parse_filters(text: str) -> list[Filter]:
    if not text.strip():
        return []
    filters = []
    for raw in _split_top_level(text.strip()):
        segment = raw.strip()
        if not segment:
            raise SubscriptionError(
                "Error parsing `filter` params: filter must not contain empty segments"
                " (check for extra commas)"
            )
        column, eq, rest = segment.partition("=")
        negate = rest.startswith("not.")
        op, dot, value = rest.removeprefix("not.").partition(".")
        if not eq or not dot:
            parts = [column] if not eq else [op] if not dot else [op, value]
            raise SubscriptionError(f"Error parsing `filter` params: {_elixir_list(parts)}")
        if op not in OPERATORS:
            raise SubscriptionError(f"Error parsing `filter` params: {_elixir_list([op, value])}")
        if op == "in":
            if not (value.startswith("(") and value.endswith(")")):
                raise SubscriptionError(
                    "Error parsing `filter` params: `in` filter value must be wrapped by"
                    " parentheses"
                )
            value = "{" + value[1:-1] + "}"
        elif len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        filters.append(Filter(column, op, value, negate))
    return filters


def _split_top_level(text: str) -> list[str]:
    parts, current, depth, quoted = [], "", 0, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _elixir_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _elixir_map(items: dict[str, Any]) -> str:
    return "%{" + ", ".join(f"{json.dumps(k)} => {json.dumps(v)}" for k, v in items.items()) + "}"


@dataclass
class Column:
    name: str
    typname: str  # pg_type.typname, as Realtime's payload names it (int4, uuid, ...)
    cast: str  # the type as a cast target (regtype)
    is_pk: bool


@dataclass
class Table:
    oid: int
    schema: str
    name: str
    rls: bool
    columns: list[Column]
    readable: dict[str, set[str]] = field(default_factory=dict)  # role -> columns
    _check: str = ""

    @property
    def pk(self) -> list[Column]:
        return [c for c in self.columns if c.is_pk]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def statement(self) -> str:
        return f"realtime_check_{self.oid}"

    def check_query(self) -> str:
        """The row by its primary key ($1: the key's values as text), as the prepared
        statement of realtime.apply_rls selects it."""
        if not self._check:
            where = sql.SQL(" and ").join(
                sql.SQL("{} = ($1)[{}]::" + c.cast).format(sql.Identifier(c.name), i)
                for i, c in enumerate(self.pk, 1)
            )
            query = sql.SQL("select exists (select 1 from {}.{} where {})").format(
                sql.Identifier(self.schema), sql.Identifier(self.name), where
            )
            self._check = query.as_string()
        return self._check


@dataclass(eq=False)
class Subscription:
    """One postgres_changes entry of one joined channel."""

    id: int
    params: dict[str, Any]
    action: str
    schema: str
    table: str
    filters: list[Filter]
    claims: dict[str, Any]
    deliver: Callable[[list[int], dict[str, Any]], None]
    tables: set[int] = field(default_factory=set)
    claims_key: str = ""  # the claims as JSON: subscriptions with the same are checked once

    def __post_init__(self) -> None:
        self.claims_key = json.dumps(self.claims, sort_keys=True)

    @property
    def role(self) -> str:
        role = self.claims.get("role")
        return role if isinstance(role, str) else "anon"

    def describe(self) -> str:
        filters = "[" + ", ".join(f.log() for f in self.filters) + "]"
        return (
            f"event: {self.action}, schema: {self.schema}, table: {self.table},"
            f" filters: {filters}, select: nil"
        )


DbMessage = Callable[[str, str, str, bool, str], None]  # topic, event, payload, private, id


class Feed:
    """The slot, its poller and the subscriptions; started by the first joined channel."""

    def __init__(
        self,
        database_url: str,
        on_message: DbMessage,
        on_status: Callable[[bool], Awaitable[None]],
        poll_interval: float = 0.02,
    ) -> None:
        self.url = database_url
        self.on_message = on_message
        self.on_status = on_status  # True: (re)connected, False: connection lost
        self.poll_interval = poll_interval
        self.subscriptions: list[Subscription] = []
        self.tables: dict[int, Table] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._polls = 0  # polls of the slot begun (any slot of this feed)
        self._polled = 0  # the number of the last poll that succeeded
        self._progress = asyncio.Condition()  # _polled moved, or the feed stopped
        self._wake = asyncio.Event()  # a subscription waits: poll now, not after the interval
        self._check: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # the check connection: one user at a time
        self.prepared: set[int] = set()  # tables whose check is prepared on it
        self._async_commits = False  # the server's synchronous_commit is off
        self.slot = f"devstack_realtime_{os.getpid()}_{id(self) & 0xFFFFFF:x}"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stops polling; the temporary slot goes with its session (start makes another)."""
        self.ready.clear()
        if self._task is not None:  # kept while it ends: a join meanwhile starts no other
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        async with self._progress:
            self._progress.notify_all()  # nothing waits for a poll that will not come
        # Taken before the await: a join during the close may start the feed again, and
        # the connection it makes then is its own, not to be dropped here.
        check, self._check = self._check, None
        if check is not None:
            await check.close()

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(self, subs: list[Subscription]) -> None:
        """Checks each entry as Realtime's subscription insert does (tables of the
        publication, filters on existing columns with castable values), then adds them
        once the slot exists. Raises SubscriptionError with Realtime's message."""
        self.start()
        await self.ready.wait()
        async with self._lock:
            conn = await self._connection()
            try:
                for sub in subs:
                    await self._resolve(conn, sub)
            finally:
                await conn.rollback()
        self.subscriptions.extend(subs)
        await self.live()

    async def live(self) -> bool:
        """Waits for a poll begun after this call to succeed (False: the feed stopped
        first). Until then the slot may be gone unnoticed (PostgreSQL restarted, the
        session ended): a change committed meanwhile would be lost, and the slot made
        when the poller notices would not have it. After it, every change committed
        reaches the subscriptions registered before the call, or they are told it did not."""
        target = self._polls + 1
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._polled >= target or self._task is None)
        return self._polled >= target

    def unsubscribe(self, subs: list[Subscription]) -> None:
        self.subscriptions = [s for s in self.subscriptions if s not in subs]

    async def _resolve(self, conn: psycopg.AsyncConnection[Any], sub: Subscription) -> None:
        rows = await (
            await conn.execute(
                "select format('%%I.%%I', schemaname, tablename)::regclass::oid"
                " from pg_publication_tables where pubname = %s"
                " and schemaname like (case %s when '*' then '%%' else %s end) escape ''"
                " and tablename like (case %s when '*' then '%%' else %s end) escape ''",
                (PUBLICATION, sub.schema, sub.schema, sub.table, sub.table),
            )
        ).fetchall()
        if not rows:
            raise SubscriptionError(
                "Unable to subscribe to changes with given parameters. Please check Realtime"
                f" is enabled for the given connect parameters: [{sub.describe()}]"
            )
        sub.tables = {int(r[0]) for r in rows}
        for oid in sub.tables:
            table = await self._load_table(conn, oid)
            table.readable[sub.role] = await self._readable(conn, oid, sub.role)
            for f in sub.filters:
                column = table.column(f.column)
                problem = None
                if column is None:
                    problem = f"invalid column for filter {f.column}"
                elif f.op == "is":
                    if f.value not in IS_VALUES:
                        problem = (
                            "invalid value for is filter: must be null, true, false, or unknown"
                        )
                else:
                    try:
                        async with conn.transaction():
                            cast = column.cast + ("[]" if f.op == "in" else "")
                            await conn.execute(
                                sql.SQL("select {}::" + cast).format(sql.Literal(f.value))
                            )
                    except psycopg.Error as exc:
                        problem = str(exc).splitlines()[0]
                if problem:
                    raise SubscriptionError(
                        "Unable to subscribe to changes with given parameters. An exception"
                        " happened so please check your connect parameters:"
                        f" [{sub.describe()}]. Exception: ERROR P0001 (raise_exception)"
                        f" {problem}"
                    )

    async def _load_table(self, conn: psycopg.AsyncConnection[Any], oid: int) -> Table:
        head = await (
            await conn.execute(
                "select n.nspname, c.relname, c.relrowsecurity from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace where c.oid = %s",
                (oid,),
            )
        ).fetchone()
        assert head is not None
        cols = await (
            await conn.execute(
                "select a.attname, t.typname, a.atttypid::regtype::text,"
                " coalesce(a.attnum = any(i.indkey), false)"
                " from pg_attribute a join pg_type t on t.oid = a.atttypid"
                " left join pg_index i on i.indrelid = a.attrelid and i.indisprimary"
                " where a.attrelid = %s and a.attnum > 0 and not a.attisdropped"
                " order by a.attnum",
                (oid,),
            )
        ).fetchall()
        old = self.tables.get(oid)
        table = Table(oid, head[0], head[1], bool(head[2]), [Column(*c) for c in cols])
        if old is not None and [c.name for c in old.columns] == [c.name for c in table.columns]:
            table.readable = old.readable
        self.tables[oid] = table
        return table

    async def _readable(self, conn: psycopg.AsyncConnection[Any], oid: int, role: str) -> set[str]:
        try:
            async with conn.transaction():
                rows = await (
                    await conn.execute(
                        "select attname from pg_attribute where attrelid = %s and attnum > 0"
                        " and not attisdropped"
                        " and has_column_privilege(%s, attrelid, attname, 'SELECT')",
                        (oid, role),
                    )
                ).fetchall()
        except psycopg.Error:  # a role that does not exist reads nothing
            return set()
        return {r[0] for r in rows}

    # -- the poller ---------------------------------------------------------------------

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._check is None or self._check.closed or self._check.broken:
            # psycopg's own preparing off: its rollback then sends DEALLOCATE ALL, which
            # would drop the checks prepared here.
            self._check = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, prepare_threshold=None
            )
            self.prepared = set()
            await self._check.execute(CHANGE_FUNCTION)
            await self._check.set_autocommit(False)
        return self._check

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    publications = await self._prepare(conn)
                    self.ready.set()
                    delay = 0.1
                    if not first:
                        await self.on_status(True)
                    first = False
                    await self._poll(conn, publications)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL gone or restarting: try again
                log.warning("realtime: replication interrupted (%s); retrying", exc)
                if self.ready.is_set():
                    self.ready.clear()
                    await self.on_status(False)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _prepare(self, conn: psycopg.AsyncConnection[Any]) -> str:
        """Makes the messages' publication when realtime.messages exists (as Realtime
        does) and a temporary slot; answers the publications to decode."""
        publications = [PUBLICATION]
        row = await (
            await conn.execute(
                "select to_regclass('realtime.messages') is not null,"
                " exists (select from pg_publication where pubname = %s)",
                (MESSAGES_PUBLICATION,),
            )
        ).fetchone()
        if row and row[0]:
            if not row[1]:
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    await conn.execute(
                        sql.SQL(
                            "create publication {} for table realtime.messages"
                            " with (publish = 'insert', publish_via_partition_root = true)"
                        ).format(sql.Identifier(MESSAGES_PUBLICATION))
                    )
            publications.append(MESSAGES_PUBLICATION)
        await conn.execute(
            "select pg_create_logical_replication_slot(%s, 'pgoutput', true)", (self.slot,)
        )
        setting = await (await conn.execute("show synchronous_commit")).fetchone()
        self._async_commits = bool(setting and setting[0] == "off")
        return ",".join(publications)

    async def _poll(self, conn: psycopg.AsyncConnection[Any], publications: str) -> None:
        decoder = Decoder()
        query = (
            "select data from pg_logical_slot_get_binary_changes(%s, null, 5000,"
            " 'proto_version', '1', 'publication_names', %s)"
        )
        while True:
            self._wake.clear()
            self._polls += 1
            begun = self._polls
            await self._flush(conn)
            rows = await (await conn.execute(query, (self.slot, publications))).fetchall()
            changes: list[Change] = []
            for (data,) in rows:
                change = decoder.feed(bytes(data))
                if change is None:
                    continue
                if change.relation.schema == "realtime" and change.relation.name.startswith(
                    "messages"
                ):
                    self._message(change)
                elif self.subscriptions:
                    changes.append(change)
            if changes:
                await self._dispatch(changes)
            async with self._progress:
                self._polled = begun
                self._progress.notify_all()
            if not rows:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()

    async def _flush(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Decoding reads only flushed WAL: with synchronous_commit off (the test clusters)
        a commit waits for the WAL writer (up to 200 ms); a synchronous commit flushes it.
        Where commits are synchronous (make dev, Supabase) there is nothing to do."""
        if not self._async_commits:
            return
        row = await (
            await conn.execute("select pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn()")
        ).fetchone()
        if row and row[0]:
            async with conn.transaction():
                await conn.execute("set local synchronous_commit = on")
                await conn.execute("select pg_logical_emit_message(true, 'devstack-realtime', '')")

    def _message(self, change: Change) -> None:
        if change.action != "INSERT":
            return
        row = change.new
        topic, event, payload = row.get("topic"), row.get("event"), row.get("payload")
        if not isinstance(topic, str) or not isinstance(event, str):
            return
        private = row.get("private") == "t"
        self.on_message(
            topic,
            event,
            payload if isinstance(payload, str) else "{}",
            private,
            str(row.get("id")),
        )

    # -- delivery -----------------------------------------------------------------------

    async def _dispatch(self, changes: list[Change]) -> None:
        """Every change of one poll in one pipeline: values cast to their types, the
        filters' comparisons, and the RLS checks per distinct claims."""
        try:
            plans = await self._plan(changes)
        except psycopg.Error as exc:
            # One change's query failed (a value its filter cannot compare, ...): the
            # others still go, one by one.
            log.warning("realtime: retrying %d changes one by one: %s", len(changes), exc)
            plans = []
            for change in changes:
                try:
                    plans += await self._plan([change])
                except psycopg.Error as exc:
                    log.warning(
                        "realtime: a change on %s not delivered: %s", change.relation.name, exc
                    )
        for plan in plans:
            plan.deliver()

    async def _plan(self, changes: list[Change]) -> list[_Plan]:
        plans = []
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.pipeline() as pipeline:
                    for change in changes:
                        plan = await _Plan.make(self, conn, change)
                        if plan is not None:
                            plans.append(plan)
                    await pipeline.sync()
                for plan in plans:
                    await plan.collect()
                await conn.rollback()
            except psycopg.Error:
                # A failed pipeline skips what followed the error (a check's prepare among
                # them): the next call starts over on a new session.
                await conn.close()
                raise
        return plans


def _claims_key(sub: Subscription) -> str:
    return sub.claims_key


# One change's work in one call, in the feed's own session (pg_temp: nothing is added to
# the project's schema), from one jsonb argument (so the statement is always the same,
# prepared once): the new and old rows cast to their columns' types (realtime.cast), each
# filter compared as its column's type (realtime.check_equality_op), and realtime.apply_rls's
# loop: for each distinct claims whose filters passed, the role and request.jwt.claims set,
# the row selected by its primary key (a statement prepared once per table and session, as
# apply_rls prepares walrus_rls_stmt: planned once, 3-4x faster), the role reset.
CHANGE_FUNCTION = """
create or replace function pg_temp.realtime_change(change jsonb) returns jsonb
language plpgsql as $$
declare
  result jsonb := '{}';
  row_ jsonb;
  passes boolean[] := '{}';
  visible boolean[] := '{}';
  ok boolean;
  side text;
  test jsonb;
  entry jsonb;
  alternative jsonb;
begin
  foreach side in array array['new', 'old'] loop
    row_ := '{}';
    if jsonb_array_length(change -> side) > 0 then
      execute 'select jsonb_build_object(' || (
        select string_agg(format('%L, %L::%s', c ->> 0, c ->> 2, c ->> 1), ', ')
        from jsonb_array_elements(change -> side) c) || ')' into row_;
    end if;
    result := result || jsonb_build_object(side, row_);
  end loop;
  -- test: [value, type, operator, filter value, negate]
  for test in select * from jsonb_array_elements(change -> 'tests') loop
    if test ->> 2 = 'IS' then
      execute format('select %L::%s is ' || case when (test -> 4)::boolean then 'not ' else '' end
                     || upper(test ->> 3), test ->> 0, test ->> 1) into ok;
    elsif test ->> 2 = 'IS DISTINCT FROM' then
      execute format('select %L::%s is ' || case when (test -> 4)::boolean then 'not ' else '' end
                     || 'distinct from %L::%s', test ->> 0, test ->> 1, test ->> 3, test ->> 1)
        into ok;
    else
      execute format('select %L::%s ' || (test ->> 2) || ' (%L::%s)', test ->> 0, test ->> 1,
                     test ->> 3,
                     (test ->> 1) || case when test ->> 2 = '= any' then '[]' else '' end)
        into ok;
      if (test -> 4)::boolean then
        ok := not ok;
      end if;
    end if;
    passes := passes || coalesce(ok, false);
  end loop;
  for entry in select * from jsonb_array_elements(change -> 'claims') loop
    ok := false;
    -- the subscriptions of these claims: does one of them pass all its filters?
    for alternative in select * from jsonb_array_elements(entry -> 2) loop
      if not exists (select from jsonb_array_elements_text(alternative) i
                     where i::int < 0 or not passes[i::int + 1]) then
        ok := true;
        exit;
      end if;
    end loop;
    if ok then
      begin
        perform set_config('role', entry ->> 1, true);
        perform set_config('request.jwt.claims', entry ->> 0, true);
        execute format('execute %I(%L)', change ->> 'statement',
                       array(select jsonb_array_elements_text(change -> 'key'))) into ok;
        perform set_config('role', 'none', true);
      exception when others then
        perform set_config('role', 'none', true);
        ok := false;
      end;
    end if;
    visible := visible || coalesce(ok, false);
  end loop;
  return result || jsonb_build_object('passes', to_jsonb(passes), 'visible', to_jsonb(visible));
end
$$;
"""


class _Plan:
    """One change's call and, once it answered, its deliveries."""

    def __init__(self, table: Table, change: Change, subs: list[Subscription]) -> None:
        self.table, self.change, self.subs = table, change, subs
        self.values: dict[str, Any] = {}
        self.old: dict[str, Any] = {}
        self.passes: dict[Filter, bool] = {}
        self.visible: dict[str, bool] = {}  # claims json -> may select the row
        self._filters: list[Filter] = []
        self._claims: list[str] = []
        self._cursor: psycopg.AsyncCursor[Any] | None = None

    @classmethod
    async def make(
        cls, feed: Feed, conn: psycopg.AsyncConnection[Any], change: Change
    ) -> _Plan | None:
        table = feed.tables.get(change.relation.oid)
        subs = [
            s
            for s in feed.subscriptions
            if change.relation.oid in s.tables and s.action in ("*", change.action)
        ]
        if table is None or not subs:
            return None
        plan = cls(table, change, subs)
        if table.rls and table.oid not in feed.prepared:
            await conn.execute(
                sql.SQL("prepare {}(text[]) as ").format(sql.Identifier(table.statement))
                + sql.SQL(table.check_query())
            )
            feed.prepared.add(table.oid)
        plan._cursor = conn.cursor()
        await plan._cursor.execute("select pg_temp.realtime_change(%s::jsonb)", (plan._call(),))
        return plan

    def _call(self) -> str:
        new = {k: v for k, v in self.change.new.items() if v is not UNCHANGED}
        old = {k: v for k, v in self.change.old.items() if v is not UNCHANGED}
        for k, v in self.change.new.items():  # an unchanged TOASTed value: the old one
            if v is UNCHANGED and k in old:
                new[k] = old[k]
        if self.change.action == "UPDATE" and not old:  # the key did not change
            old = {c.name: new.get(c.name) for c in self.table.pk}
        tested = new if self.change.action != "DELETE" else old
        self._filters = sorted(
            {f for s in self.subs for f in s.filters if f.column in tested}, key=str
        )
        index = {f: i for i, f in enumerate(self._filters)}
        call: dict[str, Any] = {
            "new": self._typed(new),
            "old": self._typed(old),
            "tests": [
                [tested[f.column], self._cast(f.column), OPERATORS[f.op], f.value, f.negate]
                for f in self._filters
            ],
            "claims": [],
        }
        if self.table.rls and self.change.action != "DELETE" and self.table.pk:
            call["statement"] = self.table.statement
            call["key"] = [new.get(c.name) for c in self.table.pk]
            # A role that may not select the primary key gets Realtime's 401, unchecked.
            wanted: dict[str, list[Subscription]] = {}
            for sub in self.subs:
                if self._reads_pk(sub):
                    wanted.setdefault(_claims_key(sub), []).append(sub)
            self._claims = list(wanted)
            call["claims"] = [
                [key, subs[0].role, [[index.get(f, -1) for f in s.filters] for s in subs]]
                for key, subs in wanted.items()
            ]
        return json.dumps(call)

    def _cast(self, name: str) -> str:
        column = self.table.column(name)
        return column.cast if column else "text"

    def _typed(self, row: dict[str, Any]) -> list[list[Any]]:
        return [[name, self._cast(name), value] for name, value in row.items()]

    def _reads_pk(self, sub: Subscription) -> bool:
        readable = self.table.readable.get(sub.role, set())
        return all(c.name in readable for c in self.table.pk)

    async def collect(self) -> None:
        assert self._cursor is not None
        row = await self._cursor.fetchone()
        assert row is not None
        answer = row[0]
        self.values, self.old = answer["new"], answer["old"]
        self.passes = dict(zip(self._filters, answer["passes"], strict=True))
        self.visible = dict(zip(self._claims, answer["visible"], strict=True))

    def deliver(self) -> None:
        by_channel: dict[Any, tuple[list[int], dict[str, Any]]] = {}
        for sub in self.subs:
            if not all(self.passes.get(f, False) for f in sub.filters):
                continue
            checked = self.table.rls and self.change.action != "DELETE" and self._reads_pk(sub)
            if checked and not self.visible.get(_claims_key(sub), False):
                continue
            entry = by_channel.get(sub.deliver)
            if entry is None:
                by_channel[sub.deliver] = ([sub.id], self._payload(sub.role))
            elif sub.id not in entry[0]:
                entry[0].append(sub.id)
        for deliver, (ids, data) in by_channel.items():
            deliver(ids, data)

    def _payload(self, role: str) -> dict[str, Any]:
        """What realtime.apply_rls answers for this role: the columns it may select."""
        readable = self.table.readable.get(role, set())
        change = self.change
        data: dict[str, Any] = {
            "schema": self.table.schema,
            "table": self.table.name,
            "commit_timestamp": change.commit_time.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{change.commit_time.microsecond // 1000:03d}Z",
            "type": change.action,
            "columns": [
                {"name": c.name, "type": c.typname}
                for c in self.table.columns
                if c.name in readable
            ],
            "errors": None,
        }
        if change.action != "DELETE" and not all(c.name in readable for c in self.table.pk):
            data["errors"] = ["Error 401: Unauthorized"]
            del data["commit_timestamp"], data["columns"]
            return data
        if change.action in ("INSERT", "UPDATE"):
            data["record"] = {k: v for k, v in self.values.items() if k in readable}
        if change.action == "UPDATE":
            data["old_record"] = {k: v for k, v in self.old.items() if k in readable}
        if change.action == "DELETE":
            pk = {c.name for c in self.table.pk}
            data["old_record"] = {
                k: v
                for k, v in self.old.items()
                if k in readable and (not self.table.rls or k in pk)
            }
        return data
