-- =============================================================================
-- Clients (the customers an organization bills) and their activity timeline.
--
-- A client's currency is the currency of all its invoices, so its totals are
-- sums of one currency. total_billed, last_invoice_date and outstanding_balance
-- are derived from invoices (see the invoices migration) and cannot be written
-- by the API roles.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.clients (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  company_name text not null check (length(btrim(company_name)) between 1 and 200),
  contact_person text check (length(contact_person) <= 200),
  email text check (length(email) <= 320 and email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  phone text check (length(phone) <= 50),
  address text check (length(address) <= 1000),
  notes text check (length(notes) <= 5000),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'active' check (status in ('active', 'inactive', 'pending')),
  billing_frequency text not null default 'monthly'
    check (billing_frequency in ('monthly', 'quarterly', 'annually', 'one-time')),
  avatar_url text check (length(avatar_url) <= 2048),
  total_billed numeric not null default 0,
  last_invoice_date date,
  outstanding_balance numeric not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Targets of the composite foreign keys that keep children in the client's
  -- organization (and invoices in the client's currency).
  unique (organization_id, id),
  unique (organization_id, id, currency)
);

create index clients_organization_company_name_idx on public.clients (organization_id, company_name);
create index clients_organization_status_idx on public.clients (organization_id, status);
create index clients_organization_email_idx on public.clients (organization_id, email);

-- The client's timeline: created, contacted, invoiced, paid, overdue.
-- Append-only for the API roles (a timeline is not rewritten).
create table public.client_activities (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  client_id uuid not null,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  activity text not null check (length(btrim(activity)) between 1 and 1000),
  "timestamp" timestamptz not null default now(),
  type text not null default 'other'
    check (type in ('new', 'communication', 'payment', 'invoice_sent', 'invoice_overdue', 'other')),
  metadata jsonb check (metadata is null or jsonb_typeof(metadata) = 'object'),
  foreign key (organization_id, client_id)
    references public.clients (organization_id, id) on delete cascade
);

create index client_activities_client_timestamp_idx
  on public.client_activities (client_id, "timestamp" desc);
create index client_activities_organization_timestamp_idx
  on public.client_activities (organization_id, "timestamp" desc);
create index client_activities_organization_type_idx
  on public.client_activities (organization_id, type);

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.clients
  for each row execute function private.set_updated_at();

-- A new client takes the organization's default currency unless given one.
create or replace function private.default_client_currency()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  select s.default_currency into new.currency
  from public.organization_settings s
  where s.organization_id = new.organization_id;
  new.currency := coalesce(new.currency, 'USD');
  return new;
end;
$$;

create trigger default_client_currency
  before insert on public.clients
  for each row when (new.currency is null)
  execute function private.default_client_currency();

-- Every new client starts its timeline with a 'new' activity.
create or replace function private.log_new_clients()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.client_activities (organization_id, client_id, created_by, activity, type)
  select n.organization_id, n.id, n.created_by, 'Client ' || n.company_name || ' created', 'new'
  from new_rows n;
  return null;
end;
$$;

create trigger log_new_clients
  after insert on public.clients
  referencing new table as new_rows
  for each statement execute function private.log_new_clients();

-- =============================================================================
-- Row level security
-- =============================================================================

alter table public.clients enable row level security;
alter table public.client_activities enable row level security;

revoke all on public.clients, public.client_activities from anon, authenticated;
grant select, delete on public.clients to authenticated;
grant insert (
  id, organization_id, company_name, contact_person, email, phone, address, notes, currency,
  status, billing_frequency, avatar_url
) on public.clients to authenticated;
grant update (
  company_name, contact_person, email, phone, address, notes, currency, status,
  billing_frequency, avatar_url
) on public.clients to authenticated;
grant select on public.client_activities to authenticated;
grant insert (id, organization_id, client_id, activity, "timestamp", type, metadata)
  on public.client_activities to authenticated;

create policy "Members can view their organization's clients"
  on public.clients for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add clients to their organization"
  on public.clients for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's clients"
  on public.clients for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's clients"
  on public.clients for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's client activities"
  on public.client_activities for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can record activities for their organization's clients"
  on public.client_activities for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

select private.enable_audit(
  'public.clients',
  array['updated_at', 'total_billed', 'last_invoice_date', 'outstanding_balance']
);

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
