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
-- the `supabase_realtime` publication, the `realtime` schema's objects that Supabase
-- Realtime makes (realtime.messages, topic(), send(), broadcast_changes()) and the CLI's
-- migration history. No
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
-- The realtime schema: what Supabase Realtime's tenant migrations make in a project's
-- database (github.com/supabase/realtime lib/realtime/tenants/repo/migrations, up to
-- 20260709120000; the result as dumped in priv/repo/tenant_db_dump_15.sql), for the parts
-- the project's realtime design (docs/realtime.md) uses:
--   realtime.messages   Realtime Authorization's table: the RLS policies on it decide who
--                       may join a private channel (select: receive; insert: send), and
--                       a row inserted by the database is a broadcast (extension
--                       'broadcast'). Partitioned by day on inserted_at; the Realtime
--                       server makes the partitions (yesterday to three days ahead, when
--                       it connects and daily) and drops the old ones.
--   realtime.topic()    the channel's topic while a policy is checked (realtime.topic set
--                       by the server, or by realtime.send).
--   realtime.send()     Broadcast from the database; a failure (no partition for today)
--                       is a WARNING, never the caller's error.
--   realtime.broadcast_changes()  a row trigger's change as a broadcast.
-- Owned by supabase_realtime_admin, the schema by supabase_admin, with the grants of the
-- dump. Not reproduced: realtime.subscription and the WALRUS functions (apply_rls,
-- list_changes, ...), which the Realtime server keeps for its own postgres_changes work
-- (the local server does that work itself), send_binary, and schema_migrations.
-- -----------------------------------------------------------------------------
create schema if not exists realtime;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);

do $$
begin
  if not exists (select from pg_constraint
                 where conrelid = 'realtime.messages'::regclass
                   and conname = 'messages_payload_exclusive') then
    alter table realtime.messages
      add constraint messages_payload_exclusive
      check (payload is null or binary_payload is null) not valid;
  end if;
end
$$;

create index if not exists messages_inserted_at_topic_index
  on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

alter table realtime.messages enable row level security;

create or replace function realtime.topic() returns text
language sql stable
as $$
select nullif(current_setting('realtime.topic', true), '')::text;
$$;

create or replace function realtime.send(
  payload jsonb, event text, topic text, private boolean default true
) returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();

    -- Check if payload has an 'id' key, if not, add the generated UUID
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;

    -- Set the topic configuration
    execute format('SET LOCAL realtime.topic TO %L', topic);

    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql
as $$
declare
  -- Declare a variable to hold the JSONB representation of the row
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  -- Check the operation type and handle accordingly
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                                   'table', table_name, 'schema', table_schema);
    perform realtime.send (row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception
  when others then
    raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

-- The days around today, as the Realtime server makes them when it connects
-- (Realtime.Tenants.create_messages_partitions); devstack.postgres makes them again at
-- every start of the stack (ensure_realtime_partitions).
do $$
declare
  day date;
begin
  for day in
    select d::date from generate_series((now() at time zone 'utc')::date - 1,
                                        (now() at time zone 'utc')::date + 3,
                                        interval '1 day') d
  loop
    execute format(
      'create table if not exists realtime.%I partition of realtime.messages'
      ' for values from (%L) to (%L)',
      'messages_' || to_char(day, 'YYYY_MM_DD'), day, day + 1);
  end loop;
end
$$;

do $$
declare
  part regclass;
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter schema realtime owner to supabase_admin;
    alter table realtime.messages owner to supabase_realtime_admin;
    for part in select inhrelid::regclass from pg_inherits
                where inhparent = 'realtime.messages'::regclass loop
      execute format('alter table %s owner to supabase_realtime_admin', part);
    end loop;
    alter function realtime.topic() owner to supabase_realtime_admin;
    alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
    alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
      owner to supabase_realtime_admin;
    alter default privileges for role supabase_admin in schema realtime
      grant all on tables to postgres;
    alter default privileges for role supabase_admin in schema realtime
      grant all on routines to postgres;
    alter default privileges for role supabase_admin in schema realtime
      grant all on sequences to postgres;
  end if;
end
$$;

-- supautils' policy_grants (supabase/postgres ansible/files/postgresql_config/
-- supautils.conf.j2: "postgres": [..., "realtime.messages", ...]) lets postgres create,
-- alter and drop policies on realtime.messages, which it does not own, and nothing else
-- there. supautils has no Debian package: an event trigger does the same here, making
-- postgres a member of the table's owner for the one policy statement (ddl_command_end
-- takes it back; a failed statement rolls the grant back with its transaction).
create schema if not exists _supautils;
revoke all on schema _supautils from public;

create or replace function _supautils.policy_grants_begin() returns event_trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if session_user = 'postgres'
     and not pg_catalog.pg_has_role('postgres', 'supabase_realtime_admin', 'member') then
    grant supabase_realtime_admin to postgres;
    perform pg_catalog.set_config('_supautils.policy_grant', 'on', true);
  end if;
end;
$$;

create or replace function _supautils.policy_grants_end() returns event_trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if pg_catalog.current_setting('_supautils.policy_grant', true) = 'on' then
    revoke supabase_realtime_admin from postgres;
    perform pg_catalog.set_config('_supautils.policy_grant', '', true);
  end if;
end;
$$;

do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    alter schema _supautils owner to supabase_admin;
    alter function _supautils.policy_grants_begin() owner to supabase_admin;
    alter function _supautils.policy_grants_end() owner to supabase_admin;
    if not exists (select from pg_event_trigger where evtname = 'supautils_policy_grants_begin') then
      create event trigger supautils_policy_grants_begin on ddl_command_start
        when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
        execute function _supautils.policy_grants_begin();
      create event trigger supautils_policy_grants_end on ddl_command_end
        when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
        execute function _supautils.policy_grants_end();
    end if;
  end if;
end
$$;

-- The dump's grants. postgres may use the schema (and grant that), not create in it.
grant usage on schema realtime to postgres with grant option;
grant usage on schema realtime to anon, authenticated, service_role;
grant all on schema realtime to supabase_realtime_admin with grant option;
grant all on table realtime.messages to postgres;
grant select, insert, update on table realtime.messages to anon, authenticated, service_role;
grant all on function realtime.topic() to postgres;
grant all on function realtime.send(jsonb, text, text, boolean) to postgres;
grant all on function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to postgres;

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
