-- =============================================================================
-- Clients (the customers an organization bills) and their activity timeline.
--
-- A client's currency is the currency of all its invoices, so its totals are
-- sums of one currency. total_billed, last_invoice_date and outstanding_balance
-- are derived from invoices (see the invoices migration) and cannot be written
-- by the API roles.
--
-- The clients routes of the HTTP API: what needs more than one PostgREST call.
--
-- Deleting clients. A client's invoices keep it (invoices -> clients is ON DELETE
-- RESTRICT): financial records are never removed with their client, so a client
-- that has invoices is set to status 'inactive' instead. A client without
-- invoices is deleted with its activity timeline (the audit log keeps the row).
--
-- public.bulk_delete_clients deletes many clients in one transaction, each on
-- its own merits: every eligible id is deleted, every other one is reported with
-- the reason; the call as a whole either commits or (on an error) changes
-- nothing. It is SECURITY INVOKER, so row level security decides what the caller
-- may see and delete: ids of another organization are as absent as ids that do
-- not exist, and are reported 'not_found', never touched.
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

alter table public.clients enable row level security;
alter table public.client_activities enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index clients_organization_company_name_idx on public.clients (organization_id, company_name);
create index clients_organization_status_idx on public.clients (organization_id, status);
create index clients_organization_email_idx on public.clients (organization_id, email);

create index client_activities_client_timestamp_idx
  on public.client_activities (client_id, "timestamp" desc);

create index client_activities_organization_timestamp_idx
  on public.client_activities (organization_id, "timestamp" desc);

create index client_activities_organization_type_idx
  on public.client_activities (organization_id, type);

-- New clients in a date range (reports_overview) start from the organization.
create index if not exists clients_organization_created_at_idx
  on public.clients (organization_id, created_at);

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index clients_created_by_idx on public.clients (created_by) where created_by is not null;

-- Deleting a user looks up the rows that name it (the foreign key is ON DELETE
-- SET NULL or CASCADE); partial: the NULLs are never looked up.
create index client_activities_created_by_idx on public.client_activities (created_by) where created_by is not null;

-- =============================================================================
-- Functions
-- =============================================================================

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

-- Returns one object per requested id, in the order given:
--   [{"id": uuid, "status": "deleted" | "not_found" | "has_invoices", "message": text}, ...]
-- Refuses (nothing is deleted): a caller below member in the organization
-- (42501), no ids, more than 500, a null or a repeated id (22023).
create or replace function public.bulk_delete_clients(organization_id uuid, client_ids uuid[])
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  locked uuid[];
  results jsonb;
begin
  if auth.uid() is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  perform private.require_role(bulk_delete_clients.organization_id, 'member',
    'deleting clients needs the member role or above in the organization');
  if client_ids is null or cardinality(client_ids) = 0 then
    raise exception 'give at least one client id' using errcode = '22023';
  end if;
  if cardinality(client_ids) > 500 then
    raise exception 'at most 500 clients can be deleted at once; % were given',
      cardinality(client_ids)
      using errcode = '22023';
  end if;
  if array_position(client_ids, null) is not null then
    raise exception 'client ids cannot be null' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(client_ids) x) <> cardinality(client_ids) then
    raise exception 'client ids must be unique' using errcode = '22023';
  end if;

  -- Lock the caller's clients first (in id order, so concurrent bulk deletes
  -- cannot deadlock). A new invoice must lock its client (FOR KEY SHARE), so
  -- once these locks are held no invoice can appear for them, and the check
  -- below (a new snapshot: this is a new statement) sees every committed one.
  select coalesce(array_agg(c.id), '{}') into locked
  from (
    select c.id
    from public.clients c
    where c.organization_id = bulk_delete_clients.organization_id and c.id = any (client_ids)
    order by c.id
    for update
  ) c;

  with deleted as (
    delete from public.clients c
    where c.organization_id = bulk_delete_clients.organization_id
      and c.id = any (locked)
      and not exists (
        select 1 from public.invoices i
        where i.organization_id = bulk_delete_clients.organization_id and i.client_id = c.id
      )
    returning c.id
  )
  select jsonb_agg(
           case
             when d.id is not null then jsonb_build_object(
               'id', r.id, 'status', 'deleted', 'message', 'the client was deleted')
             when r.id = any (locked) then jsonb_build_object(
               'id', r.id, 'status', 'has_invoices',
               'message', 'the client has invoices and is kept with its financial records;'
                          ' set its status to inactive instead')
             else jsonb_build_object(
               'id', r.id, 'status', 'not_found',
               'message', 'no such client in this organization')
           end
           order by r.ord)
  into results
  from unnest(client_ids) with ordinality as r(id, ord)
  left join deleted d on d.id = r.id;

  return results;
end;
$$;

comment on function public.bulk_delete_clients(uuid, uuid[]) is
  'Deletes each of the given clients of an organization that has no invoices; reports the others.';

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.clients
  for each row execute function private.set_updated_at();

create trigger default_client_currency
  before insert on public.clients
  for each row when (new.currency is null)
  execute function private.default_client_currency();

create trigger log_new_clients
  after insert on public.clients
  referencing new table as new_rows
  for each statement execute function private.log_new_clients();

select private.enable_audit(
  'public.clients',
  array['updated_at', 'total_billed', 'last_invoice_date', 'outstanding_balance']
);

-- =============================================================================
-- Policies
-- =============================================================================

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

-- =============================================================================
-- Grants
-- =============================================================================

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

grant execute on function public.bulk_delete_clients(uuid, uuid[]) to authenticated;

revoke execute on all functions in schema private, public from public;
