-- =============================================================================
-- Client links (migration 20261206130100): members make, list and revoke links
-- of sent documents (never of drafts, never of another organization's), anon
-- opens only a live link by its token's hash and gets the same answer for a
-- wrong, revoked or expired one, views and answers are client activities, a
-- quote's answer follows the quotes' rules, and the rate windows hold.
-- =============================================================================
begin;
select plan(29);

select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('c0000000-0000-4000-8000-7e5700000701', tests.org('main'), 'Portal Client', 'EUR'),
  ('c0000000-0000-4000-8000-7e5700000702', tests.org('other'), 'Other Client', 'EUR');
insert into public.invoices (id, organization_id, client_id, invoice_number) values
  ('e0000000-0000-4000-8000-7e5700000701', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000701', 'PL-1'),
  ('e0000000-0000-4000-8000-7e5700000702', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000701', 'PL-2'),
  ('e0000000-0000-4000-8000-7e5700000703', tests.org('other'), 'c0000000-0000-4000-8000-7e5700000702', 'PL-3');
insert into public.invoice_items (invoice_id, description, quantity, rate) values
  ('e0000000-0000-4000-8000-7e5700000701', 'Work', 1, 100),
  ('e0000000-0000-4000-8000-7e5700000702', 'Draft work', 1, 10),
  ('e0000000-0000-4000-8000-7e5700000703', 'Other work', 1, 100);
update public.invoices set status = 'sent' where id in (
  'e0000000-0000-4000-8000-7e5700000701', 'e0000000-0000-4000-8000-7e5700000703');
insert into public.quotes (id, organization_id, client_id, quote_number, valid_until) values
  ('a0000000-0000-4000-8000-7e5700000701', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000701', 'PQ-1', current_date + 400),
  ('a0000000-0000-4000-8000-7e5700000702', tests.org('main'), 'c0000000-0000-4000-8000-7e5700000701', 'PQ-2', current_date + 400);
insert into public.quote_items (quote_id, description, quantity, rate) values
  ('a0000000-0000-4000-8000-7e5700000701', 'Offer', 2, 50),
  ('a0000000-0000-4000-8000-7e5700000702', 'Offer', 1, 50);
update public.quotes set status = 'sent' where id in (
  'a0000000-0000-4000-8000-7e5700000701', 'a0000000-0000-4000-8000-7e5700000702');

create function pg_temp.h(token text) returns text language sql immutable as $$
  select encode(extensions.digest(token, 'sha256'), 'hex') $$;
grant execute on function pg_temp.h(text) to anon, authenticated, service_role;

-- Members ---------------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000701', pg_temp.h('viewer-token')) $$, '42501', null,
  'a viewer cannot make a link');

select tests.authenticate_as('member');
select is(public.create_client_link(tests.org('main'), 'invoice', 'e0000000-0000-4000-8000-7e5700000701',
  pg_temp.h('invoice-token')) ->> 'active', 'true', 'a member makes a link of a sent invoice');
select ok((select e between now() + interval '89 days' and now() + interval '91 days'
  from (select (public.create_client_link(tests.org('main'), 'invoice', 'e0000000-0000-4000-8000-7e5700000701',
    pg_temp.h('second-token')) ->> 'expires_at')::timestamptz e offset 0) made),
  'a link expires after the organization''s client_link_days (90 by default)');
select throws_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000702', pg_temp.h('draft-token')) $$, '23514', null,
  'a draft gets no link');
select lives_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000702', pg_temp.h('draft-send-token'), for_send => true) $$,
  'a draft gets a link for its send');
select throws_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000703', pg_temp.h('other-token')) $$, 'P0002', null,
  'another organization''s invoice is not found');
select throws_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000701', 'not-a-hash') $$, '22023', null,
  'only a SHA-256 in hex is kept');
select lives_ok($$ select public.create_client_link(tests.org('main'), 'quote',
  'a0000000-0000-4000-8000-7e5700000701', pg_temp.h('quote-token')) $$, 'a sent quote gets a link');
select lives_ok($$ select public.create_client_link(tests.org('main'), 'quote',
  'a0000000-0000-4000-8000-7e5700000702', pg_temp.h('quote-2-token')) $$, 'another quote gets a link');
select is(jsonb_array_length(public.client_links_of(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000701')), 2, 'the invoice''s links are listed');
select is_empty($$ select 1 from public.client_links where token_hash !~ '^[0-9a-f]{64}$' $$,
  'no token is stored, only hashes');

select tests.authenticate_as('stranger');
select is_empty($$ select 1 from public.client_links $$, 'a stranger sees no link');

-- Anon ------------------------------------------------------------------------
select tests.authenticate_as('anon');
select throws_ok($$ select 1 from public.client_links $$, '42501', null, 'anon reads no link table');
select is(public.portal_open(pg_temp.h('invoice-token'), '192.0.2.1') #>> '{document,invoice_number}', 'PL-1',
  'anon opens the invoice by its token''s hash');
select is(public.portal_open(pg_temp.h('made-up'), '192.0.2.1'), '{"found": false}'::jsonb,
  'a made-up token is not found');
select is(public.portal_open('../../etc', '192.0.2.1'), '{"found": false}'::jsonb,
  'a malformed hash is not found, not an error');
select is(public.portal_open(pg_temp.h('draft-send-token'), '192.0.2.1'), '{"found": false}'::jsonb,
  'a draft''s link opens nothing before the send');
select throws_ok($$ select public.portal_decide_quote(pg_temp.h('invoice-token'), '192.0.2.1', 'maybe') $$,
  '22023', null, 'a decision is accepted or declined');
select is(public.portal_decide_quote(pg_temp.h('invoice-token'), '192.0.2.1', 'accepted'),
  '{"found": false}'::jsonb, 'an invoice''s link answers no quote');
select is(public.portal_decide_quote(pg_temp.h('quote-token'), '192.0.2.1', 'accepted')
  #>> '{document,status}', 'accepted', 'the client accepts the quote');
select throws_ok($$ select public.portal_decide_quote(pg_temp.h('quote-token'), '192.0.2.1', 'declined') $$,
  '23514', null, 'an accepted quote cannot be declined (the quotes'' rule)');

-- Revoked and expired ---------------------------------------------------------
select tests.authenticate_as('member');
select lives_ok($$ select public.revoke_client_link(tests.org('main'),
  (select id from public.client_links where token_hash = pg_temp.h('second-token'))) $$, 'a member revokes a link');
select tests.as_superuser();
update public.client_links set expires_at = now() - interval '1 second'
where token_hash = pg_temp.h('quote-2-token');
select tests.authenticate_as('anon');
select is(public.portal_open(pg_temp.h('second-token'), '192.0.2.1'), '{"found": false}'::jsonb,
  'a revoked link is not found');
select is(public.portal_open(pg_temp.h('quote-2-token'), '192.0.2.1'), '{"found": false}'::jsonb,
  'an expired link is not found');

-- Rotation, activities, rate windows -------------------------------------------
select tests.authenticate_as('member');
select lives_ok($$ select public.create_client_link(tests.org('main'), 'invoice',
  'e0000000-0000-4000-8000-7e5700000701', pg_temp.h('rotated-token'), rotate => true) $$, 'a link is rotated');
select tests.authenticate_as('anon');
select is(public.portal_open(pg_temp.h('invoice-token'), '192.0.2.1'), '{"found": false}'::jsonb,
  'rotating revoked the earlier link');
select tests.as_superuser();
select is((select count(*)::int from public.client_activities
  where metadata ->> 'event' in ('client_link_viewed', 'quote_accepted')
    and client_id = 'c0000000-0000-4000-8000-7e5700000701'), 2,
  'the view and the answer are on the client''s timeline');
select tests.authenticate_as('anon');
select is(public.portal_open(pg_temp.h('rotated-token'), '198.51.100.7', 'client_link_viewed', 2, 100, 60)
  ->> 'found', 'true', 'within the token''s window');
select is((select public.portal_open(pg_temp.h('rotated-token'), '198.51.100.7', 'client_link_viewed', 2, 100, 60)
  from generate_series(1, 2) offset 1) ->> 'limited', 'true', 'past the token''s window: limited');

select * from finish();
rollback;
