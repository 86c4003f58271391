-- =============================================================================
-- The audit log records the UPDATEs of tables keyed by another column than `id`
-- (migration 20261206171000_audit_updates_by_key.sql): organization_settings (keyed by
-- organization_id) changed by its owner, and by the service role in one statement for
-- two organizations (each old row paired with its own new row); an UPDATE that changes
-- only ignored columns records nothing; a table with `id` pairs as before.
-- =============================================================================
begin;
select plan(9);

select tests.create_cast();

select tests.authenticate_as('owner');
update public.organization_settings set business_name = 'Audited Business'
where organization_id = tests.org('main');

select tests.as_superuser();
select is(
  (select count(*)::int from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and organization_id = tests.org('main')
     and new_record ->> 'business_name' = 'Audited Business'),
  1, 'an owner''s change of the business settings is one UPDATE entry');
select is(
  (select record_id from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and new_record ->> 'business_name' = 'Audited Business'),
  tests.org('main'), 'its record_id is the organization (the table''s one-column key)');
select is(
  (select changed_by from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and new_record ->> 'business_name' = 'Audited Business'),
  tests.get_supabase_uid('owner'), 'its actor is the owner');
select isnt(
  (select old_record ->> 'business_name' from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and new_record ->> 'business_name' = 'Audited Business'),
  'Audited Business', 'it keeps the row as it was before');

-- Two organizations in one statement: each pair is its own organization's.
select tests.authenticate_as_service_role();
update public.organization_settings set invoice_footer = 'Footer of ' || organization_id::text
where organization_id in (tests.org('main'), tests.org('other'));
select tests.as_superuser();
select is(
  (select count(*)::int from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and new_record ->> 'invoice_footer' like 'Footer of %'),
  2, 'a statement changing two organizations'' settings records two entries');
select is(
  (select count(*)::int from public.audit_log
   where table_name = 'public.organization_settings' and operation = 'UPDATE'
     and new_record ->> 'invoice_footer' like 'Footer of %'
     and (old_record ->> 'organization_id') = (new_record ->> 'organization_id')
     and new_record ->> 'invoice_footer' = 'Footer of ' || (new_record ->> 'organization_id')
     and record_id = organization_id),
  2, 'each pairs an organization''s old row with its own new row');

-- Only ignored columns (updated_at): nothing recorded.
create temporary table before_count as
  select count(*) as n from public.audit_log where table_name = 'public.organization_settings';
update public.organization_settings set updated_at = now() + interval '1 second'
where organization_id = tests.org('main');
select is(
  (select count(*) from public.audit_log where table_name = 'public.organization_settings'),
  (select n from before_count), 'a change of ignored columns only records nothing');

-- A table with `id` pairs as before.
select tests.authenticate_as('owner');
insert into public.clients (organization_id, company_name, currency)
values (tests.org('main'), 'Keyed Client', 'USD');
update public.clients set notes = 'noted' where company_name = 'Keyed Client';
select tests.as_superuser();
select is(
  (select count(*)::int from public.audit_log a join public.clients c on c.id = a.record_id
   where a.table_name = 'public.clients' and a.operation = 'UPDATE'
     and c.company_name = 'Keyed Client' and a.new_record ->> 'notes' = 'noted'),
  1, 'a client''s UPDATE is still one entry under its id');
select is(
  (select count(*)::int from public.audit_log a join public.clients c on c.id = a.record_id
   where a.table_name = 'public.clients' and a.operation = 'INSERT'
     and c.company_name = 'Keyed Client'),
  1, 'and its INSERT under its id');

select * from finish();
rollback;
