-- =============================================================================
-- Foundation: the non-exposed `private` schema, small shared helpers, and the
-- append-only audit log every financial table writes to.
--
-- PostgREST exposes `public` only. Everything here that policies or triggers
-- call lives in `private`, which the API roles may execute but never see as
-- routes.
--
-- The RPCs PostgREST exposes run as their caller (SECURITY INVOKER).
--
-- A SECURITY DEFINER function in the exposed schema runs with its owner's rights for
-- anyone who may execute it: RLS and the column grants no longer apply to what it does,
-- only the checks written in its body (Supabase's security advisors flag every such
-- function `authenticated` can call). So no function in `public` is a definer
-- (supabase/tests/005-schema-security.sql holds it, and so does the closing check at the
-- end of the last migration):
--
-- 1. Most RPCs are SECURITY INVOKER where they are written, with their whole body:
--    RLS and the column grants decide what they read and write, and the few steps RLS
--    cannot allow are small definer helpers in `private` beside them, each saying why
--    it needs its owner's rights (api_context: private.session_has_ended and
--    private.count_request; the vendors: private.fold_vendor_into and
--    private.restore_merged_vendor; the exceptions: private.exception_history and
--    private.record_exception_decision; the numbering counter, the audit trigger...).
--    update_reconciliation_settings and reject_vendor_suggestion write what a member
--    (the settings: an admin) may write straight through PostgREST, under the policies
--    of their tables.
--
-- 2. A few functions stay definer cores: what they write is derived bookkeeping
--    that no person writes row by row (import batches and their row errors, the
--    imported documents with their duplicate checks, matches and exceptions), or rows
--    RLS cannot show to their creator yet (a new organization before its owner
--    membership). Each lives in `private` (not exposed; search_path pinned), where its
--    own checks still decide (private.require_role, import_begin's), and `public`
--    keeps a SECURITY INVOKER wrapper with the same name, parameters, defaults, result,
--    comment and grants, so PostgREST, the functions and the SQL that call them are
--    unchanged. The core and its wrapper are written side by side in their domain's
--    migration: create_organization, create_import_upload and the import_* RPCs,
--    and match_vendor_invoices. A change of a core's parameters changes its wrapper
--    too (the migration stops otherwise: the wrapper is SQL, whose body PostgreSQL
--    checks when it is created, and would call no function).
--
-- The scheduled jobs (job_*) are SECURITY INVOKER where they are written, executable
-- by service_role alone: the service role has BYPASSRLS and the tables' privileges,
-- and its one read it has no privilege for, auth.users, is private.account_email.
--
-- What Supabase's advisors (`supabase db advisors`) found is fixed where a fix is right
-- (the indexes on the columns that name a user, the pinned search_paths); the rest is
-- explained where it stands. tests/db/test_supabase_cli.py runs them with the pinned CLI
-- on every `make test`.
-- =============================================================================

-- =============================================================================
-- Tables
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

alter table public.audit_log enable row level security;

-- =============================================================================
-- Indexes
-- =============================================================================

create index audit_log_organization_changed_at_idx
  on public.audit_log (organization_id, changed_at desc);

create index audit_log_record_idx on public.audit_log (table_name, record_id);

-- =============================================================================
-- Functions
-- =============================================================================

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
--
-- Its search_path is pinned: that costs nothing that matters (PL/pgSQL, never inlined:
-- 0.79 s -> 1.40 s over 1,000,000 calls); it checks the amounts a person types (a
-- discount, a payment), a few a request.
create or replace function private.checked_money(amount numeric, currency text, what text)
returns numeric
language plpgsql
immutable
set search_path = ''
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

-- =============================================================================
-- Triggers
-- =============================================================================

create trigger audit_log_is_append_only
  before update or delete on public.audit_log
  for each row execute function private.forbid_audit_log_change();

create trigger audit_log_is_never_truncated
  before truncate on public.audit_log
  for each statement execute function private.forbid_audit_log_change();

-- =============================================================================
-- Grants
-- =============================================================================

revoke all on public.audit_log from anon, authenticated, service_role;

grant select on public.audit_log to authenticated, service_role;

-- Supabase's default privileges grant every new sequence to the API roles; a
-- caller who could setval() this one could make every audited write fail.
revoke all on sequence public.audit_log_id_seq from anon, authenticated, service_role;

-- The money helpers run inside the API roles' own statements (generated columns,
-- security-invoker triggers).
grant execute on function private.currency_minor_unit(text), private.round_money(numeric, text),
  private.checked_money(numeric, text, text) to authenticated, service_role;

revoke execute on all functions in schema private, public from public;

-- Left unpinned on purpose, because PostgreSQL inlines them into the query that calls
-- them and any SET clause stops the inlining:
--   private.round_money, private.currency_minor_unit, private.invoice_report_status:
--     immutable SQL helpers run once per row (every invoice item's generated amount,
--     every invoice of a five-year report): 0.21 s -> 2.3 s, 0.16 s -> 1.9 s and
--     0.10 s -> 1.5 s per million calls with a SET;
--   private.reminder_slots: inlined into private.open_reminder_slots, the chunk's
--     `invoice_id = any (ids)` reaches the invoices' primary key; with a SET it is a
--     function scan that computes every open invoice's slots for each chunk of 5,000.
-- The risk a mutable search_path brings is small here: they are SECURITY INVOKER (a
-- caller who changes their search_path fools only themselves), name every function and
-- type schema-qualified, run under the empty search_path of the definer functions that
-- call them, and the API roles may create no schema to shadow pg_catalog's operators
-- with. The advisors' finding for these four is excluded by name, with this reason, in
-- tests/db/test_supabase_cli.py (the CLI itself has no way to exclude one).
