-- =============================================================================
-- The dashboard and report functions (20261206100900_reports.sql): exact
-- figures on a small organization in two currencies, zero-filled months, a
-- cancelled invoice and a draft left out of what is billed, another
-- organization's data invisible, and the parameter checks.
--
-- The organization (the owner's, tests.org('main'), default currency USD):
--   client    inv  issued      due         total    status     payments
--   Acme      R-1  2025-03-10  2025-04-09  1000.00  paid       400 on 04-01, 600 on 05-20
--   Acme      R-2  2025-05-05  2025-06-04   500.00  sent       200 on 06-02
--   Beta      R-3  2025-06-01  2099-12-31   250.00  sent       -
--   Beta      R-4  2025-06-03  2025-06-10   100.00  paid       100 on 06-12
--   Beta      R-5  2025-04-15  2025-05-15   300.00  cancelled  -
--   Acme      R-6  2025-06-05  2025-07-05    75.00  draft      -
--   Beta      R-7  2025-01-20  2025-02-19    80.00  overdue    -
--   Euro (EUR) E-1 2025-05-10  2025-06-09   700.00  paid       700 on 06-05
--   Euro (EUR) E-2 2025-06-02  2025-07-02   450.50  sent       50.50 on 06-10
-- The dashboard is asked as of 2025-06-15; the reports judge "overdue" as of
-- the real current date, when R-2 and E-2 (sent, past due) are overdue too.
-- Days to pay: R-1 71, R-4 9, E-1 26.
-- The stranger's organization has one USD invoice of 9999.00 with 1000.00 paid.
-- =============================================================================
begin;
select plan(51);

-- The answers as the reports migration gave them: the billing lifecycle's fields
-- (20261206110600_lifecycle_reports.sql, tested in pgTAP 560) taken out at any depth.
create function pg_temp.v1(j jsonb) returns jsonb
language sql immutable as $$
  select case jsonb_typeof(j)
    when 'object' then (
      select coalesce(jsonb_object_agg(e.key, pg_temp.v1(e.value)), '{}'::jsonb)
      from jsonb_each(j) e
      where e.key <> all (array[
        'mrr', 'client_credit', 'clients_with_credit', 'open_quotes_count', 'open_quotes_amount',
        'received_this_month', 'received_last_month', 'refunded_this_month', 'refunded_last_month',
        'credited_this_month', 'credit_notes_this_month', 'active_recurring_profiles',
        'quote_counts', 'quote_acceptance_rate', 'amount_credited', 'total_credited',
        'total_refunded', 'credited', 'refunded', 'received', 'refund_count', 'credit_note_count',
        'credit_applied', 'quote_count', 'quoted', 'accepted_amount']))
    when 'array' then (
      select coalesce(jsonb_agg(pg_temp.v1(e.value) order by e.n), '[]'::jsonb)
      from jsonb_array_elements(j) with ordinality e(value, n))
    else j end
$$;

create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;
create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
-- An invoice of `total` (one item, no tax) that ends in `final_status`.
create function pg_temp.invoice(who text, num text, client_name text, issued date, due date,
                                total numeric, final_status text)
returns uuid
language plpgsql as $$
declare
  new_id uuid;
begin
  insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date)
  values (pg_temp.org(who), pg_temp.client(client_name), num, issued, due)
  returning id into new_id;
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (new_id, 'services', 1, total);
  if final_status in ('sent', 'overdue', 'paid') then
    update public.invoices set status = 'sent' where id = new_id;
  end if;
  if final_status in ('overdue', 'cancelled') then
    update public.invoices set status = final_status where id = new_id;
  end if;
  return new_id;
end;
$$;
create function pg_temp.pay(num text, amount numeric, paid date) returns void
language sql as $$
  insert into public.payments (invoice_id, amount, payment_date) values (pg_temp.inv(num), amount, paid)
$$;

select tests.create_cast();

select tests.authenticate_as('owner');
insert into public.clients (id, organization_id, company_name, currency) values
  (gen_random_uuid(), pg_temp.org('owner'), 'Acme', 'USD'),
  ('b0000000-0000-4000-8000-0000000000be', pg_temp.org('owner'), 'Beta', 'USD'),
  (gen_random_uuid(), pg_temp.org('owner'), 'Euro GmbH', 'EUR');
select pg_temp.invoice('owner', 'R-1', 'Acme', '2025-03-10', '2025-04-09', 1000, 'paid');
select pg_temp.invoice('owner', 'R-2', 'Acme', '2025-05-05', '2025-06-04', 500, 'sent');
select pg_temp.invoice('owner', 'R-3', 'Beta', '2025-06-01', '2099-12-31', 250, 'sent');
select pg_temp.invoice('owner', 'R-4', 'Beta', '2025-06-03', '2025-06-10', 100, 'paid');
select pg_temp.invoice('owner', 'R-5', 'Beta', '2025-04-15', '2025-05-15', 300, 'cancelled');
select pg_temp.invoice('owner', 'R-6', 'Acme', '2025-06-05', '2025-07-05', 75, 'draft');
select pg_temp.invoice('owner', 'R-7', 'Beta', '2025-01-20', '2025-02-19', 80, 'overdue');
select pg_temp.invoice('owner', 'E-1', 'Euro GmbH', '2025-05-10', '2025-06-09', 700, 'paid');
select pg_temp.invoice('owner', 'E-2', 'Euro GmbH', '2025-06-02', '2025-07-02', 450.50, 'sent');
select pg_temp.pay('R-1', 400, '2025-04-01');
select pg_temp.pay('R-1', 600, '2025-05-20');
select pg_temp.pay('R-2', 200, '2025-06-02');
select pg_temp.pay('R-4', 100, '2025-06-12');
select pg_temp.pay('E-1', 700, '2025-06-05');
select pg_temp.pay('E-2', 50.50, '2025-06-10');

select tests.authenticate_as('stranger');
insert into public.clients (organization_id, company_name, currency)
values (pg_temp.org('stranger'), 'Stranger Client', 'USD');
select pg_temp.invoice('stranger', 'S-1', 'Stranger Client', '2025-06-01', '2025-07-01', 9999, 'sent');
select pg_temp.pay('S-1', 1000, '2025-06-03');

select tests.authenticate_as('owner');
select results_eq(
  $$ select invoice_number, status from public.invoices order by invoice_number $$,
  $$ values ('E-1'::text, 'paid'::text), ('E-2', 'sent'), ('R-1', 'paid'), ('R-2', 'sent'),
            ('R-3', 'sent'), ('R-4', 'paid'), ('R-5', 'cancelled'), ('R-6', 'draft'), ('R-7', 'overdue') $$,
  'the fixture has the statuses it says it has'
);

-- =============================================================================
-- The functions themselves
-- =============================================================================
select is_empty(
  $$ select p.proname from pg_catalog.pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('dashboard_metrics', 'dashboard_recent_invoices', 'dashboard_recent_activities',
                         'dashboard_revenue_chart', 'reports_overview', 'reports_revenue',
                         'reports_payment_status', 'reports_client_performance')
       and (p.prosecdef or p.provolatile <> 's'
            or not coalesce('search_path=""' = any (p.proconfig), false)) $$,
  'every dashboard and report function is stable, security invoker, with an empty search_path'
);
select is(
  (select count(*)::int from pg_catalog.pg_proc p
   where p.pronamespace = 'public'::regnamespace
     and (p.proname like 'dashboard\_%' or p.proname like 'reports\_%')
     and has_function_privilege('authenticated', p.oid, 'execute')
     and not has_function_privilege('anon', p.oid, 'execute')),
  8, 'the eight functions are executable by authenticated and not by anon'
);

-- =============================================================================
-- dashboard_metrics, as of 2025-06-15
-- =============================================================================
select is(
  pg_temp.v1(
  public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15') -> 'primary'),
  '{"currency": "USD", "revenue_this_month": 300.00, "revenue_last_month": 600.00,
    "revenue_change_percent": -50.0, "payments_this_month": 2,
    "outstanding_amount": 630.00, "outstanding_count": 3,
    "overdue_amount": 380.00, "overdue_count": 2,
    "paid_this_month_amount": 100.00, "paid_this_month_count": 1,
    "average_days_to_pay": 40.0}'::jsonb,
  'USD: revenue this and last month, outstanding, overdue (a sent invoice past due included), paid this month, days to pay'
);
select is(
  pg_temp.v1(
  public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15') -> 'by_currency' -> 1),
  '{"currency": "EUR", "revenue_this_month": 750.50, "revenue_last_month": 0.00,
    "revenue_change_percent": null, "payments_this_month": 2,
    "outstanding_amount": 400.00, "outstanding_count": 1,
    "overdue_amount": 0.00, "overdue_count": 0,
    "paid_this_month_amount": 700.00, "paid_this_month_count": 1,
    "average_days_to_pay": 26.0}'::jsonb,
  'EUR is reported on its own, never added to USD; no change percent from an empty month'
);
select is(
  (select jsonb_agg(b ->> 'currency') from jsonb_array_elements(
     public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15') -> 'by_currency') b),
  '["USD", "EUR"]'::jsonb,
  'by_currency: the default currency first, then the others'
);
select is(
  pg_temp.v1(
  public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15')
    - 'primary' - 'by_currency'),
  '{"as_of": "2025-06-15", "currency": "USD",
    "this_month": {"from": "2025-06-01", "to": "2025-06-30"},
    "last_month": {"from": "2025-05-01", "to": "2025-05-31"},
    "invoice_counts": {"draft": 1, "sent": 2, "overdue": 2, "paid": 3, "cancelled": 1, "total": 9},
    "outstanding_count": 4, "overdue_count": 2, "average_days_to_pay": 35.3}'::jsonb,
  'counts by status, counts and days across currencies'
);
select is(
  public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15') #>> '{by_currency,1,revenue_last_month}',
  '0.00',
  'an empty sum keeps the currency''s two decimals'
);
select is(
  pg_temp.v1(
  public.dashboard_metrics(pg_temp.org('owner'), '2025-05-31') -> 'primary'),
  '{"currency": "USD", "revenue_this_month": 600.00, "revenue_last_month": 400.00,
    "revenue_change_percent": 50.0, "payments_this_month": 1,
    "outstanding_amount": 630.00, "outstanding_count": 3,
    "overdue_amount": 80.00, "overdue_count": 1,
    "paid_this_month_amount": 1000.00, "paid_this_month_count": 1,
    "average_days_to_pay": 71.0}'::jsonb,
  'as of 2025-05-31: May against April, and R-4 (paid in June) not yet in the days to pay'
);
select is(
  public.dashboard_metrics(pg_temp.org('owner'), '2027-01-15') #> '{primary,average_days_to_pay}',
  'null'::jsonb,
  'no invoice paid in the last 12 months: the average days to pay is null'
);

-- =============================================================================
-- Recent invoices and activities
-- =============================================================================
select is(
  (select jsonb_agg(jsonb_build_array(r ->> 'invoice_number', r ->> 'client_name', r ->> 'status', r -> 'is_overdue'))
   from jsonb_array_elements(public.dashboard_recent_invoices(pg_temp.org('owner'), 4) -> 'data') r),
  '[["R-6", "Acme", "draft", false], ["R-4", "Beta", "paid", false],
    ["E-2", "Euro GmbH", "sent", true], ["R-3", "Beta", "sent", false]]'::jsonb,
  'recent invoices: newest issue date first, all statuses, with the client''s name'
);
select is(
  pg_temp.v1(
  (public.dashboard_recent_invoices(pg_temp.org('owner'), 50) #> '{data,0}') - 'id' - 'client_id'),
  '{"invoice_number": "R-6", "client_name": "Acme", "status": "draft", "is_overdue": false,
    "currency": "USD", "issue_date": "2025-06-05", "due_date": "2025-07-05",
    "total_amount": 75.00, "amount_paid": 0.00, "balance_due": 75.00}'::jsonb,
  'a recent invoice has its amounts and dates'
);
select is(
  jsonb_array_length(public.dashboard_recent_invoices(pg_temp.org('owner'), 50) -> 'data'),
  9, 'recent invoices list only the organization''s own'
);
select is(
  (select jsonb_agg(r ->> 'type' order by r ->> 'type')
   from jsonb_array_elements(public.dashboard_recent_activities(pg_temp.org('owner'), 50) -> 'data') r),
  '["new", "new", "new", "payment", "payment", "payment", "payment", "payment", "payment"]'::jsonb,
  'recent activities: the organization''s clients created and paid, nobody else''s'
);
select ok(
  (select bool_and(r ->> 'client_name' in ('Acme', 'Beta', 'Euro GmbH')
                   and r ->> 'timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')
   from jsonb_array_elements(public.dashboard_recent_activities(pg_temp.org('owner'), 50) -> 'data') r),
  'each activity names its client and has an RFC 3339 UTC timestamp'
);
select is(
  jsonb_array_length(public.dashboard_recent_activities(pg_temp.org('owner'), 2) -> 'data'),
  2, 'the limit is applied'
);

-- =============================================================================
-- Revenue chart: 6 months to June 2025
-- =============================================================================
select is(
  (select jsonb_agg(jsonb_build_array(p ->> 'month', p ->> 'billed', p ->> 'collected',
                                      p -> 'invoice_count', p -> 'payment_count'))
   from jsonb_array_elements(
     public.dashboard_revenue_chart(pg_temp.org('owner'), 6, '2025-06-15') #> '{series,0,points}') p),
  '[["2025-01-01", "80.00", "0.00", 1, 0], ["2025-02-01", "0.00", "0.00", 0, 0],
    ["2025-03-01", "1000.00", "0.00", 1, 0], ["2025-04-01", "0.00", "400.00", 0, 1],
    ["2025-05-01", "500.00", "600.00", 1, 1], ["2025-06-01", "350.00", "300.00", 2, 2]]'::jsonb,
  'USD by month, zero-filled; the cancelled invoice (April) and the draft (June) are not billed'
);
select is(
  pg_temp.v1(
  (public.dashboard_revenue_chart(pg_temp.org('owner'), 6, '2025-06-15') #> '{series,1}') - 'points'),
  '{"currency": "EUR", "total_billed": 1150.50, "total_collected": 750.50,
    "invoice_count": 2, "payment_count": 2}'::jsonb,
  'EUR is a series of its own'
);
select is(
  public.dashboard_revenue_chart(pg_temp.org('owner'), 6, '2025-06-15') - 'series',
  '{"from": "2025-01-01", "to": "2025-06-30", "months": 6, "currency": "USD"}'::jsonb,
  'the chart names its months and the default currency'
);
select is(
  (select count(*)::int from jsonb_array_elements(
     public.dashboard_revenue_chart(pg_temp.org('owner'), 36, '2025-06-01') #> '{series,1,points}')),
  36, 'every series has every month, 36 at most'
);
select throws_ok(
  $$ select public.dashboard_revenue_chart(pg_temp.org('owner'), 0) $$,
  '22023', 'months must be between 1 and 36', 'zero months are refused'
);
select throws_ok(
  $$ select public.dashboard_revenue_chart(pg_temp.org('owner'), 37) $$,
  '22023', 'months must be between 1 and 36', '37 months are refused'
);

-- =============================================================================
-- Reports over 2025-01-01 .. 2025-06-30
-- =============================================================================
select is(
  pg_temp.v1(
  public.reports_overview(pg_temp.org('owner'), '2025-01-01', '2025-06-30') -> 'by_currency'),
  '[{"currency": "USD", "invoice_count": 5, "billed": 1930.00, "paid": 1300.00, "outstanding": 630.00,
     "overdue_amount": 380.00, "overdue_count": 2, "collection_rate": 67.4, "average_invoice": 386.00,
     "collected": 1300.00, "payment_count": 4, "average_days_to_pay": 40.0},
    {"currency": "EUR", "invoice_count": 2, "billed": 1150.50, "paid": 750.50, "outstanding": 400.00,
     "overdue_amount": 400.00, "overdue_count": 1, "collection_rate": 65.2, "average_invoice": 575.25,
     "collected": 750.50, "payment_count": 2, "average_days_to_pay": 26.0}]'::jsonb,
  'overview per currency: billed excludes the draft and the cancelled invoice; overdue as of today'
);
select is(
  pg_temp.v1(
  public.reports_overview(pg_temp.org('owner'), '2025-01-01', '2025-06-30') - 'primary' - 'by_currency'),
  '{"from": "2025-01-01", "to": "2025-06-30", "currency": "USD",
    "invoice_counts": {"draft": 1, "sent": 1, "overdue": 3, "paid": 3, "cancelled": 1, "total": 9},
    "clients": {"new": 0, "billed": 3}, "average_days_to_pay": 35.3}'::jsonb,
  'overview across currencies: counts by status, clients, days to pay'
);
select is(
  pg_temp.v1(
  public.reports_overview(pg_temp.org('owner'), '2024-01-01', '2024-12-31') -> 'primary'),
  '{"currency": "USD", "invoice_count": 0, "billed": 0.00, "paid": 0.00, "outstanding": 0.00,
    "overdue_amount": 0.00, "overdue_count": 0, "collection_rate": null, "average_invoice": null,
    "collected": 0.00, "payment_count": 0, "average_days_to_pay": null}'::jsonb,
  'an empty range: zeros in the default currency, nulls for ratios'
);
select is(
  jsonb_array_length(public.reports_overview(pg_temp.org('owner'), '2024-01-01', '2024-12-31') -> 'by_currency'),
  1, 'an empty range lists only the default currency'
);

select is(
  pg_temp.v1(
  public.reports_revenue(pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'quarter') -> 'series'),
  '[{"currency": "USD", "total_billed": 1930.00, "total_collected": 1300.00, "invoice_count": 5, "payment_count": 4,
     "points": [{"period": "2025-Q1", "start": "2025-01-01", "end": "2025-03-31", "billed": 1080.00,
                 "collected": 0.00, "invoice_count": 2, "payment_count": 0},
                {"period": "2025-Q2", "start": "2025-04-01", "end": "2025-06-30", "billed": 850.00,
                 "collected": 1300.00, "invoice_count": 3, "payment_count": 4}]},
    {"currency": "EUR", "total_billed": 1150.50, "total_collected": 750.50, "invoice_count": 2, "payment_count": 2,
     "points": [{"period": "2025-Q1", "start": "2025-01-01", "end": "2025-03-31", "billed": 0.00,
                 "collected": 0.00, "invoice_count": 0, "payment_count": 0},
                {"period": "2025-Q2", "start": "2025-04-01", "end": "2025-06-30", "billed": 1150.50,
                 "collected": 750.50, "invoice_count": 2, "payment_count": 2}]}]'::jsonb,
  'revenue by quarter, per currency, zero-filled'
);
select is(
  (select jsonb_agg(jsonb_build_array(c ->> 'client_name', c ->> 'currency', c ->> 'billed', c ->> 'collected',
                                      c -> 'invoice_count', c -> 'payment_count'))
   from jsonb_array_elements(
     public.reports_revenue(pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'quarter') -> 'by_client') c),
  '[["Acme", "USD", "1500.00", "1200.00", 2, 3], ["Beta", "USD", "430.00", "100.00", 3, 1],
    ["Euro GmbH", "EUR", "1150.50", "750.50", 2, 2]]'::jsonb,
  'revenue by client, the default currency first, largest billed first'
);
select is(
  (select jsonb_agg(jsonb_build_array(p ->> 'period', p ->> 'start', p ->> 'end', p ->> 'billed', p ->> 'collected'))
   from jsonb_array_elements(
     public.reports_revenue(pg_temp.org('owner'), '2025-03-15', '2025-05-10', 'month') #> '{series,0,points}') p),
  '[["2025-03", "2025-03-15", "2025-03-31", "0.00", "0.00"],
    ["2025-04", "2025-04-01", "2025-04-30", "0.00", "400.00"],
    ["2025-05", "2025-05-01", "2025-05-10", "500.00", "0.00"]]'::jsonb,
  'monthly revenue: the first and last months are clipped to the range'
);
select is(
  (select jsonb_agg(jsonb_build_array(p ->> 'period', p ->> 'start', p ->> 'billed', p ->> 'collected'))
   from jsonb_array_elements(
     public.reports_revenue(pg_temp.org('owner'), '2024-07-01', '2025-06-30', 'year') #> '{series,0,points}') p),
  '[["2024", "2024-07-01", "0.00", "0.00"], ["2025", "2025-01-01", "1930.00", "1300.00"]]'::jsonb,
  'yearly revenue'
);
select is(
  (select jsonb_build_array(r -> 'client_id', r #> '{series,0,total_billed}', r #> '{series,0,total_collected}',
                            jsonb_array_length(r -> 'by_client'))
   from public.reports_revenue(pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'month',
                               pg_temp.client('Beta')) r),
  jsonb_build_array(pg_temp.client('Beta'), 430.00, 100.00, 1),
  'revenue of one client'
);
select throws_ok(
  $$ select public.reports_revenue(pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'week') $$,
  '22023', 'group_by must be month, quarter or year, not week', 'an unknown grouping is refused'
);

select is(
  (select jsonb_agg(jsonb_build_array(s ->> 'status', s -> 'count', s ->> 'percentage',
                                      s #>> '{amounts,0,total}', s #>> '{amounts,0,paid}',
                                      s #>> '{amounts,0,outstanding}', s #>> '{amounts,1,total}',
                                      s #>> '{amounts,1,outstanding}'))
   from jsonb_array_elements(
     public.reports_payment_status(pg_temp.org('owner'), '2025-01-01', '2025-06-30') -> 'statuses') s),
  '[["draft", 1, "11.1", "75.00", "0.00", "0.00", "0.00", "0.00"],
    ["sent", 1, "11.1", "250.00", "0.00", "250.00", "0.00", "0.00"],
    ["overdue", 3, "33.3", "580.00", "200.00", "380.00", "450.50", "400.00"],
    ["paid", 3, "33.3", "1100.00", "1100.00", "0.00", "700.00", "0.00"],
    ["cancelled", 1, "11.1", "300.00", "0.00", "0.00", "0.00", "0.00"]]'::jsonb,
  'payment status: every status, USD then EUR amounts, zero-filled'
);
select is(
  pg_temp.v1(
  (select jsonb_build_array(r -> 'total_count', r #> '{statuses,2,amounts}')
   from public.reports_payment_status(pg_temp.org('owner'), '2025-01-01', '2025-06-30') r)),
  '[9, [{"currency": "USD", "count": 2, "total": 580.00, "paid": 200.00, "outstanding": 380.00},
        {"currency": "EUR", "count": 1, "total": 450.50, "paid": 50.50, "outstanding": 400.00}]]'::jsonb,
  'payment status counts each currency apart'
);
select is(
  (select jsonb_agg(jsonb_build_array(s ->> 'status', s -> 'count', s -> 'percentage'))
   from jsonb_array_elements(
     public.reports_payment_status(pg_temp.org('owner'), '2020-01-01', '2020-12-31') -> 'statuses') s),
  '[["draft", 0, null], ["sent", 0, null], ["overdue", 0, null], ["paid", 0, null], ["cancelled", 0, null]]'::jsonb,
  'payment status of an empty range: zero counts, no percentages'
);

select is(
  public.reports_client_performance(pg_temp.org('owner'), '2025-01-01', '2025-06-30') - 'clients',
  '{"from": "2025-01-01", "to": "2025-06-30", "currency": "USD", "sort": "-billed", "total": 3}'::jsonb,
  'client performance names its range and sort'
);
select is(
  pg_temp.v1(
  (select jsonb_agg(c - 'client_id')
   from jsonb_array_elements(
     public.reports_client_performance(pg_temp.org('owner'), '2025-01-01', '2025-06-30') -> 'clients') c)),
  '[{"client_name": "Acme", "currency": "USD", "invoice_count": 2, "billed": 1500.00, "paid": 1200.00,
     "outstanding": 300.00, "overdue_amount": 300.00, "overdue_count": 1, "average_days_to_pay": 71.0,
     "last_invoice_date": "2025-05-05"},
    {"client_name": "Euro GmbH", "currency": "EUR", "invoice_count": 2, "billed": 1150.50, "paid": 750.50,
     "outstanding": 400.00, "overdue_amount": 400.00, "overdue_count": 1, "average_days_to_pay": 26.0,
     "last_invoice_date": "2025-06-02"},
    {"client_name": "Beta", "currency": "USD", "invoice_count": 3, "billed": 430.00, "paid": 100.00,
     "outstanding": 330.00, "overdue_amount": 80.00, "overdue_count": 1, "average_days_to_pay": 9.0,
     "last_invoice_date": "2025-06-03"}]'::jsonb,
  'client performance: billed, paid, outstanding, days to pay per client, largest billed first'
);
select is(
  (select jsonb_agg(c ->> 'client_name')
   from jsonb_array_elements(public.reports_client_performance(
     pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'name') -> 'clients') c),
  '["Acme", "Beta", "Euro GmbH"]'::jsonb,
  'sorted by name'
);
select is(
  (select jsonb_agg(c ->> 'client_name')
   from jsonb_array_elements(public.reports_client_performance(
     pg_temp.org('owner'), '2025-01-01', '2025-06-30', 'average_days_to_pay') -> 'clients') c),
  '["Beta", "Euro GmbH", "Acme"]'::jsonb,
  'sorted by days to pay, quickest first'
);
select is(
  (select jsonb_build_array(r -> 'total', jsonb_array_length(r -> 'clients'), r #>> '{clients,0,client_name}')
   from public.reports_client_performance(pg_temp.org('owner'), '2025-01-01', '2025-06-30',
                                          '-invoice_count', 1) r),
  '[3, 1, "Beta"]'::jsonb,
  'the limit keeps the first clients and total says how many there are'
);
select is(
  (select jsonb_agg(c ->> 'client_name')
   from jsonb_array_elements(public.reports_client_performance(
     pg_temp.org('owner'), '2025-01-01', '2025-06-30', '-billed', 10, 'EUR') -> 'clients') c),
  '["Euro GmbH"]'::jsonb,
  'one currency only'
);
select throws_ok(
  $$ select public.reports_client_performance(pg_temp.org('owner'), null, null, 'secret') $$,
  '22023', null, 'an unknown sort is refused'
);

-- =============================================================================
-- Date ranges
-- =============================================================================
select throws_ok(
  $$ select public.reports_overview(pg_temp.org('owner'), '2025-06-30', '2025-01-01') $$,
  '22023', 'from (2025-06-30) must be on or before to (2025-01-01)', 'from after to is refused'
);
select throws_ok(
  $$ select public.reports_payment_status(pg_temp.org('owner'), '2020-01-01', '2025-01-02') $$,
  '22023', 'the range from 2020-01-01 to 2025-01-02 is longer than 5 years', 'more than 5 years is refused'
);
select lives_ok(
  $$ select public.reports_revenue(pg_temp.org('owner'), '2020-01-01', '2025-01-01', 'month') $$,
  'exactly 5 years is accepted'
);
select is(
  (select jsonb_build_array(r -> 'from', r -> 'to')
   from public.reports_overview(pg_temp.org('owner')) r),
  jsonb_build_array(
    (date_trunc('month', current_date::timestamp) - interval '11 months')::date, current_date),
  'the default range is the last 12 calendar months, up to today'
);

-- =============================================================================
-- Who may ask
-- =============================================================================
select tests.authenticate_as('viewer');
select is(
  public.reports_overview(pg_temp.org('owner'), '2025-01-01', '2025-06-30') #> '{primary,billed}',
  '1930.00'::jsonb,
  'a viewer of the organization reads its reports'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.dashboard_metrics(pg_temp.org('owner'), '2025-06-15') $$,
  '42501', 'you are not a member of this organization',
  'a stranger cannot ask about the organization'
);
select is(
  (select jsonb_build_array(m #> '{primary,revenue_this_month}', m #> '{primary,outstanding_amount}',
                            jsonb_array_length(m -> 'by_currency'), m #> '{invoice_counts,total}')
   from public.dashboard_metrics(pg_temp.org('stranger'), '2025-06-15') m),
  '[1000.00, 8999.00, 1, 1]'::jsonb,
  'the stranger''s own dashboard counts only the stranger''s invoice'
);
select throws_ok(
  format($$ select public.reports_revenue(%L, '2025-01-01', '2025-06-30', 'month',
                                          'b0000000-0000-4000-8000-0000000000be') $$,
         pg_temp.org('stranger')),
  'P0002', 'client not found', 'a client id that is not the organization''s is not found'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.reports_overview(tests.org('main')) $$,
  '42501', null, 'anon cannot call the report functions'
);

select * from finish();
rollback;
