-- =============================================================================
-- Recurring profiles: RLS on both tables (owner, member, viewer, stranger, anon),
-- the RPCs' rules (viewer refused, stranger's ids not found, what may change),
-- the invoices' link to their period (unique; not the API roles' to write),
-- the job: each period once, run twice; the organization's time zone around
-- midnight (UTC+14 and UTC-12, a fixed clock); what auto_send emails after a
-- catch-up; issue now; delete or cancel.
-- =============================================================================
begin;
select plan(50);

select tests.create_cast();
insert into public.clients (id, organization_id, company_name, currency, email) values
  ('c0000000-0000-4000-8000-7e5705410001', tests.org('main'), 'Main Client', 'USD', 'ap@main.test'),
  ('c0000000-0000-4000-8000-7e5705410002', tests.org('other'), 'Other Client', 'USD', 'ap@other.test'),
  ('c0000000-0000-4000-8000-7e5705410003', tests.org('main'), 'No Mail Client', 'USD', null);

create temporary table made (name text primary key, id uuid) on commit drop;
grant all on made to public;

-- Writes through the RPCs -----------------------------------------------------
select tests.authenticate_as('member');
insert into made
select 'main', (public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705410001", "frequency": "monthly", "start_date": "2024-01-01",
    "auto_send": true, "tax_rate": "10", "discount": "5"}',
  '[{"description": "Hosting", "quantity": 1, "rate": "100"}]') ->> 'id')::uuid;
select isnt((select id from made where name = 'main'), null, 'a member creates a profile');

select tests.authenticate_as('stranger');
insert into made
select 'other', (public.create_recurring_profile(tests.org('other'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705410002", "frequency": "monthly", "start_date": "2024-01-01"}',
  '[{"description": "Other work", "quantity": 1, "rate": "10"}]') ->> 'id')::uuid;

select throws_ok(
  $$ select public.create_recurring_profile(tests.org('main'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705410001", "frequency": "monthly"}',
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '42501', null, 'a stranger cannot create a profile in the organization'
);
select throws_ok(
  $$ select public.create_recurring_profile(tests.org('other'),
       '{"client_id": "c0000000-0000-4000-8000-7e5705410001", "frequency": "monthly"}',
       '[{"description": "x", "quantity": 1, "rate": 1}]') $$,
  '23503', null, 'a profile cannot name another organization''s client'
);
select is(
  public.get_recurring_profile(tests.org('main'), (select id from made where name = 'main')),
  null, 'a stranger reads nothing of the organization''s profile'
);
select is(
  public.get_recurring_profile(tests.org('other'), (select id from made where name = 'main')),
  null, 'another organization''s profile is not found from one''s own'
);
select throws_ok(
  format($$ select public.update_recurring_profile(%L, %L, '{"notes": "x"}') $$,
         tests.org('other'), (select id from made where name = 'main')),
  'P0002', null, 'updating another organization''s profile: not found'
);
select throws_ok(
  format($$ select public.issue_recurring_profile_now(%L, %L) $$,
         tests.org('other'), (select id from made where name = 'main')),
  'P0002', null, 'issuing another organization''s profile: not found'
);

select tests.authenticate_as('viewer');
select is(
  (public.get_recurring_profile(tests.org('main'), (select id from made where name = 'main')) ->> 'status'),
  'active', 'a viewer reads a profile'
);
select is(
  jsonb_array_length(public.preview_recurring_profile(tests.org('main'), (select id from made where name = 'main'), 2)
                     -> 'invoices'),
  2, 'a viewer previews a profile'
);
select throws_ok(
  format($$ select public.update_recurring_profile(%L, %L, '{"notes": "x"}') $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a viewer cannot change a profile'
);
select throws_ok(
  format($$ select public.change_recurring_profile_status(%L, %L, 'pause') $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a viewer cannot pause a profile'
);
select throws_ok(
  format($$ select public.issue_recurring_profile_now(%L, %L) $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a viewer cannot issue'
);
select throws_ok(
  format($$ select public.delete_recurring_profile(%L, %L) $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a viewer cannot delete a profile'
);
select throws_ok(
  format($$ select public.preview_recurring_profile(%L, %L, 1, now()) $$,
         tests.org('main'), (select id from made where name = 'main')),
  '22023', null, 'an API caller cannot pass a fixed clock'
);

-- RLS on the tables -------------------------------------------------------------
select tests.authenticate_as('owner');
select is((select count(*)::int from public.recurring_profiles), 1, 'the owner sees the organization''s profile only');
select is((select count(*)::int from public.recurring_profile_items), 1, 'and its items only');
select tests.authenticate_as('viewer');
select is((select count(*)::int from public.recurring_profile_list), 1, 'a viewer lists the organization''s profiles');
select is(tests.rows_affected($$ update public.recurring_profiles set notes = 'x' $$), 0,
          'a viewer cannot update a profile directly');
select is(tests.rows_affected($$ delete from public.recurring_profile_items $$), 0,
          'a viewer cannot delete items directly');
select tests.authenticate_as('stranger');
select is(tests.rows_affected(format($$ update public.recurring_profiles set notes = 'x' where id = %L $$,
                                     (select id from made where name = 'main'))), 0,
          'a stranger cannot update the organization''s profile');
select is((select count(*)::int from public.recurring_profiles where organization_id = tests.org('main')), 0,
          'a stranger sees none of the organization''s profiles');
select throws_ok(
  format($$ insert into public.recurring_profiles (organization_id, client_id, currency, interval_unit,
              interval_count, billing_day, start_date, first_billing_date, next_billing_date)
            values (%L, 'c0000000-0000-4000-8000-7e5705410001', 'USD', 'month', 1, 1, '2030-01-01',
                    '2030-01-01', '2030-01-01') $$, tests.org('main')),
  '42501', null, 'a stranger cannot insert a profile into the organization'
);
select tests.authenticate_as('viewer');
select throws_ok(
  format($$ insert into public.recurring_profile_items (organization_id, profile_id, currency, description,
              quantity, rate) values (%L, %L, 'USD', 'x', 1, 1) $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a viewer cannot add an item'
);
select tests.authenticate_as('member');
select lives_ok(
  format($$ insert into public.recurring_profile_items (organization_id, profile_id, currency, description,
              quantity, rate) values (%L, %L, 'USD', 'Extra (free)', 1, 0) $$,
         tests.org('main'), (select id from made where name = 'main')),
  'a member adds an item directly (RLS and the column grants allow it)'
);
select throws_ok(
  $$ update public.recurring_profiles set cycles_issued = 0 $$,
  '42501', null, 'the schedule''s bookkeeping is not the API roles'' to write'
);
select tests.clear_authentication();
select throws_ok($$ select 1 from public.recurring_profiles $$, '42501', null, 'anon cannot read profiles');
select throws_ok($$ select 1 from public.recurring_profile_items $$, '42501', null, 'anon cannot read items');
select throws_ok(
  $$ select public.job_issue_recurring() $$, '42501', null, 'anon cannot run the job'
);
select tests.authenticate_as('owner');
select throws_ok(
  $$ select public.job_issue_recurring() $$, '42501', null, 'a user cannot run the job'
);

-- The job: each period once; what auto_send emails ------------------------------
select tests.authenticate_as_service_role();
select is(
  public.job_issue_recurring('2024-04-15T12:00:00Z', 500, array[tests.org('main')]) - 'now' - 'bulk_jobs',
  '{"done": true, "ended": 0, "drafts": 3, "issued": 4, "emailing": 1, "profiles": 1}'::jsonb,
  'after missed months, Jan-Apr are issued once each; only April (the current period) is emailed'
);
select is(
  (public.job_issue_recurring('2024-04-15T12:00:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  0, 'run again: nothing more'
);
select is(
  (select array_agg(row(i.issue_date, i.due_date, i.status, i.total_amount)::text order by i.issue_date)
   from public.invoices i where i.recurring_profile_id = (select id from made where name = 'main')),
  array['(2024-01-01,2024-01-31,draft,104.50)', '(2024-02-01,2024-03-02,draft,104.50)',
        '(2024-03-01,2024-03-31,draft,104.50)', '(2024-04-01,2024-05-01,draft,104.50)'],
  'dated for their periods, due by the terms, with the template''s discount and tax'
);
select is(
  (select array_agg(it.status) from public.bulk_job_items it
   join public.invoices i on i.id = it.invoice_id
   where i.recurring_profile_id = (select id from made where name = 'main')),
  array['pending'], 'one email queued through a bulk send: the April invoice''s'
);
select throws_ok(
  format($$ insert into public.invoices (organization_id, client_id, issue_date, due_date,
              recurring_profile_id, recurring_period_start)
            values (%L, 'c0000000-0000-4000-8000-7e5705410001', '2024-04-01', '2024-04-01', %L, '2024-04-01') $$,
         tests.org('main'), (select id from made where name = 'main')),
  '23505', null, 'a period has at most one invoice (unique profile and period)'
);
select tests.authenticate_as('member');
select throws_ok(
  format($$ insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date,
              recurring_profile_id, recurring_period_start)
            values (%L, 'c0000000-0000-4000-8000-7e5705410001', 'X-1', '2024-06-01', '2024-06-01', %L, '2024-06-01') $$,
         tests.org('main'), (select id from made where name = 'main')),
  '42501', null, 'a member cannot link an invoice to a period by hand'
);

-- Issue now: the next period, once ------------------------------------------------
select is(
  (public.issue_recurring_profile_now(tests.org('main'), (select id from made where name = 'main'))
     -> 'invoice' ->> 'status'),
  'draft', 'issue now makes a draft of the next period'
);
select is(
  (select array_agg(i.recurring_period_start order by i.recurring_period_start desc)
   from public.invoices i where i.recurring_profile_id = (select id from made where name = 'main'))[1],
  '2024-05-01'::date, 'issue now took May, the next period'
);
select tests.authenticate_as_service_role();
select is(
  (public.job_issue_recurring('2024-05-02T12:00:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  0, 'the job finds May issued already'
);

-- Time zones around midnight ------------------------------------------------------
select tests.as_superuser();
update public.organization_settings set time_zone = 'Pacific/Kiritimati' where organization_id = tests.org('main');
update public.organization_settings set time_zone = 'Etc/GMT+12' where organization_id = tests.org('other');
insert into made
select 'east', (public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705410003", "frequency": "monthly", "start_date": "2024-03-01",
    "auto_send": true}',
  '[{"description": "Support", "quantity": 1, "rate": "10"}]') ->> 'id')::uuid;
update public.recurring_profiles set status = 'paused', paused_at = now()
where id = (select id from made where name = 'main');
update public.recurring_profiles
set start_date = '2024-03-01', first_billing_date = '2024-03-01', next_billing_date = '2024-03-01',
    next_period_index = 0, billing_day = 1
where id = (select id from made where name = 'other');
select is(
  (public.job_issue_recurring('2024-02-29T09:30:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  0, 'UTC+14 at 23:30 on 29 February: the 1 March period is not due yet'
);
select is(
  (public.job_issue_recurring('2024-02-29T10:30:00Z', 500, array[tests.org('main')]) ->> 'issued')::int,
  1, 'UTC+14 at 00:30 on 1 March (10:30 UTC on the 29th): issued'
);
select is(
  (select array_agg(it.reason) from public.bulk_job_items it
   join public.invoices i on i.id = it.invoice_id
   where i.recurring_profile_id = (select id from made where name = 'east')),
  array['no_email'], 'auto_send to a client without an address: the item says no_email, the invoice stays a draft'
);
select is(
  (public.job_issue_recurring('2024-03-01T11:30:00Z', 500, array[tests.org('other')]) ->> 'issued')::int,
  0, 'UTC-12 at 23:30 on 29 February (11:30 UTC on 1 March): not due yet'
);
select is(
  (public.job_issue_recurring('2024-03-01T12:30:00Z', 500, array[tests.org('other')]) ->> 'issued')::int,
  1, 'UTC-12 at 00:30 on 1 March: issued'
);
select is(
  (select issue_date from public.invoices where recurring_profile_id = (select id from made where name = 'other')),
  '2024-03-01'::date, 'dated the 1st where the business is'
);

-- Delete: cancelled when it issued invoices, deleted when not ------------------------
select tests.authenticate_as('member');
select is(
  public.delete_recurring_profile(tests.org('main'), (select id from made where name = 'main')) ->> 'action',
  'cancelled', 'a profile with invoices is cancelled, not deleted'
);
select is(
  (select row(status, ended_reason)::text from public.recurring_profiles where id = (select id from made where name = 'main')),
  '(ended,cancelled)', 'it stays on record as cancelled'
);
select throws_ok(
  format($$ select public.change_recurring_profile_status(%L, %L, 'resume') $$,
         tests.org('main'), (select id from made where name = 'main')),
  '23514', null, 'an ended profile cannot be resumed'
);
insert into made
select 'fresh', (public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5705410001", "frequency": "annually", "start_date": "2099-01-01"}',
  '[{"description": "Licence", "quantity": 1, "rate": "1"}]') ->> 'id')::uuid;
select is(
  public.delete_recurring_profile(tests.org('main'), (select id from made where name = 'fresh')) ->> 'action',
  'deleted', 'a profile that never issued is deleted'
);

-- A bulk send holds at most 500 invoices: more in one organization and call make two.
select tests.as_superuser();
insert into public.recurring_profiles (organization_id, client_id, currency, interval_unit, interval_count,
  billing_day, start_date, first_billing_date, next_billing_date, auto_send)
select tests.org('other'), 'c0000000-0000-4000-8000-7e5705410002', 'USD', 'month', 1, 1,
       '2024-06-01', '2024-06-01', '2024-06-01', true
from generate_series(1, 501);
insert into public.recurring_profile_items (organization_id, profile_id, currency, description, quantity, rate)
select p.organization_id, p.id, p.currency, 'Seat', 1, 3
from public.recurring_profiles p
where p.organization_id = tests.org('other') and p.start_date = '2024-06-01';
select is(
  (public.job_issue_recurring('2024-06-02T00:00:00Z', 2000, array[tests.org('other')]) ->> 'emailing')::int,
  501, '501 invoices to email in one organization and call'
);
select is(
  (select array_agg(j.total order by j.total desc) from public.bulk_jobs j
   where j.organization_id = tests.org('other') and j.options ->> 'origin' = 'recurring'),
  array[500, 1], 'in two bulk sends of at most 500'
);

select * from finish();
rollback;
