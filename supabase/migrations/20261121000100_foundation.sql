-- =============================================================================
-- Foundation: the non-exposed `private` schema, small shared helpers, and the
-- append-only audit log every financial table writes to.
--
-- PostgREST exposes `public` only. Everything here that policies or triggers
-- call lives in `private`, which the API roles may execute but never see as
-- routes.
-- =============================================================================

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- Functions are not executable by the API roles unless granted one by one:
-- Supabase's default grants on new public functions are dropped here, and every
-- migration ends by revoking PostgreSQL's built-in EXECUTE for PUBLIC from the
-- functions it created (that default is global and cannot be revoked per
-- schema; revoking it globally would also strip extensions such as pg_trgm).
alter default privileges in schema public revoke execute on functions from anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

-- Keeps updated_at true on every table that has one.
create or replace function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- The money helpers below run once per item row (the generated `amount`) and
-- several times per invoice write. They are immutable, security invoker and
-- name everything by schema, so they carry no `set search_path`: a SQL
-- function with a SET clause is never inlined, and the GUC save/restore costs
-- about 20 us a call (measured in bench/: 100,000 calls 2.2 s -> 0.03 s).

-- ISO 4217 minor units: how many decimals an amount in this currency has.
-- Money is rounded half-up to this many places (2 unless listed).
create or replace function private.currency_minor_unit(currency text)
returns integer
language sql
immutable
parallel safe
as $$
  select case
    when currency in ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG',
                      'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') then 0
    when currency in ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') then 3
    else 2
  end
$$;

-- Rounds an amount half-up (away from zero) to the currency's minor unit.
-- PostgreSQL's round(numeric, int) already rounds halves away from zero.
create or replace function private.round_money(amount numeric, currency text)
returns numeric
language sql
immutable
parallel safe
as $$
  select pg_catalog.round(amount, private.currency_minor_unit(currency))
$$;

-- Rejects an amount with more decimals than its currency has (10.005 USD), and
-- returns it at the currency's scale (10 -> 10.00) otherwise. Money entered by a
-- person is never silently rounded.
create or replace function private.checked_money(amount numeric, currency text, what text)
returns numeric
language plpgsql
immutable
as $$
begin
  if amount is null then
    return null;
  end if;
  if amount <> private.round_money(amount, currency) then
    raise exception '% has more decimals than % allows', what, currency
      using errcode = '23514',
            detail = pg_catalog.format('%s: %s; %s has %s decimal places', what, amount, currency,
                                       private.currency_minor_unit(currency)),
            hint = 'Round the amount to the currency''s minor unit.';
  end if;
  return private.round_money(amount, currency);
end;
$$;

-- =============================================================================
-- Audit log
-- =============================================================================

-- One row per inserted, updated or deleted row of an audited table: who, when,
-- the row before and after. Append-only: nobody, not even the service role,
-- may update or delete it; members with the admin role read their
-- organization's entries. Rows outlive the records they describe (no foreign
-- keys), because financial history is kept for years.
create table public.audit_log (
  id bigint generated always as identity primary key,
  organization_id uuid,
  table_name text not null,
  record_id uuid,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  old_record jsonb,
  new_record jsonb,
  changed_by uuid,
  changed_by_role text,
  transaction_id bigint not null default txid_current(),
  changed_at timestamptz not null default now()
);

comment on table public.audit_log is
  'Append-only history of every insert, update and delete on the financial tables.';

create index audit_log_organization_changed_at_idx
  on public.audit_log (organization_id, changed_at desc);
create index audit_log_record_idx on public.audit_log (table_name, record_id);

alter table public.audit_log enable row level security;

revoke all on public.audit_log from anon, authenticated, service_role;
grant select on public.audit_log to authenticated, service_role;
-- Supabase's default privileges grant every new sequence to the API roles; a
-- caller who could setval() this one could make every audited write fail.
revoke all on sequence public.audit_log_id_seq from anon, authenticated, service_role;

-- Defence in depth: even a role that owns or bypasses grants cannot rewrite history.
create or replace function private.forbid_audit_log_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the audit log is append-only'
    using errcode = '42501', hint = 'Audit entries are never updated or deleted.';
end;
$$;

create trigger audit_log_is_append_only
  before update or delete on public.audit_log
  for each row execute function private.forbid_audit_log_change();

create trigger audit_log_is_never_truncated
  before truncate on public.audit_log
  for each statement execute function private.forbid_audit_log_change();

-- Writes the audit entries of one statement in one set-based insert, from the
-- statement's transition tables. Arguments: column names whose changes alone do
-- not deserve an entry (derived totals and timestamps), so that a payment does
-- not also log a "client changed" entry for the client's recomputed balance.
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
begin
  if tg_op = 'INSERT' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, new_record, changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, (n ->> 'id')::uuid, 'INSERT', n, actor, actor_role
    from (select to_jsonb(r) as n from new_rows r) s;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, changed_by, changed_by_role)
    select (o ->> 'organization_id')::uuid, tbl, (o ->> 'id')::uuid, 'DELETE', o, actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) s;
  else
    insert into public.audit_log
      (organization_id, table_name, record_id, operation, old_record, new_record,
       changed_by, changed_by_role)
    select (n ->> 'organization_id')::uuid, tbl, (n ->> 'id')::uuid, 'UPDATE', o, n,
           actor, actor_role
    from (select to_jsonb(r) as o from old_rows r) olds
    join (select to_jsonb(r) as n from new_rows r) news on (o ->> 'id') = (n ->> 'id')
    where (o - ignored) is distinct from (n - ignored);
  end if;
  return null;
end;
$$;

-- Attaches the three statement-level audit triggers to a table.
create or replace function private.enable_audit(target regclass, ignored_columns text[] default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
  args text := (
    select coalesce(string_agg(quote_literal(c), ', '), '')
    from unnest(ignored_columns) c
  );
begin
  execute format(
    'create trigger audit_inserts after insert on %s referencing new table as new_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
  execute format(
    'create trigger audit_updates after update on %s'
    ' referencing old table as old_rows new table as new_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
  execute format(
    'create trigger audit_deletes after delete on %s referencing old table as old_rows'
    ' for each statement execute function private.record_audit(%s)', target, args);
end;
$$;

-- The money helpers run inside the API roles' own statements (generated columns,
-- security-invoker triggers).
grant execute on function private.currency_minor_unit(text), private.round_money(numeric, text),
  private.checked_money(numeric, text, text) to authenticated, service_role;

revoke execute on all functions in schema private, public from public;
