-- =============================================================================
-- public.bulk_delete_clients (supabase/migrations/20261206100500_clients.sql):
-- who may call it, what it refuses whole, and the per-id policy -- each client of
-- the organization without invoices is deleted, the others are reported
-- ('has_invoices', 'not_found') and left untouched, another organization's
-- clients included.
-- =============================================================================
begin;
select plan(30);

-- Results of a call as (id, status) rows, in the order returned.
create function pg_temp.statuses(result jsonb)
returns table (id uuid, status text)
language sql immutable as $$
  select (e ->> 'id')::uuid, e ->> 'status'
  from jsonb_array_elements(result) with ordinality as r(e, n)
  order by n
$$;

-- Set-up ----------------------------------------------------------------------
select tests.create_cast();

insert into public.clients (id, organization_id, company_name, currency) values
  ('cb000000-0000-4000-8000-000000000001', tests.org('main'), 'BD Free One', 'USD'),
  ('cb000000-0000-4000-8000-000000000002', tests.org('main'), 'BD Free Two', 'USD'),
  ('cb000000-0000-4000-8000-000000000003', tests.org('main'), 'BD Billed', 'USD'),
  ('cb000000-0000-4000-8000-000000000004', tests.org('main'), 'BD Draft Only', 'EUR'),
  ('cb000000-0000-4000-8000-000000000009', tests.org('other'), 'BD Foreign', 'USD');

insert into public.invoices (id, organization_id, client_id, invoice_number, due_date) values
  ('cb100000-0000-4000-8000-000000000003', tests.org('main'),
   'cb000000-0000-4000-8000-000000000003', 'BD-1', current_date + 30),
  ('cb100000-0000-4000-8000-000000000004', tests.org('main'),
   'cb000000-0000-4000-8000-000000000004', 'BD-2', current_date + 30);
insert into public.invoice_items (invoice_id, description, quantity, rate)
values ('cb100000-0000-4000-8000-000000000003', 'work', 1, 100);
update public.invoices set status = 'sent' where id = 'cb100000-0000-4000-8000-000000000003';

-- The function ------------------------------------------------------------------
select has_function('public', 'bulk_delete_clients', array['uuid', 'uuid[]'],
  'public.bulk_delete_clients(uuid, uuid[]) exists');
select is(
  (select prosecdef from pg_catalog.pg_proc where oid = 'public.bulk_delete_clients(uuid, uuid[])'::regprocedure),
  false,
  'it is security invoker, so row level security applies to its caller'
);
select ok(
  (select 'search_path=""' = any (proconfig) from pg_catalog.pg_proc
   where oid = 'public.bulk_delete_clients(uuid, uuid[])'::regprocedure),
  'it pins an empty search_path'
);
select ok(
  has_function_privilege('authenticated', 'public.bulk_delete_clients(uuid, uuid[])', 'execute'),
  'authenticated may execute it'
);
select ok(
  not has_function_privilege('anon', 'public.bulk_delete_clients(uuid, uuid[])', 'execute'),
  'anon may not execute it'
);

-- Who may call it -----------------------------------------------------------------
select tests.clear_authentication();
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000001']::uuid[]) $$,
  '42501', null, 'anon cannot call it'
);

select tests.authenticate_as('viewer');
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000001']::uuid[]) $$,
  '42501', 'deleting clients needs the member role or above in the organization',
  'a viewer is refused'
);

select tests.authenticate_as('member');
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('other'),
       array['cb000000-0000-4000-8000-000000000009']::uuid[]) $$,
  '42501', null, 'naming an organization the caller is not a member of is refused'
);
select throws_ok(
  $$ select public.bulk_delete_clients(null, array['cb000000-0000-4000-8000-000000000001']::uuid[]) $$,
  '42501', null, 'a null organization is refused'
);

-- What it refuses whole ------------------------------------------------------------
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'), '{}'::uuid[]) $$,
  '22023', 'give at least one client id', 'an empty list is refused'
);
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'), null) $$,
  '22023', 'give at least one client id', 'a null list is refused'
);
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'),
       array(select gen_random_uuid() from generate_series(1, 501))) $$,
  '22023', 'at most 500 clients can be deleted at once; 501 were given',
  'more than 500 ids are refused'
);
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000001', 'cb000000-0000-4000-8000-000000000001']::uuid[]) $$,
  '22023', 'client ids must be unique', 'a repeated id is refused'
);
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000001', null]::uuid[]) $$,
  '22023', 'client ids cannot be null', 'a null id is refused'
);
select results_eq(
  $$ select count(*)::int from public.clients where id::text like 'cb000000-%' $$,
  $$ values (4) $$,
  'the refused calls deleted nothing (the member sees its organization''s four clients)'
);

-- The per-id policy --------------------------------------------------------------
select results_eq(
  $$ select * from pg_temp.statuses(public.bulk_delete_clients(tests.org('main'), array[
       'cb000000-0000-4000-8000-000000000003',
       'cb000000-0000-4000-8000-000000000001',
       'cb000000-0000-4000-8000-000000000009',
       'cb000000-0000-4000-8000-0000000000ff',
       'cb000000-0000-4000-8000-000000000004'
     ]::uuid[])) $$,
  $$ values
       ('cb000000-0000-4000-8000-000000000003'::uuid, 'has_invoices'::text),
       ('cb000000-0000-4000-8000-000000000001'::uuid, 'deleted'::text),
       ('cb000000-0000-4000-8000-000000000009'::uuid, 'not_found'::text),
       ('cb000000-0000-4000-8000-0000000000ff'::uuid, 'not_found'::text),
       ('cb000000-0000-4000-8000-000000000004'::uuid, 'has_invoices'::text) $$,
  'a member gets one result per id, in the order given: deleted, has_invoices (a draft counts), not_found (missing or another tenant''s)'
);
select results_eq(
  $$ select company_name from public.clients where id::text like 'cb000000-%' order by company_name $$,
  $$ values ('BD Billed'::text), ('BD Draft Only'::text), ('BD Free Two'::text) $$,
  'only the client without invoices was deleted; the others and the one not named stay'
);
select is(
  public.bulk_delete_clients(tests.org('main'),
    array['cb000000-0000-4000-8000-000000000002']::uuid[]) -> 0,
  jsonb_build_object('id', 'cb000000-0000-4000-8000-000000000002', 'status', 'deleted',
                     'message', 'the client was deleted'),
  'a deleted entry has its id, status and message'
);
select is(
  public.bulk_delete_clients(tests.org('main'),
    array['cb000000-0000-4000-8000-000000000003']::uuid[]) -> 0 ->> 'message',
  'the client has invoices and is kept with its financial records; set its status to inactive instead',
  'a has_invoices entry says to set the status to inactive instead'
);
select is(
  public.bulk_delete_clients(tests.org('main'),
    array['cb000000-0000-4000-8000-000000000002']::uuid[]) -> 0 ->> 'status',
  'not_found',
  'an id deleted before is not_found'
);

-- What happened, seen by the superuser ---------------------------------------------
select tests.as_superuser();
select results_eq(
  $$ select company_name from public.clients where id::text like 'cb000000-%' order by company_name $$,
  $$ values ('BD Billed'::text), ('BD Draft Only'::text), ('BD Foreign'::text) $$,
  'the other organization''s client was not touched'
);
select is_empty(
  $$ select 1 from public.client_activities
     where client_id in ('cb000000-0000-4000-8000-000000000001', 'cb000000-0000-4000-8000-000000000002') $$,
  'the deleted clients'' timelines went with them'
);
select results_eq(
  $$ select count(*)::int, min(changed_by::text) from public.audit_log
     where table_name = 'public.clients' and operation = 'DELETE'
       and record_id in ('cb000000-0000-4000-8000-000000000001', 'cb000000-0000-4000-8000-000000000002') $$,
  $$ select 2, tests.actor('member')::text $$,
  'the audit log keeps each deleted client, with who deleted it'
);
select results_eq(
  $$ select total_billed, outstanding_balance from public.clients
     where id = 'cb000000-0000-4000-8000-000000000003' $$,
  $$ values (100.00, 100.00) $$,
  'the kept client''s totals are unchanged'
);

-- Once its only (draft) invoice is deleted, a client can be deleted ---------------------
select tests.authenticate_as('member');
delete from public.invoices where id = 'cb100000-0000-4000-8000-000000000004';
select results_eq(
  $$ select * from pg_temp.statuses(public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000004']::uuid[])) $$,
  $$ values ('cb000000-0000-4000-8000-000000000004'::uuid, 'deleted'::text) $$,
  'a client whose draft invoice was deleted is deleted'
);

-- An owner may call it too; the stranger cannot reach this organization's clients ------
select tests.authenticate_as('owner');
select results_eq(
  $$ select * from pg_temp.statuses(public.bulk_delete_clients(tests.org('main'),
       array['cb000000-0000-4000-8000-000000000003']::uuid[])) $$,
  $$ values ('cb000000-0000-4000-8000-000000000003'::uuid, 'has_invoices'::text) $$,
  'an owner gets the same per-id answer'
);

select tests.authenticate_as('stranger');
select results_eq(
  $$ select * from pg_temp.statuses(public.bulk_delete_clients(tests.org('other'),
       array['cb000000-0000-4000-8000-000000000003', 'cb000000-0000-4000-8000-000000000009']::uuid[])) $$,
  $$ values ('cb000000-0000-4000-8000-000000000003'::uuid, 'not_found'::text),
            ('cb000000-0000-4000-8000-000000000009'::uuid, 'deleted'::text) $$,
  'in its own organization the stranger deletes its client and finds none of the other''s'
);

select tests.as_superuser();
select results_eq(
  $$ select company_name from public.clients where id::text like 'cb000000-%' order by company_name $$,
  $$ values ('BD Billed'::text) $$,
  'in the end only the client with a sent invoice is left'
);

-- A failure rolls the whole call back --------------------------------------------------
-- A trigger refusing the deletion of one client makes the call fail; the client
-- deleted before it in the same call must come back.
insert into public.clients (id, organization_id, company_name, currency) values
  ('cb000000-0000-4000-8000-000000000005', tests.org('main'), 'BD Rollback A', 'USD'),
  ('cb000000-0000-4000-8000-000000000006', tests.org('main'), 'BD Rollback B', 'USD');
create function pg_temp.refuse_b() returns trigger language plpgsql as $$
begin
  if old.company_name = 'BD Rollback B' then
    raise exception 'refused for the test' using errcode = 'P0001';
  end if;
  return old;
end;
$$;
create trigger refuse_b before delete on public.clients
  for each row execute function pg_temp.refuse_b();
select tests.authenticate_as('member');
select throws_ok(
  $$ select public.bulk_delete_clients(tests.org('main'), array[
       'cb000000-0000-4000-8000-000000000005', 'cb000000-0000-4000-8000-000000000006']::uuid[]) $$,
  'P0001', 'refused for the test', 'an error while deleting fails the call'
);
select results_eq(
  $$ select company_name from public.clients where id in
       ('cb000000-0000-4000-8000-000000000005', 'cb000000-0000-4000-8000-000000000006')
     order by company_name $$,
  $$ values ('BD Rollback A'::text), ('BD Rollback B'::text) $$,
  'and deletes nothing: the client deleted before the error is still there'
);

select * from finish();
rollback;
