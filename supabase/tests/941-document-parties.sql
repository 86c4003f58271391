-- =============================================================================
-- public.document_parties (migration 20261206170200): the seller's and the named
-- buyers' fields, seals as stored, for the document loaders. Security invoker: RLS
-- decides; a viewer reads them, a stranger gets no seller and no buyer, another
-- organization's client named in the list is not answered, anon may not call it.
-- The client page's answer and the payment batch's carry the seals for the API to open.
-- =============================================================================
begin;
select plan(12);

select tests.create_cast();

update public.organization_settings
   set tax_id_sealed = '{"v":1,"kid":"k","dk":"a","n":"b","c":"seller"}', tax_id_hash = repeat('ab', 32),
       country_code = 'DE', legal_registration_id = 'HRB 1'
 where organization_id = tests.org('main');
insert into public.clients (id, organization_id, company_name, currency, vat_id_sealed, vat_id_hash, country_code) values
  ('c0000000-0000-4000-8000-941000000001', tests.org('main'), 'Main Buyer', 'EUR',
   '{"v":1,"kid":"k","dk":"a","n":"b","c":"buyer"}', repeat('cd', 32), 'FR'),
  ('c0000000-0000-4000-8000-941000000002', tests.org('other'), 'Other Buyer', 'EUR', null, null, null);

select tests.authenticate_as('viewer');
select is(
  public.document_parties(tests.org('main'), array['c0000000-0000-4000-8000-941000000001']::uuid[])
    #>> '{seller,tax_id_sealed,c}',
  'seller', 'a viewer reads the seller''s sealed VAT id as stored');
select is(
  public.document_parties(tests.org('main'), array['c0000000-0000-4000-8000-941000000001']::uuid[])
    #>> '{seller,legal_registration_id}',
  'HRB 1', 'and its other fields');
select is(
  public.document_parties(tests.org('main'), array['c0000000-0000-4000-8000-941000000001']::uuid[])
    #>> '{buyers,c0000000-0000-4000-8000-941000000001,vat_id_sealed,c}',
  'buyer', 'and the buyer''s, by client id');
select is(
  public.document_parties(tests.org('main'), array['c0000000-0000-4000-8000-941000000001',
                                                   'c0000000-0000-4000-8000-941000000002']::uuid[])
    -> 'buyers' ? 'c0000000-0000-4000-8000-941000000002',
  false, 'another organization''s client named in the list is not answered');
select is(
  public.document_parties(tests.org('other'), array['c0000000-0000-4000-8000-941000000002']::uuid[]),
  '{"seller": null, "buyers": {}}'::jsonb, 'a member of main reads nothing of another organization');

select tests.authenticate_as('stranger');
select is(
  public.document_parties(tests.org('main'), array['c0000000-0000-4000-8000-941000000001']::uuid[]),
  '{"seller": null, "buyers": {}}'::jsonb, 'a stranger gets no seller and no buyer');
select is(
  (select count(*)::int from public.clients where vat_id_hash = repeat('cd', 32)), 0,
  'nor finds main''s client by its VAT id''s hash');

select tests.clear_authentication();
select throws_ok($$
  select public.document_parties(tests.org('main'), '{}'::uuid[]) $$,
  '42501', null, 'anon may not call it');
select throws_ok($$ select tax_id_sealed from public.organization_settings $$,
  '42501', null, 'anon reads no settings, sealed or not');
select throws_ok($$ select vat_id_sealed from public.clients $$,
  '42501', null, 'anon reads no clients');

-- The client page and payment batches carry the seals ----------------------------------
select tests.as_superuser();
select ok(
  pg_get_functiondef('private.portal_document(public.client_links)'::regprocedure) like '%document_parties%',
  'the client page''s answer carries the parties');
select ok(
  pg_get_functiondef('private.payment_batch_json(uuid)'::regprocedure) like '%vendor_iban_sealed%',
  'a payment batch''s items carry the vendors'' sealed IBANs');

select * from finish();
rollback;
