-- =============================================================================
-- Numbering patterns (migration 20261206110100_time_zone_and_numbering.sql): what a
-- pattern may be, the numbers it makes, counters reset yearly, monthly or never by
-- the issue date given, gapless on rollback, numbers given by hand skipped, and the
-- old prefix and padding kept in step with the invoice pattern. Concurrency:
-- tests/db/test_numbering_concurrency.py.
-- =============================================================================
begin;
select plan(42);

select tests.create_cast();
insert into public.clients (organization_id, company_name)
values (tests.org('main'), 'Patterned Client');

create function pg_temp.invoice(day date, num text default null) returns text
language sql as $$
  insert into public.invoices (organization_id, client_id, issue_date, invoice_number)
  select tests.org('main'), c.id, day, num from public.clients c where c.company_name = 'Patterned Client'
  returning invoice_number
$$;
create function pg_temp.set_invoice_pattern(pattern text, reset text) returns void
language sql as $$
  update public.organization_settings
  set invoice_number_pattern = pattern, invoice_number_reset = reset
  where organization_id = tests.org('main')
$$;

-- What a pattern may be.
select is(private.numbering_pattern_problem('INV-{YYYY}-{SEQ:4}', 'yearly'), null, 'a yearly pattern with the year is valid');
select is(private.numbering_pattern_problem('{YY}{MM}{SEQ}', 'monthly'), null, 'a monthly pattern with year and month is valid');
select is(private.numbering_pattern_problem('No. {SEQ}', 'never'), null, 'literal text may hold spaces and dots');
select is(private.numbering_pattern_problem('INV-{YYYY}', 'never'),
          'a pattern needs {SEQ} (or {SEQ:n}), the counter', 'a pattern without {SEQ} is refused');
select is(private.numbering_pattern_problem('{SEQ}-{SEQ:2}', 'never'), 'a pattern holds {SEQ} once', '{SEQ} twice is refused');
select is(private.numbering_pattern_problem('{DD}-{SEQ}', 'never'),
          'unknown token {DD}: the tokens are {YYYY} {YY} {MM} {SEQ} {SEQ:n}', 'an unknown token is named');
select is(private.numbering_pattern_problem('A}{SEQ}', 'never'),
          'unknown token }: the tokens are {YYYY} {YY} {MM} {SEQ} {SEQ:n}', 'so is a stray brace');
select is(private.numbering_pattern_problem('{SEQ:13}', 'never'), 'the width n of {SEQ:n} is 1 to 12', 'a width above 12 is refused');
select is(private.numbering_pattern_problem(repeat('A', 36) || '{SEQ}', 'never'),
          'a pattern has at most 40 characters', 'a pattern longer than 40 is refused');
select is(private.numbering_pattern_problem('INV-{SEQ}', 'yearly'),
          'a pattern that resets yearly shows the year ({YYYY} or {YY}), or its numbers would repeat',
          'a yearly reset needs the year in the pattern');
select is(private.numbering_pattern_problem('{YYYY}-{SEQ}', 'monthly'),
          'a pattern that resets monthly shows the month ({MM}), or its numbers would repeat',
          'a monthly reset needs the month');
select is(private.numbering_pattern_problem('{SEQ}', 'weekly'), 'reset is yearly, monthly or never', 'an unknown reset is refused');

-- The table holds the same rules for every writer.
select throws_ok($$ select pg_temp.set_invoice_pattern('INV-{YYYY}', 'never') $$, '23514', null,
                 'the table refuses a pattern without {SEQ}');
select throws_ok($$ select pg_temp.set_invoice_pattern('INV-{SEQ}', 'yearly') $$, '23514', null,
                 'and a yearly reset without the year');
select throws_ok($$ update public.organization_settings set quote_number_pattern = '{Q}{SEQ}'
                    where organization_id = tests.org('main') $$, '23514', null,
                 'and an unknown token in a quote pattern');
select throws_ok($$ update public.organization_settings set credit_note_number_reset = 'daily'
                    where organization_id = tests.org('main') $$, '23514', null,
                 'and an unknown reset of credit notes');

-- The numbers a pattern makes.
select is(private.format_document_number('INV/{YYYY}/{MM}/{YY}-{SEQ:4}', '2031-03-05', 7),
          'INV/2031/03/31-0007', 'the tokens are the issue date''s and the padded counter');
select is(private.format_document_number('X{SEQ:2}', '2031-03-05', 12345), 'X12345',
          'a counter longer than its width is never cut');

-- Existing numbering and the never-reset counter.
select is((select invoice_number_pattern from public.organization_settings where organization_id = tests.org('main')),
          'INV-{SEQ:4}', 'an organization''s invoice pattern is its prefix and padding');
select is(pg_temp.invoice('2031-05-01'), 'INV-0001', 'and numbers as before');
update public.organization_settings set next_invoice_number = 41 where organization_id = tests.org('main');
select is(pg_temp.invoice('2031-05-01'), 'INV-0041', 'from next_invoice_number, the counter of invoices that never reset');

-- Yearly, by the issue date given.
select pg_temp.set_invoice_pattern('INV-{YYYY}-{SEQ:4}', 'yearly');
select is(pg_temp.invoice('2031-12-31'), 'INV-2031-0001', 'a yearly counter starts at 1 on its first document');
select is(pg_temp.invoice('2032-01-01'), 'INV-2032-0001', 'the next day is a new year: 1 again');
select is(pg_temp.invoice('2031-01-01'), 'INV-2031-0002', 'an earlier date of the first year continues its counter');
select is((select next_invoice_number from public.organization_settings where organization_id = tests.org('main')),
          42::bigint, 'the never-reset counter is left alone meanwhile');

-- Gapless: a rolled-back document gives its number back.
savepoint before_failure;
select is(pg_temp.invoice('2032-06-30'), 'INV-2032-0002', 'a document takes the next number');
rollback to savepoint before_failure;
select is(pg_temp.invoice('2032-07-01'), 'INV-2032-0002', 'rolled back, the same number goes to the next one');

-- Numbers given by hand.
select is(pg_temp.invoice('2032-08-01', 'INV-2032-0003'), 'INV-2032-0003', 'a number is given by hand');
select is(pg_temp.invoice('2032-08-02'), 'INV-2032-0004', 'the counter skips it');
select throws_ok($$ select pg_temp.invoice('2032-08-03', 'INV-2032-0004') $$, '23505',
                 'invoice number INV-2032-0004 is already used in this organization',
                 'a number the counter gave cannot be given by hand');

-- Monthly, across month and year ends.
select pg_temp.set_invoice_pattern('{YY}{MM}-{SEQ:3}', 'monthly');
select is(pg_temp.invoice('2031-01-31'), '3101-001', 'a monthly counter starts at 1');
select is(pg_temp.invoice('2031-02-01'), '3102-001', 'and again the next month');
select is(pg_temp.invoice('2031-02-28'), '3102-002', 'continues within the month');
select is(pg_temp.invoice('2032-01-15'), '3201-001', 'January of the next year is a new period');
select results_eq(
  $$ select period, next_number from public.document_counters
     where organization_id = tests.org('main') and document_type = 'invoice' order by period $$,
  $$ values ('2031'::text, 3::bigint), ('2031-01', 2), ('2031-02', 3), ('2032', 5), ('2032-01', 2) $$,
  'a counter per organization, type and period'
);

-- Quotes and credit notes count on their own.
select is(private.next_document_number(tests.org('main'), 'quote', '2031-05-01'), 'QUO-0001', 'quotes have their own counter');
select is(private.next_document_number(tests.org('main'), 'credit_note', '2031-05-01'), 'CN-0001', 'so have credit notes');
select is(private.next_document_number(tests.org('main'), 'quote', '2031-05-02'), 'QUO-0002', 'one after the other');
select throws_ok($$ select private.next_document_number(tests.org('main'), 'receipt', '2031-05-01') $$,
                 '22023', null, 'an unknown document type is refused');

-- The old fields follow the pattern, and the pattern the old fields.
select pg_temp.set_invoice_pattern('F{YYYY}/{SEQ:6}', 'never');
select results_eq(
  $$ select invoice_prefix, invoice_number_padding from public.organization_settings
     where organization_id = tests.org('main') $$,
  $$ values ('F'::text, 6) $$, 'a new pattern sets the prefix (its text before the first token) and the padding');
update public.organization_settings set invoice_prefix = 'G-', invoice_number_padding = 2
where organization_id = tests.org('main');
select is((select invoice_number_pattern from public.organization_settings where organization_id = tests.org('main')),
          'G-{YYYY}/{SEQ:2}', 'a new prefix and padding rewrite the pattern');

-- A member who is not in the organization gets no number of it.
select tests.authenticate_as('stranger');
select throws_ok($$ select private.next_document_number(tests.org('main'), 'quote', '2031-05-01') $$,
                 '42501', null, 'a stranger cannot advance another organization''s counter');

select * from finish();
rollback;
