-- =============================================================================
-- The tax model across documents (20261206170400_tax_model.sql): quotes keep
-- their lines' categories and rates and convert into an invoice with the same
-- lines, references and totals; a recurring profile issues invoices with its
-- lines' tax fields and previews the same totals; credit notes keep the invoice
-- lines' categories, rates and reasons (whole, lines, amount), and every
-- breakdown sums to its document's tax.
-- =============================================================================
begin;
select plan(24);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency, email) values
  ('c0000000-0000-4000-8000-7e5700000964', tests.org('main'), 'Docs Tax Client', 'EUR', 'docs@client.test');

create table pg_temp.ids (name text primary key, id uuid);
grant all on pg_temp.ids to authenticated, service_role, anon;
create function pg_temp.id(which text) returns uuid language sql as $$
  select id from pg_temp.ids where name = which $$;
grant execute on function pg_temp.id(text) to authenticated, service_role, anon;

select tests.authenticate_as('member');

-- Quotes -------------------------------------------------------------------------
insert into pg_temp.ids select 'quote', (public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000964", "tax_rate": 19, "discount": 12.34,
    "buyer_reference": "LW-991", "purchase_order_reference": "PO-12"}',
  '[{"description": "Consulting", "quantity": 3, "rate": 120},
    {"description": "Books", "quantity": 2, "rate": 19.99, "tax_rate": 7},
    {"description": "Export", "quantity": 1, "rate": 80, "vat_category": "G",
     "tax_exemption_reason_code": "VATEX-EU-G"}]') ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, tax_rate, allowance_amount, tax_amount
     from private.quote_tax_breakdown(tests.org('main'), pg_temp.id('quote')) $$,
  $$ values ('G'::text, 0::numeric, 2.05::numeric, 0.00::numeric), ('S', 7, 1.03, 2.73), ('S', 19, 9.26, 66.64) $$,
  'a quote''s breakdown: three groups, the discount split 1.03 + 2.05 + 9.26 (the largest last)');
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.quotes where id = pg_temp.id('quote') $$,
  $$ values (479.98::numeric, 69.37::numeric, 537.01::numeric) $$,
  'the quote''s totals come from its groups');
select is((public.get_quote(tests.org('main'), pg_temp.id('quote')) -> 'items' -> 2 ->> 'vat_category'), 'G',
  'the quote''s document carries the lines'' categories');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000964"}',
  '[{"description": "x", "quantity": 1, "rate": 1, "vat_category": "O"}]') $$,
  '22023', 'items[0].tax_exemption_reason: required for category O (BR-O-10)', 'a quote''s lines follow the rules');

select lives_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('quote'), '{"status": "sent"}') $$,
  'the quote is sent');
select lives_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('quote'), 'accepted') $$,
  'and accepted');
insert into pg_temp.ids select 'from_quote',
  (public.convert_quote(tests.org('main'), pg_temp.id('quote')) #>> '{invoice,id}')::uuid;
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, buyer_reference, purchase_order_reference
     from public.invoices where id = pg_temp.id('from_quote') $$,
  $$ select subtotal, discount, tax_amount, total_amount, buyer_reference, purchase_order_reference
     from public.quotes where id = pg_temp.id('quote') $$,
  'the invoice made from the quote has its totals and references');
select results_eq(
  $$ select vat_category, tax_rate, tax_exemption_reason_code from public.invoice_items
     where invoice_id = pg_temp.id('from_quote') order by position $$,
  $$ select vat_category, tax_rate, tax_exemption_reason_code from public.quote_items
     where quote_id = pg_temp.id('quote') order by position $$,
  'and its lines'' tax fields');

-- Credit notes ---------------------------------------------------------------------
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('from_quote'), '{"status": "sent"}') $$,
  'the invoice is sent');
insert into pg_temp.ids select 'cn_lines', (public.create_credit_note(tests.org('main'), pg_temp.id('from_quote'),
  jsonb_build_object('kind', 'lines', 'lines', jsonb_build_array(
    jsonb_build_object('invoice_item_id', (select id from public.invoice_items
                                           where invoice_id = pg_temp.id('from_quote') and position = 0),
                       'quantity', 1),
    jsonb_build_object('invoice_item_id', (select id from public.invoice_items
                                           where invoice_id = pg_temp.id('from_quote') and position = 2),
                       'quantity', 1)))) ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, tax_rate, tax_exemption_reason_code from public.credit_note_items
     where credit_note_id = pg_temp.id('cn_lines') order by position $$,
  $$ values ('S'::text, 19::numeric, null::text), ('G', 0, 'VATEX-EU-G') $$,
  'a credit note''s lines keep the invoice lines'' effective categories, rates and reasons');
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, buyer_reference, purchase_order_reference
     from public.credit_notes where id = pg_temp.id('cn_lines') $$,
  $$ values (200.00::numeric, 5.14::numeric, 22.21::numeric, 217.07::numeric, 'LW-991'::text, 'PO-12'::text) $$,
  'lines: the invoice''s discount shared out (5.14), split over the groups, tax per group (22.21 + 0)');
select is((select sum(tax_amount) from private.credit_note_tax_breakdown(tests.org('main'), pg_temp.id('cn_lines'))),
  22.21::numeric, 'the credit note''s breakdown sums to its tax');

insert into pg_temp.ids select 'cn_amount', (public.create_credit_note(tests.org('main'), pg_temp.id('from_quote'),
  '{"kind": "amount", "amount": 100}') ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, tax_rate from public.credit_note_items
     where credit_note_id = pg_temp.id('cn_amount') order by position $$,
  $$ values ('G'::text, 0::numeric), ('S', 7), ('S', 19) $$,
  'an amount is spread over the invoice''s groups, a line each');
select results_eq(
  $$ select total_amount, subtotal + tax_amount from public.credit_notes where id = pg_temp.id('cn_amount') $$,
  $$ values (100.00::numeric, 100.00::numeric) $$,
  'the amount is the note''s total exactly');
select is((select sum(tax_amount) from private.credit_note_tax_breakdown(tests.org('main'), pg_temp.id('cn_amount'))),
  (select tax_amount from public.credit_notes where id = pg_temp.id('cn_amount')),
  'its breakdown sums to its tax');
select is(jsonb_array_length(public.get_credit_note(tests.org('main'), pg_temp.id('cn_amount')) -> 'tax_breakdown'), 3,
  'the credit note''s document carries its breakdown');

insert into pg_temp.ids select 'mixed2', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000964", "tax_rate": 19, "discount": 1, "status": "sent"}',
  '[{"description": "A", "quantity": 1, "rate": 10},
    {"description": "B", "quantity": 1, "rate": 10, "vat_category": "AE", "tax_exemption_reason": "Reverse charge"}]')
  ->> 'id')::uuid;
insert into pg_temp.ids select 'cn_whole', (public.create_credit_note(tests.org('main'), pg_temp.id('mixed2'),
  '{"kind": "whole"}') ->> 'id')::uuid;
select results_eq(
  $$ select vat_category, tax_rate, allowance_amount, taxable_amount, tax_amount, tax_exemption_reason
     from private.credit_note_tax_breakdown(tests.org('main'), pg_temp.id('cn_whole')) $$,
  $$ select vat_category, tax_rate, allowance_amount, taxable_amount, tax_amount, tax_exemption_reason
     from private.invoice_tax_breakdown(tests.org('main'), pg_temp.id('mixed2')) $$,
  'a whole credit note has the invoice''s breakdown');
select is((select status from public.invoices where id = pg_temp.id('mixed2')), 'cancelled',
  'and cancels it as before');

-- The client's buyer reference is the invoice's default -----------------------------
reset role;
update public.clients set buyer_reference = '991-LEITWEG-77' where id = 'c0000000-0000-4000-8000-7e5700000964';
select tests.authenticate_as('member');
select is((public.create_invoice(tests.org('main'), '{"client_id": "c0000000-0000-4000-8000-7e5700000964"}',
  '[{"description": "x", "quantity": 1, "rate": 1}]') ->> 'buyer_reference'), '991-LEITWEG-77',
  'an invoice naming no buyer reference takes its client''s');
select is((public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000964", "buyer_reference": "OWN-1"}',
  '[{"description": "x", "quantity": 1, "rate": 1}]') ->> 'buyer_reference'), 'OWN-1',
  'one naming its own keeps it');

-- Recurring profiles -------------------------------------------------------------
insert into pg_temp.ids select 'profile', (public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000964", "frequency": "monthly", "tax_rate": 19,
    "discount": 3, "buyer_reference": "LW-RC", "default_vat_category": "S"}',
  '[{"description": "Hosting", "quantity": 1, "rate": 100},
    {"description": "Newspaper", "quantity": 1, "rate": 20, "tax_rate": 7}]') ->> 'id')::uuid;
select is((public.get_recurring_profile(tests.org('main'), pg_temp.id('profile')) -> 'items' -> 1 ->> 'tax_rate')::numeric,
  7::numeric, 'a profile''s document carries the lines'' effective rates');
insert into pg_temp.ids select 'issued', (public.issue_recurring_profile_now(tests.org('main'), pg_temp.id('profile'))
  #>> '{invoice,id}')::uuid;
select results_eq(
  $$ select i.tax_amount, i.total_amount, i.buyer_reference, i.default_vat_category
     from public.invoices i where i.recurring_profile_id = pg_temp.id('profile') $$,
  $$ values (19.90::numeric, 136.90::numeric, 'LW-RC'::text, 'S'::text) $$,
  'the issued invoice: groups 100 @ 19 and 20 @ 7 with the discount split (2.50 + 0.50): 18.53 + 1.37');
select is(
  (public.preview_recurring_profile(tests.org('main'), pg_temp.id('profile')) #>> '{invoices,0,tax_amount}')::numeric,
  19.90::numeric, 'the preview gives the same tax');
select results_eq(
  $$ select it.tax_rate from public.invoice_items it join public.invoices i on i.id = it.invoice_id
     where i.recurring_profile_id = pg_temp.id('profile') order by it.position $$,
  $$ values (null::numeric), (7) $$,
  'the issued lines keep the profile lines'' stored rates (null: the invoice''s)');

select * from finish();
rollback;
