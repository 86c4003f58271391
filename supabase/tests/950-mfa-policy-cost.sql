-- =============================================================================
-- The cheaper MFA policies (migration 20261206170300_mfa_policy_cost.sql): the
-- enforcement is unchanged on every organization table for every role (reads see
-- nothing below aal2, deletes touch nothing; at aal2 each role sees what it saw
-- before the organization required MFA), memberships.mfa_required follows the
-- organization's setting whatever writes it, and a read runs one helper: the
-- restrictive SELECT policy is the permissive one's expression, which PostgreSQL
-- applies once (one initPlan).
-- =============================================================================
begin;
select plan(34);

select tests.create_cast();
insert into public.clients (id, organization_id, company_name) values
  ('c0000000-0000-4000-8000-7e5700000950', tests.org('main'), 'MFA cost client');
insert into public.invoices (organization_id, client_id)
values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000950');

-- The rows of `org` each public table with organization_id shows the current role
-- ({table: count}; -1 when the count fails other than for want of a grant).
create function tests.mfa_visible(org uuid)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  t text;
  n integer;
  counts jsonb := '{}';
begin
  for t in
    select c.relname from pg_catalog.pg_class c
    join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
    join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id'
                                  and not a.attisdropped
    where ns.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by 1
  loop
    continue when not pg_catalog.has_column_privilege(pg_catalog.format('public.%I', t), 'organization_id', 'select');
    begin
      execute pg_catalog.format('select count(*) from public.%I where organization_id = $1', t)
        into n using org;
    exception when others then
      n := -1;
    end;
    counts := counts || jsonb_build_object(t, n);
  end loop;
  return counts;
end;
$$;

-- The rows of `org` a DELETE by the current role would remove, per table (undone at
-- once; tables the role may not delete from are left out, a failing delete is -1).
create function tests.mfa_deletable(org uuid)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  t text;
  n integer;
  counts jsonb := '{}';
begin
  for t in
    select c.relname from pg_catalog.pg_class c
    join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
    join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id'
                                  and not a.attisdropped
    where ns.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by 1
  loop
    continue when not pg_catalog.has_table_privilege(pg_catalog.format('public.%I', t), 'delete');
    begin
      execute pg_catalog.format('delete from public.%I where organization_id = $1', t) using org;
      get diagnostics n = row_count;
      raise exception 'undo %', n;
    exception when others then
      n := case when sqlerrm like 'undo %' then substr(sqlerrm, 6)::integer else -1 end;
    end;
    counts := counts || jsonb_build_object(t, n);
  end loop;
  return counts;
end;
$$;

-- One role's visible rows, at an aal, with the organization's setting as given.
create function tests.mfa_seen(who text, aal text, required boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  seen jsonb;
begin
  perform tests.as_superuser();
  update public.organization_settings set require_mfa = required
  where organization_id = tests.org('main');
  perform tests.authenticate_as(who);
  perform set_config('request.jwt.claims',
    (current_setting('request.jwt.claims')::jsonb || jsonb_build_object('aal', aal))::text, true);
  seen := tests.mfa_visible(tests.org('main'));
  perform tests.as_superuser();
  return seen;
end;
$$;

create function tests.mfa_deletes(who text, aal text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  done jsonb;
begin
  perform tests.as_superuser();
  update public.organization_settings set require_mfa = true where organization_id = tests.org('main');
  perform tests.authenticate_as(who);
  perform set_config('request.jwt.claims',
    (current_setting('request.jwt.claims')::jsonb || jsonb_build_object('aal', aal))::text, true);
  done := tests.mfa_deletable(tests.org('main'));
  perform tests.as_superuser();
  return done;
end;
$$;

grant execute on all functions in schema tests to authenticated;

-- The catalog ---------------------------------------------------------------------
select is_empty(
  $$ select c.relname::text
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attname = 'organization_id' and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
       and not exists (
         select from pg_policy p
         where p.polrelid = c.oid and p.polname = 'mfa_required' and not p.polpermissive and p.polcmd = '*'
           and pg_get_expr(p.polqual, p.polrelid) like '%mfa_pending_organizations()%'
           and pg_get_expr(p.polwithcheck, p.polrelid) like '%mfa_pending_organizations()%')
       and not (
         exists (select from pg_policy p
                 where p.polrelid = c.oid and p.polname = 'mfa_required' and not p.polpermissive
                   and p.polcmd = 'r'
                   and (pg_get_expr(p.polqual, p.polrelid) like '%mfa_pending_organizations()%'
                        or pg_get_expr(p.polqual, p.polrelid) like '%my_organization_ids_at_aal(%'))
         and exists (select from pg_policy p
                     where p.polrelid = c.oid and p.polname = 'mfa_required_insert' and not p.polpermissive
                       and p.polcmd = 'a' and pg_get_expr(p.polwithcheck, p.polrelid) like '%mfa_pending_organizations()%')
         and exists (select from pg_policy p
                     where p.polrelid = c.oid and p.polname = 'mfa_required_update' and not p.polpermissive
                       and p.polcmd = 'w' and pg_get_expr(p.polqual, p.polrelid) like '%mfa_pending_organizations()%'
                       and pg_get_expr(p.polwithcheck, p.polrelid) like '%mfa_pending_organizations()%')
         and exists (select from pg_policy p
                     where p.polrelid = c.oid and p.polname = 'mfa_required_delete' and not p.polpermissive
                       and p.polcmd = 'd' and pg_get_expr(p.polqual, p.polrelid) like '%mfa_pending_organizations()%')) $$,
  'every organization table refuses every command below aal2: one restrictive policy for all, or one per command'
);
select is_empty(
  $$ select c.relname::text
     from pg_class c
     join pg_policy r on r.polrelid = c.oid and r.polname = 'mfa_required' and not r.polpermissive
                      and r.polcmd = 'r'
     where c.relnamespace = 'public'::regnamespace and c.relname <> 'memberships'
       and not exists (select from pg_policy s
                       where s.polrelid = c.oid and s.polpermissive and s.polcmd = 'r'
                         and pg_get_expr(s.polqual, s.polrelid) = pg_get_expr(r.polqual, r.polrelid)) $$,
  'a restrictive SELECT policy is its table''s permissive one, word for word (applied once)'
);
select cmp_ok(
  (select count(*)::int from pg_policy
    where polname = 'mfa_required' and polcmd = 'r' and not polpermissive
      and pg_get_expr(polqual, polrelid) like '%my_organization_ids_at_aal(%'),
  '>=', 50, 'the organization tables of this migration take the shared expression'
);
select is(
  (select count(*)::int from pg_policy p
    where p.polrelid = 'public.invoices'::regclass and p.polpermissive and p.polcmd = 'r'
      and pg_get_expr(p.polqual, p.polrelid) like '%my_organization_ids_at_aal()%'),
  1, 'invoices are read through my_organization_ids_at_aal()'
);

-- One helper per read ------------------------------------------------------------------
create function tests.init_plans(statement text)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  line text;
  n integer := 0;
begin
  for line in execute 'explain (costs off) ' || statement loop
    if line like '%InitPlan%' then
      n := n + 1;
    end if;
  end loop;
  return n;
end;
$$;
grant execute on function tests.init_plans(text) to authenticated;

select tests.authenticate_as('member');
select is(
  tests.init_plans(pg_catalog.format(
    'select * from public.invoices where organization_id = %L and status = ''sent'' order by due_date limit 25',
    tests.org('main'))),
  1, 'the RLS list query runs one helper (the MFA policy adds no initPlan)'
);
select is(
  tests.init_plans('select id from public.clients'),
  1, 'and so does a read of clients'
);
select tests.as_superuser();

-- Every table, every role ------------------------------------------------------------
select cmp_ok(
  (select count(*)::int from jsonb_each(tests.mfa_seen('owner', 'aal1', false)) e
    where (e.value)::int > 0),
  '>=', 5, 'the organization has rows in several tables to hide (this test is not vacuous)'
);

select is(
  (select jsonb_object_agg(e.key, e.value) from jsonb_each(tests.mfa_seen(r, 'aal1', true)) e
    where e.key <> 'memberships' and (e.value)::int <> 0),
  null, r || ' at aal1 reads no row of any table when the organization requires MFA'
)
from unnest(array['owner', 'admin', 'member', 'viewer']) r;

select is(
  tests.mfa_seen(r, 'aal1', true) -> 'memberships',
  '1'::jsonb, r || ' at aal1 still reads their own membership, no other'
)
from unnest(array['owner', 'admin', 'member', 'viewer']) r;

-- (audit_log aside: each switch of the setting adds an entry to it.)
select is(
  tests.mfa_seen(r, 'aal2', true) - 'audit_log',
  tests.mfa_seen(r, 'aal1', false) - 'audit_log',
  r || ' at aal2 reads exactly what they read without the requirement'
)
from unnest(array['owner', 'admin', 'member', 'viewer']) r;

select is(
  (select jsonb_object_agg(e.key, e.value) from jsonb_each(tests.mfa_deletes(r, 'aal1')) e
    where (e.value)::int > 0),
  null, r || ' at aal1 deletes no row of any table'
)
from unnest(array['owner', 'admin', 'member']) r;

select cmp_ok(
  (select count(*)::int from jsonb_each(tests.mfa_deletes('owner', 'aal2')) e where (e.value)::int > 0),
  '>', 0, 'the owner at aal2 could delete (the delete check is not vacuous)'
);

select tests.as_superuser();
update public.organization_settings set require_mfa = true where organization_id = tests.org('main');
select tests.authenticate_as('member');
select throws_ok(
  $$ insert into public.invoices (organization_id, client_id)
     values (tests.org('main'), 'c0000000-0000-4000-8000-7e5700000950') $$,
  '42501', null, 'a member at aal1 cannot add an invoice'
);
select is(private.mfa_pending_organizations(), array[tests.org('main')],
  'mfa_pending_organizations(): the organization at aal1');
select is(private.my_organization_ids_at_aal('member'), array[tests.personal_org('member')],
  'my_organization_ids_at_aal: only the personal organization at aal1');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select is(private.mfa_pending_organizations(), '{}'::uuid[], 'and nothing at aal2');

-- The flag -----------------------------------------------------------------------
select tests.as_superuser();
select is(
  (select bool_and(mfa_required) from public.memberships where organization_id = tests.org('main')),
  true, 'turning the requirement on flags every membership of the organization'
);
select tests.create_supabase_user('recruit', 'recruit@victim.test');
select tests.add_member(tests.org('main'), 'recruit', 'member');
select is(
  (select mfa_required from public.memberships
    where organization_id = tests.org('main') and user_id = tests.actor('recruit')),
  true, 'a membership added later takes the flag'
);
select tests.authenticate_as('owner');
select set_config('request.jwt.claims', (current_setting('request.jwt.claims')::jsonb || '{"aal": "aal2"}')::text, true);
select throws_ok(
  $$ update public.memberships set mfa_required = false where user_id = auth.uid() $$,
  '42501', null, 'a user cannot clear the flag'
);
select tests.as_superuser();
update public.memberships set mfa_required = false where organization_id = tests.org('main');
select is(
  (select bool_and(mfa_required) from public.memberships where organization_id = tests.org('main')),
  true, 'nor can anyone else: the flag is the organization''s setting'
);
create temporary table before_off on commit drop as
  select id, updated_at from public.memberships where organization_id = tests.org('main');
select is(
  (select count(*)::int from public.audit_log where table_name = 'public.memberships'
     and organization_id = tests.org('main') and operation = 'UPDATE'),
  0, 'the flag''s copies are not audited as membership changes'
);
update public.organization_settings set require_mfa = false where organization_id = tests.org('main');
select is(
  (select bool_or(mfa_required) from public.memberships where organization_id = tests.org('main')),
  false, 'turning it off clears the flags'
);
select is_empty(
  $$ select m.id from public.memberships m join before_off b on b.id = m.id
     where m.updated_at is distinct from b.updated_at $$,
  'and leaves the memberships'' updated_at as it was'
);

select * from finish();
rollback;
