-- =============================================================================
-- Reconciliation matching: its settings, the 3-way matching engine and the match
-- results. The exception queue the engine fills, with the reading and resolving of
-- exceptions and the dashboard, is the next migration (_exceptions); vendor
-- normalization (merge suggestions, confirm, reject, split) the one after (_vendors).
--
-- The rules (docs/api.md, "Reconciliation: vendors, matching and exceptions"):
--
-- * Tolerances: the organization's reconciliation_settings (defaults when it
--   has none), each one overridable per vendor (vendors.*_tolerance_*; null =
--   the organization's). The invoice's vendor decides; for an unknown vendor,
--   the purchase order's vendor; else the organization's.
-- * The purchase order: the one the person linked (vendor_invoices.
--   po_linked_manually), else the organization's PO whose normalized number is
--   the invoice's po_number.
-- * The PO line of an invoice line: the one a person linked, else the PO's line
--   with the same normalized item code, else the one with the same description
--   (case and surrounding blanks ignored); the lowest line number wins a tie.
-- * Quantity: billed <= received - billed by earlier invoices (matched);
--   <= received x (1 + quantity tolerance %) - billed earlier (within
--   tolerance); above, or nothing received yet: over_billed_quantity.
--   "Earlier" orders every non-rejected invoice billing the same PO line by
--   (invoice_date, created_at, id, line number): deterministic, so re-matching
--   gives the same answer and the later of two invoices is the one flagged.
-- * Unit price: allowance = the LARGER of PO price x price tolerance % and the
--   absolute price tolerance amount (either one suffices). billed = PO price:
--   matched; billed below the PO price or above it by <= allowance: within
--   tolerance (the variance recorded); above by more: price_variance.
-- * Line amount: |billed amount - round(quantity x billed price)| <= the total
--   tolerance amount; else total_variance (check line_amount).
-- * Document: |subtotal - sum of line amounts| and |sum of line amounts + tax -
--   total| each <= the total tolerance amount (tax and rounding); else
--   total_variance (checks subtotal, total).
-- * Duplicate: another non-rejected invoice of the same vendor (the vendor, or
--   for unknown vendors the normalized name) with the same normalized number,
--   or with the same currency, total and invoice date under another number;
--   the later one (created_at, then invoice number, then id) is the duplicate.
-- * Unknown vendor: vendor_id null; the evidence lists the best trigram
--   suggestions (vendor names and aliases) above the similarity threshold.
--
-- Idempotence: matching an invoice replaces its result and its line results;
-- its exceptions are keyed by (type, check, line): one detected again stays
-- (open, or closed by a person if its evidence is unchanged); one a person
-- closed is reopened when its expected/actual changed; an open one no longer
-- detected is resolved as auto_resolved. An invoice a person approved or
-- rejected is never re-matched (it is skipped and reported).
--
-- Re-matching is automatic: statement-level triggers on purchase orders, PO
-- lines and goods receipt lines re-match the organization's pending and
-- exception invoices naming those purchase orders (reconciliation_settings.
-- auto_rematch, default on).
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.reconciliation_settings (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  quantity_tolerance_percent numeric not null default 0
    check (quantity_tolerance_percent between 0 and 100),
  price_tolerance_percent numeric not null default 0
    check (price_tolerance_percent between 0 and 100),
  price_tolerance_amount numeric not null default 0
    check (price_tolerance_amount >= 0 and price_tolerance_amount < 1e9),
  total_tolerance_amount numeric not null default 0.05
    check (total_tolerance_amount >= 0 and total_tolerance_amount < 1e9),
  vendor_similarity_threshold numeric not null default 0.4
    check (vendor_similarity_threshold > 0 and vendor_similarity_threshold <= 1),
  auto_rematch boolean not null default true,
  updated_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- The last matching of an invoice (replaced by each re-match).
create table public.vendor_invoice_matches (
  vendor_invoice_id uuid primary key,
  organization_id uuid not null,
  outcome text not null check (outcome in ('matched', 'matched_with_tolerance', 'exception')),
  purchase_order_id uuid,
  po_matched_by text check (po_matched_by in ('po_number', 'manual')),
  currency text not null,
  lines_total numeric not null,
  expected_lines_total numeric,
  subtotal numeric not null,
  tax_amount numeric not null,
  total_amount numeric not null,
  subtotal_variance numeric not null,
  total_variance numeric not null,
  lines_count integer not null,
  lines_matched integer not null,
  lines_within_tolerance integer not null,
  lines_exception integer not null,
  open_exceptions integer not null,
  tolerances jsonb not null,
  matched_at timestamptz not null default now(),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade,
  foreign key (organization_id, purchase_order_id)
    references public.purchase_orders (organization_id, id) on delete set null (purchase_order_id)
);

-- The evidence for one invoice line: what it was matched to and each check's
-- expected vs actual. rule names the check that decided the line's outcome.
create table public.vendor_invoice_line_matches (
  vendor_invoice_line_id uuid primary key,
  organization_id uuid not null,
  vendor_invoice_id uuid not null,
  line_number integer not null,
  purchase_order_line_id uuid,
  matched_by text check (matched_by in ('item_code', 'description', 'manual')),
  outcome text not null check (outcome in ('matched', 'matched_with_tolerance', 'exception')),
  rule text not null,
  ordered_quantity numeric,
  received_quantity numeric,
  previously_billed_quantity numeric,
  billed_quantity numeric not null,
  allowed_quantity numeric,
  quantity_variance numeric,
  po_unit_price numeric,
  billed_unit_price numeric not null,
  price_variance numeric,
  price_allowance numeric,
  expected_amount numeric not null,
  billed_amount numeric not null,
  amount_variance numeric not null,
  foreign key (organization_id, vendor_invoice_line_id)
    references public.vendor_invoice_lines (organization_id, id) on delete cascade,
  foreign key (organization_id, purchase_order_line_id)
    references public.purchase_order_lines (organization_id, id)
    on delete set null (purchase_order_line_id),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade
);

-- Row level security: members read; every write goes through the functions
-- below (settings: admins, directly or through the function).
alter table public.reconciliation_settings enable row level security;

alter table public.vendor_invoice_matches enable row level security;
alter table public.vendor_invoice_line_matches enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index vendor_invoice_matches_organization_idx
  on public.vendor_invoice_matches (organization_id, outcome);

create index vendor_invoice_line_matches_invoice_idx
  on public.vendor_invoice_line_matches (vendor_invoice_id, line_number);

-- What other invoices billed against a PO line (over-billing).
create index vendor_invoice_line_matches_po_line_idx
  on public.vendor_invoice_line_matches (purchase_order_line_id);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index reconciliation_settings_updated_by_idx on public.reconciliation_settings (updated_by) where updated_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- The organization's settings, or the defaults when it never saved any.
create or replace function private.reconciliation_settings_of(organization_id uuid)
returns public.reconciliation_settings
language sql
stable
security invoker
set search_path = ''
as $$
  select (s.r).* from (
    select r, 1 as pref from public.reconciliation_settings r where r.organization_id = reconciliation_settings_of.organization_id
    union all
    select row(reconciliation_settings_of.organization_id, 0, 0, 0, 0.05, 0.4, true, null, now(), now())::public.reconciliation_settings, 2
  ) s
  order by s.pref
  limit 1
$$;

-- Whoever saves the settings is the one recorded (a direct write cannot name another).
create or replace function private.stamp_settings_author()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_by := auth.uid();
  return new;
end;
$$;

-- A quantity or price for a sentence: no trailing zeros ("10", "2.5").
create or replace function private.recon_num(value numeric)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(pg_catalog.trim_scale(value)::text, 'none')
$$;

-- The best existing vendors for a name: by trigram similarity of the normalized
-- name against vendors' normalized names and aliases, above the threshold.
create or replace function private.vendor_candidates(
  organization_id uuid, name text, threshold numeric, max_results integer default 3,
  exclude_vendor uuid default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with key as (select private.normalize_vendor_name(name) as k),
  hits as (
    select v.id, v.name, extensions.similarity(v.normalized_name, key.k) as score,
           'name'::text as via, v.name as matched
    from public.vendors v, key
    where v.organization_id = vendor_candidates.organization_id and v.status <> 'merged'
      and (exclude_vendor is null or v.id <> exclude_vendor)
    union all
    select v.id, v.name, extensions.similarity(a.normalized_alias, key.k), 'alias', a.alias
    from public.vendor_aliases a
    join public.vendors v on v.id = a.vendor_id, key
    where a.organization_id = vendor_candidates.organization_id and v.status <> 'merged'
      and (exclude_vendor is null or v.id <> exclude_vendor)
  ),
  best as (
    select distinct on (h.id) h.* from hits h
    where h.score >= threshold
    order by h.id, h.score desc
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'vendor_id', b.id, 'name', b.name, 'similarity', round(b.score::numeric, 3),
           'via', b.via, 'matched', b.matched) order by b.score desc, b.name), '[]')
  from (select * from best order by score desc, name limit max_results) b
$$;

-- Matches the given vendor invoices of the organization (null: every pending
-- and exception invoice) in a few set-based statements. Returns
-- {"matched": n, "matched_with_tolerance": n, "exception": n, "invoices": n,
--  "skipped": [{"id", "reason"}]} (ids given that are approved, rejected or
-- not the organization's).
--
-- match_vendor_invoices: matches, line matches and exceptions are derived from the
-- documents and the settings, never written by a person (no write policy); the
-- core checks the caller (private.require_role: a member, or the service role).
create or replace function private.match_vendor_invoices(
  organization_id uuid, invoice_ids uuid[] default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set client_min_messages = warning
set jit = off
as $$
declare
  org uuid := match_vendor_invoices.organization_id;
  ids uuid[] := match_vendor_invoices.invoice_ids;
  cfg public.reconciliation_settings;
  skipped jsonb := '[]';
  counts jsonb;
  n integer;
begin
  perform private.require_role(org, 'member',
    'reconciliation changes need the member role or above in the organization');
  if ids is not null and cardinality(ids) > 50000 then
    raise exception 'at most 50000 invoices can be matched at once; % were given', cardinality(ids)
      using errcode = '22023';
  end if;
  cfg := private.reconciliation_settings_of(org);

  drop table if exists pg_temp.recon_ids, pg_temp.recon_mi, pg_temp.recon_ml,
    pg_temp.recon_lr, pg_temp.recon_mx, pg_temp.recon_old, pg_temp.recon_ex, pg_temp.recon_ir,
    pg_temp.recon_lines, pg_temp.recon_pol;

  -- 1. The invoices, locked (id order: concurrent matchings cannot deadlock).
  create temp table recon_ids on commit drop as
  select vi.id
  from public.vendor_invoices vi
  where vi.organization_id = org
    and vi.status not in ('approved', 'rejected')
    and (case when ids is null then vi.status in ('pending', 'exception')
              else vi.id = any (ids) end)
  order by vi.id
  for update;
  perform 'PRAGMA:TABLE: recon_ids (id uuid)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_ids (id);
  analyze recon_ids;

  if ids is not null then
    select coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'reason',
             case when vi.status in ('approved', 'rejected')
                  then 'the invoice was ' || vi.status || ' by a person and is not re-matched'
                  else 'no such vendor invoice in the organization' end)), '[]')
    into skipped
    from (select distinct u.id from unnest(ids) u(id) where u.id is not null) x
    left join public.vendor_invoices vi on vi.id = x.id and vi.organization_id = org
    where not exists (select 1 from recon_ids r where r.id = x.id);
  end if;

  -- 2. Each invoice with its purchase order and effective tolerances.
  create temp table recon_mi on commit drop as
  select vi.id as invoice_id, vi.vendor_id, vi.vendor_name, vi.invoice_number,
         vi.normalized_invoice_number, vi.invoice_date, vi.created_at, vi.currency,
         vi.subtotal, vi.tax_amount, vi.total_amount, vi.po_number, vi.po_linked_manually,
         po.id as po_id, po.po_number as po_number_found, po.status as po_status,
         po.vendor_id as po_vendor_id, po.currency as po_currency,
         case when po.id is null then null
              when vi.po_linked_manually then 'manual' else 'po_number' end as po_matched_by,
         coalesce(tv.quantity_tolerance_percent, cfg.quantity_tolerance_percent) as qty_pct,
         coalesce(tv.price_tolerance_percent, cfg.price_tolerance_percent) as price_pct,
         coalesce(tv.price_tolerance_amount, cfg.price_tolerance_amount) as price_amt,
         coalesce(tv.total_tolerance_amount, cfg.total_tolerance_amount) as total_tol
  from recon_ids r
  join public.vendor_invoices vi on vi.id = r.id
  left join public.purchase_orders by_link on vi.po_linked_manually
    and by_link.organization_id = org and by_link.id = vi.purchase_order_id
  left join public.purchase_orders by_number on not vi.po_linked_manually
    and by_number.organization_id = org
    and by_number.normalized_po_number = private.normalize_document_number(vi.po_number)
  cross join lateral (
    select coalesce(by_link.id, by_number.id) as id,
           coalesce(by_link.po_number, by_number.po_number) as po_number,
           coalesce(by_link.status, by_number.status) as status,
           coalesce(by_link.vendor_id, by_number.vendor_id) as vendor_id,
           coalesce(by_link.currency, by_number.currency) as currency
  ) po
  left join public.vendors tv on tv.organization_id = org
    and tv.id = coalesce(vi.vendor_id, po.vendor_id);
  perform 'PRAGMA:TABLE: recon_mi (invoice_id uuid, vendor_id uuid, vendor_name text, invoice_number text, normalized_invoice_number text, invoice_date date, created_at timestamp with time zone, currency text, subtotal numeric, tax_amount numeric, total_amount numeric, po_number text, po_linked_manually boolean, po_id uuid, po_number_found text, po_status text, po_vendor_id uuid, po_currency text, po_matched_by text, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_mi;

  -- 3. Each line with its PO line, received and earlier-billed quantities.
  create temp table recon_lines on commit drop as
    select l.id as line_id, m.invoice_id, l.line_number, l.item_code, l.description,
           l.quantity, l.unit_price, l.amount, m.currency, m.invoice_date, m.created_at,
           m.qty_pct, m.price_pct, m.price_amt, m.total_tol, m.po_id,
           pl.id as po_line_id, pl.matched_by, pl.line_number as po_line_number,
           pl.quantity as ordered, pl.unit_price as po_price
    from recon_mi m
    join public.vendor_invoice_lines l on l.vendor_invoice_id = m.invoice_id
    left join lateral (
      select c.id, c.matched_by, c.line_number, c.quantity, c.unit_price
      from (
        select p.id, 'manual'::text as matched_by, p.line_number, p.quantity, p.unit_price, 1 as pref
        from public.purchase_order_lines p
        where l.po_line_linked_manually and p.organization_id = org
          and p.id = l.purchase_order_line_id
        union all
        select p.id, 'item_code', p.line_number, p.quantity, p.unit_price, 2
        from public.purchase_order_lines p
        where not l.po_line_linked_manually and p.purchase_order_id = m.po_id
          and l.normalized_item_code <> '' and p.normalized_item_code = l.normalized_item_code
        union all
        select p.id, 'description', p.line_number, p.quantity, p.unit_price, 3
        from public.purchase_order_lines p
        where not l.po_line_linked_manually and p.purchase_order_id = m.po_id
          and lower(btrim(p.description)) = lower(btrim(l.description))
      ) c
      order by c.pref, c.line_number
      limit 1
    ) pl on true
;
  perform 'PRAGMA:TABLE: recon_lines (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_lines;
  -- The PO lines concerned, keyed: what other invoices billed against them and
  -- what was received are read through this index, whatever the statistics of
  -- vendor_invoice_line_matches (perhaps written earlier in this transaction).
  create temp table recon_pol on commit drop as
  select distinct x.po_line_id as id from recon_lines x where x.po_line_id is not null;
  perform 'PRAGMA:TABLE: recon_pol (id uuid)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_pol (id);
  analyze recon_pol;

  create temp table recon_ml on commit drop as
  with received as (
    select g.purchase_order_line_id as po_line_id, sum(g.quantity_received) as qty
    from recon_pol p
    join public.goods_receipt_lines g on g.purchase_order_line_id = p.id
    where g.organization_id = org
    group by g.purchase_order_line_id
  ),
  billing as (
    select x.line_id, x.po_line_id, x.quantity, x.invoice_date, x.created_at, x.invoice_id,
           x.line_number, true as mine
    from recon_lines x where x.po_line_id is not null
    union all
    select lm.vendor_invoice_line_id, lm.purchase_order_line_id, lm.billed_quantity,
           vi.invoice_date, vi.created_at, vi.id, lm.line_number, false
    from recon_pol p
    join public.vendor_invoice_line_matches lm on lm.purchase_order_line_id = p.id
    join public.vendor_invoices vi on vi.id = lm.vendor_invoice_id
    where lm.organization_id = org
      and vi.status <> 'rejected'
      and not exists (select 1 from recon_ids r where r.id = vi.id)
  ),
  earlier as (
    select b.line_id, b.mine,
           coalesce(sum(b.quantity) over (
             partition by b.po_line_id
             order by b.invoice_date, b.created_at, b.invoice_id, b.line_number
             rows between unbounded preceding and 1 preceding), 0) as billed_before
    from billing b
  )
  select x.*, coalesce(rc.qty, 0) as received, e.billed_before
  from recon_lines x
  left join received rc on rc.po_line_id = x.po_line_id
  left join earlier e on e.line_id = x.line_id and e.mine;
  perform 'PRAGMA:TABLE: recon_ml (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric, received numeric, billed_before numeric)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_ml;

  -- 4. Each line's checks.
  create temp table recon_lr on commit drop as
  with c as (
    select ml.*,
           case when ml.po_line_id is null then null
                else pg_catalog.trim_scale(ml.received * (1 + ml.qty_pct / 100) - ml.billed_before)
           end as allowed_qty,
           case when ml.po_line_id is null then null
                else ml.received - ml.billed_before end as available_qty,
           case when ml.po_line_id is null then null
                else ml.unit_price - ml.po_price end as price_var,
           case when ml.po_line_id is null then null
                else pg_catalog.trim_scale(greatest(ml.po_price * ml.price_pct / 100, ml.price_amt))
           end as price_allow,
           private.round_money(ml.quantity * ml.unit_price, ml.currency) as expected_amount
    from recon_ml ml
  ),
  d as (
  select c.*,
         c.amount - c.expected_amount as amount_var,
         case when c.po_line_id is null then 'exception'
              when c.received = 0 or c.quantity > c.allowed_qty then 'exception'
              when c.quantity > c.available_qty then 'matched_with_tolerance'
              else 'matched' end as qty_outcome,
         case when c.po_line_id is null then 'exception'
              when c.price_var > c.price_allow then 'exception'
              when c.price_var <> 0 then 'matched_with_tolerance'
              else 'matched' end as price_outcome,
         case when abs(c.amount - c.expected_amount) > c.total_tol then 'exception'
              when c.amount <> c.expected_amount then 'matched_with_tolerance'
              else 'matched' end as amount_outcome
  from c
  )
  select d.*,
         case when 'exception' in (d.qty_outcome, d.price_outcome, d.amount_outcome) then 'exception'
              when 'matched_with_tolerance' in (d.qty_outcome, d.price_outcome, d.amount_outcome)
                then 'matched_with_tolerance'
              else 'matched' end as line_outcome,
         case when d.po_line_id is null then 'po_line'
              when d.qty_outcome = 'exception' then 'quantity'
              when d.price_outcome = 'exception' then 'price'
              when d.amount_outcome = 'exception' then 'line_amount'
              when d.qty_outcome <> 'matched' then 'quantity'
              when d.price_outcome <> 'matched' then 'price'
              when d.amount_outcome <> 'matched' then 'line_amount'
              else 'exact' end as line_rule
  from d;
  perform 'PRAGMA:TABLE: recon_lr (line_id uuid, invoice_id uuid, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, currency text, invoice_date date, created_at timestamp with time zone, qty_pct numeric, price_pct numeric, price_amt numeric, total_tol numeric, po_id uuid, po_line_id uuid, matched_by text, po_line_number integer, ordered numeric, po_price numeric, received numeric, billed_before numeric, allowed_qty numeric, available_qty numeric, price_var numeric, price_allow numeric, expected_amount numeric, amount_var numeric, qty_outcome text, price_outcome text, amount_outcome text, line_outcome text, line_rule text)';  -- its columns, for plpgsql_check (supabase db lint)

  -- 5. The exceptions detected now.
  create temp table recon_mx on commit drop as
  -- unknown vendor, with suggestions
  select m.invoice_id, null::uuid as line_id, null::integer as line_number,
         'unknown_vendor'::text as type, 'vendor'::text as check_name, 'high'::text as severity,
         'a vendor of the organization'::text as expected, m.vendor_name as actual,
         null::numeric as variance,
         format('The vendor %s is not one of the organization''s vendors (nor a confirmed alias)%s',
                pg_catalog.quote_literal(m.vendor_name),
                case when jsonb_array_length(s.candidates) > 0
                     then '; did you mean ' || (s.candidates -> 0 ->> 'name') || '?' else '' end)
           as message,
         jsonb_build_object('vendor_name', m.vendor_name,
                            'normalized_name', private.normalize_vendor_name(m.vendor_name),
                            'suggestions', s.candidates) as evidence
  from recon_mi m
  cross join lateral (
    select private.vendor_candidates(org, m.vendor_name, cfg.vendor_similarity_threshold) as candidates
  ) s
  where m.vendor_id is null
  union all
  -- duplicate invoice
  select m.invoice_id, null, null, 'duplicate_invoice', 'duplicate', 'high',
         'no other invoice of this vendor with this number, or with this total and date',
         format('%s of %s, %s %s', d.invoice_number, d.invoice_date, d.total_amount, d.currency),
         null,
         format('Invoice %s looks like a duplicate of invoice %s (%s) of the same vendor: %s',
                m.invoice_number, d.invoice_number, d.invoice_date,
                case when d.normalized_invoice_number = m.normalized_invoice_number
                     then 'the same invoice number'
                     else format('the same total %s %s and date under another number',
                                 m.total_amount, m.currency) end),
         jsonb_build_object('duplicate_of', d.id, 'invoice_number', d.invoice_number,
                            'invoice_date', d.invoice_date, 'total_amount', d.total_amount::text,
                            'status', d.status)
  from recon_mi m
  cross join lateral (
    select o.* from (
      select o.id, o.invoice_number, o.normalized_invoice_number, o.invoice_date,
             o.total_amount, o.currency, o.status, o.created_at
      from public.vendor_invoices o
      where m.vendor_id is not null and o.organization_id = org and o.vendor_id = m.vendor_id
        and o.id <> m.invoice_id and o.status <> 'rejected'
        and (o.normalized_invoice_number = m.normalized_invoice_number
             or (o.total_amount = m.total_amount and o.invoice_date = m.invoice_date
                 and o.currency = m.currency))
        and (o.created_at, o.normalized_invoice_number, o.id)
            < (m.created_at, m.normalized_invoice_number, m.invoice_id)
      union all
      select o.id, o.invoice_number, o.normalized_invoice_number, o.invoice_date,
             o.total_amount, o.currency, o.status, o.created_at
      from public.vendor_invoices o
      where m.vendor_id is null and o.organization_id = org and o.vendor_id is null
        and private.normalize_vendor_name(o.vendor_name) = private.normalize_vendor_name(m.vendor_name)
        and o.id <> m.invoice_id and o.status <> 'rejected'
        and (o.normalized_invoice_number = m.normalized_invoice_number
             or (o.total_amount = m.total_amount and o.invoice_date = m.invoice_date
                 and o.currency = m.currency))
        and (o.created_at, o.normalized_invoice_number, o.id)
            < (m.created_at, m.normalized_invoice_number, m.invoice_id)
    ) o
    order by o.created_at, o.normalized_invoice_number, o.id
    limit 1
  ) d
  union all
  -- missing purchase order
  select m.invoice_id, null, null, 'missing_po', 'po_number', 'high',
         'a purchase order of the organization', coalesce(m.po_number, 'none'), null,
         case when coalesce(btrim(m.po_number), '') = ''
              then format('Invoice %s names no purchase order', m.invoice_number)
              else format('Invoice %s names purchase order %s, which the organization does not have',
                          m.invoice_number, m.po_number) end,
         jsonb_build_object('po_number', m.po_number)
  from recon_mi m
  where m.po_id is null
  union all
  -- the purchase order is another vendor's
  select m.invoice_id, null, null, 'missing_po', 'po_vendor', 'high',
         pv.name, m.vendor_name, null,
         format('Purchase order %s is for vendor %s, not for %s',
                m.po_number_found, pv.name, m.vendor_name),
         jsonb_build_object('purchase_order_id', m.po_id, 'po_vendor_id', m.po_vendor_id,
                            'invoice_vendor_id', m.vendor_id)
  from recon_mi m
  join public.vendors pv on pv.id = m.po_vendor_id
  where m.po_id is not null and m.vendor_id is not null and m.vendor_id <> m.po_vendor_id
  union all
  -- the purchase order is closed or cancelled
  select m.invoice_id, null, null, 'po_closed', 'po_status', 'medium', 'open', m.po_status, null,
         format('Purchase order %s is %s: it takes no more invoices', m.po_number_found, m.po_status),
         jsonb_build_object('purchase_order_id', m.po_id, 'po_status', m.po_status)
  from recon_mi m
  where m.po_id is not null and m.po_status <> 'open'
  union all
  select m.invoice_id, null, null, 'currency_mismatch', 'currency', 'high', m.po_currency,
         m.currency, null,
         format('Invoice %s is in %s but purchase order %s is in %s',
                m.invoice_number, m.currency, m.po_number_found, m.po_currency),
         jsonb_build_object('purchase_order_id', m.po_id)
  from recon_mi m
  where m.po_id is not null and m.po_currency <> m.currency
  union all
  -- lines: no PO line
  select r.invoice_id, r.line_id, r.line_number, 'missing_po_line', 'po_line', 'high',
         'a line of the purchase order with this item code or description',
         coalesce(r.item_code || ' ', '') || r.description, null,
         format('Line %s (%s) is on no line of purchase order %s (no line with item code %s or description %s)',
                r.line_number, r.description, m.po_number_found,
                coalesce(r.item_code, 'none'), pg_catalog.quote_literal(r.description)),
         jsonb_build_object('item_code', r.item_code, 'description', r.description,
                            'purchase_order_id', r.po_id)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.po_line_id is null and r.po_id is not null
  union all
  -- lines: quantity
  select r.invoice_id, r.line_id, r.line_number, 'over_billed_quantity',
         case when r.received = 0 then 'received' else 'quantity' end, 'high',
         private.recon_num(greatest(r.allowed_qty, 0)), private.recon_num(r.quantity),
         r.quantity - greatest(r.available_qty, 0),
         case when r.received = 0
              then format('Line %s (%s): %s billed but nothing has been received yet against PO %s line %s',
                          r.line_number, r.description, private.recon_num(r.quantity),
                          m.po_number_found, r.po_line_number)
              else format('Line %s (%s): %s billed but only %s received against PO %s line %s%s; at most %s may be billed with the %s%% quantity tolerance',
                          r.line_number, r.description, private.recon_num(r.quantity),
                          private.recon_num(r.received), m.po_number_found, r.po_line_number,
                          case when r.billed_before > 0
                               then format(' of which %s already billed by earlier invoices',
                                           private.recon_num(r.billed_before))
                               else '' end,
                          private.recon_num(greatest(r.allowed_qty, 0)), private.recon_num(r.qty_pct))
         end,
         jsonb_build_object('purchase_order_line_id', r.po_line_id,
                            'ordered', r.ordered::text, 'received', r.received::text,
                            'billed_before', r.billed_before::text,
                            'billed', r.quantity::text, 'allowed', r.allowed_qty::text,
                            'tolerance_percent', r.qty_pct::text)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.po_line_id is not null and r.qty_outcome = 'exception'
  union all
  -- lines: unit price
  select r.invoice_id, r.line_id, r.line_number, 'price_variance', 'price',
         case when r.price_var > r.po_price * 0.1 then 'high' else 'medium' end,
         private.recon_num(r.po_price), private.recon_num(r.unit_price), r.price_var,
         format('Line %s (%s): unit price %s is %s above the PO %s price %s; the tolerance allows %s (the larger of %s%% and %s)',
                r.line_number, r.description, private.recon_num(r.unit_price),
                private.recon_num(r.price_var), m.po_number_found, private.recon_num(r.po_price),
                private.recon_num(r.price_allow), private.recon_num(r.price_pct),
                private.recon_num(r.price_amt)),
         jsonb_build_object('purchase_order_line_id', r.po_line_id,
                            'po_unit_price', r.po_price::text, 'billed_unit_price', r.unit_price::text,
                            'variance', r.price_var::text, 'allowance', r.price_allow::text,
                            'tolerance_percent', r.price_pct::text,
                            'tolerance_amount', r.price_amt::text)
  from recon_lr r join recon_mi m on m.invoice_id = r.invoice_id
  where r.price_outcome = 'exception' and r.po_line_id is not null
  union all
  -- lines: amount vs quantity x price
  select r.invoice_id, r.line_id, r.line_number, 'total_variance', 'line_amount', 'medium',
         r.expected_amount::text, r.amount::text, r.amount_var,
         format('Line %s (%s): amount %s is not quantity %s x unit price %s = %s (off by %s; the rounding tolerance is %s)',
                r.line_number, r.description, r.amount, private.recon_num(r.quantity),
                private.recon_num(r.unit_price), r.expected_amount, r.amount_var, r.total_tol),
         jsonb_build_object('expected_amount', r.expected_amount::text,
                            'billed_amount', r.amount::text, 'tolerance', r.total_tol::text)
  from recon_lr r
  where r.amount_outcome = 'exception';
  perform 'PRAGMA:TABLE: recon_mx (invoice_id uuid, line_id uuid, line_number integer, type text, check_name text, severity text, expected text, actual text, variance numeric, message text, evidence jsonb)';  -- its columns, for plpgsql_check (supabase db lint)

  -- Document totals (needs the line sums).
  insert into recon_mx
  select t.invoice_id, null, null, 'total_variance', t.check_name, 'medium',
         t.expected::text, t.actual::text, t.actual - t.expected, t.message,
         jsonb_build_object('lines_total', t.lines_total::text, 'subtotal', t.subtotal::text,
                            'tax_amount', t.tax_amount::text, 'total_amount', t.total_amount::text,
                            'tolerance', t.total_tol::text)
  from (
    select m.invoice_id, 'subtotal' as check_name, coalesce(s.total, 0) as expected,
           m.subtotal as actual, m.total_tol, coalesce(s.total, 0) as lines_total, m.subtotal,
           m.tax_amount, m.total_amount,
           format('Invoice %s: the subtotal %s is not the sum of its lines %s (off by %s; the tolerance is %s)',
                  m.invoice_number, m.subtotal, coalesce(s.total, 0),
                  m.subtotal - coalesce(s.total, 0), m.total_tol) as message
    from recon_mi m
    left join (select invoice_id, sum(amount) as total from recon_ml group by invoice_id) s
      on s.invoice_id = m.invoice_id
    union all
    select m.invoice_id, 'total', coalesce(s.total, 0) + m.tax_amount, m.total_amount, m.total_tol,
           coalesce(s.total, 0), m.subtotal, m.tax_amount, m.total_amount,
           format('Invoice %s: the total %s is not the lines %s + tax %s = %s (off by %s; the tolerance is %s)',
                  m.invoice_number, m.total_amount, coalesce(s.total, 0), m.tax_amount,
                  coalesce(s.total, 0) + m.tax_amount,
                  m.total_amount - coalesce(s.total, 0) - m.tax_amount, m.total_tol)
    from recon_mi m
    left join (select invoice_id, sum(amount) as total from recon_ml group by invoice_id) s
      on s.invoice_id = m.invoice_id
  ) t
  where abs(t.actual - t.expected) > t.total_tol;

  -- 6. Write: resolved links, results, exceptions, statuses. Every statement
  -- joins the analyzed temp tables by their keys, never a table written in
  -- this call (its statistics would not know the rows just written).
  create index on recon_lr (line_id);
  analyze recon_lr;
  analyze recon_mx;

  delete from public.vendor_invoice_line_matches lm
  using recon_ids r where lm.vendor_invoice_id = r.id;

  insert into public.vendor_invoice_line_matches (
    vendor_invoice_line_id, organization_id, vendor_invoice_id, line_number,
    purchase_order_line_id, matched_by, outcome, rule, ordered_quantity, received_quantity,
    previously_billed_quantity, billed_quantity, allowed_quantity, quantity_variance,
    po_unit_price, billed_unit_price, price_variance, price_allowance, expected_amount,
    billed_amount, amount_variance)
  select r.line_id, org, r.invoice_id, r.line_number, r.po_line_id, r.matched_by,
         r.line_outcome, r.line_rule,
         r.ordered, case when r.po_line_id is null then null else r.received end,
         case when r.po_line_id is null then null else r.billed_before end,
         r.quantity, r.allowed_qty, r.quantity - r.available_qty, r.po_price, r.unit_price,
         r.price_var, r.price_allow, r.expected_amount, r.amount, r.amount_var
  from recon_lr r;

  -- The invoices' exceptions as they were, and as they are after this matching:
  -- one detected again stays (a person's accepted or dismissed decision stands
  -- while its expected and actual figures are unchanged; after an automatic or
  -- linked resolution it reopens); a new one opens; an open one no longer
  -- detected resolves itself.
  create temp table recon_old on commit drop as
  select e.id, e.vendor_invoice_id, e.dedupe_key, e.status, e.resolution, e.expected, e.actual
  from public.reconciliation_exceptions e
  where e.vendor_invoice_id in (select r.id from recon_ids r);
  perform 'PRAGMA:TABLE: recon_old (id uuid, vendor_invoice_id uuid, dedupe_key text, status text, resolution text, expected text, actual text)';  -- its columns, for plpgsql_check (supabase db lint)
  create index on recon_old (vendor_invoice_id, dedupe_key);
  analyze recon_old;

  create temp table recon_ex on commit drop as
  select x.*, m.vendor_id, o.id as old_id,
         case when o.id is null then 'open'
              when o.status = 'open' or o.resolution in ('auto_resolved', 'linked')
                   or o.expected is distinct from x.expected
                   or o.actual is distinct from x.actual then 'open'
              else o.status end as new_status
  from recon_mx x
  join recon_mi m on m.invoice_id = x.invoice_id
  left join recon_old o on o.vendor_invoice_id = x.invoice_id
    and o.dedupe_key = x.type || '/' || x.check_name || '/' || coalesce(x.line_id::text, '-');
  perform 'PRAGMA:TABLE: recon_ex (invoice_id uuid, line_id uuid, line_number integer, type text, check_name text, severity text, expected text, actual text, variance numeric, message text, evidence jsonb, vendor_id uuid, old_id uuid, new_status text)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze recon_ex;

  insert into public.reconciliation_exceptions as e (
    organization_id, vendor_invoice_id, vendor_invoice_line_id, vendor_id, type, check_name,
    severity, line_number, expected, actual, variance, message, evidence)
  select org, x.invoice_id, x.line_id, x.vendor_id, x.type, x.check_name, x.severity,
         x.line_number, x.expected, x.actual, x.variance, x.message, x.evidence
  from recon_ex x
  on conflict (vendor_invoice_id, dedupe_key) do update
  set vendor_id = excluded.vendor_id,
      severity = excluded.severity,
      line_number = excluded.line_number,
      expected = excluded.expected,
      actual = excluded.actual,
      variance = excluded.variance,
      message = excluded.message,
      evidence = excluded.evidence,
      last_detected_at = now(),
      status = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                      or e.expected is distinct from excluded.expected
                      or e.actual is distinct from excluded.actual
                    then 'open' else e.status end,
      resolution = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                          or e.expected is distinct from excluded.expected
                          or e.actual is distinct from excluded.actual
                        then null else e.resolution end,
      resolution_reason = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                                 or e.expected is distinct from excluded.expected
                                 or e.actual is distinct from excluded.actual
                               then null else e.resolution_reason end,
      resolved_by = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                           or e.expected is distinct from excluded.expected
                           or e.actual is distinct from excluded.actual
                         then null else e.resolved_by end,
      resolved_at = case when e.status = 'open' or e.resolution in ('auto_resolved', 'linked')
                           or e.expected is distinct from excluded.expected
                           or e.actual is distinct from excluded.actual
                         then null else e.resolved_at end
  -- Unchanged and staying as it is: not written (no audit entry, no churn).
  where (e.vendor_id, e.severity, e.line_number, e.expected, e.actual, e.variance, e.message,
         e.evidence)
        is distinct from
        (excluded.vendor_id, excluded.severity, excluded.line_number, excluded.expected,
         excluded.actual, excluded.variance, excluded.message, excluded.evidence)
     or (e.status <> 'open' and e.resolution in ('auto_resolved', 'linked'));

  update public.reconciliation_exceptions e
  set status = 'resolved', resolution = 'auto_resolved', resolved_by = null, resolved_at = now(),
      resolution_reason = 'no longer detected when the invoice was matched again'
  from recon_old o
  where e.id = o.id and o.status = 'open'
    and not exists (select 1 from recon_ex x where x.old_id = o.id);

  -- 7. Each invoice's result, from the temp tables.
  create temp table recon_ir on commit drop as
  select m.invoice_id,
         case when coalesce(ex.open, 0) > 0 then 'exception'
              when coalesce(ex.closed, 0) > 0 or coalesce(ls.tolerance, 0) > 0
                   or coalesce(ls.exception, 0) > 0 then 'matched_with_tolerance'
              else 'matched' end as outcome,
         m.po_id, m.po_matched_by, m.currency,
         coalesce(ls.total, 0) as lines_total, ls.expected as expected_lines_total,
         m.subtotal, m.tax_amount, m.total_amount,
         m.subtotal - coalesce(ls.total, 0) as subtotal_variance,
         m.total_amount - coalesce(ls.total, 0) - m.tax_amount as total_variance,
         coalesce(ls.n, 0)::integer as lines_count, coalesce(ls.matched, 0)::integer as lines_matched,
         coalesce(ls.tolerance, 0)::integer as lines_within_tolerance,
         coalesce(ls.exception, 0)::integer as lines_exception,
         coalesce(ex.open, 0)::integer as open_exceptions,
         jsonb_build_object('quantity_tolerance_percent', m.qty_pct::text,
                            'price_tolerance_percent', m.price_pct::text,
                            'price_tolerance_amount', m.price_amt::text,
                            'total_tolerance_amount', m.total_tol::text) as tolerances
  from recon_mi m
  left join (
    select r.invoice_id, count(*) as n, sum(r.amount) as total,
           sum(private.round_money(r.quantity * r.po_price, r.currency)) as expected,
           count(*) filter (where r.line_outcome = 'matched') as matched,
           count(*) filter (where r.line_outcome = 'matched_with_tolerance') as tolerance,
           count(*) filter (where r.line_outcome = 'exception') as exception
    from recon_lr r
    group by r.invoice_id
  ) ls on ls.invoice_id = m.invoice_id
  left join (
    select x.invoice_id, count(*) filter (where x.new_status = 'open') as open,
           count(*) filter (where x.new_status <> 'open') as closed
    from recon_ex x
    group by x.invoice_id
  ) ex on ex.invoice_id = m.invoice_id;
  perform 'PRAGMA:TABLE: recon_ir (invoice_id uuid, outcome text, po_id uuid, po_matched_by text, currency text, lines_total numeric, expected_lines_total numeric, subtotal numeric, tax_amount numeric, total_amount numeric, subtotal_variance numeric, total_variance numeric, lines_count integer, lines_matched integer, lines_within_tolerance integer, lines_exception integer, open_exceptions integer, tolerances jsonb)';  -- its columns, for plpgsql_check (supabase db lint)
  create unique index on recon_ir (invoice_id);
  analyze recon_ir;

  insert into public.vendor_invoice_matches as vm (
    vendor_invoice_id, organization_id, outcome, purchase_order_id, po_matched_by, currency,
    lines_total, expected_lines_total, subtotal, tax_amount, total_amount, subtotal_variance,
    total_variance, lines_count, lines_matched, lines_within_tolerance, lines_exception,
    open_exceptions, tolerances, matched_at)
  select i.invoice_id, org, i.outcome, i.po_id, i.po_matched_by, i.currency, i.lines_total,
         i.expected_lines_total, i.subtotal, i.tax_amount, i.total_amount, i.subtotal_variance,
         i.total_variance, i.lines_count, i.lines_matched, i.lines_within_tolerance,
         i.lines_exception, i.open_exceptions, i.tolerances, now()
  from recon_ir i
  on conflict (vendor_invoice_id) do update
  set outcome = excluded.outcome, purchase_order_id = excluded.purchase_order_id,
      po_matched_by = excluded.po_matched_by, currency = excluded.currency,
      lines_total = excluded.lines_total, expected_lines_total = excluded.expected_lines_total,
      subtotal = excluded.subtotal, tax_amount = excluded.tax_amount,
      total_amount = excluded.total_amount, subtotal_variance = excluded.subtotal_variance,
      total_variance = excluded.total_variance, lines_count = excluded.lines_count,
      lines_matched = excluded.lines_matched,
      lines_within_tolerance = excluded.lines_within_tolerance,
      lines_exception = excluded.lines_exception, open_exceptions = excluded.open_exceptions,
      tolerances = excluded.tolerances, matched_at = excluded.matched_at;

  -- The resolved purchase order, the outcome and the time: one update per invoice.
  update public.vendor_invoices vi
  set status = i.outcome, matched_at = now(), purchase_order_id = i.po_id
  from recon_ir i
  where vi.id = i.invoice_id;

  select jsonb_build_object(
           'invoices', count(*),
           'matched', count(*) filter (where i.outcome = 'matched'),
           'matched_with_tolerance', count(*) filter (where i.outcome = 'matched_with_tolerance'),
           'exception', count(*) filter (where i.outcome = 'exception'))
  into counts
  from recon_ir i;

  drop table if exists pg_temp.recon_ids, pg_temp.recon_mi, pg_temp.recon_ml,
    pg_temp.recon_lr, pg_temp.recon_mx, pg_temp.recon_old, pg_temp.recon_ex, pg_temp.recon_ir,
    pg_temp.recon_lines, pg_temp.recon_pol;
  return counts || jsonb_build_object('skipped', skipped);
end;
$$;

comment on function private.match_vendor_invoices(uuid, uuid[]) is
  'Matches vendor invoices (null: every pending and exception invoice) against their POs and receipts.';

create function public.match_vendor_invoices(
  organization_id uuid, invoice_ids uuid[] default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.match_vendor_invoices($1, $2) $$;

comment on function public.match_vendor_invoices(uuid, uuid[]) is
  'Matches vendor invoices (null: every pending and exception invoice) against their POs and receipts.';

-- Automatic re-matching: a purchase order, a PO line or a goods receipt line
-- arriving (or a PO's status changing) re-matches the organization's pending
-- and exception invoices that name those purchase orders, in the same
-- transaction, once per statement (bench/recon_match.py measures the cost).
create or replace function private.rematch_for_purchase_orders(organization_id uuid, po_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
set jit = off
as $$
declare
  ids uuid[];
begin
  if not (private.reconciliation_settings_of(rematch_for_purchase_orders.organization_id)).auto_rematch
     or pg_catalog.current_setting('invoiceflow.deferred_rematch', true) = 'on' then
    return;  -- off, or an import: its caller matches after it commits, in bounded calls
  end if;
  select array_agg(distinct x.id) into ids
  from (
    select vi.id
    from public.vendor_invoices vi
    where vi.purchase_order_id = any (po_ids) and vi.organization_id = rematch_for_purchase_orders.organization_id
      and vi.status in ('pending', 'exception')
    union all
    select vi.id
    from public.purchase_orders po
    join public.vendor_invoices vi on vi.organization_id = rematch_for_purchase_orders.organization_id
      and private.normalize_document_number(vi.po_number) = po.normalized_po_number
    where po.organization_id = rematch_for_purchase_orders.organization_id and po.id = any (po_ids)
      and not vi.po_linked_manually and vi.status in ('pending', 'exception')
  ) x;
  if ids is not null then
    perform public.match_vendor_invoices(rematch_for_purchase_orders.organization_id, ids);
  end if;
end;
$$;

create or replace function private.rematch_after_purchasing()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
begin
  if tg_table_name = 'purchase_orders' then
    for r in select n.organization_id as org, array_agg(n.id) as pos
             from new_rows n group by n.organization_id loop
      perform private.rematch_for_purchase_orders(r.org, r.pos);
    end loop;
  elsif tg_table_name = 'purchase_order_lines' then
    for r in select n.organization_id as org, array_agg(distinct n.purchase_order_id) as pos
             from new_rows n group by n.organization_id loop
      perform private.rematch_for_purchase_orders(r.org, r.pos);
    end loop;
  else
    for r in select n.organization_id as org, array_agg(distinct g.purchase_order_id) as pos
             from new_rows n
             join public.goods_receipts g on g.id = n.goods_receipt_id
             group by n.organization_id loop
      perform private.rematch_for_purchase_orders(r.org, r.pos);
    end loop;
  end if;
  return null;
end;
$$;

-- private.reconciliation_settings_json: defined in 20261206170600 (its final form; nothing is deployed)

create or replace function public.get_reconciliation_settings(organization_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(get_reconciliation_settings.organization_id, 'viewer',
    'not a member of the organization');
  return private.reconciliation_settings_json(get_reconciliation_settings.organization_id);
end;
$$;

-- public.update_reconciliation_settings: defined in 20261206170600 (its final form; nothing is deployed)

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.reconciliation_settings
  for each row execute function private.set_updated_at();

create trigger stamp_settings_author before insert or update on public.reconciliation_settings
  for each row execute function private.stamp_settings_author();

select private.enable_audit('public.reconciliation_settings', array['updated_at']);

create trigger rematch_on_new_purchase_orders
  after insert on public.purchase_orders referencing new table as new_rows
  for each statement execute function private.rematch_after_purchasing();

create trigger rematch_on_purchase_order_changes
  after update on public.purchase_orders referencing new table as new_rows
  for each statement execute function private.rematch_after_purchasing();

create trigger rematch_on_new_purchase_order_lines
  after insert on public.purchase_order_lines referencing new table as new_rows
  for each statement execute function private.rematch_after_purchasing();

create trigger rematch_on_new_receipt_lines
  after insert on public.goods_receipt_lines referencing new table as new_rows
  for each statement execute function private.rematch_after_purchasing();

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's reconciliation settings"
  on public.reconciliation_settings for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's vendor invoice matches"
  on public.vendor_invoice_matches for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's invoice line matches"
  on public.vendor_invoice_line_matches for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Admins can save their organization's reconciliation settings"
  on public.reconciliation_settings for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

create policy "Admins can change their organization's reconciliation settings"
  on public.reconciliation_settings for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.reconciliation_settings, public.vendor_invoice_matches, public.vendor_invoice_line_matches from anon, authenticated;

grant select on public.reconciliation_settings, public.vendor_invoice_matches, public.vendor_invoice_line_matches to authenticated;

-- The settings are the admins' to write, as the organization's other settings are:
-- each value is held by the table's checks, and updated_by is stamped by the trigger
-- below, never given.
grant insert (organization_id, quantity_tolerance_percent, price_tolerance_percent,
  price_tolerance_amount, total_tolerance_amount, vendor_similarity_threshold, auto_rematch)
  on public.reconciliation_settings to authenticated;

grant update (quantity_tolerance_percent, price_tolerance_percent, price_tolerance_amount,
  total_tolerance_amount, vendor_similarity_threshold, auto_rematch)
  on public.reconciliation_settings to authenticated;

grant execute on function private.match_vendor_invoices(uuid, uuid[]) to authenticated, service_role;

grant execute on function
  public.get_reconciliation_settings(uuid)
  to authenticated, service_role;

-- What the RPCs above call as their caller: the definer helpers (each says why it needs
-- its owner's rights) and the shapes of the answers.
grant execute on function
  private.reconciliation_settings_of(uuid)
  to authenticated, service_role;

grant execute on function public.match_vendor_invoices(uuid, uuid[]) to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
