-- =============================================================================
-- Money rules with awkward numbers (see the top of the invoices migration):
--   item.amount  = round_half_up(quantity * rate, minor unit of the currency)
--   tax_amount   = round_half_up((subtotal - discount) * tax_rate / 100, minor unit)
--   total_amount = subtotal - discount + tax_amount, discount <= subtotal
-- Everything runs as an organization owner (role authenticated, RLS on).
-- =============================================================================
begin;
select plan(73);

-- Helpers for this file only (pg_temp: gone with the session).
create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;
create function pg_temp.org() returns uuid
language sql stable as $$ select tests.org('main') $$;

select tests.create_cast();
insert into public.clients (organization_id, company_name, currency)
values (tests.org('other'), 'Stranger USD', 'USD');

select tests.authenticate_as('owner');

insert into public.clients (organization_id, company_name, currency) values
  (pg_temp.org(), 'Acme USD', 'USD'),
  (pg_temp.org(), 'Move From', 'USD'),
  (pg_temp.org(), 'Move To', 'USD'),
  (pg_temp.org(), 'Yen KK', 'JPY'),
  (pg_temp.org(), 'Kuwait Co', 'KWD');

-- =============================================================================
-- Item amounts: quantity x rate, rounded half-up to cents
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'R-1');

select lives_ok($$
  insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
    (pg_temp.inv('R-1'), 1, 'half a cent',            1,      0.005),
    (pg_temp.inv('R-1'), 2, 'three thirds',           3,      33.335),
    (pg_temp.inv('R-1'), 3, 'one and a half hours',   1.5,    19.99),
    (pg_temp.inv('R-1'), 4, 'a third of a thing',     0.3333, 3),
    (pg_temp.inv('R-1'), 5, 'tiny rate',              2.5,    0.0049),
    (pg_temp.inv('R-1'), 6, 'seven tenths of a cent', 7,      0.0015),
    (pg_temp.inv('R-1'), 7, 'rounds down',            1,      0.0049)
$$, 'items with awkward quantities and rates are accepted');

select results_eq(
  $$ select amount from public.invoice_items where invoice_id = pg_temp.inv('R-1') order by position $$,
  $$ values (0.01), (100.01), (29.99), (1.00), (0.01), (0.01), (0.00) $$,
  'item amounts are quantity x rate rounded half-up to cents (1 x 0.005 = 0.01, 3 x 33.335 = 100.01)'
);
select is(
  (select scale(amount) from public.invoice_items where invoice_id = pg_temp.inv('R-1') and position = 4),
  2, 'a USD item amount is stored with exactly 2 decimals (0.9999 -> 1.00)'
);
select results_eq(
  $$ select subtotal, tax_amount, total_amount, balance_due from public.invoices where id = pg_temp.inv('R-1') $$,
  $$ values (131.03, 0.00, 131.03, 131.03) $$,
  'the subtotal is the sum of the rounded item amounts'
);

select throws_ok($$
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (pg_temp.inv('R-1'), 'too precise', 1, 0.00001)
$$, '23514', null, 'a rate with more than 4 decimals is rejected');
select throws_ok($$
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (pg_temp.inv('R-1'), 'too precise', 0.00001, 1)
$$, '23514', null, 'a quantity with more than 4 decimals is rejected');
select throws_ok($$
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (pg_temp.inv('R-1'), 'nothing', 0, 1)
$$, '23514', null, 'a zero quantity is rejected');
select throws_ok($$
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (pg_temp.inv('R-1'), 'refund?', 1, -5)
$$, '23514', null, 'a negative rate is rejected');
select throws_ok($$
  update public.invoice_items set amount = 1 where invoice_id = pg_temp.inv('R-1')
$$, '428C9', null, 'an item amount cannot be written (it is generated from quantity and rate)');
select throws_ok($$
  update public.invoices set subtotal = 1, total_amount = 1 where id = pg_temp.inv('R-1')
$$, '42501', null, 'the API role cannot write invoice totals (they are derived)');

-- =============================================================================
-- Tax on (subtotal - discount), rounded half-up
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, tax_rate) values
  (pg_temp.org(), pg_temp.client('Acme USD'), 'T-1', 5),
  (pg_temp.org(), pg_temp.client('Acme USD'), 'T-2', 7.5),
  (pg_temp.org(), pg_temp.client('Acme USD'), 'T-3', 8.875),
  (pg_temp.org(), pg_temp.client('Acme USD'), 'T-4', 8.25);
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  (pg_temp.inv('T-1'), 'ten ten', 1, 10.10),
  (pg_temp.inv('T-2'), 'hundred', 1, 100),
  (pg_temp.inv('T-3'), 'hundred', 1, 100),
  (pg_temp.inv('T-4'), 'thirty-three', 1, 33.33);
update public.invoices set discount = 10 where id = pg_temp.inv('T-2');
update public.invoices set discount = 0.33 where id = pg_temp.inv('T-4');

select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.inv('T-1') $$,
  $$ values (10.10, 0.00, 0.51, 10.61) $$,
  '5% of 10.10 is 0.505, rounded half-up to 0.51 (not to even)'
);
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.inv('T-2') $$,
  $$ values (100.00, 10.00, 6.75, 96.75) $$,
  'tax is charged on subtotal - discount: 7.5% of 90.00'
);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('T-3') $$,
  $$ values (100.00, 8.88, 108.88) $$,
  'a three-decimal tax rate: 8.875% of 100.00 = 8.875 -> 8.88'
);
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.inv('T-4') $$,
  $$ values (33.33, 0.33, 2.72, 35.72) $$,
  '8.25% of (33.33 - 0.33) = 2.7225 -> 2.72 (not 8.25% of 33.33 = 2.75)'
);
select throws_ok(
  $$ update public.invoices set tax_rate = 8.8755 where id = pg_temp.inv('T-3') $$,
  '23514', null, 'a tax rate with more than 3 decimals is rejected'
);
select throws_ok(
  $$ update public.invoices set tax_rate = 100.5 where id = pg_temp.inv('T-3') $$,
  '23514', null, 'a tax rate above 100% is rejected'
);

-- =============================================================================
-- Discounts
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, tax_rate)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'D-1', 20);
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('D-1'), 'everything', 2, 125);

select lives_ok(
  $$ update public.invoices set discount = 250 where id = pg_temp.inv('D-1') $$,
  'a 100% discount is accepted'
);
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, balance_due from public.invoices where id = pg_temp.inv('D-1') $$,
  $$ values (250.00, 250.00, 0.00, 0.00, 0.00) $$,
  'a 100% discount leaves nothing to tax and a total of 0'
);
select throws_ok(
  $$ update public.invoices set discount = 250.01 where id = pg_temp.inv('D-1') $$,
  '23514', null, 'a discount above the subtotal is rejected'
);
select throws_ok(
  $$ update public.invoices set discount = 10.005 where id = pg_temp.inv('T-2') $$,
  '23514', null, 'a discount with more decimals than the currency has (10.005 USD) is rejected'
);
select throws_ok(
  $$ update public.invoices set discount = -1 where id = pg_temp.inv('T-2') $$,
  '23514', null, 'a negative discount is rejected'
);
select is(
  (select discount from public.invoices where id = pg_temp.inv('T-2')), 10.00::numeric,
  'a rejected discount leaves the old one'
);

-- Payments must fit the currency too.
update public.invoices set status = 'sent' where id = pg_temp.inv('T-2');
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('T-2'), 10.005) $$,
  '23514', null, 'a payment of 10.005 USD is rejected, not rounded'
);
select is(
  (select count(*)::int from public.payments where invoice_id = pg_temp.inv('T-2')), 0,
  'the rejected payment was not written'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('T-2'), 10) $$,
  'a payment of 10 USD is accepted'
);
select is(
  (select amount::text from public.payments where invoice_id = pg_temp.inv('T-2')), '10.00',
  'a payment is stored at the currency''s scale (10 -> 10.00)'
);

-- =============================================================================
-- Currencies with 0 (JPY) and 3 (KWD) decimals: the client's currency decides
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, tax_rate)
values (pg_temp.org(), pg_temp.client('Yen KK'), 'J-1', 10);
select is(
  (select currency from public.invoices where id = pg_temp.inv('J-1')), 'JPY',
  'an invoice takes its client''s currency (JPY)'
);
select throws_ok($$
  insert into public.invoices (organization_id, client_id, invoice_number, currency)
  values (pg_temp.org(), pg_temp.client('Yen KK'), 'J-2', 'USD')
$$, '23503', null, 'an invoice in another currency than its client''s is rejected');

insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
  (pg_temp.inv('J-1'), 1, 'thousand and a half', 3, 333.5),
  (pg_temp.inv('J-1'), 2, 'less than half a yen', 1, 0.4),
  (pg_temp.inv('J-1'), 3, 'half a yen', 1, 0.5);
select is(
  (select currency from public.invoice_items where invoice_id = pg_temp.inv('J-1') limit 1), 'JPY',
  'items take their invoice''s currency'
);
select results_eq(
  $$ select amount from public.invoice_items where invoice_id = pg_temp.inv('J-1') order by position $$,
  $$ values (1001::numeric), (0), (1) $$,
  'JPY amounts round half-up to whole yen (1000.5 -> 1001, 0.4 -> 0, 0.5 -> 1)'
);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('J-1') $$,
  $$ values (1002::numeric, 100::numeric, 1102::numeric) $$,
  'JPY tax: 10% of 1002 = 100.2 -> 100'
);
select throws_ok(
  $$ update public.invoices set discount = 0.5 where id = pg_temp.inv('J-1') $$,
  '23514', null, 'a discount of 0.5 JPY is rejected'
);
select lives_ok(
  $$ update public.invoices set discount = 7 where id = pg_temp.inv('J-1') $$,
  'a discount of 7 JPY is accepted'
);
select results_eq(
  $$ select tax_amount, total_amount from public.invoices where id = pg_temp.inv('J-1') $$,
  $$ values (100::numeric, 1095::numeric) $$,
  'JPY tax on 995 = 99.5 -> 100, total 1095'
);
update public.invoices set status = 'sent' where id = pg_temp.inv('J-1');
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('J-1'), 0.5) $$,
  '23514', null, 'a payment of 0.5 JPY is rejected'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('J-1'), 1095) $$,
  'a payment of 1095 JPY is accepted'
);
select results_eq(
  $$ select status, amount_paid, balance_due from public.invoices where id = pg_temp.inv('J-1') $$,
  $$ values ('paid'::text, 1095::numeric, 0::numeric) $$,
  'the JPY invoice is paid'
);

insert into public.invoices (organization_id, client_id, invoice_number, tax_rate)
values (pg_temp.org(), pg_temp.client('Kuwait Co'), 'K-1', 5);
insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
  (pg_temp.inv('K-1'), 1, 'fils', 1, 1.2345),
  (pg_temp.inv('K-1'), 2, 'half fils', 2, 0.0005);
select is(
  (select currency from public.invoices where id = pg_temp.inv('K-1')), 'KWD',
  'an invoice takes its client''s currency (KWD)'
);
select results_eq(
  $$ select amount from public.invoice_items where invoice_id = pg_temp.inv('K-1') order by position $$,
  $$ values (1.235), (0.001) $$,
  'KWD amounts round half-up to 3 decimals (1.2345 -> 1.235)'
);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('K-1') $$,
  $$ values (1.236, 0.062, 1.298) $$,
  'KWD tax: 5% of 1.236 = 0.0618 -> 0.062'
);
update public.invoices set status = 'sent' where id = pg_temp.inv('K-1');
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('K-1'), 1.2345) $$,
  '23514', null, 'a payment of 1.2345 KWD is rejected'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('K-1'), 1.298) $$,
  'a payment of 1.298 KWD is accepted'
);
select is(
  (select status from public.invoices where id = pg_temp.inv('K-1')), 'paid',
  'the KWD invoice is paid to the fils'
);
select is(
  (select outstanding_balance from public.clients where id = pg_temp.client('Kuwait Co')), 0::numeric,
  'the KWD client owes nothing'
);

-- =============================================================================
-- Totals follow items, tax rate and discount
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, tax_rate)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'F-1', 10);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (0.00, 0.00, 0.00) $$,
  'a new invoice without items totals 0'
);
insert into public.invoice_items (invoice_id, position, description, quantity, rate)
values (pg_temp.inv('F-1'), 1, 'first', 2, 50);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (100.00, 10.00, 110.00) $$,
  'inserting an item updates the totals'
);
update public.invoice_items set quantity = 3 where invoice_id = pg_temp.inv('F-1') and position = 1;
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (150.00, 15.00, 165.00) $$,
  'updating an item''s quantity updates the totals'
);
insert into public.invoice_items (invoice_id, position, description, quantity, rate)
values (pg_temp.inv('F-1'), 2, 'second', 1, 0.99);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (150.99, 15.10, 166.09) $$,
  'a second item: 10% of 150.99 = 15.099 -> 15.10'
);
update public.invoice_items set rate = 0.95 where invoice_id = pg_temp.inv('F-1') and position = 2;
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (150.95, 15.10, 166.05) $$,
  'updating an item''s rate updates the totals (15.095 -> 15.10)'
);
delete from public.invoice_items where invoice_id = pg_temp.inv('F-1') and position = 1;
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (0.95, 0.10, 1.05) $$,
  'deleting an item updates the totals (0.095 -> 0.10)'
);
update public.invoices set tax_rate = 0 where id = pg_temp.inv('F-1');
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (0.95, 0.00, 0.95) $$,
  'changing the tax rate alone updates tax and total'
);
update public.invoices set tax_rate = 25 where id = pg_temp.inv('F-1');
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (0.95, 0.24, 1.19) $$,
  '25% of 0.95 = 0.2375 -> 0.24'
);
update public.invoices set discount = 0.45 where id = pg_temp.inv('F-1');
select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount from public.invoices where id = pg_temp.inv('F-1') $$,
  $$ values (0.95, 0.45, 0.13, 0.63) $$,
  'changing the discount alone updates tax and total: 25% of 0.50 = 0.125 -> 0.13'
);

-- =============================================================================
-- Many items in one statement
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, tax_rate)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'B-1', 10);
select lives_ok($$
  insert into public.invoice_items (invoice_id, position, description, quantity, rate)
  select pg_temp.inv('B-1'), g, 'line ' || g, 0.5, g * 0.01
  from generate_series(1, 500) g
$$, '500 items inserted in one statement');
select results_eq(
  $$ select count(*)::int, sum(amount) from public.invoice_items where invoice_id = pg_temp.inv('B-1') $$,
  $$ values (500, 627.50) $$,
  'each of the 500 half-cent amounts is rounded half-up: sum of ceil(g/2) cents = 627.50'
);
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('B-1') $$,
  $$ values (627.50, 62.75, 690.25) $$,
  'the bulk insert gives the right subtotal, tax and total'
);
select lives_ok($$
  update public.invoice_items set quantity = 1 where invoice_id = pg_temp.inv('B-1') and position <= 100
$$, '100 items updated in one statement');
select results_eq(
  $$ select subtotal, (select sum(amount) from public.invoice_items where invoice_id = pg_temp.inv('B-1'))
     from public.invoices where id = pg_temp.inv('B-1') $$,
  $$ values (652.50, 652.50) $$,
  'after a bulk update the subtotal is the sum of the items (627.50 - 25.50 + 50.50 = 652.50)'
);
select lives_ok($$
  delete from public.invoice_items where invoice_id = pg_temp.inv('B-1') and position > 10
$$, '490 items deleted in one statement');
select results_eq(
  $$ select subtotal, tax_amount, total_amount from public.invoices where id = pg_temp.inv('B-1') $$,
  $$ values (0.55, 0.06, 0.61) $$,
  'after a bulk delete: items 1..10 at quantity 1 = 0.55, tax 0.055 -> 0.06'
);

-- =============================================================================
-- Moving an invoice to another client of the organization
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number, issue_date)
values (pg_temp.org(), pg_temp.client('Move From'), 'MV-1', current_date - 3);
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('MV-1'), 'work', 1, 200);
update public.invoices set status = 'sent' where id = pg_temp.inv('MV-1');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('MV-1'), 50);

select results_eq(
  $$ select total_billed, outstanding_balance, last_invoice_date from public.clients
     where id = pg_temp.client('Move From') $$,
  $$ values (200.00, 150.00, current_date - 3) $$,
  'before the move, the first client carries the invoice'
);
-- A sent invoice moves only as a correction by the service role (members are
-- refused: 135-issued-invoices-keep-their-identity.sql); the totals follow either way.
select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.invoices set client_id = pg_temp.client('Move To') where id = pg_temp.inv('MV-1') $$,
  'an invoice can move to another client of the same organization and currency'
);
select results_eq(
  $$ select company_name, total_billed, outstanding_balance, last_invoice_date from public.clients
     where id in (pg_temp.client('Move From'), pg_temp.client('Move To')) order by company_name $$,
  $$ values ('Move From'::text, 0.00, 0.00, null::date), ('Move To', 200.00, 150.00, current_date - 3) $$,
  'after the move, both clients'' totals are right'
);
select throws_ok(
  $$ update public.invoices set client_id = pg_temp.client('Yen KK') where id = pg_temp.inv('MV-1') $$,
  '23503', null, 'an invoice cannot move to a client with another currency'
);
select throws_ok(
  $$ update public.invoices set client_id = (select tests.org('other')) where id = pg_temp.inv('MV-1') $$,
  '23503', null, 'an invoice cannot move to a non-existent client'
);
select tests.authenticate_as('owner');
select tests.as_superuser();
select throws_ok(
  format($$ update public.invoices set client_id = %L where id = %L $$,
         (select id from public.clients where company_name = 'Stranger USD'), pg_temp.inv('MV-1')),
  '23503', null, 'an invoice cannot point at another organization''s client, even for a superuser'
);
select tests.authenticate_as('owner');

-- =============================================================================
-- Removing items below the discount
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'DS-1');
insert into public.invoice_items (invoice_id, position, description, quantity, rate) values
  (pg_temp.inv('DS-1'), 1, 'half', 1, 50),
  (pg_temp.inv('DS-1'), 2, 'other half', 1, 50);
update public.invoices set discount = 80 where id = pg_temp.inv('DS-1');
select throws_ok(
  $$ delete from public.invoice_items where invoice_id = pg_temp.inv('DS-1') and position = 2 $$,
  '23514', null, 'removing an item so that the subtotal falls below the discount is rejected'
);
select throws_ok(
  $$ update public.invoice_items set rate = 10 where invoice_id = pg_temp.inv('DS-1') and position = 2 $$,
  '23514', null, 'lowering a rate so that the subtotal falls below the discount is rejected'
);
select results_eq(
  $$ select (select count(*)::int from public.invoice_items where invoice_id = i.id), i.subtotal, i.total_amount
     from public.invoices i where i.id = pg_temp.inv('DS-1') $$,
  $$ values (2, 100.00, 20.00) $$,
  'after the rejections, the items and totals are unchanged'
);

-- Lowering the total below what has been paid is rejected as well.
insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org(), pg_temp.client('Acme USD'), 'LP-1');
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('LP-1'), 'work', 1, 100);
update public.invoices set status = 'sent' where id = pg_temp.inv('LP-1');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('LP-1'), 60);
select throws_ok(
  $$ update public.invoices set discount = 50 where id = pg_temp.inv('LP-1') $$,
  '23514', null, 'a discount that would bring the total below the amount paid is rejected'
);
select throws_ok(
  $$ update public.invoice_items set rate = 59.99 where invoice_id = pg_temp.inv('LP-1') $$,
  '23514', null, 'an item change that would bring the total below the amount paid is rejected'
);
select lives_ok(
  $$ update public.invoices set discount = 40 where id = pg_temp.inv('LP-1') $$,
  'a discount down to exactly the amount paid is accepted'
);
select results_eq(
  $$ select status, total_amount, amount_paid, balance_due from public.invoices where id = pg_temp.inv('LP-1') $$,
  $$ values ('paid'::text, 60.00, 60.00, 0.00) $$,
  'and then the invoice is paid'
);

select * from finish();
rollback;
