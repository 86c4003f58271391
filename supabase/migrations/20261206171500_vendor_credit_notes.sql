-- =============================================================================
-- Vendor credit notes in payables: a vendor's credit note (an e-invoice of a
-- credit note type: UBL CreditNote, CII/Factur-X 381, UNCL1001's credit note
-- codes) reduces what the organization owes that vendor.
--
--   vendor_credit_notes         the credit note as imported: its vendor (found as
--                               an invoice's: the VAT id's keyed hash, then the
--                               name or a confirmed alias), number, dates,
--                               currency, totals, the invoice it refers to
--                               (BT-25 preceding invoice reference, found among
--                               the vendor's invoices by normalized number), and
--                               how much of it is applied (applied_amount,
--                               kept by the applications' trigger) and available
--   vendor_credit_note_lines    its lines, as an invoice's (never matched)
--   vendor_credit_applications  a credit note applied (wholly or partly) to an
--                               approved, unpaid vendor invoice of the same vendor
--                               and currency; at most the invoice's open amount
--                               (a credit note never makes a transfer negative:
--                               what is left stays available)
--
-- The rules:
-- * Import: private.import_vendor_invoices (redefined whole; the latest was
--   20261206170500_einvoice_import.sql's) takes documents with
--   "document_type": "credit_note" beside invoices: duplicates are refused as
--   invoices' are (the same bytes, or the same vendor and number among credit
--   notes), the vendor is found or created as an invoice's; a credit note never
--   enters vendor_invoices, so never 3-way matching or approval.
-- * Applied automatically to the invoice it refers to when that invoice is
--   approved (at import, or when it becomes approved later); by a member
--   otherwise (apply_vendor_credit_note), and unapplied before payment
--   (unapply_vendor_credit_note). An invoice that leaves 'approved' for anything
--   but 'paid' (sent back for approval, rejected) loses its applications: the
--   credit is available again. A paid invoice's applications are final.
-- * A payment batch pays the net: each item's amount is the invoice's total less
--   the credit applied to it (invoice_amount, credited and the credit notes
--   beside it); the totals per currency are net too.
-- * Tenancy by RLS as every payables table; the tables are written only by these
--   functions (security definer); the audit log records the credit notes and
--   every application and its removal.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.vendor_credit_notes (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  vendor_id uuid,
  vendor_name text not null check (length(btrim(vendor_name)) between 1 and 200),
  credit_note_number text not null check (length(btrim(credit_note_number)) between 1 and 50),
  normalized_credit_note_number text
    generated always as (private.normalize_document_number(credit_note_number)) stored,
  credit_note_date date not null check (credit_note_date between '1900-01-01' and '2999-12-31'),
  due_date date check (due_date between '1900-01-01' and '2999-12-31'),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric not null check (subtotal >= 0 and subtotal < 1e12),
  tax_amount numeric not null default 0 check (tax_amount >= 0 and tax_amount < 1e12),
  total_amount numeric not null check (total_amount >= 0 and total_amount < 1e12),
  -- The credit applied to invoices (the applications' sum, kept by their trigger).
  applied_amount numeric not null default 0,
  available_amount numeric generated always as (total_amount - applied_amount) stored,
  status text generated always as (
    case when applied_amount = 0 then 'open'
         when applied_amount < total_amount then 'partially_applied'
         else 'applied' end) stored,
  -- BT-25 / BT-26 as the document gives them, and the invoice they name, when found.
  preceding_invoice_reference text check (length(preceding_invoice_reference) <= 200),
  preceding_invoice_date date check (preceding_invoice_date between '1900-01-01' and '2999-12-31'),
  vendor_invoice_id uuid,
  notes text check (length(notes) <= 5000),
  buyer_reference text check (length(buyer_reference) <= 200),
  purchase_order_reference text check (length(purchase_order_reference) <= 200),
  tax_breakdown jsonb check (tax_breakdown is null or jsonb_typeof(tax_breakdown) = 'array'),
  source_format text check (source_format in ('csv', 'json', 'ubl', 'cii', 'facturx', 'email', 'pdf')),
  source_hash text check (source_hash ~ '^[0-9a-f]{64}$'),
  import_batch_id uuid,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  unique (organization_id, id, currency),
  constraint vendor_credit_notes_applied_within_total
    check (applied_amount >= 0 and applied_amount <= total_amount),
  constraint vendor_credit_notes_due_date_not_before_date
    check (due_date is null or due_date >= credit_note_date),
  foreign key (organization_id, vendor_id) references public.vendors (organization_id, id),
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete set null (vendor_invoice_id),
  foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id)
);

comment on table public.vendor_credit_notes is
  'Credit notes from vendors: applied to their approved, unpaid invoices, a payment batch pays the net.';

create table public.vendor_credit_note_lines (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_credit_note_id uuid not null,
  currency text not null,
  line_number integer not null check (line_number between 1 and 100000),
  item_code text check (length(item_code) <= 100),
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  unit_price numeric not null check (unit_price >= 0 and unit_price < 1e12 and scale(unit_price) <= 4),
  amount numeric not null check (amount >= 0 and amount < 1e12),
  vat_category text check (vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  tax_rate numeric check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  tax_exemption_reason_code text check (length(tax_exemption_reason_code) <= 100),
  tax_exemption_reason text check (length(tax_exemption_reason) <= 1000),
  created_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint vendor_credit_note_lines_line_number_unique unique (vendor_credit_note_id, line_number),
  foreign key (organization_id, vendor_credit_note_id, currency)
    references public.vendor_credit_notes (organization_id, id, currency) on delete cascade
);

-- One credit note applied to one invoice (one row per pair; unapply and apply
-- again to change the amount). The currency is the credit note's (its foreign key)
-- and the invoice's (track_credit_applications: an invoice's currency may be edited,
-- which sends it back for approval and so removes its applications).
create table public.vendor_credit_applications (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_credit_note_id uuid not null,
  vendor_invoice_id uuid not null,
  currency text not null,
  amount numeric not null check (amount > 0 and amount < 1e12),
  -- Applied by the rule (the invoice it refers to, approved), not by a person's call.
  automatic boolean not null default false,
  applied_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint vendor_credit_applications_pair_unique unique (vendor_credit_note_id, vendor_invoice_id),
  foreign key (organization_id, vendor_credit_note_id, currency)
    references public.vendor_credit_notes (organization_id, id, currency) on delete cascade,
  foreign key (organization_id, vendor_invoice_id)
    references public.vendor_invoices (organization_id, id) on delete cascade
);

-- =============================================================================
-- Indexes
-- =============================================================================

-- The same document is imported once per organization (as vendor_invoices').
create unique index vendor_credit_notes_source_hash_unique
  on public.vendor_credit_notes (organization_id, source_hash) where source_hash is not null;
-- Duplicates: a vendor's credit note numbers.
create index vendor_credit_notes_vendor_number_idx
  on public.vendor_credit_notes (organization_id, vendor_id, normalized_credit_note_number);
create index vendor_credit_notes_organization_idx
  on public.vendor_credit_notes (organization_id, credit_note_date desc, id);
create index vendor_credit_notes_invoice_idx
  on public.vendor_credit_notes (organization_id, vendor_invoice_id) where vendor_invoice_id is not null;
create index vendor_credit_notes_batch_idx
  on public.vendor_credit_notes (organization_id, import_batch_id) where import_batch_id is not null;
create index vendor_credit_notes_created_by_idx
  on public.vendor_credit_notes (created_by) where created_by is not null;
create index vendor_credit_note_lines_note_idx
  on public.vendor_credit_note_lines (organization_id, vendor_credit_note_id, currency);
create index vendor_credit_applications_invoice_idx
  on public.vendor_credit_applications (vendor_invoice_id);
create index vendor_credit_applications_note_idx
  on public.vendor_credit_applications (organization_id, vendor_credit_note_id, currency);
create index vendor_credit_applications_invoice_fk_idx
  on public.vendor_credit_applications (organization_id, vendor_invoice_id);
create index vendor_credit_applications_applied_by_idx
  on public.vendor_credit_applications (applied_by) where applied_by is not null;

-- =============================================================================
-- Functions: applying credit
-- =============================================================================

-- The vendor a vendor stands for (a merged one: its survivor).
create or replace function private.canonical_vendor(vendor uuid)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(v.merged_into, v.id) from public.vendors v where v.id = vendor
$$;

-- Keeps a credit note's applied_amount the sum of its applications, and holds an
-- invoice's applications within its total and to an approved invoice (whatever
-- writes them). A credit note over its total fails its check constraint.
create or replace function private.track_credit_applications()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  vi public.vendor_invoices;
  credited numeric;
begin
  if tg_op = 'INSERT' then
    select * into vi from public.vendor_invoices x where x.id = new.vendor_invoice_id;
    if vi.status is distinct from 'approved' then
      raise exception 'credit applies to approved, unpaid invoices; invoice % is %',
        vi.invoice_number, vi.status using errcode = '23514';
    end if;
    if vi.currency <> new.currency then
      raise exception 'invoice % is in %, the credit note in %', vi.invoice_number,
        vi.currency, new.currency using errcode = '23514';
    end if;
    select coalesce(sum(a.amount), 0) into credited
    from public.vendor_credit_applications a where a.vendor_invoice_id = new.vendor_invoice_id;
    if credited > vi.total_amount then
      raise exception 'the credit applied to invoice % (%) would exceed its total (%)',
        vi.invoice_number, credited, vi.total_amount using errcode = '23514';
    end if;
    update public.vendor_credit_notes n
    set applied_amount = n.applied_amount + new.amount, updated_at = now()
    where n.id = new.vendor_credit_note_id;
    return null;
  end if;
  update public.vendor_credit_notes n
  set applied_amount = n.applied_amount - old.amount, updated_at = now()
  where n.id = old.vendor_credit_note_id;
  return null;
end;
$$;

-- Applies a credit note to an invoice: ``amount`` (null: as much as both allow, the
-- credit note's available amount or the invoice's open amount, the smaller).
-- ``automatic``: the rule's own call, which applies what it can and refuses nothing
-- (answers 0). Locks the invoice, then the credit note (the order of every path).
-- Answers the amount applied.
create or replace function private.apply_vendor_credit(
  organization_id uuid, credit_note_id uuid, invoice_id uuid, amount numeric, automatic boolean
)
returns numeric
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := apply_vendor_credit.organization_id;
  vi public.vendor_invoices;
  n public.vendor_credit_notes;
  open_amount numeric;
  available numeric;
  take numeric;
  problem text;
begin
  select * into vi from public.vendor_invoices x
  where x.organization_id = org and x.id = invoice_id for update;
  if not found then
    if automatic then return 0; end if;
    raise exception 'no such vendor invoice in the organization' using errcode = 'P0002',
      hint = 'vendor_invoice_id';
  end if;
  select * into n from public.vendor_credit_notes x
  where x.organization_id = org and x.id = credit_note_id for update;
  if not found then
    if automatic then return 0; end if;
    raise exception 'no such vendor credit note in the organization' using errcode = 'P0002';
  end if;
  problem := case
    when n.vendor_id is null then
      'the credit note''s vendor is unknown (' || n.vendor_name || '): it applies to invoices of its vendor'
    when vi.vendor_id is null
         or private.canonical_vendor(vi.vendor_id) <> private.canonical_vendor(n.vendor_id) then
      pg_catalog.format('invoice %s is not from the credit note''s vendor (%s)', vi.invoice_number,
                        n.vendor_name)
    when vi.currency <> n.currency then
      pg_catalog.format('invoice %s is in %s, the credit note in %s', vi.invoice_number,
                        vi.currency, n.currency)
    when vi.status = 'paid' then
      pg_catalog.format('invoice %s is already paid', vi.invoice_number)
    when vi.status <> 'approved' then
      pg_catalog.format('invoice %s is not approved (status %s): credit applies to approved, '
                        'unpaid invoices', vi.invoice_number, vi.status)
    when exists (select 1 from public.vendor_credit_applications a
                 where a.vendor_credit_note_id = n.id and a.vendor_invoice_id = vi.id) then
      pg_catalog.format('the credit note is already applied to invoice %s: unapply it first to '
                        'change the amount', vi.invoice_number)
  end;
  if problem is not null then
    if automatic then return 0; end if;
    raise exception '%', problem using errcode = '23514';
  end if;
  select vi.total_amount - coalesce(sum(a.amount), 0) into open_amount
  from public.vendor_credit_applications a where a.vendor_invoice_id = vi.id;
  available := n.total_amount - n.applied_amount;
  if amount is null then
    take := least(available, open_amount);
  else
    if amount <= 0 then
      raise exception 'amount must be more than 0' using errcode = '22023', hint = 'amount';
    end if;
    take := private.checked_money(amount, n.currency, 'amount');
    if take > available then
      raise exception 'the credit note has % % available; % was asked', available, n.currency, take
        using errcode = '23514';
    end if;
    if take > open_amount then
      raise exception 'invoice % has % % left to pay: a credit note cannot make a transfer negative',
        vi.invoice_number, open_amount, n.currency using errcode = '23514';
    end if;
  end if;
  if take <= 0 then
    if automatic then return 0; end if;
    raise exception '%', case when available <= 0 then 'the credit note has nothing left to apply'
                              else pg_catalog.format('invoice %s has nothing left to pay',
                                                     vi.invoice_number) end
      using errcode = '23514';
  end if;
  insert into public.vendor_credit_applications
    (organization_id, vendor_credit_note_id, vendor_invoice_id, currency, amount, automatic, applied_by)
  values (org, n.id, vi.id, n.currency, take, automatic, auth.uid());
  return take;
end;
$$;

-- The credit notes that refer to these invoices, applied to those approved (oldest
-- credit note first), as far as each allows.
create or replace function private.apply_credit_to_referenced_invoices(
  organization_id uuid, invoice_ids uuid[]
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform private.apply_vendor_credit(n.organization_id, n.id, n.vendor_invoice_id, null, true)
  from (
    select n.organization_id, n.id, n.vendor_invoice_id
    from public.vendor_credit_notes n
    join public.vendor_invoices vi on vi.id = n.vendor_invoice_id
    where n.organization_id = apply_credit_to_referenced_invoices.organization_id
      and n.vendor_invoice_id = any (invoice_ids)
      and n.applied_amount < n.total_amount
      and vi.status = 'approved'
    order by n.vendor_invoice_id, n.credit_note_date, n.created_at, n.id
  ) n;
end;
$$;

-- An invoice becoming approved takes the credit notes that refer to it; one leaving
-- 'approved' for anything but 'paid' (sent back, rejected) gives its credit back.
create or replace function private.credit_on_invoice_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status = 'approved' then
    perform private.apply_credit_to_referenced_invoices(new.organization_id, array[new.id]);
  elsif old.status = 'approved' and new.status <> 'paid' then
    delete from public.vendor_credit_applications a where a.vendor_invoice_id = new.id;
  end if;
  return null;
end;
$$;

-- A credit note with its lines, its applications and the invoice it refers to.
create or replace function private.vendor_credit_note_json(credit_note_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private.money_fields(to_jsonb(n) - 'normalized_credit_note_number',
                              array['subtotal', 'tax_amount', 'total_amount', 'applied_amount',
                                    'available_amount'])
         || jsonb_build_object(
              'vendor', (select jsonb_build_object('id', v.id, 'name', v.name, 'status', v.status)
                         from public.vendors v where v.id = n.vendor_id),
              'invoice', (select jsonb_build_object('id', vi.id, 'invoice_number', vi.invoice_number,
                                                    'status', vi.status, 'currency', vi.currency,
                                                    'total_amount', vi.total_amount::text)
                          from public.vendor_invoices vi where vi.id = n.vendor_invoice_id),
              'lines', coalesce((
                select jsonb_agg(private.money_fields(
                         to_jsonb(l) - 'organization_id' - 'vendor_credit_note_id',
                         array['quantity', 'unit_price', 'amount', 'tax_rate'])
                         order by l.line_number)
                from public.vendor_credit_note_lines l where l.vendor_credit_note_id = n.id), '[]'),
              'applications', coalesce((
                select jsonb_agg(jsonb_build_object(
                         'id', a.id, 'vendor_invoice_id', a.vendor_invoice_id,
                         'invoice_number', vi.invoice_number, 'invoice_status', vi.status,
                         'amount', a.amount::text, 'automatic', a.automatic,
                         'applied_by', a.applied_by, 'created_at', a.created_at)
                         order by a.created_at, a.id)
                from public.vendor_credit_applications a
                join public.vendor_invoices vi on vi.id = a.vendor_invoice_id
                where a.vendor_credit_note_id = n.id), '[]'))
  from public.vendor_credit_notes n
  where n.id = credit_note_id
$$;

create or replace function private.vendor_credit_note(organization_id uuid, credit_note_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(vendor_credit_note.organization_id, 'viewer');
  if not exists (select 1 from public.vendor_credit_notes n
                 where n.id = credit_note_id and n.organization_id = vendor_credit_note.organization_id) then
    raise exception 'no such vendor credit note in the organization' using errcode = 'P0002';
  end if;
  return private.vendor_credit_note_json(credit_note_id);
end;
$$;

create or replace function private.apply_vendor_credit_note(
  organization_id uuid, credit_note_id uuid, invoice_id uuid, amount numeric default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform private.require_role(apply_vendor_credit_note.organization_id, 'member',
    'applying credit needs the member role or above in the organization');
  if not exists (select 1 from public.vendor_credit_notes n
                 where n.organization_id = apply_vendor_credit_note.organization_id
                   and n.id = credit_note_id) then
    raise exception 'no such vendor credit note in the organization' using errcode = 'P0002';
  end if;
  if invoice_id is null then
    raise exception 'vendor_invoice_id is required' using errcode = '22023', hint = 'vendor_invoice_id';
  end if;
  perform private.apply_vendor_credit(apply_vendor_credit_note.organization_id, credit_note_id,
                                      invoice_id, amount, false);
  return private.vendor_credit_note_json(credit_note_id);
end;
$$;

-- Removes a credit note's application to an invoice not paid yet: the credit is
-- available again. Locks the invoice, then the credit note.
create or replace function private.unapply_vendor_credit_note(
  organization_id uuid, credit_note_id uuid, invoice_id uuid
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := unapply_vendor_credit_note.organization_id;
  vi public.vendor_invoices;
begin
  perform private.require_role(org, 'member',
    'applying credit needs the member role or above in the organization');
  if not exists (select 1 from public.vendor_credit_notes n
                 where n.organization_id = org and n.id = credit_note_id) then
    raise exception 'no such vendor credit note in the organization' using errcode = 'P0002';
  end if;
  if invoice_id is null then
    raise exception 'vendor_invoice_id is required' using errcode = '22023', hint = 'vendor_invoice_id';
  end if;
  select * into vi from public.vendor_invoices x
  where x.organization_id = org and x.id = invoice_id for update;
  perform 1 from public.vendor_credit_notes n
  where n.organization_id = org and n.id = credit_note_id for update;
  if vi.id is null or not exists (
       select 1 from public.vendor_credit_applications a
       where a.vendor_credit_note_id = credit_note_id and a.vendor_invoice_id = vi.id) then
    raise exception 'the credit note is not applied to that invoice' using errcode = 'P0002',
      hint = 'vendor_invoice_id';
  end if;
  if vi.status = 'paid' then
    raise exception 'invoice % is paid: its credit is final', vi.invoice_number using errcode = '23514';
  end if;
  delete from public.vendor_credit_applications a
  where a.vendor_credit_note_id = credit_note_id and a.vendor_invoice_id = vi.id;
  return private.vendor_credit_note_json(credit_note_id);
end;
$$;

-- =============================================================================
-- Payment batches pay the net: payment_batch_json (its only definition; the approvals'
-- and the sealed fields' forms were folded into it), each item with vendor_iban_sealed
-- beside vendor_iban (a vendor not sealed yet: the API opens it,
-- shared/payables/bank_accounts.py) and the credit applied to its invoice.
-- =============================================================================

create or replace function private.payment_batch_json(batch_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with items as (
    select vi.id, vi.invoice_number, vi.invoice_date, vi.due_date, vi.vendor_id, vi.vendor_name,
           vi.currency, vi.total_amount, vi.status, v.name, v.iban, v.iban_sealed, v.bic,
           -- 0 without credit: the net keeps the invoice's total as it is.
           coalesce(c.credited, 0) as credited,
           coalesce(c.notes, '[]') as notes
    from public.payment_batches b
    join public.payment_batch_items i
      on i.payment_batch_id = b.id and (i.live or b.status = 'cancelled')
    join public.vendor_invoices vi on vi.id = i.vendor_invoice_id
    left join public.vendors v on v.id = vi.vendor_id
    left join lateral (
      select sum(a.amount) as credited,
             jsonb_agg(jsonb_build_object('vendor_credit_note_id', n.id,
                                          'credit_note_number', n.credit_note_number,
                                          'amount', a.amount::text)
                       order by n.credit_note_date, n.credit_note_number, n.id) as notes
      from public.vendor_credit_applications a
      join public.vendor_credit_notes n on n.id = a.vendor_credit_note_id
      where a.vendor_invoice_id = vi.id
    ) c on true
    where b.id = batch_id
  )
  select jsonb_build_object(
    'id', b.id, 'organization_id', b.organization_id, 'status', b.status,
    'execution_date', b.execution_date, 'reference', b.reference, 'message_id', b.message_id,
    'created_by', b.created_by, 'created_at', b.created_at, 'paid_by', b.paid_by,
    'paid_at', b.paid_at, 'cancelled_by', b.cancelled_by, 'cancelled_at', b.cancelled_at,
    'totals', coalesce((
      select jsonb_agg(jsonb_build_object('currency', t.currency, 'count', t.n,
                                          'total', t.total::text) order by t.currency)
      from (select x.currency, count(*) as n, sum(x.total_amount - x.credited) as total
            from items x group by x.currency) t), '[]'),
    'items', coalesce((
      select jsonb_agg(jsonb_build_object(
               'vendor_invoice_id', x.id, 'invoice_number', x.invoice_number,
               'invoice_date', x.invoice_date, 'due_date', x.due_date,
               'vendor_id', x.vendor_id, 'vendor_name', coalesce(x.name, x.vendor_name),
               'vendor_iban', x.iban, 'vendor_iban_sealed', x.iban_sealed, 'vendor_bic', x.bic,
               'currency', x.currency, 'amount', (x.total_amount - x.credited)::text,
               'invoice_amount', x.total_amount::text,
               'credited', private.round_money(x.credited, x.currency)::text,
               'credit_notes', x.notes, 'status', x.status)
             order by x.currency, coalesce(x.name, x.vendor_name), x.invoice_number)
      from items x), '[]'))
  from public.payment_batches b
  where b.id = batch_id
$$;

-- =============================================================================
-- The import: private.import_vendor_invoices in its final form (the e-invoice import's
-- form, 20261206170500, folded into it), with credit notes (document_type
-- "credit_note") beside invoices. Its signature, parameter names and public wrapper
-- are unchanged.
-- =============================================================================

-- batch: [{"index", "rows", "vendor_name", "invoice_number", "invoice_date",
-- "due_date", "po_number", "currency", "subtotal", "tax_amount", "total_amount",
-- "notes", and from e-invoices "buyer_reference", "purchase_order_reference",
-- "allowance_total", "charge_total", "prepaid_amount", "amount_due",
-- "tax_currency", "tax_breakdown", "source_format", "source_hash",
-- "vendor_tax_id_hash", "vendor_tax_id_sealed", "vendor_email", "vendor_phone",
-- "vendor_address", "lines": [{"row", "at", "line_number", "item_code",
-- "description", "quantity", "unit_price", "amount", "vat_category", "tax_rate",
-- "tax_exemption_reason_code", "tax_exemption_reason"}]}]. As before: a line's
-- amount defaults to quantity x price at the currency's minor unit, the subtotal
-- to the lines' sum, the tax to 0, the total to subtotal + tax. The vendor: the
-- one whose tax_id_hash is the document's (a merged one stands for its survivor),
-- else private.resolve_vendor by name; neither and a VAT id: created (see the
-- header); neither and no VAT id: vendor_id null (matching raises the "unknown
-- vendor" exception). errors: rows validation rejected; columns: field -> the
-- file's header.
create or replace function private.import_vendor_invoices(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := import_vendor_invoices.organization_id;
  b public.import_batches;
  store boolean;
  who uuid;
  report jsonb;
begin
  b := private.import_begin(org, 'vendor_invoices', import_vendor_invoices.policy,
                            import_batch_id, rows_total);
  if b.status <> 'processing' then
    return private.import_report(b);
  end if;
  who := coalesce(auth.uid(), b.created_by);

  if pg_catalog.to_regclass('pg_temp.import_docs') is not null then
    drop table pg_temp.import_docs;
  end if;
  create temp table import_docs on commit drop as
  select gen_random_uuid() as id, d.*,
         coalesce(d.document_type, 'invoice') = 'credit_note' as is_credit,
         pg_catalog.format('%s %s of %s',
                           case when d.document_type = 'credit_note' then 'credit note'
                                else 'invoice' end,
                           d.invoice_number, d.vendor_name) as label,
         private.normalize_vendor_name(d.vendor_name) as vendor_key,
         private.normalize_document_number(d.invoice_number) as number_key,
         coalesce(
           (select coalesce(v.merged_into, v.id) from public.vendors v
            where v.organization_id = org and v.tax_id_hash = d.vendor_tax_id_hash
            order by (v.status = 'merged'), (v.status = 'active') desc, v.created_at, v.id
            limit 1),
           private.resolve_vendor(org, private.normalize_vendor_name(d.vendor_name))) as vendor_id,
         false as stored
  from pg_catalog.jsonb_to_recordset(coalesce(batch, '[]'::jsonb)) as d (
    index integer, rows jsonb, vendor_name text, invoice_number text, invoice_date date,
    due_date date, po_number text, currency text, subtotal numeric, tax_amount numeric,
    total_amount numeric, notes text, lines jsonb, buyer_reference text,
    purchase_order_reference text, allowance_total numeric, charge_total numeric,
    prepaid_amount numeric, amount_due numeric, tax_currency text, tax_breakdown jsonb,
    source_format text, source_hash text, vendor_tax_id_hash text, vendor_tax_id_sealed jsonb,
    vendor_email text, vendor_phone text, vendor_address text, document_type text,
    preceding_invoice_reference text, preceding_invoice_date date);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, vendor_name text, invoice_number text, invoice_date date, due_date date, po_number text, currency text, subtotal numeric, tax_amount numeric, total_amount numeric, notes text, lines jsonb, buyer_reference text, purchase_order_reference text, allowance_total numeric, charge_total numeric, prepaid_amount numeric, amount_due numeric, tax_currency text, tax_breakdown jsonb, source_format text, source_hash text, vendor_tax_id_hash text, vendor_tax_id_sealed jsonb, vendor_email text, vendor_phone text, vendor_address text, document_type text, preceding_invoice_reference text, preceding_invoice_date date, is_credit boolean, label text, vendor_key text, number_key text, vendor_id uuid, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's
  analyze pg_temp.import_docs;

  if pg_catalog.to_regclass('pg_temp.import_lines') is not null then
    drop table pg_temp.import_lines;
  end if;
  create temp table import_lines on commit drop as
  select d.id as doc_id, d.currency, l."row", l.line_number, l.item_code, l.description,
         l.quantity, l.unit_price,
         coalesce(l.amount, private.round_money(l.quantity * l.unit_price, d.currency)) as amount,
         l.vat_category, l.tax_rate, l.tax_exemption_reason_code, l.tax_exemption_reason
  from pg_temp.import_docs d
  cross join lateral pg_catalog.jsonb_to_recordset(d.lines) as l (
    "row" integer, at text, line_number integer, item_code text, description text,
    quantity numeric, unit_price numeric, amount numeric, vat_category text, tax_rate numeric,
    tax_exemption_reason_code text, tax_exemption_reason text);
  perform 'PRAGMA:TABLE: import_lines (doc_id uuid, currency text, "row" integer, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric, vat_category text, tax_rate numeric, tax_exemption_reason_code text, tax_exemption_reason text)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze pg_temp.import_lines;

  -- The same document (its bytes' hash) already imported, or twice in this batch.
  perform private.import_problem_rows(d.id, d.rows, 'document', d.source_hash,
    pg_catalog.format('this document was already imported (on %s, as invoice %s of %s): a duplicate',
                      pg_catalog.to_char(vi.created_at, 'YYYY-MM-DD'), vi.invoice_number,
                      vi.vendor_name))
  from pg_temp.import_docs d
  join lateral (
    select vi.created_at, vi.invoice_number, vi.vendor_name from public.vendor_invoices vi
    where vi.organization_id = org and vi.source_hash = d.source_hash
    limit 1
  ) vi on true
  where d.source_hash is not null;

  perform private.import_problem_rows(d.id, d.rows, 'document', d.source_hash,
    pg_catalog.format('this document was already imported (on %s, as credit note %s of %s): a duplicate',
                      pg_catalog.to_char(n.created_at, 'YYYY-MM-DD'), n.credit_note_number,
                      n.vendor_name))
  from pg_temp.import_docs d
  join lateral (
    select n.created_at, n.credit_note_number, n.vendor_name from public.vendor_credit_notes n
    where n.organization_id = org and n.source_hash = d.source_hash
    limit 1
  ) n on true
  where d.source_hash is not null;

  perform private.import_problem_rows(d.id, d.rows, 'document', d.source_hash,
    pg_catalog.format('this document appears twice in this import (first at %s %s): a duplicate',
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (partition by e.source_hash) as first_index
    from pg_temp.import_docs e
    where e.source_hash is not null
  ) d
  where d.first_index < d.index;

  -- What only the database knows: duplicates, inside the batch and stored. The
  -- same vendor (or, unknown, the same VAT id, else the same normalized name) and
  -- the same number.
  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'invoice_number', 'invoice_number'),
    d.invoice_number,
    pg_catalog.format('%s appears twice in this import (first at %s %s): a duplicate', d.label,
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (
             partition by e.is_credit, e.number_key,
                          coalesce(e.vendor_id::text, 'tax:' || e.vendor_tax_id_hash,
                                   'name:' || e.vendor_key)
           ) as first_index
    from pg_temp.import_docs e
  ) d
  where d.first_index < d.index;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'invoice_number', 'invoice_number'),
    d.invoice_number,
    pg_catalog.format('%s is already recorded (since %s): a duplicate', d.label,
                      pg_catalog.to_char(vi.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join lateral (
    select vi.created_at from public.vendor_invoices vi
    where vi.organization_id = org and vi.vendor_id = d.vendor_id
      and vi.normalized_invoice_number = d.number_key
    order by vi.created_at limit 1
  ) vi on true
  where d.vendor_id is not null and not d.is_credit;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'invoice_number', 'invoice_number'),
    d.invoice_number,
    pg_catalog.format('%s is already recorded (since %s): a duplicate', d.label,
                      pg_catalog.to_char(vi.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join lateral (
    select vi.created_at from public.vendor_invoices vi
    where vi.organization_id = org and vi.vendor_id is null
      and vi.normalized_invoice_number = d.number_key
      and private.normalize_vendor_name(vi.vendor_name) = d.vendor_key
    order by vi.created_at limit 1
  ) vi on true
  where d.vendor_id is null and not d.is_credit;

  -- A credit note: the same vendor (or, unknown, the same normalized name) and the
  -- same number among its credit notes.
  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'invoice_number', 'invoice_number'),
    d.invoice_number,
    pg_catalog.format('%s is already recorded (since %s): a duplicate', d.label,
                      pg_catalog.to_char(n.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join lateral (
    select n.created_at from public.vendor_credit_notes n
    where n.organization_id = org
      and n.normalized_credit_note_number = d.number_key
      and (case when d.vendor_id is not null then n.vendor_id = d.vendor_id
                else n.vendor_id is null
                     and private.normalize_vendor_name(n.vendor_name) = d.vendor_key end)
    order by n.created_at limit 1
  ) n on true
  where d.is_credit;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'due_date', 'due_date'),
    d.due_date::text,
    pg_catalog.format('the due date %s is before the invoice date %s', d.due_date, d.invoice_date))
  from pg_temp.import_docs d
  where d.due_date < d.invoice_date;

  store := b.policy = 'accept_valid_rows'
           or (pg_catalog.jsonb_array_length(coalesce(errors, '[]'::jsonb)) = 0
               and not exists (select 1 from pg_temp.import_problems));
  if store then
    update pg_temp.import_docs d set stored = true
    where not exists (select 1 from pg_temp.import_problems p where p.doc_id = d.id);

    -- A seller known by neither its VAT id nor its name, but naming a VAT id: the
    -- vendor, once per VAT id in the batch, named as its first document writes it.
    with created as (
      insert into public.vendors
        (organization_id, name, default_currency, tax_id_sealed, tax_id_hash, email, phone,
         address, created_by)
      select distinct on (d.vendor_tax_id_hash)
             org, d.vendor_name, d.currency, d.vendor_tax_id_sealed, d.vendor_tax_id_hash,
             d.vendor_email, d.vendor_phone, d.vendor_address, who
      from pg_temp.import_docs d
      where d.stored and d.vendor_id is null and d.vendor_tax_id_hash is not null
        and d.vendor_tax_id_sealed is not null
      order by d.vendor_tax_id_hash, d.index
      returning id, tax_id_hash
    )
    update pg_temp.import_docs d set vendor_id = c.id
    from created c
    where d.stored and d.vendor_id is null and c.tax_id_hash = d.vendor_tax_id_hash;

    insert into public.vendor_invoices
      (id, organization_id, vendor_id, vendor_name, invoice_number, invoice_date, due_date,
       po_number, currency, subtotal, tax_amount, total_amount, notes, import_batch_id,
       created_by, buyer_reference, purchase_order_reference, allowance_total, charge_total,
       prepaid_amount, amount_due, tax_currency, tax_breakdown, source_format, source_hash)
    select d.id, org, d.vendor_id, d.vendor_name, d.invoice_number, d.invoice_date, d.due_date,
           d.po_number, d.currency, coalesce(d.subtotal, s.lines_total, 0),
           coalesce(d.tax_amount, 0),
           coalesce(d.total_amount, coalesce(d.subtotal, s.lines_total, 0) + coalesce(d.tax_amount, 0)),
           d.notes, b.id, who, d.buyer_reference, d.purchase_order_reference, d.allowance_total,
           d.charge_total, d.prepaid_amount, d.amount_due, d.tax_currency, d.tax_breakdown,
           coalesce(d.source_format,
                    case b.source when 'csv' then 'csv' when 'api' then 'json' else b.source end),
           d.source_hash
    from pg_temp.import_docs d
    left join (
      select l.doc_id, sum(l.amount) as lines_total
      from pg_temp.import_lines l group by l.doc_id
    ) s on s.doc_id = d.id
    where d.stored and not d.is_credit;

    insert into public.vendor_invoice_lines
      (organization_id, vendor_invoice_id, currency, line_number, item_code, description,
       quantity, unit_price, amount, vat_category, tax_rate, tax_exemption_reason_code,
       tax_exemption_reason)
    select org, l.doc_id, l.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price, l.amount, l.vat_category, l.tax_rate, l.tax_exemption_reason_code,
           l.tax_exemption_reason
    from pg_temp.import_lines l
    join pg_temp.import_docs d on d.id = l.doc_id
    where d.stored and not d.is_credit;

    -- Credit notes: never vendor invoices (so never matched); the invoice they refer
    -- to (BT-25) found among the vendor's invoices by its normalized number.
    insert into public.vendor_credit_notes
      (id, organization_id, vendor_id, vendor_name, credit_note_number, credit_note_date,
       due_date, currency, subtotal, tax_amount, total_amount, preceding_invoice_reference,
       preceding_invoice_date, vendor_invoice_id, notes, buyer_reference,
       purchase_order_reference, tax_breakdown, source_format, source_hash, import_batch_id,
       created_by)
    select d.id, org, d.vendor_id, d.vendor_name, d.invoice_number, d.invoice_date, d.due_date,
           d.currency, coalesce(d.subtotal, s.lines_total, 0), coalesce(d.tax_amount, 0),
           coalesce(d.total_amount, coalesce(d.subtotal, s.lines_total, 0) + coalesce(d.tax_amount, 0)),
           d.preceding_invoice_reference, d.preceding_invoice_date,
           (select vi.id from public.vendor_invoices vi
            where d.vendor_id is not null and vi.organization_id = org
              and vi.vendor_id = d.vendor_id
              and vi.normalized_invoice_number
                  = private.normalize_document_number(d.preceding_invoice_reference)
            order by vi.created_at, vi.id limit 1),
           d.notes, d.buyer_reference, d.purchase_order_reference, d.tax_breakdown,
           coalesce(d.source_format,
                    case b.source when 'csv' then 'csv' when 'api' then 'json' else b.source end),
           d.source_hash, b.id, who
    from pg_temp.import_docs d
    left join (
      select l.doc_id, sum(l.amount) as lines_total
      from pg_temp.import_lines l group by l.doc_id
    ) s on s.doc_id = d.id
    where d.stored and d.is_credit;

    insert into public.vendor_credit_note_lines
      (organization_id, vendor_credit_note_id, currency, line_number, item_code, description,
       quantity, unit_price, amount, vat_category, tax_rate, tax_exemption_reason_code,
       tax_exemption_reason)
    select org, l.doc_id, l.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price, l.amount, l.vat_category, l.tax_rate, l.tax_exemption_reason_code,
           l.tax_exemption_reason
    from pg_temp.import_lines l
    join pg_temp.import_docs d on d.id = l.doc_id
    where d.stored and d.is_credit;

    -- Applied at once to the invoice each refers to, when that one is approved.
    perform private.apply_credit_to_referenced_invoices(org, (
      select coalesce(array_agg(n.vendor_invoice_id), '{}')
      from public.vendor_credit_notes n
      join pg_temp.import_docs d on d.id = n.id
      where d.stored and d.is_credit and n.vendor_invoice_id is not null));
  end if;

  report := private.import_finish(b, errors, rows_total, 'an invoice');
  -- The accepted credit notes say so ("kind"): they are not matched after the import.
  return report || jsonb_build_object('accepted', coalesce((
    select jsonb_agg(case when d.is_credit then e || '{"kind": "vendor_credit_note"}'::jsonb
                          else e end order by (e ->> 'index')::integer, e ->> 'id')
    from pg_catalog.jsonb_array_elements(report -> 'accepted') e
    left join pg_temp.import_docs d on d.id = (e ->> 'id')::uuid), '[]'::jsonb));
end;
$$;

comment on function private.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports vendor invoices and vendor credit notes with their lines (CSV, JSON or e-invoices), a whole batch in one call.';

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger track_credit_applications after insert or delete on public.vendor_credit_applications
  for each row execute function private.track_credit_applications();

-- Only a change of status into or out of 'approved' reaches the function (the WHEN
-- clause is evaluated without calling it: matching's bulk updates pay nothing). Not
-- "update of status": a BEFORE trigger sends an edited invoice back (its status set
-- by send_changed_invoice_back, not by the statement), which a column trigger misses.
create trigger credit_on_invoice_status after update on public.vendor_invoices
  for each row
  when (old.status is distinct from new.status and (new.status = 'approved' or old.status = 'approved'))
  execute function private.credit_on_invoice_status();

select private.enable_audit('public.vendor_credit_notes',
  array['updated_at', 'applied_amount', 'available_amount', 'status']);
select private.enable_audit('public.vendor_credit_note_lines');
select private.enable_audit('public.vendor_credit_applications');

-- =============================================================================
-- Policies
-- =============================================================================

alter table public.vendor_credit_notes enable row level security;
alter table public.vendor_credit_note_lines enable row level security;
alter table public.vendor_credit_applications enable row level security;

create policy "Members can view their organization's vendor credit notes"
  on public.vendor_credit_notes for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's vendor credit note lines"
  on public.vendor_credit_note_lines for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can view their organization's credit applications"
  on public.vendor_credit_applications for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- Require MFA (migration 20261206140200): the restrictive policy, as on every table
-- with organization_id.
do $$
declare
  t text;
begin
  foreach t in array array['vendor_credit_notes', 'vendor_credit_note_lines',
                           'vendor_credit_applications'] loop
    execute pg_catalog.format(
      'create policy mfa_required on public.%I as restrictive for all to authenticated using (%s) with check (%s)',
      t, 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])',
      'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])');
  end loop;
end;
$$;

-- =============================================================================
-- Grants: members read through RLS; only the functions write.
-- =============================================================================

revoke all on public.vendor_credit_notes, public.vendor_credit_note_lines,
  public.vendor_credit_applications from anon, authenticated;
grant select on public.vendor_credit_notes, public.vendor_credit_note_lines,
  public.vendor_credit_applications to authenticated;
grant all on public.vendor_credit_notes, public.vendor_credit_note_lines,
  public.vendor_credit_applications to service_role;

-- =============================================================================
-- The RPCs: security invoker, each calling its definer core in private.
-- =============================================================================

create or replace function public.vendor_credit_note(organization_id uuid, credit_note_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$ select private.vendor_credit_note($1, $2) $$;

comment on function public.vendor_credit_note(uuid, uuid) is
  'A vendor credit note with its lines, its applications and the invoice it refers to.';

create or replace function public.apply_vendor_credit_note(
  organization_id uuid, credit_note_id uuid, invoice_id uuid, amount numeric default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.apply_vendor_credit_note($1, $2, $3, $4) $$;

comment on function public.apply_vendor_credit_note(uuid, uuid, uuid, numeric) is
  'Applies a vendor credit note (an amount, or as much as both allow) to an approved, unpaid invoice of its vendor.';

create or replace function public.unapply_vendor_credit_note(
  organization_id uuid, credit_note_id uuid, invoice_id uuid
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.unapply_vendor_credit_note($1, $2, $3) $$;

comment on function public.unapply_vendor_credit_note(uuid, uuid, uuid) is
  'Removes a vendor credit notes application to an invoice not paid yet.';

revoke execute on all functions in schema private, public from public;

grant execute on function public.vendor_credit_note(uuid, uuid),
  public.apply_vendor_credit_note(uuid, uuid, uuid, numeric),
  public.unapply_vendor_credit_note(uuid, uuid, uuid)
  to authenticated, service_role;

grant execute on function private.vendor_credit_note(uuid, uuid),
  private.apply_vendor_credit_note(uuid, uuid, uuid, numeric),
  private.unapply_vendor_credit_note(uuid, uuid, uuid)
  to authenticated, service_role;
