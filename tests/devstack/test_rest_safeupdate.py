"""UPDATE and DELETE without a WHERE clause are refused for API requests, as on Supabase,
which preloads pg-safeupdate for the roles its Data API logs in as (supabase/postgres
migrations 20220118070449, 20260403172611, 20260413000000): whether PostgREST builds the
statement (PATCH or DELETE without a filter) or a function it calls runs it. PostgREST
answers the refusal 400 (its Error.hs: 21000 ending "requires a WHERE clause"). The
local module is devstack/safeupdate; postgres (migrations, jobs' SQL) has it off.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo

from tests.devstack.conftest import RestWorld
from tests.stacks import local_only

SAFEUPDATE_SQL = """
create or replace function public.conformance_touch_all(guarded boolean) returns integer
language plpgsql volatile as $$
declare
  touched integer;
begin
  if guarded then
    update public.conformance_writes set note = note where true;
  else
    update public.conformance_writes set note = note;
  end if;
  get diagnostics touched = row_count;
  return touched;
end;
$$;
create or replace function public.conformance_delete_all_in_cte() returns bigint
language sql volatile as $$
  with gone as (delete from public.conformance_writes returning 1) select count(*) from gone
$$;
grant execute on function public.conformance_touch_all(boolean),
  public.conformance_delete_all_in_cte() to anon, authenticated, service_role;
notify pgrst, 'reload schema';
"""


@pytest.fixture(scope="module")
def safe(rest: RestWorld) -> RestWorld:
    rest.sql(SAFEUPDATE_SQL)
    rest.sql(
        "insert into public.conformance_writes (name) values ('safe-1'), ('safe-2')"
        " on conflict (name) do nothing"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = httpx.post(  # harmless: sets each note to itself
            rest.rest_url + "/rpc/conformance_touch_all",
            json={"guarded": True},
            headers={"apikey": rest.anon_key},
        )
        if reply.status_code != 404:
            return rest
        time.sleep(0.05)
    raise RuntimeError("the REST schema cache never saw the safeupdate functions")


def _service(rest: RestWorld) -> dict[str, str]:
    return {"apikey": rest.service_key, "Authorization": f"Bearer {rest.service_key}"}


def _count(rest: RestWorld) -> int:
    return int(rest.sql("select count(*) from public.conformance_writes")[0][0])


def _refused(reply: httpx.Response, command: str) -> None:
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert body["code"] == "21000"
    assert body["message"] == f"{command} requires a WHERE clause"


def test_patch_and_delete_without_a_filter_are_refused(safe: RestWorld) -> None:
    before = _count(safe)
    url = safe.rest_url + "/conformance_writes"
    _refused(httpx.patch(url, json={"note": "all"}, headers=_service(safe)), "UPDATE")
    _refused(httpx.delete(url, headers=_service(safe)), "DELETE")
    assert _count(safe) == before
    assert safe.sql("select count(*) from public.conformance_writes where note = 'all'") == [(0,)]
    # With a filter, the same requests are served.
    one = httpx.patch(url + "?name=eq.safe-1", json={"note": "one"}, headers=_service(safe))
    assert one.status_code == 204, one.text


def test_a_function_called_by_the_api_is_held_to_it_too(safe: RestWorld) -> None:
    """The check is made where every statement is parsed, so it reaches the statements of
    PL/pgSQL and SQL functions, and data-modifying WITH queries."""
    before = _count(safe)
    rpc = safe.rest_url + "/rpc/"
    _refused(
        httpx.post(rpc + "conformance_touch_all", json={"guarded": False}, headers=_service(safe)),
        "UPDATE",
    )
    _refused(
        httpx.post(rpc + "conformance_delete_all_in_cte", json={}, headers=_service(safe)),
        "DELETE",
    )
    assert _count(safe) == before
    guarded = httpx.post(
        rpc + "conformance_touch_all", json={"guarded": True}, headers=_service(safe)
    )
    assert guarded.status_code == 200, guarded.text
    assert guarded.json() == before


def test_the_module_is_on_for_authenticator_and_off_for_postgres(safe: RestWorld) -> None:
    local_only("logs in as authenticator with the local password")
    authenticator = make_conninfo(safe.database.url, user="authenticator")
    with psycopg.connect(authenticator) as conn:
        assert conn.execute("show safeupdate.enabled").fetchone() == ("on",)
        conn.execute("set role service_role")
        with pytest.raises(errors.CardinalityViolation, match="UPDATE requires a WHERE clause"):
            conn.execute("update public.conformance_writes set note = note")
        conn.rollback()
        # Only a superuser may switch it off.
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("set safeupdate.enabled = off")
    with psycopg.connect(safe.database.url) as conn:
        conn.execute("update public.conformance_writes set note = note")
        conn.rollback()
