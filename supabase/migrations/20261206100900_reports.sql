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

-- Headline figures as of `today` (default: the database's current date).
--   revenue_this_month / _last_month: collected in the calendar month of today
--     and the one before; revenue_change_percent = (this - last) / last * 100,
--     1 decimal, null when last month collected nothing
--   outstanding_*: open (sent, overdue) invoices, balance_due
--   overdue_*: open invoices with the report status overdue
--   paid_this_month_*: invoices now paid whose last payment is in this month,
--     count and sum of total_amount
--   average_days_to_pay: over invoices now paid whose last payment falls in the
--     last 12 calendar months (this one included); null when there are none
--   invoice_counts: every invoice of the organization by report status
create or replace function public.dashboard_metrics(organization_id uuid, today date default current_date)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  month_start date;
  next_month_start date;
  last_month_start date;
  year_start date;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(dashboard_metrics.organization_id, 'viewer');
  today := coalesce(today, current_date);
  month_start := pg_catalog.date_trunc('month', today::timestamp)::date;
  next_month_start := (month_start + interval '1 month')::date;
  last_month_start := (month_start - interval '1 month')::date;
  year_start := (month_start - interval '11 months')::date;
  main_currency := private.report_currency(dashboard_metrics.organization_id);

  with received as (
    select p.currency,
           sum(p.amount) filter (where p.payment_date >= month_start) as received_this_month,
           count(*) filter (where p.payment_date >= month_start) as payments_this_month,
           sum(p.amount) filter (where p.payment_date < month_start) as received_last_month
    from public.payments p
    where p.organization_id = dashboard_metrics.organization_id
      and p.payment_date >= last_month_start and p.payment_date < next_month_start
    group by p.currency
  ),
  open_invoices as (
    select i.currency,
           count(*) as open_count,
           sum(i.balance_due) as open_amount,
           count(*) filter (where i.status = 'overdue' or i.due_date < today) as overdue_count,
           sum(i.balance_due) filter (where i.status = 'overdue' or i.due_date < today) as overdue_amount
    from public.invoices i
    where i.organization_id = dashboard_metrics.organization_id and i.status in ('sent', 'overdue')
    group by i.currency
  ),
  -- Invoices now paid whose last payment falls in the last 12 calendar months:
  -- from the payments of those months (by date), less invoices paid again later.
  settled as (
    select i.currency, i.total_amount, t.paid_on, t.paid_on - i.issue_date as days
    from (
      select p.invoice_id, max(p.payment_date) as paid_on
      from public.payments p
      where p.organization_id = dashboard_metrics.organization_id
        and p.payment_date >= year_start and p.payment_date < next_month_start
      group by p.invoice_id
    ) t
    join public.invoices i on i.id = t.invoice_id
    where i.organization_id = dashboard_metrics.organization_id
      and i.status = 'paid'
      and not exists (
        select 1 from public.payments later
        where later.invoice_id = t.invoice_id and later.payment_date >= next_month_start)
  ),
  settled_totals as (
    select s.currency,
           count(*) filter (where s.paid_on >= month_start) as paid_count,
           sum(s.total_amount) filter (where s.paid_on >= month_start) as paid_amount,
           pg_catalog.round(avg(s.days), 1) as average_days
    from settled s
    group by s.currency
  ),
  statuses as (
    select private.invoice_report_status(i.status, i.due_date, today) as report_status,
           count(*) as n
    from public.invoices i
    where i.organization_id = dashboard_metrics.organization_id
    group by 1
  ),
  currencies as (
    select main_currency as currency
    union select r.currency from received r
    union select o.currency from open_invoices o
    union select s.currency from settled_totals s
  ),
  figures as (
    select c.currency, jsonb_build_object(
      'currency', c.currency,
      'revenue_this_month', private.round_money(coalesce(r.received_this_month, 0), c.currency),
      'revenue_last_month', private.round_money(coalesce(r.received_last_month, 0), c.currency),
      'revenue_change_percent', case
        when coalesce(r.received_last_month, 0) = 0 then null
        else pg_catalog.round(
          (coalesce(r.received_this_month, 0) - r.received_last_month) * 100 / r.received_last_month, 1)
        end,
      'payments_this_month', coalesce(r.payments_this_month, 0),
      'outstanding_amount', private.round_money(coalesce(o.open_amount, 0), c.currency),
      'outstanding_count', coalesce(o.open_count, 0),
      'overdue_amount', private.round_money(coalesce(o.overdue_amount, 0), c.currency),
      'overdue_count', coalesce(o.overdue_count, 0),
      'paid_this_month_amount', private.round_money(coalesce(s.paid_amount, 0), c.currency),
      'paid_this_month_count', coalesce(s.paid_count, 0),
      'average_days_to_pay', s.average_days
    ) as block
    from currencies c
    left join received r on r.currency = c.currency
    left join open_invoices o on o.currency = c.currency
    left join settled_totals s on s.currency = c.currency
  )
  select jsonb_build_object(
    'as_of', today,
    'currency', main_currency,
    'this_month', jsonb_build_object('from', month_start, 'to', next_month_start - 1),
    'last_month', jsonb_build_object('from', last_month_start, 'to', month_start - 1),
    'primary', (select f.block from figures f where f.currency = main_currency),
    'by_currency', (
      select jsonb_agg(f.block order by f.currency <> main_currency, f.currency) from figures f),
    'invoice_counts', (
      select jsonb_build_object(
        'draft', coalesce(sum(st.n) filter (where st.report_status = 'draft'), 0),
        'sent', coalesce(sum(st.n) filter (where st.report_status = 'sent'), 0),
        'overdue', coalesce(sum(st.n) filter (where st.report_status = 'overdue'), 0),
        'paid', coalesce(sum(st.n) filter (where st.report_status = 'paid'), 0),
        'cancelled', coalesce(sum(st.n) filter (where st.report_status = 'cancelled'), 0),
        'total', coalesce(sum(st.n), 0))
      from statuses st),
    'outstanding_count', (select coalesce(sum(o.open_count), 0) from open_invoices o),
    'overdue_count', (select coalesce(sum(o.overdue_count), 0) from open_invoices o),
    'average_days_to_pay', (select pg_catalog.round(avg(s.days), 1) from settled s)
  )
  into result;
  return result;
end;
$$;

comment on function public.dashboard_metrics(uuid, date) is
  'Dashboard headline figures per currency (see docs/api.md, Dashboard and reports).';

-- The latest invoices (all statuses), newest issue date first.
create or replace function public.dashboard_recent_invoices(organization_id uuid, row_limit integer default 5)
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
  perform private.require_role(dashboard_recent_invoices.organization_id, 'viewer');
  if row_limit is null or row_limit < 1 or row_limit > 50 then
    raise exception 'limit must be between 1 and 50' using errcode = '22023';
  end if;
  select jsonb_build_object('data', coalesce(jsonb_agg(jsonb_build_object(
      'id', r.id,
      'invoice_number', r.invoice_number,
      'client_id', r.client_id,
      'client_name', r.company_name,
      'status', r.status,
      'is_overdue', private.invoice_report_status(r.status, r.due_date, current_date) = 'overdue',
      'currency', r.currency,
      'issue_date', r.issue_date,
      'due_date', r.due_date,
      'total_amount', r.total_amount,
      'amount_paid', r.amount_paid,
      'balance_due', r.balance_due
    ) order by r.issue_date desc, r.created_at desc, r.id desc), '[]'::jsonb))
  into result
  from (
    select i.id, i.invoice_number, i.client_id, c.company_name, i.status, i.due_date, i.currency,
           i.issue_date, i.created_at, i.total_amount, i.amount_paid, i.balance_due
    from public.invoices i
    join public.clients c on c.id = i.client_id
    where i.organization_id = dashboard_recent_invoices.organization_id
    order by i.issue_date desc, i.created_at desc, i.id desc
    limit row_limit
  ) r;
  return result;
end;
$$;

comment on function public.dashboard_recent_invoices(uuid, integer) is
  'The organization''s latest invoices, newest issue date first.';

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

-- Monthly billed and collected over `months` calendar months (1 to 36) ending
-- with the month of `end_month` (default: this month): one zero-filled series
-- per currency, the default currency's first and always present.
create or replace function public.dashboard_revenue_chart(
  organization_id uuid,
  months integer default 12,
  end_month date default current_date
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  last_start date;
  first_start date;
  range_end date;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(dashboard_revenue_chart.organization_id, 'viewer');
  if months is null or months < 1 or months > 36 then
    raise exception 'months must be between 1 and 36' using errcode = '22023';
  end if;
  last_start := pg_catalog.date_trunc('month', coalesce(end_month, current_date)::timestamp)::date;
  first_start := (last_start - (months - 1) * interval '1 month')::date;
  range_end := (last_start + interval '1 month')::date;
  main_currency := private.report_currency(dashboard_revenue_chart.organization_id);

  with periods as (
    select (first_start + n * interval '1 month')::date as period_start
    from pg_catalog.generate_series(0, months - 1) n
  ),
  billed as (
    select i.currency, pg_catalog.date_trunc('month', i.issue_date::timestamp)::date as period_start,
           count(*) as invoice_count, sum(i.total_amount) as amount
    from public.invoices i
    where i.organization_id = dashboard_revenue_chart.organization_id
      and i.issue_date >= first_start and i.issue_date < range_end
      and i.status in ('sent', 'paid', 'overdue')
    group by 1, 2
  ),
  collected as (
    select p.currency, pg_catalog.date_trunc('month', p.payment_date::timestamp)::date as period_start,
           count(*) as payment_count, sum(p.amount) as amount
    from public.payments p
    where p.organization_id = dashboard_revenue_chart.organization_id
      and p.payment_date >= first_start and p.payment_date < range_end
    group by 1, 2
  ),
  currencies as (
    select main_currency as currency
    union select b.currency from billed b
    union select k.currency from collected k
  ),
  points as (
    select c.currency, m.period_start,
           private.round_money(coalesce(b.amount, 0), c.currency) as billed,
           private.round_money(coalesce(k.amount, 0), c.currency) as collected,
           coalesce(b.invoice_count, 0) as invoice_count,
           coalesce(k.payment_count, 0) as payment_count
    from currencies c
    cross join periods m
    left join billed b on b.currency = c.currency and b.period_start = m.period_start
    left join collected k on k.currency = c.currency and k.period_start = m.period_start
  ),
  series as (
    select pt.currency, jsonb_build_object(
      'currency', pt.currency,
      'total_billed', private.round_money(sum(pt.billed), pt.currency),
      'total_collected', private.round_money(sum(pt.collected), pt.currency),
      'invoice_count', sum(pt.invoice_count),
      'payment_count', sum(pt.payment_count),
      'points', jsonb_agg(jsonb_build_object(
        'month', pt.period_start,
        'billed', pt.billed,
        'collected', pt.collected,
        'invoice_count', pt.invoice_count,
        'payment_count', pt.payment_count) order by pt.period_start)
    ) as body
    from points pt
    group by pt.currency
  )
  select jsonb_build_object(
    'from', first_start,
    'to', range_end - 1,
    'months', months,
    'currency', main_currency,
    'series', (select jsonb_agg(s.body order by s.currency <> main_currency, s.currency) from series s)
  )
  into result;
  return result;
end;
$$;

comment on function public.dashboard_revenue_chart(uuid, integer, date) is
  'Monthly billed and collected per currency, zero-filled.';

-- The range at a glance, per currency:
--   invoice_count, billed         invoices issued in the range (billed statuses)
--   paid, outstanding             amount_paid and open balance_due of those invoices
--   overdue_amount, overdue_count those with the report status overdue
--   collection_rate               paid / billed * 100 (1 decimal; null when nothing billed)
--   average_invoice               billed / invoice_count (null when none)
--   collected, payment_count      payments dated in the range
--   average_days_to_pay           paid invoices issued in the range
-- and across currencies: invoice_counts by report status (every invoice issued
-- in the range), clients (new = created in the range, billed = with a billed
-- invoice in the range), average_days_to_pay.
create or replace function public.reports_overview(
  organization_id uuid,
  date_from date default null,
  date_to date default null
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  range_from date;
  range_to date;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(reports_overview.organization_id, 'viewer');
  select r.range_from, r.range_to into range_from, range_to
  from private.report_range(date_from, date_to) r;
  main_currency := private.report_currency(reports_overview.organization_id);

  with issued as (
    select i.id, i.client_id as cid, i.currency, i.issue_date, i.total_amount, i.amount_paid,
           i.balance_due, private.invoice_report_status(i.status, i.due_date, current_date) as report_status
    from public.invoices i
    where i.organization_id = reports_overview.organization_id and i.issue_date between range_from and range_to
  ),
  billed as (
    select x.currency,
           count(*) as invoice_count,
           sum(x.total_amount) as billed,
           sum(x.amount_paid) as paid,
           sum(x.balance_due) filter (where x.report_status in ('sent', 'overdue')) as outstanding,
           count(*) filter (where x.report_status = 'overdue') as overdue_count,
           sum(x.balance_due) filter (where x.report_status = 'overdue') as overdue_amount
    from issued x
    where x.report_status in ('sent', 'paid', 'overdue')
    group by x.currency
  ),
  settled as (
    select x.currency,
           (select max(p.payment_date) from public.payments p where p.invoice_id = x.id) - x.issue_date as days
    from issued x
    where x.report_status = 'paid'
  ),
  settled_totals as (
    select s.currency, pg_catalog.round(avg(s.days), 1) as average_days
    from settled s
    group by s.currency
  ),
  received as (
    select p.currency, count(*) as payment_count, sum(p.amount) as collected
    from public.payments p
    where p.organization_id = reports_overview.organization_id and p.payment_date between range_from and range_to
    group by p.currency
  ),
  currencies as (
    select main_currency as currency
    union select b.currency from billed b
    union select r.currency from received r
  ),
  figures as (
    select c.currency, jsonb_build_object(
      'currency', c.currency,
      'invoice_count', coalesce(b.invoice_count, 0),
      'billed', private.round_money(coalesce(b.billed, 0), c.currency),
      'paid', private.round_money(coalesce(b.paid, 0), c.currency),
      'outstanding', private.round_money(coalesce(b.outstanding, 0), c.currency),
      'overdue_amount', private.round_money(coalesce(b.overdue_amount, 0), c.currency),
      'overdue_count', coalesce(b.overdue_count, 0),
      'collection_rate', case when coalesce(b.billed, 0) = 0 then null
                              else pg_catalog.round(b.paid * 100 / b.billed, 1) end,
      'average_invoice', case when coalesce(b.invoice_count, 0) = 0 then null
                              else private.round_money(b.billed / b.invoice_count, c.currency) end,
      'collected', private.round_money(coalesce(r.collected, 0), c.currency),
      'payment_count', coalesce(r.payment_count, 0),
      'average_days_to_pay', s.average_days
    ) as block
    from currencies c
    left join billed b on b.currency = c.currency
    left join received r on r.currency = c.currency
    left join settled_totals s on s.currency = c.currency
  )
  select jsonb_build_object(
    'from', range_from,
    'to', range_to,
    'currency', main_currency,
    'primary', (select f.block from figures f where f.currency = main_currency),
    'by_currency', (
      select jsonb_agg(f.block order by f.currency <> main_currency, f.currency) from figures f),
    'invoice_counts', (
      select jsonb_build_object(
        'draft', count(*) filter (where x.report_status = 'draft'),
        'sent', count(*) filter (where x.report_status = 'sent'),
        'overdue', count(*) filter (where x.report_status = 'overdue'),
        'paid', count(*) filter (where x.report_status = 'paid'),
        'cancelled', count(*) filter (where x.report_status = 'cancelled'),
        'total', count(*))
      from issued x),
    'clients', jsonb_build_object(
      'new', (select count(*) from public.clients c
              where c.organization_id = reports_overview.organization_id
                and c.created_at >= range_from::timestamp at time zone 'UTC'
                and c.created_at < (range_to + 1)::timestamp at time zone 'UTC'),
      'billed', (select count(distinct x.cid) from issued x
                 where x.report_status in ('sent', 'paid', 'overdue'))),
    'average_days_to_pay', (select pg_catalog.round(avg(s.days), 1) from settled s)
  )
  into result;
  return result;
end;
$$;

comment on function public.reports_overview(uuid, date, date) is
  'Billed, paid, outstanding and collected over a date range, per currency.';

-- Billed and collected per period (calendar month, quarter or year; the first
-- and last periods clipped to the range), one zero-filled series per currency,
-- and the top `client_limit` clients of each currency by billed amount.
-- `client_id` narrows everything to one client (P0002 when it is not a client
-- of the organization).
create or replace function public.reports_revenue(
  organization_id uuid,
  date_from date default null,
  date_to date default null,
  group_by text default 'month',
  client_id uuid default null,
  client_limit integer default 10
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  range_from date;
  range_to date;
  step interval;
  first_period timestamp;
  period_count integer;
  only_client uuid := reports_revenue.client_id;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(reports_revenue.organization_id, 'viewer');
  select r.range_from, r.range_to into range_from, range_to
  from private.report_range(date_from, date_to) r;
  group_by := coalesce(group_by, 'month');
  step := case group_by
    when 'month' then interval '1 month'
    when 'quarter' then interval '3 months'
    when 'year' then interval '1 year'
  end;
  if step is null then
    raise exception 'group_by must be month, quarter or year, not %', group_by using errcode = '22023';
  end if;
  first_period := pg_catalog.date_trunc(group_by, range_from::timestamp);
  period_count := 1 + (
    (extract(year from range_to) - extract(year from first_period)) * 12
    + extract(month from range_to) - extract(month from first_period)
  )::integer / case group_by when 'month' then 1 when 'quarter' then 3 else 12 end;
  if client_limit is null or client_limit < 1 or client_limit > 100 then
    raise exception 'client_limit must be between 1 and 100' using errcode = '22023';
  end if;
  if only_client is not null and not exists (
    select 1 from public.clients c where c.organization_id = reports_revenue.organization_id and c.id = only_client
  ) then
    raise exception 'client not found' using errcode = 'P0002';
  end if;
  main_currency := private.report_currency(reports_revenue.organization_id);

  with periods as (
    select d::date as period_start,
           greatest(d::date, range_from) as starts,
           least((d + step)::date - 1, range_to) as ends
    from pg_catalog.generate_series(0, period_count - 1) n
    cross join lateral (select first_period + n * step as d) p
  ),
  billed_rows as (
    select i.client_id as cid, i.currency, i.total_amount as amount,
           pg_catalog.date_trunc(group_by, i.issue_date::timestamp)::date as period_start
    from public.invoices i
    where i.organization_id = reports_revenue.organization_id
      and i.issue_date between range_from and range_to
      and i.status in ('sent', 'paid', 'overdue')
      and (only_client is null or i.client_id = only_client)
  ),
  collected_rows as (
    select i.client_id as cid, p.currency, p.amount,
           pg_catalog.date_trunc(group_by, p.payment_date::timestamp)::date as period_start
    from public.payments p
    join public.invoices i on i.id = p.invoice_id and i.organization_id = reports_revenue.organization_id
    where p.organization_id = reports_revenue.organization_id
      and p.payment_date between range_from and range_to
      and (only_client is null or i.client_id = only_client)
  ),
  billed as (
    select b.currency, b.period_start, count(*) as invoice_count, sum(b.amount) as amount
    from billed_rows b group by 1, 2
  ),
  collected as (
    select k.currency, k.period_start, count(*) as payment_count, sum(k.amount) as amount
    from collected_rows k group by 1, 2
  ),
  currencies as (
    select main_currency as currency
    union select b.currency from billed b
    union select k.currency from collected k
  ),
  points as (
    select c.currency, m.period_start, m.starts, m.ends,
           private.round_money(coalesce(b.amount, 0), c.currency) as billed,
           private.round_money(coalesce(k.amount, 0), c.currency) as collected,
           coalesce(b.invoice_count, 0) as invoice_count,
           coalesce(k.payment_count, 0) as payment_count
    from currencies c
    cross join periods m
    left join billed b on b.currency = c.currency and b.period_start = m.period_start
    left join collected k on k.currency = c.currency and k.period_start = m.period_start
  ),
  series as (
    select pt.currency, jsonb_build_object(
      'currency', pt.currency,
      'total_billed', private.round_money(sum(pt.billed), pt.currency),
      'total_collected', private.round_money(sum(pt.collected), pt.currency),
      'invoice_count', sum(pt.invoice_count),
      'payment_count', sum(pt.payment_count),
      'points', jsonb_agg(jsonb_build_object(
        'period', case group_by
                    when 'month' then pg_catalog.to_char(pt.period_start, 'YYYY-MM')
                    when 'quarter' then pg_catalog.to_char(pt.period_start, 'YYYY-"Q"Q')
                    else pg_catalog.to_char(pt.period_start, 'YYYY') end,
        'start', pt.starts,
        'end', pt.ends,
        'billed', pt.billed,
        'collected', pt.collected,
        'invoice_count', pt.invoice_count,
        'payment_count', pt.payment_count) order by pt.period_start)
    ) as body
    from points pt
    group by pt.currency
  ),
  client_totals as (
    select t.cid, t.currency,
           sum(t.billed) as billed, sum(t.collected) as collected,
           sum(t.invoice_count) as invoice_count, sum(t.payment_count) as payment_count
    from (
      select b.cid, b.currency, b.amount as billed, 0 as collected, 1 as invoice_count, 0 as payment_count
      from billed_rows b
      union all
      select k.cid, k.currency, 0, k.amount, 0, 1
      from collected_rows k
    ) t
    group by t.cid, t.currency
  ),
  ranked as (
    select ct.*, c.company_name,
           row_number() over (partition by ct.currency
                              order by ct.billed desc, ct.collected desc, c.company_name, ct.cid) as rank
    from client_totals ct
    join public.clients c on c.id = ct.cid
  )
  select jsonb_build_object(
    'from', range_from,
    'to', range_to,
    'group_by', group_by,
    'client_id', only_client,
    'currency', main_currency,
    'series', (select jsonb_agg(s.body order by s.currency <> main_currency, s.currency) from series s),
    'by_client', (
      select coalesce(jsonb_agg(jsonb_build_object(
          'client_id', r.cid,
          'client_name', r.company_name,
          'currency', r.currency,
          'billed', private.round_money(r.billed, r.currency),
          'collected', private.round_money(r.collected, r.currency),
          'invoice_count', r.invoice_count,
          'payment_count', r.payment_count
        ) order by r.currency <> main_currency, r.currency, r.rank), '[]'::jsonb)
      from ranked r
      where r.rank <= client_limit)
  )
  into result;
  return result;
end;
$$;

comment on function public.reports_revenue(uuid, date, date, text, uuid, integer) is
  'Billed and collected per month, quarter or year, per currency, with the top clients.';

-- Invoices issued in the range by report status (all five, in the order
-- draft, sent, overdue, paid, cancelled, zero-filled): count, share of the
-- count (1 decimal; null when there is no invoice), and per currency the count
-- and the sums of total_amount (total), amount_paid (paid) and of the open
-- balance_due (outstanding: sent and overdue only; a draft or cancelled
-- invoice is owed nothing).
create or replace function public.reports_payment_status(
  organization_id uuid,
  date_from date default null,
  date_to date default null
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  range_from date;
  range_to date;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(reports_payment_status.organization_id, 'viewer');
  select r.range_from, r.range_to into range_from, range_to
  from private.report_range(date_from, date_to) r;
  main_currency := private.report_currency(reports_payment_status.organization_id);

  with grouped as (
    select private.invoice_report_status(i.status, i.due_date, current_date) as report_status,
           i.currency,
           count(*) as n,
           sum(i.total_amount) as total,
           sum(i.amount_paid) as paid,
           sum(i.balance_due) filter (where i.status in ('sent', 'overdue')) as outstanding
    from public.invoices i
    where i.organization_id = reports_payment_status.organization_id and i.issue_date between range_from and range_to
    group by 1, 2
  ),
  statuses (report_status, ordinal) as (
    values ('draft', 1), ('sent', 2), ('overdue', 3), ('paid', 4), ('cancelled', 5)
  ),
  currencies as (
    select main_currency as currency
    union select g.currency from grouped g
  ),
  cells as (
    select s.report_status, s.ordinal, c.currency,
           coalesce(g.n, 0) as n,
           private.round_money(coalesce(g.total, 0), c.currency) as total,
           private.round_money(coalesce(g.paid, 0), c.currency) as paid,
           private.round_money(coalesce(g.outstanding, 0), c.currency) as outstanding
    from statuses s
    cross join currencies c
    left join grouped g on g.report_status = s.report_status and g.currency = c.currency
  ),
  per_status as (
    select x.report_status, x.ordinal, sum(x.n) as n,
           jsonb_agg(jsonb_build_object(
             'currency', x.currency, 'count', x.n, 'total', x.total, 'paid', x.paid,
             'outstanding', x.outstanding) order by x.currency <> main_currency, x.currency) as amounts
    from cells x
    group by x.report_status, x.ordinal
  ),
  overall as (
    select coalesce(sum(g.n), 0) as n from grouped g
  )
  select jsonb_build_object(
    'from', range_from,
    'to', range_to,
    'currency', main_currency,
    'total_count', o.n,
    'statuses', (
      select jsonb_agg(jsonb_build_object(
          'status', ps.report_status,
          'count', ps.n,
          'percentage', case when o.n = 0 then null else pg_catalog.round(ps.n * 100.0 / o.n, 1) end,
          'amounts', ps.amounts) order by ps.ordinal)
      from per_status ps)
  )
  into result
  from overall o;
  return result;
end;
$$;

comment on function public.reports_payment_status(uuid, date, date) is
  'Invoices issued in a date range by status: counts and amounts per currency.';

-- Per client, over the invoices issued in the range with a billed status:
-- invoice_count, billed (total_amount), paid (amount_paid), outstanding (open
-- balance_due; billed = paid + outstanding), overdue_amount and overdue_count,
-- average_days_to_pay (paid invoices), last_invoice_date. Each client's
-- amounts are in its currency. `sort_by`: billed, paid, outstanding,
-- overdue_amount, invoice_count, average_days_to_pay, last_invoice_date or
-- name, "-" in front for descending (default -billed), ties by name then id;
-- `currency_code` keeps one currency; at most `row_limit` (1 to 100) clients,
-- `total` says how many there are.
create or replace function public.reports_client_performance(
  organization_id uuid,
  date_from date default null,
  date_to date default null,
  sort_by text default '-billed',
  row_limit integer default 10,
  currency_code text default null
)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
set jit = off
as $$
declare
  range_from date;
  range_to date;
  sort_key text;
  descending boolean;
  main_currency text;
  result jsonb;
begin
  perform private.require_role(reports_client_performance.organization_id, 'viewer');
  select r.range_from, r.range_to into range_from, range_to
  from private.report_range(date_from, date_to) r;
  sort_by := coalesce(sort_by, '-billed');
  descending := left(sort_by, 1) = '-';
  sort_key := case when descending then substr(sort_by, 2) else sort_by end;
  if sort_key not in ('billed', 'paid', 'outstanding', 'overdue_amount', 'invoice_count',
                      'average_days_to_pay', 'last_invoice_date', 'name') then
    raise exception 'cannot sort by %', sort_by using errcode = '22023',
      hint = 'Sort by billed, paid, outstanding, overdue_amount, invoice_count, '
             'average_days_to_pay, last_invoice_date or name, with - for descending.';
  end if;
  if row_limit is null or row_limit < 1 or row_limit > 100 then
    raise exception 'limit must be between 1 and 100' using errcode = '22023';
  end if;
  if currency_code is not null and currency_code !~ '^[A-Z]{3}$' then
    raise exception 'currency must be a three-letter ISO 4217 code' using errcode = '22023';
  end if;
  main_currency := private.report_currency(reports_client_performance.organization_id);

  with issued as (
    select i.id, i.client_id as cid, i.currency, i.issue_date, i.total_amount, i.amount_paid,
           i.balance_due, private.invoice_report_status(i.status, i.due_date, current_date) as report_status
    from public.invoices i
    where i.organization_id = reports_client_performance.organization_id
      and i.issue_date between range_from and range_to
      and i.status in ('sent', 'paid', 'overdue')
      and (currency_code is null or i.currency = currency_code)
  ),
  per_client as (
    select x.cid, x.currency,
           count(*) as invoice_count,
           sum(x.total_amount) as billed,
           sum(x.amount_paid) as paid,
           coalesce(sum(x.balance_due) filter (where x.report_status in ('sent', 'overdue')), 0) as outstanding,
           coalesce(sum(x.balance_due) filter (where x.report_status = 'overdue'), 0) as overdue_amount,
           count(*) filter (where x.report_status = 'overdue') as overdue_count,
           pg_catalog.round(avg(d.days), 1) as average_days,
           max(x.issue_date) as last_invoice_date
    from issued x
    left join lateral (
      select max(p.payment_date) - x.issue_date as days
      from public.payments p
      where p.invoice_id = x.id and x.report_status = 'paid'
    ) d on true
    group by x.cid, x.currency
  ),
  ranked as (
    select pc.*, c.company_name,
           row_number() over (order by
             case when descending then case sort_key
               when 'billed' then pc.billed
               when 'paid' then pc.paid
               when 'outstanding' then pc.outstanding
               when 'overdue_amount' then pc.overdue_amount
               when 'invoice_count' then pc.invoice_count
               when 'average_days_to_pay' then pc.average_days
               when 'last_invoice_date' then pc.last_invoice_date - date '2000-01-01'
             end end desc nulls last,
             case when not descending then case sort_key
               when 'billed' then pc.billed
               when 'paid' then pc.paid
               when 'outstanding' then pc.outstanding
               when 'overdue_amount' then pc.overdue_amount
               when 'invoice_count' then pc.invoice_count
               when 'average_days_to_pay' then pc.average_days
               when 'last_invoice_date' then pc.last_invoice_date - date '2000-01-01'
             end end asc nulls last,
             case when sort_key = 'name' and descending then lower(c.company_name) end desc,
             lower(c.company_name), pc.cid) as rank
    from per_client pc
    join public.clients c on c.id = pc.cid
  )
  select jsonb_build_object(
    'from', range_from,
    'to', range_to,
    'currency', main_currency,
    'sort', sort_by,
    'total', (select count(*) from ranked),
    'clients', coalesce((
      select jsonb_agg(jsonb_build_object(
          'client_id', r.cid,
          'client_name', r.company_name,
          'currency', r.currency,
          'invoice_count', r.invoice_count,
          'billed', private.round_money(r.billed, r.currency),
          'paid', private.round_money(r.paid, r.currency),
          'outstanding', private.round_money(r.outstanding, r.currency),
          'overdue_amount', private.round_money(r.overdue_amount, r.currency),
          'overdue_count', r.overdue_count,
          'average_days_to_pay', r.average_days,
          'last_invoice_date', r.last_invoice_date
        ) order by r.rank)
      from ranked r
      where r.rank <= row_limit), '[]'::jsonb)
  )
  into result;
  return result;
end;
$$;

comment on function public.reports_client_performance(uuid, date, date, text, integer, text) is
  'Billed, paid, outstanding and days to pay per client over a date range.';

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.report_range(date, date),
  private.report_currency(uuid),
  private.invoice_report_status(text, date, date)
  to authenticated, service_role;

grant execute on function
  public.dashboard_metrics(uuid, date),
  public.dashboard_recent_invoices(uuid, integer),
  public.dashboard_recent_activities(uuid, integer),
  public.dashboard_revenue_chart(uuid, integer, date),
  public.reports_overview(uuid, date, date),
  public.reports_revenue(uuid, date, date, text, uuid, integer),
  public.reports_payment_status(uuid, date, date),
  public.reports_client_performance(uuid, date, date, text, integer, text)
  to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
