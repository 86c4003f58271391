-- =============================================================================
-- The tax model (20261206170400_tax_model.sql): the lines' rules (EN 16931
-- BR-*-05 and BR-*-10 as CHECKs and as the RPCs' messages), the effective
-- category and rate, and an invoice's totals and breakdown by category and
-- rate: the discount split exactly, tax rounded per group, at 0, 2 and 3
-- decimals (JPY, USD, KWD).
-- =============================================================================
begin;
select plan(41);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency, email) values
  ('c0000000-0000-4000-8000-7e5700000961', tests.org('main'), 'Tax Client', 'USD', 'tax@client.test'),
  ('c0000000-0000-4000-8000-7e5700000962', tests.org('main'), 'Yen Tax Client', 'JPY', null),
  ('c0000000-0000-4000-8000-7e5700000963', tests.org('main'), 'Dinar Tax Client', 'KWD', null);

create table pg_temp.ids (name text primary key, id uuid);
grant all on pg_temp.ids to authenticated, service_role, anon;
create function pg_temp.id(which text) returns uuid language sql as $$
  select id from pg_temp.ids where name = which $$;
grant execute on function pg_temp.id(text) to authenticated, service_role, anon;

-- The rules of a line ------------------------------------------------------------
select is(private.line_tax_problem('AE', null, null, null),
  'tax_exemption_reason: required for category AE (BR-AE-10)', 'AE needs an exemption reason');
select is(private.line_tax_problem('K', 0, null, null),
  'tax_exemption_reason: required for category K (BR-IC-10)', 'K (intra-community) is BR-IC');
select is(private.line_tax_problem('S', 19, 'VATEX-EU-AE', null),
  'tax_exemption_reason: not allowed for category S (BR-S-10)', 'S takes no exemption reason');
select is(private.line_tax_problem('Z', 5, null, null),
  'tax_rate: must be 0 for category Z (BR-Z-05)', 'Z carries rate 0');
select is(private.line_tax_problem('S', 0, null, null),
  'tax_rate: must be above 0 for category S (BR-S-05)', 'S carries a rate above 0');
select is(private.line_tax_problem('L', 0, null, null),
  'tax_rate: must be above 0 for category L (BR-AF-05)', 'L (IGIC) is BR-AF');
select is(private.line_tax_problem('X', null, null, null),
  'vat_category: must be one of S, Z, E, AE, K, G, O, L, M (UNCL5305)', 'unknown categories are refused');
select is(private.line_tax_problem('E', 0, 'vatex-eu-79-c', null),
  'tax_exemption_reason_code: must be a VATEX code such as VATEX-EU-AE (CEF VATEX list)',
  'a reason code is a VATEX code');
select is(private.line_tax_problem(null, 7.5, null, null), null, 'a rate alone (the category follows) is fine');
select is(private.line_tax_problem('O', null, null, 'Not subject to VAT'), null,
  'O with a reason text and no rate is fine');

select is(private.effective_tax_rate(null, null, 19), 19::numeric, 'no rate: the document''s');
select is(private.effective_tax_rate('AE', null, 19), 0::numeric, 'a zero-rated category without a rate: 0');
select is(private.effective_vat_category(null, null, 19, null), 'S', 'rate above 0, no default: S');
select is(private.effective_vat_category(null, null, 0, null), 'Z', 'rate 0, no default: Z');
select is(private.effective_vat_category(null, 0, 19, 'O'), 'O', 'rate 0 with default O: O');
select is(private.effective_vat_category(null, null, 19, 'O'), 'S',
  'a rate above 0 never takes a zero-rated default');

-- The CHECK holds for every writer --------------------------------------------------
select tests.authenticate_as('member');
insert into pg_temp.ids select 'legacy', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000961", "tax_rate": 8.875, "discount": 10.01}',
  '[{"description": "Design", "quantity": 3, "rate": 33.333},
    {"description": "Build", "quantity": 1.5, "rate": 0.005}]') ->> 'id')::uuid;
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.id('legacy') $$,
  $$ values (100.01::numeric, 10.01::numeric, 7.99::numeric, 97.99::numeric) $$,
  'lines without tax fields: one group at the invoice''s rate, the previous formula');
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate, vat_category)
     values (pg_temp.id('legacy'), 'Reverse', 1, 10, 'AE') $$,
  '23514', null, 'a line of category AE without a reason is refused by the table');
select throws_ok(
  $$ update public.invoice_items set tax_rate = 0, vat_category = 'S' where invoice_id = pg_temp.id('legacy') $$,
  '23514', null, 'S at rate 0 is refused by the table');
select throws_ok($$ select public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000961", "tax_rate": 19}',
  '[{"description": "A", "quantity": 1, "rate": 10},
    {"description": "B", "quantity": 1, "rate": 10, "vat_category": "AE"}]') $$,
  '22023', 'items[1].tax_exemption_reason: required for category AE (BR-AE-10)',
  'create_invoice names the line and the rule');
select throws_ok($$ select public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000961", "tax_rate": 0}',
  '[{"description": "A", "quantity": 1, "rate": 10, "vat_category": "S"}]') $$,
  '23514', 'items[0].tax_rate: category S needs a rate above 0 (BR-S-05) and the invoice''s tax_rate is 0',
  'a standard line taking the invoice''s rate of 0 is refused');

-- Several groups (USD) -------------------------------------------------------------
insert into pg_temp.ids select 'mixed', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000961", "tax_rate": 19, "discount": 10,
    "buyer_reference": "04011000-12345-34", "purchase_order_reference": "PO-77"}',
  '[{"description": "Standard", "quantity": 1, "rate": 100},
    {"description": "Reduced", "quantity": 2, "rate": 50, "tax_rate": 7},
    {"description": "Reverse charge", "quantity": 1, "rate": 200, "vat_category": "AE",
     "tax_exemption_reason_code": "VATEX-EU-AE", "tax_exemption_reason": "Reverse charge"}]') ->> 'id')::uuid;
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, buyer_reference, purchase_order_reference
     from public.invoices where id = pg_temp.id('mixed') $$,
  $$ values (400.00::numeric, 10.00::numeric, 25.36::numeric, 415.36::numeric, '04011000-12345-34'::text, 'PO-77'::text) $$,
  'three groups: tax rounded per group (18.53 + 6.83 + 0), total = subtotal - discount + tax');
select results_eq(
  $$ select vat_category, tax_rate, line_net_total, allowance_amount, taxable_amount, tax_amount,
            tax_exemption_reason_code, tax_exemption_reason
     from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('mixed')) $$,
  $$ values ('AE'::text, 0::numeric, 200.00::numeric, 5.00::numeric, 195.00::numeric, 0.00::numeric,
             'VATEX-EU-AE'::text, 'Reverse charge'::text),
            ('S', 7, 100.00, 2.50, 97.50, 6.83, null, null),
            ('S', 19, 100.00, 2.50, 97.50, 18.53, null, null) $$,
  'the breakdown: by (category, rate), the discount split in proportion, the largest group taking the remainder');
select is(
  (select jsonb_agg(jsonb_build_array(x ->> 'vat_category', (x ->> 'tax_rate')::numeric) order by (x ->> 'position')::int)
   from jsonb_array_elements(public.get_invoice(tests.org('main'), pg_temp.id('mixed')) -> 'items') x),
  '[["S", 19], ["S", 7], ["AE", 0]]'::jsonb,
  'the document''s items carry their effective category and rate');
select is(jsonb_array_length(public.get_invoice(tests.org('main'), pg_temp.id('mixed')) -> 'tax_breakdown'), 3,
  'the document carries the breakdown');
select ok(not (public.get_invoice(tests.org('main'), pg_temp.id('mixed')) ? 'line_tax_groups'),
  'the cache of groups stays out of the document');
select is((public.invoice_document(tests.org('main'), pg_temp.id('mixed')) ->> 'purchase_order_reference'), 'PO-77',
  'the PDF''s document carries the references');

-- Totals follow the document's fields.
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('mixed'),
  '{"discount": 0, "tax_rate": 20}') $$, 'the discount and the default rate change');
select results_eq(
  $$ select tax_amount, total_amount from public.invoices where id = pg_temp.id('mixed') $$,
  $$ values (27.00::numeric, 427.00::numeric) $$,
  'the lines without a rate take the new default (20 + 7 + 0)');
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('mixed'), '{}'::jsonb,
  jsonb_build_array(jsonb_build_object('id', (select id from public.invoice_items
                                              where invoice_id = pg_temp.id('mixed') and position = 1),
                                       'tax_rate', null)), 'patch') $$,
  'a patch gives a line back to the default rate');
select is((select tax_amount from public.invoices where id = pg_temp.id('mixed')), 40.00::numeric,
  'both standard lines at 20 %: 200 x 20 % = 40');
select is((select sum(tax_amount) from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('mixed'))),
  (select tax_amount from public.invoices where id = pg_temp.id('mixed')),
  'the breakdown''s tax sums to the invoice''s after changes');

-- Five equal groups and a discount of three cents: every share in [0, net], the sum exact.
insert into pg_temp.ids select 'five', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000961", "tax_rate": 10, "discount": 0.03}',
  '[{"description": "a", "quantity": 1, "rate": 1, "tax_rate": 1},
    {"description": "b", "quantity": 1, "rate": 1, "tax_rate": 2},
    {"description": "c", "quantity": 1, "rate": 1, "tax_rate": 3},
    {"description": "d", "quantity": 1, "rate": 1, "tax_rate": 4},
    {"description": "e", "quantity": 1, "rate": 1, "tax_rate": 5}]') ->> 'id')::uuid;
select results_eq(
  $$ select sum(allowance_amount), bool_and(allowance_amount between 0 and line_net_total), count(*)
     from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('five')) $$,
  $$ values (0.03::numeric, true, 5::bigint) $$,
  'five groups: the shares sum to the discount exactly, none below 0 or above its net');

-- JPY (0 decimals) and KWD (3 decimals).
insert into pg_temp.ids select 'yen', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000962", "tax_rate": 10, "discount": 3}',
  '[{"description": "Standard", "quantity": 1, "rate": 1001},
    {"description": "Reduced", "quantity": 1, "rate": 500, "tax_rate": 8}]') ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, tax_rate, allowance_amount, taxable_amount, tax_amount
     from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('yen')) $$,
  $$ values ('S'::text, 8::numeric, 1::numeric, 499::numeric, 40::numeric), ('S', 10, 2, 999, 100) $$,
  'JPY: whole yen shares of the discount (1 + 2) and whole yen tax per group');
select results_eq(
  $$ select tax_amount, total_amount from public.invoices where id = pg_temp.id('yen') $$,
  $$ values (140::numeric, 1638::numeric) $$, 'JPY totals: 1501 - 3 + 140');

insert into pg_temp.ids select 'kwd', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000963", "tax_rate": 5, "discount": 0.007}',
  '[{"description": "Standard", "quantity": 1, "rate": 10.005},
    {"description": "Zero", "quantity": 1, "rate": 3.333, "vat_category": "Z"}]') ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, allowance_amount, taxable_amount, tax_amount
     from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('kwd')) $$,
  $$ values ('S'::text, 0.005::numeric, 10.000::numeric, 0.500::numeric), ('Z', 0.002, 3.331, 0.000) $$,
  'KWD: fils (3 decimals) shares and tax');
select results_eq(
  $$ select tax_amount, total_amount from public.invoices where id = pg_temp.id('kwd') $$,
  $$ values (0.500::numeric, 13.831::numeric) $$, 'KWD totals: 13.338 - 0.007 + 0.500');

-- What may change once paid ---------------------------------------------------------
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('kwd'), '{"status": "sent"}') $$,
  'sent');
insert into public.payments (organization_id, invoice_id, amount, payment_date)
values (tests.org('main'), pg_temp.id('kwd'), 1, current_date);
select throws_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('kwd'),
  '{"default_vat_category": "E"}') $$, '23514', null,
  'payments freeze the default category as they freeze the rate');
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('kwd'),
  '{"buyer_reference": "LEITWEG-1"}') $$, 'the buyer reference of an open invoice may be corrected');

-- Another tenant's invoice has no breakdown.
select tests.authenticate_as('stranger');
select is((select count(*) from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('mixed'))), 0::bigint,
  'a stranger reads no breakdown of the organization''s invoice');

select * from finish();
rollback;
