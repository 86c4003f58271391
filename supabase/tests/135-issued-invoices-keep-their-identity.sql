-- =============================================================================
-- What may change by status holds for direct writes through PostgREST too
-- (migration 20261206100600_invoices.sql): a member updating the table cannot renumber a sent
-- invoice, move it to another client, re-date it, change a paid invoice's terms,
-- or change the tax rate once paid something; drafts stay free, notes stay
-- editable, and the service role may still correct a record.
-- =============================================================================
begin;
select plan(11);

select tests.create_cast();
insert into public.clients (organization_id, company_name)
values (tests.org('main'), 'First Client'),
       (tests.org('main'), 'Second Client');

create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;

insert into public.invoices (organization_id, client_id, invoice_number)
values (tests.org('main'), pg_temp.client('First Client'), 'R-1'),
       (tests.org('main'), pg_temp.client('First Client'), 'R-2'),
       (tests.org('main'), pg_temp.client('First Client'), 'R-3');
insert into public.invoice_items (invoice_id, description, quantity, rate)
select id, 'services', 1, 100 from public.invoices where invoice_number in ('R-1', 'R-2', 'R-3');
update public.invoices set status = 'sent' where invoice_number in ('R-2', 'R-3');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('R-3'), 100);

select tests.authenticate_as('owner');

select lives_ok(
  $$ update public.invoices set invoice_number = 'R-1b', issue_date = issue_date - 1
     where id = pg_temp.inv('R-1') $$,
  'a draft may be renumbered and re-dated'
);
select throws_ok(
  $$ update public.invoices set invoice_number = 'R-2b' where id = pg_temp.inv('R-2') $$,
  '23514',
  'invoice R-2 has been sent: its invoice_number can no longer change',
  'a sent invoice cannot be renumbered through the table'
);
select throws_ok(
  $$ update public.invoices set client_id = pg_temp.client('Second Client')
     where id = pg_temp.inv('R-2') $$,
  '23514',
  'invoice R-2 has been sent: its client_id can no longer change',
  'a sent invoice cannot move to another client'
);
select throws_ok(
  $$ update public.invoices set issue_date = issue_date - 7 where id = pg_temp.inv('R-2') $$,
  '23514',
  'invoice R-2 has been sent: its issue_date can no longer change',
  'a sent invoice cannot be re-dated'
);
select lives_ok(
  $$ update public.invoices set due_date = due_date + 7, notes = 'extended'
     where id = pg_temp.inv('R-2') $$,
  'a sent invoice''s due date and notes may change'
);
select throws_ok(
  $$ update public.invoices set terms = 'new terms' where id = pg_temp.inv('R-3') $$,
  '23514',
  'invoice R-3 is paid: only its notes can change; not its terms',
  'a paid invoice keeps its terms'
);
select throws_ok(
  $$ update public.invoices set tax_rate = 10 where id = pg_temp.inv('R-3') $$,
  '23514',
  'invoice R-3 is paid: only its notes can change; not its tax_rate',
  'a paid invoice keeps its tax rate'
);
select lives_ok(
  $$ update public.invoices set notes = 'thank you' where id = pg_temp.inv('R-3') $$,
  'a paid invoice''s notes may change'
);

-- Sent, partly paid: the tax rate is fixed.
reset role;
delete from public.payments where invoice_id = pg_temp.inv('R-3');
insert into public.payments (invoice_id, amount) values (pg_temp.inv('R-3'), 40);
select tests.authenticate_as('owner');
select throws_ok(
  $$ update public.invoices set tax_rate = 10 where id = pg_temp.inv('R-3') $$,
  '23514',
  'invoice R-3 has payments: its tax_rate can no longer change',
  'a partly paid invoice keeps its tax rate'
);

select tests.authenticate_as_service_role();
select lives_ok(
  $$ update public.invoices set issue_date = issue_date - 1 where id = pg_temp.inv('R-2') $$,
  'the service role may still correct a sent invoice'
);
reset role;
select results_eq(
  $$ select invoice_number, client_id = pg_temp.client('First Client'), notes
     from public.invoices where id = pg_temp.inv('R-2') $$,
  $$ values ('R-2'::text, true, 'extended'::text) $$,
  'the sent invoice kept its number and client; its notes changed'
);

select * from finish();
rollback;
