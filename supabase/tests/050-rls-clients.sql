-- =============================================================================
-- RLS on public.clients: every member of the organization reads them, members
-- and up write them, viewers only read, strangers see and touch nothing, and
-- the derived totals (total_billed, outstanding_balance, last_invoice_date)
-- are never writable by the API roles.
-- =============================================================================
begin;
select plan(49);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

insert into public.clients (id, organization_id, company_name, email, currency, notes) values
  ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'billing@victim-client.test', 'USD', 'original'),
  ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'billing@stranger-client.test', 'USD', 'original');

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select company_name from public.clients $$,
  $$ values ('Victim Client'::text) $$,
  'owner sees the organization''s clients and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'admin can see the organization''s client'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'member can see the organization''s client'
);

select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'viewer can see the organization''s client'
);
select is_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000002' $$,
  'viewer cannot see another organization''s client'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'stranger cannot see the organization''s client'
);
select results_eq(
  $$ select company_name from public.clients $$,
  $$ values ('Stranger Client'::text) $$,
  'stranger sees only their own organization''s clients'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.clients $$,
  '42501', null,
  'anon cannot read clients'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.clients
   where id in ('c0000000-0000-4000-8000-7e5700000001', 'c0000000-0000-4000-8000-7e5700000002')),
  2, 'the service role sees every client'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.clients (id, organization_id, company_name)
     values ('c0000000-0000-4000-8000-7e5700000011', tests.org('main'), 'Added by owner') $$,
  'owner can add a client'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.clients (id, organization_id, company_name)
     values ('c0000000-0000-4000-8000-7e5700000012', tests.org('main'), 'Added by admin') $$,
  'admin can add a client'
);

select tests.authenticate_as('member');
select results_eq(
  $$ insert into public.clients (id, organization_id, company_name, currency)
     values ('c0000000-0000-4000-8000-7e5700000013', tests.org('main'), 'Added by member', 'EUR')
     returning company_name, currency $$,
  $$ values ('Added by member'::text, 'EUR'::text) $$,
  'member can add a client and gets it back'
);
select throws_ok(
  $$ insert into public.clients (organization_id, company_name, total_billed)
     values (tests.org('main'), 'Inflated', 1000000) $$,
  '42501', null,
  'member cannot set a new client''s total_billed'
);
select throws_ok(
  $$ insert into public.clients (organization_id, company_name, outstanding_balance)
     values (tests.org('main'), 'Inflated', 1000000) $$,
  '42501', null,
  'member cannot set a new client''s outstanding_balance'
);
select throws_ok(
  $$ insert into public.clients (organization_id, company_name, last_invoice_date)
     values (tests.org('main'), 'Backdated', current_date) $$,
  '42501', null,
  'member cannot set a new client''s last_invoice_date'
);
select throws_ok(
  $$ insert into public.clients (organization_id, company_name, created_by)
     values (tests.org('main'), 'Forged', tests.actor('owner')) $$,
  '42501', null,
  'member cannot pretend someone else created a client'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.clients (organization_id, company_name)
     values (tests.org('main'), 'Added by viewer') $$,
  '42501', null,
  'viewer cannot add a client'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.clients (organization_id, company_name)
     values (tests.org('main'), 'Planted by stranger') $$,
  '42501', null,
  'stranger cannot add a client to the organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.clients (organization_id, company_name)
     values (tests.org('main'), 'Added by anon') $$,
  '42501', null,
  'anon cannot add a client'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.clients (id, organization_id, company_name)
     values ('c0000000-0000-4000-8000-7e5700000014', tests.org('main'), 'Added by service') $$,
  'the service role can add a client'
);

select tests.as_superuser();
select results_eq(
  $$ select company_name, created_by from public.clients
     where organization_id = tests.org('main') order by company_name $$,
  $$ values ('Added by admin'::text, tests.actor('admin')),
            ('Added by member', tests.actor('member')),
            ('Added by owner', tests.actor('owner')),
            ('Added by service', null),
            ('Victim Client', null) $$,
  'exactly the allowed clients were added, each recorded with its creator'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.clients set notes = 'edited by owner' where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'owner can edit a client'
);
select is(
  (select notes from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001'),
  'edited by owner', 'owner''s edit is stored'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.clients set status = 'inactive' where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'admin can edit a client'
);
select is(
  (select status from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001'),
  'inactive', 'admin''s edit is stored'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ update public.clients set notes = 'edited by member', status = 'active'
     where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'member can edit a client'
);
select results_eq(
  $$ select notes, status from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  $$ values ('edited by member'::text, 'active'::text) $$,
  'member''s edit is stored'
);
select throws_ok(
  $$ update public.clients set total_billed = 1000000 where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot write a client''s total_billed'
);
select throws_ok(
  $$ update public.clients set outstanding_balance = 0 where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot write a client''s outstanding_balance'
);
select throws_ok(
  $$ update public.clients set last_invoice_date = current_date where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot write a client''s last_invoice_date'
);
select throws_ok(
  $$ update public.clients set organization_id = tests.personal_org('member')
     where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot move a client to another organization'
);
select throws_ok(
  $$ update public.clients set created_by = tests.actor('owner')
     where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot rewrite who created a client'
);

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  update public.clients set notes = 'edited by viewer'
  where id = 'c0000000-0000-4000-8000-7e5700000001' returning 1
$$), 0, 'viewer cannot edit a client');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.clients set email = 'attacker@other.test'
  where id = 'c0000000-0000-4000-8000-7e5700000001' returning 1
$$), 0, 'stranger cannot edit the organization''s client by its id');
select throws_ok(
  $$ update public.clients set organization_id = tests.org('other')
     where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'stranger cannot pull the organization''s client into their own organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ update public.clients set notes = 'edited by anon' $$,
  '42501', null,
  'anon cannot edit clients'
);

select tests.as_superuser();
select results_eq(
  $$ select notes, email, total_billed, organization_id from public.clients
     where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  $$ values ('edited by member'::text, 'billing@victim-client.test'::text, 0::numeric, tests.org('main')) $$,
  'the refused edits left the client as the member left it'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.clients set notes = 'edited by service' where id = 'c0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can edit any client'
);
select is(
  (select notes from public.clients where id = 'c0000000-0000-4000-8000-7e5700000002'),
  'edited by service', 'the service role''s edit is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'viewer cannot delete a client');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' returning 1 $$), 0, 'stranger cannot delete the organization''s client by its id');

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.clients $$,
  '42501', null,
  'anon cannot delete clients'
);

select tests.as_superuser();
select isnt_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'the refused deletions left the client in place'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000011' $$,
  'owner can delete a client'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000012' $$,
  'admin can delete a client'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000013' $$,
  'member can delete a client (its timeline goes with it)'
);

select tests.as_superuser();
select is_empty(
  $$ select 1 from public.clients
     where id in ('c0000000-0000-4000-8000-7e5700000011', 'c0000000-0000-4000-8000-7e5700000012',
                  'c0000000-0000-4000-8000-7e5700000013')
     union all
     select 1 from public.client_activities
     where client_id in ('c0000000-0000-4000-8000-7e5700000011', 'c0000000-0000-4000-8000-7e5700000012',
                         'c0000000-0000-4000-8000-7e5700000013') $$,
  'the clients deleted by owner, admin and member are gone, with their activities'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.clients where id = 'c0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can delete any client'
);
select is_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000002' $$,
  'the client deleted by the service role is gone'
);

select * from finish();
rollback;
