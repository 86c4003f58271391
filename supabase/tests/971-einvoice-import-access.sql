-- =============================================================================
-- E-invoices in: who may import, and the organization's bounds. One document
-- (its hash) is imported once per organization, not once in the world; a viewer
-- or a stranger imports nothing; the import's VAT lookup sees the caller's
-- organization only; the call by name (the email intake's) works.
-- =============================================================================
begin;
select plan(7);

select tests.create_cast();

create temp table report (name text primary key, body jsonb) on commit drop;
grant all on report to authenticated, service_role;

-- The same document, imported by each organization.
select tests.authenticate_as('member');
insert into report
select 'main', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Shared Vendor", "invoice_number": "S-1",
      "invoice_date": "2026-11-02", "currency": "EUR", "source_format": "cii",
      "source_hash": "1111111111111111111111111111111111111111111111111111111111111111",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 1);
select tests.authenticate_as('stranger');
insert into report
select 'other', public.import_vendor_invoices(
  tests.org('other'),
  $$[{"index": 0, "rows": [0], "vendor_name": "Shared Vendor", "invoice_number": "S-1",
      "invoice_date": "2026-11-02", "currency": "EUR", "source_format": "cii",
      "source_hash": "1111111111111111111111111111111111111111111111111111111111111111",
      "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]$$,
  'all_or_nothing', '[]', 1);
select is((select body -> 'batch' ->> 'status' from report where name = 'other'), 'completed',
  'a document another organization imported is not a duplicate here');
select is((select count(*)::int from public.vendor_invoices where invoice_number = 'S-1'), 1,
  'the stranger sees only their own invoice');

select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('main'),
       '[{"index": 0, "rows": [0], "vendor_name": "X", "invoice_number": "X-1", "invoice_date": "2026-11-02",
          "currency": "EUR", "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x",
          "quantity": "1", "unit_price": "1"}]}]'::jsonb) $$,
  '42501', null, 'a stranger cannot import into the organization');

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('main'),
       '[{"index": 0, "rows": [0], "vendor_name": "X", "invoice_number": "X-1", "invoice_date": "2026-11-02",
          "currency": "EUR", "source_hash": "2222222222222222222222222222222222222222222222222222222222222222",
          "lines": [{"row": 0, "at": "", "line_number": 1, "description": "x",
          "quantity": "1", "unit_price": "1"}]}]'::jsonb) $$,
  '42501', null, 'a viewer cannot import an e-invoice');

-- The call by name, as the email intake makes it (service role, its own batch).
select tests.authenticate_as_service_role();
insert into report
select 'named', public.import_vendor_invoices(
  organization_id => tests.org('main'),
  batch => $$[{"index": 1, "rows": [1], "vendor_name": "Mail Vendor", "invoice_number": "E-1",
      "invoice_date": "2026-11-02", "currency": "EUR", "source_format": "email",
      "source_hash": "3333333333333333333333333333333333333333333333333333333333333333",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1",
                 "vat_category": "Z", "tax_rate": "0"}]}]$$,
  policy => 'accept_valid_rows',
  errors => '[]'::jsonb,
  rows_total => 1);
select is((select body -> 'batch' ->> 'status' from report where name = 'named'), 'completed',
  'the import called with named arguments');
select results_eq(
  $$ select i.source_format, l.vat_category, l.tax_rate from public.vendor_invoices i
     join public.vendor_invoice_lines l on l.vendor_invoice_id = i.id where i.invoice_number = 'E-1' $$,
  $$ values ('email'::text, 'Z'::text, 0::numeric) $$,
  'stores the format and the line''s VAT');

-- A member reads the new columns (the table's select grant).
select tests.authenticate_as('member');
select is((select source_hash from public.vendor_invoices where invoice_number = 'S-1'),
  '1111111111111111111111111111111111111111111111111111111111111111',
  'a member reads where an invoice came from');

select * from finish();
rollback;
