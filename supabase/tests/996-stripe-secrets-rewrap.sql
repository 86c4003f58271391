-- =============================================================================
-- The Stripe secrets under the re-wrap job (migration 20261206171700):
-- stripe_accounts_to_rewrap lists, by organization id, the accounts with a sealed
-- secret not under the given KMS key (the first format, which names no key, and a
-- value that is not JSON included), resumes after a given id, bounds its chunk;
-- the service role's alone (it answers sealed secrets).
-- =============================================================================
begin;
select plan(9);

select tests.create_cast();

create function pg_temp.seal(kid text) returns text language sql as
  $$ select jsonb_build_object('v', 1, 'kid', kid, 'dk', 'd', 'n', 'n', 'c', 'c')::text $$;
create function pg_temp.mine() returns uuid[] language sql as
  $$ select array[tests.org('main'), tests.org('other'), tests.personal_org('member')] $$;

-- main: all three under k1; other: one value of the first format; member's: one that
-- is not JSON at all.
insert into private.stripe_accounts (organization_id, endpoint_token, secret_key_sealed,
  webhook_secret_sealed, handler_key, handler_key_sealed, livemode)
values
  (tests.org('main'), 'rewrap_main_7e57_aaaaaaaaaaaa', pg_temp.seal('arn:k1'), pg_temp.seal('arn:k1'),
   repeat('a', 64), pg_temp.seal('arn:k1'), false),
  (tests.org('other'), 'rewrap_other_7e57_bbbbbbbbbbb', pg_temp.seal('arn:k1'),
   '{"v": 1, "k": "a2V5", "n": "bg==", "c": "Yw=="}', repeat('b', 64), pg_temp.seal('arn:k1'), false),
  (tests.personal_org('member'), 'rewrap_member_7e57_cccccccccc', pg_temp.seal('arn:k1'),
   pg_temp.seal('arn:k1'), repeat('c', 64), '{not json', false);

select tests.authenticate_as_service_role();
select set_eq(
  $$ select organization_id from public.stripe_accounts_to_rewrap(null, 'arn:k1', 500)
     where organization_id = any (pg_temp.mine()) $$,
  $$ select unnest(array[tests.org('other'), tests.personal_org('member')]) $$,
  'the accounts with a value not under the key: the first format and a damaged value, not those already under it');
select set_eq(
  $$ select organization_id from public.stripe_accounts_to_rewrap(null, 'arn:k2', 500)
     where organization_id = any (pg_temp.mine()) $$,
  $$ select unnest(pg_temp.mine()) $$,
  'under another key, every account');
select results_eq(
  $$ select webhook_secret_sealed from public.stripe_accounts_to_rewrap(null, 'arn:k1', 500)
     where organization_id = tests.org('other') $$,
  $$ values ('{"v": 1, "k": "a2V5", "n": "bg==", "c": "Yw=="}'::text) $$,
  'the values come as stored, for the job to guard its write on');
select is_empty(
  $$ select 1 from public.stripe_accounts_to_rewrap(
       (select x from unnest(pg_temp.mine()) x order by x desc limit 1), 'arn:k2', 500)
     where organization_id = any (pg_temp.mine()) $$,
  'a chunk resumes after the last organization id read');
select ok(
  (select array_agg(organization_id) = array_agg(organization_id order by organization_id)
   from public.stripe_accounts_to_rewrap(null, 'arn:k2', 500)),
  'in organization id order (the job''s keyset)');
select is((select count(*)::integer from public.stripe_accounts_to_rewrap(null, 'arn:k2', 0)), 1,
  'a chunk holds at least one account');

-- Who may call it -----------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok($$ select * from public.stripe_accounts_to_rewrap(null, 'arn:k2', 10) $$, '42501', null,
  'an owner cannot list the sealed secrets, not even their own');
select tests.authenticate_as('anon');
select throws_ok($$ select * from public.stripe_accounts_to_rewrap(null, 'arn:k2', 10) $$, '42501', null,
  'anon cannot');
reset role;
select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'private')
       and p.proname in ('stripe_accounts_to_rewrap', 'stripe_sealed_kid')
       and (has_function_privilege('anon', p.oid, 'execute')
            or has_function_privilege('authenticated', p.oid, 'execute')
            or has_function_privilege('payment_processor', p.oid, 'execute')) $$,
  'the service role''s alone (not the payment functions'' role either)');

select * from finish();
rollback;
