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

-- The caller's organizations that require MFA (whatever the session's level), from
-- the partial index of the organizations that do: nothing to read when none does.
create or replace function private.my_mfa_organizations()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return coalesce(
    (select array_agg(s.organization_id)
     from public.organization_settings s
     where s.require_mfa
       and exists (select from public.memberships m
                   where m.organization_id = s.organization_id and m.user_id = auth.uid())),
    '{}');
end;
$$;

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

-- =============================================================================
-- update_settings: 20261206110500_reminder_levels.sql's, with business.require_mfa
-- (a boolean; the trigger above decides who may change it).
-- =============================================================================

create or replace function public.update_settings(
  organization_id uuid default null,
  profile jsonb default null,
  business jsonb default null,
  notifications jsonb default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  org_id uuid := update_settings.organization_id;
  p jsonb := update_settings.profile;
  b jsonb := update_settings.business;
  n jsonb := update_settings.notifications;
  nb jsonb := b -> 'numbering';
  -- An empty section changes nothing, and writes nothing (updated_at stays).
  write_p boolean := p is not null and p <> '{}'::jsonb;
  write_b boolean := b is not null and b <> '{}'::jsonb;
  write_n boolean := n is not null and n <> '{}'::jsonb;
  current_next bigint;
  wanted_next bigint;
  rate numeric;
  cur public.organization_settings;
  kind text;
  problem text;
  want_pattern text;
  want_reset text;
begin
  if uid is null then
    raise exception 'sign in to change settings' using errcode = '42501';
  end if;
  if org_id is not null then
    perform private.require_role(org_id, 'viewer');
  end if;

  -- Every section is checked before anything is written.
  if p ? 'email' then
    raise exception 'profile.email cannot be changed here; it is the account''s email'
      using errcode = '22023';
  end if;
  perform private.check_section('profile', p, array['first_name', 'last_name', 'phone', 'avatar_url']);
  perform private.check_section('notifications', n, array['email_notifications', 'push_notifications']);
  perform private.check_flags('notifications.email_notifications', n -> 'email_notifications',
    array['paymentReceived', 'invoiceOverdue', 'paymentReminder', 'newClient', 'weeklyReport',
          'monthlyReport']);
  perform private.check_flags('notifications.push_notifications', n -> 'push_notifications',
    array['paymentReceived', 'invoiceOverdue', 'systemUpdates']);
  perform private.check_section('business', b, array[
    'business_name', 'business_email', 'business_phone', 'business_address', 'city', 'state',
    'zip_code', 'country', 'tax_id', 'website', 'company_logo_url', 'default_currency',
    'default_template', 'default_payment_terms', 'default_tax_rate', 'tax_label',
    'invoice_prefix', 'invoice_number_padding', 'next_invoice_number', 'invoice_footer',
    'default_notes', 'default_terms', 'default_payment_instructions', 'reminder_settings',
    'time_zone', 'overpayment', 'numbering', 'require_mfa']);
  -- The reminder settings' keys here; their values once merged with the stored
  -- ones (below), by private.reminder_settings_problem, as the table's constraint.
  if b -> 'reminder_settings' ?| array['daysBeforeDue', 'overdueFrequency'] then
    raise exception 'business.reminder_settings.%: replaced by levels and repeatEveryDays (docs/api.md, "Reminder levels")',
      case when b -> 'reminder_settings' ? 'daysBeforeDue' then 'daysBeforeDue' else 'overdueFrequency' end
      using errcode = '22023';
  end if;
  perform private.check_section('business.reminder_settings', b -> 'reminder_settings',
    array['enabled', 'levels', 'repeatEveryDays', 'lateFee']);
  -- The API sends a decimal as a string (no float on the way): stored as a number.
  if jsonb_typeof(b #> '{reminder_settings,lateFee,amount}') = 'string'
     and b #>> '{reminder_settings,lateFee,amount}' ~ '^[0-9]{1,12}(\.[0-9]{1,12})?$' then
    b := jsonb_set(b, '{reminder_settings,lateFee,amount}',
                   to_jsonb((b #>> '{reminder_settings,lateFee,amount}')::numeric));
  end if;
  perform private.check_section('business.numbering', nb, array['invoice', 'quote', 'credit_note']);
  perform private.check_section('business.numbering.' || k, nb -> k, array['pattern', 'reset'])
  from unnest(array['invoice', 'quote', 'credit_note']) k;
  if b is not null then
    if org_id is null then
      raise exception 'business settings belong to an organization: name one' using errcode = '22023';
    end if;
    perform private.require_role(org_id, 'admin',
      'changing business settings needs the admin role or above');
    if b ? 'invoice_prefix'
       and coalesce(b ->> 'invoice_prefix', '') !~ '^[A-Za-z0-9._/#-]{0,20}$' then
      raise exception 'business.invoice_prefix may hold at most 20 of A-Z a-z 0-9 . _ / # -'
        using errcode = '23514';
    end if;
    if b ? 'default_tax_rate' and jsonb_typeof(b -> 'default_tax_rate') in ('number', 'string') then
      rate := (b ->> 'default_tax_rate')::numeric;
      if rate < 0 or rate > 100 or scale(rate) > 3 then
        raise exception 'business.default_tax_rate must be between 0 and 100 with at most 3 decimals'
          using errcode = '23514';
      end if;
    end if;
    if b ? 'time_zone' and not private.is_iana_time_zone(b ->> 'time_zone') then
      raise exception 'business.time_zone must be an IANA time zone name such as Europe/Paris, not %',
        coalesce(pg_catalog.quote_literal(b ->> 'time_zone'), 'null')
        using errcode = '22023',
              hint = 'Abbreviations (EST, CET) and offsets (+05, UTC+3) are refused: name the place.';
    end if;
    if b ? 'require_mfa' and jsonb_typeof(b -> 'require_mfa') is distinct from 'boolean' then
      raise exception 'business.require_mfa is true or false' using errcode = '22023';
    end if;
    if b ? 'overpayment' and coalesce(b ->> 'overpayment', '') not in ('refuse', 'credit') then
      raise exception 'business.overpayment is refuse or credit' using errcode = '22023';
    end if;
    if nb -> 'invoice' ? 'pattern' and (b ? 'invoice_prefix' or b ? 'invoice_number_padding') then
      raise exception 'business.numbering.invoice.pattern and business.invoice_prefix or '
                      'invoice_number_padding cannot change together: give the pattern alone'
        using errcode = '22023';
    end if;
  end if;

  if write_p then
    update public.profiles pr
    set first_name = case when p ? 'first_name' then nullif(btrim(p ->> 'first_name'), '') else pr.first_name end,
        last_name = case when p ? 'last_name' then nullif(btrim(p ->> 'last_name'), '') else pr.last_name end,
        phone = case when p ? 'phone' then nullif(btrim(p ->> 'phone'), '') else pr.phone end,
        avatar_url = case when p ? 'avatar_url' then nullif(btrim(p ->> 'avatar_url'), '') else pr.avatar_url end
    where pr.id = uid;
    if not found then
      raise exception 'profile not found' using errcode = 'P0002';
    end if;
  end if;

  if write_n then
    update public.user_settings s
    set email_notifications = case when n ? 'email_notifications'
                                   then s.email_notifications || coalesce(n -> 'email_notifications', '{}')
                                   else s.email_notifications end,
        push_notifications = case when n ? 'push_notifications'
                                  then s.push_notifications || coalesce(n -> 'push_notifications', '{}')
                                  else s.push_notifications end
    where s.user_id = uid;
    if not found then
      raise exception 'notification settings not found' using errcode = 'P0002';
    end if;
  end if;

  if write_b then
    -- The counter's row lock (the one private.next_document_number takes), so
    -- the comparison below cannot race a number being handed out.
    select * into cur
    from public.organization_settings o
    where o.organization_id = org_id
    for no key update;
    if not found then
      raise exception 'business settings not found' using errcode = 'P0002';
    end if;
    current_next := cur.next_invoice_number;
    if b ? 'reminder_settings' then
      problem := private.reminder_settings_problem(
        cur.reminder_settings || coalesce(b -> 'reminder_settings', '{}'));
      if problem is not null then
        raise exception 'business.reminder_settings.%', problem using errcode = '22023';
      end if;
    end if;
    if b ? 'next_invoice_number' then
      wanted_next := (b ->> 'next_invoice_number')::bigint;
      if wanted_next < current_next then
        raise exception 'business.next_invoice_number can only go up; it is % now', current_next
          using errcode = '23514',
                hint = 'Numbers below it may already be on invoices.';
      end if;
    end if;
    -- Each type's pattern and reset as they would be, checked together.
    foreach kind in array array['invoice', 'quote', 'credit_note'] loop
      continue when nb -> kind is null;
      want_pattern := coalesce(nb -> kind ->> 'pattern', case kind
        when 'invoice' then cur.invoice_number_pattern when 'quote' then cur.quote_number_pattern
        else cur.credit_note_number_pattern end);
      want_reset := coalesce(nb -> kind ->> 'reset', case kind
        when 'invoice' then cur.invoice_number_reset when 'quote' then cur.quote_number_reset
        else cur.credit_note_number_reset end);
      problem := private.numbering_pattern_problem(want_pattern, want_reset);
      if problem is not null then
        raise exception 'business.numbering.%.%: %', kind,
          case when problem like 'reset is%' or (nb -> kind ? 'reset' and not nb -> kind ? 'pattern'
                                                  and problem like 'a pattern that resets%')
               then 'reset' else 'pattern' end,
          problem
          using errcode = '22023';
      end if;
    end loop;

    update public.organization_settings o
    set business_name = case when b ? 'business_name' then nullif(btrim(b ->> 'business_name'), '') else o.business_name end,
        business_email = case when b ? 'business_email' then nullif(btrim(b ->> 'business_email'), '') else o.business_email end,
        business_phone = case when b ? 'business_phone' then nullif(btrim(b ->> 'business_phone'), '') else o.business_phone end,
        business_address = case when b ? 'business_address' then nullif(btrim(b ->> 'business_address'), '') else o.business_address end,
        city = case when b ? 'city' then nullif(btrim(b ->> 'city'), '') else o.city end,
        state = case when b ? 'state' then nullif(btrim(b ->> 'state'), '') else o.state end,
        zip_code = case when b ? 'zip_code' then nullif(btrim(b ->> 'zip_code'), '') else o.zip_code end,
        country = case when b ? 'country' then nullif(btrim(b ->> 'country'), '') else o.country end,
        tax_id = case when b ? 'tax_id' then nullif(btrim(b ->> 'tax_id'), '') else o.tax_id end,
        website = case when b ? 'website' then nullif(btrim(b ->> 'website'), '') else o.website end,
        company_logo_url = case when b ? 'company_logo_url' then nullif(btrim(b ->> 'company_logo_url'), '') else o.company_logo_url end,
        default_currency = case when b ? 'default_currency' then upper(b ->> 'default_currency') else o.default_currency end,
        default_template = case when b ? 'default_template' then b ->> 'default_template' else o.default_template end,
        default_payment_terms = case when b ? 'default_payment_terms' then b ->> 'default_payment_terms' else o.default_payment_terms end,
        default_tax_rate = case when b ? 'default_tax_rate' then (b ->> 'default_tax_rate')::numeric else o.default_tax_rate end,
        tax_label = case when b ? 'tax_label' then btrim(b ->> 'tax_label') else o.tax_label end,
        invoice_prefix = case when b ? 'invoice_prefix' then b ->> 'invoice_prefix' else o.invoice_prefix end,
        invoice_number_padding = case when b ? 'invoice_number_padding' then (b ->> 'invoice_number_padding')::integer else o.invoice_number_padding end,
        next_invoice_number = coalesce(wanted_next, o.next_invoice_number),
        invoice_footer = case when b ? 'invoice_footer' then nullif(btrim(b ->> 'invoice_footer'), '') else o.invoice_footer end,
        default_notes = case when b ? 'default_notes' then nullif(btrim(b ->> 'default_notes'), '') else o.default_notes end,
        default_terms = case when b ? 'default_terms' then nullif(btrim(b ->> 'default_terms'), '') else o.default_terms end,
        default_payment_instructions = case when b ? 'default_payment_instructions' then nullif(btrim(b ->> 'default_payment_instructions'), '') else o.default_payment_instructions end,
        reminder_settings = case when b ? 'reminder_settings'
                                 then o.reminder_settings || coalesce(b -> 'reminder_settings', '{}')
                                 else o.reminder_settings end,
        time_zone = case when b ? 'time_zone' then b ->> 'time_zone' else o.time_zone end,
        overpayment = case when b ? 'overpayment' then b ->> 'overpayment' else o.overpayment end,
        require_mfa = case when b ? 'require_mfa' then (b ->> 'require_mfa')::boolean else o.require_mfa end,
        invoice_number_pattern = coalesce(nb -> 'invoice' ->> 'pattern', o.invoice_number_pattern),
        invoice_number_reset = coalesce(nb -> 'invoice' ->> 'reset', o.invoice_number_reset),
        quote_number_pattern = coalesce(nb -> 'quote' ->> 'pattern', o.quote_number_pattern),
        quote_number_reset = coalesce(nb -> 'quote' ->> 'reset', o.quote_number_reset),
        credit_note_number_pattern = coalesce(nb -> 'credit_note' ->> 'pattern', o.credit_note_number_pattern),
        credit_note_number_reset = coalesce(nb -> 'credit_note' ->> 'reset', o.credit_note_number_reset)
    where o.organization_id = org_id;
    if not found then
      raise exception 'changing business settings needs the admin role or above' using errcode = '42501';
    end if;
  end if;

  return private.settings_json(uid, org_id);
end;
$$;

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.session_aal(),
  private.mfa_satisfied(uuid),
  private.my_mfa_organizations(),
  private.mfa_pending_organizations()
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
