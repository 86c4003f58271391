-- =============================================================================
-- Delivery: sending invoices by email, idempotency keys, and bulk actions.
--
--   idempotency_keys  one row per (organization, user, Idempotency-Key): the
--                     request's fingerprint, its state and the stored answer,
--                     so the same key never sends twice and replays the first
--                     answer; a different request under the same key is told so.
--   invoice_sends     every email of an invoice that SES accepted: recipients,
--                     subject, SES message id, who and when.
--   bulk_jobs,        a bulk send and its per-invoice items (pending, sending,
--   bulk_job_items    ok, failed with a reason): the progress the caller polls
--                     and the record the queue worker trusts -- an item is
--                     claimed (pending -> sending) before its email goes out and
--                     marked ok in the transaction that records the send, so a
--                     redelivered message or a rerun never emails it again.
--
-- The RPCs are SECURITY INVOKER (row level security applies to users) and name
-- the organization explicitly, so another organization's ids are "not found";
-- the bulk worker calls them with the service role (no RLS), and the explicit
-- organization keeps it inside the job's organization.
-- =============================================================================

-- =============================================================================
-- Tables
-- =============================================================================

create table public.idempotency_keys (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  key text not null check (length(key) between 1 and 255),
  -- What the key was used for ("POST /api/invoices/<id>/send") and a hash of the
  -- request's meaningful content: a key reused for something else is refused.
  operation text not null check (length(operation) between 1 and 300),
  fingerprint text not null check (length(fingerprint) between 1 and 200),
  state text not null default 'in_progress' check (state in ('in_progress', 'completed')),
  response_status integer check (response_status between 100 and 599),
  response jsonb,
  created_at timestamptz not null default now(),
  -- An in-progress request holds the key until then; past it, the request is
  -- presumed dead (its outcome unknown: it may have sent).
  locked_until timestamptz not null default now() + interval '60 seconds',
  completed_at timestamptz,
  expires_at timestamptz not null default now() + interval '24 hours',
  primary key (organization_id, user_id, key),
  constraint idempotency_keys_completed_has_response
    check (state <> 'completed' or (response_status is not null and response is not null))
);

create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);

-- A bulk send: its items are the invoices asked for, in the order given.
create table public.bulk_jobs (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null default auth.uid(),
  action text not null check (action in ('send')),
  -- The send's options (cc, bcc, subject, message) as the worker needs them.
  options jsonb not null default '{}' check (jsonb_typeof(options) = 'object'),
  total integer not null check (total between 1 and 500),
  queued boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (organization_id, id)
);

create index bulk_jobs_organization_created_idx on public.bulk_jobs (organization_id, created_at desc);

create table public.bulk_job_items (
  job_id uuid not null,
  organization_id uuid not null,
  -- The id as requested: it may name no invoice of the organization (not_found),
  -- so it is not a foreign key.
  invoice_id uuid not null,
  position integer not null check (position >= 0),
  status text not null default 'pending'
    check (status in ('pending', 'sending', 'ok', 'failed')),
  reason text check (reason is null or length(reason) between 1 and 50),
  message text check (length(message) <= 1000),
  ses_message_id text check (length(ses_message_id) <= 200),
  attempts integer not null default 0 check (attempts >= 0),
  claimed_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (job_id, invoice_id),
  foreign key (organization_id, job_id)
    references public.bulk_jobs (organization_id, id) on delete cascade,
  constraint bulk_job_items_failed_has_reason check (status <> 'failed' or reason is not null)
);

create index bulk_job_items_job_status_idx on public.bulk_job_items (job_id, status);
create index bulk_job_items_organization_idx on public.bulk_job_items (organization_id);

create table public.invoice_sends (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  invoice_id uuid not null,
  sent_by uuid references auth.users (id) on delete set null default auth.uid(),
  kind text not null default 'invoice' check (kind in ('invoice', 'receipt')),
  -- {"to": [...], "cc": [...], "bcc": [...]}
  recipients jsonb not null check (jsonb_typeof(recipients -> 'to') = 'array'),
  subject text not null check (length(subject) between 1 and 998),
  ses_message_id text not null check (length(ses_message_id) between 1 and 200),
  bulk_job_id uuid references public.bulk_jobs (id) on delete set null,
  idempotency_key text check (length(idempotency_key) <= 255),
  sent_at timestamptz not null default now(),
  foreign key (organization_id, invoice_id)
    references public.invoices (organization_id, id) on delete cascade
);

create index invoice_sends_invoice_idx on public.invoice_sends (organization_id, invoice_id, sent_at desc);
-- A bulk job emails each of its invoices at most once, whatever the queue does.
create unique index invoice_sends_once_per_bulk_job_idx
  on public.invoice_sends (bulk_job_id, invoice_id) where bulk_job_id is not null;
create index invoice_sends_bulk_job_idx on public.invoice_sends (bulk_job_id) where bulk_job_id is not null;

create trigger set_updated_at before update on public.bulk_jobs
  for each row execute function private.set_updated_at();
create trigger set_updated_at before update on public.bulk_job_items
  for each row execute function private.set_updated_at();

-- =============================================================================
-- Row level security
-- =============================================================================

alter table public.idempotency_keys enable row level security;
alter table public.bulk_jobs enable row level security;
alter table public.bulk_job_items enable row level security;
alter table public.invoice_sends enable row level security;

revoke all on public.idempotency_keys, public.bulk_jobs, public.bulk_job_items, public.invoice_sends
  from anon, authenticated;

-- Idempotency keys are a person's own: nobody else's request can replay them.
grant select, delete on public.idempotency_keys to authenticated;
grant insert (organization_id, key, operation, fingerprint, locked_until)
  on public.idempotency_keys to authenticated;
grant update (state, response_status, response, completed_at, locked_until)
  on public.idempotency_keys to authenticated;

create policy "People can view their own idempotency keys"
  on public.idempotency_keys for select to authenticated
  using (user_id = (select auth.uid())
         and organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can record their own idempotency keys"
  on public.idempotency_keys for insert to authenticated
  with check (user_id = (select auth.uid())
              and organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "People can complete their own idempotency keys"
  on public.idempotency_keys for update to authenticated
  using (user_id = (select auth.uid())
         and organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (user_id = (select auth.uid()));

create policy "People can release their own idempotency keys"
  on public.idempotency_keys for delete to authenticated
  using (user_id = (select auth.uid()));

grant select on public.bulk_jobs, public.bulk_job_items, public.invoice_sends to authenticated;
grant insert (id, organization_id, action, options, total, queued) on public.bulk_jobs to authenticated;
grant update (finished_at) on public.bulk_jobs to authenticated;
grant insert (job_id, organization_id, invoice_id, position, status, reason, message)
  on public.bulk_job_items to authenticated;
grant update (status, reason, message, ses_message_id, attempts, claimed_at)
  on public.bulk_job_items to authenticated;
grant insert (organization_id, invoice_id, sent_by, kind, recipients, subject, ses_message_id,
              bulk_job_id, idempotency_key)
  on public.invoice_sends to authenticated;

create policy "Members can view their organization's bulk jobs"
  on public.bulk_jobs for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can start bulk jobs in their organization"
  on public.bulk_jobs for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[])
              and created_by = (select auth.uid()));
create policy "Members can finish their organization's bulk jobs"
  on public.bulk_jobs for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's bulk job items"
  on public.bulk_job_items for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can add items to their organization's bulk jobs"
  on public.bulk_job_items for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));
create policy "Members can progress their organization's bulk job items"
  on public.bulk_job_items for update to authenticated
  using (organization_id = any ((select private.my_organization_ids('member'))::uuid[]))
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[]));

create policy "Members can view their organization's invoice sends"
  on public.invoice_sends for select to authenticated
  using (organization_id = any ((select private.my_organization_ids())::uuid[]));
create policy "Members can record sends of their organization's invoices"
  on public.invoice_sends for insert to authenticated
  with check (organization_id = any ((select private.my_organization_ids('member'))::uuid[])
              and sent_by = (select auth.uid()));

-- The service role (the bulk worker) reads and writes these through the RPCs
-- below; it bypasses RLS, and the RPCs keep it inside the named organization.
grant select, insert, update, delete
  on public.idempotency_keys, public.bulk_jobs, public.bulk_job_items, public.invoice_sends
  to service_role;

-- =============================================================================
-- Helpers
-- =============================================================================

-- Marks a bulk job finished once none of its items is pending or being sent.
create or replace function private.finish_bulk_job_if_done(job uuid)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.bulk_jobs j
  set finished_at = now()
  where j.id = job
    and j.finished_at is null
    and not exists (
      select 1 from public.bulk_job_items it
      where it.job_id = job and it.status in ('pending', 'sending'));
end;
$$;

-- =============================================================================
-- Idempotency keys
-- =============================================================================

-- Starts a request under an Idempotency-Key. Answers {"outcome": ...}:
--   started      the key is new (or expired): go ahead; the key is held
--   completed    the key's request finished: "status" and "response" replay it
--   in_progress  the key's first request is still running
--   unknown      the key's first request died before finishing; it may have
--                sent, so it is not run again (use a new key after checking)
--   mismatch     the key was used for a different request
-- Concurrent callers of one key are serialized by the primary key: the second
-- waits for the first's insert to commit and then sees it.
create or replace function public.begin_idempotent_request(
  organization_id uuid, key text, operation text, fingerprint text
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := begin_idempotent_request.organization_id;
  k text := begin_idempotent_request.key;
  me uuid := auth.uid();
  row_ public.idempotency_keys;
begin
  if me is null then
    raise exception 'your role may not send in this organization' using errcode = '42501';
  end if;
  perform private.require_role(org, 'member', 'your role may not send in this organization');
  if k is null or length(k) not between 1 and 255 then
    raise exception 'Idempotency-Key must be 1 to 255 characters' using errcode = '22023';
  end if;
  delete from public.idempotency_keys ik
  where ik.organization_id = org and ik.user_id = me and ik.key = k and ik.expires_at <= now();

  insert into public.idempotency_keys as ik (organization_id, key, operation, fingerprint)
  values (org, k, begin_idempotent_request.operation, begin_idempotent_request.fingerprint)
  on conflict do nothing
  returning ik.* into row_;
  if found then
    return jsonb_build_object('outcome', 'started');
  end if;

  select ik.* into row_
  from public.idempotency_keys ik
  where ik.organization_id = org and ik.user_id = me and ik.key = k;
  if row_.operation <> begin_idempotent_request.operation
     or row_.fingerprint <> begin_idempotent_request.fingerprint then
    return jsonb_build_object('outcome', 'mismatch', 'operation', row_.operation);
  elsif row_.state = 'completed' then
    return jsonb_build_object('outcome', 'completed', 'status', row_.response_status,
                              'response', row_.response);
  elsif row_.locked_until > now() then
    return jsonb_build_object('outcome', 'in_progress',
                              'retry_after', ceil(extract(epoch from row_.locked_until - now())));
  end if;
  return jsonb_build_object('outcome', 'unknown', 'started_at', row_.created_at);
end;
$$;

-- Gives a key back when its request failed before anything was sent (SES
-- refused, a rule said no): the caller may retry with the same key.
create or replace function public.release_idempotent_request(organization_id uuid, key text)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  delete from public.idempotency_keys ik
  where ik.organization_id = release_idempotent_request.organization_id
    and ik.user_id = auth.uid()
    and ik.key = release_idempotent_request.key
    and ik.state = 'in_progress';
end;
$$;

-- =============================================================================
-- mark_invoice_sent: after SES accepted an email, in one transaction: the send
-- recorded, the invoice moved draft -> sent (a re-send keeps its status), an
-- invoice_sent activity on the client's timeline, the bulk item marked ok, and
-- the idempotency key completed with the answer. Returns that answer:
-- {"send": {...}, "invoice": {...}} (the invoice only outside bulk jobs).
-- =============================================================================
create or replace function public.mark_invoice_sent(
  organization_id uuid,
  invoice_id uuid,
  ses_message_id text,
  recipients jsonb,
  subject text,
  kind text default 'invoice',
  idempotency_key text default null,
  bulk_job_id uuid default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := mark_invoice_sent.organization_id;
  job uuid := mark_invoice_sent.bulk_job_id;
  actor uuid := auth.uid();
  inv public.invoices;
  sent public.invoice_sends;
  answer jsonb;
  who text;
  activity_id uuid;
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  if job is not null then
    select j.created_by into actor
    from public.bulk_jobs j
    where j.id = job and j.organization_id = org;
    if not found then
      raise exception 'bulk job not found' using errcode = 'P0002';
    end if;
    actor := coalesce(auth.uid(), actor);
  end if;

  select i.* into inv
  from public.invoices i
  where i.id = mark_invoice_sent.invoice_id and i.organization_id = org
  for update;
  if not found then
    raise exception 'invoice not found' using errcode = 'P0002';
  end if;

  insert into public.invoice_sends as s
    (organization_id, invoice_id, sent_by, kind, recipients, subject, ses_message_id,
     bulk_job_id, idempotency_key)
  values (org, inv.id, actor, coalesce(mark_invoice_sent.kind, 'invoice'),
          jsonb_build_object('to', coalesce(recipients -> 'to', '[]'),
                             'cc', coalesce(recipients -> 'cc', '[]'),
                             'bcc', coalesce(recipients -> 'bcc', '[]')),
          mark_invoice_sent.subject, mark_invoice_sent.ses_message_id, job,
          mark_invoice_sent.idempotency_key)
  returning s.* into sent;

  if inv.status = 'draft' then
    update public.invoices i set status = 'sent' where i.id = inv.id;
  end if;

  select string_agg(value, ', ') into who
  from jsonb_array_elements_text(sent.recipients -> 'to');
  -- A person's activity is theirs (created_by defaults to auth.uid() and is
  -- not theirs to write); the worker's is the job's creator's.
  insert into public.client_activities (organization_id, client_id, activity, type, metadata)
  values (org, inv.client_id,
          left(pg_catalog.format('%s %s sent to %s',
                                 case when sent.kind = 'receipt' then 'Receipt for invoice'
                                      else 'Invoice' end,
                                 inv.invoice_number, coalesce(who, 'the client')), 1000),
          'invoice_sent',
          jsonb_build_object('invoice_id', inv.id, 'invoice_number', inv.invoice_number,
                             'send_id', sent.id, 'ses_message_id', sent.ses_message_id,
                             'kind', sent.kind, 'to', sent.recipients -> 'to',
                             'bulk_job_id', job))
  returning id into activity_id;
  if auth.uid() is null and actor is not null then
    update public.client_activities a set created_by = actor where a.id = activity_id;
  end if;

  if job is not null then
    update public.bulk_job_items it
    set status = 'ok', reason = null, message = null, ses_message_id = sent.ses_message_id
    where it.job_id = job and it.invoice_id = inv.id and it.organization_id = org;
    perform private.finish_bulk_job_if_done(job);
  end if;

  answer := jsonb_build_object('send', jsonb_build_object(
    'id', sent.id, 'invoice_id', sent.invoice_id, 'kind', sent.kind,
    'recipients', sent.recipients, 'subject', sent.subject,
    'ses_message_id', sent.ses_message_id, 'sent_by', sent.sent_by, 'sent_at', sent.sent_at));
  if job is null then
    answer := answer || jsonb_build_object('invoice', private.invoice_document(inv.id));
  end if;

  if mark_invoice_sent.idempotency_key is not null and auth.uid() is not null then
    update public.idempotency_keys ik
    set state = 'completed', response_status = 200, response = answer, completed_at = now()
    where ik.organization_id = org and ik.user_id = auth.uid()
      and ik.key = mark_invoice_sent.idempotency_key;
  end if;
  return answer;
end;
$$;

-- =============================================================================
-- Bulk actions that need no email: one statement classifies every id, one
-- statement acts on those that qualify. Each id gets a result in the order
-- given: "ok", or a reason -- not_found (not an invoice of the organization),
-- wrong_status, has_payments -- with a message for people.
--   mark_sent  drafts become sent (no email; an invoice_sent activity says so)
--   mark_paid  sent and overdue invoices get a payment of their balance due
--              (options: payment_date, payment_method, reference_number, notes
--              -- checked as record_payment checks them)
--   cancel     drafts, and sent or overdue invoices without payments
--   delete     drafts only
-- =============================================================================
create or replace function public.bulk_invoice_action(
  organization_id uuid, action text, ids uuid[], options jsonb default '{}'
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := bulk_invoice_action.organization_id;
  act text := bulk_invoice_action.action;
  opts jsonb := coalesce(bulk_invoice_action.options, '{}');
  paid_on date;
  method text;
  ref text;
  note text;
  results jsonb;
  ok_ids uuid[];
begin
  perform private.require_role(org, 'member', 'your role may not change invoices in this organization');
  if act is null or act not in ('mark_sent', 'mark_paid', 'cancel', 'delete') then
    raise exception 'action must be one of mark_sent, mark_paid, cancel, delete' using errcode = '22023';
  end if;
  if ids is null or cardinality(ids) not between 1 and 500 then
    raise exception 'ids must list 1 to 500 invoices' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(ids) x) <> cardinality(ids) or array_position(ids, null) is not null then
    raise exception 'ids must be distinct invoice ids' using errcode = '22023';
  end if;
  if jsonb_typeof(opts) <> 'object' then
    raise exception 'options must be an object' using errcode = '22023';
  end if;
  if act = 'mark_paid' then
    perform private.refuse_unknown_keys(
      opts, array['payment_date', 'payment_method', 'reference_number', 'notes'], 'options');
    paid_on := coalesce((opts ->> 'payment_date')::date, current_date);
    method := coalesce(opts ->> 'payment_method', 'bank_transfer');
    ref := nullif(btrim(opts ->> 'reference_number'), '');
    note := nullif(btrim(opts ->> 'notes'), '');
    perform private.check_payment_fields(1, paid_on, method, ref, note);
  elsif opts <> '{}' then
    raise exception '% takes no options', act using errcode = '22023';
  end if;

  -- The organization's invoices among the ids, locked in id order (the lock
  -- order of every invoice write).
  perform 1 from public.invoices i
  where i.organization_id = org and i.id = any (ids)
  order by i.id
  for update;

  select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'status', v.status, 'message', v.message)
                            order by r.ord), '[]')
  into results
  from unnest(ids) with ordinality r (id, ord)
  left join public.invoices i on i.id = r.id and i.organization_id = org
  cross join lateral (
    select
      case
        when i.id is null then 'not_found'
        when act = 'mark_sent' and i.status <> 'draft' then 'wrong_status'
        when act = 'mark_paid' and i.status not in ('sent', 'overdue') then 'wrong_status'
        when act = 'cancel' and i.status in ('paid', 'cancelled') then 'wrong_status'
        when act = 'cancel' and i.amount_paid > 0 then 'has_payments'
        when act = 'delete' and i.status <> 'draft' then 'wrong_status'
        else 'ok'
      end as status,
      case
        when i.id is null then 'no such invoice in this organization'
        when act = 'mark_sent' and i.status = 'cancelled' then
          pg_catalog.format('invoice %s is cancelled and cannot be sent', i.invoice_number)
        when act = 'mark_sent' and i.status <> 'draft' then
          pg_catalog.format('invoice %s is already %s', i.invoice_number, i.status)
        when act = 'mark_paid' and i.status = 'draft' then
          pg_catalog.format('invoice %s is a draft; send it before recording payments', i.invoice_number)
        when act = 'mark_paid' and i.status not in ('sent', 'overdue') then
          pg_catalog.format('invoice %s is %s', i.invoice_number,
                            case i.status when 'paid' then 'already paid in full' else i.status end)
        when act = 'cancel' and i.status in ('paid', 'cancelled') then
          pg_catalog.format('invoice %s is %s and cannot be cancelled', i.invoice_number,
                            case i.status when 'paid' then 'paid' else 'already cancelled' end)
        when act = 'cancel' and i.amount_paid > 0 then
          pg_catalog.format('invoice %s has payments; delete them before cancelling', i.invoice_number)
        when act = 'delete' and i.status <> 'draft' then
          pg_catalog.format('invoice %s is %s; only drafts can be deleted (cancel it instead)',
                            i.invoice_number, i.status)
        when act = 'mark_sent' then pg_catalog.format('invoice %s was marked as sent', i.invoice_number)
        when act = 'mark_paid' then
          pg_catalog.format('a payment of %s %s was recorded for invoice %s', i.balance_due, i.currency,
                            i.invoice_number)
        when act = 'cancel' then pg_catalog.format('invoice %s was cancelled', i.invoice_number)
        else pg_catalog.format('invoice %s was deleted', i.invoice_number)
      end as message
  ) v;

  ok_ids := array(select (e ->> 'id')::uuid from jsonb_array_elements(results) e
                  where e ->> 'status' = 'ok');

  if cardinality(ok_ids) > 0 then
    if act = 'mark_sent' then
      update public.invoices i set status = 'sent'
      where i.organization_id = org and i.id = any (ok_ids);
      insert into public.client_activities (organization_id, client_id, activity, type, metadata)
      select i.organization_id, i.client_id,
             pg_catalog.format('Invoice %s marked as sent', i.invoice_number), 'invoice_sent',
             jsonb_build_object('invoice_id', i.id, 'invoice_number', i.invoice_number,
                                'emailed', false)
      from public.invoices i
      where i.organization_id = org and i.id = any (ok_ids);
    elsif act = 'mark_paid' then
      insert into public.payments
        (organization_id, invoice_id, currency, amount, payment_date, payment_method,
         reference_number, notes)
      select i.organization_id, i.id, i.currency, i.balance_due, paid_on, method, ref, note
      from public.invoices i
      where i.organization_id = org and i.id = any (ok_ids) and i.balance_due > 0;
    elsif act = 'cancel' then
      update public.invoices i set status = 'cancelled'
      where i.organization_id = org and i.id = any (ok_ids);
    else
      delete from public.invoices i where i.organization_id = org and i.id = any (ok_ids);
    end if;
  end if;

  return jsonb_build_object(
    'action', act,
    'results', results,
    'summary', (
      select jsonb_build_object('requested', cardinality(ids)) || coalesce(jsonb_object_agg(s, n), '{}')
      from (select e ->> 'status' as s, count(*) as n
            from jsonb_array_elements(results) e group by 1) t));
end;
$$;

-- =============================================================================
-- Bulk send: create_bulk_send records the job and one item per id, already
-- decided where it can be (not_found, wrong_status for cancelled and paid
-- invoices, no_email for a client without an address); the others are
-- pending. Whoever sends (the API for a few, the queue worker for more) claims
-- items before emailing and marks them with mark_invoice_sent or
-- fail_bulk_item.
-- =============================================================================
create or replace function public.create_bulk_send(
  organization_id uuid, ids uuid[], options jsonb default '{}', queued boolean default false
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := create_bulk_send.organization_id;
  job public.bulk_jobs;
  items jsonb;
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  if ids is null or cardinality(ids) not between 1 and 500 then
    raise exception 'ids must list 1 to 500 invoices' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(ids) x) <> cardinality(ids) or array_position(ids, null) is not null then
    raise exception 'ids must be distinct invoice ids' using errcode = '22023';
  end if;
  perform private.refuse_unknown_keys(coalesce(options, '{}'), array['cc', 'bcc', 'subject', 'message'],
                                      'options');

  insert into public.bulk_jobs as j (organization_id, action, options, total, queued)
  values (org, 'send', coalesce(options, '{}'), cardinality(ids), coalesce(queued, false))
  returning j.* into job;

  insert into public.bulk_job_items (job_id, organization_id, invoice_id, position, status, reason, message)
  select job.id, org, r.id, r.ord - 1,
         case when v.reason is null then 'pending' else 'failed' end, v.reason, v.message
  from unnest(ids) with ordinality r (id, ord)
  left join public.invoices i on i.id = r.id and i.organization_id = org
  left join public.clients c on c.id = i.client_id and c.organization_id = org
  cross join lateral (
    select
      case
        when i.id is null then 'not_found'
        when i.status in ('cancelled', 'paid') then 'wrong_status'
        when nullif(btrim(c.email), '') is null then 'no_email'
      end as reason,
      case
        when i.id is null then 'no such invoice in this organization'
        when i.status = 'cancelled' then
          pg_catalog.format('invoice %s is cancelled and cannot be sent', i.invoice_number)
        when i.status = 'paid' then
          pg_catalog.format('invoice %s is paid; send it on its own to email a receipt', i.invoice_number)
        when nullif(btrim(c.email), '') is null then
          pg_catalog.format('client %s has no email address (client.email)', c.company_name)
      end as message
  ) v;

  perform private.finish_bulk_job_if_done(job.id);
  select coalesce(jsonb_agg(jsonb_build_object('invoice_id', it.invoice_id, 'status', it.status,
                                               'reason', it.reason, 'message', it.message)
                            order by it.position), '[]')
  into items
  from public.bulk_job_items it
  where it.job_id = job.id;
  return jsonb_build_object('job_id', job.id, 'items', items);
end;
$$;

-- Claims the pending items among `ids` of a job (pending -> sending) and
-- returns the claimed invoice ids; only those may be emailed. An item left
-- "sending" for longer than `stale_after` belongs to a worker that died while
-- emailing it: it may have gone out, so it is failed as "interrupted" rather
-- than sent again.
create or replace function public.claim_bulk_items(
  organization_id uuid, job_id uuid, ids uuid[], stale_after interval default '10 minutes'
)
returns uuid[]
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  org uuid := claim_bulk_items.organization_id;
  job uuid := claim_bulk_items.job_id;
  claimed uuid[];
begin
  perform private.require_role(org, 'member', 'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = 'failed', reason = 'interrupted',
      message = 'sending was interrupted; the email may or may not have gone out, so it was not sent again'
  where it.job_id = job and it.organization_id = org and it.invoice_id = any (ids)
    and it.status = 'sending' and it.claimed_at < now() - stale_after;

  with mine as (
    select it.invoice_id
    from public.bulk_job_items it
    where it.job_id = job and it.organization_id = org and it.invoice_id = any (ids)
      and it.status = 'pending'
    order by it.invoice_id
    for update skip locked
  ), taken as (
    update public.bulk_job_items it
    set status = 'sending', claimed_at = now(), attempts = it.attempts + 1
    from mine
    where it.job_id = job and it.invoice_id = mine.invoice_id
    returning it.invoice_id
  )
  select coalesce(array_agg(t.invoice_id), '{}') into claimed from taken t;
  perform private.finish_bulk_job_if_done(job);
  return claimed;
end;
$$;

-- An item that could not be sent: `retry` puts it back to pending (a throttled
-- or unavailable email service; the queue redelivers the message), otherwise
-- it fails with the reason.
create or replace function public.fail_bulk_item(
  organization_id uuid, job_id uuid, invoice_id uuid, reason text, message text,
  retry boolean default false
)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(fail_bulk_item.organization_id, 'member',
    'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = case when retry then 'pending' else 'failed' end,
      reason = fail_bulk_item.reason,
      message = left(fail_bulk_item.message, 1000),
      claimed_at = null
  where it.job_id = fail_bulk_item.job_id
    and it.organization_id = fail_bulk_item.organization_id
    and it.invoice_id = fail_bulk_item.invoice_id
    and it.status = 'sending';
  perform private.finish_bulk_job_if_done(fail_bulk_item.job_id);
end;
$$;

-- Fails the pending items among `ids` that will never be sent (the queue
-- could not take them): the job finishes instead of waiting for them.
create or replace function public.abandon_bulk_items(
  organization_id uuid, job_id uuid, ids uuid[], reason text, message text
)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  perform private.require_role(abandon_bulk_items.organization_id, 'member',
    'your role may not send invoices in this organization');
  update public.bulk_job_items it
  set status = 'failed', reason = abandon_bulk_items.reason,
      message = left(abandon_bulk_items.message, 1000)
  where it.job_id = abandon_bulk_items.job_id
    and it.organization_id = abandon_bulk_items.organization_id
    and it.invoice_id = any (ids)
    and it.status = 'pending';
  perform private.finish_bulk_job_if_done(abandon_bulk_items.job_id);
end;
$$;

-- =============================================================================
-- Grants
-- =============================================================================

grant execute on function
  private.finish_bulk_job_if_done(uuid)
  to authenticated, service_role;
-- mark_invoice_sent answers with the invoice document, also for the service role.
grant execute on function private.invoice_document(uuid) to service_role;
grant execute on function
  public.begin_idempotent_request(uuid, text, text, text),
  public.release_idempotent_request(uuid, text),
  public.bulk_invoice_action(uuid, text, uuid[], jsonb),
  public.create_bulk_send(uuid, uuid[], jsonb, boolean)
  to authenticated;
grant execute on function
  public.mark_invoice_sent(uuid, uuid, text, jsonb, text, text, text, uuid),
  public.claim_bulk_items(uuid, uuid, uuid[], interval),
  public.fail_bulk_item(uuid, uuid, uuid, text, text, boolean),
  public.abandon_bulk_items(uuid, uuid, uuid[], text, text)
  to authenticated, service_role;

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
