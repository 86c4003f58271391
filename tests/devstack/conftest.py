"""Fixtures for the local stack's conformance tests: one gateway (REST + Auth) over the
session's PostgreSQL, reached over real HTTP by the official Supabase clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import postgrest
import psycopg
import pytest
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient

from devstack.postgres import Database
from devstack.stack import serve
from tests.stacks import Target, local_only


@pytest.fixture(scope="session")
def auth_stack(stack: Target) -> Target:
    """Where the Auth conformance tests send their requests (the same gateway)."""
    return stack


@pytest.fixture
def gotrue(auth_stack: Target) -> Iterator[Callable[[], SyncGoTrueClient]]:
    """A factory of official Auth clients (anon key) pointed at the local Auth server."""
    made: list[SyncGoTrueClient] = []

    def make() -> SyncGoTrueClient:
        client = SyncGoTrueClient(
            url=auth_stack.url + "/auth/v1",
            headers={"apikey": auth_stack.config.keys.anon_key},
            auto_refresh_token=False,
            persist_session=False,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def gotrue_admin(auth_stack: Target) -> Iterator[SyncGoTrueAdminAPI]:
    """The official admin API client, authorized with the service-role key."""
    key = auth_stack.config.keys.service_role_key
    admin = SyncGoTrueAdminAPI(
        url=auth_stack.url + "/auth/v1",
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )
    yield admin
    admin.close()


# --------------------------------------------------------------------------------------
# REST (PostgREST-compatible server) conformance fixtures.

REST_CONFORMANCE_SQL = """
create table if not exists public.conformance_items (
  id integer primary key,
  name text not null,
  category text,
  price numeric(10, 2),
  tags text[],
  data jsonb,
  created date,
  active boolean,
  note text
);
create table if not exists public.conformance_writes (
  id serial primary key,
  name text not null unique,
  qty integer not null default 5 check (qty >= 0),
  note text default 'none',
  created_at timestamptz not null default now()
);
create table if not exists public.conformance_people (id integer primary key, name text not null);
create table if not exists public.conformance_messages (
  id integer primary key,
  body text not null,
  sender_id integer not null
    constraint conformance_messages_sender_fkey references public.conformance_people (id),
  receiver_id integer
    constraint conformance_messages_receiver_fkey references public.conformance_people (id)
);
create table if not exists public.conformance_profiles (
  person_id integer primary key references public.conformance_people (id),
  bio text
);
create table if not exists public.conformance_notes (
  id serial primary key,
  owner uuid default auth.uid(),
  body text not null
);
alter table public.conformance_notes enable row level security;
drop policy if exists "anyone may write" on public.conformance_notes;
create policy "anyone may write" on public.conformance_notes for insert
  to authenticated with check (true);
drop policy if exists "owners read" on public.conformance_notes;
create policy "owners read" on public.conformance_notes for select
  to authenticated using (owner = (select auth.uid()));
grant select, insert on public.conformance_notes to authenticated;
grant usage on sequence public.conformance_notes_id_seq to authenticated;
create or replace view public.conformance_cheap_items as
  select id, name, price from public.conformance_items where price < 10;

grant select, insert, update, delete on public.conformance_items, public.conformance_writes,
  public.conformance_people, public.conformance_messages, public.conformance_profiles,
  public.conformance_cheap_items to anon, authenticated, service_role;
grant usage on sequence public.conformance_writes_id_seq to anon, authenticated, service_role;

truncate public.conformance_items, public.conformance_messages, public.conformance_profiles,
  public.conformance_people cascade;
insert into public.conformance_items
select i, 'item ' || i, (array['tools', 'food', 'toys'])[1 + i % 3],
  round(i * 1.25, 2), array['t' || (i % 4), 'all'],
  jsonb_build_object('size', i % 5,
    'meta', jsonb_build_object('color', (array['red', 'blue'])[1 + i % 2])),
  date '2026-01-01' + i, i % 2 = 0, case when i % 5 = 0 then null else 'n' || i end
from generate_series(1, 30) i;
insert into public.conformance_people values (1, 'ann'), (2, 'ben'), (3, 'cid');
insert into public.conformance_messages values
  (1, 'hi ben', 1, 2), (2, 'hi ann', 2, 1), (3, 'to nobody', 1, null), (4, 'hello', 3, 1);
insert into public.conformance_profiles values (1, 'ann bio');

create or replace function public.conformance_add(a integer, b integer default 1)
returns integer language sql immutable as $$ select a + b $$;
create or replace function public.conformance_void() returns void language sql volatile as $$ $$;
create or replace function public.conformance_series(n integer) returns setof integer
language sql immutable as $$ select generate_series(1, n) $$;
create or replace function public.conformance_item(item_id integer)
returns public.conformance_items language sql stable
as $$ select * from public.conformance_items where id = item_id $$;
create or replace function public.conformance_items_in(cat text)
returns setof public.conformance_items language sql stable
as $$ select * from public.conformance_items where category = cat order by id $$;
create or replace function public.conformance_pairs()
returns table (k text, v integer) language sql stable
as $$ values ('a', 1), ('b', 2), ('c', 3) $$;
create or replace function public.conformance_echo(jsonb) returns jsonb
language sql immutable as $$ select $1 $$;
create or replace function public.conformance_text() returns text
language sql immutable as $$ select 'hello' $$;
create or replace function public.conformance_null() returns integer
language sql immutable as $$ select null::integer $$;
create or replace function public.conformance_whoami() returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'uid', auth.uid(), 'role', current_user, 'claims', auth.jwt(),
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'headers', current_setting('request.headers', true)::jsonb,
    'cookies', current_setting('request.cookies', true)::jsonb,
    'read_only', current_setting('transaction_read_only'),
    'search_path', current_setting('search_path'),
    'timeout', current_setting('statement_timeout'))
$$;
create or replace function public.conformance_insert(name text) returns integer
language sql volatile as $$
  insert into public.conformance_writes (name) values (conformance_insert.name) returning id
$$;
create or replace function public.conformance_fail(code text) returns integer
language plpgsql as $$
begin
  raise exception 'failed on purpose' using errcode = code, detail = 'some detail',
    hint = 'some hint';
end;
$$;
grant execute on function public.conformance_add(integer, integer), public.conformance_void(),
  public.conformance_series(integer), public.conformance_item(integer),
  public.conformance_items_in(text), public.conformance_pairs(), public.conformance_echo(jsonb),
  public.conformance_text(), public.conformance_null(), public.conformance_whoami(),
  public.conformance_insert(text), public.conformance_fail(text)
  to anon, authenticated, service_role;
"""


class RestWorld:
    """The REST server under test plus who and what lives in its database."""

    def __init__(self, server: Target, database: Database) -> None:
        self.server = server
        self.database = database
        self.url: str = server.url
        self.rest_url = server.url + "/rest/v1"
        self.config = server.config
        self.anon_key: str = server.config.keys.anon_key
        self.service_key: str = server.config.keys.service_role_key
        self.users: dict[str, dict[str, Any]] = {}

    def token(self, name: str, **claims: Any) -> str:
        """An access token for a user as Supabase Auth issues them (HS256)."""
        user = self.users[name]
        now = int(time.time())
        payload = {
            "sub": user["id"],
            "role": "authenticated",
            "aud": "authenticated",
            "iat": now,
            "exp": now + 3600,
            "email": user["email"],
        }
        payload.update(claims)
        return jwt.encode(payload, self.config.keys.jwt_secret, algorithm="HS256")

    def client(self, token: str | None = None) -> Any:
        """The official client (typed Any: tests index the JSON rows it returns freely)."""
        headers = {"apikey": self.anon_key}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return postgrest.SyncPostgrestClient(base_url=self.rest_url, headers=headers)

    def http(self, token: str | None = None, key: str | None = None) -> httpx.Client:
        headers = {"apikey": key or self.anon_key}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.rest_url, headers=headers, timeout=10)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []


def _wait_for_reload(world: RestWorld) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(world.database.url, autocommit=True) as conn:
        conn.execute("notify pgrst, 'reload schema'")
    while time.monotonic() < deadline:
        response = httpx.get(
            world.rest_url + "/conformance_people?select=id&limit=1",
            headers={"apikey": world.anon_key},
        )
        if response.status_code == 200:
            return
        time.sleep(0.05)
    raise RuntimeError("the REST schema cache never saw the conformance objects")


@pytest.fixture(scope="session")
def rest_server(stack: Target) -> Target:
    """Where the REST conformance tests send their requests (the same gateway)."""
    return stack


# Drops what the conformance tests made in public (tables, views, functions named
# conformance_*): the database may be a real Supabase's, used again by the next run, and
# the schema checks (pgTAP 005, 130) hold for every object in public.
DROP_CONFORMANCE_SQL = """
do $$
declare
  commands text[];
  command text;
begin
  -- Listed first, then run: a drop cascades to what depends on it (a function of a
  -- table's row type), which a lazily read list would then name by a dead oid.
  select coalesce(array_agg(cmd order by kind), '{}') into commands from (
    select 1 as kind, format('drop function if exists %s cascade', p.oid::regprocedure) as cmd
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname like 'conformance\\_%'
    union all
    select case c.relkind when 'v' then 2 else 3 end,
      format('drop %s if exists %s cascade',
             case c.relkind when 'v' then 'view' else 'table' end, c.oid::regclass)
    from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v')
      and c.relname like 'conformance\\_%'
  ) listed;
  foreach command in array commands loop
    execute command;
  end loop;
end
$$;
"""


@pytest.fixture(scope="session")
def rest(database: Database, rest_server: Target) -> Iterator[RestWorld]:
    """The REST server over the session database with the conformance objects and two
    users (alice, bob), each in their own personal organization with one client; the
    objects are dropped after the session."""
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(REST_CONFORMANCE_SQL)
    world = RestWorld(rest_server, database)
    for name in ("alice", "bob"):
        uid = world.sql("select tests.create_supabase_user(%s)::text", f"rest-{name}")[0][0]
        org = world.sql("select tests.personal_org(%s)::text", f"rest-{name}")[0][0]
        email = world.sql("select email from auth.users where id = %s", uid)[0][0]
        client = world.sql(
            "insert into public.clients (organization_id, company_name, currency)"
            " values (%s, %s, 'USD') returning id::text",
            org,
            f"{name} client",
        )[0][0]
        world.users[name] = {"id": uid, "org": org, "email": email, "client": client}
    _wait_for_reload(world)
    yield world
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(DROP_CONFORMANCE_SQL)


@pytest.fixture(scope="session")
def rest_single_connection(rest: RestWorld) -> Iterator[RestWorld]:
    """A second local gateway over the same database with a pool of exactly one connection."""
    local_only("a pool of one connection")
    server = serve(rest.database.url, db_pool_size=1)
    world = RestWorld(server, rest.database)
    world.users = rest.users
    yield world
    server.stop()
