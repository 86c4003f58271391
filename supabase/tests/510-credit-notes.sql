-- =============================================================================
-- Credit notes, refunds and client credit (migration 20261206110200): RLS on the
-- five new tables (every member reads, nobody writes them directly, strangers
-- and anon see nothing), the RPCs' roles, and the money rules: a credit never
-- above what is left, the excess to client credit, a whole credit note
-- cancelling a paid invoice, refunds and applications within their bounds,
-- balance_due = total - paid - credited.
-- =============================================================================
begin;
select plan(38);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000511', tests.org('main'), 'Credit Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000512', tests.org('other'), 'Stranger Client', 'USD');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000511', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511', 'CR-1'),
  ('e0000000-0000-4000-8000-7e5700000513', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511', 'CR-2'),
  ('e0000000-0000-4000-8000-7e5700000512', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000512', 'S-1');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000511', 'Work', 1, 100),
  ('e0000000-0000-4000-8000-7e5700000513', 'More work', 1, 50),
  ('e0000000-0000-4000-8000-7e5700000512', 'Stranger work', 1, 100);
update public.invoices set status = 'sent' where id in (
  'e0000000-0000-4000-8000-7e5700000511', 'e0000000-0000-4000-8000-7e5700000512',
  'e0000000-0000-4000-8000-7e5700000513');
insert into public.payments (id, invoice_id, amount) values
  ('d0000000-0000-4000-8000-7e5700000511', 'e0000000-0000-4000-8000-7e5700000511', 80);

create function pg_temp.invoice_money(invoice uuid)
returns text
language sql
security definer
set search_path = ''
as $$
  select concat_ws(' ', i.status, i.amount_paid, i.amount_credited, i.balance_due)
  from public.invoices i where i.id = invoice
$$;
create function pg_temp.credit_of(client uuid)
returns numeric
language sql
security definer
set search_path = ''
as $$
  select coalesce((select b.balance from public.client_credit_balances b where b.client_id = client), 0)
$$;
grant execute on function pg_temp.invoice_money(uuid), pg_temp.credit_of(uuid)
  to anon, authenticated, service_role;

-- Roles -----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "amount", "amount": 10}') $$,
  '42501', 'your role may not issue credit notes in this organization',
  'a viewer cannot issue a credit note'
);
select throws_ok(
  $$ select public.record_refund(tests.org('main'), '{"client_id": "c0000000-0000-4000-8000-7e5700000511", "amount": 1}') $$,
  '42501', null, 'a viewer cannot record a refund'
);
select throws_ok(
  $$ select public.apply_client_credit(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511',
                                       'e0000000-0000-4000-8000-7e5700000513', 1) $$,
  '42501', null, 'a viewer cannot apply client credit'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.create_credit_note(tests.org('other'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "whole"}') $$,
  'P0002', 'invoice not found', 'a stranger''s credit note on our invoice: not found'
);
select throws_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "whole"}') $$,
  '42501', null, 'a stranger acting in our organization is refused'
);

-- The rules, as a member ------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "amount", "amount": 100.01}') $$,
  '23514', null, 'a credit above the invoice''s total is refused'
);
select lives_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "amount", "amount": 30, "reason": "broken"}') $$,
  'a member issues a credit note of 30.00 on an invoice of 100.00 paid 80.00'
);
select is(pg_temp.invoice_money('e0000000-0000-4000-8000-7e5700000511'), 'paid 70.00 30.00 0.00',
  'the balance closes: 20.00 of the credit, and 10.00 of the payment moves to credit');
select is(pg_temp.credit_of('c0000000-0000-4000-8000-7e5700000511'), 10.00::numeric,
  'the client holds 10.00 of credit');
select is((select credit_amount from public.credit_notes
           where invoice_id = 'e0000000-0000-4000-8000-7e5700000511'), 10.00::numeric,
  'the credit note says what went to the client''s credit');
select is((select applied_amount from public.payments where id = 'd0000000-0000-4000-8000-7e5700000511'),
  70.00::numeric, 'the payment counts 70.00 on the invoice');
select throws_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "amount", "amount": 70.01}') $$,
  '23514', null, 'all credit notes together never credit more than the total'
);
select throws_ok(
  $$ delete from public.payments where id = 'd0000000-0000-4000-8000-7e5700000511' $$,
  '23514', null, 'a payment partly moved to client credit cannot be deleted'
);
select throws_ok(
  $$ update public.invoice_items set rate = 200 where invoice_id = 'e0000000-0000-4000-8000-7e5700000511' $$,
  '23514', null, 'a credited invoice keeps its total'
);
select throws_ok(
  $$ update public.invoice_items set description = 'Other work'
     where invoice_id = 'e0000000-0000-4000-8000-7e5700000511' $$,
  '23514', 'invoice CR-1 has credit notes: its items can no longer change',
  'nor its items, whose lines the credit notes name'
);
select throws_ok(
  $$ select public.apply_client_credit(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511',
                                       'e0000000-0000-4000-8000-7e5700000513', 10.01) $$,
  '23514', null, 'applying more than the client''s credit is refused'
);
select lives_ok(
  $$ select public.apply_client_credit(tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511',
                                       'e0000000-0000-4000-8000-7e5700000513', 4) $$,
  'a member applies 4.00 of credit to another open invoice'
);
select is(pg_temp.invoice_money('e0000000-0000-4000-8000-7e5700000513'), 'sent 0.00 4.00 46.00',
  'its balance falls by the credit applied');
select is((select outstanding_balance from public.clients where id = 'c0000000-0000-4000-8000-7e5700000511'),
  46.00::numeric, 'the client''s outstanding balance counts each balance once');
select throws_ok(
  $$ select public.record_refund(tests.org('main'), '{"client_id": "c0000000-0000-4000-8000-7e5700000511", "amount": 6.01}') $$,
  '23514', null, 'a refund above the credit is refused'
);
select lives_ok(
  $$ select public.record_refund(tests.org('main'), '{"client_id": "c0000000-0000-4000-8000-7e5700000511", "amount": 6}') $$,
  'the rest of the credit is refunded'
);
select is(pg_temp.credit_of('c0000000-0000-4000-8000-7e5700000511'), 0.00::numeric, 'no credit is left');
select throws_ok(
  $$ select public.record_refund(tests.org('main'), '{"payment_id": "d0000000-0000-4000-8000-7e5700000511", "amount": 70.01}') $$,
  '23514', null, 'a refund from a payment is at most what of it counts on the invoice'
);
select lives_ok(
  $$ select public.record_refund(tests.org('main'), '{"payment_id": "d0000000-0000-4000-8000-7e5700000511", "amount": 20}') $$,
  'a refund of 20.00 from the payment'
);
select is(pg_temp.invoice_money('e0000000-0000-4000-8000-7e5700000511'), 'sent 50.00 30.00 20.00',
  'the invoice opens again by the refund');
select lives_ok(
  $$ select public.create_credit_note(tests.org('main'), 'e0000000-0000-4000-8000-7e5700000511',
                                      '{"kind": "whole"}') $$,
  'a whole credit note credits what is left'
);
select is(pg_temp.invoice_money('e0000000-0000-4000-8000-7e5700000511'), 'cancelled 0.00 100.00 0.00',
  'an invoice credited in full is cancelled; what was paid is the client''s credit');
select is(pg_temp.credit_of('c0000000-0000-4000-8000-7e5700000511'), 50.00::numeric,
  'the 50.00 still paid went to the client''s credit');

-- RLS: reading ----------------------------------------------------------------
select tests.authenticate_as('viewer');
select is((select count(*)::int from public.credit_notes), 2, 'a viewer reads the organization''s credit notes');
select is((select count(*)::int from public.refunds), 2, 'and its refunds');
select isnt_empty($$ select 1 from public.client_credit_entries $$, 'and the credit ledger');
select isnt_empty($$ select 1 from public.client_credit_balances $$, 'and the credit balances');
select isnt_empty($$ select 1 from public.credit_note_items $$, 'and the credit notes'' lines');

select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.credit_notes union all select 1 from public.refunds
                   union all select 1 from public.client_credit_entries
                   union all select 1 from public.client_credit_balances
                   union all select 1 from public.credit_note_items $$,
  'a stranger sees none of them');

-- RLS: nobody writes them directly --------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.client_credit_entries (organization_id, client_id, currency, kind, amount, credit_note_id)
     select tests.org('main'), 'c0000000-0000-4000-8000-7e5700000511', 'USD', 'credit_note', 1000, id
     from public.credit_notes limit 1 $$,
  '42501', null, 'an owner cannot make up client credit'
);
select throws_ok(
  $$ update public.client_credit_balances set balance = 1000 $$,
  '42501', null, 'nor change a credit balance'
);
select throws_ok(
  $$ delete from public.credit_notes $$,
  '42501', null, 'nor delete a credit note'
);

select tests.authenticate_as('anon');
select throws_ok($$ select 1 from public.credit_notes $$, '42501', null, 'anon reads no credit notes');

select * from finish();
rollback;
