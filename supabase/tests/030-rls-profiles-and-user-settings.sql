-- =============================================================================
-- RLS on public.profiles (own and colleagues' visible, own editable) and
-- public.user_settings (own only). Rows are created by the signup trigger;
-- the API roles never insert or delete them.
-- =============================================================================
begin;
select plan(55);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

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
  $$ select 1 from public.profiles where id = tests.actor('owner') $$,
  'admin can see a colleague''s profile'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.profiles where id = tests.actor('viewer') $$,
  'member can see a colleague''s profile'
);

select tests.authenticate_as('viewer');
select is(
  (select first_name from public.profiles where id = tests.actor('owner')),
  'Olive',
  'viewer can see a colleague''s profile'
);
select is_empty(
  $$ select 1 from public.profiles where id = tests.actor('stranger') $$,
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
delete from public.profiles where id = tests.actor('member');

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.actor('member'), 'member@victim.test') $$,
  '42501', null,
  'a user cannot insert a profile, even their own missing one'
);

select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.actor('member'), 'forged@victim.test') $$,
  '42501', null,
  'owner cannot insert a profile for a colleague'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.profiles (id, email) values (tests.actor('member'), 'anon@victim.test') $$,
  '42501', null,
  'anon cannot insert a profile'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.profiles (id, email, first_name)
     values (tests.actor('member'), 'member@victim.test', 'Mo') $$,
  'the service role can insert a profile'
);
select is(
  (select first_name from public.profiles where id = tests.actor('member')),
  'Mo',
  'the profile inserted by the service role is there'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.profiles set first_name = 'Olivia', phone = '+1 555 0100'
     where id = tests.actor('owner') $$,
  'owner can update their own profile'
);
select results_eq(
  $$ select first_name, phone from public.profiles where id = tests.actor('owner') $$,
  $$ values ('Olivia'::text, '+1 555 0100'::text) $$,
  'owner''s profile change is stored'
);
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Renamed by owner'
  where id = tests.actor('member') returning 1
$$), 0, 'owner cannot update a colleague''s profile');
select throws_ok(
  $$ update public.profiles set email = 'spoofed@victim.test' where id = tests.actor('owner') $$,
  '42501', null,
  'owner cannot change the email on their profile (it follows the account)'
);
select throws_ok(
  $$ update public.profiles set id = tests.actor('stranger') where id = tests.actor('owner') $$,
  '42501', null,
  'owner cannot change their profile''s id'
);

select tests.authenticate_as('viewer');
select lives_ok(
  $$ update public.profiles set last_name = 'Viewer' where id = tests.actor('viewer') $$,
  'viewer can update their own profile'
);
select is(
  (select last_name from public.profiles where id = tests.actor('viewer')),
  'Viewer',
  'viewer''s profile change is stored'
);
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Renamed by viewer'
  where id = tests.actor('owner') returning 1
$$), 0, 'viewer cannot update a colleague''s profile');

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.profiles set first_name = 'Hijacked'
  where id = tests.actor('owner') returning 1
$$), 0, 'stranger cannot update the owner''s profile by its id');

select tests.clear_authentication();
select throws_ok(
  $$ update public.profiles set first_name = 'Anon' where id = tests.actor('owner') $$,
  '42501', null,
  'anon cannot update a profile'
);

select tests.as_superuser();
select results_eq(
  $$ select first_name, email from public.profiles where id = tests.actor('owner') $$,
  $$ values ('Olivia'::text, 'owner@victim.test'::text) $$,
  'the refused updates left the owner''s profile unchanged'
);
select is(
  (select first_name from public.profiles where id = tests.actor('member')),
  'Mo',
  'the refused updates left the member''s profile unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.profiles set last_name = 'Support' where id = tests.actor('stranger') $$,
  'the service role can update anyone''s profile'
);
select is(
  (select last_name from public.profiles where id = tests.actor('stranger')),
  'Support',
  'the service role''s profile change is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.profiles where id = tests.actor('owner') $$,
  '42501', null,
  'owner cannot delete their own profile'
);
select throws_ok(
  $$ delete from public.profiles where id = tests.actor('viewer') $$,
  '42501', null,
  'owner cannot delete a colleague''s profile'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ delete from public.profiles where id = tests.actor('owner') $$,
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
  $$ delete from public.profiles where id = tests.actor('stranger') $$,
  'the service role can delete a profile'
);
select is_empty(
  $$ select 1 from public.profiles where id = tests.actor('stranger') $$,
  'the profile deleted by the service role is gone'
);

-- A colleague who leaves is no longer visible.
select tests.authenticate_as('viewer');
delete from public.memberships
where organization_id = tests.org('main') and user_id = tests.actor('viewer');
select tests.authenticate_as('owner');
select is_empty(
  $$ select 1 from public.profiles where id = tests.actor('viewer') $$,
  'owner can no longer see the profile of a colleague who left'
);

-- =============================================================================
-- user_settings
-- =============================================================================

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select user_id from public.user_settings $$,
  $$ select tests.actor('owner') $$,
  'owner sees only their own settings'
);

select tests.authenticate_as('admin');
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.actor('owner') $$,
  'admin cannot see a colleague''s settings'
);

select tests.authenticate_as('member');
select results_eq(
  $$ select user_id from public.user_settings $$,
  $$ select tests.actor('member') $$,
  'member sees only their own settings'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.actor('owner') $$,
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
   where user_id in (tests.actor('owner'), tests.actor('stranger'))),
  2, 'the service role sees everyone''s settings'
);

-- INSERT ----------------------------------------------------------------------
select tests.as_superuser();
delete from public.user_settings where user_id = tests.actor('member');

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.user_settings (user_id) values (tests.actor('member')) $$,
  '42501', null,
  'a user cannot insert settings, even their own missing ones'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.user_settings (user_id) values (tests.actor('member')) $$,
  '42501', null,
  'anon cannot insert user settings'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.user_settings (user_id) values (tests.actor('member')) $$,
  'the service role can insert user settings'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.user_settings set email_notifications = '{"weeklyReport": false}'
     where user_id = tests.actor('owner') $$,
  'owner can update their own settings'
);
select is(
  (select email_notifications from public.user_settings where user_id = tests.actor('owner')),
  '{"weeklyReport": false}'::jsonb,
  'owner''s settings change is stored'
);
select is(tests.rows_affected($$
  update public.user_settings set push_notifications = '{}'
  where user_id = tests.actor('admin') returning 1
$$), 0, 'owner cannot update a colleague''s settings');
select throws_ok(
  $$ update public.user_settings set user_id = tests.actor('stranger')
     where user_id = tests.actor('owner') $$,
  '42501', null,
  'owner cannot hand their settings row to another user'
);

select tests.authenticate_as('stranger');
select is(tests.rows_affected($$
  update public.user_settings set push_notifications = '{}'
  where user_id = tests.actor('owner') returning 1
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
     where user_id = tests.actor('owner') $$,
  $$ values ('{"weeklyReport": false}'::jsonb, false) $$,
  'the refused updates left the owner''s settings unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.user_settings set push_notifications = '{"systemUpdates": false}'
     where user_id = tests.actor('stranger') $$,
  'the service role can update anyone''s settings'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.user_settings where user_id = tests.actor('owner') $$,
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
  $$ delete from public.user_settings where user_id = tests.actor('stranger') $$,
  'the service role can delete user settings'
);
select is_empty(
  $$ select 1 from public.user_settings where user_id = tests.actor('stranger') $$,
  'the settings deleted by the service role are gone'
);

select * from finish();
rollback;
