"""``python -m bench.parties``: what sealing the parties' fields costs the routes that read
and write them (issues 17 and 19, migration 20261206170200), before and after in one run.

* One ephemeral PostgreSQL with the migrations, the local REST gateway and moto's KMS
  (``devstack.aws.provision``, as ``make dev``), the functions' handlers in process.
* "before": organization A as the code before the seals left it: its VAT id and payment
  instructions in the clear columns, 100 clients without VAT ids. "after": organization
  B with its VAT id, tax number, IBAN and payment instructions set through the API
  (sealed), 100 clients with VAT ids created through the API (sealed and hashed).
* Timed, the two organizations alternating call by call (the machine's noise falls on
  both): GET /api/settings; PUT /api/settings/business (A: the business name; B: the VAT
  id and IBAN too, sealed and hashed on the way in); GET /api/clients?page_size=100. 20
  warm-up calls, then ``--calls`` each; median and p95, and the ratio after/before.
* KMS calls: a fresh instance (data keys forgotten) listing B's 100 clients, and a warm
  one: the data-key cache makes it one ``Decrypt`` at most, not one per row.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from typing import Any

import httpx
from moto.server import ThreadedMotoServer

from bench.common import Summary, connect, log, user_token
from devstack import postgres
from devstack.aws import provision
from devstack.functions import FunctionHost, http_event, load_functions
from devstack.postgres import free_port
from devstack.stack import serve
from shared import aws, db, envelope
from shared.settings import get_settings

VAT_IDS = ("DE136695976", "FR61954506077", "NL004495445B01", "ATU13585627", "BE0203201340")


class _Counting:
    def __init__(self, client: Any, calls: list[str]) -> None:
        self._client = client
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        self._calls.append(name)
        return getattr(self._client, name)


def _call(
    host: FunctionHost,
    token: str,
    org: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: str = "",
) -> tuple[float, Any]:
    spec, params, _ = host.match(method, path)
    assert spec is not None, path
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"authorization": f"Bearer {token}", "x-organization-id": org}
    if body is not None:
        headers["content-type"] = "application/json"
    event = http_event(spec, method, path, query, headers, raw, params)
    handler = host.handler(spec)

    def one() -> tuple[float, Any]:
        started = time.perf_counter()
        result = handler(event, None)
        elapsed = (time.perf_counter() - started) * 1000
        if result["statusCode"] >= 400:
            raise RuntimeError(f"{path}: {result['statusCode']} {result['body'][:300]}")
        return elapsed, json.loads(result["body"]) if result.get("body") else None

    return host._pool.submit(one).result()


def _people(conn: Any) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for tenant in ("a", "b"):
        user = str(uuid.uuid4())
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at,"
            " updated_at, email_confirmed_at) values (%s, 'authenticated', 'authenticated', %s,"
            ' \'{"business_name": "Bench parties"}\', now(), now(), now())',
            (user, f"owner-{tenant}@bench.invoiceflow.local"),
        )
        org = conn.execute(
            "select organization_id::text from public.memberships where user_id = %s", (user,)
        ).fetchone()[0]
        found[tenant] = (user, str(org))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args(argv)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    host_, port = moto.get_host_and_port()
    os.environ.update(provision(f"http://{host_}:{port}").environment())
    aws.reset()
    envelope.forget_keys()
    results: dict[str, Summary] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:
            people = _people(conn)
            org_a = people["a"][1]
            conn.execute(
                "update public.organization_settings set tax_id = 'DE136695976',"
                " default_payment_instructions = 'IBAN DE89 3704 0044 0532 0130 00'"
                " where organization_id = %s",
                (org_a,),
            )
            conn.execute(
                "insert into public.clients (organization_id, company_name, currency)"
                " select %s, 'Client ' || g, 'EUR' from generate_series(1, %s) g",
                (org_a, args.clients),
            )
        gateway = serve(cluster.url)
        try:
            keys = gateway.config.keys
            os.environ.update(
                {
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                    "LOG_LEVEL": "WARNING",
                    "RATE_LIMIT_PER_WINDOW": "1000000",
                }
            )
            get_settings.cache_clear()
            db._Instance.http = httpx.Client(timeout=10)
            host = FunctionHost(load_functions())
            token = {t: user_token(keys.jwt_secret, people[t][0]) for t in ("a", "b")}
            org = {t: people[t][1] for t in ("a", "b")}
            _call(
                host,
                token["b"],
                org["b"],
                "PUT",
                "/api/settings/business",
                body={
                    "tax_id": "DE136695976",
                    "tax_registration_id": "21/815/08150",
                    "iban": "DE89370400440532013000",
                    "default_payment_instructions": "IBAN DE89 3704 0044 0532 0130 00",
                },
            )
            for n in range(args.clients):
                _call(
                    host,
                    token["b"],
                    org["b"],
                    "POST",
                    "/api/clients",
                    body={"company_name": f"Client {n}", "vat_id": VAT_IDS[n % len(VAT_IDS)]},
                )
            cases: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None, str]] = [
                ("GET /api/settings", "GET", "/api/settings", None, None, ""),
                (
                    "PUT /api/settings/business",
                    "PUT",
                    "/api/settings/business",
                    {"business_name": "Bench A"},
                    {
                        "business_name": "Bench B",
                        "tax_id": "DE136695976",
                        "iban": "DE89370400440532013000",
                    },
                    "",
                ),
                (
                    f"GET /api/clients (page of {args.clients})",
                    "GET",
                    "/api/clients",
                    None,
                    None,
                    f"page_size={args.clients}",
                ),
            ]
            for label, method, path, body_a, body_b, query in cases:
                took: dict[str, list[float]] = {"a": [], "b": []}
                for i in range(20 + args.calls):
                    for tenant, body in (("a", body_a), ("b", body_b)):
                        elapsed, answer = _call(
                            host, token[tenant], org[tenant], method, path, body=body, query=query
                        )
                        if i >= 20:
                            took[tenant].append(elapsed)
                    if i == 0 and path == "/api/clients":
                        assert answer["data"][0]["vat_id"] in VAT_IDS, answer["data"][0]
                before, after = Summary.of(took["a"]), Summary.of(took["b"])
                results[f"{label}, before (clear)"] = before
                results[f"{label}, after (sealed)"] = after
                log(
                    f"{label}: before p50 {before.median:.1f} ms p95 {before.p95:.1f} ms; after"
                    f" p50 {after.median:.1f} ms p95 {after.p95:.1f} ms; ratio of medians"
                    f" {after.median / before.median:.2f}"
                )
            # KMS calls for a page of 100 sealed VAT ids: a fresh instance, then a warm one.
            calls: list[str] = []
            kms = aws.client("kms")
            original = envelope._kms
            envelope._kms = lambda: _Counting(kms, calls)
            try:
                envelope.forget_keys()
                _call(host, token["b"], org["b"], "GET", "/api/clients", query="page_size=100")
                fresh = len(calls)
                _call(host, token["b"], org["b"], "GET", "/api/clients", query="page_size=100")
                warm = len(calls) - fresh
            finally:
                envelope._kms = original
            log(
                f"KMS calls listing {args.clients} clients with sealed VAT ids: fresh instance"
                f" {fresh} ({', '.join(calls[:fresh])}), warm {warm}"
            )
            host.close()
        finally:
            gateway.stop()
    moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
