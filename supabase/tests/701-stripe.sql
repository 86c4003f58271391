-- =============================================================================
-- Stripe (migration 20261206130200): the sealed secrets readable by the service
-- role alone, an admin connects, the webhook's events handled once by their id,
-- a payment once per PaymentIntent whichever of its two events comes first, a
-- refund from cumulative amounts (an older event late adds nothing), a cancelled
-- invoice or an overpayment refused kept as needing attention, a dispute flagged,
-- zero-decimal and three-decimal currencies.
-- =============================================================================
begin;
select plan(32);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000711', tests.org('main'), 'Stripe Client', 'USD'),
  ('c0000000-0000-4000-8000-7e5700000712', tests.org('main'), 'Yen Client', 'JPY'),
  ('c0000000-0000-4000-8000-7e5700000713', tests.org('main'), 'Dinar Client', 'KWD');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000711', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000711', 'ST-1'),
  ('e0000000-0000-4000-8000-7e5700000712', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000711', 'ST-2'),
  ('e0000000-0000-4000-8000-7e5700000713', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000712', 'ST-3'),
  ('e0000000-0000-4000-8000-7e5700000714', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000713', 'ST-4'),
  ('e0000000-0000-4000-8000-7e5700000715', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000711', 'ST-5');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000711', 'Work', 1, 100),
  ('e0000000-0000-4000-8000-7e5700000712', 'Work', 1, 50),
  ('e0000000-0000-4000-8000-7e5700000713', 'Work', 3, 1500),
  ('e0000000-0000-4000-8000-7e5700000714', 'Work', 1, 12.345),
  ('e0000000-0000-4000-8000-7e5700000715', 'Work', 1, 40);
update public.invoices set status = 'sent' where id::text like 'e0000000-0000-4000-8000-7e570000071%';

create function pg_temp.ev(id text, kind text, obj jsonb) returns jsonb language sql as $$
  select jsonb_build_object('id', id, 'object', 'event', 'type', kind, 'livemode', false,
                            'created', 1800000000, 'data', jsonb_build_object('object', obj)) $$;
create function pg_temp.pi(id text, invoice text, amount bigint, currency text) returns jsonb language sql as $$
  select jsonb_build_object('id', id, 'object', 'payment_intent', 'amount', amount, 'amount_received', amount,
    'currency', currency, 'latest_charge', 'ch_' || id, 'metadata', jsonb_build_object('invoice_id', invoice)) $$;
create function pg_temp.money(invoice uuid) returns text language sql security definer set search_path = '' as $$
  select concat_ws(' ', i.status, i.amount_paid, i.balance_due) from public.invoices i where i.id = invoice $$;
-- The payment functions' role with the claims they mint (migration 20261206170100);
-- in this file's transaction it may use pgTAP's and the cast's schemas.
create function pg_temp.as_processor() returns void language sql as $$
  select set_config('role', 'payment_processor', true),
         set_config('request.jwt.claims', jsonb_build_object('role', 'payment_processor',
           'iss', 'invoiceflow-payments', 'aud', 'invoiceflow-payment-processor',
           'iat', floor(extract(epoch from now())), 'exp', floor(extract(epoch from now())) + 60)::text, true) $$;
create function pg_temp.send(e jsonb) returns jsonb language sql as $$
  -- handle_stripe_event leaves the transaction's claims the system's: each event is
  -- a request of its own, with the payment functions' claims
  select pg_temp.as_processor();
  select public.handle_stripe_event('tok_aaaaaaaaaaaaaaaaaaaaaaaaa', e::text,
    encode(extensions.hmac(e::text, repeat('ab', 32), 'sha256'), 'hex')) $$;
grant usage on schema extensions, tests to payment_processor;
grant execute on function pg_temp.ev(text, text, jsonb), pg_temp.pi(text, text, bigint, text),
  pg_temp.money(uuid), pg_temp.send(jsonb), pg_temp.as_processor()
  to service_role, authenticated, anon, payment_processor;

-- The account ---------------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.connect_stripe_account(tests.org('main'), 'tok_aaaaaaaaaaaaaaaaaaaaaaaaa',
  'sealed-key', 'sealed-secret', repeat('ab', 32), 'sealed-handler', false, true) $$, '42501', null,
  'a member cannot connect Stripe');
select tests.authenticate_as('owner');
select is(public.connect_stripe_account(tests.org('main'), 'tok_aaaaaaaaaaaaaaaaaaaaaaaaa',
  'sealed-key', 'sealed-secret', repeat('ab', 32), 'sealed-handler', false, true) ->> 'webhook_path', '/api/webhooks/stripe/tok_aaaaaaaaaaaaaaaaaaaaaaaaa',
  'an owner connects it');
select tests.authenticate_as('viewer');
select is(public.stripe_account(tests.org('main')) ?| array['secret_key_sealed', 'webhook_secret_sealed'], false,
  'a viewer sees the status, never the secrets');
select throws_ok($$ select * from private.stripe_accounts $$, '42501', null, 'no API role reads the account table');
select throws_ok($$ select public.stripe_webhook_account('tok_aaaaaaaaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'a member cannot read the webhook''s ciphertexts (payment_processor alone)');
select tests.authenticate_as('stranger');
select throws_ok($$ select public.stripe_account(tests.org('main')) $$, '42501', null, 'a stranger sees nothing');
select tests.authenticate_as('anon');
select is(public.portal_open(encode(extensions.digest('none', 'sha256'), 'hex'), '192.0.2.9'),
  '{"found": false}'::jsonb, 'anon still reaches only the page functions');
select throws_ok($$ select public.stripe_webhook_account('tok_aaaaaaaaaaaaaaaaaaaaaaaaa') $$, '42501', null,
  'anon cannot read the webhook''s ciphertexts');

select tests.authenticate_as('member');
select throws_ok($$ select public.handle_stripe_event('tok_aaaaaaaaaaaaaaaaaaaaaaaaa', '{}', repeat('0', 64)) $$,
  '42501', null, 'a member cannot hand in an event');
select pg_temp.as_processor();
select throws_ok($$ select public.handle_stripe_event('tok_aaaaaaaaaaaaaaaaaaaaaaaaa', '{}', repeat('0', 64)) $$,
  '42501', null, 'an event without the handler key''s MAC is refused, even from the payment functions');

-- Payments --------------------------------------------------------------------------
select is(public.stripe_webhook_account('tok_aaaaaaaaaaaaaaaaaaaaaaaaa') ?| array['handler_key', 'secret_key_sealed'],
  false, 'the webhook''s read answers its two ciphertexts, never the handler key or the secret key');
select is(public.stripe_webhook_account('tok_aaaaaaaaaaaaaaaaaaaaaaaaa') ->> 'webhook_secret_sealed', 'sealed-secret',
  'the webhook function reads the sealed secret by the endpoint token');
select is(public.stripe_webhook_account('tok_bbbbbbbbbbbbbbbbbbbbbbbbb'), null, 'another token reads nothing');
select is(pg_temp.send(pg_temp.ev('evt_1', 'payment_intent.succeeded',
  pg_temp.pi('pi_1', 'e0000000-0000-4000-8000-7e5700000711', 6000, 'usd'))) ->> 'status', 'processed',
  'a PaymentIntent records its payment');
select is(pg_temp.money('e0000000-0000-4000-8000-7e5700000711'), 'sent 60.00 40.00', '60.00 of 100.00 paid');
select is(pg_temp.send(pg_temp.ev('evt_1', 'payment_intent.succeeded',
  pg_temp.pi('pi_1', 'e0000000-0000-4000-8000-7e5700000711', 6000, 'usd'))) ->> 'status', 'duplicate',
  'the same event again is a duplicate');
select is(pg_temp.send(pg_temp.ev('evt_2', 'checkout.session.completed',
  jsonb_build_object('id', 'cs_1', 'object', 'checkout.session', 'payment_status', 'paid', 'payment_intent', 'pi_1',
    'amount_total', 6000, 'currency', 'usd', 'metadata', jsonb_build_object('invoice_id', 'e0000000-0000-4000-8000-7e5700000711'))))
  ->> 'reason', 'the payment was already recorded', 'the checkout of the same PaymentIntent adds nothing');
select tests.as_superuser();
select is((select count(*)::int from public.payments where invoice_id = 'e0000000-0000-4000-8000-7e5700000711'
  and payment_method = 'credit_card' and reference_number = 'pi_1'), 1, 'one payment, method credit_card, Stripe''s id kept');

-- Refunds, out of order ---------------------------------------------------------------
select pg_temp.as_processor();
select is(pg_temp.send(pg_temp.ev('evt_3', 'charge.refunded',
  jsonb_build_object('id', 'ch_pi_1', 'object', 'charge', 'payment_intent', 'pi_1', 'amount_captured', 6000,
    'amount_refunded', 2500, 'currency', 'usd', 'metadata', '{}'::jsonb))) ->> 'status', 'processed',
  'a refund is recorded');
select is(pg_temp.send(pg_temp.ev('evt_4', 'charge.refunded',
  jsonb_build_object('id', 'ch_pi_1', 'object', 'charge', 'payment_intent', 'pi_1', 'amount_captured', 6000,
    'amount_refunded', 1000, 'currency', 'usd', 'metadata', '{}'::jsonb))) ->> 'reason',
  'no refund beyond what is recorded', 'an older refund event arriving late adds nothing');
select is(pg_temp.money('e0000000-0000-4000-8000-7e5700000711'), 'sent 35.00 65.00', 'the refund reopened 25.00');
select is(pg_temp.send(pg_temp.ev('evt_5', 'charge.refunded',
  jsonb_build_object('id', 'ch_pi_2', 'object', 'charge', 'payment_intent', 'pi_2', 'amount_captured', 5000,
    'amount_refunded', 5000, 'currency', 'usd',
    'metadata', jsonb_build_object('invoice_id', 'e0000000-0000-4000-8000-7e5700000712')))) ->> 'status', 'processed',
  'a refund before its payment: the payment from the charge, then the refund');
select is(pg_temp.money('e0000000-0000-4000-8000-7e5700000712'), 'sent 0.00 50.00', 'paid and refunded in full');

-- Refused payments are kept -----------------------------------------------------------
select tests.as_superuser();
update public.invoices set status = 'cancelled' where id = 'e0000000-0000-4000-8000-7e5700000715';
select pg_temp.as_processor();
select is(pg_temp.send(pg_temp.ev('evt_6', 'payment_intent.succeeded',
  pg_temp.pi('pi_6', 'e0000000-0000-4000-8000-7e5700000715', 4000, 'usd'))) ->> 'status', 'needs_attention',
  'a payment for a cancelled invoice needs attention');
select is(pg_temp.send(pg_temp.ev('evt_7', 'payment_intent.succeeded',
  pg_temp.pi('pi_7', 'e0000000-0000-4000-8000-7e5700000711', 99900, 'usd'))) ->> 'status', 'needs_attention',
  'above the balance with overpayments refused: needs attention');
select tests.as_superuser();
select is((select count(*)::int from public.stripe_events where status = 'needs_attention'
  and organization_id = tests.org('main')), 2, 'both are listed');

-- Currencies -------------------------------------------------------------------------
select pg_temp.as_processor();
select is(pg_temp.send(pg_temp.ev('evt_8', 'payment_intent.succeeded',
  pg_temp.pi('pi_8', 'e0000000-0000-4000-8000-7e5700000713', 4500, 'jpy'))) ->> 'status', 'processed', 'yen');
select is(pg_temp.money('e0000000-0000-4000-8000-7e5700000713'), 'paid 4500 0', 'JPY is zero-decimal: 4500 is ¥4,500');
select is(pg_temp.send(pg_temp.ev('evt_9', 'payment_intent.succeeded',
  pg_temp.pi('pi_9', 'e0000000-0000-4000-8000-7e5700000714', 12345, 'kwd'))) ->> 'status', 'processed', 'dinar');
select is(pg_temp.money('e0000000-0000-4000-8000-7e5700000714'), 'paid 12.345 0.000', 'KWD has three decimals');

-- Disputes ---------------------------------------------------------------------------
select tests.as_superuser();
select pg_temp.as_processor();
select is(pg_temp.send(pg_temp.ev('evt_10', 'charge.dispute.created',
  jsonb_build_object('id', 'dp_1', 'object', 'dispute', 'payment_intent', 'pi_8', 'reason', 'fraudulent',
    'status', 'needs_response'))) ->> 'status', 'needs_attention', 'a dispute needs attention');
select tests.as_superuser();
select is((select dispute_status from public.stripe_payments where payment_intent_id = 'pi_8'), 'needs_response',
  'and flags the payment');

select * from finish();
rollback;
