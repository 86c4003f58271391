-- =============================================================================
-- What the database broadcasts on the organizations' private topics (migration
-- 20261206120100_realtime.sql): import progress, match results, exception changes and
-- dashboard signals, each to its own organization's topic and never another's, from
-- statement-level triggers whose number of messages does not grow with the rows (one
-- matching of 250 invoices is a few messages, naming at most 100 of them), sent as the
-- database whatever the writer may send itself, and dashboard_changed once per
-- organization and transaction.
-- =============================================================================
begin;
select plan(27);

select tests.create_cast();

create function pg_temp.topic(which text, channel text) returns text language sql as $$
  select 'org:' || tests.org(which)::text || ':' || channel
$$;
create function pg_temp.sent(which text, channel text) returns integer language sql as $$
  select count(*)::integer from realtime.messages where topic = pg_temp.topic(which, channel)
$$;
-- A new transaction, as far as dashboard_changed is concerned (the file is one).
create function pg_temp.next_transaction() returns void language sql as $$
  select set_config('invoiceflow.dashboard_signalled', '', true)
$$;

-- 250 vendor invoices (a matching chunk) for main (no vendor, no PO: each ends with exceptions), 10 for other.
insert into public.vendor_invoices (organization_id, vendor_name, invoice_number, invoice_date,
  currency, subtotal, total_amount)
select tests.org('main'), 'Nobody We Know', 'RT-' || n, date '2026-01-01', 'USD', 10, 10
from generate_series(1, 250) n;
select is(pg_temp.sent('main', 'dashboard'), 1,
  'a 250-row insert signals the dashboard once');
select is((select payload ->> 'source' from realtime.messages where topic = pg_temp.topic('main', 'dashboard')),
  'vendor_invoices', 'naming the table that changed');
select is((select event from realtime.messages where topic = pg_temp.topic('main', 'dashboard')),
  'dashboard_changed', 'as the dashboard_changed event');

insert into public.vendor_invoices (organization_id, vendor_name, invoice_number, invoice_date,
  currency, subtotal, total_amount)
select tests.org('other'), 'Nobody We Know', 'RT-' || n, date '2026-01-01', 'USD', 10, 10
from generate_series(1, 10) n;
select is(pg_temp.sent('main', 'dashboard'), 1,
  'another statement of the same transaction signals main no more');
select is(pg_temp.sent('other', 'dashboard'), 1, 'and signals other once');

-- Matching 250 invoices in one call.
select pg_temp.next_transaction();
select private.match_vendor_invoices(tests.org('main'));
select cmp_ok(pg_temp.sent('main', 'matching'), '<=', 2,
  'matching 250 invoices is at most two match_results messages (the upsert''s insert and update)');
select is((select sum((payload ->> 'invoices')::int)::int from realtime.messages
           where topic = pg_temp.topic('main', 'matching')), 250,
  'which count the 250 invoices');
select is((select sum((payload ->> 'exception')::int)::int from realtime.messages
           where topic = pg_temp.topic('main', 'matching')),
  (select count(*)::int from public.vendor_invoice_matches
    where organization_id = tests.org('main') and outcome = 'exception'),
  'with their outcomes');
select ok((select bool_and(jsonb_array_length(payload -> 'vendor_invoice_ids') <= 100
                           and (payload ->> 'more')::int = (payload ->> 'invoices')::int - jsonb_array_length(payload -> 'vendor_invoice_ids'))
           from realtime.messages where topic = pg_temp.topic('main', 'matching')),
  'naming at most 100 invoices, and how many more');
select cmp_ok(pg_temp.sent('main', 'exceptions'), '<=', 2,
  'the exceptions they opened are at most two exceptions_changed messages');
select is((select sum((payload ->> 'opened')::int)::int from realtime.messages
           where topic = pg_temp.topic('main', 'exceptions')),
  (select count(*)::int from public.reconciliation_exceptions where organization_id = tests.org('main')),
  'counting every exception opened');
select is(pg_temp.sent('main', 'dashboard'), 2, 'and the dashboard is signalled once more');
select is((select count(*)::int from realtime.messages
           where topic like 'org:' || tests.org('main')::text || ':%'
             and (payload ->> 'organization_id')::uuid is distinct from tests.org('main')), 0,
  'every message on main''s topics is about main');
select is((select count(*)::int from realtime.messages
           where topic like 'org:' || tests.org('other')::text || ':%' and event <> 'dashboard_changed'), 0,
  'and nothing of main''s matching reached other''s topics');
select ok((select bool_and(private) from realtime.messages), 'every broadcast is private');

-- A person closes an exception.
select pg_temp.next_transaction();
update public.reconciliation_exceptions set status = 'dismissed', resolution = 'dismissed'
where id = (select id from public.reconciliation_exceptions
            where organization_id = tests.org('main') order by id limit 1);
select is((select payload ->> 'closed' from realtime.messages
           where topic = pg_temp.topic('main', 'exceptions') order by inserted_at desc, payload ->> 'closed' desc limit 1),
  '1', 'closing an exception says so');
select is(pg_temp.sent('main', 'dashboard'), 3, 'and signals the dashboard');

-- Import batches: created, progressing, done; a change nobody sees says nothing.
select pg_temp.next_transaction();
insert into public.import_batches (id, organization_id, kind, source, status, s3_key)
values ('a1000000-0000-4000-8000-7e5700000615', tests.org('main'), 'vendor_invoices', 'csv',
        'awaiting_upload', 'secret/key.csv');
select is(pg_temp.sent('main', 'imports'), 1, 'a new batch is announced');
update public.import_batches set status = 'processing', started_at = now(), rows_total = 10000
where id = 'a1000000-0000-4000-8000-7e5700000615';
select is((select payload -> 'batches' -> 0 ->> 'status' from realtime.messages
           where topic = pg_temp.topic('main', 'imports') and payload -> 'batches' -> 0 ->> 'status' = 'processing'),
  'processing', 'its progress is broadcast with its status');
select ok((select bool_and(not (payload::text like '%secret/key.csv%')) from realtime.messages
           where topic = pg_temp.topic('main', 'imports')), 'without its S3 key');
update public.import_batches set updated_at = now() + interval '1 second'
where id = 'a1000000-0000-4000-8000-7e5700000615';
select is(pg_temp.sent('main', 'imports'), 2, 'a change of nothing shown is not broadcast');

-- A member's write is broadcast although the member may not send on the topic itself.
select pg_temp.next_transaction();
select tests.authenticate_as('member');
insert into public.vendor_invoices (id, organization_id, vendor_name, invoice_number, invoice_date,
  currency, subtotal, total_amount)
values ('e0000000-0000-4000-8000-7e5700000615', tests.org('main'), 'Nobody We Know', 'RT-MEMBER',
        date '2026-01-01', 'USD', 10, 10);
select tests.as_superuser();
select is(pg_temp.sent('main', 'dashboard'), 4, 'a member''s new vendor invoice signals the dashboard');

-- A savepoint rolled back takes its signal with it; the next statement signals again.
select pg_temp.next_transaction();
savepoint undone;
update public.vendor_invoices set notes = 'undone' where id = 'e0000000-0000-4000-8000-7e5700000615';
rollback to savepoint undone;
select is(pg_temp.sent('main', 'dashboard'), 4, 'a rolled-back statement leaves no signal');
update public.vendor_invoices set notes = 'kept' where id = 'e0000000-0000-4000-8000-7e5700000615';
select is(pg_temp.sent('main', 'dashboard'), 5, 'and the next statement signals');
update public.vendor_invoices set notes = 'kept again' where id = 'e0000000-0000-4000-8000-7e5700000615';
select is(pg_temp.sent('main', 'dashboard'), 5, 'once per transaction');

-- Invoices and payments are published: their writes broadcast nothing.
select pg_temp.next_transaction();
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-7e5700000615', tests.org('main'), 'Realtime Client', 'USD');
insert into public.invoices (id, organization_id, client_id)
values ('e1000000-0000-4000-8000-7e5700000615', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000615');
select is(pg_temp.sent('main', 'dashboard'), 5, 'an invoice''s write is no broadcast (its change is published)');
select is(
  (select string_agg(t.tablename::text || ':' || c.relreplident::text, ', ' order by t.tablename)
   from pg_publication_tables t
   join pg_class c on c.oid = format('%I.%I', t.schemaname, t.tablename)::regclass
   where t.pubname = 'supabase_realtime'),
  'client_activities:f, invoices:f, payments:f',
  'the publication holds invoices, payments and client activities, with their full old rows');

select * from finish();
rollback;
