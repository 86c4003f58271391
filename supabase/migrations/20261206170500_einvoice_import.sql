-- =============================================================================
-- E-invoices in (issue 19): vendor invoices imported from UBL, CII and
-- Factur-X / ZUGFeRD documents through the reconciliation import.
--
--   vendor_invoice_lines   the line's VAT as the document gives it: vat_category
--                          (UNCL5305), tax_rate (percent), the exemption reason
--                          (VATEX code and text) of its category
--   vendor_invoices        buyer_reference (BT-10), purchase_order_reference
--                          (BT-13, whole; po_number holds it when it fits the 50
--                          characters matching reads), the document totals EN 16931
--                          adds (allowances BT-107, charges BT-108, prepaid BT-113,
--                          amount due BT-115), the VAT accounting currency (BT-6),
--                          the vendor's VAT breakdown as given (BG-23); source_format
--                          (csv, json, ubl, cii, facturx, email, pdf) and source_hash,
--                          the SHA-256 of the document's bytes: the same document is
--                          imported once per organization (unique index)
--   import_vendor_invoices redefined whole (the latest definition was
--                          20261206101300_imports.sql's): it stores the new fields,
--                          refuses a document already imported (by its hash, stored
--                          or twice in the batch), and finds the vendor by the keyed
--                          hash of the seller's VAT id first (vendors.tax_id_hash,
--                          shared/reconciliation/vendor_tax_ids.py: the clear VAT id
--                          never reaches the database), then by name or confirmed
--                          alias as before. A document naming a VAT id that no vendor
--                          has, and a name no vendor has, creates the vendor with the
--                          VAT id sealed (the seal the API made, context
--                          vendors.tax_id:<organization>) and the seller's contact
--                          details: a VAT id is an identity, a bare name stays an
--                          unknown vendor for a person to confirm, as before.
--
-- The signature and the parameter names of private/public.import_vendor_invoices
-- are unchanged: the JSON route, the S3 worker and the email intake
-- (20261206170600_email_intake.sql, which calls it by name) keep working.
-- =============================================================================

-- =============================================================================
-- Columns
-- =============================================================================

-- "if not exists": the tax model's migration (20261206170400) may add the lines'
-- VAT columns for every kind of line; the names and meanings are the contract's.
alter table public.vendor_invoice_lines
  add column if not exists vat_category text
    check (vat_category in ('S', 'Z', 'E', 'AE', 'K', 'G', 'O', 'L', 'M')),
  add column if not exists tax_rate numeric
    check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  add column if not exists tax_exemption_reason_code text
    check (length(tax_exemption_reason_code) <= 100),
  add column if not exists tax_exemption_reason text
    check (length(tax_exemption_reason) <= 1000);

alter table public.vendor_invoices
  add column if not exists buyer_reference text check (length(buyer_reference) <= 200),
  add column if not exists purchase_order_reference text
    check (length(purchase_order_reference) <= 200),
  add column if not exists allowance_total numeric
    check (allowance_total >= 0 and allowance_total < 1e12),
  add column if not exists charge_total numeric check (charge_total >= 0 and charge_total < 1e12),
  add column if not exists prepaid_amount numeric
    check (prepaid_amount > -1e12 and prepaid_amount < 1e12),
  add column if not exists amount_due numeric check (amount_due > -1e12 and amount_due < 1e12),
  add column if not exists tax_currency text check (tax_currency ~ '^[A-Z]{3}$'),
  add column if not exists tax_breakdown jsonb
    check (tax_breakdown is null or jsonb_typeof(tax_breakdown) = 'array'),
  add column if not exists source_format text
    check (source_format in ('csv', 'json', 'ubl', 'cii', 'facturx', 'email', 'pdf')),
  add column if not exists source_hash text check (source_hash ~ '^[0-9a-f]{64}$');

comment on column public.vendor_invoices.source_hash is
  'SHA-256 of the e-invoice document it was imported from: one document, one import per organization.';
comment on column public.vendor_invoices.purchase_order_reference is
  'BT-13 as the document gives it; po_number (what matching reads) holds it when it fits 50 characters.';

-- The same document is never imported twice in an organization (the import
-- reports it; this holds against two imports at once).
create unique index if not exists vendor_invoices_source_hash_unique
  on public.vendor_invoices (organization_id, source_hash) where source_hash is not null;

-- Where the invoices imported before came from.
update public.vendor_invoices vi
set source_format = case b.source when 'csv' then 'csv' when 'api' then 'json' else b.source end
from public.import_batches b
where b.organization_id = vi.organization_id and b.id = vi.import_batch_id
  and vi.source_format is null;

-- The API's members read these as the rest of the invoice (the table's select
-- grant is for the whole row); a member's own edits do not write them.

-- =============================================================================
-- Functions
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
    vendor_email text, vendor_phone text, vendor_address text);
  perform 'PRAGMA:TABLE: import_docs (id uuid, index integer, rows jsonb, vendor_name text, invoice_number text, invoice_date date, due_date date, po_number text, currency text, subtotal numeric, tax_amount numeric, total_amount numeric, notes text, lines jsonb, buyer_reference text, purchase_order_reference text, allowance_total numeric, charge_total numeric, prepaid_amount numeric, amount_due numeric, tax_currency text, tax_breakdown jsonb, source_format text, source_hash text, vendor_tax_id_hash text, vendor_tax_id_sealed jsonb, vendor_email text, vendor_phone text, vendor_address text, label text, vendor_key text, number_key text, vendor_id uuid, stored boolean)';  -- its columns, for plpgsql_check (supabase db lint)
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
             partition by e.number_key,
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
    where d.stored;

    insert into public.vendor_invoice_lines
      (organization_id, vendor_invoice_id, currency, line_number, item_code, description,
       quantity, unit_price, amount, vat_category, tax_rate, tax_exemption_reason_code,
       tax_exemption_reason)
    select org, l.doc_id, l.currency, l.line_number, l.item_code, l.description, l.quantity,
           l.unit_price, l.amount, l.vat_category, l.tax_rate, l.tax_exemption_reason_code,
           l.tax_exemption_reason
    from pg_temp.import_lines l
    join pg_temp.import_docs d on d.id = l.doc_id
    where d.stored;
  end if;

  return private.import_finish(b, errors, rows_total, 'an invoice');
end;
$$;

comment on function private.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports vendor invoices with their lines (CSV, JSON or e-invoices), a whole batch in one call.';

-- The public wrapper is unchanged (security invoker, the same signature); its grants stand.

-- The reads that relay a vendor invoice or its lines as the table holds them
-- (20261206101500_exceptions.sql's, redefined whole): the new amounts and the
-- lines' rate are decimal strings, as every amount of the API.
create or replace function public.reconciliation_invoice(organization_id uuid, invoice_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  org uuid := reconciliation_invoice.organization_id;
  result jsonb;
begin
  perform private.require_role(org, 'viewer', 'not a member of the organization');
  select private.money_fields(to_jsonb(vi), array['subtotal', 'tax_amount', 'total_amount',
                                                 'allowance_total', 'charge_total',
                                                 'prepaid_amount', 'amount_due'])
         || jsonb_build_object(
              'vendor', (select jsonb_build_object('id', v.id, 'name', v.name, 'status', v.status)
                         from public.vendors v where v.id = vi.vendor_id),
              'purchase_order', (
                select jsonb_build_object('id', po.id, 'po_number', po.po_number,
                                          'status', po.status, 'vendor_id', po.vendor_id,
                                          'currency', po.currency)
                from public.purchase_orders po where po.id = vi.purchase_order_id),
              'match', (
                select private.money_fields(to_jsonb(m) - 'organization_id' - 'vendor_invoice_id',
                         array['lines_total', 'expected_lines_total', 'subtotal', 'tax_amount',
                               'total_amount', 'subtotal_variance', 'total_variance'])
                from public.vendor_invoice_matches m where m.vendor_invoice_id = vi.id),
              'lines', coalesce((
                select jsonb_agg(
                         private.money_fields(to_jsonb(l) - 'organization_id',
                           array['quantity', 'unit_price', 'amount', 'tax_rate'])
                         || jsonb_build_object('match', (
                              select private.money_fields(
                                       to_jsonb(lm) - 'organization_id' - 'vendor_invoice_id'
                                         - 'vendor_invoice_line_id' - 'line_number',
                                       array['ordered_quantity', 'received_quantity',
                                             'previously_billed_quantity', 'billed_quantity',
                                             'allowed_quantity', 'quantity_variance',
                                             'po_unit_price', 'billed_unit_price', 'price_variance',
                                             'price_allowance', 'expected_amount', 'billed_amount',
                                             'amount_variance'])
                              from public.vendor_invoice_line_matches lm
                              where lm.vendor_invoice_line_id = l.id))
                         order by l.line_number)
                from public.vendor_invoice_lines l where l.vendor_invoice_id = vi.id), '[]'),
              'exceptions', coalesce((
                select jsonb_agg(private.exception_json(e)
                                 order by (e.status = 'open') desc, e.line_number nulls first,
                                          e.type, e.id)
                from public.reconciliation_exceptions e where e.vendor_invoice_id = vi.id), '[]'))
  into result
  from public.vendor_invoices vi
  where vi.organization_id = org and vi.id = reconciliation_invoice.invoice_id;
  return result;
end;
$$;
grant execute on function public.reconciliation_invoice(uuid, uuid) to authenticated, service_role;
revoke execute on function public.reconciliation_invoice(uuid, uuid) from public;

create or replace function public.reconciliation_exception(organization_id uuid, exception_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  org uuid := reconciliation_exception.organization_id;
  result jsonb;
begin
  perform private.require_role(org, 'viewer', 'not a member of the organization');
  select private.exception_json(e)
         || jsonb_build_object(
              'invoice', (
                select private.money_fields(
                         jsonb_build_object('id', vi.id, 'invoice_number', vi.invoice_number,
                           'vendor_id', vi.vendor_id, 'vendor_name', vi.vendor_name,
                           'invoice_date', vi.invoice_date, 'po_number', vi.po_number,
                           'purchase_order_id', vi.purchase_order_id, 'currency', vi.currency,
                           'subtotal', vi.subtotal, 'tax_amount', vi.tax_amount,
                           'total_amount', vi.total_amount, 'status', vi.status),
                         array['subtotal', 'tax_amount', 'total_amount'])
                from public.vendor_invoices vi where vi.id = e.vendor_invoice_id),
              'line', (
                select private.money_fields(to_jsonb(l) - 'organization_id',
                         array['quantity', 'unit_price', 'amount', 'tax_rate'])
                from public.vendor_invoice_lines l where l.id = e.vendor_invoice_line_id),
              'line_match', (
                select private.money_fields(
                         to_jsonb(lm) - 'organization_id' - 'vendor_invoice_id',
                         array['ordered_quantity', 'received_quantity', 'previously_billed_quantity',
                               'billed_quantity', 'allowed_quantity', 'quantity_variance',
                               'po_unit_price', 'billed_unit_price', 'price_variance',
                               'price_allowance', 'expected_amount', 'billed_amount',
                               'amount_variance'])
                from public.vendor_invoice_line_matches lm
                where lm.vendor_invoice_line_id = e.vendor_invoice_line_id),
              'history', private.exception_history(org, e.id))
  into result
  from public.reconciliation_exceptions e
  where e.organization_id = org and e.id = reconciliation_exception.exception_id;
  return result;
end;
$$;
grant execute on function
  public.reconciliation_exception(uuid, uuid)
  to authenticated, service_role;
revoke execute on function public.reconciliation_exception(uuid, uuid) from public;
