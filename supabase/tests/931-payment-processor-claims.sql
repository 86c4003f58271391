-- =============================================================================
-- The payment functions' role at work (migration 20261206170100): with the claims
-- the functions mint (role payment_processor, iss invoiceflow-payments, aud
-- invoiceflow-payment-processor, at most 60 s) the Pay button reads the sealed
-- secret key of a live link's invoice and the webhook its endpoint's sealed
-- secrets; any other issuer, audience, lifetime or an expired token is refused;
-- anon with a live link's token and an owner of the organization read nothing
-- sealed.
-- =============================================================================
begin;
select plan(16);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000931', tests.org('main'), 'Role Client', 'USD');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000931', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000931', 'PR-1');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000931', 'Work', 1, 100);
update public.invoices set status = 'sent' where id = 'e0000000-0000-4000-8000-7e5700000931';

create function pg_temp.h(token text) returns text language sql immutable as $$
  select encode(extensions.digest(token, 'sha256'), 'hex') $$;
-- The claims a payment function mints, with one of them replaced.
create function pg_temp.as_processor(changes jsonb default '{}') returns void language sql as $$
  select set_config('role', 'payment_processor', true),
         set_config('request.jwt.claims', (jsonb_build_object('role', 'payment_processor',
           'iss', 'invoiceflow-payments', 'aud', 'invoiceflow-payment-processor',
           'iat', floor(extract(epoch from now())), 'exp', floor(extract(epoch from now())) + 60)
           || changes)::text, true) $$;
create function pg_temp.checkout(token text) returns jsonb language sql as $$
  select public.portal_checkout(pg_temp.h(token), '192.0.2.31', 0, 0, 60) $$;
grant execute on function pg_temp.h(text), pg_temp.as_processor(jsonb), pg_temp.checkout(text)
  to anon, authenticated, payment_processor;
-- pgTAP's and the cast's schemas for the role, in this transaction only
grant usage on schema extensions, tests to payment_processor;

select tests.authenticate_as('owner');
select 'connected' from public.connect_stripe_account(tests.org('main'), 'tok_role_aaaaaaaaaaaaaaaaaaa',
  'sealed-secret-key', 'sealed-webhook-secret', repeat('cd', 32), 'sealed-handler-key', false, false);
select 'linked' from public.create_client_link(tests.org('main'), 'invoice', 'e0000000-0000-4000-8000-7e5700000931',
  pg_temp.h('role-link-token'));

-- Anon, with a live link's token ------------------------------------------------
select tests.authenticate_as('anon');
select is(public.portal_open(pg_temp.h('role-link-token'), '192.0.2.31', 'client_link_viewed', 0, 0, 60) ->> 'found',
  'true', 'anon reads the page of a live link');
select ok(public.portal_open(pg_temp.h('role-link-token'), '192.0.2.31', 'client_link_viewed', 0, 0, 60)::text
  !~ '(sealed-secret-key|sealed-webhook-secret|sealed-handler-key|secret_key_sealed)',
  'and none of the Stripe account''s sealed values in it');
select throws_ok($$ select pg_temp.checkout('role-link-token') $$, '42501', null,
  'anon cannot ask for the Pay button''s sealed key');
select throws_ok($$ select public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'nor for the webhook''s sealed secrets by the endpoint token');
select throws_ok($$ select public.handle_stripe_event('tok_role_aaaaaaaaaaaaaaaaaaa', '{}', repeat('0', 64)) $$,
  '42501', null, 'nor hand in an event');

-- An owner of the organization ----------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok($$ select pg_temp.checkout('role-link-token') $$, '42501', null,
  'an owner cannot read the sealed key through the Pay button''s function');
select throws_ok($$ select public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'nor through the webhook''s');

-- payment_processor with the minted claims -----------------------------------------
select pg_temp.as_processor();
select is(pg_temp.checkout('role-link-token') #>> '{stripe,secret_key_sealed}', 'sealed-secret-key',
  'the Pay button''s function reads the invoice''s sealed key by the link''s token');
select is(pg_temp.checkout('no-such-token'), '{"found": false}'::jsonb,
  'a wrong token reads nothing');
select is(public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') ->> 'webhook_secret_sealed',
  'sealed-webhook-secret', 'the webhook''s function reads the endpoint''s sealed secret');

-- ... and with anything else ----------------------------------------------------
select pg_temp.as_processor('{"iss": "someone-else"}');
select throws_ok($$ select public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'another issuer is refused');
select pg_temp.as_processor('{"aud": "authenticated"}');
select throws_ok($$ select pg_temp.checkout('role-link-token') $$, '42501', null,
  'another audience is refused');
select pg_temp.as_processor(jsonb_build_object('exp', floor(extract(epoch from now())) + 3600));
select throws_ok($$ select public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'a token living longer than 60 s is refused');
select pg_temp.as_processor(jsonb_build_object('iat', floor(extract(epoch from now())) - 120,
  'exp', floor(extract(epoch from now())) - 70));
select throws_ok($$ select public.stripe_webhook_account('tok_role_aaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'an expired token is refused');
select pg_temp.as_processor('{"iat": "now"}');
select throws_ok($$ select public.handle_stripe_event('tok_role_aaaaaaaaaaaaaaaaaaa', '{}', repeat('0', 64)) $$,
  '42501', null, 'claims that are not numbers are refused');
select pg_temp.as_processor('{"role": "anon"}');
select throws_ok($$ select pg_temp.checkout('role-link-token') $$, '42501', null,
  'the role switched to but another role claimed is refused');

select * from finish();
rollback;
