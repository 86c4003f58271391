-- =============================================================================
-- Issue 17: the MFA restrictive policy made cheap (budget: <= 10 % on the RLS list
-- benchmark; 20261206140200_require_mfa.sql's version cost 35-45 us a statement,
-- 1.26-1.41x on the filtered first page, bench/RESULTS.md).
--
-- Where the cost was: every statement ran two PL/pgSQL helpers, each a query of its
-- own (an initPlan each): private.my_organization_ids() for the permissive policy and
-- private.mfa_pending_organizations() for the restrictive one. What changes:
--
--   * memberships.mfa_required: a copy of organization_settings.require_mfa on every
--     membership, kept by triggers (the settings' change rewrites its organization's
--     memberships; a new or moved membership reads its organization's settings under
--     a share lock, so it cannot miss a concurrent change). The caller's organizations
--     that need a step-up are then the caller's own membership rows with the flag: no
--     join, and the same rows the permissive helper reads anyway.
--   * private.my_organization_ids_at_aal(min_role): my_organization_ids(min_role)
--     without the organizations whose MFA requirement the session does not meet (the
--     aal claim is read only for a flagged membership).
--   * On every organization table whose reads were granted by one permissive policy
--     calling my_organization_ids (all of them at this migration, but memberships),
--     that policy calls my_organization_ids_at_aal instead, and the restrictive
--     policy for SELECT is the very same expression. PostgreSQL adds a restrictive
--     qual equal to the permissive one only once (rowsecurity.c, add_security_quals:
--     list_append_unique), so a read runs ONE helper, one query, as before
--     issue 17: the restrictive policy enforces MFA on its own (it would refuse the
--     rows if the permissive policies changed) at no cost of its own.
--   * Writes keep a restrictive policy per command on the pending organizations
--     (mfa_required_insert, _update, _delete), as memberships already had;
--     private.mfa_pending_organizations() keeps its interface (the realtime policy and
--     tables of later migrations call it) and reads the flag.
--
-- Tables created after this migration may keep the older single restrictive
-- policy ('mfa_required' for all commands on mfa_pending_organizations()): correct,
-- one indexed lookup dearer; pgTAP 820 and 950 accept either shape.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- The flag and its triggers
-- -----------------------------------------------------------------------------

alter table public.memberships
  add column mfa_required boolean not null default false;

comment on column public.memberships.mfa_required is
  'Copy of the organization''s organization_settings.require_mfa, kept by triggers (the RLS helpers read it with the caller''s memberships). Not writable by users.';

create index memberships_mfa_required_idx
  on public.memberships (user_id) include (organization_id) where mfa_required;

-- A membership's flag is its organization's setting, whatever the statement says.
-- Runs after set_updated_at (triggers fire by name): an update that changes nothing
-- but the flag keeps the membership's updated_at (the organization's setting changed,
-- not the membership). FOR SHARE waits for a concurrent change of the setting, which
-- then finds this membership when it rewrites the organization's flags.
create or replace function private.membership_mfa_required()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.mfa_required := coalesce(
    (select s.require_mfa from public.organization_settings s
     where s.organization_id = new.organization_id
     for share),
    false);
  if tg_op = 'UPDATE'
     and (pg_catalog.to_jsonb(new) - 'mfa_required' - 'updated_at')
         = (pg_catalog.to_jsonb(old) - 'mfa_required' - 'updated_at') then
    new.updated_at := old.updated_at;
  end if;
  return new;
end;
$$;

create trigger z_mfa_required_follows_settings
  before insert or update on public.memberships
  for each row execute function private.membership_mfa_required();

-- The organization's setting, copied to its memberships.
create or replace function private.organization_mfa_required()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.memberships m
  set mfa_required = new.require_mfa
  where m.organization_id = new.organization_id
    and m.mfa_required is distinct from new.require_mfa;
  return null;
end;
$$;

create trigger mfa_required_to_memberships
  after insert or update of require_mfa on public.organization_settings
  for each row execute function private.organization_mfa_required();

-- The audit log records memberships' changes, not the copy of a setting (the
-- setting's own change is recorded on organization_settings).
drop trigger audit_updates on public.memberships;
create trigger audit_updates after update on public.memberships
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.record_audit('mfa_required');

update public.memberships m
set mfa_required = true
from public.organization_settings s
where s.organization_id = m.organization_id and s.require_mfa and not m.mfa_required;

-- -----------------------------------------------------------------------------
-- The helpers
-- -----------------------------------------------------------------------------

-- As private.my_organization_ids (20261206140100_teams.sql: a closed organization
-- counts for reading only), without the organizations that require MFA while the
-- session is below aal2. The claim is read only for a membership that carries the
-- flag (a user has few memberships: no initPlan needed).
create or replace function private.my_organization_ids_at_aal(min_role public.membership_role default 'viewer')
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if min_role = 'viewer' then
    return coalesce(
      (select array_agg(m.organization_id)
       from public.memberships m
       where m.user_id = auth.uid()
         and (not m.mfa_required
              or coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'aal', '')
                 = 'aal2')),
      '{}');
  end if;
  return coalesce(
    (select array_agg(m.organization_id)
     from public.memberships m
     join public.organizations o on o.id = m.organization_id
     where m.user_id = auth.uid() and m.role >= min_role and o.closed_at is null
       and (not m.mfa_required
            or coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'aal', '')
               = 'aal2')),
    '{}');
end;
$$;

-- Same interface as 20261206140200's: the caller's organizations whose data the
-- session may not touch ('{}' at aal2), now from the flagged memberships (a partial
-- index holding only those).
create or replace function private.mfa_pending_organizations()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'aal', '')
     = 'aal2' then
    return '{}';
  end if;
  return array(select m.organization_id from public.memberships m
               where m.user_id = auth.uid() and m.mfa_required);
end;
$$;

-- The caller's organizations that require MFA (whatever the session's level), from
-- the partial index of the organizations that do: nothing to read when none does.
--
-- The caller's organizations that require MFA, whatever the session (api_context).
create or replace function private.my_mfa_organizations()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return array(select m.organization_id from public.memberships m
               where m.user_id = auth.uid() and m.mfa_required);
end;
$$;
grant execute on function private.my_mfa_organizations() to authenticated, service_role;

grant execute on function private.my_organization_ids_at_aal(public.membership_role)
  to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- The policies, from the catalog: every public table (but memberships, whose own
-- rows stay readable below aal2) that has the restrictive mfa_required policy for all
-- commands and one permissive policy for SELECT calling my_organization_ids.
-- -----------------------------------------------------------------------------

do $$
declare
  t record;
  reads text;
  pending constant text := 'organization_id <> all ((select private.mfa_pending_organizations())::uuid[])';
begin
  for t in
    select c.oid, c.relname, s.polname as read_policy, pg_catalog.pg_get_expr(s.polqual, s.polrelid) as read_qual
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_policy r on r.polrelid = c.oid and r.polname = 'mfa_required'
                                and not r.polpermissive and r.polcmd = '*'
    join pg_catalog.pg_policy s on s.polrelid = c.oid and s.polpermissive and s.polcmd = 'r'
    where n.nspname = 'public' and c.relname <> 'memberships'
      and (select count(*) from pg_catalog.pg_policy p
           where p.polrelid = c.oid and p.polpermissive and p.polcmd in ('r', '*')) = 1
      and pg_catalog.pg_get_expr(s.polqual, s.polrelid) like '%( SELECT private.my_organization_ids(%'
    order by c.relname
  loop
    reads := replace(t.read_qual, '( SELECT private.my_organization_ids(',
                     '( SELECT private.my_organization_ids_at_aal(');
    execute pg_catalog.format('alter policy %I on public.%I using (%s)', t.read_policy, t.relname, reads);
    execute pg_catalog.format('drop policy mfa_required on public.%I', t.relname);
    execute pg_catalog.format(
      'create policy mfa_required on public.%I as restrictive for select to authenticated using (%s)',
      t.relname, reads);
    execute pg_catalog.format(
      'create policy mfa_required_insert on public.%I as restrictive for insert to authenticated with check (%s)',
      t.relname, pending);
    execute pg_catalog.format(
      'create policy mfa_required_update on public.%I as restrictive for update to authenticated using (%s) with check (%s)',
      t.relname, pending, pending);
    execute pg_catalog.format(
      'create policy mfa_required_delete on public.%I as restrictive for delete to authenticated using (%s)',
      t.relname, pending);
  end loop;
end;
$$;

-- =============================================================================
-- Deleting an account (DELETE /api/auth/account). The database deletes the caller's
-- auth.users row (what Auth's admin delete does: the identities, sessions and factors
-- go by their foreign keys, the profile, settings and memberships by ours): the HTTP
-- functions never hold the service role key Auth's admin API needs. Refused first,
-- clearly: an account with a verified MFA factor below aal2 (42501, hint
-- mfa_required), and the last owner of an organization with other members, whose
-- organizations the answer names. Auth's own admin delete (DELETE
-- /auth/v1/admin/users/{id}, the dashboard) meets the trigger
-- private.keep_an_owner_on_user_delete (20261206140100_teams.sql) instead, whose
-- exception Supabase Auth answers with its generic 500 "Database error deleting user";
-- that path is the platform's (docs/teams.md).
-- =============================================================================

-- The open organizations the caller is the last owner of while others are members:
-- those the trigger refuses the deletion for ([{id, name}], oldest first). Definer:
-- below aal2 in an organization that requires MFA the caller may not read its other
-- members, and the answer must not depend on it.
create or replace function private.my_last_owner_organizations()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  return coalesce(
    (select jsonb_agg(jsonb_build_object('id', o.id, 'name', o.name) order by o.created_at, o.id)
     from public.memberships m
     join public.organizations o on o.id = m.organization_id
     where m.user_id = uid and m.role = 'owner' and o.closed_at is null
       and not exists (select 1 from public.memberships other
                       where other.organization_id = m.organization_id
                         and other.user_id <> uid and other.role = 'owner')
       and exists (select 1 from public.memberships other
                   where other.organization_id = m.organization_id and other.user_id <> uid)),
    '[]'::jsonb);
end;
$$;

-- {"deleted": true}, or {"deleted": false, "last_owner_of": [{id, name}, ...]}.
create or replace function private.delete_my_account()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  blockers jsonb;
begin
  if uid is null or coalesce(auth.jwt() -> 'amr', '[]'::jsonb) @> '[{"method": "api_key"}]' then
    raise exception 'only a signed-in person can delete their account' using errcode = '42501';
  end if;
  if not exists (select 1 from auth.users u where u.id = uid) then
    raise exception 'no such account' using errcode = 'P0002';
  end if;
  if exists (select 1 from auth.mfa_factors f where f.user_id = uid and f.status = 'verified')
     and coalesce(auth.jwt() ->> 'aal', '') <> 'aal2' then
    raise exception 'your account has MFA: deleting it needs an aal2 session'
      using errcode = '42501',
            hint = 'mfa_required: verify a TOTP code (POST /api/auth/mfa/challenge, then /api/auth/mfa/verify) and retry with the aal2 token.';
  end if;
  blockers := private.my_last_owner_organizations();
  if jsonb_array_length(blockers) > 0 then
    return jsonb_build_object('deleted', false, 'last_owner_of', blockers);
  end if;
  begin
    delete from auth.users u where u.id = uid;
  exception when check_violation then
    -- keep_an_owner_on_user_delete: someone left, or was demoted, since the check.
    blockers := private.my_last_owner_organizations();
    if jsonb_array_length(blockers) = 0 then
      raise;
    end if;
    return jsonb_build_object('deleted', false, 'last_owner_of', blockers);
  end;
  return jsonb_build_object('deleted', true);
end;
$$;

-- The RPC the route calls, as its caller.
create or replace function public.delete_account()
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  return private.delete_my_account();
end;
$$;

comment on function public.delete_account() is
  'Deletes the caller''s account ({"deleted": true}), or names the organizations they are the last owner of while others are members ({"deleted": false, "last_owner_of": [...]}). An account with MFA needs aal2.';

grant execute on function private.my_last_owner_organizations(), private.delete_my_account(),
  public.delete_account()
  to authenticated;

revoke execute on all functions in schema private, public from public;
