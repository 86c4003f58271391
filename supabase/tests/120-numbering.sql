-- =============================================================================
-- Invoice numbers: unique per organization, assigned from the organization's
-- prefix, padding and counter when none is given (concurrency is tested from
-- Python, tests/db/test_concurrency.py).
-- =============================================================================
begin;
select plan(26);

create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.new_invoice(who text, num text default null) returns text
language sql as $$
  insert into public.invoices (organization_id, client_id, invoice_number)
  select o.id, c.id, num
  from public.organizations o
  join public.clients c on c.organization_id = o.id
  where o.id = tests.personal_org(who)
  limit 1
  returning invoice_number
$$;
create function pg_temp.counter(who text) returns bigint
language sql stable as $$
  select next_invoice_number from public.organization_settings where organization_id = tests.personal_org(who)
$$;

select tests.create_cast();

select tests.authenticate_as('stranger');
insert into public.clients (organization_id, company_name) values (pg_temp.org('stranger'), 'Their Client');
select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name) values (pg_temp.org('owner'), 'Our Client');

select results_eq(
  $$ select invoice_prefix, invoice_number_padding, next_invoice_number
     from public.organization_settings where organization_id = pg_temp.org('owner') $$,
  $$ values ('INV-'::text, 4, 1::bigint) $$,
  'a new organization numbers from INV-, padded to 4, starting at 1'
);
select is(pg_temp.new_invoice('owner'), 'INV-0001', 'the first invoice is INV-0001');
select is(pg_temp.new_invoice('owner'), 'INV-0002', 'the second is INV-0002');
select is(pg_temp.counter('owner'), 3::bigint, 'the counter stands at the next number');

-- Blank numbers are assigned too.
select is(pg_temp.new_invoice('owner', ''), 'INV-0003', 'an empty number is assigned');
select is(pg_temp.new_invoice('owner', '   '), 'INV-0004', 'a blank number is assigned');

-- A number given by hand is accepted (trimmed) and does not move the counter...
select is(pg_temp.new_invoice('owner', ' INV-0006 '), 'INV-0006', 'a number given by hand is kept, trimmed');
select is(pg_temp.counter('owner'), 5::bigint, 'a number given by hand does not move the counter');
select is(pg_temp.new_invoice('owner', 'INV-0007'), 'INV-0007', 'another number given by hand');
-- ... and the counter skips it when it gets there.
select is(pg_temp.new_invoice('owner'), 'INV-0005', 'the counter gives the free number before them');
select is(pg_temp.new_invoice('owner'), 'INV-0008', 'then skips the numbers taken by hand');
select is(pg_temp.counter('owner'), 9::bigint, 'and stands after the skipped numbers');

select throws_ok(
  $$ select pg_temp.new_invoice('owner', 'INV-0001') $$,
  '23505', null, 'a duplicate number in the same organization is rejected'
);
select throws_ok(
  $$ update public.invoices set invoice_number = 'INV-0002' where invoice_number = 'INV-0001' $$,
  '23505', null, 'renumbering onto an existing number is rejected'
);
select is(pg_temp.counter('owner'), 9::bigint, 'the rejected duplicates did not move the counter');

-- Prefix and padding come from the organization's settings.
select lives_ok($$
  update public.organization_settings
  set invoice_prefix = 'NL/2026/', invoice_number_padding = 6
  where organization_id = pg_temp.org('owner')
$$, 'an admin can change the prefix and the padding');
select is(pg_temp.new_invoice('owner'), 'NL/2026/000009', 'the new prefix and padding are used');
select lives_ok($$
  update public.organization_settings set invoice_prefix = '', invoice_number_padding = 1
  where organization_id = pg_temp.org('owner')
$$, 'an empty prefix and a padding of 1 are allowed');
select is(pg_temp.new_invoice('owner'), '10', 'a bare number');

-- Padding overflows gracefully.
update public.organization_settings
set invoice_prefix = 'INV-', invoice_number_padding = 4, next_invoice_number = 99999
where organization_id = pg_temp.org('owner');
select is(pg_temp.new_invoice('owner'), 'INV-99999', 'a number longer than the padding is not truncated');
select is(pg_temp.new_invoice('owner'), 'INV-100000', 'and keeps growing past the padding');
select throws_ok($$
  update public.organization_settings set next_invoice_number = 0 where organization_id = pg_temp.org('owner')
$$, '23514', null, 'the counter cannot go below 1');

-- Numbers are per organization.
select tests.authenticate_as('stranger');
select is(pg_temp.new_invoice('stranger'), 'INV-0001', 'another organization has its own INV-0001');
select is(pg_temp.new_invoice('stranger', 'INV-0007'), 'INV-0007',
          'a number used in one organization can be given by hand in another');

-- One organization cannot take another's numbers.
select throws_ok($$
  insert into public.invoices (organization_id, client_id)
  select pg_temp.org('owner'), id from public.clients limit 1
$$, '42501', null, 'creating an invoice in another organization is refused');
select tests.as_superuser();
select is(pg_temp.counter('owner'), 100001::bigint,
          'the refused attempt did not advance the other organization''s counter');

select * from finish();
rollback;
