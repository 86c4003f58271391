-- =============================================================================
-- Reminder levels and late fees (20261206110500_reminder_levels.sql): the
-- settings' shape and the mapping of the old settings, the slot of each level
-- and of the repeat with their boundaries, nothing for paid or cancelled
-- invoices, catch-up to the current slot, late fees (once per invoice and
-- level, rounded, the totals moved by the money rules, refused on invoices not
-- open), the organization's day, and the late fees' RLS.
--
-- Organization main (the cast): levels on days -3, +2, +10, repeat every 5
-- days, a fixed late fee of 25 at level 2. T = today (UTC, as_of given).
--   R-A  due T+3   -> level1 (day -3, the boundary)
--   R-B  due T+4   -> nothing yet (day -4)
--   R-C  due T-2   -> level2 (day +2, the boundary), late fee 25
--   R-H  due T-1   -> nothing: level 1 ends with the due date, level 2 not yet
--   R-D  due T-10  -> level3 (day +10)
--   R-E  due T-14  -> level3 still (the repeat starts on day 15)
--   R-F  due T-15  -> repeat:T (day 15)
--   R-G  due T-22  -> repeat:T-2 (days 15, 20, 25: the latest opened)
--   R-S  due T+2, sent today -> nothing: level 1's day came before it was sent
--   R-P  due T-2, paid; R-X due T-2, cancelled -> nothing
--   R-K  due T-2, credited whole (cancelled) -> nothing
--   R-L  due T-2, credited 10 -> level2, but no late fee (its total stays)
-- =============================================================================
begin;
select plan(57);

select tests.create_cast();

create function pg_temp.today() returns date
language sql stable as $$ select (now() at time zone 'UTC')::date $$;
create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.invoice(org uuid, num text, client_id uuid, due date, final_status text,
                                rate numeric default 100, tax numeric default 0)
returns uuid
language plpgsql as $$
declare
  new_id uuid;
begin
  insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date, tax_rate)
  values (org, client_id, num, least(due, pg_temp.today()) - 30, due, tax)
  returning id into new_id;
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (new_id, 'services', 1, rate);
  if final_status in ('sent', 'paid', 'cancelled') then
    update public.invoices set status = 'sent', sent_at = now() - interval '40 days' where id = new_id;
  end if;
  if final_status = 'paid' then
    insert into public.payments (invoice_id, amount, payment_date)
    select new_id, total_amount, pg_temp.today() from public.invoices where id = new_id;
  elsif final_status = 'cancelled' then
    update public.invoices set status = 'cancelled' where id = new_id;
  end if;
  return new_id;
end;
$$;
create function pg_temp.client(org uuid, name text, mail text, cur text default 'USD') returns uuid
language sql as $$
  insert into public.clients (organization_id, company_name, email, currency)
  values (org, name, mail, cur) returning id
$$;
create function pg_temp.slots(org uuid, day date) returns table (num text, slot text)
language sql as $$
  select i.invoice_number, c ->> 'slot'
  from jsonb_array_elements(public.job_claim_reminders(day, 500, organization_ids => array[org]) -> 'claimed') c
  join public.invoices i on i.id = (c ->> 'invoice_id')::uuid
$$;
create function pg_temp.problem(settings jsonb) returns text
language sql as $$ select private.reminder_settings_problem(settings) $$;

-- -----------------------------------------------------------------------------
-- The settings
-- -----------------------------------------------------------------------------
select is(
  (select jsonb_path_query_array(private.reminder_settings_from_legacy(
     '{"enabled": true, "daysBeforeDue": 7, "overdueFrequency": "daily"}'), '$.levels[*].days')
   || jsonb_build_array(private.reminder_settings_from_legacy(
     '{"daysBeforeDue": 7, "overdueFrequency": "daily"}') -> 'repeatEveryDays')),
  '[-7, 1, 1]'::jsonb, 'daily: level 1 on day -7, level 2 on day +1, then every day');
select is(
  (select jsonb_path_query_array(s, '$.levels[*].days') || jsonb_build_array(s -> 'repeatEveryDays')
   from private.reminder_settings_from_legacy('{"daysBeforeDue": 3, "overdueFrequency": "weekly"}') s),
  '[-3, 1, 7]'::jsonb, 'weekly: level 2 on day +1, then every 7 days');
select is(
  (select jsonb_path_query_array(s, '$.levels[*].days') || jsonb_build_array(s -> 'repeatEveryDays', s -> 'enabled')
   from private.reminder_settings_from_legacy('{"enabled": false, "daysBeforeDue": 0, "overdueFrequency": "none"}') s),
  '[0, null, false]'::jsonb, 'none: the before-due level alone (on the due date), no repeat; enabled kept');
select is(pg_temp.problem(private.reminder_settings_from_legacy('{}')), null,
  'the mapped defaults are valid settings');
select is(
  (select reminder_settings from public.organization_settings where organization_id = tests.org('other')),
  private.reminder_settings_from_legacy('{}'), 'a new organization gets the mapped defaults');
select ok(
  (select reminder_settings -> 'levels' -> 1 ->> 'message' like '%{days_overdue} days overdue%'
   from public.organization_settings where organization_id = tests.org('other')),
  'with the old emails'' wording, in placeholders');

select is(pg_temp.problem('{"levels": [], "daysBeforeDue": 7}'),
  'daysBeforeDue: replaced by levels and repeatEveryDays (docs/api.md, "Reminder levels")',
  'the old keys are refused, saying what replaced them');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": "s", "message": "m"}, {"days": 1, "subject": "s", "message": "m"}]}'),
  'levels[1].days: must be after the previous level''s (1)', 'days strictly increase');
select is(pg_temp.problem('{"levels": [{"days": 366, "subject": "s", "message": "m"}]}'),
  'levels[0].days: must be a whole number of days from -90 to 365 (negative: before the due date)',
  'days within bounds');
select is(pg_temp.problem('{"levels": [{"days": -91, "subject": "s", "message": "m"}]}'),
  'levels[0].days: must be a whole number of days from -90 to 365 (negative: before the due date)',
  'days within bounds, before the due date too');
select is(pg_temp.problem('{"levels": [{"days": 1.5, "subject": "s", "message": "m"}]}'),
  'levels[0].days: must be a whole number of days from -90 to 365 (negative: before the due date)',
  'whole days');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": "s", "message": "m"}, {"days": 2, "subject": "s", "message": "m"}, {"days": 3, "subject": "s", "message": "m"}, {"days": 4, "subject": "s", "message": "m"}]}'),
  'levels: at most 3 levels', 'at most three levels');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": "Hi {name}", "message": "m"}]}'),
  'levels[0].subject: unknown placeholder {name}; use {client_name} {business_name} {invoice_number} {amount_due} {total} {due_date} {issue_date} {days_overdue} {days_until_due}',
  'an unknown placeholder is refused, naming the known ones');
select is(pg_temp.problem(jsonb_build_object('levels', jsonb_build_array(jsonb_build_object(
    'days', 1, 'subject', 's', 'message', repeat('x', 5001))))),
  'levels[0].message: at most 5000 characters', 'a message of at most 5000 characters');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": "a\nb", "message": "m"}]}'),
  'levels[0].subject: one line', 'a subject on one line');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": " ", "message": "m"}]}'),
  'levels[0].subject: must not be empty', 'a subject not blank');
select is(pg_temp.problem('{"levels": [], "repeatEveryDays": 3}'),
  'repeatEveryDays: repeats the last level; add a level first', 'a repeat needs a level');
select is(pg_temp.problem('{"levels": [{"days": 1, "subject": "s", "message": "m"}], "repeatEveryDays": 0}'),
  'repeatEveryDays: must be a whole number of days from 1 to 365, or null', 'a repeat of 1 day or more');
select is(pg_temp.problem('{"levels": [{"days": -2, "subject": "s", "message": "m"}], "lateFee": {"type": "fixed", "amount": 5, "levels": [1]}}'),
  'lateFee.levels: level 1 is on day -2; a late fee applies after the due date (days above 0)',
  'no late fee before the due date');
select is(pg_temp.problem('{"levels": [{"days": 2, "subject": "s", "message": "m"}], "lateFee": {"type": "fixed", "amount": 5, "levels": [2]}}'),
  'lateFee.levels: there is no level 2 (1 level)', 'a late fee names an existing level');
select is(pg_temp.problem('{"levels": [{"days": 2, "subject": "s", "message": "m"}], "lateFee": {"type": "percent", "amount": 100.5, "levels": [1]}}'),
  'lateFee.amount: a percent above 0, at most 100, with at most 3 decimals', 'a percent up to 100');
select is(pg_temp.problem('{"levels": [{"days": 2, "subject": "s", "message": "m"}], "lateFee": {"type": "flat", "amount": 5, "levels": [1]}}'),
  'lateFee.type: fixed or percent', 'fixed or percent');
select throws_ok(
  $$ update public.organization_settings set reminder_settings = '{"levels": [{"days": 5}]}'
     where organization_id = tests.org('main') $$,
  '23514', 'reminder_settings.levels[0].subject: required, a text', 'the table refuses a bad shape, whoever writes');
select lives_ok(
  $$ update public.organization_settings set next_invoice_number = next_invoice_number + 1
     where organization_id = tests.org('main') $$,
  'a write of other columns does not check the reminders again');

update public.organization_settings set reminder_settings = '{
  "enabled": true,
  "levels": [
    {"days": -3, "subject": "Soon: {invoice_number}", "message": "Dear {client_name}, {amount_due} is due on {due_date}."},
    {"days": 2, "subject": "Overdue: {invoice_number}", "message": "{days_overdue} days late."},
    {"days": 10, "subject": "Final notice: {invoice_number}", "message": "Pay {amount_due} now."}],
  "repeatEveryDays": 5,
  "lateFee": {"type": "fixed", "amount": 25, "levels": [2]}}'
where organization_id = tests.org('main');

-- -----------------------------------------------------------------------------
-- Slots by level
-- -----------------------------------------------------------------------------
create temporary table ids as
select pg_temp.client(tests.org('main'), 'Remind Co', 'ap@remind.example') as c;

select pg_temp.invoice(tests.org('main'), 'R-A', (select c from ids), pg_temp.today() + 3, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-B', (select c from ids), pg_temp.today() + 4, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-C', (select c from ids), pg_temp.today() - 2, 'sent', 200, 10);
select pg_temp.invoice(tests.org('main'), 'R-H', (select c from ids), pg_temp.today() - 1, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-D', (select c from ids), pg_temp.today() - 10, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-E', (select c from ids), pg_temp.today() - 14, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-F', (select c from ids), pg_temp.today() - 15, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-G', (select c from ids), pg_temp.today() - 22, 'sent');
select pg_temp.invoice(tests.org('main'), 'R-S', (select c from ids), pg_temp.today() + 2, 'sent');
update public.invoices set sent_at = now() where id = pg_temp.inv('R-S');
select pg_temp.invoice(tests.org('main'), 'R-P', (select c from ids), pg_temp.today() - 2, 'paid');
select pg_temp.invoice(tests.org('main'), 'R-X', (select c from ids), pg_temp.today() - 2, 'cancelled');
-- Credited: R-K whole (cancelled by its credit note, nothing due), R-L by 10 (still due).
select pg_temp.invoice(tests.org('main'), 'R-K', (select c from ids), pg_temp.today() - 2, 'sent');
select public.create_credit_note(tests.org('main'), pg_temp.inv('R-K'), '{"kind": "whole"}') is not null;
select pg_temp.invoice(tests.org('main'), 'R-L', (select c from ids), pg_temp.today() - 2, 'sent');
select public.create_credit_note(tests.org('main'), pg_temp.inv('R-L'), '{"kind": "amount", "amount": 10}') is not null;

select tests.authenticate_as_service_role();
create temporary table claim as
select * from pg_temp.slots(tests.org('main'), pg_temp.today());
select results_eq(
  $$ select num, slot from claim order by num $$,
  $$ values ('R-A', 'level1:' || (pg_temp.today() + 3)),
            ('R-C', 'level2:' || (pg_temp.today() - 2)),
            ('R-D', 'level3:' || (pg_temp.today() - 10)),
            ('R-E', 'level3:' || (pg_temp.today() - 14)),
            ('R-F', 'repeat:' || pg_temp.today()),
            ('R-G', 'repeat:' || (pg_temp.today() - 2)),
            ('R-L', 'level2:' || (pg_temp.today() - 2)) $$,
  'one slot per invoice: its level on the level''s day, the repeat after the last; none for paid, cancelled, fully credited, not yet due, just sent, or a before-due level past the due date');
select is(
  (select jsonb_build_object('level', c -> 'level', 'repeat', c -> 'repeat', 'subject', c ->> 'subject',
                             'message', c ->> 'message', 'fee', c -> 'late_fee', 'days', c -> 'days_overdue')
   from jsonb_array_elements(public.job_claim_reminders(pg_temp.today(), 500,
          organization_ids => array[tests.org('main')], lease_seconds => 10) -> 'claimed') c
   limit 1),
  null, 'claimed reminders are leased: a second claim gets none');

-- What a claim says of each slot (read back through a fresh claim after the lease).
select tests.as_superuser();
update public.email_deliveries set claimed_until = now() - interval '1 second'
where organization_id = tests.org('main');
select tests.authenticate_as_service_role();
create temporary table said as
select c from jsonb_array_elements(public.job_claim_reminders(pg_temp.today(), 500,
  organization_ids => array[tests.org('main')]) -> 'claimed') c;
select is(
  (select jsonb_build_object('level', c -> 'level', 'repeat', c -> 'repeat', 'subject', c ->> 'subject',
                             'fee', c -> 'late_fee', 'days_overdue', c -> 'days_overdue')
   from said where (c ->> 'invoice_id')::uuid = pg_temp.inv('R-C')),
  '{"level": 2, "repeat": false, "subject": "Overdue: {invoice_number}", "fee": {"amount": 25.00, "currency": "USD"}, "days_overdue": 2}'::jsonb,
  'a level''s reminder carries its level, subject and message, and the late fee it added');
select is(
  (select jsonb_build_object('level', c -> 'level', 'repeat', c -> 'repeat', 'subject', c ->> 'subject', 'fee', c -> 'late_fee')
   from said where (c ->> 'invoice_id')::uuid = pg_temp.inv('R-F')),
  '{"level": 3, "repeat": true, "subject": "Final notice: {invoice_number}", "fee": null}'::jsonb,
  'a repeat speaks with the last level''s subject and message');

-- -----------------------------------------------------------------------------
-- Late fees
-- -----------------------------------------------------------------------------
select results_eq(
  $$ select i.invoice_number, f.level, f.amount, f.balance_before from public.invoice_late_fees f
     join public.invoices i on i.id = f.invoice_id where f.organization_id = tests.org('main') $$,
  $$ values ('R-C'::text, 2, 25.00, 220.00) $$,
  'the fixed late fee of level 2, once, for the invoice that reached level 2 (none on R-L: it has a credit note, its total stays)');
select is((select status from public.invoices where id = pg_temp.inv('R-K')), 'cancelled',
  'R-K, credited whole, is cancelled with nothing due (the credit notes'' rule)');
select results_eq(
  $$ select description, quantity, rate, amount from public.invoice_items
     where invoice_id = pg_temp.inv('R-C') order by position $$,
  $$ values ('services'::text, 1::numeric, 200::numeric, 200.00::numeric),
            ('Late fee (reminder 2)', 1, 25.00, 25.00) $$,
  'the fee is a line of the invoice');
select results_eq(
  $$ select subtotal, tax_amount, total_amount, balance_due, status from public.invoices where id = pg_temp.inv('R-C') $$,
  $$ values (225.00::numeric, 22.50::numeric, 247.50::numeric, 247.50::numeric, 'sent'::text) $$,
  'the totals move by the money rules (the invoice''s 10% tax on the line too); the status stays');
select is(
  (select array_agg(table_name order by table_name) from public.audit_log
   where organization_id = tests.org('main') and operation = 'INSERT'
     and (new_record ->> 'invoice_id')::uuid = pg_temp.inv('R-C')
     and table_name in ('public.invoice_late_fees', 'public.invoice_items')
     and (table_name = 'public.invoice_late_fees' or new_record ->> 'description' like 'Late fee%')),
  array['public.invoice_items', 'public.invoice_late_fees'],
  'the fee and its line are in the audit log');
select is(
  (select (public.job_open_reminders(pg_temp.today(), array[tests.org('main')]) ->> 'late_fees')::integer),
  0, 'a second run adds no fee');
select is(
  (select count(*)::integer from pg_temp.slots(tests.org('main'), pg_temp.today() + 1)
   where num = 'R-C'),
  0, 'nor does the next day (no new slot for R-C)');
select is((select count(*)::integer from public.invoice_late_fees where invoice_id = pg_temp.inv('R-C')),
  1, 'one fee for the level');

-- A new due date brings new level slots, but the level's fee is not charged twice.
select tests.as_superuser();
update public.invoices set due_date = pg_temp.today() - 3 where id = pg_temp.inv('R-C');
select tests.authenticate_as_service_role();
select results_eq(
  $$ select slot from pg_temp.slots(tests.org('main'), pg_temp.today()) where num = 'R-C' $$,
  $$ values ('level2:' || (pg_temp.today() - 3)) $$,
  'a moved due date opens the level again');
select is((select count(*)::integer from public.invoice_late_fees where invoice_id = pg_temp.inv('R-C')),
  1, 'without a second fee for the level');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-C'), 'USD', 2, 'fixed', 25, 247.50, 25) $$,
  '23505', null, 'one fee per invoice and level, whoever writes');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-P'), 'USD', 2, 'fixed', 25, 100, 25) $$,
  '23514', 'invoice R-P is paid with 0.00 due: no late fee', 'no fee on a paid invoice, even for the service role');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-X'), 'USD', 2, 'fixed', 25, 100, 25) $$,
  '23514', null, 'nor on a cancelled one');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-L'), 'USD', 2, 'fixed', 25, 90, 25) $$,
  '23514', 'invoice R-L has credit notes: no late fee (its total stays)', 'nor on a credited one');
select is(private.apply_late_fees(array[pg_temp.inv('R-P'), pg_temp.inv('R-X')],
                                  array['level2:x', 'level2:x']),
  0::bigint, 'the job''s fee step passes paid and cancelled invoices by');

-- A percent of the balance, rounded half-up to the currency's minor unit; and
-- catch-up: a run after missed days opens the current level alone (its fee
-- only, none for the level it skipped).
select tests.as_superuser();
select tests.create_supabase_user('rpct');
update public.organization_settings set reminder_settings = '{
  "levels": [
    {"days": 1, "subject": "Late: {invoice_number}", "message": "m"},
    {"days": 5, "subject": "Later: {invoice_number}", "message": "m"},
    {"days": 20, "subject": "Last: {invoice_number}", "message": "m"}],
  "lateFee": {"type": "percent", "amount": 1.5, "levels": [2, 3]}}'
where organization_id = tests.personal_org('rpct');
insert into ids select pg_temp.client(tests.personal_org('rpct'), 'Pct Co', 'ap@pct.example');
insert into ids select pg_temp.client(tests.personal_org('rpct'), 'Yen Co', 'ap@yen.example', 'JPY');
select pg_temp.invoice(tests.personal_org('rpct'), 'P-1', (select c from ids offset 1 limit 1), pg_temp.today() - 5, 'sent', 1000.50);
select pg_temp.invoice(tests.personal_org('rpct'), 'P-2', (select c from ids offset 2 limit 1), pg_temp.today() - 5, 'sent', 1003);
select pg_temp.invoice(tests.personal_org('rpct'), 'P-3', (select c from ids offset 1 limit 1), pg_temp.today() - 30, 'sent', 100);
select tests.authenticate_as_service_role();
select results_eq(
  $$ select num, slot from pg_temp.slots(tests.personal_org('rpct'), pg_temp.today()) order by num $$,
  $$ values ('P-1', 'level2:' || (pg_temp.today() - 5)), ('P-2', 'level2:' || (pg_temp.today() - 5)),
            ('P-3', 'level3:' || (pg_temp.today() - 30)) $$,
  'missed days: the current level''s slot alone');
select results_eq(
  $$ select i.invoice_number, f.level, f.amount, i.total_amount from public.invoice_late_fees f
     join public.invoices i on i.id = f.invoice_id
     where f.organization_id = tests.personal_org('rpct') order by 1 $$,
  $$ values ('P-1'::text, 2, 15.01::numeric, 1015.51::numeric), ('P-2', 2, 15::numeric, 1018::numeric),
            ('P-3', 3, 1.50::numeric, 101.50::numeric) $$,
  '1.5% of the balance, rounded half-up to the currency (15.0075 USD -> 15.01, 15.045 JPY -> 15); one fee for the level reached');
select is(
  (select description from public.invoice_items where invoice_id = pg_temp.inv('P-1') and position = 1),
  'Late fee (reminder 2): 1.5% of the balance of 1000.50 USD', 'a percent fee''s line says how it was computed');

-- A payment that lands first: the invoice is paid, the level's fee is not added.
select tests.as_superuser();
select pg_temp.invoice(tests.personal_org('rpct'), 'P-4', (select c from ids offset 1 limit 1), pg_temp.today() - 4, 'sent', 100);
select tests.authenticate_as_service_role();
select is((select count(*)::integer from pg_temp.slots(tests.personal_org('rpct'), pg_temp.today()) where num = 'P-4'),
  1, 'P-4 has its level 1 reminder');
select tests.as_superuser();
insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-4'), 100);
select tests.authenticate_as_service_role();
select is((select count(*)::integer from pg_temp.slots(tests.personal_org('rpct'), pg_temp.today() + 1) where num = 'P-4'),
  0, 'paid: no reminder on level 2''s day');
select is((select count(*)::integer from public.invoice_late_fees where invoice_id = pg_temp.inv('P-4')),
  0, 'and no fee');

-- A first run dense in late fees: each call adds at most 250, the chunk cut
-- after the 250th (its invoices after it are the next call's), nothing lost.
select tests.as_superuser();
select tests.create_supabase_user('rcut');
update public.organization_settings set reminder_settings =
  '{"levels": [{"days": 1, "subject": "Late: {invoice_number}", "message": "m"}],
    "lateFee": {"type": "fixed", "amount": 5, "levels": [1]}}'
where organization_id = tests.personal_org('rcut');
insert into ids select pg_temp.client(tests.personal_org('rcut'), 'Cut Co', 'ap@cut.example');
insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date)
select tests.personal_org('rcut'), (select id from public.clients where company_name = 'Cut Co'), 'C-' || g,
       pg_temp.today() - 30, pg_temp.today() - 2
from generate_series(1, 450) g;
insert into public.invoice_items (invoice_id, description, quantity, rate)
select id, 'services', 1, 100 from public.invoices where organization_id = tests.personal_org('rcut');
update public.invoices set status = 'sent' where organization_id = tests.personal_org('rcut');
select tests.authenticate_as_service_role();
create temporary table cut_run as
select public.job_open_reminders(pg_temp.today(), array[tests.personal_org('rcut')]) as body;
select is(
  (select jsonb_build_array(body -> 'opened', body -> 'late_fees', body -> 'done') from cut_run),
  '[250, 250, false]'::jsonb, 'a call adds at most 250 late fees, and is not done');
select is(
  (select jsonb_build_array(b -> 'opened', b -> 'late_fees', b -> 'done')
   from cut_run, public.job_open_reminders(pg_temp.today(), array[tests.personal_org('rcut')],
     (body ->> 'after_due_date')::date, (body ->> 'after_id')::uuid) b),
  '[200, 200, true]'::jsonb, 'the next call, from where it was cut, opens the rest with their fees');

-- -----------------------------------------------------------------------------
-- The organization's day (its time zone), unless as_of is given
-- -----------------------------------------------------------------------------
select tests.as_superuser();
update public.organization_settings set time_zone = 'Pacific/Kiritimati'
where organization_id = tests.personal_org('rpct');
select pg_temp.invoice(tests.personal_org('rpct'), 'P-5', (select c from ids offset 1 limit 1),
  (now() at time zone 'Pacific/Kiritimati')::date - 1, 'sent', 100);
select tests.authenticate_as_service_role();
select is(
  (select c ->> 'slot' from jsonb_array_elements(public.job_claim_reminders(
     organization_ids => array[tests.personal_org('rpct')]) -> 'claimed') c
   where (c ->> 'invoice_id')::uuid = pg_temp.inv('P-5')),
  'level1:' || ((now() at time zone 'Pacific/Kiritimati')::date - 1),
  'without as_of, the day is the organization''s (due yesterday there: level 1 on day +1)');

-- -----------------------------------------------------------------------------
-- Who sees late fees
-- -----------------------------------------------------------------------------
select tests.authenticate_as('viewer');
select is((select count(*)::integer from public.invoice_late_fees), 2, 'a viewer sees the organization''s fees (R-C''s, and R-H''s of the next day)');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-A'), 'USD', 1, 'fixed', 1, 100, 1) $$,
  '42501', null, 'a viewer cannot add one');
select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.invoice_late_fees (organization_id, invoice_id, currency, level, fee_type, rate, balance_before, amount)
     values (tests.org('main'), pg_temp.inv('R-A'), 'USD', 1, 'fixed', 1, 100, 1) $$,
  '42501', null, 'nor can the owner: only the job adds fees');
select tests.authenticate_as('stranger');
select is((select count(*)::integer from public.invoice_late_fees), 0, 'a stranger sees none');
select tests.clear_authentication();
select throws_ok($$ select count(*) from public.invoice_late_fees $$, '42501', null, 'anon reads nothing');

select * from finish();
rollback;
