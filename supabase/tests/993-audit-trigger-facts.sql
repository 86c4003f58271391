-- =============================================================================
-- The audit trigger's facts (migration 20261206171400_audit_speed.sql): every audit
-- trigger carries its table's key and record_id column as its first arguments, and they
-- are what the catalog says now (a migration that changes an audited table's key calls
-- private.refresh_audit_facts); a trigger written by hand without them records the same
-- entries; the redaction gives what 20261206171200's gave, row for row; an UPDATE's old
-- and new rows pair on the key whatever the row counts the session's plan was made for.
-- =============================================================================
begin;
select plan(25);

select tests.create_cast();

create temporary view audit_triggers as
  select t.oid, t.tgrelid::regclass as tbl, t.tgname,
         -- tgargs: each argument followed by a zero byte (all ASCII here)
         coalesce((string_to_array(encode(t.tgargs, 'escape'), '\000'))[1:t.tgnargs], '{}') as args
  from pg_trigger t
  where t.tgfoid = 'private.record_audit()'::regprocedure and not t.tgisinternal;

-- The facts ------------------------------------------------------------------
select cmp_ok((select count(*)::int from audit_triggers), '>=', 3 * 40,
  'the audited tables have their three audit triggers');
select is_empty(
  $$ select tbl::text || '.' || tgname from audit_triggers
     where args[1:2] is distinct from private.audit_trigger_facts(tbl) $$,
  'every audit trigger''s first arguments are its table''s facts as the catalog has them');
select is_empty(
  $$ select tbl::text from audit_triggers where args[1] = 'key={}' $$,
  'every audited table has a key its UPDATEs pair on');
select is(
  (select args from audit_triggers where tbl = 'public.invoices'::regclass and tgname = 'audit_updates'),
  array['key={id}', 'record_id=id', 'updated_at'], 'a table with id: keyed and recorded by it');
select is(
  (select args from audit_triggers
   where tbl = 'public.organization_settings'::regclass and tgname = 'audit_updates'),
  array['key={organization_id}', 'record_id=organization_id', 'updated_at', 'next_invoice_number'],
  'a table keyed by another uuid column: keyed and recorded by it');
select is(
  (select args[1:2] from audit_triggers
   where tbl = 'public.payment_batch_items'::regclass and tgname = 'audit_updates'),
  array['key={payment_batch_id,vendor_invoice_id}', 'record_id='],
  'a composite key: paired on both columns, no record_id');
select is(
  (select array_agg(tgname || ':' || array_to_string(args[3:], ',') order by tgname)
   from audit_triggers where tbl = 'public.memberships'::regclass),
  array['audit_deletes:', 'audit_inserts:', 'audit_updates:mfa_required'],
  'each trigger keeps its own ignored columns (memberships'' UPDATEs ignore mfa_required)');

-- A key changed after the triggers: refresh_audit_facts ------------------------
create table public.audit_facts_t (ref uuid not null, organization_id uuid, v text, at timestamptz);
select private.enable_audit('public.audit_facts_t', array['at']);
alter table public.audit_facts_t disable trigger audit_deletes;
select is(
  (select args from audit_triggers where tbl = 'public.audit_facts_t'::regclass and tgname = 'audit_updates'),
  array['key={}', 'record_id=', 'at'], 'a table without a key has none in its facts');
alter table public.audit_facts_t add primary key (ref);
select private.refresh_audit_facts('public.audit_facts_t');
select is(
  (select args from audit_triggers where tbl = 'public.audit_facts_t'::regclass and tgname = 'audit_updates'),
  array['key={ref}', 'record_id=ref', 'at'], 'refreshed: the new key, the ignored columns kept');
select is(
  (select tgenabled::text from pg_trigger
   where tgrelid = 'public.audit_facts_t'::regclass and tgname = 'audit_deletes'),
  'D', 'and a disabled trigger stays disabled');
select is(
  (select pg_get_triggerdef(t.oid) from pg_trigger t
   where tgrelid = 'public.audit_facts_t'::regclass and tgname = 'audit_updates'),
  'CREATE TRIGGER audit_updates AFTER UPDATE ON public.audit_facts_t REFERENCING OLD TABLE AS '
  'old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION '
  'private.record_audit(''key={ref}'', ''record_id=ref'', ''at'')',
  'the trigger is made again as it was, with the facts');

-- A trigger written by hand, without facts, records what one with facts records -----
create table public.audit_hand_t (ref uuid primary key, organization_id uuid, v text, at timestamptz);
create trigger audit_inserts after insert on public.audit_hand_t
  referencing new table as new_rows for each statement execute function private.record_audit('at');
create trigger audit_updates after update on public.audit_hand_t
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.record_audit('at');
create trigger audit_deletes after delete on public.audit_hand_t
  referencing old table as old_rows for each statement execute function private.record_audit('at');

insert into public.audit_facts_t (ref, organization_id, v, at)
  select ('7e570000-0000-4000-8000-' || lpad(k::text, 12, '0'))::uuid, tests.org('main'), 'a' || k, now()
  from generate_series(1, 5) k;
insert into public.audit_hand_t select * from public.audit_facts_t;
update public.audit_facts_t set v = 'b' || v where v in ('a1', 'a2');
update public.audit_hand_t set v = 'b' || v where v in ('a1', 'a2');
update public.audit_facts_t set at = at + interval '1 minute';
update public.audit_hand_t set at = at + interval '1 minute';
delete from public.audit_facts_t where v = 'a5';
delete from public.audit_hand_t where v = 'a5';

create temporary view entries as
  select table_name, operation, record_id, organization_id,
         old_record - 'at' as old_record, new_record - 'at' as new_record
  from public.audit_log where table_name in ('public.audit_facts_t', 'public.audit_hand_t');
select is(
  (select count(*)::int from entries where table_name = 'public.audit_hand_t'), 5 + 2 + 1,
  'by hand: five INSERTs, two UPDATEs, one DELETE, no entry for the ignored column''s change');
select set_eq(
  $$ select operation, record_id, organization_id, old_record, new_record from entries
     where table_name = 'public.audit_hand_t' and operation <> 'DELETE' $$,
  $$ select operation, record_id, organization_id, old_record, new_record from entries
     where table_name = 'public.audit_facts_t' and operation <> 'DELETE' $$,
  'the same entries with and without facts (the disabled DELETE trigger aside)');
select is(
  (select count(*)::int from entries where table_name = 'public.audit_hand_t'
     and operation = 'UPDATE' and record_id = (new_record ->> 'ref')::uuid
     and old_record ->> 'ref' = new_record ->> 'ref'
     and new_record ->> 'v' = 'b' || (old_record ->> 'v')),
  2, 'each UPDATE pairs a row''s old and new values, record_id its key');
select is(
  (select count(*)::int from entries where table_name = 'public.audit_facts_t'
     and operation = 'DELETE'), 0, 'and the disabled trigger records nothing');

-- Many rows after one: the pairing hashes whatever plan the session made first -------
insert into public.audit_facts_t (ref, organization_id, v, at)
  select gen_random_uuid(), tests.org('main'), 'm' || k, now() from generate_series(1, 3000) k;
update public.audit_facts_t set v = v || '!' where v = 'm1';
set local statement_timeout = '10s';
update public.audit_facts_t set v = v || '?' where v like 'm%';
reset statement_timeout;
select is(
  (select count(*)::int from entries where table_name = 'public.audit_facts_t'
     and operation = 'UPDATE' and new_record ->> 'v' like 'm%?'
     and old_record ->> 'ref' = new_record ->> 'ref'
     and new_record ->> 'v' = (old_record ->> 'v') || '?'),
  3000, '3,000 rows updated after a one-row UPDATE: each paired with itself, in time');

-- No catalog query per call: 100 one-row UPDATEs read pg_attribute's index no more than
-- the session's caches do (171300: once a call, whether the table has an `id`).
create temporary table catalog_reads as
  select idx_scan from pg_stat_xact_sys_tables where relname = 'pg_attribute';
do $$ begin
  for k in 1 .. 100 loop
    update public.audit_facts_t set v = v || '.' where v = 'm' || k || '?';
  end loop;
end $$;
select cmp_ok(
  (select x.idx_scan - c.idx_scan from pg_stat_xact_sys_tables x, catalog_reads c
   where x.relname = 'pg_attribute')::int, '<', 10,
  '100 audited statements do not query the catalog each');

-- The redaction: 20261206171200's result, row for row -------------------------------
create function pg_temp.redacted_171200(r jsonb) returns jsonb
language sql immutable as $$
  select case
    when r is null or not (r ?| array['tax_id', 'iban', 'debtor_iban', 'default_payment_instructions',
                                      'payment_instructions'])
      then r
    else (select jsonb_object_agg(
                   e.k, case when e.k = any (array['tax_id', 'iban', 'debtor_iban',
                                                   'default_payment_instructions',
                                                   'payment_instructions'])
                              and jsonb_typeof(e.v) <> 'null'
                             then '"[redacted]"'::jsonb else e.v end)
          from jsonb_each(r) e(k, v))
  end
$$;
create temporary table samples (r jsonb);
insert into samples values
  (null), ('{}'), ('{"id": 1, "name": "x"}'), ('{"tax_id": null, "iban": "DE89"}'),
  ('{"tax_id": "DE1", "iban": "DE89", "debtor_iban": "FR76", "default_payment_instructions": "Pay",'
   ' "payment_instructions": {"a": 1}, "bic": "X"}'),
  ('{"payment_instructions": null, "notes": "n"}'), ('{"payment_instructions": ""}'),
  ('{"iban": 0, "tax_id": false, "debtor_iban": []}');
insert into samples select to_jsonb(s) from public.organization_settings s;
insert into samples select to_jsonb(v) from public.vendors v;
insert into samples select to_jsonb(i) from public.invoices i;
insert into samples select to_jsonb(p) from public.recurring_profiles p;
select is_empty(
  $$ select r from samples
     where private.audit_redacted(r) is distinct from pg_temp.redacted_171200(r) $$,
  'audit_redacted gives 171200''s result for every sample and every stored row');
select is(
  private.audit_redacted('{"tax_id": "DE1", "iban": null, "v": 1}'),
  '{"tax_id": "[redacted]", "iban": null, "v": 1}'::jsonb,
  'a value is redacted, a null kept, the other columns as they are');

-- Through the trigger: sealed columns' clear values never reach the log ---------------
-- (clear values as written before the seal job: by the table's owner)
insert into public.vendors (id, organization_id, name, tax_id, iban) values
  ('7e570000-0000-4000-8000-993000000001', tests.org('main'), 'Facts Vendor', 'DE136695976',
   'DE89370400440532013000');
update public.vendors set iban = 'GB82WEST12345698765432', name = 'Facts Vendor 2'
where id = '7e570000-0000-4000-8000-993000000001';
delete from public.vendors where id = '7e570000-0000-4000-8000-993000000001';
select is(
  (select array_agg(operation || ' ' || coalesce(old_record ->> 'iban', '-') || ' '
                    || coalesce(new_record ->> 'iban', '-') order by id)
   from public.audit_log where record_id = '7e570000-0000-4000-8000-993000000001'),
  array['INSERT - [redacted]', 'UPDATE [redacted] [redacted]', 'DELETE [redacted] -'],
  'a vendor''s IBAN is redacted in its INSERT, UPDATE and DELETE entries');
select is(
  (select count(*)::int from public.audit_log
   where record_id = '7e570000-0000-4000-8000-993000000001'
     and (coalesce(old_record::text, '') || coalesce(new_record::text, ''))
         ~ '(DE89370400440532013000|GB82WEST12345698765432|DE136695976)'),
  0, 'and no entry holds a clear value');
select is(
  (select count(*)::int from public.audit_log
   where record_id = '7e570000-0000-4000-8000-993000000001' and table_name = 'public.vendors'
     and organization_id = tests.org('main')
     and (operation <> 'UPDATE' or new_record ->> 'name' = 'Facts Vendor 2')),
  3, 'each entry under the vendor''s id and organization');

-- Search path safety stays ---------------------------------------------------------
select is(
  (select proconfig from pg_proc where oid = 'private.record_audit()'::regprocedure),
  array['search_path=""', 'enable_nestloop=off'],
  'record_audit runs as definer with an empty search_path (and without nested loops)');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.oid in ('private.audit_trigger_facts(oid)'::regprocedure,
                     'private.audit_redacted(jsonb)'::regprocedure,
                     'private.refresh_audit_facts(regclass)'::regprocedure,
                     'private.enable_audit(regclass, text[])'::regprocedure)
       and not coalesce('search_path=""' = any (p.proconfig), false) $$,
  'its helpers pin an empty search_path');
select ok(
  not has_function_privilege('authenticated', 'private.refresh_audit_facts(regclass)', 'execute')
  and not has_function_privilege('anon', 'private.audit_trigger_facts(oid)', 'execute'),
  'the API roles cannot call the helpers');

select * from finish();
rollback;
