-- API keys in an organization that requires MFA (issues 16 and 17).
--
-- A key is a non-interactive credential: its requests cannot verify a TOTP code. The
-- rule: when the organization requires MFA, the admin creating a key must be at aal2
-- (create_api_key's require_role already refuses below aal2 there), and the key then
-- counts as satisfying the requirement: the token the API mints for it carries aal2 and
-- amr [{"method": "api_key"}]. A key is marked at creation with whether its creator's
-- session was at aal2 (created_at_aal2, set by a trigger from the caller's claims,
-- whatever the insert says), and api_key_session answers the aal its token may carry.
-- A key created below aal2 (before the organization turned the requirement on, or in an
-- organization that does not require it) keeps aal1: once the organization requires MFA
-- its requests are refused with 403 mfa_required, as a person's at aal1 are, and an admin
-- at aal2 replaces it with a new key (docs/integrations.md).

alter table public.api_keys
  add column created_at_aal2 boolean not null default false;

comment on column public.api_keys.created_at_aal2 is
  'Whether the admin who created the key was at aal2: the key''s minted token then carries aal2 (an organization requiring MFA accepts it).';

create or replace function private.api_key_creator_aal()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.created_at_aal2 := private.session_aal() = 'aal2';
  return new;
end;
$$;

create trigger api_key_creator_aal before insert on public.api_keys
  for each row execute function private.api_key_creator_aal();

-- The key behind the caller's (minted) token: its organization and scopes when
-- key_hash is the key's and it is not revoked, else null; notes its use (at most once a
-- minute). SECURITY DEFINER: last_used_at is bookkeeping the key's own role may not
-- write; it answers only about the caller's own account.
--
-- The key behind the caller's (minted) token, as 20261206130300's, with the aal its
-- token may carry.
create or replace function private.touch_api_key(key_hash text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  stored public.api_keys;
begin
  select * into stored from public.api_keys k
  where k.id = auth.uid() and k.key_hash = touch_api_key.key_hash and k.revoked_at is null;
  if not found then
    return null;
  end if;
  if stored.last_used_at is null or stored.last_used_at < now() - interval '1 minute' then
    update public.api_keys k set last_used_at = now() where k.id = stored.id;
  end if;
  return jsonb_build_object('id', stored.id, 'organization_id', stored.organization_id,
                            'scopes', stored.scopes, 'role', stored.role, 'name', stored.name,
                            'aal', case when stored.created_at_aal2 then 'aal2' else 'aal1' end);
end;
$$;
grant execute on function private.touch_api_key(text) to authenticated;
revoke execute on function private.touch_api_key(text) from public;

grant select (created_at_aal2) on public.api_keys to authenticated;
revoke execute on function private.api_key_creator_aal() from public;
