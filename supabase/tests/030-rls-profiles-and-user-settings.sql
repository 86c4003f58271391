-- =============================================================================
-- RLS on public.profiles (own and colleagues' visible, own editable) and
-- public.user_settings (own only). Rows are created by the signup trigger;
-- the API roles never insert or delete them.
--
-- The organization under test is the owner's personal organization; admin,
-- member and viewer belong to it; stranger owns another organization.
-- =============================================================================
begin;
select plan(55);

-- Set-up ----------------------------------------------------------------------
select tests.create_supabase_user('owner', 'owner@victim.test', '{"first_name": "Olive", "business_name": "Victim Co"}');
select tests.create_supabase_user('admin', 'admin@victim.test', '{"first_name": "Ada"}');
select tests.create_supabase_user('member', 'member@victim.test', '{"first_name": "Mo"}');
select tests.create_supabase_user('viewer', 'viewer@victim.test', '{"first_name": "Vi"}');
select tests.create_supabase_user('stranger', 'stranger@other.test', '{"first_name": "Stan"}');
select tests.add_member(tests.personal_org('owner'), 'admin', 'admin');
select tests.add_member(tests.personal_org('owner'), 'member', 'member');
select tests.add_member(tests.personal_org('owner'), 'viewer', 'viewer');

-- =============================================================================
-- profiles
-- =============================================================================

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select email from public.profiles order by email $$,
  $$ values ('admin@victim.test'::text), ('member@victim.test'), ('owner@victim.test'), ('viewer@victim.test') $$,
  'owner sees their own profile and their colleagues'', and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.profiles where id = tests.get_supabase_uid('owner') $$,
  'admin can see a colleague''s profile'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.profiles where id = tests.get_supabase_uid('viewer') $$,
  'member can see a colleague''s profile'
);

select tests.authenticate_as('viewer');
select is(
  (select first_name from public.profiles where id = tests.get_supabase_uid('owner')),
  'Olive',
  'viewer can see a colleague''s profile'
);
select is_empty(
  $$ select 1 from public.profiles where id = tests.get_supabase_uid('stranger') $$,
  'viewer cannot see a stranger''s profile'
);

select tests.authenticate_as('stranger');
select results_eq(
  $$ select email from public.profiles $$,
  $$ values ('stranger@other.test'::text) $$,
  'stranger sees only their own profile'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.profiles $$,
  '42501', null,
  'anon cannot read profiles'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.profiles where email like '%@victim.test' or email like '%@other.test'),
  5, 'the service role sees every profile'
);

-- INSERT ----------------------------------------------------------------------
select tests.as_superuser();
delete from public.profiles where id = tests.get_supabase_uid('member');

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.get_supabase_uid('member'), 'member@victim.test') $$,
  '42501', null,
  'a user cannot insert a profile, even their own missing one'
);

select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.get_supabase_uid('member'), 'forged@victim.test') $$,
  '42501', null,
  'owner cannot insert a profile for a colleague'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.get_supabase_uid('member'), 'anon@victim.test') $$,
  '42501', null,
  'anon cannot insert a profile'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.profiles (id, email, first_name)
     values (tests.get_supabase_uid('member'), 'member@victim.test', 'Mo') $$,
  'the service role can insert a profile'
);
select is(
  (select first_name from public.profiles where id = tests.get_supabase_uid('member')),
  'Mo',
  'the profile inserted by the service role is there'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.profiles set first_name = 'Olivia', phone = '+1 555 0100'
     where id = tests.get_supabase_uid('owner') $$,
  'owner can update their own profile'
);
select results_eq(
  $$ select first_name, phone from public.profiles where id = tests.get_supabase_uid('owner') $$,
  $$ values ('Olivia'::text, '+1 555 0100'::text) $$,
  'owner''s profile change is stored'
);
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Renamed by owner'
  where id = tests.get_supabase_uid('member') returning 1
$$), 0, 'owner cannot update a colleague''s profile');
select throws_ok(
  $$ update public.profiles set email = 'spoofed@victim.test' where id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'owner cannot change the email on their profile (it follows the account)'
);
select throws_ok(
  $$ update public.profiles set id = tests.get_supabase_uid('stranger') where id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'owner cannot change their profile''s id'
);

select tests.authenticate_as('viewer');
select lives_ok(
  $$ update public.profiles set last_name = 'Viewer' where id = tests.get_supabase_uid('viewer') $$,
  'viewer can update their own profile'
);
select is(
  (select last_name from public.profiles where id = tests.get_supabase_uid('viewer')),
  'Viewer',
  'viewer''s profile change is stored'
);
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Renamed by viewer'
  where id = tests.get_supabase_uid('owner') returning 1
$$), 0, 'viewer cannot update a colleague''s profile');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Hijacked'
  where id = tests.get_supabase_uid('owner') returning 1
$$), 0, 'stranger cannot update the owner''s profile by its id');

select tests.clear_authentication();
select throws_ok(
  $$ update public.profiles set first_name = 'Anon' where id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'anon cannot update a profile'
);

select tests.as_superuser();
select results_eq(
  $$ select first_name, email from public.profiles where id = tests.get_supabase_uid('owner') $$,
  $$ values ('Olivia'::text, 'owner@victim.test'::text) $$,
  'the refused updates left the owner''s profile unchanged'
);
select is(
  (select first_name from public.profiles where id = tests.get_supabase_uid('member')),
  'Mo',
  'the refused updates left the member''s profile unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.profiles set last_name = 'Support' where id = tests.get_supabase_uid('stranger') $$,
  'the service role can update anyone''s profile'
);
select is(
  (select last_name from public.profiles where id = tests.get_supabase_uid('stranger')),
  'Support',
  'the service role''s profile change is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.profiles where id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'owner cannot delete their own profile'
);
select throws_ok(
  $$ delete from public.profiles where id = tests.get_supabase_uid('viewer') $$,
  '42501', null,
  'owner cannot delete a colleague''s profile'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ delete from public.profiles where id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'stranger cannot delete the owner''s profile'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.profiles $$,
  '42501', null,
  'anon cannot delete profiles'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.profiles where id = tests.get_supabase_uid('stranger') $$,
  'the service role can delete a profile'
);
select is_empty(
  $$ select 1 from public.profiles where id = tests.get_supabase_uid('stranger') $$,
  'the profile deleted by the service role is gone'
);

-- A colleague who leaves is no longer visible.
select tests.authenticate_as('viewer');
delete from public.memberships
where organization_id = tests.personal_org('owner') and user_id = tests.get_supabase_uid('viewer');
select tests.authenticate_as('owner');
select is_empty(
  $$ select 1 from public.profiles where id = tests.get_supabase_uid('viewer') $$,
  'owner can no longer see the profile of a colleague who left'
);

-- =============================================================================
-- user_settings
-- =============================================================================

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select user_id from public.user_settings $$,
  $$ select tests.get_supabase_uid('owner') $$,
  'owner sees only their own settings'
);

select tests.authenticate_as('admin');
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.get_supabase_uid('owner') $$,
  'admin cannot see a colleague''s settings'
);

select tests.authenticate_as('member');
select results_eq(
  $$ select user_id from public.user_settings $$,
  $$ select tests.get_supabase_uid('member') $$,
  'member sees only their own settings'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.get_supabase_uid('owner') $$,
  'stranger cannot see the owner''s settings'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.user_settings $$,
  '42501', null,
  'anon cannot read user settings'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.user_settings
   where user_id in (tests.get_supabase_uid('owner'), tests.get_supabase_uid('stranger'))),
  2, 'the service role sees everyone''s settings'
);

-- INSERT ----------------------------------------------------------------------
select tests.as_superuser();
delete from public.user_settings where user_id = tests.get_supabase_uid('member');

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.user_settings (user_id) values (tests.get_supabase_uid('member')) $$,
  '42501', null,
  'a user cannot insert settings, even their own missing ones'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.user_settings (user_id) values (tests.get_supabase_uid('member')) $$,
  '42501', null,
  'anon cannot insert user settings'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.user_settings (user_id) values (tests.get_supabase_uid('member')) $$,
  'the service role can insert user settings'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.user_settings set email_notifications = '{"weeklyReport": false}'
     where user_id = tests.get_supabase_uid('owner') $$,
  'owner can update their own settings'
);
select is(
  (select email_notifications from public.user_settings where user_id = tests.get_supabase_uid('owner')),
  '{"weeklyReport": false}'::jsonb,
  'owner''s settings change is stored'
);
select is(tests.rows_affected($$
  update public.user_settings set push_notifications = '{}'
  where user_id = tests.get_supabase_uid('admin') returning 1
$$), 0, 'owner cannot update a colleague''s settings');
select throws_ok(
  $$ update public.user_settings set user_id = tests.get_supabase_uid('stranger')
     where user_id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'owner cannot hand their settings row to another user'
);

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.user_settings set push_notifications = '{}'
  where user_id = tests.get_supabase_uid('owner') returning 1
$$), 0, 'stranger cannot update the owner''s settings');

select tests.clear_authentication();
select throws_ok(
  $$ update public.user_settings set push_notifications = '{}' $$,
  '42501', null,
  'anon cannot update user settings'
);

select tests.as_superuser();
select results_eq(
  $$ select email_notifications, push_notifications = '{}' from public.user_settings
     where user_id = tests.get_supabase_uid('owner') $$,
  $$ values ('{"weeklyReport": false}'::jsonb, false) $$,
  'the refused updates left the owner''s settings unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.user_settings set push_notifications = '{"systemUpdates": false}'
     where user_id = tests.get_supabase_uid('stranger') $$,
  'the service role can update anyone''s settings'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.user_settings where user_id = tests.get_supabase_uid('owner') $$,
  '42501', null,
  'owner cannot delete their own settings'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.user_settings $$,
  '42501', null,
  'anon cannot delete user settings'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.user_settings where user_id = tests.get_supabase_uid('stranger') $$,
  'the service role can delete user settings'
);
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.get_supabase_uid('stranger') $$,
  'the settings deleted by the service role are gone'
);

select * from finish();
rollback;
