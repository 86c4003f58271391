-- =============================================================================
-- RLS on public.audit_log: admins and owners read their organization's
-- entries; members, viewers, strangers and anon read none; nobody writes it
-- through the API (no grants, not even to the service role), and a trigger
-- refuses UPDATE, DELETE and TRUNCATE even to the table's owner.
-- =============================================================================
begin;
select plan(38);

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

-- Audited changes in both organizations, made through the API roles.
select tests.authenticate_as('owner');
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-7e5700000001', tests.org('main'), 'Victim Client', 'USD');
select tests.authenticate_as('stranger');
insert into public.clients (id, organization_id, company_name, currency)
values ('c0000000-0000-4000-8000-7e5700000002', tests.org('other'), 'Stranger Client', 'USD');

select tests.as_superuser();
create temporary table audit_snapshot as
select id, organization_id, table_name, record_id, operation, old_record, new_record, changed_by
from public.audit_log;
grant select on audit_snapshot to anon, authenticated, service_role;

-- SELECT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select results_eq(
  $$ select operation, changed_by, changed_by_role from public.audit_log
     where table_name = 'public.clients' and record_id = 'c0000000-0000-4000-8000-7e5700000001' $$,
  $$ values ('INSERT'::text, tests.actor('owner'), 'authenticated'::text) $$,
  'owner can read the organization''s audit log, which names who made each change'
);
select is_empty(
  $$ select 1 from public.audit_log where organization_id is distinct from tests.org('main') $$,
  'owner reads no other organization''s audit entries'
);

select tests.authenticate_as('admin');
select is(
  (select count(*)::int from public.audit_log
   where organization_id = tests.org('main') and table_name = 'public.memberships'
     and operation = 'INSERT'),
  4, 'admin can read the organization''s audit log (the four memberships added)'
);

select tests.authenticate_as('member');
select is_empty(
  $$ select 1 from public.audit_log where organization_id = tests.org('main') $$,
  'member cannot read the organization''s audit log'
);

select tests.authenticate_as('viewer');
select is_empty(
  $$ select 1 from public.audit_log where organization_id = tests.org('main') $$,
  'viewer cannot read the organization''s audit log'
);

select tests.authenticate_as('stranger');
select is_empty(
  $$ select 1 from public.audit_log where organization_id = tests.org('main') $$,
  'stranger cannot read the organization''s audit log'
);
select isnt_empty(
  $$ select 1 from public.audit_log
     where table_name = 'public.clients' and record_id = 'c0000000-0000-4000-8000-7e5700000002' $$,
  'stranger can read their own organization''s audit log'
);

select tests.clear_authentication();
select throws_ok(
  $$ select 1 from public.audit_log $$,
  '42501', null,
  'anon cannot read the audit log'
);

select tests.authenticate_as_service_role();
select is(
  (select count(distinct organization_id)::int from public.audit_log
   where organization_id in (tests.org('main'), tests.org('other'))),
  2, 'the service role can read every organization''s audit log'
);

-- INSERT ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'owner cannot write an audit entry'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'admin cannot write an audit entry'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'member cannot write an audit entry'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'viewer cannot write an audit entry'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'stranger cannot write an audit entry into the organization''s log'
);

select tests.clear_authentication();
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'anon cannot write an audit entry'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.audit_log (organization_id, table_name, operation)
     values (tests.org('main'), 'public.clients', 'DELETE') $$,
  '42501', null,
  'even the service role cannot write an audit entry'
);

-- UPDATE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ update public.audit_log set new_record = '{}' where organization_id = tests.org('main') $$,
  '42501', null,
  'owner cannot rewrite the audit log'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ update public.audit_log set changed_by = null where organization_id = tests.org('main') $$,
  '42501', null,
  'admin cannot rewrite the audit log'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ update public.audit_log set changed_by = null $$,
  '42501', null,
  'member cannot rewrite the audit log'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ update public.audit_log set changed_by = null $$,
  '42501', null,
  'viewer cannot rewrite the audit log'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ update public.audit_log set changed_by = null where organization_id = tests.org('main') $$,
  '42501', null,
  'stranger cannot rewrite the organization''s audit log'
);

select tests.clear_authentication();
select throws_ok(
  $$ update public.audit_log set changed_by = null $$,
  '42501', null,
  'anon cannot rewrite the audit log'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.audit_log set changed_by = null $$,
  '42501', null,
  'even the service role cannot rewrite the audit log'
);

select tests.as_superuser();
select throws_ok(
  $$ update public.audit_log set changed_by = null where organization_id = tests.org('main') $$,
  '42501', null,
  'even the table''s owner cannot rewrite the audit log (the trigger refuses)'
);

-- DELETE ----------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ delete from public.audit_log where organization_id = tests.org('main') $$,
  '42501', null,
  'owner cannot delete audit entries'
);

select tests.authenticate_as('admin');
select throws_ok(
  $$ delete from public.audit_log where organization_id = tests.org('main') $$,
  '42501', null,
  'admin cannot delete audit entries'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ delete from public.audit_log $$,
  '42501', null,
  'member cannot delete audit entries'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ delete from public.audit_log $$,
  '42501', null,
  'viewer cannot delete audit entries'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ delete from public.audit_log where organization_id = tests.org('main') $$,
  '42501', null,
  'stranger cannot delete the organization''s audit entries'
);

select tests.clear_authentication();
select throws_ok(
  $$ delete from public.audit_log $$,
  '42501', null,
  'anon cannot delete audit entries'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ delete from public.audit_log $$,
  '42501', null,
  'even the service role cannot delete audit entries'
);

select tests.as_superuser();
select throws_ok(
  $$ delete from public.audit_log where organization_id = tests.org('main') $$,
  '42501', null,
  'even the table''s owner cannot delete audit entries (the trigger refuses)'
);

-- TRUNCATE --------------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok(
  $$ truncate public.audit_log $$,
  '42501', null,
  'owner cannot truncate the audit log'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ truncate public.audit_log $$,
  '42501', null,
  'even the service role cannot truncate the audit log'
);

select tests.as_superuser();
select throws_ok(
  $$ truncate public.audit_log $$,
  '42501', null,
  'even the table''s owner cannot truncate the audit log (the trigger refuses)'
);

-- Nothing changed ---------------------------------------------------------------
select tests.as_superuser();
select set_eq(
  $$ select id, organization_id, table_name, record_id, operation, old_record, new_record, changed_by
     from public.audit_log $$,
  $$ select * from audit_snapshot $$,
  'after all these attempts the audit log holds exactly the entries it held before'
);

-- The audit log keeps recording what the API roles do, and who did it.
select tests.authenticate_as('member');
update public.clients set notes = 'edited by member' where id = 'c0000000-0000-4000-8000-7e5700000001';
select tests.authenticate_as('admin');
select results_eq(
  $$ select operation, changed_by, old_record ->> 'notes', new_record ->> 'notes' from public.audit_log
     where table_name = 'public.clients' and record_id = 'c0000000-0000-4000-8000-7e5700000001'
       and operation = 'UPDATE' $$,
  $$ values ('UPDATE'::text, tests.actor('member'), null::text, 'edited by member'::text) $$,
  'admin can read who changed what, before and after'
);

select tests.authenticate_as('member');
select is_empty(
  $$ select 1 from public.audit_log where organization_id = tests.org('main') $$,
  'member still cannot read the entries of their own changes'
);

select * from finish();
rollback;
