"""The e-mail rule is the database's, and Python's validator (shared.fields) takes exactly
the addresses the database takes: both judge a table of addresses, and agree on each.

The database's side is its own check on ``public.clients.email``, read from the catalog
(not copied here), so a change to the migration that the Python side does not follow
fails this test.
"""

from __future__ import annotations

import psycopg
import pytest

from devstack.postgres import Database
from shared.fields import EMAIL_PATTERN, is_email

# Every character PostgreSQL's or Python's `\s` takes, inside an address and around it.
SPACES = [chr(c) for c in (*range(0x09, 0x0E), 0x20, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0)]
SPACES += [chr(c) for c in (0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F)]
SPACES += ["\u3000", "\u200b", "\ufeff", "\u180e"]

ADDRESSES = [
    "ada@example.com",
    "Ada.Lovelace+invoices@mail.example.co.uk",
    "a@b.c",
    "a@b.c.",
    "a@b..c",
    "a@.b",
    "a@b.",
    "@b.c",
    "a@b",
    "a@@b.c",
    "a@b@c.d",
    "",
    "@",
    ".@.",
    "a.@b.c",
    "josé@exämple.com",
    "用户@例子.广告",
    "a<b>@c.d",
    "a,b@c.d",
    '"quoted"@c.d',
    "a@b.c\n",
    "\na@b.c",
    "a@b.c ",
    "x" * 310 + "@example.com",  # 322 characters
    "x" * 308 + "@example.com",  # 320
    "x" * 309 + "@example.com",  # 321
    *(f"a{space}b@c.d" for space in SPACES),
    *(f"ab@c{space}d.e" for space in SPACES),
    *(f"ab@cd.e{space}f" for space in SPACES),
]


def _email_check(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """The expression of the check on public.clients that reads ``email``."""
    rows = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint"
        " where conrelid = 'public.clients'::regclass and contype = 'c'"
        " and pg_get_constraintdef(oid) ~ '\\memail\\M'"
    ).fetchall()
    assert len(rows) == 1, rows
    definition = str(rows[0][0])
    assert definition.startswith("CHECK ")
    return definition.removeprefix("CHECK ")


@pytest.fixture(scope="module")
def sql_verdicts(database: Database) -> dict[str, bool]:
    with psycopg.connect(database.url) as conn:
        check = _email_check(conn)
        assert EMAIL_PATTERN in check, f"the document's pattern is not the table's: {check}"
        verdicts = {}
        for address in ADDRESSES:
            row = conn.execute(
                f"select {check} from (values (%s::text)) as probe(email)",
                (address,),
            ).fetchone()
            assert row is not None
            verdicts[address] = bool(row[0])
    return verdicts


@pytest.mark.parametrize("address", ADDRESSES, ids=[ascii(a)[:40] for a in ADDRESSES])
def test_python_takes_exactly_the_addresses_the_database_takes(
    address: str, sql_verdicts: dict[str, bool]
) -> None:
    assert is_email(address) == sql_verdicts[address]


def test_the_table_holds_both_verdicts(sql_verdicts: dict[str, bool]) -> None:
    taken = sum(sql_verdicts.values())
    assert 10 < taken < len(ADDRESSES) - 10, taken
