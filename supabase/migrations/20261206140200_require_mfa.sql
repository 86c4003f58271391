-- =============================================================================
-- Issue 17: an organization may require MFA (require_mfa, owners only; turning it
-- on needs the owner's session at aal2). When it does, every read and write of the
-- organization's data needs an aal2 session, enforced here so PostgREST obeys it
-- as the API does:
--
--   * a RESTRICTIVE policy "mfa_required" on every public table with an
--     organization_id column (made from the catalog below; pgTAP 820 fails when a
--     later table lacks it), as Supabase documents for the aal claim:
--         organization_id <> all ((select private.mfa_pending_organizations())::uuid[])
--     mfa_pending_organizations() is the caller's organizations that require MFA
--     when the token is below aal2, else '{}': one indexed lookup per statement (an
--     initPlan), then an array comparison per row. Memberships keep the caller's own
--     rows visible (api_context must still say which organizations need a step-up).
--   * realtime.messages: the restrictive policy the realtime migration announced
--     (joining or sending on an organization's topic).
--   * private.require_role (every RPC's check) refuses with the hint mfa_required.
--   * api_context answers require_mfa per organization: the API refuses with
--     403 mfa_required before calling anything (shared/context.py).
-- The service role bypasses RLS (jobs, webhooks); it is not a signed-in user.
-- API keys act at the level their creator had (20261206160100): below aal2, refused.
-- =============================================================================

alter table public.organization_settings
  add column require_mfa boolean not null default false;

comment on column public.organization_settings.require_mfa is
  'When true, every member needs an aal2 session (TOTP verified) to read or write the organization''s data.';

-- The organizations that require MFA, looked up by the policies' function.
create index organization_settings_require_mfa
  on public.organization_settings (organization_id) where require_mfa;

-- The session's assurance level, from the JWT claims PostgREST sets ('' without).
create or replace function private.session_aal()
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'aal', '');
end;
$$;

-- Whether the current session meets an organization's MFA requirement.
-- PL/pgSQL (its query planned once per session): an SQL function with a pinned
-- search_path is planned on every call.
create or replace function private.mfa_satisfied(organization_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return private.session_aal() = 'aal2'
      or not exists (
        select from public.organization_settings s
        where s.organization_id = mfa_satisfied.organization_id and s.require_mfa);
end;
$$;

-- private.my_mfa_organizations: defined in 20261206170300 (its final form; nothing is deployed)

-- The caller's organizations whose data the session may not touch: those that
-- require MFA while the token is below aal2 ('{}' at aal2 and for non-users). The
-- restrictive policies' initPlan: one call per statement.
create or replace function private.mfa_pending_organizations()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  -- private.session_aal() written out: this runs for every statement on the tables.
  if coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'aal', '')
     = 'aal2' then
    return '{}';
  end if;
  return coalesce(
    (select array_agg(s.organization_id)
     from public.organization_settings s
     where s.require_mfa
       and exists (select from public.memberships m
                   where m.organization_id = s.organization_id and m.user_id = auth.uid())),
    '{}');
end;
$$;

-- =============================================================================
-- Who may change require_mfa: owners; turning it on from an aal2 session (an owner
-- who turns it on must not lock themself out). The service role and postgres may.
-- =============================================================================

create or replace function private.require_mfa_by_owners()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.require_mfa is distinct from old.require_mfa and auth.uid() is not null then
    perform private.require_role(new.organization_id, 'owner',
      'only owners can change business.require_mfa');
    if new.require_mfa and private.session_aal() <> 'aal2' then
      raise exception 'turning on business.require_mfa needs your session at aal2'
        using errcode = '42501',
              hint = 'mfa_required: enroll a TOTP factor and verify a code (POST /api/auth/mfa/verify), then retry with the aal2 token.';
    end if;
  end if;
  return new;
end;
$$;

create trigger require_mfa_by_owners
  before update of require_mfa on public.organization_settings
  for each row execute function private.require_mfa_by_owners();

grant update (require_mfa) on public.organization_settings to authenticated;

-- =============================================================================
-- private.require_role: as before (20261206100200_organizations.sql), and a caller
-- below aal2 in an organization that requires MFA is refused with the hint
-- mfa_required (the RPCs that check a role first answer it, not "not found").
-- =============================================================================

-- The one role guard of every RPC that speaks for an organization: refuses (42501)
-- a signed-in caller below `min_role` in it, with `refusal` as the message when the
-- RPC names the action ("deleting clients needs the member role or above ...").
-- Server code acting for an organization passes: the service role (workers and
-- jobs, which have BYPASSRLS anyway) and a session without any JWT (psql, a
-- migration, a test run as the owner); an API role without a user is refused.
-- No organization (null) is refused as one the caller is not a member of. SECURITY
-- INVOKER: it reads nothing itself (has_role_on_organization reads the memberships).
create or replace function private.require_role(
  organization_id uuid, min_role public.membership_role, refusal text default null
)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if auth.uid() is not null or organization_id is null then
    if organization_id is null
       or not private.has_role_on_organization(organization_id, min_role) then
      raise exception '%', coalesce(refusal, case min_role
          when 'viewer' then 'you are not a member of this organization'
          else pg_catalog.format('this needs the %s role or above in the organization', min_role)
        end)
        using errcode = '42501';
    end if;
    if not private.mfa_satisfied(organization_id) then
      raise exception 'this organization requires multi-factor authentication: your session is not at aal2'
        using errcode = '42501',
              hint = 'mfa_required: verify a TOTP code (POST /api/auth/mfa/challenge, then /api/auth/mfa/verify) and use the aal2 token.';
    end if;
  elsif auth.role() is distinct from 'service_role'
        and (auth.role() is not null or current_user in ('anon', 'authenticated')) then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
end;
$$;
grant execute on function
  private.require_role(uuid, public.membership_role, text)
  to authenticated, service_role;

-- =============================================================================
-- The restrictive policies, from the catalog: every table of public with an
-- organization_id column (partitions take their parent's). Memberships: the
-- caller's own rows stay readable (which organizations need a step-up).
-- =============================================================================

do $$
declare
  t record;
  pending constant text := 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])';
begin
  for t in
    select c.relname
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id'
                                  and not a.attisdropped
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname
  loop
    if t.relname = 'memberships' then
      execute pg_catalog.format(
        'create policy mfa_required on public.%I as restrictive for select to authenticated using (user_id = (select auth.uid()) or %s)',
        t.relname, pending);
      execute pg_catalog.format(
        'create policy mfa_required_insert on public.%I as restrictive for insert to authenticated with check (%s)',
        t.relname, pending);
      execute pg_catalog.format(
        'create policy mfa_required_update on public.%I as restrictive for update to authenticated using (%s) with check (%s)',
        t.relname, pending, pending);
      execute pg_catalog.format(
        'create policy mfa_required_delete on public.%I as restrictive for delete to authenticated using (%s)',
        t.relname, pending);
    else
      execute pg_catalog.format(
        'create policy mfa_required on public.%I as restrictive for all to authenticated using (%s) with check (%s)',
        t.relname, pending, pending);
    end if;
  end loop;
end;
$$;

-- realtime.messages: no joining or sending on an organization's topics below aal2.
create policy mfa_required on realtime.messages as restrictive for all to authenticated
  using (coalesce(private.realtime_topic_organization((select realtime.topic()))
                  <> all ((select private.mfa_pending_organizations())::uuid[]), true))
  with check (coalesce(private.realtime_topic_organization((select realtime.topic()))
                       <> all ((select private.mfa_pending_organizations())::uuid[]), true));

-- =============================================================================
-- api_context (20261206140100_teams.sql's): each organization also answers
-- require_mfa, so the API refuses with 403 mfa_required before any query.
-- =============================================================================

-- Returns
--   {"user_id": ..., "organizations": [{"id", "name", "role", "personal"}, ...],
--    "limited": bool, "retry_after": seconds, "hits": n}
-- `rate_limit` <= 0 disables the limit. Counting happens even when limited, so a
-- caller hammering the API stays limited until the window turns over. It runs as its
-- caller: RLS shows the caller's memberships and organizations; the session check and
-- the counter are the two definer helpers above.
--
-- As in the api_context migration, without closed organizations: the API neither
-- lists nor acts in them.
create or replace function public.api_context(
  rate_limit integer default 0,
  window_seconds integer default 60
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  started timestamptz;
  counted integer := 0;
  orgs jsonb;
  requiring uuid[];
begin
  if uid is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  if private.session_has_ended() then
    raise exception 'the session has ended; sign in again' using errcode = '28000';
  end if;
  if window_seconds < 1 or window_seconds > 86400 then
    raise exception 'window_seconds must be between 1 and 86400' using errcode = '22023';
  end if;

  if rate_limit > 0 then
    started := date_bin(make_interval(secs => window_seconds), now(), timestamptz '2000-01-01');
    counted := private.count_request(window_seconds);
  end if;

  requiring := private.my_mfa_organizations();
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', o.id, 'name', o.name, 'role', m.role, 'personal', o.personal,
           'require_mfa', o.id = any (requiring))
           order by o.personal desc, o.created_at, o.id), '[]'::jsonb)
  into orgs
  from public.memberships m
  join public.organizations o on o.id = m.organization_id
  where m.user_id = uid and o.closed_at is null;

  return jsonb_build_object(
    'user_id', uid,
    'organizations', orgs,
    'hits', counted,
    'limited', rate_limit > 0 and counted > rate_limit,
    'retry_after', case
      when rate_limit > 0 and counted > rate_limit
        then greatest(1, ceil(extract(epoch from
               started + make_interval(secs => window_seconds) - now()))::integer)
      else 0 end
  );
end;
$$;
grant execute on function public.api_context(integer, integer) to authenticated;

-- =============================================================================
-- update_settings: 20261206110500_reminder_levels.sql's, with business.require_mfa
-- (a boolean; the trigger above decides who may change it).
-- =============================================================================

-- public.update_settings: defined in 20261206170200 (its final form; nothing is deployed)

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.session_aal(),
  private.mfa_satisfied(uuid),
  private.mfa_pending_organizations()
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
