"""The tax model migration (20261206170400_tax_model.sql) keeps every existing total:
invoices, quotes and credit notes are made with the migrations before it only, in
currencies of 0, 2 and 3 decimals, with rates of up to 3 decimals, discounts, payments,
credit notes of every kind, a converted quote and a recurring profile's invoice; then
the tax model and the migrations after it are applied, and

* every stored total is what it was;
* recomputed (each invoice's row written again, the items of every invoice still open
  written again, so that the new rules run), every total is still what it was;
* every document's breakdown sums to its tax.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devstack import pgtap, postgres
from devstack.postgres import MIGRATIONS_DIR, Database

TAX_MODEL = "20261206170400"

INVOICES = """
select id, subtotal, discount, tax_amount, total_amount, amount_paid, amount_credited, balance_due,
       status
from public.invoices order by id
"""
QUOTES = (
    "select id, subtotal, discount, tax_amount, total_amount, status from public.quotes order by id"
)
CREDIT_NOTES = """
select id, subtotal, discount, tax_amount, total_amount, credit_amount
from public.credit_notes order by id
"""

MAKE = """
select tests.create_supabase_user('keeper');
select tests.authenticate_as('keeper');
insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e570000f001', tests.personal_org('keeper'), 'Dollar', 'USD'),
  ('c0000000-0000-4000-8000-7e570000f002', tests.personal_org('keeper'), 'Yen', 'JPY'),
  ('c0000000-0000-4000-8000-7e570000f003', tests.personal_org('keeper'), 'Dinar', 'KWD');
create temporary table made (name text, id uuid);
grant all on made to authenticated;
create function pg_temp.org() returns uuid language sql
  as $$ select tests.personal_org('keeper') $$;
create function pg_temp.made(which text) returns uuid language sql
  as $$ select id from made where name = which $$;
grant execute on function pg_temp.org(), pg_temp.made(text) to authenticated;
insert into made
select 'usd' || n, (public.create_invoice(pg_temp.org(),
  jsonb_build_object('client_id', 'c0000000-0000-4000-8000-7e570000f001', 'status', 'sent',
                     'tax_rate', (array[0, 7, 8.875, 19, 20.5, 0.001])[1 + n % 6],
                     'discount', (array[0, 0.01, 10.01, 3.33])[1 + n % 4]),
  jsonb_build_array(
    jsonb_build_object('description', 'a', 'quantity', 3, 'rate', 33.335),
    jsonb_build_object('description', 'b', 'quantity', 1.5, 'rate', 0.005 * n + 17),
    jsonb_build_object('description', 'c', 'quantity', 0.3333, 'rate', 99.99))) ->> 'id')::uuid
from generate_series(1, 12) n;
insert into made
select 'jpy' || n, (public.create_invoice(pg_temp.org(),
  jsonb_build_object('client_id', 'c0000000-0000-4000-8000-7e570000f002', 'status', 'sent',
                     'tax_rate', (array[8, 10, 12.345])[1 + n % 3], 'discount', n),
  jsonb_build_array(
    jsonb_build_object('description', 'a', 'quantity', 3, 'rate', 1000.5),
    jsonb_build_object('description', 'b', 'quantity', 1, 'rate', 333.3))) ->> 'id')::uuid
from generate_series(1, 6) n;
insert into made
select 'kwd' || n, (public.create_invoice(pg_temp.org(),
  jsonb_build_object('client_id', 'c0000000-0000-4000-8000-7e570000f003', 'status', 'sent',
                     'tax_rate', (array[5, 15, 0.125])[1 + n % 3], 'discount', 0.007 * n),
  jsonb_build_array(
    jsonb_build_object('description', 'a', 'quantity', 1, 'rate', 10.0005),
    jsonb_build_object('description', 'b', 'quantity', 7, 'rate', 3.333))) ->> 'id')::uuid
from generate_series(1, 6) n;
-- payments, credit notes of each kind
insert into public.payments (organization_id, invoice_id, amount, payment_date)
select pg_temp.org(), id, 10, current_date from made where name in ('usd1', 'usd2', 'usd3');
select public.create_credit_note(pg_temp.org(), pg_temp.made('usd4'),
  '{"kind": "whole"}');
select public.create_credit_note(pg_temp.org(), pg_temp.made('usd5'),
  '{"kind": "amount", "amount": 12.34}');
select public.create_credit_note(pg_temp.org(), pg_temp.made('usd6'),
  jsonb_build_object('kind', 'lines', 'lines', jsonb_build_array(jsonb_build_object(
    'invoice_item_id', (select it.id from public.invoice_items it
                        where it.invoice_id = pg_temp.made('usd6') and it.position = 0),
    'quantity', 1))));
select public.create_credit_note(pg_temp.org(), pg_temp.made('jpy1'),
  '{"kind": "amount", "amount": 999}');
-- a quote, and one converted
insert into made
select 'quote' || n, (public.create_quote(pg_temp.org(),
  jsonb_build_object('client_id', 'c0000000-0000-4000-8000-7e570000f001', 'tax_rate', 8.875,
                     'discount', 1.11 * n),
  '[{"description": "q", "quantity": 2, "rate": 49.995}]') ->> 'id')::uuid
from generate_series(1, 2) n;
select public.update_quote(pg_temp.org(), pg_temp.made('quote2'),
  '{"status": "sent"}');
select public.decide_quote(pg_temp.org(), pg_temp.made('quote2'), 'accepted');
select public.convert_quote(pg_temp.org(), pg_temp.made('quote2'));
-- a recurring profile's invoice
select public.issue_recurring_profile_now(pg_temp.org(), (public.create_recurring_profile(
  pg_temp.org(),
  '{"client_id": "c0000000-0000-4000-8000-7e570000f001", "frequency": "monthly", "tax_rate": 19,
    "discount": 2.5}',
  '[{"description": "Hosting", "quantity": 1, "rate": 99.99}]') ->> 'id')::uuid);
"""


@pytest.fixture
def before_tax_model(database: Database) -> Iterator[tuple[str, Path]]:
    """A database of its own holding the migrations before the tax model, and the
    directory of them all."""
    earlier = Path(tempfile.mkdtemp(prefix="before-tax-model-"))
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < TAX_MODEL:
            shutil.copy(path, earlier / path.name)
    name = f"tax_{uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = make_conninfo(database.url, dbname=name)
    try:
        postgres.bootstrap(url, seed=False, migrations_dir=earlier)
        setup = pgtap.run_file(url, pgtap.SETUP_FILE)
        assert setup.ok, setup.explain()
        yield url, earlier
    finally:
        shutil.rmtree(earlier, ignore_errors=True)
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_existing_documents_keep_their_totals(before_tax_model: tuple[str, Path]) -> None:
    url, _ = before_tax_model
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MAKE)
    invoices, quotes, notes = _rows(url, INVOICES), _rows(url, QUOTES), _rows(url, CREDIT_NOTES)
    assert len(invoices) >= 26
    assert len(notes) == 4
    assert {row[8] for row in invoices} >= {"sent", "cancelled"}

    applied = postgres.bootstrap(url, seed=False)
    assert any(name.startswith(TAX_MODEL) for name in applied)

    assert _rows(url, INVOICES) == invoices
    assert _rows(url, QUOTES) == quotes
    assert _rows(url, CREDIT_NOTES) == notes

    # The new rules run: every invoice's row again, the items of the open ones again.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update public.invoices set notes = notes")
        conn.execute(
            "update public.invoice_items it set position = it.position from public.invoices i"
            " where i.id = it.invoice_id and i.status in ('draft', 'sent', 'overdue')"
            " and i.credit_notes_total = 0"
        )
        conn.execute("update public.quotes set notes = notes")
        groups = conn.execute(
            "select count(*) from public.invoices where line_tax_groups is not null"
        ).fetchone()
        assert groups is not None
        assert groups[0] > 0
    assert _rows(url, INVOICES) == invoices
    assert _rows(url, QUOTES) == quotes

    with psycopg.connect(url) as conn:
        mismatched = conn.execute(
            """
            select 'invoice', i.id from public.invoices i
            where i.tax_amount <> (select coalesce(sum(b.tax_amount), 0)
                                   from private.invoice_tax_breakdown(i.organization_id, i.id) b)
            union all
            select 'quote', q.id from public.quotes q
            where q.tax_amount <> (select coalesce(sum(b.tax_amount), 0)
                                   from private.quote_tax_breakdown(q.organization_id, q.id) b)
            union all
            select 'credit note', c.id from public.credit_notes c
            where c.tax_amount <> (
              select coalesce(sum(b.tax_amount), 0)
              from private.credit_note_tax_breakdown(c.organization_id, c.id) b)
            """
        ).fetchall()
    assert mismatched == []
