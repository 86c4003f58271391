-- Matching's cost per invoice back to what it was (issue 19): the audit trigger pairs an
-- UPDATE's old and new rows with a hash join again.
--
-- Numbered 171300, not 170900 as first planned: it redefines private.record_audit, which
-- 20261206171000_audit_updates_by_key.sql defines, so it must apply after it.
--
-- 20261206171000_audit_updates_by_key.sql paired a statement's old and new rows on the
-- table's key with `not exists (select 1 from unnest(key_columns) k where (o -> k) is
-- distinct from (n -> k))`: a condition no join can hash, so every UPDATE of an audited
-- table compared every old row with every new row (N² pairs, each converting both rows to
-- JSON again). One call of match_vendor_invoices over 100 invoices updates 100
-- vendor_invoices and upserts 100 vendor_invoice_matches: 10,000 pairs each, 0.94 s of the
-- call's 1.13 s (auto_explain, nested statements); matching went from 1.8 ms to 10.9 ms
-- an invoice (bench/matching_speed.py), and every other multi-row UPDATE of an audited
-- table (mark overdue, imports, re-matching) grew the same way.
--
-- And the UPDATE's pairing is planned for the rows at hand: run with EXECUTE, parsed and
-- planned at each call. A static statement is parsed once per session, and the parse
-- fixes the transition tables' row counts the planner sees (a named tuplestore's estimate
-- is taken when the query is analyzed; custom plans reuse the analysis). On a pooled
-- connection (PostgREST's) whose first audited UPDATE of a table was of one row, every
-- later plan saw one old and one new row and paired them in a nested loop, whatever the
-- join condition: 100 invoices matched later compared 8,464 pairs, 0.22 s a call, even
-- with 170200's `o ->> 'id' = n ->> 'id'` (matching measured 9-16 ms an invoice through
-- the e-invoice route before 171000 existed, 3-4x a fresh session's cost). Planning it
-- each time costs ~0.1-0.3 ms per audited UPDATE statement, not per row; INSERT and
-- DELETE scan one transition table and stay static.
--
-- Now each side's key is one jsonb value (the key columns' values as an array, computed
-- once per row) and the rows pair on its equality, which hashes: a table keyed by `id`
-- pairs on `o -> 'id'` as before 171000, a table keyed otherwise on its primary key's
-- columns from the catalog. What is recorded is unchanged: the same pairs (a primary key
-- is never null, so `=` and `is not distinct from` agree), the same record_id, nothing for
-- a table without a primary key.

create or replace function private.record_audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ignored text[] := coalesce(tg_argv::text[], '{}');
  actor uuid := auth.uid();
  actor_role text := coalesce(auth.role(), current_user::text);
  tbl text := tg_table_schema || '.' || tg_table_name;
  key_columns text[] := array['id'];
  record_key text := 'id';
begin
  if not exists (select 1 from pg_catalog.pg_attribute a
                 where a.attrelid = tg_relid and a.attname = 'id' and not a.attisdropped) then
    key_columns := private.primary_key_columns(tg_relid);
    record_key := case when cardinality(key_columns) = 1 then key_columns[1] end;
  end if;
  if tg_op = 'INSERT' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, new_record, changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, private.audit_record_id(n, record_key),
           'INSERT', private.audit_redacted(n), actor, actor_role
    from (select to_jsonb(r) as n from new_rows r) s;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, changed_by, changed_by_role)
    select (o ->> 'organization_id')::uuid, tbl, private.audit_record_id(o, record_key),
           'DELETE', private.audit_redacted(o), actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) s;
  elsif cardinality(key_columns) = 0 then
    -- No key to pair the rows on: nothing is recorded (as in 171000).
    null;
  elsif key_columns = array['id'] then
    execute $sql$
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, $1, private.audit_record_id(n, 'id'),
           'UPDATE', private.audit_redacted(o), private.audit_redacted(n), $2, $3
    from (select pg_catalog.to_jsonb(r) as o from old_rows r) olds
    join (select pg_catalog.to_jsonb(r) as n from new_rows r) news on (o -> 'id') = (n -> 'id')
    where (o - $4) is distinct from (n - $4)
    $sql$ using tbl, actor, actor_role, ignored;
  else
    execute $sql$
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, $1, private.audit_record_id(n, $5),
           'UPDATE', private.audit_redacted(o), private.audit_redacted(n), $2, $3
    from (select x.o, (select pg_catalog.jsonb_agg(x.o -> k.k order by k.ord)
                       from pg_catalog.unnest($6) with ordinality as k (k, ord)) as ok
          from (select pg_catalog.to_jsonb(r) as o from old_rows r) x) olds
    join (select y.n, (select pg_catalog.jsonb_agg(y.n -> k.k order by k.ord)
                       from pg_catalog.unnest($6) with ordinality as k (k, ord)) as nk
          from (select pg_catalog.to_jsonb(r) as n from new_rows r) y) news on olds.ok = news.nk
    where (o - $4) is distinct from (n - $4)
    $sql$ using tbl, actor, actor_role, ignored, record_key, key_columns;
  end if;
  return null;
end;
$$;
