-- =============================================================================
-- "Overdue" by the organization's day (migration 20261206110600): main at UTC+14
-- (Pacific/Kiritimati), other at UTC-12 (Etc/GMT+12). Every date is the zone's
-- today computed from now(), never a literal. At any hour of the UTC day one of
-- the two zones is on another date than UTC, so the checks of both together fail
-- on the code that compared with current_date:
--   main:  due yesterday in Kiritimati  -> overdue (UTC's today may be that day)
--   other: due today at UTC-12          -> not overdue (UTC may be a day later)
-- =============================================================================
begin;
select plan(14);

select tests.create_cast();
update public.organization_settings set time_zone = 'Pacific/Kiritimati' where organization_id = tests.org('main');
update public.organization_settings set time_zone = 'Etc/GMT+12' where organization_id = tests.org('other');

create function pg_temp.east_today() returns date language sql stable as
  $$ select (now() at time zone 'Pacific/Kiritimati')::date $$;
create function pg_temp.west_today() returns date language sql stable as
  $$ select (now() at time zone 'Etc/GMT+12')::date $$;

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000571', tests.org('main'), 'East Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000572', tests.org('other'), 'West Client', 'USD');
insert into public.invoices (id, organization_id, client_id, invoice_number, issue_date, due_date, payment_terms) values
  ('e0000000-0000-4000-8000-7e5700000571', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000571', 'EAST-1',
   pg_temp.east_today() - 10, pg_temp.east_today() - 1, 'custom'),
  ('e0000000-0000-4000-8000-7e5700000572', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000572', 'WEST-1',
   pg_temp.west_today() - 10, pg_temp.west_today(), 'custom'),
  ('e0000000-0000-4000-8000-7e5700000573', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000571', 'EAST-2',
   pg_temp.east_today() - 10, pg_temp.east_today() + 5, 'custom'),
  ('e0000000-0000-4000-8000-7e5700000574', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000572', 'WEST-2',
   pg_temp.west_today() - 10, pg_temp.west_today() + 5, 'custom');
insert into public.invoice_items (invoice_id, description, quantity, rate)
select id, 'Work', 1, 100 from public.invoices
where id in ('e0000000-0000-4000-8000-7e5700000571', 'e0000000-0000-4000-8000-7e5700000572',
             'e0000000-0000-4000-8000-7e5700000573', 'e0000000-0000-4000-8000-7e5700000574');
update public.invoices set status = 'sent' where id in (
  'e0000000-0000-4000-8000-7e5700000571', 'e0000000-0000-4000-8000-7e5700000572',
  'e0000000-0000-4000-8000-7e5700000573', 'e0000000-0000-4000-8000-7e5700000574');

-- The invoice list's is_overdue ---------------------------------------------------
select tests.authenticate_as('owner');
select is((select is_overdue from public.invoice_list where invoice_number = 'EAST-1'), true,
  'UTC+14: due yesterday there is overdue in the invoice list');
select is((public.dashboard_recent_invoices(tests.org('main'), 50) -> 'data')
            @> '[{"invoice_number": "EAST-1", "is_overdue": true}]'::jsonb, true,
  'UTC+14: and on the dashboard''s recent invoices');
select is(public.dashboard_metrics(tests.org('main')) ->> 'as_of', pg_temp.east_today()::text,
  'UTC+14: the dashboard is as of the organization''s today by default');
select is(public.reports_payment_status(tests.org('main')) ->> 'to', pg_temp.east_today()::text,
  'UTC+14: a report''s range ends on the organization''s today by default');
select is((public.export_invoice_page(tests.org('main'), overdue => true) -> 0 ->> 0), 'EAST-1',
  'UTC+14: the invoice export''s overdue filter finds it');
select tests.authenticate_as('stranger');
select is((select is_overdue from public.invoice_list where invoice_number = 'WEST-1'), false,
  'UTC-12: due today there is not overdue in the invoice list');
select is(public.dashboard_metrics(tests.org('other')) ->> 'as_of', pg_temp.west_today()::text,
  'UTC-12: the dashboard is as of the organization''s today by default');
select is(public.dashboard_metrics(tests.org('other')) #>> '{primary,overdue_count}', '0',
  'UTC-12: nothing overdue on its dashboard');

-- Editing: a due date changed, a payment removed ------------------------------------
select tests.authenticate_as('owner');
select is(public.update_invoice(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000573',
            jsonb_build_object('due_date', pg_temp.east_today() - 1)) ->> 'status', 'overdue',
  'UTC+14: a sent invoice whose due date moves to yesterday there becomes overdue');
select tests.authenticate_as('stranger');
select is(public.update_invoice(tests.org('other'), 'e0000000-0000-4000-8000-7e5700000574',
            jsonb_build_object('due_date', pg_temp.west_today())) ->> 'status', 'sent',
  'UTC-12: moved to today there, it stays sent');
select tests.as_superuser();
insert into public.payments (id, invoice_id, amount) values
  ('d0000000-0000-4000-8000-7e5700000572', 'e0000000-0000-4000-8000-7e5700000572', 100);
delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000572';
select is((select status from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000572'), 'sent',
  'UTC-12: paid, then its payment removed, an invoice due today there opens as sent');

-- The mark-overdue job ------------------------------------------------------------
select tests.authenticate_as_service_role();
select public.job_mark_overdue();
select is((select status from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000571'), 'overdue',
  'the job marks an invoice due yesterday at UTC+14');
select is((select status from public.invoices where id = 'e0000000-0000-4000-8000-7e5700000572'), 'sent',
  'the job leaves an invoice due today at UTC-12');
select is((select slot_date from public.email_deliveries
           where kind = 'invoice_overdue' and organization_id = tests.org('main') order by created_at desc limit 1),
  pg_temp.east_today(), 'the owner''s overdue notice is dated the organization''s day');

select * from finish();
rollback;
