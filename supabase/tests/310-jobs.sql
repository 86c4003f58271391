-- =============================================================================
-- The scheduled jobs' SQL (20261206101000_delivery_and_jobs.sql): who may call them, mark
-- overdue (transition, activities, notices; a second run counts nothing; the
-- payment rules agree), reminder slots (the old settings mapped onto levels by
-- 20261206110500_reminder_levels.sql: before due, daily and weekly overdue,
-- catch-up to one slot, never claimed twice, superseded when stale, retried
-- after a failure), summaries (one per member and period, opt-outs) and the
-- record of a send.
--
-- Organization J (jowner owner, jadmin admin, jquiet admin who turned
-- invoiceOverdue off, jmember member): reminders 7 days before due, daily.
-- Organization W (wowner): weekly overdue reminders. Organization N (nowner):
-- reminders disabled. T = today (UTC).
--   J-1  due T-5,  sent    -> overdue; reminder repeat:T (level 2 on day +1, then daily)
--   J-2  due T+3,  sent 10 days ago -> level1:T+3 (window opened T-4)
--   J-3  due T+30, sent    -> nothing yet
--   J-4  due T-2,  paid    -> nothing
--   J-5  due T-5,  draft   -> stays a draft
--   J-6  due T-3,  sent, client without email -> overdue, no reminder
--   W-1  due T-10, sent    -> overdue; weekly slots T-9, T-2: repeat:T-2
--   N-1  due T-5,  sent    -> overdue; no reminder (disabled)
-- =============================================================================
begin;
select plan(42);

create function pg_temp.today() returns date
language sql stable as $$ select (now() at time zone 'UTC')::date $$;
create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.who(uid uuid) returns text
language sql stable as $$
  select n from unnest(array['jowner', 'jadmin', 'jquiet', 'jmember', 'wowner', 'nowner']) n
  where tests.get_supabase_uid(n) = uid
$$;
create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.invoice(who text, num text, client_id uuid, due date, final_status text)
returns uuid
language plpgsql as $$
declare
  new_id uuid;
begin
  insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date)
  values (pg_temp.org(who), client_id, num, least(due, pg_temp.today()) - 30, due)
  returning id into new_id;
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (new_id, 'services', 1, 100);
  if final_status in ('sent', 'paid') then
    update public.invoices set status = 'sent' where id = new_id;
  end if;
  if final_status = 'paid' then
    insert into public.payments (invoice_id, amount, payment_date) values (new_id, 100, pg_temp.today());
  end if;
  return new_id;
end;
$$;
create function pg_temp.client(who text, name text, mail text) returns uuid
language sql as $$
  insert into public.clients (organization_id, company_name, email, currency)
  values (pg_temp.org(who), name, mail, 'USD') returning id
$$;

select tests.create_supabase_user('jowner');
select tests.create_supabase_user('jadmin');
select tests.create_supabase_user('jquiet');
select tests.create_supabase_user('jmember');
select tests.create_supabase_user('wowner');
select tests.create_supabase_user('nowner');
select tests.add_member(pg_temp.org('jowner'), 'jadmin', 'admin');
select tests.add_member(pg_temp.org('jowner'), 'jquiet', 'admin');
select tests.add_member(pg_temp.org('jowner'), 'jmember', 'member');
update public.user_settings set email_notifications = email_notifications || '{"invoiceOverdue": false}'
where user_id = tests.get_supabase_uid('jquiet');
update public.organization_settings set reminder_settings = private.reminder_settings_from_legacy('{"enabled": true, "daysBeforeDue": 7, "overdueFrequency": "daily"}')
where organization_id = pg_temp.org('jowner');
update public.organization_settings set reminder_settings = private.reminder_settings_from_legacy('{"overdueFrequency": "weekly"}')
where organization_id = pg_temp.org('wowner');
update public.organization_settings set reminder_settings = private.reminder_settings_from_legacy('{"enabled": false}')
where organization_id = pg_temp.org('nowner');

-- Whatever else the database holds is settled first, so the counts below are ours.
select tests.authenticate_as_service_role();
select public.job_mark_overdue();
select tests.as_superuser();

create temporary table ids as
select pg_temp.client('jowner', 'Jay Client', 'pay@jay.example') as jay,
       pg_temp.client('jowner', 'Mailless', null) as mailless,
       pg_temp.client('wowner', 'Weekly Client', 'ap@weekly.example') as weekly,
       pg_temp.client('nowner', 'Never Client', 'ap@never.example') as never;
grant select on ids to service_role, authenticated;

select pg_temp.invoice('jowner', 'J-1', (select jay from ids), pg_temp.today() - 5, 'sent');
select pg_temp.invoice('jowner', 'J-2', (select jay from ids), pg_temp.today() + 3, 'sent');
update public.invoices set sent_at = now() - interval '10 days' where id = pg_temp.inv('J-2');
select pg_temp.invoice('jowner', 'J-3', (select jay from ids), pg_temp.today() + 30, 'sent');
select pg_temp.invoice('jowner', 'J-4', (select jay from ids), pg_temp.today() - 2, 'paid');
select pg_temp.invoice('jowner', 'J-5', (select jay from ids), pg_temp.today() - 5, 'draft');
select pg_temp.invoice('jowner', 'J-6', (select mailless from ids), pg_temp.today() - 3, 'sent');
select pg_temp.invoice('wowner', 'W-1', (select weekly from ids), pg_temp.today() - 10, 'sent');
select pg_temp.invoice('nowner', 'N-1', (select never from ids), pg_temp.today() - 5, 'sent');

-- -----------------------------------------------------------------------------
-- Who may call
-- -----------------------------------------------------------------------------
select tests.authenticate_as('jowner');
select throws_ok($$ select public.job_mark_overdue() $$, '42501', null,
  'a signed-in user cannot run mark overdue');
select throws_ok($$ select public.job_claim_reminders() $$, '42501', null,
  'a signed-in user cannot claim reminders');
select throws_ok($$ select public.job_record_delivery(gen_random_uuid(), 'x') $$, '42501', null,
  'a signed-in user cannot record a delivery');
select is_empty($$ select 1 from public.email_deliveries where organization_id <> pg_temp.org('jowner') $$,
  'an admin reads only their organization''s deliveries');
select tests.clear_authentication();
select throws_ok($$ select public.job_claim_summaries('week') $$, '42501', null,
  'anon cannot claim summaries');
select tests.authenticate_as_service_role();
select throws_ok($$ select public.job_mark_overdue(pg_temp.today() + 2) $$, '22023', null,
  'a job does not run for a day after tomorrow');
select throws_ok($$ select public.job_claim_reminders(batch_limit => 0) $$, '22023', null,
  'the batch size is checked');
select throws_ok($$ select public.job_claim_summaries('year') $$, '22023', null,
  'the period is week or month');

-- -----------------------------------------------------------------------------
-- Mark overdue
-- -----------------------------------------------------------------------------
select is(public.job_mark_overdue(),
  jsonb_build_object('as_of', pg_temp.today(), 'marked', 3 + 1, 'activities', 4,
                     'organizations', 3, 'notifications_queued', 1 + 1 + 1 + 1),
  'mark overdue turns the four sent invoices past due into overdue, with activities and notices');
select results_eq(
  $$ select invoice_number, status from public.invoices
     where invoice_number in ('J-1', 'J-2', 'J-3', 'J-4', 'J-5', 'J-6', 'W-1', 'N-1')
     order by invoice_number $$,
  $$ values ('J-1', 'overdue'), ('J-2', 'sent'), ('J-3', 'sent'), ('J-4', 'paid'),
            ('J-5', 'draft'), ('J-6', 'overdue'), ('N-1', 'overdue'), ('W-1', 'overdue') $$,
  'only sent invoices past due change; drafts, paid and not yet due ones stay');
select is(
  (select count(*)::integer from public.client_activities
   where type = 'invoice_overdue' and metadata ->> 'invoice_id' = pg_temp.inv('J-1')::text
     and activity like 'Invoice J-1 is overdue%'),
  1, 'the overdue invoice has its invoice_overdue activity');
select results_eq(
  $$ select pg_temp.who(d.user_id), cardinality(d.invoice_ids)
     from public.email_deliveries d
     where d.kind = 'invoice_overdue' and d.organization_id = pg_temp.org('jowner')
     order by 1 $$,
  $$ values ('jadmin', 2), ('jowner', 2) $$,
  'owners and admins who want it get one notice listing the organization''s invoices; members and opted-out admins none');
select is(public.job_mark_overdue(),
  jsonb_build_object('as_of', pg_temp.today(), 'marked', 0, 'activities', 0,
                     'organizations', 0, 'notifications_queued', 0),
  'a second run counts and queues nothing');
select is((select count(*)::integer from public.client_activities
           where type = 'invoice_overdue' and metadata ->> 'invoice_id' = pg_temp.inv('J-1')::text),
  1, 'and writes no second activity');

-- The payment rules agree: a payment removed from an invoice past due reopens it as overdue.
select tests.as_superuser();
insert into public.payments (invoice_id, amount, payment_date) values (pg_temp.inv('J-1'), 100, pg_temp.today());
select is((select status from public.invoices where id = pg_temp.inv('J-1')), 'paid', 'paid in full');
delete from public.payments where invoice_id = pg_temp.inv('J-1');
select is((select status from public.invoices where id = pg_temp.inv('J-1')), 'overdue',
  'a removed payment returns the invoice past due to overdue, as the job would');
select tests.authenticate_as_service_role();

-- -----------------------------------------------------------------------------
-- Overdue notices
-- -----------------------------------------------------------------------------
create temporary table claim as
select public.job_claim_notifications(organization_ids => array[pg_temp.org('jowner')]) as body;
select is(jsonb_array_length((select body -> 'claimed' from claim)), 2, 'both notices are claimed');
select is(
  (select jsonb_agg(n ->> 'invoice_number' order by n ->> 'invoice_number')
   from claim, jsonb_array_elements(body -> 'claimed' -> 0 -> 'invoices') n),
  '["J-1", "J-6"]'::jsonb, 'a notice lists its invoices');
select is(
  (select body -> 'claimed' -> 0 ->> 'recipient' from claim)
    in (tests.get_supabase_email('jowner'), tests.get_supabase_email('jadmin')),
  true, 'addressed to the member''s account email');
select is(jsonb_array_length(public.job_claim_notifications(organization_ids => array[pg_temp.org('jowner')]) -> 'claimed'),
  0, 'claimed notices are leased: a concurrent run gets none');
select is(public.job_record_delivery(((select body -> 'claimed' -> 0 ->> 'id' from claim))::uuid, 'ses-1'),
  'sent', 'a send is recorded');
select is(public.job_record_delivery(((select body -> 'claimed' -> 0 ->> 'id' from claim))::uuid, 'ses-2'),
  null, 'recording again changes nothing');
select is(public.job_record_delivery(((select body -> 'claimed' -> 1 ->> 'id' from claim))::uuid,
                                     error => 'throttled', retryable => true),
  'pending', 'a retryable failure stays pending');
select is(jsonb_array_length(public.job_claim_notifications(organization_ids => array[pg_temp.org('jowner')]) -> 'claimed'),
  1, 'and is claimed again by the next run');
select is(
  (select status || ' ' || attempts || ' ' || message_id from public.email_deliveries
   where id = ((select body -> 'claimed' -> 0 ->> 'id' from claim))::uuid),
  'sent 1 ses-1', 'the sent notice keeps its SES message id');

-- -----------------------------------------------------------------------------
-- Reminders
-- -----------------------------------------------------------------------------
delete from claim;
insert into claim select public.job_claim_reminders(
  organization_ids => array[pg_temp.org('jowner'), pg_temp.org('wowner'), pg_temp.org('nowner')]);
select results_eq(
  $$ select i.invoice_number, c ->> 'slot', c ->> 'recipient'
     from claim, jsonb_array_elements(body -> 'claimed') c
     join public.invoices i on i.id = (c ->> 'invoice_id')::uuid
     order by 1 $$,
  $$ values ('J-1', 'repeat:' || pg_temp.today(), 'pay@jay.example'),
            ('J-2', 'level1:' || (pg_temp.today() + 3), 'pay@jay.example'),
            ('W-1', 'repeat:' || (pg_temp.today() - 2), 'ap@weekly.example') $$,
  'one reminder per invoice due one: before due, daily overdue, the latest weekly slot; none when disabled, paid, not yet due or without email');
select is((select (body ->> 'opened')::integer from claim), 3, 'three slots opened');
select is(jsonb_array_length(public.job_claim_reminders(
    organization_ids => array[pg_temp.org('jowner'), pg_temp.org('wowner')]) -> 'claimed'),
  0, 'a second run claims none (the slots exist, the claims are leased)');
select is(
  (public.job_claim_reminders(organization_ids => array[pg_temp.org('jowner'), pg_temp.org('wowner')]) ->> 'opened')::integer,
  0, 'and opens none');

select lives_ok($$
  select public.job_record_delivery((c ->> 'id')::uuid, 'ses-' || (c ->> 'slot'), recipient => c ->> 'recipient')
  from claim, jsonb_array_elements(body -> 'claimed') c
  join public.invoices i on i.id = (c ->> 'invoice_id')::uuid
  where i.invoice_number <> 'J-1' $$, 'sends recorded');
select public.job_record_delivery((c ->> 'id')::uuid, error => 'throttled')
from claim, jsonb_array_elements(body -> 'claimed') c
where (c ->> 'invoice_id')::uuid = pg_temp.inv('J-1');
select is(
  (select count(*)::integer from public.client_activities
   where type = 'communication' and metadata ->> 'invoice_id' = pg_temp.inv('J-2')::text),
  1, 'a sent reminder is on the client''s timeline');

-- The failed J-1 reminder of today is tried again by the next run; nothing else is.
select results_eq(
  $$ select c ->> 'slot' from jsonb_array_elements(public.job_claim_reminders(
       organization_ids => array[pg_temp.org('jowner'), pg_temp.org('wowner')]) -> 'claimed') c $$,
  $$ values ('repeat:' || pg_temp.today()) $$,
  'a failed reminder is retried; sent ones are not sent again');
select public.job_record_delivery(d.id, error => 'throttled')
from public.email_deliveries d where d.invoice_id = pg_temp.inv('J-1') and d.status = 'pending';

-- Tomorrow: J-1's failed slot of today is superseded by tomorrow's, one reminder.
select is(
  (select jsonb_agg(c ->> 'slot') from jsonb_array_elements(public.job_claim_reminders(
     pg_temp.today() + 1, organization_ids => array[pg_temp.org('jowner')]) -> 'claimed') c),
  jsonb_build_array('repeat:' || (pg_temp.today() + 1)),
  'the next day brings one new reminder for J-1 (J-2''s before-due slot is already sent)');
select is(
  (select status from public.email_deliveries
   where invoice_id = pg_temp.inv('J-1') and slot = 'repeat:' || pg_temp.today()),
  'superseded', 'the unsent reminder of an older slot is superseded, not sent late');

-- Catch-up: an invoice overdue for 20 days that never had a reminder gets one.
select tests.as_superuser();
select pg_temp.invoice('jowner', 'J-7', (select jay from ids), pg_temp.today() - 20, 'sent');
select tests.authenticate_as_service_role();
select results_eq(
  $$ select c ->> 'slot' from jsonb_array_elements(public.job_claim_reminders(
       pg_temp.today() + 1, organization_ids => array[pg_temp.org('jowner')]) -> 'claimed') c $$,
  $$ values ('repeat:' || (pg_temp.today() + 1)) $$,
  'missed days bring one reminder, for the latest slot');
select is(
  (select count(*)::integer from public.email_deliveries where invoice_id = pg_temp.inv('J-7')),
  1, 'and no row for the days missed');

-- The unique constraint itself: a slot cannot be opened twice.
select tests.as_superuser();
select throws_ok($$
  insert into public.email_deliveries (kind, organization_id, invoice_id, slot, slot_date)
  values ('payment_reminder', pg_temp.org('jowner'), pg_temp.inv('J-7'),
          'repeat:' || (pg_temp.today() + 1), pg_temp.today() + 1) $$,
  '23505', null, 'one row per invoice and slot, whoever writes');

-- -----------------------------------------------------------------------------
-- Summaries
-- -----------------------------------------------------------------------------
select is(
  (select jsonb_build_array(p.period_start, p.period_end)
   from private.summary_period('week', date '2026-12-02') p),
  '["2026-11-23", "2026-11-29"]'::jsonb, 'a weekly summary covers the last full ISO week');
select is(
  (select jsonb_build_array(p.period_start, p.period_end)
   from private.summary_period('month', date '2026-03-01') p),
  '["2026-02-01", "2026-02-28"]'::jsonb, 'a monthly summary covers the last calendar month');
update public.user_settings set email_notifications = email_notifications || '{"weeklyReport": false}'
where user_id = tests.get_supabase_uid('jmember');
select tests.authenticate_as_service_role();
delete from claim;
insert into claim select public.job_claim_summaries('week', organization_ids => array[pg_temp.org('jowner')]);
select results_eq(
  $$ select pg_temp.who((c ->> 'user_id')::uuid)
     from claim, jsonb_array_elements(body -> 'claimed') c order by 1 $$,
  $$ values ('jadmin'), ('jowner'), ('jquiet') $$,
  'one weekly summary per member who wants one (any role)');
select is(
  (select (body -> 'claimed' -> 0 -> 'now' -> 'primary' ->> 'overdue_count')::integer from claim),
  3, 'a summary carries the report figures (J-1, J-6, J-7 overdue now)');
select is(
  (public.job_claim_summaries('week', organization_ids => array[pg_temp.org('jowner')]) ->> 'opened')::integer,
  0, 'a second run opens no second summary for the same period');

select * from finish();
rollback;
