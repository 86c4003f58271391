-- =============================================================================
-- Webhooks out and API keys (20261206130300_webhooks_and_api_keys.sql): RLS of
-- each table for owner/admin, member, viewer, stranger and anon; the secrets out
-- of every API role's reach; the outbox written by the change's own transaction
-- (a rolled-back change emits nothing; deferred triggers fired here with SET
-- CONSTRAINTS ALL IMMEDIATE); the dispatcher's and the worker's functions for the
-- service role alone; replay; API keys as accounts with a viewer/member
-- membership, their hash, their session check and revocation.
-- =============================================================================
begin;
select plan(47);

select tests.create_cast();

create table pg_temp.ids (name text primary key, id uuid, secret text);
grant all on pg_temp.ids to authenticated, service_role, anon;
create function pg_temp.id(which text) returns uuid language sql as $$
  select id from pg_temp.ids where name = which $$;
grant execute on function pg_temp.id(text) to authenticated, service_role, anon;

-- Endpoints: admins only -------------------------------------------------------
select tests.authenticate_as('admin');
insert into pg_temp.ids
select 'e1', (r ->> 'id')::uuid, r ->> 'secret'
from (select public.create_webhook_endpoint(tests.org('main'), 'https://hooks.example.com/a',
        array['client.created', 'invoice.paid', 'payment.recorded', 'client.created'], 'd')) x(r);
select ok((select secret from pg_temp.ids where name = 'e1') ~ '^whsec_[A-Za-z0-9+/=]{44}$',
  'an admin creates an endpoint and gets its secret (whsec_ and 32 random bytes)');
select is((select event_types from public.webhook_endpoints where id = pg_temp.id('e1')),
  array['client.created', 'invoice.paid', 'payment.recorded'],
  'event types are stored once each, sorted');
select is((select count(*)::int from public.webhook_endpoints), 1, 'an admin sees the endpoint');

select tests.authenticate_as('owner');
select is((select count(*)::int from public.webhook_endpoints), 1, 'the owner sees it');

select tests.authenticate_as('member');
select is((select count(*)::int from public.webhook_endpoints), 0, 'a member does not see endpoints');
select throws_ok($$ select public.create_webhook_endpoint(tests.org('main'), 'https://x.example.com/a', array['invoice.paid']) $$,
  '42501', 'only admins manage webhook endpoints', 'a member may not create one');
select throws_ok($$ insert into public.webhook_endpoints (organization_id, url, event_types)
                    values (tests.org('main'), 'https://x.example.com/a', array['invoice.paid']) $$,
  '42501', null, 'nor insert one straight into the table');
select is(tests.rows_affected($$ update public.webhook_endpoints set enabled = false $$), 0,
  'a member changes no endpoint');

select tests.authenticate_as('viewer');
select is((select count(*)::int from public.webhook_endpoints), 0, 'a viewer does not see endpoints');

select tests.authenticate_as('stranger');
select is((select count(*)::int from public.webhook_endpoints), 0, 'a stranger does not see them');
select throws_ok($$ select public.rotate_webhook_secret(tests.org('main'), pg_temp.id('e1')) $$,
  '42501', null, 'a stranger may not rotate the secret');
select is(tests.rows_affected($$ delete from public.webhook_endpoints $$), 0, 'nor delete them');

select tests.authenticate_as('anon');
select throws_ok($$ select count(*) from public.webhook_endpoints $$, '42501', null,
  'anon reads no endpoint');

-- Secrets: out of every API role's reach ------------------------------------------
select tests.authenticate_as('admin');
select throws_ok($$ select secret from private.webhook_endpoint_secrets $$, '42501', null,
  'not even an admin reads the stored secrets');
select throws_ok($$ select private.webhook_signing_secrets(pg_temp.id('e1')) $$, '42501', null,
  'nor the signing helper');
select isnt((public.rotate_webhook_secret(tests.org('main'), pg_temp.id('e1')) ->> 'secret'),
  (select secret from pg_temp.ids where name = 'e1'), 'a rotation answers a new secret');
select tests.authenticate_as_service_role();
select is(cardinality(private.webhook_signing_secrets(pg_temp.id('e1'))), 2,
  'for 24 hours the worker signs with the new secret and the old one');

-- The outbox: in the change's transaction ----------------------------------------
select tests.authenticate_as('member');
savepoint before_rollback;
insert into public.clients (organization_id, company_name, currency)
values (tests.org('main'), 'Rolled back client', 'USD');
rollback to savepoint before_rollback;
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-7e5700000721', tests.org('main'), 'Hooked client', 'USD');
select tests.authenticate_as('stranger');
insert into public.clients (organization_id, company_name, currency)
values (tests.org('other'), 'Stranger''s client', 'USD');
set constraints all immediate;
set constraints all deferred;
select tests.as_superuser();
select is(
  (select array_agg(payload ->> 'company_name' order by created_at) from public.webhook_events
   where type = 'client.created'),
  array['Hooked client'],
  'one event for the committed client; none for the rolled-back one or an organization without endpoints');
select is((select count(*)::int from public.webhook_deliveries where endpoint_id = pg_temp.id('e1')), 1,
  'and one delivery for the endpoint that wants it');

-- A payment: payment.recorded, and invoice.paid from the status a BEFORE trigger set.
insert into public.invoices (id, organization_id, client_id, currency, due_date)
values ('10000000-0000-4000-8000-7e5700000721', tests.org('main'),
        'c0000000-0000-4000-8000-7e5700000721', 'USD', current_date + 30);
insert into public.invoice_items (organization_id, invoice_id, currency, description, quantity, rate)
values (tests.org('main'), '10000000-0000-4000-8000-7e5700000721', 'USD', 'Work', 1, 40);
update public.invoices set status = 'sent' where id = '10000000-0000-4000-8000-7e5700000721';
insert into public.payments (organization_id, invoice_id, currency, amount)
values (tests.org('main'), '10000000-0000-4000-8000-7e5700000721', 'USD', 40);
set constraints all immediate;
set constraints all deferred;
select is(
  (select array_agg(type order by type) from public.webhook_events where type <> 'client.created'),
  array['invoice.paid', 'payment.recorded'],
  'a payment emits payment.recorded and invoice.paid (not invoice.created: not wanted)');
select is(
  (select payload ->> 'status' from public.webhook_events where type = 'invoice.paid'), 'paid',
  'the event carries the row as committed');

update public.webhook_endpoints set enabled = false where id = pg_temp.id('e1');
insert into public.clients (organization_id, company_name, currency)
values (tests.org('main'), 'Unheard client', 'USD');
set constraints all immediate;
set constraints all deferred;
select is((select count(*)::int from public.webhook_events where payload ->> 'company_name' = 'Unheard client'), 0,
  'a disabled endpoint hears nothing');
update public.webhook_endpoints set enabled = true where id = pg_temp.id('e1');

-- Events, deliveries, attempts: admins read them ----------------------------------
select tests.authenticate_as('admin');
select is((select count(*)::int from public.webhook_events), 3, 'an admin reads the events');
select is((select count(*)::int from public.webhook_delivery_list), 3, 'and the deliveries');
select tests.authenticate_as('member');
select is((select count(*)::int from public.webhook_events) + (select count(*)::int from public.webhook_deliveries), 0,
  'a member reads neither events nor deliveries');
select tests.authenticate_as('stranger');
select is((select count(*)::int from public.webhook_delivery_list), 0, 'a stranger reads no delivery');
select tests.authenticate_as('admin');
select throws_ok($$ insert into public.webhook_events (organization_id, type, payload)
                    values (tests.org('main'), 'invoice.paid', '{}') $$,
  '42501', null, 'nobody writes the outbox through the API');

-- The dispatcher and the worker: the service role alone ---------------------------
select throws_ok($$ select public.webhook_claim_deliveries(10, 7200) $$, '42501', null,
  'an admin may not claim deliveries');
select throws_ok($$ select public.webhook_begin_attempt(gen_random_uuid(), 60) $$, '42501', null,
  'nor begin an attempt');
select tests.authenticate_as_service_role();
select is((select count(*)::int from public.webhook_claim_deliveries(2, 7200)), 2,
  'the service role claims at most batch_limit deliveries');
select is((select count(*)::int from public.webhook_claim_deliveries(10, 7200)), 1,
  'then the rest');
select is((select count(*)::int from public.webhook_claim_deliveries(10, 7200)), 0,
  'a second run claims nothing');
insert into pg_temp.ids select 'd1', id, null from public.webhook_deliveries
  where event_id = (select id from public.webhook_events where type = 'invoice.paid');
select is((public.webhook_begin_attempt(pg_temp.id('d1'), 60) ->> 'attempt')::int, 1,
  'the worker begins attempt 1');
select is(public.webhook_begin_attempt(pg_temp.id('d1'), 60) ->> 'skip', 'busy',
  'a second worker finds it busy within the lease');
select is(public.webhook_finish_attempt(pg_temp.id('d1'), 1, now(), 12, 204, null, true, false), 'succeeded',
  'a 2xx answer: succeeded');
select is(public.webhook_begin_attempt(pg_temp.id('d1'), 60) ->> 'skip', 'succeeded',
  'a succeeded delivery is never posted again');

-- Replay: admins, finished deliveries -----------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.replay_webhook_delivery(tests.org('main'), pg_temp.id('d1')) $$,
  '42501', null, 'a member may not replay');
select tests.authenticate_as('admin');
select is(public.replay_webhook_delivery(tests.org('main'), pg_temp.id('d1')) ->> 'status', 'pending',
  'an admin replays a succeeded delivery: pending again, a new round');
select throws_ok($$ select public.replay_webhook_delivery(tests.org('main'), pg_temp.id('d1')) $$,
  '23P01', null, 'replaying one not finished is a conflict');

-- API keys -----------------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ select public.create_api_key(tests.org('main'), 'k', array['read']) $$,
  '42501', 'only admins manage API keys', 'a member may not create a key');
select tests.authenticate_as('admin');
insert into pg_temp.ids
select 'k1', (r ->> 'id')::uuid, r ->> 'key'
from (select public.create_api_key(tests.org('main'), 'Books sync', array['invoices:write', 'read'])) x(r);
select throws_ok($$ select key_hash from public.api_keys $$, '42501', null,
  'an admin lists keys but never their hashes');
select tests.as_superuser();
select results_eq(
  $$ select k.role::text, m.role::text, (select count(*)::int from public.profiles p where p.id = k.id),
            k.key_hash = encode(sha256(convert_to((select secret from pg_temp.ids where name = 'k1'), 'UTF8')), 'hex')
     from public.api_keys k join public.memberships m on m.user_id = k.id
     where k.id = pg_temp.id('k1') $$,
  $$ values ('member', 'member', 0, true) $$,
  'a write key is a member account without a profile or personal organization; only sha256 of the key is kept');

select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', json_build_object('sub', pg_temp.id('k1'), 'role', 'authenticated')::text, true);
select is(public.api_key_session(encode(sha256(convert_to((select secret from pg_temp.ids where name = 'k1'), 'UTF8')), 'hex')) ->> 'organization_id',
  tests.org('main')::text, 'the key''s account with its key''s hash: its session');
select is(public.api_key_session(repeat('0', 64)), null, 'with another hash: nothing');
select is((select count(*)::int from public.invoices where organization_id = tests.org('other')), 0,
  'under RLS: the key sees nothing of another organization');

select tests.authenticate_as('admin');
select isnt(public.revoke_api_key(tests.org('main'), pg_temp.id('k1')) ->> 'revoked_at', null,
  'an admin revokes the key');
select tests.as_superuser();
select is((select count(*)::int from public.memberships where user_id = pg_temp.id('k1')), 0,
  'its membership is gone at once');

select * from finish();
rollback;
