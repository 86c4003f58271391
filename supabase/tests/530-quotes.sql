-- =============================================================================
-- Quotes and their items (20261206110300_quotes.sql): RLS for each policy
-- (owner, member, viewer, stranger, anon), the money rules (the invoices'),
-- numbering from the quote counter, what may change by status, the status
-- transitions, only drafts deleted, the audit log.
-- =============================================================================
begin;
select plan(46);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency, email) values
  ('c0000000-0000-4000-8000-7e5700000531', tests.org('main'), 'Quote Client', 'USD', 'q@client.test'),
  ('c0000000-0000-4000-8000-7e5700000532', tests.org('main'), 'Yen Client', 'JPY', null),
  ('c0000000-0000-4000-8000-7e5700000533', tests.org('other'), 'Stranger Client', 'USD', null);

create table pg_temp.ids (name text primary key, id uuid);
grant all on pg_temp.ids to authenticated, service_role, anon;
create function pg_temp.id(which text) returns uuid language sql as $$
  select id from pg_temp.ids where name = which $$;
grant execute on function pg_temp.id(text) to authenticated, service_role, anon;

-- Creation, money and numbering -------------------------------------------------
select tests.authenticate_as('member');
insert into pg_temp.ids select 'q1', (public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000531", "tax_rate": 8.875, "discount": 10.01,
    "notes": "Thanks", "terms": "Half up front"}',
  '[{"description": "Design", "quantity": 3, "rate": 33.333},
    {"description": "Build", "quantity": 1.5, "rate": 0.005}]') ->> 'id')::uuid;

select results_eq(
  $$ select subtotal, discount, tax_amount, total_amount, currency, status
     from public.quotes where id = pg_temp.id('q1') $$,
  $$ values (100.01::numeric, 10.01::numeric, 7.99::numeric, 97.99::numeric, 'USD'::text, 'draft'::text) $$,
  'items rounded half-up to cents (100.00 + 0.01), tax on subtotal less discount, total');
select results_eq(
  $$ select amount from public.quote_items where quote_id = pg_temp.id('q1') order by position $$,
  $$ values (100.00::numeric), (0.01::numeric) $$,
  'an item''s amount is quantity x rate rounded to the currency''s minor unit');
select is((select valid_until - issue_date from public.quotes where id = pg_temp.id('q1')), 30,
  'valid_until defaults to the issue date + 30 days');
select is((select issue_date from public.quotes where id = pg_temp.id('q1')),
  private.organization_today(tests.org('main')), 'the issue date defaults to today where the business is');

insert into pg_temp.ids select 'yen', (public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000532"}',
  '[{"description": "Work", "quantity": 1, "rate": 100.5}]') ->> 'id')::uuid;
select isnt((select quote_number from public.quotes where id = pg_temp.id('q1')),
  (select quote_number from public.quotes where id = pg_temp.id('yen')),
  'each quote has its own number from the quote counter');
select is((select total_amount from public.quotes where id = pg_temp.id('yen')), 101::numeric,
  'a JPY quote rounds to whole yen (100.5 -> 101) and takes the client''s currency');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000532", "discount": 0.5}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '23514', null,
  'a discount with more decimals than the currency has is refused');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000531", "discount": 500}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '23514', null,
  'a discount above the subtotal is refused');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000533"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '23503', null,
  'another organization''s client is refused');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000531", "colour": "red"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '22023', 'quote: unknown field colour',
  'unknown fields are refused');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000531", "issue_date": "2026-05-10", "valid_until": "2026-05-01"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '23514', null,
  'valid_until before the issue date is refused');
select throws_ok($$ insert into public.quotes (organization_id, client_id, quote_number)
  values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000531', 'MINE-1') $$, '42501', null,
  'a number cannot be given by hand (no column grant)');
select throws_ok($$ insert into public.quotes (organization_id, client_id, status)
  values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000531', 'accepted') $$, '42501', null,
  'a new quote cannot start in another status than draft (no column grant)');

-- RLS ---------------------------------------------------------------------------
select tests.authenticate_as('viewer');
select isnt_empty($$ select 1 from public.quotes where id = pg_temp.id('q1') $$, 'a viewer reads the quote');
select isnt_empty($$ select 1 from public.quote_items where quote_id = pg_temp.id('q1') $$,
  'a viewer reads its items');
select is(tests.rows_affected($$ update public.quotes set notes = 'x' where id = pg_temp.id('q1') $$), 0,
  'a viewer cannot update a quote');
select is(tests.rows_affected($$ delete from public.quotes where id = pg_temp.id('q1') $$), 0,
  'a viewer cannot delete a quote');
select is(tests.rows_affected($$ update public.quote_items set rate = 1 where quote_id = pg_temp.id('q1') $$), 0,
  'a viewer cannot change an item');
select throws_ok($$ insert into public.quotes (organization_id, client_id)
  values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000531') $$, '42501', null,
  'a viewer cannot insert a quote');
select throws_ok($$ select public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-7e5700000531"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$, '42501', null,
  'a viewer cannot create a quote through the RPC');
select is(public.get_quote(tests.org('main'), pg_temp.id('q1')) ->> 'status', 'draft',
  'a viewer reads the quote through get_quote');

select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.quotes where organization_id = tests.org('main') $$,
  'a stranger sees no quote of the organization');
select is_empty($$ select 1 from public.quote_items where organization_id = tests.org('main') $$,
  'a stranger sees no item of the organization');
select is(tests.rows_affected($$ update public.quotes set notes = 'x' where id = pg_temp.id('q1') $$), 0,
  'a stranger cannot update the quote');
select is(public.get_quote(tests.org('main'), pg_temp.id('q1')), null, 'get_quote gives a stranger nothing');
select throws_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'), '{"notes": "x"}') $$,
  '42501', null, 'a stranger cannot update it through the RPC');
select throws_ok($$ insert into public.quotes (organization_id, client_id)
  values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000531') $$, '42501', null,
  'a stranger cannot insert into the organization (nor take its counter)');

select tests.clear_authentication();
select throws_ok($$ select * from public.quotes $$, '42501', null, 'anon cannot read quotes');
select throws_ok($$ select public.get_quote(tests.org('main'), pg_temp.id('q1')) $$, '42501', null,
  'anon cannot call get_quote');

-- What may change, by status ---------------------------------------------------
select tests.authenticate_as('member');
select lives_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'),
  '{"tax_rate": 0}', '[{"description": "Only", "quantity": 2, "rate": 50}]') $$,
  'a draft''s items and tax rate change');
select is((select total_amount from public.quotes where id = pg_temp.id('q1')), 89.99::numeric,
  'the total follows the new items and tax rate, the discount kept (100.00 - 10.01)');
select lives_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'), '{"status": "sent"}') $$,
  'a draft becomes sent');
select throws_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'), '{}',
  '[{"description": "More", "quantity": 1, "rate": 1}]') $$, '23514',
  'quote ' || (select quote_number from public.quotes where id = pg_temp.id('q1'))
  || ' has been sent: its items can no longer change',
  'a sent quote''s items are frozen');
select throws_ok($$ update public.quotes set discount = 0 where id = pg_temp.id('q1') $$, '23514', null,
  'a direct write cannot change a sent quote''s discount either');
select throws_ok($$ insert into public.quote_items (quote_id, description, quantity, rate)
  values (pg_temp.id('q1'), 'Sneaky', 1, 1) $$, '23514', null,
  'no item can be added to a sent quote');
select lives_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'),
  '{"notes": "Updated", "valid_until": "2200-01-01", "template": "modern"}') $$,
  'a sent quote''s notes, template and valid_until change');
select throws_ok($$ update public.quotes set status = 'draft' where id = pg_temp.id('q1') $$, '23514', null,
  'a sent quote does not go back to draft');
select throws_ok($$ update public.quotes set status = 'converted' where id = pg_temp.id('q1') $$, '23514', null,
  'a quote cannot be marked converted without its invoice');
select throws_ok($$ select public.delete_quote(tests.org('main'), pg_temp.id('q1')) $$, '23514', null,
  'a sent quote cannot be deleted');

select lives_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('q1'), 'declined') $$,
  'a sent quote is declined');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('q1'), 'accepted') $$, '23514',
  null, 'a declined quote cannot be accepted');
select throws_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('q1'), '{"terms": "New"}') $$,
  '23514', null, 'a declined quote changes only its notes');

-- Deleting a draft, and the audit log ---------------------------------------------
select lives_ok($$ select public.delete_quote(tests.org('main'), pg_temp.id('yen')) $$, 'a draft is deleted');
select is_empty($$ select 1 from public.quote_items where quote_id = pg_temp.id('yen') $$,
  'with its items');

select tests.as_superuser();
select ok((select count(*) from public.audit_log
           where table_name = 'public.quotes' and record_id = pg_temp.id('q1')) >= 3,
  'the audit log has the quote''s creation and changes');
select ok(exists (select 1 from public.audit_log
                  where table_name = 'public.quote_items' and operation = 'DELETE'),
  'and its items'' deletions');

select * from finish();
rollback;
