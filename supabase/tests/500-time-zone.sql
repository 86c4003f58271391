-- =============================================================================
-- The organization's time zone (migration 20261206110100_time_zone_and_numbering.sql):
-- IANA names only, for every writer; organization_today; invoices created without an
-- issue date are dated the organization's today and due from it; who may change it.
-- No assertion depends on the day it runs: dates are compared with now() read in
-- the same transaction.
-- =============================================================================
begin;
select plan(30);

select tests.create_cast();
insert into public.clients (organization_id, company_name)
values (tests.org('main'), 'Zoned Client');

select col_default_is('public', 'organization_settings', 'time_zone', 'UTC'::text,
                      'the time zone is UTC by default');
select col_not_null('public', 'organization_settings', 'time_zone', 'and never null');
select is((select time_zone from public.organization_settings where organization_id = tests.org('main')),
          'UTC', 'an existing organization reads UTC');

-- What a name must be.
select ok(private.is_iana_time_zone('Europe/Paris'), 'Europe/Paris is a time zone');
select ok(private.is_iana_time_zone('America/Argentina/Buenos_Aires'), 'so is a three-part name');
select ok(private.is_iana_time_zone('UTC'), 'and UTC');
select ok(not private.is_iana_time_zone('EST'), 'an abbreviation is not (EST, a zone file of its own)');
select ok(not private.is_iana_time_zone('+05'), 'an offset is not');
select ok(not private.is_iana_time_zone('UTC+3'), 'a POSIX rule is not');
select ok(not private.is_iana_time_zone('EST5EDT'), 'nor a POSIX-style name');
select ok(not private.is_iana_time_zone('posix/Europe/Paris'), 'nor the database''s posix/ copy');
select ok(not private.is_iana_time_zone('europe/paris'), 'names are spelled as the database spells them');
select ok(not private.is_iana_time_zone('Mars/Olympus_Mons'), 'an unknown name of the right shape is not');
select ok(not private.is_iana_time_zone(null), 'nor null');

-- Every writer (here the database owner, past the API) is held to it.
select throws_ok(
  $$ update public.organization_settings set time_zone = 'EST' where organization_id = tests.org('main') $$,
  '22023', null, 'an abbreviation is refused (the trigger, before the shape check)');
select throws_ok(
  $$ update public.organization_settings set time_zone = 'Mars/Olympus_Mons' where organization_id = tests.org('main') $$,
  '22023', null, 'an unknown name of the right shape is refused by the trigger');

-- organization_today.
update public.organization_settings set time_zone = 'Pacific/Kiritimati' where organization_id = tests.org('main');
select is(private.organization_today(tests.org('main')), (now() at time zone 'Pacific/Kiritimati')::date,
          'today is the date now where the business is');
select is(private.organization_today(tests.org('other')), (now() at time zone 'UTC')::date,
          'in UTC for an organization left at the default');
select is(private.organization_today(gen_random_uuid()), (now() at time zone 'UTC')::date,
          'and for an organization that does not exist');

-- Invoices without an issue date.
select tests.authenticate_as('member');
insert into public.invoices (organization_id, client_id, payment_terms)
select tests.org('main'), id, 'net15' from public.clients where company_name = 'Zoned Client';
select results_eq(
  $$ select issue_date, due_date from public.invoices where organization_id = tests.org('main') $$,
  $$ select (now() at time zone 'Pacific/Kiritimati')::date,
            (now() at time zone 'Pacific/Kiritimati')::date + 15 $$,
  'a row inserted without an issue date is dated the organization''s today, due from it'
);
select is(
  (public.create_invoice(tests.org('main'),
     jsonb_build_object('client_id', (select id from public.clients where company_name = 'Zoned Client'),
                        'payment_terms', 'net7'),
     '[{"description": "Work", "quantity": 1, "rate": 10}]') ->> 'due_date')::date,
  (now() at time zone 'Pacific/Kiritimati')::date + 7,
  'create_invoice dates it the same way (due seven days after the local today)'
);
select is(
  (public.create_invoice(tests.org('main'),
     jsonb_build_object('client_id', (select id from public.clients where company_name = 'Zoned Client'),
                        'issue_date', '2031-02-03', 'payment_terms', 'net7'),
     '[{"description": "Work", "quantity": 1, "rate": 10}]') ->> 'issue_date'),
  '2031-02-03', 'a given issue date is kept'
);

-- Who may change it.
select tests.authenticate_as('viewer');
select is(tests.rows_affected($$ update public.organization_settings set time_zone = 'Europe/Paris'
                                where organization_id = tests.org('main') $$), 0,
          'a viewer cannot change the time zone');
select tests.authenticate_as('member');
select is(tests.rows_affected($$ update public.organization_settings set time_zone = 'Europe/Paris'
                                where organization_id = tests.org('main') $$), 0,
          'nor a member');
select tests.authenticate_as('stranger');
select is(tests.rows_affected($$ update public.organization_settings set time_zone = 'Europe/Paris'
                                where organization_id = tests.org('main') $$), 0,
          'nor a stranger');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"time_zone": "Europe/Paris"}') $$,
  '42501', null, 'nor through the settings RPC');
select tests.authenticate_as('admin');
select is(
  public.update_settings(tests.org('main'), business => '{"time_zone": "Europe/Paris"}')
    -> 'business' ->> 'time_zone',
  'Europe/Paris', 'an admin changes it through the settings RPC');
select throws_ok(
  $$ select public.update_settings(tests.org('main'), business => '{"time_zone": "CET"}') $$,
  '22023', null, 'which refuses an abbreviation with its own message');
select throws_like(
  $$ select public.update_settings(tests.org('main'), business => '{"time_zone": "+05"}') $$,
  'business.time_zone must be an IANA time zone name%', 'naming the field');
select tests.authenticate_as('anon');
select throws_ok(
  $$ select private.organization_today(tests.org('main')) $$,
  '42501', null, 'anon may not call organization_today');

select * from finish();
rollback;
