-- The audit log records the UPDATEs of tables keyed by something other than `id`.
--
-- private.record_audit (20261206100100_platform.sql, redacting since
-- 20261206170200_parties_and_sealed_fields.sql) paired a statement's old and new rows on
-- their `id`. The tables whose primary key is another column — organization_settings,
-- payables_settings, reconciliation_settings, inbound_settings (organization_id), and any
-- such table audited later — have no `id`, so no pair matched and none of their UPDATEs
-- was recorded: a change of the business's settings, its MFA requirement or its payables
-- settings left no trace, against "every change in the audit log" (issue 17).
--
-- Now the rows are paired on the table's primary key, read from the catalog (only for a
-- table without an `id` column: the tables with one pair as before, at no extra cost), and
-- record_id is the key's value when it is a single uuid column (the organization's id for
-- the settings tables), as it is `id` elsewhere.

-- The primary key's columns of a table, in key order.
create or replace function private.primary_key_columns(target oid)
returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(a.attname::text order by k.ord), '{}')
  from pg_catalog.pg_index i
  cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
  join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
  where i.indrelid = target and i.indisprimary
$$;

revoke execute on function private.primary_key_columns(oid) from public;

-- 20261206170200_parties_and_sealed_fields.sql's, with UPDATEs paired on the primary key
-- when the table has no `id` column.
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
  else
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, private.audit_record_id(n, record_key),
           'UPDATE', private.audit_redacted(o), private.audit_redacted(n), actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) olds
    join (select to_jsonb(r) as n from new_rows r) news
      on cardinality(key_columns) > 0
     and not exists (select 1 from unnest(key_columns) k where (o -> k) is distinct from (n -> k))
    where (o - ignored) is distinct from (n - ignored);
  end if;
  return null;
end;
$$;

-- A recorded row's id: its key's value when that is one uuid column, else null.
create or replace function private.audit_record_id(r jsonb, record_key text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  select case when record_key is not null
               and (r ->> record_key) ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
              then (r ->> record_key)::uuid end
$$;

revoke execute on function private.audit_record_id(jsonb, text) from public;
