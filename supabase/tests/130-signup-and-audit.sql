-- =============================================================================
-- Signup (profile with email, settings, personal organization, ownership),
-- email sync, the append-only audit log, realtime publication, the key indexes
-- and foreign keys, and the security hygiene the seed lacked.
-- =============================================================================
begin;
select plan(64);

create function pg_temp.uid(who text) returns uuid
language sql stable as $$ select tests.get_supabase_uid(who) $$;
create function pg_temp.org(who text) returns uuid
language sql stable as $$ select tests.personal_org(who) $$;
create function pg_temp.inv(num text) returns uuid
language sql stable as $$ select id from public.invoices where invoice_number = num $$;
create function pg_temp.client(name text) returns uuid
language sql stable as $$ select id from public.clients where company_name = name $$;
-- The audit entries of one record, oldest first.
create function pg_temp.audit(tbl text, rid uuid)
returns table (operation text, changed_by uuid, changed_by_role text, old_record jsonb, new_record jsonb,
               organization_id uuid)
language sql stable as $$
  select a.operation, a.changed_by, a.changed_by_role, a.old_record, a.new_record, a.organization_id
  from public.audit_log a where a.table_name = tbl and a.record_id = rid order by a.id
$$;

-- =============================================================================
-- Signup
-- =============================================================================
select tests.create_supabase_user('signup', 'signup@example.com',
  '{"business_name": "  Signup Biz  ", "first_name": "Sam", "last_name": "Lee", "phone": "+1 555 0100"}');

select results_eq(
  $$ select email, first_name, last_name, phone from public.profiles where id = pg_temp.uid('signup') $$,
  $$ values ('signup@example.com'::text, 'Sam'::text, 'Lee'::text, '+1 555 0100'::text) $$,
  'signup creates the profile, with the email the seed''s trigger could not write'
);
select is(
  (select count(*)::int from public.user_settings where user_id = pg_temp.uid('signup')), 1,
  'signup creates the user''s settings'
);
select is(
  (select email_notifications ->> 'paymentReceived' from public.user_settings where user_id = pg_temp.uid('signup')),
  'true', 'with the default notification preferences'
);
select results_eq(
  $$ select name, personal, created_by from public.organizations where created_by = pg_temp.uid('signup') $$,
  $$ values ('Signup Biz'::text, true, pg_temp.uid('signup')) $$,
  'signup creates one personal organization named after the business name (trimmed)'
);
select results_eq(
  $$ select role::text from public.memberships where user_id = pg_temp.uid('signup') $$,
  $$ values ('owner'::text) $$,
  'the new user owns it, and belongs to nothing else'
);
select results_eq(
  $$ select business_name, business_email, invoice_prefix, next_invoice_number
     from public.organization_settings where organization_id = pg_temp.org('signup') $$,
  $$ values ('Signup Biz'::text, 'signup@example.com'::text, 'INV-'::text, 1::bigint) $$,
  'the organization has its settings: business name and email from the signup'
);

select tests.create_supabase_user('named', 'ann@example.com',
  '{"business_name": "   ", "first_name": "Ann", "last_name": "Smith"}');
select is(
  (select name from public.organizations where id = pg_temp.org('named')), 'Ann Smith',
  'a blank business name falls back to the person''s name'
);
select tests.create_supabase_user('plain', 'solo.trader@example.com');
select is(
  (select name from public.organizations where id = pg_temp.org('plain')), 'solo.trader',
  'without names the organization is named after the email''s local part'
);
select results_eq(
  $$ select first_name, last_name from public.profiles where id = pg_temp.uid('plain') $$,
  $$ values (null::text, null::text) $$,
  'missing names stay null'
);
insert into auth.users (id, aud, role, phone, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-4000-8000-0000000000a1', 'authenticated', 'authenticated', '15550001', null, now(), now());
select results_eq(
  $$ select o.name, p.email, p.phone from public.organizations o
     join public.profiles p on p.id = o.created_by
     where o.created_by = '00000000-0000-4000-8000-0000000000a1' $$,
  $$ values ('My business'::text, null::text, '15550001'::text) $$,
  'a phone-only signup without metadata gets "My business" and the phone on its profile'
);
select tests.create_supabase_user('long', null, jsonb_build_object('business_name', repeat('x', 300)));
select is(
  (select length(name) from public.organizations where id = pg_temp.org('long')), 200,
  'an over-long business name is cut to 200 characters'
);

update auth.users set email = 'renamed@example.com' where id = pg_temp.uid('signup');
select is(
  (select email from public.profiles where id = pg_temp.uid('signup')), 'renamed@example.com',
  'an email change on the account is synced to the profile'
);

-- =============================================================================
-- Audit log: who changed what, before and after
-- =============================================================================
select tests.authenticate_as('signup');

insert into public.clients (organization_id, company_name) values
  (pg_temp.org('signup'), 'Audited'),
  (pg_temp.org('signup'), 'Doomed');
update public.clients set phone = '+44 20 7946 0000' where id = pg_temp.client('Audited');
delete from public.clients where id = pg_temp.client('Doomed');

select tests.as_superuser();
select results_eq(
  $$ select operation, changed_by, changed_by_role, organization_id, old_record ->> 'phone', new_record ->> 'phone'
     from pg_temp.audit('public.clients', pg_temp.client('Audited')) $$,
  $$ values ('INSERT'::text, pg_temp.uid('signup'), 'authenticated'::text, pg_temp.org('signup'), null::text, null::text),
            ('UPDATE', pg_temp.uid('signup'), 'authenticated', pg_temp.org('signup'), null, '+44 20 7946 0000') $$,
  'a client''s insert and update are logged with the acting user and the old and new values'
);
select results_eq(
  $$ select operation, changed_by, old_record ->> 'company_name', new_record is null
     from public.audit_log where table_name = 'public.clients' and operation = 'DELETE'
       and old_record ->> 'company_name' = 'Doomed' and organization_id = pg_temp.org('signup') $$,
  $$ values ('DELETE'::text, pg_temp.uid('signup'), 'Doomed'::text, true) $$,
  'a client''s deletion is logged with the deleted row'
);
select tests.authenticate_as('signup');

insert into public.invoices (organization_id, client_id, invoice_number)
values (pg_temp.org('signup'), pg_temp.client('Audited'), 'AU-1'),
       (pg_temp.org('signup'), pg_temp.client('Audited'), 'AU-2');
insert into public.invoice_items (invoice_id, position, description, quantity, rate)
values (pg_temp.inv('AU-1'), 1, 'kept', 1, 100),
       (pg_temp.inv('AU-1'), 2, 'removed', 1, 5);
update public.invoice_items set rate = 120 where invoice_id = pg_temp.inv('AU-1') and position = 1;
delete from public.invoice_items where invoice_id = pg_temp.inv('AU-1') and position = 2;
update public.invoices set notes = 'thanks' where id = pg_temp.inv('AU-1');
delete from public.invoices where id = pg_temp.inv('AU-2');

select tests.as_superuser();
select results_eq(
  $$ select count(*)::int, count(*) filter (where changed_by = pg_temp.uid('signup'))::int
     from public.audit_log where table_name = 'public.invoice_items'
       and coalesce(new_record, old_record) ->> 'invoice_id' = pg_temp.inv('AU-1')::text $$,
  $$ values (4, 4) $$,
  'item inserts (2), update (1) and delete (1) are logged, each by the acting user'
);
select results_eq(
  $$ select operation, old_record ->> 'rate', new_record ->> 'rate', new_record ->> 'amount'
     from public.audit_log where table_name = 'public.invoice_items' and operation = 'UPDATE'
       and new_record ->> 'invoice_id' = pg_temp.inv('AU-1')::text $$,
  $$ values ('UPDATE'::text, '100'::text, '120'::text, '120.00'::text) $$,
  'an item update keeps the old and new rate'
);
select results_eq(
  $$ select old_record ->> 'description', new_record from public.audit_log
     where table_name = 'public.invoice_items' and operation = 'DELETE'
       and old_record ->> 'invoice_id' = pg_temp.inv('AU-1')::text $$,
  $$ values ('removed'::text, null::jsonb) $$,
  'an item deletion keeps the deleted row'
);
select ok(
  exists (select 1 from pg_temp.audit('public.invoices', pg_temp.inv('AU-1'))
          where operation = 'INSERT' and changed_by = pg_temp.uid('signup')
            and new_record ->> 'invoice_number' = 'AU-1'),
  'an invoice insert is logged by the acting user'
);
select ok(
  exists (select 1 from pg_temp.audit('public.invoices', pg_temp.inv('AU-1'))
          where operation = 'UPDATE' and changed_by = pg_temp.uid('signup')
            and old_record ->> 'notes' is null and new_record ->> 'notes' = 'thanks'),
  'an invoice update is logged with its old and new values'
);
select ok(
  exists (select 1 from pg_temp.audit('public.invoices', pg_temp.inv('AU-1'))
          where operation = 'UPDATE' and old_record ->> 'subtotal' = '0.00'
            and new_record ->> 'subtotal' = '105.00' and new_record ->> 'total_amount' = '105.00'
            and changed_by = pg_temp.uid('signup')),
  'the invoice''s total recomputed by an item change is logged under the user who changed the item'
);
select results_eq(
  $$ select changed_by, old_record ->> 'invoice_number' from public.audit_log
     where table_name = 'public.invoices' and operation = 'DELETE'
       and organization_id = pg_temp.org('signup') $$,
  $$ values (pg_temp.uid('signup'), 'AU-2'::text) $$,
  'an invoice deletion is logged'
);

-- Payments, and the client's derived totals that they move (not logged).
select tests.authenticate_as('signup');
update public.invoices set status = 'sent' where id = pg_temp.inv('AU-1');
insert into public.payments (invoice_id, amount, reference_number) values (pg_temp.inv('AU-1'), 20, 'R1');
update public.payments set amount = 25 where reference_number = 'R1';
delete from public.payments where reference_number = 'R1';
insert into public.payments (invoice_id, amount, reference_number) values (pg_temp.inv('AU-1'), 120, 'R2');

select tests.as_superuser();
select results_eq(
  $$ select operation, changed_by, old_record ->> 'amount', new_record ->> 'amount'
     from public.audit_log where table_name = 'public.payments'
       and coalesce(new_record, old_record) ->> 'reference_number' = 'R1'
       and organization_id = pg_temp.org('signup')
     order by id $$,
  $$ values ('INSERT'::text, pg_temp.uid('signup'), null::text, '20.00'::text),
            ('UPDATE', pg_temp.uid('signup'), '20.00', '25.00'),
            ('DELETE', pg_temp.uid('signup'), '25.00', null) $$,
  'a payment''s insert, update and delete are logged with the acting user and the amounts'
);
select results_eq(
  $$ select total_billed, outstanding_balance, last_invoice_date is not null
     from public.clients where id = pg_temp.client('Audited') $$,
  $$ values (120.00, 0.00, true) $$,
  'the client''s derived totals did change'
);
select results_eq(
  $$ select operation from pg_temp.audit('public.clients', pg_temp.client('Audited')) $$,
  $$ values ('INSERT'::text), ('UPDATE') $$,
  'but derived-only client updates (totals, updated_at) wrote no audit entry'
);
select is(
  (select count(*)::int from public.audit_log
   where table_name = 'public.organization_settings' and organization_id = pg_temp.org('signup')
     and changed_by = pg_temp.uid('signup')),
  0, 'numbering invoices (advancing the counter) wrote no settings audit entry'
);

-- Who may read it.
select tests.authenticate_as('signup');
select ok(
  (select count(*) from public.audit_log) > 0,
  'an owner reads the organization''s audit log'
);
select tests.authenticate_as('named');
select is_empty(
  $$ select 1 from public.audit_log where organization_id = pg_temp.org('signup') $$,
  'another organization''s user reads none of it'
);

-- Append-only, for everyone.
select throws_ok(
  $$ insert into public.audit_log (table_name, operation) values ('public.clients', 'DELETE') $$,
  '42501', null, 'an API user cannot write audit entries'
);
select tests.authenticate_as('signup');
select throws_ok(
  $$ delete from public.audit_log $$,
  '42501', null, 'even the owner cannot delete audit entries'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.audit_log set changed_by = null $$,
  '42501', null, 'the service role cannot update audit entries'
);
select tests.as_superuser();
select throws_ok(
  $$ update public.audit_log set changed_by = null where organization_id = pg_temp.org('signup') $$,
  '42501', 'the audit log is append-only', 'a superuser cannot update audit entries'
);
select throws_ok(
  $$ delete from public.audit_log where organization_id = pg_temp.org('signup') $$,
  '42501', 'the audit log is append-only', 'a superuser cannot delete audit entries'
);
select throws_ok(
  $$ truncate public.audit_log $$,
  '42501', 'the audit log is append-only', 'a superuser cannot truncate the audit log'
);
select ok(
  (select count(*) from public.audit_log where organization_id = pg_temp.org('signup')) >= 10,
  'the entries are all still there'
);

-- =============================================================================
-- Realtime
-- =============================================================================
select set_has(
  $$ select tablename::text from pg_publication_tables
     where pubname = 'supabase_realtime' and schemaname = 'public' $$,
  $$ values ('invoices'), ('payments'), ('client_activities') $$,
  'invoices, payments and client_activities are published to supabase_realtime'
);

-- =============================================================================
-- The access paths are indexed for (organization_id, ...)
-- =============================================================================
select has_index('public', 'invoices', 'invoices_organization_status_due_date_idx',
                 array['organization_id', 'status', 'due_date'], 'invoices by organization, status, due date');
select has_index('public', 'invoices', 'invoices_organization_due_date_idx',
                 array['organization_id', 'due_date'], 'invoices by organization and due date');
select has_index('public', 'invoices', 'invoices_organization_client_idx',
                 array['organization_id', 'client_id', 'issue_date'], 'invoices by organization and client');
select has_index('public', 'invoices', 'invoices_organization_issue_date_idx',
                 array['organization_id', 'issue_date'], 'invoices by organization and issue date');
select has_index('public', 'invoices', 'invoices_client_status_idx',
                 array['client_id', 'status'], 'invoices by client and status (client totals)');
select col_is_unique('public', 'invoices', array['organization_id', 'invoice_number'],
                     'invoice numbers are unique per organization');
select has_index('public', 'invoice_items', 'invoice_items_invoice_idx',
                 array['invoice_id', '"position"'], 'items by invoice, in order');
select has_index('public', 'payments', 'payments_invoice_date_idx',
                 array['invoice_id', 'payment_date'], 'payments by invoice');
select has_index('public', 'payments', 'payments_organization_date_idx',
                 array['organization_id', 'payment_date'], 'payments by organization and date');
select has_index('public', 'clients', 'clients_organization_company_name_idx',
                 array['organization_id', 'company_name'], 'clients by organization and name');
select has_index('public', 'clients', 'clients_organization_status_idx',
                 array['organization_id', 'status'], 'clients by organization and status');
select has_index('public', 'client_activities', 'client_activities_client_timestamp_idx',
                 array['client_id', '"timestamp"'], 'a client''s timeline');
select has_index('public', 'client_activities', 'client_activities_organization_timestamp_idx',
                 array['organization_id', '"timestamp"'], 'an organization''s timeline');
select has_index('public', 'memberships', 'memberships_user_id_idx',
                 array['user_id', 'organization_id'], 'a user''s memberships (every policy)');
select has_index('public', 'audit_log', 'audit_log_organization_changed_at_idx',
                 array['organization_id', 'changed_at'], 'an organization''s audit log');

-- =============================================================================
-- Tenancy is in the foreign keys, not only in RLS
-- =============================================================================
select fk_ok('public', 'invoices', array['organization_id', 'client_id', 'currency'],
             'public', 'clients', array['organization_id', 'id', 'currency'],
             'an invoice''s client is in its organization and currency');
select fk_ok('public', 'invoice_items', array['organization_id', 'invoice_id', 'currency'],
             'public', 'invoices', array['organization_id', 'id', 'currency'],
             'an item''s invoice is in its organization and currency');
select fk_ok('public', 'payments', array['organization_id', 'invoice_id', 'currency'],
             'public', 'invoices', array['organization_id', 'id', 'currency'],
             'a payment''s invoice is in its organization and currency');
select fk_ok('public', 'client_activities', array['organization_id', 'client_id'],
             'public', 'clients', array['organization_id', 'id'],
             'an activity''s client is in its organization');

-- A payment against another organization's invoice fails even for a superuser.
select tests.create_supabase_user('intruder');
insert into public.clients (organization_id, company_name) values (pg_temp.org('intruder'), 'Intruder Client');
select throws_ok(
  format($$ insert into public.payments (organization_id, invoice_id, amount, currency)
            values (%L, %L, 1, 'USD') $$, pg_temp.org('intruder'), pg_temp.inv('AU-1')),
  '23503', null, 'a payment cannot point at another organization''s invoice'
);
select throws_ok(
  format($$ insert into public.invoices (organization_id, client_id, invoice_number, currency)
            values (%L, %L, 'X-1', 'USD') $$, pg_temp.org('intruder'), pg_temp.client('Audited')),
  '23503', null, 'an invoice cannot point at another organization''s client'
);
select throws_ok(
  format($$ insert into public.invoice_items (organization_id, invoice_id, currency, description, quantity, rate)
            values (%L, %L, 'USD', 'x', 1, 1) $$, pg_temp.org('intruder'), pg_temp.inv('AU-1')),
  '23503', null, 'an item cannot point at another organization''s invoice'
);
-- Remembered as superuser: the intruder cannot see them.
select set_config('test.audited_client', pg_temp.client('Audited')::text, true);
select set_config('test.au1_invoice', pg_temp.inv('AU-1')::text, true);
select tests.authenticate_as('intruder');
select throws_ok(
  format($$ insert into public.invoices (organization_id, client_id) values (%L, %L) $$,
         pg_temp.org('intruder'), current_setting('test.audited_client')),
  '23503', format('client %s is not a client of this organization', current_setting('test.audited_client')),
  'through the API, an invoice naming another organization''s client is a foreign key violation'
);
select throws_ok(
  format($$ insert into public.payments (invoice_id, amount) values (%L, 1) $$, current_setting('test.au1_invoice')),
  '42501', null, 'through the API, a payment on another organization''s invoice is refused'
);
select throws_ok(
  format($$ insert into public.invoice_items (invoice_id, description, quantity, rate) values (%L, 'x', 1, 1) $$,
         current_setting('test.au1_invoice')),
  '42501', null, 'and so is an item'
);
select tests.as_superuser();

-- =============================================================================
-- Security hygiene the seed lacked
-- =============================================================================
select is_empty(
  $$ select n.nspname || '.' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where p.prosecdef and n.nspname in ('public', 'private')
       and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%') $$,
  'every security definer function pins its search_path'
);
select is_empty(
  $$ select tablename || ': ' || policyname from pg_policies
     where schemaname = 'public'
       and (regexp_replace(coalesce(qual, ''), '\( SELECT auth\.(uid|jwt|role)\(\) AS \w+\)', '', 'g') ~ 'auth\.(uid|jwt|role)\(\)'
         or regexp_replace(coalesce(with_check, ''), '\( SELECT auth\.(uid|jwt|role)\(\) AS \w+\)', '', 'g') ~ 'auth\.(uid|jwt|role)\(\)') $$,
  'no policy calls auth.uid()/jwt()/role() bare (each is wrapped in a sub-select, evaluated once)'
);
select is_empty(
  $$ select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity $$,
  'row level security is enabled on every table of public'
);
select is_empty(
  $$ select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'private' and has_function_privilege('anon', p.oid, 'execute')
       -- but the client page's two cores (migration 20261206130100, pgTAP 005 and 700)
       and p.proname not in ('portal_open', 'portal_decide_quote', 'portal_logo') $$,
  'anon may execute nothing in private but the client page''s cores'
);

select * from finish();
rollback;
