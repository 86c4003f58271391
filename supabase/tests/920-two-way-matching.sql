-- =============================================================================
-- 2-way matching (20261206150200_two_way_matching.sql): a line's mode is the
-- most specific one set (PO line > PO > vendor > three_way); two-way compares
-- the billed quantity with the ordered one (earlier invoices counted, the
-- quantity tolerance applied) and ignores receipts; price, amount and totals
-- are checked as in 3-way; setting a mode re-matches; who may set it.
-- =============================================================================
begin;
select plan(36);

select tests.create_cast();

-- 5 % quantity tolerance, 2 % or 0.10 price tolerance, 0.05 total tolerance.
insert into public.reconciliation_settings (organization_id, quantity_tolerance_percent,
  price_tolerance_percent, price_tolerance_amount, total_tolerance_amount)
values (tests.org('main'), 5, 2, 0.10, 0.05);

-- V3 has no mode (the default, three_way); V2 is two_way.
insert into public.vendors (id, organization_id, name, match_mode) values
  ('d0000000-0000-4000-8000-7e5700000301', tests.org('main'), 'Services Three', null),
  ('d0000000-0000-4000-8000-7e5700000302', tests.org('main'), 'Services Two', 'two_way');

-- Nothing is ever received on these POs (services).
-- SA (V3): 1 Consulting 10 x 100, 2 Support 5 x 50. SB (V2): 1 Hosting 12 x 20.
-- SC (V2, the PO three_way): 1 Audit 4 x 200.
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency, status, match_mode) values
  ('e0000000-0000-4000-8000-7e5700000301', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000301', 'SA', 'USD', 'open', null),
  ('e0000000-0000-4000-8000-7e5700000302', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000302', 'SB', 'USD', 'open', null),
  ('e0000000-0000-4000-8000-7e5700000303', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000302', 'SC', 'USD', 'open', 'three_way');
insert into public.purchase_order_lines (id, organization_id, purchase_order_id, currency, line_number, item_code, description, quantity, unit_price) values
  ('f0000000-0000-4000-8000-7e5700000311', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', 'USD', 1, 'CONS', 'Consulting', 10, 100),
  ('f0000000-0000-4000-8000-7e5700000312', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', 'USD', 2, 'SUPP', 'Support', 5, 50),
  ('f0000000-0000-4000-8000-7e5700000321', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000302', 'USD', 1, 'HOST', 'Hosting', 12, 20),
  ('f0000000-0000-4000-8000-7e5700000331', tests.org('main'), 'e0000000-0000-4000-8000-7e5700000303', 'USD', 1, 'AUD', 'Audit', 4, 200);

create function pg_temp.inv(number text, vendor uuid, po text, lines jsonb) returns uuid
language plpgsql as $$
declare
  new_id uuid := gen_random_uuid();
  sub numeric;
begin
  select coalesce(sum((l ->> 4)::numeric), 0) into sub from jsonb_array_elements(lines) l;
  insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
    invoice_date, po_number, currency, subtotal, tax_amount, total_amount)
  values (new_id, tests.org('main'), vendor, (select name from public.vendors where id = vendor), number,
          date '2026-01-01' + (select count(*)::integer from public.vendor_invoices
                               where organization_id = tests.org('main')),
          po, 'USD', sub, 0, sub);
  insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
    item_code, description, quantity, unit_price, amount)
  select tests.org('main'), new_id, 'USD', o::integer, l ->> 0, l ->> 1, (l ->> 2)::numeric,
         (l ->> 3)::numeric, (l ->> 4)::numeric
  from jsonb_array_elements(lines) with ordinality as x(l, o);
  return new_id;
end;
$$;
create function pg_temp.id_of(number text) returns uuid language sql as $$
  select id from public.vendor_invoices where invoice_number = number order by created_at limit 1
$$;
create function pg_temp.status(number text) returns text language sql as $$
  select status from public.vendor_invoices where id = pg_temp.id_of(number)
$$;
create function pg_temp.open_types(number text) returns text[] language sql as $$
  select coalesce(array_agg(e.type || '/' || e.check_name order by e.type, e.check_name), '{}')
  from public.reconciliation_exceptions e
  where e.vendor_invoice_id = pg_temp.id_of(number) and e.status = 'open'
$$;
create function pg_temp.line_mode(number text, n integer) returns text language sql as $$
  select match_mode || '/' || outcome || '/' || rule from public.vendor_invoice_line_matches
  where vendor_invoice_id = pg_temp.id_of(number) and line_number = n
$$;
create function pg_temp.match(number text) returns jsonb language sql as $$
  select public.match_vendor_invoices(tests.org('main'), array[pg_temp.id_of(number)])
$$;
grant execute on all functions in schema pg_temp to authenticated;

-- 3-way by default: a service line with nothing received is over-billed ------
select pg_temp.inv('T3', 'd0000000-0000-4000-8000-7e5700000301', 'SA',
  '[["CONS", "Consulting", 10, 100, 1000]]');
select tests.authenticate_as('member');
select pg_temp.match('T3');
select is(pg_temp.status('T3'), 'exception', 'no mode anywhere: 3-way, nothing received is an exception');
select is(pg_temp.open_types('T3'), array['over_billed_quantity/received'], '... over_billed_quantity, check received');
select is(pg_temp.line_mode('T3', 1), 'three_way/exception/quantity', 'the line was matched three_way');

-- The vendor two_way: compared with the ordered quantity -----------------------
select tests.as_superuser();
select pg_temp.inv('V2-EXACT', 'd0000000-0000-4000-8000-7e5700000302', 'SB',
  '[["HOST", "Hosting", 6, 20, 120]]');
select pg_temp.inv('V2-REST', 'd0000000-0000-4000-8000-7e5700000302', 'SB',
  '[["HOST", "Hosting", 6, 20, 120]]');
select pg_temp.inv('V2-TOL', 'd0000000-0000-4000-8000-7e5700000302', 'SB',
  '[["HOST", "Hosting", 0.6, 20, 12]]');
select pg_temp.inv('V2-OVER', 'd0000000-0000-4000-8000-7e5700000302', 'SB',
  '[["HOST", "Hosting", 0.1, 20, 2]]');
select tests.authenticate_as('member');
select public.match_vendor_invoices(tests.org('main'),
  array[pg_temp.id_of('V2-EXACT'), pg_temp.id_of('V2-REST'), pg_temp.id_of('V2-TOL'), pg_temp.id_of('V2-OVER')]);
select is(pg_temp.status('V2-EXACT'), 'matched', 'vendor two_way: 6 of 12 ordered, nothing received: matched');
select is(pg_temp.line_mode('V2-EXACT', 1), 'two_way/matched/exact', '... the line matched two_way, rule exact');
select is(pg_temp.status('V2-REST'), 'matched', 'the next 6 (12 ordered, 6 billed earlier): matched');
select is(pg_temp.status('V2-TOL'), 'matched_with_tolerance', '0.6 more (12.6 = 12 + 5 %): within tolerance');
select is(pg_temp.line_mode('V2-TOL', 1), 'two_way/matched_with_tolerance/quantity', '... by quantity');
select is(pg_temp.status('V2-OVER'), 'exception', '0.1 beyond the tolerance: exception');
select is(pg_temp.open_types('V2-OVER'), array['over_billed_quantity/ordered'], '... over_billed_quantity, check ordered');
select is((select expected || ' ' || actual || ' ' || (evidence ->> 'match_mode') || ' ' || (evidence ->> 'billed_before')
           from public.reconciliation_exceptions where vendor_invoice_id = pg_temp.id_of('V2-OVER')),
          '0 0.1 two_way 12.6', 'the evidence: allowed 0 (12.6 - 12.6), billed 0.1, two_way, 12.6 billed before');
select matches((select message from public.reconciliation_exceptions where vendor_invoice_id = pg_temp.id_of('V2-OVER')),
  'PO SB line 1 orders 12 of which 12.6 already billed', 'the message names the ordered quantity');
select is((select received_quantity::text from public.vendor_invoice_line_matches
           where vendor_invoice_id = pg_temp.id_of('V2-EXACT')), '0', 'what was received is still recorded (0)');

-- Price and amount are still checked two-way -----------------------------------
select tests.as_superuser();
select pg_temp.inv('V2-PRICE', 'd0000000-0000-4000-8000-7e5700000302', 'SB',
  '[["HOST", "Hosting", 0.5, 21, 10.50]]');
select tests.authenticate_as('member');
select pg_temp.match('V2-PRICE');
select ok('price_variance/price' = any (pg_temp.open_types('V2-PRICE')), 'two_way: 21 over 20 (+0.40 > 0.10) is a price variance');

-- The PO three_way overrides the vendor's two_way ------------------------------
select tests.as_superuser();
select pg_temp.inv('PO3', 'd0000000-0000-4000-8000-7e5700000302', 'SC',
  '[["AUD", "Audit", 4, 200, 800]]');
select tests.authenticate_as('member');
select pg_temp.match('PO3');
select is(pg_temp.open_types('PO3'), array['over_billed_quantity/received'], 'PO three_way beats vendor two_way');

-- The PO set two_way: its invoices re-matched ---------------------------------
select is(public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301',
            '{"match_mode": "two_way"}') ->> 'effective_match_mode', 'two_way', 'a member sets PO SA two_way');
select is(pg_temp.status('T3'), 'matched', 'T3 re-matched by the change: matched two_way');
select is(pg_temp.open_types('T3'), '{}'::text[], '... its exception resolved');
select is((select resolution from public.reconciliation_exceptions where vendor_invoice_id = pg_temp.id_of('T3')),
          'auto_resolved', '... as auto_resolved');

-- A line three_way beats the PO's two_way ------------------------------------
select is(public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301',
            '{"lines": [{"line_number": 2, "match_mode": "three_way"}]}') -> 'lines' -> 1 ->> 'decided_by',
          'line', 'line 2 set three_way: decided by the line');
select tests.as_superuser();
select pg_temp.inv('MIX', 'd0000000-0000-4000-8000-7e5700000301', 'SA',
  '[["CONS", "Consulting", 0.5, 100, 50], ["SUPP", "Support", 5, 50, 250]]');
select tests.authenticate_as('member');
select pg_temp.match('MIX');
select is(pg_temp.line_mode('MIX', 1), 'two_way/matched_with_tolerance/quantity', 'line 1 (the PO''s two_way): 0.5 after T3''s 10 of 10 ordered, within the 5 %');
select is(pg_temp.line_mode('MIX', 2), 'three_way/exception/quantity', 'line 2 (its own three_way) over-billed: nothing received');
select is(pg_temp.open_types('MIX'), array['over_billed_quantity/received'], '... check received');

-- Back to inherit: null clears a level ----------------------------------------
select is(public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301',
            '{"match_mode": null, "lines": [{"line_number": 2, "match_mode": "two_way"}]}') -> 'lines' -> 0 ->> 'effective_match_mode',
          'three_way', 'the PO cleared: line 1 inherits the vendor''s nothing, three_way');
select is(pg_temp.status('MIX'), 'exception', 'MIX re-matched: line 1 three_way now, nothing received: over-billed');
select is(pg_temp.line_mode('MIX', 2), 'two_way/matched/exact', 'line 2 (its own two_way) matched');

-- The vendor's mode: set by an update, its invoices re-matched ----------------
update public.vendors set match_mode = 'two_way' where id = 'd0000000-0000-4000-8000-7e5700000301';
select is(pg_temp.status('MIX'), 'matched_with_tolerance', 'vendor V3 set two_way by a member: MIX re-matched, within tolerance');
select is(public.purchase_order_match_modes(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301') -> 'lines' -> 0 ->> 'decided_by',
          'vendor', 'line 1 of SA is now decided by the vendor');

-- Bad input and who may --------------------------------------------------------
select throws_ok($$ update public.vendors set match_mode = 'one_way' where id = 'd0000000-0000-4000-8000-7e5700000301' $$,
  '23514', null, 'a vendor''s mode is three_way or two_way');
select throws_ok($$ select public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', '{"match_mode": "four_way"}') $$,
  '22023', null, 'a PO''s mode is three_way, two_way or null');
select throws_ok($$ select public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', '{"lines": [{"line_number": 9, "match_mode": "two_way"}]}') $$,
  '22023', 'the purchase order has no line 9', 'an unknown line is named');
select throws_ok($$ select public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', '{}') $$,
  '22023', null, 'nothing to change is refused');
select tests.authenticate_as('viewer');
select throws_ok($$ select public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', '{"match_mode": "two_way"}') $$,
  '42501', null, 'a viewer cannot set a mode');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.set_purchase_order_match_mode(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301', '{"match_mode": "two_way"}') $$,
  '42501', null, 'a stranger cannot set a mode');
select is(public.purchase_order_match_modes(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000301'), null,
  'nor read them');
select is(public.set_purchase_order_match_mode(tests.org('other'), 'e0000000-0000-4000-8000-7e5700000301', '{"match_mode": "two_way"}'),
  null, 'another organization''s PO is not found from the stranger''s own');

select * from finish();
rollback;
