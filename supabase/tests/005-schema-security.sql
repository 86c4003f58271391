-- =============================================================================
-- Schema-wide security rules, checked over the catalog so that a new table,
-- policy or function cannot quietly break them:
--   * every table in public has row level security enabled;
--   * every policy applies to `authenticated` only;
--   * policies call auth.uid() and the private.* helpers wrapped in a
--     sub-select (evaluated once per statement, not once per row);
--   * no function PostgREST exposes (public) is SECURITY DEFINER: the RPCs run as
--     their caller, under RLS and the column grants; what needs more rights is a
--     definer helper in private;
--   * every SECURITY DEFINER function pins an empty search_path, and every other
--     function pins one too but the SQL helpers PostgreSQL inlines (named below);
--   * anon can execute no function and touch no table of its own accord.
-- =============================================================================
begin;
select plan(10);

-- Row level security ----------------------------------------------------------
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity $$,
  'every table in public has row level security enabled'
);

-- Policies --------------------------------------------------------------------
select isnt_empty(
  $$ select 1 from pg_catalog.pg_policies where schemaname = 'public' $$,
  'public has policies to check'
);

select is_empty(
  $$ select tablename || ': ' || policyname from pg_catalog.pg_policies
     where schemaname = 'public' and roles <> array['authenticated']::name[] $$,
  'every policy in public applies to authenticated only'
);

-- pg_policies shows a wrapped call as `( SELECT auth.uid() AS uid)`: once those
-- are removed, no auth.uid() may remain.
select is_empty(
  $$ select tablename || ': ' || policyname from pg_catalog.pg_policies
     where schemaname = 'public'
       and (replace(coalesce(qual, ''), '( SELECT auth.uid() AS uid)', '') like '%auth.uid()%'
            or replace(coalesce(with_check, ''), '( SELECT auth.uid() AS uid)', '') like '%auth.uid()%') $$,
  'no policy calls auth.uid() without wrapping it in a sub-select'
);

-- Every `private.` in a policy must be the start of `( SELECT private.`.
select is_empty(
  $$ select tablename || ': ' || policyname from pg_catalog.pg_policies
     where schemaname = 'public'
       and (regexp_count(coalesce(qual, ''), 'private\.')
              <> regexp_count(coalesce(qual, ''), '\( SELECT private\.')
            or regexp_count(coalesce(with_check, ''), 'private\.')
              <> regexp_count(coalesce(with_check, ''), '\( SELECT private\.')) $$,
  'no policy calls a private helper without wrapping it in a sub-select'
);

-- Functions -------------------------------------------------------------------
-- PostgreSQL stores `set search_path = ''` as the text search_path="".
select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'private') and p.prosecdef
       and not coalesce('search_path=""' = any (p.proconfig), false) $$,
  'every security definer function in public and private pins an empty search_path'
);

-- Supabase's advisors warn of every definer `anon` or `authenticated` may call in an
-- exposed schema; here none is left in public at all (the jobs' too, for the service
-- role: migration 20261206100100_platform.sql).
select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     left join pg_catalog.pg_depend d on d.objid = p.oid and d.deptype = 'e'
     where p.pronamespace = 'public'::regnamespace and p.prosecdef and d.objid is null $$,
  'no function in public is security definer: the RPCs run as their caller'
);

-- A SET clause stops PostgreSQL from inlining a SQL function: these run once per
-- row and stay unpinned (measured in migration 20261206100100_platform.sql; the advisors' finding is
-- excluded by name in tests/db/test_supabase_cli.py).
select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     left join pg_catalog.pg_depend d on d.objid = p.oid and d.deptype = 'e'
     where n.nspname in ('public', 'private') and d.objid is null
       and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c
                       where c like 'search_path=%')
       and p.oid not in ('private.round_money(numeric, text)'::regprocedure,
                         'private.currency_minor_unit(text)'::regprocedure,
                         'private.invoice_report_status(text, date, date)'::regprocedure,
                         'private.reminder_slots(date, uuid[])'::regprocedure,
                         -- the tax model's (20261206170400_tax_model.sql), once per line
                         'private.effective_tax_rate(text, numeric, numeric)'::regprocedure,
                         'private.effective_vat_category(text, numeric, numeric, text)'::regprocedure,
                         'private.line_tax_problem(text, numeric, text, text)'::regprocedure) $$,
  'every function in public and private pins its search_path, but the inlined helpers'
);

select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'private')
       and has_function_privilege('anon', p.oid, 'execute')
       -- the client page (migration 20261206130100): its two wrappers and their cores
       and p.oid::regprocedure::text not in (
         'portal_open(text,text,text,integer,integer,integer)',
         'portal_decide_quote(text,text,text,integer,integer,integer)',
         'private.portal_open(text,text,text,integer,integer,integer)',
         'private.portal_decide_quote(text,text,text,integer,integer,integer)',
         -- its logo (migration 20261206170100)
         'portal_logo(text,text,integer,integer,integer)',
         'private.portal_logo(text,text,integer,integer,integer)')
       -- (the Pay button's and Stripe's webhook's are payment_processor's since
       -- migration 20261206170100: pgTAP 930) $$,
  'anon can execute no function in public or private but the client page''s'
);

-- Tables ----------------------------------------------------------------------
select is_empty(
  $$ select c.relname || ': ' || privilege from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) privilege
     where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and (has_table_privilege('anon', c.oid, privilege)
            or (privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                and has_any_column_privilege('anon', c.oid, privilege))) $$,
  'anon has no privilege on any table in public, nor on any of its columns'
);

select * from finish();
rollback;
