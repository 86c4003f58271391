-- =============================================================================
-- RLS on public.organizations: who sees, creates, renames and deletes a tenant.
-- Direct inserts are never allowed (public.create_organization is the way in).
-- =============================================================================
begin;
select plan(44);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

-- Business data in the victim organization, so that deleting it must cascade
-- through clients, invoices, items and payments.
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD');
insert into public.invoices (id, organization_id, client_id)
values ('e0000000-0000-4000-8000-7e5700000001', tests.org('main'),
        'c0000000-0000-4000-8000-7e5700000001');
insert into public.invoice_items (invoice_id, description, quantity, rate)
values ('e0000000-0000-4000-8000-7e5700000001', 'Consulting', 1, 100);
update public.invoices set status = 'sent' where id = 'e0000000-0000-4000-8000-7e5700000001';
insert into public.payments (invoice_id, amount)
values ('e0000000-0000-4000-8000-7e5700000001', 25);

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select id from public.organizations $$,
  $$ select tests.org('main') $$,
  'owner sees exactly the organizations they belong to'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.organizations where id = tests.org('main') $$,
  'admin can see the organization'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.organizations where id = tests.org('main') $$,
  'member can see the organization'
);

select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.organizations where id = tests.org('main') $$,
  'viewer can see the organization'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.organizations where id = tests.org('main') $$,
  'stranger cannot see the organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.organizations $$,
  '42501', null,
  'anon cannot read organizations at all'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.organizations
   where id in (tests.org('main'), tests.org('other'))),
  2,
  'the service role sees every organization'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by owner') $$,
  '42501', null,
  'owner cannot insert an organization directly'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by admin') $$,
  '42501', null,
  'admin cannot insert an organization directly'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by member') $$,
  '42501', null,
  'member cannot insert an organization directly'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by viewer') $$,
  '42501', null,
  'viewer cannot insert an organization directly'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by stranger') $$,
  '42501', null,
  'stranger cannot insert an organization directly'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.organizations (name) values ('Direct by anon') $$,
  '42501', null,
  'anon cannot insert an organization'
);
select throws_ok(
  $$ select public.create_organization('Anon Co') $$,
  '42501', null,
  'anon cannot call create_organization'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ select public.create_organization('Member Side Business') $$,
  'an authenticated user can create an organization through create_organization'
);
select results_eq(
  $$ select m.role from public.memberships m
     join public.organizations o on o.id = m.organization_id
     where o.name = 'Member Side Business' and m.user_id = tests.actor('member') $$,
  $$ values ('owner'::public.membership_role) $$,
  'create_organization makes the caller the owner of the new organization'
);
select isnt_empty(
  $$ select 1 from public.organization_settings s
     join public.organizations o on o.id = s.organization_id
     where o.name = 'Member Side Business' $$,
  'the new organization comes with its settings, visible to its owner'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.organizations (id, name)
     values ('0a000000-0000-4000-8000-7e5700000001', 'Inserted by the service role') $$,
  'the service role can insert an organization directly'
);

select tests.as_superuser();
select is(
  (select name from public.organizations where id = '0a000000-0000-4000-8000-7e5700000001'),
  'Inserted by the service role',
  'the service role''s organization really exists'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.organizations set name = 'Renamed by owner' where id = tests.org('main') $$,
  'owner can rename the organization'
);
select is(
  (select name from public.organizations where id = tests.org('main')),
  'Renamed by owner',
  'owner''s new name is stored'
);
select throws_ok(
  $$ update public.organizations set personal = false where id = tests.org('main') $$,
  '42501', null,
  'owner cannot change whether an organization is personal'
);
select throws_ok(
  $$ update public.organizations set created_by = tests.actor('stranger')
     where id = tests.org('main') $$,
  '42501', null,
  'owner cannot rewrite who created the organization'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.organizations set name = 'Renamed by admin' where id = tests.org('main') $$,
  'admin can rename the organization'
);
select is(
  (select name from public.organizations where id = tests.org('main')),
  'Renamed by admin',
  'admin''s new name is stored'
);

select tests.authenticate_as('member');
select is(tests.rows_affected($$
  update public.organizations set name = 'Renamed by member'
  where id = tests.org('main') returning 1
$$), 0, 'member cannot rename the organization');

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  update public.organizations set name = 'Renamed by viewer'
  where id = tests.org('main') returning 1
$$), 0, 'viewer cannot rename the organization');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.organizations set name = 'Hijacked'
  where id = tests.org('main') returning 1
$$), 0, 'stranger cannot rename the organization by its id');

select tests.clear_authentication();
select throws_ok(
  $$ update public.organizations set name = 'Renamed by anon' where id = tests.org('main') $$,
  '42501', null,
  'anon cannot rename an organization'
);

select tests.as_superuser();
select is(
  (select name from public.organizations where id = tests.org('main')),
  'Renamed by admin',
  'the refused renames left the name unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.organizations set name = 'Renamed by service'
     where id = '0a000000-0000-4000-8000-7e5700000001' $$,
  'the service role can rename any organization'
);
select is(
  (select name from public.organizations where id = '0a000000-0000-4000-8000-7e5700000001'),
  'Renamed by service',
  'the service role''s new name is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('admin');
select is(tests.rows_affected($$ delete from public.organizations where id = tests.org('main') returning 1 $$), 0, 'admin cannot delete the organization');

select tests.authenticate_as('member');
select is(tests.rows_affected($$ delete from public.organizations where id = tests.org('main') returning 1 $$), 0, 'member cannot delete the organization');

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ delete from public.organizations where id = tests.org('main') returning 1 $$), 0, 'viewer cannot delete the organization');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.organizations where id = tests.org('main') returning 1 $$), 0, 'stranger cannot delete the organization by its id');

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.organizations where id = tests.org('main') $$,
  '42501', null,
  'anon cannot delete an organization'
);

select tests.as_superuser();
select isnt_empty(
  $$ select 1 from public.organizations where id = tests.org('main') $$,
  'the refused deletions left the organization in place'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.organizations where id = tests.org('main') $$,
  'owner can delete the organization, with its members, clients, invoices and payments'
);

select tests.as_superuser();
select is_empty(
  $$ select 1 from public.organizations o
     where o.name = 'Renamed by admin' and o.created_by = tests.actor('owner') $$,
  'the owner''s organization is really gone'
);
select is_empty(
  $$ select 1 from public.clients where id = 'c0000000-0000-4000-8000-7e5700000001'
     union all
     select 1 from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000001'
     union all
     select 1 from public.payments where invoice_id = 'e0000000-0000-4000-8000-7e5700000001' $$,
  'its clients, invoices and payments went with it'
);
select is_empty(
  $$ select 1 from public.memberships
     where user_id in (tests.actor('admin'), tests.actor('member'),
                       tests.actor('viewer'))
       and organization_id not in (tests.personal_org('admin'), tests.personal_org('member'),
                                   tests.personal_org('viewer'))
       and organization_id not in (select id from public.organizations where name = 'Member Side Business') $$,
  'its memberships went with it'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.organizations where id = '0a000000-0000-4000-8000-7e5700000001' $$,
  'the service role can delete an organization'
);

select tests.as_superuser();
select is_empty(
  $$ select 1 from public.organizations where id = '0a000000-0000-4000-8000-7e5700000001' $$,
  'the organization deleted by the service role is gone'
);

select * from finish();
rollback;
