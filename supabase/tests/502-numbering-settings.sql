-- =============================================================================
-- The settings RPCs with numbering, time zone and overpayment (migration
-- 20261206110100_time_zone_and_numbering.sql), by role; the document_counters
-- table's policies and grants (stranger, viewer, member, anon); the lock a number
-- given by hand takes.
-- =============================================================================
begin;
select plan(31);

select tests.create_cast();

-- Reading.
select tests.authenticate_as('viewer');
select is(
  public.get_settings(tests.org('main')) -> 'business' -> 'numbering',
  '{"invoice": {"pattern": "INV-{SEQ:4}", "reset": "never", "preview": "INV-0001"},
    "quote": {"pattern": "QUO-{SEQ:4}", "reset": "never", "preview": "QUO-0001"},
    "credit_note": {"pattern": "CN-{SEQ:4}", "reset": "never", "preview": "CN-0001"}}'::jsonb,
  'a viewer reads each type''s pattern, reset and preview'
);
select is(public.get_settings(tests.org('main')) -> 'business' ->> 'overpayment', 'refuse',
          'overpayment is refuse by default');
select ok(not (public.get_settings(tests.org('main')) -> 'business') ? 'invoice_number_pattern',
          'the flat pattern columns are not answered beside numbering');

-- Writing: only admins and owners.
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"quote": {"pattern": "Q{SEQ}"}}}') $$,
  '42501', null, 'a viewer cannot change numbering');
select tests.authenticate_as('member');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"overpayment": "credit"}') $$,
  '42501', null, 'nor can a member change overpayment');
select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"quote": {"pattern": "Q{SEQ}"}}}') $$,
  '42501', null, 'nor a stranger');
select tests.authenticate_as('owner');
select is(
  public.update_settings(tests.org('main'), business =>
    '{"overpayment": "credit", "numbering": {"quote": {"pattern": "Q{YYYY}-{SEQ:3}", "reset": "yearly"}}}')
    -> 'business' -> 'numbering' -> 'quote' ->> 'pattern',
  'Q{YYYY}-{SEQ:3}', 'the owner changes a type''s pattern and reset');
select results_eq(
  $$ select overpayment, quote_number_reset, invoice_number_pattern from public.organization_settings
     where organization_id = tests.org('main') $$,
  $$ values ('credit'::text, 'yearly'::text, 'INV-{SEQ:4}'::text) $$,
  'stored, the other types untouched');
select tests.authenticate_as('admin');
select is(
  public.update_settings(tests.org('main'), business => '{"numbering": {"quote": {"pattern": "Q{YY}-{SEQ}"}}}')
    -> 'business' -> 'numbering' -> 'quote' ->> 'reset',
  'yearly', 'an admin changes the pattern alone; the reset stays');

-- Refusals name the field.
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"invoice": {"pattern": "INV-{YYYY}"}}}') $$,
  '22023', 'business.numbering.invoice.pattern: a pattern needs {SEQ} (or {SEQ:n}), the counter',
  'a pattern without {SEQ}');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"invoice": {"reset": "yearly"}}}') $$,
  '22023',
  'business.numbering.invoice.reset: a pattern that resets yearly shows the year ({YYYY} or {YY}), or its numbers would repeat',
  'a reset the stored pattern cannot carry');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"invoice": {"reset": "weekly"}}}') $$,
  '22023', 'business.numbering.invoice.reset: reset is yearly, monthly or never', 'an unknown reset');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"invoice": {"prefix": "A"}}}') $$,
  '22023', 'business.numbering.invoice.prefix is not a setting that can be changed', 'an unknown key of a type');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"numbering": {"receipt": {}}}') $$,
  '22023', 'business.numbering.receipt is not a setting that can be changed', 'an unknown type');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"overpayment": "keep"}') $$,
  '22023', 'business.overpayment is refuse or credit', 'an unknown overpayment choice');
select throws_ok(
  $$ select public.update_settings(tests.org('main'),
       business => '{"invoice_prefix": "A-", "numbering": {"invoice": {"pattern": "B-{SEQ}"}}}') $$,
  '22023', null, 'the pattern and the old prefix in one change');
select is((select invoice_number_pattern || ' ' || overpayment from public.organization_settings
           where organization_id = tests.org('main')),
          'INV-{SEQ:4} credit', 'a refused change writes nothing');

-- What it did before still holds.
select is(
  public.update_settings(tests.org('main'), business => '{"invoice_prefix": "AC/", "invoice_number_padding": 5}')
    -> 'business' -> 'numbering' -> 'invoice' ->> 'preview',
  'AC/00001', 'the old prefix and padding set the invoice pattern; the preview follows');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"next_invoice_number": 0}') $$,
  '23514', null, 'next_invoice_number still only goes up');
select is(
  public.update_settings(tests.org('main'), business => '{"default_tax_rate": "7.5", "tax_label": "VAT"}')
    -> 'business' ->> 'tax_label',
  'VAT', 'the other business fields still change beside numbering');

-- document_counters: read by members of the organization, written by no API role.
select tests.authenticate_as('owner');
select private.next_document_number(tests.org('main'), 'quote', '2031-04-01');
select tests.authenticate_as('viewer');
select is((select count(*)::int from public.document_counters where organization_id = tests.org('main')), 1,
          'a viewer reads the organization''s counters');
select tests.authenticate_as('member');
select throws_ok(
  $$ update public.document_counters set next_number = 1 $$, '42501', null,
  'a member cannot set a counter');
select throws_ok(
  $$ insert into public.document_counters (organization_id, document_type, period)
     values (tests.org('main'), 'quote', '2040') $$, '42501', null,
  'nor make one');
select throws_ok(
  $$ delete from public.document_counters $$, '42501', null, 'nor delete one');
select tests.authenticate_as('stranger');
select is((select count(*)::int from public.document_counters where organization_id = tests.org('main')), 0,
          'a stranger sees none of them');
select is(private.preview_document_number(tests.org('main'), 'invoice', '2031-01-01'), null,
          'nor previews the organization''s next number');
select tests.authenticate_as('anon');
select throws_ok($$ select 1 from public.document_counters $$, '42501', null, 'anon reads nothing');
select tests.as_superuser();
select is((select count(*)::int from public.audit_log
           where table_name = 'public.document_counters' and record_id in
             (select id from public.document_counters where organization_id = tests.org('main'))),
          1, 'a new counter is in the audit log (its advances are not)');

-- The lock of a number given by hand.
select tests.authenticate_as('member');
select lives_ok($$ select private.lock_document_numbers(tests.org('main')) $$,
                'a member takes the counters'' lock before giving a number by hand');
select ok(exists (select 1 from pg_locks l where l.locktype = 'transactionid' and l.pid = pg_backend_pid()),
          'a row lock (a transaction id of its own) is held');
select tests.authenticate_as('stranger');
select throws_ok($$ select private.lock_document_numbers(tests.org('main')) $$, '42501', null,
                 'a stranger cannot lock another organization''s counters');

select * from finish();
rollback;
