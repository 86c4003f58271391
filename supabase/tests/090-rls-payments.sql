-- =============================================================================
-- RLS on public.payments: every member of the organization reads them, members
-- and up record, change and delete them, viewers only read, strangers see and
-- touch nothing, and a payment always belongs to an invoice of its own
-- organization (composite foreign key).
-- =============================================================================
begin;
select plan(49);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

-- One sent invoice of 100.00 in each organization, each with a payment of 10.00.
insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'USD');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'V-1'),
  ('e0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000002', 'S-1');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000001', 'Victim work', 1, 100),
  ('e0000000-0000-4000-8000-7e5700000002', 'Stranger work', 1, 100);
update public.invoices set status = 'sent'
where id in ('e0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000002');
insert into public.payments (id, invoice_id, amount, notes) values
  ('d0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000001', 10, 'original'),
  ('d0000000-0000-4000-8000-7e5700000002', 'e0000000-0000-4000-8000-7e5700000002', 10, 'original');

-- What has been paid on an invoice, read past RLS.
create function pg_temp.paid_on(invoice uuid)
returns numeric
language sql
security definer
set search_path = ''
as $$
  select i.amount_paid from public.invoices i where i.id = invoice
$$;
grant execute on function pg_temp.paid_on(uuid) to anon, authenticated, service_role;

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select id from public.payments $$,
  $$ values ('d0000000-0000-4000-8000-7e5700000001'::uuid) $$,
  'owner sees the organization''s payments and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  'admin can see the organization''s payment'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  'member can see the organization''s payment'
);

select tests.authenticate_as('viewer');
select is(
  (select amount from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001'),
  10.00::numeric,
  'viewer can see the organization''s payment'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.payments where organization_id = tests.org('main') $$,
  'stranger cannot see the organization''s payments'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.payments $$,
  '42501', null,
  'anon cannot read payments'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.payments
   where id in ('d0000000-0000-4000-8000-7e5700000001', 'd0000000-0000-4000-8000-7e5700000002')),
  2, 'the service role sees every payment'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.payments (id, invoice_id, amount)
     values ('d0000000-0000-4000-8000-7e5700000011', 'e0000000-0000-4000-8000-7e5700000001', 5) $$,
  'owner can record a payment'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.payments (id, invoice_id, amount)
     values ('d0000000-0000-4000-8000-7e5700000012', 'e0000000-0000-4000-8000-7e5700000001', 5) $$,
  'admin can record a payment'
);

select tests.authenticate_as('member');
select results_eq(
  $$ insert into public.payments (id, invoice_id, amount, payment_method)
     values ('d0000000-0000-4000-8000-7e5700000013', 'e0000000-0000-4000-8000-7e5700000001', 5, 'cash')
     returning organization_id, currency, amount $$,
  $$ values (tests.org('main'), 'USD'::text, 5.00::numeric) $$,
  'member can record a payment and gets it back, completed from its invoice'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount, created_by)
     values ('e0000000-0000-4000-8000-7e5700000001', 1, tests.actor('owner')) $$,
  '42501', null,
  'member cannot pretend someone else recorded a payment'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount)
     values ('e0000000-0000-4000-8000-7e5700000002', 1) $$,
  '42501', null,
  'member cannot record a payment on another organization''s invoice'
);
select throws_ok(
  $$ insert into public.payments (organization_id, currency, invoice_id, amount)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 1) $$,
  '23503', null,
  'member cannot attach a payment to another organization''s invoice under their own organization'
);
select throws_ok(
  $$ insert into public.payments (organization_id, currency, invoice_id, amount)
     values (tests.org('other'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 1) $$,
  '42501', null,
  'member cannot record a payment in another organization'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values ('e0000000-0000-4000-8000-7e5700000001', 1) $$,
  '42501', null,
  'viewer cannot record a payment'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values ('e0000000-0000-4000-8000-7e5700000001', 90) $$,
  '42501', null,
  'stranger cannot record a payment on the organization''s invoice by its id'
);
select throws_ok(
  $$ insert into public.payments (organization_id, currency, invoice_id, amount)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000001', 90) $$,
  '42501', null,
  'stranger cannot record a payment naming the organization'
);
select throws_ok(
  $$ insert into public.payments (organization_id, currency, invoice_id, amount)
     values (tests.org('other'), 'USD', 'e0000000-0000-4000-8000-7e5700000001', 90) $$,
  '23503', null,
  'stranger cannot attach a payment to the organization''s invoice from their own organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values ('e0000000-0000-4000-8000-7e5700000001', 1) $$,
  '42501', null,
  'anon cannot record a payment'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.payments (id, invoice_id, amount)
     values ('d0000000-0000-4000-8000-7e5700000014', 'e0000000-0000-4000-8000-7e5700000001', 5) $$,
  'the service role can record a payment'
);
select throws_ok(
  $$ insert into public.payments (organization_id, currency, invoice_id, amount)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 1) $$,
  '23503', null,
  'even the service role cannot attach a payment to an invoice of another organization'
);

select tests.as_superuser();
select results_eq(
  $$ select pg_temp.paid_on('e0000000-0000-4000-8000-7e5700000001'),
            pg_temp.paid_on('e0000000-0000-4000-8000-7e5700000002'),
            (select count(*)::int from public.payments
             where invoice_id in ('e0000000-0000-4000-8000-7e5700000001',
                                  'e0000000-0000-4000-8000-7e5700000002')) $$,
  $$ values (30.00::numeric, 10.00::numeric, 6) $$,
  'the allowed payments count on the invoice, and no refused payment exists'
);
select results_eq(
  $$ select id, created_by from public.payments where id::text like 'd0000000-0000-4000-8000-7e570000001_' order by id $$,
  $$ values ('d0000000-0000-4000-8000-7e5700000011'::uuid, tests.actor('owner')),
            ('d0000000-0000-4000-8000-7e5700000012', tests.actor('admin')),
            ('d0000000-0000-4000-8000-7e5700000013', tests.actor('member')),
            ('d0000000-0000-4000-8000-7e5700000014', null) $$,
  'each payment is recorded with who recorded it'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.payments set notes = 'edited by owner' where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  'owner can edit a payment'
);
select is(
  (select notes from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001'),
  'edited by owner', 'owner''s edit is stored'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.payments set reference_number = 'REF-42' where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  'admin can edit a payment'
);
select is(
  (select reference_number from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001'),
  'REF-42', 'admin''s edit is stored'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ update public.payments set amount = 20 where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  'member can edit a payment'
);
select results_eq(
  $$ select p.amount, i.amount_paid from public.payments p join public.invoices i on i.id = p.invoice_id
     where p.id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (20.00::numeric, 40.00::numeric) $$,
  'member''s edit is stored and the invoice''s amount paid follows it'
);
select throws_ok(
  $$ update public.payments set invoice_id = 'e0000000-0000-4000-8000-7e5700000002'
     where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move a payment to another invoice'
);
select throws_ok(
  $$ update public.payments set organization_id = tests.org('other')
     where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move a payment to another organization'
);
select throws_ok(
  $$ update public.payments set currency = 'EUR' where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot change a payment''s currency'
);
select throws_ok(
  $$ update public.payments set created_by = tests.actor('owner')
     where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot rewrite who recorded a payment'
);

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ update public.payments set amount = 1 where id = 'd0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot edit a payment');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ update public.payments set amount = 1 where id = 'd0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot edit the organization''s payment by its id');

select tests.clear_authentication();
select throws_ok(
  $$ update public.payments set amount = 1 $$,
  '42501', null,
  'anon cannot edit payments'
);

select tests.as_superuser();
select results_eq(
  $$ select amount, invoice_id, organization_id from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (20.00::numeric, 'e0000000-0000-4000-8000-7e5700000001'::uuid, tests.org('main')) $$,
  'the refused edits left the payment as the member left it'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.payments set notes = 'edited by service' where id = 'd0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can edit any payment'
);
select is(
  (select notes from public.payments where id = 'd0000000-0000-4000-8000-7e5700000002'),
  'edited by service', 'the service role''s edit is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot delete a payment');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot delete the organization''s payment by its id');

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.payments $$,
  '42501', null,
  'anon cannot delete payments'
);

select tests.as_superuser();
select is(
  (select count(*)::int from public.payments where invoice_id = 'e0000000-0000-4000-8000-7e5700000001'),
  5, 'the refused deletions left the invoice''s five payments in place'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000011' $$,
  'owner can delete a payment'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000012' $$,
  'admin can delete a payment'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000013' $$,
  'member can delete a payment'
);

select tests.as_superuser();
select results_eq(
  $$ select count(*)::int, pg_temp.paid_on('e0000000-0000-4000-8000-7e5700000001')
     from public.payments where invoice_id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (2, 25.00::numeric) $$,
  'the deleted payments are gone and the invoice''s amount paid follows'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can delete any payment'
);
select results_eq(
  $$ select (select count(*)::int from public.payments where id = 'd0000000-0000-4000-8000-7e5700000002'),
            pg_temp.paid_on('e0000000-0000-4000-8000-7e5700000002') $$,
  $$ values (0, 0.00::numeric) $$,
  'the payment deleted by the service role is gone and its invoice is unpaid again'
);

select * from finish();
rollback;
