"""The seed's known mistakes, each shown to happen on the seed's own schema and shown
fixed on ours.

``seed_original.sql`` is the seed document's schema and triggers, verbatim. It is
applied, after the platform SQL, to a throw-away database the session's ``postgres``
creates (the ``seed_db`` fixture): no superuser is needed, so this runs on a real
Supabase too, where postgres may create databases but is no superuser (the platform SQL
then leaves the new database's ``auth`` schema to its creator). Each test plays one
scenario twice: on that database, where the mistake happens, and on ours (the session's
``database``, through the rolled-back ``conn`` fixture), where it does not.

Where the seed's own mistakes stand in the way of showing another one, the test
switches off exactly the one trigger in the way, inside its own transaction, and says
so: its signup trigger (it fails on every signup, so seed users are created without it
and their profile is inserted by hand) and, for the balance test, its client-totals
trigger on payments (it fails on every payment write).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from devstack.postgres import PLATFORM_SQL, Database

SEED_SQL = Path(__file__).resolve().parent / "seed_original.sql"

Conn = psycopg.Connection[TupleRow]

# A policy expression calling auth.uid() (or jwt()/role()) outside a sub-select, which
# PostgreSQL then evaluates once per row instead of once per statement.
_WRAPPED = re.compile(r"\( SELECT auth\.(uid|jwt|role)\(\) AS \w+\)")
_CALL = re.compile(r"auth\.(uid|jwt|role)\(\)")


def calls_auth_bare(expression: str | None) -> bool:
    return bool(_CALL.search(_WRAPPED.sub("", expression or "")))


# -----------------------------------------------------------------------------
# Fixtures
# -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_db(database: Database) -> Iterator[str]:
    """A database of the test cluster with the platform SQL and the seed's schema."""
    name = f"seed_original_{uuid4().hex[:10]}"
    with psycopg.connect(database.url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = make_conninfo(database.url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PLATFORM_SQL.read_text(encoding="utf-8"))
            conn.execute(SEED_SQL.read_text(encoding="utf-8"))
        yield url
    finally:
        with psycopg.connect(database.url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@pytest.fixture
def seed(seed_db: str) -> Iterator[Conn]:
    """A connection of the seed database's owner (postgres), rolled back after the test."""
    with psycopg.connect(seed_db) as connection:
        yield connection
        connection.rollback()


# -----------------------------------------------------------------------------
# Helpers: the seed's side
# -----------------------------------------------------------------------------


def seed_user(seed: Conn, email: str) -> UUID:
    """A user of the seed's schema. Its signup trigger fails on every signup (see the
    first test), so it is disabled for this one insert and the profile written by hand."""
    uid = uuid4()
    seed.execute("alter table auth.users disable trigger on_auth_user_created")
    seed.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)"
        " values (%s, 'authenticated', 'authenticated', %s, '{}', now(), now())",
        (uid, email),
    )
    seed.execute("alter table auth.users enable trigger on_auth_user_created")
    seed.execute("insert into public.profiles (id) values (%s)", (uid,))
    return uid


def act_as(conn: Conn, uid: UUID) -> None:
    """Role authenticated with the user's JWT claims, as PostgREST sets them."""
    claims = json.dumps({"sub": str(uid), "role": "authenticated", "aud": "authenticated"})
    conn.execute(
        "select set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %s, true)",
        (claims,),
    )


def act_as_owner(conn: Conn) -> None:
    """Back to the session's own role (postgres: BYPASSRLS, the tables' owner)."""
    conn.execute(
        "select set_config('role', 'none', true), set_config('request.jwt.claims', '', true)"
    )


def one(conn: Conn, query: str, params: tuple[object, ...] = ()) -> object:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def seed_client(seed: Conn, uid: UUID, name: str = "Client") -> UUID:
    client_id = one(
        seed,
        "insert into public.clients (user_id, company_name) values (%s, %s) returning id",
        (uid, name),
    )
    assert isinstance(client_id, UUID)
    return client_id


def seed_invoice(
    seed: Conn,
    uid: UUID,
    client_id: UUID,
    number: str,
    *,
    total: Decimal | None = None,
    status: str = "draft",
    tax_rate: Decimal = Decimal(0),
    discount: Decimal = Decimal(0),
) -> UUID:
    """An invoice of the seed's schema; with `total`, one item of that amount (the seed's
    items carry their amount, which the client computes)."""
    invoice_id = one(
        seed,
        "insert into public.invoices (user_id, client_id, invoice_number, issue_date, due_date,"
        " status, tax_rate, discount)"
        " values (%s, %s, %s, current_date, current_date + 30, %s, %s, %s) returning id",
        (uid, client_id, number, status, tax_rate, discount),
    )
    assert isinstance(invoice_id, UUID)
    if total is not None:
        seed.execute(
            "insert into public.invoice_items (invoice_id, description, quantity, rate, amount)"
            " values (%s, 'services', 1, %s, %s)",
            (invoice_id, total, total),
        )
    return invoice_id


# -----------------------------------------------------------------------------
# Helpers: our side (the test helpers of supabase/tests/000-setup-tests-helpers.sql)
# -----------------------------------------------------------------------------


def our_user(conn: Conn, identifier: str, email: str | None = None) -> tuple[UUID, UUID]:
    """A user (through signup) and the personal organization signup gave them."""
    uid = one(conn, "select tests.create_supabase_user(%s, %s)", (identifier, email))
    org = one(conn, "select tests.personal_org(%s)", (identifier,))
    assert isinstance(uid, UUID)
    assert isinstance(org, UUID)
    return uid, org


def our_client(conn: Conn, org: UUID, name: str = "Client") -> UUID:
    client_id = one(
        conn,
        "insert into public.clients (organization_id, company_name) values (%s, %s) returning id",
        (org, name),
    )
    assert isinstance(client_id, UUID)
    return client_id


def our_invoice(
    conn: Conn,
    org: UUID,
    client_id: UUID,
    *,
    total: Decimal | None = None,
    sent: bool = False,
    tax_rate: Decimal = Decimal(0),
    number: str | None = None,
) -> UUID:
    invoice_id = one(
        conn,
        "insert into public.invoices (organization_id, client_id, tax_rate, invoice_number)"
        " values (%s, %s, %s, %s) returning id",
        (org, client_id, tax_rate, number),
    )
    assert isinstance(invoice_id, UUID)
    if total is not None:
        conn.execute(
            "insert into public.invoice_items (invoice_id, description, quantity, rate)"
            " values (%s, 'services', 1, %s)",
            (invoice_id, total),
        )
    if sent:
        conn.execute("update public.invoices set status = 'sent' where id = %s", (invoice_id,))
    return invoice_id


# -----------------------------------------------------------------------------
# The mistakes
# -----------------------------------------------------------------------------


def test_seed_signup_fails_on_missing_email_column_and_ours_keeps_the_email(
    seed: Conn, conn: Conn
) -> None:
    with pytest.raises(errors.UndefinedColumn, match='column "email" of relation "profiles"'):
        seed.execute(
            "insert into auth.users (id, aud, role, email, raw_user_meta_data)"
            " values (%s, 'authenticated', 'authenticated', 'new@example.com',"
            ' \'{"first_name": "Nia"}\')',
            (uuid4(),),
        )
    seed.rollback()

    uid, org = our_user(conn, "signup", "new@example.com")
    profile = conn.execute("select email from public.profiles where id = %s", (uid,)).fetchone()
    assert profile == ("new@example.com",)
    assert one(conn, "select count(*) from public.user_settings where user_id = %s", (uid,)) == 1
    assert (
        one(
            conn,
            "select role::text from public.memberships where user_id = %s and organization_id = %s",
            (uid, org),
        )
        == "owner"
    )


def test_seed_every_payment_write_fails_and_ours_records_payments(seed: Conn, conn: Conn) -> None:
    uid = seed_user(seed, "payer@example.com")
    invoice_id = seed_invoice(
        seed, uid, seed_client(seed, uid), "INV-001", total=Decimal(100), status="sent"
    )
    seed.execute("savepoint before_payment")
    with pytest.raises(errors.UndefinedColumn, match='record "new" has no field "client_id"'):
        seed.execute(
            "insert into public.payments (invoice_id, amount, payment_date)"
            " values (%s, 40, current_date)",
            (invoice_id,),
        )
    seed.execute("rollback to savepoint before_payment")
    # Updates and deletes fail the same way: write a payment with the trigger off (here
    # only), then try to change it with the trigger on.
    seed.execute(
        "alter table public.payments disable trigger update_client_totals_on_payment_change"
    )
    payment_id = one(
        seed,
        "insert into public.payments (invoice_id, amount, payment_date)"
        " values (%s, 40, current_date) returning id",
        (invoice_id,),
    )
    seed.execute(
        "alter table public.payments enable trigger update_client_totals_on_payment_change"
    )
    seed.execute("savepoint written")
    with pytest.raises(errors.UndefinedColumn, match='record "new" has no field "client_id"'):
        seed.execute("update public.payments set amount = 50 where id = %s", (payment_id,))
    seed.execute("rollback to savepoint written")
    with pytest.raises(errors.UndefinedColumn, match='record "new" has no field "client_id"'):
        seed.execute("delete from public.payments where id = %s", (payment_id,))

    _, org = our_user(conn, "payer")
    ours = our_invoice(conn, org, our_client(conn, org), total=Decimal(100), sent=True)
    conn.execute("select tests.authenticate_as('payer')")
    payment = one(
        conn,
        "insert into public.payments (invoice_id, amount) values (%s, 40) returning id",
        (ours,),
    )
    conn.execute("update public.payments set amount = 50 where id = %s", (payment,))
    assert one(conn, "select amount_paid from public.invoices where id = %s", (ours,)) == 50
    conn.execute("delete from public.payments where id = %s", (payment,))
    assert one(conn, "select amount_paid from public.invoices where id = %s", (ours,)) == 0


def test_seed_outstanding_balance_counts_an_invoice_once_per_payment_and_ours_once(
    seed: Conn, conn: Conn
) -> None:
    # Three payments of 10 on an invoice of 100: 70 is outstanding.
    uid = seed_user(seed, "balance@example.com")
    client_id = seed_client(seed, uid)
    invoice_id = seed_invoice(seed, uid, client_id, "INV-001", total=Decimal(100), status="sent")
    # The seed's trigger on payments fails on every payment (previous test): it is
    # disabled, in this transaction only, so that payments can be recorded at all.
    seed.execute(
        "alter table public.payments disable trigger update_client_totals_on_payment_change"
    )
    for _ in range(3):
        seed.execute(
            "insert into public.payments (invoice_id, amount, payment_date)"
            " values (%s, 10, current_date)",
            (invoice_id,),
        )
    # Any change to the invoice runs the seed's client-totals query.
    seed.execute("update public.invoices set notes = 'reminded' where id = %s", (invoice_id,))
    outstanding = one(
        seed, "select outstanding_balance from public.clients where id = %s", (client_id,)
    )
    assert outstanding == Decimal("270.00"), "the seed counts the 100 once per payment: 300 - 30"

    _, org = our_user(conn, "balance")
    our_client_id = our_client(conn, org)
    ours = our_invoice(conn, org, our_client_id, total=Decimal(100), sent=True)
    conn.execute(
        "insert into public.payments (invoice_id, amount) values (%s, 10), (%s, 10), (%s, 10)",
        (ours, ours, ours),
    )
    conn.execute("update public.invoices set notes = 'reminded' where id = %s", (ours,))
    assert one(
        conn, "select outstanding_balance from public.clients where id = %s", (our_client_id,)
    ) == Decimal("70.00")


def test_seed_tax_rate_and_discount_changes_leave_totals_stale_and_ours_recomputes(
    seed: Conn, conn: Conn
) -> None:
    uid = seed_user(seed, "tax@example.com")
    invoice_id = seed_invoice(seed, uid, seed_client(seed, uid), "INV-001", total=Decimal(100))
    seed.execute("update public.invoices set tax_rate = 10 where id = %s", (invoice_id,))
    stale = seed.execute(
        "select tax_amount, total_amount from public.invoices where id = %s", (invoice_id,)
    ).fetchone()
    assert stale == (Decimal("0.00"), Decimal("100.00")), "the seed keeps the old tax and total"
    seed.execute("update public.invoices set discount = 20 where id = %s", (invoice_id,))
    assert one(
        seed, "select total_amount from public.invoices where id = %s", (invoice_id,)
    ) == Decimal("100.00"), "the seed ignores a new discount too"

    _, org = our_user(conn, "tax")
    ours = our_invoice(conn, org, our_client(conn, org), total=Decimal(100))
    conn.execute("update public.invoices set tax_rate = 10 where id = %s", (ours,))
    assert conn.execute(
        "select tax_amount, total_amount from public.invoices where id = %s", (ours,)
    ).fetchone() == (Decimal("10.00"), Decimal("110.00"))
    conn.execute("update public.invoices set discount = 20 where id = %s", (ours,))
    assert conn.execute(
        "select tax_amount, total_amount from public.invoices where id = %s", (ours,)
    ).fetchone() == (Decimal("8.00"), Decimal("88.00"))


def test_seed_taxes_the_undiscounted_subtotal_and_ours_taxes_subtotal_minus_discount(
    seed: Conn, conn: Conn
) -> None:
    # Not on the list of known mistakes, but a money rule: tax is due on what is billed.
    uid = seed_user(seed, "discount@example.com")
    seed_id = seed_invoice(
        seed,
        uid,
        seed_client(seed, uid),
        "INV-001",
        tax_rate=Decimal(10),
        discount=Decimal(10),
        total=Decimal(100),
    )
    assert seed.execute(
        "select tax_amount, total_amount from public.invoices where id = %s", (seed_id,)
    ).fetchone() == (Decimal("10.00"), Decimal("100.00")), "seed: 10% of 100, then minus 10"

    _, org = our_user(conn, "discount")
    ours = our_invoice(conn, org, our_client(conn, org), tax_rate=Decimal(10), total=Decimal(100))
    conn.execute("update public.invoices set discount = 10 where id = %s", (ours,))
    assert conn.execute(
        "select tax_amount, total_amount from public.invoices where id = %s", (ours,)
    ).fetchone() == (Decimal("9.00"), Decimal("99.00"))


def test_seed_accepts_an_invoice_for_another_users_client_and_ours_rejects_it(
    seed: Conn, conn: Conn
) -> None:
    alice = seed_user(seed, "alice@example.com")
    bob = seed_user(seed, "bob@example.com")
    bobs_client = seed_client(seed, bob, "Bob's Client")
    act_as(seed, alice)
    # RLS checks only the invoice's own user_id; the client is someone else's.
    invoice_id = one(
        seed,
        "insert into public.invoices (user_id, client_id, invoice_number, issue_date, due_date)"
        " values (%s, %s, 'INV-001', current_date, current_date) returning id",
        (alice, bobs_client),
    )
    act_as_owner(seed)
    assert one(seed, "select client_id from public.invoices where id = %s", (invoice_id,)) == (
        bobs_client
    )

    _, alice_org = our_user(conn, "alice")
    _, bob_org = our_user(conn, "bob")
    bob_client = our_client(conn, bob_org, "Bob's Client")
    conn.execute("select tests.authenticate_as('alice')")
    conn.execute("savepoint as_alice")
    with pytest.raises(errors.ForeignKeyViolation, match="is not a client of this organization"):
        conn.execute(
            "insert into public.invoices (organization_id, client_id) values (%s, %s)",
            (alice_org, bob_client),
        )
    conn.execute("rollback to savepoint as_alice")
    # Not even postgres (no RLS: BYPASSRLS) can: the composite foreign key holds.
    conn.execute("select tests.as_superuser()")
    with pytest.raises(errors.ForeignKeyViolation, match="invoices_client_in_organization"):
        conn.execute(
            "insert into public.invoices (organization_id, client_id, currency)"
            " values (%s, %s, 'USD')",
            (alice_org, bob_client),
        )


def test_seed_accepts_duplicate_invoice_numbers_and_ours_rejects_them(
    seed: Conn, conn: Conn
) -> None:
    uid = seed_user(seed, "dup@example.com")
    client_id = seed_client(seed, uid)
    seed_invoice(seed, uid, client_id, "INV-001")
    seed_invoice(seed, uid, client_id, "INV-001")
    numbered = one(
        seed,
        "select count(*) from public.invoices where user_id = %s and invoice_number = %s",
        (uid, "INV-001"),
    )
    assert numbered == 2, "the seed accepts the same number twice"
    # Nor does it assign a number: one must be given.
    with pytest.raises(errors.NotNullViolation, match="invoice_number"):
        seed.execute(
            "insert into public.invoices (user_id, client_id, issue_date, due_date)"
            " values (%s, %s, current_date, current_date)",
            (uid, client_id),
        )

    _, org = our_user(conn, "dup")
    our_client_id = our_client(conn, org)
    conn.execute("select tests.authenticate_as('dup')")
    first = our_invoice(conn, org, our_client_id)
    assert one(conn, "select invoice_number from public.invoices where id = %s", (first,)) == (
        "INV-0001"
    )
    with pytest.raises(
        errors.UniqueViolation, match="invoices_invoice_number_unique_in_organization"
    ):
        our_invoice(conn, org, our_client_id, number="INV-0001")


def test_seed_security_definer_function_has_no_search_path_and_ours_all_pin_it(
    seed: Conn, conn: Conn
) -> None:
    query = (
        "select p.proname, p.proconfig from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname in ('public', 'private') order by 1"
    )
    assert seed.execute(query).fetchall() == [("handle_new_user", None)]

    ours = conn.execute(query).fetchall()
    assert len(ours) >= 15  # signup, totals, numbering, membership helpers, RPC ...
    settings = {str(name): list(config or []) for name, config in ours}
    unpinned = [
        name
        for name, config in settings.items()
        if not any(str(setting).startswith("search_path=") for setting in config)
    ]
    assert unpinned == []
    assert settings["handle_new_user"] == ['search_path=""']


def test_seed_policies_call_bare_auth_uid_and_ours_wrap_it_in_a_subselect(
    seed: Conn, conn: Conn
) -> None:
    query = (
        "select tablename || ': ' || policyname, qual, with_check from pg_policies"
        " where schemaname = 'public' order by 1"
    )
    seed_policies = seed.execute(query).fetchall()
    bare_in_seed = [
        name
        for name, qual, check in seed_policies
        if calls_auth_bare(qual) or calls_auth_bare(check)
    ]
    assert len(seed_policies) == 23
    assert bare_in_seed == [name for name, _, _ in seed_policies], "every seed policy is bare"

    our_policies = conn.execute(query).fetchall()
    assert our_policies, "our tables have policies"
    bare_in_ours = [
        name
        for name, qual, check in our_policies
        if calls_auth_bare(qual) or calls_auth_bare(check)
    ]
    assert bare_in_ours == []
    # ... and the check itself sees the wrapped form where ours uses auth.uid() directly.
    assert any("( SELECT auth.uid() AS uid)" in str(qual) for _, qual, _ in our_policies)


def test_the_seed_database_is_made_and_used_without_a_superuser(seed: Conn) -> None:
    """As on a real Supabase: postgres, no superuser, made the database and its platform
    (an `auth` schema of its own, so that it may switch the seed's triggers off)."""
    assert seed.execute(
        "select current_user, rolsuper from pg_roles where rolname = current_user"
    ).fetchone() == ("postgres", False)
    assert (
        one(
            seed,
            "select pg_get_userbyid(relowner) from pg_class where oid = 'auth.users'::regclass",
        )
        == "postgres"
    )
