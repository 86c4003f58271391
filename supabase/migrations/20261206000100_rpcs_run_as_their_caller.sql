-- The RPCs PostgREST exposes run as their caller (SECURITY INVOKER).
--
-- A SECURITY DEFINER function in the exposed schema runs with its owner's rights for
-- anyone who may execute it: RLS and the column grants no longer apply to what it does,
-- only the checks written in its body (Supabase's security advisors flag every such
-- function `authenticated` can call). So no function in `public` is a definer
-- (005-schema-security.sql holds it, and the check at the end of this file):
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
-- 2. The functions below stay definer cores: what they write is derived bookkeeping
--    that no person writes row by row (import batches and their row errors, the
--    imported documents with their duplicate checks, matches and exceptions), or rows
--    RLS cannot show to their creator yet (a new organization before its owner
--    membership). Each moves to `private` (not exposed; search_path pinned), where its
--    own checks still decide (private.require_role, import_begin's), and `public`
--    keeps a SECURITY INVOKER wrapper with the same name, parameters, defaults, result,
--    comment and grants, so PostgREST, the functions and the SQL that call them are
--    unchanged. A change of a core's parameters changes its wrapper here too (this
--    migration stops otherwise: its `alter function` names the parameters).
--
-- The scheduled jobs (job_*) are SECURITY INVOKER where they are written, executable
-- by service_role alone: the service role has BYPASSRLS and the tables' privileges,
-- and its one read it has no privilege for, auth.users, is private.account_email.

-- =============================================================================
-- create_organization: the organization is invisible to its creator until the
-- owner membership exists, so neither row can be written under RLS (an insert
-- policy would let anyone make organizations straight through PostgREST). The core
-- checks that a user signs in and makes both rows.
-- =============================================================================

alter function public.create_organization(text) set schema private;

create function public.create_organization(name text)
returns public.organizations
language sql
volatile
security invoker
set search_path = ''
as $$ select private.create_organization($1) $$;

grant execute on function public.create_organization(text) to authenticated, service_role;

-- =============================================================================
-- The imports: an import batch, its row errors and the documents of a whole file
-- are written together with the duplicate checks and the matching that follows
-- (import_begin checks the caller: a member, or the import worker as the service
-- role). Batches and row errors have no write policy: they are bookkeeping.
-- =============================================================================

alter function public.create_import_upload(uuid, text, text, text, text, text) set schema private;
alter function public.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) set schema private;
alter function public.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb) set schema private;
alter function public.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb) set schema private;

create function public.create_import_upload(
  organization_id uuid,
  kind text,
  file_name text,
  object_name text,
  policy text default 'all_or_nothing',
  date_order text default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.create_import_upload($1, $2, $3, $4, $5, $6) $$;

create function public.import_vendor_invoices(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_vendor_invoices($1, $2, $3, $4, $5, $6, $7) $$;

create function public.import_purchase_orders(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_purchase_orders($1, $2, $3, $4, $5, $6, $7) $$;

create function public.import_goods_receipts(
  organization_id uuid,
  batch jsonb,
  policy text default 'all_or_nothing',
  errors jsonb default '[]',
  rows_total integer default null,
  import_batch_id uuid default null,
  columns jsonb default '{}'
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.import_goods_receipts($1, $2, $3, $4, $5, $6, $7) $$;

comment on function public.create_import_upload(uuid, text, text, text, text, text) is
  'Starts a CSV import: the batch awaiting its upload and its S3 key.';
comment on function public.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports vendor invoices with their lines, a whole batch in one call.';
comment on function public.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports purchase orders with their lines, a whole batch in one call.';
comment on function public.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb) is
  'Imports goods receipts with their lines, a whole batch in one call.';

grant execute on function public.create_import_upload(uuid, text, text, text, text, text)
  to authenticated;
grant execute on function
  public.import_vendor_invoices(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  public.import_purchase_orders(uuid, jsonb, text, jsonb, integer, uuid, jsonb),
  public.import_goods_receipts(uuid, jsonb, text, jsonb, integer, uuid, jsonb)
  to authenticated, service_role;

-- =============================================================================
-- match_vendor_invoices: matches, line matches and exceptions are derived from the
-- documents and the settings, never written by a person (no write policy); the
-- core checks the caller (private.require_role: a member, or the service role).
-- =============================================================================

alter function public.match_vendor_invoices(uuid, uuid[]) set schema private;

create function public.match_vendor_invoices(
  organization_id uuid, invoice_ids uuid[] default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$ select private.match_vendor_invoices($1, $2) $$;

comment on function public.match_vendor_invoices(uuid, uuid[]) is
  'Matches vendor invoices (null: every pending and exception invoice) against their POs and receipts.';

grant execute on function public.match_vendor_invoices(uuid, uuid[]) to authenticated, service_role;

-- =============================================================================
-- No definer is left in public
-- =============================================================================

-- Every wrapper calls its core as its caller: the cores keep the grants they had in
-- public (moved with them), which are the wrappers' too.
revoke execute on all functions in schema private, public from public;

-- A definer added to public since must say here why it needs its owner's rights (an
-- extension's own functions are the extension's business).
do $check$
declare
  left_over text := (
    select pg_catalog.string_agg(p.oid::regprocedure::text, ', ')
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.prosecdef
      and not exists (select 1 from pg_catalog.pg_depend d
                      where d.objid = p.oid and d.deptype = 'e'));
begin
  if left_over is not null then
    raise exception 'SECURITY DEFINER functions left in public: %', left_over;
  end if;
end;
$check$;
