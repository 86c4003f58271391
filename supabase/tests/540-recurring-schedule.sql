-- =============================================================================
-- Recurring profiles: the schedule's arithmetic, with fixed dates (never today):
-- month ends (31 -> 30 April, 28/29 February, 29 and 30 in February), leap years,
-- every N days and weeks, quarterly and annually, the first billing date, the
-- end (end_date, max_cycles), resuming after a pause (no backfill).
-- =============================================================================
begin;
select plan(36);

-- Month ends ------------------------------------------------------------------
select is(
  array(select private.recurring_billing_date('2024-01-31', 'month', 1, 31, g) from generate_series(0, 4) g),
  array['2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31']::date[],
  'monthly on the 31st: the month''s last day when shorter (leap February: 29th)'
);
select is(
  array(select private.recurring_billing_date('2025-01-31', 'month', 1, 31, g) from generate_series(0, 2) g),
  array['2025-01-31', '2025-02-28', '2025-03-31']::date[],
  'monthly on the 31st in a common year: 28 February, then back to the 31st'
);
select is(
  private.recurring_billing_date('2025-01-30', 'month', 1, 30, 1), '2025-02-28'::date,
  'the 30th in February is its last day'
);
select is(
  private.recurring_billing_date('2024-01-29', 'month', 1, 29, 1), '2024-02-29'::date,
  'the 29th exists in a leap February'
);
select is(
  private.recurring_billing_date('2023-01-29', 'month', 1, 29, 1), '2023-02-28'::date,
  'the 29th in a common February is the 28th'
);
select is(
  private.recurring_billing_date('2024-01-30', 'month', 1, 30, 2), '2024-03-30'::date,
  'after a short February the billing day comes back (not drifting to the 29th)'
);

-- Quarterly and annually -----------------------------------------------------
select is(
  array(select private.recurring_billing_date('2024-11-30', 'month', 3, 30, g) from generate_series(0, 4) g),
  array['2024-11-30', '2025-02-28', '2025-05-30', '2025-08-30', '2025-11-30']::date[],
  'quarterly on the 30th, across a year end and a February'
);
select is(
  array(select private.recurring_billing_date('2024-02-29', 'month', 12, 29, g) from generate_series(0, 4) g),
  array['2024-02-29', '2025-02-28', '2026-02-28', '2027-02-28', '2028-02-29']::date[],
  'annually from a leap day: 28 February in common years, 29 in leap years'
);
select is(
  private.recurring_billing_date('2024-01-15', 'month', 2, 15, 6), '2025-01-15'::date,
  'every 2 months: the 6th period is a year later'
);

-- Every N days and weeks -----------------------------------------------------
select is(
  array(select private.recurring_billing_date('2024-02-26', 'week', 2, null, g) from generate_series(0, 3) g),
  array['2024-02-26', '2024-03-11', '2024-03-25', '2024-04-08']::date[],
  'every 2 weeks: 14 days apart, through a leap day'
);
select is(
  private.recurring_billing_date('2023-12-25', 'week', 1, null, 1), '2024-01-01'::date,
  'weekly across a year end'
);
select is(
  array(select private.recurring_billing_date('2024-02-20', 'day', 10, null, g) from generate_series(0, 2) g),
  array['2024-02-20', '2024-03-01', '2024-03-11']::date[],
  'every 10 days counts the 29th of February'
);
select is(
  private.recurring_billing_date('2023-02-20', 'day', 10, null, 1), '2023-03-02'::date,
  'every 10 days in a common year'
);

-- The first billing date -----------------------------------------------------
select is(private.recurring_first_billing_date('2024-01-05', 'month', 10), '2024-01-10'::date,
          'billing day after the start date: that month');
select is(private.recurring_first_billing_date('2024-01-15', 'month', 10), '2024-02-10'::date,
          'billing day before the start date: the next month');
select is(private.recurring_first_billing_date('2024-01-10', 'month', 10), '2024-01-10'::date,
          'billing day on the start date: the start date');
select is(private.recurring_first_billing_date('2024-02-15', 'month', 31), '2024-02-29'::date,
          'billing day 31 from mid-February: the end of February');
select is(private.recurring_first_billing_date('2024-02-15', 'week', null), '2024-02-15'::date,
          'weeks and days start on the start date');

-- Profiles: the end, cycles, resuming ------------------------------------------
select tests.create_cast();
insert into public.clients (id, organization_id, company_name, currency, email, billing_frequency) values
  ('c0000000-0000-4000-8000-7e5705400001', tests.org('main'), 'Monthly Client', 'USD', 'm@client.test', 'monthly'),
  ('c0000000-0000-4000-8000-7e5705400002', tests.org('main'), 'Quarterly Client', 'USD', null, 'quarterly'),
  ('c0000000-0000-4000-8000-7e5705400003', tests.org('main'), 'One-off Client', 'EUR', null, 'one-time');

select tests.authenticate_as('member');

create temporary table made (name text primary key, doc jsonb) on commit drop;
grant all on made to public;

insert into made values ('cycles', public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705400001", "start_date": "2024-01-31", "max_cycles": 3}',
  '[{"description": "Retainer", "quantity": 1, "rate": "100"}]'));
select is((select doc ->> 'frequency' from made where name = 'cycles'), 'monthly',
          'the client''s billing_frequency is the default interval (monthly)');
select is((select (doc ->> 'billing_day')::int from made where name = 'cycles'), 31,
          'the billing day defaults to the start date''s day');

insert into made values ('quarterly', public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705400002", "start_date": "2024-03-15"}',
  '[{"description": "Audit", "quantity": 1, "rate": "900"}]'));
select is((select doc ->> 'frequency' from made where name = 'quarterly'), 'quarterly',
          'a quarterly client''s profile is quarterly by default');

select throws_ok(
  $$ select public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705400003"}',
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '22023', null, 'a one-time client''s profile must say its interval'
);
select lives_ok(
  $$ insert into made values ('weekly', public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705400003", "interval_unit": "week", "interval_count": 2,
         "start_date": "2024-02-26", "end_date": "2024-03-25", "payment_terms": "custom", "due_days": 5}',
       '[{"description": "Sprint", "quantity": 1, "rate": "50"}]')) $$,
  'given an interval, a one-time client may have a profile'
);
select throws_ok(
  $$ select public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705400001", "start_date": "2024-01-31", "end_date": "2024-02-10",
         "billing_day": 20}',
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23514', null, 'an end date before the first billing date is refused: it would never bill'
);
select throws_ok(
  $$ select public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705400001", "end_date": "2030-01-01", "max_cycles": 2}',
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '22023', null, 'end_date and max_cycles together are refused'
);
select throws_ok(
  $$ select public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705400001", "discount": "20"}',
       '[{"description": "x", "quantity": 1, "rate": 10}]') $$,
  '23514', null, 'a discount above the items'' subtotal is refused'
);

-- Issue as the job would, with a fixed clock (as the service role).
select tests.authenticate_as_service_role();
select is(
  (public.job_issue_recurring('2024-12-31T12:00:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  3 + 4 + 3,
  'catching up: 3 monthly cycles, 4 quarters (Mar, Jun, Sep, Dec), 3 fortnights up to the end date'
);
select is(
  array(select i.issue_date from public.invoices i
        where i.recurring_profile_id = (select (doc ->> 'id')::uuid from made where name = 'cycles')
        order by i.issue_date),
  array['2024-01-31', '2024-02-29', '2024-03-31']::date[],
  'each missed period is dated for its period (month ends, leap February)'
);
select is(
  (select row(status, ended_reason, cycles_issued)::text from public.recurring_profiles
   where id = (select (doc ->> 'id')::uuid from made where name = 'cycles')),
  '(ended,completed,3)', 'max_cycles reached: the profile ended'
);
select is(
  array(select i.due_date - i.issue_date from public.invoices i
        where i.recurring_profile_id = (select (doc ->> 'id')::uuid from made where name = 'weekly')
        order by i.issue_date),
  array[5, 5, 5], 'custom terms: due_days after each issue date'
);
select is(
  (select row(status, next_billing_date)::text from public.recurring_profiles
   where id = (select (doc ->> 'id')::uuid from made where name = 'weekly')),
  '(ended,)', 'the end date passed: ended (2024-04-08 is after 2024-03-25)'
);
select is(
  (select next_billing_date from public.recurring_profiles
   where id = (select (doc ->> 'id')::uuid from made where name = 'quarterly')),
  '2025-03-15'::date, 'the quarterly profile waits for its next quarter'
);

-- Pause and resume: no backfill (the owner's session passes a fixed clock).
select tests.as_superuser();
select is(
  (public.change_recurring_profile_status(tests.org('main'),
     (select (doc ->> 'id')::uuid from made where name = 'quarterly'), 'pause') ->> 'status'),
  'paused', 'pause'
);
select is(
  (public.change_recurring_profile_status(tests.org('main'),
     (select (doc ->> 'id')::uuid from made where name = 'quarterly'), 'resume',
     '2025-07-01T08:00:00Z') ->> 'next_billing_date'),
  '2025-09-15', 'resumed on 1 July 2025: March and June are skipped, September is next'
);
select is(
  (public.job_issue_recurring('2025-07-02T00:00:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  0, 'after resuming, the paused quarters are never issued'
);
select is(
  (select cycles_issued from public.recurring_profiles
   where id = (select (doc ->> 'id')::uuid from made where name = 'quarterly')),
  4, 'skipped periods are not cycles'
);

select * from finish();
rollback;
