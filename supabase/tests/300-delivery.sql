-- =============================================================================
-- Delivery: idempotency keys (start, replay, mismatch, in progress, release,
-- expiry, a person's own), mark_invoice_sent (draft -> sent, a re-send keeps
-- the status, the send and the invoice_sent activity recorded, another
-- organization's invoice not found, viewers refused), bulk_invoice_action
-- (each action's verdicts per id, in order, set-based), and the bulk send's
-- items (classified, claimed once, failed or retried, interrupted sends never
-- retried, the service role kept inside the named organization).
-- =============================================================================
begin;
select plan(69);

select tests.create_cast();

create function pg_temp.org(who text default 'owner') returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.inv(num text) returns uuid
language sql stable security definer set search_path = '' as $$
  select id from public.invoices where invoice_number = num $$;
create function pg_temp.status_of(num text) returns text
language sql stable security definer set search_path = '' as $$
  select status from public.invoices where invoice_number = num $$;
grant execute on function pg_temp.inv(text), pg_temp.status_of(text) to authenticated, service_role;

insert into public.clients (id, organization_id, company_name, currency, email) values
  ('d3000000-0000-4000-8000-000000000001', pg_temp.org(), 'Mailable', 'USD', 'billing@mailable.test'),
  ('d3000000-0000-4000-8000-000000000002', pg_temp.org(), 'No Mail', 'USD', null),
  ('d3000000-0000-4000-8000-000000000003', pg_temp.org('stranger'), 'Theirs', 'USD', 'x@theirs.test');
insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date)
select pg_temp.org(), 'd3000000-0000-4000-8000-000000000001', n, current_date, current_date + 30
from unnest(array['DL-DRAFT', 'DL-SENT', 'DL-PAID', 'DL-CANCEL', 'DL-PART', 'DL-D2', 'DL-D3', 'DL-D4',
                  'DL-S2', 'DL-S3']) n;
insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date) values
  (pg_temp.org(), 'd3000000-0000-4000-8000-000000000002', 'DL-NOMAIL', current_date, current_date + 30),
  (pg_temp.org('stranger'), 'd3000000-0000-4000-8000-000000000003', 'DL-THEIRS', current_date, current_date + 30);
insert into public.invoice_items (invoice_id, description, quantity, rate)
select id, 'work', 1, 100 from public.invoices where invoice_number like 'DL-%';
update public.invoices set status = 'sent'
where invoice_number in ('DL-SENT', 'DL-PAID', 'DL-CANCEL', 'DL-PART', 'DL-S2', 'DL-S3', 'DL-THEIRS');
insert into public.payments (invoice_id, organization_id, currency, amount)
values (pg_temp.inv('DL-PAID'), pg_temp.org(), 'USD', 100),
       (pg_temp.inv('DL-PART'), pg_temp.org(), 'USD', 30);
update public.invoices set status = 'cancelled' where invoice_number = 'DL-CANCEL';

create temporary table answers (name text primary key, body jsonb) on commit drop;
grant all on answers to authenticated, service_role;

-- Idempotency keys ----------------------------------------------------------------
select tests.authenticate_as('member');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/a', 'fp-1') ->> 'outcome',
  'started', 'a new key starts its request');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/a', 'fp-1') ->> 'outcome',
  'in_progress', 'the same key while its first request runs is in progress');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/a', 'fp-2') ->> 'outcome',
  'mismatch', 'the same key with a different body is a mismatch');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/b', 'fp-1') ->> 'outcome',
  'mismatch', 'the same key for another operation is a mismatch');

select tests.authenticate_as('owner');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/a', 'fp-9') ->> 'outcome',
  'started', 'keys are per person: another member''s key-1 is their own');
select is((select count(*)::int from public.idempotency_keys), 1,
  'a person sees only their own keys');

select tests.authenticate_as('member');
select public.release_idempotent_request(pg_temp.org(), 'key-1');
select is(public.begin_idempotent_request(pg_temp.org(), 'key-1', 'POST /send/a', 'fp-2') ->> 'outcome',
  'started', 'a released key starts again, with any body');

select tests.authenticate_as('viewer');
select throws_ok($$ select public.begin_idempotent_request(pg_temp.org(), 'v', 'op', 'fp') $$,
  '42501', null, 'a viewer cannot hold a key to send with');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.begin_idempotent_request(pg_temp.org(), 'v', 'op', 'fp') $$,
  '42501', null, 'a stranger cannot hold a key in the organization');

-- mark_invoice_sent ----------------------------------------------------------------
select tests.authenticate_as('member');
select public.begin_idempotent_request(pg_temp.org(), 'send-draft', 'POST /send', 'fp');
insert into answers select 'draft', public.mark_invoice_sent(
  pg_temp.org(), pg_temp.inv('DL-DRAFT'), 'ses-1',
  '{"to": ["billing@mailable.test"], "cc": ["cc@x.test"]}', 'Invoice DL-DRAFT', 'invoice', 'send-draft');
select is(pg_temp.status_of('DL-DRAFT'), 'sent', 'a sent draft becomes sent');
select is((select body -> 'invoice' ->> 'status' from answers where name = 'draft'), 'sent',
  'the answer carries the invoice as it is now');
select is((select body -> 'send' ->> 'ses_message_id' from answers where name = 'draft'), 'ses-1',
  'the answer carries the send with its SES message id');
select is((select body -> 'send' -> 'recipients' -> 'bcc' from answers where name = 'draft'), '[]'::jsonb,
  'missing recipient lists are stored as empty');
select isnt((select sent_at from public.invoices where id = pg_temp.inv('DL-DRAFT')), null,
  'sent_at is set');
select is((select count(*)::int from public.invoice_sends where invoice_id = pg_temp.inv('DL-DRAFT')
           and sent_by = tests.actor('member')), 1,
  'the send is recorded with who sent it');
select is((select count(*)::int from public.client_activities
           where type = 'invoice_sent' and metadata ->> 'invoice_id' = pg_temp.inv('DL-DRAFT')::text
             and metadata ->> 'ses_message_id' = 'ses-1'
             and created_by = tests.actor('member')), 1,
  'an invoice_sent activity names the message id and the sender');
select is((select activity from public.client_activities
           where type = 'invoice_sent' and metadata ->> 'invoice_id' = pg_temp.inv('DL-DRAFT')::text),
  'Invoice DL-DRAFT sent to billing@mailable.test', 'the activity says what went where');
select is(public.begin_idempotent_request(pg_temp.org(), 'send-draft', 'POST /send', 'fp') ->> 'outcome',
  'completed', 'the key is completed in the same transaction');
select is((public.begin_idempotent_request(pg_temp.org(), 'send-draft', 'POST /send', 'fp') -> 'response')
          -> 'send' ->> 'ses_message_id', 'ses-1', 'and replays the stored answer');
select is((public.begin_idempotent_request(pg_temp.org(), 'send-draft', 'POST /send', 'fp') ->> 'status')::int,
  200, 'with its status');

select lives_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-SENT'), 'ses-2',
  '{"to": ["a@b.test"]}', 's') $$, 'a sent invoice can be sent again');
select is(pg_temp.status_of('DL-SENT'), 'sent', 'a re-send keeps the status');
select lives_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-PAID'), 'ses-3',
  '{"to": ["a@b.test"]}', 'Receipt', 'receipt') $$, 'a paid invoice can be sent as a receipt');
select is(pg_temp.status_of('DL-PAID'), 'paid', 'a receipt keeps the invoice paid');
select is((select activity from public.client_activities
           where metadata ->> 'ses_message_id' = 'ses-3'),
  'Receipt for invoice DL-PAID sent to a@b.test', 'a receipt''s activity says so');
select throws_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-THEIRS'), 'x',
  '{"to": ["a@b.test"]}', 's') $$, 'P0002', 'invoice not found',
  'another organization''s invoice is not found');
select throws_ok($$ select public.mark_invoice_sent(pg_temp.org('stranger'), pg_temp.inv('DL-THEIRS'), 'x',
  '{"to": ["a@b.test"]}', 's') $$, '42501', null, 'nobody sends in an organization they are not a member of');

select tests.authenticate_as('viewer');
select throws_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-SENT'), 'x',
  '{"to": ["a@b.test"]}', 's') $$, '42501', null, 'a viewer cannot mark an invoice sent');
select is((select count(*)::int from public.invoice_sends), 3, 'a viewer sees the organization''s sends');
select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.invoice_sends $$, 'a stranger sees none of them');
select throws_ok($$ insert into public.invoice_sends (organization_id, invoice_id, recipients, subject, ses_message_id)
  values (pg_temp.org(), pg_temp.inv('DL-SENT'), '{"to": []}', 's', 'forged') $$,
  '42501', null, 'a stranger cannot forge a send record');

-- bulk_invoice_action ---------------------------------------------------------------
select tests.authenticate_as('member');
insert into answers select 'mark_sent', public.bulk_invoice_action(pg_temp.org(), 'mark_sent',
  array[pg_temp.inv('DL-D2'), pg_temp.inv('DL-SENT'), pg_temp.inv('DL-THEIRS'), pg_temp.inv('DL-CANCEL')]);
select is((select jsonb_agg(e ->> 'status') from answers, jsonb_array_elements(body -> 'results') e
           where name = 'mark_sent'),
  '["ok", "wrong_status", "not_found", "wrong_status"]'::jsonb, 'mark_sent: one verdict per id, in order');
select is(pg_temp.status_of('DL-D2'), 'sent', 'mark_sent sends the draft');
select is(pg_temp.status_of('DL-THEIRS'), 'sent', 'and leaves the other organization''s invoice alone');
select is((select body -> 'summary' from answers where name = 'mark_sent'),
  '{"requested": 4, "ok": 1, "wrong_status": 2, "not_found": 1}'::jsonb, 'with a summary');
select is((select count(*)::int from public.client_activities where type = 'invoice_sent'
           and metadata ->> 'invoice_id' = pg_temp.inv('DL-D2')::text and metadata ->> 'emailed' = 'false'), 1,
  'a marked-sent invoice has an invoice_sent activity saying it was not emailed');

insert into answers select 'mark_paid', public.bulk_invoice_action(pg_temp.org(), 'mark_paid',
  array[pg_temp.inv('DL-PART'), pg_temp.inv('DL-D3'), pg_temp.inv('DL-PAID'), pg_temp.inv('DL-S2')],
  '{"payment_method": "cash", "reference_number": "BULK-1"}');
select is((select jsonb_agg(e ->> 'status') from answers, jsonb_array_elements(body -> 'results') e
           where name = 'mark_paid'),
  '["ok", "wrong_status", "wrong_status", "ok"]'::jsonb, 'mark_paid: sent invoices ok, drafts and paid ones not');
select is(pg_temp.status_of('DL-PART'), 'paid', 'the partly paid invoice is paid');
select is((select amount from public.payments where invoice_id = pg_temp.inv('DL-PART')
           and reference_number = 'BULK-1'), 70.00::numeric, 'with a payment of its remaining balance');
select is((select payment_method from public.payments where invoice_id = pg_temp.inv('DL-S2')
           and reference_number = 'BULK-1'), 'cash', 'with the options given');
select throws_ok($$ select public.bulk_invoice_action(pg_temp.org(), 'mark_paid', array[pg_temp.inv('DL-S3')],
  '{"payment_method": "barter"}') $$, '23514', null, 'payment options are checked as record_payment checks them');
select throws_ok($$ select public.bulk_invoice_action(pg_temp.org(), 'mark_paid', array[pg_temp.inv('DL-S3')],
  '{"amount": 5}') $$, '22023', null, 'unknown options are refused');
select is(pg_temp.status_of('DL-S3'), 'sent', 'a refused call changes nothing');

insert into answers select 'cancel', public.bulk_invoice_action(pg_temp.org(), 'cancel',
  array[pg_temp.inv('DL-S3'), pg_temp.inv('DL-PAID'), pg_temp.inv('DL-CANCEL'), pg_temp.inv('DL-D4')]);
select is((select jsonb_agg(e ->> 'status') from answers, jsonb_array_elements(body -> 'results') e
           where name = 'cancel'),
  '["ok", "wrong_status", "wrong_status", "ok"]'::jsonb, 'cancel: sent and draft invoices, not paid or cancelled');
select is(pg_temp.status_of('DL-S3'), 'cancelled', 'the sent invoice is cancelled');

insert into answers select 'delete', public.bulk_invoice_action(pg_temp.org(), 'delete',
  array[pg_temp.inv('DL-D3'), pg_temp.inv('DL-S3'), 'd3000000-0000-4000-8000-0000000000ff']);
select is((select jsonb_agg(e ->> 'status') from answers, jsonb_array_elements(body -> 'results') e
           where name = 'delete'),
  '["ok", "wrong_status", "not_found"]'::jsonb, 'delete: drafts only');
select is(pg_temp.inv('DL-D3'), null, 'the draft is gone');

select throws_ok($$ select public.bulk_invoice_action(pg_temp.org(), 'cancel',
  array[pg_temp.inv('DL-SENT'), pg_temp.inv('DL-SENT')]) $$, '22023', null, 'ids must be distinct');
select throws_ok($$ select public.bulk_invoice_action(pg_temp.org(), 'explode', array[pg_temp.inv('DL-SENT')]) $$,
  '22023', null, 'an unknown action is refused');
select tests.authenticate_as('viewer');
select throws_ok($$ select public.bulk_invoice_action(pg_temp.org(), 'cancel', array[pg_temp.inv('DL-SENT')]) $$,
  '42501', null, 'a viewer cannot act in bulk');

-- Bulk send items -------------------------------------------------------------------
select tests.authenticate_as('member');
insert into answers select 'job', public.create_bulk_send(pg_temp.org(),
  array[pg_temp.inv('DL-SENT'), pg_temp.inv('DL-NOMAIL'), pg_temp.inv('DL-CANCEL'), pg_temp.inv('DL-THEIRS'),
        pg_temp.inv('DL-DRAFT'), pg_temp.inv('DL-PAID')],
  '{"subject": "Hello"}', true);
create function pg_temp.job() returns uuid language sql stable as $$
  select (body ->> 'job_id')::uuid from answers where name = 'job' $$;
grant execute on function pg_temp.job() to authenticated, service_role;
select is((select jsonb_agg(coalesce(e ->> 'reason', e ->> 'status')) from answers, jsonb_array_elements(body -> 'items') e
           where name = 'job'),
  '["pending", "no_email", "wrong_status", "not_found", "pending", "wrong_status"]'::jsonb,
  'create_bulk_send decides what it can at once, in order');
select is((select total from public.bulk_jobs where id = pg_temp.job()), 6, 'the job counts its ids');

select is(public.claim_bulk_items(pg_temp.org(), pg_temp.job(), array[pg_temp.inv('DL-SENT'), pg_temp.inv('DL-NOMAIL')]),
  array[pg_temp.inv('DL-SENT')], 'claiming takes the pending items only');
select is(public.claim_bulk_items(pg_temp.org(), pg_temp.job(), array[pg_temp.inv('DL-SENT')]),
  '{}'::uuid[], 'an item is claimed once: a redelivered message gets nothing');

select tests.authenticate_as_service_role();
select is(public.claim_bulk_items(pg_temp.org('stranger'), pg_temp.job(), array[pg_temp.inv('DL-DRAFT')]),
  '{}'::uuid[], 'the service role naming another organization claims nothing of this job');
select is(public.claim_bulk_items(pg_temp.org(), pg_temp.job(), array[pg_temp.inv('DL-DRAFT')]),
  array[pg_temp.inv('DL-DRAFT')], 'the service role claims within the job''s organization');
select public.fail_bulk_item(pg_temp.org(), pg_temp.job(), pg_temp.inv('DL-DRAFT'), 'throttled', 'busy', true);
select is((select status from public.bulk_job_items where job_id = pg_temp.job() and invoice_id = pg_temp.inv('DL-DRAFT')),
  'pending', 'a retryable failure puts the item back');
select is(public.claim_bulk_items(pg_temp.org(), pg_temp.job(), array[pg_temp.inv('DL-DRAFT')]),
  array[pg_temp.inv('DL-DRAFT')], 'and it can be claimed again');
select lives_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-DRAFT'), 'ses-job-1',
  '{"to": ["billing@mailable.test"]}', 'Hello', 'invoice', null, pg_temp.job()) $$,
  'the service role records a job''s send');
select is((select created_by from public.client_activities where metadata ->> 'ses_message_id' = 'ses-job-1'),
  tests.actor('member'), 'the worker''s activity is the job creator''s');
select is((select status || '/' || ses_message_id from public.bulk_job_items
           where job_id = pg_temp.job() and invoice_id = pg_temp.inv('DL-DRAFT')),
  'ok/ses-job-1', 'the item is ok with its message id, in the same transaction');
select throws_ok($$ select public.mark_invoice_sent(pg_temp.org(), pg_temp.inv('DL-DRAFT'), 'ses-job-2',
  '{"to": ["billing@mailable.test"]}', 'Hello', 'invoice', null, pg_temp.job()) $$,
  '23505', null, 'a job can never record a second send of one invoice');
select is((select finished_at from public.bulk_jobs where id = pg_temp.job()), null,
  'the job is not finished while an item is being sent');

-- A worker that died while emailing DL-SENT: its item is never sent again.
select tests.as_superuser();
update public.bulk_job_items set claimed_at = now() - interval '1 hour'
where job_id = pg_temp.job() and invoice_id = pg_temp.inv('DL-SENT');
select tests.authenticate_as_service_role();
select is(public.claim_bulk_items(pg_temp.org(), pg_temp.job(), array[pg_temp.inv('DL-SENT')]),
  '{}'::uuid[], 'an item left sending by a dead worker is not claimed again');
select is((select reason from public.bulk_job_items where job_id = pg_temp.job() and invoice_id = pg_temp.inv('DL-SENT')),
  'interrupted', 'it is failed as interrupted');
select isnt((select finished_at from public.bulk_jobs where id = pg_temp.job()), null,
  'the job is finished once no item is pending or sending');

select public.abandon_bulk_items(pg_temp.org('stranger'), pg_temp.job(), array[pg_temp.inv('DL-DRAFT')], 'x', 'y');
select is((select status from public.bulk_job_items where job_id = pg_temp.job() and invoice_id = pg_temp.inv('DL-DRAFT')),
  'ok', 'abandoning touches neither another organization''s job nor an item already sent');
select tests.authenticate_as('member');
insert into answers select 'job2', public.create_bulk_send(pg_temp.org(), array[pg_temp.inv('DL-SENT')], '{}', true);
select public.abandon_bulk_items(pg_temp.org(), (select (body ->> 'job_id')::uuid from answers where name = 'job2'),
  array[pg_temp.inv('DL-SENT')], 'queue_unavailable', 'the queue could not take it');
select is((select reason from public.bulk_job_items it join answers a on a.name = 'job2'
           where it.job_id = (a.body ->> 'job_id')::uuid), 'queue_unavailable', 'an abandoned pending item fails with its reason');

select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.bulk_jobs union all select 1 from public.bulk_job_items $$,
  'a stranger sees no jobs or items of the organization');

select * from finish();
rollback;
