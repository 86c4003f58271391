-- =============================================================================
-- The RPCs run as their caller (migration 20261206100100_platform.sql and the RPCs where they
-- are written): RLS and the column grants decide their reads and writes, and only
-- the steps RLS cannot allow are definer helpers in private, which check their
-- caller themselves. Both sides of each: the right role gets its answer; a viewer,
-- a stranger and anon are refused (or see nothing); the helpers are not anon's, and
-- what they do for a member is nothing the member may do straight through the API.
-- =============================================================================
begin;
select plan(83);

select tests.create_cast();

-- Vendors of main (fresh ids, kept in settings that survive the role switches):
-- north (the survivor of a merge), trading (merged into north), contoso (a
-- suggestion rejected); trading's purchase order and invoice (no purchase order
-- number: a missing_po exception once matched).
select set_config('t.north', gen_random_uuid()::text, false),
       set_config('t.trading', gen_random_uuid()::text, false),
       set_config('t.contoso', gen_random_uuid()::text, false),
       set_config('t.po', gen_random_uuid()::text, false),
       set_config('t.invoice', gen_random_uuid()::text, false);
insert into public.vendors (id, organization_id, name) values
  (current_setting('t.north')::uuid, tests.org('main'), 'Northwind Traders'),
  (current_setting('t.trading')::uuid, tests.org('main'), 'Southwind Trading'),
  (current_setting('t.contoso')::uuid, tests.org('main'), 'Contoso Ltd');
insert into public.purchase_orders (id, organization_id, vendor_id, po_number, currency, status)
values (current_setting('t.po')::uuid, tests.org('main'), current_setting('t.trading')::uuid,
        'PO-CALLER-1', 'USD', 'open');
insert into public.vendor_invoices (id, organization_id, vendor_id, vendor_name, invoice_number,
  invoice_date, currency, subtotal, tax_amount, total_amount)
values (current_setting('t.invoice')::uuid, tests.org('main'), current_setting('t.trading')::uuid,
        'Southwind Trading', 'SW-1', current_date, 'USD', 100, 0, 100);
select public.match_vendor_invoices(tests.org('main'), array[current_setting('t.invoice')::uuid]);
select set_config('t.exception', (
  select e.id::text from public.reconciliation_exceptions e
  where e.vendor_invoice_id = current_setting('t.invoice')::uuid and e.status = 'open'
  order by e.type limit 1), false);

-- The shape ----------------------------------------------------------------------

select is(
  array(select p.proname::text from pg_catalog.pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.prosecdef
          and p.proname in ('api_context', 'reconciliation_exception', 'split_vendor_alias',
                            'merge_vendors', 'reject_vendor_suggestion',
                            'resolve_reconciliation_exception', 'update_reconciliation_settings',
                            'add_vendor_alias', 'reconciliation_vendor', 'reconciliation_invoice',
                            'reconciliation_dashboard', 'get_reconciliation_settings')),
  '{}'::text[], 'the narrowed RPCs run as their caller'
);

select is(
  array(select p.oid::regprocedure::text from pg_catalog.pg_proc p
        where p.pronamespace = 'private'::regnamespace
          and p.proname in ('session_has_ended', 'count_request', 'exception_history',
                            'fold_vendor_into', 'restore_merged_vendor', 'record_exception_decision')
          and not (p.prosecdef and p.proconfig = array['search_path=""'])
        order by 1),
  '{}'::text[], 'their privileged steps are definer helpers with an empty search_path'
);

select is(
  array(select f from unnest(array[
          'private.session_has_ended()', 'private.count_request(integer)',
          'private.exception_history(uuid,uuid)', 'private.fold_vendor_into(uuid,uuid,uuid,text)',
          'private.restore_merged_vendor(uuid,uuid,uuid)',
          'private.record_exception_decision(uuid,uuid,text,text,uuid,uuid)',
          'private.require_role(uuid,public.membership_role,text)']) f
        where has_function_privilege('anon', f, 'execute')),
  '{}'::text[], 'anon may execute none of the helpers nor the role guard'
);

select is(
  array(select f from unnest(array['private.session_has_ended()', 'private.count_request(integer)']) f
        where has_function_privilege('service_role', f, 'execute')),
  '{}'::text[], 'the session check and the counter are the signed-in user''s only'
);

select is(
  array(select p.oid::regprocedure::text from pg_catalog.pg_proc p
        where p.pronamespace = 'private'::regnamespace
          and p.proname in ('create_organization', 'match_vendor_invoices', 'import_vendor_invoices')
          and not p.prosecdef),
  '{}'::text[], 'the cores that stay definers live in private'
);

select hasnt_function('private', 'require_report_access', 'the reports'' guard is gone');
select hasnt_function('private', 'require_reconciliation_reader', 'so is the reconciliation reader''s');
select hasnt_function('private', 'require_reconciliation_writer', 'and the writer''s');
select hasnt_function('private', 'may_write_in', 'and the delivery''s');

-- api_context: RLS shows the memberships; auth.sessions and the counter are the helpers'

select tests.authenticate_as('viewer');

select is(
  (public.api_context(0, 60) -> 'organizations') @> jsonb_build_array(
    jsonb_build_object('id', tests.org('main'), 'role', 'viewer')),
  true, 'the context answers the caller''s memberships'
);
select is(
  (select count(*)::integer
   from jsonb_array_elements(public.api_context(0, 60) -> 'organizations') o
   where (o ->> 'id')::uuid = tests.org('other')),
  0, 'and none of another organization'
);
select is(
  (select array[(public.api_context(2, 3600) ->> 'limited')::boolean,
                (public.api_context(2, 3600) ->> 'limited')::boolean,
                (public.api_context(2, 3600) ->> 'limited')::boolean]),
  array[false, false, true], 'the counter limits the third request of two allowed'
);
select throws_ok(
  $$ delete from private.rate_limit_windows where true $$,
  '42501', null, 'a user cannot reset their count'
);
select throws_ok(
  $$ select count(*) from auth.sessions $$,
  '42501', null, 'nor read the sessions'
);

select set_config('request.jwt.claims', json_build_object(
  'sub', tests.actor('viewer'), 'role', 'authenticated',
  'session_id', gen_random_uuid())::text, true);
select throws_ok(
  $$ select public.api_context(0, 60) $$,
  '28000', 'the session has ended; sign in again', 'a token whose session is gone is refused'
);

select tests.clear_authentication();
select throws_ok($$ select public.api_context(0, 60) $$, '42501', null, 'anon has no context');

-- resolve_reconciliation_exception: the decision's writes are the helper's ----------

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       current_setting('t.exception')::uuid, 'accept', 'fine') $$,
  '42501', null, 'a viewer cannot resolve an exception'
);
select throws_ok(
  $$ select private.record_exception_decision(tests.org('main'),
       current_setting('t.exception')::uuid, 'accept', 'fine', null, null) $$,
  '42501', null, 'nor through the helper'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       current_setting('t.exception')::uuid, 'accept', 'fine') $$,
  '42501', null, 'a stranger cannot resolve another organization''s exception'
);
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('other'),
       current_setting('t.exception')::uuid, 'accept', 'fine') $$,
  'P0002', null, 'naming their own organization, they find no such exception'
);
select throws_ok(
  $$ select private.record_exception_decision(tests.org('other'),
       current_setting('t.exception')::uuid, 'accept', 'fine', null, null) $$,
  'P0002', null, 'nor does the helper find it for them'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.resolve_reconciliation_exception(tests.org('main'),
       current_setting('t.exception')::uuid, 'accept', 'fine') $$,
  '42501', null, 'anon cannot resolve'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ update public.reconciliation_exceptions set status = 'dismissed', resolution = 'dismissed'
     where id = current_setting('t.exception')::uuid $$,
  '42501', null, 'a member does not write an exception''s decision straight through the API'
);
select is(
  public.resolve_reconciliation_exception(tests.org('main'), current_setting('t.exception')::uuid,
                                          'accept', 'agreed with the vendor') ->> 'status',
  'resolved', 'a member resolves it through the RPC'
);
select is(
  (select resolved_by from public.reconciliation_exceptions
   where id = current_setting('t.exception')::uuid),
  tests.actor('member'), 'as themselves'
);
select throws_ok(
  $$ select private.record_exception_decision(tests.org('main'),
       current_setting('t.exception')::uuid, 'dismiss', 'twice', null, null) $$,
  '23514', null, 'the helper judges the exception again: a decided one is not decided twice'
);

-- reconciliation_exception: the history comes from the audit log -------------------

select is(
  (select count(*)::integer from public.audit_log
   where record_id = current_setting('t.exception')::uuid),
  0, 'a member cannot read the audit log'
);
select is(
  jsonb_path_query_array(
    public.reconciliation_exception(tests.org('main'), current_setting('t.exception')::uuid),
    '$.history[*].operation'),
  '["INSERT", "UPDATE"]'::jsonb, 'yet sees the exception''s history through the RPC'
);

select tests.authenticate_as('viewer');
select is(
  jsonb_path_query_array(
    public.reconciliation_exception(tests.org('main'), current_setting('t.exception')::uuid),
    '$.history[*].resolution'),
  '[null, "accepted"]'::jsonb, 'and so does a viewer'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.reconciliation_exception(tests.org('main'), current_setting('t.exception')::uuid) $$,
  '42501', null, 'a stranger cannot read another organization''s exception'
);
select is(
  public.reconciliation_exception(tests.org('other'), current_setting('t.exception')::uuid),
  null, 'naming their own organization, they see nothing'
);
select is(
  private.exception_history(tests.org('other'), current_setting('t.exception')::uuid),
  '[]'::jsonb, 'nor does the history helper show them another organization''s'
);
select throws_ok(
  $$ select private.exception_history(tests.org('main'), current_setting('t.exception')::uuid) $$,
  '42501', null, 'and it refuses them main''s'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.reconciliation_exception(tests.org('main'), current_setting('t.exception')::uuid) $$,
  '42501', null, 'anon cannot read an exception'
);

-- update_reconciliation_settings: an admin's write under the table's policies ------

select tests.authenticate_as('admin');
select is(
  public.update_reconciliation_settings(tests.org('main'), '{"quantity_tolerance_percent": 3}')
    ->> 'quantity_tolerance_percent',
  '3', 'an admin changes the settings'
);
select is(
  (select updated_by from public.reconciliation_settings where organization_id = tests.org('main')),
  tests.actor('admin'), 'and is recorded as their author'
);
select throws_ok(
  $$ update public.reconciliation_settings set updated_by = tests.actor('owner')
     where organization_id = tests.org('main') $$,
  '42501', null, 'who cannot name another author'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ select public.update_reconciliation_settings(tests.org('main'), '{"auto_rematch": false}') $$,
  '42501', 'changing the matching settings needs the admin role or above',
  'a member cannot change the settings'
);
select is(
  tests.rows_affected($$ update public.reconciliation_settings set auto_rematch = false
                         where organization_id = tests.org('main') $$),
  0, 'nor straight through the API'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.update_reconciliation_settings(tests.org('main'), '{"auto_rematch": false}') $$,
  '42501', null, 'a viewer cannot change the settings'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.update_reconciliation_settings(tests.org('main'), '{"auto_rematch": false}') $$,
  '42501', null, 'a stranger cannot change another organization''s settings'
);
select throws_ok(
  $$ insert into public.reconciliation_settings (organization_id, auto_rematch)
     values (tests.org('main'), false) $$,
  '42501', null, 'nor write them straight through the API'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.update_reconciliation_settings(tests.org('main'), '{"auto_rematch": false}') $$,
  '42501', null, 'anon cannot change settings'
);
select tests.authenticate_as('viewer');
select is(
  (select auto_rematch from public.reconciliation_settings where organization_id = tests.org('main')),
  true, 'the refused changes changed nothing'
);

-- merge_vendors: re-pointing aliases, purchase orders and exceptions is the helper's

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.merge_vendors(tests.org('main'), current_setting('t.north')::uuid,
                                 current_setting('t.trading')::uuid) $$,
  '42501', null, 'a viewer cannot merge vendors'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.merge_vendors(tests.org('main'), current_setting('t.north')::uuid,
                                 current_setting('t.trading')::uuid) $$,
  '42501', null, 'nor can a stranger'
);
select throws_ok(
  $$ select private.fold_vendor_into(tests.org('main'), current_setting('t.trading')::uuid,
                                     current_setting('t.north')::uuid, null) $$,
  '42501', null, 'nor through the helper'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.merge_vendors(tests.org('main'), current_setting('t.north')::uuid,
                                 current_setting('t.trading')::uuid) $$,
  '42501', null, 'nor can anon'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ update public.purchase_orders set vendor_id = current_setting('t.north')::uuid
     where id = current_setting('t.po')::uuid $$,
  '42501', null, 'a member does not move a purchase order to another vendor straight through the API'
);
select is(
  public.merge_vendors(tests.org('main'), current_setting('t.north')::uuid,
                       current_setting('t.trading')::uuid, 'same company') ->> 'moved_invoices',
  '1', 'a member merges the vendors: the invoice moves'
);
select is(
  (select array[status, merged_into::text] from public.vendors
   where id = current_setting('t.trading')::uuid),
  array['merged', current_setting('t.north')], 'the merged vendor points at the survivor'
);
select is(
  (select array[(select vendor_id from public.purchase_orders where id = current_setting('t.po')::uuid),
                (select vendor_id from public.reconciliation_exceptions
                 where id = current_setting('t.exception')::uuid)]),
  array[current_setting('t.north')::uuid, current_setting('t.north')::uuid],
  'its purchase order and its exception went with it'
);
select throws_ok(
  $$ select private.fold_vendor_into(tests.org('main'), current_setting('t.trading')::uuid,
                                     current_setting('t.north')::uuid, null) $$,
  '23514', null, 'the helper does not fold a merged vendor again'
);

-- split_vendor_alias: the merged vendor's return reads the audit trail --------------

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.split_vendor_alias(tests.org('main'), current_setting('t.north')::uuid,
       (select id from public.vendor_aliases where vendor_id = current_setting('t.north')::uuid
        and alias = 'Southwind Trading')) $$,
  '42501', null, 'a viewer cannot split an alias off'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.split_vendor_alias(tests.org('main'), current_setting('t.north')::uuid,
                                      gen_random_uuid()) $$,
  '42501', null, 'nor can a stranger'
);
select throws_ok(
  $$ select private.restore_merged_vendor(tests.org('main'), current_setting('t.north')::uuid,
                                          current_setting('t.trading')::uuid) $$,
  '42501', null, 'nor through the helper'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.split_vendor_alias(tests.org('main'), current_setting('t.north')::uuid,
                                      gen_random_uuid()) $$,
  '42501', null, 'nor can anon'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ select private.restore_merged_vendor(tests.org('main'), current_setting('t.north')::uuid,
                                          current_setting('t.contoso')::uuid) $$,
  '23514', null, 'the helper brings back only a vendor merged into this one'
);
select is(
  public.split_vendor_alias(tests.org('main'), current_setting('t.north')::uuid,
    (select id from public.vendor_aliases where vendor_id = current_setting('t.north')::uuid
     and alias = 'Southwind Trading')) ->> 'new_vendor_id',
  current_setting('t.trading'), 'a member splits the merge''s alias off: the merged vendor comes back'
);
select is(
  (select array[v.status, po.vendor_id::text] from public.vendors v, public.purchase_orders po
   where v.id = current_setting('t.trading')::uuid and po.id = current_setting('t.po')::uuid),
  array['active', current_setting('t.trading')],
  'with the purchase order that was its own when stored (read from the audit trail)'
);

-- reject_vendor_suggestion: one row a member may write under its policy --------------

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.reject_vendor_suggestion(tests.org('main'), current_setting('t.north')::uuid,
                                            current_setting('t.contoso')::uuid) $$,
  '42501', null, 'a viewer cannot reject a suggestion'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.reject_vendor_suggestion(tests.org('main'), current_setting('t.north')::uuid,
                                            current_setting('t.contoso')::uuid) $$,
  '42501', null, 'nor can a stranger'
);
select throws_ok(
  $$ insert into public.vendor_merge_rejections (organization_id, vendor_id, other_vendor_id)
     select tests.org('main'), least(a, b), greatest(a, b)
     from (values (current_setting('t.north')::uuid, current_setting('t.contoso')::uuid)) p (a, b) $$,
  '42501', null, 'nor straight through the API'
);

select tests.clear_authentication();
select throws_ok(
  $$ select public.reject_vendor_suggestion(tests.org('main'), current_setting('t.north')::uuid,
                                            current_setting('t.contoso')::uuid) $$,
  '42501', null, 'nor can anon'
);

select tests.authenticate_as('member');
select lives_ok(
  $$ select public.reject_vendor_suggestion(tests.org('main'), current_setting('t.north')::uuid,
                                            current_setting('t.contoso')::uuid, 'different firms') $$,
  'a member rejects a suggestion'
);
select is(
  (select array[reason, created_by::text] from public.vendor_merge_rejections
   where organization_id = tests.org('main')
     and current_setting('t.contoso')::uuid in (vendor_id, other_vendor_id)),
  array['different firms', tests.actor('member')::text], 'the rejection is stored as theirs'
);

-- The readers and add_vendor_alias (RLS and the grants) ----------------------------

select tests.authenticate_as('viewer');
select is(
  public.reconciliation_vendor(tests.org('main'), current_setting('t.contoso')::uuid) ->> 'name',
  'Contoso Ltd', 'a viewer reads a vendor'
);
select throws_ok(
  $$ select public.add_vendor_alias(tests.org('main'), current_setting('t.contoso')::uuid, 'Contoso') $$,
  '42501', null, 'a viewer cannot add an alias'
);

select tests.authenticate_as('stranger');
select throws_ok(
  $$ select public.reconciliation_dashboard(tests.org('main'), null, null) $$,
  '42501', null, 'a stranger cannot read main''s dashboard'
);

-- The jobs: the service role's alone, as itself ------------------------------------

select is(
  array(select p.oid::regprocedure::text from pg_catalog.pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.proname like 'job\_%'
          and (p.prosecdef or has_function_privilege('authenticated', p.oid, 'execute')
               or has_function_privilege('anon', p.oid, 'execute')
               or not has_function_privilege('service_role', p.oid, 'execute'))
        order by 1),
  '{}'::text[], 'every job runs as its caller, and only the service role may call it'
);
-- By name, so that a new job (issue 15: expire quotes, issue recurring invoices) is
-- added here on purpose and the check above is known to cover it.
select is(
  array(select p.proname::text from pg_catalog.pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.proname like 'job\_%'
        order by 1),
  array['job_claim_notifications', 'job_claim_reminders', 'job_claim_summaries',
        'job_expire_quotes', 'job_issue_recurring', 'job_mark_overdue', 'job_open_reminders',
        'job_record_delivery', 'job_recurring_unsent'],
  'the jobs are these nine'
);
select ok(
  (select p.prosecdef and p.proconfig = array['search_path=""']
   from pg_catalog.pg_proc p where p.oid = 'private.account_email(uuid)'::regprocedure)
  and has_function_privilege('service_role', 'private.account_email(uuid)', 'execute')
  and not has_function_privilege('authenticated', 'private.account_email(uuid)', 'execute')
  and not has_function_privilege('anon', 'private.account_email(uuid)', 'execute'),
  'the account''s e-mail address (auth.users) is a definer helper of the service role''s alone'
);

select tests.authenticate_as('owner');
select throws_ok($$ select public.job_mark_overdue() $$, '42501', null,
                 'a user cannot run a job');

select tests.authenticate_as_service_role();
select throws_ok($$ select count(*) from auth.users $$, '42501', null,
                 'the service role cannot read auth.users, as on Supabase');
select is(private.account_email(tests.actor('owner')), tests.get_supabase_email('owner'),
          'but the helper answers it the address');
select lives_ok($$ select public.job_mark_overdue() $$, 'the service role runs a job');

-- The one role guard --------------------------------------------------------------

select tests.authenticate_as('viewer');
select lives_ok($$ select private.require_role(tests.org('main'), 'viewer') $$,
                'the guard lets a viewer read');
select throws_ok($$ select private.require_role(tests.org('main'), 'member') $$,
                 '42501', 'this needs the member role or above in the organization',
                 'and refuses them a member''s step, saying which role it needs');
select throws_ok($$ select private.require_role(tests.org('main'), 'admin', 'no, says the RPC') $$,
                 '42501', 'no, says the RPC', 'in the words of the RPC that names its action');
select throws_ok($$ select private.require_role(null, 'viewer') $$,
                 '42501', 'you are not a member of this organization',
                 'no organization is one the caller is not a member of');

select tests.authenticate_as('stranger');
select throws_ok($$ select private.require_role(tests.org('main'), 'viewer') $$,
                 '42501', 'you are not a member of this organization', 'a stranger is refused');

select tests.authenticate_as_service_role();
select lives_ok($$ select private.require_role(tests.org('main'), 'owner') $$,
                'the service role (workers, jobs) acts for any organization');

select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"role": "authenticated"}', true);
select throws_ok($$ select private.require_role(tests.org('main'), 'viewer') $$,
                 '42501', 'a signed-in user is required', 'an API role without a user is refused');

select * from finish();
rollback;
