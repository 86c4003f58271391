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
--   import_vendor_invoices (its final definition is in 20261206171500, which adds
--                          the vendors' credit notes; nothing is deployed): it stores the new fields,
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

-- private.import_vendor_invoices: defined in 20261206171500 (its final form; nothing is deployed)

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
