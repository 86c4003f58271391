-- =============================================================================
-- Profiles and settings: a person's profile and notification settings, an
-- organization's business settings, the signup trigger that makes a new user's
-- profile and settings, and the routes that read and write them.
--
-- The HTTP API's settings: a person's profile and notification preferences,
-- and the business settings of the organization they act in.
--
--   get_settings(organization_id)     -> {"profile", "notifications", "business"}
--   update_settings(organization_id, profile, business, notifications)
--       changes any of the three sections in one transaction (all or nothing)
--       and answers like get_settings.
--
-- Both are SECURITY INVOKER: row level security decides who reads and writes
-- what (anyone their own profile and preferences; every member the business
-- settings, admins and owners change them). The functions add the rules a
-- column grant cannot say:
--   * a section names only known fields (the email is read-only here: it
--     follows the account, see the organizations migration);
--   * notification preferences and reminder settings merge key by key, and
--     stay objects of known keys with values of the right type (also checked
--     by the constraints below, for every writer);
--   * next_invoice_number only goes up (numbers already handed out are never
--     handed out again by the counter);
--   * the invoice prefix is at most 20 of A-Z a-z 0-9 . _ / # -.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

-- A person's own details (the seed's profile, minus the business fields, which
-- belong to the organization now, plus the email the seed's trigger wanted).
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  first_name text check (length(first_name) <= 100),
  last_name text check (length(last_name) <= 100),
  phone text check (length(phone) <= 50),
  avatar_url text check (length(avatar_url) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- A person's notification preferences (the seed's user_settings, less what is
-- the business's).
create table public.user_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  email_notifications jsonb not null default '{
    "paymentReceived": true,
    "invoiceOverdue": true,
    "paymentReminder": true,
    "newClient": true,
    "weeklyReport": true,
    "monthlyReport": true
  }' check (jsonb_typeof(email_notifications) = 'object'),
  push_notifications jsonb not null default '{
    "paymentReceived": true,
    "invoiceOverdue": true,
    "systemUpdates": true
  }' check (jsonb_typeof(push_notifications) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Shapes of the JSON columns, for every writer (API, PostgREST, dashboard).
  -- Inline expressions (no function), so no role needs an EXECUTE grant to write.
  -- Partial objects are allowed (older rows and tests hold some): readers take
  -- the defaults of the table for missing keys.
  constraint user_settings_email_notifications_shape check (
    (email_notifications - array['paymentReceived', 'invoiceOverdue', 'paymentReminder',
                                 'newClient', 'weeklyReport', 'monthlyReport']) = '{}'::jsonb
    and not jsonb_path_exists(email_notifications, '$.* ? (@.type() != "boolean")')
  ),
  constraint user_settings_push_notifications_shape check (
    (push_notifications - array['paymentReceived', 'invoiceOverdue', 'systemUpdates']) = '{}'::jsonb
    and not jsonb_path_exists(push_notifications, '$.* ? (@.type() != "boolean")')
  )
);

-- The business: what appears on its invoices, its defaults, and the invoice
-- number counter (next_invoice_number), advanced atomically by
-- private.assign_invoice_number().
create table public.organization_settings (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  business_name text check (length(business_name) <= 200),
  business_email text check (length(business_email) <= 320),
  business_phone text check (length(business_phone) <= 50),
  business_address text check (length(business_address) <= 500),
  city text check (length(city) <= 100),
  state text check (length(state) <= 100),
  zip_code text check (length(zip_code) <= 20),
  country text check (length(country) <= 100),
  tax_id text check (length(tax_id) <= 50),
  website text check (length(website) <= 2048),
  company_logo_url text check (length(company_logo_url) <= 2048),
  default_currency text not null default 'USD' check (default_currency ~ '^[A-Z]{3}$'),
  default_template text not null default 'professional'
    check (default_template in ('professional', 'modern', 'minimal')),
  default_payment_terms text not null default 'net30'
    check (default_payment_terms in ('due_on_receipt', 'net7', 'net15', 'net30', 'net45', 'net60', 'net90')),
  default_tax_rate numeric(6, 3) not null default 0
    check (default_tax_rate >= 0 and default_tax_rate <= 100),
  tax_label text not null default 'Tax' check (length(tax_label) between 1 and 50),
  invoice_prefix text not null default 'INV-' check (length(invoice_prefix) <= 20),
  invoice_number_padding integer not null default 4
    check (invoice_number_padding between 1 and 12),
  next_invoice_number bigint not null default 1 check (next_invoice_number >= 1),
  invoice_footer text check (length(invoice_footer) <= 2000),
  default_notes text check (length(default_notes) <= 5000),
  default_terms text check (length(default_terms) <= 5000),
  default_payment_instructions text check (length(default_payment_instructions) <= 5000),
  reminder_settings jsonb not null default '{
    "enabled": true,
    "daysBeforeDue": 7,
    "overdueFrequency": "daily"
  }' check (jsonb_typeof(reminder_settings) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organization_settings_reminder_settings_shape check (
    (reminder_settings - array['enabled', 'daysBeforeDue', 'overdueFrequency']) = '{}'::jsonb
    and (not reminder_settings ? 'enabled'
         or jsonb_typeof(reminder_settings -> 'enabled') = 'boolean')
    and (not reminder_settings ? 'daysBeforeDue'
         or case when jsonb_typeof(reminder_settings -> 'daysBeforeDue') = 'number'
                 then (reminder_settings ->> 'daysBeforeDue')::numeric between 0 and 60
                      and scale((reminder_settings ->> 'daysBeforeDue')::numeric) = 0
                 else false end)
    and (not reminder_settings ? 'overdueFrequency'
         or coalesce(reminder_settings ->> 'overdueFrequency', '') in ('daily', 'weekly', 'none'))
  )
);

alter table public.profiles enable row level security;
alter table public.user_settings enable row level security;
alter table public.organization_settings enable row level security;

-- =============================================================================
-- Functions
-- =============================================================================

-- Every organization gets its settings row, addressed with its creator's email.
create or replace function private.create_organization_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.organization_settings (organization_id, business_name, business_email)
  values (new.id, new.name, (select u.email from auth.users u where u.id = new.created_by))
  on conflict (organization_id) do nothing;
  return null;
end;
$$;

-- Signup: profile (with the email the seed's version tried to write into a
-- column that did not exist), user settings, and a personal organization owned
-- by the new user, named after the business name given at signup.
create or replace function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}');
  org_name text;
  org_id uuid;
begin
  insert into public.profiles (id, email, first_name, last_name, phone)
  values (
    new.id,
    new.email,
    nullif(btrim(meta ->> 'first_name'), ''),
    nullif(btrim(meta ->> 'last_name'), ''),
    nullif(btrim(coalesce(meta ->> 'phone', new.phone)), '')
  );

  insert into public.user_settings (user_id) values (new.id);

  org_name := left(coalesce(
    nullif(btrim(meta ->> 'business_name'), ''),
    nullif(btrim(concat_ws(' ', meta ->> 'first_name', meta ->> 'last_name')), ''),
    nullif(split_part(coalesce(new.email, ''), '@', 1), ''),
    'My business'
  ), 200);

  insert into public.organizations (name, personal, created_by)
  values (org_name, true, new.id)
  returning id into org_id;

  insert into public.memberships (organization_id, user_id, role)
  values (org_id, new.id, 'owner');

  return new;
end;
$$;

-- Keeps the profile's email in step with the account's.
create or replace function private.sync_profile_email()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return null;
end;
$$;

-- private.settings_json: defined in 20261206110100 (its final form; nothing is deployed)

-- Refuses keys a section does not have.
create or replace function private.check_section(section text, payload jsonb, known text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  unknown text;
begin
  if payload is null then
    return;
  end if;
  if jsonb_typeof(payload) <> 'object' then
    raise exception '% must be a JSON object', section using errcode = '22023';
  end if;
  select k into unknown from jsonb_object_keys(payload) k where k <> all (known) order by k limit 1;
  if unknown is not null then
    raise exception '%.% is not a setting that can be changed', section, unknown
      using errcode = '22023';
  end if;
end;
$$;

-- Refuses a flags object (notifications) with unknown keys or non-boolean values.
create or replace function private.check_flags(section text, payload jsonb, known text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  bad text;
begin
  perform private.check_section(section, payload, known);
  if payload is null then
    return;
  end if;
  select k into bad from jsonb_each(payload) e(k, v)
  where jsonb_typeof(v) <> 'boolean' order by k limit 1;
  if bad is not null then
    raise exception '%.% must be true or false', section, bad using errcode = '22023';
  end if;
end;
$$;

create or replace function public.get_settings(organization_id uuid default null)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception 'sign in to read settings' using errcode = '42501';
  end if;
  if get_settings.organization_id is not null then
    perform private.require_role(get_settings.organization_id, 'viewer');
  end if;
  return private.settings_json(uid, get_settings.organization_id);
end;
$$;

-- public.update_settings: defined in 20261206170200 (its final form; nothing is deployed)

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.profiles
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.user_settings
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.organization_settings
  for each row execute function private.set_updated_at();

create trigger create_organization_settings
  after insert on public.organizations
  for each row execute function private.create_organization_settings();

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();

create trigger on_auth_user_email_changed
  after update of email on auth.users
  for each row when (old.email is distinct from new.email)
  execute function private.sync_profile_email();

select private.enable_audit('public.organization_settings', array['updated_at', 'next_invoice_number']);

-- =============================================================================
-- Policies
-- =============================================================================

-- profiles ----------------------------------------------------------------------
create policy "Users can view their own profile and their colleagues'"
  on public.profiles for select to authenticated
  using (id = (select auth.uid()) or id = any ((select private.my_colleague_ids())::uuid[]));

create policy "Users can update their own profile"
  on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- user_settings -----------------------------------------------------------------
create policy "Users can view their own settings"
  on public.user_settings for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can update their own settings"
  on public.user_settings for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

-- organization_settings ---------------------------------------------------------
create policy "Members can view their organization's settings"
  on public.organization_settings for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Admins can update their organization's settings"
  on public.organization_settings for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('admin'))::uuid[]));

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.profiles, public.user_settings, public.organization_settings from anon, authenticated;

grant select on public.profiles to authenticated;
grant update (first_name, last_name, phone, avatar_url) on public.profiles to authenticated;
grant select on public.user_settings to authenticated;
grant update (email_notifications, push_notifications) on public.user_settings to authenticated;
grant select on public.organization_settings to authenticated;

grant update (
  business_name, business_email, business_phone, business_address, city, state, zip_code,
  country, tax_id, website, company_logo_url, default_currency, default_template,
  default_payment_terms, default_tax_rate, tax_label, invoice_prefix, invoice_number_padding,
  next_invoice_number, invoice_footer, default_notes, default_terms,
  default_payment_instructions, reminder_settings
) on public.organization_settings to authenticated;

grant execute on function private.check_section(text, jsonb, text[]) to authenticated;
grant execute on function private.check_flags(text, jsonb, text[]) to authenticated;
grant execute on function public.get_settings(uuid) to authenticated;

revoke execute on all functions in schema private, public from public;
