-- =============================================================================
-- Test helpers, in the manner of supabase-test-helpers (written for this
-- project). Unlike the other files this one commits: it installs the `tests`
-- schema the others use. pg_prove (and `supabase test db`) run the files in
-- name order, so it comes first.
--
-- The cast of actors, built by one call at the top of a file:
--   tests.create_cast()                   -> owner, admin, member and viewer of the
--                                            organization 'main' (the owner's personal
--                                            one, "Victim Co"), a stranger alone in
--                                            'other' ("Stranger Co"); once per transaction
--   tests.actor('owner')                  -> a test user's id (the cast's or a file's own)
--   tests.org('main') / tests.org('other') -> the cast's two organizations
--   tests.authenticate_as('viewer')       -> role authenticated + that user's JWT claims
--   tests.authenticate_as('anon')         -> role anon, as a request without a token
--                                            (the same as tests.clear_authentication())
-- A file's own users, beyond the cast:
--   tests.create_supabase_user('recruit', 'recruit@example.com', '{"business_name": "Acme"}')
--   tests.add_member(tests.org('main'), 'recruit', 'member')
--   tests.get_supabase_uid('recruit')     -> the user's id, null when there is none
--   tests.personal_org('recruit')         -> the organization signup gave the user
--   tests.authenticate_as_service_role()  -> role service_role
--   tests.clear_authentication()          -> role anon, as a request without a token
--   tests.rows_affected($$ delete ... $$) -> how many rows the statement touched
-- Each only lasts until the end of the test's transaction (set_config(..., true)).
-- =============================================================================

begin;

create extension if not exists pgtap with schema extensions;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- A fourth parameter (a fixed id) was added for the cast: the three-parameter
-- version, still there where an earlier copy of this file committed it, would
-- make every call ambiguous.
drop function if exists tests.create_supabase_user(text, text, jsonb);

create or replace function tests.create_supabase_user(
  identifier text, email text default null, metadata jsonb default '{}', fixed_id uuid default null
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := coalesce(fixed_id, gen_random_uuid());
begin
  insert into auth.users (
    id, aud, role, email, encrypted_password, email_confirmed_at,
    raw_app_meta_data, raw_user_meta_data, created_at, updated_at
  ) values (
    uid, 'authenticated', 'authenticated',
    coalesce(email, identifier || '-' || left(uid::text, 8) || '@test.invoiceflow.local'),
    extensions.crypt('password', extensions.gen_salt('bf', 4)), now(),
    '{"provider": "email", "providers": ["email"]}',
    coalesce(metadata, '{}') || jsonb_build_object('test_identifier', identifier),
    now(), now()
  );
  return uid;
end;
$$;

create or replace function tests.get_supabase_uid(identifier text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select u.id from auth.users u
  where u.raw_user_meta_data ->> 'test_identifier' = identifier
  order by u.created_at desc
  limit 1
$$;

create or replace function tests.get_supabase_email(identifier text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select u.email from auth.users u where u.id = tests.get_supabase_uid(identifier)
$$;

create or replace function tests.personal_org(identifier text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select o.id from public.organizations o
  where o.personal and o.created_by = tests.get_supabase_uid(identifier)
$$;

-- A test user's id; unlike get_supabase_uid, a name nobody has is an error
-- rather than a null that a "sees nothing" check would pass on.
create or replace function tests.actor(identifier text)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  uid uuid := tests.get_supabase_uid(identifier);
begin
  if uid is null then
    raise exception 'tests.actor: no test user % (did the file call tests.create_cast()?)', identifier;
  end if;
  return uid;
end;
$$;

-- The cast's organizations: 'main' (the owner's, where admin, member and
-- viewer belong) and 'other' (the stranger's).
create or replace function tests.org(which text)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  found uuid := tests.personal_org(case which when 'main' then 'owner' when 'other' then 'stranger' end);
begin
  if which is null or which not in ('main', 'other') then
    raise exception 'tests.org: no organization % (the cast has main and other)', which;
  end if;
  if found is null then
    raise exception 'tests.org: no organization % yet (did the file call tests.create_cast()?)', which;
  end if;
  return found;
end;
$$;

-- Adds an existing user to an organization with a role.
create or replace function tests.add_member(org_id uuid, identifier text, member_role public.membership_role)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.memberships (organization_id, user_id, role)
  values (org_id, tests.get_supabase_uid(identifier), member_role)
$$;

-- The cast of actors every RLS file plays with, built once per transaction (a
-- second call does nothing). Signup (private.handle_new_user) gives each user a
-- profile, settings and a personal organization; the owner's, named "Victim Co",
-- is 'main', and admin, member and viewer join it with their role; the
-- stranger's, "Stranger Co", is 'other'. The ids are fixed and marked 7e57
-- ("test"), none of them the seed's: the files run on a seeded database too.
create or replace function tests.create_cast()
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select from auth.users u where u.id = 'ac700000-0000-4000-8000-7e5700000001') then
    return;
  end if;
  perform tests.create_supabase_user('owner', 'owner@victim.test',
    '{"first_name": "Olive", "business_name": "Victim Co"}', 'ac700000-0000-4000-8000-7e5700000001');
  perform tests.create_supabase_user('admin', 'admin@victim.test',
    '{"first_name": "Ada"}', 'ac700000-0000-4000-8000-7e5700000002');
  perform tests.create_supabase_user('member', 'member@victim.test',
    '{"first_name": "Mo"}', 'ac700000-0000-4000-8000-7e5700000003');
  perform tests.create_supabase_user('viewer', 'viewer@victim.test',
    '{"first_name": "Vi"}', 'ac700000-0000-4000-8000-7e5700000004');
  perform tests.create_supabase_user('stranger', 'stranger@other.test',
    '{"first_name": "Stan", "business_name": "Stranger Co"}', 'ac700000-0000-4000-8000-7e5700000005');
  perform tests.add_member(tests.org('main'), 'admin', 'admin');
  perform tests.add_member(tests.org('main'), 'member', 'member');
  perform tests.add_member(tests.org('main'), 'viewer', 'viewer');
end;
$$;

create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := tests.get_supabase_uid(identifier);
  mail text;
begin
  if identifier = 'anon' then
    perform tests.clear_authentication();
    return;
  end if;
  if uid is null then
    raise exception 'tests.authenticate_as: no test user %', identifier;
  end if;
  mail := tests.get_supabase_email(identifier);
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', json_build_object(
    'sub', uid, 'role', 'authenticated', 'aud', 'authenticated', 'email', mail,
    'aal', 'aal1', 'exp', extract(epoch from now() + interval '1 hour')::bigint
  )::text, true);
end;
$$;

create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
end;
$$;

create or replace function tests.clear_authentication()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end;
$$;

-- Back to the superuser that runs the test file (for set-up between checks).
create or replace function tests.as_superuser()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end;
$$;

-- How many rows a statement touched, as the current role sees it (row
-- security applies: it runs as the caller). For "X cannot update/delete Y":
--   select is(tests.rows_affected($$ delete from public.clients where ... $$), 0, '...');
create or replace function tests.rows_affected(statement text)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  n integer;
begin
  execute statement;
  get diagnostics n = row_count;
  return n;
end;
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(1);
select has_function('tests', 'authenticate_as', array['text'], 'the test helpers are installed');
select * from finish();

commit;
