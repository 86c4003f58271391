-- =============================================================================
-- Dashboard and reports: read-only figures computed in SQL, one call per route
-- (GET /api/dashboard/* and /api/reports/*, see docs/api.md "Dashboard and
-- reports").
--
-- Every function here is STABLE and SECURITY INVOKER: it reads with the
-- caller's rights, so row level security still decides what is visible, and it
-- checks first that the caller belongs to the organization it is asked about
-- (42501 otherwise). Each returns one jsonb document.
--
-- Money is never summed across currencies: an organization may bill clients in
-- several currencies (a client's currency is the currency of all its invoices
-- and payments), so every amount is grouped by currency. Each answer names the
-- organization's default currency (`currency`) and gives its figures first (or
-- alone, as `primary`), zero-filled even when nothing is billed in it; the
-- other currencies with activity follow in alphabetical order. Counts and days
-- carry no currency and are also given across currencies.
--
-- Definitions used throughout:
--   billed      invoices by issue_date, status sent, paid or overdue (drafts and
--               cancelled invoices are not billed), sum of total_amount
--   collected   payments by payment_date, sum of amount
--   outstanding sum of balance_due of sent and overdue invoices
--   overdue     status overdue, or sent with due_date before today (the nightly
--               job may not have marked it yet): the "report status"
--   paid on     an invoice's last payment date (the payment that settled it)
--   days to pay paid on - issue_date, for invoices whose status is paid
-- Amounts are rounded to the currency's minor unit (private.round_money), so
-- an empty sum is 0.00 in USD and 0 in JPY.
--
-- Access paths: every query starts from (organization_id, <date or status>)
-- of an existing index (see the EXPLAIN notes at the end of this file):
--   invoices  (organization_id, issue_date desc), (organization_id, status, due_date)
--   payments  (organization_id, payment_date desc), (invoice_id, payment_date)
--   client_activities (organization_id, "timestamp" desc)
-- and the one added here, clients (organization_id, created_at), for the clients
-- created in a range. Functions are SECURITY INVOKER with `set search_path = ''`
-- (so never inlined, which a plpgsql function is not anyway) and `set jit = off`.
-- =============================================================================

-- =============================================================================
-- Functions
-- =============================================================================

-- A report's date range, both ends inclusive. Defaults: `to` today, `from` the
-- first day of the month eleven months before `to` (the last 12 calendar
-- months). from <= to and a span of at most 5 years, 22023 otherwise.
create or replace function private.report_range(
  date_from date,
  date_to date,
  out range_from date,
  out range_to date
)
language plpgsql
stable
set search_path = ''
as $$
begin
  range_to := coalesce(date_to, current_date);
  range_from := coalesce(
    date_from, (pg_catalog.date_trunc('month', range_to::timestamp) - interval '11 months')::date);
  if range_from > range_to then
    raise exception 'from (%) must be on or before to (%)', range_from, range_to
      using errcode = '22023', hint = 'Swap the two dates.';
  end if;
  if range_to > range_from + interval '5 years' then
    raise exception 'the range from % to % is longer than 5 years', range_from, range_to
      using errcode = '22023', hint = 'Ask for at most 5 years at a time.';
  end if;
end;
$$;

-- The organization's default currency (USD when it has no settings row).
create or replace function private.report_currency(organization_id uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select s.default_currency from public.organization_settings s where s.organization_id = report_currency.organization_id),
    'USD')
$$;

-- The status reports use: a sent invoice past its due date is overdue even
-- before the nightly job marks it. Immutable SQL with no SET clause, so it is
-- inlined into the queries that call it (as the money helpers are).
create or replace function private.invoice_report_status(status text, due_date date, today date)
returns text
language sql
immutable
parallel safe
as $$
  select case when status = 'sent' and due_date < today then 'overdue' else status end
$$;

-- public.dashboard_metrics: defined in 20261206110600 (its final form; nothing is deployed)

-- public.dashboard_recent_invoices: defined in 20261206110600 (its final form; nothing is deployed)

-- The latest client activities with their client's name, newest first.
create or replace function public.dashboard_recent_activities(organization_id uuid, row_limit integer default 10)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  result jsonb;
begin
  perform private.require_role(dashboard_recent_activities.organization_id, 'viewer');
  if row_limit is null or row_limit < 1 or row_limit > 50 then
    raise exception 'limit must be between 1 and 50' using errcode = '22023';
  end if;
  select jsonb_build_object('data', coalesce(jsonb_agg(jsonb_build_object(
      'id', r.id,
      'client_id', r.client_id,
      'client_name', c.company_name,
      'type', r.type,
      'activity', r.activity,
      'timestamp', pg_catalog.to_char(r."timestamp" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'metadata', r.metadata
    ) order by r."timestamp" desc, r.id desc), '[]'::jsonb))
  into result
  from (
    select a.id, a.client_id, a.type, a.activity, a."timestamp", a.metadata
    from public.client_activities a
    where a.organization_id = dashboard_recent_activities.organization_id
    order by a."timestamp" desc, a.id desc
    limit row_limit
  ) r
  join public.clients c on c.id = r.client_id;
  return result;
end;
$$;

comment on function public.dashboard_recent_activities(uuid, integer) is
  'The organization''s latest client activities, newest first.';

-- public.dashboard_revenue_chart: defined in 20261206110600 (its final form; nothing is deployed)

-- public.reports_overview: defined in 20261206110600 (its final form; nothing is deployed)

-- public.reports_revenue: defined in 20261206110600 (its final form; nothing is deployed)

-- public.reports_payment_status: defined in 20261206110600 (its final form; nothing is deployed)

-- public.reports_client_performance: defined in 20261206110600 (its final form; nothing is deployed)

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.report_range(date, date),
  private.report_currency(uuid),
  private.invoice_report_status(text, date, date)
  to authenticated, service_role;

grant execute on function
  public.dashboard_recent_activities(uuid, integer)
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
