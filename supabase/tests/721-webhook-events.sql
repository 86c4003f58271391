-- =============================================================================
-- Webhook events (20261206130300_webhooks_and_api_keys.sql): each of the twelve
-- event types is emitted by the change it names, once per change, with the row as
-- committed, and only at the commit (the deferred triggers are fired here with SET
-- CONSTRAINTS ALL IMMEDIATE). Run as the superuser: the RPCs act for any
-- organization without a JWT, as migrations and psql do.
-- =============================================================================
begin;
select plan(9);

select tests.create_cast();

select public.create_webhook_endpoint(tests.org('main'), 'https://hooks.example.com/all', array[
  'invoice.created', 'invoice.sent', 'invoice.paid', 'invoice.overdue', 'invoice.cancelled',
  'payment.recorded', 'payment.refunded', 'quote.accepted', 'credit_note.issued',
  'client.created', 'reconciliation.exception_opened', 'reconciliation.exception_resolved']);

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000722', tests.org('main'), 'Event client', 'USD');

-- An invoice sent and paid; one past due made overdue by the job; one draft cancelled.
insert into public.invoices (id, organization_id, client_id, currency, issue_date, due_date) values
  ('10000000-0000-4000-8000-7e5700000722', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000722', 'USD',
   current_date, current_date + 30),
  ('10000000-0000-4000-8000-7e5700000723', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000722', 'USD',
   current_date - 40, current_date - 10),
  ('10000000-0000-4000-8000-7e5700000724', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000722', 'USD',
   current_date, current_date + 30);
insert into public.invoice_items (organization_id, invoice_id, currency, description, quantity, rate)
select tests.org('main'), id, 'USD', 'Work', 1, 50 from public.invoices
where id in ('10000000-0000-4000-8000-7e5700000722', '10000000-0000-4000-8000-7e5700000723',
             '10000000-0000-4000-8000-7e5700000724');
update public.invoices set status = 'sent'
where id in ('10000000-0000-4000-8000-7e5700000722', '10000000-0000-4000-8000-7e5700000723');
update public.invoices set status = 'cancelled' where id = '10000000-0000-4000-8000-7e5700000724';
select public.job_mark_overdue();
insert into public.payments (id, organization_id, invoice_id, currency, amount) values
  ('e0000000-0000-4000-8000-7e5700000722', tests.org('main'), '10000000-0000-4000-8000-7e5700000722', 'USD', 50);
set constraints all immediate;
set constraints all deferred;

select is(
  (select payload ->> 'total_amount' from public.webhook_events where type = 'invoice.created'
   and payload ->> 'id' = '10000000-0000-4000-8000-7e5700000722'),
  '50.00', 'invoice.created carries the invoice as committed, its items totalled');
select results_eq(
  $$ select type, count(*)::int from public.webhook_events
     where type like 'invoice.%' or type like 'payment.%' or type = 'client.created'
     group by type order by type $$,
  $$ values ('client.created', 1), ('invoice.cancelled', 1), ('invoice.created', 3),
            ('invoice.overdue', 1), ('invoice.paid', 1), ('invoice.sent', 2),
            ('payment.recorded', 1) $$,
  'created (3), sent (2), overdue by the job, cancelled, paid, the payment and the client: once each');

-- A refund from the payment; a credit note on the overdue invoice.
select public.record_refund(tests.org('main'),
  jsonb_build_object('payment_id', 'e0000000-0000-4000-8000-7e5700000722', 'amount', 5));
select public.create_credit_note(tests.org('main'), '10000000-0000-4000-8000-7e5700000723',
  jsonb_build_object('kind', 'amount', 'amount', 5, 'reason', 'Goodwill'));
set constraints all immediate;
set constraints all deferred;
select is((select payload ->> 'amount' from public.webhook_events where type = 'payment.refunded'), '5.00',
  'payment.refunded carries the refund');
select is((select payload ->> 'reason' from public.webhook_events where type = 'credit_note.issued'), 'Goodwill',
  'credit_note.issued carries the credit note');
select is((select count(*)::int from public.webhook_events where type = 'invoice.paid'), 1,
  'an invoice reopened by a refund is not paid again');

-- A quote sent, then accepted.
select public.create_quote(tests.org('main'),
  jsonb_build_object('client_id', 'c0000000-0000-4000-8000-7e5700000722'),
  jsonb_build_array(jsonb_build_object('description', 'Offer', 'quantity', 1, 'rate', 80)));
update public.quotes set status = 'sent', sent_at = now() where organization_id = tests.org('main');
select public.decide_quote(tests.org('main'), (select id from public.quotes where organization_id = tests.org('main') limit 1), 'accepted');
set constraints all immediate;
set constraints all deferred;
select is((select payload ->> 'status' from public.webhook_events where type = 'quote.accepted'), 'accepted',
  'quote.accepted when the quote is accepted, not when it is created or sent');

-- Reconciliation: a vendor invoice naming no purchase order opens a missing_po
-- exception; dismissing it resolves it.
insert into public.vendors (id, organization_id, name) values
  ('f0000000-0000-4000-8000-7e5700000722', tests.org('main'), 'Event Vendor');
insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
  invoice_date, po_number, currency, subtotal, total_amount) values
  ('f1000000-0000-4000-8000-7e5700000722', tests.org('main'), 'f0000000-0000-4000-8000-7e5700000722',
   'Event Vendor', 'EV-1', current_date, 'NO-SUCH-PO', 'USD', 10, 10);
insert into public.vendor_invoice_lines (organization_id, vendor_invoice_id, currency, line_number,
  description, quantity, unit_price, amount) values
  (tests.org('main'), 'f1000000-0000-4000-8000-7e5700000722', 'USD', 1, 'Work', 1, 10, 10);
select public.match_vendor_invoices(tests.org('main'), array['f1000000-0000-4000-8000-7e5700000722']::uuid[]);
set constraints all immediate;
set constraints all deferred;
select ok((select count(*) from public.webhook_events where type = 'reconciliation.exception_opened') >= 1,
  'a new exception: reconciliation.exception_opened');
update public.reconciliation_exceptions set status = 'dismissed', resolution = 'dismissed',
  resolved_at = now() where vendor_invoice_id = 'f1000000-0000-4000-8000-7e5700000722';
set constraints all immediate;
set constraints all deferred;
select is(
  (select count(*)::int from public.webhook_events where type = 'reconciliation.exception_resolved'),
  (select count(*)::int from public.webhook_events where type = 'reconciliation.exception_opened'),
  'each dismissed exception: reconciliation.exception_resolved');

select is(
  (select count(*)::int from public.webhook_events e
   where (select count(*) from public.webhook_deliveries d where d.event_id = e.id) <> 1),
  0, 'every event has exactly one delivery for the one endpoint');

select * from finish();
rollback;
