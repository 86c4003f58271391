"""The benchmark data set: organizations, clients and invoices, loaded set-based.

* ``orgs`` users are inserted into ``auth.users``: the signup trigger gives each a
  personal organization (with its settings row and an owner membership), as in real life.
* Organization 1 is *large* (``large_share`` of all invoices); the others share the rest
  evenly (about 950 invoices each with the defaults).
* The owner of organization 2 is also a member of organizations 3 and 4: the user of
  several organizations.
* Every organization has ``clients_per_org`` clients (USD) and its invoices cycle through
  them; statuses: 5 % draft, 20 % sent, 60 % paid, 10 % overdue, 5 % cancelled, with
  totals, amounts paid and timestamps filled consistently (10 % tax). Client totals are
  then computed set-based, so the triggers find nothing to correct.
* The first ``targets_per_org`` invoices of every organization are empty drafts: the
  invoices the items benchmark adds lines to (``bench.item_targets``). Every other
  invoice has ``existing_items`` lines (3 by default, about 3 million) summing to its
  subtotal, so that ``invoice_items`` has the size and the statistics of a table in use:
  on an empty table the planner picks sequential scans that a real one would not.

The invoices are bulk-loaded as superuser with ``session_replication_role = replica``
(no user triggers, no foreign-key checks) and with the table's indexes and unique
constraints dropped, then rebuilt from their own definitions (``pg_get_indexdef``,
``pg_get_constraintdef``) in their original order: four times faster than loading into
the indexed table. The indexes are therefore freshly built (compact), which is the
favourable case; the tables are then vacuumed and analyzed. The existing items are loaded
the same way. Autovacuum is switched off for
the whole benchmark cluster so that it cannot wake up in the middle of a series.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from bench.common import Conn, log

SCHEMA_SQL = """
create schema if not exists bench;
create table bench.orgs (
  n integer primary key,
  organization_id uuid not null unique,
  user_id uuid not null
);
create table bench.clients (
  organization_id uuid not null,
  k integer not null,
  client_id uuid not null,
  primary key (organization_id, k)
);
"""

USERS_SQL = """
insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at,
                        email_confirmed_at)
select gen_random_uuid(), 'authenticated', 'authenticated',
       format('owner%%s@bench.invoiceflow.local', g),
       jsonb_build_object('business_name', format('Bench business %%s', g)),
       now(), now(), now()
from generate_series(1, %(orgs)s) g
"""

ORGS_SQL = """
insert into bench.orgs (n, organization_id, user_id)
select (regexp_match(u.email, '^owner(\\d+)@'))[1]::integer, m.organization_id, u.id
from auth.users u
join public.memberships m on m.user_id = u.id and m.role = 'owner'
where u.email like 'owner%%@bench.invoiceflow.local'
"""

CLIENTS_SQL = """
insert into public.clients (id, organization_id, company_name, contact_person, email, currency,
                            created_by)
select gen_random_uuid(), o.organization_id, format('Client %%s of business %%s', c, o.n),
       format('Contact %%s', c), format('billing%%s@client%%s.example.com', c, o.n), 'USD',
       o.user_id
from bench.orgs o
cross join generate_series(0, %(clients_per_org)s - 1) c;

insert into bench.clients (organization_id, k, client_id)
select organization_id, (row_number() over (partition by organization_id order by id) - 1)::integer,
       id
from public.clients
"""

# Statuses of the non-target invoices, cycled: 1 draft, 4 sent, 12 paid, 2 overdue,
# 1 cancelled in 20.
INVOICES_SQL = """
select setseed(0.42);
insert into public.invoices (
  organization_id, created_by, client_id, invoice_number, issue_date, due_date, payment_terms,
  status, currency, subtotal, tax_rate, tax_amount, discount, total_amount, amount_paid,
  notes, sent_at, paid_at, cancelled_at)
select o.organization_id, o.user_id, c.client_id, 'INV-' || lpad(x.i::text, 6, '0'),
       s.issue, s.issue + 30, 'net30', s.status, 'USD', s.sub, 10, m.tax, 0, s.sub + m.tax,
       case when s.status = 'paid' then s.sub + m.tax else 0 end,
       'Thank you for your business.',
       case when s.status <> 'draft' then s.issue::timestamptz end,
       case when s.status = 'paid' then (s.issue + 20)::timestamptz end,
       case when s.status = 'cancelled' then (s.issue + 5)::timestamptz end
from generate_series(1, %(invoices)s) j
cross join lateral (
  select (case when j <= %(large)s then 1
               else 2 + (j - %(large)s - 1) %% (%(orgs)s - 1) end)::integer as org_n,
         (case when j <= %(large)s then j
               else (j - %(large)s - 1) / (%(orgs)s - 1) + 1 end)::integer as i
) x
join bench.orgs o on o.n = x.org_n
join bench.clients c on c.organization_id = o.organization_id
                    and c.k = x.i %% %(clients_per_org)s
cross join lateral (
  select date '2023-01-01' + ((x.i * 37 + x.org_n * 11) %% 1000) as issue,
         case when x.i <= %(targets_per_org)s then 'draft'
              else (array['draft', 'sent', 'sent', 'sent', 'sent', 'paid', 'paid', 'paid',
                          'paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid', 'paid',
                          'paid', 'overdue', 'overdue', 'cancelled'])[1 + (x.i * 7 + x.org_n) %% 20]
         end as status,
         case when x.i <= %(targets_per_org)s then 0::numeric
              else round((100 + random() * 5000)::numeric, 2) end as sub
) s
cross join lateral (select round(s.sub * 0.10, 2) as tax) m
"""

AFTER_LOAD_SQL = """
update public.clients c
set total_billed = private.round_money(t.total_billed, c.currency),
    last_invoice_date = t.last_invoice_date,
    outstanding_balance = private.round_money(t.outstanding_balance, c.currency)
from (
  select client_id,
         coalesce(sum(total_amount) filter (where status in ('sent', 'paid', 'overdue')), 0)
           as total_billed,
         max(issue_date) filter (where status in ('sent', 'paid', 'overdue')) as last_invoice_date,
         coalesce(sum(balance_due) filter (where status in ('sent', 'overdue')), 0)
           as outstanding_balance
  from public.invoices
  group by client_id
) t
where c.id = t.client_id;

update public.organization_settings s
set next_invoice_number = t.n + 1
from (select organization_id, count(*) as n from public.invoices group by organization_id) t
where s.organization_id = t.organization_id;

create table bench.item_targets as
select (row_number() over (order by i.id))::integer as n, i.id as invoice_id,
       i.organization_id, i.currency
from public.invoices i
where i.status = 'draft' and i.subtotal = 0 and i.invoice_number <= %(last_target_number)s
order by i.id
limit %(item_invoices)s;
alter table bench.item_targets add primary key (n);
"""

# Existing lines of the other invoices: `existing_items` each, quantity 1, summing exactly
# to the invoice's subtotal (the last line takes the rounding remainder).
EXISTING_ITEMS_SQL = """
insert into public.invoice_items (organization_id, invoice_id, currency, position, description,
                                  quantity, rate, created_at, updated_at)
select i.organization_id, i.id, i.currency, g, format('Line %%s: consulting services', g), 1,
       case when g < %(existing_items)s then round(i.subtotal / %(existing_items)s, 2)
            else i.subtotal - (%(existing_items)s - 1) * round(i.subtotal / %(existing_items)s, 2)
       end,
       i.created_at, i.created_at
from public.invoices i
cross join generate_series(1, %(existing_items)s) g
where i.subtotal > 0
"""

# What the bulk load drops and rebuilds, captured with an empty search_path so that every
# name comes out schema-qualified. Order: unique constraints, plain indexes, then the
# foreign keys that reference the table (they need its unique constraint).
SAVE_DEFINITIONS_SQL = """
select 0 as phase, k.conindid::bigint as ord,
       format('alter table %%s add constraint %%I %%s', k.conrelid::regclass, k.conname,
              pg_get_constraintdef(k.oid)),
       format('alter table %%s drop constraint %%I', k.conrelid::regclass, k.conname)
from pg_constraint k
where k.conrelid = %(table)s::regclass and k.contype in ('p', 'u')
union all
select 1, i.indexrelid::bigint, pg_get_indexdef(i.indexrelid),
       format('drop index %%s', i.indexrelid::regclass)
from pg_index i
where i.indrelid = %(table)s::regclass
  and not exists (select from pg_constraint k where k.conindid = i.indexrelid)
union all
select 2, k.oid::bigint,
       format('alter table %%s add constraint %%I %%s', k.conrelid::regclass, k.conname,
              pg_get_constraintdef(k.oid)),
       format('alter table %%s drop constraint %%I', k.conrelid::regclass, k.conname)
from pg_constraint k
where k.confrelid = %(table)s::regclass and k.contype = 'f'
order by 1, 2
"""

VACUUM_TABLES = (
    "auth.users",
    "public.organizations",
    "public.memberships",
    "public.organization_settings",
    "public.profiles",
    "public.clients",
    "public.client_activities",
    "public.invoices",
    "public.invoice_items",
    "public.payments",
    "public.audit_log",
    "bench.orgs",
    "bench.clients",
    "bench.item_targets",
)


@dataclass(frozen=True)
class Org:
    n: int
    organization_id: UUID
    owner_id: UUID


@dataclass
class Dataset:
    orgs: int
    invoices: int
    large_invoices: int
    clients_per_org: int
    item_invoices: int
    typical: list[Org] = field(default_factory=list)
    large: Org | None = None
    multi_user_id: UUID | None = None
    multi_orgs: list[UUID] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [
            f"{self.counts.get('organizations', 0):,} organizations,"
            f" {self.counts.get('clients', 0):,} clients,"
            f" {self.counts.get('invoices', 0):,} invoices"
            f" (largest organization {self.large_invoices:,};"
            f" others about {(self.invoices - self.large_invoices) // max(1, self.orgs - 1):,}"
            f" each), {self.counts.get('sent', 0):,} sent;"
            f" {self.counts.get('invoice_items', 0):,} invoice items;"
            f" {self.counts.get('item_targets', 0):,} empty draft invoices for the items benchmark",
            "load: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings.items()),
        ]
        return "\n".join(lines)


def _step(ds: Dataset, name: str, conn: Conn, sql: str, params: dict[str, object]) -> None:
    started = time.perf_counter()
    with conn.cursor() as cur:
        # Several statements with parameters: run them one by one.
        for statement in [s for s in sql.split(";\n") if s.strip()]:
            cur.execute(statement, params)
    ds.timings[name] = time.perf_counter() - started


@contextmanager
def _indexes_rebuilt_after(ds: Dataset, conn: Conn, table: str) -> Iterator[None]:
    """Drops the table's indexes and unique constraints (and the foreign keys that need
    them) for the block, then rebuilds them from their own definitions, in their order."""
    with conn.cursor() as cur:
        cur.execute("set search_path = ''")
        definitions = cur.execute(SAVE_DEFINITIONS_SQL, {"table": table}).fetchall()
        cur.execute("set search_path to default")
    with conn.transaction():
        for _, _, _, drop in reversed(definitions):
            conn.execute(drop)
    yield
    started = time.perf_counter()
    conn.execute("set maintenance_work_mem = '256MB'")
    with conn.transaction():
        for _, _, create, _ in definitions:
            conn.execute(create)
    conn.execute("reset maintenance_work_mem")
    ds.timings[f"{table} indexes"] = time.perf_counter() - started


def load(
    conn: Conn,
    *,
    orgs: int,
    invoices: int,
    clients_per_org: int,
    large_share: float,
    item_invoices: int,
    existing_items: int,
) -> Dataset:
    """Fills the (already bootstrapped) database; ``conn`` is a superuser in autocommit."""
    if orgs < 5:
        raise ValueError("the benchmark needs at least 5 organizations")
    targets_per_org = max(1, math.ceil(item_invoices / orgs))
    large = round(invoices * large_share)
    per_other = (invoices - large) // (orgs - 1)
    if per_other <= targets_per_org + 20:
        raise ValueError(
            f"{invoices} invoices over {orgs} organizations leave {per_other} per organization:"
            f" not enough beside the {targets_per_org} empty drafts each for the items benchmark"
        )
    ds = Dataset(
        orgs=orgs,
        invoices=invoices,
        large_invoices=large,
        clients_per_org=clients_per_org,
        item_invoices=item_invoices,
    )
    params: dict[str, object] = {
        "orgs": orgs,
        "invoices": invoices,
        "large": large,
        "clients_per_org": clients_per_org,
        "targets_per_org": targets_per_org,
        "item_invoices": item_invoices,
        "existing_items": existing_items,
        "last_target_number": "INV-" + str(targets_per_org).rjust(6, "0"),
    }
    conn.execute("alter system set autovacuum = off")
    conn.execute("select pg_reload_conf()")
    conn.execute(SCHEMA_SQL)

    log(f"loading {orgs:,} users (the signup trigger creates their organizations)")
    _step(ds, "users+organizations", conn, USERS_SQL + ";\n" + ORGS_SQL, params)

    conn.execute("set session_replication_role = replica")
    try:
        log(f"loading {orgs * clients_per_org:,} clients")
        _step(ds, "clients", conn, CLIENTS_SQL, params)

        log(f"loading {invoices:,} invoices (indexes dropped, rebuilt afterwards)")
        with _indexes_rebuilt_after(ds, conn, "public.invoices"):
            _step(ds, "invoices", conn, INVOICES_SQL, params)
        _step(ds, "client totals+targets", conn, AFTER_LOAD_SQL, params)
        if existing_items > 0:
            log(f"loading {existing_items} items on every other invoice (indexes rebuilt after)")
            with _indexes_rebuilt_after(ds, conn, "public.invoice_items"):
                _step(ds, "invoice items", conn, EXISTING_ITEMS_SQL, params)
    finally:
        conn.execute("set session_replication_role = origin")

    orgs_rows = conn.execute(
        "select n, organization_id, user_id from bench.orgs where n <= 54 order by n"
    ).fetchall()
    by_n = {int(n): Org(int(n), org_id, user_id) for n, org_id, user_id in orgs_rows}
    ds.large = by_n[1]
    # The user of several organizations: owner of 2, member of 3 and 4 (audited inserts,
    # through the triggers, as an admin would add them).
    conn.execute(
        "insert into public.memberships (organization_id, user_id, role)"
        " select o.organization_id, %s, 'member' from bench.orgs o where o.n in (3, 4)",
        (by_n[2].owner_id,),
    )
    ds.multi_user_id = by_n[2].owner_id
    ds.multi_orgs = [by_n[2].organization_id, by_n[3].organization_id, by_n[4].organization_id]
    ds.typical = [org for n, org in sorted(by_n.items()) if n >= 5]

    log("vacuum (analyze), checkpoint")
    started = time.perf_counter()
    conn.execute("vacuum (analyze) " + ", ".join(VACUUM_TABLES))
    conn.execute("checkpoint")
    ds.timings["vacuum+analyze"] = time.perf_counter() - started

    row = conn.execute(
        "select (select count(*) from public.organizations),"
        " (select count(*) from public.clients),"
        " (select count(*) from public.invoices),"
        " (select count(*) from public.invoices where status = 'sent'),"
        " (select count(*) from bench.item_targets),"
        " (select count(*) from public.invoice_items)"
    ).fetchone()
    assert row is not None
    names = ("organizations", "clients", "invoices", "sent", "item_targets", "invoice_items")
    ds.counts = dict(zip(names, row, strict=True))
    return ds
