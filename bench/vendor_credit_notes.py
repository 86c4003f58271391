"""``python -m bench.vendor_credit_notes``: vendor credit notes (migration
20261206171500): 100 UBL credit notes imported, each applied at once to the approved
invoice it refers to, then a payment batch of 200 invoices that pays the net and its
pain.001.

    .venv/bin/python -m bench.vendor_credit_notes [--notes 100] [--invoices 200] [--rounds 3]

One ephemeral PostgreSQL with every migration. Each round: a fresh organization (owner,
admin, member), one vendor with an IBAN, ``--invoices`` approved invoices of it (not
timed). Timed, per round:

- ``read``: the ``--notes`` credit notes (written by shared/einvoice/ubl.py, type 381, one
  line at 19 %, BT-25 naming invoice n) read, validated against the EN 16931 rules (XSD +
  CEN Schematron, Saxon compiled before) and mapped (``parse_einvoice``), in process;
- ``import``: one ``public.import_vendor_invoices`` call as the member (role and claims
  set as PostgREST sets them) storing the notes, finding each one's invoice and applying
  it (the automatic application), as the JSON route's RPC;
- ``batch, baseline``: ``public.create_payment_batch`` of the ``--invoices`` invoices as
  the admin *before* the import (no credit), then cancelled;
- ``batch, with credit``: the same batch after the import (half the items net of credit);
- ``pain.001``: ``public.payment_batch`` (the JSON the export route reads) and the file
  written (shared/payables/pain001.py).

Prints medians over the rounds and writes bench/out/vendor_credit_notes.json.

``--trigger-cost``: instead, the ``credit_on_invoice_status`` row trigger's cost on an
update it does not concern: 20,000 invoices' status flipped between ``pending`` and
``exception`` in one statement, the trigger enabled and disabled in turn (6 rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.common import OUT_DIR, connect, loadavg, log, table
from devstack import postgres

VENDOR = "Bench Lieferant GmbH"
VENDOR_IBAN = "FR1420041010050500013M02606"
DEBTOR_IBAN = "DE89370400440532013000"

USERS = """
insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at,
                        email_confirmed_at)
values (%(owner)s, 'authenticated', 'authenticated', %(owner_mail)s,
        '{"business_name": "Bench credit notes"}', now(), now(), now()),
       (%(admin)s, 'authenticated', 'authenticated', %(admin_mail)s, '{}', now(), now(), now()),
       (%(member)s, 'authenticated', 'authenticated', %(member_mail)s, '{}', now(), now(), now())
"""


def credit_notes(count: int, tag: str) -> list[bytes]:
    """UBL CreditNotes of VENDOR, note n of 10.00 + 19 % naming invoice n (BT-25)."""
    from shared.einvoice import model  # noqa: PLC0415
    from shared.einvoice.ubl import to_ubl  # noqa: PLC0415

    issued = date.today() - timedelta(days=2)
    buyer = model.Party(name="Bench Buyer GmbH", address=model.Address(country_code="DE"))
    seller = model.Party(
        name=VENDOR,
        address=model.Address("Hauptstraße 1", None, "Berlin", "10115", None, "DE"),
        vat_id="DE123456789",
    )
    notes = []
    for n in range(count):
        lines = (
            model.Line(
                id="1",
                name="Returned article",
                quantity=Decimal(1),
                net_price=Decimal("10.00"),
                net_amount=Decimal("10.00"),
                vat_category="S",
                vat_rate=Decimal(19),
            ),
        )
        breakdown = model.tax_breakdown(lines, (), (), "EUR")
        notes.append(
            to_ubl(
                model.Invoice(
                    number=f"CN-{tag}-{n:05d}",
                    type_code="381",
                    issue_date=issued,
                    due_date=None,
                    currency="EUR",
                    seller=seller,
                    buyer=buyer,
                    lines=lines,
                    tax_breakdown=breakdown,
                    totals=model.document_totals(lines, (), (), breakdown, "EUR"),
                    preceding_invoice_reference=f"INV-{tag}-{n:05d}",
                    payment=model.PaymentMeans(code="58", iban=VENDOR_IBAN),
                ),
                "ubl",
            )
        )
    return notes


def setup(conn: Any, invoices: int, tag: str) -> dict[str, str]:
    """A fresh organization with one vendor and ``invoices`` approved invoices of it."""
    ids = {k: str(uuid.uuid4()) for k in ("owner", "admin", "member")}
    conn.execute(USERS, {**ids, **{f"{k}_mail": f"{k}-{tag}@bench.local" for k in ids}})
    org = conn.execute(
        "select organization_id::text from public.memberships where user_id = %s",
        (ids["owner"],),
    ).fetchone()[0]
    for role in ("admin", "member"):
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
            (org, ids[role], role),
        )
    conn.execute(
        "insert into public.payables_settings (organization_id, debtor_name, debtor_iban)"
        " values (%s, 'Bench Buyer GmbH', %s)",
        (org, DEBTOR_IBAN),
    )
    vendor = conn.execute(
        "insert into public.vendors (organization_id, name, iban) values (%s, %s, %s)"
        " returning id::text",
        (org, VENDOR, VENDOR_IBAN),
    ).fetchone()[0]
    conn.execute(
        "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
        " invoice_number, invoice_date, currency, subtotal, tax_amount, total_amount, created_by)"
        " select %s, %s, %s, 'INV-' || %s || '-' || lpad(g::text, 5, '0'), current_date, 'EUR',"
        " 100 + g, 19, 119 + g, %s from generate_series(0, %s - 1) g",
        (org, vendor, VENDOR, tag, ids["member"], invoices),
    )
    conn.execute(
        "update public.vendor_invoices set status = 'approved' where organization_id = %s", (org,)
    )
    conn.execute("analyze")
    return {**ids, "org": org, "vendor": vendor}


def as_user(conn: Any, user: str) -> None:
    conn.execute("set role authenticated")
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": user, "role": "authenticated", "aal": "aal1"}),),
    )


def one_round(conn: Any, notes: int, invoices: int, n: int) -> dict[str, float]:
    from shared.payables.pain001 import pain001  # noqa: PLC0415
    from shared.reconciliation.ingest.einvoice import merge, parse_einvoice  # noqa: PLC0415

    tag = f"r{n}{uuid.uuid4().hex[:4]}"
    people = setup(conn, invoices, tag)
    ids = [
        r[0]
        for r in conn.execute(
            "select id::text from public.vendor_invoices where organization_id = %s order by id",
            (people["org"],),
        )
    ]
    files = credit_notes(notes, tag)
    took: dict[str, float] = {}

    started = time.perf_counter()
    parsed = merge([parse_einvoice(data, f"cn-{i}.xml", row=i) for i, data in enumerate(files)])
    took["read"] = time.perf_counter() - started
    assert not parsed.errors, parsed.errors[:3]
    # The vendor is found by name here (the VAT id's keyed hash needs the stage's key).
    documents = [{k: v for k, v in d.items() if k != "vendor_tax_id"} for d in parsed.documents]

    as_user(conn, people["admin"])
    started = time.perf_counter()
    batch = conn.execute(
        "select public.create_payment_batch(%s, %s::uuid[])", (people["org"], ids)
    ).fetchone()[0]
    took["batch, baseline"] = time.perf_counter() - started
    conn.execute("select public.cancel_payment_batch(%s, %s)", (people["org"], batch["id"]))

    as_user(conn, people["member"])
    started = time.perf_counter()
    report = conn.execute(
        "select public.import_vendor_invoices(%s, %s::jsonb)",
        (people["org"], json.dumps(documents)),
    ).fetchone()[0]
    took["import"] = time.perf_counter() - started
    assert len(report["accepted"]) == notes, report["rejected"][:3]

    as_user(conn, people["admin"])
    started = time.perf_counter()
    batch = conn.execute(
        "select public.create_payment_batch(%s, %s::uuid[])", (people["org"], ids)
    ).fetchone()[0]
    took["batch, with credit"] = time.perf_counter() - started
    started = time.perf_counter()
    full = conn.execute(
        "select public.payment_batch(%s, %s)", (people["org"], batch["id"])
    ).fetchone()[0]
    document = pain001(full, datetime.now(UTC))
    took["pain.001"] = time.perf_counter() - started
    conn.execute("reset role")

    credited = sum(Decimal(i["credited"]) for i in full["items"])
    assert credited == Decimal("11.90") * notes, credited
    gross = sum(Decimal(i["invoice_amount"]) for i in full["items"])
    assert Decimal(full["totals"][0]["total"]) == gross - credited
    assert document.count(b"<CdtTrfTxInf>") == invoices
    log(
        f"round {n}: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items())
        + f" (credited {credited} of {gross})"
    )
    return took


def trigger_cost(conn: Any, rows: int = 20_000, rounds: int = 6) -> dict[str, list[float]]:
    owner = str(uuid.uuid4())
    conn.execute(
        "insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at,"
        " updated_at) values (%s, 'authenticated', 'authenticated', %s, '{}', now(), now())",
        (owner, f"{owner}@bench.local"),
    )
    org = conn.execute(
        "select organization_id from public.memberships where user_id = %s", (owner,)
    ).fetchone()[0]
    conn.execute(
        "insert into public.vendor_invoices (organization_id, vendor_name, invoice_number,"
        " invoice_date, currency, subtotal, total_amount) select %s, 'V', 'I-' || g,"
        " current_date, 'EUR', 10, 10 from generate_series(1, %s) g",
        (org, rows),
    )
    conn.execute("analyze")
    took: dict[str, list[float]] = {"enabled": [], "disabled": []}
    for n in range(rounds):
        for mode, verb in (("enabled", "enable"), ("disabled", "disable")):
            conn.execute(
                f"alter table public.vendor_invoices {verb} trigger credit_on_invoice_status"
            )
            started = time.perf_counter()
            conn.execute(
                "update public.vendor_invoices set notes = %s, status = case status"
                " when 'pending' then 'exception' else 'pending' end where organization_id = %s",
                (f"round {n}", org),
            )
            took[mode].append(time.perf_counter() - started)
    conn.execute("alter table public.vendor_invoices enable trigger credit_on_invoice_status")
    for mode, values in took.items():
        log(f"{mode}: median {statistics.median(values) * 1000:.0f} ms over {rounds} rounds")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trigger-cost", action="store_true")
    args = parser.parse_args(argv)
    if args.trigger_cost:
        with postgres.ephemeral_cluster() as cluster:
            postgres.bootstrap(cluster.url, seed=False)
            with connect(cluster.admin_url) as conn:
                trigger_cost(conn)
        return 0
    from shared.einvoice import validate  # noqa: PLC0415

    validate.warm("en16931-ubl")
    rounds: list[dict[str, float]] = []
    with postgres.ephemeral_cluster() as cluster:
        postgres.bootstrap(cluster.url, seed=False)
        with connect(cluster.admin_url) as conn:
            one_round(conn, 5, 10, 0)  # warm-up: plans, Saxon, imports
            rounds = [one_round(conn, args.notes, args.invoices, n + 1) for n in range(args.rounds)]
    medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    load = loadavg()
    print(f"load average: {load}")
    print(
        table(
            ["step", "median", "rounds"],
            [
                (k, f"{v * 1000:.0f} ms", ", ".join(f"{r[k] * 1000:.0f}" for r in rounds))
                for k, v in medians.items()
            ],
        )
    )
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "vendor_credit_notes.json").write_text(
        json.dumps(
            {"notes": args.notes, "invoices": args.invoices, "load": load, "rounds": rounds},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
