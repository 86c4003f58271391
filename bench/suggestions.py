"""Match suggestions that learn: precision at 1 of the top suggestion on a generated
history, learned weights against the fixed ones (issue 20; bench/RESULTS.md, "Issue 20:
suggestions").

The history (one organization, seeded): 40 vendors in 8 trades whose names share words
("Northwind Office Supply", "Northwind Office Services"), each with 15 purchase orders
over 15 months, most of them recurring (the same lines and nearly the same amount every
month or so), 1-3 lines from its trade's vocabulary. Invoices for them carry the noise a
payables clerk sees: the vendor unknown under a variant of its name (typos, suffixes
dropped or added: 35 %), the PO reference missing (40 %), mistyped (a digit dropped or
two swapped: 25 %) or stale (the number of the vendor's previous order, copied from the
last invoice: 35 %); partial billing (30 %: 40-90 % of the order) with a little rounding;
the invoice 2-30 days after the order (orders 25-40 days apart); descriptions
abbreviated, words dropped, a typo.
100 further invoices with their correct reference are matched first: the organization's
confirmed matches.

The run: a person works through invoices one at a time (GET suggestions, as the route
does): the top suggestion right is accepted; wrong, it is rejected and the right PO
accepted, which links it. Each accept or reject is a decision through
public.decide_match_suggestion as a member of the organization, and the weights are
retrained after each one by shared/reconciliation/suggestions.py, as the routes do.
After 0, 25, 50, 100 and 200 decisions, precision at 1 is measured on 200 held-out
invoices of the same history with the learned weights and with the fixed ones.

    .venv/bin/python -m bench.suggestions [--seed 20] [--decisions 200] [--test 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

from bench.common import Conn, Machine, connect, loadavg, table
from devstack import pgtap
from devstack.postgres import test_database
from shared.reconciliation import suggestions

TRADES: dict[str, list[str]] = {
    "Office": ["copy paper a4", "toner cartridge", "desk chair", "filing cabinet", "stapler"],
    "IT": ["laptop 14in", "monitor 27in", "software licence", "docking station", "support hours"],
    "Cleaning": ["office cleaning", "window cleaning", "carpet shampoo", "waste collection"],
    "Catering": [
        "lunch buffet",
        "coffee beans",
        "fruit basket",
        "water delivery",
        "catering staff",
    ],
    "Logistics": ["pallet freight", "courier express", "warehouse storage", "customs handling"],
    "Facilities": ["hvac maintenance", "elevator service", "security guards", "lighting repair"],
    "Marketing": ["print flyers", "trade fair booth", "ad campaign", "photo shoot", "banner"],
    "Legal": ["legal advice hours", "contract review", "trademark filing", "notary fees"],
}
FIRST = ["Northwind", "Contoso", "Fabrikam", "Globex", "Initech"]
SUFFIX = ["Ltd", "GmbH", "Inc", "Services", "Group"]
START = date(2025, 1, 6)


@dataclass
class Po:
    number: str
    vendor: int
    order_date: date
    lines: list[tuple[str, int, float]]

    @property
    def total(self) -> float:
        return round(sum(q * p for _, q, p in self.lines), 2)


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + text[i + 1 :]
    if kind < 0.7:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiourstn") + text[i + 1 :]


def _history(rng: random.Random) -> tuple[list[str], list[Po]]:
    vendors: list[str] = []
    trades = list(TRADES)
    for k in range(40):
        trade = trades[k % len(trades)]
        vendors.append(f"{FIRST[k // 8]} {trade} {SUFFIX[(k * 3) % len(SUFFIX)]}")
    pos: list[Po] = []
    n = 0
    for v, _name in enumerate(vendors):
        words = TRADES[trades[v % len(trades)]]
        recurring = [
            (rng.choice(words), rng.randint(1, 20), round(rng.uniform(20, 900), 2))
            for _ in range(rng.randint(1, 3))
        ]
        day = START + timedelta(days=rng.randint(0, 20))
        for _ in range(15):
            n += 1
            if rng.random() < 0.7:  # the recurring order, its quantities moving a little
                lines = [(d, max(1, q + rng.randint(-2, 2)), p) for d, q, p in recurring]
            else:
                lines = [
                    (rng.choice(words), rng.randint(1, 30), round(rng.uniform(20, 1500), 2))
                    for _ in range(rng.randint(1, 3))
                ]
            pos.append(Po(f"PO-{24000 + n * 7}", v, day, lines))
            day += timedelta(days=rng.randint(25, 40))
    return vendors, pos


@dataclass
class Invoice:
    po: Po
    vendor_id_known: bool
    vendor_name: str
    reference: str | None
    invoice_date: date
    lines: list[tuple[str, float, float]]


def _noisy_invoice(rng: random.Random, vendors: list[str], pos: list[Po], po: Po) -> Invoice:
    known = rng.random() >= 0.35
    name = vendors[po.vendor]
    if not known:
        parts = name.split()
        variant = rng.random()
        if variant < 0.4:
            name = _typo(rng, name)
        elif variant < 0.7:
            name = " ".join(parts[:-1])
        else:
            name = " ".join([*parts[:-1], rng.choice(["Limited", "LLC", "Co.", "AG"])])
    r = rng.random()
    siblings = [p for p in pos if p.vendor == po.vendor and p.order_date < po.order_date]
    reference: str | None
    if r < 0.40:
        reference = None
    elif r < 0.65:
        digits = po.number[3:]
        reference = "PO-" + _typo(rng, digits) if rng.random() < 0.5 else po.number[:-1]
    elif siblings:
        reference = siblings[-1].number  # stale: the previous order's number
    else:
        reference = None
    share = rng.uniform(0.4, 0.9) if rng.random() < 0.3 else 1.0
    lines = []
    for d, q, p in po.lines:
        words = d.split()
        if len(words) > 1 and rng.random() < 0.3:
            words = words[: rng.randint(1, len(words) - 1)]
        desc = " ".join(words)
        if rng.random() < 0.2:
            desc = _typo(rng, desc)
        lines.append((desc, round(max(0.5, q * share), 2), p))
    return Invoice(
        po, known, name, reference, po.order_date + timedelta(days=rng.randint(2, 30)), lines
    )


class Org:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        conn.execute("select tests.create_supabase_user('suggest-bench')")
        row = conn.execute(
            "select tests.personal_org('suggest-bench')::text,"
            " tests.get_supabase_uid('suggest-bench')::text"
        ).fetchone()
        assert row is not None
        self.id, self.user = str(row[0]), str(row[1])
        self.vendor_ids: list[str] = []
        self.po_ids: dict[str, str] = {}

    def as_member(self) -> None:
        claims = {"sub": self.user, "role": "authenticated", "aal": "aal1"}
        self.conn.execute("select set_config('role', 'authenticated', false)")
        self.conn.execute(
            "select set_config('request.jwt.claims', %s, false)", (json.dumps(claims),)
        )

    def as_postgres(self) -> None:
        self.conn.execute("reset role")

    def load(self, vendors: list[str], pos: list[Po]) -> None:
        for name in vendors:
            row = self.conn.execute(
                "insert into public.vendors (organization_id, name) values (%s, %s)"
                " returning id::text",
                (self.id, name),
            ).fetchone()
            assert row is not None
            self.vendor_ids.append(str(row[0]))
        self.conn.execute("set invoiceflow.deferred_rematch = on")
        for po in pos:
            row = self.conn.execute(
                "insert into public.purchase_orders (organization_id, vendor_id, po_number,"
                " currency, order_date) values (%s, %s, %s, 'EUR', %s) returning id::text",
                (self.id, self.vendor_ids[po.vendor], po.number, po.order_date),
            ).fetchone()
            assert row is not None
            self.po_ids[po.number] = str(row[0])
            for i, (d, q, p) in enumerate(po.lines, start=1):
                self.conn.execute(
                    "insert into public.purchase_order_lines (organization_id, purchase_order_id,"
                    " currency, line_number, description, quantity, unit_price)"
                    " values (%s, %s, 'EUR', %s, %s, %s, %s)",
                    (self.id, self.po_ids[po.number], i, d, q, p),
                )
        self.conn.execute("reset invoiceflow.deferred_rematch")

    def add_invoice(self, number: str, inv: Invoice) -> str:
        subtotal = round(sum(round(q * p, 2) for _, q, p in inv.lines), 2)
        row = self.conn.execute(
            "insert into public.vendor_invoices (organization_id, vendor_id, vendor_name,"
            " invoice_number, invoice_date, po_number, currency, subtotal, tax_amount,"
            " total_amount) values (%s, %s, %s, %s, %s, %s, 'EUR', %s, 0, %s) returning id::text",
            (
                self.id,
                self.vendor_ids[inv.po.vendor] if inv.vendor_id_known else None,
                inv.vendor_name,
                number,
                inv.invoice_date,
                inv.reference,
                subtotal,
                subtotal,
            ),
        ).fetchone()
        assert row is not None
        for i, (d, q, p) in enumerate(inv.lines, start=1):
            self.conn.execute(
                "insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id,"
                " currency, line_number, description, quantity, unit_price, amount)"
                " values (%s, %s, 'EUR', %s, %s, %s, %s, %s)",
                (self.id, row[0], i, d, q, p, round(q * p, 2)),
            )
        return str(row[0])

    def top(self, invoice: str, weights: dict[str, float] | None) -> str | None:
        row = self.conn.execute(
            "select purchase_order_id::text from private.suggestion_candidates(%s, %s, %s, 1)",
            (self.id, invoice, json.dumps(weights) if weights else None),
        ).fetchone()
        return str(row[0]) if row else None

    def decide(self, invoice: str, po: str, decision: str) -> float:
        started = time.perf_counter()
        self.conn.execute(
            "select public.decide_match_suggestion(%s, %s, %s, %s)",
            (self.id, invoice, po, decision),
        )
        row = self.conn.execute(
            "select public.suggestion_training_set(%s, %s)", (self.id, suggestions.MAX_EXAMPLES)
        ).fetchone()
        assert row is not None
        weights, examples, positives = suggestions.fit(row[0])
        self.conn.execute(
            "select public.save_suggestion_model(%s, %s, %s, %s)",
            (self.id, json.dumps(weights), examples, positives),
        )
        return time.perf_counter() - started

    def weights(self) -> dict[str, float]:
        row = self.conn.execute("select private.suggestion_weights(%s)", (self.id,)).fetchone()
        assert row is not None
        return dict(row[0])


def _precision(org: Org, test: list[tuple[str, str]], weights: dict[str, float] | None) -> float:
    hits = sum(1 for invoice, po in test if org.top(invoice, weights) == po)
    return hits / len(test)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)  # noqa: S311 - reproducible data, not secrets
    machine = Machine.describe()
    vendors, pos = _history(rng)
    with test_database() as db, connect(db.url) as conn:
        installed = conn.execute("select to_regnamespace('tests') is not null").fetchone()
        if not (installed and installed[0]):
            setup = pgtap.run_file(db.url, pgtap.SETUP_FILE)
            if not setup.ok:
                raise RuntimeError(setup.explain())
        org = Org(conn)
        org.load(vendors, pos)
        # Confirmed matches: 100 invoices with their right reference, matched.
        confirmed = rng.sample(pos, 100)
        ids = []
        for k, po in enumerate(confirmed):
            inv = _noisy_invoice(rng, vendors, pos, po)
            inv.reference, inv.vendor_id_known = po.number, True
            ids.append(org.add_invoice(f"C-{k}", inv))
        org.as_member()
        conn.execute("select public.match_vendor_invoices(%s, %s::uuid[])", (org.id, ids))
        org.as_postgres()
        pool = [po for po in pos if po not in confirmed]
        rng.shuffle(pool)
        train_pos = pool[: args.decisions + 50]
        test_pos = pool[args.decisions + 50 :][: args.test]
        train = [
            (
                org.add_invoice(f"T-{k}", _noisy_invoice(rng, vendors, pos, po)),
                org.po_ids[po.number],
            )
            for k, po in enumerate(train_pos)
        ]
        test = [
            (
                org.add_invoice(f"H-{k}", _noisy_invoice(rng, vendors, pos, po)),
                org.po_ids[po.number],
            )
            for k, po in enumerate(test_pos)
        ]
        conn.execute("vacuum analyze")
        org.as_member()
        fixed = dict(suggestions.FIXED_WEIGHTS)
        p_fixed = _precision(org, test, fixed)
        curve: list[tuple[int, float, float]] = [(0, p_fixed, p_fixed)]
        checkpoints = {25, 50, 100, 200, args.decisions}
        decisions = 0
        seconds: list[float] = []
        started = time.perf_counter()
        for invoice, right in train:
            if decisions >= args.decisions:
                break
            top = org.top(invoice, None)
            if top == right:
                seconds.append(org.decide(invoice, right, "accept"))
                decisions += 1
            else:
                if top is not None:
                    seconds.append(org.decide(invoice, top, "reject"))
                    decisions += 1
                    if decisions in checkpoints:
                        curve.append((decisions, _precision(org, test, None), p_fixed))
                    if decisions >= args.decisions:
                        break
                seconds.append(org.decide(invoice, right, "accept"))
                decisions += 1
            if decisions in checkpoints and curve[-1][0] != decisions:
                curve.append((decisions, _precision(org, test, None), p_fixed))
        elapsed = time.perf_counter() - started
        learned = org.weights()
    print(f"machine: {machine.nproc} cores, {machine.cpu_model}; {machine.postgres_binary}")
    print(f"load {loadavg()}; seed {args.seed}; {len(vendors)} vendors, {len(pos)} POs;")
    print(f"{decisions} decisions in {elapsed:.1f} s; held-out invoices: {len(test)}\n")
    print(
        table(
            ["decisions", "precision@1 learned", "precision@1 fixed"],
            [(d, f"{a:.3f}", f"{b:.3f}") for d, a, b in curve],
        )
    )
    print("\nlearned weights: " + json.dumps(learned))
    print("fixed weights:   " + json.dumps(fixed))
    q = statistics.quantiles(seconds, n=20)
    print(
        f"a decision with its retraining: p50 {statistics.median(seconds) * 1000:.0f} ms,"
        f" p95 {q[18] * 1000:.0f} ms"
    )
    final = curve[-1][1]
    ok = final >= 0.9 and final > p_fixed
    print(
        f"\nprecision@1 after {decisions} decisions {final:.3f} (>= 0.9 and > fixed {p_fixed:.3f}):"
        f" {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
