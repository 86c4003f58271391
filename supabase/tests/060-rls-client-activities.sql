-- =============================================================================
-- RLS on public.client_activities: every member of the organization reads the
-- timeline, members and up add to it, nobody but the service role rewrites or
-- deletes it, and an activity always belongs to a client of its own
-- organization (composite foreign key).
-- =============================================================================
begin;
select plan(39);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

-- Each client starts its timeline with a 'new' activity (trigger); one more
-- activity each with a known id.
insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'USD');
insert into public.client_activities (id, organization_id, client_id, activity, type) values
  ('a0000000-0000-4000-8000-7e5700000001', tests.org('main'),
   'c0000000-0000-4000-8000-7e5700000001', 'Called about the renewal', 'communication'),
  ('a0000000-0000-4000-8000-7e5700000002', tests.org('other'),
   'c0000000-0000-4000-8000-7e5700000002', 'Sent a quote', 'communication');

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select type from public.client_activities order by type $$,
  $$ values ('communication'::text), ('new') $$,
  'owner sees the organization''s client timeline and no one else''s'
);

select tests.authenticate_as('admin');
select isnt_empty(
  $$ select 1 from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  'admin can see the organization''s client activities'
);

select tests.authenticate_as('member');
select isnt_empty(
  $$ select 1 from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  'member can see the organization''s client activities'
);

select tests.authenticate_as('viewer');
select isnt_empty(
  $$ select 1 from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  'viewer can see the organization''s client activities'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.client_activities where client_id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  'stranger cannot see the organization''s client activities'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.client_activities $$,
  '42501', null,
  'anon cannot read client activities'
);

select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.client_activities
   where id in ('a0000000-0000-4000-8000-7e5700000001', 'a0000000-0000-4000-8000-7e5700000002')),
  2, 'the service role sees every client activity'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select lives_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity, type)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by owner', 'communication') $$,
  'owner can add a client activity'
);

select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by admin') $$,
  'admin can add a client activity'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity, metadata)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by member', '{"channel": "phone"}') $$,
  'member can add a client activity'
);
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000002', 'Spying on a foreign client') $$,
  '23503', null,
  'member cannot attach an activity to another organization''s client'
);
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('other'), 'c0000000-0000-4000-8000-7e5700000002', 'Planted by member') $$,
  '42501', null,
  'member cannot add an activity to another organization'
);
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity, created_by)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Forged', tests.actor('owner')) $$,
  '42501', null,
  'member cannot pretend someone else logged an activity'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by viewer') $$,
  '42501', null,
  'viewer cannot add a client activity'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Planted by stranger') $$,
  '42501', null,
  'stranger cannot add an activity to the organization'
);
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('other'), 'c0000000-0000-4000-8000-7e5700000001', 'Planted by stranger') $$,
  '23503', null,
  'stranger cannot attach an activity to the organization''s client from their own organization'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by anon') $$,
  '42501', null,
  'anon cannot add a client activity'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000001', 'Logged by service') $$,
  'the service role can add a client activity'
);
select throws_ok(
  $$ insert into public.client_activities (organization_id, client_id, activity)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000002', 'Crossed by service') $$,
  '23503', null,
  'even the service role cannot attach an activity to a client of another organization'
);

select tests.as_superuser();
select results_eq(
  $$ select activity, created_by from public.client_activities
     where client_id = 'c0000000-0000-4000-8000-7e5700000001' and activity like 'Logged by %'
     order by activity $$,
  $$ values ('Logged by admin'::text, tests.actor('admin')),
            ('Logged by member', tests.actor('member')),
            ('Logged by owner', tests.actor('owner')),
            ('Logged by service', null) $$,
  'exactly the allowed activities were added, each recorded with its author'
);
select is_empty(
  $$ select 1 from public.client_activities
     where activity in ('Spying on a foreign client', 'Planted by member', 'Planted by stranger', 'Forged', 'Crossed by service') $$,
  'none of the refused activities exist'
);

-- UPDATE (the timeline is append-only for the API roles) ------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'owner cannot rewrite a client activity'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'admin cannot rewrite a client activity'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot rewrite a client activity'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'viewer cannot rewrite a client activity'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'stranger cannot rewrite the organization''s client activity'
);

select tests.clear_authentication();
select throws_ok(
  $$ update public.client_activities set activity = 'Rewritten' $$,
  '42501', null,
  'anon cannot rewrite client activities'
);

select tests.as_superuser();
select is(
  (select activity from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001'),
  'Called about the renewal',
  'the refused rewrites left the activity unchanged'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.client_activities set activity = 'Corrected by service'
     where id = 'a0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can correct a client activity'
);
select is(
  (select activity from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000002'),
  'Corrected by service',
  'the service role''s correction is stored'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'owner cannot delete a client activity'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'admin cannot delete a client activity'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'member cannot delete a client activity'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'viewer cannot delete a client activity'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  '42501', null,
  'stranger cannot delete the organization''s client activity'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.client_activities $$,
  '42501', null,
  'anon cannot delete client activities'
);

select tests.as_superuser();
select isnt_empty(
  $$ select 1 from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000001' $$,
  'the refused deletions left the activity in place'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ delete from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000002' $$,
  'the service role can delete a client activity'
);
select is_empty(
  $$ select 1 from public.client_activities where id = 'a0000000-0000-4000-8000-7e5700000002' $$,
  'the activity deleted by the service role is gone'
);

select * from finish();
rollback;
