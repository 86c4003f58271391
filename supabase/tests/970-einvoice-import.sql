-- =============================================================================
-- E-invoices in (20261206170500_einvoice_import.sql): import_vendor_invoices
-- stores a document's VAT lines, references and totals, finds the vendor by the
-- keyed hash of the seller's VAT id before its name (a merged vendor stands for
-- its survivor, another organization's vendor is never found), creates a vendor
-- with its sealed VAT id when neither finds one, and imports one document once.
-- =============================================================================
begin;
select plan(22);

select tests.create_cast();

insert into public.vendors (id, organization_id, name, tax_id_sealed, tax_id_hash) values
  ('e1000000-0000-4000-8000-000000000001', tests.org('main'), 'Werkzeug Lieferant',
   '{"v": 1, "kid": "k", "dk": "d", "n": "n", "c": "c"}', repeat('a', 64)),
  ('e1000000-0000-4000-8000-000000000003', tests.org('other'), 'Their Vendor',
   '{"v": 1, "kid": "k", "dk": "d", "n": "n", "c": "c"}', repeat('c', 64));
insert into public.vendors (id, organization_id, name) values
  ('e1000000-0000-4000-8000-000000000004', tests.org('main'), 'Survivor GmbH');
insert into public.vendors (id, organization_id, name, tax_id_sealed, tax_id_hash, status, merged_into) values
  ('e1000000-0000-4000-8000-000000000002', tests.org('main'), 'Merged GmbH',
   '{"v": 1, "kid": "k", "dk": "d", "n": "n", "c": "c"}', repeat('b', 64), 'merged',
   'e1000000-0000-4000-8000-000000000004');

select tests.authenticate_as('member');

create temp table report (name text primary key, body jsonb) on commit drop;
grant all on report to authenticated, service_role;

-- One document of each case; line fields as shared/reconciliation/ingest/einvoice.py writes them.
insert into report
select 'e1', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "LW Berlin", "invoice_number": "LW-1",
      "invoice_date": "2026-11-02", "due_date": "2026-12-02", "po_number": "PO-1", "currency": "EUR",
      "subtotal": "100.00", "tax_amount": "13.00", "total_amount": "113.00",
      "buyer_reference": "04011000-12345-03", "purchase_order_reference": "PO-1",
      "allowance_total": "0", "charge_total": "0", "prepaid_amount": "0", "amount_due": "113.00",
      "tax_breakdown": [{"vat_category": "S", "tax_rate": "19", "taxable_amount": "50.00", "tax_amount": "9.50"}],
      "source_format": "ubl", "source_hash": "0000000000000000000000000000000000000000000000000000000000000001",
      "vendor_tax_id_hash": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "lines": [{"row": 0, "at": "", "line_number": 1, "item_code": "W-1", "description": "Widget",
                 "quantity": "5", "unit_price": "10", "amount": "50.00", "vat_category": "S", "tax_rate": "19"},
                {"row": 0, "at": "", "line_number": 2, "item_code": "R-1", "description": "Service",
                 "quantity": "1", "unit_price": "50", "amount": "50.00", "vat_category": "AE", "tax_rate": "0",
                 "tax_exemption_reason_code": "VATEX-EU-AE", "tax_exemption_reason": "Reverse charge"}]}]$$,
  'all_or_nothing', '[]', 1);

select is((select body -> 'batch' ->> 'status' from report where name = 'e1'), 'completed',
  'an e-invoice document is imported');
select is((select vendor_id::text from public.vendor_invoices where invoice_number = 'LW-1'),
  'e1000000-0000-4000-8000-000000000001', 'the vendor is found by its VAT id''s hash under another name');
select results_eq(
  $$ select buyer_reference, purchase_order_reference, source_format, amount_due,
            tax_breakdown -> 0 ->> 'vat_category'
     from public.vendor_invoices where invoice_number = 'LW-1' $$,
  $$ values ('04011000-12345-03'::text, 'PO-1'::text, 'ubl'::text, 113.00::numeric, 'S'::text) $$,
  'the references, the format, the amount due and the breakdown are stored');
select results_eq(
  $$ select l.line_number, l.vat_category, l.tax_rate, l.tax_exemption_reason_code, l.tax_exemption_reason
     from public.vendor_invoice_lines l join public.vendor_invoices i on i.id = l.vendor_invoice_id
     where i.invoice_number = 'LW-1' order by l.line_number $$,
  $$ values (1, 'S'::text, 19::numeric, null::text, null::text),
            (2, 'AE'::text, 0::numeric, 'VATEX-EU-AE'::text, 'Reverse charge'::text) $$,
  'each line keeps its VAT category, rate and exemption reason');

-- The same document again (its hash), and twice inside one batch.
insert into report
select 'again', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Someone Else", "invoice_number": "OTHER-1",
      "invoice_date": "2026-11-02", "currency": "EUR",
      "source_format": "ubl", "source_hash": "0000000000000000000000000000000000000000000000000000000000000001",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 1);
select is((select body -> 'batch' ->> 'status' from report where name = 'again'), 'rejected',
  'a document imported before is refused');
select matches((select body -> 'rejected' -> 0 ->> 'message' from report where name = 'again'),
  'already imported .*LW-1 of LW Berlin', 'the refusal names the invoice it became');
select is((select body -> 'rejected' -> 0 ->> 'column' from report where name = 'again'), 'document',
  'the document is what is wrong');

insert into report
select 'twice', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "A", "invoice_number": "T-1", "invoice_date": "2026-11-02",
      "currency": "EUR", "source_hash": "0000000000000000000000000000000000000000000000000000000000000002",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]},
     {"index": 1, "rows": [1], "vendor_name": "B", "invoice_number": "T-2", "invoice_date": "2026-11-02",
      "currency": "EUR", "source_hash": "0000000000000000000000000000000000000000000000000000000000000002",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'accept_valid_rows', '[]', 2);
select is((select (body -> 'batch' ->> 'rows_accepted')::int from report where name = 'twice'), 1,
  'the same document twice in a batch: the first is imported');
select matches((select body -> 'rejected' -> 0 ->> 'message' from report where name = 'twice'),
  'appears twice in this import', 'the second is a duplicate');

-- A merged vendor's hash stands for the survivor; another organization's is never found.
insert into report
select 'merged', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Whatever", "invoice_number": "M-1", "invoice_date": "2026-11-02",
      "currency": "EUR", "vendor_tax_id_hash": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]},
     {"index": 1, "rows": [1], "vendor_name": "Nobody Known", "invoice_number": "M-2", "invoice_date": "2026-11-02",
      "currency": "EUR", "vendor_tax_id_hash": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 2);
select is((select vendor_id::text from public.vendor_invoices where invoice_number = 'M-1'),
  'e1000000-0000-4000-8000-000000000004', 'a merged vendor''s VAT id finds its survivor');
select ok((select vendor_id is null from public.vendor_invoices where invoice_number = 'M-2'),
  'another organization''s vendor with that VAT id is not found (and no seal: no vendor made)');
select is((select count(*)::int from public.vendors where organization_id = tests.org('main')), 3,
  'a document without a sealed VAT id creates no vendor');

-- Unknown by VAT id and by name, with the seal: the vendor is created, once per VAT id.
insert into report
select 'new', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Neuer Lieferant AG", "invoice_number": "N-1",
      "invoice_date": "2026-11-02", "currency": "EUR", "vendor_email": "bill@neu.example",
      "vendor_address": "Hauptstraße 1, 10115 Berlin, DE",
      "vendor_tax_id_hash": "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "vendor_tax_id_sealed": {"v": 1, "kid": "k", "dk": "d2", "n": "n2", "c": "c2"},
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]},
     {"index": 1, "rows": [1], "vendor_name": "Neuer Lieferant", "invoice_number": "N-2",
      "invoice_date": "2026-11-03", "currency": "EUR",
      "vendor_tax_id_hash": "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "vendor_tax_id_sealed": {"v": 1, "kid": "k", "dk": "d3", "n": "n3", "c": "c3"},
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 2);
select is((select count(*)::int from public.vendors
           where organization_id = tests.org('main') and tax_id_hash = repeat('d', 64)), 1,
  'one vendor per VAT id in the batch');
select results_eq(
  $$ select v.name, v.tax_id, v.tax_id_sealed ->> 'dk', v.email, v.address, v.default_currency
     from public.vendors v where v.tax_id_hash = repeat('d', 64) $$,
  $$ values ('Neuer Lieferant AG'::text, null::text, 'd2'::text, 'bill@neu.example'::text,
             'Hauptstraße 1, 10115 Berlin, DE'::text, 'EUR'::text) $$,
  'named as its first document writes it, the VAT id sealed (never clear), its contact details');
select is((select count(distinct vendor_id)::int from public.vendor_invoices where invoice_number in ('N-1', 'N-2')
           and vendor_id = (select id from public.vendors where tax_id_hash = repeat('d', 64))), 1,
  'both invoices are the new vendor''s');

-- An all-or-nothing batch that fails creates no vendor.
insert into report
select 'failed', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Fail AG", "invoice_number": "F-1", "invoice_date": "2026-11-02",
      "currency": "EUR", "vendor_tax_id_hash": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
      "vendor_tax_id_sealed": {"v": 1, "kid": "k", "dk": "d", "n": "n", "c": "c"},
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[{"row": 0, "column": "BR-CO-15", "value": null, "message": "x.xml: BR-CO-15: wrong"}]', 1);
select is((select body -> 'batch' ->> 'status' from report where name = 'failed'), 'rejected',
  'a rejected document is not imported');
select is((select count(*)::int from public.vendors where tax_id_hash = repeat('e', 64)), 0,
  'and makes no vendor');
select is((select body -> 'batch' ->> 'error' from report where name = 'failed'),
  'nothing was imported: x.xml: BR-CO-15: wrong', 'the batch says which rule the document broke');

-- Invoices imported without a format: csv or json by the batch's source.
insert into report
select 'plain', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Plain", "invoice_number": "P-1", "invoice_date": "2026-11-02",
      "currency": "EUR",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 1);
select is((select source_format from public.vendor_invoices where invoice_number = 'P-1'), 'json',
  'a JSON import''s invoice is json');

-- The columns' rules.
reset role;
select throws_ok(
  $$ update public.vendor_invoice_lines set vat_category = 'X' where description = 'Widget' $$,
  '23514', null, 'a VAT category is UNCL5305''s');
select throws_ok(
  $$ update public.vendor_invoice_lines set tax_rate = 100.5 where description = 'Widget' $$,
  '23514', null, 'a rate is a percentage');
select throws_ok(
  $$ update public.vendor_invoices set source_hash = '0000000000000000000000000000000000000000000000000000000000000001'
     where invoice_number = 'P-1' $$,
  '23505', null, 'one document, one invoice per organization');

select * from finish();
rollback;
