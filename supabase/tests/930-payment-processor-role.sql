-- =============================================================================
-- The payment functions' role (migration 20261206170100): payment_processor is a
-- NOLOGIN role without BYPASSRLS that PostgREST may switch to (authenticator is a
-- member of it) and that inherits nothing; it executes the three functions the
-- Pay button and Stripe's webhook need, their cores and the claims check, and
-- nothing else in public or private; it has no privilege on any table, view or
-- sequence; and neither anon nor authenticated (nor the service role) may execute
-- the functions that answer sealed secrets (the re-seal job's, the service role's
-- alone).
-- =============================================================================
begin;
select plan(13);

select is((select (rolcanlogin, rolbypassrls, rolsuper, rolcreaterole, rolcreatedb, rolreplication)::text
           from pg_catalog.pg_roles where rolname = 'payment_processor'),
          '(f,f,f,f,f,f)', 'payment_processor cannot log in, bypass RLS, or make roles or databases');
select ok(pg_has_role('authenticator', 'payment_processor', 'member'),
          'authenticator may switch to payment_processor (a token''s role claim)');
select is_empty(
  $$ select r.rolname from pg_catalog.pg_auth_members m
     join pg_catalog.pg_roles r on r.oid = m.roleid
     where m.member = 'payment_processor'::regrole $$,
  'payment_processor is a member of no role (it inherits no API role''s grants)');

-- The secret-returning functions ------------------------------------------------
create temporary table secret_functions (f regprocedure) on commit drop;
insert into secret_functions values
  ('public.portal_checkout(text, text, integer, integer, integer)'),
  ('private.portal_checkout(text, text, integer, integer, integer)'),
  ('public.stripe_webhook_account(text)'),
  ('private.stripe_webhook_account(text)'),
  ('public.handle_stripe_event(text, text, text)'),
  ('private.handle_stripe_event(text, text, text)');

select is_empty($$ select f::text from secret_functions where has_function_privilege('anon', f, 'execute') $$,
  'anon cannot execute any function that answers sealed secrets');
select is_empty($$ select f::text from secret_functions where has_function_privilege('authenticated', f, 'execute') $$,
  'authenticated cannot execute them');
select is_empty($$ select f::text from secret_functions where has_function_privilege('service_role', f, 'execute') $$,
  'nor can the service role');
select is_empty($$ select f::text from secret_functions where not has_function_privilege('payment_processor', f, 'execute') $$,
  'payment_processor can execute each of them');

select set_eq(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'private') and has_function_privilege('payment_processor', p.oid, 'execute') $$,
  $$ select f::text from secret_functions
     union all select 'private.require_payment_processor()' $$,
  'payment_processor executes nothing else in public or private');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'private')
       and p.proname in ('stripe_accounts_to_reseal', 'reseal_stripe_account', 'stripe_sealed_is_legacy')
       and (has_function_privilege('anon', p.oid, 'execute')
            or has_function_privilege('authenticated', p.oid, 'execute')
            or has_function_privilege('payment_processor', p.oid, 'execute')) $$,
  'the re-seal job''s functions (sealed values) are the service role''s alone');

-- No table ----------------------------------------------------------------------
select is_empty(
  $$ select n.nspname || '.' || c.relname || ': ' || privilege from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) privilege
     where n.nspname in ('public', 'private', 'auth', 'realtime', 'supabase_migrations')
       and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and (has_table_privilege('payment_processor', c.oid, privilege)
            or (privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                and has_any_column_privilege('payment_processor', c.oid, privilege))) $$,
  'payment_processor has no privilege on any table or view, nor on any column');
select is_empty(
  $$ select n.nspname || '.' || c.relname from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('public', 'private', 'auth', 'realtime') and c.relkind = 'S'
       and (has_sequence_privilege('payment_processor', c.oid, 'USAGE')
            or has_sequence_privilege('payment_processor', c.oid, 'SELECT')) $$,
  'nor on any sequence');

-- pgTAP's own functions for the role, in this transaction only (after the checks above)
grant usage on schema extensions to payment_processor;
set local role payment_processor;
select throws_ok($$ select count(*) from public.invoices $$, '42501', null,
  'as payment_processor, reading a table directly is refused');
select throws_ok($$ select count(*) from private.stripe_accounts $$, '42501', null,
  'and so is reading the sealed keys'' table');
reset role;

select * from finish();
rollback;
