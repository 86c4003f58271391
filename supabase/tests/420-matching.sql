-- =============================================================================
-- Reconciliation matching: every outcome and every boundary (exactly at the
-- tolerance matches within tolerance, one cent over is an exception), earlier
-- invoices counted against the same PO line, PO lines by item code then by
-- description, missing and closed POs, document totals, duplicates, unknown
-- vendors with suggestions; re-matching is idempotent (results replaced,
-- exceptions kept, reopened, auto-resolved), approved/rejected invoices are left
-- alone; resolving (accept, dismiss, reject, link); vendor alias, merge,
-- reject, split; automatic re-matching on receipts; who may do what.
-- =============================================================================
begin;
select plan(80);

select tests.create_cast();

-- An organization-wide 5 % quantity tolerance, 2 % or 0.10 price tolerance,
-- 0.05 total tolerance.
insert into public.reconciliation_settings (organization_id, quantity_tolerance_percent,
  price_tolerance_percent, price_tolerance_amount, total_tolerance_amount)
values (tests.org('main'), 5, 2, 0.10, 0.05);

insert into public.vendors (id, organization_id, name) values
  ('d0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'ACME Corp.'),
  ('d0000000-0000-4000-8000-7e5700000002', tests.org('main'), 'Globex Industries'),
  ('d0000000-0000-4000-8000-7e5700000003', tests.org('main'), 'Acme Europe Ltd'),
  ('d0000000-0000-4000-8000-7e5700000009', tests.org('other'), 'Stranger Supplies');

-- PO-1 (ACME, open): W-1 widget 100 x 10.00, G-1 gadget 10 x 50.00; received 100 and 10.
-- PO-2 (ACME, closed), PO-3 (Globex, open): one line each, fully received.
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency, status) values
  ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'PO-1', 'USD', 'open'),
  ('e0000000-0000-4000-8000-7e5700000002', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'PO-2', 'USD', 'closed'),
  ('e0000000-0000-4000-8000-7e5700000003', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000002', 'PO-3', 'USD', 'open');
insert into public.purchase_order_lines (id, organization_id, purchase_order_id, currency, line_number, item_code, description, quantity, unit_price) values
  ('f0000000-0000-4000-8000-7e5700000011', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000001', 'USD', 1, 'W-1', 'Widget', 100, 10),
  ('f0000000-0000-4000-8000-7e5700000012', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000001', 'USD', 2, 'G-1', 'Gadget', 10, 50),
  ('f0000000-0000-4000-8000-7e5700000021', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000002', 'USD', 1, 'W-1', 'Widget', 10, 10),
  ('f0000000-0000-4000-8000-7e5700000031', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000003', 'USD', 1, 'S-1', 'Sprocket', 10, 5);
insert into public.goods_receipts (id, organization_id, purchase_order_id, receipt_number) values
  ('b0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000001', 'GR-1'),
  ('b0000000-0000-4000-8000-7e5700000002', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000002', 'GR-2'),
  ('b0000000-0000-4000-8000-7e5700000003', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000003', 'GR-3');
insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received) values
  (tests.org('main'), 'b0000000-0000-4000-8000-7e5700000001', 'f0000000-0000-4000-8000-7e5700000011', 100),
  (tests.org('main'), 'b0000000-0000-4000-8000-7e5700000001', 'f0000000-0000-4000-8000-7e5700000012', 10),
  (tests.org('main'), 'b0000000-0000-4000-8000-7e5700000002', 'f0000000-0000-4000-8000-7e5700000021', 10),
  (tests.org('main'), 'b0000000-0000-4000-8000-7e5700000003', 'f0000000-0000-4000-8000-7e5700000031', 10);

-- inv(number, vendor, vendor name, po, lines [[code, description, qty, price, amount]], tax,
--     total adjustment): an invoice whose subtotal is the sum of its lines.
create function pg_temp.inv(
  number text, vendor uuid, vendor_name text, po text, lines jsonb,
  tax numeric default 0, total_delta numeric default 0, day date default null
) returns uuid language plpgsql as $$
declare
  new_id uuid := gen_random_uuid();
  sub numeric;
begin
  select coalesce(sum((l ->> 4)::numeric), 0) into sub from jsonb_array_elements(lines) l;
  insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
    invoice_date, po_number, currency, subtotal, tax_amount, total_amount)
  values (new_id, tests.org('main'), vendor, vendor_name, number,
          coalesce(day, date '2026-01-01' + (select count(*)::integer from public.vendor_invoices
                                             where organization_id = tests.org('main'))),
          po, 'USD', sub, tax,
          sub + tax + total_delta);
  insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
    item_code, description, quantity, unit_price, amount)
  select tests.org('main'), new_id, 'USD', o::integer, l ->> 0, l ->> 1, (l ->> 2)::numeric,
         (l ->> 3)::numeric, (l ->> 4)::numeric
  from jsonb_array_elements(lines) with ordinality as x(l, o);
  return new_id;
end;
$$;
create function pg_temp.status(number text) returns text language sql as $$
  select status from public.vendor_invoices
  where invoice_number = number and organization_id = tests.org('main')
  order by created_at limit 1
$$;
create function pg_temp.open_types(number text) returns text[] language sql as $$
  select coalesce(array_agg(e.type || '/' || e.check_name order by e.type, e.check_name), '{}')
  from public.reconciliation_exceptions e
  join public.vendor_invoices vi on vi.id = e.vendor_invoice_id
  where vi.invoice_number = number and e.status = 'open'
$$;
create function pg_temp.exc(number text, t text) returns public.reconciliation_exceptions language sql as $$
  select e.* from public.reconciliation_exceptions e
  join public.vendor_invoices vi on vi.id = e.vendor_invoice_id
  where vi.invoice_number = number and e.type = t order by e.created_at limit 1
$$;
create function pg_temp.id_of(number text) returns uuid language sql as $$
  select id from public.vendor_invoices where invoice_number = number order by created_at limit 1
$$;
create function pg_temp.match(number text) returns jsonb language sql as $$
  select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of(number)])
$$;

-- Exact -----------------------------------------------------------------------
select pg_temp.inv('EXACT', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'po 1',
  '[["W-1", "Widget", 10, 10, 100], ["G-1", "Gadget", 2, 50, 100]]', 20);
select is(pg_temp.match('EXACT') ->> 'matched', '1', 'a fully received, exactly priced invoice is matched');
select is(pg_temp.status('EXACT'), 'matched', 'its status says so');
select is((select array_agg(rule order by line_number) from public.vendor_invoice_line_matches
           where vendor_invoice_id = pg_temp.id_of('EXACT')), array['exact', 'exact'],
  'each line is decided by the exact rule');
select is((select array_agg(matched_by order by line_number) from public.vendor_invoice_line_matches
           where vendor_invoice_id = pg_temp.id_of('EXACT')), array['item_code', 'item_code'],
  'PO lines are found by PO number and item code');
select is((select purchase_order_id from public.vendor_invoices where id = pg_temp.id_of('EXACT')),
  'e0000000-0000-4000-8000-7e5700000001'::uuid, 'the PO number resolves to the purchase order');

-- Price tolerance: 2 % of 10.00 = 0.20 (the larger of 0.20 and 0.10) ---------
select pg_temp.inv('PRICE-AT', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 1, 10.20, 10.20]]');
select pg_temp.match('PRICE-AT');
select is(pg_temp.status('PRICE-AT'), 'matched_with_tolerance', 'a price exactly at the tolerance matches within tolerance');
select is((select price_variance from public.vendor_invoice_line_matches where vendor_invoice_id = pg_temp.id_of('PRICE-AT')),
  0.20::numeric, 'the price variance is recorded');
select pg_temp.inv('PRICE-OVER', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 1, 10.21, 10.21]]');
select pg_temp.match('PRICE-OVER');
select is(pg_temp.status('PRICE-OVER'), 'exception', 'one cent over the price tolerance is an exception');
select is(pg_temp.open_types('PRICE-OVER'), array['price_variance/price'], 'a price_variance exception');
select is(array[(pg_temp.exc('PRICE-OVER', 'price_variance')).expected, (pg_temp.exc('PRICE-OVER', 'price_variance')).actual],
  array['10', '10.21'], 'with the PO price expected and the billed price actual');
select matches((pg_temp.exc('PRICE-OVER', 'price_variance')).message,
  '^Line 1 \(Widget\): unit price 10\.21 is 0\.21 above the PO PO-1 price 10; the tolerance allows 0\.2',
  'and a sentence naming the line, the check and the figures');
select pg_temp.inv('PRICE-LOW', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 1, 9, 9]]');
select pg_temp.match('PRICE-LOW');
select is(pg_temp.status('PRICE-LOW'), 'matched_with_tolerance', 'billed below the PO price: within tolerance, never an exception');

-- The absolute amount wins when larger: a vendor override of 0.50 -------------
update public.vendors set price_tolerance_amount = 0.50 where id = 'd0000000-0000-4000-8000-7e5700000002';
select pg_temp.inv('GLOBEX-AT', 'd0000000-0000-4000-8000-7e5700000002', 'Globex Industries', 'PO-3',
  '[["S-1", "Sprocket", 1, 5.50, 5.50]]');
select pg_temp.inv('GLOBEX-OVER', 'd0000000-0000-4000-8000-7e5700000002', 'Globex Industries', 'PO-3',
  '[["S-1", "Sprocket", 1, 5.51, 5.51]]');
select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of('GLOBEX-AT'), pg_temp.id_of('GLOBEX-OVER')]);
select is(array[pg_temp.status('GLOBEX-AT'), pg_temp.status('GLOBEX-OVER')], array['matched_with_tolerance', 'exception'],
  'the vendor''s own absolute price tolerance: at it within tolerance, one cent over an exception');

-- Quantity: 5 % of what was received, minus what earlier invoices billed -------
-- Gadget: received 10, EXACT billed 2 earlier; 8 available, 8.5 allowed.
select pg_temp.inv('QTY-AT', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["G-1", "Gadget", 8.5, 50, 425]]', 0, 0, '2026-03-02');
select pg_temp.match('QTY-AT');
select is(pg_temp.status('QTY-AT'), 'matched_with_tolerance', 'billed exactly at the quantity tolerance (after an earlier invoice) matches within tolerance');
select is((select (received_quantity, previously_billed_quantity, allowed_quantity)::text
           from public.vendor_invoice_line_matches where vendor_invoice_id = pg_temp.id_of('QTY-AT')),
  '(10,2,8.5)', 'the evidence: received, billed by earlier invoices, allowed');
select pg_temp.inv('QTY-OVER', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["G-1", "Gadget", 0.0001, 50, 0.01]]', 0, 0, '2026-03-03');
select pg_temp.match('QTY-OVER');
select is(pg_temp.open_types('QTY-OVER'), array['over_billed_quantity/quantity'],
  'any quantity beyond the tolerance, counting every earlier invoice of the PO line, is over-billed');
select matches((pg_temp.exc('QTY-OVER', 'over_billed_quantity')).message,
  'only 10 received against PO PO-1 line 2 of which 10\.5 already billed by earlier invoices',
  'the message says what was received and what earlier invoices billed');

-- PO line by description, missing line, missing/closed PO, another vendor's PO --
select pg_temp.inv('BY-DESC', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[[null, "  widget ", 1, 10, 10]]');
select pg_temp.match('BY-DESC');
select is((select matched_by from public.vendor_invoice_line_matches where vendor_invoice_id = pg_temp.id_of('BY-DESC')),
  'description', 'without a matching item code the PO line is found by description');
select is(pg_temp.status('BY-DESC'), 'matched', 'and the line matches');
select pg_temp.inv('NO-LINE', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["Z-9", "Zeppelin", 1, 10, 10]]');
select pg_temp.match('NO-LINE');
select is(pg_temp.open_types('NO-LINE'), array['missing_po_line/po_line'], 'a line on no PO line: missing_po_line');
select pg_temp.inv('NO-PO', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-404',
  '[["W-1", "Widget", 1, 10, 10]]');
select pg_temp.inv('NO-PO-NUMBER', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', null,
  '[["W-1", "Widget", 1, 10, 10]]');
select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of('NO-PO'), pg_temp.id_of('NO-PO-NUMBER')]);
select is(pg_temp.open_types('NO-PO'), array['missing_po/po_number'], 'a PO number the organization does not have: missing_po');
select matches((pg_temp.exc('NO-PO-NUMBER', 'missing_po')).message, 'names no purchase order', 'no PO number at all: missing_po, said so');
select pg_temp.inv('CLOSED', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-2',
  '[["W-1", "Widget", 1, 10, 10]]');
select pg_temp.match('CLOSED');
select is(pg_temp.open_types('CLOSED'), array['po_closed/po_status'], 'a closed PO: po_closed');
select pg_temp.inv('WRONG-VENDOR', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-3',
  '[["S-1", "Sprocket", 1, 5, 5]]');
select pg_temp.match('WRONG-VENDOR');
select is(pg_temp.open_types('WRONG-VENDOR'), array['missing_po/po_vendor'], 'another vendor''s PO: missing_po (po_vendor)');

-- Totals: line amount, subtotal, lines + tax vs total (0.05 tolerance) ----------
select pg_temp.inv('TOTAL-AT', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 1, 10, 10]]', 1, 0.05);
select pg_temp.inv('TOTAL-OVER', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 1, 10, 10]]', 1, 0.06);
select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of('TOTAL-AT'), pg_temp.id_of('TOTAL-OVER')]);
select is(pg_temp.status('TOTAL-AT'), 'matched', 'a total off by exactly the rounding tolerance matches');
select is(pg_temp.open_types('TOTAL-OVER'), array['total_variance/total'], 'one cent more is a total_variance');
select is(array[(pg_temp.exc('TOTAL-OVER', 'total_variance')).expected, (pg_temp.exc('TOTAL-OVER', 'total_variance')).actual,
           (pg_temp.exc('TOTAL-OVER', 'total_variance')).variance::text],
  array['11', '11.06', '0.06'], 'expected lines + tax, actual total, the variance');
select pg_temp.inv('LINE-AMOUNT', 'd0000000-0000-4000-8000-7e5700000001', 'ACME Corp.', 'PO-1',
  '[["W-1", "Widget", 2, 10, 20.06]]');
select pg_temp.match('LINE-AMOUNT');
select is(pg_temp.open_types('LINE-AMOUNT'), array['total_variance/line_amount'],
  'a line amount that is not quantity x price (beyond the tolerance): total_variance on the line');
update public.vendor_invoices set subtotal = 30 where id = pg_temp.id_of('EXACT');
select pg_temp.match('EXACT');
select is(pg_temp.open_types('EXACT'), array['total_variance/subtotal'],
  'a subtotal that is not the sum of the lines: total_variance (subtotal)');
update public.vendor_invoices set subtotal = 200, total_amount = 220 where id = pg_temp.id_of('EXACT');
select pg_temp.match('EXACT');
select is(pg_temp.status('EXACT'), 'matched', 'corrected and re-matched, it is matched again');
select is((select count(*)::integer from public.reconciliation_exceptions
           where vendor_invoice_id = pg_temp.id_of('EXACT') and status = 'resolved' and resolution = 'auto_resolved'),
  1, 'and the exception no longer detected resolved itself');

-- Duplicates and unknown vendors -------------------------------------------------
select pg_temp.inv('DUP-A', 'd0000000-0000-4000-8000-7e5700000002', 'Globex Industries', 'PO-3',
  '[["S-1", "Sprocket", 1, 5, 5]]', 0, 0, '2026-04-01');
select pg_temp.inv('DUP-B', 'd0000000-0000-4000-8000-7e5700000002', 'Globex', 'PO-3',
  '[["S-1", "Sprocket", 1, 5, 5]]', 0, 0, '2026-04-01');
select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of('DUP-A'), pg_temp.id_of('DUP-B')]);
select is(pg_temp.open_types('DUP-A'), '{}', 'the first of two look-alike invoices is not the duplicate');
select is(pg_temp.open_types('DUP-B'), array['duplicate_invoice/duplicate'],
  'the same vendor, total and date under another number: the later one is a duplicate_invoice');
select pg_temp.inv('UNKNOWN-1', null, 'Acme Corp', 'PO-1', '[["W-1", "Widget", 1, 10, 10]]');
select pg_temp.match('UNKNOWN-1');
select is(pg_temp.open_types('UNKNOWN-1'), array['unknown_vendor/vendor'], 'an invoice without a vendor: unknown_vendor');
select is((pg_temp.exc('UNKNOWN-1', 'unknown_vendor')).evidence #>> '{suggestions,0,vendor_id}',
  'd0000000-0000-4000-8000-7e5700000001', 'whose best trigram suggestion is the right vendor');
select ok((select bool_and(s ->> 'vendor_id' <> 'd0000000-0000-4000-8000-7e5700000009')
           from jsonb_array_elements((pg_temp.exc('UNKNOWN-1', 'unknown_vendor')).evidence -> 'suggestions') s),
  'and never another organization''s vendor');

-- Idempotence ---------------------------------------------------------------------
select is((select jsonb_agg(to_jsonb(e) - 'updated_at' order by e.id) from public.reconciliation_exceptions e),
  (select jsonb_agg(to_jsonb(e) - 'updated_at' order by e.id) from public.reconciliation_exceptions e
   where (select public.match_vendor_invoices(tests.org('main'),
            (select array_agg(id) from public.vendor_invoices where organization_id = tests.org('main')))) is not null),
  'matching everything again changes no exception');
select is((select count(*)::integer from public.vendor_invoice_line_matches lm
           join public.vendor_invoices vi on vi.id = lm.vendor_invoice_id where vi.invoice_number = 'EXACT'),
  2, 're-matching replaces the line results (one per line)');

-- Resolving -----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('PRICE-OVER', 'price_variance')).id, 'accept', 'fine') $$,
  '42501', null, 'a viewer cannot resolve exceptions');
select throws_ok($$ select public.match_vendor_invoices(tests.org('main')) $$,
  '42501', null, 'nor run matching');
select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('other'),
       (select id from public.reconciliation_exceptions limit 1), 'accept', 'mine now') $$,
  'P0002', null, 'a stranger naming their own organization finds no such exception');
select is((select count(*)::integer from public.reconciliation_exceptions), 0, 'and sees none of them');
select is((select count(*)::integer from public.vendor_invoice_line_matches), 0, 'nor any match result');
select tests.authenticate_as('member');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('PRICE-OVER', 'price_variance')).id, 'accept', '  ') $$,
  '22023', 'reason: say why, in 1 to 1000 characters', 'a resolution needs a reason');
select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('PRICE-OVER', 'price_variance')).id, 'accept', 'price increase agreed by phone') ->> 'resolution',
  'accepted', 'a member accepts the variance');
select is(pg_temp.status('PRICE-OVER'), 'matched_with_tolerance', 'the invoice is then matched within tolerance');
select tests.as_superuser();
select is((select (a.changed_by, a.new_record ->> 'resolution_reason')::text from public.audit_log a
           where a.table_name = 'public.reconciliation_exceptions'
             and a.record_id = (pg_temp.exc('PRICE-OVER', 'price_variance')).id and a.operation = 'UPDATE'
           order by a.id desc limit 1),
  (tests.actor('member'), 'price increase agreed by phone')::text,
  'the decision, who made it and why are in the audit log');
select tests.authenticate_as('member');
select pg_temp.match('PRICE-OVER');
select is(pg_temp.status('PRICE-OVER'), 'matched_with_tolerance', 'an accepted variance stays accepted on re-matching');
update public.vendor_invoice_lines set unit_price = 10.30, amount = 10.30 where vendor_invoice_id = pg_temp.id_of('PRICE-OVER');
update public.vendor_invoices set subtotal = 10.30, total_amount = 10.30 where id = pg_temp.id_of('PRICE-OVER');
select pg_temp.match('PRICE-OVER');
select is(array[(pg_temp.exc('PRICE-OVER', 'price_variance')).status, (pg_temp.exc('PRICE-OVER', 'price_variance')).actual],
  array['open', '10.3'], 'a different variance reopens the accepted exception');

select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('NO-PO', 'missing_po')).id, 'link', 'the vendor wrote the wrong number',
       'e0000000-0000-4000-8000-7e5700000001') ->> 'status',
  'resolved', 'linking an invoice to the right PO after the fact resolves missing_po');
select is(pg_temp.status('NO-PO'), 'matched', 'and the invoice matches against it');
select pg_temp.match('NO-PO');
select is(pg_temp.status('NO-PO'), 'matched', 'the link is kept on re-matching');
select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('NO-LINE', 'missing_po_line')).id, 'link', 'Zeppelin is their name for the widget',
       null, 'f0000000-0000-4000-8000-7e5700000011') ->> 'status',
  'resolved', 'a line linked to a PO line by hand');
select is(pg_temp.status('NO-LINE'), 'matched', 'matches against that PO line');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('CLOSED', 'po_closed')).id, 'link', 'x', 'e0000000-0000-4000-8000-7e5700000002',
       null, 'b0000000-0000-4000-8000-7e5700000001') $$,
  '22023', null, 'link takes exactly one target');
select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('CLOSED', 'po_closed')).id, 'link', 'billed against the receipt GR-1',
       null, null, 'b0000000-0000-4000-8000-7e5700000001') ->> 'status',
  'resolved', 'or to a goods receipt (its purchase order)');
select is(pg_temp.status('CLOSED'), 'matched', 'which resolves the closed-PO exception');
select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('DUP-B', 'duplicate_invoice')).id, 'reject', 'sent twice') ->> 'resolution',
  'rejected', 'a duplicate is rejected');
select is(pg_temp.status('DUP-B'), 'rejected', 'the invoice with it');
select is(pg_temp.match('DUP-B') #>> '{skipped,0,reason}', 'the invoice was rejected by a person and is not re-matched',
  'a rejected invoice is never re-matched silently');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('DUP-B', 'duplicate_invoice')).id, 'accept', 'again') $$,
  '23514', null, 'a closed exception is not resolved twice');
select is(public.resolve_reconciliation_exception(tests.org('main'),
       (pg_temp.exc('LINE-AMOUNT', 'total_variance')).id, 'dismiss', 'rounding on their side') ->> 'status',
  'dismissed', 'an exception may be dismissed');

-- Vendors: alias confirm resolves unknown vendors, merge, reject, split ----------
select is((public.add_vendor_alias(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001', 'Acme Corp')) ->> 'rematched_invoices',
  '1', 'confirming a name as an alias moves the unknown-vendor invoice to the vendor');
select is(array[(pg_temp.exc('UNKNOWN-1', 'unknown_vendor')).status, (pg_temp.exc('UNKNOWN-1', 'unknown_vendor')).resolution],
  array['resolved', 'auto_resolved'], 'and its unknown_vendor exception resolves on re-matching');
select ok(exists (select 1 from public.vendor_aliases where normalized_alias = 'acme' and source = 'confirmed')
  or exists (select 1 from public.vendor_aliases where alias = 'Acme Corp'),
  'the confirmed alias is remembered');
select is((select jsonb_path_query_array(public.reconciliation_vendor(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001'),
           '$.suggestions[*].vendor_id')),
  '["d0000000-0000-4000-8000-7e5700000003"]'::jsonb, 'a similar vendor is suggested for merging');
select public.reject_vendor_suggestion(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001',
  'd0000000-0000-4000-8000-7e5700000003', 'a different company');
select is(public.reconciliation_vendor(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000003') -> 'suggestions',
  '[]'::jsonb, 'a rejected suggestion is not suggested again, either way');
select pg_temp.inv('EUROPE-1', 'd0000000-0000-4000-8000-7e5700000003', 'Acme Europe Ltd', 'PO-1',
  '[["W-1", "Widget", 1, 10, 10]]');
select is(public.merge_vendors(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001',
            'd0000000-0000-4000-8000-7e5700000003', 'same company after all') ->> 'moved_invoices',
  '1', 'merging moves the merged vendor''s invoices to the survivor');
select is((select (status, merged_into)::text from public.vendors where id = 'd0000000-0000-4000-8000-7e5700000003'),
  '(merged,d0000000-0000-4000-8000-7e5700000001)', 'the merged vendor is kept, as merged');
select is(pg_temp.status('EUROPE-1'), 'matched', 'its invoice is re-matched under the survivor (no longer another vendor''s PO)');
select is((public.split_vendor_alias(tests.org('main'), 'd0000000-0000-4000-8000-7e5700000001',
            (select id from public.vendor_aliases where alias = 'Acme Europe Ltd'))) ->> 'new_vendor_id',
  'd0000000-0000-4000-8000-7e5700000003', 'splitting the merged name back out restores the merged vendor');
select is((select vendor_id from public.vendor_invoices where id = pg_temp.id_of('EUROPE-1')),
  'd0000000-0000-4000-8000-7e5700000003'::uuid, 'with the invoices written under that name');

-- Automatic re-matching when goods arrive ------------------------------------------
select tests.clear_authentication();
select tests.as_superuser();
select pg_temp.inv('LATE', 'd0000000-0000-4000-8000-7e5700000002', 'Globex Industries', 'PO-5',
  '[["L-1", "Lever", 4, 3, 12]]');
select pg_temp.match('LATE');
select is(pg_temp.open_types('LATE'), array['missing_po/po_number'], 'an invoice ahead of its PO waits in exception');
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency) values
  ('e0000000-0000-4000-8000-7e5700000005', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000002', 'PO-5', 'USD');
insert into public.purchase_order_lines (id, organization_id, purchase_order_id, currency, line_number, item_code, description, quantity, unit_price) values
  ('f0000000-0000-4000-8000-7e5700000051', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000005', 'USD', 1, 'L-1', 'Lever', 4, 3);
select is(pg_temp.open_types('LATE'), array['over_billed_quantity/received'], 'the PO arriving re-matches it: nothing received yet');
insert into public.goods_receipts (id, organization_id, purchase_order_id, receipt_number) values
  ('b0000000-0000-4000-8000-7e5700000005', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000005', 'GR-5');
insert into public.goods_receipt_lines (organization_id, goods_receipt_id, purchase_order_line_id, quantity_received) values
  (tests.org('main'), 'b0000000-0000-4000-8000-7e5700000005', 'f0000000-0000-4000-8000-7e5700000051', 4);
select is(pg_temp.status('LATE'), 'matched', 'the receipt arriving re-matches it automatically: matched');

-- Settings -------------------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.update_reconciliation_settings(tests.org('main'), '{"auto_rematch": false}') $$,
  '42501', null, 'a member cannot change the matching settings');
select tests.authenticate_as('owner');
select is(public.update_reconciliation_settings(tests.org('main'), '{"price_tolerance_percent": 3}') ->> 'price_tolerance_percent',
  '3', 'an owner changes one setting (partial update)');
select is(public.get_reconciliation_settings(tests.org('main')) ->> 'quantity_tolerance_percent',
  '5', 'the others are kept');
select throws_ok($$ select public.update_reconciliation_settings(tests.org('main'), '{"price_tolerance_percent": 101}') $$,
  '23514', null, 'a tolerance above 100 % is refused');
select throws_ok($$ select public.get_reconciliation_settings(tests.org('other')) $$,
  '42501', null, 'another organization''s settings are not readable');

select * from finish();
rollback;
