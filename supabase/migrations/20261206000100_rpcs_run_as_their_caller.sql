-- The RPCs PostgREST exposes run as their caller (SECURITY INVOKER).
--
-- A SECURITY DEFINER function in the exposed schema runs with its owner's rights for
-- anyone who may execute it: RLS and the column grants no longer apply to what it does,
-- only the checks written in its body (Supabase's security advisors flag every such
-- function `authenticated` can call: 18 here). So no function in `public` is a definer
-- any more (005-schema-security.sql holds it):
--
-- 1. The readers of reconciliation run as the caller, and RLS decides what they see:
--    the tables they read have "Members can view their organization's ..." policies at
--    the viewer level, which is what require_reconciliation_reader checks too. So does
--    add_vendor_alias, whose one write RLS and the column grants allow members.
--
-- 2. The others write what their callers may not write directly -- derived rows
--    (matches, exceptions, import batches and their row errors, the rate-limit
--    counter), rows RLS cannot show to their creator yet (a new organization before its
--    owner membership), settings only they validate -- or read what their caller may not
--    (the audit trail of an exception, auth.sessions, auth.users for the jobs). Their
--    body moves to `private` (not exposed; SECURITY DEFINER, search_path pinned), where
--    its own checks (require_reconciliation_writer, import_begin's role check, the
--    service role for the jobs, auth.uid() for the context) still decide, and `public`
--    keeps a SECURITY INVOKER wrapper with the same name, parameters, defaults, result
--    and grants, so PostgREST, the functions and the SQL that call them are unchanged.
--
-- The wrappers are made from the catalog (the bodies stay where they are written, in
-- the migrations of their domain), so a later change of a parameter list needs no
-- change here.

-- 1. Readers ------------------------------------------------------------------------

alter function public.reconciliation_dashboard(uuid, date, date) security invoker;
alter function public.reconciliation_invoice(uuid, uuid) security invoker;
alter function public.reconciliation_vendor(uuid, uuid) security invoker;
alter function public.get_reconciliation_settings(uuid) security invoker;

-- add_vendor_alias writes one row, which members may write themselves (the vendor
-- aliases' insert policy and column grants); its privileged steps were definer helpers
-- already: lock_vendor, and assign_unknown_invoices (moves the unknown-vendor invoices of
-- that name to the vendor and re-matches them).
alter function public.add_vendor_alias(uuid, uuid, text) security invoker;

-- What they call, now as their caller: the access checks (definers: they read the
-- caller's memberships), the vendor's lock and the unknown invoices' re-assignment
-- (definers, above), the JSON of a vendor and of the settings (definers: they read the
-- settings row with its defaults and the vendor's suggestions), and the shapes of
-- reconciliation_invoice's rows (they read no table).
grant execute on function
  private.require_reconciliation_reader(uuid),
  private.require_reconciliation_writer(uuid),
  private.lock_vendor(uuid, uuid, text),
  private.assign_unknown_invoices(uuid, uuid, text[]),
  private.vendor_json(uuid, uuid),
  private.reconciliation_settings_json(uuid),
  private.money_fields(jsonb, text[]),
  private.exception_json(public.reconciliation_exceptions)
  to authenticated, service_role;

-- 2. Privileged cores in private, invoker wrappers in public --------------------------

do $migration$
declare
  moving constant text[] := array[
    'api_context',                       -- reads auth.sessions, counts in private.rate_limit_windows
    'create_organization',               -- the organization is invisible to its creator until the membership
    'create_import_upload',              -- import batches: no write policy (derived bookkeeping)
    'import_vendor_invoices',            -- batches and row errors, then matching
    'import_purchase_orders',
    'import_goods_receipts',
    'match_vendor_invoices',             -- matches and exceptions: derived, no write policy
    'split_vendor_alias',                -- reads the audit trail (admins only through RLS)
    'merge_vendors',                     -- moves exceptions
    'reject_vendor_suggestion',          -- vendor_merge_rejections: no write policy
    'resolve_reconciliation_exception',  -- exceptions: no write policy
    'update_reconciliation_settings',    -- settings: no write policy; validated here
    'reconciliation_exception',          -- its history comes from the audit log (admins only)
    'job_mark_overdue',                  -- the jobs: service role only
    'job_claim_notifications',           -- (reads auth.users)
    'job_open_reminders',
    'job_claim_reminders',
    'job_claim_summaries',               -- (reads auth.users)
    'job_record_delivery'
  ];
  f record;
  grantee regrole;
  moved text[] := '{}';
begin
  for f in
    select p.oid, p.proname, p.pronargs, p.proretset, p.provolatile, p.proisstrict,
           pg_catalog.pg_get_function_arguments(p.oid) as args,
           pg_catalog.pg_get_function_identity_arguments(p.oid) as identity_args,
           pg_catalog.pg_get_function_result(p.oid) as result
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and p.prosecdef
      and p.proname = any (moving)
  loop
    execute pg_catalog.format('alter function public.%I(%s) set schema private',
                              f.proname, f.identity_args);
    execute pg_catalog.format(
      $sql$create function public.%I(%s) returns %s language sql %s %s security invoker
           set search_path = '' as $body$ %s private.%I(%s) $body$$sql$,
      f.proname, f.args, f.result,
      case f.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
      case when f.proisstrict then 'strict' else 'called on null input' end,
      case when f.proretset then 'select * from' else 'select' end,
      f.proname,
      coalesce((select pg_catalog.string_agg('$' || i, ', ' order by i)
                from pg_catalog.generate_series(1, f.pronargs) i), ''));
    -- The wrapper is granted to whoever was granted the function; the private core keeps
    -- its grants (the wrapper runs as its caller, who must be able to call the core).
    for grantee in
      select a.grantee::regrole
      from pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
      where p.oid = f.oid and a.privilege_type = 'EXECUTE' and a.grantee <> 0
        and a.grantee <> p.proowner
    loop
      execute pg_catalog.format('grant execute on function public.%I(%s) to %s',
                                f.proname, f.identity_args, grantee);
    end loop;
    -- PostgREST's OpenAPI description of the RPC.
    if pg_catalog.obj_description(f.oid, 'pg_proc') is not null then
      execute pg_catalog.format('comment on function public.%I(%s) is %L', f.proname,
                                f.identity_args, pg_catalog.obj_description(f.oid, 'pg_proc'));
    end if;
    moved := moved || f.proname::text;
  end loop;

  if cardinality(moved) <> cardinality(moving) then
    raise exception 'expected SECURITY DEFINER functions in public: %; moved: %', moving, moved;
  end if;
  -- A definer added to public since must say here why it needs its owner's rights
  -- (an extension's own functions are the extension's business).
  if exists (select 1 from pg_catalog.pg_proc p
             where p.pronamespace = 'public'::regnamespace and p.prosecdef
               and not exists (select 1 from pg_catalog.pg_depend d
                               where d.objid = p.oid and d.deptype = 'e')) then
    raise exception 'SECURITY DEFINER functions left in public: %', (
      select pg_catalog.string_agg(p.oid::regprocedure::text, ', ')
      from pg_catalog.pg_proc p
      where p.pronamespace = 'public'::regnamespace and p.prosecdef
        and not exists (select 1 from pg_catalog.pg_depend d
                        where d.objid = p.oid and d.deptype = 'e'));
  end if;
end;
$migration$;

revoke execute on all functions in schema private, public from public;
