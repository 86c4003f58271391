-- =============================================================================
-- Realtime: who may join the organizations' private channels, what the database
-- broadcasts on them, and which tables' changes a frontend may follow
-- (docs/realtime.md is the design).
--
-- Topics are `org:<organization id>:<channel>`:
--   imports     import_progress   an import batch's status and counts changed
--   matching    match_results     invoices were matched (counts and ids)
--   exceptions  exceptions_changed  exceptions opened, closed or updated
--   dashboard   dashboard_changed   the reconciliation dashboard changed (refetch)
--   team        whatever the members send each other, and Presence
-- The first four are written by the database alone (triggers below, through
-- realtime.send, private); clients receive them. `team` is the one a client sends on.
--
-- Realtime Authorization (RLS on realtime.messages; the Realtime server checks it
-- when a client joins a private channel, with realtime.topic() set to the topic):
--   select (receive)  any member of the organization, viewers included;
--   insert (send)     members and above, on the team channel only: viewers never
--                     send, and nobody can forge what the database broadcasts.
-- The service role bypasses RLS (the server's own jobs), anon has no policy. Issue 17
-- (an organization that requires MFA) adds a RESTRICTIVE policy for all commands on
-- realtime.messages naming the topic's organization through
-- private.realtime_topic_organization((select realtime.topic())): a session below aal2
-- then can neither join nor send, with the policies below unchanged.
--
-- Bounded cost: every trigger here is FOR EACH STATEMENT over its transition table,
-- and sends one message per organization per statement (dashboard_changed: one per
-- organization per transaction), whatever the number of rows: a 10,000-row import is a
-- handful of messages, not 10,000 (bench/realtime.py measures it). The receivables
-- tables (invoices, payments) have none: the publication carries their changes. A message that
-- cannot be stored (no partition of realtime.messages for today) is a WARNING from
-- realtime.send, never the write's failure.
--
-- The publication: invoices, payments and client_activities (the previous migrations
-- put them there) with REPLICA IDENTITY FULL, so that a DELETE carries the row's
-- organization_id and a subscriber's `organization_id=eq.<id>` filter excludes the
-- other organizations' deletes (Realtime cannot check RLS for a deleted row; it sends
-- only the primary key of it, to every subscriber whose filter passes).
-- =============================================================================

-- =============================================================================
-- Functions
-- =============================================================================

-- The organization a topic belongs to: `org:<uuid>:<channel>` for one of the
-- channels above, else null (a topic of another shape is nobody's). Immutable and
-- never raising: a malformed topic is refused by the policies, not an error.
create or replace function private.realtime_topic_organization(topic text)
returns uuid
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case
    when topic ~ '^org:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:(imports|matching|exceptions|dashboard|team)$'
    then pg_catalog.split_part(topic, ':', 2)::uuid
  end
$$;

comment on function private.realtime_topic_organization(text) is
  'The organization of a realtime topic org:<id>:<channel> (imports, matching, exceptions, dashboard, team), else null.';

-- The channel of such a topic (the part after the organization), else null.
create or replace function private.realtime_topic_channel(topic text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case when private.realtime_topic_organization(topic) is not null
              then pg_catalog.split_part(topic, ':', 3) end
$$;

-- One private broadcast on an organization's channel.
create or replace function private.realtime_broadcast(
  organization_id uuid, channel text, event text, payload jsonb
)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform realtime.send(
    payload || pg_catalog.jsonb_build_object('organization_id', realtime_broadcast.organization_id),
    event,
    'org:' || realtime_broadcast.organization_id::text || ':' || channel,
    true);
end;
$$;

-- import_progress: the batches of each organization whose status, counts or error
-- changed in the statement (at most 50 described, `more` says how many were left out).
-- The batch as a viewer of the organization may read it, without its S3 key.
-- Security definer (here and below): the message is the database's, stored whatever
-- the writer's own rights on realtime.messages (a worker, a member, a job).
create or replace function private.broadcast_import_progress()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  changed jsonb;
  org record;
begin
  perform 'PRAGMA:TABLE: new_rows (id uuid, organization_id uuid)';
  perform 'PRAGMA:TABLE: old_rows (id uuid, organization_id uuid)';
  -- A transition table exists only for its own event: one query per event.
  if tg_op = 'INSERT' then
    changed := (select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(n)) from new_rows n);
  else
    changed := (
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(n))
      from new_rows n
      join old_rows o on o.id = n.id
      where (o.status, o.rows_total, o.rows_accepted, o.rows_rejected, o.error,
             o.started_at, o.completed_at)
            is distinct from
            (n.status, n.rows_total, n.rows_accepted, n.rows_rejected, n.error,
             n.started_at, n.completed_at));
  end if;
  for org in
    with numbered as (
      select b.value as batch, (b.value ->> 'organization_id')::uuid as organization_id,
             row_number() over (partition by b.value ->> 'organization_id'
                                order by b.value ->> 'updated_at', b.value ->> 'id') as k
      from pg_catalog.jsonb_array_elements(coalesce(changed, '[]')) b
    )
    select b.organization_id,
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', b.batch -> 'id', 'kind', b.batch -> 'kind', 'source', b.batch -> 'source',
             'policy', b.batch -> 'policy', 'status', b.batch -> 'status',
             'file_name', b.batch -> 'file_name', 'rows_total', b.batch -> 'rows_total',
             'rows_accepted', b.batch -> 'rows_accepted',
             'rows_rejected', b.batch -> 'rows_rejected', 'error', b.batch -> 'error',
             'created_at', b.batch -> 'created_at', 'started_at', b.batch -> 'started_at',
             'completed_at', b.batch -> 'completed_at') order by b.k)
             filter (where b.k <= 50) as batches,
           greatest(count(*) - 50, 0) as more
    from numbered b
    group by b.organization_id
  loop
    perform private.realtime_broadcast(org.organization_id, 'imports', 'import_progress',
      pg_catalog.jsonb_build_object('batches', org.batches, 'more', org.more));
  end loop;
  return null;
end;
$$;

-- match_results: per organization and statement, how many invoices were matched and
-- with what outcome, and which (at most 100 ids; `more` counts the others).
create or replace function private.broadcast_match_results()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  org record;
begin
  perform 'PRAGMA:TABLE: new_rows (vendor_invoice_id uuid, organization_id uuid, outcome text)';
  for org in
    with numbered as (
      select n.vendor_invoice_id, n.organization_id, n.outcome,
             row_number() over (partition by n.organization_id order by n.vendor_invoice_id) as k
      from new_rows n
    )
    select m.organization_id, count(*) as invoices,
           count(*) filter (where m.outcome = 'matched') as matched,
           count(*) filter (where m.outcome = 'matched_with_tolerance') as matched_with_tolerance,
           count(*) filter (where m.outcome = 'exception') as exception,
           pg_catalog.jsonb_agg(m.vendor_invoice_id order by m.k) filter (where m.k <= 100) as ids,
           greatest(count(*) - 100, 0) as more
    from numbered m
    group by m.organization_id
  loop
    perform private.realtime_broadcast(org.organization_id, 'matching', 'match_results',
      pg_catalog.jsonb_build_object(
        'invoices', org.invoices, 'matched', org.matched,
        'matched_with_tolerance', org.matched_with_tolerance, 'exception', org.exception,
        'vendor_invoice_ids', org.ids, 'more', org.more));
  end loop;
  return null;
end;
$$;

-- exceptions_changed: per organization and statement, how many exceptions opened
-- (new, or reopened), closed (resolved or dismissed), changed otherwise, or were
-- deleted (with their invoice), and which (at most 100 ids; `more` counts the others).
create or replace function private.broadcast_exception_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  changes jsonb;
  org record;
begin
  perform 'PRAGMA:TABLE: new_rows (id uuid, organization_id uuid, status text)';
  perform 'PRAGMA:TABLE: old_rows (id uuid, organization_id uuid, status text)';
  -- A transition table exists only for its own event: one query per event.
  if tg_op = 'INSERT' then
    changes := (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', n.id, 'organization_id', n.organization_id,
               'what', case when n.status = 'open' then 'opened' else 'closed' end))
      from new_rows n);
  elsif tg_op = 'UPDATE' then
    changes := (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', n.id, 'organization_id', n.organization_id,
               'what', case when n.status = 'open' and o.status <> 'open' then 'opened'
                            when n.status <> 'open' and o.status = 'open' then 'closed'
                            else 'updated' end))
      from new_rows n
      join old_rows o on o.id = n.id);
  else
    changes := (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', o.id, 'organization_id', o.organization_id, 'what', 'deleted'))
      from old_rows o);
  end if;
  for org in
    with numbered as (
      select c.value ->> 'id' as id, (c.value ->> 'organization_id')::uuid as organization_id,
             c.value ->> 'what' as what,
             row_number() over (partition by c.value ->> 'organization_id'
                                order by c.value ->> 'id') as k
      from pg_catalog.jsonb_array_elements(coalesce(changes, '[]')) c
    )
    select c.organization_id,
           count(*) filter (where c.what = 'opened') as opened,
           count(*) filter (where c.what = 'closed') as closed,
           count(*) filter (where c.what = 'updated') as updated,
           count(*) filter (where c.what = 'deleted') as deleted,
           pg_catalog.jsonb_agg(c.id order by c.k) filter (where c.k <= 100) as ids,
           greatest(count(*) - 100, 0) as more
    from numbered c
    group by c.organization_id
  loop
    perform private.realtime_broadcast(org.organization_id, 'exceptions', 'exceptions_changed',
      pg_catalog.jsonb_build_object(
        'opened', org.opened, 'closed', org.closed, 'updated', org.updated,
        'deleted', org.deleted, 'exception_ids', org.ids, 'more', org.more));
  end loop;
  return null;
end;
$$;

-- dashboard_changed: once per organization and transaction, at the first statement
-- that changes what the reconciliation dashboard shows (vendor invoices, exceptions).
-- Not on invoices and payments: they are published, and a receivables screen refetches
-- from the changes it receives; a broadcast on every invoice or payment write would cost
-- each write its realtime.send (+1.9 ms on a 5.7 ms insert, bench/RESULTS.md). It reaches the clients at commit, when every change of the
-- transaction is visible: one signal is enough to refetch. The organizations already
-- signalled are remembered in a transaction-local setting (rolled back with a
-- savepoint, as the message is).
create or replace function private.signal_dashboard_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  signalled text := coalesce(pg_catalog.current_setting('invoiceflow.dashboard_signalled', true), '');
  orgs uuid[];
  org uuid;
begin
  perform 'PRAGMA:TABLE: new_rows (organization_id uuid)';
  perform 'PRAGMA:TABLE: old_rows (organization_id uuid)';
  -- A transition table exists only for its own event: one query per event.
  if tg_op = 'DELETE' then
    orgs := array(select distinct o.organization_id from old_rows o);
  else
    orgs := array(select distinct n.organization_id from new_rows n);
  end if;
  foreach org in array orgs loop
    continue when org is null or pg_catalog.strpos(signalled, org::text) > 0;
    perform private.realtime_broadcast(org, 'dashboard', 'dashboard_changed',
      pg_catalog.jsonb_build_object('source', tg_table_name));
    signalled := signalled || ' ' || org::text;
    perform pg_catalog.set_config('invoiceflow.dashboard_signalled', signalled, true);
  end loop;
  return null;
end;
$$;

-- =============================================================================
-- Triggers (after each statement; transition tables allow one event per trigger)
-- =============================================================================

create trigger broadcast_import_progress_after_insert
  after insert on public.import_batches referencing new table as new_rows
  for each statement execute function private.broadcast_import_progress();

create trigger broadcast_import_progress_after_update
  after update on public.import_batches referencing old table as old_rows new table as new_rows
  for each statement execute function private.broadcast_import_progress();

-- An upsert (match_vendor_invoices' insert ... on conflict do update) fires both.
create trigger broadcast_match_results_after_insert
  after insert on public.vendor_invoice_matches referencing new table as new_rows
  for each statement execute function private.broadcast_match_results();

create trigger broadcast_match_results_after_update
  after update on public.vendor_invoice_matches referencing new table as new_rows
  for each statement execute function private.broadcast_match_results();

create trigger broadcast_exception_changes_after_insert
  after insert on public.reconciliation_exceptions referencing new table as new_rows
  for each statement execute function private.broadcast_exception_changes();

create trigger broadcast_exception_changes_after_update
  after update on public.reconciliation_exceptions
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.broadcast_exception_changes();

create trigger broadcast_exception_changes_after_delete
  after delete on public.reconciliation_exceptions referencing old table as old_rows
  for each statement execute function private.broadcast_exception_changes();

create trigger signal_dashboard_changed_after_insert
  after insert on public.vendor_invoices referencing new table as new_rows
  for each statement execute function private.signal_dashboard_changed();

create trigger signal_dashboard_changed_after_update
  after update on public.vendor_invoices referencing new table as new_rows
  for each statement execute function private.signal_dashboard_changed();

create trigger signal_dashboard_changed_after_delete
  after delete on public.vendor_invoices referencing old table as old_rows
  for each statement execute function private.signal_dashboard_changed();

create trigger signal_dashboard_changed_after_insert
  after insert on public.reconciliation_exceptions referencing new table as new_rows
  for each statement execute function private.signal_dashboard_changed();

create trigger signal_dashboard_changed_after_update
  after update on public.reconciliation_exceptions referencing new table as new_rows
  for each statement execute function private.signal_dashboard_changed();

create trigger signal_dashboard_changed_after_delete
  after delete on public.reconciliation_exceptions referencing old table as old_rows
  for each statement execute function private.signal_dashboard_changed();

-- =============================================================================
-- Policies (Realtime Authorization)
-- =============================================================================

-- Receiving: the Realtime server inserts a probe row for the topic and selects it back
-- as the joining user (realtime.topic() = the topic): visible means admitted.
create policy "Members receive their organization's realtime messages"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension in ('broadcast', 'presence')
    and private.realtime_topic_organization((select realtime.topic()))
        = any ((select private.my_organization_ids())::uuid[])
  );

-- Sending (client broadcast, Presence track): the server inserts a row as the user.
create policy "Members and above send on their organization's team channel"
  on realtime.messages for insert to authenticated
  with check (
    realtime.messages.extension in ('broadcast', 'presence')
    and private.realtime_topic_channel((select realtime.topic())) = 'team'
    and private.realtime_topic_organization((select realtime.topic()))
        = any ((select private.my_organization_ids('member'))::uuid[])
  );

-- =============================================================================
-- The publication's tables: DELETEs carry the whole old row (for the filters)
-- =============================================================================

alter table public.invoices replica identity full;
alter table public.payments replica identity full;
alter table public.client_activities replica identity full;

-- =============================================================================
-- Grants
-- =============================================================================

revoke execute on all functions in schema private, public from public;

-- The policies call them as the joining user.
grant execute on function
  private.realtime_topic_organization(text),
  private.realtime_topic_channel(text)
  to authenticated, service_role;
