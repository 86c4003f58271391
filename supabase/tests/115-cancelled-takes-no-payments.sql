-- =============================================================================
-- A cancelled invoice takes no payments, even from a payment whose own row check
-- saw the invoice before it was cancelled (a direct insert racing a cancel:
-- migration 20261206100600_invoices.sql; the race itself is tests/db/test_payment_races.py).
-- The race is replayed here in one session: the payment's row trigger is
-- switched off for the insert, as if it had read the invoice still sent.
-- =============================================================================
begin;
select plan(7);

select tests.create_cast();
insert into public.clients (organization_id, company_name)
values (tests.org('main'), 'Cancel Client');

create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;

insert into public.invoices (organization_id, client_id, invoice_number)
select tests.org('main'), id, 'C-1' from public.clients
where company_name = 'Cancel Client';
insert into public.invoice_items (invoice_id, description, quantity, rate)
values (pg_temp.inv('C-1'), 'services', 1, 100);
update public.invoices set status = 'sent' where id = pg_temp.inv('C-1');

select has_trigger('public', 'invoices', 'c_cancelled_invoice_takes_no_payments',
                   'invoices have the cancelled-takes-no-payments trigger');

select tests.authenticate_as('owner');
select is(
  public.delete_invoice(tests.org('main'), pg_temp.inv('C-1')) ->> 'action',
  'cancelled',
  'a sent invoice without payments is cancelled'
);
select throws_ok(
  $$ insert into public.payments (invoice_id, amount) values (pg_temp.inv('C-1'), 10) $$,
  '23514',
  'invoice C-1 is cancelled and cannot receive payments',
  'a payment on a cancelled invoice is refused by its row check'
);

-- The race: the payment's row check passed before the cancel committed.
reset role;
alter table public.payments disable trigger prepare_payment_row;
select throws_ok(
  $$ insert into public.payments (organization_id, invoice_id, currency, amount)
     values (tests.org('main'), pg_temp.inv('C-1'), 'USD', 10) $$,
  '23514',
  'invoice C-1 is cancelled and cannot receive payments',
  'a payment reaching a cancelled invoice after its row check is refused where it lands'
);
alter table public.payments enable trigger prepare_payment_row;
select results_eq(
  $$ select status, amount_paid, (select count(*) from public.payments p where p.invoice_id = i.id)
     from public.invoices i where i.id = pg_temp.inv('C-1') $$,
  $$ values ('cancelled'::text, 0.00, 0::bigint) $$,
  'the cancelled invoice has nothing paid and no payments'
);

select tests.authenticate_as('owner');
select lives_ok(
  $$ update public.invoices set notes = 'kept for the record' where id = pg_temp.inv('C-1') $$,
  'the notes of a cancelled invoice may still change'
);
select is(
  (select notes from public.invoices where id = pg_temp.inv('C-1')),
  'kept for the record',
  'and they did'
);

select * from finish();
rollback;
