-- =============================================================================
-- A quote's lifecycle (20261206110300_quotes.sql): sending, the client's answer
-- within valid_until, conversion into an invoice (copied, linked both ways,
-- once), the links not writable by the API roles, the invoice's draft deleted,
-- and the expiry job (each organization's own today, bounded, run twice).
-- =============================================================================
begin;
select plan(37);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency, email) values
  ('c0000000-0000-4000-8000-7e5700000541', tests.org('main'), 'Lifecycle Client', 'EUR', 'l@client.test'),
  ('c0000000-0000-4000-8000-7e5700000542', tests.org('other'), 'Other Client', 'USD', null);

create table pg_temp.ids (name text primary key, id uuid);
grant all on pg_temp.ids to authenticated, service_role, anon;
create function pg_temp.id(which text) returns uuid language sql as $$
  select id from pg_temp.ids where name = which $$;
grant execute on function pg_temp.id(text) to authenticated, service_role, anon;
create function pg_temp.quote(client uuid, valid date default null) returns uuid language sql as $$
  select (public.create_quote(
    (select organization_id from public.clients where id = client),
    jsonb_strip_nulls(jsonb_build_object('client_id', client, 'tax_rate', 19, 'discount', 5,
      'notes', 'Quote notes', 'terms', 'Quote terms', 'template', 'minimal',
      'issue_date', case when valid is not null then least(valid, current_date - 40) end,
      'valid_until', valid)),
    '[{"description": "First", "quantity": 2, "rate": 12.345},
      {"description": "Second", "quantity": 1, "rate": 80}]') ->> 'id')::uuid $$;
grant execute on function pg_temp.quote(uuid, date) to authenticated, service_role;

select tests.authenticate_as('member');
insert into pg_temp.ids values
  ('a', pg_temp.quote('c0000000-0000-4000-8000-7e5700000541')),
  ('late', pg_temp.quote('c0000000-0000-4000-8000-7e5700000541'));

-- Sending ---------------------------------------------------------------------
select throws_ok($$ select public.convert_quote(tests.org('main'), pg_temp.id('a')) $$, '23514', null,
  'a draft cannot be converted');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('a'), 'accepted') $$, '23514',
  null, 'a draft cannot be accepted');
select is(public.mark_quote_sent(tests.org('main'), pg_temp.id('a'), 'ses-1',
  '{"to": ["l@client.test"]}', 'Quote from Victim Co') #>> '{quote,status}', 'sent',
  'the send is recorded and the draft becomes sent');
select isnt_empty($$ select 1 from public.client_activities
  where metadata ->> 'quote_id' = pg_temp.id('a')::text and metadata ->> 'ses_message_id' = 'ses-1' $$,
  'the send is on the client''s timeline with its SES message id');
select throws_ok($$ select public.convert_quote(tests.org('main'), pg_temp.id('a')) $$, '23514', null,
  'a sent quote cannot be converted before it is accepted');

-- The answer, within valid_until ---------------------------------------------------
select lives_ok($$ select public.update_quote(tests.org('main'), pg_temp.id('late'), '{"status": "sent"}') $$,
  'another quote is sent');
select tests.as_superuser();
update public.quotes set issue_date = current_date - 40, valid_until = private.organization_today(organization_id) - 1
where id = pg_temp.id('late');
select tests.authenticate_as('member');
select throws_like($$ select public.decide_quote(tests.org('main'), pg_temp.id('late'), 'accepted') $$,
  '%expired on%', 'a quote past valid_until cannot be accepted');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('late'), 'declined') $$, '23514',
  null, 'nor declined');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('a'), 'maybe') $$, '22023', null,
  'an unknown decision is refused');

select tests.authenticate_as('viewer');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('a'), 'accepted') $$, '42501',
  null, 'a viewer cannot record the answer');
select tests.authenticate_as('member');
select is(public.decide_quote(tests.org('main'), pg_temp.id('a'), 'accepted') ->> 'status', 'accepted',
  'a member records the client''s acceptance');
select isnt((select accepted_at from public.quotes where id = pg_temp.id('a')), null, 'accepted_at is set');

-- Conversion ----------------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok($$ select public.convert_quote(tests.org('main'), pg_temp.id('a')) $$, '42501', null,
  'a viewer cannot convert');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.convert_quote(tests.org('other'), pg_temp.id('a')) $$, 'P0002', null,
  'a stranger naming their own organization finds no such quote');

select tests.authenticate_as('member');
insert into pg_temp.ids
select 'invoice', (public.convert_quote(tests.org('main'), pg_temp.id('a')) #>> '{invoice,id}')::uuid;
select results_eq(
  $$ select i.client_id, i.currency, i.subtotal, i.discount, i.tax_rate, i.tax_amount, i.total_amount,
            i.notes, i.terms, i.template, i.status
     from public.invoices i where i.id = pg_temp.id('invoice') $$,
  $$ select q.client_id, q.currency, q.subtotal, q.discount, q.tax_rate, q.tax_amount, q.total_amount,
            q.notes, q.terms, q.template, 'draft'::text
     from public.quotes q where q.id = pg_temp.id('a') $$,
  'the invoice has the quote''s client, currency, money, notes, terms and template, as a draft');
select results_eq(
  $$ select position, description, quantity, rate, amount from public.invoice_items
     where invoice_id = pg_temp.id('invoice') order by position $$,
  $$ select position, description, quantity, rate, amount from public.quote_items
     where quote_id = pg_temp.id('a') order by position $$,
  'the invoice''s items are the quote''s, in order');
select is((select quote_id from public.invoices where id = pg_temp.id('invoice')), pg_temp.id('a'),
  'the invoice remembers its quote');
select results_eq(
  $$ select status, invoice_id from public.quotes where id = pg_temp.id('a') $$,
  $$ values ('converted'::text, pg_temp.id('invoice')) $$,
  'the quote is converted and names its invoice');
select is(public.get_quote(tests.org('main'), pg_temp.id('a')) #>> '{invoice,id}', pg_temp.id('invoice')::text,
  'the quote''s document names the invoice');
select is((select issue_date from public.invoices where id = pg_temp.id('invoice')),
  private.organization_today(tests.org('main')), 'the invoice is dated today where the business is');
select throws_ok($$ select public.convert_quote(tests.org('main'), pg_temp.id('a')) $$, '23505', null,
  'converting twice is refused (409)');
select is((select count(*) from public.invoices where quote_id = pg_temp.id('a')), 1::bigint,
  'and made no second invoice');
select throws_ok($$ select public.decide_quote(tests.org('main'), pg_temp.id('a'), 'declined') $$, '23514',
  null, 'a converted quote cannot be declined');
select throws_ok($$ update public.invoices set quote_id = null where id = pg_temp.id('invoice') $$, '42501',
  null, 'a member cannot rewrite an invoice''s quote');
select throws_ok($$ update public.quotes set invoice_id = null where id = pg_temp.id('a') $$, '42501', null,
  'nor a quote''s invoice');
select throws_ok($$ select private.link_quote_and_invoice(tests.org('main'), pg_temp.id('late'),
  pg_temp.id('invoice')) $$, '23514', null, 'the link helper refuses a quote that is not accepted');

-- The invoice's draft deleted: the quote is accepted again -----------------------------
select lives_ok($$ select public.delete_invoice(tests.org('main'), pg_temp.id('invoice')) $$,
  'the draft invoice made from the quote is deleted');
select results_eq(
  $$ select status, invoice_id, converted_at from public.quotes where id = pg_temp.id('a') $$,
  $$ values ('accepted'::text, null::uuid, null::timestamptz) $$,
  'the quote is accepted again, without its invoice');
select isnt(public.convert_quote(tests.org('main'), pg_temp.id('a')) #>> '{quote,status}', null,
  'and can be converted again');

-- The expiry job --------------------------------------------------------------------
select tests.as_superuser();
update public.organization_settings set time_zone = 'Pacific/Kiritimati' where organization_id = tests.org('main');
update public.organization_settings set time_zone = 'Pacific/Pago_Pago' where organization_id = tests.org('other');
-- Sent quotes valid through yesterday and through today, in each organization's own day
-- (created by their members: a transaction's SQL functions keep the plans of their
-- first caller's row security).
select tests.authenticate_as('member');
insert into pg_temp.ids values ('main-yesterday', pg_temp.quote('c0000000-0000-4000-8000-7e5700000541',
                                  private.organization_today(tests.org('main')) - 1));
insert into pg_temp.ids values ('main-today', pg_temp.quote('c0000000-0000-4000-8000-7e5700000541',
                                  private.organization_today(tests.org('main'))));
select tests.authenticate_as('stranger');
insert into pg_temp.ids values ('other-yesterday', pg_temp.quote('c0000000-0000-4000-8000-7e5700000542',
                                  private.organization_today(tests.org('other')) - 1));
insert into pg_temp.ids values ('other-today', pg_temp.quote('c0000000-0000-4000-8000-7e5700000542',
                                  private.organization_today(tests.org('other'))));
select tests.as_superuser();
update public.quotes set status = 'sent'
where id in (select id from pg_temp.ids where name like '%-yesterday' or name like '%-today');

select tests.authenticate_as('owner');
select throws_ok($$ select public.job_expire_quotes() $$, '42501', null, 'a user cannot run the job');

select tests.authenticate_as_service_role();
select is(public.job_expire_quotes(2) ->> 'expired', '2',
  'a call expires at most batch_limit quotes (three are due)');
select is(public.job_expire_quotes(2), '{"expired": 1, "organizations": 1}'::jsonb,
  'the next call expires the rest');
select is(public.job_expire_quotes(2) ->> 'expired', '0', 'a run after that finds nothing to do');
select results_eq(
  $$ select name, q.status from pg_temp.ids join public.quotes q using (id)
     where name in ('late', 'main-yesterday', 'main-today', 'other-yesterday', 'other-today')
     order by name $$,
  $$ values ('late'::text, 'expired'::text), ('main-today', 'sent'), ('main-yesterday', 'expired'),
            ('other-today', 'sent'), ('other-yesterday', 'expired') $$,
  'quotes past valid_until in their organization''s time zone expire; those valid today do not');
select isnt((select expired_at from public.quotes where id = pg_temp.id('late')), null, 'expired_at is set');

select tests.authenticate_as('member');
select throws_ok($$ select public.convert_quote(tests.org('main'), pg_temp.id('late')) $$, '23514', null,
  'an expired quote cannot be converted');

-- Deleting the organization takes its quotes and invoices, linked or not ------------------
select tests.as_superuser();
select lives_ok($$ delete from public.organizations where id = tests.org('main') $$,
  'an organization with converted quotes can be deleted');

select * from finish();
rollback;
