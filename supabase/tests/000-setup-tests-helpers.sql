-- =============================================================================
-- Test helpers, in the manner of supabase-test-helpers (written for this
-- project). Unlike the other files this one commits: it installs the `tests`
-- schema the others use. pg_prove (and `supabase test db`) run the files in
-- name order, so it comes first.
--
--   tests.create_supabase_user('owner', 'owner@example.com', '{"business_name": "Acme"}')
--   tests.get_supabase_uid('owner')       -> the user's id
--   tests.personal_org('owner')           -> the organization signup gave the user
--   tests.authenticate_as('owner')        -> role authenticated + that user's JWT claims
--   tests.authenticate_as_service_role()  -> role service_role
--   tests.clear_authentication()          -> role anon, as a request without a token
--   tests.rows_affected($$ delete ... $$) -> how many rows the statement touched
-- Each only lasts until the end of the test's transaction (set_config(..., true)).
-- =============================================================================

begin;

create extension if not exists pgtap with schema extensions;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

create or replace function tests.create_supabase_user(
  identifier text, email text default null, metadata jsonb default '{}'
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := gen_random_uuid();
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

create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := tests.get_supabase_uid(identifier);
  mail text;
begin
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
