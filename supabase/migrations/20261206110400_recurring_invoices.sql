-- =============================================================================
-- Recurring invoices: a profile per client that issues an invoice every period.
--
--   recurring_profiles       the client (same organization and currency), the
--                            schedule, the invoice template (terms, tax rate,
--                            discount, notes, terms, payment instructions,
--                            template), auto_send, and where the schedule stands
--                            (next_period_index, next_billing_date, cycles_issued)
--   recurring_profile_items  the template's lines (1 to 200)
--   invoices.recurring_profile_id, invoices.recurring_period_start
--                            the profile and period an invoice was issued for;
--                            unique together: a period is invoiced at most once,
--                            whoever issues it (the job, run twice or at once;
--                            "issue now")
--
-- The schedule (private.recurring_billing_date, tested by pgTAP 540):
--   interval_unit day | week | month, interval_count N: every N days, weeks or
--   months (monthly = 1 month, quarterly = 3, annually = 12).
--   Period k (k = 0, 1, ...) bills on:
--     day    first_billing_date + k*N
--     week   first_billing_date + 7*k*N
--     month  day `billing_day` of the month first_billing_date + k*N months, or
--            that month's last day when it is shorter (31 -> 30 Apr, 28/29 Feb;
--            29 and 30 likewise in February)
--   first_billing_date: the start date for days and weeks; for months the
--   billing day of the start date's month, or of the next month when that day is
--   before the start date. billing_day defaults to the start date's day.
--   A period exists while its billing date is <= end_date and fewer than
--   max_cycles invoices have been issued (one end or the other, or none).
--   An invoice's issue date is its period's billing date, its due date follows
--   the profile's payment terms (custom: due_days after the issue date), and
--   recurring_period_start is the billing date.
--
-- Dates are the organization's (organization_settings.time_zone): a period is
-- due when its billing date <= the organization's local today
-- ((now() at time zone time_zone)::date, interface 1).
--
-- Status: active -> paused -> active; active | paused -> ended (cancelled, or
-- completed when the last period is issued or the end moves before the next).
-- Resuming does not backfill: the schedule continues at the first period whose
-- billing date is today or later (local); the periods of the pause are never
-- issued and do not count as cycles (max_cycles counts invoices issued).
--
-- The scheduled job (public.job_issue_recurring, functions/jobs/recurring.py)
-- issues at most batch_limit invoices a call, set-based, in one transaction a
-- call; the caller loops until a call issues fewer (docs/architecture.md,
-- "Statement timeouts"). Calls are serialized by an advisory lock and the due
-- profiles are locked (FOR UPDATE SKIP LOCKED, against "issue now" and edits);
-- the unique (recurring_profile_id, recurring_period_start) is the backstop.
-- Missed days: each missed period is issued once, dated for its period.
-- What is emailed (docs/jobs.md, "Recurring invoices"): with auto_send, only a
-- profile's current period (the latest whose billing date has come) is emailed,
-- through the bulk-send path (a bulk job per organization and call, its items
-- claimed once by the queue worker; mark_invoice_sent makes the invoice sent);
-- periods caught up late (a later period is already due) are issued as drafts
-- for a person to review and send, so a client gets at most one email per
-- profile and run. Without auto_send every invoice is a draft. "Issue now" makes
-- a draft (a person is there to send it).
--
-- clients.billing_frequency is the default interval of a new profile for that
-- client: monthly, quarterly, annually; 'one-time' clients have none (a profile
-- for them must say its interval).
--
-- Every public function is SECURITY INVOKER (RLS and the column grants decide);
-- the invoices carry their profile through private.issue_recurring_periods, a
-- definer (the API roles have no grant on the two columns, so nobody links an
-- invoice to a period by hand), which checks its caller.
-- =============================================================================

-- =============================================================================
-- Helpers the tables use
-- =============================================================================

-- The billing date of period k (see the header). PL/pgSQL: a few microseconds a
-- call, where an SQL function with a pinned search_path (never inlined) was planned
-- on every call (0.12 ms; the job calls it several times per period).
create or replace function private.recurring_billing_date(
  first_billing_date date, interval_unit text, interval_count integer, billing_day integer,
  k integer
)
returns date
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
  first_day date;
begin
  if interval_unit = 'day' then
    return first_billing_date + k * interval_count;
  elsif interval_unit = 'week' then
    return first_billing_date + 7 * k * interval_count;
  elsif interval_unit = 'month' then
    first_day := (pg_catalog.date_trunc('month', first_billing_date::timestamp)
                  + pg_catalog.make_interval(months => k * interval_count))::date;
    return first_day + (least(billing_day, pg_catalog.date_part(
      'day', first_day + interval '1 month' - interval '1 day')::integer) - 1);
  end if;
  return null;
end;
$$;

-- The first billing date of a schedule that starts on `start_date`.
create or replace function private.recurring_first_billing_date(
  start_date date, interval_unit text, billing_day integer
)
returns date
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
  same_month date;
begin
  if interval_unit <> 'month' then
    return start_date;
  end if;
  same_month := private.recurring_billing_date(start_date, 'month', 1, billing_day, 0);
  if same_month >= start_date then
    return same_month;
  end if;
  return private.recurring_billing_date(start_date, 'month', 1, billing_day, 1);
end;
$$;

-- =============================================================================
-- Tables
-- =============================================================================

create table public.recurring_profiles (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  client_id uuid not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  name text check (length(btrim(name)) between 1 and 200),
  interval_unit text not null check (interval_unit in ('day', 'week', 'month')),
  interval_count integer not null,
  billing_day integer check (billing_day between 1 and 31),
  start_date date not null check (start_date between date '2000-01-01' and date '2199-12-31'),
  end_date date,
  max_cycles integer check (max_cycles between 1 and 1000),
  payment_terms text not null default 'net30'
    check (payment_terms in ('due_on_receipt', 'net7', 'net15', 'net30', 'net45', 'net60', 'net90', 'custom')),
  due_days integer check (due_days between 0 and 365),
  tax_rate numeric not null default 0 check (tax_rate >= 0 and tax_rate <= 100 and scale(tax_rate) <= 3),
  discount numeric not null default 0 check (discount >= 0 and discount < 1e12),
  notes text check (length(notes) <= 5000),
  terms text check (length(terms) <= 5000),
  payment_instructions text check (length(payment_instructions) <= 5000),
  template text not null default 'professional'
    check (template in ('professional', 'modern', 'minimal')),
  auto_send boolean not null default false,
  status text not null default 'active' check (status in ('active', 'paused', 'ended')),
  ended_reason text check (ended_reason in ('completed', 'cancelled')),
  first_billing_date date not null,
  next_period_index integer not null default 0 check (next_period_index >= 0),
  next_billing_date date,
  cycles_issued integer not null default 0 check (cycles_issued >= 0),
  last_issued_at timestamptz,
  paused_at timestamptz,
  ended_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint recurring_profiles_interval_count_check check (case interval_unit
    when 'day' then interval_count between 1 and 365
    when 'week' then interval_count between 1 and 52
    else interval_count between 1 and 24 end),
  constraint recurring_profiles_billing_day_is_for_months
    check ((interval_unit = 'month') = (billing_day is not null)),
  constraint recurring_profiles_end_date_not_before_start_date
    check (end_date is null or end_date >= start_date),
  constraint recurring_profiles_one_end check (end_date is null or max_cycles is null),
  constraint recurring_profiles_custom_terms_have_due_days
    check ((payment_terms = 'custom') = (due_days is not null)),
  constraint recurring_profiles_status_shape check (
    (status = 'ended') = (ended_reason is not null)
    and (status = 'ended') = (next_billing_date is null)
    and (status = 'ended') = (ended_at is not null)
    and (status = 'paused') = (paused_at is not null)),
  -- The client must belong to the profile's organization and bill in its currency.
  -- Deleting a client deletes its profiles: a client may be deleted only without
  -- invoices (invoices -> clients restricts), so its profiles have issued none.
  constraint recurring_profiles_client_in_organization_and_currency_fkey
    foreign key (organization_id, client_id, currency)
    references public.clients (organization_id, id, currency) on update cascade on delete cascade,
  unique (organization_id, id),
  unique (organization_id, id, currency)
);

comment on table public.recurring_profiles is
  'A schedule that issues an invoice per period for one client (docs/billing-lifecycle.md).';

create table public.recurring_profile_items (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  profile_id uuid not null,
  currency text not null,
  position integer not null default 0 check (position >= 0),
  description text not null check (length(btrim(description)) between 1 and 2000),
  quantity numeric not null check (quantity > 0 and quantity < 1e9 and scale(quantity) <= 4),
  rate numeric not null check (rate >= 0 and rate < 1e12 and scale(rate) <= 4),
  amount numeric generated always as (private.round_money(quantity * rate, currency)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint recurring_profile_items_profile_fkey
    foreign key (organization_id, profile_id, currency)
    references public.recurring_profiles (organization_id, id, currency)
    on delete cascade on update cascade
);

alter table public.recurring_profiles enable row level security;
alter table public.recurring_profile_items enable row level security;

-- The invoices remember the profile and period they were issued for.
alter table public.invoices
  add column recurring_profile_id uuid,
  add column recurring_period_start date,
  add constraint invoices_recurring_period_with_profile
    check ((recurring_profile_id is null) = (recurring_period_start is null)),
  add constraint invoices_one_per_recurring_period unique (recurring_profile_id, recurring_period_start),
  add constraint invoices_recurring_profile_fkey
    foreign key (organization_id, recurring_profile_id)
    references public.recurring_profiles (organization_id, id);

-- =============================================================================
-- Indexes
-- =============================================================================

-- What the job scans: the active profiles, organization by organization, by their
-- next billing date.
create index recurring_profiles_due_idx
  on public.recurring_profiles (organization_id, next_billing_date, id) where status = 'active';
create index recurring_profiles_organization_created_idx
  on public.recurring_profiles (organization_id, created_at desc);
create index recurring_profiles_client_idx on public.recurring_profiles (organization_id, client_id, currency);
create index recurring_profiles_created_by_idx
  on public.recurring_profiles (created_by) where created_by is not null;
create index recurring_profile_items_profile_idx
  on public.recurring_profile_items (organization_id, profile_id, currency, position);
-- The foreign key from invoices: (recurring_profile_id, ...) leads the unique index;
-- this one serves the composite key's lookups from the organization side.
create index invoices_organization_recurring_profile_idx
  on public.invoices (organization_id, recurring_profile_id) where recurring_profile_id is not null;
-- The recurring job's sweep of its bulk sends not finished.
create index bulk_jobs_unfinished_recurring_idx
  on public.bulk_jobs (created_at) where finished_at is null and options ->> 'origin' = 'recurring';

-- =============================================================================
-- Functions
-- =============================================================================

-- The billing date of period k of a profile, or null when the profile has no
-- such period (past end_date, or max_cycles reached counting from the invoices
-- issued so far: cycles_issued, before next_period_index).
create or replace function private.recurring_period_date(
  p public.recurring_profiles, k integer
)
returns date
language plpgsql
stable
set search_path = ''
as $$
declare
  d date;
begin
  if k < p.next_period_index
     or (p.max_cycles is not null and p.cycles_issued + (k - p.next_period_index) >= p.max_cycles) then
    return null;
  end if;
  d := private.recurring_billing_date(p.first_billing_date, p.interval_unit, p.interval_count,
                                      p.billing_day, k);
  if p.end_date is not null and d > p.end_date then
    return null;
  end if;
  return d;
end;
$$;

-- The first period index from next_period_index on whose billing date is `day`
-- or later (resume: the paused periods are skipped).
create or replace function private.recurring_index_on_or_after(p public.recurring_profiles, day date)
returns integer
language plpgsql
stable
set search_path = ''
as $$
declare
  step integer;
  k integer;
begin
  if p.interval_unit = 'month' then
    k := ((pg_catalog.date_part('year', day) - pg_catalog.date_part('year', p.first_billing_date)) * 12
          + pg_catalog.date_part('month', day) - pg_catalog.date_part('month', p.first_billing_date))::integer
         / p.interval_count;
  else
    step := p.interval_count * case p.interval_unit when 'week' then 7 else 1 end;
    k := (day - p.first_billing_date) / step;
  end if;
  k := greatest(k - 1, p.next_period_index);
  while private.recurring_billing_date(p.first_billing_date, p.interval_unit, p.interval_count,
                                       p.billing_day, k) < day loop
    k := k + 1;
  end loop;
  return k;
end;
$$;

-- The due date of an invoice issued on `issued` under a profile's terms.
create or replace function private.recurring_due_date(payment_terms text, due_days integer, issued date)
returns date
language plpgsql
immutable
set search_path = ''
as $$
begin
  return issued + coalesce(case payment_terms
    when 'due_on_receipt' then 0 when 'net7' then 7 when 'net15' then 15 when 'net30' then 30
    when 'net45' then 45 when 'net60' then 60 when 'net90' then 90 end, due_days, 30);
end;
$$;

-- The label of an interval: monthly, quarterly, annually, or custom.
create or replace function private.recurring_frequency(interval_unit text, interval_count integer)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  return case
    when interval_unit = 'month' and interval_count = 1 then 'monthly'
    when interval_unit = 'month' and interval_count = 3 then 'quarterly'
    when interval_unit = 'month' and interval_count = 12 then 'annually'
    else 'custom'
  end;
end;
$$;

-- private.recurring_profile_document: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- A profile as the API answers it: its fields, the schedule's label, the client,
-- the items, how many invoices it issued and the latest 12. Security invoker:
-- null when the caller cannot see it. PL/pgSQL, not SQL: an SQL function called
-- from a PL/pgSQL expression keeps its plan (with the caller's row security) for
-- the rest of the transaction, even after the role changes; PL/pgSQL's plans are
-- re-planned for another role.
create or replace function private.recurring_profile_document(target uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  return (select pg_catalog.jsonb_build_object(
    'id', p.id, 'organization_id', p.organization_id, 'client_id', p.client_id,
    'client', pg_catalog.jsonb_build_object('id', c.id, 'company_name', c.company_name,
                                            'email', c.email, 'billing_frequency', c.billing_frequency),
    'name', p.name, 'currency', p.currency,
    'frequency', private.recurring_frequency(p.interval_unit, p.interval_count),
    'interval_unit', p.interval_unit, 'interval_count', p.interval_count,
    'billing_day', p.billing_day, 'start_date', p.start_date, 'end_date', p.end_date,
    'max_cycles', p.max_cycles, 'payment_terms', p.payment_terms, 'due_days', p.due_days,
    'tax_rate', p.tax_rate, 'discount', p.discount, 'notes', p.notes, 'terms', p.terms,
    'payment_instructions', p.payment_instructions, 'template', p.template,
    'auto_send', p.auto_send, 'status', p.status, 'ended_reason', p.ended_reason,
    'first_billing_date', p.first_billing_date, 'next_billing_date', p.next_billing_date,
    'cycles_issued', p.cycles_issued, 'last_issued_at', p.last_issued_at,
    'paused_at', p.paused_at, 'ended_at', p.ended_at,
    'created_at', p.created_at, 'updated_at', p.updated_at,
    'subtotal', t.subtotal,
    'items', t.items,
    'invoice_count', (select count(*) from public.invoices i
                      where i.organization_id = p.organization_id and i.recurring_profile_id = p.id),
    'recent_invoices', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', i.id, 'invoice_number', i.invoice_number,
               'recurring_period_start', i.recurring_period_start, 'issue_date', i.issue_date,
               'due_date', i.due_date, 'status', i.status, 'total_amount', i.total_amount)
             order by i.recurring_period_start desc)
      from (select * from public.invoices i
            where i.organization_id = p.organization_id and i.recurring_profile_id = p.id
            order by i.recurring_period_start desc limit 12) i), '[]'::jsonb))
  from public.recurring_profiles p
  join public.clients c on c.id = p.client_id and c.organization_id = p.organization_id
  cross join lateral (
    select coalesce(sum(it.amount), 0) as subtotal,
           coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', it.id, 'position', it.position, 'description', it.description,
             'quantity', it.quantity, 'rate', it.rate, 'amount', it.amount)
             order by it.position, it.id), '[]'::jsonb) as items
    from public.recurring_profile_items it
    where it.organization_id = p.organization_id and it.profile_id = p.id
  ) t
  where p.id = target);
end;
$$;

-- private.replace_recurring_items: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Replaces a profile's items with a JSON list (1 to 200; description, quantity,
-- rate), in order, and checks the discount against their subtotal.
create or replace function private.replace_recurring_items(target uuid, items jsonb)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  prof record;
  subtotal numeric;
begin
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    raise exception 'items: a recurring profile needs at least one item' using errcode = '22023';
  end if;
  if jsonb_array_length(items) > 200 then
    raise exception 'items: a recurring profile has at most 200 items' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(e, array['description', 'quantity', 'rate'], 'item')
  from jsonb_array_elements(items) e;
  select p.organization_id, p.currency, p.discount into prof
  from public.recurring_profiles p where p.id = target;
  delete from public.recurring_profile_items it where it.profile_id = target;
  insert into public.recurring_profile_items
    (organization_id, profile_id, currency, position, description, quantity, rate)
  select prof.organization_id, target, prof.currency, (t.ord - 1)::integer,
         t.x ->> 'description', (t.x ->> 'quantity')::numeric, (t.x ->> 'rate')::numeric
  from jsonb_array_elements(items) with ordinality as t(x, ord)
  order by t.ord;
  select coalesce(sum(it.amount), 0) into subtotal
  from public.recurring_profile_items it where it.profile_id = target;
  if prof.discount > subtotal then
    raise exception 'discount (%) exceeds the items'' subtotal (%)', prof.discount, subtotal
      using errcode = '23514', constraint = 'recurring_profiles_discount_not_above_subtotal';
  end if;
end;
$$;

-- The schedule fields of a JSON document onto a profile row (create and update):
-- frequency (monthly | quarterly | annually) or interval_unit + interval_count,
-- billing_day, start_date, end_date, max_cycles; then derives
-- first_billing_date and the next period, and refuses a schedule without any.
create or replace function private.apply_recurring_schedule(
  p public.recurring_profiles, doc jsonb, today date, default_frequency text
)
returns public.recurring_profiles
language plpgsql
stable
set search_path = ''
as $$
declare
  frequency text := doc ->> 'frequency';
  schedule_changed boolean;
  most integer;
begin
  if frequency is not null and (doc ? 'interval_unit' or doc ? 'interval_count') then
    raise exception 'frequency: give frequency or interval_unit and interval_count, not both'
      using errcode = '22023';
  end if;
  if frequency is null and not doc ? 'interval_unit' and p.interval_unit is null then
    frequency := default_frequency;
    if frequency is null or frequency = 'one-time' then
      raise exception 'frequency: the client bills one-time; say how often this profile bills (frequency, or interval_unit and interval_count)'
        using errcode = '22023';
    end if;
  end if;
  if frequency is not null then
    if frequency not in ('monthly', 'quarterly', 'annually') then
      raise exception 'frequency must be monthly, quarterly or annually (or give interval_unit and interval_count)'
        using errcode = '22023';
    end if;
    p.interval_unit := 'month';
    p.interval_count := case frequency when 'monthly' then 1 when 'quarterly' then 3 else 12 end;
  end if;
  if doc ? 'interval_unit' then
    p.interval_unit := doc ->> 'interval_unit';
    if p.interval_unit is null or p.interval_unit not in ('day', 'week', 'month') then
      raise exception 'interval_unit must be day, week or month' using errcode = '22023';
    end if;
    p.interval_count := coalesce((doc ->> 'interval_count')::integer, 1);
  elsif doc ? 'interval_count' then
    p.interval_count := (doc ->> 'interval_count')::integer;
  end if;
  most := (case p.interval_unit when 'day' then 365 when 'week' then 52 else 24 end);
  if p.interval_count is null or p.interval_count < 1 or p.interval_count > most then
    raise exception 'interval_count must be 1 to % for interval_unit %', most, p.interval_unit
      using errcode = '22023';
  end if;
  if doc ? 'start_date' then
    p.start_date := (doc ->> 'start_date')::date;
  end if;
  p.start_date := coalesce(p.start_date, today);
  if p.start_date not between date '2000-01-01' and date '2199-12-31' then
    raise exception 'start_date must be between 2000-01-01 and 2199-12-31' using errcode = '22023';
  end if;
  if p.interval_unit <> 'month' then
    if doc ->> 'billing_day' is not null then
      raise exception 'billing_day is for monthly intervals; every % % bills on the start date''s weekday or day',
        p.interval_count, p.interval_unit using errcode = '22023';
    end if;
    p.billing_day := null;
  elsif doc ? 'billing_day' and doc ->> 'billing_day' is not null then
    p.billing_day := (doc ->> 'billing_day')::integer;
    if p.billing_day not between 1 and 31 then
      raise exception 'billing_day must be 1 to 31 (31: the month''s last day)' using errcode = '22023';
    end if;
  else
    p.billing_day := coalesce(p.billing_day, pg_catalog.date_part('day', p.start_date)::integer);
  end if;
  if doc ? 'end_date' then
    p.end_date := (doc ->> 'end_date')::date;
  end if;
  if doc ? 'max_cycles' then
    p.max_cycles := (doc ->> 'max_cycles')::integer;
    if p.max_cycles is not null and p.max_cycles not between 1 and 1000 then
      raise exception 'max_cycles must be 1 to 1000' using errcode = '22023';
    end if;
  end if;
  if p.end_date is not null and p.max_cycles is not null then
    raise exception 'end_date: give end_date or max_cycles, not both' using errcode = '22023';
  end if;
  if p.end_date < p.start_date then
    raise exception 'end_date (%) is before start_date (%)', p.end_date, p.start_date
      using errcode = '22023';
  end if;
  if p.max_cycles is not null and p.max_cycles < p.cycles_issued then
    raise exception 'max_cycles (%) is below the % invoices already issued', p.max_cycles, p.cycles_issued
      using errcode = '23514';
  end if;

  schedule_changed := p.first_billing_date is distinct from
    private.recurring_first_billing_date(p.start_date, p.interval_unit, p.billing_day);
  if schedule_changed then
    p.first_billing_date := private.recurring_first_billing_date(p.start_date, p.interval_unit, p.billing_day);
    p.next_period_index := 0;
  end if;
  if p.status is distinct from 'ended' then
    p.next_billing_date := private.recurring_period_date(p, p.next_period_index);
    if p.next_billing_date is null and p.cycles_issued = 0 then
      raise exception 'end_date (%) is before the first billing date (%): the profile would never bill',
        p.end_date, p.first_billing_date using errcode = '23514';
    end if;
    if p.next_billing_date is null then
      p.status := 'ended';
      p.ended_reason := 'completed';
      p.ended_at := pg_catalog.now();
      p.paused_at := null;
    end if;
  end if;
  return p;
end;
$$;

-- private.apply_recurring_template: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- The template fields of a JSON document onto a profile row (create and update).
create or replace function private.apply_recurring_template(p public.recurring_profiles, doc jsonb)
returns public.recurring_profiles
language plpgsql
stable
set search_path = ''
as $$
begin
  if doc ? 'name' then
    p.name := nullif(pg_catalog.btrim(doc ->> 'name'), '');
  end if;
  if doc ? 'payment_terms' then
    p.payment_terms := doc ->> 'payment_terms';
    if p.payment_terms is null then
      raise exception 'payment_terms cannot be null' using errcode = '22023';
    end if;
    if p.payment_terms <> 'custom' and not doc ? 'due_days' then
      p.due_days := null;
    end if;
  end if;
  if doc ? 'due_days' then
    p.due_days := (doc ->> 'due_days')::integer;
    if p.due_days is not null and not doc ? 'payment_terms' then
      p.payment_terms := 'custom';
    end if;
  end if;
  if p.payment_terms = 'custom' and p.due_days is null then
    raise exception 'due_days: custom payment terms need due_days (0 to 365)' using errcode = '22023';
  end if;
  if p.payment_terms <> 'custom' and p.due_days is not null then
    raise exception 'due_days is for custom payment terms (payment_terms is %)', p.payment_terms
      using errcode = '22023';
  end if;
  if doc ? 'tax_rate' then
    p.tax_rate := coalesce((doc ->> 'tax_rate')::numeric, 0);
  end if;
  if doc ? 'discount' then
    p.discount := private.checked_money(coalesce((doc ->> 'discount')::numeric, 0), p.currency, 'discount');
  end if;
  if doc ? 'notes' then
    p.notes := doc ->> 'notes';
  end if;
  if doc ? 'terms' then
    p.terms := doc ->> 'terms';
  end if;
  if doc ? 'payment_instructions' then
    p.payment_instructions := doc ->> 'payment_instructions';
  end if;
  if doc ? 'template' then
    p.template := coalesce(doc ->> 'template', 'professional');
  end if;
  if doc ? 'auto_send' then
    p.auto_send := coalesce((doc ->> 'auto_send')::boolean, false);
  end if;
  return p;
end;
$$;

-- private.issue_recurring_periods: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206170400 replaces it whole (its final form).
--
-- Issues the periods listed in `chosen` (a JSON list of {profile_id, k,
-- period_start, issue_date, email}) in one transaction, set-based: the invoices
-- (drafts, numbered by the invoices' trigger in organization and date order),
-- their items, their discounts; for those with `email`, a bulk send per
-- organization (items pending, or failed no_email for a client without an
-- address) that the queue worker emails once each; the profiles advanced (next
-- period, cycles, ended when none is left). The callers choose and lock the
-- profiles (job_issue_recurring, issue_recurring_profile_now). A period already
-- invoiced fails the whole call on invoices_one_per_recurring_period.
-- SECURITY DEFINER: the API roles have no grant on the invoices' two recurring
-- columns (nobody links an invoice to a period by hand); it checks its caller:
-- a signed-in user must be a member of every organization listed.
-- Returns {"invoices": [{id, profile_id, organization_id, period_start, email}],
--          "bulk_jobs": [{job_id, organization_id, invoice_ids}], "ended": n}.
create or replace function private.issue_recurring_periods(chosen jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  made jsonb;
  jobs jsonb;
begin
  if (select auth.uid()) is not null and exists (
       select 1
       from jsonb_to_recordset(chosen) as c (profile_id uuid)
       join public.recurring_profiles p on p.id = c.profile_id
       where not private.has_role_on_organization(p.organization_id, 'member')) then
    raise exception 'your role may not issue invoices in this organization' using errcode = '42501';
  end if;

  with wanted as (
    select c.profile_id, c.k, c.period_start, c.issue_date, coalesce(c.email, false) as email,
           p.organization_id, p.client_id, p.currency, p.payment_terms, p.due_days, p.tax_rate,
           p.notes, p.terms, p.payment_instructions, p.template
    from jsonb_to_recordset(chosen) as c (profile_id uuid, k integer, period_start date,
                                          issue_date date, email boolean)
    join public.recurring_profiles p on p.id = c.profile_id
  ), inserted as (
    insert into public.invoices (
      organization_id, client_id, currency, issue_date, due_date, payment_terms, tax_rate,
      notes, terms, payment_instructions, template, recurring_profile_id, recurring_period_start)
    select w.organization_id, w.client_id, w.currency, w.issue_date,
           private.recurring_due_date(w.payment_terms, w.due_days, w.issue_date), w.payment_terms,
           w.tax_rate, w.notes, w.terms, w.payment_instructions, w.template, w.profile_id,
           w.period_start
    from wanted w
    order by w.organization_id, w.issue_date, w.profile_id, w.k
    returning id, organization_id, recurring_profile_id, recurring_period_start, currency
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', i.id, 'organization_id', i.organization_id, 'profile_id', i.recurring_profile_id,
           'period_start', i.recurring_period_start, 'currency', i.currency, 'email', w.email)
           order by i.organization_id, i.recurring_period_start), '[]'::jsonb)
  into made
  from inserted i
  join wanted w on w.profile_id = i.recurring_profile_id and w.period_start = i.recurring_period_start;

  insert into public.invoice_items
    (organization_id, invoice_id, currency, position, description, quantity, rate)
  select m.organization_id, m.id, m.currency, it.position, it.description, it.quantity, it.rate
  from jsonb_to_recordset(made) as m (id uuid, organization_id uuid, profile_id uuid, currency text)
  join public.recurring_profile_items it
    on it.profile_id = m.profile_id and it.organization_id = m.organization_id
  order by m.id, it.position;

  update public.invoices i
  set discount = p.discount
  from jsonb_to_recordset(made) as m (id uuid, profile_id uuid)
  join public.recurring_profiles p on p.id = m.profile_id
  where i.id = m.id and p.discount <> 0;

  -- The emails: one bulk send per organization (and per 500 invoices, a bulk send's
  -- most), its items claimed once by the worker.
  with numbered as (
    select m.organization_id, m.id, m.period_start,
           (pg_catalog.row_number() over (partition by m.organization_id
                                          order by m.period_start, m.id) - 1) / 500 as part
    from jsonb_to_recordset(made) as m (id uuid, organization_id uuid, period_start date, email boolean)
    where m.email
  ), orgs as (
    select pg_catalog.gen_random_uuid() as job_id, n.organization_id,
           pg_catalog.array_agg(n.id order by n.period_start, n.id) as ids
    from numbered n
    group by n.organization_id, n.part
  ), created as (
    insert into public.bulk_jobs as j (id, organization_id, created_by, action, options, total, queued)
    select o.job_id, o.organization_id, null, 'send', '{"origin": "recurring"}'::jsonb,
           cardinality(o.ids), true
    from orgs o
    order by o.organization_id
    returning j.id, j.organization_id
  ), items as (
    insert into public.bulk_job_items (job_id, organization_id, invoice_id, position, status, reason, message)
    select c.id, c.organization_id, x.invoice_id, (x.ord - 1)::integer,
           case when nullif(pg_catalog.btrim(cl.email), '') is null then 'failed' else 'pending' end,
           case when nullif(pg_catalog.btrim(cl.email), '') is null then 'no_email' end,
           case when nullif(pg_catalog.btrim(cl.email), '') is null
                then pg_catalog.format('client %s has no email address (client.email); the invoice stays a draft',
                                       cl.company_name) end
    from created c
    join orgs o on o.job_id = c.id
    cross join lateral unnest(o.ids) with ordinality as x (invoice_id, ord)
    join public.invoices i on i.id = x.invoice_id
    join public.clients cl on cl.id = i.client_id
    returning job_id, organization_id, invoice_id, status
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'job_id', t.job_id, 'organization_id', t.organization_id, 'invoice_ids', t.ids)), '[]'::jsonb)
  into jobs
  from (select it.job_id, it.organization_id,
               pg_catalog.array_agg(it.invoice_id order by it.invoice_id)
                 filter (where it.status = 'pending') as ids
        from items it group by it.job_id, it.organization_id) t;

  -- Jobs whose every item failed (no email anywhere) are finished at once.
  update public.bulk_jobs j
  set finished_at = pg_catalog.now()
  from jsonb_to_recordset(jobs) as b (job_id uuid, invoice_ids uuid[])
  where j.id = b.job_id and b.invoice_ids is null;

  -- The profiles move past what was issued.
  with issued as (
    select m.profile_id, max(m.k) as last_k, count(*) as n
    from jsonb_to_recordset(chosen) as m (profile_id uuid, k integer)
    group by m.profile_id
  ), moved as (
    select p.id, s.last_k, s.n,
           case when (p.end_date is null or x.d <= p.end_date)
                     and (p.max_cycles is null or p.cycles_issued + s.n < p.max_cycles)
                then x.d end as next_date
    from issued s
    join public.recurring_profiles p on p.id = s.profile_id
    cross join lateral (select private.recurring_billing_date(
      p.first_billing_date, p.interval_unit, p.interval_count, p.billing_day, s.last_k + 1) as d) x
  )
  update public.recurring_profiles p
  set next_period_index = m.last_k + 1,
      cycles_issued = p.cycles_issued + m.n,
      next_billing_date = m.next_date,
      last_issued_at = pg_catalog.now(),
      status = case when m.next_date is null then 'ended' else p.status end,
      ended_reason = case when m.next_date is null then 'completed' else p.ended_reason end,
      ended_at = case when m.next_date is null then pg_catalog.now() else p.ended_at end,
      paused_at = case when m.next_date is null then null else p.paused_at end
  from moved m
  where p.id = m.id;

  return pg_catalog.jsonb_build_object('invoices', made, 'bulk_jobs', jobs,
                                       'ended', (select count(distinct p.id)
                                                 from jsonb_to_recordset(chosen) as m (profile_id uuid)
                                                 join public.recurring_profiles p on p.id = m.profile_id
                                                 where p.status = 'ended'));
end;
$$;

-- public.create_recurring_profile: its form before 20261206170400, which tests/db/test_tax_model_keeps_totals.py
-- makes documents with; 20261206171200 replaces it whole (its final form).
--
-- A new profile with its items. `profile` keys: client_id (required), name,
-- frequency | interval_unit + interval_count (default: the client's
-- billing_frequency), billing_day, start_date (default: the organization's
-- today), end_date | max_cycles, payment_terms, due_days, tax_rate, discount,
-- notes, terms, payment_instructions, template (defaults: the organization's
-- settings), auto_send (default false).
create or replace function public.create_recurring_profile(
  organization_id uuid, profile jsonb, items jsonb
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_recurring_profile.organization_id;
  doc jsonb := coalesce(create_recurring_profile.profile, '{}'::jsonb);
  p public.recurring_profiles;
  cl record;
  defaults record;
begin
  perform private.require_role(org, 'member', 'your role may not create recurring profiles in this organization');
  perform private.refuse_unknown_keys(doc, array[
    'client_id', 'name', 'frequency', 'interval_unit', 'interval_count', 'billing_day', 'start_date',
    'end_date', 'max_cycles', 'payment_terms', 'due_days', 'tax_rate', 'discount', 'notes', 'terms',
    'payment_instructions', 'template', 'auto_send'], 'profile');
  if doc ->> 'client_id' is null then
    raise exception 'client_id is required' using errcode = '23502';
  end if;
  select c.id, c.currency, c.billing_frequency into cl
  from public.clients c
  where c.id = (doc ->> 'client_id')::uuid and c.organization_id = org;
  if not found then
    raise exception 'client_id: client % is not a client of this organization', doc ->> 'client_id'
      using errcode = '23503';
  end if;
  select s.default_payment_terms, s.default_tax_rate, s.default_template, s.default_notes,
         s.default_terms, s.default_payment_instructions
  into defaults
  from public.organization_settings s
  where s.organization_id = org;

  p.id := gen_random_uuid();
  p.organization_id := org;
  p.client_id := cl.id;
  p.currency := cl.currency;
  p.status := 'active';
  p.next_period_index := 0;
  p.cycles_issued := 0;
  p.payment_terms := coalesce(nullif(defaults.default_payment_terms, 'custom'), 'net30');
  p.tax_rate := coalesce(defaults.default_tax_rate, 0);
  p.discount := 0;
  p.template := coalesce(defaults.default_template, 'professional');
  p.notes := defaults.default_notes;
  p.terms := defaults.default_terms;
  p.payment_instructions := defaults.default_payment_instructions;
  p.auto_send := false;
  p := private.apply_recurring_template(p, doc);
  p := private.apply_recurring_schedule(p, doc, private.organization_today(org), cl.billing_frequency);

  insert into public.recurring_profiles (
    id, organization_id, client_id, currency, name, interval_unit, interval_count, billing_day,
    start_date, end_date, max_cycles, payment_terms, due_days, tax_rate, discount, notes, terms,
    payment_instructions, template, auto_send, status, ended_reason, first_billing_date,
    next_period_index, next_billing_date, cycles_issued, ended_at)
  values (
    p.id, p.organization_id, p.client_id, p.currency, p.name, p.interval_unit, p.interval_count,
    p.billing_day, p.start_date, p.end_date, p.max_cycles, p.payment_terms, p.due_days, p.tax_rate,
    p.discount, p.notes, p.terms, p.payment_instructions, p.template, p.auto_send, p.status,
    p.ended_reason, p.first_billing_date, p.next_period_index, p.next_billing_date, p.cycles_issued,
    p.ended_at);
  perform private.replace_recurring_items(p.id, items);
  return private.recurring_profile_document(p.id);
end;
$$;

-- public.update_recurring_profile: defined in 20261206171200 (its final form; nothing is deployed)

-- A profile that never issued an invoice (or whose invoices were all deleted
-- drafts) is deleted ({"action": "deleted"}); one that did stays on record, as
-- its invoices name it: it is cancelled instead ({"action": "cancelled",
-- "profile": ...}).
create or replace function public.delete_recurring_profile(organization_id uuid, profile_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := delete_recurring_profile.organization_id;
  cur public.recurring_profiles;
begin
  perform private.require_role(org, 'member', 'your role may not delete recurring profiles in this organization');
  select * into cur
  from public.recurring_profiles rp
  where rp.id = delete_recurring_profile.profile_id and rp.organization_id = org
  for update;
  if not found then
    raise exception 'recurring profile not found' using errcode = 'P0002';
  end if;
  if not exists (select 1 from public.invoices i
                 where i.organization_id = org and i.recurring_profile_id = cur.id) then
    delete from public.recurring_profiles rp where rp.id = cur.id;
    return pg_catalog.jsonb_build_object('action', 'deleted');
  end if;
  if cur.status <> 'ended' then
    update public.recurring_profiles rp
    set status = 'ended', ended_reason = 'cancelled', ended_at = pg_catalog.now(),
        next_billing_date = null, paused_at = null
    where rp.id = cur.id;
  end if;
  return pg_catalog.jsonb_build_object('action', 'cancelled',
                                       'profile', private.recurring_profile_document(cur.id));
end;
$$;

-- pause | resume | cancel. Pausing an active profile stops it where it is;
-- resuming continues at the first period billed on the organization's today or
-- later (the paused periods are skipped, never backfilled; they are not cycles);
-- cancelling ends it. Asking for the state a profile is already in answers it
-- unchanged; an ended profile is refused. `now` (a fixed clock) is for the
-- tests and the database's owner; the API roles may not pass it.
create or replace function public.change_recurring_profile_status(
  organization_id uuid, profile_id uuid, action text, now timestamptz default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := change_recurring_profile_status.organization_id;
  act text := change_recurring_profile_status.action;
  cur public.recurring_profiles;
  today date;
  k integer;
  next_date date;
begin
  perform private.require_role(org, 'member', 'your role may not change recurring profiles in this organization');
  if act is null or act not in ('pause', 'resume', 'cancel') then
    raise exception 'action must be pause, resume or cancel' using errcode = '22023';
  end if;
  if change_recurring_profile_status.now is not null and (select auth.uid()) is not null then
    raise exception 'now: a fixed clock is not for API callers' using errcode = '22023';
  end if;
  select * into cur
  from public.recurring_profiles rp
  where rp.id = change_recurring_profile_status.profile_id and rp.organization_id = org
  for update;
  if not found then
    raise exception 'recurring profile not found' using errcode = 'P0002';
  end if;
  if cur.status = 'ended' then
    if act = 'cancel' and cur.ended_reason = 'cancelled' then
      return private.recurring_profile_document(cur.id);
    end if;
    raise exception 'recurring profile has ended (%): it cannot %', cur.ended_reason, act
      using errcode = '23514';
  end if;

  if act = 'pause' and cur.status = 'active' then
    update public.recurring_profiles rp set status = 'paused', paused_at = pg_catalog.now()
    where rp.id = cur.id;
  elsif act = 'resume' and cur.status = 'paused' then
    select (coalesce(change_recurring_profile_status.now, pg_catalog.now()) at time zone s.time_zone)::date
    into today
    from public.organization_settings s where s.organization_id = org;
    today := coalesce(today, (pg_catalog.now() at time zone 'UTC')::date);
    k := private.recurring_index_on_or_after(cur, today);
    cur.next_period_index := k;
    next_date := private.recurring_period_date(cur, k);
    update public.recurring_profiles rp
    set status = case when next_date is null then 'ended' else 'active' end,
        ended_reason = case when next_date is null then 'completed' end,
        ended_at = case when next_date is null then pg_catalog.now() end,
        paused_at = null,
        next_period_index = k,
        next_billing_date = next_date
    where rp.id = cur.id;
  elsif act = 'cancel' then
    update public.recurring_profiles rp
    set status = 'ended', ended_reason = 'cancelled', ended_at = pg_catalog.now(),
        next_billing_date = null, paused_at = null
    where rp.id = cur.id;
  end if;
  return private.recurring_profile_document(cur.id);
end;
$$;

-- One profile (null when the caller cannot see it).
create or replace function public.get_recurring_profile(organization_id uuid, profile_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.recurring_profile_document(rp.id)
  from public.recurring_profiles rp
  where rp.id = get_recurring_profile.profile_id
    and rp.organization_id = get_recurring_profile.organization_id
$$;

-- public.preview_recurring_profile: defined in 20261206170400 (its final form; nothing is deployed)

-- "Issue now": the profile's next period, now, once: dated for its period when
-- that has come already (the job had not run), today (the organization's)
-- otherwise; a draft, whatever auto_send says (a person is there: send it with
-- POST /api/invoices/{id}/send). The job finds the period issued and moves on.
-- An active profile only (resume a paused one first).
create or replace function public.issue_recurring_profile_now(organization_id uuid, profile_id uuid)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := issue_recurring_profile_now.organization_id;
  cur public.recurring_profiles;
  today date;
  made jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not issue invoices in this organization');
  select * into cur
  from public.recurring_profiles rp
  where rp.id = issue_recurring_profile_now.profile_id and rp.organization_id = org
  for update;
  if not found then
    raise exception 'recurring profile not found' using errcode = 'P0002';
  end if;
  if cur.status <> 'active' then
    raise exception 'recurring profile is %: %', cur.status,
      case cur.status when 'paused' then 'resume it first' else 'it issues no more invoices' end
      using errcode = '23514';
  end if;
  today := private.organization_today(org);
  made := private.issue_recurring_periods(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
    'profile_id', cur.id, 'k', cur.next_period_index, 'period_start', cur.next_billing_date,
    'issue_date', least(cur.next_billing_date, today), 'email', false)));
  return pg_catalog.jsonb_build_object(
    'invoice', private.invoice_document((made -> 'invoices' -> 0 ->> 'id')::uuid),
    'profile', private.recurring_profile_document(cur.id));
end;
$$;

-- The scheduled job: issues the periods due as of `now` (default the real time;
-- a fixed clock for tests and replays, at most a day ahead) in each
-- organization's time zone, at most `batch_limit` invoices a call (1 to 2,000).
-- The due profiles (active, next billing date <= the organization's today) are
-- taken organization by organization (so that a call touches few organizations:
-- one numbering lock and one bulk send each), locked (SKIP LOCKED: a profile being edited or
-- issued now waits for the next call), and each gives every period due, oldest
-- first, up to the call's limit (the rest in the next call). With auto_send, a
-- profile's current period (no later period due yet) is emailed through a bulk
-- send; earlier ones, caught up, are drafts. Serialized call by call by an
-- advisory lock. Returns {now, issued, emailing, drafts, profiles, ended, done,
-- bulk_jobs}: the caller queues the bulk jobs' items and calls again until `done`.
create or replace function public.job_issue_recurring(
  now timestamptz default null, batch_limit integer default 500, organization_ids uuid[] default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
set jit = off
as $$
declare
  clock timestamptz := coalesce(job_issue_recurring.now, pg_catalog.now());
  org_ids uuid[] := job_issue_recurring.organization_ids;
  chosen jsonb;
  made jsonb := '{"invoices": [], "bulk_jobs": [], "ended": 0}'::jsonb;
  n integer;
begin
  if batch_limit is null or batch_limit < 1 or batch_limit > 2000 then
    raise exception 'batch_limit must be between 1 and 2000' using errcode = '22023';
  end if;
  if clock > pg_catalog.now() + interval '1 day' then
    raise exception 'now (%) is in the future; the job runs for now or a past moment', clock
      using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('invoiceflow.job_issue_recurring'));

  with due as (
    select p.id, (clock at time zone s.time_zone)::date as today
    from public.recurring_profiles p
    join public.organization_settings s on s.organization_id = p.organization_id
    where p.status = 'active'
      and p.next_billing_date <= (clock at time zone 'UTC')::date + 1
      and p.next_billing_date <= (clock at time zone s.time_zone)::date
      and (org_ids is null or p.organization_id = any (org_ids))
    order by p.organization_id, p.next_billing_date, p.id
    limit batch_limit
    for update of p skip locked
  ), bounds as (
    -- Each profile's periods due: from its next one to the last billed by its today.
    select rp as profile, d.today, rp.id as profile_id, rp.organization_id, rp.auto_send,
           rp.next_billing_date,
           rp.next_period_index as first_k,
           least(private.recurring_index_on_or_after(rp, d.today + 1) - 1,
                 rp.next_period_index + batch_limit - 1) as last_k
    from due d
    join public.recurring_profiles rp on rp.id = d.id
  ), periods as (
    select b.profile_id, b.organization_id, g.k, b.today, b.auto_send, b.next_billing_date,
           private.recurring_period_date(b.profile, g.k) as billing,
           private.recurring_period_date(b.profile, g.k + 1) as next_billing
    from bounds b
    cross join lateral pg_catalog.generate_series(b.first_k, b.last_k) as g (k)
  ), limited as (
    select pr.*
    from periods pr
    where pr.billing is not null and pr.billing <= pr.today
    order by pr.organization_id, pr.next_billing_date, pr.profile_id, pr.k
    limit batch_limit
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'profile_id', l.profile_id, 'k', l.k, 'period_start', l.billing, 'issue_date', l.billing,
           'email', l.auto_send and (l.next_billing is null or l.next_billing > l.today))), '[]'::jsonb)
  into chosen
  from limited l;

  n := pg_catalog.jsonb_array_length(chosen);
  if n > 0 then
    made := private.issue_recurring_periods(chosen);
  end if;

  return pg_catalog.jsonb_build_object(
    'now', clock,
    'issued', n,
    'emailing', (select count(*) from pg_catalog.jsonb_array_elements(made -> 'invoices') e
                 where (e ->> 'email')::boolean),
    'drafts', (select count(*) from pg_catalog.jsonb_array_elements(made -> 'invoices') e
               where not (e ->> 'email')::boolean),
    'profiles', (select count(distinct e ->> 'profile_id') from pg_catalog.jsonb_array_elements(chosen) e),
    'ended', made -> 'ended',
    'done', n < batch_limit,
    'bulk_jobs', made -> 'bulk_jobs');
end;
$$;

comment on function public.job_issue_recurring(timestamptz, integer, uuid[]) is
  'Scheduled job: issues the recurring invoices due, at most batch_limit a call.';

-- The recurring job's bulk sends with items still pending `older_than_seconds`
-- after they were made (their queue message lost, or the queue away when they
-- were made): the job queues them again. A second message is harmless: the
-- worker claims each item once. At most `batch_limit` jobs a call.
create or replace function public.job_recurring_unsent(
  older_than_seconds integer default 900, batch_limit integer default 100
)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'job_id', t.id, 'organization_id', t.organization_id, 'invoice_ids', t.ids)), '[]'::jsonb)
  from (
    select j.id, j.organization_id,
           (select pg_catalog.array_agg(it.invoice_id order by it.invoice_id)
            from public.bulk_job_items it
            where it.job_id = j.id and it.status = 'pending') as ids
    from public.bulk_jobs j
    where j.finished_at is null and j.options ->> 'origin' = 'recurring'
      and j.created_at < pg_catalog.now() - pg_catalog.make_interval(
            secs => greatest(coalesce(older_than_seconds, 900), 0))
    order by j.created_at
    limit least(greatest(coalesce(batch_limit, 100), 1), 500)
  ) t
  where t.ids is not null
$$;

comment on function public.job_recurring_unsent(integer, integer) is
  'Scheduled job: the recurring bulk sends still pending, to queue again.';

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger set_updated_at before update on public.recurring_profiles
  for each row execute function private.set_updated_at();

create trigger set_updated_at before update on public.recurring_profile_items
  for each row execute function private.set_updated_at();

select private.enable_audit('public.recurring_profiles', array['updated_at']);
select private.enable_audit('public.recurring_profile_items', array['updated_at']);

-- =============================================================================
-- Policies
-- =============================================================================

create policy "Members can view their organization's recurring profiles"
  on public.recurring_profiles for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can create recurring profiles in their organization"
  on public.recurring_profiles for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's recurring profiles"
  on public.recurring_profiles for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's recurring profiles"
  on public.recurring_profiles for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's profile items"
  on public.recurring_profile_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));

create policy "Members can add recurring profile items in their organization"
  on public.recurring_profile_items for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can update their organization's profile items"
  on public.recurring_profile_items for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can delete their organization's profile items"
  on public.recurring_profile_items for delete to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

-- =============================================================================
-- Views
-- =============================================================================

-- recurring_profile_list: GET /api/recurring-profiles reads this view (the
-- client's name to search and sort by, the label of the interval). Security
-- invoker: the caller's row level security applies to both tables.
create or replace view public.recurring_profile_list with (security_invoker = true) as
select
  p.id, p.organization_id, p.client_id, c.company_name as client_company_name, p.name, p.currency,
  private.recurring_frequency(p.interval_unit, p.interval_count) as frequency,
  p.interval_unit, p.interval_count, p.billing_day, p.start_date, p.end_date, p.max_cycles,
  p.auto_send, p.status, p.ended_reason, p.first_billing_date, p.next_billing_date, p.cycles_issued,
  p.last_issued_at, p.created_at, p.updated_at
from public.recurring_profiles p
join public.clients c on c.id = p.client_id and c.organization_id = p.organization_id;

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.recurring_profiles, public.recurring_profile_items from anon, authenticated;

-- Reads for every member; writes go through the RPCs above (the schedule's
-- bookkeeping columns are theirs), so the API roles get no insert or update
-- beyond what a person may say.
grant select, delete on public.recurring_profiles, public.recurring_profile_items to authenticated;

grant insert (
  id, organization_id, client_id, currency, name, interval_unit, interval_count, billing_day,
  start_date, end_date, max_cycles, payment_terms, due_days, tax_rate, discount, notes, terms,
  payment_instructions, template, auto_send, status, ended_reason, first_billing_date,
  next_period_index, next_billing_date, cycles_issued, ended_at
) on public.recurring_profiles to authenticated;

grant update (
  client_id, currency, name, interval_unit, interval_count, billing_day, start_date, end_date,
  max_cycles, payment_terms, due_days, tax_rate, discount, notes, terms, payment_instructions,
  template, auto_send, status, ended_reason, ended_at, paused_at, first_billing_date,
  next_period_index, next_billing_date
) on public.recurring_profiles to authenticated;

grant insert (id, organization_id, profile_id, currency, position, description, quantity, rate)
  on public.recurring_profile_items to authenticated;

grant update (position, description, quantity, rate) on public.recurring_profile_items to authenticated;

grant select, insert, update, delete
  on public.recurring_profiles, public.recurring_profile_items to service_role;

revoke all on public.recurring_profile_list from anon, authenticated, service_role;
grant select on public.recurring_profile_list to authenticated, service_role;

grant execute on function
  private.recurring_billing_date(date, text, integer, integer, integer),
  private.recurring_first_billing_date(date, text, integer),
  private.recurring_period_date(public.recurring_profiles, integer),
  private.recurring_index_on_or_after(public.recurring_profiles, date),
  private.recurring_due_date(text, integer, date),
  private.recurring_frequency(text, integer),
  private.recurring_profile_document(uuid),
  private.replace_recurring_items(uuid, jsonb),
  private.apply_recurring_schedule(public.recurring_profiles, jsonb, date, text),
  private.apply_recurring_template(public.recurring_profiles, jsonb),
  private.issue_recurring_periods(jsonb)
  to authenticated, service_role;

grant execute on function
  public.create_recurring_profile(uuid, jsonb, jsonb),
  public.delete_recurring_profile(uuid, uuid),
  public.change_recurring_profile_status(uuid, uuid, text, timestamptz),
  public.get_recurring_profile(uuid, uuid),
  public.issue_recurring_profile_now(uuid, uuid)
  to authenticated;

grant execute on function
  public.job_issue_recurring(timestamptz, integer, uuid[]),
  public.job_recurring_unsent(integer, integer)
  to service_role;

-- What "issue now" and the job reach through the invoices' RPCs.
grant execute on function private.payment_terms_days(text) to service_role;

revoke execute on all functions in schema private, public from public;
