-- =============================================================================
-- Reconciliation import RPCs: a batch stored whole (all_or_nothing) or its good
-- documents (accept_valid_rows), duplicates inside the batch and against stored
-- invoices per vendor, vendors resolved by name and confirmed alias (unknown:
-- null on invoices, created for purchase orders), receipts against PO lines,
-- the batch's counts and row errors, uploads claimed once, and who may call what.
-- =============================================================================
begin;
select plan(50);

select tests.create_cast();

insert into public.vendors (id, organization_id, name) values
  ('d1000000-0000-4000-8000-000000000001', tests.org('main'), 'ACME Corp.'),
  ('d1000000-0000-4000-8000-000000000002', tests.org('main'), 'Globex'),
  ('d1000000-0000-4000-8000-000000000003', tests.org('other'), 'ACME Corp.');
insert into public.vendor_aliases (organization_id, vendor_id, alias, source) values
  (tests.org('main'), 'd1000000-0000-4000-8000-000000000002', 'Globex International Trading', 'confirmed');

-- Vendor invoices -------------------------------------------------------------
select tests.authenticate_as('member');

create temp table report (name text primary key, body jsonb) on commit drop;
grant all on report to authenticated, service_role;

insert into report
select 'inv1', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 1, "rows": [1, 2], "vendor_name": "Acme Corporation", "invoice_number": "INV-001",
      "invoice_date": "2026-03-01", "currency": "USD", "po_number": "PO-1", "tax_amount": "2.00",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "Widget", "quantity": "10", "unit_price": "1.005"},
                {"row": 2, "at": "", "line_number": 2, "description": "Gadget", "quantity": "1", "unit_price": "5", "amount": "5.00"}]},
     {"index": 3, "rows": [3], "vendor_name": "Globex International Trading Ltd", "invoice_number": "G-1",
      "invoice_date": "2026-03-02", "currency": "EUR", "subtotal": "7.00", "total_amount": "8.33",
      "lines": [{"row": 3, "at": "", "line_number": 1, "description": "Bolt", "quantity": "7", "unit_price": "1"}]},
     {"index": 4, "rows": [4], "vendor_name": "Initech", "invoice_number": "X-9",
      "invoice_date": "2026-03-03", "currency": "USD",
      "lines": [{"row": 4, "at": "", "line_number": 1, "description": "Stapler", "quantity": "1", "unit_price": "3"}]}]$$,
  'all_or_nothing', '[]', 4);

select is((select body -> 'batch' ->> 'status' from report where name = 'inv1'), 'completed',
  'a clean batch completes');
select is((select (body -> 'batch' ->> 'rows_accepted')::int from report where name = 'inv1'), 4,
  'every row is counted as accepted');
select is((select body -> 'batch' ->> 'source' from report where name = 'inv1'), 'api',
  'a call without an uploaded batch is an api batch');
select results_eq(
  $$ select vendor_id::text, subtotal, tax_amount, total_amount from public.vendor_invoices
     where invoice_number = 'INV-001' $$,
  $$ values ('d1000000-0000-4000-8000-000000000001'::text, 15.05::numeric, 2.00::numeric, 17.05::numeric) $$,
  'the vendor resolves by normalized name; line amount, subtotal and total default from the lines'
);
select is((select amount from public.vendor_invoice_lines l join public.vendor_invoices i on i.id = l.vendor_invoice_id
           where i.invoice_number = 'INV-001' and l.line_number = 1), 10.05::numeric,
  'a line without amount is quantity x price at the currency''s minor unit');
select is((select vendor_id::text from public.vendor_invoices where invoice_number = 'G-1'),
  'd1000000-0000-4000-8000-000000000002', 'a confirmed alias resolves the vendor');
select is((select total_amount from public.vendor_invoices where invoice_number = 'G-1'), 8.33::numeric,
  'the vendor''s own totals are kept as billed');
select ok((select vendor_id is null from public.vendor_invoices where invoice_number = 'X-9'),
  'an unknown vendor leaves vendor_id null');
select is((select import_batch_id::text from public.vendor_invoices where invoice_number = 'X-9'),
  (select body -> 'batch' ->> 'id' from report where name = 'inv1'), 'documents point at their batch');
select is((select created_by from public.vendor_invoices where invoice_number = 'X-9'),
  tests.actor('member'), 'and at who imported them');
select is(jsonb_array_length((select body -> 'accepted' from report where name = 'inv1')), 3,
  'the report lists the accepted documents');

-- all_or_nothing: a duplicate (however written) rejects the whole batch.
insert into report
select 'inv2', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 1, "rows": [1], "vendor_name": "ACME CORP LTD", "invoice_number": "inv 001",
      "invoice_date": "2026-03-05", "currency": "USD",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "Widget", "quantity": "1", "unit_price": "1"}]},
     {"index": 2, "rows": [2], "vendor_name": "Hooli", "invoice_number": "H-1",
      "invoice_date": "2026-03-05", "currency": "USD",
      "lines": [{"row": 2, "at": "", "line_number": 1, "description": "Phone", "quantity": "1", "unit_price": "9"}]}]$$,
  'all_or_nothing', '[]', 2);
select is((select body -> 'batch' ->> 'status' from report where name = 'inv2'), 'rejected',
  'all_or_nothing: one duplicate rejects the batch');
select is((select count(*)::int from public.vendor_invoices where invoice_number = 'H-1'), 0,
  'and nothing of it is stored');
select matches((select body -> 'rejected' -> 0 ->> 'message' from report where name = 'inv2'),
  'already recorded', 'the duplicate against a stored invoice of the vendor is named');
select is((select (body -> 'batch' ->> 'rows_rejected')::int from report where name = 'inv2'), 2,
  'every row of a rejected batch counts as rejected');
select matches((select body -> 'batch' ->> 'error' from report where name = 'inv2'),
  'nothing was imported: 1 of 2 rows', 'the batch says why nothing was imported');

-- accept_valid_rows: the good documents are stored, the bad ones reported.
insert into report
select 'inv3', public.import_vendor_invoices(
  tests.org('main'),
  $$[{"index": 1, "rows": [1], "vendor_name": "Hooli", "invoice_number": "H-1",
      "invoice_date": "2026-03-05", "currency": "USD",
      "lines": [{"row": 1, "at": "", "line_number": 1, "description": "Phone", "quantity": "1", "unit_price": "9"}]},
     {"index": 2, "rows": [2], "vendor_name": "hooli", "invoice_number": "H1",
      "invoice_date": "2026-03-05", "currency": "USD",
      "lines": [{"row": 2, "at": "", "line_number": 1, "description": "Phone", "quantity": "1", "unit_price": "9"}]},
     {"index": 3, "rows": [3], "vendor_name": "Hooli", "invoice_number": "H-2",
      "invoice_date": "2026-03-05", "due_date": "2026-03-01", "currency": "USD",
      "lines": [{"row": 3, "at": "", "line_number": 1, "description": "Phone", "quantity": "1", "unit_price": "9"}]}]$$,
  'accept_valid_rows', '[{"row": 4, "column": "Qty", "value": "abc", "message": "Qty: ''abc'' is not a number"}]', 4);
select is((select body -> 'batch' ->> 'status' from report where name = 'inv3'), 'completed',
  'accept_valid_rows: the batch completes with its good rows');
select results_eq(
  $$ select (body -> 'batch' ->> 'rows_total')::int, (body -> 'batch' ->> 'rows_accepted')::int,
            (body -> 'batch' ->> 'rows_rejected')::int from report where name = 'inv3' $$,
  $$ values (4, 1, 3) $$, 'counts: total, accepted, rejected');
select results_eq(
  $$ select row_number, column_name from public.import_row_errors
     where import_batch_id = (select (body -> 'batch' ->> 'id')::uuid from report where name = 'inv3')
     order by row_number $$,
  $$ values (2, 'invoice_number'::text), (3, 'due_date'::text), (4, 'Qty'::text) $$,
  'each rejected row is recorded with its column: a duplicate inside the batch (an unknown vendor''s), a due date before the invoice date, the validation error given'
);
select matches(
  (select message from public.import_row_errors where row_number = 2
     and import_batch_id = (select (body -> 'batch' ->> 'id')::uuid from report where name = 'inv3')),
  'appears twice in this import \(first at index 1\)', 'the duplicate names the first occurrence');
select is((select count(*)::int from public.vendor_invoices where vendor_name ilike 'hooli'), 1,
  'only the good invoice is stored');

-- Purchase orders -------------------------------------------------------------
insert into report
select 'po1', public.import_purchase_orders(
  tests.org('main'),
  $$[{"index": 1, "rows": [1, 2], "po_number": "PO-1", "vendor_name": "Acme Corporation", "order_date": "2026-02-01",
      "currency": "USD",
      "lines": [{"row": 1, "line_number": 1, "item_code": "W-1", "description": "Widget", "quantity": "10", "unit_price": "1.005"},
                {"row": 2, "line_number": 2, "item_code": "G-1", "description": "Gadget", "quantity": "1", "unit_price": "5"}]},
     {"index": 3, "rows": [3], "po_number": "PO-2", "vendor_name": "Umbrella Corp", "currency": "EUR", "status": "open",
      "lines": [{"row": 3, "line_number": 1, "item_code": "U-1", "description": "Umbrella", "quantity": "3", "unit_price": "20"}]},
     {"index": 4, "rows": [4], "po_number": "PO-3", "vendor_name": "UMBRELLA CORPORATION", "currency": "EUR",
      "lines": [{"row": 4, "line_number": 1, "item_code": "U-1", "description": "Umbrella", "quantity": "1", "unit_price": "20"},
                {"row": 4, "line_number": 2, "item_code": "U-1", "description": "Umbrella, spare", "quantity": "1", "unit_price": "20"}]}]$$,
  'all_or_nothing', '[]', 4);
select is((select body -> 'batch' ->> 'status' from report where name = 'po1'), 'completed',
  'purchase orders import');
select is((select vendor_id::text from public.purchase_orders where po_number = 'PO-1'),
  'd1000000-0000-4000-8000-000000000001', 'a known vendor is resolved');
select is((select count(*)::int from public.vendors where organization_id = tests.org('main')
           and normalized_name = 'umbrella'), 1,
  'an unknown vendor is created, once for the names that normalize alike');
select is((select count(distinct vendor_id)::int from public.purchase_orders where po_number in ('PO-2', 'PO-3')), 1,
  'and both purchase orders point at it');
select is((select amount from public.purchase_order_lines l join public.purchase_orders p on p.id = l.purchase_order_id
           where p.po_number = 'PO-1' and l.line_number = 1), 10.05::numeric, 'PO lines are stored');

insert into report
select 'po2', public.import_purchase_orders(
  tests.org('main'),
  $$[{"index": 0, "rows": [0], "po_number": "po 1", "vendor_name": "Acme", "currency": "USD",
      "lines": [{"row": 0, "line_number": 1, "description": "Widget", "quantity": "1", "unit_price": "1"}]},
     {"index": 1, "rows": [1], "po_number": "PO-9", "vendor_name": "Acme", "currency": "USD",
      "lines": [{"row": 1, "line_number": 1, "description": "Widget", "quantity": "1", "unit_price": "1"}]},
     {"index": 2, "rows": [2], "po_number": "PO 9", "vendor_name": "Acme", "currency": "USD",
      "lines": [{"row": 2, "line_number": 1, "description": "Widget", "quantity": "1", "unit_price": "1"}]}]$$,
  'accept_valid_rows', '[]', 3);
select results_eq(
  $$ select e.row_number, e.message ~ 'already exists', e.message ~ 'appears twice'
     from public.import_row_errors e
     where e.import_batch_id = (select (body -> 'batch' ->> 'id')::uuid from report where name = 'po2')
     order by e.row_number $$,
  $$ values (0, true, false), (2, false, true) $$,
  'a PO number already stored, and one twice in the batch, are duplicates');

-- Goods receipts --------------------------------------------------------------
insert into report
select 'gr1', public.import_goods_receipts(
  tests.org('main'),
  $$[{"index": 1, "rows": [1, 2], "receipt_number": "GR-1", "po_number": "po-1", "received_date": "2026-02-10",
      "lines": [{"row": 1, "at": "", "po_line": 1, "quantity_received": "6"},
                {"row": 2, "at": "", "item_code": "g 1", "quantity_received": "1"}]},
     {"index": 3, "rows": [3], "receipt_number": "GR-2", "po_number": "PO-404",
      "lines": [{"row": 3, "at": "", "po_line": 1, "quantity_received": "1"}]},
     {"index": 4, "rows": [4, 5], "receipt_number": "GR-3", "po_number": "PO-3",
      "lines": [{"row": 4, "at": "", "item_code": "U-1", "quantity_received": "1"},
                {"row": 5, "at": "", "po_line": 7, "quantity_received": "1"}]}]$$,
  'accept_valid_rows', '[]', 5);
select is((select (body -> 'batch' ->> 'rows_accepted')::int from report where name = 'gr1'), 2,
  'the receipt against a known PO is stored');
select results_eq(
  $$ select l.line_number, r.quantity_received from public.goods_receipt_lines r
     join public.purchase_order_lines l on l.id = r.purchase_order_line_id
     join public.goods_receipts g on g.id = r.goods_receipt_id where g.receipt_number = 'GR-1'
     order by l.line_number $$,
  $$ values (1, 6::numeric), (2, 1::numeric) $$,
  'receipt lines name their PO line by line number or by item code'
);
select results_eq(
  $$ select e.row_number, e.column_name, e.message from public.import_row_errors e
     where e.import_batch_id = (select (body -> 'batch' ->> 'id')::uuid from report where name = 'gr1')
     order by e.row_number $$,
  $$ values
     (3, 'po_number'::text, 'purchase order PO-404 is not known: import the purchase order first'::text),
     (4, 'item_code', 'item U-1 is on 2 lines of purchase order PO-3: name the line number'),
     (5, 'po_line', 'purchase order PO-3 has no line 7') $$,
  'an unknown PO, an ambiguous item code and a missing PO line are told apart'
);

-- Uploads ---------------------------------------------------------------------
insert into report
select 'up1', public.create_import_upload(tests.org('main'), 'vendor_invoices', 'März invoices.csv',
  'Marz_invoices.csv', 'accept_valid_rows', 'dmy');
select is((select body ->> 's3_key' from report where name = 'up1'),
  tests.org('main')::text || '/imports/' || (select body ->> 'id' from report where name = 'up1') || '/Marz_invoices.csv',
  'an upload''s key is <organization>/imports/<batch>/<file>');
select is((select body ->> 'status' from report where name = 'up1'), 'awaiting_upload',
  'and its batch awaits the file');
select throws_ok(
  $$ select public.create_import_upload(tests.org('main'), 'vendor_invoices', 'x', '../x.csv') $$,
  '22023', null, 'an object name that is not a plain file name is refused');
select throws_ok(
  $$ select public.claim_import_upload((select body ->> 's3_key' from report where name = 'up1')) $$,
  '42501', null, 'users cannot claim uploads: only the import worker');
select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('main'), '[]', 'all_or_nothing', '[]', 0,
       (select (body ->> 'id')::uuid from report where name = 'up1')) $$,
  '42501', null, 'nor fill an uploaded batch');
select throws_ok(
  $$ insert into public.import_row_errors (organization_id, import_batch_id, row_number, message)
     values (tests.org('main'), (select (body ->> 'id')::uuid from report where name = 'up1'), 1, 'x') $$,
  '42501', null, 'row errors are not written directly');

select tests.authenticate_as_service_role();
select is(
  (public.claim_import_upload((select body ->> 's3_key' from report where name = 'up1'), 123) ->> 'claimed')::boolean,
  true, 'the worker claims an uploaded batch once');
select is(
  (public.claim_import_upload((select body ->> 's3_key' from report where name = 'up1'), 123) ->> 'claimed')::boolean,
  false, 'a second delivery of the event does not claim it again');
insert into report
select 'up1-import', public.import_vendor_invoices(tests.org('main'),
  $$[{"index": 2, "rows": [2], "vendor_name": "Stark Industries", "invoice_number": "S-1",
      "invoice_date": "2026-03-05", "currency": "USD",
      "lines": [{"row": 2, "at": "", "line_number": 1, "description": "Suit", "quantity": "1", "unit_price": "9"}]}]$$,
  'all_or_nothing', '[]', 2, (select (body ->> 'id')::uuid from report where name = 'up1'));
select results_eq(
  $$ select body -> 'batch' ->> 'status', body -> 'batch' ->> 'policy', (body -> 'batch' ->> 'rows_total')::int,
            (select created_by from public.vendor_invoices where invoice_number = 'S-1')
     from report where name = 'up1-import' $$,
  $$ values ('completed'::text, 'accept_valid_rows'::text, 2, tests.actor('member')) $$,
  'the worker fills the batch with the batch''s policy; documents are created by who uploaded'
);
select is(
  (public.import_vendor_invoices(tests.org('main'), '[{"index": 9, "rows": [9], "vendor_name": "Again",
     "invoice_number": "A-1", "invoice_date": "2026-03-05", "currency": "USD",
     "lines": [{"row": 9, "at": "", "line_number": 1, "description": "x", "quantity": "1", "unit_price": "1"}]}]',
     'all_or_nothing', '[]', 1, (select (body ->> 'id')::uuid from report where name = 'up1')) ->> 'already')::boolean,
  true, 'importing a finished batch again stores nothing more');
select is((select count(*)::int from public.vendor_invoices where invoice_number = 'A-1'), 0,
  'nothing of the second run is stored');
select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('other'), '[]', 'all_or_nothing', '[]', 0,
       (select (body ->> 'id')::uuid from report where name = 'up1')) $$,
  'P0002', null, 'a batch is found only in its own organization');

-- A run that could not finish gives its batch back for the retry, or fails it.
select tests.authenticate_as('member');
insert into report
select 'up2', public.create_import_upload(tests.org('main'), 'purchase_orders', 'po.csv', 'po.csv');
select tests.authenticate_as_service_role();
select is(
  (public.claim_import_upload((select body ->> 's3_key' from report where name = 'up2')) ->> 'claimed')::boolean,
  true, 'a second upload is claimed');
select is(
  public.release_import_upload((select (body ->> 'id')::uuid from report where name = 'up2'), 'S3 was down', true) ->> 'status',
  'awaiting_upload', 'a transient failure gives the batch back');
select is(
  (public.claim_import_upload((select body ->> 's3_key' from report where name = 'up2')) ->> 'claimed')::boolean,
  true, 'so the retried event claims it again');
select results_eq(
  $$ select b ->> 'status', b ->> 'error' from (select public.release_import_upload(
       (select (body ->> 'id')::uuid from report where name = 'up2'), 'the file is 12.0 MB; at most 10 MB per import') as b) x $$,
  $$ values ('failed'::text, 'the file is 12.0 MB; at most 10 MB per import'::text) $$,
  'a final failure fails the batch with its reason');

-- Who may import ------------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.import_vendor_invoices(tests.org('main'), '[]') $$,
  '42501', null, 'a viewer cannot import');
select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.import_purchase_orders(tests.org('main'), '[]') $$,
  '42501', null, 'a stranger cannot import into the organization');
select is_empty(
  $$ select 1 from public.import_batches where organization_id = tests.org('main') $$,
  'nor see its import batches');
select tests.clear_authentication();
select throws_ok(
  $$ select public.create_import_upload(tests.org('main'), 'vendor_invoices', 'x', 'x.csv') $$,
  '42501', null, 'anon cannot start an upload');

select * from finish();
rollback;
