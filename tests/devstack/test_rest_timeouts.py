"""Supabase's per-role limits hold for every request through the REST server.

A Supabase database has `statement_timeout` 8s and `lock_timeout` 8s on `authenticator`
(the role PostgREST logs in as, so they hold for every request, service_role's too), 3s
on anon and 8s on authenticated (PostgREST >= 12 applies an impersonated role's own
settings per transaction), and PostgREST hoists a function's own `statement_timeout`
into the transaction (supabase/postgres migrations; PostgREST docs, "Impersonated Role
Settings", "Hoisted Function Settings"). These tests call real RPCs over HTTP and wait
for the real limits: a statement past them is cancelled with 57014.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.devstack.conftest import RestWorld

TIMEOUT_SQL = """
create or replace function public.conformance_limits() returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'role', current_user,
    'statement_timeout', current_setting('statement_timeout'),
    'lock_timeout', current_setting('lock_timeout'))
$$;
create or replace function public.conformance_sleep(seconds double precision) returns integer
language sql volatile as $$ select 1 from pg_sleep(seconds) $$;
create or replace function public.conformance_sleep_hoisted(seconds double precision)
returns integer language sql volatile set statement_timeout = '1s'
as $$ select 1 from pg_sleep(seconds) $$;
grant execute on function public.conformance_limits(), public.conformance_sleep(double precision),
  public.conformance_sleep_hoisted(double precision) to anon, authenticated, service_role;
notify pgrst, 'reload schema';
"""


@pytest.fixture(scope="module")
def timeouts(rest: RestWorld) -> RestWorld:
    rest.sql(TIMEOUT_SQL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = httpx.post(
            rest.rest_url + "/rpc/conformance_limits", json={}, headers={"apikey": rest.anon_key}
        )
        if reply.status_code == 200:
            return rest
        time.sleep(0.05)
    raise RuntimeError("the REST schema cache never saw the timeout functions")


def _headers(rest: RestWorld, who: str) -> dict[str, str]:
    if who == "anon":
        return {"apikey": rest.anon_key}
    if who == "service_role":
        return {"apikey": rest.service_key, "Authorization": f"Bearer {rest.service_key}"}
    return {"apikey": rest.anon_key, "Authorization": f"Bearer {rest.token('alice')}"}


def _call(rest: RestWorld, who: str, name: str, body: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    reply = httpx.post(
        f"{rest.rest_url}/rpc/{name}", json=body, headers=_headers(rest, who), timeout=60
    )
    return time.monotonic() - started, reply


def test_the_roles_have_supabases_settings(timeouts: RestWorld) -> None:
    rows = timeouts.sql(
        "select r.rolname, s.setconfig from pg_db_role_setting s"
        " join pg_roles r on r.oid = s.setrole"
        " where s.setdatabase = 0"
        " and r.rolname in ('authenticator', 'anon', 'authenticated', 'service_role')"
    )
    settings = {name: sorted(config) for name, config in rows}
    assert "statement_timeout=8s" in settings["authenticator"]
    assert "lock_timeout=8s" in settings["authenticator"]
    assert "statement_timeout=3s" in settings["anon"]
    assert "statement_timeout=8s" in settings["authenticated"]
    assert not any(s.startswith("statement_timeout=") for s in settings.get("service_role", []))


@pytest.mark.parametrize(
    ("who", "statement", "lock"),
    [("anon", "3s", "8s"), ("authenticated", "8s", "8s"), ("service_role", "8s", "8s")],
)
def test_every_request_runs_under_its_roles_limits(
    timeouts: RestWorld, who: str, statement: str, lock: str
) -> None:
    _, reply = _call(timeouts, who, "conformance_limits", {})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"role": who, "statement_timeout": statement, "lock_timeout": lock}


def test_a_statement_past_the_limit_is_cancelled_with_57014(timeouts: RestWorld) -> None:
    """The real limits, waited for (concurrently: about 8 s in all): anon's RPC is
    cancelled after 3 s, authenticated's and service_role's (the workers' and jobs')
    after 8 s."""
    calls = {"anon": 6.0, "authenticated": 12.0, "service_role": 12.0}
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {
            who: pool.submit(_call, timeouts, who, "conformance_sleep", {"seconds": seconds})
            for who, seconds in calls.items()
        }
        results = {who: future.result() for who, future in futures.items()}
    limits = {"anon": 3.0, "authenticated": 8.0, "service_role": 8.0}
    for who, (elapsed, reply) in results.items():
        assert reply.status_code == 500, (who, reply.text)
        assert reply.json()["code"] == "57014", (who, reply.text)
        assert reply.json()["message"] == "canceling statement due to statement timeout"
        assert limits[who] - 0.2 <= elapsed < limits[who] + 2.5, (who, elapsed)


def test_a_functions_own_statement_timeout_is_hoisted(timeouts: RestWorld) -> None:
    """`set statement_timeout` on the function governs the request (1 s here), as
    PostgREST's db-hoisted-tx-settings make it; without hoisting the 3 s sleep would
    finish under the role's 8 s."""
    elapsed, reply = _call(timeouts, "service_role", "conformance_sleep_hoisted", {"seconds": 3})
    assert reply.status_code == 500, reply.text
    assert reply.json()["code"] == "57014"
    assert 0.8 <= elapsed < 2.5, elapsed
    elapsed, reply = _call(timeouts, "service_role", "conformance_sleep_hoisted", {"seconds": 0.1})
    assert reply.status_code == 200, reply.text
