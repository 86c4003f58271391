-- =============================================================================
-- An organization that requires MFA (migration 20261206140200): who may turn
-- require_mfa on and off, and that every organization-scoped table then refuses a
-- session below aal2 (reads see nothing, writes are refused) while the service
-- role, other organizations and aal2 sessions are unaffected. The catalog check
-- keeps later tables from forgetting the restrictive policy.
-- =============================================================================
begin;
select plan(30);

select tests.create_cast();
insert into public.clients (id, organization_id, company_name) values
  ('c0000000-0000-4000-8000-7e5700000821', tests.org('main'), 'MFA Client');

-- The rule every later table must follow -------------------------------------------
select is_empty(
  $$ select c.relname::text
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id' and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
       and not exists (
         select from pg_policy p
         where p.polrelid = c.oid and p.polname = 'mfa_required' and not p.polpermissive
           and p.polcmd in ('*', 'r')
           and (pg_get_expr(p.polqual, p.polrelid) like '%mfa_pending_organizations()%'
                -- 20261206170300: the read policy's own expression (pgTAP 950)
                or pg_get_expr(p.polqual, p.polrelid) like '%my_organization_ids_at_aal(%')) $$,
  'every public table with organization_id has the restrictive mfa_required policy'
);
select is_empty(
  $$ select c.relname::text
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id' and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
       and c.relname <> 'memberships'
       and not exists (
         select from pg_policy p
         where p.polrelid = c.oid and p.polname in ('mfa_required', 'mfa_required_insert')
           and p.polcmd in ('*', 'a')
           and pg_get_expr(p.polwithcheck, p.polrelid) like '%mfa_pending_organizations()%') $$,
  'and it checks writes too (or one restrictive policy per command: pgTAP 950)'
);
select is(
  (select count(*)::int from pg_policy
    where polrelid = 'public.memberships'::regclass and polname like 'mfa_required%' and not polpermissive),
  4, 'memberships has the restrictive policy for select, insert, update and delete'
);
select is(
  (select not polpermissive from pg_policy
    where polrelid = 'realtime.messages'::regclass and polname = 'mfa_required'),
  true, 'realtime.messages has the restrictive mfa_required policy'
);
select is(
  (select require_mfa from public.organization_settings where organization_id = tests.org('main')),
  false, 'an organization does not require MFA by default'
);

-- Turning it on ---------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ select public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": true}') $$,
  '42501', 'turning on business.require_mfa needs your session at aal2',
  'an owner at aal1 cannot turn it on'
);
select tests.authenticate_as('admin');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select throws_ok(
  $$ select public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": true}') $$,
  '42501', 'only owners can change business.require_mfa',
  'an admin at aal2 cannot'
);
select throws_ok(
  $$ update public.organization_settings set require_mfa = true where organization_id = tests.org('main') $$,
  '42501', 'only owners can change business.require_mfa',
  'nor by PostgREST'
);
select tests.authenticate_as('owner');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select throws_ok(
  $$ select public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": "yes"}') $$,
  '22023', 'business.require_mfa is true or false',
  'require_mfa is a boolean'
);
select is(
  public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": true}') #> '{business,require_mfa}',
  'true'::jsonb, 'an owner at aal2 turns it on, and the settings answer it'
);
select is(
  (select count(*)::int from public.clients where organization_id = tests.org('main')),
  1, 'the owner at aal2 still reads the organization''s clients'
);

-- Below aal2: nothing of the organization ---------------------------------------------
select tests.authenticate_as('owner');
select is(
  (select count(*)::int from public.clients where organization_id = tests.org('main')),
  0, 'the owner at aal1 reads no client of it'
);
select is(
  (select count(*)::int from public.organization_settings where organization_id = tests.org('main')),
  0, 'nor its settings'
);
select is(
  (select array_agg(organization_id order by organization_id) from public.memberships where user_id = auth.uid()),
  (select array_agg(id order by id) from public.organizations where id in (tests.org('main'), tests.personal_org('owner'))),
  'but still its own memberships'
);
select is(
  (select count(*)::int from public.memberships where organization_id = tests.org('main')),
  1, 'and not the other members'''
);
select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.clients (organization_id, company_name) values (tests.org('main'), 'Sneaky') $$,
  '42501', null, 'a member at aal1 cannot add a client'
);
select is(
  tests.rows_affected($$ update public.clients set notes = 'x' where organization_id = tests.org('main') $$),
  0, 'nor change one'
);
select is(
  tests.rows_affected($$ delete from public.clients where organization_id = tests.org('main') $$),
  0, 'nor delete one'
);
select throws_like(
  $$ select private.require_role(tests.org('main'), 'viewer') $$,
  '%requires multi-factor authentication%', 'the RPCs'' role check refuses below aal2'
);
select is(private.mfa_satisfied(tests.org('main')), false, 'mfa_satisfied: no at aal1');
select is(
  (select (o ->> 'require_mfa')::boolean
     from jsonb_array_elements(public.api_context() -> 'organizations') o
    where (o ->> 'id')::uuid = tests.org('main')),
  true, 'api_context says the organization requires MFA'
);
select is(
  (select count(*)::int from public.organization_settings where organization_id = tests.personal_org('member')),
  1, 'the member''s personal organization is unaffected'
);
select lives_ok(
  $$ insert into public.clients (organization_id, company_name) values (tests.personal_org('member'), 'Mine') $$,
  'and takes writes at aal1'
);

-- At aal2: the roles as before ------------------------------------------------------
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(private.mfa_satisfied(tests.org('main')), true, 'mfa_satisfied: yes at aal2');
select lives_ok(
  $$ insert into public.clients (organization_id, company_name) values (tests.org('main'), 'At aal2') $$,
  'the member at aal2 adds a client'
);
select tests.authenticate_as('viewer');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(
  tests.rows_affected($$ update public.clients set notes = 'x' where organization_id = tests.org('main') $$),
  0, 'a viewer at aal2 still cannot write'
);

-- Others ------------------------------------------------------------------------
select tests.authenticate_as('stranger');
select is(
  (select count(*)::int from public.clients where organization_id = tests.org('main')),
  0, 'a stranger at aal1 sees nothing of it (as before)'
);
select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.clients where organization_id = tests.org('main')),
  2, 'the service role (jobs, webhooks) is unaffected'
);

-- Turning it off --------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_like(
  $$ select public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": false}') $$,
  '%requires multi-factor authentication%', 'an owner at aal1 cannot turn it off'
);
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(
  public.update_settings(organization_id => tests.org('main'), business => '{"require_mfa": false}') #> '{business,require_mfa}',
  'false'::jsonb, 'an owner at aal2 turns it off'
);

select * from finish();
rollback;
