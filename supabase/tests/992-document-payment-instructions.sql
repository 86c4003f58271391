-- =============================================================================
-- Documents' payment instructions sealed (migration 20261206171200): the columns and
-- their checks; a new invoice (and quote, recurring profile) copies the settings'
-- sealed default; an issued invoice keeps its seal when the default changes; a clear
-- value is refused from authenticated; quote -> invoice and invoice -> credit note
-- copy the seal; the audit log redacts a clear value.
-- =============================================================================
begin;
select plan(22);

select tests.create_cast();

create temporary table ids (name text primary key, id uuid) on commit drop;
grant all on ids to authenticated;
create function pg_temp.id(wanted text) returns uuid language sql as
  $$ select id from pg_temp.ids where name = wanted $$;
create function pg_temp.seal(tag text) returns jsonb language sql as
  $$ select jsonb_build_object('v', 1, 'kid', 'k', 'dk', 'd' || tag, 'n', 'n', 'c', 'c' || tag) $$;

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-992000000001', tests.org('main'), 'Instructed Buyer', 'EUR');
update public.organization_settings
   set default_payment_instructions = null, default_payment_instructions_sealed = pg_temp.seal('first')
 where organization_id = tests.org('main');

-- Columns and checks ------------------------------------------------------------
select has_column('public', t, 'payment_instructions_sealed', t || '.payment_instructions_sealed')
from unnest(array['invoices', 'quotes', 'credit_notes', 'recurring_profiles']) t;

-- A new invoice copies the settings' seal -------------------------------------------
select tests.authenticate_as('member');
insert into pg_temp.ids select 'default', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "tax_rate": 0}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') ->> 'id')::uuid;
select results_eq(
  $$ select payment_instructions, payment_instructions_sealed from public.invoices where id = pg_temp.id('default') $$,
  $$ values (null::text, pg_temp.seal('first')) $$,
  'a new invoice copies the settings'' sealed default, no clear text');
select is(public.invoice_document(tests.org('main'), pg_temp.id('default')) -> 'payment_instructions_sealed',
  pg_temp.seal('first'), 'the invoice''s document carries its seal');

-- An explicit null names no instructions; a clear value is refused ---------------------
insert into pg_temp.ids select 'none', (public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "tax_rate": 0, "payment_instructions": null}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') ->> 'id')::uuid;
select results_eq(
  $$ select payment_instructions, payment_instructions_sealed from public.invoices where id = pg_temp.id('none') $$,
  $$ values (null::text, null::jsonb) $$,
  'payment_instructions: null copies nothing');
select throws_ok($$ select public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "payment_instructions": "IBAN DE89 3704"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$,
  '22023', 'payment_instructions is stored sealed: send payment_instructions_sealed (the API seals it)',
  'a clear value is refused from authenticated on create');
select throws_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('default'),
  '{"payment_instructions": "IBAN DE89 3704"}') $$,
  '22023', null, 'and on update');
select throws_ok($$ select public.create_invoice(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "payment_instructions_sealed": "IBAN DE89"}',
  '[{"description": "Work", "quantity": 1, "rate": 100}]') $$,
  '22023', null, 'a seal that is not an envelope is refused');
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('none'),
  jsonb_build_object('payment_instructions_sealed', pg_temp.seal('own'))) $$,
  'a member writes the invoice''s own seal');
select is((select payment_instructions_sealed from public.invoices where id = pg_temp.id('none')),
  pg_temp.seal('own'), 'the own seal is stored');

-- Issued, then the default changes: the invoice keeps its instructions -----------------
select lives_ok($$ select public.update_invoice(tests.org('main'), pg_temp.id('default'), '{"status": "sent"}') $$,
  'the invoice is sent');
select tests.as_superuser();
update public.organization_settings set default_payment_instructions_sealed = pg_temp.seal('second')
 where organization_id = tests.org('main');
select is((select payment_instructions_sealed from public.invoices where id = pg_temp.id('default')),
  pg_temp.seal('first'), 'an issued invoice keeps its seal when the default changes');
select throws_ok($$ update public.invoices set payment_instructions = 'clear' where id = pg_temp.id('default') $$,
  '23514', null, 'never both the clear and the sealed form on a row');
select throws_ok($$ update public.invoices set payment_instructions_sealed = '"clear"' where id = pg_temp.id('default') $$,
  '23514', null, 'a seal is an envelope');

-- Quote -> invoice, invoice -> credit note ------------------------------------------
select tests.authenticate_as('member');
insert into pg_temp.ids select 'quote', (public.create_quote(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "tax_rate": 0}',
  '[{"description": "Plan", "quantity": 1, "rate": 50}]') ->> 'id')::uuid;
select is((select payment_instructions_sealed from public.quotes where id = pg_temp.id('quote')),
  pg_temp.seal('second'), 'a new quote copies the settings'' current seal');
select tests.as_superuser();
update public.quotes set status = 'sent' where id = pg_temp.id('quote');
update public.quotes set status = 'accepted' where id = pg_temp.id('quote');
update public.organization_settings set default_payment_instructions_sealed = pg_temp.seal('third')
 where organization_id = tests.org('main');
select tests.authenticate_as('member');
insert into pg_temp.ids select 'converted',
  (public.convert_quote(tests.org('main'), pg_temp.id('quote')) -> 'invoice' ->> 'id')::uuid;
select is((select payment_instructions_sealed from public.invoices where id = pg_temp.id('converted')),
  pg_temp.seal('second'), 'the invoice made from a quote keeps the quote''s seal');
insert into pg_temp.ids select 'note', (public.create_credit_note(tests.org('main'), pg_temp.id('default'),
  '{"kind": "amount", "amount": 10, "reason": "Late"}') ->> 'id')::uuid;
select is((select payment_instructions_sealed from public.credit_notes where id = pg_temp.id('note')),
  pg_temp.seal('first'), 'a credit note copies its invoice''s seal');

-- Recurring profiles -----------------------------------------------------------------
select tests.authenticate_as('member');
insert into pg_temp.ids select 'profile', (public.create_recurring_profile(tests.org('main'),
  '{"client_id": "c0000000-0000-4000-8000-992000000001", "frequency": "monthly"}',
  '[{"description": "Retainer", "quantity": 1, "rate": 10}]') ->> 'id')::uuid;
select is((select payment_instructions_sealed from public.recurring_profiles where id = pg_temp.id('profile')),
  pg_temp.seal('third'), 'a new recurring profile copies the settings'' seal');
select throws_ok($$ select public.update_recurring_profile(tests.org('main'), pg_temp.id('profile'),
  '{"payment_instructions": "IBAN DE89"}') $$,
  '22023', null, 'a clear value is refused on a profile');

-- The audit log keeps no clear value ---------------------------------------------------
select tests.as_superuser();
update public.invoices set payment_instructions_sealed = null, payment_instructions = 'IBAN AT61 1904'
 where id = pg_temp.id('none');
select is((select count(*)::int from public.audit_log
            where record_id::text = pg_temp.id('none')::text
              and coalesce(new_record::text, '') || coalesce(old_record::text, '') like '%AT61%'),
  0, 'the audit log redacts a document''s clear payment instructions');

select * from finish();
rollback;
