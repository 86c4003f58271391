-- =============================================================================
-- The cast of actors the other files play with (tests.create_cast, in
-- 000-setup-tests-helpers.sql): who is in it, with which role and id, that a
-- second call builds nothing more, and that its lookups refuse a name they do
-- not know rather than answer null (a null organization makes "sees nothing"
-- checks pass for the wrong reason).
-- =============================================================================
begin;
select plan(14);

select tests.create_cast();
select tests.create_cast();

select results_eq(
  $$ select u.raw_user_meta_data ->> 'test_identifier', m.role::text
     from public.memberships m join auth.users u on u.id = m.user_id
     where m.organization_id = tests.org('main') order by 1 $$,
  $$ values ('admin'::text, 'admin'::text), ('member', 'member'), ('owner', 'owner'), ('viewer', 'viewer') $$,
  'main holds the owner, admin, member and viewer, each with the role of its name'
);
select results_eq(
  $$ select u.raw_user_meta_data ->> 'test_identifier', m.role::text
     from public.memberships m join auth.users u on u.id = m.user_id
     where m.organization_id = tests.org('other') $$,
  $$ values ('stranger'::text, 'owner'::text) $$,
  'other holds the stranger alone, as its owner'
);
select is(
  (select count(*)::int from auth.users
    where raw_user_meta_data ->> 'test_identifier' in ('owner', 'admin', 'member', 'viewer', 'stranger')),
  5, 'a second call builds nothing more'
);
select results_eq(
  $$ select name from public.organizations where id in (tests.org('main'), tests.org('other')) order by name $$,
  $$ values ('Stranger Co'::text), ('Victim Co') $$,
  'the organizations are Victim Co and Stranger Co'
);
select is(tests.actor('owner'), 'ac700000-0000-4000-8000-7e5700000001'::uuid, 'the owner has its fixed id');
select is(tests.actor('stranger'), 'ac700000-0000-4000-8000-7e5700000005'::uuid, 'the stranger has its fixed id');
select throws_ok($$ select tests.actor('nobody') $$, 'P0001', null, 'an unknown actor is an error');
select throws_ok($$ select tests.org('third') $$, 'P0001', null, 'an unknown organization is an error');

select tests.authenticate_as('viewer');
select is(current_user::text, 'authenticated', 'an actor acts as authenticated');
select is(auth.uid(), tests.actor('viewer'), 'with its own id in the JWT claims');
select results_eq(
  $$ select id from public.organizations order by id $$,
  $$ select id from public.organizations
      where id in (tests.org('main'), tests.personal_org('viewer')) order by id $$,
  'and sees, as the viewer, its own organization and main'
);

select tests.authenticate_as('anon');
select is(current_user::text, 'anon', 'anon acts as anon');
select is(auth.uid(), null, 'without a user');
select throws_ok($$ select 1 from public.organizations $$, '42501', null, 'and may not read organizations');

select * from finish();
rollback;
