-- =============================================================================
-- The payment RPCs of the HTTP API: record_payment, update_payment and
-- delete_payment answer with the payment and the invoice's new amount_paid,
-- balance_due and status; refuse drafts, cancelled invoices and overpayments
-- with a message naming the balance; check dates, methods and lengths; treat
-- another organization's invoices and payments as missing; and need the member
-- role. Runs as the users themselves (role authenticated, RLS on).
-- =============================================================================
begin;
select plan(53);

select tests.create_cast();

create function pg_temp.org(who text default 'owner') returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.inv(num text) returns uuid
language sql stable security definer set search_path = '' as $$
  select id from public.invoices where invoice_number = num $$;
grant execute on function pg_temp.inv(text) to authenticated;

-- As the superuser: a client in each organization; invoices of 100.00 (one sent,
-- one past due, one draft, one cancelled) and one of 5000 JPY; one stranger invoice.
insert into public.clients (id, organization_id, company_name, currency) values
  ('c2200000-0000-4000-8000-000000000001', pg_temp.org(), 'API Client', 'USD'),
  ('c2200000-0000-4000-8000-000000000002', pg_temp.org(), 'Yen Client', 'JPY'),
  ('c2200000-0000-4000-8000-000000000003', pg_temp.org('stranger'), 'Other Client', 'USD');
insert into public.invoices (organization_id, client_id, invoice_number, issue_date, due_date) values
  (pg_temp.org(), 'c2200000-0000-4000-8000-000000000001', 'PA-SENT', current_date, current_date + 30),
  (pg_temp.org(), 'c2200000-0000-4000-8000-000000000001', 'PA-LATE', current_date - 60, current_date - 30),
  (pg_temp.org(), 'c2200000-0000-4000-8000-000000000001', 'PA-DRAFT', current_date, current_date + 30),
  (pg_temp.org(), 'c2200000-0000-4000-8000-000000000001', 'PA-CANCEL', current_date, current_date + 30),
  (pg_temp.org(), 'c2200000-0000-4000-8000-000000000002', 'PA-YEN', current_date, current_date + 30),
  (pg_temp.org('stranger'), 'c2200000-0000-4000-8000-000000000003', 'PA-OTHER', current_date, current_date + 30);
insert into public.invoice_items (invoice_id, description, quantity, rate)
select id, 'work', 1, case when currency = 'JPY' then 5000 else 100 end from public.invoices
where invoice_number like 'PA-%';
update public.invoices set status = 'sent'
where invoice_number in ('PA-SENT', 'PA-LATE', 'PA-YEN', 'PA-OTHER', 'PA-CANCEL');
update public.invoices set status = 'cancelled' where invoice_number = 'PA-CANCEL';

select tests.authenticate_as('owner');

-- record_payment -----------------------------------------------------------------
create temporary table answers (name text primary key, body jsonb) on commit drop;
grant all on answers to authenticated;

insert into answers
select 'first', public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 40, current_date - 1,
                                      'cash', '  REF-1 ', '');
select is((select body ->> 'amount' from answers where name = 'first'), '40.00',
  'record_payment answers with the amount at the currency''s scale');
select is((select body ->> 'currency' from answers where name = 'first'), 'USD',
  'the payment takes the invoice''s currency');
select is((select body ->> 'reference_number' from answers where name = 'first'), 'REF-1',
  'the reference is trimmed');
select is((select body -> 'notes' from answers where name = 'first'), 'null'::jsonb,
  'an empty note is stored as null');
select is((select body ->> 'payment_method' from answers where name = 'first'), 'cash',
  'the method is kept');
select results_eq(
  $$ select body -> 'invoice' ->> 'status', (body -> 'invoice' ->> 'amount_paid')::numeric,
            (body -> 'invoice' ->> 'balance_due')::numeric, body -> 'invoice' ->> 'invoice_number',
            body -> 'invoice' -> 'client' ->> 'company_name'
     from answers where name = 'first' $$,
  $$ values ('sent'::text, 40.00, 60.00, 'PA-SENT'::text, 'API Client'::text) $$,
  'the answer carries the invoice''s new amount paid, balance and status, and its client'
);
select results_eq(
  $$ select amount, payment_date, created_by from public.payments
     where id = (select (body ->> 'id')::uuid from answers where name = 'first') $$,
  $$ values (40.00, current_date - 1, tests.actor('owner')) $$,
  'the payment is stored, authored by the caller'
);

insert into answers
select 'default', public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 10);
select results_eq(
  $$ select body ->> 'payment_method', (body ->> 'payment_date')::date from answers where name = 'default' $$,
  $$ values ('bank_transfer'::text, current_date) $$,
  'method and date default to bank_transfer and today'
);

select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 50.01) $$,
  '23514', 'a payment of 50.01 USD is more than the balance due of 50.00 USD on invoice PA-SENT',
  'an overpayment is refused with a message naming the balance'
);
select is(
  (select amount_paid from public.invoices where id = pg_temp.inv('PA-SENT')), 50.00::numeric,
  'the refused overpayment changed nothing'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 10.001) $$,
  '23514', 'payment amount has more decimals than USD allows',
  'an amount with more decimals than the currency has is refused'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-YEN'), 10.5) $$,
  '23514', 'payment amount has more decimals than JPY allows',
  'JPY takes no decimals'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 0) $$,
  '23514', 'a payment amount must be greater than zero', 'a zero amount is refused'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), -5) $$,
  '23514', 'a payment amount must be greater than zero', 'a negative amount is refused'
);
select throws_like(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 5, current_date + 2) $$,
  '%is in the future%', 'a payment dated two days ahead is refused'
);
select lives_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 1, current_date + 1) $$,
  'a payment dated tomorrow (another time zone) is accepted'
);
select throws_like(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 5, date '1999-12-31') $$,
  '%before 2000-01-01%', 'a payment dated before 2000 is refused'
);
select throws_like(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 5, null, 'bitcoin') $$,
  'payment_method must be one of%', 'an unknown method is refused'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 5, null, null, repeat('x', 101)) $$,
  '23514', 'reference_number is longer than 100 characters', 'a long reference is refused'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 5, null, null, null, repeat('x', 2001)) $$,
  '23514', 'notes are longer than 2000 characters', 'long notes are refused'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-DRAFT'), 5) $$,
  '23514', 'invoice PA-DRAFT is a draft; send it before recording payments', 'a draft takes no payment'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-CANCEL'), 5) $$,
  '23514', 'invoice PA-CANCEL is cancelled and cannot receive payments',
  'a cancelled invoice takes no payment'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-OTHER'), 5) $$,
  'P0002', 'invoice not found', 'another organization''s invoice is not found'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), 'e2200000-0000-4000-8000-00000000dead', 5) $$,
  'P0002', 'invoice not found', 'a missing invoice is not found'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org('stranger'), pg_temp.inv('PA-OTHER'), 5) $$,
  '42501', null, 'nobody records payments in an organization they do not belong to'
);

-- Paying the rest makes the invoice paid; nothing more is accepted.
insert into answers
select 'rest', public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 49);
select results_eq(
  $$ select body -> 'invoice' ->> 'status', (body -> 'invoice' ->> 'balance_due')::numeric
     from answers where name = 'rest' $$,
  $$ values ('paid'::text, 0.00) $$,
  'paying the balance answers with a paid invoice and nothing due'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-SENT'), 0.01) $$,
  '23514', 'invoice PA-SENT is already paid in full', 'a paid invoice takes no more'
);

-- update_payment -------------------------------------------------------------------
insert into answers
select 'less', public.update_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'rest'),
                                     '{"amount": "39"}');
select results_eq(
  $$ select (body ->> 'amount')::numeric, body -> 'invoice' ->> 'status',
            (body -> 'invoice' ->> 'amount_paid')::numeric, (body -> 'invoice' ->> 'balance_due')::numeric
     from answers where name = 'less' $$,
  $$ values (39.00, 'sent'::text, 90.00, 10.00) $$,
  'lowering a payment reopens the invoice with the exact balance'
);
select throws_ok(
  format($$ select public.update_payment(%L, %L, '{"amount": 49.01}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'rest')),
  '23514', 'a payment of 49.01 USD is more than the balance due of 49.00 USD on invoice PA-SENT',
  'raising a payment past the balance names the room it has (balance plus its own amount)'
);
select lives_ok(
  format($$ select public.update_payment(%L, %L, '{"amount": 49}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'rest')),
  'raising a payment to exactly its room is accepted'
);
select is(
  (select status from public.invoices where id = pg_temp.inv('PA-SENT')), 'paid',
  'and the invoice is paid again'
);
insert into answers
select 'notes', public.update_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'first'),
                                      '{"notes": "paid at the desk", "reference_number": null, "payment_method": "check"}');
select results_eq(
  $$ select body ->> 'notes', body -> 'reference_number', body ->> 'payment_method', (body ->> 'amount')::numeric
     from answers where name = 'notes' $$,
  $$ values ('paid at the desk'::text, 'null'::jsonb, 'check'::text, 40.00) $$,
  'notes, reference and method of a payment on a paid invoice can change; null clears, absent keeps'
);
select throws_ok(
  format($$ select public.update_payment(%L, %L, '{"invoice_id": %s}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'first'), to_json(pg_temp.inv('PA-LATE'))::text),
  '22023', 'a payment has no changeable field invoice_id', 'a payment cannot move to another invoice'
);
select throws_ok(
  format($$ select public.update_payment(%L, %L, '{"amount": null}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'first')),
  '23514', 'a payment amount must be greater than zero', 'the amount cannot be cleared'
);
select throws_like(
  format($$ select public.update_payment(%L, %L, '{"payment_date": "2999-01-01"}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'first')),
  '%is in the future%', 'a change checks the date too'
);
select throws_ok(
  $$ select public.update_payment(pg_temp.org(), 'd2200000-0000-4000-8000-00000000dead', '{"notes": "x"}') $$,
  'P0002', 'payment not found', 'updating a missing payment: not found'
);
insert into answers
select 'same', public.update_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'first'), '{}');
select is(
  (select body ->> 'updated_at' from answers where name = 'same'),
  (select body ->> 'updated_at' from answers where name = 'notes'),
  'an empty change writes nothing'
);

-- delete_payment -------------------------------------------------------------------
insert into answers
select 'deleted', public.delete_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'rest'));
select results_eq(
  $$ select (body ->> 'amount')::numeric, body -> 'invoice' ->> 'status',
            (body -> 'invoice' ->> 'amount_paid')::numeric, (body -> 'invoice' ->> 'balance_due')::numeric
     from answers where name = 'deleted' $$,
  $$ values (49.00, 'sent'::text, 51.00, 49.00) $$,
  'deleting a payment answers with it and the reopened invoice'
);
select is_empty(
  $$ select 1 from public.payments where id = (select (body ->> 'id')::uuid from answers where name = 'deleted') $$,
  'the payment is gone'
);
select throws_ok(
  $$ select public.delete_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'deleted')) $$,
  'P0002', 'payment not found', 'deleting it again: not found'
);

-- A past-due invoice goes back to overdue when its payment is removed.
insert into answers
select 'late', public.record_payment(pg_temp.org(), pg_temp.inv('PA-LATE'), 100);
select is((select body -> 'invoice' ->> 'status' from answers where name = 'late'), 'paid',
  'paying a past-due invoice in full makes it paid');
select is(
  public.delete_payment(pg_temp.org(), (select (body ->> 'id')::uuid from answers where name = 'late'))
    -> 'invoice' ->> 'status',
  'overdue', 'removing the payment makes it overdue again'
);

-- JPY amounts keep no decimals.
select is(
  public.record_payment(pg_temp.org(), pg_temp.inv('PA-YEN'), 1500) ->> 'amount', '1500',
  'a JPY payment has no decimals'
);

-- Other organizations and roles -------------------------------------------------------
select tests.authenticate_as('stranger');
select throws_ok(
  format($$ select public.update_payment(%L, %L, '{"notes": "mine"}') $$, pg_temp.org('stranger'),
         (select body ->> 'id' from answers where name = 'first')),
  'P0002', 'payment not found', 'a stranger cannot change the payment: it is not found'
);
select throws_ok(
  format($$ select public.delete_payment(%L, %L) $$, pg_temp.org('stranger'),
         (select body ->> 'id' from answers where name = 'first')),
  'P0002', 'payment not found', 'a stranger cannot delete the payment: it is not found'
);
select throws_ok(
  format($$ select public.delete_payment(%L, %L) $$, pg_temp.org('owner'),
         (select body ->> 'id' from answers where name = 'first')),
  '42501', null, 'naming the other organization does not help a stranger'
);
select throws_ok(
  $$ select public.record_payment(pg_temp.org('stranger'), pg_temp.inv('PA-SENT'), 1) $$,
  'P0002', 'invoice not found', 'nor can the stranger pay the owner''s invoice from their own organization'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-LATE'), 1) $$,
  '42501', 'recording payments needs the member role or above', 'a viewer cannot record payments'
);
select throws_ok(
  format($$ select public.update_payment(%L, %L, '{"notes": "viewer"}') $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'first')),
  '42501', 'changing payments needs the member role or above', 'a viewer cannot change payments'
);
select throws_ok(
  format($$ select public.delete_payment(%L, %L) $$, pg_temp.org(),
         (select body ->> 'id' from answers where name = 'first')),
  '42501', 'deleting payments needs the member role or above', 'a viewer cannot delete payments'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.record_payment(pg_temp.org(), pg_temp.inv('PA-LATE'), 1) $$,
  '42501', null, 'anon cannot call record_payment'
);

-- Catalog -------------------------------------------------------------------------
select tests.as_superuser();
select ok(
  not (select p.prosecdef from pg_catalog.pg_proc p where p.oid = 'public.record_payment(uuid, uuid, numeric, date, text, text, text)'::regprocedure)
  and not (select p.prosecdef from pg_catalog.pg_proc p where p.oid = 'public.update_payment(uuid, uuid, jsonb)'::regprocedure)
  and not (select p.prosecdef from pg_catalog.pg_proc p where p.oid = 'public.delete_payment(uuid, uuid)'::regprocedure),
  'the payment RPCs are security invoker, so RLS applies'
);
select ok(
  has_function_privilege('authenticated', 'public.record_payment(uuid, uuid, numeric, date, text, text, text)', 'execute')
  and not has_function_privilege('anon', 'public.record_payment(uuid, uuid, numeric, date, text, text, text)', 'execute'),
  'authenticated may call record_payment, anon may not'
);

select * from finish();
rollback;
