-- =============================================================================
-- Numbers given by hand take the counter's lock first (migration 20261206100600_invoices.sql;
-- the race itself: tests/db/test_payment_races.py). Here: the triggers are there,
-- fire before the counter's, and numbering by hand and by counter still work as
-- 120-numbering says, for a member who is not an admin.
-- =============================================================================
begin;
select plan(10);

select tests.create_cast();
insert into public.clients (organization_id, company_name)
values (tests.org('main'), 'Numbered Client');

select has_trigger('public', 'invoices', 'a0_given_number_waits_for_the_counter',
                   'a hand-given number waits for the counter');
select has_trigger('public', 'invoices', 'a0_renumbering_waits_for_the_counter',
                   'a renumbering waits for the counter');
select ok(
  'a0_given_number_waits_for_the_counter' < 'a_complete_new_invoice'::text collate "C",
  'it fires before the trigger that assigns the counter''s number'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ insert into public.invoices (organization_id, client_id, invoice_number)
     select tests.org('main'), id, 'INV-0002' from public.clients
     where company_name = 'Numbered Client' $$,
  'a member (not an admin) gives a number by hand'
);
insert into public.invoices (organization_id, client_id)
select tests.org('main'), id from public.clients where company_name = 'Numbered Client';
insert into public.invoices (organization_id, client_id)
select tests.org('main'), id from public.clients where company_name = 'Numbered Client';
select results_eq(
  $$ select invoice_number from public.invoices
     where organization_id = tests.org('main') order by invoice_number $$,
  $$ values ('INV-0001'::text), ('INV-0002'), ('INV-0003') $$,
  'the counter skips the number given by hand'
);
select lives_ok(
  $$ update public.invoices set invoice_number = 'INV-0004'
     where organization_id = tests.org('main') and invoice_number = 'INV-0003' $$,
  'a draft is renumbered by hand'
);
insert into public.invoices (organization_id, client_id)
select tests.org('main'), id from public.clients where company_name = 'Numbered Client';
select is(
  (select max(invoice_number) from public.invoices
   where organization_id = tests.org('main') and invoice_number <> 'INV-0004'),
  'INV-0005',
  'and the counter skips that number too'
);
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, invoice_number)
     select tests.org('main'), id, 'INV-0001' from public.clients
     where company_name = 'Numbered Client' $$,
  '23505',
  null,
  'a number already used is still refused'
);

select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, invoice_number)
     select tests.org('main'), id, ' INV-0002 ' from public.clients
     where company_name = 'Numbered Client' $$,
  '23505',
  'invoice number INV-0002 is already used in this organization',
  'the number is checked as stored (trimmed), with create_invoice''s message'
);

-- A stranger naming the organization learns nothing of its numbers: row level
-- security refuses the row, whatever the number.
select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id, invoice_number, currency)
     values (tests.org('main'), gen_random_uuid(), 'INV-0001', 'USD') $$,
  '42501',
  null,
  'a stranger giving a used number of another organization is refused by RLS, not told it is used'
);

select * from finish();
rollback;
