-- =============================================================================
-- Payments, the invoice status they drive, the status rules, deletion and
-- frozen items, and the client totals that follow. Runs as an organization
-- owner (role authenticated, RLS on).
-- =============================================================================
begin;
select plan(69);

create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;
create function pg_temp.org() returns uuid
language sql stable as $$ select tests.org('main') $$;
-- A sent invoice of `total` (one item, no tax) for a client.
create function pg_temp.sent_invoice(num text, client_name text, total numeric,
                                     issued date default current_date)
returns uuid
language plpgsql as $$
declare
  new_id uuid;
begin
  insert into public.invoices (organization_id, client_id, invoice_number, issue_date)
  values (pg_temp.org(), pg_temp.client(client_name), num, issued)
  returning id into new_id;
  insert into public.invoice_items (invoice_id, description, quantity, rate)
  values (new_id, 'services', 1, total);
  update public.invoices set status = 'sent' where id = new_id;
  return new_id;
end;
$$;

select tests.create_cast();
select tests.authenticate_as('owner');

insert into public.clients (organization_id, company_name) values
  (pg_temp.org(), 'Main Client'),
  (pg_temp.org(), 'Totals Client');

-- =============================================================================
-- Partial, exact and over-payments
-- =============================================================================
select pg_temp.sent_invoice('P-1', 'Main Client', 100);

select lives_ok(
  $$ insert into public.payments (invoice_id, amount, payment_method) values (pg_temp.inv('P-1'), 30, 'cash') $$,
  'a partial payment is accepted'
);
select results_eq(
  $$ select status, amount_paid, balance_due, paid_at is null from public.invoices where id = pg_temp.inv('P-1') $$,
  $$ values ('sent'::text, 30.00, 70.00, true) $$,
  'after a partial payment the invoice is still sent, with a balance'
);
insert into public.payments (invoice_id, amount, reference_number) values (pg_temp.inv('P-1'), 20, 'second');
select results_eq(
  $$ select status, amount_paid, balance_due from public.invoices where id = pg_temp.inv('P-1') $$,
  $$ values ('sent'::text, 50.00, 50.00) $$,
  'a second partial payment adds up'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount, reference_number) values (pg_temp.inv('P-1'), 50, 'last') $$,
  'a payment of exactly the balance is accepted'
);
select results_eq(
  $$ select status, amount_paid, balance_due, paid_at is not null from public.invoices where id = pg_temp.inv('P-1') $$,
  $$ values ('paid'::text, 100.00, 0.00, true) $$,
  'paying the balance makes the invoice paid, with paid_at set'
);
select results_eq(
  $$ select organization_id, currency, created_by from public.payments where invoice_id = pg_temp.inv('P-1') limit 1 $$,
  $$ select pg_temp.org(), 'USD'::text, tests.actor('owner') $$,
  'a payment takes its organization and currency from the invoice, and its author from the JWT'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-1'), 0.01) $$,
  '23514', null, 'a paid invoice accepts no further payment'
);

select pg_temp.sent_invoice('P-2', 'Main Client', 100);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), 100.01) $$,
  '23514', null, 'a payment above the total is rejected'
);
select results_eq(
  $$ select (select count(*)::int from public.payments where invoice_id = i.id),
            (select count(*)::int from public.client_activities
             where type = 'payment' and metadata ->> 'invoice_id' = i.id::text),
            i.amount_paid, i.status
     from public.invoices i where i.id = pg_temp.inv('P-2') $$,
  $$ values (0, 0, 0.00, 'sent'::text) $$,
  'the rejected over-payment wrote nothing: no payment, no activity, no amount paid'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), 60) $$,
  'a first payment of 60 on 100 is accepted'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), 50) $$,
  '23514', null, 'a second payment taking the sum past the total is rejected'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), 20), (pg_temp.inv('P-2'), 20.01) $$,
  '23514', null, 'two payments in one statement summing past the balance are rejected'
);
select results_eq(
  $$ select amount_paid, (select sum(amount) from public.payments where invoice_id = pg_temp.inv('P-2'))
     from public.invoices where id = pg_temp.inv('P-2') $$,
  $$ values (60.00, 60.00) $$,
  'amount_paid stays the sum of the payments that were accepted'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), 0) $$,
  '23514', null, 'a zero payment is rejected'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-2'), -10) $$,
  '23514', null, 'a negative payment is rejected'
);
select throws_ok(
  $$ update public.invoices set amount_paid = 100 where id = pg_temp.inv('P-2') $$,
  '42501', null, 'amount_paid cannot be written by the API role'
);

-- =============================================================================
-- Updating and deleting payments
-- =============================================================================
select lives_ok(
  $$ update public.payments set amount = 100 where invoice_id = pg_temp.inv('P-2') $$,
  'a payment''s amount can be raised to the total'
);
select results_eq(
  $$ select status, amount_paid, paid_at is not null from public.invoices where id = pg_temp.inv('P-2') $$,
  $$ values ('paid'::text, 100.00, true) $$,
  'raising the payment to the total makes the invoice paid'
);
select lives_ok(
  $$ update public.payments set amount = 40 where invoice_id = pg_temp.inv('P-2') $$,
  'a payment''s amount can be lowered'
);
select results_eq(
  $$ select status, amount_paid, balance_due, paid_at is null from public.invoices where id = pg_temp.inv('P-2') $$,
  $$ values ('sent'::text, 40.00, 60.00, true) $$,
  'lowering the payment reopens the invoice (sent, paid_at cleared)'
);
select throws_ok(
  $$ update public.payments set amount = 100.01 where invoice_id = pg_temp.inv('P-2') $$,
  '23514', null, 'a payment cannot be raised past the total'
);
select throws_ok(
  $$ update public.payments set amount = 40.001 where invoice_id = pg_temp.inv('P-2') $$,
  '23514', null, 'a payment cannot be changed to an amount with too many decimals'
);
select lives_ok(
  $$ update public.payments set notes = 'wire', payment_method = 'check' where invoice_id = pg_temp.inv('P-2') $$,
  'notes and method of a payment can change'
);
select is(
  (select amount_paid from public.invoices where id = pg_temp.inv('P-2')), 40.00::numeric,
  'changing a payment''s notes leaves amount_paid alone'
);

select lives_ok(
  $$ delete from public.payments where invoice_id = pg_temp.inv('P-1') and reference_number = 'last' $$,
  'a payment of a paid invoice can be deleted'
);
select results_eq(
  $$ select status, amount_paid, balance_due, paid_at is null from public.invoices where id = pg_temp.inv('P-1') $$,
  $$ values ('sent'::text, 50.00, 50.00, true) $$,
  'deleting a payment takes a paid invoice back to sent'
);

select pg_temp.sent_invoice('P-3', 'Main Client', 80, current_date - 40);
update public.invoices set due_date = current_date - 10 where id = pg_temp.inv('P-3');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-3'), 80);
select is(
  (select status from public.invoices where id = pg_temp.inv('P-3')), 'paid',
  'a past-due invoice paid in full is paid'
);
delete from public.payments where invoice_id = pg_temp.inv('P-3');
select results_eq(
  $$ select status, amount_paid, balance_due from public.invoices where id = pg_temp.inv('P-3') $$,
  $$ values ('overdue'::text, 0.00, 80.00) $$,
  'deleting the payment of a past-due invoice makes it overdue'
);
select lives_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('P-3'), 80) $$,
  'an overdue invoice accepts payments'
);
select is(
  (select status from public.invoices where id = pg_temp.inv('P-3')), 'paid',
  'paying an overdue invoice in full makes it paid'
);

-- =============================================================================
-- Drafts and cancelled invoices
-- =============================================================================
insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org(), pg_temp.client('Main Client'), 'DR-1');
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('DR-1'), 'draft work', 1, 100);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('DR-1'), 10) $$,
  '23514', null, 'a draft invoice accepts no payment'
);
select throws_ok(
  $$ update public.invoices set status = 'overdue' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a draft cannot become overdue without being sent'
);
select throws_ok(
  $$ update public.invoices set status = 'paid' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a draft cannot be marked paid by hand'
);
select is(
  (select sent_at from public.invoices where id = pg_temp.inv('DR-1')), null,
  'a draft has no sent_at'
);
select lives_ok(
  $$ update public.invoices set status = 'sent' where id = pg_temp.inv('DR-1') $$,
  'draft -> sent'
);
select isnt(
  (select sent_at from public.invoices where id = pg_temp.inv('DR-1')), null,
  'sending sets sent_at'
);
select throws_ok(
  $$ update public.invoices set status = 'draft' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a sent invoice cannot go back to draft'
);
select throws_ok(
  $$ update public.invoices set status = 'paid' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'an invoice with a balance cannot be marked paid by hand'
);
select lives_ok(
  $$ update public.invoices set status = 'overdue' where id = pg_temp.inv('DR-1') $$,
  'sent -> overdue'
);
select lives_ok(
  $$ update public.invoices set status = 'cancelled' where id = pg_temp.inv('DR-1') $$,
  'overdue -> cancelled when nothing has been paid'
);
select isnt(
  (select cancelled_at from public.invoices where id = pg_temp.inv('DR-1')), null,
  'cancelling sets cancelled_at'
);
select throws_ok(
  $$ update public.invoices set status = 'sent' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a cancelled invoice cannot be sent again'
);
select throws_ok(
  $$ update public.invoices set status = 'draft' where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a cancelled invoice cannot go back to draft'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('DR-1'), 10) $$,
  '23514', null, 'a cancelled invoice accepts no payment'
);

select throws_ok(
  $$ update public.invoices set status = 'cancelled' where id = pg_temp.inv('P-2') $$,
  '23514', null, 'an invoice with payments cannot be cancelled'
);
select is(
  (select status from public.invoices where id = pg_temp.inv('P-2')), 'sent',
  'the invoice whose cancellation was refused is still sent'
);

-- Only drafts are deleted.
insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org(), pg_temp.client('Main Client'), 'DEL-1');
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('DEL-1'), 'to be deleted', 2, 5);
select throws_ok(
  $$ delete from public.invoices where id = pg_temp.inv('P-2') $$,
  '23514', null, 'a sent invoice cannot be deleted'
);
select throws_ok(
  $$ delete from public.invoices where id = pg_temp.inv('DR-1') $$,
  '23514', null, 'a cancelled invoice cannot be deleted'
);
select throws_ok(
  $$ delete from public.invoices where id = pg_temp.inv('P-3') $$,
  '23514', null, 'a paid invoice cannot be deleted'
);
select lives_ok(
  $$ delete from public.invoices where invoice_number = 'DEL-1' $$,
  'a draft invoice can be deleted'
);
select is(
  (select count(*)::int from public.invoice_items where description = 'to be deleted'), 0,
  'deleting a draft deletes its items'
);

-- =============================================================================
-- Items of paid and cancelled invoices are frozen
-- =============================================================================
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate) values (pg_temp.inv('P-3'), 'extra', 1, 1) $$,
  '23514', null, 'no item can be added to a paid invoice'
);
select throws_ok(
  $$ update public.invoice_items set description = 'changed' where invoice_id = pg_temp.inv('P-3') $$,
  '23514', null, 'no item of a paid invoice can change'
);
select throws_ok(
  $$ delete from public.invoice_items where invoice_id = pg_temp.inv('P-3') $$,
  '23514', null, 'no item of a paid invoice can be deleted'
);
select throws_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate) values (pg_temp.inv('DR-1'), 'extra', 1, 1) $$,
  '23514', null, 'no item can be added to a cancelled invoice'
);
select throws_ok(
  $$ update public.invoice_items set rate = 1 where invoice_id = pg_temp.inv('DR-1') $$,
  '23514', null, 'no item of a cancelled invoice can change'
);
select throws_ok(
  $$ delete from public.invoice_items where invoice_id = pg_temp.inv('DR-1') $$,
  '23514', null, 'no item of a cancelled invoice can be deleted'
);
select lives_ok(
  $$ insert into public.invoice_items (invoice_id, description, quantity, rate) values (pg_temp.inv('P-2'), 'extra', 1, 10) $$,
  'an item can still be added to a sent invoice'
);
select results_eq(
  $$ select total_amount, amount_paid, balance_due, status from public.invoices where id = pg_temp.inv('P-2') $$,
  $$ values (110.00, 40.00, 70.00, 'sent'::text) $$,
  'and the balance grows with it'
);

-- =============================================================================
-- Client totals with several invoices and several payments each
-- =============================================================================
select pg_temp.sent_invoice('CT-X', 'Totals Client', 100, current_date - 60);
select pg_temp.sent_invoice('CT-Y', 'Totals Client', 200, current_date - 30);
select pg_temp.sent_invoice('CT-Z', 'Totals Client', 300, current_date - 20);
insert into public.invoices (organization_id, client_id, invoice_number, issue_date)
values (pg_temp.org(), pg_temp.client('Totals Client'), 'CT-D', current_date);
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('CT-D'), 'draft', 1, 1000);
select pg_temp.sent_invoice('CT-K', 'Totals Client', 70, current_date - 1);
update public.invoices set status = 'cancelled' where id = pg_temp.inv('CT-K');

select lives_ok($$
  insert into public.payments (invoice_id, amount) values
    (pg_temp.inv('CT-X'), 30), (pg_temp.inv('CT-X'), 20),
    (pg_temp.inv('CT-Y'), 50), (pg_temp.inv('CT-Y'), 50), (pg_temp.inv('CT-Y'), 50),
    (pg_temp.inv('CT-Z'), 150)
$$, 'six payments on three invoices in one statement');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('CT-Z'), 150);

select results_eq(
  $$ select invoice_number, status, amount_paid, balance_due from public.invoices
     where client_id = pg_temp.client('Totals Client') order by invoice_number $$,
  $$ values ('CT-D'::text, 'draft'::text, 0.00, 1000.00),
            ('CT-K', 'cancelled', 0.00, 70.00),
            ('CT-X', 'sent', 50.00, 50.00),
            ('CT-Y', 'sent', 150.00, 50.00),
            ('CT-Z', 'paid', 300.00, 0.00) $$,
  'each invoice''s amount_paid is the sum of its own payments'
);
select results_eq(
  $$ select total_billed, outstanding_balance, last_invoice_date from public.clients
     where id = pg_temp.client('Totals Client') $$,
  $$ values (600.00, 100.00, current_date - 20) $$,
  'client totals: billed 100+200+300 (no draft, no cancelled), outstanding 50+50 (each invoice once), last issued 20 days ago'
);
select is(
  (select outstanding_balance from public.clients where id = pg_temp.client('Totals Client')),
  (select sum(balance_due) from public.invoices
   where client_id = pg_temp.client('Totals Client') and status in ('sent', 'overdue')),
  'outstanding_balance is the sum of the open invoices'' balances'
);
delete from public.payments where invoice_id = pg_temp.inv('CT-Y') and amount = 50
  and id = (select id from public.payments where invoice_id = pg_temp.inv('CT-Y') limit 1);
select results_eq(
  $$ select total_billed, outstanding_balance from public.clients where id = pg_temp.client('Totals Client') $$,
  $$ values (600.00, 150.00) $$,
  'deleting one payment raises the outstanding balance by its amount'
);
delete from public.payments where invoice_id = pg_temp.inv('CT-Z')
  and id = (select id from public.payments where invoice_id = pg_temp.inv('CT-Z') limit 1);
select results_eq(
  $$ select total_billed, outstanding_balance from public.clients where id = pg_temp.client('Totals Client') $$,
  $$ values (600.00, 300.00) $$,
  'reopening a paid invoice puts its balance back in the outstanding balance'
);
update public.invoices set status = 'sent' where id = pg_temp.inv('CT-D');
select results_eq(
  $$ select total_billed, outstanding_balance, last_invoice_date from public.clients
     where id = pg_temp.client('Totals Client') $$,
  $$ values (1600.00, 1300.00, current_date) $$,
  'sending the draft adds it to the totals and moves last_invoice_date'
);
select throws_ok(
  $$ update public.clients set outstanding_balance = 0 where id = pg_temp.client('Totals Client') $$,
  '42501', null, 'the API role cannot write a client''s derived totals'
);

-- =============================================================================
-- The client's timeline
-- =============================================================================
select results_eq(
  $$ select count(*)::int, sum((metadata ->> 'amount')::numeric) from public.client_activities
     where client_id = pg_temp.client('Totals Client') and type = 'payment' $$,
  $$ values (7, 500.00) $$,
  'every recorded payment wrote a payment activity on the client''s timeline'
);
select results_eq(
  $$ select a.activity, a.created_by, a.metadata ->> 'currency', a.metadata ->> 'payment_method'
     from public.client_activities a
     where a.client_id = pg_temp.client('Main Client') and a.type = 'payment'
       and a.metadata ->> 'invoice_id' = pg_temp.inv('P-1')::text
     order by a."timestamp", a.metadata ->> 'amount' limit 1 $$,
  $$ values ('Payment of 20.00 USD received for invoice P-1'::text, tests.actor('owner'), 'USD'::text, 'bank_transfer'::text) $$,
  'a payment activity names amount, currency and invoice, and who recorded it'
);

select * from finish();
rollback;
