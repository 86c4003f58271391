-- =============================================================================
-- Deleting an account (migration 20261206170300_mfa_policy_cost.sql; the route is
-- DELETE /api/auth/account): public.delete_account() deletes the caller, or names the
-- organizations they are the last owner of while others are members -- exactly those
-- for which the trigger on auth.users (20261206140100_teams.sql) refuses the deletion
-- Auth's admin API makes (which Supabase Auth answers as a 500). An account with a
-- verified MFA factor needs aal2.
-- =============================================================================
begin;
select plan(17);

select tests.create_cast();
create temporary table cast_ids on commit drop as
  select tests.actor('owner') as owner, tests.actor('admin') as admin,
         tests.actor('stranger') as stranger, tests.org('main') as main;
grant select on cast_ids to authenticated;

select function_privs_are('public', 'delete_account', array[]::text[], 'anon',
  array[]::text[], 'anon cannot call it');
select is(
  (select prosecdef from pg_proc where oid = 'public.delete_account()'::regprocedure),
  false, 'the RPC runs as its caller (its definer core lives in private)'
);

-- The last owner ---------------------------------------------------------------------
select tests.authenticate_as('owner');
select is(
  public.delete_account(),
  jsonb_build_object('deleted', false, 'last_owner_of',
    jsonb_build_array(jsonb_build_object('id', tests.org('main'), 'name', 'Victim Co'))),
  'the last owner of an organization with other members is told which, and not deleted'
);
select tests.as_superuser();
select is((select count(*)::int from auth.users where id = (select owner from cast_ids)), 1,
  'the owner is still there');
select throws_ok(
  format('delete from auth.users where id = %L', (select owner from cast_ids)),
  '23514', null, 'and Auth''s own delete of them is refused by the trigger (Auth''s 500)'
);

-- Below aal2 in an organization that requires MFA the owner reads no other member; the
-- answer is the same.
update public.organization_settings set require_mfa = true where organization_id = tests.org('main');
select tests.authenticate_as('owner');
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  1, 'at aal1 the owner reads no other member of the organization'
);
select is(
  jsonb_array_length(public.delete_account() -> 'last_owner_of'), 1,
  'and is still told the organization blocks the deletion'
);
select tests.as_superuser();
update public.organization_settings set require_mfa = false where organization_id = tests.org('main');

-- MFA ---------------------------------------------------------------------------------
insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
values ('f0000000-0000-4000-8000-7e5700000951', (select stranger from cast_ids), 'phone', 'totp',
        'verified', now(), now());
select tests.authenticate_as('stranger');
select throws_like(
  $$ select public.delete_account() $$,
  '%needs an aal2 session%', 'an account with a verified factor is refused at aal1'
);
select tests.as_superuser();
select is((select count(*)::int from auth.users where id = (select stranger from cast_ids)), 1,
  'and stays');
select tests.authenticate_as('stranger');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(public.delete_account(), '{"deleted": true}'::jsonb,
  'at aal2 the owner of an organization of one member (their personal one) is deleted');
select tests.as_superuser();
select is((select count(*)::int from auth.users where id = (select stranger from cast_ids)), 0,
  'gone from Auth');
select is((select count(*)::int from public.memberships where user_id = (select stranger from cast_ids)), 0,
  'with their memberships');
select is((select count(*)::int from auth.mfa_factors where user_id = (select stranger from cast_ids)), 0,
  'and factors');

-- A second owner, or a closed organization: nothing blocks ---------------------------
update public.memberships set role = 'owner'
where organization_id = (select main from cast_ids) and user_id = (select admin from cast_ids);
select tests.authenticate_as('owner');
select is(public.delete_account(), '{"deleted": true}'::jsonb,
  'with a second owner the (former last) owner is deleted');
select tests.as_superuser();
update public.organizations set closed_at = now() where id = (select main from cast_ids);
select tests.authenticate_as('admin');
select is(public.delete_account(), '{"deleted": true}'::jsonb,
  'and the last owner of a closed organization too');

-- Nobody else ------------------------------------------------------------------------
select tests.clear_authentication();
select throws_ok($$ select public.delete_account() $$, '42501', null, 'anon is refused');
select tests.authenticate_as_service_role();
select throws_ok($$ select public.delete_account() $$, '42501', null,
  'the service role has no account to delete');

select * from finish();
rollback;
