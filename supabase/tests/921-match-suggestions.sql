-- =============================================================================
-- Match suggestions (20261206150300_match_suggestions.sql): the features and the
-- ranking under fixed and saved weights, decisions recorded as examples (accept
-- links through the exception's link, reject is a negative), a relink through
-- an exception is an example too, confirmed matches in the training set, the
-- weights checked, who may read and decide.
-- =============================================================================
begin;
select plan(25);

select tests.create_cast();

insert into public.vendors (id, organization_id, name) values
  ('d0000000-0000-4000-8000-7e5700000401', tests.org('main'), 'Brightwater Facility Services'),
  ('d0000000-0000-4000-8000-7e5700000402', tests.org('main'), 'Globex Catering');

-- Three open POs in CHF; one closed; one in EUR.
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency, status, order_date) values
  ('e0000000-0000-4000-8000-7e5700000401', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000401', 'CLN-100', 'CHF', 'open', '2026-03-01'),
  ('e0000000-0000-4000-8000-7e5700000402', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000401', 'CLN-101', 'CHF', 'open', '2026-04-01'),
  ('e0000000-0000-4000-8000-7e5700000403', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000402', 'CAT-200', 'CHF', 'open', '2026-03-05'),
  ('e0000000-0000-4000-8000-7e5700000404', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000401', 'CLN-099', 'CHF', 'closed', '2026-02-01'),
  ('e0000000-0000-4000-8000-7e5700000405', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000401', 'CLN-102', 'EUR', 'open', '2026-03-01');
insert into public.purchase_order_lines (organization_id, purchase_order_id, currency, line_number, description, quantity, unit_price) values
  (tests.org('main'), 'e0000000-0000-4000-8000-7e5700000401', 'CHF', 1, 'office cleaning monthly', 1, 1200),
  (tests.org('main'), 'e0000000-0000-4000-8000-7e5700000402', 'CHF', 1, 'office cleaning monthly', 1, 1250),
  (tests.org('main'), 'e0000000-0000-4000-8000-7e5700000403', 'CHF', 1, 'lunch buffet', 30, 40),
  (tests.org('main'), 'e0000000-0000-4000-8000-7e5700000404', 'CHF', 1, 'office cleaning monthly', 1, 1200),
  (tests.org('main'), 'e0000000-0000-4000-8000-7e5700000405', 'EUR', 1, 'office cleaning monthly', 1, 1200);

-- INV-A: unknown vendor (a typo), no PO reference, 1200 on 2026-03-10: CLN-100.
-- INV-B: the vendor, the stale reference CLN-100, 1250 on 2026-04-08: CLN-101.
insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number, invoice_date, po_number, currency, subtotal, tax_amount, total_amount) values
  ('c0000000-0000-4000-8000-7e5700000401', tests.org('main'), null, 'Brightwatr Facility Services', 'INV-A', '2026-03-10', null, 'CHF', 1200, 0, 1200),
  ('c0000000-0000-4000-8000-7e5700000402', tests.org('main'), 'd0000000-0000-4000-8000-7e5700000401', 'Brightwater Facility Services', 'INV-B', '2026-04-08', 'CLN-100', 'CHF', 1250, 0, 1250);
insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number, description, quantity, unit_price, amount) values
  (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 'CHF', 1, 'Office cleaning (monthly)', 1, 1200, 1200),
  (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000402', 'CHF', 1, 'Office cleaning', 1, 1250, 1250);

create function pg_temp.ranked(invoice uuid, weights jsonb default null) returns text[] language sql as $$
  select array_agg(c.po_number order by c.score desc, c.po_number)
  from private.suggestion_candidates(tests.org('main'), invoice, weights, 10) c
$$;
create function pg_temp.feature(invoice uuid, po uuid, i integer) returns double precision language sql as $$
  select round(c.features[i]::numeric, 3)::double precision
  from private.suggestion_candidates(tests.org('main'), invoice, null, 1, po) c
$$;
grant execute on all functions in schema pg_temp to authenticated;

select tests.authenticate_as('viewer');

-- Features and ranking ---------------------------------------------------------
select is(pg_temp.ranked('c0000000-0000-4000-8000-7e5700000401'), array['CLN-100', 'CLN-101', 'CAT-200'],
  'INV-A: the open CHF POs (not the closed one, not the EUR one), CLN-100 first');
select is(pg_temp.feature('c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 2), 1::double precision,
  'amount: 1200 billed of 1200 ordered is 1');
select is(pg_temp.feature('c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 4), 0::double precision,
  'reference: none named is 0');
select ok(pg_temp.feature('c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 1) between 0.5 and 0.99,
  'vendor: a misspelled name is similar, not 1');
select is(pg_temp.feature('c0000000-0000-4000-8000-7e5700000402', 'e0000000-0000-4000-8000-7e5700000402', 1), 1::double precision,
  'vendor: the invoice''s own vendor is 1');
select is(pg_temp.feature('c0000000-0000-4000-8000-7e5700000402', 'e0000000-0000-4000-8000-7e5700000401', 4), 1::double precision,
  'reference: the stale CLN-100 is CLN-100''s number exactly');
select is((pg_temp.ranked('c0000000-0000-4000-8000-7e5700000402'))[1], 'CLN-100',
  'INV-B under the fixed weights: the stale reference wins');
select is((pg_temp.ranked('c0000000-0000-4000-8000-7e5700000402',
            '{"bias": -3, "vendor": 1, "amount": 6, "date": 4, "reference": 0.2, "description": 1}'))[1], 'CLN-101',
  'INV-B under weights trusting amount and date: CLN-101');
select is(public.match_suggestions(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 2) -> 'model' ->> 'learned',
  'false', 'no model yet: the fixed weights');
select is(jsonb_array_length(public.match_suggestions(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 2) -> 'candidates'),
  2, 'max_candidates bounds the answer');
select throws_ok($$ select public.match_suggestions(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 0) $$,
  '22023', null, 'a limit below 1 is refused');

-- Who may --------------------------------------------------------------------
select throws_ok($$ select public.decide_match_suggestion(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 'accept') $$,
  '42501', null, 'a viewer cannot decide');
select tests.authenticate_as('stranger');
select is(public.match_suggestions(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401'), null,
  'a stranger gets no suggestions');
select is(public.decide_match_suggestion(tests.org('other'), 'c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 'reject'),
  null, 'nor decides on another organization''s invoice from their own');
select throws_ok($$ select public.save_suggestion_model(tests.org('main'), '{"bias": 0, "vendor": 0, "amount": 0, "date": 0, "reference": 0, "description": 0}', 0, 0) $$,
  '42501', null, 'nor saves its weights');

-- Decisions --------------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ insert into public.match_suggestion_examples (organization_id, vendor_invoice_id, purchase_order_id, label, source, decided, features)
  values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 1, 'accepted', true, '{1,1,1,1,1}') $$,
  '42501', null, 'examples are written by the decisions only');
select public.match_vendor_invoices(tests.org('main'), array['c0000000-0000-4000-8000-7e5700000401'::uuid]);
select is(public.decide_match_suggestion(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000403', 'reject', 'catering, not cleaning') ->> 'decision',
  'rejected', 'a member rejects CAT-200 for INV-A');
select results_eq($$ select label::integer, source, decided from public.match_suggestion_examples
                     where vendor_invoice_id = 'c0000000-0000-4000-8000-7e5700000401' $$,
  $$ values (0, 'rejected', true) $$, '... one negative example');
select is(public.decide_match_suggestion(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000401', 'e0000000-0000-4000-8000-7e5700000401', 'accept') ->> 'purchase_order_id',
  'e0000000-0000-4000-8000-7e5700000401', 'accepting CLN-100 links it');
select is((select resolution from public.reconciliation_exceptions
           where vendor_invoice_id = 'c0000000-0000-4000-8000-7e5700000401' and type = 'missing_po'),
  'linked', '... through the missing_po exception''s link');
select results_eq($$ select label::integer, count(*)::integer from public.match_suggestion_examples
                     where vendor_invoice_id = 'c0000000-0000-4000-8000-7e5700000401' and source = 'accepted'
                     group by label order by label $$,
  $$ values (0, 2), (1, 1) $$, '... the accepted PO a positive, the other two candidates negatives');

-- A relink through the exception's own link is an example -----------------------
select public.match_vendor_invoices(tests.org('main'), array['c0000000-0000-4000-8000-7e5700000402'::uuid]);
select lives_ok($$ select public.resolve_reconciliation_exception(tests.org('main'),
  (select id from public.reconciliation_exceptions where vendor_invoice_id = 'c0000000-0000-4000-8000-7e5700000402'
     and status = 'open' order by created_at, id limit 1),
  'link', 'the April order', 'e0000000-0000-4000-8000-7e5700000402') $$,
  'INV-B (matched to the stale CLN-100, exceptions open) relinked to CLN-101 through an exception''s link');
select results_eq($$ select purchase_order_id::text, label::integer, decided from public.match_suggestion_examples
                     where vendor_invoice_id = 'c0000000-0000-4000-8000-7e5700000402' and source = 'relinked'
                     order by label desc, purchase_order_id $$,
  $$ values ('e0000000-0000-4000-8000-7e5700000402', 1, true),
            ('e0000000-0000-4000-8000-7e5700000401', 0, false),
            ('e0000000-0000-4000-8000-7e5700000403', 0, false) $$,
  'a relink records the linked PO as a positive, the other candidates as negatives');

-- The weights ---------------------------------------------------------------------
select throws_ok($$ select public.save_suggestion_model(tests.org('main'), '{"bias": 0}', 0, 0) $$,
  '22023', null, 'every weight is required');
select is(public.save_suggestion_model(tests.org('main'),
            '{"bias": -3, "vendor": 1, "amount": 6, "date": 4, "reference": 0.2, "description": 1, "extra": 9}', 10, 3) -> 'weights' ? 'extra',
  false, 'a member saves weights; unknown keys are dropped');

select * from finish();
rollback;
