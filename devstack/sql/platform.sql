-- =============================================================================
-- Platform SQL: the per-database half of what a Supabase database has before the
-- project's own migrations run (the roles and their settings are roles.sql). Applied by
-- devstack to a bare PostgreSQL 15 as the superuser supabase_admin, after roles.sql;
-- never applied to a real Supabase project (it has all of this). Idempotent.
--
-- Mirrors supabase/postgres' migrations/db (init-scripts/00000000000000-initial-
-- schema.sql, 00000000000001-auth-schema.sql, 00000000000003-post-setup.sql,
-- migrations/10000000000000_demote-postgres.sql, 20211115181400_update-auth-
-- permissions.sql, 20230224042246_grant_extensions_perms_for_postgres.sql) for the
-- parts the project relies on: the database owned by postgres, the `extensions` schema,
-- the `auth` schema (users, sessions, refresh tokens, identities, MFA factors) with
-- auth.uid()/role()/email()/jwt(), the default privileges Supabase gives on `public`,
-- the `supabase_realtime` publication and the CLI's migration history. No
-- `alter database ... set search_path`: Supabase sets it per role (roles.sql).
--
-- What only a superuser may do (ownership handed to other roles, pgTAP) is skipped when
-- postgres applies this file to a database of its own (tests/db/test_seed_mistakes.py).
-- =============================================================================

set search_path = "$user", public, extensions;

-- The database is postgres's, as on Supabase (migrate.sh: alter database postgres owner
-- to postgres): its `public` schema (owned by pg_database_owner) is then postgres's too.
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    execute format('alter database %I owner to postgres', current_database());
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- Extensions live in their own schema, as on Supabase.
-- -----------------------------------------------------------------------------
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
grant all on all tables in schema extensions to postgres with grant option;
grant all on all routines in schema extensions to postgres with grant option;
grant all on all sequences in schema extensions to postgres with grant option;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter schema extensions owner to postgres;
    -- pgTAP is not a trusted extension: on Supabase postgres creates it through
    -- supautils (`supabase test db`); here the superuser creates it up front, so the
    -- pgTAP files run as postgres.
    create extension if not exists pgtap with schema extensions;
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- The auth schema (Supabase Auth's tables, the columns the project and the
-- local Auth server use; names and types as in supabase/auth's migrations).
-- -----------------------------------------------------------------------------
create schema if not exists auth;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_partial_key
  on auth.users (email) where is_sso_user = false;

create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid primary key default gen_random_uuid(),
  unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal text check (aal in ('aal1', 'aal2', 'aal3')),
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx
  on auth.refresh_tokens (session_id, revoked);

create table if not exists auth.mfa_factors (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type text not null check (factor_type in ('totp', 'webauthn', 'phone')),
  status text not null check (status in ('unverified', 'verified')),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text,
  last_challenged_at timestamptz unique
);
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);

create table if not exists auth.mfa_challenges (
  id uuid primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null,
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);

create table if not exists auth.mfa_amr_claims (
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  authentication_method text not null,
  id uuid primary key,
  unique (session_id, authentication_method)
);


-- The claim helpers. Exactly Supabase's definitions: the request's JWT claims
-- live in the transaction-local GUC request.jwt.claims set by PostgREST; an
-- unset or empty setting (a pooled connection after another request) gives NULL.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;


-- Owners as on Supabase: the schema supabase_admin's, its tables and functions
-- supabase_auth_admin's (supabase/postgres init-scripts/00000000000001-auth-schema.sql,
-- migrations/20211124212715_update-auth-owner.sql). Only a superuser may hand them over;
-- applied by postgres to a database of its own (tests/db/test_seed_mistakes.py on a
-- real Supabase), their creator keeps them.
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter schema auth owner to supabase_admin;
    alter table auth.users owner to supabase_auth_admin;
    alter table auth.identities owner to supabase_auth_admin;
    alter table auth.sessions owner to supabase_auth_admin;
    alter table auth.refresh_tokens owner to supabase_auth_admin;
    alter table auth.mfa_factors owner to supabase_auth_admin;
    alter table auth.mfa_challenges owner to supabase_auth_admin;
    alter table auth.mfa_amr_claims owner to supabase_auth_admin;
    alter function auth.uid() owner to supabase_auth_admin;
    alter function auth.role() owner to supabase_auth_admin;
    alter function auth.email() owner to supabase_auth_admin;
    alter function auth.jwt() owner to supabase_auth_admin;
    alter default privileges for role supabase_auth_admin in schema auth
      grant all on tables to postgres;
    alter default privileges for role supabase_auth_admin in schema auth
      grant all on sequences to postgres;
    alter default privileges for role supabase_auth_admin in schema auth
      grant all on routines to postgres;
  end if;
end
$$;

-- supabase_auth_admin owns and changes the schema; postgres and the API roles use it
-- (postgres may not create in it since 2025: migrations/20250421084701).
grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role, postgres;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;

-- -----------------------------------------------------------------------------
-- public: usage for the API roles and Supabase's default privileges on what postgres
-- (the migrations) and supabase_admin create there; the migrations then narrow them
-- with RLS and grants.
-- -----------------------------------------------------------------------------
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter default privileges for role supabase_admin in schema public
      grant all on tables to postgres, anon, authenticated, service_role;
    alter default privileges for role supabase_admin in schema public
      grant all on functions to postgres, anon, authenticated, service_role;
    alter default privileges for role supabase_admin in schema public
      grant all on sequences to postgres, anon, authenticated, service_role;
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- Realtime: the publication Supabase Realtime listens to, postgres's (the migrations
-- add tables to it).
-- -----------------------------------------------------------------------------
do $$
begin
  if not exists (select from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter publication supabase_realtime owner to postgres;
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- Where the Supabase CLI records applied migrations (same table and columns; the CLI
-- creates it as postgres), so `supabase db push` and devstack agree on what has run.
-- -----------------------------------------------------------------------------
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter schema supabase_migrations owner to postgres;
    alter table supabase_migrations.schema_migrations owner to postgres;
  end if;
end
$$;
