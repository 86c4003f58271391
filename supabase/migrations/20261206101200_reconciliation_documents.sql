-- =============================================================================
-- Reconciliation (payables): vendors and their aliases, purchase orders, goods
-- receipts, vendor invoices, and the import batches they arrive in.
--
-- The same tenancy discipline as receivables: every row carries
-- organization_id; children reference their parent through a composite foreign
-- key (organization_id, id) so no row can point into another organization,
-- whatever RLS says; members read, members and up write, viewers only read,
-- strangers see nothing; every table is in the audit log.
--
-- Matching (results, exceptions, tolerances) builds on these tables in the next
-- migration.
-- =============================================================================

-- =============================================================================
-- Helpers the tables use
-- =============================================================================

-- Normalization helpers (immutable: used by generated columns and indexes)

-- A vendor name as a key: lower case, punctuation and legal suffixes removed,
-- white space collapsed. "ACME Corp.", "Acme Corporation" and "ACME CORP LTD"
-- all become "acme". Only suffixes at the end are removed (repeatedly, so
-- "Acme Holdings Co. Ltd" -> "acme holdings"), never a name's only word.
create or replace function private.normalize_vendor_name(name text)
returns text
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
  key text;
  shorter text;
  suffixes constant text :=
    '(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|l l c|plc|gmbh|ag|sa|'
    'sarl|sas|bv|nv|oy|ab|as|srl|spa|pty|pte|lp|llp|kg|kk|the)';
begin
  if name is null then
    return null;
  end if;
  key := pg_catalog.lower(name);
  key := pg_catalog.replace(key, '&', ' and ');
  key := pg_catalog.regexp_replace(key, '[^[:alnum:]]+', ' ', 'g');
  key := pg_catalog.btrim(pg_catalog.regexp_replace(key, '\s+', ' ', 'g'));
  key := pg_catalog.regexp_replace(key, '^the ', '');
  loop
    shorter := pg_catalog.btrim(pg_catalog.regexp_replace(key, '\s' || suffixes || '$', ''));
    exit when shorter = key or shorter = '';
    key := shorter;
  end loop;
  return key;
end;
$$;

-- A document number as a key: upper case, letters and digits only, so
-- "INV-001", "inv 001" and "INV001" are the same invoice of a vendor.
create or replace function private.normalize_document_number(number text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select pg_catalog.upper(pg_catalog.regexp_replace(number, '[^[:alnum:]]+', '', 'g'))
$$;

-- =============================================================================
-- Tables
-- =============================================================================

create extension if not exists pg_trgm with schema extensions;

-- A supplier the organization is billed by. Tolerances left null use the
-- organization's (reconciliation settings, next migration).
create table public.vendors (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  normalized_name text generated always as (private.normalize_vendor_name(name)) stored,
  tax_id text check (length(tax_id) <= 50),
  email text check (length(email) <= 320),
  phone text check (length(phone) <= 50),
  address text check (length(address) <= 500),
  default_currency text check (default_currency ~ '^[A-Z]{3}$'),
  status text not null default 'active' check (status in ('active', 'inactive', 'merged')),
  -- A vendor merged into another keeps its row (history) and points at the survivor.
  merged_into uuid,
  quantity_tolerance_percent numeric check (quantity_tolerance_percent between 0 and 100),
  price_tolerance_percent numeric check (price_tolerance_percent between 0 and 100),
  price_tolerance_amount numeric check (price_tolerance_amount >= 0 and price_tolerance_amount < 1e9),
  total_tolerance_amount numeric check (total_tolerance_amount >= 0 and total_tolerance_amount < 1e9),
  notes text check (length(notes) <= 5000),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint vendors_merged_into_fkey foreign key (organization_id, merged_into)
    references public.vendors (organization_id, id),
  constraint vendors_merged_has_survivor check ((status = 'merged') = (merged_into is not null)),
  constraint vendors_not_merged_into_itself check (merged_into is distinct from id)
);

-- Other names a vendor is known by (on invoices, in files). A normalized alias
-- names one vendor per organization: once confirmed, imports resolve it.
create table public.vendor_aliases (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_id uuid not null,
  alias text not null check (length(btrim(alias)) between 1 and 200),
  normalized_alias text generated always as (private.normalize_vendor_name(alias)) stored,
  source text not null default 'manual' check (source in ('manual', 'confirmed', 'import', 'merge')),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  foreign key (organization_id, vendor_id)
    references public.vendors (organization_id, id) on delete cascade,
  constraint vendor_aliases_one_vendor_per_name unique (organization_id, normalized_alias)
);

create table public.purchase_orders (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  vendor_id uuid not null,
  po_number text not null check (length(btrim(po_number)) between 1 and 50),
  normalized_po_number text generated always as (private.normalize_document_number(po_number)) stored,
  order_date date not null default current_date check (order_date between '1900-01-01' and '2999-12-31'),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'open' check (status in ('open', 'closed', 'cancelled')),
  notes text check (length(notes) <= 5000),
  import_batch_id uuid,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  unique (organization_id, id, currency),
  constraint purchase_orders_number_unique_in_organization
    unique (organization_id, normalized_po_number),
  foreign key (organization_id, vendor_id) references public.vendors (organization_id, id)
);

-- One ordered line: what was ordered, how many, at what price.
create table public.purchase_order_lines (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  purchase_order_id uuid not null,
  currency text not null,
  line_number integer not null check (line_number between 1 and 100000),
  item_code text check (length(item_code) <= 100),
  normalized_item_code text generated always as (private.normalize_document_number(item_code)) stored,
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  unit_price numeric not null check (unit_price >= 0 and unit_price < 1e12 and scale(unit_price) <= 4),
  amount numeric generated always as (private.round_money(quantity * unit_price, currency)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint purchase_order_lines_line_number_unique unique (purchase_order_id, line_number),
  foreign key (organization_id, purchase_order_id, currency)
    references public.purchase_orders (organization_id, id, currency)
    on delete cascade on update cascade
);

-- A delivery received against a purchase order.
create table public.goods_receipts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  purchase_order_id uuid not null,
  receipt_number text not null check (length(btrim(receipt_number)) between 1 and 50),
  normalized_receipt_number text
    generated always as (private.normalize_document_number(receipt_number)) stored,
  received_date date not null default current_date
    check (received_date between '1900-01-01' and '2999-12-31'),
  notes text check (length(notes) <= 5000),
  import_batch_id uuid,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint goods_receipts_number_unique_in_organization
    unique (organization_id, normalized_receipt_number),
  foreign key (organization_id, purchase_order_id)
    references public.purchase_orders (organization_id, id) on delete cascade
);

-- How many of a purchase order line a receipt brought.
create table public.goods_receipt_lines (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  goods_receipt_id uuid not null,
  purchase_order_line_id uuid not null,
  quantity_received numeric not null
    check (quantity_received > 0 and quantity_received < 1e9 and scale(quantity_received) <= 4),
  created_at timestamptz not null default now(),
  unique (organization_id, id),
  foreign key (organization_id, goods_receipt_id)
    references public.goods_receipts (organization_id, id) on delete cascade,
  foreign key (organization_id, purchase_order_line_id)
    references public.purchase_order_lines (organization_id, id) on delete cascade
);

-- An invoice the organization received. vendor_name is as the vendor wrote it;
-- vendor_id is the canonical vendor it resolved to (null: unknown vendor, an
-- exception). po_number likewise, resolved to purchase_order_id by matching.
-- The figures are the vendor's, as billed; matching compares them with the
-- purchase order and the receipts.
create table public.vendor_invoices (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  vendor_id uuid,
  vendor_name text not null check (length(btrim(vendor_name)) between 1 and 200),
  invoice_number text not null check (length(btrim(invoice_number)) between 1 and 50),
  normalized_invoice_number text
    generated always as (private.normalize_document_number(invoice_number)) stored,
  invoice_date date not null check (invoice_date between '1900-01-01' and '2999-12-31'),
  due_date date check (due_date between '1900-01-01' and '2999-12-31'),
  po_number text check (length(po_number) <= 50),
  purchase_order_id uuid,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric not null check (subtotal >= 0 and subtotal < 1e12),
  tax_amount numeric not null default 0 check (tax_amount >= 0 and tax_amount < 1e12),
  total_amount numeric not null check (total_amount >= 0 and total_amount < 1e12),
  status text not null default 'pending'
    check (status in ('pending', 'matched', 'matched_with_tolerance', 'exception', 'approved', 'rejected')),
  matched_at timestamptz,
  notes text check (length(notes) <= 5000),
  import_batch_id uuid,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  unique (organization_id, id, currency),
  constraint vendor_invoices_due_date_not_before_invoice_date
    check (due_date is null or due_date >= invoice_date),
  foreign key (organization_id, vendor_id) references public.vendors (organization_id, id),
  foreign key (organization_id, purchase_order_id)
    references public.purchase_orders (organization_id, id) on delete set null (purchase_order_id),
  -- Links a person made (kept by matching) and merge rejections
  po_linked_manually boolean not null default false
);

create table public.vendor_invoice_lines (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  vendor_invoice_id uuid not null,
  currency text not null,
  line_number integer not null check (line_number between 1 and 100000),
  item_code text check (length(item_code) <= 100),
  normalized_item_code text generated always as (private.normalize_document_number(item_code)) stored,
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  unit_price numeric not null check (unit_price >= 0 and unit_price < 1e12 and scale(unit_price) <= 4),
  -- As billed (the vendor's own rounding); matching compares it with quantity x price.
  amount numeric not null check (amount >= 0 and amount < 1e12),
  -- The purchase order line this line was matched to (by matching, or by a person).
  purchase_order_line_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  constraint vendor_invoice_lines_line_number_unique unique (vendor_invoice_id, line_number),
  foreign key (organization_id, vendor_invoice_id, currency)
    references public.vendor_invoices (organization_id, id, currency)
    on delete cascade on update cascade,
  foreign key (organization_id, purchase_order_line_id)
    references public.purchase_order_lines (organization_id, id)
    on delete set null (purchase_order_line_id),
  -- The PO line a person linked (matching keeps it).
  po_line_linked_manually boolean not null default false
);

alter table public.vendors enable row level security;
alter table public.vendor_aliases enable row level security;
alter table public.purchase_orders enable row level security;
alter table public.purchase_order_lines enable row level security;
alter table public.goods_receipts enable row level security;
alter table public.goods_receipt_lines enable row level security;
alter table public.vendor_invoices enable row level security;
alter table public.vendor_invoice_lines enable row level security;

-- vendor_invoice_lines.purchase_order_line_id holds a person's link (with
-- po_line_linked_manually); the PO line matching finds for a line is derived,
-- recomputed by every matching, and lives with its evidence in
-- vendor_invoice_line_matches.purchase_order_line_id. Writing it back to
-- every line as well (50,000 lines: row triggers, foreign keys, indexes and
-- the audit log) cost 40 % of a first matching (bench/RESULTS.md).
comment on column public.vendor_invoice_lines.purchase_order_line_id is
  'The purchase order line a person linked this line to (po_line_linked_manually); the line matching found is vendor_invoice_line_matches.purchase_order_line_id.';

-- =============================================================================
-- Indexes
-- =============================================================================

create index vendors_organization_name_idx on public.vendors (organization_id, name);

create index vendors_organization_normalized_name_idx
  on public.vendors (organization_id, normalized_name);

create index vendors_normalized_name_trgm_idx
  on public.vendors using gin (normalized_name extensions.gin_trgm_ops);

create index vendor_aliases_vendor_idx on public.vendor_aliases (vendor_id);

create index vendor_aliases_normalized_alias_trgm_idx
  on public.vendor_aliases using gin (normalized_alias extensions.gin_trgm_ops);

create index purchase_orders_organization_vendor_idx
  on public.purchase_orders (organization_id, vendor_id, order_date desc);

create index purchase_orders_organization_status_idx
  on public.purchase_orders (organization_id, status);

create index purchase_order_lines_order_idx
  on public.purchase_order_lines (purchase_order_id, line_number);

create index purchase_order_lines_item_code_idx
  on public.purchase_order_lines (purchase_order_id, normalized_item_code);

create index goods_receipts_order_idx on public.goods_receipts (purchase_order_id, received_date);

create index goods_receipts_organization_received_idx
  on public.goods_receipts (organization_id, received_date desc);

create index goods_receipt_lines_receipt_idx on public.goods_receipt_lines (goods_receipt_id);
create index goods_receipt_lines_po_line_idx on public.goods_receipt_lines (purchase_order_line_id);

-- The same invoice number of the same vendor is one invoice.
create unique index vendor_invoices_number_unique_per_vendor
  on public.vendor_invoices (organization_id, vendor_id, normalized_invoice_number)
  where vendor_id is not null;

create index vendor_invoices_organization_status_idx
  on public.vendor_invoices (organization_id, status, invoice_date desc);

create index vendor_invoices_organization_date_idx
  on public.vendor_invoices (organization_id, invoice_date desc);

create index vendor_invoices_organization_vendor_idx
  on public.vendor_invoices (organization_id, vendor_id, invoice_date desc);

create index vendor_invoices_purchase_order_idx on public.vendor_invoices (purchase_order_id);

create index vendor_invoices_organization_po_number_idx
  on public.vendor_invoices (organization_id, private.normalize_document_number(po_number));

create index vendor_invoice_lines_invoice_idx
  on public.vendor_invoice_lines (vendor_invoice_id, line_number);

create index vendor_invoice_lines_po_line_idx
  on public.vendor_invoice_lines (purchase_order_line_id);

create index purchase_orders_import_batch_idx on public.purchase_orders (import_batch_id);
create index goods_receipts_import_batch_idx on public.goods_receipts (import_batch_id);
create index vendor_invoices_import_batch_idx on public.vendor_invoices (import_batch_id);

-- Duplicates of an unknown vendor's invoice (vendor_id null) are found by number; the
-- unique index per vendor covers the others.
create index vendor_invoices_unknown_vendor_number_idx
  on public.vendor_invoices (organization_id, normalized_invoice_number)
  where vendor_id is null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index vendors_created_by_idx on public.vendors (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index vendor_aliases_created_by_idx on public.vendor_aliases (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index purchase_orders_created_by_idx on public.purchase_orders (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index goods_receipts_created_by_idx on public.goods_receipts (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index vendor_invoices_created_by_idx on public.vendor_invoices (created_by) where created_by is not null;

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.vendors
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.purchase_orders
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.purchase_order_lines
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.goods_receipts
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.vendor_invoices
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.vendor_invoice_lines
  for each row execute function private.set_updated_at();

select private.enable_audit('public.vendors', array['updated_at']);
select private.enable_audit('public.vendor_aliases');
select private.enable_audit('public.purchase_orders', array['updated_at']);
select private.enable_audit('public.purchase_order_lines', array['updated_at']);
select private.enable_audit('public.goods_receipts', array['updated_at']);
select private.enable_audit('public.goods_receipt_lines');
select private.enable_audit('public.vendor_invoices', array['updated_at']);
select private.enable_audit('public.vendor_invoice_lines', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

-- Policies: members (any role) read their organization's rows; members (the member
-- role or above) add, change and delete the documents.

-- vendors
create policy "Members can view their organization's vendors"
  on public.vendors for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add vendors to their organization"
  on public.vendors for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's vendors"
  on public.vendors for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's vendors"
  on public.vendors for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- vendor aliases
create policy "Members can view their organization's vendor aliases"
  on public.vendor_aliases for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add vendor aliases to their organization"
  on public.vendor_aliases for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's vendor aliases"
  on public.vendor_aliases for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's vendor aliases"
  on public.vendor_aliases for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- purchase orders
create policy "Members can view their organization's purchase orders"
  on public.purchase_orders for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add purchase orders to their organization"
  on public.purchase_orders for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's purchase orders"
  on public.purchase_orders for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's purchase orders"
  on public.purchase_orders for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- purchase order lines
create policy "Members can view their organization's purchase order lines"
  on public.purchase_order_lines for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add purchase order lines to their organization"
  on public.purchase_order_lines for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's purchase order lines"
  on public.purchase_order_lines for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's purchase order lines"
  on public.purchase_order_lines for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- goods receipts
create policy "Members can view their organization's goods receipts"
  on public.goods_receipts for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add goods receipts to their organization"
  on public.goods_receipts for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's goods receipts"
  on public.goods_receipts for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's goods receipts"
  on public.goods_receipts for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- goods receipt lines
create policy "Members can view their organization's goods receipt lines"
  on public.goods_receipt_lines for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add goods receipt lines to their organization"
  on public.goods_receipt_lines for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's goods receipt lines"
  on public.goods_receipt_lines for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's goods receipt lines"
  on public.goods_receipt_lines for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- vendor invoices
create policy "Members can view their organization's vendor invoices"
  on public.vendor_invoices for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add vendor invoices to their organization"
  on public.vendor_invoices for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's vendor invoices"
  on public.vendor_invoices for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's vendor invoices"
  on public.vendor_invoices for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- vendor invoice lines
create policy "Members can view their organization's vendor invoice lines"
  on public.vendor_invoice_lines for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add vendor invoice lines to their organization"
  on public.vendor_invoice_lines for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's vendor invoice lines"
  on public.vendor_invoice_lines for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's vendor invoice lines"
  on public.vendor_invoice_lines for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.vendors, public.vendor_aliases, public.purchase_orders, public.purchase_order_lines, public.goods_receipts, public.goods_receipt_lines, public.vendor_invoices, public.vendor_invoice_lines from anon, authenticated;

grant select, delete on public.vendors, public.vendor_aliases, public.purchase_orders,
  public.purchase_order_lines, public.goods_receipts, public.goods_receipt_lines,
  public.vendor_invoices, public.vendor_invoice_lines
  to authenticated;

grant insert (id, organization_id, name, tax_id, email, phone, address, default_currency, status,
  quantity_tolerance_percent, price_tolerance_percent, price_tolerance_amount,
  total_tolerance_amount, notes) on public.vendors to authenticated;

grant update (name, tax_id, email, phone, address, default_currency, status,
  quantity_tolerance_percent, price_tolerance_percent, price_tolerance_amount,
  total_tolerance_amount, notes) on public.vendors to authenticated;

grant insert (id, organization_id, vendor_id, alias, source) on public.vendor_aliases to authenticated;

grant insert (id, organization_id, vendor_id, po_number, order_date, currency, status, notes)
  on public.purchase_orders to authenticated;

grant update (po_number, order_date, status, notes) on public.purchase_orders to authenticated;

grant insert (id, organization_id, purchase_order_id, currency, line_number, item_code,
  description, quantity, unit_price) on public.purchase_order_lines to authenticated;

grant update (line_number, item_code, description, quantity, unit_price)
  on public.purchase_order_lines to authenticated;

grant insert (id, organization_id, purchase_order_id, receipt_number, received_date, notes)
  on public.goods_receipts to authenticated;

grant update (receipt_number, received_date, notes) on public.goods_receipts to authenticated;

grant insert (id, organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
  on public.goods_receipt_lines to authenticated;

grant insert (id, organization_id, vendor_id, vendor_name, invoice_number, invoice_date, due_date,
  po_number, currency, subtotal, tax_amount, total_amount, notes)
  on public.vendor_invoices to authenticated;

grant update (vendor_id, vendor_name, invoice_number, invoice_date, due_date, po_number,
  subtotal, tax_amount, total_amount, notes) on public.vendor_invoices to authenticated;

grant insert (id, organization_id, vendor_invoice_id, currency, line_number, item_code,
  description, quantity, unit_price, amount) on public.vendor_invoice_lines to authenticated;

grant update (line_number, item_code, description, quantity, unit_price, amount)
  on public.vendor_invoice_lines to authenticated;

grant execute on function private.normalize_vendor_name(text),
  private.normalize_document_number(text) to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
