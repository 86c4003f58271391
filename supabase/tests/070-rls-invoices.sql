-- =============================================================================
-- RLS on public.invoices: every member of the organization reads them, members
-- and up write them, viewers only read, strangers see and touch nothing, an
-- invoice's client is always a client of its organization (composite foreign
-- key), and the derived money columns are never writable by the API roles.
-- =============================================================================
begin;
select plan(58);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'USD');

-- Victim: a draft with one item, and a sent invoice of 100.00. Stranger: a draft.
insert into public.invoices (id, organization_id, client_id, invoice_number, notes) values
  ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'V-DRAFT', 'original'),
  ('e0000000-0000-4000-8000-7e5700000003', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'V-SENT', 'original'),
  ('e0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000002', 'S-DRAFT', 'original');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000001', 'Draft work', 1, 40),
  ('e0000000-0000-4000-8000-7e5700000003', 'Sent work', 1, 100);
update public.invoices set status = 'sent' where id = 'e0000000-0000-4000-8000-7e5700000003';

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select invoice_number from public.invoices order by invoice_number $$,
  $$ values ('V-DRAFT'::text), ('V-SENT') $$,
  'owner sees the organization''s invoices and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'admin can see the organization''s invoice'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'member can see the organization''s invoice'
);

select tests.authenticate_as('viewer');
select results_eq(
  $$ select total_amount, balance_due from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  $$ values (100.00::numeric, 100.00::numeric) $$,
  'viewer can see the organization''s invoice and its amounts'
);
select is_empty(
  $$ select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000002' $$,
  'viewer cannot see another organization''s invoice'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.invoices where organization_id = tests.org('main') $$,
  'stranger cannot see the organization''s invoices'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.invoices $$,
  '42501', null,
  'anon cannot read invoices'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.invoices
   where id in ('e0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000002')),
  2, 'the service role sees every invoice'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.invoices (id, organization_id, client_id)
     values ('e0000000-0000-4000-8000-7e5700000011', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001') $$,
  'owner can create an invoice'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.invoices (id, organization_id, client_id)
     values ('e0000000-0000-4000-8000-7e5700000012', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001') $$,
  'admin can create an invoice'
);

select tests.authenticate_as('member');
select results_eq(
  $$ insert into public.invoices (id, organization_id, client_id, tax_rate)
     values ('e0000000-0000-4000-8000-7e5700000013', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 10)
     returning status, currency, total_amount $$,
  $$ values ('draft'::text, 'USD'::text, 0.00::numeric) $$,
  'member can create an invoice and gets it back'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, subtotal)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 500) $$,
  '42501', null,
  'member cannot set a new invoice''s subtotal'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, total_amount)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 500) $$,
  '42501', null,
  'member cannot set a new invoice''s total_amount'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, amount_paid)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 0) $$,
  '42501', null,
  'member cannot set a new invoice''s amount_paid'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, tax_amount)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 5) $$,
  '42501', null,
  'member cannot set a new invoice''s tax_amount'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, created_by)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', tests.actor('owner')) $$,
  '42501', null,
  'member cannot pretend someone else created an invoice'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, currency)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000002', 'USD') $$,
  '23503', null,
  'member cannot bill another organization''s client'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000002') $$,
  '23503', null,
  'member cannot bill another organization''s client even without naming a currency'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, currency)
     values (tests.org('other'), 'c0000000-0000-4000-8000-7e5700000002', 'USD') $$,
  '42501', null,
  'member cannot create an invoice in another organization'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001') $$,
  '42501', null,
  'viewer cannot create an invoice'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, currency)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'USD') $$,
  '42501', null,
  'stranger cannot create an invoice in the organization'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, currency)
     values (tests.org('other'), 'c0000000-0000-4000-8000-7e5700000001', 'USD') $$,
  '23503', null,
  'stranger cannot bill the organization''s client from their own organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001') $$,
  '42501', null,
  'anon cannot create an invoice'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.invoices (id, organization_id, client_id)
     values ('e0000000-0000-4000-8000-7e5700000014', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001') $$,
  'the service role can create an invoice'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, currency)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000002', 'USD') $$,
  '23503', null,
  'even the service role cannot bill another organization''s client'
);

select tests.as_superuser();
select results_eq(
  $$ select id, created_by, subtotal, amount_paid from public.invoices
     where organization_id = tests.org('main') and id::text like '%7e570000001_' order by id $$,
  $$ values ('e0000000-0000-4000-8000-7e5700000011'::uuid, tests.actor('owner'), 0::numeric, 0::numeric),
            ('e0000000-0000-4000-8000-7e5700000012', tests.actor('admin'), 0, 0),
            ('e0000000-0000-4000-8000-7e5700000013', tests.actor('member'), 0, 0),
            ('e0000000-0000-4000-8000-7e5700000014', null, 0, 0) $$,
  'exactly the allowed invoices were created, each recorded with its creator'
);
select is(
  (select count(*)::int from public.invoices where client_id = 'c0000000-0000-4000-8000-7e5700000002'),
  1, 'no refused invoice reached the stranger''s client'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.invoices set notes = 'edited by owner' where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'owner can edit an invoice'
);
select is(
  (select notes from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001'),
  'edited by owner', 'owner''s edit is stored'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.invoices set notes = 'edited by admin' where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'admin can edit an invoice'
);
select is(
  (select notes from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001'),
  'edited by admin', 'admin''s edit is stored'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ update public.invoices set notes = 'edited by member', tax_rate = 10
     where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'member can edit an invoice'
);
select results_eq(
  $$ select notes, tax_amount, total_amount from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  $$ values ('edited by member'::text, 4.00::numeric, 44.00::numeric) $$,
  'member''s edit is stored and the totals follow it'
);
select throws_ok(
  $$ update public.invoices set subtotal = 1 where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  '42501', null,
  'member cannot write an invoice''s subtotal'
);
select throws_ok(
  $$ update public.invoices set total_amount = 1 where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  '42501', null,
  'member cannot write an invoice''s total_amount'
);
select throws_ok(
  $$ update public.invoices set amount_paid = 100 where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  '42501', null,
  'member cannot write an invoice''s amount_paid'
);
select throws_ok(
  $$ update public.invoices set tax_amount = 0 where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  '42501', null,
  'member cannot write an invoice''s tax_amount'
);
select throws_ok(
  $$ update public.invoices set organization_id = tests.personal_org('member')
     where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move an invoice to another organization'
);
select throws_ok(
  $$ update public.invoices set created_by = tests.actor('owner')
     where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot rewrite who created an invoice'
);
select throws_ok(
  $$ update public.invoices set client_id = 'c0000000-0000-4000-8000-7e5700000002'
     where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  '23503', null,
  'member cannot re-point an invoice at another organization''s client'
);

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  update public.invoices set notes = 'edited by viewer'
  where id = 'e0000000-0000-4000-8000-7e5700000001' returning 1
$$), 0, 'viewer cannot edit an invoice');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.invoices set notes = 'edited by stranger'
  where id = 'e0000000-0000-4000-8000-7e5700000001' returning 1
$$), 0, 'stranger cannot edit the organization''s invoice by its id');
select is(tests.rows_affected($$
  update public.invoices set status = 'cancelled'
  where id = 'e0000000-0000-4000-8000-7e5700000003' returning 1
$$), 0, 'stranger cannot cancel the organization''s invoice');

select tests.clear_authentication();
select throws_ok(
  $$ update public.invoices set notes = 'edited by anon' $$,
  '42501', null,
  'anon cannot edit invoices'
);

select tests.as_superuser();
select results_eq(
  $$ select id, notes, status, client_id, total_amount from public.invoices
     where id in ('e0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000003') order by id $$,
  $$ values ('e0000000-0000-4000-8000-7e5700000001'::uuid, 'edited by member'::text, 'draft'::text,
             'c0000000-0000-4000-8000-7e5700000001'::uuid, 44.00::numeric),
            ('e0000000-0000-4000-8000-7e5700000003', 'original', 'sent',
             'c0000000-0000-4000-8000-7e5700000001', 100.00) $$,
  'the refused edits left the invoices as the member left them'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.invoices set notes = 'edited by service' where id = 'e0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can edit any invoice'
);
select is(
  (select notes from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000002'),
  'edited by service', 'the service role''s edit is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot delete an invoice');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot delete the organization''s invoice by its id');

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.invoices $$,
  '42501', null,
  'anon cannot delete invoices'
);

select tests.as_superuser();
select isnt_empty(
  $$ select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'the refused deletions left the invoice in place'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000003' $$,
  '23514', null,
  'member cannot delete an invoice that was sent (it is cancelled instead)'
);
select lives_ok(
  $$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'member can delete a draft invoice'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000011' $$,
  'owner can delete a draft invoice'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000012' $$,
  'admin can delete a draft invoice'
);

select tests.as_superuser();
select is_empty(
  $$ select 1 from public.invoices
     where id in ('e0000000-0000-4000-8000-7e5700000001', 'e0000000-0000-4000-8000-7e5700000011',
                  'e0000000-0000-4000-8000-7e5700000012')
     union all
     select 1 from public.invoice_items where invoice_id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'the drafts deleted by member, owner and admin are gone, with their items'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can delete any draft invoice'
);
select is_empty(
  $$ select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000002' $$,
  'the invoice deleted by the service role is gone'
);

select * from finish();
rollback;
