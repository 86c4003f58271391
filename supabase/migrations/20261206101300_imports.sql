-- =============================================================================
-- Reconciliation import: vendor invoices, purchase orders and goods receipts
-- stored a whole batch at a time, with the batch and its rejected rows.
--
--   create_import_upload   a CSV upload: the batch (awaiting_upload) and the S3
--                          key its file goes to (<organization>/imports/<batch>/<file>)
--   claim_import_upload    the upload's S3 event: the batch found by its key,
--                          awaiting_upload -> processing once (a redelivered
--                          event finds it claimed or done and does nothing)
--   release_import_upload  a failed run: back to awaiting_upload (retry) or failed
--   import_vendor_invoices one call stores the batch's documents with their lines,
--   import_purchase_orders set-based (jsonb_to_recordset, one statement per
--   import_goods_receipts  table), with duplicates found inside the batch and
--                          against what is stored; the policy decides what a bad
--                          row costs: all_or_nothing stores nothing, accept_valid_rows
--                          stores every good document. Every rejected row is
--                          recorded in import_row_errors with the reason.
--
-- The rows arrive already validated and normalized by shared.reconciliation.ingest
-- (types, dates, amounts, currencies, consistency of a document's rows); what
-- only the database knows is checked here: vendors, duplicates, purchase orders
-- and their lines. Import batches and row errors are written by these functions
-- only (security definer): they check that the caller is a member (or above) of
-- the organization, or the service role (the S3-triggered import worker, which
-- names the organization of the batch it claimed).
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- One import: a CSV file (uploaded to S3 through a presigned URL, imported by the
-- upload's S3 event), or a JSON call. The policy is the user's choice per batch:
-- all_or_nothing stores nothing when any row is bad; accept_valid_rows stores the
-- good rows and reports the bad ones. Either way every rejected row is reported.
create table public.import_batches (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  kind text not null check (kind in ('vendor_invoices', 'purchase_orders', 'goods_receipts')),
  source text not null check (source in ('csv', 'api', 'email')),
  policy text not null default 'all_or_nothing'
    check (policy in ('all_or_nothing', 'accept_valid_rows')),
  status text not null default 'awaiting_upload'
    check (status in ('awaiting_upload', 'processing', 'completed', 'rejected', 'failed')),
  file_name text check (length(file_name) <= 255),
  s3_key text check (length(s3_key) <= 1024),
  rows_total integer not null default 0 check (rows_total >= 0),
  rows_accepted integer not null default 0 check (rows_accepted >= 0),
  rows_rejected integer not null default 0 check (rows_rejected >= 0),
  error text check (length(error) <= 2000),
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  updated_at timestamptz not null default now(),
  unique (organization_id, id),
  -- How the file's values were read (decided per file, or asked for), and its size.
  date_order text check (date_order in ('dmy', 'mdy')),
  decimal_mark text check (decimal_mark in ('.', ',')),
  size_bytes bigint check (size_bytes >= 0),
  -- What the import asked for: the date order of a CSV file (null: decided from the file).
  requested_date_order text check (requested_date_order in ('dmy', 'mdy'))
);

-- What was wrong with a row: its number in the file (1 = the first data row
-- after the header), the column, the value as given, and a sentence a person
-- understands.
create table public.import_row_errors (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  import_batch_id uuid not null,
  row_number integer not null check (row_number >= 0),
  column_name text check (length(column_name) <= 100),
  value text check (length(value) <= 500),
  message text not null check (length(message) between 1 and 1000),
  created_at timestamptz not null default now(),
  foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete cascade,
  -- A row's errors in the order they were found (several per row, or the header's).
  position integer check (position >= 0)
);

-- The documents (the previous migration's) name the batch they arrived in: the
-- foreign keys are added here, where the batches are made. Deleting a batch keeps
-- its documents (only their import_batch_id is set null).
alter table public.purchase_orders
  add constraint purchase_orders_import_batch_fkey foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id);

alter table public.goods_receipts
  add constraint goods_receipts_import_batch_fkey foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id);

alter table public.vendor_invoices
  add constraint vendor_invoices_import_batch_fkey foreign key (organization_id, import_batch_id)
    references public.import_batches (organization_id, id) on delete set null (import_batch_id);

alter table public.import_batches enable row level security;
alter table public.import_row_errors enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index import_batches_organization_created_idx
  on public.import_batches (organization_id, created_at desc);

create unique index import_batches_s3_key_idx on public.import_batches (s3_key)
  where s3_key is not null;

create index import_row_errors_batch_idx on public.import_row_errors (import_batch_id, row_number);
create index import_row_errors_organization_idx on public.import_row_errors (organization_id);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index import_batches_created_by_idx on public.import_batches (created_by) where created_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

-- Opens the batch an import call fills: a new one (source api), or the CSV batch
-- the worker claimed (service role only; it must be processing). Creates the
-- per-call scratch table of problems. Returns the batch; a batch that is no longer
-- processing (already imported) is returned as it is, and the caller stops.
create or replace function private.import_begin(
  organization_id uuid, import_kind text, import_policy text, batch_id uuid, total integer
)
returns public.import_batches
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  b public.import_batches;
begin
  perform private.require_role(import_begin.organization_id, 'member', 'your role may not import in this organization');
  if import_policy is null or import_policy not in ('all_or_nothing', 'accept_valid_rows') then
    raise exception 'policy must be all_or_nothing or accept_valid_rows' using errcode = '22023';
  end if;
  if total is not null and total < 0 then
    raise exception 'rows_total must be 0 or more' using errcode = '22023';
  end if;
  -- The purchase orders and receipts an import stores are not re-matched inside its
  -- statements (private.rematch_for_purchase_orders): its callers match after it
  -- commits, in bounded calls (shared/reconciliation/imports.py; docs/architecture.md,
  -- "Statement timeouts"). For this transaction only.
  perform pg_catalog.set_config('invoiceflow.deferred_rematch', 'on', true);
  if batch_id is null then
    insert into public.import_batches
      (organization_id, kind, source, policy, status, started_at, rows_total, created_by)
    values (import_begin.organization_id, import_kind, 'api', import_policy, 'processing', now(), coalesce(total, 0), auth.uid())
    returning * into b;
  else
    if coalesce(auth.role(), '') <> 'service_role' then
      raise exception 'only the import worker fills an uploaded batch' using errcode = '42501';
    end if;
    select * into b from public.import_batches ib
    where ib.id = batch_id and ib.organization_id = import_begin.organization_id and ib.kind = import_kind
    for update;
    if not found then
      raise exception 'import batch not found' using errcode = 'P0002';
    end if;
  end if;
  if pg_catalog.to_regclass('pg_temp.import_problems') is not null then
    drop table pg_temp.import_problems;
  end if;
  create temp table import_problems (
    doc_id uuid,
    row_number integer not null,
    column_name text,
    value text,
    message text not null
  ) on commit drop;
  return b;
end;
$$;

-- Records the outcome: the rows' errors (those given, found by validation, and the
-- import_problems found here), the counts and the status; answers the report
-- {"batch", "accepted": [{"index", "id", "label"}], "rejected": [{"row", "column",
-- "value", "message"}]}. pg_temp.import_docs holds the call's documents (id,
-- index, rows, label, stored).
create or replace function private.import_finish(
  b public.import_batches, given_errors jsonb, total integer, what text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  accepted integer;
  rows_all integer;
  bad_docs integer;
  file_error text;
  done public.import_batches;
begin
  -- The caller's temporary tables, for plpgsql_check (supabase db lint): import_begin
  -- creates import_problems, the import function import_docs (these are the columns used).
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, label text, stored boolean)';
  -- A document rejected for one row: its other rows are told why they were left out.
  if b.policy = 'accept_valid_rows' then
    insert into pg_temp.import_problems (doc_id, row_number, message)
    select d.id, r.n::integer,
           pg_catalog.format('not imported with the rest of %s: other rows of it have errors, '
                             'and %s is imported whole or not at all', d.label, what)
    from pg_temp.import_docs d
    cross join lateral pg_catalog.jsonb_array_elements_text(d.rows) as r (n)
    where exists (select 1 from pg_temp.import_problems p where p.doc_id = d.id)
      and not exists (select 1 from pg_temp.import_problems p
                      where p.doc_id = d.id and p.row_number = r.n::integer);
  end if;

  insert into public.import_row_errors
    (organization_id, import_batch_id, row_number, column_name, value, message, position)
  select b.organization_id, b.id, e.row_number, left(e.column_name, 100), left(e.value, 500),
         left(e.message, 1000),
         (row_number() over (order by e.row_number, e.source, e.n))::integer
  from (
    select (g.e ->> 'row')::integer as row_number, g.e ->> 'column' as column_name,
           g.e ->> 'value' as value, g.e ->> 'message' as message, 0 as source, g.n
    from pg_catalog.jsonb_array_elements(coalesce(given_errors, '[]'::jsonb))
      with ordinality as g (e, n)
    union all
    select p.row_number, p.column_name, p.value, p.message, 1, 0 from pg_temp.import_problems p
  ) e;

  select coalesce(sum(pg_catalog.jsonb_array_length(d.rows)) filter (where d.stored), 0),
         coalesce(sum(pg_catalog.jsonb_array_length(d.rows)), 0),
         count(*) filter (where not d.stored)
  into accepted, rows_all, bad_docs
  from pg_temp.import_docs d;
  total := greatest(coalesce(total, 0), rows_all, accepted);

  select e.message into file_error
  from public.import_row_errors e
  where e.import_batch_id = b.id and e.row_number = 0
  order by e.position
  limit 1;

  update public.import_batches ib
  set status = case when accepted = 0 and (total > 0 or file_error is not null)
                    then 'rejected' else 'completed' end,
      rows_total = total,
      rows_accepted = accepted,
      rows_rejected = total - accepted,
      completed_at = now(),
      error = case
        when accepted = 0 and file_error is not null then 'nothing was imported: ' || file_error
        when accepted = 0 and total > 0 and b.policy = 'all_or_nothing' then
          pg_catalog.format('nothing was imported: %s of %s rows have errors, and the batch is '
                            'all or nothing', (select count(distinct e.row_number)
                                               from public.import_row_errors e
                                               where e.import_batch_id = b.id), total)
        when accepted = 0 and total > 0 then 'nothing was imported: every row has errors'
        when accepted < total then
          pg_catalog.format('%s of %s rows were imported; the others have errors', accepted, total)
      end
  where ib.id = b.id
  returning * into done;

  return pg_catalog.jsonb_build_object(
    'batch', pg_catalog.to_jsonb(done),
    'accepted', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'index', d.index, 'id', d.id, 'label', d.label) order by d.index)
      from pg_temp.import_docs d where d.stored), '[]'::jsonb),
    'rejected', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'row', e.row_number, 'column', e.column_name, 'value', e.value,
               'message', e.message) order by e.row_number, e.position, e.id)
      from public.import_row_errors e where e.import_batch_id = b.id), '[]'::jsonb));
end;
$$;

-- The report of a batch already imported (a redelivered S3 event).
create or replace function private.import_report(b public.import_batches)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'batch', pg_catalog.to_jsonb(b),
    'accepted', '[]'::jsonb,
    'already', true,
    'rejected', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'row', e.row_number, 'column', e.column_name, 'value', e.value,
               'message', e.message) order by e.row_number, e.position, e.id)
      from public.import_row_errors e where e.import_batch_id = b.id), '[]'::jsonb))
$$;

-- The canonical vendor a name resolves to: a vendor whose normalized name it is
-- (an active one first; a merged one stands for its survivor), else a confirmed
-- alias (any alias not merely recorded by an import). Null: unknown.
create or replace function private.resolve_vendor(organization_id uuid, vendor_key text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select coalesce(v.merged_into, v.id) from public.vendors v
     where v.organization_id = resolve_vendor.organization_id and v.normalized_name = vendor_key
     order by (v.status = 'merged'), (v.status = 'active') desc, v.created_at, v.id
     limit 1),
    (select coalesce(v.merged_into, v.id) from public.vendor_aliases a
     join public.vendors v on v.organization_id = a.organization_id and v.id = a.vendor_id
     where a.organization_id = resolve_vendor.organization_id and a.normalized_alias = vendor_key and a.source <> 'import'
     limit 1))
$$;

-- Doc-level problems on every row of the document.
create or replace function private.import_problem_rows(
  doc uuid, doc_rows jsonb, col text, val text, msg text
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's, for plpgsql_check
  insert into pg_temp.import_problems (doc_id, row_number, column_name, value, message)
  select doc, r.n::integer, col, val, msg
  from pg_catalog.jsonb_array_elements_text(doc_rows) as r (n);
end;
$$;

-- A batch waiting for its file. object_name is the file name made safe for a key
-- (letters, digits, . _ -); the key is <organization>/imports/<batch>/<object_name>.
--
-- The imports: an import batch, its row errors and the documents of a whole file
-- are written together with the duplicate checks and the matching that follows
-- (import_begin checks the caller: a member, or the import worker as the service
-- role). Batches and row errors have no write policy: they are bookkeeping.
create or replace function private.create_import_upload(
  organization_id uuid,
  kind text,
  file_name text,
  object_name text,
  policy text default 'all_or_nothing',
  date_order text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  org uuid := create_import_upload.organization_id;
  b public.import_batches;
  new_id uuid := gen_random_uuid();
begin
  perform private.require_role(org, 'member', 'your role may not import in this organization');
  if kind is null or kind not in ('vendor_invoices', 'purchase_orders', 'goods_receipts') then
    raise exception 'kind must be vendor_invoices, purchase_orders or goods_receipts'
      using errcode = '22023';
  end if;
  if policy is null or policy not in ('all_or_nothing', 'accept_valid_rows') then
    raise exception 'policy must be all_or_nothing or accept_valid_rows' using errcode = '22023';
  end if;
  if object_name is null or object_name !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$' then
    raise exception 'the file name must be 1 to 120 letters, digits, dots, dashes or underscores'
      using errcode = '22023';
  end if;
  insert into public.import_batches
    (id, organization_id, kind, source, policy, status, file_name, s3_key, requested_date_order,
     created_by)
  values (new_id, org, kind, 'csv', policy, 'awaiting_upload', left(file_name, 255),
          org::text || '/imports/' || new_id::text || '/' || object_name, date_order, auth.uid())
  returning * into b;
  return pg_catalog.to_jsonb(b);
end;
$$;

comment on function private.create_import_upload(uuid, text, text, text, text, text) is
  'Starts a CSV import: the batch awaiting its upload and its S3 key.';

create function public.create_import_upload(
  organization_id uuid,
  kind text,
  file_name text,
  object_name text,
  policy text default 'all_or_nothing',
  date_order text default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.create_import_upload($1, $2, $3, $4, $5, $6) $$;

comment on function public.create_import_upload(uuid, text, text, text, text, text) is
  'Starts a CSV import: the batch awaiting its upload and its S3 key.';

-- The worker's claim on an uploaded file: {"claimed": true, "batch": ...} once;
-- a batch already processing (a concurrent delivery) or finished is not claimed
-- again, unless its run died (processing for more than 15 minutes, longer than a
-- Lambda may run). {"claimed": false, "batch": null}: no batch has this key.
create or replace function public.claim_import_upload(s3_key text, size_bytes bigint default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  b public.import_batches;
begin
  select * into b from public.import_batches ib
  where ib.s3_key = claim_import_upload.s3_key
  for update;
  if not found then
    return pg_catalog.jsonb_build_object('claimed', false, 'batch', null);
  end if;
  if b.status = 'awaiting_upload'
     or (b.status = 'processing' and b.started_at < now() - interval '15 minutes') then
    update public.import_batches ib
    set status = 'processing', started_at = now(),
        size_bytes = coalesce(claim_import_upload.size_bytes, ib.size_bytes)
    where ib.id = b.id
    returning * into b;
    return pg_catalog.jsonb_build_object('claimed', true, 'batch', pg_catalog.to_jsonb(b));
  end if;
  return pg_catalog.jsonb_build_object('claimed', false, 'batch', pg_catalog.to_jsonb(b));
end;
$$;

-- A run that could not finish: retry (back to awaiting_upload, so the redelivered
-- event claims it again) or give up (failed, with the reason a person reads).
create or replace function public.release_import_upload(
  import_batch_id uuid, error text, retry boolean default false
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  b public.import_batches;
begin
  update public.import_batches ib
  set status = case when retry then 'awaiting_upload' else 'failed' end,
      started_at = case when retry then null else ib.started_at end,
      completed_at = case when retry then null else now() end,
      error = left(release_import_upload.error, 2000)
  where ib.id = import_batch_id and ib.status = 'processing'
  returning * into b;
  return pg_catalog.to_jsonb(b);
end;
$$;

-- Records what the worker learned of the file before storing (how it was read).
create or replace function public.describe_import_upload(
  import_batch_id uuid, date_order text, decimal_mark text
)
returns void
language sql
volatile
security invoker
set search_path = ''
as $$
  update public.import_batches ib
  set date_order = describe_import_upload.date_order,
      decimal_mark = describe_import_upload.decimal_mark
  where ib.id = import_batch_id and ib.status = 'processing'
$$;

-- batch: [{"index", "rows": [row numbers], "vendor_name", "invoice_number",
-- "invoice_date", "due_date", "po_number", "currency", "subtotal", "tax_amount",
-- "total_amount", "notes", "lines": [{"row", "at", "line_number", "item_code",
-- "description", "quantity", "unit_price", "amount"}]}]. A line's amount defaults
-- to quantity x price at the currency's minor unit, the subtotal to the lines'
-- sum, the tax to 0, the total to subtotal + tax. The vendor is resolved
-- (private.resolve_vendor); an unknown vendor leaves vendor_id null (matching
-- raises the "unknown vendor" exception). errors: rows validation rejected
-- ([{"row", "column", "value", "message"}]); columns: field -> the file's header.
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
         pg_catalog.format('invoice %s of %s', d.invoice_number, d.vendor_name) as label,
         private.normalize_vendor_name(d.vendor_name) as vendor_key,
         private.normalize_document_number(d.invoice_number) as number_key,
         private.resolve_vendor(org, private.normalize_vendor_name(d.vendor_name)) as vendor_id,
         false as stored
  from pg_catalog.jsonb_to_recordset(coalesce(batch, '[]'::jsonb)) as d (
    index integer, rows jsonb, vendor_name text, invoice_number text, invoice_date date,
    due_date date, po_number text, currency text, subtotal numeric, tax_amount numeric,
    total_amount numeric, notes text, lines jsonb);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, vendor_name text, invoice_number text, invoice_date date, due_date date, po_number text, currency text, subtotal numeric, tax_amount numeric, total_amount numeric, notes text, lines jsonb, label text, vendor_key text, number_key text, vendor_id uuid, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's
  analyze pg_temp.import_docs;

  if pg_catalog.to_regclass('pg_temp.import_lines') is not null then
    drop table pg_temp.import_lines;
  end if;
  create temp table import_lines on commit drop as
  select d.id as doc_id, d.currency, l."row", l.line_number, l.item_code, l.description,
         l.quantity, l.unit_price,
         coalesce(l.amount, private.round_money(l.quantity * l.unit_price, d.currency)) as amount
  from pg_temp.import_docs d
  cross join lateral pg_catalog.jsonb_to_recordset(d.lines) as l (
    "row" integer, at text, line_number integer, item_code text, description text,
    quantity numeric, unit_price numeric, amount numeric);
  perform 'PRAGMA:TABLE: import_lines (doc_id uuid, currency text, "row" integer, line_number integer, item_code text, description text, quantity numeric, unit_price numeric, amount numeric)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze pg_temp.import_lines;

  -- What only the database knows: duplicates, inside the batch and stored. The
  -- same vendor (or, unknown, the same normalized name) and the same number.
  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'invoice_number', 'invoice_number'),
    d.invoice_number,
    pg_catalog.format('%s appears twice in this import (first at %s %s): a duplicate', d.label,
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (
             partition by e.number_key, coalesce(e.vendor_id::text, 'name:' || e.vendor_key)
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
  where d.vendor_id is not null;

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
  where d.vendor_id is null;

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

    insert into public.vendor_invoices
      (id, organization_id, vendor_id, vendor_name, invoice_number, invoice_date, due_date,
       po_number, currency, subtotal, tax_amount, total_amount, notes, import_batch_id,
       created_by)
    select d.id, org, d.vendor_id, d.vendor_name, d.invoice_number, d.invoice_date, d.due_date,
           d.po_number, d.currency, coalesce(d.subtotal, s.lines_total, 0),
           coalesce(d.tax_amount, 0),
           coalesce(d.total_amount, coalesce(d.subtotal, s.lines_total, 0) + coalesce(d.tax_amount, 0)),
           d.notes, b.id, who
    from pg_temp.import_docs d
    left join (
      select l.doc_id, sum(l.amount) as lines_total
      from pg_temp.import_lines l group by l.doc_id
    ) s on s.doc_id = d.id
    where d.stored;

    insert into public.vendor_invoice_lines
      (organization_id, vendor_invoice_id, currency, line_number, item_code, description,
       quantity, unit_price, amount)
    select org, l.doc_id, l.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price, l.amount
    from pg_temp.import_lines l
    join pg_temp.import_docs d on d.id = l.doc_id
    where d.stored;
  end if;

  return private.import_finish(b, errors, rows_total, 'an invoice');
end;
$$;

comment on function private.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports vendor invoices with their lines, a whole batch in one call.';

create function public.import_vendor_invoices(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_vendor_invoices($1, $2, $3, $4, $5, $6, $7) $$;

comment on function public.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports vendor invoices with their lines, a whole batch in one call.';

-- batch: [{"index", "rows", "po_number", "vendor_name", "order_date", "currency",
-- "status", "notes", "lines": [{"row", "at", "line_number", "item_code",
-- "description", "quantity", "unit_price"}]}]. A PO number is the organization's
-- once: one already stored is a duplicate (not updated). Purchase orders are the
-- organization's own master data, so a vendor it does not know yet is created
-- (once per normalized name, named as the first purchase order of the batch
-- writes it).
create or replace function private.import_purchase_orders(
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
  org uuid := import_purchase_orders.organization_id;
  b public.import_batches;
  store boolean;
  who uuid;
begin
  b := private.import_begin(org, 'purchase_orders', import_purchase_orders.policy,
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
         pg_catalog.format('purchase order %s', d.po_number) as label,
         private.normalize_vendor_name(d.vendor_name) as vendor_key,
         private.normalize_document_number(d.po_number) as number_key,
         private.resolve_vendor(org, private.normalize_vendor_name(d.vendor_name)) as vendor_id,
         false as stored
  from pg_catalog.jsonb_to_recordset(coalesce(batch, '[]'::jsonb)) as d (
    index integer, rows jsonb, po_number text, vendor_name text, order_date date,
    currency text, status text, notes text, lines jsonb);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, po_number text, vendor_name text, order_date date, currency text, status text, notes text, lines jsonb, label text, vendor_key text, number_key text, vendor_id uuid, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's
  analyze pg_temp.import_docs;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'po_number', 'po_number'),
    d.po_number,
    pg_catalog.format('%s appears twice in this import (first at %s %s): a duplicate', d.label,
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (partition by e.number_key) as first_index
    from pg_temp.import_docs e
  ) d
  where d.first_index < d.index;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'po_number', 'po_number'),
    d.po_number,
    pg_catalog.format('%s already exists (since %s): a duplicate; it is not changed by an import',
                      d.label, pg_catalog.to_char(po.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join public.purchase_orders po
    on po.organization_id = org and po.normalized_po_number = d.number_key;

  store := b.policy = 'accept_valid_rows'
           or (pg_catalog.jsonb_array_length(coalesce(errors, '[]'::jsonb)) = 0
               and not exists (select 1 from pg_temp.import_problems));
  if store then
    update pg_temp.import_docs d set stored = true
    where not exists (select 1 from pg_temp.import_problems p where p.doc_id = d.id);

    with created as (
      insert into public.vendors (organization_id, name, default_currency, created_by)
      select distinct on (d.vendor_key) org, d.vendor_name, d.currency, who
      from pg_temp.import_docs d
      where d.stored and d.vendor_id is null
      order by d.vendor_key, d.index
      returning id, normalized_name
    )
    update pg_temp.import_docs d set vendor_id = c.id
    from created c
    where d.stored and d.vendor_id is null and c.normalized_name = d.vendor_key;

    insert into public.purchase_orders
      (id, organization_id, vendor_id, po_number, order_date, currency, status, notes,
       import_batch_id, created_by)
    select d.id, org, d.vendor_id, d.po_number, coalesce(d.order_date, current_date), d.currency,
           coalesce(d.status, 'open'), d.notes, b.id, who
    from pg_temp.import_docs d
    where d.stored;

    insert into public.purchase_order_lines
      (organization_id, purchase_order_id, currency, line_number, item_code, description,
       quantity, unit_price)
    select org, d.id, d.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price
    from pg_temp.import_docs d
    cross join lateral pg_catalog.jsonb_to_recordset(d.lines) as l (
      line_number integer, item_code text, description text, quantity numeric,
      unit_price numeric)
    where d.stored;
  end if;

  return private.import_finish(b, errors, rows_total, 'a purchase order');
end;
$$;

comment on function private.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports purchase orders with their lines, a whole batch in one call.';

create function public.import_purchase_orders(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_purchase_orders($1, $2, $3, $4, $5, $6, $7) $$;

comment on function public.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports purchase orders with their lines, a whole batch in one call.';

-- batch: [{"index", "rows", "receipt_number", "po_number", "received_date",
-- "notes", "lines": [{"row", "at", "po_line", "item_code", "quantity_received"}]}].
-- The purchase order must be the organization's (and not cancelled); each line
-- names its PO line by line number, else by item code (which must then be on one
-- line of the PO only). A receipt number is the organization's once.
create or replace function private.import_goods_receipts(
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
  org uuid := import_goods_receipts.organization_id;
  b public.import_batches;
  store boolean;
  who uuid;
begin
  b := private.import_begin(org, 'goods_receipts', import_goods_receipts.policy,
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
         pg_catalog.format('receipt %s', d.receipt_number) as label,
         private.normalize_document_number(d.receipt_number) as number_key,
         po.id as purchase_order_id, po.status as po_status,
         false as stored
  from pg_catalog.jsonb_to_recordset(coalesce(batch, '[]'::jsonb)) as d (
    index integer, rows jsonb, receipt_number text, po_number text, received_date date,
    notes text, lines jsonb)
  left join public.purchase_orders po
    on po.organization_id = org
   and po.normalized_po_number = private.normalize_document_number(d.po_number);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, receipt_number text, po_number text, received_date date, notes text, lines jsonb, label text, number_key text, purchase_order_id uuid, po_status text, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
  perform 'PRAGMA:TABLE: import_problems (doc_id uuid, row_number integer, column_name text, value text, message text)';  -- import_begin's
  analyze pg_temp.import_docs;

  if pg_catalog.to_regclass('pg_temp.import_lines') is not null then
    drop table pg_temp.import_lines;
  end if;
  create temp table import_lines on commit drop as
  select d.id as doc_id, l."row", l.at, l.po_line, l.item_code, l.quantity_received,
         coalesce(
           (select pl.id from public.purchase_order_lines pl
            where pl.purchase_order_id = d.purchase_order_id and pl.line_number = l.po_line),
           case when l.po_line is null then
             (select min(pl.id::text)::uuid from public.purchase_order_lines pl
              where pl.purchase_order_id = d.purchase_order_id
                and pl.normalized_item_code = private.normalize_document_number(l.item_code)
              having count(*) = 1)
           end) as purchase_order_line_id,
         case when l.po_line is null then
           (select count(*) from public.purchase_order_lines pl
            where pl.purchase_order_id = d.purchase_order_id
              and pl.normalized_item_code = private.normalize_document_number(l.item_code))
         end as item_matches
  from pg_temp.import_docs d
  cross join lateral pg_catalog.jsonb_to_recordset(d.lines) as l (
    "row" integer, at text, po_line integer, item_code text, quantity_received numeric);
  perform 'PRAGMA:TABLE: import_lines (doc_id uuid, "row" integer, at text, po_line integer, item_code text, quantity_received numeric, purchase_order_line_id uuid, item_matches bigint)';  -- its columns, for plpgsql_check (supabase db lint)
  analyze pg_temp.import_lines;

  perform private.import_problem_rows(d.id, d.rows, coalesce(columns ->> 'po_number', 'po_number'),
    d.po_number,
    case when d.purchase_order_id is null then
      pg_catalog.format('purchase order %s is not known: import the purchase order first', d.po_number)
    else pg_catalog.format('purchase order %s is cancelled: nothing can be received on it', d.po_number)
    end)
  from pg_temp.import_docs d
  where d.purchase_order_id is null or d.po_status = 'cancelled';

  insert into pg_temp.import_problems (doc_id, row_number, column_name, value, message)
  select l.doc_id, l."row",
         coalesce(l.at, '') || case when l.po_line is not null
           then coalesce(columns ->> 'po_line', 'po_line') else coalesce(columns ->> 'item_code', 'item_code') end,
         coalesce(l.po_line::text, l.item_code),
         case
           when l.po_line is not null then
             pg_catalog.format('purchase order %s has no line %s', d.po_number, l.po_line)
           when l.item_matches > 1 then
             pg_catalog.format('item %s is on %s lines of purchase order %s: name the line number',
                               l.item_code, l.item_matches, d.po_number)
           else pg_catalog.format('purchase order %s has no line with item %s', d.po_number, l.item_code)
         end
  from pg_temp.import_lines l
  join pg_temp.import_docs d on d.id = l.doc_id
  where l.purchase_order_line_id is null and d.purchase_order_id is not null;

  perform private.import_problem_rows(d.id, d.rows,
    coalesce(columns ->> 'receipt_number', 'receipt_number'), d.receipt_number,
    pg_catalog.format('%s appears twice in this import (first at %s %s): a duplicate', d.label,
                      case when b.source = 'csv' then 'row' else 'index' end, d.first_index))
  from (
    select e.*, min(e.index) over (partition by e.number_key) as first_index
    from pg_temp.import_docs e
  ) d
  where d.first_index < d.index;

  perform private.import_problem_rows(d.id, d.rows,
    coalesce(columns ->> 'receipt_number', 'receipt_number'), d.receipt_number,
    pg_catalog.format('%s is already recorded (since %s): a duplicate', d.label,
                      pg_catalog.to_char(gr.created_at, 'YYYY-MM-DD')))
  from pg_temp.import_docs d
  join public.goods_receipts gr
    on gr.organization_id = org and gr.normalized_receipt_number = d.number_key;

  store := b.policy = 'accept_valid_rows'
           or (pg_catalog.jsonb_array_length(coalesce(errors, '[]'::jsonb)) = 0
               and not exists (select 1 from pg_temp.import_problems));
  if store then
    update pg_temp.import_docs d set stored = true
    where not exists (select 1 from pg_temp.import_problems p where p.doc_id = d.id);

    insert into public.goods_receipts
      (id, organization_id, purchase_order_id, receipt_number, received_date, notes,
       import_batch_id, created_by)
    select d.id, org, d.purchase_order_id, d.receipt_number, coalesce(d.received_date, current_date),
           d.notes, b.id, who
    from pg_temp.import_docs d
    where d.stored;

    insert into public.goods_receipt_lines
      (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
    select org, l.doc_id, l.purchase_order_line_id, l.quantity_received
    from pg_temp.import_lines l
    join pg_temp.import_docs d on d.id = l.doc_id
    where d.stored;
  end if;

  return private.import_finish(b, errors, rows_total, 'a receipt');
end;
$$;

comment on function private.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports goods receipts with their lines, a whole batch in one call.';

create function public.import_goods_receipts(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_goods_receipts($1, $2, $3, $4, $5, $6, $7) $$;

comment on function public.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports goods receipts with their lines, a whole batch in one call.';

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.import_batches
  for each row execute function private.set_updated_at();

select private.enable_audit('public.import_batches', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

-- Import batches and their row errors are read only: the import RPCs write them.

-- import batches
create policy "Members can view their organization's import batches"
  on public.import_batches for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- import row errors
create policy "Members can view their organization's import row errors"
  on public.import_row_errors for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.import_batches, public.import_row_errors from anon, authenticated;

grant select on public.import_batches, public.import_row_errors to authenticated;

-- The private helpers run inside the security definer functions above (as their
-- owner): nobody else needs them.
grant execute on function private.create_import_upload(uuid, text, text, text, text, text)
  to authenticated;

grant execute on function
  private.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  private.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  private.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb)
  to authenticated, service_role;

grant execute on function
  public.claim_import_upload(text, bigint),
  public.release_import_upload(uuid, text, boolean),
  public.describe_import_upload(uuid, text, text)
  to service_role;

grant execute on function public.create_import_upload(uuid, text, text, text, text, text)
  to authenticated;

grant execute on function
  public.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  public.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  public.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb)
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
