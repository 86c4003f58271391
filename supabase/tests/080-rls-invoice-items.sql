-- =============================================================================
-- RLS on public.invoice_items: every member of the organization reads them,
-- members and up write them, viewers only read, strangers see and touch
-- nothing, an item always belongs to an invoice of its own organization
-- (composite foreign key), and its amount is derived (generated column).
-- =============================================================================
begin;
select plan(48);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'USD');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'V-1'),
  ('e0000000-0000-4000-8000-7e5700000003', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'V-2'),
  ('e0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000002', 'S-1');
insert into public.invoice_items (id, invoice_id, description, quantity, rate) values
  ('f0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000001', 'Victim work', 1, 40),
  ('f0000000-0000-4000-8000-7e5700000002', 'e0000000-0000-4000-8000-7e5700000002', 'Stranger work', 1, 70);

-- The subtotal of an invoice, read past RLS.
create function pg_temp.subtotal_of(invoice uuid)
returns numeric
language sql
security definer
set search_path = ''
as $$
  select i.subtotal from public.invoices i where i.id = invoice
$$;
grant execute on function pg_temp.subtotal_of(uuid) to anon, authenticated, service_role;

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select description from public.invoice_items $$,
  $$ values ('Victim work'::text) $$,
  'owner sees the organization''s invoice items and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  'admin can see the organization''s invoice item'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  'member can see the organization''s invoice item'
);

select tests.authenticate_as('viewer');
select is(
  (select amount from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001'),
  40.00::numeric,
  'viewer can see the organization''s invoice item'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.invoice_items where organization_id = tests.org('main') $$,
  'stranger cannot see the organization''s invoice items'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.invoice_items $$,
  '42501', null,
  'anon cannot read invoice items'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.invoice_items
   where id in ('f0000000-0000-4000-8000-7e5700000001', 'f0000000-0000-4000-8000-7e5700000002')),
  2, 'the service role sees every invoice item'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.invoice_items (id, invoice_id, description, quantity, rate)
     values ('f0000000-0000-4000-8000-7e5700000011', 'e0000000-0000-4000-8000-7e5700000001', 'Added by owner', 1, 10) $$,
  'owner can add an invoice item'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.invoice_items (id, invoice_id, description, quantity, rate)
     values ('f0000000-0000-4000-8000-7e5700000012', 'e0000000-0000-4000-8000-7e5700000001', 'Added by admin', 1, 10) $$,
  'admin can add an invoice item'
);

select tests.authenticate_as('member');
select results_eq(
  $$ insert into public.invoice_items (id, invoice_id, description, quantity, rate)
     values ('f0000000-0000-4000-8000-7e5700000013', 'e0000000-0000-4000-8000-7e5700000001', 'Added by member', 2, 10)
     returning organization_id, currency, amount $$,
  $$ values (tests.org('main'), 'USD'::text, 20.00::numeric) $$,
  'member can add an invoice item and gets it back, completed from its invoice'
);
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate, amount)
     values ('e0000000-0000-4000-8000-7e5700000001', 'Priced by hand', 1, 10, 1000) $$,
  '428C9', null,
  'member cannot set an item''s amount (it is derived)'
);
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate)
     values ('e0000000-0000-4000-8000-7e5700000002', 'Planted by member', 1, 1) $$,
  '42501', null,
  'member cannot add an item to another organization''s invoice'
);
select throws_ok(
  $$ insert into public.invoice_items (organization_id, currency, invoice_id, description, quantity, rate)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 'Planted by member', 1, 1) $$,
  '23503', null,
  'member cannot attach an item to another organization''s invoice under their own organization'
);
select throws_ok(
  $$ insert into public.invoice_items (organization_id, currency, invoice_id, description, quantity, rate)
     values (tests.org('other'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 'Planted by member', 1, 1) $$,
  '42501', null,
  'member cannot add an item in another organization'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate)
     values ('e0000000-0000-4000-8000-7e5700000001', 'Added by viewer', 1, 1) $$,
  '42501', null,
  'viewer cannot add an invoice item'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate)
     values ('e0000000-0000-4000-8000-7e5700000001', 'Planted by stranger', 1, 1000) $$,
  '42501', null,
  'stranger cannot add an item to the organization''s invoice by its id'
);
select throws_ok(
  $$ insert into public.invoice_items (organization_id, currency, invoice_id, description, quantity, rate)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000001', 'Planted by stranger', 1, 1000) $$,
  '42501', null,
  'stranger cannot add an item naming the organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate)
     values ('e0000000-0000-4000-8000-7e5700000001', 'Added by anon', 1, 1) $$,
  '42501', null,
  'anon cannot add an invoice item'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.invoice_items (id, invoice_id, description, quantity, rate)
     values ('f0000000-0000-4000-8000-7e5700000014', 'e0000000-0000-4000-8000-7e5700000003', 'Added by service', 1, 5) $$,
  'the service role can add an invoice item'
);
select throws_ok(
  $$ insert into public.invoice_items (organization_id, currency, invoice_id, description, quantity, rate)
     values (tests.org('main'), 'USD', 'e0000000-0000-4000-8000-7e5700000002', 'Crossed by service', 1, 1) $$,
  '23503', null,
  'even the service role cannot attach an item to an invoice of another organization'
);

select tests.as_superuser();
select results_eq(
  $$ select pg_temp.subtotal_of('e0000000-0000-4000-8000-7e5700000001'),
            pg_temp.subtotal_of('e0000000-0000-4000-8000-7e5700000003'),
            pg_temp.subtotal_of('e0000000-0000-4000-8000-7e5700000002') $$,
  $$ values (80.00::numeric, 5.00::numeric, 70.00::numeric) $$,
  'the allowed items count in their invoices'' subtotals, and nothing reached the stranger''s invoice'
);
select is_empty(
  $$ select 1 from public.invoice_items where description like 'Planted%' or description like 'Crossed%' $$,
  'none of the refused items exist'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.invoice_items set description = 'Edited by owner' where id = 'f0000000-0000-4000-8000-7e5700000011' $$,
  'owner can edit an invoice item'
);
select is(
  (select description from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000011'),
  'Edited by owner', 'owner''s edit is stored'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.invoice_items set position = 5 where id = 'f0000000-0000-4000-8000-7e5700000012' $$,
  'admin can edit an invoice item'
);
select is(
  (select position from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000012'),
  5, 'admin''s edit is stored'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ update public.invoice_items set quantity = 3, rate = 20 where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  'member can edit an invoice item'
);
select results_eq(
  $$ select it.amount, i.subtotal from public.invoice_items it join public.invoices i on i.id = it.invoice_id
     where it.id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (60.00::numeric, 100.00::numeric) $$,
  'member''s edit is stored and the invoice''s subtotal follows it'
);
select throws_ok(
  $$ update public.invoice_items set amount = 1 where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  '428C9', null,
  'member cannot write an item''s amount (it is derived)'
);
select throws_ok(
  $$ update public.invoice_items set invoice_id = 'e0000000-0000-4000-8000-7e5700000003'
     where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move an item to another invoice'
);
select throws_ok(
  $$ update public.invoice_items set organization_id = tests.org('other')
     where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move an item to another organization'
);
select throws_ok(
  $$ update public.invoice_items set currency = 'EUR' where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot change an item''s currency'
);

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ update public.invoice_items set rate = 0 where id = 'f0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot edit an invoice item');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ update public.invoice_items set rate = 0 where id = 'f0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot edit the organization''s invoice item by its id');

select tests.clear_authentication();
select throws_ok(
  $$ update public.invoice_items set rate = 0 $$,
  '42501', null,
  'anon cannot edit invoice items'
);

select tests.as_superuser();
select results_eq(
  $$ select quantity, rate, invoice_id from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (3::numeric, 20::numeric, 'e0000000-0000-4000-8000-7e5700000001'::uuid) $$,
  'the refused edits left the item as the member left it'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.invoice_items set description = 'Edited by service' where id = 'f0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can edit any invoice item'
);
select is(
  (select description from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000002'),
  'Edited by service', 'the service role''s edit is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot delete an invoice item');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot delete the organization''s invoice item by its id');

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.invoice_items $$,
  '42501', null,
  'anon cannot delete invoice items'
);

select tests.as_superuser();
select is(
  (select count(*)::int from public.invoice_items where invoice_id = 'e0000000-0000-4000-8000-7e5700000001'),
  4, 'the refused deletions left the invoice''s four items in place'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000011' $$,
  'owner can delete an invoice item'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000012' $$,
  'admin can delete an invoice item'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000013' $$,
  'member can delete an invoice item'
);

select tests.as_superuser();
select results_eq(
  $$ select count(*)::int, pg_temp.subtotal_of('e0000000-0000-4000-8000-7e5700000001')
     from public.invoice_items where invoice_id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  $$ values (1, 60.00::numeric) $$,
  'the deleted items are gone and the invoice''s subtotal follows'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can delete any invoice item'
);
select is_empty(
  $$ select 1 from public.invoice_items where id = 'f0000000-0000-4000-8000-7e5700000002' $$,
  'the item deleted by the service role is gone'
);

select * from finish();
rollback;
