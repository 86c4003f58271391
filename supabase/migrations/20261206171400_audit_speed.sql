-- The audit trigger's cost on every write (issue 19's tax model, continued): the same
-- entries for a fraction of the work.
--
-- private.record_audit (last in 20261206171300_matching_speed.sql) runs after every
-- audited statement. Measured on a wide row (an invoice's: 39 columns, ~1.4 KB as JSON),
-- it cost per statement and per row far more than the entry it writes
-- (bench/audit_trigger.py, bench/RESULTS.md "Issue 19: the audit trigger's cost"):
--   * each call asked the catalog whether the table has an `id` column, and a table
--     without one (the settings tables, payment_batch_items) looked its primary key up
--     through private.primary_key_columns;
--   * an UPDATE's statement was run with EXECUTE, parsed and planned at each call
--     (~0.3-0.9 ms a statement): 171300 did so because a static statement's plan keeps
--     the transition tables' row counts of its first parse, and paired a later large
--     UPDATE's rows in a nested loop (N² pairs);
--   * each row was converted to JSON three to five times (the planner pulled the
--     `to_jsonb(r)` subquery up into every expression that used it: organization_id,
--     record_id, the redaction, the join key, the ignored columns' comparison), ~20 µs
--     each for an invoice;
--   * private.audit_redacted took the whole row apart and rebuilt it (jsonb_each,
--     jsonb_object_agg) for every row of a table that has a redacted column at all,
--     whether or not the row holds a value there (every invoice: payment_instructions),
--     ~40 µs a row, and private.audit_record_id ran as a SQL function with its own SET
--     (not inlined: a query per row, ~7 µs).
--
-- Now:
--   * The table's facts are trigger arguments, computed from the catalog when the trigger
--     is created (private.audit_trigger_facts): 'key={id}' (the columns an UPDATE's rows
--     pair on: `id` when the table has one, else its primary key's columns) and
--     'record_id=<column>' (the key column recorded as record_id: one uuid column), the
--     ignored columns after them. private.enable_audit writes them; the triggers made
--     before this migration are made again with them (private.refresh_audit_facts, which
--     keeps each trigger's own ignored columns: memberships' audit_updates ignores
--     mfa_required, its other two nothing). A trigger without them (one written by hand)
--     still works: the function computes the same facts from the catalog at each call.
--     supabase/tests/993-audit-trigger-facts.sql checks that every audit trigger's facts
--     are the catalog's: a migration that changes an audited table's key calls
--     private.refresh_audit_facts(table).
--   * The UPDATE's pairing is a static statement again, planned once per trigger and
--     session, with `set enable_nestloop = off` on the function: the pairing's only join
--     is on one hashable key, so whatever row counts its plan was made for it hashes
--     (or merges), never compares every old row with every new one
--     (tests/db/test_audit_update_cost.py: one-row UPDATEs first, then 2,000 rows). The
--     setting covers this function's own statements only (the INSERT into audit_log,
--     which fires no trigger but its indexes').
--   * Each row becomes JSON once (`offset 0` keeps the subquery from being pulled up).
--   * record_id is an expression in the statement (a uuid column's text cast back; a key
--     column of another type is recorded when its value looks like a uuid, as before).
--   * private.audit_redacted is PL/pgSQL: a row without a value in a redacted column is
--     returned as it is; a value is replaced where there is one (jsonb_set). Same
--     result as before, for every row (supabase/tests/993: both forms side by side).
--
-- What is recorded is unchanged: the same entries, the same old and new rows, redacted
-- the same way, the same record_id; an UPDATE changing only ignored columns records
-- nothing; a table without a key records no UPDATEs (its rows cannot be paired).
--
-- Definitions this one makes dead (nothing between them and here calls them but the
-- triggers, which call the function by name): private.record_audit in
-- 20261206100100_platform.sql, 20261206170200_parties_and_sealed_fields.sql,
-- 20261206171000_audit_updates_by_key.sql and 20261206171300_matching_speed.sql;
-- private.audit_redacted in 20261206170200 and 20261206171200_document_payment_instructions.sql;
-- private.enable_audit in 20261206100100 (still called by the migrations between, so its
-- first definition stays needed until here). private.audit_record_id (171000) is called by
-- nothing now: dropped at the end (private.primary_key_columns stays: the facts call it).

-- =============================================================================
-- Functions
-- =============================================================================

-- A table's facts as private.record_audit takes them from its trigger's arguments:
-- 'key={...}', the columns an UPDATE's old and new rows pair on (`id` when the table has
-- such a column, else its primary key's, in key order; none without either), and
-- 'record_id=<column>' when the key is one uuid column (recorded as record_id),
-- 'record_id~<column>' when it is one column of another type (recorded when its value
-- has a uuid's form), 'record_id=' otherwise.
create or replace function private.audit_trigger_facts(target oid)
returns text[]
language sql
stable
set search_path = ''
as $$
  select array['key=' || k.cols::text,
               case when pg_catalog.cardinality(k.cols) = 1
                    then (select case when a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
                                      then 'record_id=' else 'record_id~' end || a.attname::text
                          from pg_catalog.pg_attribute a
                          where a.attrelid = target and a.attname = k.cols[1])
                    else 'record_id=' end]
  from (select case when exists (select 1 from pg_catalog.pg_attribute a
                                 where a.attrelid = target and a.attname = 'id'
                                   and a.attnum > 0 and not a.attisdropped)
                    then array['id'] else private.primary_key_columns(target) end as cols) k
$$;

revoke execute on function private.audit_trigger_facts(oid) from public;

-- A row as the audit log keeps it: the clear value of a sensitive column (a tax id, an
-- IBAN, payment instructions) as "[redacted]"; their seals and hashes as they are.
-- 20261206171200's result, without taking every row apart: a row with no value in those
-- columns is returned as it is.
create or replace function private.audit_redacted(r jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  redacted constant text[] := array['tax_id', 'iban', 'debtor_iban',
                                    'default_payment_instructions', 'payment_instructions'];
  column_name text;
  kept jsonb := r;
begin
  if r is null or not (r ?| redacted) then
    return r;
  end if;
  foreach column_name in array redacted loop
    -- an absent column gives null here, a JSON null 'null': both kept as they are
    if pg_catalog.jsonb_typeof(r -> column_name) <> 'null' then
      kept := pg_catalog.jsonb_set(kept, array[column_name], '"[redacted]"'::jsonb);
    end if;
  end loop;
  return kept;
end;
$$;

-- Writes the audit entries of one statement in one set-based insert, from the
-- statement's transition tables. Arguments: the table's facts (private.audit_trigger_facts,
-- when the trigger is made by private.enable_audit), then the columns whose changes alone
-- do not deserve an entry (derived totals and timestamps), so that a payment does not
-- also log a "client changed" entry for the client's recomputed balance.
create or replace function private.record_audit()
returns trigger
language plpgsql
security definer
set search_path = ''
set enable_nestloop = off
as $$
declare
  facts_given boolean := tg_nargs >= 2 and pg_catalog.left(tg_argv[0], 4) = 'key='
                         and pg_catalog.left(tg_argv[1], 10) in ('record_id=', 'record_id~');
  facts text[] := case when facts_given then array[tg_argv[0], tg_argv[1]]
                       else private.audit_trigger_facts(tg_relid) end;
  ignored text[] := case when facts_given then tg_argv[2:] else tg_argv::text[] end;
  key_columns text[] := pg_catalog.substr(facts[1], 5)::text[];
  record_key text := nullif(pg_catalog.substr(facts[2], 11), '');
  record_key_is_uuid boolean := pg_catalog.substr(facts[2], 10, 1) = '=';
  pair_key text := key_columns[1];
  actor uuid := auth.uid();
  actor_role text := coalesce(auth.role(), current_user::text);
  tbl text := tg_table_schema || '.' || tg_table_name;
begin
  ignored := coalesce(ignored, '{}');
  if tg_op = 'INSERT' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, new_record, changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl,
           case when record_key_is_uuid then (n ->> record_key)::uuid
                when (n ->> record_key) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                then (n ->> record_key)::uuid end,
           'INSERT', private.audit_redacted(n), actor, actor_role
    from (select pg_catalog.to_jsonb(r) as n from new_rows r offset 0) s;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, changed_by, changed_by_role)
    select (o ->> 'organization_id')::uuid, tbl,
           case when record_key_is_uuid then (o ->> record_key)::uuid
                when (o ->> record_key) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                then (o ->> record_key)::uuid end,
           'DELETE', private.audit_redacted(o), actor, actor_role
    from (select pg_catalog.to_jsonb(r) as o from old_rows r offset 0) s;
  elsif cardinality(key_columns) = 0 then
    -- No key to pair the rows on: nothing is recorded (as since 171000).
    null;
  elsif cardinality(key_columns) = 1 then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl,
           case when record_key_is_uuid then (n ->> record_key)::uuid
                when (n ->> record_key) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                then (n ->> record_key)::uuid end,
           'UPDATE', private.audit_redacted(o), private.audit_redacted(n), actor, actor_role
    from (select pg_catalog.to_jsonb(r) as o from old_rows r offset 0) olds
    join (select pg_catalog.to_jsonb(r) as n from new_rows r offset 0) news
      on (o -> pair_key) = (n -> pair_key)
    where (o - ignored) is distinct from (n - ignored);
  else
    -- A key of several columns: each side's key is one jsonb array of their values.
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, null::uuid,
           'UPDATE', private.audit_redacted(o), private.audit_redacted(n), actor, actor_role
    from (select x.o, (select pg_catalog.jsonb_agg(x.o -> k.k order by k.ord)
                       from pg_catalog.unnest(key_columns) with ordinality as k (k, ord)) as ok
          from (select pg_catalog.to_jsonb(r) as o from old_rows r offset 0) x offset 0) olds
    join (select y.n, (select pg_catalog.jsonb_agg(y.n -> k.k order by k.ord)
                       from pg_catalog.unnest(key_columns) with ordinality as k (k, ord)) as nk
          from (select pg_catalog.to_jsonb(r) as n from new_rows r offset 0) y offset 0) news
      on olds.ok = news.nk
    where (o - ignored) is distinct from (n - ignored);
  end if;
  return null;
end;
$$;

-- Attaches the three statement-level audit triggers to a table, with its facts.
create or replace function private.enable_audit(target regclass, ignored_columns text[] default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
  args text := (
    select pg_catalog.string_agg(pg_catalog.quote_literal(c), ', ' order by ord)
    from pg_catalog.unnest(private.audit_trigger_facts(target) || ignored_columns)
           with ordinality as a (c, ord)
  );
begin
  execute pg_catalog.format(
    'create trigger audit_inserts after insert on %s referencing new table as new_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
  execute pg_catalog.format(
    'create trigger audit_updates after update on %s'
    ' referencing old table as old_rows new table as new_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
  execute pg_catalog.format(
    'create trigger audit_deletes after delete on %s referencing old table as old_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
end;
$$;

-- Makes a table's audit triggers again with its facts as the catalog has them now, each
-- keeping its name, events, transition tables, enabled state and ignored columns. For
-- a migration that changes an audited table's key (and for this one: the triggers made
-- before it had no facts).
create or replace function private.refresh_audit_facts(target regclass)
returns void
language plpgsql
set search_path = ''
as $$
declare
  t record;
  rest bytea;
  cut integer;
  args text[];
  definition text;
begin
  for t in
    select tg.oid, tg.tgname, tg.tgnargs, tg.tgargs, tg.tgenabled
    from pg_catalog.pg_trigger tg
    where tg.tgrelid = target and not tg.tgisinternal
      and tg.tgfoid = 'private.record_audit()'::pg_catalog.regprocedure
    order by tg.tgname
  loop
    args := '{}';
    rest := t.tgargs;
    for i in 1 .. t.tgnargs loop
      cut := position('\x00'::bytea in rest);
      args := args || pg_catalog.convert_from(pg_catalog.substr(rest, 1, cut - 1), 'UTF8');
      rest := pg_catalog.substr(rest, cut + 1);
    end loop;
    if coalesce(pg_catalog.left(args[1], 4) = 'key='
                and pg_catalog.left(args[2], 10) in ('record_id=', 'record_id~'), false) then
      args := args[3:];
    end if;
    definition := substring(pg_catalog.pg_get_triggerdef(t.oid)
                            from '^(.* EXECUTE FUNCTION private\.record_audit\()')
      || (select pg_catalog.string_agg(pg_catalog.quote_literal(c), ', ' order by ord)
          from pg_catalog.unnest(private.audit_trigger_facts(target) || args)
                 with ordinality as a (c, ord))
      || ')';
    execute pg_catalog.format('drop trigger %I on %s', t.tgname, target);
    execute definition;
    if t.tgenabled <> 'O' then
      execute pg_catalog.format('alter table %s %s trigger %I', target,
                                case t.tgenabled when 'D' then 'disable'
                                                 when 'R' then 'enable replica'
                                                 else 'enable always' end,
                                t.tgname);
    end if;
  end loop;
end;
$$;

revoke execute on function private.refresh_audit_facts(regclass) from public;

-- =============================================================================
-- The triggers made before: again, with their facts
-- =============================================================================

select private.refresh_audit_facts(tg.tgrelid::regclass)
from (select distinct t.tgrelid from pg_catalog.pg_trigger t
      where t.tgfoid = 'private.record_audit()'::pg_catalog.regprocedure and not t.tgisinternal) tg;

-- =============================================================================
-- Dropped: called by nothing now
-- =============================================================================

-- 20261206171000's record_id of a recorded row, now an expression in record_audit's
-- statements.
drop function private.audit_record_id(jsonb, text);
