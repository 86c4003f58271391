"""The document loader's one round trip: an RPC against PostgREST embedding (bench/pdf.py).

``shared.documents.load_invoice_document`` calls ``public.invoice_document`` (one SQL
function building the JSON). The alternative is one GET embedding the items, payments,
client and the organization's settings (``EMBED_SELECT``). Both are timed alternately,
call by call, through the local gateway over one keep-alive connection, as a user (RLS)
and as the service role.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.common import Summary, connect, log, user_token
from devstack import pgtap, postgres
from devstack.stack import serve
from shared import db
from shared.documents import BUSINESS_COLUMNS, business_of, load_invoice_document
from shared.settings import get_settings

# The same read by PostgREST embedding: invoices -> clients (many-to-one), ->
# invoice_items and payments (one-to-many), -> organizations -> organization_settings
# (one-to-one), in one GET.
EMBED_SELECT = (
    "*,"
    "client:clients(id,company_name,contact_person,email,phone,address,currency),"
    "items:invoice_items(id,position,description,quantity,rate,amount),"
    "payments(id,amount,currency,payment_date,payment_method,reference_number),"
    f"organization:organizations(name,settings:organization_settings({BUSINESS_COLUMNS}))"
)


def load_by_embedding(client: Any, org: str, invoice: str) -> dict[str, Any] | None:
    rows = db.run(
        client.from_("invoices")
        .select(EMBED_SELECT)
        .eq("id", invoice)
        .eq("organization_id", org)
        .order("position", foreign_table="items")
        .order("created_at", foreign_table="items")
        .order("id", foreign_table="items")
        .order("payment_date", foreign_table="payments")
        .order("created_at", foreign_table="payments")
        .order("id", foreign_table="payments")
        .limit(1)
    ).data
    if not rows:
        return None
    document: dict[str, Any] = rows[0]
    organization = document.pop("organization", None)
    if isinstance(organization, dict) and isinstance(organization.get("settings"), list):
        organization["settings"] = (organization["settings"] or [None])[0]
    document["business"] = business_of(organization or {})
    return document


def measure(calls: int) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        assert pgtap.run_file(cluster.url, pgtap.SETUP_FILE).ok
        with connect(cluster.url) as conn:
            uid = conn.execute("select tests.create_supabase_user('bench')::text").fetchone()
            org = conn.execute("select tests.personal_org('bench')::text").fetchone()
            assert uid is not None
            assert org is not None
            user_id, org_id = uid[0], org[0]
            client = conn.execute(
                "insert into public.clients (organization_id, company_name, currency, email,"
                " address) values (%s, 'Müller & Söhne GmbH', 'USD', 'a@b.example',"
                " 'Friedrichstraße 123\n10117 Berlin') returning id::text",
                (org_id,),
            ).fetchone()
            assert client is not None
            invoice = conn.execute(
                "insert into public.invoices (organization_id, client_id, currency, due_date,"
                " notes, terms) values (%s, %s, 'USD', current_date + 30, 'Thanks', 'Net 30')"
                " returning id::text",
                (org_id, client[0]),
            ).fetchone()
            assert invoice is not None
            invoice_id = invoice[0]
            for n in range(6):
                conn.execute(
                    "insert into public.invoice_items (organization_id, invoice_id, currency,"
                    " position, description, quantity, rate) values (%s, %s, 'USD', %s,"
                    " %s, %s, 125.5)",
                    (org_id, invoice_id, n, f"Line {n} of the invoice", n + 1),
                )
            conn.execute("update public.invoices set status = 'sent' where id = %s", (invoice_id,))
            conn.execute(
                "insert into public.payments (invoice_id, amount) values (%s, 100)", (invoice_id,)
            )
        gateway = serve(cluster.url)
        try:
            keys = gateway.config.keys
            os.environ.update(
                {
                    "SUPABASE_URL": gateway.url,
                    "SUPABASE_ANON_KEY": keys.anon_key,
                    "SUPABASE_JWT_SECRET": keys.jwt_secret,
                }
            )
            get_settings.cache_clear()
            settings = get_settings()
            token = user_token(keys.jwt_secret, user_id, 3600)
            clients = {
                "user": db.rest(settings, token),
                "service role": db.rest(settings, service=keys.service_role_key),
            }
            for who, rest in clients.items():
                embedded = load_by_embedding(rest, org_id, invoice_id)
                by_rpc = load_invoice_document(rest, org_id, invoice_id)
                assert embedded is not None
                assert by_rpc is not None
                assert embedded["items"] == by_rpc["items"], who
                assert embedded["business"] == by_rpc["business"], who
            log(f"loader: {calls} calls per way and caller, alternating")
            for _ in range(20):
                for rest in clients.values():
                    load_invoice_document(rest, org_id, invoice_id)
                    load_by_embedding(rest, org_id, invoice_id)
            for _ in range(calls):
                for who, rest in clients.items():
                    for way, load in (
                        ("rpc (shared.documents)", load_invoice_document),
                        ("embedding", load_by_embedding),
                    ):
                        started = time.perf_counter()
                        load(rest, org_id, invoice_id)
                        series.setdefault(f"{way}, {who}", []).append(
                            (time.perf_counter() - started) * 1e3
                        )
        finally:
            db.close()
            gateway.stop()
    return series


def summaries(series: dict[str, list[float]]) -> dict[str, Summary]:
    return {key: Summary.of(values) for key, values in series.items()}
