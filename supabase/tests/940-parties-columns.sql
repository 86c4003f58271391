-- =============================================================================
-- Parties and sealed fields (migration 20261206170200): the columns and their checks
-- (a sealed value is an envelope, a hash 64 hex digits and only beside its seal, a
-- clear value never beside its seal, country codes, formats, schemes); who may read and
-- write them (anon nothing; members read; admins write the seller's, members the
-- buyers'); update_settings refusing clear tax ids and payment instructions, emptying
-- the clear column when a seal is written; the audit log recording "[redacted]" for a
-- clear sensitive value.
-- =============================================================================
begin;
select plan(33);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-940000000001', tests.org('main'), 'Buyer GmbH', 'EUR'),
  ('c0000000-0000-4000-8000-940000000002', tests.org('other'), 'Other Buyer', 'EUR');
insert into public.vendors (id, organization_id, name) values
  ('b0000000-0000-4000-8000-940000000001', tests.org('main'), 'Seller Vendor');

-- Columns ---------------------------------------------------------------------
select has_column('public', 'organization_settings', c, 'organization_settings.' || c)
from unnest(array['country_code', 'tax_id_sealed', 'tax_id_hash', 'iban_sealed',
                  'default_payment_instructions_sealed', 'einvoice_format']) c;
select has_column('public', 'clients', c, 'clients.' || c)
from unnest(array['vat_id_sealed', 'vat_id_hash', 'country_code', 'buyer_reference']) c;

-- Anon reads none of them; members read, PostgREST's column grants write ------------
select ok(not has_column_privilege('anon', 'public.organization_settings', 'tax_id_sealed', 'select'),
  'anon cannot read a sealed VAT id');
select ok(not has_column_privilege('anon', 'public.clients', 'vat_id_sealed', 'select'),
  'anon cannot read a client''s sealed VAT id');
select ok(not has_column_privilege('anon', 'public.vendors', 'iban_sealed', 'select'),
  'anon cannot read a vendor''s sealed IBAN');
select ok(not has_column_privilege('anon', 'public.payables_settings', 'debtor_iban_sealed', 'select'),
  'anon cannot read the sealed debtor IBAN');

select tests.authenticate_as('member');
select lives_ok($$
  update public.clients set vat_id_sealed = '{"v":1,"kid":"k","dk":"a","n":"b","c":"c"}',
         vat_id_hash = repeat('cd', 32), country_code = 'DE', buyer_reference = '04011000-1234512345-06'
   where id = 'c0000000-0000-4000-8000-940000000001' $$,
  'a member writes a client''s sealed VAT id, its hash and buyer fields');
select is((select count(*)::int from public.clients where vat_id_hash = repeat('cd', 32)), 1,
  'a client is found by its VAT id''s hash');
select throws_ok($$
  update public.clients set vat_id_hash = null where id = 'c0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'a seal keeps its hash');
select throws_ok($$
  update public.clients set vat_id_sealed = '"FR61954506077"' where id = 'c0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'a seal is an envelope, never a clear value');
select throws_ok($$
  update public.clients set country_code = 'de' where id = 'c0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'a country code is two capitals');
select throws_ok($$
  update public.clients set einvoice_format = 'ubl' where id = 'c0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'an unknown e-invoice format is refused');
select throws_ok($$
  update public.clients set electronic_address = '4000001000005' where id = 'c0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'an electronic address needs its scheme');
select lives_ok($$
  update public.vendors set iban_sealed = '{"v":1,"kid":"k","dk":"a","n":"b","c":"c"}', iban_hash = repeat('ef', 32)
   where id = 'b0000000-0000-4000-8000-940000000001' $$,
  'a member writes a vendor''s sealed IBAN');
select throws_ok($$
  update public.vendors set iban = 'DE89370400440532013000' where id = 'b0000000-0000-4000-8000-940000000001' $$,
  '23514', null, 'a clear IBAN never sits beside a sealed one');
select is(
  public.reconciliation_vendor(tests.org('main'), 'b0000000-0000-4000-8000-940000000001')
    ?| array['iban_sealed', 'iban_hash'],
  false, 'a vendor''s answer carries neither the IBAN''s seal nor its hash');

-- The seller: admins through update_settings; a member may not ---------------------
select throws_ok($$
  select public.update_settings(tests.org('main'), null, '{"country_code": "DE"}') $$,
  '42501', null, 'a member cannot change the seller''s fields');
select tests.authenticate_as('admin');
select throws_ok($$
  select public.update_settings(tests.org('main'), null, '{"tax_id": "DE136695976"}') $$,
  '22023', null, 'a clear VAT id is refused: only seals go in');
select throws_ok($$
  select public.update_settings(tests.org('main'), null, '{"default_payment_instructions": "IBAN DE89"}') $$,
  '22023', null, 'clear payment instructions are refused');
select throws_ok($$
  select public.update_settings(tests.org('main'), null, '{"iban_sealed": {"v": 1}}') $$,
  '22023', null, 'a sealed field must be a whole envelope');
select is(
  public.update_settings(tests.org('main'), null,
    ('{"tax_id_sealed": {"v":1,"kid":"k","dk":"a","n":"b","c":"c"}, "tax_id_hash": "'
    || repeat('ab', 32) || '", "country_code": "de", "einvoice_format": "xrechnung-cii", "brand_color": "#00aa00", "client_link_days": 14}')::jsonb
  ) -> 'business' ->> 'tax_id_hash',
  repeat('ab', 32), 'an admin writes a sealed VAT id with its hash');
select tests.as_superuser();
select is(
  (select row(tax_id, country_code, einvoice_format, brand_color, client_link_days)::text
     from public.organization_settings where organization_id = tests.org('main')),
  row(null::text, 'DE', 'xrechnung-cii', '#00aa00', 14)::text,
  'the clear column is empty, the fields stored (the country code in capitals)');
select throws_ok($$
  update public.organization_settings set tax_id = 'DE136695976' where organization_id = tests.org('main') $$,
  '23514', null, 'a clear VAT id never sits beside a sealed one');

-- Clear values written before: the audit log keeps them redacted -----------------------
insert into public.vendors (id, organization_id, name, tax_id, iban) values
  ('b0000000-0000-4000-8000-940000000002', tests.org('other'), 'Clear Vendor', 'DE136695976',
   'DE89370400440532013000');
select is(
  (select new_record ->> 'iban' || ' ' || (new_record ->> 'tax_id') from public.audit_log
    where table_name = 'public.vendors' and record_id = 'b0000000-0000-4000-8000-940000000002'),
  '[redacted] [redacted]', 'the audit log records a clear sensitive value as [redacted]');
select is(
  (select count(*)::int from public.audit_log
    where organization_id = tests.org('other')
      and (coalesce(old_record::text, '') || new_record::text) like '%DE89370400440532013000%'),
  0, 'and nowhere in clear');

select * from finish();
rollback;
