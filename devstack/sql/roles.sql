-- =============================================================================
-- Platform roles: the cluster-wide half of what a Supabase database has before the
-- project's migrations run (the per-database half is platform.sql). Applied by
-- devstack as the superuser `supabase_admin` (initdb's superuser, as on Supabase);
-- never applied to a real Supabase project. Idempotent: safe to run twice.
--
-- The facts, from supabase/postgres (migrations/db/):
--   init-scripts/00000000000000-initial-schema.sql  supabase_admin superuser; anon,
--     authenticated, service_role (bypassrls), authenticator (noinherit) and its
--     memberships; anon 3s and authenticated 8s statement_timeout
--   init-scripts/00000000000001-auth-schema.sql      supabase_auth_admin, search_path auth
--   init-scripts/00000000000003-post-setup.sql       search_path of supabase_admin, postgres
--   migrations/10000000000000_demote-postgres.sql    postgres NOSUPERUSER CREATEDB CREATEROLE
--     LOGIN REPLICATION BYPASSRLS
--   migrations/20220322085208_gotrue-session-limit.sql  supabase_auth_admin idle 60 s
--   migrations/20221028101028_set_authenticator_timeout.sql  authenticator 8s
--   migrations/20231130133139_set_lock_timeout_to_authenticator_role.sql  lock 8s
--   migrations/20230201083204_grant_auth_roles_to_postgres.sql  API roles to postgres
--   migrations/20230529180330_alter_api_roles_for_inherit.sql   API roles inherit
--   migrations/20230306081037, 20240606060239  pg_monitor, pg_read_all_data,
--     pg_signal_backend to postgres
--   migrations/20250421084701_revoke_admin_roles_from_postgres.sql  postgres is NOT a
--     member of supabase_auth_admin (nor may it create in schema auth)
--   migrations/20260130074514, 20260403172611, 20260413000000, 20261010094800
--     pg-safeupdate preloaded for authenticator (and anon, authenticated); loaded but
--     switched off (safeupdate.enabled = 0) for postgres
--   migrations/20260821154147_revoke_createrole_from_auth_admin.sql
-- and from supabase/realtime (its tenant migrations; priv/repo/tenant_db_dump_15.sql):
--   supabase_realtime_admin, nologin noinherit, member of the API roles, SET on
--   log_min_messages; not granted to postgres (20260707120000: supautils' policy_grants
--   serves instead, an event trigger in platform.sql here)
-- Supabase also preloads supautils for authenticator and postgres (it lets postgres
-- create the privileged extensions); it has no Debian package, so platform.sql creates
-- those extensions (pgtap) as the superuser instead. safeupdate is our own
-- implementation of pg-safeupdate (devstack/safeupdate/).
-- =============================================================================

do $$
begin
  if not exists (select from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser;
  end if;
  if not exists (select from pg_roles where rolname = 'postgres') then
    -- Local development password only (trust authentication on loopback).
    create role postgres login password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    -- The REST server logs in as this role and switches to anon/authenticated/
    -- service_role per request.
    create role authenticator login password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'supabase_realtime_admin') then
    -- Owns the realtime schema's objects (platform.sql), as Realtime's tenant
    -- migrations make it (priv/repo/tenant_db_dump_15.sql in supabase/realtime).
    create role supabase_realtime_admin;
  end if;
end
$$;

alter role supabase_admin superuser createdb createrole replication bypassrls login;
alter role postgres nosuperuser createdb createrole login replication bypassrls;
alter role anon nologin inherit;
alter role authenticated nologin inherit;
alter role service_role nologin inherit bypassrls;
alter role authenticator login noinherit;
alter role supabase_auth_admin login noinherit nocreaterole;
alter role supabase_realtime_admin nosuperuser noinherit nocreaterole nocreatedb nologin
  noreplication nobypassrls;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
grant anon, authenticated, service_role to supabase_realtime_admin;
grant set on parameter log_min_messages to supabase_realtime_admin;
do $$
begin
  -- An earlier local cluster granted it; Supabase revokes it (Realtime's migration
  -- 20260707120000, where supautils' policy_grants serves instead: platform.sql).
  if pg_has_role('postgres', 'supabase_realtime_admin', 'member') then
    revoke supabase_realtime_admin from postgres;
  end if;
end
$$;
do $$
begin
  -- An older local cluster granted it; Supabase revoked it in 2025.
  if pg_has_role('postgres', 'supabase_auth_admin', 'member') then
    revoke supabase_auth_admin from postgres;
  end if;
end
$$;

-- -----------------------------------------------------------------------------
-- Per-role settings. PostgREST logs in as authenticator, so its settings hold for
-- every request (service_role has none of its own); PostgREST applies anon's and
-- authenticated's on top, per transaction (those it may set: not the preload lists).
-- -----------------------------------------------------------------------------
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role authenticator set session_preload_libraries = 'safeupdate';
alter role anon set statement_timeout = '3s';
alter role anon set session_preload_libraries = 'safeupdate';
alter role authenticated set statement_timeout = '8s';
alter role authenticated set session_preload_libraries = 'safeupdate';

-- Supabase's scripts write "\$user" (a shell escape that reached the SQL); the meaning
-- intended, and the one written here, is the $user schema.
alter role postgres set search_path = "$user", public, extensions;
alter role postgres set session_preload_libraries = 'safeupdate';
alter role postgres set safeupdate.enabled = 0;
alter role supabase_admin set search_path = "$user", public, auth, extensions;
alter role supabase_admin set log_statement = none;
alter role supabase_auth_admin set search_path = auth;
alter role supabase_auth_admin set idle_in_transaction_session_timeout = 60000;
alter role supabase_auth_admin set log_statement = none;
alter role supabase_realtime_admin set search_path = public, extensions, realtime;
