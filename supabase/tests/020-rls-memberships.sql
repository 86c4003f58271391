-- =============================================================================
-- RLS on public.memberships: who sees the members, adds them, changes roles,
-- removes them, and the rule that an organization keeps at least one owner.
--
-- Beyond the cast, the recruits and co_owner start outside tests.org('main').
-- =============================================================================
begin;
select plan(62);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();
select tests.create_supabase_user('recruit_a', 'recruit-a@victim.test');
select tests.create_supabase_user('recruit_b', 'recruit-b@victim.test');
select tests.create_supabase_user('recruit_c', 'recruit-c@victim.test');
select tests.create_supabase_user('co_owner', 'co-owner@victim.test');

-- The role of a user in the organization under test, read past RLS.
create function pg_temp.role_of(identifier text)
returns public.membership_role
language sql
security definer
set search_path = ''
as $$
  select m.role from public.memberships m
  where m.organization_id = tests.org('main')
    and m.user_id = tests.actor(identifier)
$$;
grant execute on function pg_temp.role_of(text) to anon, authenticated, service_role;

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  4, 'owner sees the organization''s four memberships'
);

select tests.authenticate_as('admin');
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  4, 'admin sees the organization''s four memberships'
);

select tests.authenticate_as('member');
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  4, 'member sees the organization''s four memberships'
);

select tests.authenticate_as('viewer');
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  4, 'viewer sees the organization''s four memberships'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.memberships where organization_id = tests.org('main') $$,
  'stranger cannot see the organization''s memberships'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.memberships $$,
  '42501', null,
  'anon cannot read memberships'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  4, 'the service role sees every membership'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_a'), 'member') $$,
  'owner can add a member'
);
select is(pg_temp.role_of('recruit_a'), 'member', 'the member added by the owner is in');

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_b'), 'viewer') $$,
  'admin can add a viewer'
);
select is(pg_temp.role_of('recruit_b'), 'viewer', 'the viewer added by the admin is in');
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('co_owner'), 'owner') $$,
  '42501', null,
  'admin cannot add an owner'
);
select throws_ok(
  $$ insert into public.memberships (id, organization_id, user_id, role)
     values (gen_random_uuid(), tests.org('main'), tests.actor('recruit_c'), 'member') $$,
  '42501', null,
  'admin cannot choose a membership''s id'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('co_owner'), 'owner') $$,
  'owner can add another owner'
);
select is(pg_temp.role_of('co_owner'), 'owner', 'the co-owner is in as an owner');

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_c'), 'viewer') $$,
  '42501', null,
  'member cannot add anyone'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_c'), 'viewer') $$,
  '42501', null,
  'viewer cannot add anyone'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('stranger'), 'viewer') $$,
  '42501', null,
  'stranger cannot add themselves to the organization'
);
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('stranger'), 'owner') $$,
  '42501', null,
  'stranger cannot make themselves an owner of the organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_c'), 'viewer') $$,
  '42501', null,
  'anon cannot add anyone'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('recruit_c'), 'member') $$,
  'the service role can add a member'
);
select is(pg_temp.role_of('recruit_c'), 'member', 'the member added by the service role is in');
select is(pg_temp.role_of('stranger'), null, 'none of the refused additions got in');

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('admin');
select lives_ok(
  $$ update public.memberships set role = 'member'
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_b') $$,
  'admin can change a viewer into a member'
);
select is(pg_temp.role_of('recruit_b'), 'member', 'the admin''s role change is stored');
select throws_ok(
  $$ update public.memberships set role = 'owner'
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_b') $$,
  '42501', null,
  'admin cannot promote a member to owner'
);
select throws_ok(
  $$ update public.memberships set role = 'owner'
     where organization_id = tests.org('main') and user_id = tests.actor('admin') $$,
  '42501', null,
  'admin cannot promote themselves to owner'
);
select is(tests.rows_affected($$
  update public.memberships set role = 'viewer'
  where organization_id = tests.org('main') and user_id = tests.actor('co_owner')
  returning 1
$$), 0, 'admin cannot demote an owner');
select throws_ok(
  $$ update public.memberships set organization_id = tests.org('other')
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_b') $$,
  '42501', null,
  'admin cannot move a membership to another organization'
);
select throws_ok(
  $$ update public.memberships set user_id = tests.actor('stranger')
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_b') $$,
  '42501', null,
  'admin cannot hand a membership to another user'
);

select tests.authenticate_as('member');
select is(tests.rows_affected($$
  update public.memberships set role = 'admin'
  where organization_id = tests.org('main') and user_id = tests.actor('member')
  returning 1
$$), 0, 'member cannot promote themselves');

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  update public.memberships set role = 'member'
  where organization_id = tests.org('main') and user_id = tests.actor('viewer')
  returning 1
$$), 0, 'viewer cannot promote themselves');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.memberships set role = 'viewer'
  where organization_id = tests.org('main') returning 1
$$), 0, 'stranger cannot change any role in the organization');

select tests.clear_authentication();
select throws_ok(
  $$ update public.memberships set role = 'owner' where user_id = tests.actor('viewer') $$,
  '42501', null,
  'anon cannot change roles'
);

select tests.as_superuser();
select results_eq(
  $$ select pg_temp.role_of('owner'), pg_temp.role_of('co_owner'), pg_temp.role_of('admin'),
            pg_temp.role_of('member'), pg_temp.role_of('viewer') $$,
  $$ values ('owner'::public.membership_role, 'owner'::public.membership_role,
             'admin'::public.membership_role, 'member'::public.membership_role,
             'viewer'::public.membership_role) $$,
  'the refused role changes left every role as it was'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.memberships set role = 'admin'
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_a') $$,
  'owner can make a member an admin'
);
select is(pg_temp.role_of('recruit_a'), 'admin', 'the owner''s promotion is stored');
select lives_ok(
  $$ update public.memberships set role = 'admin'
     where organization_id = tests.org('main') and user_id = tests.actor('co_owner') $$,
  'owner can demote another owner'
);
select is(pg_temp.role_of('co_owner'), 'admin', 'the owner''s demotion is stored');
select throws_ok(
  $$ update public.memberships set role = 'admin'
     where organization_id = tests.org('main') and user_id = tests.actor('owner') $$,
  '23514', null,
  'the last owner cannot demote themselves'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.memberships set role = 'member'
     where organization_id = tests.org('main') and user_id = tests.actor('owner') $$,
  '23514', null,
  'even the service role cannot demote the last owner'
);
select lives_ok(
  $$ update public.memberships set role = 'viewer'
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_c') $$,
  'the service role can change a role'
);
select is(pg_temp.role_of('recruit_c'), 'viewer', 'the service role''s role change is stored');

select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.memberships set role = 'owner'
     where organization_id = tests.org('main') and user_id = tests.actor('co_owner') $$,
  'owner can promote an admin to owner'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('admin');
select lives_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_b') $$,
  'admin can remove a member'
);
select is(pg_temp.role_of('recruit_b'), null, 'the member removed by the admin is out');
select is(tests.rows_affected($$
  delete from public.memberships
  where organization_id = tests.org('main') and user_id = tests.actor('co_owner')
  returning 1
$$), 0, 'admin cannot remove an owner');

select tests.authenticate_as('member');
select is(tests.rows_affected($$
  delete from public.memberships
  where organization_id = tests.org('main') and user_id <> tests.actor('member')
  returning 1
$$), 0, 'member cannot remove anyone else');

select tests.authenticate_as('viewer');
select is(tests.rows_affected($$
  delete from public.memberships
  where organization_id = tests.org('main') and user_id <> tests.actor('viewer')
  returning 1
$$), 0, 'viewer cannot remove anyone else');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ delete from public.memberships where organization_id = tests.org('main') returning 1 $$), 0, 'stranger cannot remove anyone from the organization');
select throws_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('other') and user_id = tests.actor('stranger') $$,
  '23514', null,
  'stranger, the last owner of their own organization, cannot leave it'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.memberships where organization_id = tests.org('main') $$,
  '42501', null,
  'anon cannot remove anyone'
);

select tests.as_superuser();
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  7, 'the refused removals left the seven remaining memberships in place'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('member') $$,
  'member can leave the organization'
);

select tests.authenticate_as('viewer');
select lives_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('viewer') $$,
  'viewer can leave the organization'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('recruit_c') $$,
  'the service role can remove a member'
);
select results_eq(
  $$ select pg_temp.role_of('member'), pg_temp.role_of('viewer'), pg_temp.role_of('recruit_c') $$,
  $$ values (null::public.membership_role, null::public.membership_role, null::public.membership_role) $$,
  'those who left or were removed are out'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('co_owner') $$,
  'owner can remove another owner'
);
select throws_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('owner') $$,
  '23514', null,
  'the last owner cannot leave'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('owner') $$,
  '23514', null,
  'even the service role cannot remove the last owner'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.memberships (organization_id, user_id, role)
     values (tests.org('main'), tests.actor('co_owner'), 'owner');
     delete from public.memberships
     where organization_id = tests.org('main') and user_id = tests.actor('owner') $$,
  'an owner can leave once another owner remains'
);

select tests.as_superuser();
select results_eq(
  $$ select pg_temp.role_of('owner'), pg_temp.role_of('co_owner') $$,
  $$ values (null::public.membership_role, 'owner'::public.membership_role) $$,
  'the owner is out and the co-owner now owns the organization'
);

select * from finish();
rollback;
