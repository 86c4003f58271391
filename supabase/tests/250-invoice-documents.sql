-- =============================================================================
-- public.invoice_document: the one-call read behind invoice PDFs and emails.
-- Members (viewers too) get the invoice with its items in order, payments,
-- client and business; a stranger gets null; the service role gets it only
-- with the right organization; anon may not call it.
-- =============================================================================
begin;
select plan(14);

select tests.create_cast();

create table pg_temp.ids (name text primary key, id uuid);
grant all on pg_temp.ids to authenticated, service_role, anon;

select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name, currency, email, address)
values (tests.org('main'), 'Müller & Söhne 株式会社', 'USD', 'ap@mueller.example',
        'Friedrichstraße 123');
insert into pg_temp.ids
select 'invoice', (public.create_invoice(
  tests.org('main'),
  jsonb_build_object('client_id', (select id from public.clients where company_name = 'Müller & Söhne 株式会社'),
                     'invoice_number', 'DOC-1', 'payment_terms', 'net30', 'tax_rate', 10),
  '[{"description": "second", "quantity": 1, "rate": 5},
    {"description": "first", "quantity": 2, "rate": 10}]'::jsonb) ->> 'id')::uuid;
select tests.as_superuser();
-- Positions against the order of creation: the document must follow position.
update public.invoice_items set position = case description when 'first' then 3 else 7 end
where invoice_id = (select id from pg_temp.ids where name = 'invoice');
update public.invoices set status = 'sent' where id = (select id from pg_temp.ids where name = 'invoice');
insert into public.payments (invoice_id, amount)
values ((select id from pg_temp.ids where name = 'invoice'), 3);
update public.organization_settings set tax_label = 'VAT', invoice_footer = 'Thanks!'
where organization_id = tests.org('main');

create function pg_temp.doc(org uuid) returns jsonb
language sql as $$
  select public.invoice_document(org, (select id from pg_temp.ids where name = 'invoice'))
$$;
grant execute on function pg_temp.doc(uuid) to authenticated, service_role, anon;

select tests.authenticate_as('owner');
select is(pg_temp.doc(tests.org('main')) ->> 'invoice_number', 'DOC-1',
  'the owner reads the document');
select is(jsonb_path_query_array(pg_temp.doc(tests.org('main')), '$.items[*].description'),
  '["first", "second"]'::jsonb, 'items come in position order');
select is(pg_temp.doc(tests.org('main')) #>> '{items,0,amount}', '20.00',
  'item amounts at the currency scale');
select is(jsonb_array_length(pg_temp.doc(tests.org('main')) -> 'payments'), 1,
  'the payments are in the document');
select is(pg_temp.doc(tests.org('main')) #>> '{client,company_name}',
  'Müller & Söhne 株式会社', 'the client is in the document');
select is(pg_temp.doc(tests.org('main')) #>> '{organization,settings,tax_label}', 'VAT',
  'the business settings are in the document');
select is(pg_temp.doc(tests.org('main')) #>> '{organization,settings,business_name}',
  'Victim Co', 'the business name is in the document');

select tests.authenticate_as('viewer');
select is(pg_temp.doc(tests.org('main')) ->> 'balance_due', '24.50',
  'a viewer reads the document (27.50 total less 3.00 paid)');

select tests.authenticate_as('stranger');
select is(pg_temp.doc(tests.org('main')), null,
  'a stranger naming the organization gets nothing');
select is(pg_temp.doc(tests.org('other')), null,
  'a stranger naming their own organization gets nothing');

select tests.authenticate_as_service_role();
select is(pg_temp.doc(tests.org('main')) ->> 'invoice_number', 'DOC-1',
  'the service role reads it with the right organization');
select is(pg_temp.doc(tests.org('other')), null,
  'the service role gets nothing with another organization');

select tests.clear_authentication();
select throws_ok($$ select pg_temp.doc(tests.org('main')) $$, '42501', null,
  'anon may not call it');

select tests.as_superuser();
select is(
  (select prosecdef from pg_proc where oid = 'public.invoice_document(uuid, uuid)'::regprocedure),
  false, 'security invoker: row level security applies to the caller');

select * from finish();
rollback;
