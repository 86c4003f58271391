"""Numbering patterns under real concurrent transactions (migration
20261206110100_time_zone_and_numbering.sql): many documents created at once, some
rolled back, across a year boundary; numbers given by hand racing the counter; the
counters of other document types. No duplicates, no gaps.

The style of tests/db/test_concurrency.py (whose run_concurrently is used): one
connection per transaction, all released at once by a barrier, each acting as the
organization's owner as a PostgREST request would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import errors

from devstack.postgres import Database
from tests.db.test_concurrency import Tenant, run_concurrently

INSERT = (
    "insert into public.invoices (organization_id, client_id, issue_date, invoice_number)"
    " values (%s, %s, %s, %s) returning invoice_number"
)
# Inserts, then fails: the transaction rolls back, and with it its number.
INSERT_THEN_FAIL = (
    "with i as (insert into public.invoices (organization_id, client_id, issue_date)"
    " values (%s, %s, %s) returning invoice_number) select invoice_number, 1 / 0 from i"
)


@pytest.fixture
def numbered(database: Database) -> Iterator[Tenant]:
    """A committed owner with their organization and a client; invoices numbered
    INV-{YYYY}-{SEQ:4}, reset yearly."""
    identifier = f"numbering-{uuid4().hex[:12]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        user_id = conn.execute("select tests.create_supabase_user(%s)", (identifier,)).fetchone()
        org_id = conn.execute("select tests.personal_org(%s)", (identifier,)).fetchone()
        assert user_id is not None
        assert org_id is not None
        client_id = conn.execute(
            "insert into public.clients (organization_id, company_name)"
            " values (%s, 'Numbered Client') returning id",
            (org_id[0],),
        ).fetchone()
        assert client_id is not None
        conn.execute(
            "update public.organization_settings set invoice_number_pattern ="
            " 'INV-{YYYY}-{SEQ:4}', invoice_number_reset = 'yearly' where organization_id = %s",
            (org_id[0],),
        )
    tenant = Tenant(identifier, UUID(str(user_id[0])), UUID(str(org_id[0])), client_id[0])
    yield tenant
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("delete from public.organizations where id = %s", (tenant.org_id,))
        conn.execute("delete from auth.users where id = %s", (tenant.user_id,))


def stored_numbers(database: Database, tenant: Tenant) -> list[str]:
    with database.connect() as conn:
        rows = conn.execute(
            "select invoice_number from public.invoices where organization_id = %s"
            " order by invoice_number",
            (tenant.org_id,),
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_concurrent_invoices_across_a_year_boundary_with_rollbacks_leave_no_gap(
    database: Database, numbered: Tenant
) -> None:
    days = ["2031-12-31", "2032-01-01"]
    statements: list[tuple[str, tuple[object, ...]]] = []
    for n in range(40):
        day = days[n % 2]
        if n % 5 == 4:
            statements.append((INSERT_THEN_FAIL, (numbered.org_id, numbered.client_id, day)))
        else:
            statements.append((INSERT, (numbered.org_id, numbered.client_id, day, None)))
    outcomes = run_concurrently(database, numbered, statements)

    failed = [o for o in outcomes if isinstance(o, psycopg.Error)]
    assert len(failed) == 8
    assert all(isinstance(o, errors.DivisionByZero) for o in failed), failed
    numbers = stored_numbers(database, numbered)
    assert len(numbers) == 32
    # Per year: 1..16, each once: the rolled-back numbers were handed out again.
    assert numbers == [f"INV-2031-{n:04d}" for n in range(1, 17)] + [
        f"INV-2032-{n:04d}" for n in range(1, 17)
    ]
    with database.connect() as conn:
        counters = conn.execute(
            "select period, next_number from public.document_counters"
            " where organization_id = %s and document_type = 'invoice' order by period",
            (numbered.org_id,),
        ).fetchall()
    assert counters == [("2031", 17), ("2032", 17)]


def test_numbers_given_by_hand_race_the_counter_without_a_duplicate(
    database: Database, numbered: Tenant
) -> None:
    """Hand-given numbers are the counter's next ones: whoever takes the counters' lock
    first wins; a hand-given number the counter handed out meanwhile is refused with
    create_invoice's message, and the counter never fails."""
    day = "2031-03-01"
    by_hand = [f"INV-2031-{n:04d}" for n in range(1, 9)]
    statements = [
        (INSERT, (numbered.org_id, numbered.client_id, day, number)) for number in by_hand
    ] + [(INSERT, (numbered.org_id, numbered.client_id, day, None))] * 12
    outcomes = run_concurrently(database, numbered, statements)

    automatic = outcomes[len(by_hand) :]
    assert all(isinstance(o, tuple) for o in automatic), automatic
    for outcome in outcomes[: len(by_hand)]:
        if isinstance(outcome, psycopg.Error):
            assert isinstance(outcome, errors.UniqueViolation), repr(outcome)
            assert "is already used in this organization" in str(outcome)
    numbers = stored_numbers(database, numbered)
    assert len(numbers) == len(set(numbers))
    assert all(re.fullmatch(r"INV-2031-\d{4}", n) for n in numbers)
    # Twelve automatic numbers plus the hand-given ones that won: 1..N without a gap.
    assert numbers == [f"INV-2031-{n:04d}" for n in range(1, len(numbers) + 1)]


@pytest.mark.parametrize("document_type", ["quote", "credit_note"])
def test_other_document_types_count_concurrently_without_gaps(
    database: Database, numbered: Tenant, document_type: str
) -> None:
    call = "select private.next_document_number(%s, %s, %s)"
    statements = [(call, (numbered.org_id, document_type, "2031-07-01"))] * 20
    outcomes = run_concurrently(database, numbered, statements)
    numbers = sorted(str(o[0]) for o in outcomes if isinstance(o, tuple))
    prefix = "QUO-" if document_type == "quote" else "CN-"
    assert numbers == [f"{prefix}{n:04d}" for n in range(1, 21)]
