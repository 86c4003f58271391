-- =============================================================================
-- The RPCs run as their caller (migration 20261206000100): the readers of
-- reconciliation and add_vendor_alias under RLS and the column grants, the others
-- through an invoker wrapper whose private core still checks who calls. Both sides
-- of each: the right role gets its answer, a viewer or a stranger is refused.
-- =============================================================================
begin;
select plan(14);

select tests.create_supabase_user('rpc_owner', 'rpc-owner@caller.test', '{"business_name": "Caller Co"}');
select tests.create_supabase_user('rpc_member', 'rpc-member@caller.test');
select tests.create_supabase_user('rpc_viewer', 'rpc-viewer@caller.test');
select tests.create_supabase_user('rpc_stranger', 'rpc-stranger@caller.test', '{"business_name": "Elsewhere"}');
select tests.add_member(tests.personal_org('rpc_owner'), 'rpc_member', 'member');
select tests.add_member(tests.personal_org('rpc_owner'), 'rpc_viewer', 'viewer');

-- Fresh ids (the database may hold the seed's), kept in settings that survive the
-- role switches.
with v as (
  insert into public.vendors (organization_id, name)
  values (tests.personal_org('rpc_owner'), 'Caller Vendor Inc')
  returning id
)
select set_config('tests.rpc_vendor', (select id::text from v), false);

select is(
  (select p.prosecdef from pg_catalog.pg_proc p
   where p.oid = 'private.match_vendor_invoices(uuid, uuid[])'::regprocedure),
  true, 'the matching''s core is a definer in private'
);

-- Readers --------------------------------------------------------------------------
select tests.authenticate_as('rpc_viewer');

select is(
  public.reconciliation_vendor(tests.personal_org('rpc_owner'),
                               current_setting('tests.rpc_vendor')::uuid) ->> 'name',
  'Caller Vendor Inc',
  'a viewer reads a vendor of their organization'
);

select lives_ok(
  $$ select public.reconciliation_dashboard(tests.personal_org('rpc_owner'), null, null) $$,
  'a viewer reads the reconciliation dashboard'
);

select lives_ok(
  $$ select public.get_reconciliation_settings(tests.personal_org('rpc_owner')) $$,
  'a viewer reads the reconciliation settings'
);

select tests.authenticate_as('rpc_stranger');

select throws_ok(
  $$ select public.reconciliation_vendor(tests.personal_org('rpc_owner'),
                                         current_setting('tests.rpc_vendor')::uuid) $$,
  '42501', null, 'a stranger cannot read another organization''s vendor'
);

select throws_ok(
  $$ select public.reconciliation_dashboard(tests.personal_org('rpc_owner'), null, null) $$,
  '42501', null, 'nor its dashboard'
);

-- add_vendor_alias: RLS and the grants allow members the one row it writes -----------
select tests.authenticate_as('rpc_member');

select is(
  jsonb_path_query_array(
    public.add_vendor_alias(tests.personal_org('rpc_owner'),
                            current_setting('tests.rpc_vendor')::uuid, 'Caller Vendor GmbH'),
    '$.aliases[*].alias'),
  '["Caller Vendor GmbH"]'::jsonb,
  'a member adds an alias to a vendor'
);

select is(
  (select count(*)::integer from public.vendor_aliases
   where vendor_id = current_setting('tests.rpc_vendor')::uuid),
  1, 'the alias is stored'
);

select tests.authenticate_as('rpc_viewer');

select throws_ok(
  $$ select public.add_vendor_alias(tests.personal_org('rpc_owner'),
                                    current_setting('tests.rpc_vendor')::uuid, 'Caller Two') $$,
  '42501', null, 'a viewer cannot add an alias'
);

select tests.authenticate_as('rpc_stranger');

select throws_ok(
  $$ select public.add_vendor_alias(tests.personal_org('rpc_stranger'),
                                    current_setting('tests.rpc_vendor')::uuid, 'Caller Three') $$,
  'P0002', null, 'a stranger naming their own organization finds no such vendor'
);

-- The wrappers: the private core decides ----------------------------------------
select tests.authenticate_as('rpc_viewer');

select throws_ok(
  $$ select public.match_vendor_invoices(tests.personal_org('rpc_owner'), null) $$,
  '42501', null, 'a viewer cannot run the matching (the core''s check, through the wrapper)'
);

select throws_ok(
  $$ select public.update_reconciliation_settings(tests.personal_org('rpc_owner'),
                                                  '{"quantity_tolerance_percent": 3}') $$,
  '42501', null, 'a viewer cannot change the reconciliation settings'
);

select is(
  (public.api_context(0, 60) -> 'organizations') @> jsonb_build_array(
    jsonb_build_object('id', tests.personal_org('rpc_owner'), 'role', 'viewer')),
  true, 'the context RPC answers the caller''s own memberships through its wrapper'
);

select tests.authenticate_as('rpc_member');

select is(
  (public.match_vendor_invoices(tests.personal_org('rpc_owner'), null) ->> 'invoices')::integer,
  0, 'a member runs the matching'
);

select * from finish();
rollback;
