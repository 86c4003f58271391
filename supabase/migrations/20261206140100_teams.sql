-- =============================================================================
-- Teams (issue 17): organizations a person manages through the API, their members
-- and roles, invitations by e-mail, closing an organization that holds financial
-- records, and the audit trail read back as a feature.
--
-- Rules, all here so PostgREST obeys them as the API does:
-- - Roles, weakest first: viewer < member < admin < owner. Admins manage viewers and
--   members (change their role up to admin, remove them, invite them); only owners
--   touch admins and owners, make owners, or invite an owner. Nobody raises their own
--   role (a trigger, whatever the path). An organization keeps at least one owner
--   (private.keep_an_owner, the organizations migration): the last owner can neither
--   leave, be demoted nor be removed, and deleting that user from Auth is refused
--   while the organization has other members (a trigger on auth.users).
-- - Deleting an organization (its owners only): one holding financial records
--   (invoices, quotes, credit notes, payments, refunds, recurring profiles, payables
--   documents) is closed instead -- closed_at set, kept for the retention period,
--   hidden from api_context (so from the API), read-only for everyone (every write
--   policy and role check asks my_organization_ids / has_role_on_organization with a
--   role above viewer, which leave closed organizations out), its recurring profiles
--   paused and its pending invitations revoked. One without such records is deleted.
-- - Invitations: an admin invites an address with a role; only the SHA-256 of the
--   token (made by the API, secrets.token_urlsafe(32)) is kept. Single use, expiring
--   (7 days by default, `valid_days` 1..30), revocable, resendable (a new token, the
--   old one dead). Accepting needs a signed-in user whose confirmed e-mail is the
--   invited one (case-insensitive); every refusal is a distinct status, and failed
--   accepts are counted per user (10 a minute) so tokens cannot be tried in bulk. The
--   public preview (private.invitation_preview, service role only: the API's public
--   route calls it) answers minimal data, counted per client address.
-- - Every change is audited with its actor: memberships and invitations through
--   private.enable_audit, organizations through their own statement trigger (their
--   organization_id is their id). public.audit_history reads one record's history.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

alter table public.organizations
  add column closed_at timestamptz,
  add column closed_by uuid references auth.users (id) on delete set null;

create index organizations_closed_by_idx on public.organizations (closed_by) where closed_by is not null;

-- An invitation to join an organization with a role, sent to an e-mail address.
create table public.invitations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  email text not null
    constraint invitations_email_shape check (
      email = lower(btrim(email)) and length(email) between 3 and 320
      and email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  role public.membership_role not null default 'member',
  token_hash text not null unique constraint invitations_token_hash_shape check (token_hash ~ '^[0-9a-f]{64}$'),
  invited_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_sent_at timestamptz not null default now(),
  send_count integer not null default 1,
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  revoked_at timestamptz,
  revoked_by uuid references auth.users (id) on delete set null,
  constraint invitations_one_end check (accepted_at is null or revoked_at is null)
);

alter table public.invitations enable row level security;

-- One live invitation per address and organization (an expired one is revoked when
-- the address is invited again).
create unique index invitations_pending_email_idx on public.invitations (organization_id, email)
  where accepted_at is null and revoked_at is null;
create index invitations_organization_idx on public.invitations (organization_id, created_at desc);
create index invitations_invited_by_idx on public.invitations (invited_by) where invited_by is not null;
create index invitations_accepted_by_idx on public.invitations (accepted_by) where accepted_by is not null;
create index invitations_revoked_by_idx on public.invitations (revoked_by) where revoked_by is not null;

-- The audit list's filters by actor and by table, newest first (GET /api/audit), and
-- the history of an invoice's items and payments (public.audit_history).
create index audit_log_organization_actor_idx
  on public.audit_log (organization_id, changed_by, changed_at desc);
create index audit_log_organization_table_idx
  on public.audit_log (organization_id, table_name, changed_at desc);
create index audit_log_organization_record_idx
  on public.audit_log (organization_id, record_id, changed_at desc);
create index audit_log_invoice_children_idx
  on public.audit_log ((coalesce(new_record ->> 'invoice_id', old_record ->> 'invoice_id')))
  where table_name in ('public.invoice_items', 'public.payments', 'public.credit_notes',
                       'public.refunds', 'public.invoice_late_fees');
create index audit_log_client_children_idx
  on public.audit_log ((coalesce(new_record ->> 'client_id', old_record ->> 'client_id')))
  where table_name in ('public.invoices', 'public.quotes', 'public.credit_notes',
                       'public.recurring_profiles');

-- =============================================================================
-- Roles: closed organizations are read-only
-- =============================================================================

-- As in the organizations migration, but a closed organization counts only for
-- reading (min_role viewer): every write policy asks for member or above.
create or replace function private.my_organization_ids(min_role public.membership_role default 'viewer')
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
       where m.user_id = auth.uid()),
      '{}');
  end if;
  return coalesce(
    (select array_agg(m.organization_id)
     from public.memberships m
     join public.organizations o on o.id = m.organization_id
     where m.user_id = auth.uid() and m.role >= min_role and o.closed_at is null),
    '{}');
end;
$$;

-- Whether the current user has at least `min_role` in the organization (for
-- RPC functions and checks that speak of one organization).
create or replace function private.has_role_on_organization(
  organization_id uuid, min_role public.membership_role default 'viewer'
)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.memberships m
    join public.organizations o on o.id = m.organization_id
    where m.organization_id = has_role_on_organization.organization_id
      and m.user_id = auth.uid()
      and m.role >= min_role
      and (min_role = 'viewer' or o.closed_at is null)
  );
end;
$$;
grant execute on function
  private.has_role_on_organization(uuid, public.membership_role)
  to authenticated, service_role;

-- public.api_context: defined in 20261206140200 (its final form; nothing is deployed)

-- =============================================================================
-- Triggers
-- =============================================================================

-- Nobody raises their own role, by any path (PostgREST, an RPC): a promotion is
-- someone else's decision. Lowering one's own role is allowed (transfer of
-- ownership; keep_an_owner guards the last owner).
create or replace function private.forbid_raising_own_role()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.user_id = (select auth.uid()) and new.role > old.role then
    raise exception 'nobody can raise their own role'
      using errcode = '42501', hint = 'Ask an owner of the organization.';
  end if;
  return new;
end;
$$;

create trigger forbid_raising_own_role
  before update of role on public.memberships
  for each row execute function private.forbid_raising_own_role();

-- A user who is the last owner of an organization with other members cannot be
-- deleted from Auth (the dashboard, auth.admin.deleteUser): the organization would
-- be left without anyone able to manage it. Organizations of one member (a personal
-- one) go on as before: their membership goes with the user.
create or replace function private.keep_an_owner_on_user_delete()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  org_name text;
begin
  select o.name into org_name
  from public.memberships m
  join public.organizations o on o.id = m.organization_id
  where m.user_id = old.id and m.role = 'owner' and o.closed_at is null
    and not exists (select 1 from public.memberships other
                    where other.organization_id = m.organization_id
                      and other.user_id <> old.id and other.role = 'owner')
    and exists (select 1 from public.memberships other
                where other.organization_id = m.organization_id and other.user_id <> old.id)
  order by o.created_at
  limit 1;
  if found then
    raise exception 'this user is the last owner of the organization "%", which has other members', org_name
      using errcode = '23514',
            hint = 'Transfer the ownership to another member, or delete the organization, first.';
  end if;
  return old;
end;
$$;

create trigger keep_an_owner_on_user_delete
  before delete on auth.users
  for each row execute function private.keep_an_owner_on_user_delete();

-- Organizations carry no organization_id column: their entries name their own id.
create or replace function private.record_organization_audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  actor uuid := auth.uid();
  actor_role text := coalesce(auth.role(), current_user::text);
begin
  if tg_op = 'INSERT' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, new_record, changed_by, changed_by_role)
    select r.id, 'public.organizations', r.id, 'INSERT', to_jsonb(r), actor, actor_role
    from new_rows r;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, changed_by, changed_by_role)
    select r.id, 'public.organizations', r.id, 'DELETE', to_jsonb(r), actor, actor_role
    from old_rows r;
  else
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select n.id, 'public.organizations', n.id, 'UPDATE', to_jsonb(o), to_jsonb(n), actor, actor_role
    from old_rows o join new_rows n on n.id = o.id
    where (to_jsonb(o) - 'updated_at') is distinct from (to_jsonb(n) - 'updated_at');
  end if;
  return null;
end;
$$;

create trigger audit_inserts after insert on public.organizations
  referencing new table as new_rows
  for each statement execute function private.record_organization_audit();
create trigger audit_updates after update on public.organizations
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.record_organization_audit();
create trigger audit_deletes after delete on public.organizations
  referencing old table as old_rows
  for each statement execute function private.record_organization_audit();

create trigger set_updated_at before update on public.invitations
  for each row execute function private.set_updated_at();

select private.enable_audit('public.invitations', '{updated_at}');

-- =============================================================================
-- Policies
-- =============================================================================

-- Admins manage viewers and members; owners everyone (the organizations migration's
-- policies let an admin change or remove another admin).
drop policy "Admins can change roles, and only owners can touch owners" on public.memberships;
create policy "Admins change viewers' and members' roles, owners anyone's"
  on public.memberships for update to authenticated
  using (
    organization_id = any ((select private.my_organization_ids('owner'))::uuid[])
    or (organization_id = any ((select private.my_organization_ids('admin'))::uuid[])
        and (role in ('viewer', 'member') or user_id = (select auth.uid())))
  )
  with check (
    organization_id = any ((select private.my_organization_ids('owner'))::uuid[])
    or (organization_id = any ((select private.my_organization_ids('admin'))::uuid[])
        and role <> 'owner')
  );

drop policy "Admins remove members, owners remove owners, anyone can leave" on public.memberships;
create policy "Admins remove viewers and members, owners anyone; all may leave"
  on public.memberships for delete to authenticated
  using (
    user_id = (select auth.uid())
    or organization_id = any ((select private.my_organization_ids('owner'))::uuid[])
    or (organization_id = any ((select private.my_organization_ids('admin'))::uuid[])
        and role in ('viewer', 'member'))
  );

create policy "Admins can view their organization's invitations"
  on public.invitations for select to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

-- =============================================================================
-- Functions: organizations and members
-- =============================================================================

-- Whether the organization holds financial records (kept for the retention period:
-- closing instead of deleting).
create or replace function private.organization_has_records(organization_id uuid)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
  tbl text;
  found_one boolean;
begin
  foreach tbl in array array['invoices', 'payments', 'quotes', 'credit_notes', 'refunds',
                             'recurring_profiles', 'client_credit_entries', 'vendor_invoices',
                             'purchase_orders', 'goods_receipts']
  loop
    if pg_catalog.to_regclass('public.' || tbl) is not null then
      execute pg_catalog.format('select exists (select 1 from public.%I where organization_id = $1)', tbl)
        into found_one using organization_has_records.organization_id;
      if found_one then
        return true;
      end if;
    end if;
  end loop;
  return false;
end;
$$;

-- The caller's role in a live organization, or a refusal (42501) naming why.
create or replace function private.caller_role(organization_id uuid)
returns public.membership_role
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_role public.membership_role;
begin
  if (select auth.uid()) is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  -- The one role guard first: membership, and whatever else it asks of a session (an
  -- organization that requires MFA: aal2, migration 20261206140200_require_mfa.sql).
  perform private.require_role(caller_role.organization_id, 'viewer');
  select m.role into found_role
  from public.memberships m
  join public.organizations o on o.id = m.organization_id and o.closed_at is null
  where m.organization_id = caller_role.organization_id and m.user_id = (select auth.uid());
  if found_role is null then
    raise exception 'you are not a member of this organization' using errcode = '42501';
  end if;
  return found_role;
end;
$$;

-- A membership as the API answers it (with the member's name and e-mail).
create or replace function private.member_json(organization_id uuid, user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'user_id', m.user_id, 'organization_id', m.organization_id, 'role', m.role,
    'email', u.email, 'full_name', nullif(btrim(concat_ws(' ', p.first_name, p.last_name)), ''),
    'api_key', coalesce((u.raw_app_meta_data ->> 'invoiceflow_api_key')::boolean, false),
    'created_at', m.created_at, 'updated_at', m.updated_at)
  from public.memberships m
  join auth.users u on u.id = m.user_id
  left join public.profiles p on p.id = m.user_id
  where m.organization_id = member_json.organization_id and m.user_id = member_json.user_id
$$;

-- The organization's members (viewers and above may read them).
create or replace function private.list_members(organization_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_role(list_members.organization_id, 'viewer');
  return coalesce((
    select jsonb_agg(jsonb_build_object(
             'user_id', m.user_id, 'organization_id', m.organization_id, 'role', m.role,
             'email', u.email, 'full_name', nullif(btrim(concat_ws(' ', p.first_name, p.last_name)), ''),
             'api_key', coalesce((u.raw_app_meta_data ->> 'invoiceflow_api_key')::boolean, false),
             'created_at', m.created_at, 'updated_at', m.updated_at)
           order by m.role desc, m.created_at, m.user_id)
    from public.memberships m
    join auth.users u on u.id = m.user_id
    left join public.profiles p on p.id = m.user_id
    where m.organization_id = list_members.organization_id), '[]'::jsonb);
end;
$$;

-- The refusal when the last owner would go.
create or replace function private.refuse_last_owner(organization_id uuid, leaving uuid, what text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not exists (select 1 from public.memberships m
                 where m.organization_id = refuse_last_owner.organization_id
                   and m.role = 'owner' and m.user_id <> leaving) then
    raise exception 'the last owner of an organization cannot %', what
      using errcode = '23514',
            hint = 'Make another member an owner first (transfer-ownership), or delete the organization.';
  end if;
end;
$$;

create or replace function private.change_member_role(
  organization_id uuid, user_id uuid, role public.membership_role
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(change_member_role.organization_id);
  target public.memberships;
begin
  if change_member_role.role is null then
    raise exception 'role: give viewer, member, admin or owner' using errcode = '22023';
  end if;
  if mine < 'admin' then
    raise exception 'changing roles needs the admin role or above' using errcode = '42501';
  end if;
  select * into target from public.memberships m
  where m.organization_id = change_member_role.organization_id and m.user_id = change_member_role.user_id
  for update;
  if not found then
    raise exception 'member not found' using errcode = 'P0002';
  end if;
  if target.user_id = (select auth.uid()) and change_member_role.role > target.role then
    raise exception 'nobody can raise their own role' using errcode = '42501',
      hint = 'Ask an owner of the organization.';
  end if;
  if mine = 'admin' and (target.role in ('admin', 'owner') and target.user_id <> (select auth.uid())) then
    raise exception 'only owners change the role of admins and owners' using errcode = '42501';
  end if;
  if mine = 'admin' and change_member_role.role = 'owner' then
    raise exception 'only owners make owners' using errcode = '42501';
  end if;
  if target.role = 'owner' and change_member_role.role <> 'owner' then
    perform private.refuse_last_owner(target.organization_id, target.user_id, 'be demoted');
  end if;
  if target.role <> change_member_role.role then
    update public.memberships m set role = change_member_role.role
    where m.organization_id = target.organization_id and m.user_id = target.user_id;
  end if;
  return private.member_json(target.organization_id, target.user_id);
end;
$$;

create or replace function private.remove_member(organization_id uuid, user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(remove_member.organization_id);
  target public.memberships;
begin
  select * into target from public.memberships m
  where m.organization_id = remove_member.organization_id and m.user_id = remove_member.user_id
  for update;
  if not found then
    raise exception 'member not found' using errcode = 'P0002';
  end if;
  if target.user_id <> (select auth.uid()) then
    if mine < 'admin' then
      raise exception 'removing members needs the admin role or above' using errcode = '42501';
    end if;
    if mine = 'admin' and target.role in ('admin', 'owner') then
      raise exception 'only owners remove admins and owners' using errcode = '42501';
    end if;
  end if;
  if target.role = 'owner' then
    perform private.refuse_last_owner(target.organization_id, target.user_id, 'be removed');
  end if;
  delete from public.memberships m
  where m.organization_id = target.organization_id and m.user_id = target.user_id;
end;
$$;

create or replace function private.leave_organization(organization_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(leave_organization.organization_id);
begin
  if mine = 'owner' then
    perform private.refuse_last_owner(leave_organization.organization_id, (select auth.uid()), 'leave it');
  end if;
  delete from public.memberships m
  where m.organization_id = leave_organization.organization_id and m.user_id = (select auth.uid());
end;
$$;

-- The caller (an owner) makes another member an owner and becomes an admin.
create or replace function private.transfer_ownership(organization_id uuid, user_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(transfer_ownership.organization_id);
  uid uuid := (select auth.uid());
begin
  if mine <> 'owner' then
    raise exception 'only owners transfer the ownership' using errcode = '42501';
  end if;
  if transfer_ownership.user_id = uid then
    raise exception 'user_id: name another member; you are already an owner' using errcode = '22023';
  end if;
  perform 1 from public.memberships m
  where m.organization_id = transfer_ownership.organization_id and m.user_id = transfer_ownership.user_id
  for update;
  if not found then
    raise exception 'member not found' using errcode = 'P0002';
  end if;
  update public.memberships m set role = 'owner'
  where m.organization_id = transfer_ownership.organization_id
    and m.user_id = transfer_ownership.user_id and m.role <> 'owner';
  update public.memberships m set role = 'admin'
  where m.organization_id = transfer_ownership.organization_id and m.user_id = uid;
  return private.member_json(transfer_ownership.organization_id, transfer_ownership.user_id);
end;
$$;

-- Deletes the organization, or closes it when it holds financial records. Answers
-- {"id", "closed": bool}.
create or replace function private.delete_organization(organization_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(delete_organization.organization_id);
begin
  if mine <> 'owner' then
    raise exception 'only owners delete an organization' using errcode = '42501';
  end if;
  perform 1 from public.organizations o where o.id = delete_organization.organization_id for update;
  if private.organization_has_records(delete_organization.organization_id) then
    update public.organizations o set closed_at = now(), closed_by = (select auth.uid())
    where o.id = delete_organization.organization_id;
    update public.invitations i set revoked_at = now(), revoked_by = (select auth.uid())
    where i.organization_id = delete_organization.organization_id
      and i.accepted_at is null and i.revoked_at is null;
    update public.recurring_profiles r set status = 'paused', paused_at = now()
    where r.organization_id = delete_organization.organization_id and r.status = 'active';
    return jsonb_build_object('id', delete_organization.organization_id, 'closed', true);
  end if;
  delete from public.organizations o where o.id = delete_organization.organization_id;
  return jsonb_build_object('id', delete_organization.organization_id, 'closed', false);
end;
$$;

-- =============================================================================
-- Functions: invitations
-- =============================================================================

create or replace function private.invitation_json(i public.invitations)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', i.id, 'organization_id', i.organization_id, 'email', i.email, 'role', i.role,
    'status', case when i.accepted_at is not null then 'accepted'
                   when i.revoked_at is not null then 'revoked'
                   when i.expires_at <= now() then 'expired'
                   else 'pending' end,
    'invited_by', i.invited_by, 'created_at', i.created_at, 'expires_at', i.expires_at,
    'last_sent_at', i.last_sent_at, 'send_count', i.send_count,
    'accepted_at', i.accepted_at, 'revoked_at', i.revoked_at)
$$;

-- What the e-mail needs beside the invitation: the organization's and the inviter's names.
create or replace function private.invitation_mail_json(i public.invitations)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private.invitation_json(i) || jsonb_build_object(
    'organization_name', (select o.name from public.organizations o where o.id = i.organization_id),
    'inviter_name', (select coalesce(nullif(btrim(concat_ws(' ', p.first_name, p.last_name)), ''), u.email)
                     from auth.users u left join public.profiles p on p.id = u.id
                     where u.id = (select auth.uid())))
$$;

create or replace function private.check_invitation_rights(
  organization_id uuid, role public.membership_role
)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  mine public.membership_role := private.caller_role(check_invitation_rights.organization_id);
begin
  if mine < 'admin' then
    raise exception 'invitations need the admin role or above' using errcode = '42501';
  end if;
  if check_invitation_rights.role = 'owner' and mine <> 'owner' then
    raise exception 'only owners invite owners' using errcode = '42501';
  end if;
end;
$$;

create or replace function private.create_invitation(
  organization_id uuid, email text, role public.membership_role, token_hash text,
  valid_days integer default 7
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  address text := lower(btrim(create_invitation.email));
  created public.invitations;
begin
  if create_invitation.role is null then
    raise exception 'role: give viewer, member, admin or owner' using errcode = '22023';
  end if;
  perform private.check_invitation_rights(create_invitation.organization_id, create_invitation.role);
  if valid_days is null or valid_days not between 1 and 30 then
    raise exception 'valid_days must be between 1 and 30' using errcode = '22023';
  end if;
  if address is null or address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 320 then
    raise exception 'email: not an e-mail address' using errcode = '22023';
  end if;
  if exists (select 1 from public.memberships m join auth.users u on u.id = m.user_id
             where m.organization_id = create_invitation.organization_id and lower(u.email) = address) then
    raise exception 'email: % is already a member of the organization', address
      using errcode = '23505', hint = 'Change their role instead.';
  end if;
  -- An expired invitation to the same address makes way for the new one.
  update public.invitations i set revoked_at = now(), revoked_by = (select auth.uid())
  where i.organization_id = create_invitation.organization_id and i.email = address
    and i.accepted_at is null and i.revoked_at is null and i.expires_at <= now();
  if exists (select 1 from public.invitations i
             where i.organization_id = create_invitation.organization_id and i.email = address
               and i.accepted_at is null and i.revoked_at is null) then
    raise exception 'email: % already has a pending invitation', address
      using errcode = '23505', hint = 'Resend it, or revoke it first.';
  end if;
  insert into public.invitations (organization_id, email, role, token_hash, invited_by, expires_at)
  values (create_invitation.organization_id, address, create_invitation.role,
          create_invitation.token_hash, (select auth.uid()),
          now() + pg_catalog.make_interval(days => valid_days))
  returning * into created;
  return private.invitation_mail_json(created);
end;
$$;

-- A pending (or expired) invitation gets a new token and a new expiry: the old
-- token no longer opens anything.
create or replace function private.resend_invitation(
  invitation_id uuid, token_hash text, valid_days integer default 7
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_one public.invitations;
begin
  select * into found_one from public.invitations i where i.id = invitation_id for update;
  if not found or not private.has_role_on_organization(found_one.organization_id, 'admin') then
    raise exception 'invitation not found' using errcode = 'P0002';
  end if;
  perform private.check_invitation_rights(found_one.organization_id, found_one.role);
  if valid_days is null or valid_days not between 1 and 30 then
    raise exception 'valid_days must be between 1 and 30' using errcode = '22023';
  end if;
  if found_one.accepted_at is not null or found_one.revoked_at is not null then
    raise exception 'the invitation was already %', case when found_one.accepted_at is not null
                                                          then 'accepted' else 'revoked' end
      using errcode = '23505', hint = 'Invite the address again.';
  end if;
  update public.invitations i
  set token_hash = resend_invitation.token_hash,
      expires_at = now() + pg_catalog.make_interval(days => valid_days),
      last_sent_at = now(), send_count = i.send_count + 1
  where i.id = invitation_id
  returning * into found_one;
  return private.invitation_mail_json(found_one);
end;
$$;

create or replace function private.revoke_invitation(invitation_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_one public.invitations;
begin
  select * into found_one from public.invitations i where i.id = invitation_id for update;
  if not found or not private.has_role_on_organization(found_one.organization_id, 'admin') then
    raise exception 'invitation not found' using errcode = 'P0002';
  end if;
  perform private.check_invitation_rights(found_one.organization_id, found_one.role);
  if found_one.accepted_at is not null then
    raise exception 'the invitation was already accepted' using errcode = '23505',
      hint = 'Remove the member instead.';
  end if;
  if found_one.revoked_at is null then
    update public.invitations i set revoked_at = now(), revoked_by = (select auth.uid())
    where i.id = invitation_id
    returning * into found_one;
  end if;
  return private.invitation_json(found_one);
end;
$$;

-- One hit in a fixed window of a minute for `key` (the API's rate-limit table, under a
-- uuid made from the key; a minute because api_context's sweep deletes the table's rows
-- older than two of its windows, which would reset a longer one at random); the
-- window's count.
create or replace function private.count_invitation_attempt(key text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  counted integer;
begin
  insert into private.rate_limit_windows as w (user_id, window_start)
  values (pg_catalog.md5('invitation:' || key)::uuid,
          pg_catalog.date_trunc('minute', pg_catalog.now()))
  on conflict (user_id, window_start) do update set hits = w.hits + 1
  returning w.hits into counted;
  return counted;
end;
$$;

-- The number of failed accepts a user may make in a minute.
create or replace function private.invitation_attempt_limit()
returns integer
language sql
immutable
set search_path = ''
as $$ select 10 $$;

-- Accepts the invitation whose token hashes to `token_hash` for the signed-in
-- caller. Never raises for a refusal: answers {"status": ...} with accepted,
-- not_found, expired, revoked, already_accepted, wrong_user, email_unconfirmed,
-- already_member or limited (the API turns each into its own 4xx). A refusal counts
-- against the caller's window of a minute; past it every answer is `limited`.
create or replace function private.accept_invitation(token_hash text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  caller auth.users;
  found_one public.invitations;
  refusal text;
begin
  if uid is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  if coalesce((select w.hits from private.rate_limit_windows w
               where w.user_id = pg_catalog.md5('invitation:accept:' || uid)::uuid
                 and w.window_start = pg_catalog.date_trunc('minute', pg_catalog.now())), 0)
     >= private.invitation_attempt_limit() then
    return jsonb_build_object('status', 'limited',
      'retry_after', greatest(1, ceil(extract(epoch from
        pg_catalog.date_trunc('minute', pg_catalog.now()) + interval '1 minute' - pg_catalog.now()))::integer));
  end if;
  select * into caller from auth.users u where u.id = uid;
  if accept_invitation.token_hash is not null and accept_invitation.token_hash ~ '^[0-9a-f]{64}$' then
    select * into found_one from public.invitations i
    where i.token_hash = accept_invitation.token_hash for update;
  end if;
  if found_one.id is null then
    refusal := 'not_found';
  elsif found_one.accepted_at is not null then
    refusal := case when found_one.accepted_by = uid then 'already_accepted' else 'not_found' end;
  elsif found_one.revoked_at is not null then
    refusal := 'revoked';
  elsif lower(caller.email) is distinct from found_one.email then
    refusal := 'wrong_user';
  elsif found_one.expires_at <= now() then
    refusal := 'expired';
  elsif caller.email_confirmed_at is null then
    refusal := 'email_unconfirmed';
  elsif exists (select 1 from public.organizations o
                where o.id = found_one.organization_id and o.closed_at is not null) then
    refusal := 'revoked';
  elsif exists (select 1 from public.memberships m
                where m.organization_id = found_one.organization_id and m.user_id = uid) then
    refusal := 'already_member';
  end if;
  if refusal is not null then
    perform private.count_invitation_attempt('accept:' || uid);
    return jsonb_build_object('status', refusal);
  end if;
  insert into public.memberships (organization_id, user_id, role)
  values (found_one.organization_id, uid, found_one.role);
  update public.invitations i set accepted_at = now(), accepted_by = uid where i.id = found_one.id;
  return jsonb_build_object('status', 'accepted',
                            'membership', private.member_json(found_one.organization_id, uid),
                            'organization', (select jsonb_build_object('id', o.id, 'name', o.name)
                                             from public.organizations o
                                             where o.id = found_one.organization_id));
end;
$$;

-- The public preview of an invitation (the page a link opens before signing in):
-- the organization's name, the role, who invited, the address masked, the expiry.
-- {"found": false} for a token that opens nothing live (wrong, used, revoked,
-- expired: one answer), {"limited": true, "retry_after": n} past the address's
-- window (`address_limit` a minute). For the service role only (the API's public
-- route); anon has no way in.
create or replace function private.invitation_preview(
  token_hash text, client_address text, address_limit integer default 30
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_one public.invitations;
  local_part text;
begin
  if coalesce(address_limit, 0) > 0
     and private.count_invitation_attempt('preview:' || coalesce(left(client_address, 64), '')) > address_limit then
    return jsonb_build_object('limited', true, 'retry_after', greatest(1, ceil(extract(epoch from
      pg_catalog.date_trunc('minute', pg_catalog.now()) + interval '1 minute' - pg_catalog.now()))::integer));
  end if;
  if token_hash is not null and token_hash ~ '^[0-9a-f]{64}$' then
    select i.* into found_one from public.invitations i
    join public.organizations o on o.id = i.organization_id and o.closed_at is null
    where i.token_hash = invitation_preview.token_hash
      and i.accepted_at is null and i.revoked_at is null and i.expires_at > now();
  end if;
  if found_one.id is null then
    return jsonb_build_object('found', false);
  end if;
  local_part := split_part(found_one.email, '@', 1);
  return jsonb_build_object(
    'found', true,
    'organization_name', (select o.name from public.organizations o where o.id = found_one.organization_id),
    'role', found_one.role,
    'invited_by', (select coalesce(nullif(btrim(concat_ws(' ', p.first_name, p.last_name)), ''), 'a member')
                   from public.profiles p where p.id = found_one.invited_by),
    'email_hint', left(local_part, 1) || repeat('*', greatest(length(local_part) - 1, 1))
                  || '@' || split_part(found_one.email, '@', 2),
    'expires_at', found_one.expires_at);
end;
$$;

-- =============================================================================
-- Functions: the audit trail
-- =============================================================================

-- One record's history in the caller's organization, newest first, with the
-- entries of what belongs to it: an invoice's items, payments, credit notes,
-- refunds and late fees; a client's invoices, quotes, credit notes and recurring
-- profiles. Runs as its caller: the audit log's policy shows admins their
-- organization's entries only. Answers {"total", "data"}.
create or replace function public.audit_history(
  organization_id uuid, entity text, record_id uuid, page_size integer default 25,
  page_offset integer default 0
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  found_ids bigint[];
  total bigint;
  result jsonb;
begin
  perform private.require_role(audit_history.organization_id, 'admin',
                               'the audit trail is for admins and owners');
  if entity is null or entity not in ('invoice', 'client') then
    raise exception 'entity: give invoice or client' using errcode = '22023';
  end if;
  if page_size is null or page_size not between 1 and 100 or page_offset is null or page_offset < 0 then
    raise exception 'page_size must be 1..100 and page_offset >= 0' using errcode = '22023';
  end if;
  -- Each branch names its key and tables literally, so that the partial expression
  -- indexes audit_log_invoice_children_idx / _client_children_idx answer it.
  if entity = 'invoice' then
    select array_agg(e.id) into found_ids from (
      select a.id from public.audit_log a
      where a.table_name = 'public.invoices' and a.record_id = audit_history.record_id
        and a.organization_id = audit_history.organization_id
      union all
      select a.id from public.audit_log a
      where a.table_name in ('public.invoice_items', 'public.payments', 'public.credit_notes',
                                'public.refunds', 'public.invoice_late_fees')
        and coalesce(a.new_record ->> 'invoice_id', a.old_record ->> 'invoice_id')
            = audit_history.record_id::text
        and a.organization_id = audit_history.organization_id) e;
  else
    select array_agg(e.id) into found_ids from (
      select a.id from public.audit_log a
      where a.table_name = 'public.clients' and a.record_id = audit_history.record_id
        and a.organization_id = audit_history.organization_id
      union all
      select a.id from public.audit_log a
      where a.table_name in ('public.invoices', 'public.quotes', 'public.credit_notes',
                                'public.recurring_profiles')
        and coalesce(a.new_record ->> 'client_id', a.old_record ->> 'client_id')
            = audit_history.record_id::text
        and a.organization_id = audit_history.organization_id) e;
  end if;
  total := coalesce(cardinality(found_ids), 0);
  select jsonb_build_object(
    'total', total,
    'data', coalesce(jsonb_agg(jsonb_build_object(
        'id', p.id, 'organization_id', p.organization_id, 'table_name', p.table_name,
        'record_id', p.record_id, 'action', lower(p.operation), 'old_record', p.old_record,
        'new_record', p.new_record, 'changed_by', p.changed_by, 'changed_by_role', p.changed_by_role,
        'transaction_id', p.transaction_id, 'changed_at', p.changed_at)
        order by p.changed_at desc, p.id desc), '[]'::jsonb))
  into result
  from (select a.* from public.audit_log a
        where a.id = any (coalesce(found_ids, '{}'))
        order by a.changed_at desc, a.id desc
        limit page_size offset page_offset) p;
  return result;
end;
$$;

-- =============================================================================
-- Functions: the RPCs (security invoker wrappers over the definer cores above)
-- =============================================================================

create function public.list_members(organization_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.list_members($1) $$;

create function public.change_member_role(organization_id uuid, user_id uuid, role public.membership_role)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.change_member_role($1, $2, $3) $$;

create function public.remove_member(organization_id uuid, user_id uuid)
returns void language sql volatile security invoker set search_path = ''
as $$ select private.remove_member($1, $2) $$;

create function public.leave_organization(organization_id uuid)
returns void language sql volatile security invoker set search_path = ''
as $$ select private.leave_organization($1) $$;

create function public.transfer_ownership(organization_id uuid, user_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.transfer_ownership($1, $2) $$;

create function public.delete_organization(organization_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.delete_organization($1) $$;

create function public.create_invitation(
  organization_id uuid, email text, role public.membership_role, token_hash text,
  valid_days integer default 7)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.create_invitation($1, $2, $3, $4, $5) $$;

create function public.resend_invitation(invitation_id uuid, token_hash text, valid_days integer default 7)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.resend_invitation($1, $2, $3) $$;

create function public.revoke_invitation(invitation_id uuid)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.revoke_invitation($1) $$;

create function public.accept_invitation(token_hash text)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.accept_invitation($1) $$;

create function public.invitation_preview(token_hash text, client_address text, address_limit integer default 30)
returns jsonb language sql volatile security invoker set search_path = ''
as $$ select private.invitation_preview($1, $2, $3) $$;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.invitations from anon, authenticated, service_role;
grant select (id, organization_id, email, role, invited_by, created_at, updated_at, expires_at,
              last_sent_at, send_count, accepted_at, accepted_by, revoked_at, revoked_by)
  on public.invitations to authenticated;
grant select on public.invitations to service_role;

grant execute on function
  private.list_members(uuid), private.change_member_role(uuid, uuid, public.membership_role),
  private.remove_member(uuid, uuid), private.leave_organization(uuid),
  private.transfer_ownership(uuid, uuid), private.delete_organization(uuid),
  private.create_invitation(uuid, text, public.membership_role, text, integer),
  private.resend_invitation(uuid, text, integer), private.revoke_invitation(uuid),
  private.accept_invitation(text),
  public.list_members(uuid), public.change_member_role(uuid, uuid, public.membership_role),
  public.remove_member(uuid, uuid), public.leave_organization(uuid),
  public.transfer_ownership(uuid, uuid), public.delete_organization(uuid),
  public.create_invitation(uuid, text, public.membership_role, text, integer),
  public.resend_invitation(uuid, text, integer), public.revoke_invitation(uuid),
  public.accept_invitation(text),
  public.audit_history(uuid, text, uuid, integer, integer)
  to authenticated, service_role;

grant execute on function private.invitation_preview(text, text, integer),
  public.invitation_preview(text, text, integer) to service_role;

revoke execute on all functions in schema private, public from public;
