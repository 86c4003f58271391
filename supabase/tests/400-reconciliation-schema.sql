-- =============================================================================
-- Reconciliation data: vendor and document-number normalization, RLS on every
-- payables table (members write, viewers read, strangers see and touch
-- nothing), cross-organization references refused by the composite keys, one
-- invoice number per vendor, and the audit log.
-- =============================================================================
begin;
select plan(42);

-- Normalization ---------------------------------------------------------------
select is(private.normalize_vendor_name('ACME Corp.'), 'acme', '"ACME Corp." is acme');
select is(private.normalize_vendor_name('Acme Corporation'), 'acme', '"Acme Corporation" is acme');
select is(private.normalize_vendor_name('ACME CORP LTD'), 'acme', '"ACME CORP LTD" is acme (suffixes repeatedly)');
select is(private.normalize_vendor_name('  acme,   inc. '), 'acme', 'punctuation and white space fold');
select is(private.normalize_vendor_name('The Widget Company'), 'widget', 'a leading "the" and a suffix go');
select is(private.normalize_vendor_name('Müller GmbH'), 'müller', 'letters beyond ASCII stay');
select is(private.normalize_vendor_name('AT&T Inc'), 'at and t', '& reads as "and"');
select is(private.normalize_vendor_name('Co'), 'co', 'a name that is only a suffix keeps it');
select is(private.normalize_vendor_name('Acme Holdings Co. Ltd'), 'acme holdings', 'only trailing suffixes go');
select is(private.normalize_document_number(' inv-00 1/a '), 'INV001A', 'document numbers: letters and digits, upper case');
select ok(extensions.similarity('acme', 'acme industries') > 0.3, 'pg_trgm similarity is available');

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

insert into public.vendors (id, organization_id, name) values
  ('d0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'ACME Corp.'),
  ('d0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Supplies');
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency) values
  ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'PO-1', 'USD'),
  ('e0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'd0000000-0000-4000-8000-7e5700000002', 'PO-1', 'USD');
insert into public.purchase_order_lines (id, organization_id, purchase_order_id, currency, line_number, item_code, description, quantity, unit_price) values
  ('f0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000001', 'USD', 1, 'W-1', 'Widget', 10, 2.345),
  ('f0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'e0000000-0000-4000-8000-7e5700000002', 'USD', 1, 'W-1', 'Widget', 10, 2);

select is((select amount from public.purchase_order_lines where id = 'f0000000-0000-4000-8000-7e5700000001'),
  23.45::numeric, 'a PO line amount is quantity x price at the currency''s minor unit');
select is((select normalized_name from public.vendors where id = 'd0000000-0000-4000-8000-7e5700000001'),
  'acme', 'vendors carry their normalized name');

-- Members write, viewers read, strangers see nothing -------------------------
select tests.authenticate_as('member');
select lives_ok(
  $$ insert into public.vendors (organization_id, name) values (tests.org('main'), 'Acme Corporation') $$,
  'a member adds a vendor'
);
select lives_ok(
  $$ insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number, invoice_date, po_number, currency, subtotal, tax_amount, total_amount)
     values ('a1000000-0000-4000-8000-7e5700000001', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'INV-001', current_date, 'PO-1', 'USD', 23.45, 0, 23.45) $$,
  'a member records a vendor invoice'
);
select lives_ok(
  $$ insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number, item_code, description, quantity, unit_price, amount)
     values (tests.org('main'), 'a1000000-0000-4000-8000-7e5700000001', 'USD', 1, 'W-1', 'Widget', 10, 2.345, 23.45) $$,
  'a member adds its line'
);
select throws_ok(
  $$ insert into public.vendor_invoices (organization_id, vendor_id, vendor_name, invoice_number, invoice_date, currency, subtotal, total_amount)
     values (tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'ACME', 'inv 001', current_date, 'USD', 1, 1) $$,
  '23505', null,
  'the same vendor''s invoice number, however written, is refused a second time'
);
select lives_ok(
  $$ insert into public.vendor_invoices (organization_id, vendor_name, invoice_number, invoice_date, currency, subtotal, total_amount)
     values (tests.org('main'), 'Unknown Ltd', 'INV-001', current_date, 'USD', 1, 1) $$,
  'an invoice of an unknown vendor (no vendor_id) may share a number'
);
select lives_ok(
  $$ insert into public.goods_receipts (id, organization_id, purchase_order_id, receipt_number)
     values ('b1000000-0000-4000-8000-7e5700000001', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000001', 'GR-1') $$,
  'a member records a goods receipt'
);
select lives_ok(
  $$ insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
     values (tests.org('main'), 'b1000000-0000-4000-8000-7e5700000001', 'f0000000-0000-4000-8000-7e5700000001', 10) $$,
  'and what it brought'
);

-- Cross-organization references ---------------------------------------------
select throws_ok(
  $$ insert into public.purchase_orders (organization_id, vendor_id, po_number, currency)
     values (tests.org('main'), 'd0000000-0000-4000-8000-7e5700000002', 'PO-X', 'USD') $$,
  '23503', null,
  'a purchase order cannot name another organization''s vendor'
);
select throws_ok(
  $$ insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received)
     values (tests.org('main'), 'b1000000-0000-4000-8000-7e5700000001', 'f0000000-0000-4000-8000-7e5700000002', 1) $$,
  '23503', null,
  'a receipt line cannot name another organization''s PO line'
);
select throws_ok(
  $$ update public.vendor_invoices set vendor_id = 'd0000000-0000-4000-8000-7e5700000002'
     where id = 'a1000000-0000-4000-8000-7e5700000001' $$,
  '23503', null,
  'a vendor invoice cannot be moved to another organization''s vendor'
);
select throws_ok(
  $$ insert into public.import_batches (organization_id, kind, source) values (tests.org('main'), 'vendor_invoices', 'csv') $$,
  '42501', null,
  'import batches are written by the import functions only, not directly'
);
select throws_ok(
  $$ update public.vendor_invoices set status = 'approved' where id = 'a1000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'an invoice''s match status is not writable directly'
);
select throws_ok(
  $$ update public.vendors set normalized_name = 'x' $$,
  '428C9', null,
  'the normalized name is derived, never written'
);

select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.vendor_invoices where id = 'a1000000-0000-4000-8000-7e5700000001' $$,
  'a viewer reads the organization''s vendor invoices'
);
select isnt_empty($$ select 1 from public.goods_receipt_lines $$, 'and its receipts');
select throws_ok(
  $$ insert into public.vendors (organization_id, name) values (tests.org('main'), 'Viewer Vendor') $$,
  '42501', null,
  'a viewer cannot add a vendor'
);
select is(
  tests.rows_affected($$ update public.purchase_orders set notes = 'viewer' $$), 0,
  'a viewer cannot change a purchase order'
);
select is(
  tests.rows_affected($$ delete from public.vendor_invoice_lines $$), 0,
  'a viewer cannot delete invoice lines'
);

select tests.authenticate_as('stranger');
select results_eq(
  $$ select name from public.vendors $$,
  $$ values ('Stranger Supplies'::text) $$,
  'a stranger sees only their own vendors'
);
select is_empty(
  $$ select 1 from public.vendor_invoices where organization_id = tests.org('main') $$,
  'a stranger sees none of the organization''s vendor invoices'
);
select is_empty($$ select 1 from public.vendor_invoice_lines $$, 'nor their lines');
select is_empty(
  $$ select 1 from public.purchase_order_lines where organization_id = tests.org('main') $$,
  'nor its PO lines'
);
select is_empty($$ select 1 from public.goods_receipts where organization_id = tests.org('main') $$,
  'nor its receipts');
select throws_ok(
  $$ insert into public.vendors (organization_id, name) values (tests.org('main'), 'Planted') $$,
  '42501', null,
  'a stranger cannot add a vendor to the organization'
);
select is(
  tests.rows_affected($$ update public.vendors set notes = 'x' where organization_id = tests.org('main') $$), 0,
  'a stranger cannot change the organization''s vendors'
);
select is(
  tests.rows_affected($$ delete from public.purchase_orders where organization_id = tests.org('main') $$), 0,
  'a stranger cannot delete its purchase orders'
);

select tests.clear_authentication();
set local role anon;
select throws_ok($$ select 1 from public.vendors $$, '42501', null, 'anon reads no vendor');
reset role;

-- Audit -----------------------------------------------------------------------
select tests.as_superuser();
select ok(
  (select count(*) from public.audit_log where table_name = 'public.vendor_invoices'
     and record_id = 'a1000000-0000-4000-8000-7e5700000001' and operation = 'INSERT'
     and changed_by = tests.actor('member')) = 1,
  'a vendor invoice''s creation is in the audit log, with who'
);
select ok(
  (select count(*) from public.audit_log where table_name = 'public.goods_receipt_lines') >= 1,
  'receipt lines are audited too'
);

select * from finish();
rollback;
