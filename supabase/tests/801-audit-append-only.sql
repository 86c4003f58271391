-- =============================================================================
-- Nothing alters or deletes audit entries, for every role: anon, a signed-in user of
-- every role (owner, admin, member, viewer, a stranger), the service role, and postgres
-- (the tables' owner, as migrations and the dashboard's SQL editor run). UPDATE, DELETE
-- and TRUNCATE are refused (no grant, and a trigger refuses even the owner); INSERT is
-- refused to every API role (only the audit triggers write, as definers). The entries
-- are compared with a snapshot at the end.
--
-- The owner could still disable the trigger (ALTER TABLE ... DISABLE TRIGGER): DDL by
-- the tables' owner is not something a migration can forbid (an event trigger needs a
-- superuser here); session_replication_role, which would skip the triggers without DDL,
-- is refused to postgres (the last test). docs/teams.md says so.
-- =============================================================================
begin;
select plan(33);

select tests.create_cast();
select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name, currency)
values (tests.org('main'), 'Audited Client', 'USD');
select tests.as_superuser();
create temporary table entries as select * from public.audit_log;
grant select on entries to anon, authenticated, service_role;


-- anon ------------------------------------------------------------------
select tests.clear_authentication();
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'anon cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'anon cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'anon cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'anon cannot insert a forged audit entries');

-- owner -----------------------------------------------------------------
select tests.authenticate_as('owner');
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'owner cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'owner cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'owner cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'owner cannot insert a forged audit entries');

-- admin -----------------------------------------------------------------
select tests.authenticate_as('admin');
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'admin cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'admin cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'admin cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'admin cannot insert a forged audit entries');

-- member ----------------------------------------------------------------
select tests.authenticate_as('member');
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'member cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'member cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'member cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'member cannot insert a forged audit entries');

-- viewer ----------------------------------------------------------------
select tests.authenticate_as('viewer');
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'viewer cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'viewer cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'viewer cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'viewer cannot insert a forged audit entries');

-- stranger --------------------------------------------------------------
select tests.authenticate_as('stranger');
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'stranger cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'stranger cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'stranger cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'stranger cannot insert a forged audit entries');

-- the service role ------------------------------------------------------
select tests.authenticate_as_service_role();
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'the service role cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'the service role cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'the service role cannot truncate audit entries');
select throws_ok($$ insert into public.audit_log (organization_id, table_name, operation) values (tests.org('main'), 'public.invoices', 'DELETE') $$, '42501', null,
  'the service role cannot insert a forged audit entries');

-- postgres (the tables' owner) ------------------------------------------
select tests.as_superuser();
select throws_ok($$ update public.audit_log set new_record = '{}', changed_by = null where id in (select id from pg_temp.entries) $$, '42501', null,
  'postgres (the tables'' owner) cannot rewrite audit entries');
select throws_ok($$ delete from public.audit_log where id in (select id from pg_temp.entries) $$, '42501', null,
  'postgres (the tables'' owner) cannot delete audit entries');
select throws_ok($$ truncate public.audit_log $$, '42501', null,
  'postgres (the tables'' owner) cannot truncate audit entries');

select tests.as_superuser();
select is((select count(*)::int from public.audit_log a join pg_temp.entries e using (id)
           where a.new_record is not distinct from e.new_record
             and a.old_record is not distinct from e.old_record
             and a.changed_by is not distinct from e.changed_by),
          (select count(*)::int from pg_temp.entries),
          'every entry is still there, as it was');
select throws_ok($$ set session_replication_role = replica $$, '42501', null,
  'postgres cannot switch the triggers off with session_replication_role');

select * from finish();
rollback;
